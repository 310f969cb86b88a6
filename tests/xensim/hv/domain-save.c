/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim-hv: what the save side of libxenguest's migration stream asks
 * of Xen 4.17 for an HVM domain: XEN_DOMCTL_shadow_op (log-dirty on, off,
 * clean, peek; the paging pool size), XEN_DOMCTL_getpageframeinfo3 (a
 * page's type: ordinary RAM, or XTAB where nothing is populated) and
 * XENMEM_maximum_gpfn.
 *
 * Log-dirty: the bitmap starts clean when enabled, as HAP's does; since
 * no vCPU executes, only the device model could dirty pages, and its
 * writes are not recorded yet (a live migration would miss them; xl
 * save suspends the domain before it copies memory, so it does not).
 * Runs under hv.lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hypercall.h"

static bool logdirty;

static uint64_t max_gpfn(void)
{
    if (!hv.p2m_len) {
        return 0;
    }
    return hv.p2m[hv.p2m_len - 1].gfn + hv.p2m[hv.p2m_len - 1].nr - 1;
}

long hv_domain_max_gpfn(const HcCall *h)
{
    domid_t domid;
    long ret;

    if (hc_from_user(h, &domid, h->arg[1], sizeof(domid)) < 0) {
        return -EFAULT;
    }
    ret = hv_domain_check(domid);
    return ret < 0 ? ret : (long)max_gpfn();
}

void hv_domain_save_reset(void)
{
    logdirty = false;
}

/* paging_log_dirty_op(): the bitmap of the pages asked for, all clean. */
static long dirty_bitmap(const HcCall *h, struct xen_domctl_shadow_op *sc,
                         bool clean)
{
    uint64_t pages = sc->pages, p2m_size = max_gpfn() + 1, bytes;
    static const uint8_t zero[4096];

    if (!logdirty) {
        return -EINVAL;
    }
    if (pages > p2m_size) {
        pages = p2m_size;
    }
    bytes = (pages + 7) / 8;
    for (uint64_t at = 0; sc->dirty_bitmap.p && at < bytes;
         at += sizeof(zero)) {
        size_t n = bytes - at < sizeof(zero) ? bytes - at : sizeof(zero);

        if (hc_to_user(h, (uintptr_t)sc->dirty_bitmap.p + at, zero, n) < 0) {
            return -EFAULT;
        }
    }
    sc->pages = pages;
    sc->stats.dirty_count = 0;
    sc->stats.fault_count = 0;
    (void)clean;
    return 0;
}

long hv_domain_shadow_op(const HcCall *h, struct xen_domctl *d,
                         bool *copyback, uint64_t paging_pool)
{
    struct xen_domctl_shadow_op *sc = &d->u.shadow_op;
    long ret = 0;

    switch (sc->op) {
    case XEN_DOMCTL_SHADOW_OP_OFF:
        logdirty = false;
        break;
    case XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY:
        if (logdirty) {
            return -EINVAL;     /* paging_log_dirty_enable(): already on */
        }
        logdirty = true;
        break;
    case XEN_DOMCTL_SHADOW_OP_CLEAN:
    case XEN_DOMCTL_SHADOW_OP_PEEK:
        ret = dirty_bitmap(h, sc, sc->op == XEN_DOMCTL_SHADOW_OP_CLEAN);
        break;
    case XEN_DOMCTL_SHADOW_OP_GET_ALLOCATION:
        sc->mb = paging_pool >> 20;
        break;
    default:
        return hc_not_simulated(h, XEN_DOMCTL_shadow_op);
    }
    *copyback = ret == 0;
    return ret;
}

/* getpageframeinfo3: each pfn's type, in place. */
long hv_domain_pageframeinfo(const HcCall *h, struct xen_domctl *d)
{
    struct xen_domctl_getpageframeinfo3 *g = &d->u.getpageframeinfo3;
    xen_pfn_t pfn;

    if (g->num > 1024) {
        return -E2BIG;          /* the x86 limit per call */
    }
    for (uint64_t i = 0; i < g->num; i++) {
        uint64_t at = (uintptr_t)g->array.p + i * sizeof(pfn);

        if (hc_from_user(h, &pfn, at, sizeof(pfn)) < 0) {
            return -EFAULT;
        }
        pfn = hv_p2m_lookup(pfn) < 0 ? XEN_DOMCTL_PFINFO_XTAB
                                     : XEN_DOMCTL_PFINFO_NOTAB;
        if (hc_to_user(h, at, &pfn, sizeof(pfn)) < 0) {
            return -EFAULT;
        }
    }
    return 0;
}
