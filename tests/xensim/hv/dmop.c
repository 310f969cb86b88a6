/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim-hv dm_op: executes one struct xen_dm_op from the device model
 * with the argument checks Xen's dm.c applies (non-zero pads, wrapping
 * ranges, out-of-range IRQs and links all fail with EINVAL; unknown
 * servers with ENOENT; unknown ops with EOPNOTSUPP).  Rejected calls are
 * reported on stderr naming the op, since a correct device model never
 * makes them.  Runs under hv.lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv.h"

#include <xen/hvm/dm_op.h>
#include <xen/hvm/hvm_op.h>

#define DIRTY_VRAM_MAX_PAGES    (1u << (30 - XENSIM_PAGE_SHIFT))

static const char *const dm_op_names[] = {
    [XEN_DMOP_create_ioreq_server] = "create_ioreq_server",
    [XEN_DMOP_get_ioreq_server_info] = "get_ioreq_server_info",
    [XEN_DMOP_map_io_range_to_ioreq_server] = "map_io_range_to_ioreq_server",
    [XEN_DMOP_unmap_io_range_from_ioreq_server] =
        "unmap_io_range_from_ioreq_server",
    [XEN_DMOP_set_ioreq_server_state] = "set_ioreq_server_state",
    [XEN_DMOP_destroy_ioreq_server] = "destroy_ioreq_server",
    [XEN_DMOP_track_dirty_vram] = "track_dirty_vram",
    [XEN_DMOP_set_pci_intx_level] = "set_pci_intx_level",
    [XEN_DMOP_set_isa_irq_level] = "set_isa_irq_level",
    [XEN_DMOP_set_pci_link_route] = "set_pci_link_route",
    [XEN_DMOP_modified_memory] = "modified_memory",
    [XEN_DMOP_set_mem_type] = "set_mem_type",
    [XEN_DMOP_inject_event] = "inject_event",
    [XEN_DMOP_inject_msi] = "inject_msi",
    [XEN_DMOP_map_mem_type_to_ioreq_server] = "map_mem_type_to_ioreq_server",
    [XEN_DMOP_remote_shutdown] = "remote_shutdown",
    [XEN_DMOP_relocate_memory] = "relocate_memory",
    [XEN_DMOP_pin_memory_cacheattr] = "pin_memory_cacheattr",
    [XEN_DMOP_set_irq_level] = "set_irq_level",
    [XEN_DMOP_nr_vcpus] = "nr_vcpus",
};

static const char *dm_op_name(uint32_t op)
{
    if (op < sizeof(dm_op_names) / sizeof(dm_op_names[0]) &&
        dm_op_names[op]) {
        return dm_op_names[op];
    }
    return "unknown";
}

static void irq_changed(void)
{
    hv_irqlog_lines_changed();
    hv.events++;
    pthread_cond_broadcast(&hv.cond);
}

static int track_dirty_vram(struct xen_dm_op_track_dirty_vram *t,
                            void *out, size_t outlen)
{
    size_t bytes = ((size_t)t->nr + 7) / 8;

    if (t->pad || t->nr > DIRTY_VRAM_MAX_PAGES ||
        t->first_pfn + t->nr < t->first_pfn) {
        return -EINVAL;
    }
    if (t->nr == 0) {
        free(hv_dom->dirty_bits);
        hv_dom->dirty_bits = NULL;
        hv_dom->dirty_nr = 0;
        return 0;
    }
    if (outlen < bytes) {
        return -EFAULT;
    }
    if (!hv_dom->dirty_bits || hv_dom->dirty_first != t->first_pfn ||
        hv_dom->dirty_nr != t->nr) {
        /* A new range: everything counts as dirty once, as on Xen. */
        free(hv_dom->dirty_bits);
        hv_dom->dirty_bits = calloc(1, bytes);
        if (!hv_dom->dirty_bits) {
            return -ENOMEM;
        }
        hv_dom->dirty_first = t->first_pfn;
        hv_dom->dirty_nr = t->nr;
        memset(out, 0xff, bytes);
        return 0;
    }
    memcpy(out, hv_dom->dirty_bits, bytes);
    memset(hv_dom->dirty_bits, 0, bytes);
    return 0;
}

/* Xen's domain_get_maximum_gpfn(): the highest gfn in the p2m. */
static uint64_t max_gpfn(void)
{
    return hv_dom->p2m_len ? hv_dom->p2m[hv_dom->p2m_len - 1].gfn +
                        hv_dom->p2m[hv_dom->p2m_len - 1].nr - 1 : 0;
}

/*
 * As Xen 4.17's modified_memory(): nothing at all (not even the
 * arguments) is looked at unless the domain is in log-dirty mode (here:
 * the toolstack's log, domain-save.c, or track_dirty_vram); then every
 * extent must be non-empty, not wrap, end at most at the highest gfn,
 * and opaque (the pfns done of the last extent, which Xen walks first)
 * must be below its nr; each populated page of an extent is marked
 * dirty (paging_mark_pfn_dirty()) before the next extent is checked.
 */
static int modified_memory(struct xen_dm_op_modified_memory *m,
                           const void *in, size_t inlen)
{
    const struct xen_dm_op_modified_memory_extent *ext = in;
    uint32_t i;

    if (!hv_dom->dirty_bits && !hv_logdirty_on()) {
        return 0;
    }
    if ((size_t)m->nr_extents * sizeof(*ext) > inlen) {
        return -EINVAL;
    }
    /* Last extent first, opaque pfns of it done, as Xen walks them. */
    for (i = m->nr_extents; i-- > 0;) {
        uint64_t done = i == m->nr_extents - 1 ? m->opaque : 0;
        uint64_t pfn = ext[i].first_pfn + done;
        uint64_t end = ext[i].first_pfn + ext[i].nr;

        if (ext[i].pad || end <= ext[i].first_pfn || end > max_gpfn() ||
            done >= ext[i].nr) {
            return -EINVAL;
        }
        for (; pfn < end; pfn++) {
            if (hv_p2m_lookup(pfn) >= 0) {
                hv_mark_dirty(pfn);
            }
        }
    }
    return 0;
}

/*
 * The ioreq server HVMMEM_ioreq_server pages belong to (Xen's
 * p2m->ioreq.server, set by map_mem_type_to_ioreq_server); -1 none.
 * A destroyed server no longer counts, as Xen unmaps it on destroy.
 */
static int ioreq_mem_server_of[HV_MAX_DOMAINS] = {
    [0 ... HV_MAX_DOMAINS - 1] = -1
};

/* The thread's current domain's. */
#define ioreq_mem_server (ioreq_mem_server_of[hv_dom->slot])

void hv_dmop_domain_reset(void)
{
    ioreq_mem_server = -1;
}

static bool ioreq_mem_mapped(void)
{
    if (ioreq_mem_server >= 0 && !hv_server_find(ioreq_mem_server)) {
        ioreq_mem_server = -1;
    }
    return ioreq_mem_server >= 0;
}

/* Pages of type HVMMEM_ioreq_server (Xen's p2m->ioreq.entry_count). */
static bool ioreq_mem_pages(void)
{
    unsigned i;

    for (i = 0; i < hv_dom->memtype_len; i++) {
        if (hv_dom->memtype[i].type == HVMMEM_ioreq_server) {
            return true;
        }
    }
    return false;
}

/*
 * As Xen 4.17's map_mem_type_to_ioreq_server (dm.c, ioreq.c,
 * p2m_set_ioreq_server()): a non-zero opaque is a continuation; only
 * HVMMEM_ioreq_server and the WRITE flag; flags 0 unmaps the server
 * that has the type (else EINVAL) and turns its pages back to ram_rw;
 * mapping while a server, or pages of the type, remain is EBUSY.
 */
static int map_mem_type(struct xen_dm_op_map_mem_type_to_ioreq_server *d)
{
    unsigned i;

    if (d->opaque) {
        return 0;
    }
    if (d->type != HVMMEM_ioreq_server ||
        (d->flags & ~XEN_DMOP_IOREQ_MEM_ACCESS_WRITE)) {
        return -EINVAL;
    }
    if (!hv_server_find(d->id)) {
        return -ENOENT;
    }
    if (!d->flags) {
        if (!ioreq_mem_mapped() || ioreq_mem_server != d->id) {
            return -EINVAL;
        }
        ioreq_mem_server = -1;
        /* p2m_finish_type_change(): the pages become ram_rw again */
        for (i = 0; i < hv_dom->memtype_len;) {
            if (hv_dom->memtype[i].type == HVMMEM_ioreq_server) {
                hv_dom->memtype[i] = hv_dom->memtype[--hv_dom->memtype_len];
            } else {
                i++;
            }
        }
        return 0;
    }
    if (ioreq_mem_mapped() || ioreq_mem_pages()) {
        return -EBUSY;
    }
    ioreq_mem_server = d->id;
    return 0;
}

/*
 * As Xen 4.17's set_mem_type(): a non-empty, non-wrapping range up to
 * the highest gfn; ram_rw, ram_ro, mmio_dm or ioreq_server (not
 * HVMMEM_unused); every page must be RAM, except that a hole may become
 * mmio_dm; ioreq_server only with a server mapped to the type, and only
 * from ram_rw; from ioreq_server only back to ram_rw
 * (allow_p2m_type_change()).
 */
static int set_mem_type(struct xen_dm_op_set_mem_type *m)
{
    uint64_t last = m->first_pfn + m->nr - 1, gfn;

    if (m->pad || !m->nr || last < m->first_pfn || last > max_gpfn()) {
        return -EINVAL;
    }
    if (m->mem_type == HVMMEM_ioreq_server && !ioreq_mem_mapped()) {
        return -EINVAL;
    }
    for (gfn = m->first_pfn; gfn <= last; gfn++) {
        uint16_t old = hv_mem_type(gfn);

        if (hv_p2m_lookup(gfn) < 0) {
            continue;           /* holes: checked below */
        }
        if ((m->mem_type == HVMMEM_ioreq_server &&
             old != HVMMEM_ram_rw) ||
            (old == HVMMEM_ioreq_server && m->mem_type != HVMMEM_ram_rw &&
             m->mem_type != HVMMEM_ioreq_server)) {
            return -EINVAL;
        }
    }
    switch (m->mem_type) {
    case HVMMEM_ram_rw:
    case HVMMEM_ram_ro:
    case HVMMEM_ioreq_server:
        break;
    case HVMMEM_mmio_dm:
        for (gfn = m->first_pfn; gfn <= last; gfn++) {
            if (hv_p2m_lookup(gfn) >= 0) {
                return hv_set_mem_type(m->first_pfn, m->nr, m->mem_type);
            }
        }
        return 0;   /* holes only: they are mmio_dm already, for us */
    default:
        return -EINVAL;
    }
    return hv_set_mem_type(m->first_pfn, m->nr, m->mem_type);
}

static int pin_cacheattr(struct xen_dm_op_pin_memory_cacheattr *p)
{
    if (p->pad || p->start > p->end) {
        return -EINVAL;
    }
    switch (p->type) {
    case XEN_DMOP_MEM_CACHEATTR_UC:
    case XEN_DMOP_MEM_CACHEATTR_WC:
    case XEN_DMOP_MEM_CACHEATTR_WT:
    case XEN_DMOP_MEM_CACHEATTR_WP:
    case XEN_DMOP_MEM_CACHEATTR_WB:
    case XEN_DMOP_MEM_CACHEATTR_UCM:
    case XEN_DMOP_DELETE_MEM_CACHEATTR:
        return 0;
    default:
        return -EINVAL;
    }
}

static int do_op(HvClient *c, struct xen_dm_op *op, const void *in,
                 size_t inlen, void *out, size_t outlen)
{
    switch (op->op) {
    case XEN_DMOP_create_ioreq_server: {
        struct xen_dm_op_create_ioreq_server *d = &op->u.create_ioreq_server;
        int id;

        if (d->pad[0] || d->pad[1] || d->pad[2]) {
            return -EINVAL;
        }
        id = hv_server_create(c, d->handle_bufioreq);
        if (id < 0) {
            return id;
        }
        d->id = id;
        return 0;
    }
    case XEN_DMOP_get_ioreq_server_info: {
        struct xen_dm_op_get_ioreq_server_info *d =
            &op->u.get_ioreq_server_info;
        HvIoreqServer *s;

        if (d->flags & ~XEN_DMOP_no_gfns) {
            return -EINVAL;
        }
        s = hv_server_find(d->id);
        if (!s) {
            return -ENOENT;
        }
        if (!(d->flags & XEN_DMOP_no_gfns)) {
            uint64_t gfn, buf_gfn;
            int ret = hv_server_legacy_gfns(d->id, &gfn, &buf_gfn);

            if (ret < 0) {
                return ret;
            }
            d->ioreq_gfn = gfn;
            d->bufioreq_gfn = buf_gfn;
        }
        d->bufioreq_port = s->buf_port;
        return 0;
    }
    case XEN_DMOP_map_io_range_to_ioreq_server:
    case XEN_DMOP_unmap_io_range_from_ioreq_server: {
        struct xen_dm_op_ioreq_server_range *r =
            &op->u.map_io_range_to_ioreq_server;

        if (r->pad) {
            return -EINVAL;
        }
        if (op->op == XEN_DMOP_map_io_range_to_ioreq_server) {
            return hv_server_map_range(r->id, r->type, r->start, r->end);
        }
        return hv_server_unmap_range(r->id, r->type, r->start, r->end);
    }
    case XEN_DMOP_set_ioreq_server_state: {
        struct xen_dm_op_set_ioreq_server_state *d =
            &op->u.set_ioreq_server_state;

        if (d->pad) {
            return -EINVAL;
        }
        return hv_server_set_state(d->id, d->enabled);
    }
    case XEN_DMOP_destroy_ioreq_server:
        if (op->u.destroy_ioreq_server.pad) {
            return -EINVAL;
        }
        return hv_server_destroy(op->u.destroy_ioreq_server.id);
    case XEN_DMOP_track_dirty_vram:
        return track_dirty_vram(&op->u.track_dirty_vram, out, outlen);
    case XEN_DMOP_set_pci_intx_level: {
        struct xen_dm_op_set_pci_intx_level *d = &op->u.set_pci_intx_level;

        if (d->domain || d->bus || d->device > 0x1f || d->intx > 3 ||
            d->level > 1) {
            return -EINVAL;
        }
        if (hv_dom->intx_level[d->device][d->intx] != d->level) {
            hv_dom->intx_level[d->device][d->intx] = d->level;
            hv.cnt[HV_CNT_pci_intx_changes]++;
            irq_changed();
        }
        return 0;
    }
    case XEN_DMOP_set_isa_irq_level: {
        struct xen_dm_op_set_isa_irq_level *d = &op->u.set_isa_irq_level;

        if (d->isa_irq > 15 || d->level > 1) {
            return -EINVAL;
        }
        if (hv_dom->isa_level[d->isa_irq] != d->level) {
            hv_dom->isa_level[d->isa_irq] = d->level;
            hv.cnt[HV_CNT_isa_irq_changes]++;
            irq_changed();
        }
        return 0;
    }
    case XEN_DMOP_set_irq_level:
        /* Arm only: x86 Xen 4.17's dm.c hands it to
         * ioreq_server_dm_op(), which does not know it. */
        return -EOPNOTSUPP;
    case XEN_DMOP_set_pci_link_route: {
        struct xen_dm_op_set_pci_link_route *d = &op->u.set_pci_link_route;

        if (d->link > 3 || d->isa_irq > 15) {
            return -EINVAL;
        }
        hv_dom->link_route[d->link] = d->isa_irq;
        hv.cnt[HV_CNT_link_routes]++;
        irq_changed();
        return 0;
    }
    case XEN_DMOP_modified_memory:
        return modified_memory(&op->u.modified_memory, in, inlen);
    case XEN_DMOP_set_mem_type:
        return set_mem_type(&op->u.set_mem_type);
    case XEN_DMOP_inject_event: {
        struct xen_dm_op_inject_event *d = &op->u.inject_event;

        if (d->pad0 || d->pad1 || d->vcpuid >= hv_dom->nr_vcpus) {
            return -EINVAL;
        }
        hv_log("inject_event vcpu %u vector %#x type %u", d->vcpuid,
               d->vector, d->type);
        return 0;
    }
    case XEN_DMOP_inject_msi: {
        struct xen_dm_op_inject_msi *d = &op->u.inject_msi;

        if (d->pad) {
            return -EINVAL;
        }
        if (!(d->data & 0xff)) {
            /* hvm_inject_msi(): vector 0 names a pirq, from the address's
             * high bits and destination id; there must be one. */
            int pirq = ((d->addr >> 32) & 0xffffff00) |
                       ((d->addr >> 12) & 0xff);

            if (pirq <= 0) {
                return -ERANGE;
            }
        }
        hv_irqlog_msi(d->addr, d->data);
        hv_dom->msi_count++;
        hv_dom->msi_last_addr = d->addr;
        hv_dom->msi_last_data = d->data;
        hv.cnt[HV_CNT_msis]++;
        irq_changed();
        return 0;
    }
    case XEN_DMOP_map_mem_type_to_ioreq_server: {
        struct xen_dm_op_map_mem_type_to_ioreq_server *d =
            &op->u.map_mem_type_to_ioreq_server;

        return map_mem_type(d);
    }
    case XEN_DMOP_remote_shutdown:
        hv_dom->shutdown_reason = op->u.remote_shutdown.reason;
        hv_dom->shutdown_count++;
        hv.cnt[HV_CNT_shutdowns]++;
        hv_log("device model requested shutdown, reason %u",
               op->u.remote_shutdown.reason);
        hv_domain_exception(false);
        irq_changed();
        return 0;
    case XEN_DMOP_relocate_memory: {
        struct xen_dm_op_relocate_memory *d = &op->u.relocate_memory;

        if (d->pad) {
            return -EINVAL;
        }
        return hv_relocate(d->src_gfn, d->dst_gfn, d->size);
    }
    case XEN_DMOP_pin_memory_cacheattr:
        return pin_cacheattr(&op->u.pin_memory_cacheattr);
    case XEN_DMOP_nr_vcpus:
        op->u.nr_vcpus.vcpus = hv_dom->nr_vcpus;
        return 0;
    default:
        return -EOPNOTSUPP;
    }
}

int hv_dm_op(HvClient *c, void *buf, size_t oplen, const void *in,
             size_t inlen, void *out, size_t outlen)
{
    struct xen_dm_op *op = buf;
    int ret;

    if (oplen < sizeof(*op)) {
        hv_bug("dm_op: short argument (%zu bytes)", oplen);
        return -EFAULT;
    }
    hv.cnt[HV_CNT_dm_ops]++;
    ret = op->pad ? -EINVAL : do_op(c, op, in, inlen, out, outlen);
    if (ret < 0) {
        hv.cnt[HV_CNT_dm_op_errors]++;
        hv_bug("dm_op %s (%u) from pid %d failed: %s", dm_op_name(op->op),
               op->op, c ? c->pid : 0, strerror(-ret));
    }
    return ret;
}
