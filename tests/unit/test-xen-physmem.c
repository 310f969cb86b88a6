/*
 * Unit tests for physmem.c's Xen map cache hooks.
 *
 * Copyright (c) 2026 Xen DM Developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The hooks cannot be reached without a whole system emulator, so the
 * functions they live in are cut out of a softmmu/physmem.c unchanged
 * (mk/physmem-slice.py: the RAM block lookups, the map clients,
 * address_space_unmap(), the MemoryRegionCache path and physmem.c's
 * *_cached_slow instance of memory_ldst.c.inc) and compiled here, over
 * the real map cache and the unit test's in-process foreign-memory
 * backend (test-xen-mapcache-backend.c); what else they call is the small
 * stand-in of test-xen-physmem-harness.h.  mk/build-mapcache-stock.sh
 * builds this file twice: with our physmem.c from the assembled tree
 * (every case passes) and with QEMU 7.2's from the pristine base (every
 * case ends in a crash or a failed assertion there; check.d/22 says
 * which).
 *
 * Guest RAM is "xen.ram" (RAM block offset 0, no host pointer, mapped
 * through the map cache page by page) plus a 16 MiB "vram" block mapped
 * whole, as QEMU lays them out under Xen.
 */

#include "qemu/osdep.h"
#include "test-xen-physmem-harness.h"

/* What address_space_cache_init() does for RAM, without the flatview. */
static void ring_cache_init(MemoryRegionCache *c, RAMBlock *block,
                            hwaddr addr, hwaddr len, bool is_write)
{
    hwaddr l = len;

    memset(c, 0, sizeof(*c));
    c->mrs.mr = block->mr;
    c->mrs.size = int128_make64(block->max_length);
    c->xlat = addr;
    c->ptr = qemu_ram_ptr_length(block, addr, &l, true);
    c->len = l;
    c->is_write = is_write;
}

/*
 * A virtqueue ring whose page the guest gave back (a ballooned-out gfn):
 * address_space_cache_init() gets no pointer, so every access goes
 * through the *_cached_slow accessors, whose map fails as well.  Each
 * load must report an error and read all ones, each store must report
 * an error and write nothing: 7.2 dereferences NULL there.
 */
static void test_ldst_cached_ballooned(void)
{
    MemTxAttrs attrs = MEMTXATTRS_UNSPECIFIED;
    MemoryRegionCache c;
    MemTxResult r;
    unsigned long d;

    setup();
    mcb_set_bad(RING_GPA / MCB_PAGE, true);
    ring_cache_init(&c, &ram_block, RING_GPA, 0x1000, true);
    g_assert_null(c.ptr);
    g_assert_cmpuint(c.len, ==, 0x1000);

    WITH_RCU_READ_LOCK_GUARD() {
        d = qatomic_read(&dirtied);
        r = MEMTX_OK;
        g_assert_cmphex(address_space_lduw_le_cached(&c, 2, attrs, &r), ==,
                        0xffff);
        g_assert_cmpint(r, ==, MEMTX_DECODE_ERROR);
        r = MEMTX_OK;
        g_assert_cmphex(address_space_ldl_le_cached(&c, 4, attrs, &r), ==,
                        0xffffffff);
        g_assert_cmpint(r, ==, MEMTX_DECODE_ERROR);
        r = MEMTX_OK;
        g_assert_cmphex(address_space_ldq_le_cached(&c, 8, attrs, &r), ==,
                        UINT64_MAX);
        g_assert_cmpint(r, ==, MEMTX_DECODE_ERROR);
        r = MEMTX_OK;
        g_assert_cmphex(address_space_ldub_cached(&c, 1, attrs, &r), ==,
                        0xff);
        g_assert_cmpint(r, ==, MEMTX_DECODE_ERROR);
        r = MEMTX_OK;
        address_space_stw_le_cached(&c, 2, 1, attrs, &r);
        g_assert_cmpint(r, ==, MEMTX_DECODE_ERROR);
        r = MEMTX_OK;
        address_space_stl_le_cached(&c, 4, 1, attrs, &r);
        g_assert_cmpint(r, ==, MEMTX_DECODE_ERROR);
        r = MEMTX_OK;
        address_space_stq_le_cached(&c, 8, 1, attrs, &r);
        g_assert_cmpint(r, ==, MEMTX_DECODE_ERROR);
        g_assert_cmpuint(qatomic_read(&dirtied), ==, d);
    }
    address_space_cache_destroy(&c);

    /* the page comes back: the same accessors read the guest's bytes */
    mcb_set_bad(RING_GPA / MCB_PAGE, false);
    ring_cache_init(&c, &ram_block, RING_GPA, 0x1000, false);
    g_assert_nonnull(c.ptr);
    address_space_cache_destroy(&c);
    c.ptr = NULL;               /* force the slow path over the same page */
    c.mrs.mr = &ram_mr;
    WITH_RCU_READ_LOCK_GUARD() {
        uint32_t v = address_space_ldl_le_cached_slow(&c, 4, attrs, &r);

        g_assert_cmpint(r, ==, MEMTX_OK);
        g_assert_true(mcb_check(&v, RING_GPA + 4, 4));
    }
}

/*
 * A whole block (VRAM) whose mapping fails: qemu_ram_ptr_length() and
 * qemu_map_ram_ptr() must answer NULL, not NULL + offset (7.2 hands the
 * caller a small non-NULL pointer, and a ring there is then read through
 * it), and a ring there fails its accesses like one on a ballooned page.
 */
static void test_block_map_fails(void)
{
    MemTxAttrs attrs = MEMTXATTRS_UNSPECIFIED;
    MemoryRegionCache c;
    MemTxResult r = MEMTX_OK;
    hwaddr l = 0x100;

    setup();
    mcb_fail_next(1);
    g_assert_null(qemu_ram_ptr_length(&vram_block, 0x2000, &l, true));
    g_assert_null(vram_block.host);
    mcb_fail_next(1);
    WITH_RCU_READ_LOCK_GUARD() {
        g_assert_null(qemu_map_ram_ptr(&vram_block, 0x2000));
    }
    mcb_fail_next(2);
    ring_cache_init(&c, &vram_block, 0x2000, 0x1000, false);
    WITH_RCU_READ_LOCK_GUARD() {
        g_assert_cmphex(address_space_ldl_le_cached(&c, 0, attrs, &r), ==,
                        0xffffffff);
        g_assert_cmpint(r, ==, MEMTX_DECODE_ERROR);
    }
    address_space_cache_destroy(&c);

    /* once it maps, it is the block's for good and reads the guest's */
    l = 0x100;
    g_assert_nonnull(qemu_ram_ptr_length(&vram_block, 0x2000, &l, true));
    g_assert_true(mcb_check((uint8_t *)vram_block.host + 0x2000,
                            VRAM_GPA + 0x2000, 0x100));
}

/*
 * The NULL-block path: a host pointer the map cache does not know has no
 * RAM block (7.2 looks up RAM_ADDR_INVALID and exits with "Bad ram
 * offset"); a known one, also inside VRAM, finds its block and offset.
 */
static void test_block_from_host(void)
{
    static uint8_t not_guest_ram[64];
    ram_addr_t off = 0;
    hwaddr l = 0x1000;
    uint8_t *p;

    setup();
    g_assert_null(qemu_ram_block_from_host(not_guest_ram, false, &off));

    WITH_RCU_READ_LOCK_GUARD() {
        p = qemu_map_ram_ptr(&ram_block, 5 * MiB + 0x10);
        g_assert_nonnull(p);
        g_assert_true(qemu_ram_block_from_host(p, false, &off) == &ram_block);
        g_assert_cmphex(off, ==, 5 * MiB + 0x10);
    }
    p = qemu_ram_ptr_length(&vram_block, 0x10000, &l, true);
    g_assert_nonnull(p);
    g_assert_true(qemu_ram_block_from_host(p + 3, false, &off) ==
                  &vram_block);
    g_assert_cmphex(off, ==, 0x10003);
}

/*
 * address_space_unmap() of a pointer that is not a mapping (a device
 * model bug, or one unmapped twice) is reported and ignored; 7.2 exits
 * (no RAM block) or asserts.
 */
static void test_unmap_unknown(void)
{
    static uint8_t not_guest_ram[4096];
    hwaddr l = 0x1000;
    uint8_t *p;

    setup();
    address_space_unmap(&as, not_guest_ram, sizeof(not_guest_ram), true,
                        sizeof(not_guest_ram));
    /* a DMA mapping unmapped twice: the second is unknown to the cache */
    p = qemu_ram_ptr_length(&ram_block, 2 * MiB, &l, true);
    g_assert_nonnull(p);
    address_space_unmap(&as, p, l, false, 0);
    address_space_unmap(&as, p, l, false, 0);
}

/*
 * DMA into VRAM, then its unmap: the block's own, permanent lock must
 * stay (7.2 drops it, and the cache may then unmap the framebuffer under
 * the display).
 */
static void test_unmap_vram_keeps_block(void)
{
    XenMapCacheStats s;
    hwaddr l = 0x1000;
    uint8_t *p, *host;

    uint64_t locked;

    setup();
    p = qemu_ram_ptr_length(&vram_block, 0x4000, &l, true);
    g_assert_nonnull(p);
    host = vram_block.host;
    xen_map_cache_get_stats(&s);
    locked = s.locked;
    address_space_unmap(&as, p, l, true, l);
    xen_map_cache_get_stats(&s);
    g_assert_cmpuint(s.locked, ==, locked);
    drain_call_rcu();
    g_assert_true(mcb_check(host + 0x4000, VRAM_GPA + 0x4000, 0x1000));
    g_assert_true(xen_ram_addr_from_mapcache(host + 0x4000) ==
                  VRAM_GPA + 0x4000);
}

/* ---- map clients ---------------------------------------------------- */

static unsigned long client_runs;
static unsigned long client_lock_takes;
static QemuMutexLockFunc real_mutex_lock;

static void client_bh(void *opaque)
{
    client_runs++;
}

static void counting_mutex_lock(QemuMutex *m, const char *file, int line)
{
    if (m == &map_client_list_lock) {
        qatomic_inc(&client_lock_takes);
    }
    real_mutex_lock(m, file, line);
}

/* Run the bottom halves scheduled in @ctx (no handlers, no waiting). */
static void run_bhs(AioContext *ctx)
{
    aio_bh_poll(ctx);
}

/*
 * A DMA that waits for room in the map cache (its map failed, "retry
 * later") is woken by the next DMA unmap: address_space_unmap() under
 * Xen notifies the map clients (7.2 only did for the bounce buffer).
 * Registration still retries at once when the bounce buffer is free.
 * With no client waiting, an unmap does not take the clients' lock.
 */
static void test_map_clients(void)
{
    AioContext *ctx = aio_context_new(&error_abort);
    QEMUBH *bh = aio_bh_new(ctx, client_bh, NULL);
    hwaddr l = 0x1000;
    uint8_t *p;
    int i;

    setup();
    /* the bounce buffer is free: registration schedules the retry */
    client_runs = 0;
    cpu_register_map_client(bh);
    run_bhs(ctx);
    g_assert_cmpuint(client_runs, ==, 1);

    /* busy (an MMIO DMA holds it): the client waits for an unmap */
    qatomic_set(&bounce.in_use, true);
    cpu_register_map_client(bh);
    run_bhs(ctx);
    g_assert_cmpuint(client_runs, ==, 1);
    p = qemu_ram_ptr_length(&ram_block, 3 * MiB, &l, true);
    g_assert_nonnull(p);
    address_space_unmap(&as, p, l, true, l);
    run_bhs(ctx);
    g_assert_cmpuint(client_runs, ==, 2);

    /* an unregistered client is not called */
    cpu_register_map_client(bh);
    cpu_unregister_map_client(bh);
    p = qemu_ram_ptr_length(&ram_block, 3 * MiB, &l, true);
    address_space_unmap(&as, p, l, true, l);
    run_bhs(ctx);
    g_assert_cmpuint(client_runs, ==, 2);
    qatomic_set(&bounce.in_use, false);

    /* nobody waiting: DMA unmaps leave the clients' lock alone */
    real_mutex_lock = qatomic_read(&qemu_mutex_lock_func);
    qatomic_set(&qemu_mutex_lock_func, counting_mutex_lock);
    client_lock_takes = 0;
    for (i = 0; i < 100; i++) {
        l = 0x1000;
        p = qemu_ram_ptr_length(&ram_block, 3 * MiB + i * 0x100, &l, true);
        address_space_unmap(&as, p, l, true, l);
    }
    qatomic_set(&qemu_mutex_lock_func, real_mutex_lock);
    g_test_message("map client lock taken %lu times in 100 unmaps",
                   client_lock_takes);
    g_assert_cmpuint(client_lock_takes, ==, 0);

    qemu_bh_delete(bh);
    aio_context_unref(ctx);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/xen-physmem/ldst-cached-ballooned",
                    test_ldst_cached_ballooned);
    g_test_add_func("/xen-physmem/block-map-fails", test_block_map_fails);
    g_test_add_func("/xen-physmem/block-from-host", test_block_from_host);
    g_test_add_func("/xen-physmem/unmap-unknown", test_unmap_unknown);
    g_test_add_func("/xen-physmem/unmap-vram-keeps-block",
                    test_unmap_vram_keeps_block);
    g_test_add_func("/xen-physmem/map-clients", test_map_clients);
    return g_test_run();
}
