/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim-hv ioreq servers: creation (two pages outside the guest's p2m:
 * frame 0 the buffered ring, frame 1 the vCPU slots), per-vCPU and
 * buffered event channels, the PIO/MMIO/PCI rangesets, and the selection
 * of the server that handles an access, as Xen's ioreq_server_select()
 * does.  The pages are reached either as a resource (map_resource) or,
 * the legacy way, through gfns from libxl's pool that are in the p2m
 * only while the server is disabled; as on Xen the two ways exclude each
 * other (EPERM).
 *
 * Invariants: a server's ranges of one type never overlap one another
 * (Xen's rangeset refuses with EEXIST); vp_eport of every slot names the
 * vCPU's port while the server is enabled; only enabled servers are
 * selected; a server outlives the client that created it (owner NULL,
 * orphaned) and goes only when destroyed or with the domain.  All
 * functions run under hv.lock.
 */
#include <errno.h>
#include <string.h>

#include "hv.h"

#include <xen/hvm/dm_op.h>
#include <xen/hvm/hvm_op.h>

HvIoreqServer *hv_server_find(uint16_t id)
{
    if (id >= HV_MAX_SERVERS || !hv_dom->server[id].used) {
        return NULL;
    }
    return &hv_dom->server[id];
}

/* Memfd offset of the page behind legacy gfn[i]: 0 sync, 1 buffered. */
static uint64_t gfn_page(HvIoreqServer *s, unsigned i)
{
    return s->pages_off + (i == 0 ? XENSIM_PAGE_SIZE : 0);
}

static void server_release(HvIoreqServer *s)
{
    unsigned i;

    for (i = 0; i < hv_dom->nr_vcpus; i++) {
        hv_guest_port_free(s->vcpu_port[i]);
    }
    if (s->buf_port) {
        hv_guest_port_free(s->buf_port);
    }
    for (i = 0; i < 2; i++) {
        if (s->gfn[i]) {
            hv_p2m_clear(s->gfn[i]);
        }
    }
    memset(s, 0, sizeof(*s));
}

int hv_server_create(HvClient *owner, uint8_t handle_bufioreq)
{
    HvIoreqServer *s = NULL;
    unsigned i;
    int port;
    int64_t off;
    char *pages;

    if (handle_bufioreq > HVM_IOREQSRV_BUFIOREQ_ATOMIC) {
        return -EINVAL;
    }
    for (i = 0; i < HV_MAX_SERVERS; i++) {
        if (!hv_dom->server[i].used) {
            s = &hv_dom->server[i];
            break;
        }
    }
    if (!s) {
        return -ENOSPC;
    }
    memset(s, 0, sizeof(*s));
    s->used = true;
    s->id = i;
    s->owner = owner;
    s->bufioreq_handling = handle_bufioreq;
    off = hv_mem_alloc(2);
    if (off < 0) {
        goto fail;
    }
    s->pages_off = off;
    pages = hv_mem_ptr(off);
    s->buf = (buffered_iopage_t *)pages;
    s->shared = (shared_iopage_t *)(pages + XENSIM_PAGE_SIZE);
    for (i = 0; i < hv_dom->nr_vcpus; i++) {
        port = hv_guest_port_alloc();
        if (port < 0) {
            goto fail;
        }
        s->vcpu_port[i] = port;
        s->shared->vcpu_ioreq[i].vp_eport = port;
    }
    if (handle_bufioreq != HVM_IOREQSRV_BUFIOREQ_OFF) {
        port = hv_guest_port_alloc();
        if (port < 0) {
            goto fail;
        }
        s->buf_port = port;
    }
    hv_log("ioreq server %u created by pid %d (bufioreq %u)", s->id,
           owner ? owner->pid : 0, handle_bufioreq);
    return s->id;

fail:
    server_release(s);
    return -ENOMEM;
}

int hv_server_destroy(uint16_t id)
{
    HvIoreqServer *s = hv_server_find(id);

    if (!s) {
        return -ENOENT;
    }
    hv_log("ioreq server %u destroyed", id);
    server_release(s);
    pthread_cond_broadcast(&hv.cond);
    return 0;
}

int hv_server_set_state(uint16_t id, bool enabled)
{
    HvIoreqServer *s = hv_server_find(id);
    unsigned i;

    if (!s) {
        return -ENOENT;
    }
    if (s->enabled == enabled) {
        return 0;
    }
    hv_log("ioreq server %u %s", id, enabled ? "enabled" : "disabled");
    for (i = 0; i < 2; i++) {
        if (!s->gfn[i]) {
            continue;
        }
        if (enabled) {
            /* The guest must not see its ioreq pages while they work.
             * Xen removes them with p2m_remove_page(), which requests
             * a mapcache invalidation like any removal. */
            hv_p2m_clear(s->gfn[i]);
        } else {
            /* Back to the guest, cleared, as Xen's hvm_add_ioreq_gfn. */
            memset(hv_mem_ptr(gfn_page(s, i)), 0, XENSIM_PAGE_SIZE);
            hv_p2m_set(s->gfn[i], gfn_page(s, i));
        }
    }
    if (enabled) {
        for (i = 0; i < hv_dom->nr_vcpus; i++) {
            s->shared->vcpu_ioreq[i].vp_eport = s->vcpu_port[i];
        }
    }
    s->enabled = enabled;
    hv.events++;
    pthread_cond_broadcast(&hv.cond);
    return 0;
}

int hv_server_legacy_gfns(uint16_t id, uint64_t *ioreq_gfn,
                          uint64_t *bufioreq_gfn)
{
    HvIoreqServer *s = hv_server_find(id);
    unsigned i;

    if (!s) {
        return -ENOENT;
    }
    if (s->resource_mapped) {
        return -EPERM;
    }
    if (!s->gfn[0]) {
        if (2 * id + 1 >= HV_IOREQ_GFN_PAGES) {
            return -ENOMEM;     /* the pool is exhausted */
        }
        s->gfn[0] = HV_IOREQ_GFN_POOL + 2 * id;
        if (s->bufioreq_handling != HVM_IOREQSRV_BUFIOREQ_OFF) {
            s->gfn[1] = HV_IOREQ_GFN_POOL + 2 * id + 1;
        }
        for (i = 0; i < 2 && !s->enabled; i++) {
            if (s->gfn[i]) {
                hv_p2m_set(s->gfn[i], gfn_page(s, i));
            }
        }
    }
    *ioreq_gfn = s->gfn[0];
    *bufioreq_gfn = s->gfn[1];
    return 0;
}

static int range_add(HvRangeSet *rs, uint64_t s, uint64_t e)
{
    unsigned i;

    for (i = 0; i < rs->nr; i++) {
        if (s <= rs->r[i].end && e >= rs->r[i].start) {
            return -EEXIST;
        }
    }
    if (rs->nr == HV_MAX_RANGES) {
        return -ENOSPC;
    }
    rs->r[rs->nr++] = (HvRange) { s, e };
    return 0;
}

static int range_del(HvRangeSet *rs, uint64_t s, uint64_t e)
{
    unsigned i;

    for (i = 0; i < rs->nr; i++) {
        HvRange *r = &rs->r[i];

        if (s < r->start || e > r->end) {
            continue;
        }
        if (s == r->start && e == r->end) {
            *r = rs->r[--rs->nr];
        } else if (s == r->start) {
            r->start = e + 1;
        } else if (e == r->end) {
            r->end = s - 1;
        } else {
            if (rs->nr == HV_MAX_RANGES) {
                return -ENOSPC;
            }
            rs->r[rs->nr++] = (HvRange) { e + 1, r->end };
            r->end = s - 1;
        }
        return 0;
    }
    return -ENOENT;
}

int hv_server_map_range(uint16_t id, uint32_t type, uint64_t s, uint64_t e)
{
    HvIoreqServer *sv = hv_server_find(id);

    if (type > XEN_DMOP_IO_RANGE_PCI || s > e) {
        return -EINVAL;
    }
    if (!sv) {
        return -ENOENT;
    }
    return range_add(&sv->range[type], s, e);
}

int hv_server_unmap_range(uint16_t id, uint32_t type, uint64_t s,
                          uint64_t e)
{
    HvIoreqServer *sv = hv_server_find(id);

    if (type > XEN_DMOP_IO_RANGE_PCI || s > e) {
        return -EINVAL;
    }
    if (!sv) {
        return -ENOENT;
    }
    return range_del(&sv->range[type], s, e);
}

/*
 * As Xen: an ioreq server is the domain's, not its creator's, so it stays
 * (enabled, claiming its ranges) until a destroy_ioreq_server or the
 * domain's end; accesses routed to it then wait for an answer that never
 * comes.  Counted, so that tests see a device model that exits without
 * destroying what it created.
 */
void hv_server_client_gone(HvClient *c)
{
    unsigned i;

    for (i = 0; i < HV_MAX_SERVERS; i++) {
        if (hv_dom->server[i].used && hv_dom->server[i].owner == c) {
            hv_log("ioreq server %u: its device model (pid %d) went away "
                   "without destroying it: left to the domain", i, c->pid);
            hv_dom->server[i].owner = NULL;
            hv_dom->server[i].orphaned = true;
            hv.cnt[HV_CNT_ioreq_servers_orphaned]++;
        }
    }
}

static bool range_hit(const HvRangeSet *rs, uint64_t s, uint64_t e)
{
    unsigned i;

    for (i = 0; i < rs->nr; i++) {
        if (s >= rs->r[i].start && e <= rs->r[i].end) {
            return true;
        }
    }
    return false;
}

HvIoreqServer *hv_server_select(uint8_t type, uint64_t addr, uint64_t len)
{
    unsigned i;
    uint32_t rtype;
    uint64_t s = addr, e = addr + len - 1;

    switch (type) {
    case IOREQ_TYPE_PIO:
        rtype = XEN_DMOP_IO_RANGE_PORT;
        break;
    case IOREQ_TYPE_COPY:
        rtype = XEN_DMOP_IO_RANGE_MEMORY;
        break;
    case IOREQ_TYPE_PCI_CONFIG:
        rtype = XEN_DMOP_IO_RANGE_PCI;
        s = e = addr >> 32;
        break;
    default:
        return NULL;
    }
    /* Xen's FOR_EACH_IOREQ_SERVER: the highest id first. */
    for (i = HV_MAX_SERVERS; i-- > 0;) {
        HvIoreqServer *sv = &hv_dom->server[i];

        if (sv->used && sv->enabled && range_hit(&sv->range[rtype], s, e)) {
            return sv;
        }
    }
    return NULL;
}
