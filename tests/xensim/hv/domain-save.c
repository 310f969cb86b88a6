/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim-hv: what the save side of libxenguest's migration stream asks
 * of Xen 4.17 for an HVM domain: XEN_DOMCTL_shadow_op (log-dirty on, off,
 * clean, peek; the paging pool size), XEN_DOMCTL_getpageframeinfo3 (a
 * page's type: ordinary RAM, or XTAB where nothing is populated) and
 * XENMEM_maximum_gpfn.
 *
 * Log-dirty (paging.c, hap.c): XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY turns
 * on the domain's log with every page clean (EINVAL if it is on
 * already, as paging_log_dirty_enable()); from then on a page is marked
 * when the guest writes it (a vCPU's access, guestmem.c) or when the
 * device model reports a write of its own with XEN_DMOP_modified_memory
 * (dmop.c), which is the only way Xen learns of writes made through a
 * foreign mapping: they go to the page, not through the guest's p2m.
 * CLEAN and PEEK copy the bitmap of the first sc->pages pages and the
 * dirty count (pages newly marked since the last CLEAN); CLEAN then
 * clears both.  OFF drops the log.  The bitmap grows as gfns are marked,
 * as Xen's trie does.  Runs under hv.lock, on the thread's hv_dom.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/param.h>

#include "hypercall.h"

static uint64_t max_gpfn(void)
{
    if (!hv_dom->p2m_len) {
        return 0;
    }
    return hv_dom->p2m[hv_dom->p2m_len - 1].gfn +
           hv_dom->p2m[hv_dom->p2m_len - 1].nr - 1;
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
    free(hv_dom->logdirty_bits);
    hv_dom->logdirty_bits = NULL;
    hv_dom->logdirty_pages = hv_dom->logdirty_count = 0;
}

/* paging_mark_pfn_dirty(): only while the log is on. */
void hv_logdirty_mark(uint64_t gfn)
{
    uint8_t *b;

    if (!hv_dom->logdirty_bits) {
        return;
    }
    if (gfn >= hv_dom->logdirty_pages) {
        uint64_t pages = (gfn + 1 + 0x7fff) & ~0x7fffull, old;

        b = realloc(hv_dom->logdirty_bits, pages / 8);
        if (!b) {
            hv_bug("log-dirty: no memory to mark gfn %#llx",
                   (unsigned long long)gfn);
            return;
        }
        old = hv_dom->logdirty_pages / 8;
        memset(b + old, 0, pages / 8 - old);
        hv_dom->logdirty_bits = b;
        hv_dom->logdirty_pages = pages;
    }
    b = &hv_dom->logdirty_bits[gfn / 8];
    if (!(*b & (1u << (gfn % 8)))) {
        *b |= 1u << (gfn % 8);
        hv_dom->logdirty_count++;
    }
}

bool hv_logdirty_on(void)
{
    return hv_dom->logdirty_bits != NULL;
}

/* paging_log_dirty_op(): the bitmap of the pages asked for. */
static long dirty_bitmap(const HcCall *h, struct xen_domctl_shadow_op *sc,
                         bool clean)
{
    static const uint8_t zero[4096];
    uint64_t bytes = (sc->pages + 7) / 8;
    uint64_t have = hv_dom->logdirty_pages / 8;

    if (!hv_dom->logdirty_bits) {
        return -EINVAL;
    }
    sc->stats.dirty_count = MIN(hv_dom->logdirty_count, UINT32_MAX);
    sc->stats.fault_count = sc->stats.dirty_count;
    for (uint64_t at = 0, n; sc->dirty_bitmap.p && at < bytes; at += n) {
        const uint8_t *src = zero;

        n = MIN(bytes - at, sizeof(zero));
        if (at < have) {
            n = MIN(n, have - at);
            src = hv_dom->logdirty_bits + at;
        }
        if (hc_to_user(h, (uintptr_t)sc->dirty_bitmap.p + at, src, n) < 0) {
            return -EFAULT;
        }
    }
    if (clean) {
        memset(hv_dom->logdirty_bits, 0, have);
        hv_dom->logdirty_count = 0;
    }
    return 0;
}

long hv_domain_shadow_op(const HcCall *h, struct xen_domctl *d,
                         bool *copyback, uint64_t paging_pool)
{
    struct xen_domctl_shadow_op *sc = &d->u.shadow_op;
    long ret = 0;

    switch (sc->op) {
    case XEN_DOMCTL_SHADOW_OP_OFF:
        hv_domain_save_reset();
        break;
    case XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY:
        if (hv_dom->logdirty_bits) {
            return -EINVAL;     /* paging_log_dirty_enable(): already on */
        }
        hv_dom->logdirty_pages = (max_gpfn() + 1 + 0x7fff) & ~0x7fffull;
        hv_dom->logdirty_bits = calloc(1, hv_dom->logdirty_pages / 8);
        if (!hv_dom->logdirty_bits) {
            hv_dom->logdirty_pages = 0;
            return -ENOMEM;
        }
        hv_dom->logdirty_count = 0;
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
