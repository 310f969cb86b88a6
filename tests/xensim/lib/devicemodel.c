/*
 * xensim libxendevicemodel.so.1: each call is one XEN_DMOP_* operation,
 * packed in Xen's own struct xen_dm_op and sent to xensim-hv, which
 * checks and executes it as Xen's dm.c would.
 *
 * Invariants: the xen_dm_op goes out with every pad field zero (Xen
 * rejects non-zero pads with EINVAL, and so does the simulator); OUT
 * fields are copied back only on success; failures are -1/errno.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xendevicemodel.h>
#include <xen/hvm/dm_op.h>

#include "client.h"

struct xendevicemodel_handle {
    XenSimConn *conn;
};

/* Send op; extra input (in) and output (out) buffers as Xen's buf[1]. */
static int dm_op(xendevicemodel_handle *dmod, domid_t domid,
                 struct xen_dm_op *op, const void *in, size_t inlen,
                 void *out, size_t outlen)
{
    XenSimMsg req = {
        .op = XENSIM_OP_DM_OP,
        .arg = { domid, inlen, outlen },
    };
    size_t total = sizeof(*op) + inlen + outlen;
    char *buf;
    int ret, e;

    if (inlen > XENSIM_MAX_PAYLOAD || outlen > XENSIM_MAX_PAYLOAD) {
        errno = E2BIG;
        return -1;
    }
    buf = malloc(total);
    if (!buf) {
        return -1;
    }
    memcpy(buf, op, sizeof(*op));
    if (inlen) {
        memcpy(buf + sizeof(*op), in, inlen);
    }
    ret = xensim_call(dmod->conn, &req, buf, sizeof(*op) + inlen, NULL,
                      buf, sizeof(*op) + outlen, NULL, NULL);
    e = errno;
    if (ret >= 0) {
        memcpy(op, buf, sizeof(*op));
        if (outlen) {
            memcpy(out, buf + sizeof(*op), outlen);
        }
    }
    free(buf);
    errno = e;
    return ret < 0 ? -1 : 0;
}

xendevicemodel_handle *xendevicemodel_open(struct xentoollog_logger *logger,
                                           unsigned int open_flags)
{
    xendevicemodel_handle *dmod = calloc(1, sizeof(*dmod));

    if (!dmod) {
        return NULL;
    }
    dmod->conn = xensim_conn_open(XENSIM_LIB_DM, NULL, NULL);
    if (!dmod->conn) {
        int e = errno;

        free(dmod);
        errno = e;
        return NULL;
    }
    return dmod;
}

int xendevicemodel_close(xendevicemodel_handle *dmod)
{
    if (dmod) {
        xensim_conn_close(dmod->conn);
        free(dmod);
    }
    return 0;
}

int xendevicemodel_restrict(xendevicemodel_handle *dmod, domid_t domid)
{
    return 0;
}

int xendevicemodel_create_ioreq_server(xendevicemodel_handle *dmod,
                                       domid_t domid, int handle_bufioreq,
                                       ioservid_t *id)
{
    struct xen_dm_op op = { .op = XEN_DMOP_create_ioreq_server };

    op.u.create_ioreq_server.handle_bufioreq = handle_bufioreq;
    if (dm_op(dmod, domid, &op, NULL, 0, NULL, 0) < 0) {
        return -1;
    }
    *id = op.u.create_ioreq_server.id;
    return 0;
}

int xendevicemodel_get_ioreq_server_info(xendevicemodel_handle *dmod,
                                         domid_t domid, ioservid_t id,
                                         xen_pfn_t *ioreq_gfn,
                                         xen_pfn_t *bufioreq_gfn,
                                         evtchn_port_t *bufioreq_port)
{
    struct xen_dm_op op = { .op = XEN_DMOP_get_ioreq_server_info };
    struct xen_dm_op_get_ioreq_server_info *info =
        &op.u.get_ioreq_server_info;

    info->id = id;
    if (!ioreq_gfn && !bufioreq_gfn) {
        info->flags = XEN_DMOP_no_gfns;
    }
    if (dm_op(dmod, domid, &op, NULL, 0, NULL, 0) < 0) {
        return -1;
    }
    if (ioreq_gfn) {
        *ioreq_gfn = info->ioreq_gfn;
    }
    if (bufioreq_gfn) {
        *bufioreq_gfn = info->bufioreq_gfn;
    }
    if (bufioreq_port) {
        *bufioreq_port = info->bufioreq_port;
    }
    return 0;
}

static int io_range(xendevicemodel_handle *dmod, domid_t domid,
                    uint32_t dmop, ioservid_t id, uint32_t type,
                    uint64_t start, uint64_t end)
{
    struct xen_dm_op op = { .op = dmop };
    struct xen_dm_op_ioreq_server_range *r =
        &op.u.map_io_range_to_ioreq_server;

    r->id = id;
    r->type = type;
    r->start = start;
    r->end = end;
    return dm_op(dmod, domid, &op, NULL, 0, NULL, 0);
}

int xendevicemodel_map_io_range_to_ioreq_server(xendevicemodel_handle *dmod,
                                                domid_t domid, ioservid_t id,
                                                int is_mmio, uint64_t start,
                                                uint64_t end)
{
    return io_range(dmod, domid, XEN_DMOP_map_io_range_to_ioreq_server, id,
                    is_mmio ? XEN_DMOP_IO_RANGE_MEMORY : XEN_DMOP_IO_RANGE_PORT,
                    start, end);
}

int xendevicemodel_unmap_io_range_from_ioreq_server(
    xendevicemodel_handle *dmod, domid_t domid, ioservid_t id, int is_mmio,
    uint64_t start, uint64_t end)
{
    return io_range(dmod, domid, XEN_DMOP_unmap_io_range_from_ioreq_server,
                    id,
                    is_mmio ? XEN_DMOP_IO_RANGE_MEMORY : XEN_DMOP_IO_RANGE_PORT,
                    start, end);
}

int xendevicemodel_map_pcidev_to_ioreq_server(
    xendevicemodel_handle *dmod, domid_t domid, ioservid_t id,
    uint16_t segment, uint8_t bus, uint8_t device, uint8_t function)
{
    uint64_t sbdf;

    if (device > 0x1f || function > 0x7) {
        errno = EINVAL;
        return -1;
    }
    sbdf = XEN_DMOP_PCI_SBDF(segment, bus, device, function);
    return io_range(dmod, domid, XEN_DMOP_map_io_range_to_ioreq_server, id,
                    XEN_DMOP_IO_RANGE_PCI, sbdf, sbdf);
}

int xendevicemodel_unmap_pcidev_from_ioreq_server(
    xendevicemodel_handle *dmod, domid_t domid, ioservid_t id,
    uint16_t segment, uint8_t bus, uint8_t device, uint8_t function)
{
    uint64_t sbdf;

    if (device > 0x1f || function > 0x7) {
        errno = EINVAL;
        return -1;
    }
    sbdf = XEN_DMOP_PCI_SBDF(segment, bus, device, function);
    return io_range(dmod, domid, XEN_DMOP_unmap_io_range_from_ioreq_server,
                    id, XEN_DMOP_IO_RANGE_PCI, sbdf, sbdf);
}

int xendevicemodel_map_mem_type_to_ioreq_server(xendevicemodel_handle *dmod,
                                                domid_t domid, ioservid_t id,
                                                uint16_t type, uint32_t flags)
{
    struct xen_dm_op op = { .op = XEN_DMOP_map_mem_type_to_ioreq_server };

    op.u.map_mem_type_to_ioreq_server.id = id;
    op.u.map_mem_type_to_ioreq_server.type = type;
    op.u.map_mem_type_to_ioreq_server.flags = flags;
    return dm_op(dmod, domid, &op, NULL, 0, NULL, 0);
}

int xendevicemodel_destroy_ioreq_server(xendevicemodel_handle *dmod,
                                        domid_t domid, ioservid_t id)
{
    struct xen_dm_op op = { .op = XEN_DMOP_destroy_ioreq_server };

    op.u.destroy_ioreq_server.id = id;
    return dm_op(dmod, domid, &op, NULL, 0, NULL, 0);
}

int xendevicemodel_set_ioreq_server_state(xendevicemodel_handle *dmod,
                                          domid_t domid, ioservid_t id,
                                          int enabled)
{
    struct xen_dm_op op = { .op = XEN_DMOP_set_ioreq_server_state };

    op.u.set_ioreq_server_state.id = id;
    op.u.set_ioreq_server_state.enabled = !!enabled;
    return dm_op(dmod, domid, &op, NULL, 0, NULL, 0);
}

int xendevicemodel_set_pci_intx_level(xendevicemodel_handle *dmod,
                                      domid_t domid, uint16_t segment,
                                      uint8_t bus, uint8_t device,
                                      uint8_t intx, unsigned int level)
{
    struct xen_dm_op op = { .op = XEN_DMOP_set_pci_intx_level };
    struct xen_dm_op_set_pci_intx_level *l = &op.u.set_pci_intx_level;

    l->domain = segment;
    l->bus = bus;
    l->device = device;
    l->intx = intx;
    l->level = level;
    return dm_op(dmod, domid, &op, NULL, 0, NULL, 0);
}

int xendevicemodel_set_isa_irq_level(xendevicemodel_handle *dmod,
                                     domid_t domid, uint8_t irq,
                                     unsigned int level)
{
    struct xen_dm_op op = { .op = XEN_DMOP_set_isa_irq_level };

    op.u.set_isa_irq_level.isa_irq = irq;
    op.u.set_isa_irq_level.level = level;
    return dm_op(dmod, domid, &op, NULL, 0, NULL, 0);
}

int xendevicemodel_set_irq_level(xendevicemodel_handle *dmod, domid_t domid,
                                 unsigned int irq, unsigned int level)
{
    struct xen_dm_op op = { .op = XEN_DMOP_set_irq_level };

    op.u.set_irq_level.irq = irq;
    op.u.set_irq_level.level = level;
    return dm_op(dmod, domid, &op, NULL, 0, NULL, 0);
}

int xendevicemodel_set_pci_link_route(xendevicemodel_handle *dmod,
                                      domid_t domid, uint8_t link,
                                      uint8_t irq)
{
    struct xen_dm_op op = { .op = XEN_DMOP_set_pci_link_route };

    op.u.set_pci_link_route.link = link;
    op.u.set_pci_link_route.isa_irq = irq;
    return dm_op(dmod, domid, &op, NULL, 0, NULL, 0);
}

int xendevicemodel_inject_msi(xendevicemodel_handle *dmod, domid_t domid,
                              uint64_t msi_addr, uint32_t msi_data)
{
    struct xen_dm_op op = { .op = XEN_DMOP_inject_msi };

    op.u.inject_msi.addr = msi_addr;
    op.u.inject_msi.data = msi_data;
    return dm_op(dmod, domid, &op, NULL, 0, NULL, 0);
}

int xendevicemodel_track_dirty_vram(xendevicemodel_handle *dmod,
                                    domid_t domid, uint64_t first_pfn,
                                    uint32_t nr,
                                    unsigned long *dirty_bitmap)
{
    struct xen_dm_op op = { .op = XEN_DMOP_track_dirty_vram };

    op.u.track_dirty_vram.first_pfn = first_pfn;
    op.u.track_dirty_vram.nr = nr;
    return dm_op(dmod, domid, &op, NULL, 0, dirty_bitmap,
                 nr ? ((size_t)nr + 7) / 8 : 0);
}

int xendevicemodel_modified_memory_bulk(
    xendevicemodel_handle *dmod, domid_t domid,
    struct xen_dm_op_modified_memory_extent extents[], uint32_t nr)
{
    struct xen_dm_op op = { .op = XEN_DMOP_modified_memory };

    op.u.modified_memory.nr_extents = nr;
    return dm_op(dmod, domid, &op, extents, (size_t)nr * sizeof(*extents),
                 NULL, 0);
}

int xendevicemodel_modified_memory(xendevicemodel_handle *dmod,
                                   domid_t domid, uint64_t first_pfn,
                                   uint32_t nr)
{
    struct xen_dm_op_modified_memory_extent extent = {
        .first_pfn = first_pfn,
        .nr = nr,
    };

    return xendevicemodel_modified_memory_bulk(dmod, domid, &extent, 1);
}

int xendevicemodel_set_mem_type(xendevicemodel_handle *dmod, domid_t domid,
                                hvmmem_type_t mem_type, uint64_t first_pfn,
                                uint32_t nr)
{
    struct xen_dm_op op = { .op = XEN_DMOP_set_mem_type };

    op.u.set_mem_type.mem_type = mem_type;
    op.u.set_mem_type.first_pfn = first_pfn;
    op.u.set_mem_type.nr = nr;
    return dm_op(dmod, domid, &op, NULL, 0, NULL, 0);
}

int xendevicemodel_inject_event(xendevicemodel_handle *dmod, domid_t domid,
                                int vcpu, uint8_t vector, uint8_t type,
                                uint32_t error_code, uint8_t insn_len,
                                uint64_t extra)
{
    struct xen_dm_op op = { .op = XEN_DMOP_inject_event };
    struct xen_dm_op_inject_event *ev = &op.u.inject_event;

    ev->vcpuid = vcpu;
    ev->vector = vector;
    ev->type = type;
    ev->error_code = error_code;
    ev->insn_len = insn_len;
    ev->cr2 = extra;
    return dm_op(dmod, domid, &op, NULL, 0, NULL, 0);
}

int xendevicemodel_shutdown(xendevicemodel_handle *dmod, domid_t domid,
                            unsigned int reason)
{
    struct xen_dm_op op = { .op = XEN_DMOP_remote_shutdown };

    op.u.remote_shutdown.reason = reason;
    return dm_op(dmod, domid, &op, NULL, 0, NULL, 0);
}

int xendevicemodel_relocate_memory(xendevicemodel_handle *dmod,
                                   domid_t domid, uint32_t size,
                                   uint64_t src_gfn, uint64_t dst_gfn)
{
    struct xen_dm_op op = { .op = XEN_DMOP_relocate_memory };

    op.u.relocate_memory.size = size;
    op.u.relocate_memory.src_gfn = src_gfn;
    op.u.relocate_memory.dst_gfn = dst_gfn;
    return dm_op(dmod, domid, &op, NULL, 0, NULL, 0);
}

int xendevicemodel_pin_memory_cacheattr(xendevicemodel_handle *dmod,
                                        domid_t domid, uint64_t start,
                                        uint64_t end, uint32_t type)
{
    struct xen_dm_op op = { .op = XEN_DMOP_pin_memory_cacheattr };

    op.u.pin_memory_cacheattr.start = start;
    op.u.pin_memory_cacheattr.end = end;
    op.u.pin_memory_cacheattr.type = type;
    return dm_op(dmod, domid, &op, NULL, 0, NULL, 0);
}

int xendevicemodel_nr_vcpus(xendevicemodel_handle *dmod, domid_t domid,
                            unsigned int *vcpus)
{
    struct xen_dm_op op = { .op = XEN_DMOP_nr_vcpus };

    if (dm_op(dmod, domid, &op, NULL, 0, NULL, 0) < 0) {
        return -1;
    }
    *vcpus = op.u.nr_vcpus.vcpus;
    return 0;
}
