/* SPDX-License-Identifier: GPL-2.0-or-later */
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

/*
 * A XEN_DMOP_<name> without buffers whose arguments are the fields of
 * op.u.<name>, given as designated initialisers (the rest, pads
 * included, stays zero).
 */
#define DM_OP_ARGS(dmod, domid, name, ...)                              \
    dm_op((dmod), (domid), &(struct xen_dm_op) {                        \
              .op = XEN_DMOP_##name, .u.name = { __VA_ARGS__ },         \
          }, NULL, 0, NULL, 0)

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
    /* map and unmap take the same struct xen_dm_op_ioreq_server_range. */
    struct xen_dm_op op = {
        .op = dmop,
        .u.map_io_range_to_ioreq_server = {
            .id = id, .type = type, .start = start, .end = end,
        },
    };

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

/* A PCI device is the one-SBDF range of type XEN_DMOP_IO_RANGE_PCI. */
static int pcidev_range(xendevicemodel_handle *dmod, domid_t domid,
                        uint32_t dmop, ioservid_t id, uint16_t segment,
                        uint8_t bus, uint8_t device, uint8_t function)
{
    uint64_t sbdf;

    if (device > 0x1f || function > 0x7) {
        errno = EINVAL;
        return -1;
    }
    sbdf = XEN_DMOP_PCI_SBDF(segment, bus, device, function);
    return io_range(dmod, domid, dmop, id, XEN_DMOP_IO_RANGE_PCI, sbdf, sbdf);
}

int xendevicemodel_map_pcidev_to_ioreq_server(
    xendevicemodel_handle *dmod, domid_t domid, ioservid_t id,
    uint16_t segment, uint8_t bus, uint8_t device, uint8_t function)
{
    return pcidev_range(dmod, domid, XEN_DMOP_map_io_range_to_ioreq_server,
                        id, segment, bus, device, function);
}

int xendevicemodel_unmap_pcidev_from_ioreq_server(
    xendevicemodel_handle *dmod, domid_t domid, ioservid_t id,
    uint16_t segment, uint8_t bus, uint8_t device, uint8_t function)
{
    return pcidev_range(dmod, domid, XEN_DMOP_unmap_io_range_from_ioreq_server,
                        id, segment, bus, device, function);
}

int xendevicemodel_map_mem_type_to_ioreq_server(xendevicemodel_handle *dmod,
                                                domid_t domid, ioservid_t id,
                                                uint16_t type, uint32_t flags)
{
    return DM_OP_ARGS(dmod, domid, map_mem_type_to_ioreq_server,
                      .id = id, .type = type, .flags = flags);
}

int xendevicemodel_destroy_ioreq_server(xendevicemodel_handle *dmod,
                                        domid_t domid, ioservid_t id)
{
    return DM_OP_ARGS(dmod, domid, destroy_ioreq_server, .id = id);
}

int xendevicemodel_set_ioreq_server_state(xendevicemodel_handle *dmod,
                                          domid_t domid, ioservid_t id,
                                          int enabled)
{
    return DM_OP_ARGS(dmod, domid, set_ioreq_server_state,
                      .id = id, .enabled = !!enabled);
}

int xendevicemodel_set_pci_intx_level(xendevicemodel_handle *dmod,
                                      domid_t domid, uint16_t segment,
                                      uint8_t bus, uint8_t device,
                                      uint8_t intx, unsigned int level)
{
    return DM_OP_ARGS(dmod, domid, set_pci_intx_level,
                      .domain = segment, .bus = bus, .device = device,
                      .intx = intx, .level = level);
}

int xendevicemodel_set_isa_irq_level(xendevicemodel_handle *dmod,
                                     domid_t domid, uint8_t irq,
                                     unsigned int level)
{
    return DM_OP_ARGS(dmod, domid, set_isa_irq_level,
                      .isa_irq = irq, .level = level);
}

int xendevicemodel_set_irq_level(xendevicemodel_handle *dmod, domid_t domid,
                                 unsigned int irq, unsigned int level)
{
    return DM_OP_ARGS(dmod, domid, set_irq_level, .irq = irq, .level = level);
}

int xendevicemodel_set_pci_link_route(xendevicemodel_handle *dmod,
                                      domid_t domid, uint8_t link,
                                      uint8_t irq)
{
    return DM_OP_ARGS(dmod, domid, set_pci_link_route,
                      .link = link, .isa_irq = irq);
}

int xendevicemodel_inject_msi(xendevicemodel_handle *dmod, domid_t domid,
                              uint64_t msi_addr, uint32_t msi_data)
{
    return DM_OP_ARGS(dmod, domid, inject_msi,
                      .addr = msi_addr, .data = msi_data);
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
    return DM_OP_ARGS(dmod, domid, set_mem_type,
                      .mem_type = mem_type, .first_pfn = first_pfn, .nr = nr);
}

int xendevicemodel_inject_event(xendevicemodel_handle *dmod, domid_t domid,
                                int vcpu, uint8_t vector, uint8_t type,
                                uint32_t error_code, uint8_t insn_len,
                                uint64_t extra)
{
    return DM_OP_ARGS(dmod, domid, inject_event,
                      .vcpuid = vcpu, .vector = vector, .type = type,
                      .error_code = error_code, .insn_len = insn_len,
                      .cr2 = extra);
}

int xendevicemodel_shutdown(xendevicemodel_handle *dmod, domid_t domid,
                            unsigned int reason)
{
    return DM_OP_ARGS(dmod, domid, remote_shutdown, .reason = reason);
}

int xendevicemodel_relocate_memory(xendevicemodel_handle *dmod,
                                   domid_t domid, uint32_t size,
                                   uint64_t src_gfn, uint64_t dst_gfn)
{
    return DM_OP_ARGS(dmod, domid, relocate_memory,
                      .size = size, .src_gfn = src_gfn, .dst_gfn = dst_gfn);
}

int xendevicemodel_pin_memory_cacheattr(xendevicemodel_handle *dmod,
                                        domid_t domid, uint64_t start,
                                        uint64_t end, uint32_t type)
{
    return DM_OP_ARGS(dmod, domid, pin_memory_cacheattr,
                      .start = start, .end = end, .type = type);
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
