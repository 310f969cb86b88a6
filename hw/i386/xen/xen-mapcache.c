/*
 * Xen map cache: guest RAM of a Xen HVM domain mapped into QEMU on demand.
 *
 * Copyright (c) 2026 Xen DM Developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Under Xen, guest RAM is not QEMU's: it is mapped from the guest with
 * xenforeignmemory_map2() in runs of whole 1 MiB buckets (64-bit hosts
 * only; 32-bit hosts are refused at build time).  A request for guest
 * range [addr, addr + size) is served by the mapping whose key is
 * (index, nbuckets): index = addr >> 20 and nbuckets the number of
 * buckets from there that the range touches.
 *
 * Structures, all changed only under MapCache.lock but for the lock
 * counts:
 *  - fwd: hash of MapCacheEntry keyed on (index, nbuckets), also read
 *    without the lock under RCU by lockless hits (the CPU path, and DMA
 *    locks of a key already mapped);
 *  - rev: hash of MapCacheRevNode keyed on (host address >> 20), one
 *    node for every bucket-sized chunk of host address space a mapping
 *    covers, also read without the lock under RCU by reverse lookups and
 *    unlocks.  Mappings do not overlap and are at least one chunk long,
 *    so a chunk meets at most two of them: reverse lookup of any pointer
 *    inside a mapping (not only the one handed out) is O(1) whatever the
 *    number of mappings;
 *  - lru: every entry in fwd, locked or not, oldest use under the lock
 *    first (lockless hits and unlocks mark an entry referenced, which
 *    saves it from one eviction pass: CLOCK; eviction passes over locked
 *    ones); doomed: entries out of fwd with locks;
 *  - each entry's state word: its lock count and MCS_DOOMED, changed by
 *    compare-and-swap with or without the lock (mc_try_lock,
 *    mc_drop_lock), the DOOMED bit set only under the lock.
 *
 * Invariants:
 *  1. fwd holds at most one entry per key.  A request whose key is
 *     present shares that entry (a lock count); a locked entry is never
 *     remapped, resized or unmapped.  Eviction claims an entry by moving
 *     its state from 0 (no lock, not doomed) to DOOMED in one
 *     compare-and-swap, and a lockless lock succeeds only by moving it
 *     from a state without DOOMED, so the two cannot both succeed; once
 *     DOOMED is set the count never rises again.  The one exception is
 *     xen_replace_cache_entry(), which remaps a RAM block's own mapping
 *     in place after taking it out of fwd for good.
 *  2. Every entry on a list is in rev; an entry is in fwd, on lru and not
 *     DOOMED, or out of fwd, on doomed and DOOMED with locks.  The one
 *     that drops a doomed entry's last lock (without the lock, it may
 *     run ahead of the retirement for the time it takes the mutex) owns
 *     it and takes it off doomed, out of rev; it is freed after that.
 *  3. The host range of an entry is unmapped only after the entry left
 *     fwd and rev, and only after an RCU grace period (call_rcu, or
 *     synchronize_rcu in xen_invalidate_map_cache), so the unlocked
 *     pointers xen_map_cache() returns stay valid for the caller's RCU
 *     critical section, which physmem.c callers hold; the same grace
 *     period keeps an entry allocated for a lockless unlock that has
 *     just dropped its last lock.
 *  4. bytes counts the mappings of every listed entry but whole RAM
 *     blocks (block_bytes); pinned (per-thread slots, summed) those of
 *     them with locks; pending those of entries off the lists that wait
 *     for their unmap.  bytes exceeds max_bytes only for requests that
 *     cannot fail (CPU accesses) while no unlocked entry is left to
 *     evict (an unlock that makes an entry evictable then evicts), and
 *     for any request while pending exceeds mc_pending_max(): that
 *     bounds pending, which a miss storm under the BQL would otherwise
 *     grow without limit.
 *  5. After xen_invalidate_map_cache() returns, no lookup returns a
 *     mapping made before it: fwd is emptied and a mapping that was being
 *     made concurrently is discarded (generation counter).
 *
 * Concurrency: callers are the main loop and iothreads.  The lock is
 * never held across xenforeignmemory_map2(), munmap() or the RAM block
 * notifiers: a miss drops it, maps, retakes it and inserts, or discards
 * its mapping if another thread inserted the same key meanwhile or the
 * cache was invalidated.  Unmaps run from call_rcu, except in
 * xen_invalidate_map_cache(), which waits for the grace period with the
 * BQL dropped.  A request that hits (locked for DMA or unlocked), a
 * reverse lookup and an unlock take no lock at all when the caller is
 * inside an RCU read-side critical section (physmem.c always is, and
 * unlock enters one itself): fwd and rev are published with
 * qatomic_rcu_set and a table is replaced whole when it grows or is
 * emptied, so a lockless reader sees a consistent chain or misses and
 * retries under the lock.  Their counters are per-thread slots summed on
 * read.  Two DMA transfers on distinct keys therefore share no written
 * cache line; on one key they share only its entry's state word.
 *
 * Failure: nothing the guest does can stop QEMU.  A page that failed to
 * map fails only the requests that need it: the key's entry stays for
 * its other pages, and such a request maps just its own pages once to
 * see whether they have appeared since (then the key is mapped again; a
 * locked old entry is doomed, not remapped).  That failure is final
 * (xen_map_cache_failure_is_transient() answers false), as are a request
 * above the cap, a full lock count and a failed foreign map.  A DMA
 * request that cannot fit next to the locked mappings fails as "retry
 * later", before any foreign map or eviction.  Other requests overshoot
 * the cap; whole-block mappings (VRAM, ROMs: locked, not DMA) are not
 * capped at all.  During an incoming migration a request whose own pages
 * are missing gets an anonymous stand-in, which lockless hits never
 * serve and the first locked lookup after the migration drops.  An
 * unknown pointer is logged and reported (RAM_ADDR_INVALID) or ignored.
 *
 * The cap defaults to 32 GiB, less if RLIMIT_AS is lower, and can be
 * changed with xen_map_cache_set_max_size().
 *
 * Observability: trace events xen_map_cache_*, guest-triggerable
 * refusals under -d guest_errors, counters in query-xen-mapcache and
 * "info xen-mapcache".
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qemu/bitops.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/memalign.h"
#include "qemu/queue.h"
#include "qemu/rcu.h"
#include "qemu/thread.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-misc.h"
#include "exec/memory.h"
#include "exec/ramlist.h"
#include "hw/xen/xen_common.h"
#include "sysemu/runstate.h"
#include "sysemu/xen-mapcache.h"
#include "trace.h"

#include <sys/resource.h>

/*
 * ThreadSanitizer cannot see RCU grace periods.  Under it (the unit
 * test's TSan build), a lockless reader releases each entry, table or
 * bad-page map it read, and the reclaimer acquires it before freeing it:
 * the order a grace period guarantees, and no more.  A reader touching
 * freed memory after its lookup is still reported.
 */
#ifdef __SANITIZE_THREAD__
#include <sanitizer/tsan_interface.h>
#define mc_tsan_reader_done(p)  __tsan_release((void *)(p))
#define mc_tsan_reclaim(p)      __tsan_acquire((void *)(p))
#else
#define mc_tsan_reader_done(p)  do { } while (0)
#define mc_tsan_reclaim(p)      do { } while (0)
#endif

/*
 * Guest addresses, indexes and the counters are 64-bit and read with
 * qatomic_read() by lockless lookups, which QEMU allows only up to the
 * host's pointer size.
 */
#if HOST_LONG_BITS < 64
#error "the Xen map cache needs a 64-bit host"
#endif
#define MC_SHIFT            20
#define MC_DEFAULT_MAX      (32 * GiB)
#define MC_BUCKET           (1ULL << MC_SHIFT)
#define MC_PAGE_SHIFT       XC_PAGE_SHIFT
#define MC_PAGE             (1ULL << MC_PAGE_SHIFT)
#define MC_PAGES_PER_BUCKET (MC_BUCKET >> MC_PAGE_SHIFT)
/* Address space QEMU keeps for itself when RLIMIT_AS bounds the cache. */
#define MC_RESERVED_VA      (80 * MiB)
#ifndef MC_HASH_MIN                 /* the unit test makes it small */
#define MC_HASH_MIN         1024
#endif
/*
 * Evicted bytes that may wait for a grace period: see mc_pending_max().
 * Well above the batch util/rcu.c waits for (RCU_CALL_MIN_SIZE, 30
 * callbacks), or it would sleep 50 ms before each batch.
 */
#define MC_PENDING_MIN      (64 * MiB)

typedef struct MapCacheEntry MapCacheEntry;

typedef struct MapCacheRevNode {
    uintptr_t chunk;                /* host address >> MC_SHIFT */
    MapCacheEntry *entry;
    struct MapCacheRevNode *next;
} MapCacheRevNode;

enum {
    MCE_DUMMY    = 1 << 1,          /* anonymous stand-in (incoming mig.) */
    MCE_REPLACED = 1 << 2,          /* doomed by replace: its block's own */
    MCE_BLOCK    = 1 << 3,          /* a whole RAM block: not capped */
    MCE_NOTIFIED = 1 << 4,          /* ram_block_notify_add() was called */
};

/*
 * MapCacheEntry.state: the lock count (state >> 1) and MCS_DOOMED, in
 * one word changed only by atomic compare-and-swap or fetch-or, with or
 * without the mutex.  DOOMED is set only under the mutex, when the entry
 * leaves fwd for good; once it is set the count only goes down.
 */
#define MCS_DOOMED      1u
#define MCS_LOCK        2u          /* one lock */
#define MCS_LOCKS_MAX   (UINT32_MAX & ~MCS_DOOMED)

/* Pages of an entry that failed to map; freed after a grace period. */
typedef struct MapCacheBad {
    struct rcu_head rcu;
    unsigned long bits[];
} MapCacheBad;

/*
 * Laid out in cache lines: what lookups read (first two), the lock count
 * that every DMA lock and unlock writes (alone on the third), the reverse
 * nodes.  Entries are line aligned, so DMA on distinct keys writes no
 * line in common and DMA on one key bounces only the count's line.
 */
struct MapCacheEntry {
    struct rcu_head rcu;            /* first, for call_rcu() */
    hwaddr index;
    hwaddr nbuckets;
    uint8_t *vaddr;
    size_t size;
    uint32_t flags;
    unsigned int nr_rev;
    MapCacheEntry *fwd_next;        /* RCU: readers walk it locklessly */
    MapCacheBad *bad_pages;         /* pages that failed to map, or NULL */
    bool referenced;                /* hit since last LRU pass (CLOCK) */
    QTAILQ_ENTRY(MapCacheEntry) link;

    QEMU_ALIGNED(64) uint32_t state;    /* lock count and MCS_DOOMED */

    QEMU_ALIGNED(64) MapCacheRevNode rev[];
} QEMU_ALIGNED(64);

typedef QTAILQ_HEAD(, MapCacheEntry) MapCacheList;

/* The rev table; replaced whole when it grows, freed after RCU. */
typedef struct MapCacheRevTable {
    struct rcu_head rcu;
    size_t mask;
    MapCacheRevNode *heads[];
} MapCacheRevTable;

/* The fwd table; replaced whole (grow, invalidate) and freed after RCU. */
typedef struct MapCacheFwd {
    struct rcu_head rcu;
    size_t mask;
    MapCacheEntry *heads[];
} MapCacheFwd;

/*
 * Counters of the lockless paths, one cache line per slot; a thread
 * takes a slot when it first counts, round robin.  Threads sharing a
 * slot may lose a count (relaxed load + store): they are statistics,
 * and a shared line written at every hit would stop the hits scaling.
 */
#define MC_COUNTER_SLOTS    64
typedef struct MapCacheCounters {
    unsigned long hits;
    unsigned long reverse_lookups;
    int64_t pinned;                 /* atomic: locks of threads differ */
} QEMU_ALIGNED(64) MapCacheCounters;

typedef struct MapCache {
    /* Read by every lockless lookup; written rarely, under lock. */
    MapCacheFwd *fwd;
    MapCacheRevTable *rev;
    size_t max_bytes;


    QEMU_ALIGNED(64) QemuMutex lock;
    XenMapCacheStats stats;         /* what the locked paths count */
    size_t fwd_count;
    size_t rev_count;
    MapCacheList lru;
    MapCacheList doomed;
    uint64_t generation;
    uint64_t bytes;                 /* capped entries on a list; atomic */
    uint64_t block_bytes;           /* whole-block entries (MCE_BLOCK) */
    uint64_t pending;               /* bytes off the lists, still mapped */
} MapCache;

static MapCache *mapcache;

/* call_rcu() callback for the tables and bad-page maps (rcu_head first) */
static void mc_free_rcu(struct rcu_head *head)
{
    mc_tsan_reclaim(head);
    g_free(head);
}
/* what lockless hits and reverse lookups count, summed on read */
static MapCacheCounters mc_counter_slots[MC_COUNTER_SLOTS];
static __thread MapCacheCounters *mc_thread_counters;
static unsigned int mc_next_counters;

static MapCacheCounters *mc_counters_slow(void)
{
    unsigned int i = qatomic_fetch_inc(&mc_next_counters);

    mc_thread_counters = &mc_counter_slots[i % MC_COUNTER_SLOTS];
    return mc_thread_counters;
}

/* This thread's counters. */
static inline MapCacheCounters *mc_counters(void)
{
    MapCacheCounters *c = mc_thread_counters;

    return likely(c) ? c : mc_counters_slow();
}

static inline void mc_bump(unsigned long *counter)
{
    qatomic_set(counter, qatomic_read(counter) + 1);
}

/*
 * Bytes of capped entries with locks: each 0 -> 1 and 1 -> 0 transition
 * adds to its thread's slot (atomically: slots may be shared, and a lock
 * taken in one thread is often dropped in another), read as the sum.
 * Read only by DMA admission (mc_fits), which may be off by the
 * transitions in flight; that only moves the line between "retry later"
 * and a brief overshoot of the cap.
 */
static inline void mc_pin(int64_t bytes)
{
    if (bytes) {
        qatomic_add(&mc_counters()->pinned, bytes);
    }
}

static uint64_t mc_pinned(void)
{
    int64_t sum = 0;
    size_t i;

    for (i = 0; i < MC_COUNTER_SLOTS; i++) {
        sum += qatomic_read(&mc_counter_slots[i].pinned);
    }
    return MAX(sum, 0);
}

static inline uint64_t mc_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static inline size_t mc_fwd_hash(hwaddr index, hwaddr nb)
{
    return mc_mix(index + nb * 0x9e3779b97f4a7c15ULL);
}

static inline MapCacheRevNode **mc_rev_head(MapCacheRevTable *t,
                                            uintptr_t chunk)
{
    return &t->heads[mc_mix(chunk) & t->mask];
}

static MapCacheEntry *mc_fwd_find(MapCache *mc, hwaddr index, hwaddr nb)
{
    MapCacheFwd *t = mc->fwd;
    MapCacheEntry *e = t->heads[mc_fwd_hash(index, nb) & t->mask];

    while (e && (e->index != index || e->nbuckets != nb)) {
        e = e->fwd_next;
    }
    return e;
}

static MapCacheFwd *mc_fwd_new(size_t size)
{
    MapCacheFwd *t = g_malloc0(sizeof(*t) + size * sizeof(t->heads[0]));

    t->mask = size - 1;
    return t;
}

/* Publish @t as the fwd table; lockless readers may still use the old. */
static void mc_fwd_publish(MapCache *mc, MapCacheFwd *t)
{
    MapCacheFwd *old = mc->fwd;

    qatomic_rcu_set(&mc->fwd, t);
    call_rcu1(&old->rcu, mc_free_rcu);
}

static void mc_fwd_link(MapCacheFwd *t, MapCacheEntry *e)
{
    MapCacheEntry **head = &t->heads[mc_fwd_hash(e->index, e->nbuckets) &
                                     t->mask];

    /* a lockless reader may stand on @e when a resize relinks it */
    qatomic_set(&e->fwd_next, *head);
    qatomic_rcu_set(head, e);
}

static void mc_fwd_insert(MapCache *mc, MapCacheEntry *e)
{
    if (mc->fwd_count >= mc->fwd->mask) {
        MapCacheFwd *old = mc->fwd, *t = mc_fwd_new((old->mask + 1) * 2);
        MapCacheEntry *o, *next;
        size_t i;

        /*
         * Relinking can send a lockless reader of the old table into a
         * chain of the new one: it may then miss and take the slow path,
         * never return a wrong entry (it compares keys).
         */
        for (i = 0; i <= old->mask; i++) {
            for (o = old->heads[i]; o; o = next) {
                next = o->fwd_next;
                mc_fwd_link(t, o);
            }
        }
        mc_fwd_publish(mc, t);
    }
    mc_fwd_link(mc->fwd, e);
    mc->fwd_count++;
}

/* Unlink @e; its own fwd_next stays for readers standing on it. */
static void mc_fwd_remove(MapCache *mc, MapCacheEntry *e)
{
    MapCacheFwd *t = mc->fwd;
    MapCacheEntry **pp = &t->heads[mc_fwd_hash(e->index, e->nbuckets) &
                                   t->mask];

    while (*pp && *pp != e) {
        pp = &(*pp)->fwd_next;
    }
    if (*pp) {
        qatomic_rcu_set(pp, e->fwd_next);
        mc->fwd_count--;
    }
}

static MapCacheRevTable *mc_rev_new(size_t size)
{
    MapCacheRevTable *t = g_malloc0(sizeof(*t) + size * sizeof(t->heads[0]));

    t->mask = size - 1;
    return t;
}

static void mc_rev_link(MapCacheRevTable *t, MapCacheRevNode *n)
{
    MapCacheRevNode **head = mc_rev_head(t, n->chunk);

    qatomic_set(&n->next, *head);   /* as in mc_fwd_link() */
    qatomic_rcu_set(head, n);
}

static void mc_rev_insert(MapCache *mc, MapCacheEntry *e)
{
    unsigned int i;

    if (mc->rev_count + e->nr_rev > mc->rev->mask) {
        MapCacheRevTable *old = mc->rev, *t;
        size_t size = old->mask + 1;
        MapCacheRevNode *n, *next;

        while (mc->rev_count + e->nr_rev > size - 1) {
            size *= 2;
        }
        t = mc_rev_new(size);
        for (i = 0; i <= old->mask; i++) {
            for (n = old->heads[i]; n; n = next) {
                next = n->next;
                mc_rev_link(t, n);
            }
        }
        qatomic_rcu_set(&mc->rev, t);
        call_rcu1(&old->rcu, mc_free_rcu);
    }
    for (i = 0; i < e->nr_rev; i++) {
        mc_rev_link(mc->rev, &e->rev[i]);
    }
    mc->rev_count += e->nr_rev;
}

/* Unlink @e's nodes; their own next pointers stay for lockless readers. */
static void mc_rev_remove(MapCache *mc, MapCacheEntry *e)
{
    unsigned int i;

    for (i = 0; i < e->nr_rev; i++) {
        MapCacheRevNode **pp = mc_rev_head(mc->rev, e->rev[i].chunk);

        while (*pp && *pp != &e->rev[i]) {
            pp = &(*pp)->next;
        }
        if (*pp) {
            qatomic_rcu_set(pp, e->rev[i].next);
            mc->rev_count--;
        }
    }
}

/*
 * The entry whose mapping contains @ptr.  Under the lock the answer is
 * exact; without it (@lockless, under RCU) a concurrent resize can make
 * it miss, so a miss there must be confirmed under the lock.
 */
static MapCacheEntry *mc_rev_find_in(MapCacheRevTable *t, const uint8_t *ptr,
                                     bool lockless)
{
    uintptr_t chunk = (uintptr_t)ptr >> MC_SHIFT;
    MapCacheRevNode *n = qatomic_rcu_read(mc_rev_head(t, chunk)), *next;
    int steps = 0;

    if (lockless) {
        mc_tsan_reader_done(t);
    }
    for (; n; n = next) {
        MapCacheEntry *e = n->entry;
        bool found = n->chunk == chunk && ptr >= e->vaddr &&
                     ptr < e->vaddr + e->size;

        /* the node is inside @e: read all of it before we are done */
        next = qatomic_rcu_read(&n->next);
        if (lockless) {
            mc_tsan_reader_done(e);
        }
        if (found) {
            return e;
        }
        if (lockless && ++steps > 32) {
            break;
        }
    }
    return NULL;
}

static MapCacheEntry *mc_rev_find(MapCache *mc, const uint8_t *ptr)
{
    return mc_rev_find_in(mc->rev, ptr, false);
}

static bool mc_bad_ok(MapCacheBad *bad, hwaddr first, hwaddr count)
{
    return !bad ||
           find_next_bit(bad->bits, first + count, first) >= first + count;
}

static bool mc_pages_ok(MapCacheEntry *e, hwaddr first, hwaddr count)
{
    return mc_bad_ok(qatomic_rcu_read(&e->bad_pages), first, count);
}

/* What @e counts against the cap: whole RAM blocks do not. */
static inline uint64_t mc_capped(MapCacheEntry *e)
{
    return e->flags & MCE_BLOCK ? 0 : e->size;
}

/* bytes is also read by lockless unlocks (mc_unlock_lockless) */
static void mc_count(MapCache *mc, MapCacheEntry *e)
{
    qatomic_set(&mc->bytes, mc->bytes + mc_capped(e));
    mc->block_bytes += e->size - mc_capped(e);
}

static void mc_uncount(MapCache *mc, MapCacheEntry *e)
{
    qatomic_set(&mc->bytes, mc->bytes - mc_capped(e));
    mc->block_bytes -= e->size - mc_capped(e);
}

static inline uint32_t mc_locks(MapCacheEntry *e)
{
    return qatomic_read(&e->state) / MCS_LOCK;
}

static inline bool mc_doomed(MapCacheEntry *e)
{
    return qatomic_read(&e->state) & MCS_DOOMED;
}

/*
 * Take one lock on @e unless it is doomed or its count is full.  Callers
 * without the mutex are inside an RCU read-side critical section, which
 * keeps @e allocated; the compare-and-swap against MCS_DOOMED is what
 * keeps an entry being evicted from gaining a lock (invariant 1).
 */
static bool mc_try_lock(MapCacheEntry *e)
{
    uint32_t old = qatomic_read(&e->state), seen;

    for (;;) {
        if ((old & MCS_DOOMED) || old >= MCS_LOCKS_MAX) {
            return false;
        }
        seen = qatomic_cmpxchg(&e->state, old, old + MCS_LOCK);
        if (seen == old) {
            break;
        }
        old = seen;
    }
    if (old == 0) {
        mc_pin(mc_capped(e));
    }
    return true;
}

/*
 * Drop one lock of @e and return the new state, or UINT32_MAX if @e had
 * none.  Once the count of a doomed entry reaches 0 (new state
 * MCS_DOOMED) the caller owns it and must retire it under the mutex.
 */
static uint32_t mc_drop_lock(MapCacheEntry *e)
{
    uint32_t old = qatomic_read(&e->state), seen;

    for (;;) {
        if (old < MCS_LOCK) {
            return UINT32_MAX;
        }
        seen = qatomic_cmpxchg(&e->state, old, old - MCS_LOCK);
        if (seen == old) {
            break;
        }
        old = seen;
    }
    if (old - MCS_LOCK < MCS_LOCK) {
        mc_pin(-(int64_t)mc_capped(e));
    }
    return old - MCS_LOCK;
}

/* The unit test checks here that no locked entry is ever unmapped. */
#ifndef mc_before_unmap
#define mc_before_unmap(e) do { } while (0)
#endif

/* Runs after a grace period, with no cache lock: the only munmap. */
static void mc_entry_free(MapCacheEntry *e)
{
    mc_tsan_reclaim(e);
    mc_before_unmap(e);
    if (e->flags & MCE_NOTIFIED) {
        ram_block_notify_remove(e->vaddr, e->size, e->size);
    }
    if (munmap(e->vaddr, e->size)) {
        error_report("xen-mapcache: munmap %p+0x%zx: %s", e->vaddr, e->size,
                     strerror(errno));
    }
    if (e->bad_pages) {
        mc_tsan_reclaim(e->bad_pages);
        g_free(e->bad_pages);
    }
    qemu_vfree(e);
}

/*
 * Evicted mappings wait for a grace period before they are unmapped and
 * hold address space (and the guest's frames) until then.  The RCU
 * thread runs its callbacks with the BQL, so while the BQL holder keeps
 * missing (an ioreq handler touching bucket after bucket) none is
 * unmapped at all, and each eviction adds one more for as long as that
 * lasts: a bucket thrashed under a small cap is added again at every
 * miss, without bound.  Past this many bytes waiting, the cache stops
 * evicting and requests overshoot the cap instead, with entries that stay
 * usable (a bucket touched again hits): that overshoot is bounded by the
 * memory the guest touches, and once the unmaps have run the RCU thread
 * evicts to bring the cache back under the cap, at most this much per
 * grace period.
 * (Waiting for the grace period
 * instead is not possible: callers are inside an RCU read-side critical
 * section, often with the BQL held.)
 */
static inline uint64_t mc_pending_max(MapCache *mc)
{
    return MAX(mc->max_bytes / 4, MC_PENDING_MIN);
}

/* @e (off every list, fwd and rev) goes to @victims, to be unmapped. */
static void mc_victim__locked(MapCache *mc, MapCacheEntry *e,
                              MapCacheList *victims)
{
    /* atomic: the RCU thread subtracts without the lock */
    qatomic_add(&mc->pending, e->size);
    QTAILQ_INSERT_TAIL(victims, e, link);
}

/* Take @e (in fwd, claimed: state MCS_DOOMED) out onto @victims. */
static void mc_evict__locked(MapCache *mc, MapCacheEntry *e,
                             MapCacheList *victims)
{
    QTAILQ_REMOVE(&mc->lru, e, link);
    mc_fwd_remove(mc, e);
    mc_rev_remove(mc, e);
    mc_uncount(mc, e);
    mc_victim__locked(mc, e, victims);
}

/* Evict @e (in fwd) if it has no lock: claim it first, then take it out. */
static bool mc_try_evict__locked(MapCache *mc, MapCacheEntry *e,
                                 MapCacheList *victims)
{
    if (qatomic_cmpxchg(&e->state, 0, MCS_DOOMED) != 0) {
        return false;
    }
    mc_evict__locked(mc, e, victims);
    return true;
}

/*
 * Evict the least recently used entries until @need more bytes fit.  The
 * list is in order of insertion or use under the mutex; lockless hits and
 * unlocks only set @referenced, which buys one more pass (the CLOCK
 * approximation).  Entries with locks are on the list too (their count
 * changes without the mutex): they are passed over, once each.
 */
static void mc_make_room__locked(MapCache *mc, uint64_t need,
                                 MapCacheList *victims)
{
    size_t chances = mc->fwd_count, skips = mc->fwd_count;

    while (mc->bytes + need > mc->max_bytes && !QTAILQ_EMPTY(&mc->lru)) {
        MapCacheEntry *e = QTAILQ_FIRST(&mc->lru);

        if (qatomic_read(&mc->pending) >= mc_pending_max(mc)) {
            mc->stats.eviction_stalls++;
            break;              /* overshoot until the unmaps have run */
        }
        if (qatomic_read(&e->referenced) && chances) {
            chances--;
            qatomic_set(&e->referenced, false);
        } else if (mc_try_evict__locked(mc, e, victims)) {
            trace_xen_map_cache_evict(e->index, e->nbuckets, e->vaddr);
            mc->stats.evictions++;
            continue;
        } else if (!skips--) {
            break;              /* everything left is locked */
        }
        QTAILQ_REMOVE(&mc->lru, e, link);
        QTAILQ_INSERT_TAIL(&mc->lru, e, link);
    }
}

static void mc_free_list(MapCacheList *victims);

/*
 * Unmap a victim after its grace period; it leaves mc->pending.  When
 * that falls back below the bound, evictions put off for it are due.
 * Runs in the RCU thread (with the BQL, outside any read-side section)
 * or in xen_invalidate_map_cache(), without the cache lock either way.
 */
static void mc_entry_reclaim(MapCacheEntry *e)
{
    MapCache *mc = mapcache;
    MapCacheList victims = QTAILQ_HEAD_INITIALIZER(victims);
    uint64_t size = e->size, max = mc_pending_max(mc);
    uint64_t was = qatomic_fetch_sub(&mc->pending, size);

    mc_entry_free(e);
    if (was >= max && was - size < max &&
        qatomic_read(&mc->bytes) > qatomic_read(&mc->max_bytes)) {
        qemu_mutex_lock(&mc->lock);
        mc_make_room__locked(mc, 0, &victims);
        qemu_mutex_unlock(&mc->lock);
        mc_free_list(&victims);
    }
}

static void mc_free_list(MapCacheList *victims)
{
    MapCacheEntry *e, *next;

    QTAILQ_FOREACH_SAFE(e, victims, link, next) {
        QTAILQ_REMOVE(victims, e, link);
        call_rcu(e, mc_entry_reclaim, rcu);
    }
}

/*
 * Take @e (in fwd) out of fwd for good.  Without locks it goes to
 * @victims at once (true); with locks it is doomed and goes at its last
 * unlock, which no new lock can delay: the fetch-or below and
 * mc_try_lock()'s compare-and-swap decide which came first.
 */
static bool mc_doom__locked(MapCache *mc, MapCacheEntry *e,
                            MapCacheList *victims)
{
    uint32_t old = qatomic_fetch_or(&e->state, MCS_DOOMED);

    if (old < MCS_LOCK) {
        mc_evict__locked(mc, e, victims);
        return true;
    }
    mc_fwd_remove(mc, e);
    QTAILQ_REMOVE(&mc->lru, e, link);
    QTAILQ_INSERT_TAIL(&mc->doomed, e, link);
    return false;
}

/* @e, doomed, just lost its last lock: onto @victims. */
static void mc_retire__locked(MapCache *mc, MapCacheEntry *e,
                              MapCacheList *victims)
{
    QTAILQ_REMOVE(&mc->doomed, e, link);
    mc_rev_remove(mc, e);
    mc_uncount(mc, e);
    mc_victim__locked(mc, e, victims);
}

/* Drop one lock from @e; false if it had none.  It may go to @victims. */
static bool mc_unlock__locked(MapCache *mc, MapCacheEntry *e,
                              MapCacheList *victims)
{
    uint32_t state = mc_drop_lock(e);

    if (state == UINT32_MAX) {
        return false;
    }
    if (state == MCS_DOOMED) {
        mc_retire__locked(mc, e, victims);
    } else if (state == 0 && (e->flags & MCE_BLOCK)) {
        /* its RAM block is gone (reclaim_ramblock): so is the mapping */
        mc_try_evict__locked(mc, e, victims);
    } else if (state == 0) {
        QTAILQ_REMOVE(&mc->lru, e, link);
        QTAILQ_INSERT_TAIL(&mc->lru, e, link);
        qatomic_set(&e->referenced, false);
        mc_make_room__locked(mc, 0, victims);
    }
    return true;
}

static xen_pfn_t *mc_pfns(hwaddr first_pfn, hwaddr n)
{
    xen_pfn_t *pfns = g_new(xen_pfn_t, n);
    hwaddr i;

    for (i = 0; i < n; i++) {
        pfns[i] = first_pfn + i;
    }
    return pfns;
}

/* Bitmap of the pages with a non-zero @err, or NULL if there are none. */
static MapCacheBad *mc_bad_pages(const int *err, hwaddr n)
{
    MapCacheBad *bad = NULL;
    hwaddr i;

    for (i = 0; i < n; i++) {
        if (err[i]) {
            if (!bad) {
                bad = g_malloc0(sizeof(*bad) +
                                BITS_TO_LONGS(n) * sizeof(unsigned long));
            }
            set_bit(i, bad->bits);
        }
    }
    return bad;
}

/*
 * Map (index, nb) from the guest.  Called without the cache lock.  In an
 * incoming migration the guest RAM may not be there yet: if the pages
 * the request needs (@first, @count, counted from @index's first page)
 * are missing, an anonymous stand-in is mapped instead, replaced later
 * by xen_replace_cache_entry() or dropped when the migration is over.
 */
static MapCacheEntry *mc_entry_new(hwaddr index, hwaddr nb, hwaddr first,
                                   hwaddr count)
{
    hwaddr npages = nb * MC_PAGES_PER_BUCKET;
    size_t size = nb << MC_SHIFT;
    xen_pfn_t *pfns = mc_pfns(index * MC_PAGES_PER_BUCKET, npages);
    int *err = g_new0(int, npages);
    MapCacheBad *bad = NULL;
    uint32_t flags = 0;
    MapCacheEntry *e;
    uintptr_t rfirst, rlast, c;
    size_t esize;
    uint8_t *vaddr;

    vaddr = xenforeignmemory_map2(xen_fmem, xen_domid, NULL,
                                  PROT_READ | PROT_WRITE, 0, npages, pfns,
                                  err);
    if (vaddr) {
        bad = mc_bad_pages(err, npages);
    }
    if ((!vaddr || !mc_bad_ok(bad, first, count)) &&
        runstate_check(RUN_STATE_INMIGRATE)) {
        if (vaddr) {
            munmap(vaddr, size);
        }
        g_free(bad);
        bad = NULL;
        vaddr = mmap(NULL, size, PROT_READ | PROT_WRITE,
                     MAP_ANONYMOUS | MAP_SHARED, -1, 0);
        vaddr = vaddr == MAP_FAILED ? NULL : vaddr;
        flags = MCE_DUMMY;
    }
    g_free(pfns);
    g_free(err);
    if (!vaddr) {
        trace_xen_map_cache_map_failed(index, nb, errno);
        return NULL;
    }
    trace_xen_map_cache_map(index, nb, vaddr, !!bad);
    if (!(flags & MCE_DUMMY)) {
        ram_block_notify_add(vaddr, size, size);
        flags |= MCE_NOTIFIED;
    }

    rfirst = (uintptr_t)vaddr >> MC_SHIFT;
    rlast = ((uintptr_t)vaddr + size - 1) >> MC_SHIFT;
    esize = sizeof(*e) + (rlast - rfirst + 1) * sizeof(e->rev[0]);
    e = qemu_memalign(__alignof__(*e), esize);
    memset(e, 0, esize);
    e->index = index;
    e->nbuckets = nb;
    e->vaddr = vaddr;
    e->size = size;
    e->flags = flags;
    e->bad_pages = bad;
    e->nr_rev = rlast - rfirst + 1;
    for (c = rfirst; c <= rlast; c++) {
        e->rev[c - rfirst].chunk = c;
        e->rev[c - rfirst].entry = e;
    }
    return e;
}

/*
 * Are guest pages [@first_pfn, + @count) there now?  One foreign map of
 * just those pages, without the cache lock, unmapped at once: what a
 * request that needs pages its key's entry lacks pays instead of a remap.
 */
static bool mc_probe(hwaddr first_pfn, hwaddr count)
{
    xen_pfn_t *pfns = mc_pfns(first_pfn, count);
    int *err = g_new0(int, count);
    MapCacheBad *bad = NULL;
    void *vaddr;

    vaddr = xenforeignmemory_map2(xen_fmem, xen_domid, NULL, PROT_READ, 0,
                                  count, pfns, err);
    if (vaddr) {
        bad = mc_bad_pages(err, count);
        munmap(vaddr, count * MC_PAGE);
    }
    g_free(pfns);
    g_free(err);
    g_free(bad);
    return vaddr && !bad;
}

/*
 * May a request share the entry already under its key?  Always: that is
 * invariant 1.  (The unit test's mutant build defines its own
 * mc_shareable() that puts 7.2's duplicate-creating insert back.)
 */
#ifndef mc_shareable
static inline bool mc_shareable(MapCacheEntry *e, bool lock)
{
    return true;
}
#endif

typedef enum MapCacheUse {
    MC_USE_OK,
    MC_USE_MISSING,                 /* the request needs unmapped pages */
    MC_USE_STALE,                   /* a stand-in after the migration */
    MC_USE_LOCKS_FULL,
} MapCacheUse;

/* Serve the request from @e (in fwd) if possible, into *@p. */
static MapCacheUse mc_use(MapCache *mc, MapCacheEntry *e, hwaddr offset,
                          hwaddr first, hwaddr count, bool lock, uint8_t **p)
{
    if ((e->flags & MCE_DUMMY) && !runstate_check(RUN_STATE_INMIGRATE)) {
        return MC_USE_STALE;
    }
    if (!mc_pages_ok(e, first, count)) {
        return MC_USE_MISSING;
    }
    if (lock && !mc_try_lock(e)) {
        return MC_USE_LOCKS_FULL;       /* in fwd: not doomed */
    }
    if (QTAILQ_NEXT(e, link)) {
        QTAILQ_REMOVE(&mc->lru, e, link);
        QTAILQ_INSERT_TAIL(&mc->lru, e, link);
    }
    *p = e->vaddr + offset;
    return MC_USE_OK;
}

/*
 * Take @e out of fwd so that its key is mapped again; a locked @e is not
 * touched (invariant 1): it lives on, doomed, for its lock holders.
 */
static void mc_supersede(MapCache *mc, MapCacheEntry *e, MapCacheList *victims)
{
    mc_doom__locked(mc, e, victims);
}

/*
 * Lockless lookups rely on the caller's RCU read-side critical section:
 * physmem.c holds one around every map and reverse lookup, and the
 * pointer an unlocked map returns is only good inside it anyway.
 * Nesting one of our own would cost two out-of-line TLS calls, as much
 * as the lookup itself, so a caller outside one takes the mutex (unlock
 * is the exception: address_space_unmap() calls it outside).  The
 * thread's RCU reader record is found once (get_ptr_rcu_reader() is out
 * of line) and kept: it lives as long as the thread.
 */
static __thread struct rcu_reader_data *mc_rcu_reader;

static inline bool mc_in_rcu_reader(void)
{
    struct rcu_reader_data *r = mc_rcu_reader;

    if (unlikely(!r)) {
        r = mc_rcu_reader = get_ptr_rcu_reader();
    }
    return qatomic_read(&r->depth) > 0;
}

/*
 * A request for a key in fwd whose entry has all the pages it needs
 * needs no mutex: walk fwd under RCU (entries, tables and bad-page maps
 * are freed after a grace period), take a lock if asked (mc_try_lock()
 * refuses a doomed entry: then the mutex path decides), mark the entry
 * referenced and count the hit.  The counter is bumped without an atomic
 * read-modify-write, so concurrent lockless hits may lose a count; it is
 * a statistic.
 */
static inline QEMU_ALWAYS_INLINE
uint8_t *mc_lockless_hit(MapCache *mc, hwaddr addr, hwaddr len, bool lock)
{
    hwaddr index = addr >> MC_SHIFT;
    hwaddr offset = addr & (MC_BUCKET - 1);
    hwaddr nb = (offset + len + MC_BUCKET - 1) >> MC_SHIFT;
    MapCacheFwd *t;
    MapCacheEntry *e;
    MapCacheBad *bad;
    uint8_t *p;
    int steps = 0;

    if (unlikely(!mc_in_rcu_reader())) {
        return NULL;
    }
    t = qatomic_rcu_read(&mc->fwd);
    e = qatomic_rcu_read(&t->heads[mc_fwd_hash(index, nb) & t->mask]);
    mc_tsan_reader_done(t);
    while (e && (qatomic_read(&e->index) != index || e->nbuckets != nb)) {
        MapCacheEntry *next = qatomic_rcu_read(&e->fwd_next);

        mc_tsan_reader_done(e);
        if (++steps > 32) {
            return NULL;        /* racing a resize: take the lock */
        }
        e = next;
    }
    if (!e || (qatomic_read(&e->flags) & MCE_DUMMY) || mc_doomed(e)) {
        if (e) {
            mc_tsan_reader_done(e);
        }
        return NULL;
    }
    bad = qatomic_rcu_read(&e->bad_pages);
    if (unlikely(bad)) {
        bool ok = mc_bad_ok(bad, offset >> MC_PAGE_SHIFT,
                            DIV_ROUND_UP((offset & (MC_PAGE - 1)) + len,
                                         MC_PAGE));

        mc_tsan_reader_done(bad);
        if (!ok) {
            mc_tsan_reader_done(e);
            return NULL;
        }
    }
    if (lock && (!mc_shareable(e, true) || !mc_try_lock(e))) {
        mc_tsan_reader_done(e);
        return NULL;
    }
    if (!qatomic_read(&e->referenced)) {
        qatomic_set(&e->referenced, true);
    }
    mc_bump(&mc_counters()->hits);
    p = e->vaddr + offset;
    mc_tsan_reader_done(e);
    return p;
}

/* Why this thread's last map failed: see xen_map_cache_failure_is_transient */
static __thread bool mc_failure_transient;

/* Can @size more bytes be mapped once every unlocked entry is evicted? */
static inline bool mc_fits(MapCache *mc, uint64_t size)
{
    return mc_pinned() + size <= mc->max_bytes;
}

/* Everything but a lockless hit: under the mutex, mapping on a miss. */
static __attribute__((noinline))
uint8_t *mc_map_locked(MapCache *mc, hwaddr addr, hwaddr size, bool lock,
                       bool dma)
{
    hwaddr index = addr >> MC_SHIFT;
    hwaddr offset = addr & (MC_BUCKET - 1);
    hwaddr len = size ? size : 1;
    hwaddr first = offset >> MC_PAGE_SHIFT;
    hwaddr count = DIV_ROUND_UP((offset & (MC_PAGE - 1)) + len, MC_PAGE);
    /* physmem.c maps a whole VRAM or ROM block locked, not for DMA */
    bool block = lock && !dma;
    MapCacheList victims = QTAILQ_HEAD_INITIALIZER(victims);
    MapCacheEntry *e, *fresh = NULL;
    uint64_t generation = 0;
    const char *why = NULL;
    bool transient = false, probed = false;
    uint8_t *p = NULL;
    hwaddr nb = 0;

    qemu_mutex_lock(&mc->lock);
    if (addr + len < addr || len > SIZE_MAX / 2) {
        why = "too large";
    } else if (len > mc->max_bytes && !block) {
        why = "larger than the cache";
    } else {
        nb = DIV_ROUND_UP(offset + len, MC_BUCKET);
    }
    while (!why) {
        e = mc_fwd_find(mc, index, nb);
        if (e && mc_shareable(e, lock)) {
            switch (mc_use(mc, e, offset, first, count, lock, &p)) {
            case MC_USE_OK:
                mc->stats.hits++;
                trace_xen_map_cache_hit(addr, size, p);
                goto out;
            case MC_USE_LOCKS_FULL:
                why = "lock count full";
                goto out;
            case MC_USE_MISSING:
                if (!probed && !runstate_check(RUN_STATE_INMIGRATE)) {
                    /*
                     * Keep the entry for the pages it has and look only
                     * whether the missing ones have appeared since (a RAM
                     * block allocated next to an older one in the same
                     * bucket, a balloon giving pages back).
                     */
                    qemu_mutex_unlock(&mc->lock);
                    probed = mc_probe(index * MC_PAGES_PER_BUCKET + first,
                                      count);
                    qemu_mutex_lock(&mc->lock);
                    if (!probed) {
                        why = "guest pages not mapped";
                        goto out;
                    }
                    continue;
                }
                /* they are there now (or a stand-in may be due): remap */
                mc_supersede(mc, e, &victims);
                break;
            case MC_USE_STALE:
                mc_supersede(mc, e, &victims);
                break;
            }
        }
        if (fresh) {
            /* Insert the mapping made below, unless it went stale. */
            if (generation != mc->generation) {
                mc_victim__locked(mc, fresh, &victims);
                fresh = NULL;
                continue;
            }
            if (dma && !mc_fits(mc, fresh->size)) {
                why = "cache full of locked mappings";
                transient = true;
                break;
            }
            if (block) {
                fresh->flags |= MCE_BLOCK;
            }
            mc_make_room__locked(mc, mc_capped(fresh), &victims);
            mc_fwd_insert(mc, fresh);
            mc_rev_insert(mc, fresh);
            mc_count(mc, fresh);
            QTAILQ_INSERT_TAIL(&mc->lru, fresh, link);
            e = fresh;
            fresh = NULL;
            /* the entry stays for the pages it has, even if this fails */
            if (mc_use(mc, e, offset, first, count, lock, &p) != MC_USE_OK) {
                why = "guest pages not mapped";
            }
            break;
        }
        if (dma && !mc_fits(mc, nb << MC_SHIFT)) {
            /* not worth a foreign map, nor emptying the LRU list */
            why = "cache full of locked mappings";
            transient = true;
            break;
        }
        mc->stats.misses++;
        trace_xen_map_cache_miss(addr, size);
        generation = mc->generation;
        qemu_mutex_unlock(&mc->lock);
        mc_free_list(&victims);
        fresh = mc_entry_new(index, nb, first, count);
        qemu_mutex_lock(&mc->lock);
        if (!fresh) {
            why = "foreign map failed";
        }
    }
out:
    if (fresh) {
        /* Lost a race to another thread's insert, or refused. */
        mc_victim__locked(mc, fresh, &victims);
    }
    if (why) {
        mc->stats.failures++;
        p = NULL;
    }
    qemu_mutex_unlock(&mc->lock);
    mc_free_list(&victims);
    if (why) {
        mc_failure_transient = transient;
        qemu_log_mask(LOG_GUEST_ERROR, "xen-mapcache: cannot map 0x%" PRIx64
                      "+0x%" PRIx64 "%s: %s\n", addr, size,
                      lock ? " locked" : "", why);
    }
    return p;
}

/* Out of line: the log backend's timestamp would give callers a frame. */
static __attribute__((noinline, cold))
void mc_trace_hit(hwaddr addr, hwaddr size, uint8_t *p)
{
    trace_xen_map_cache_hit(addr, size, p);
}

/* A DMA lock of a mapped key without the mutex, else the mutex path. */
static __attribute__((noinline))
uint8_t *mc_map_lock(MapCache *mc, hwaddr addr, hwaddr size, bool dma)
{
    hwaddr len = size ? size : 1;

    /* whole-block mappings (locked, not DMA) are rare: the mutex path */
    if (dma && len <= qatomic_read(&mc->max_bytes)) {
        uint8_t *p = mc_lockless_hit(mc, addr, len, true);

        if (p) {
            mc_trace_hit(addr, size, p);
            return p;
        }
    }
    return mc_map_locked(mc, addr, size, true, dma);
}

/*
 * The unlocked hit (every CPU access) inline here, everything else out
 * of line: the lock path's compare-and-swap and the miss path would give
 * this one a stack frame and a stack protector.
 */
uint8_t *xen_map_cache(hwaddr addr, hwaddr size, uint8_t lock, bool dma)
{
    MapCache *mc = mapcache;
    hwaddr len = size ? size : 1;

    if (unlikely(!mc)) {
        mc_failure_transient = false;
        return NULL;
    }
    if (lock) {
        return mc_map_lock(mc, addr, size, dma);
    }
    if (len <= qatomic_read(&mc->max_bytes)) {
        uint8_t *p = mc_lockless_hit(mc, addr, len, false);

        if (p) {
            if (trace_event_get_state_backends(TRACE_XEN_MAP_CACHE_HIT)) {
                mc_trace_hit(addr, size, p);
            }
            return p;
        }
    }
    return mc_map_locked(mc, addr, size, false, dma);
}

bool xen_map_cache_failure_is_transient(void)
{
    return mc_failure_transient;
}

ram_addr_t xen_ram_addr_from_mapcache(void *ptr)
{
    MapCache *mc = mapcache;
    ram_addr_t addr = RAM_ADDR_INVALID;
    MapCacheEntry *e = NULL;

    if (!mc) {
        return RAM_ADDR_INVALID;
    }
    /*
     * Under the caller's RCU read lock the entry cannot go while we look:
     * it is freed only after a grace period.  The caller holds a lock on
     * it anyway if it holds a DMA mapping; then the answer cannot change
     * either.
     */
    if (mc_in_rcu_reader()) {
        e = mc_rev_find_in(qatomic_rcu_read(&mc->rev), ptr, true);
        if (e) {
            addr = (qatomic_read(&e->index) << MC_SHIFT) +
                   ((uint8_t *)ptr - e->vaddr);
            mc_tsan_reader_done(e);
        }
    }
    if (e) {
        mc_bump(&mc_counters()->reverse_lookups);
        trace_xen_map_cache_reverse(ptr, addr);
        return addr;
    }

    qemu_mutex_lock(&mc->lock);
    mc->stats.reverse_lookups++;
    e = mc_rev_find(mc, ptr);
    if (e) {
        addr = (e->index << MC_SHIFT) + ((uint8_t *)ptr - e->vaddr);
    } else {
        mc->stats.failures++;
    }
    qemu_mutex_unlock(&mc->lock);
    trace_xen_map_cache_reverse(ptr, addr);
    if (!e) {
        qemu_log_mask(LOG_GUEST_ERROR, "xen-mapcache: reverse lookup of "
                      "unknown pointer %p\n", ptr);
    }
    return addr;
}

/*
 * Drop a lock without the mutex, inside an RCU read-side critical
 * section (which keeps the entry allocated after its count reaches 0 and
 * an eviction takes it).  The mutex is taken only when the last lock of
 * a doomed entry goes (this thread then owns it: mc_drop_lock()), or when
 * the cache is above the cap and the entry just became evictable.  False
 * if the mutex path must do it: an unknown pointer (or a lookup racing a
 * resize), no lock to drop, a whole-block mapping.
 */
static bool mc_unlock_lockless(MapCache *mc, uint8_t *ptr)
{
    MapCacheList victims = QTAILQ_HEAD_INITIALIZER(victims);
    MapCacheEntry *e = mc_rev_find_in(qatomic_rcu_read(&mc->rev), ptr, true);
    uint32_t state;

    if (!e) {
        return false;
    }
    state = qatomic_read(&e->flags) & MCE_BLOCK ? UINT32_MAX
                                                 : mc_drop_lock(e);
    if (state == UINT32_MAX) {
        mc_tsan_reader_done(e);
        return false;
    }
    trace_xen_map_cache_unlock(ptr, e->index, e->nbuckets,
                               state / MCS_LOCK);
    if (state == 0) {
        if (!qatomic_read(&e->referenced)) {
            qatomic_set(&e->referenced, true);
        }
        if (qatomic_read(&mc->bytes) <= qatomic_read(&mc->max_bytes)) {
            mc_tsan_reader_done(e);
            return true;
        }
    }
    if (state == 0 || state == MCS_DOOMED) {
        qemu_mutex_lock(&mc->lock);
        if (state == MCS_DOOMED) {
            mc_retire__locked(mc, e, &victims);
        }
        mc_make_room__locked(mc, 0, &victims);
        qemu_mutex_unlock(&mc->lock);
        mc_free_list(&victims);
    }
    mc_tsan_reader_done(e);
    return true;
}

void xen_invalidate_map_cache_entry(uint8_t *ptr)
{
    MapCache *mc = mapcache;
    MapCacheList victims = QTAILQ_HEAD_INITIALIZER(victims);
    const char *why = NULL;
    MapCacheEntry *e;
    bool done = false;

    if (!mc || !ptr) {
        return;         /* a MemoryRegionCache over MMIO has no pointer */
    }
    if (mc_in_rcu_reader()) {
        done = mc_unlock_lockless(mc, ptr);
    } else {
        WITH_RCU_READ_LOCK_GUARD() {
            done = mc_unlock_lockless(mc, ptr);
        }
    }
    if (done) {
        return;
    }
    qemu_mutex_lock(&mc->lock);
    e = mc_rev_find(mc, ptr);
    if (!e) {
        why = "unknown";
    } else if (!mc_unlock__locked(mc, e, &victims)) {
        why = "unlocked";
    } else {
        trace_xen_map_cache_unlock(ptr, e->index, e->nbuckets, mc_locks(e));
    }
    if (why) {
        mc->stats.failures++;
    }
    qemu_mutex_unlock(&mc->lock);
    mc_free_list(&victims);
    if (why) {
        qemu_log_mask(LOG_GUEST_ERROR, "xen-mapcache: unlock of %s "
                      "pointer %p ignored\n", why, ptr);
    }
}

void xen_invalidate_map_cache(void)
{
    MapCache *mc = mapcache;
    MapCacheList victims = QTAILQ_HEAD_INITIALIZER(victims);
    MapCacheEntry *e, *next;
    unsigned int unmapped = 0, doomed = 0;
    bool bql;

    if (!mc) {
        return;
    }
    qemu_mutex_lock(&mc->lock);
    mc->generation++;
    mc->stats.invalidates++;
    mc_fwd_publish(mc, mc_fwd_new(MC_HASH_MIN));
    mc->fwd_count = 0;
    QTAILQ_FOREACH_SAFE(e, &mc->lru, link, next) {
        if (mc_doom__locked(mc, e, &victims)) {
            unmapped++;
        } else {
            doomed++;
        }
    }
    qemu_mutex_unlock(&mc->lock);

    /*
     * Xen invalidates because the guest gave frames back: release them
     * before answering, once no RCU reader can hold an unlocked pointer.
     * The ioreq handler holds the BQL, and an RCU reader may be waiting
     * for it (an iothread): drop it for the grace period, as
     * drain_call_rcu() does.
     */
    bql = qemu_mutex_iothread_locked();
    if (bql) {
        qemu_mutex_unlock_iothread();
    }
    synchronize_rcu();
    if (bql) {
        qemu_mutex_lock_iothread();
    }
    QTAILQ_FOREACH_SAFE(e, &victims, link, next) {
        QTAILQ_REMOVE(&victims, e, link);
        mc_entry_reclaim(e);
    }
    trace_xen_map_cache_invalidate(unmapped, doomed);
}

/*
 * Put anonymous memory where a failed MAP_FIXED remap left a hole
 * (libxenforeignmemory unmaps the range when the ioctl fails), so that
 * the lock holders of @e keep a valid, if empty, mapping.
 */
static bool mc_fill_hole(MapCacheEntry *e)
{
    void *v = mmap(e->vaddr, e->size, PROT_READ | PROT_WRITE,
                   MAP_FIXED | MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    return v == e->vaddr;
}

/*
 * Incoming migration: the frames of a RAM block (VRAM) that got a
 * stand-in at ram_addr @old_addr are now at guest address @new_addr.
 * Remap them over the block's mapping, at the same host address (the
 * block keeps block->host).  The mapping stays the block's: a reverse
 * lookup still answers its ram_addr, which is what
 * qemu_ram_block_from_host() needs, and it leaves fwd before it is
 * remapped (no lookup of @old_addr sees it change under it) for good:
 * the one exception to "a locked entry is never remapped", made for the
 * block's own lock holder.
 */
uint8_t *xen_replace_cache_entry(hwaddr old_addr, hwaddr new_addr,
                                 hwaddr size)
{
    MapCache *mc = mapcache;
    MapCacheList victims = QTAILQ_HEAD_INITIALIZER(victims);
    hwaddr offset = old_addr & (MC_BUCKET - 1);
    hwaddr nb, npages;
    MapCacheEntry *e;
    MapCacheBad *bad = NULL, *old_bad;
    xen_pfn_t *pfns;
    int *err;
    uint8_t *vaddr;
    bool ok, notify;
    const char *why = NULL;

    if (!mc || !size || size > SIZE_MAX / 2 ||
        offset != (new_addr & (MC_BUCKET - 1))) {
        return NULL;
    }
    nb = DIV_ROUND_UP(offset + size, MC_BUCKET);
    npages = nb * MC_PAGES_PER_BUCKET;

    /*
     * Only a mapping someone holds locked (its block) is replaced, so
     * that dropping our own lock below cannot free it.
     */
    qemu_mutex_lock(&mc->lock);
    e = mc_fwd_find(mc, old_addr >> MC_SHIFT, nb);
    if (!e || !mc_locks(e) || !mc_try_lock(e)) {
        qemu_mutex_unlock(&mc->lock);
        error_report("xen-mapcache: no locked mapping of 0x%" PRIx64
                     " to replace", old_addr);
        return NULL;
    }
    mc_doom__locked(mc, e, &victims);     /* locked: not a victim */
    qatomic_set(&e->flags, e->flags | MCE_REPLACED);
    qemu_mutex_unlock(&mc->lock);

    trace_xen_map_cache_replace(old_addr, new_addr, size);
    pfns = mc_pfns((new_addr >> MC_SHIFT) * MC_PAGES_PER_BUCKET, npages);
    err = g_new0(int, npages);
    /* MAP_FIXED over our own mapping: no window for another mmap. */
    vaddr = xenforeignmemory_map2(xen_fmem, xen_domid, e->vaddr,
                                  PROT_READ | PROT_WRITE, MAP_FIXED,
                                  npages, pfns, err);
    ok = vaddr == e->vaddr;
    if (vaddr && !ok) {
        munmap(vaddr, e->size);
    }
    if (ok) {
        bad = mc_bad_pages(err, npages);
    } else if (!mc_fill_hole(e)) {
        /* cannot happen short of a kernel failure: say so, loudly */
        error_report("xen-mapcache: %p+0x%zx left unmapped: %s", e->vaddr,
                     e->size, strerror(errno));
    }
    g_free(pfns);
    g_free(err);

    /* A stand-in becomes guest RAM: announce it before it can go. */
    notify = ok && !(e->flags & MCE_NOTIFIED);
    if (notify) {
        ram_block_notify_add(e->vaddr, e->size, e->size);
    }

    qemu_mutex_lock(&mc->lock);
    if (ok) {
        old_bad = e->bad_pages;
        qatomic_rcu_set(&e->bad_pages, bad);
        if (old_bad) {
            call_rcu1(&old_bad->rcu, mc_free_rcu);
        }
        qatomic_set(&e->flags, (e->flags & ~MCE_DUMMY) |
                               (notify ? MCE_NOTIFIED : 0));
        if (!mc_pages_ok(e, offset >> MC_PAGE_SHIFT,
                         DIV_ROUND_UP((offset & (MC_PAGE - 1)) + size,
                                      MC_PAGE))) {
            why = "guest pages not mapped";
        }
    } else {
        /* anonymous now, like a stand-in: nothing to announce at free */
        why = "foreign map failed";
    }
    vaddr = e->vaddr;
    mc_unlock__locked(mc, e, &victims);
    qemu_mutex_unlock(&mc->lock);
    mc_free_list(&victims);

    if (why) {
        error_report("xen-mapcache: replacing 0x%" PRIx64 " by 0x%" PRIx64
                     " failed: %s", old_addr, new_addr, why);
        return NULL;
    }
    return vaddr + offset;
}

void xen_map_cache_set_max_size(uint64_t max_bytes)
{
    MapCache *mc = mapcache;
    MapCacheList victims = QTAILQ_HEAD_INITIALIZER(victims);

    if (!mc) {
        return;
    }
    qemu_mutex_lock(&mc->lock);
    /* at most half the address space: offset + len cannot wrap then */
    qatomic_set(&mc->max_bytes, MIN(MAX(max_bytes, MC_BUCKET), SIZE_MAX / 2));
    mc_make_room__locked(mc, 0, &victims);
    qemu_mutex_unlock(&mc->lock);
    mc_free_list(&victims);
}

void xen_map_cache_get_stats(XenMapCacheStats *stats)
{
    MapCache *mc = mapcache;
    MapCacheEntry *e;
    size_t i;

    memset(stats, 0, sizeof(*stats));
    if (!mc) {
        return;
    }
    qemu_mutex_lock(&mc->lock);
    *stats = mc->stats;
    for (i = 0; i < MC_COUNTER_SLOTS; i++) {
        stats->hits += qatomic_read(&mc_counter_slots[i].hits);
        stats->reverse_lookups +=
            qatomic_read(&mc_counter_slots[i].reverse_lookups);
    }
    stats->bytes_mapped = mc->bytes + mc->block_bytes;
    stats->bytes_pending = qatomic_read(&mc->pending);
    stats->max_bytes = mc->max_bytes;
    QTAILQ_FOREACH(e, &mc->lru, link) {
        stats->entries++;
        stats->locked += mc_locks(e) > 0;
    }
    QTAILQ_FOREACH(e, &mc->doomed, link) {
        stats->entries++;
        stats->locked++;
        /* a replaced mapping is its block's, not invalidated */
        stats->doomed += !(e->flags & MCE_REPLACED);
    }
    qemu_mutex_unlock(&mc->lock);
}

/* The cap: 7.2's default, lowered to fit a finite address-space limit. */
static uint64_t mc_default_max(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_AS, &rl) || rl.rlim_max == RLIM_INFINITY) {
        return MC_DEFAULT_MAX;
    }
    if (rl.rlim_max <= MC_RESERVED_VA + MC_BUCKET) {
        return MC_BUCKET;
    }
    return MIN(MC_DEFAULT_MAX, rl.rlim_max - MC_RESERVED_VA);
}

void xen_map_cache_init(phys_offset_to_gaddr_t f, void *opaque)
{
    MapCache *mc;
    struct rlimit rl;

    if (f) {
        /* Only the pre-4.1 physmap scheme needs a translator. */
        warn_report("xen-mapcache: physmap translation is not supported");
    }
    if (geteuid() == 0) {
        /* root may lift its own limit; that is what 7.2 did too */
        rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
        setrlimit(RLIMIT_AS, &rl);
    } else if (!getrlimit(RLIMIT_AS, &rl) && rl.rlim_cur != rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_AS, &rl);
    }

    mc = qemu_memalign(__alignof__(MapCache), sizeof(*mc));
    memset(mc, 0, sizeof(*mc));
    qemu_mutex_init(&mc->lock);
    mc->fwd = mc_fwd_new(MC_HASH_MIN);
    mc->rev = mc_rev_new(MC_HASH_MIN);
    QTAILQ_INIT(&mc->lru);
    QTAILQ_INIT(&mc->doomed);
    mc->max_bytes = mc_default_max();
    memset(mc_counter_slots, 0, sizeof(mc_counter_slots));
    mapcache = mc;
}

XenMapCacheInfo *qmp_query_xen_mapcache(Error **errp)
{
    XenMapCacheInfo *info;
    XenMapCacheStats s;

    if (!mapcache) {
        error_setg(errp, "Xen map cache not in use");
        return NULL;
    }
    xen_map_cache_get_stats(&s);
    info = g_new0(XenMapCacheInfo, 1);
    info->entries = s.entries;
    info->locked = s.locked;
    info->doomed = s.doomed;
    info->bytes_mapped = s.bytes_mapped;
    info->max_bytes = s.max_bytes;
    info->hits = s.hits;
    info->misses = s.misses;
    info->evictions = s.evictions;
    info->reverse_lookups = s.reverse_lookups;
    info->failures = s.failures;
    info->invalidates = s.invalidates;
    info->eviction_stalls = s.eviction_stalls;
    info->bytes_pending = s.bytes_pending;
    return info;
}
