/*
 * Xen map cache: guest RAM of a Xen HVM domain mapped into QEMU on demand.
 *
 * The interface physmem.c and xen-hvm.c use.  xen_map_cache() returns a
 * host pointer for a guest range; with @lock the mapping stays put until
 * the same pointer (or any pointer inside the same mapping) is passed to
 * xen_invalidate_map_cache_entry().  Without @lock the pointer is only
 * good for the caller's RCU read-side critical section.
 * xen_ram_addr_from_mapcache() returns RAM_ADDR_INVALID for a pointer the
 * cache does not know; callers must handle that.
 *
 * Copyright (c) 2026 Xen DM Developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef XEN_MAPCACHE_H
#define XEN_MAPCACHE_H

#include "exec/cpu-common.h"

typedef hwaddr (*phys_offset_to_gaddr_t)(hwaddr phys_offset,
                                         ram_addr_t size);

/*
 * CONFIG_XEN is only known to target-specific code; common code (the
 * unit test) always sees the real interface.
 */
#ifdef NEED_CPU_H
#ifndef CONFIG_XEN
#define XEN_MAPCACHE_STUBS
#endif
#endif

/* Counters reported by query-xen-mapcache and "info xen-mapcache". */
typedef struct XenMapCacheStats {
    uint64_t entries;           /* live mappings, doomed ones included */
    uint64_t locked;            /* mappings with at least one lock */
    uint64_t doomed;            /* invalidated, waiting for last unlock */
    uint64_t bytes_mapped;
    uint64_t max_bytes;         /* the cap */
    uint64_t hits;
    uint64_t misses;
    uint64_t evictions;
    uint64_t reverse_lookups;
    uint64_t failures;          /* map, reverse or unlock requests refused */
    uint64_t invalidates;
    uint64_t eviction_stalls;   /* evictions put off: unmaps pending */
    uint64_t bytes_pending;     /* evicted, waiting for their unmap */
} XenMapCacheStats;

#ifndef XEN_MAPCACHE_STUBS

/* Set up the cache; @f must be NULL (no physmap compatibility). */
void xen_map_cache_init(phys_offset_to_gaddr_t f, void *opaque);

/* Host pointer for guest [addr, addr + size); NULL on failure. */
uint8_t *xen_map_cache(hwaddr addr, hwaddr size, uint8_t lock, bool dma);

/*
 * After xen_map_cache() returned NULL in this thread: may the same
 * request succeed later (the cache is full of locked mappings), or is
 * retrying pointless (a guest page that is not there, more than the cap,
 * a full lock count, a failed foreign map)?
 */
bool xen_map_cache_failure_is_transient(void);

/* Guest address of any pointer inside a live mapping, or RAM_ADDR_INVALID */
ram_addr_t xen_ram_addr_from_mapcache(void *ptr);

/* Drop one lock of the mapping @ptr points into. */
void xen_invalidate_map_cache_entry(uint8_t *ptr);

/* IOREQ_TYPE_INVALIDATE: forget every mapping, locked ones at last unlock */
void xen_invalidate_map_cache(void);

/* Remap the (dummy) mapping of @old_addr onto @new_addr, same host address */
uint8_t *xen_replace_cache_entry(hwaddr old_addr, hwaddr new_addr,
                                 hwaddr size);

/*
 * Cap on bytes mapped, clamped to [1 bucket, half the address space];
 * unlocked mappings beyond it are evicted (LRU).  The operator sets it
 * with -accel xen,mapcache-max-size=SIZE.
 */
void xen_map_cache_set_max_size(uint64_t max_bytes);
void xen_map_cache_get_stats(XenMapCacheStats *stats);

#else /* XEN_MAPCACHE_STUBS: callers only reach these if xen_enabled() */

static inline void xen_map_cache_init(phys_offset_to_gaddr_t f, void *o) {}
static inline void xen_invalidate_map_cache_entry(uint8_t *ptr) {}
static inline void xen_invalidate_map_cache(void) {}
static inline bool xen_map_cache_failure_is_transient(void)
{
    return true;
}

static inline uint8_t *xen_map_cache(hwaddr addr, hwaddr size,
                                     uint8_t lock, bool dma)
{
    g_assert_not_reached();
}

static inline ram_addr_t xen_ram_addr_from_mapcache(void *ptr)
{
    g_assert_not_reached();
}

static inline uint8_t *xen_replace_cache_entry(hwaddr old_addr,
                                               hwaddr new_addr, hwaddr size)
{
    g_assert_not_reached();
}

#endif

#endif /* XEN_MAPCACHE_H */
