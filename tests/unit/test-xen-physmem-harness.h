/*
 * physmem.c's map cache hooks, cut out of a softmmu/physmem.c, over the
 * real map cache and the in-process foreign-memory backend: the stand-in
 * for what they call and the machine (guest RAM "xen.ram" plus a VRAM
 * block), shared by test-xen-physmem.c and bench/mapcache.  Include it
 * once, from a .c file built with -I to the directory holding
 * physmem-slice.c (mk/physmem-slice.py) and its memory_ldst.c.inc.
 *
 * Copyright (c) 2026 Xen DM Developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TEST_XEN_PHYSMEM_HARNESS_H
#define TEST_XEN_PHYSMEM_HARNESS_H

#include "qemu/units.h"
#include "qemu/rcu.h"
#include "qemu/main-loop.h"
#include "qemu/memalign.h"
#include "qapi/error.h"
#include "block/aio.h"
#include "exec/memory.h"
#include "exec/ramlist.h"
#include "exec/ramblock.h"
#include "hw/xen/xen_common.h"
#include "sysemu/xen.h"
#include "sysemu/xen-mapcache.h"
#include "test-xen-mapcache-backend.h"

#define GUEST_BYTES     (64 * MiB)      /* the backend's guest frames */
#define RAM_BYTES       (32 * MiB)      /* xen.ram */
#define VRAM_GPA        (48 * MiB)      /* VRAM's ram_addr and frames */
#define VRAM_BYTES      (16 * MiB)
#define RING_GPA        (8 * MiB + 0x3000)

/* ---- what the cut-out functions call ----------------------------------- */

bool xen_allowed = true;
#define SLICE_TARGET_PAGE_MASK  (~(ram_addr_t)(4096 - 1))
RAMList ram_list = { .blocks = QLIST_HEAD_INITIALIZER(ram_list.blocks) };
static unsigned long dirtied;

/* x86: the target is little-endian, and so are its devices' "native" */
#define ldl_p(p)        ldl_le_p(p)
#define ldq_p(p)        ldq_le_p(p)
#define lduw_p(p)       lduw_le_p(p)
#define stl_p(p, v)     stl_le_p(p, v)
#define stq_p(p, v)     stq_le_p(p, v)
#define stw_p(p, v)     stw_le_p(p, v)

static inline MemOp devend_memop(enum device_endian end)
{
    return end == DEVICE_BIG_ENDIAN ? MO_BE : MO_LE;
}

/* physmem.c's, for a block with a host pointer (exec/ram_addr.h) */
static inline void *ramblock_ptr(RAMBlock *block, ram_addr_t offset)
{
    g_assert_cmpuint(offset, <, block->max_length);
    return (char *)block->host + offset;
}

static void invalidate_and_set_dirty(MemoryRegion *mr, hwaddr addr,
                                     hwaddr length)
{
    qatomic_inc(&dirtied);
}

uint8_t memory_region_get_dirty_log_mask(MemoryRegion *mr)
{
    return 0;
}

static inline void cpu_physical_memory_set_dirty_range(ram_addr_t start,
                                                       ram_addr_t length,
                                                       uint8_t mask)
{
    qatomic_inc(&dirtied);
}

ram_addr_t memory_region_get_ram_addr(MemoryRegion *mr)
{
    return mr->ram_block ? mr->ram_block->offset : RAM_ADDR_INVALID;
}

/* The tests' regions are all RAM: the MMIO paths are never taken. */
bool prepare_mmio_access(MemoryRegion *mr)
{
    g_assert_not_reached();
}

MemTxResult memory_region_dispatch_read(MemoryRegion *mr, hwaddr addr,
                                        uint64_t *pval, MemOp op,
                                        MemTxAttrs attrs)
{
    g_assert_not_reached();
}

MemTxResult memory_region_dispatch_write(MemoryRegion *mr, hwaddr addr,
                                         uint64_t data, MemOp op,
                                         MemTxAttrs attrs)
{
    g_assert_not_reached();
}

MemTxResult address_space_write(AddressSpace *as, hwaddr addr,
                                MemTxAttrs attrs, const void *buf,
                                hwaddr len)
{
    g_assert_not_reached();
}

static MemoryRegionSection address_space_translate_iommu(
    IOMMUMemoryRegion *iommu_mr, hwaddr *xlat, hwaddr *plen_out,
    hwaddr *page_mask_out, bool is_write, bool is_mmio,
    AddressSpace **target_as, MemTxAttrs attrs)
{
    g_assert_not_reached();
}

bool memory_region_is_ram_device(MemoryRegion *mr)
{
    return false;
}

void memory_region_ref(MemoryRegion *mr)
{
}

void memory_region_unref(MemoryRegion *mr)
{
}

static void flatview_unref(FlatView *view)
{
}

/*
 * The pieces of physmem.c under test.  Its target-endian accessors (ldl,
 * not ldl_le) are declared only to target code.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#include "physmem-slice.c"
#pragma GCC diagnostic pop

/* memory.c's, over the cut-out qemu_ram_block_from_host() */
MemoryRegion *memory_region_from_host(void *ptr, ram_addr_t *offset)
{
    ram_addr_t off;
    RAMBlock *block = qemu_ram_block_from_host(ptr, false, &off);

    if (!block) {
        return NULL;
    }
    *offset = off;
    return block->mr;
}

/* ---- the machine ------------------------------------------------------- */

static MemoryRegion ram_mr, vram_mr;
static RAMBlock ram_block, vram_block;
static AddressSpace as;

static void setup(void)
{
    static bool once;

    mcb_init(GUEST_BYTES, 64);
    if (!once) {
        xen_map_cache_init(NULL, NULL);
        qemu_mutex_init(&map_client_list_lock);
        once = true;
    }
    xen_invalidate_map_cache();

    memset(&ram_block, 0, sizeof(ram_block));
    memset(&vram_block, 0, sizeof(vram_block));
    memset(&ram_mr, 0, sizeof(ram_mr));
    memset(&vram_mr, 0, sizeof(vram_mr));
    QLIST_INIT(&ram_list.blocks);
    ram_list.mru_block = NULL;

    ram_mr.ram = true;
    ram_mr.ram_block = &ram_block;
    ram_block.mr = &ram_mr;
    ram_block.offset = 0;
    ram_block.max_length = ram_block.used_length = RAM_BYTES;
    QLIST_INSERT_HEAD_RCU(&ram_list.blocks, &ram_block, next);

    /*
     * Under Xen a VRAM block's ram_addr is its guest address until the
     * guest moves the BAR: keep them equal, so the cache maps the block
     * at its ram_addr as QEMU does.
     */
    vram_mr.ram = true;
    vram_mr.ram_block = &vram_block;
    vram_block.mr = &vram_mr;
    vram_block.offset = VRAM_GPA;
    vram_block.max_length = vram_block.used_length = VRAM_BYTES;
    QLIST_INSERT_HEAD_RCU(&ram_list.blocks, &vram_block, next);
}

#endif
