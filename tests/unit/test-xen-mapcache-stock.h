/*
 * QEMU 7.2's map cache functions, compiled twice under other names for
 * test-xen-mapcache-stock.c: stock_* (7.2 as shipped) and unfixed_*
 * (7.2 with its 2017 overlapping-DMA fix undone).
 *
 * Copyright (c) 2026 Xen DM Developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TEST_XEN_MAPCACHE_STOCK_H
#define TEST_XEN_MAPCACHE_STOCK_H

#include "sysemu/xen-mapcache.h"

#define DECLARE_72(p)                                                   \
    void p##_xen_map_cache_init(phys_offset_to_gaddr_t f, void *o);     \
    uint8_t *p##_xen_map_cache(hwaddr addr, hwaddr size, uint8_t lock,  \
                               bool dma);                               \
    ram_addr_t p##_xen_ram_addr_from_mapcache(void *ptr);               \
    void p##_xen_invalidate_map_cache_entry(uint8_t *ptr);              \
    void p##_xen_invalidate_map_cache(void);

DECLARE_72(stock)
DECLARE_72(unfixed)

/* 7.2's invalidate calls it; there is no block layer here. */
void bdrv_drain_all(void);

#endif
