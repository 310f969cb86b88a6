/*
 * Unit tests for the Xen map cache (hw/i386/xen/xen-mapcache.c).
 *
 * Copyright (c) 2026 Xen DM Developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The cache is compiled into this test (it is #included, so that the
 * invariant checker can see its structures) over the in-process backend
 * of test-xen-mapcache-backend.c: no Xen needed.  Every pointer the cache
 * returns is checked against the pattern the backend keeps in guest RAM.
 *
 * Built twice: test-xen-mapcache-mutant defines
 * XEN_MAPCACHE_MUTANT_DUPLICATES, a mutant that inserts a second entry
 * under a key whose entry is locked; the bug-report tests must fail
 * there (on the invariant checker: the mutant translates right).  It is
 * not QEMU 7.2's rule; test-xen-mapcache-stock.c runs 7.2 itself.
 */

/* Small tables, so that the random test grows them under its readers. */
#define MC_HASH_MIN 8
#ifdef XEN_MAPCACHE_MUTANT_DUPLICATES
/*
 * The mutant: a locked request passes over an entry that other requests
 * hold locked and adds a second entry with the same key.
 */
#define mc_shareable(e, lock) (!((lock) && mc_locks(e)))
#endif
/* Invariant 1: a locked entry is never unmapped. */
#define mc_before_unmap(e) g_assert_cmpuint(mc_locks(e), ==, 0)
#include "../../hw/i386/xen/xen-mapcache.c"
#include "qemu/main-loop.h"
#include "test-xen-mapcache-backend.h"

#define BUG_A 0x700FFF80ULL
#define BUG_B 0x70010000ULL
#define BUG_C 0x70080000ULL
#define BUG_D 0x70040000ULL

/* Forget the cache and every mapping it holds; start a new one. */
static void setup(uint64_t ram_bytes, uint64_t max_bytes)
{
    MapCache *mc = mapcache;

    if (mc) {
        MapCacheList *lists[] = { &mc->lru, &mc->doomed };
        MapCacheEntry *e, *next;
        size_t i;

        drain_call_rcu();
        for (i = 0; i < ARRAY_SIZE(lists); i++) {
            QTAILQ_FOREACH_SAFE(e, lists[i], link, next) {
                QTAILQ_REMOVE(lists[i], e, link);
                qatomic_set(&e->state, MCS_DOOMED);     /* a test's leak */
                mc_entry_free(e);
            }
        }
        g_free(mc->fwd);
        g_free(mc->rev);
        qemu_mutex_destroy(&mc->lock);
        qemu_vfree(mc);
        mapcache = NULL;
    }
    mcb_init(ram_bytes, 64);
    xen_map_cache_init(NULL, NULL);
    if (max_bytes) {
        xen_map_cache_set_max_size(max_bytes);
    }
}

static bool fail_invariant(const char *what, MapCacheEntry *e)
{
    g_test_message("invariant broken: %s (entry 0x%" PRIx64 " x%" PRIu64
                   " locks %u)", what, e ? e->index : 0,
                   e ? e->nbuckets : 0, e ? mc_locks(e) : 0);
    return false;
}

/*
 * The invariants of the opening comment of xen-mapcache.c.  While other
 * threads run (@quiescent false), lock counts change under the checker:
 * a doomed entry may have just lost its last lock (its unlocker waits for
 * the mutex to retire it), and the pinned slots lag the counts.
 */
static bool check_invariants_at(bool quiescent)
{
    MapCache *mc = mapcache;
    MapCacheList *lists[] = { &mc->lru, &mc->doomed };
    size_t fwd = 0, rev = 0, i;
    uint64_t bytes = 0, block = 0, pinned = 0;
    MapCacheEntry *e;
    bool ok = true;

    qemu_mutex_lock(&mc->lock);
    for (i = 0; i < ARRAY_SIZE(lists) && ok; i++) {
        QTAILQ_FOREACH(e, lists[i], link) {
            bool doomed = mc_doomed(e);
            bool in_fwd = mc_fwd_find(mc, e->index, e->nbuckets) == e;

            if (i == 0 && doomed) {
                ok = fail_invariant("lru entry doomed", e);
            } else if (i == 1 && !doomed) {
                ok = fail_invariant("doomed-list entry not doomed", e);
            } else if (i == 1 && quiescent && !mc_locks(e)) {
                ok = fail_invariant("doomed entry not locked", e);
            } else if (!doomed && !in_fwd) {
                ok = fail_invariant("two entries with one key", e);
            } else if (doomed && in_fwd) {
                ok = fail_invariant("doomed entry still in fwd", e);
            } else if (mc_rev_find(mc, e->vaddr) != e ||
                       mc_rev_find(mc, e->vaddr + e->size - 1) != e) {
                ok = fail_invariant("reverse index misses entry", e);
            }
            if (!ok) {
                break;
            }
            fwd += !doomed;
            rev += e->nr_rev;
            bytes += mc_capped(e);
            block += e->size - mc_capped(e);
            pinned += mc_locks(e) ? mc_capped(e) : 0;
        }
    }
    if (ok && (fwd != mc->fwd_count || rev != mc->rev_count ||
               bytes != mc->bytes || block != mc->block_bytes ||
               (quiescent && pinned != mc_pinned()))) {
        ok = fail_invariant("counts disagree", NULL);
    }
    qemu_mutex_unlock(&mc->lock);
    return ok;
}

static bool check_invariants(void)
{
    return check_invariants_at(true);
}

static MapCacheEntry *entry_of(void *p)
{
    MapCacheEntry *e;

    qemu_mutex_lock(&mapcache->lock);
    e = mc_rev_find(mapcache, p);
    qemu_mutex_unlock(&mapcache->lock);
    return e;
}

static XenMapCacheStats stats(void)
{
    XenMapCacheStats s;

    xen_map_cache_get_stats(&s);
    return s;
}

/* A DMA transfer as address_space_map() starts it. */
static uint8_t *dma_start(uint64_t gpa, uint64_t len)
{
    uint8_t *p = xen_map_cache(gpa, len, 1, true);

    g_assert_nonnull(p);
    g_assert_true(mcb_check(p, gpa, len));
    return p;
}

/* ... and as address_space_unmap() ends it: reverse lookup, unlock. */
static void dma_end(uint8_t *p, uint64_t gpa, uint64_t len)
{
    g_assert_true(mcb_check(p, gpa, len));
    g_assert_cmphex(xen_ram_addr_from_mapcache(p), ==, gpa);
    xen_invalidate_map_cache_entry(p);
}

static void test_basic(void)
{
    XenMapCacheInfo *info;
    uint8_t *p, *q;

    setup(64 * MiB, 0);
    p = xen_map_cache(0x123456, 0, 0, false);
    g_assert_nonnull(p);
    g_assert_cmpint(*p, ==, mcb_expected(0x123456));
    q = xen_map_cache(0x1ff000, 0x1000, 0, false);
    g_assert_true(q - p == 0x1ff000 - 0x123456);
    g_assert_cmpuint(stats().entries, ==, 1);
    g_assert_cmpuint(stats().hits, ==, 1);

    /* a locked transfer crossing a bucket border gets its own entry */
    p = dma_start(0x1fff00, 0x200);
    g_assert_cmpuint(entry_of(p)->nbuckets, ==, 2);
    g_assert_cmpuint(stats().locked, ==, 1);
    /* interior pointers translate too */
    g_assert_cmphex(xen_ram_addr_from_mapcache(p + 0x150), ==, 0x200050);
    /* writes reach guest RAM: the other mapping of that page sees them */
    p[0x100] ^= 0xff;
    q = xen_map_cache(0x200000, 0, 0, false);
    g_assert_cmpint(*q, ==, (uint8_t)~mcb_expected(0x200000));
    p[0x100] ^= 0xff;
    dma_end(p, 0x1fff00, 0x200);
    g_assert_cmpuint(stats().locked, ==, 0);
    g_assert_true(check_invariants());

    /* what query-xen-mapcache reports */
    info = qmp_query_xen_mapcache(&error_abort);
    g_assert_cmpuint(info->entries, ==, 3);
    g_assert_cmpuint(info->bytes_mapped, ==, 4 * MiB);
    g_assert_cmpuint(info->reverse_lookups, ==, 2);
    qapi_free_XenMapCacheInfo(info);
}

/*
 * The bug report's sequence: A (512 bytes at 0x700FFF80, a 2 MiB entry),
 * B and C in the same 1 MiB bucket, A completes, C maps, B is translated
 * and unmapped.  7.2 could end with two entries for (0x700, 1 MiB) and
 * translate B through C's.
 */
static void test_bug_report(void)
{
    uint8_t *a, *b, *c;

    setup(2 * GiB, 0);
    a = dma_start(BUG_A, 512);
    b = dma_start(BUG_B, 0x1000);
    dma_end(a, BUG_A, 512);
    c = dma_start(BUG_C, 0x1000);
    g_assert_true(check_invariants());
    /* one entry per key: C shares B's */
    g_assert_true(entry_of(b) == entry_of(c));
    g_assert_true(c - b == BUG_C - BUG_B);
    g_assert_cmpuint(mc_locks(entry_of(b)), ==, 2);
    dma_end(b, BUG_B, 0x1000);
    g_assert_cmpuint(mc_locks(entry_of(c)), ==, 1);
    g_assert_true(mcb_check(c, BUG_C, 0x1000));
    dma_end(c, BUG_C, 0x1000);
    g_assert_cmpuint(stats().locked, ==, 0);
    g_assert_true(check_invariants());
}

/*
 * Its four-transfer variant, where the wrong entry would be unmapped: D
 * joins while C runs, B ends, then eviction pressure and an invalidate
 * must leave C's and D's mappings alone.
 */
static void test_bug_report_4(void)
{
    uint8_t *a, *b, *c, *d;
    uint64_t i;

    setup(2 * GiB, 8 * MiB);
    a = dma_start(BUG_A, 512);
    b = dma_start(BUG_B, 0x1000);
    dma_end(a, BUG_A, 512);
    c = dma_start(BUG_C, 0x1000);
    d = dma_start(BUG_D, 0x800);
    g_assert_true(check_invariants());
    g_assert_true(entry_of(c) == entry_of(d));
    dma_end(b, BUG_B, 0x1000);
    g_assert_cmpuint(mc_locks(entry_of(c)), ==, 2);

    /* push everything unlocked out, then invalidate */
    for (i = 0; i < 32; i++) {
        uint8_t *p = xen_map_cache(i * MiB, 0, 0, false);

        g_assert_nonnull(p);
        g_assert_cmpint(*p, ==, mcb_expected(i * MiB));
    }
    g_assert_cmpuint(stats().bytes_mapped, <=, 8 * MiB);
    xen_invalidate_map_cache();
    g_assert_true(check_invariants());
    g_assert_true(mcb_check(c, BUG_C, 0x1000));
    g_assert_true(mcb_check(d, BUG_D, 0x800));
    g_assert_cmpuint(stats().doomed, ==, 1);
    dma_end(c, BUG_C, 0x1000);
    g_assert_true(mcb_check(d, BUG_D, 0x800));
    dma_end(d, BUG_D, 0x800);
    g_assert_cmpuint(stats().entries, ==, 0);
    g_assert_true(check_invariants());
}

static void test_sizes_on_one_index(void)
{
    uint8_t *p[4];
    uint64_t gpa = 16 * MiB + 0x3000;
    int i;

    setup(64 * MiB, 0);
    for (i = 1; i <= 3; i++) {
        p[i] = dma_start(gpa, i * MiB - 0x4000);
        g_assert_cmpuint(entry_of(p[i])->nbuckets, ==, i);
    }
    p[0] = dma_start(gpa, 0x1000);       /* shares the 1-bucket entry */
    g_assert_true(entry_of(p[0]) == entry_of(p[1]));
    g_assert_cmpuint(stats().entries, ==, 3);
    /* unlock through an interior pointer: exactly that entry */
    xen_invalidate_map_cache_entry(p[2] + MiB + 17);
    g_assert_cmpuint(mc_locks(entry_of(p[1])), ==, 2);
    g_assert_cmpuint(mc_locks(entry_of(p[2])), ==, 0);
    g_assert_cmpuint(mc_locks(entry_of(p[3])), ==, 1);
    dma_end(p[0], gpa, 0x1000);
    dma_end(p[1], gpa, MiB - 0x4000);
    dma_end(p[3], gpa, 3 * MiB - 0x4000);
    g_assert_cmpuint(stats().locked, ==, 0);
    g_assert_true(check_invariants());
}

static void test_unknown_pointers(void)
{
    uint8_t local[16], *p;
    uint64_t failures;

    setup(64 * MiB, 0);
    p = dma_start(0x100000, 0x1000);
    failures = stats().failures;
    g_assert_cmphex(xen_ram_addr_from_mapcache(local), ==, RAM_ADDR_INVALID);
    xen_invalidate_map_cache_entry(local);
    xen_invalidate_map_cache_entry(NULL);
    g_assert_cmpuint(stats().failures, ==, failures + 2);
    dma_end(p, 0x100000, 0x1000);
    /* a second unlock must not underflow */
    xen_invalidate_map_cache_entry(p);
    g_assert_cmpuint(stats().failures, ==, failures + 3);
    g_assert_cmpuint(mc_locks(entry_of(p)), ==, 0);
    g_assert_true(check_invariants());
}

/*
 * Unlocked hits and reverse lookups skip the mutex only inside the
 * caller's RCU read-side critical section; outside one they take the
 * mutex path and give the same answers.
 */
static void test_rcu_paths(void)
{
    uint64_t gpa = 3 * MiB + 0x345;
    uint8_t *p, *q, *d;

    setup(64 * MiB, 0);
    p = xen_map_cache(gpa, 8, 0, false);
    g_assert_nonnull(p);
    g_assert_null(mc_lockless_hit(mapcache, gpa, 8, false));
    q = xen_map_cache(gpa, 8, 0, false);
    g_assert_true(q == p);
    g_assert_cmpuint(stats().hits, ==, 1);

    WITH_RCU_READ_LOCK_GUARD() {
        g_assert_true(mc_lockless_hit(mapcache, gpa, 8, false) == p);
        /* a request crossing the bucket is another key: not a hit */
        g_assert_null(mc_lockless_hit(mapcache, gpa | 0xffffc, 8, false));
    }
    g_assert_cmpuint(stats().hits, ==, 2);

    d = dma_start(gpa, 0x100);
    /* mutex path: dma_end() looks up outside RCU */
    g_assert_cmphex(xen_ram_addr_from_mapcache(d + 0x10), ==, gpa + 0x10);
    WITH_RCU_READ_LOCK_GUARD() {
        g_assert_cmphex(xen_ram_addr_from_mapcache(d + 0x20), ==,
                        gpa + 0x20);
        g_assert_cmphex(xen_ram_addr_from_mapcache((uint8_t *)&gpa), ==,
                        RAM_ADDR_INVALID);
    }
    dma_end(d, gpa, 0x100);
    g_assert_true(check_invariants());
}

/* The cap an operator sets is clamped so that no request size can wrap. */
static void test_cap_bounds(void)
{
    uint8_t *p;

    setup(64 * MiB, 0);
    xen_map_cache_set_max_size(0);
    g_assert_cmpuint(stats().max_bytes, ==, MC_BUCKET);
    xen_map_cache_set_max_size(UINT64_MAX);
    g_assert_cmpuint(stats().max_bytes, ==, SIZE_MAX / 2);
    /* a request that would wrap is refused, whatever the cap */
    p = xen_map_cache(0x100000, UINT64_MAX - 0x1000, 0, false);
    g_assert_null(p);
    p = xen_map_cache(0x100000, UINT64_MAX - 0x1000, 1, true);
    g_assert_null(p);
    g_assert_true(check_invariants());
}

static void test_invalidate(void)
{
    uint8_t *locked, *p;
    uint64_t gpa = 5 * MiB + 0x1234, misses;
    unsigned long removed;

    setup(64 * MiB, 0);
    locked = dma_start(gpa, 0x100);
    g_assert_nonnull(xen_map_cache(9 * MiB, 0, 0, false));
    g_assert_cmpuint(stats().entries, ==, 2);

    /* the guest frame behind gpa is replaced, then Xen invalidates */
    mcb_p2m_set(gpa / MCB_PAGE, 64 * MiB / MCB_PAGE + 3);
    xen_invalidate_map_cache();
    g_assert_cmpuint(stats().entries, ==, 1);
    g_assert_cmpuint(stats().doomed, ==, 1);
    g_assert_cmpuint(stats().invalidates, ==, 1);

    /* no stale mapping comes back; the doomed one still works */
    p = xen_map_cache(gpa, 0x100, 0, false);
    g_assert_nonnull(p);
    g_assert_true(p != locked);
    g_assert_true(mcb_check(p, gpa, 0x100));
    g_assert_cmphex(xen_ram_addr_from_mapcache(locked + 8), ==, gpa + 8);
    misses = stats().misses;
    p = xen_map_cache(9 * MiB, 0, 0, false);
    g_assert_cmpuint(stats().misses, ==, misses + 1);

    /* the last unlock unmaps it */
    drain_call_rcu();
    removed = qatomic_read(&mcb_notify_remove);
    xen_invalidate_map_cache_entry(locked);
    drain_call_rcu();
    g_assert_cmpuint(qatomic_read(&mcb_notify_remove), ==, removed + 1);
    g_assert_cmphex(xen_ram_addr_from_mapcache(locked), ==, RAM_ADDR_INVALID);
    g_assert_cmpuint(stats().doomed, ==, 0);
    g_assert_true(check_invariants());
}

static void test_lru(void)
{
    uint64_t i, misses;

    setup(64 * MiB, 8 * MiB);
    for (i = 0; i < 8; i++) {
        g_assert_nonnull(xen_map_cache(i * MiB, 0, 0, false));
    }
    g_assert_nonnull(xen_map_cache(0, 0, 0, false));     /* 0 is recent */
    g_assert_nonnull(xen_map_cache(8 * MiB, 0, 0, false));
    g_assert_cmpuint(stats().evictions, ==, 1);
    misses = stats().misses;
    g_assert_nonnull(xen_map_cache(0, 0, 0, false));
    g_assert_cmpuint(stats().misses, ==, misses);         /* still there */
    g_assert_nonnull(xen_map_cache(MiB, 0, 0, false));
    g_assert_cmpuint(stats().misses, ==, misses + 1);     /* 1 was evicted */
    g_assert_cmpuint(stats().bytes_mapped, <=, 8 * MiB);
    g_assert_true(check_invariants());
}

static void test_cap_all_locked(void)
{
    uint8_t *p[4], *q;
    int i;

    setup(64 * MiB, 4 * MiB);
    for (i = 0; i < 4; i++) {
        p[i] = dma_start(i * MiB, 0x1000);
    }
    /* DMA fails cleanly */
    g_assert_null(xen_map_cache(10 * MiB, 0x1000, 1, true));
    g_assert_cmpuint(stats().failures, ==, 1);
    /* a CPU access cannot fail: it overshoots the cap */
    q = xen_map_cache(11 * MiB, 8, 0, false);
    g_assert_nonnull(q);
    g_assert_true(mcb_check(q, 11 * MiB, 8));
    g_assert_cmpuint(stats().bytes_mapped, ==, 5 * MiB);
    /* the first unlock brings it back under */
    dma_end(p[0], 0, 0x1000);
    g_assert_cmpuint(stats().bytes_mapped, <=, 4 * MiB);
    q = dma_start(10 * MiB, 0x1000);
    dma_end(q, 10 * MiB, 0x1000);
    for (i = 1; i < 4; i++) {
        dma_end(p[i], i * MiB, 0x1000);
    }
    g_assert_true(check_invariants());
}

static void test_page_errors(void)
{
    uint64_t bad = 3 * MiB + 5 * MCB_PAGE;
    uint8_t *p, *q;

    setup(64 * MiB, 0);
    mcb_set_bad(bad / MCB_PAGE, true);
    g_assert_null(xen_map_cache(bad + 8, 8, 0, false));
    g_assert_null(xen_map_cache(bad - 8, 16, 1, true));
    /* the rest of the bucket maps */
    p = dma_start(bad + MCB_PAGE, 0x100);
    q = xen_map_cache(bad - MCB_PAGE, 0, 0, false);
    g_assert_nonnull(q);
    g_assert_true(entry_of(p) == entry_of(q));
    /*
     * The frame appears.  The locked entry is not remapped: a new one
     * takes its key and the old one lives on, doomed, until p is done.
     */
    mcb_set_bad(bad / MCB_PAGE, false);
    q = xen_map_cache(bad, 8, 0, false);
    g_assert_nonnull(q);
    g_assert_true(mcb_check(q, bad, 8));
    g_assert_true(entry_of(q) != entry_of(p));
    g_assert_cmpuint(stats().doomed, ==, 1);
    g_assert_true(check_invariants());
    dma_end(p, bad + MCB_PAGE, 0x100);
    g_assert_cmpuint(stats().doomed, ==, 0);
    g_assert_cmpuint(stats().entries, ==, 1);
    g_assert_cmpuint(stats().failures, ==, 2);
    g_assert_true(check_invariants());
}

static void test_map_failure(void)
{
    uint8_t *p;

    setup(64 * MiB, 0);
    mcb_fail_next(1);
    g_assert_null(xen_map_cache(MiB, 0x100, 1, true));
    g_assert_cmpuint(stats().failures, ==, 1);
    g_assert_cmpuint(stats().entries, ==, 0);
    mcb_fail_next(1);
    g_assert_null(xen_map_cache(MiB, 0, 0, false));
    p = dma_start(MiB, 0x100);
    dma_end(p, MiB, 0x100);
    /* a request larger than the cap */
    g_assert_null(xen_map_cache(0, 64 * GiB, 1, true));
    g_assert_true(check_invariants());
}

static bool host_range_mapped(void *p, size_t len)
{
    /* msync fails with ENOMEM on any unmapped page of the range */
    return msync((void *)((uintptr_t)p & ~(MCB_PAGE - 1)), len,
                 MS_ASYNC) == 0;
}

/*
 * Incoming migration: VRAM (a RAM block at ram_addr @old, mapped once,
 * locked for good) gets an anonymous stand-in while its frames are
 * missing, then xen-hvm.c moves the frames to the BAR (@new) and replaces
 * the mapping.  The reverse answer must stay the block's ram_addr, or
 * qemu_ram_block_from_host() finds no block (or xen.ram) for VRAM.
 */
static void test_replace(void)
{
    uint64_t old = 32 * MiB, new = 48 * MiB, size = 2 * MiB;
    uint8_t *p, *q;

    setup(64 * MiB, 0);
    mcb_set_inmigrate(true);
    mcb_set_bad(old / MCB_PAGE + 7, true);
    p = xen_map_cache(old, size, 1, false);
    g_assert_nonnull(p);
    g_assert_true(entry_of(p)->flags & MCE_DUMMY);

    q = xen_replace_cache_entry(old, new, size);
    mcb_set_inmigrate(false);
    g_assert_true(q == p);
    g_assert_true(mcb_check(p, new, size));
    g_assert_cmphex(xen_ram_addr_from_mapcache(p + 0x1000), ==,
                    old + 0x1000);
    WITH_RCU_READ_LOCK_GUARD() {
        g_assert_cmphex(xen_ram_addr_from_mapcache(p + size - 1), ==,
                        old + size - 1);
    }
    g_assert_false(entry_of(p)->flags & MCE_DUMMY);
    g_assert_null(xen_replace_cache_entry(old, new, size));
    g_assert_true(check_invariants());
    /* the block's lock keeps it through an invalidate */
    xen_invalidate_map_cache();
    drain_call_rcu();
    g_assert_true(mcb_check(p, new, size));
    g_assert_cmphex(xen_ram_addr_from_mapcache(p), ==, old);
    g_assert_true(check_invariants());
}

static uint8_t *replace_hook_p;
static bool replace_hook_saw_entry;

/* Runs inside replace's MAP_FIXED remap. */
static void replace_hook(void)
{
    WITH_RCU_READ_LOCK_GUARD() {
        uint8_t *r = xen_map_cache(32 * MiB + 0x10, 8, 0, false);

        replace_hook_saw_entry = r == replace_hook_p + 0x10;
    }
}

/* Replace's failure paths leave no hole, no dangling pointer. */
static void test_replace_failures(void)
{
    uint64_t old = 32 * MiB, new = 48 * MiB, size = 2 * MiB;
    uint8_t *p, *q;

    setup(64 * MiB, 0);
    mcb_set_inmigrate(true);
    mcb_set_bad(old / MCB_PAGE + 7, true);
    p = xen_map_cache(old, size, 1, false);
    g_assert_nonnull(p);

    /* the ioctl fails after privcmd's mmap took the range */
    mcb_fail_next(1);
    g_assert_null(xen_replace_cache_entry(old, new, size));
    g_assert_true(host_range_mapped(p, size));
    q = xen_map_cache(old, size, 0, false);
    g_assert_true(q == NULL || host_range_mapped(q, size));
    g_assert_true(check_invariants());

    /* a lookup of the old key during the remap must not get the entry */
    setup(64 * MiB, 0);
    mcb_set_inmigrate(true);
    mcb_set_bad(old / MCB_PAGE + 7, true);
    replace_hook_p = p = xen_map_cache(old, size, 1, false);
    mcb_set_bad(old / MCB_PAGE + 7, false);
    mcb_set_map_hook(replace_hook);
    q = xen_replace_cache_entry(old, new, size);
    mcb_set_inmigrate(false);
    g_assert_true(q == p);
    g_assert_false(replace_hook_saw_entry);
    g_assert_true(check_invariants());

    /*
     * The new key is taken and nothing else holds the old entry: the
     * answer must not be a pointer to a mapping being freed.
     */
    setup(64 * MiB, 0);
    p = xen_map_cache(old, size, 0, false);
    g_assert_nonnull(xen_map_cache(new, size, 0, false));
    q = xen_replace_cache_entry(old, new, size);
    drain_call_rcu();
    g_assert_true(q == NULL || (host_range_mapped(q, size) &&
                                entry_of(q) != NULL));
    g_assert_true(check_invariants());
}

/*
 * During an incoming migration only a request whose own pages are
 * missing gets a stand-in, and no stand-in is served once it is over.
 */
static void test_inmigrate_standins(void)
{
    uint64_t bucket = 6 * MiB, bad = bucket + 200 * MCB_PAGE;
    uint8_t *p;

    setup(64 * MiB, 0);
    mcb_set_inmigrate(true);
    mcb_set_bad(bad / MCB_PAGE, true);
    /* healthy pages of a bucket with a missing one: real guest bytes */
    p = xen_map_cache(bucket + 0x10, 8, 0, false);
    g_assert_nonnull(p);
    g_assert_true(mcb_check(p, bucket + 0x10, 8));
    /* the missing page itself: a stand-in, as 7.2 does */
    p = xen_map_cache(bad, 8, 0, false);
    g_assert_nonnull(p);
    mcb_set_inmigrate(false);
    mcb_set_bad(bad / MCB_PAGE, false);

    /* migration is over: guest bytes on every path, writes reach RAM */
    WITH_RCU_READ_LOCK_GUARD() {
        p = xen_map_cache(bad, 8, 0, false);
        g_assert_nonnull(p);
        g_assert_true(mcb_check(p, bad, 8));
    }
    p = xen_map_cache(bucket + 0x20, 8, 0, false);
    g_assert_true(mcb_check(p, bucket + 0x20, 8));
    p = dma_start(bad - 0x10, 0x20);
    dma_end(p, bad - 0x10, 0x20);
    g_assert_true(check_invariants());
}

/*
 * A request that touches a still-missing page fails alone: the key's
 * entry stays (no remap, no eviction), its healthy pages keep their
 * lockless hits, and the failure is final (the caller must not retry).
 */
static void test_bad_page_keeps_entry(void)
{
    uint64_t bad = 0xa0000;         /* the VGA hole of bucket 0 */
    uint64_t calls, misses;
    MapCacheEntry *e;
    uint8_t *p;
    int i;

    setup(64 * MiB, 0);
    mcb_set_bad(bad / MCB_PAGE, true);
    p = xen_map_cache(0x1000, 8, 0, false);
    g_assert_nonnull(p);
    e = entry_of(p);
    misses = stats().misses;
    calls = qatomic_read(&mcb_map_calls);
    for (i = 0; i < 4; i++) {
        g_assert_null(xen_map_cache(bad + 8, 8, 0, false));
        g_assert_false(xen_map_cache_failure_is_transient());
        g_assert_null(xen_map_cache(bad - 8, 16, 1, true));
        g_assert_false(xen_map_cache_failure_is_transient());
    }
    /* at most one small probe per failing request, never a remap */
    g_assert_cmpuint(qatomic_read(&mcb_map_calls) - calls, <=, 8);
    g_assert_cmpuint(stats().misses, ==, misses);
    g_assert_true(entry_of(p) == e);
    g_assert_true(mc_fwd_find(mapcache, 0, 1) == e);
    WITH_RCU_READ_LOCK_GUARD() {
        g_assert_true(mc_lockless_hit(mapcache, 0x2000, 8, false) ==
                      p + 0x1000);
    }
    g_assert_true(check_invariants());
}

/*
 * A DMA request that cannot fit under the cap, everything else locked,
 * fails as "retry later" without a foreign map and without emptying the
 * LRU list; one that can never fit fails for good.
 */
static void test_dma_cannot_fit(void)
{
    uint8_t *p[3], *q;
    uint64_t calls, evictions;
    int i;

    setup(64 * MiB, 4 * MiB);
    for (i = 0; i < 3; i++) {
        p[i] = dma_start(i * MiB, 0x1000);
    }
    q = xen_map_cache(8 * MiB, 8, 0, false);
    g_assert_nonnull(q);
    calls = qatomic_read(&mcb_map_calls);
    evictions = stats().evictions;
    /* 2 MiB more cannot fit next to 3 MiB locked under a 4 MiB cap */
    g_assert_null(xen_map_cache(20 * MiB - 0x800, 0x1000, 1, true));
    g_assert_true(xen_map_cache_failure_is_transient());
    g_assert_cmpuint(qatomic_read(&mcb_map_calls), ==, calls);
    g_assert_cmpuint(stats().evictions, ==, evictions);
    /* larger than the cap: never */
    g_assert_null(xen_map_cache(0, 5 * MiB, 1, true));
    g_assert_false(xen_map_cache_failure_is_transient());
    for (i = 0; i < 3; i++) {
        dma_end(p[i], i * MiB, 0x1000);
    }
    q = dma_start(20 * MiB - 0x800, 0x1000);
    dma_end(q, 20 * MiB - 0x800, 0x1000);
    g_assert_true(check_invariants());
}

/*
 * The whole-block mapping of VRAM or a ROM (locked, not DMA) must not be
 * refused by a cap smaller than the block: physmem would hand the display
 * NULL + offset.
 */
static void test_cap_below_block(void)
{
    uint8_t *p;

    setup(64 * MiB, 8 * MiB);
    p = xen_map_cache(32 * MiB, 16 * MiB, 1, false);
    g_assert_nonnull(p);
    g_assert_true(mcb_check(p, 32 * MiB, 16 * MiB));
    g_assert_cmphex(xen_ram_addr_from_mapcache(p + 15 * MiB), ==,
                    47 * MiB);
    g_assert_true(check_invariants());
}

/*
 * The race a lockless DMA lock runs against eviction, in its two orders,
 * made deterministic: the locker has found the entry in fwd (under RCU)
 * when the evictor claims it.  Claimed first, the lock must fail (or the
 * entry would be unmapped while locked); locked first, the claim must.
 */
static void test_lock_vs_evict(void)
{
    MapCache *mc;
    MapCacheList victims = QTAILQ_HEAD_INITIALIZER(victims);
    MapCacheEntry *e;
    uint8_t *p;

    setup(64 * MiB, 0);
    mc = mapcache;
    WITH_RCU_READ_LOCK_GUARD() {
        p = xen_map_cache(4 * MiB, 8, 0, false);
        e = entry_of(p);
        /* locked first: eviction passes over it */
        g_assert_true(mc_try_lock(e));
        qemu_mutex_lock(&mc->lock);
        g_assert_false(mc_try_evict__locked(mc, e, &victims));
        qemu_mutex_unlock(&mc->lock);
        g_assert_true(mc_drop_lock(e) == 0);
        /* claimed first: the lock fails, the caller takes the mutex path */
        qemu_mutex_lock(&mc->lock);
        g_assert_true(mc_try_evict__locked(mc, e, &victims));
        qemu_mutex_unlock(&mc->lock);
        g_assert_false(mc_try_lock(e));
        g_assert_null(mc_lockless_hit(mc, 4 * MiB, 8, true));
    }
    mc_free_list(&victims);
    drain_call_rcu();
    p = dma_start(4 * MiB, 8);
    g_assert_true(entry_of(p) != NULL);
    dma_end(p, 4 * MiB, 8);
    g_assert_true(check_invariants());
}

/*
 * query-xen-mapcache (and "info xen-mapcache", which prints it) reports
 * every counter of xen_map_cache_get_stats(); in a miss storm
 * (@storm) evictions stall and evicted bytes wait for their unmap.
 */
static void check_qmp_counters(bool storm)
{
    XenMapCacheStats s = stats();
    XenMapCacheInfo *info = qmp_query_xen_mapcache(&error_abort);

    /* every counter, under the same name in the QMP reply */
#define SAME_IN_QMP(field) g_assert_cmpuint(info->field, ==, s.field)
    SAME_IN_QMP(entries);
    SAME_IN_QMP(locked);
    SAME_IN_QMP(doomed);
    SAME_IN_QMP(bytes_mapped);
    SAME_IN_QMP(max_bytes);
    SAME_IN_QMP(hits);
    SAME_IN_QMP(misses);
    SAME_IN_QMP(evictions);
    SAME_IN_QMP(reverse_lookups);
    SAME_IN_QMP(failures);
    SAME_IN_QMP(invalidates);
    SAME_IN_QMP(eviction_stalls);
    SAME_IN_QMP(bytes_pending);
#undef SAME_IN_QMP
    if (storm) {
        g_assert_cmpuint(info->eviction_stalls, >, 0);
        g_assert_cmpuint(info->bytes_pending, >=, 64 * MiB);
    }
    qapi_free_XenMapCacheInfo(info);
}

/*
 * A miss storm under the BQL: an ioreq handler touching bucket after
 * bucket of a guest larger than the cap.  The RCU thread needs the BQL
 * to run its callbacks, so nothing evicted is unmapped until the handler
 * lets go.  What is evicted but still mapped must stay bounded (without
 * the bound: one more bucket per miss, 4 GiB here), every access must
 * still read guest bytes, and once the BQL is free the cache must get
 * back under its cap.  Measured through the backend's mappings, so that
 * it runs on any version of the cache.
 */
static void test_miss_storm(void)
{
    uint64_t ram = 256 * MiB, cap = 4 * MiB, storm = 256, i, worst = 0;
    uint64_t limit = MAX(cap / 4, 64 * MiB);    /* mc_pending_max() */
    XenMapCacheStats s;
    int k;

    setup(ram, cap);
    qemu_mutex_lock_iothread();
    for (i = 0; i < 16 * storm; i++) {
        uint64_t gpa = (i * 37 % storm) * MiB + (i % 256) * MCB_PAGE;
        uint64_t live;

        WITH_RCU_READ_LOCK_GUARD() {
            uint8_t *p = xen_map_cache(gpa, 8, 0, false);

            g_assert_nonnull(p);
            g_assert_true(mcb_check(p, gpa, 8));
        }
        live = qatomic_read(&mcb_notify_add) -
               qatomic_read(&mcb_notify_remove);
        s = stats();
        worst = MAX(worst, (live - s.entries) * MiB);
    }
    s = stats();
    g_test_message("%" PRIu64 " accesses under the BQL, %" PRIu64
                   " misses: at worst %" PRIu64 " MiB evicted and still "
                   "mapped (bound %" PRIu64 " MiB), %" PRIu64 " MiB in the "
                   "cache", i, s.misses, worst / MiB, limit / MiB,
                   s.bytes_mapped / MiB);
    g_assert_cmpuint(worst, <=, limit + MiB);
    /* what an operator sees meanwhile (the RCU thread waits for the BQL) */
    check_qmp_counters(true);
    qemu_mutex_unlock_iothread();

    /* the unmaps run, and evict a grace period's worth at a time */
    for (k = 0; k < 16 && stats().bytes_mapped > cap; k++) {
        drain_call_rcu();
    }
    g_assert_cmpuint(stats().bytes_mapped, <=, cap);
    g_assert_true(check_invariants());
}

static void test_qmp(void)
{
    static uint8_t not_mapped[8];
    XenMapCacheInfo *info;
    uint8_t *p;

    setup(64 * MiB, 2 * MiB);
    p = dma_start(MiB, 0x100);
    g_assert_nonnull(xen_map_cache(4 * MiB, 8, 0, false));
    g_assert_cmphex(xen_ram_addr_from_mapcache(not_mapped), ==,
                    RAM_ADDR_INVALID);
    check_qmp_counters(false);
    info = qmp_query_xen_mapcache(&error_abort);
    g_assert_cmpuint(info->locked, ==, 1);
    g_assert_cmpuint(info->max_bytes, ==, 2 * MiB);
    g_assert_cmpuint(info->failures, ==, 1);
    qapi_free_XenMapCacheInfo(info);
    dma_end(p, MiB, 0x100);
}

/*
 * An iothread inside an RCU read-side section that waits for the BQL
 * must not deadlock an invalidate run under the BQL (xen-hvm.c's ioreq
 * handler holds it).  The reader gives up after 3 s, so a deadlock
 * shows as a failure, not a hang.
 */
static QemuEvent bql_reader_in;
static bool bql_reader_got;

static void *bql_reader(void *opaque)
{
    gint64 deadline = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;

    rcu_register_thread();
    rcu_read_lock();
    qemu_event_set(&bql_reader_in);
    while (!mcb_bql_trylock()) {
        if (g_get_monotonic_time() > deadline) {
            break;
        }
        g_usleep(1000);
    }
    if (qemu_mutex_iothread_locked()) {
        bql_reader_got = true;
        qemu_mutex_unlock_iothread();
    }
    rcu_read_unlock();
    rcu_unregister_thread();
    return NULL;
}

static void test_invalidate_bql(void)
{
    QemuThread th;

    setup(64 * MiB, 0);
    g_assert_nonnull(xen_map_cache(MiB, 8, 0, false));
    qemu_event_init(&bql_reader_in, false);
    bql_reader_got = false;
    qemu_mutex_lock_iothread();
    qemu_thread_create(&th, "bql-reader", bql_reader, NULL,
                       QEMU_THREAD_JOINABLE);
    qemu_event_wait(&bql_reader_in);
    xen_invalidate_map_cache();
    g_assert_true(qemu_mutex_iothread_locked());
    qemu_mutex_unlock_iothread();
    qemu_thread_join(&th);
    g_assert_true(bql_reader_got);
    g_assert_cmpuint(stats().entries, ==, 0);
    qemu_event_destroy(&bql_reader_in);
}

/*
 * Model-based random test.  Each thread keeps the DMA mappings it holds
 * (the model: pointer, guest address, length) and checks every answer of
 * the cache against it and every pointer against guest RAM.  Guest RAM
 * has holes (pages that never map: requests touching them must fail, for
 * good); the cap is below what the threads may hold locked, so DMA
 * requests also fail for want of room (and must say "retry later").  Each
 * thread also owns a "VRAM" block it maps whole, replaces onto its "BAR"
 * and releases, and the cache is invalidated now and then.  A checker
 * thread verifies the invariants while all this runs.
 */
#define RND_THREADS     4
#define RND_HELD        12
#define RND_RAM         (128 * MiB)
/*
 * Reverse lookups of CPU pointers (what qemu_ram_block_from_host() does)
 * in threads that walk long rev chains while invalidates free the
 * entries on them, after their grace period, in the invalidating
 * thread.  Each answer is the guest address mapped, or unknown once an
 * invalidate took the mapping; under TSan (check.d/21) a reader that
 * touched an entry after telling TSan it was done with it is reported
 * against the free.
 */
#define RVI_READERS     3
#define RVI_BUCKETS     48

static bool rvi_done;
static uint64_t rvi_ops;            /* per reader */

static void *rvi_reader(void *opaque)
{
    GRand *r = g_rand_new_with_seed(0x5151 + GPOINTER_TO_INT(opaque));
    uint64_t i, known = 0;

    rcu_register_thread();
    for (i = 0; i < rvi_ops; i++) {
        uint64_t gpa = g_rand_int_range(r, 0, RVI_BUCKETS) * MiB +
                       g_rand_int_range(r, 0, MiB - 8);
        ram_addr_t back;
        uint8_t *p;

        rcu_read_lock();
        p = xen_map_cache(gpa, 8, 0, false);
        g_assert_nonnull(p);
        back = xen_ram_addr_from_mapcache(p);
        g_assert_true(back == gpa || back == RAM_ADDR_INVALID);
        known += back == gpa;
        rcu_read_unlock();
    }
    rcu_unregister_thread();
    g_rand_free(r);
    return (void *)(uintptr_t)known;
}

static void *rvi_invalidator(void *opaque)
{
    unsigned long n = 0;

    rcu_register_thread();
    while (!qatomic_read(&rvi_done)) {
        xen_invalidate_map_cache();
        n++;
        g_usleep(200);
    }
    rcu_unregister_thread();
    return (void *)(uintptr_t)n;
}

static void test_reverse_vs_invalidate(void)
{
    const char *env = g_getenv("XEN_MAPCACHE_RANDOM_OPS");
    QemuThread readers[RVI_READERS], inval;
    uint64_t known = 0;
    uintptr_t invalidates;
    int t;

    rvi_ops = (env ? g_ascii_strtoull(env, NULL, 0) : 1000000) / 4;
    setup(64 * MiB, 0);
    rvi_done = false;
    qemu_thread_create(&inval, "invalidate", rvi_invalidator, NULL,
                       QEMU_THREAD_JOINABLE);
    for (t = 0; t < RVI_READERS; t++) {
        qemu_thread_create(&readers[t], "reverse", rvi_reader,
                           GINT_TO_POINTER(t), QEMU_THREAD_JOINABLE);
    }
    for (t = 0; t < RVI_READERS; t++) {
        known += (uintptr_t)qemu_thread_join(&readers[t]);
    }
    qatomic_set(&rvi_done, true);
    invalidates = (uintptr_t)qemu_thread_join(&inval);
    g_test_message("%" PRIu64 " reverse lookups answered, %" PRIuPTR
                   " invalidates", known, invalidates);
    g_assert_cmpuint(known, >, 0);
    g_assert_true(check_invariants());
}

#define RND_CAP         (64 * MiB)
#define RND_HOLES       (108 * MiB)     /* from here: every 61st page bad */
#define RND_VRAM        (112 * MiB)     /* 2 MiB per thread, then BARs */
#define RND_BAR         (120 * MiB)

typedef struct Held {
    uint8_t *p;
    uint64_t gpa;
    uint64_t len;
} Held;

static uint64_t rnd_ops;
static bool rnd_done;
static unsigned long rnd_full;      /* DMA refused: retry later */

static bool rnd_is_hole(uint64_t pfn)
{
    return pfn >= RND_HOLES / MCB_PAGE && pfn < RND_VRAM / MCB_PAGE &&
           pfn % 61 == 0;
}

static bool rnd_touches_hole(uint64_t gpa, uint64_t len)
{
    uint64_t pfn;

    for (pfn = gpa / MCB_PAGE; pfn <= (gpa + MAX(len, 1) - 1) / MCB_PAGE;
         pfn++) {
        if (rnd_is_hole(pfn)) {
            return true;
        }
    }
    return false;
}

static uint64_t rnd_gpa(GRand *r, uint64_t len)
{
    /* mostly a hot set, so that the cache hits as well as misses */
    uint64_t span = g_rand_int_range(r, 0, 10) ? 24 * MiB : RND_VRAM;
    uint64_t gpa = ((uint64_t)g_rand_int(r) << 12 ^ g_rand_int(r)) % span;

    if (!g_rand_int_range(r, 0, 32)) {
        gpa = RND_HOLES + gpa % (RND_VRAM - RND_HOLES);
    }
    return MIN(gpa, RND_VRAM - len);
}

/* Map this thread's VRAM block, move it onto its BAR, check, release. */
static void rnd_replace(int t)
{
    uint64_t vram = RND_VRAM + t * 2 * MiB, bar = RND_BAR + t * 2 * MiB;
    uint8_t *p, *q;

    p = xen_map_cache(vram, 2 * MiB, 1, false);
    g_assert_nonnull(p);
    g_assert_true(mcb_check(p, vram, 2 * MiB));
    q = xen_replace_cache_entry(vram, bar, 2 * MiB);
    if (q) {
        g_assert_true(q == p);
        g_assert_true(mcb_check(p, bar, 2 * MiB));
    } else {
        /* only an invalidate in between (it doomed the entry) may stop it */
        g_assert_true(mc_doomed(entry_of(p)));
        g_assert_false(entry_of(p)->flags & MCE_REPLACED);
    }
    g_assert_cmphex(xen_ram_addr_from_mapcache(p + 0x1234), ==,
                    vram + 0x1234);
    xen_invalidate_map_cache_entry(p);
}

static void *rnd_thread(void *opaque)
{
    int t = GPOINTER_TO_INT(opaque);
    GRand *r = g_rand_new_with_seed(0x1234 + t);
    Held held[RND_HELD];
    int n = 0, k;
    uint64_t i;

    rcu_register_thread();
    for (i = 0; i < rnd_ops; i++) {
        int op = g_rand_int_range(r, 0, 1000);
        uint64_t len, off;
        uint8_t *p;

        k = n ? g_rand_int_range(r, 0, n) : 0;
        if (op < 400) {
            len = g_rand_int_range(r, 0, 16);
            off = rnd_gpa(r, len + 1);
            rcu_read_lock();
            p = xen_map_cache(off, len, 0, false);
            if (rnd_touches_hole(off, len)) {
                g_assert_null(p);
                g_assert_false(xen_map_cache_failure_is_transient());
            } else {
                g_assert_nonnull(p);
                g_assert_true(mcb_check(p, off, MAX(len, 1)));
            }
            rcu_read_unlock();
        } else if (op < 600 && n < RND_HELD) {
            len = g_rand_int_range(r, 0, 8) ? g_rand_int_range(r, 1, 65536)
                                            : g_rand_int_range(r, 1, MiB);
            held[n].gpa = rnd_gpa(r, len);
            if (t == 0) {
                /* thread 0 hogs the cache: large DMA all over RAM */
                len = g_rand_int_range(r, MiB, 2 * MiB);
                held[n].gpa = g_rand_int_range(r, 0, 32 * MiB);
            }
            held[n].len = len;
            /* as physmem does it (under RCU: a hit locks locklessly) */
            if (op & 1) {
                rcu_read_lock();
            }
            held[n].p = xen_map_cache(held[n].gpa, len, 1, true);
            if (op & 1) {
                rcu_read_unlock();
            }
            if (rnd_touches_hole(held[n].gpa, len)) {
                /* "retry later" only if it could not even be mapped */
                g_assert_null(held[n].p);
            } else if (!held[n].p) {
                /* the cache is full of locked mappings: retry later */
                g_assert_true(xen_map_cache_failure_is_transient());
                qatomic_inc(&rnd_full);
            } else {
                g_assert_true(mcb_check(held[n].p, held[n].gpa, len));
                n++;
            }
        } else if (op < 750 && n) {
            /* as physmem does it (under RCU: lockless), and without RCU */
            off = g_rand_int_range(r, 0, held[k].len);
            if (op & 1) {
                rcu_read_lock();
            }
            g_assert_cmphex(xen_ram_addr_from_mapcache(held[k].p + off), ==,
                            held[k].gpa + off);
            if (op & 1) {
                rcu_read_unlock();
            }
        } else if (op < 950 && n) {
            off = g_rand_int_range(r, 0, held[k].len);
            g_assert_true(mcb_check(held[k].p, held[k].gpa, held[k].len));
            /* lockless either way: inside the caller's RCU or its own */
            if (op & 1) {
                rcu_read_lock();
            }
            xen_invalidate_map_cache_entry(held[k].p + off);
            if (op & 1) {
                rcu_read_unlock();
            }
            held[k] = held[--n];
        } else if (op < 990 && n) {
            g_assert_true(mcb_check(held[k].p, held[k].gpa, held[k].len));
        } else if (op < 995) {
            rnd_replace(t);
        } else if (op == 999 && !g_rand_int_range(r, 0, 20)) {
            xen_invalidate_map_cache();
        }
    }
    while (n) {
        n--;
        dma_end(held[n].p, held[n].gpa, held[n].len);
    }
    rcu_unregister_thread();
    g_rand_free(r);
    return NULL;
}

/* The invariants, checked under the lock while the threads run. */
static void *rnd_checker(void *opaque)
{
    unsigned long *checks = opaque;

    while (!qatomic_read(&rnd_done)) {
        g_assert_true(check_invariants_at(false));
        (*checks)++;
        g_usleep(500);
    }
    return NULL;
}

static void test_random(void)
{
    const char *env = g_getenv("XEN_MAPCACHE_RANDOM_OPS");
    QemuThread threads[RND_THREADS], checker;
    unsigned long checks = 0;
    XenMapCacheStats s;
    uint64_t pfn;
    int i;

    rnd_ops = (env ? g_ascii_strtoull(env, NULL, 0) : 1000000) / RND_THREADS;
    setup(RND_RAM, RND_CAP);
    for (pfn = 0; pfn < RND_RAM / MCB_PAGE; pfn++) {
        if (rnd_is_hole(pfn)) {
            mcb_set_bad(pfn, true);
        }
    }
    qatomic_set(&rnd_done, false);
    rnd_full = 0;
    qemu_thread_create(&checker, "mapcache-check", rnd_checker, &checks,
                       QEMU_THREAD_JOINABLE);
    for (i = 0; i < RND_THREADS; i++) {
        qemu_thread_create(&threads[i], "mapcache-rnd", rnd_thread,
                           GINT_TO_POINTER(i), QEMU_THREAD_JOINABLE);
    }
    for (i = 0; i < RND_THREADS; i++) {
        qemu_thread_join(&threads[i]);
    }
    qatomic_set(&rnd_done, true);
    qemu_thread_join(&checker);
    g_assert_true(check_invariants());
    s = stats();
    g_test_message("%" PRIu64 " ops: %" PRIu64 " hits, %" PRIu64
                   " misses, %" PRIu64 " evictions, %" PRIu64
                   " reverse, %" PRIu64 " invalidates, %" PRIu64
                   " failures (%lu DMA for want of room), %lu invariant"
                   " checks while running, %" PRIu64 " evictions put off"
                   " for pending unmaps",
                   rnd_ops * RND_THREADS, s.hits, s.misses, s.evictions,
                   s.reverse_lookups, s.invalidates, s.failures, rnd_full,
                   checks, s.eviction_stalls);
    g_assert_cmpuint(s.locked, ==, 0);
    g_assert_cmpuint(s.failures, >, 0);
    g_assert_cmpuint(checks, >, 0);
    /* an overshoot for want of unmaps ends when they have run */
    for (i = 0; i < 16 && stats().bytes_mapped > RND_CAP; i++) {
        drain_call_rcu();
    }
    g_assert_cmpuint(stats().bytes_mapped, <=, RND_CAP);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/xen-mapcache/basic", test_basic);
    g_test_add_func("/xen-mapcache/bug-report", test_bug_report);
    g_test_add_func("/xen-mapcache/bug-report-4", test_bug_report_4);
    g_test_add_func("/xen-mapcache/sizes-on-one-index",
                    test_sizes_on_one_index);
    g_test_add_func("/xen-mapcache/unknown-pointers", test_unknown_pointers);
    g_test_add_func("/xen-mapcache/rcu-paths", test_rcu_paths);
    g_test_add_func("/xen-mapcache/cap-bounds", test_cap_bounds);
    g_test_add_func("/xen-mapcache/invalidate", test_invalidate);
    g_test_add_func("/xen-mapcache/lru", test_lru);
    g_test_add_func("/xen-mapcache/cap-all-locked", test_cap_all_locked);
    g_test_add_func("/xen-mapcache/page-errors", test_page_errors);
    g_test_add_func("/xen-mapcache/map-failure", test_map_failure);
    g_test_add_func("/xen-mapcache/replace", test_replace);
    g_test_add_func("/xen-mapcache/replace-failures", test_replace_failures);
    g_test_add_func("/xen-mapcache/inmigrate-standins",
                    test_inmigrate_standins);
    g_test_add_func("/xen-mapcache/bad-page-keeps-entry",
                    test_bad_page_keeps_entry);
    g_test_add_func("/xen-mapcache/dma-cannot-fit", test_dma_cannot_fit);
    g_test_add_func("/xen-mapcache/cap-below-block", test_cap_below_block);
    g_test_add_func("/xen-mapcache/invalidate-bql", test_invalidate_bql);
    g_test_add_func("/xen-mapcache/lock-vs-evict", test_lock_vs_evict);
    g_test_add_func("/xen-mapcache/miss-storm", test_miss_storm);
    g_test_add_func("/xen-mapcache/qmp", test_qmp);
    g_test_add_func("/xen-mapcache/random", test_random);
    g_test_add_func("/xen-mapcache/reverse-vs-invalidate",
                    test_reverse_vs_invalidate);
    return g_test_run();
}
