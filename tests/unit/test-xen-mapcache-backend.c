/*
 * In-process stand-in for libxenforeignmemory, for the map cache tests.
 *
 * Copyright (c) 2026 Xen DM Developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * xenforeignmemory_map2() reserves address space and maps each run of
 * consecutive guest frames from the memfd that holds guest RAM, with one
 * mmap() per run, which is also what privcmd costs at least.  Frames
 * marked bad are left PROT_NONE and reported in err[], as privcmd does.
 * Also provides the few QEMU functions the map cache calls outside
 * libqemuutil (RAM block notifiers, run state) and a real BQL in place
 * of libqemuutil's stub, so that a test can hold it across a call.
 */

#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qemu/bitmap.h"
#include "qemu/thread.h"
#include "exec/ramlist.h"
#include "hw/xen/xen_common.h"
#include "sysemu/runstate.h"
#include "test-xen-mapcache-backend.h"

xenforeignmemory_handle *xen_fmem;
uint32_t xen_domid = 1;

unsigned long mcb_map_calls;
unsigned long mcb_notify_add;
unsigned long mcb_notify_remove;

static int ram_fd = -1;
static uint64_t ram_pages;          /* guest frames */
static uint64_t file_pages;         /* guest frames + spare pages */
static uint32_t *p2m;
static unsigned long *bad;
static unsigned long *filled;       /* file pages holding their pattern */
static QemuMutex fill_lock;
static unsigned int fail_next;
static bool inmigrate;
static void (*map_hook)(void);
static QemuMutex bql;
static __thread bool bql_held;

static inline uint64_t mcb_word(uint64_t page, uint64_t word)
{
    uint64_t x = page * (MCB_PAGE / 8) + word + 0x5a5aULL;

    x ^= x >> 31;
    x *= 0x9e3779b97f4a7c15ULL;
    x ^= x >> 29;
    return x;
}

static void mcb_fill(uint64_t page, uint64_t count)
{
    uint64_t buf[MCB_PAGE / 8];
    uint64_t p, w;

    qemu_mutex_lock(&fill_lock);
    for (p = page; p < page + count; p++) {
        if (test_bit(p, filled)) {
            continue;
        }
        for (w = 0; w < MCB_PAGE / 8; w++) {
            buf[w] = cpu_to_le64(mcb_word(p, w));
        }
        g_assert(pwrite(ram_fd, buf, MCB_PAGE, p * MCB_PAGE) == MCB_PAGE);
        set_bit(p, filled);
    }
    qemu_mutex_unlock(&fill_lock);
}

void mcb_init(uint64_t ram_bytes, uint64_t spare_pages)
{
    uint64_t i;

    if (ram_fd < 0) {
        qemu_mutex_init(&fill_lock);
        qemu_mutex_init(&bql);
    } else {
        close(ram_fd);
        g_free(p2m);
        g_free(bad);
        g_free(filled);
    }
    ram_pages = ram_bytes / MCB_PAGE;
    file_pages = ram_pages + spare_pages;
    ram_fd = memfd_create("guest-ram", MFD_CLOEXEC);
    g_assert(ram_fd >= 0);
    g_assert(ftruncate(ram_fd, file_pages * MCB_PAGE) == 0);
    p2m = g_new(uint32_t, ram_pages);
    for (i = 0; i < ram_pages; i++) {
        p2m[i] = i;
    }
    bad = bitmap_new(ram_pages);
    filled = bitmap_new(file_pages);
    fail_next = 0;
    inmigrate = false;
}

uint8_t mcb_expected(uint64_t gpa)
{
    uint64_t page = p2m[gpa / MCB_PAGE];
    uint64_t off = gpa % MCB_PAGE;

    return mcb_word(page, off / 8) >> (8 * (off % 8));
}

bool mcb_check(const void *p, uint64_t gpa, size_t len)
{
    const uint8_t *b = p;
    size_t off, step;

    for (off = 0; off < len && off < 8; off++) {
        if (b[off] != mcb_expected(gpa + off)) {
            return false;
        }
    }
    /* the first byte of up to 8 pages spread over it, the middle, the end */
    step = MAX(len / 8, MCB_PAGE) & ~(MCB_PAGE - 1);
    for (off = MCB_PAGE - (gpa % MCB_PAGE); off < len; off += step) {
        if (b[off] != mcb_expected(gpa + off)) {
            return false;
        }
    }
    return len == 0 || (b[len / 2] == mcb_expected(gpa + len / 2) &&
                        b[len - 1] == mcb_expected(gpa + len - 1));
}

void mcb_p2m_set(uint64_t pfn, uint64_t page)
{
    g_assert(pfn < ram_pages && page < file_pages);
    mcb_fill(page, 1);
    p2m[pfn] = page;
}

void mcb_set_bad(uint64_t pfn, bool on)
{
    if (on) {
        set_bit(pfn, bad);
    } else {
        clear_bit(pfn, bad);
    }
}

void mcb_fail_next(unsigned int n)
{
    qatomic_set(&fail_next, n);
}

void mcb_set_inmigrate(bool on)
{
    qatomic_set(&inmigrate, on);
}

void mcb_set_map_hook(void (*fn)(void))
{
    qatomic_set(&map_hook, fn);
}

static bool mcb_frame_ok(xen_pfn_t pfn)
{
    return pfn < ram_pages && !test_bit(pfn, bad);
}

void *xenforeignmemory_map2(xenforeignmemory_handle *fmem, uint32_t dom,
                            void *addr, int prot, int flags, size_t pages,
                            const xen_pfn_t arr[], int err[])
{
    unsigned int f;
    uint8_t *base;
    size_t i, run;

    qatomic_inc(&mcb_map_calls);
    if (qatomic_read(&map_hook)) {
        void (*fn)(void) = qatomic_xchg(&map_hook, NULL);

        if (fn) {
            fn();
        }
    }
    f = qatomic_read(&fail_next);
    while (f && qatomic_cmpxchg(&fail_next, f, f - 1) != f) {
        f = qatomic_read(&fail_next);
    }
    if (f) {
        /*
         * libxenforeignmemory mmaps privcmd at @addr first and munmaps
         * it when the ioctl fails: with MAP_FIXED that leaves a hole.
         */
        if (addr && (flags & MAP_FIXED)) {
            munmap(addr, pages * MCB_PAGE);
        }
        errno = ENOMEM;
        return NULL;
    }
    if (addr && (flags & MAP_FIXED)) {
        base = addr;
    } else {
        base = mmap(NULL, pages * MCB_PAGE, PROT_NONE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (base == MAP_FAILED) {
            g_autofree char *maps = NULL;

            g_file_get_contents("/proc/self/maps", &maps, NULL, NULL);
            fprintf(stderr, "backend: reserve %zu pages: %s (maps: %u lines)\n",
                    pages, strerror(errno),
                    maps ? g_strv_length(g_strsplit(maps, "\n", -1)) : 0);
            return NULL;
        }
    }
    for (i = 0; i < pages; i += run) {
        void *at = base + i * MCB_PAGE;

        if (!mcb_frame_ok(arr[i])) {
            err[i] = -EINVAL;
            run = 1;
            if (addr) {
                g_assert(mmap(at, MCB_PAGE, PROT_NONE, MAP_FIXED |
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == at);
            }
            continue;
        }
        for (run = 1; i + run < pages; run++) {
            xen_pfn_t pfn = arr[i + run];

            if (pfn != arr[i] + run || !mcb_frame_ok(pfn) ||
                p2m[pfn] != p2m[arr[i]] + run) {
                break;
            }
        }
        mcb_fill(p2m[arr[i]], run);
        if (mmap(at, run * MCB_PAGE, prot, MAP_SHARED | MAP_FIXED,
                 ram_fd, p2m[arr[i]] * MCB_PAGE) != at) {
            int e = errno;
            g_autofree char *maps = NULL;

            g_file_get_contents("/proc/self/maps", &maps, NULL, NULL);
            g_error("backend: mmap of %zu pages at %p: %s (maps: %u lines)",
                    run, at, strerror(e),
                    maps ? g_strv_length(g_strsplit(maps, "\n", -1)) : 0);
        }
        memset(err + i, 0, run * sizeof(err[0]));
    }
    return base;
}

void ram_block_notify_add(void *host, size_t size, size_t max_size)
{
    qatomic_inc(&mcb_notify_add);
}

void ram_block_notify_remove(void *host, size_t size, size_t max_size)
{
    qatomic_inc(&mcb_notify_remove);
}

bool runstate_check(RunState state)
{
    return state == RUN_STATE_INMIGRATE && qatomic_read(&inmigrate);
}

/* The BQL, for the tests that hold it across a map cache call. */
bool qemu_mutex_iothread_locked(void)
{
    return bql_held;
}

void qemu_mutex_lock_iothread_impl(const char *file, int line)
{
    qemu_mutex_lock(&bql);
    bql_held = true;
}

bool mcb_bql_trylock(void)
{
    if (qemu_mutex_trylock(&bql)) {
        return false;
    }
    bql_held = true;
    return true;
}

void qemu_mutex_unlock_iothread(void)
{
    bql_held = false;
    qemu_mutex_unlock(&bql);
}
