/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim-hv guest memory: one memfd holds every guest page; the p2m maps
 * gfns to memfd offsets.  Foreign maps are mmaps of the memfd, so a
 * mapping keeps pointing at the same page when its gfn is relocated,
 * exactly as on Xen.
 *
 * Invariants (see hv.h): p2m extents are sorted by gfn, never overlap,
 * and never share backing; adjacent extents contiguous in both gfn and
 * offset are merged.  Removing gfns from the p2m (relocation, balloon)
 * queues a mapcache invalidation, as Xen does on p2m removals.  A
 * ballooned-out page keeps its memfd backing (never reused) and, as on
 * Xen, which holds a page reference until the device model unmaps, its
 * old content: mappings made before the balloon still work, and DMA into
 * it before the device model has answered the invalidation is legal.
 * Once a vCPU's invalidation is answered (hv_arm_revoked()), the page is
 * filled with a poison pattern: any later change to it can only come
 * from a stale foreign mapping, which hv_check_revoked() reports.  That
 * check looks at a bounded number of pages per call, in turn, so its
 * cost does not grow with the pages revoked; hv_check_revoked_all() on
 * `counters` and at exit looks at all.  All functions run under
 * hv.lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hv.h"

#include <xen/hvm/hvm_op.h>

/* The hv's own mapping of the whole (sparse) memfd. */
static char *mem_base;
static uint64_t mem_reserved;
#define HV_MEM_RESERVE  (4ull << 40)     /* address space, not memory */

/* Index of the first extent whose end is > gfn. */
static unsigned p2m_search(uint64_t gfn)
{
    unsigned lo = 0, hi = hv_dom->p2m_len;

    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;

        if (hv_dom->p2m[mid].gfn + hv_dom->p2m[mid].nr <= gfn) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

int64_t hv_p2m_lookup(uint64_t gfn)
{
    unsigned i = p2m_search(gfn);

    if (i < hv_dom->p2m_len && hv_dom->p2m[i].gfn <= gfn) {
        return hv_dom->p2m[i].off + ((gfn - hv_dom->p2m[i].gfn) << XENSIM_PAGE_SHIFT);
    }
    return -1;
}

void *hv_gfn_ptr(uint64_t gfn)
{
    int64_t off = hv_p2m_lookup(gfn);

    return off < 0 ? NULL : mem_base + off;
}

/* Whether every gfn of [gfn, gfn + nr) is populated: O(extents). */
static bool p2m_covers(uint64_t gfn, uint64_t nr)
{
    uint64_t end = gfn + nr;
    unsigned i = p2m_search(gfn);

    while (gfn < end) {
        if (i >= hv_dom->p2m_len || hv_dom->p2m[i].gfn > gfn) {
            return false;
        }
        gfn = hv_dom->p2m[i].gfn + hv_dom->p2m[i].nr;
        i++;
    }
    return true;
}

static int p2m_reserve(unsigned extra)
{
    if (hv_dom->p2m_len + extra > hv_dom->p2m_cap) {
        unsigned cap = (hv_dom->p2m_len + extra) * 2;
        HvExtent *n = realloc(hv_dom->p2m, cap * sizeof(*n));

        if (!n) {
            return -ENOMEM;
        }
        hv_dom->p2m = n;
        hv_dom->p2m_cap = cap;
    }
    return 0;
}

/*
 * Xen's ioreq_request_mapcache_invalidate() for a removal done by another
 * domain (dom0: balloon, relocate, ioreq gfns): every vCPU will send an
 * invalidate before its next access, but only once the domain's creation
 * finished (here: once a vCPU has run), as Xen checks
 * d->creation_finished.
 */
void hv_request_invalidate(void)
{
    unsigned i;

    if (!hv_dom->creation_finished) {
        return;
    }
    for (i = 0; i < hv_dom->nr_vcpus; i++) {
        hv_dom->invalidate_pending[i] = true;
    }
}

/* Drop [gfn, gfn + nr) from the p2m, splitting extents as needed. */
static int p2m_remove(uint64_t gfn, uint64_t nr)
{
    uint64_t end = gfn + nr;
    unsigned i;

    if (p2m_reserve(1) < 0) {
        return -ENOMEM;
    }
    for (i = p2m_search(gfn); i < hv_dom->p2m_len && hv_dom->p2m[i].gfn < end;) {
        HvExtent *e = &hv_dom->p2m[i];
        uint64_t e_end = e->gfn + e->nr;

        hv_request_invalidate();
        if (e->gfn < gfn && e_end > end) {
            /* Hole in the middle: split in two. */
            memmove(e + 2, e + 1, (hv_dom->p2m_len - i - 1) * sizeof(*e));
            hv_dom->p2m_len++;
            e[1].gfn = end;
            e[1].nr = e_end - end;
            e[1].off = e->off + ((end - e->gfn) << XENSIM_PAGE_SHIFT);
            e->nr = gfn - e->gfn;
            return 0;
        }
        if (e->gfn < gfn) {
            e->nr = gfn - e->gfn;
            i++;
        } else if (e_end > end) {
            e->off += (end - e->gfn) << XENSIM_PAGE_SHIFT;
            e->nr = e_end - end;
            e->gfn = end;
            i++;
        } else {
            memmove(e, e + 1, (hv_dom->p2m_len - i - 1) * sizeof(*e));
            hv_dom->p2m_len--;
        }
    }
    return 0;
}

/* Map [gfn, gfn + nr) to memfd offset off; the range must be free. */
static int p2m_insert(uint64_t gfn, uint64_t nr, uint64_t off)
{
    unsigned i = p2m_search(gfn);
    HvExtent *prev = i ? &hv_dom->p2m[i - 1] : NULL;

    if (prev && prev->gfn + prev->nr == gfn &&
        prev->off + (prev->nr << XENSIM_PAGE_SHIFT) == off) {
        prev->nr += nr;
        if (i < hv_dom->p2m_len && hv_dom->p2m[i].gfn == gfn + nr &&
            hv_dom->p2m[i].off == off + (nr << XENSIM_PAGE_SHIFT)) {
            prev->nr += hv_dom->p2m[i].nr;
            memmove(&hv_dom->p2m[i], &hv_dom->p2m[i + 1],
                    (hv_dom->p2m_len - i - 1) * sizeof(HvExtent));
            hv_dom->p2m_len--;
        }
        return 0;
    }
    if (p2m_reserve(1) < 0) {
        return -ENOMEM;
    }
    memmove(&hv_dom->p2m[i + 1], &hv_dom->p2m[i], (hv_dom->p2m_len - i) * sizeof(HvExtent));
    hv_dom->p2m[i] = (HvExtent) { gfn, nr, off };
    hv_dom->p2m_len++;
    return 0;
}

static int memfd_grow(uint64_t size)
{
    if (size <= hv.memfd_size) {
        return 0;
    }
    if (size > mem_reserved || ftruncate(hv.memfd, size) < 0) {
        return -ENOMEM;
    }
    hv.memfd_size = size;
    return 0;
}

int hv_mem_init(uint64_t mib)
{
    uint64_t bytes = mib << 20;
    uint64_t low = bytes < HV_LOWMEM_END ? bytes : HV_LOWMEM_END;
    uint64_t high = bytes - low;
    uint64_t low_pages = low >> XENSIM_PAGE_SHIFT;

    hv.memfd = memfd_create("xensim-guest-ram", MFD_CLOEXEC);
    if (hv.memfd < 0) {
        return -errno;
    }
    mem_reserved = HV_MEM_RESERVE;
    mem_base = mmap(NULL, mem_reserved, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_NORESERVE, hv.memfd, 0);
    if (mem_base == MAP_FAILED) {
        return -errno;
    }
    /* Initial RAM sits at memfd offset == guest address (sparse file). */
    if (memfd_grow(high ? HV_HIGHMEM_START + high : low) < 0) {
        return -ENOMEM;
    }
    if (low_pages > HV_VGA_HOLE_START) {
        p2m_insert(0, HV_VGA_HOLE_START, 0);
        if (low_pages > HV_VGA_HOLE_END) {
            p2m_insert(HV_VGA_HOLE_END, low_pages - HV_VGA_HOLE_END,
                       HV_VGA_HOLE_END << XENSIM_PAGE_SHIFT);
        }
    } else if (low_pages) {
        p2m_insert(0, low_pages, 0);
    }
    if (high) {
        p2m_insert(HV_HIGHMEM_START >> XENSIM_PAGE_SHIFT,
                   high >> XENSIM_PAGE_SHIFT, HV_HIGHMEM_START);
    }
    hv.memfd_top = hv.memfd_size;
    return 0;
}

static int revoke_page(uint64_t gfn, uint64_t off);

int hv_populate(uint64_t gfn, uint64_t nr)
{
    uint64_t off = hv.memfd_top;
    int ret;

    if (gfn + nr < gfn || ((gfn + nr) >> (52 - XENSIM_PAGE_SHIFT))) {
        return -EINVAL;
    }
    ret = memfd_grow(off + (nr << XENSIM_PAGE_SHIFT));
    if (ret < 0) {
        return ret;
    }
    for (uint64_t i = 0; i < nr; i++) {
        int64_t old = hv_p2m_lookup(gfn + i);

        /* The page it had goes away, as on Xen: watch for stale maps. */
        if (old >= 0) {
            hv_dom->repopulated_pages++;
            ret = revoke_page(gfn + i, old);
            if (ret < 0) {
                return ret;
            }
        }
    }
    ret = p2m_remove(gfn, nr);
    if (ret == 0) {
        ret = p2m_insert(gfn, nr, off);
    }
    if (ret == 0) {
        hv.memfd_top = off + (nr << XENSIM_PAGE_SHIFT);
        hv.cnt[HV_CNT_populate_pages] += nr;
    }
    return ret;
}

int hv_relocate(uint64_t src, uint64_t dst, uint64_t nr)
{
    int64_t *off;
    uint64_t i;
    int ret = 0;

    if (src + nr < src || dst + nr < dst || !p2m_covers(src, nr)) {
        return -EINVAL;
    }
    off = malloc(nr * sizeof(*off));
    if (!off) {
        return -ENOMEM;
    }
    for (i = 0; i < nr; i++) {
        off[i] = hv_p2m_lookup(src + i);
        if (off[i] < 0) {
            free(off);
            return -EINVAL;
        }
    }
    /* Page by page, as Xen's gmfn_range add_to_physmap: the dst gfn
     * loses whatever it had, the src gfn becomes a hole. */
    for (i = 0; i < nr && ret == 0; i++) {
        ret = p2m_remove(src + i, 1);
        if (ret == 0) {
            ret = p2m_remove(dst + i, 1);
        }
        if (ret == 0) {
            ret = p2m_insert(dst + i, 1, off[i]);
        }
    }
    free(off);
    return ret;
}

/* Room for n more memory-type entries. */
static int memtype_reserve(unsigned n)
{
    unsigned cap = hv_dom->memtype_cap ? hv_dom->memtype_cap : 16;
    HvMemType *m;

    while (cap < hv_dom->memtype_len + n) {
        cap *= 2;
    }
    if (cap == hv_dom->memtype_cap) {
        return 0;
    }
    m = realloc(hv_dom->memtype, cap * sizeof(*m));
    if (!m) {
        return -ENOMEM;
    }
    hv_dom->memtype = m;
    hv_dom->memtype_cap = cap;
    return 0;
}

/*
 * Xen's set_mem_type() changes the type of each page of the range
 * (p2m_change_type_one()); the pages around it keep theirs.  Here an
 * entry overlapping the range loses the overlap: it is dropped, cut on
 * one side, or, when the range lies strictly inside it, split in two.
 */
int hv_set_mem_type(uint64_t gfn, uint64_t nr, uint16_t type)
{
    uint64_t end = gfn + nr;
    unsigned i;

    if (!p2m_covers(gfn, nr)) {
        return -EINVAL;
    }
    /* A split and the new entry: at most two more. */
    if (memtype_reserve(2) < 0) {
        return -ENOMEM;
    }
    for (i = 0; i < hv_dom->memtype_len;) {
        HvMemType *m = &hv_dom->memtype[i];
        uint64_t m_end = m->gfn + m->nr;

        if (m_end <= gfn || m->gfn >= end) {
            i++;
            continue;
        }
        if (m->gfn >= gfn && m_end <= end) {
            *m = hv_dom->memtype[--hv_dom->memtype_len];
            continue;
        }
        if (m->gfn < gfn && m_end > end) {
            /* Ranges never overlap, so this happens once per call. */
            hv_dom->memtype[hv_dom->memtype_len++] =
                (HvMemType) { end, m_end - end, m->type };
            m->nr = gfn - m->gfn;
        } else if (m->gfn < gfn) {
            m->nr = gfn - m->gfn;
        } else {
            m->nr = m_end - end;
            m->gfn = end;
        }
        i++;
    }
    if (type != HVMMEM_ram_rw) {
        hv_dom->memtype[hv_dom->memtype_len++] = (HvMemType) { gfn, nr, type };
    }
    return 0;
}

uint16_t hv_mem_type(uint64_t gfn)
{
    unsigned i;

    for (i = 0; i < hv_dom->memtype_len; i++) {
        if (gfn >= hv_dom->memtype[i].gfn &&
            gfn < hv_dom->memtype[i].gfn + hv_dom->memtype[i].nr) {
            return hv_dom->memtype[i].type;
        }
    }
    return HVMMEM_ram_rw;
}

void hv_mark_dirty(uint64_t gfn)
{
    hv_logdirty_mark(gfn);
    if (hv_dom->dirty_bits && gfn >= hv_dom->dirty_first &&
        gfn < hv_dom->dirty_first + hv_dom->dirty_nr) {
        uint64_t bit = gfn - hv_dom->dirty_first;

        hv_dom->dirty_bits[bit / 8] |= 1u << (bit % 8);
    }
}

#define HV_POISON   0xdbu

static bool page_is_poison(const uint8_t *p)
{
    size_t i;

    for (i = 0; i < XENSIM_PAGE_SIZE; i++) {
        if (p[i] != HV_POISON) {
            return false;
        }
    }
    return true;
}

/* Take the page at memfd offset off (last at gfn) from the guest; it is
 * poisoned and watched once armed; its backing is never reused. */
static int revoke_page(uint64_t gfn, uint64_t off)
{
    if (hv_dom->revoked_len == hv_dom->revoked_cap) {
        unsigned cap = hv_dom->revoked_cap ? hv_dom->revoked_cap * 2 : 64;
        HvRevoked *n = realloc(hv_dom->revoked, cap * sizeof(*n));

        if (!n) {
            return -ENOMEM;
        }
        hv_dom->revoked = n;
        hv_dom->revoked_cap = cap;
    }
    hv_dom->revoked[hv_dom->revoked_len++] = (HvRevoked) { gfn, off };
    hv.cnt[HV_CNT_pages_revoked]++;
    return 0;
}

int hv_decrease_reservation(uint64_t gfn, uint64_t nr)
{
    uint64_t i;

    if (gfn + nr < gfn) {
        return -EINVAL;
    }
    for (i = 0; i < nr; i++) {
        int64_t off = hv_p2m_lookup(gfn + i);

        if (off < 0) {
            continue;   /* Xen skips holes in decrease_reservation too */
        }
        if (revoke_page(gfn + i, off) < 0 || p2m_remove(gfn + i, 1) < 0) {
            return -ENOMEM;
        }
    }
    return 0;
}

/* The device model answered an invalidation: from now on the pages
 * revoked so far must not change. */
void hv_arm_revoked(void)
{
    unsigned i;

    for (i = hv_dom->revoked_armed; i < hv_dom->revoked_len; i++) {
        memset(mem_base + hv_dom->revoked[i].off, HV_POISON, XENSIM_PAGE_SIZE);
    }
    hv_dom->revoked_armed = hv_dom->revoked_len;
}

static void check_one_revoked(unsigned i)
{
    uint8_t *p = (uint8_t *)mem_base + hv_dom->revoked[i].off;

    hv.cnt[HV_CNT_revoked_checks]++;
    if (!page_is_poison(p)) {
        hv_bug("write through a mapping of gfn %#llx after the device "
               "model answered the invalidation that followed its "
               "balloon (a stale mapping)",
               (unsigned long long)hv_dom->revoked[i].gfn);
        memset(p, HV_POISON, XENSIM_PAGE_SIZE);
    }
}

#define HV_REVOKED_CHECKS_PER_IOREQ 4

void hv_check_revoked(void)
{
    unsigned n;

    for (n = 0; n < HV_REVOKED_CHECKS_PER_IOREQ && n < hv_dom->revoked_armed;
         n++) {
        if (hv_dom->revoked_cursor >= hv_dom->revoked_armed) {
            hv_dom->revoked_cursor = 0;
        }
        check_one_revoked(hv_dom->revoked_cursor++);
    }
}

void hv_check_revoked_all(void)
{
    HvDom *saved = hv_dom;

    for (unsigned d = 0; d < HV_MAX_DOMAINS; d++) {
        hv_dom = &hv.doms[d];
        for (unsigned i = 0; hv_dom->used && i < hv_dom->revoked_armed;
             i++) {
            check_one_revoked(i);
        }
    }
    hv_dom = saved;
}

int64_t hv_mem_alloc(uint64_t pages)
{
    uint64_t off = hv.memfd_top;
    int ret = memfd_grow(off + (pages << XENSIM_PAGE_SHIFT));

    if (ret < 0) {
        return ret;
    }
    hv.memfd_top = off + (pages << XENSIM_PAGE_SHIFT);
    memset(mem_base + off, 0, pages << XENSIM_PAGE_SHIFT);
    return off;
}

void *hv_mem_ptr(uint64_t off)
{
    return mem_base + off;
}

int hv_p2m_set(uint64_t gfn, uint64_t off)
{
    int ret = p2m_remove(gfn, 1);

    return ret < 0 ? ret : p2m_insert(gfn, 1, off);
}

void hv_p2m_clear(uint64_t gfn)
{
    p2m_remove(gfn, 1);
}
