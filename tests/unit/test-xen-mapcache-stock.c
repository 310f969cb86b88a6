/*
 * The map cache's bug scenarios run against three caches: ours, QEMU
 * 7.2's xen-mapcache.c taken from the pristine base, and 7.2 with its
 * 2017 overlapping-DMA fix (commit 7fb394ad8a) undone.
 *
 * Copyright (c) 2026 Xen DM Developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * All three are linked into this program over the in-process backend of
 * the unit test (tests/unit/test-xen-mapcache-backend.c); 7.2's functions
 * are renamed stock_* and unfixed_* at compile time
 * (tests/check.d/22-mapcache-stock.sh builds it).  Each scenario runs in a
 * child process per cache, so that 7.2's abort() on an unknown pointer
 * is a result, not the end of the run.  A scenario is judged only by
 * what a device would see: a reverse lookup answering another guest
 * address than the one mapped, or a pointer reading other bytes than the
 * guest's.  Structural checks have no place here.
 *
 * Output is TAP: one line per scenario and cache, "ok" when the cache
 * behaved as this file says it does (for 7.2, that is a measured
 * failure), then a table for docs/xen-mapcache.rst.
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qemu/rcu.h"
#include "hw/xen/xen_common.h"
#include "sysemu/xen-mapcache.h"
#include "test-xen-mapcache-backend.h"
#include "test-xen-mapcache-stock.h"

#include <sys/wait.h>

/* 7.2's invalidate drains the block layer first: nothing to drain here. */
void bdrv_drain_all(void)
{
}

typedef struct Impl {
    const char *name;
    void (*init)(phys_offset_to_gaddr_t f, void *opaque);
    uint8_t *(*map)(hwaddr addr, hwaddr size, uint8_t lock, bool dma);
    ram_addr_t (*reverse)(void *ptr);
    void (*unlock)(uint8_t *ptr);
    void (*invalidate)(void);
} Impl;

enum { OURS, STOCK, UNFIXED, NR_IMPLS };

static const Impl impls[NR_IMPLS] = {
    [OURS] = { "ours", xen_map_cache_init, xen_map_cache,
               xen_ram_addr_from_mapcache, xen_invalidate_map_cache_entry,
               xen_invalidate_map_cache },
    [STOCK] = { "7.2", stock_xen_map_cache_init, stock_xen_map_cache,
                stock_xen_ram_addr_from_mapcache,
                stock_xen_invalidate_map_cache_entry,
                stock_xen_invalidate_map_cache },
    [UNFIXED] = { "7.2 without the 2017 fix", unfixed_xen_map_cache_init,
                  unfixed_xen_map_cache, unfixed_xen_ram_addr_from_mapcache,
                  unfixed_xen_invalidate_map_cache_entry,
                  unfixed_xen_invalidate_map_cache },
};

/* The bug report's addresses (QEMU commit 7fb394ad8a). */
#define A   0x700FFF80ULL           /* 512 bytes: crosses into 0x701 */
#define B   0x70010000ULL
#define C   0x70080000ULL
#define D   0x70040000ULL

static const Impl *m;
static char wrong[256];

/* Record the first wrong answer; the scenario goes on regardless. */
static void wrong_at(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void wrong_at(const char *fmt, ...)
{
    va_list ap;

    if (!wrong[0]) {
        va_start(ap, fmt);
        vsnprintf(wrong, sizeof(wrong), fmt, ap);
        va_end(ap);
    }
}

static uint8_t *map(const char *what, uint64_t gpa, uint64_t len, bool lock)
{
    uint8_t *p = m->map(gpa, len, lock, lock);

    if (!p) {
        wrong_at("map of %s failed", what);
    } else if (!mcb_check(p, gpa, MAX(len, 1))) {
        wrong_at("%s reads other guest bytes", what);
    }
    return p;
}

/* What address_space_unmap() does: reverse lookup, then unlock. */
static void unmap(const char *what, uint8_t *p, uint64_t gpa, uint64_t len)
{
    ram_addr_t r;

    if (!p) {
        return;
    }
    if (!mcb_check(p, gpa, len)) {
        wrong_at("%s reads other guest bytes at its unmap", what);
    }
    WITH_RCU_READ_LOCK_GUARD() {
        r = m->reverse(p);
    }
    if (r != gpa) {
        wrong_at("reverse(%s) = 0x%" PRIx64 ", not 0x%" PRIx64, what,
                 (uint64_t)r, gpa);
    }
    m->unlock(p);
}

static void check(const char *what, uint8_t *p, uint64_t gpa, uint64_t len)
{
    if (p && !mcb_check(p, gpa, len)) {
        wrong_at("%s reads other guest bytes", what);
    }
}

/* The report's order: A, B, A done, C (locked), B done, C done. */
static void scen_report(void)
{
    uint8_t *a, *b, *c;

    a = map("A", A, 512, true);
    b = map("B", B, 0x1000, true);
    unmap("A", a, A, 512);
    c = map("C", C, 0x1000, true);
    unmap("B", b, B, 0x1000);
    check("C", c, C, 0x1000);
    unmap("C", c, C, 0x1000);
}

/* Its four-transfer variant, with an invalidate while C and D run. */
static void scen_report4(void)
{
    uint8_t *a, *b, *c, *d;
    uint64_t i;

    a = map("A", A, 512, true);
    b = map("B", B, 0x1000, true);
    unmap("A", a, A, 512);
    c = map("C", C, 0x1000, true);
    d = map("D", D, 0x800, true);
    unmap("B", b, B, 0x1000);
    for (i = 0; i < 32; i++) {
        WITH_RCU_READ_LOCK_GUARD() {
            map("CPU access", i * MiB, 0, false);
        }
    }
    m->invalidate();
    drain_call_rcu();
    check("C", c, C, 0x1000);
    check("D", d, D, 0x800);
    unmap("C", c, C, 0x1000);
    check("D", d, D, 0x800);
    unmap("D", d, D, 0x800);
}

/*
 * The variant 7.2 still gets wrong: A and B locked, A done, then an
 * unlocked sized lookup in the same bucket (address_space_rw() reading
 * a command table) lands on A's unlocked 2 MiB head entry and remaps it
 * to B's key; B's reverse lookup then goes through that duplicate.
 */
static void scen_unlocked_lookup(void)
{
    uint8_t *a, *b;

    a = map("A", A, 512, true);
    b = map("B", B, 0x2000, true);
    unmap("A", a, A, 512);
    WITH_RCU_READ_LOCK_GUARD() {
        map("the unlocked lookup", C, 0x1000, false);
    }
    unmap("B", b, B, 0x2000);
}

/* Overlapping transfers of three sizes on one index, unlocked in turn. */
static void scen_sizes(void)
{
    uint64_t gpa = 16 * MiB + 0x3000;
    uint8_t *p[4];
    int i;

    for (i = 1; i <= 3; i++) {
        p[i] = map("transfer", gpa, i * MiB - 0x4000, true);
    }
    p[0] = map("small transfer", gpa, 0x1000, true);
    unmap("the 2 MiB transfer", p[2], gpa, 2 * MiB - 0x4000);
    unmap("small transfer", p[0], gpa, 0x1000);
    unmap("the 1 MiB transfer", p[1], gpa, MiB - 0x4000);
    unmap("the 3 MiB transfer", p[3], gpa, 3 * MiB - 0x4000);
}

/* Guest RAM changes under a mapping: an invalidate must drop it. */
static void scen_p2m_change(void)
{
    uint64_t gpa = 5 * MiB + 0x1234;

    WITH_RCU_READ_LOCK_GUARD() {
        map("CPU access", gpa, 8, false);
    }
    mcb_p2m_set(gpa / MCB_PAGE, 2 * GiB / MCB_PAGE + 3);
    m->invalidate();
    drain_call_rcu();
    WITH_RCU_READ_LOCK_GUARD() {
        map("CPU access after the invalidate", gpa, 8, false);
    }
}

typedef struct Scenario {
    const char *name;
    void (*run)(void);
    /* what each cache does, as measured: NULL = right, else the finding */
    bool wrong[NR_IMPLS];
} Scenario;

static const Scenario scenarios[] = {
    { "bug report, C locked", scen_report, { false, false, true } },
    { "bug report, four transfers", scen_report4, { false, false, true } },
    { "A, B locked; A done; unlocked sized lookup", scen_unlocked_lookup,
      { false, true, true } },
    { "three sizes on one index", scen_sizes, { false, false, false } },
    { "p2m change, then invalidate", scen_p2m_change,
      { false, false, false } },
};

/* Run scenario @s on cache @i in a child; the finding, or NULL. */
static char *run_child(const Scenario *s, int i)
{
    int fds[2], status;
    char buf[sizeof(wrong)] = "";
    ssize_t n;
    pid_t pid;

    g_assert(pipe(fds) == 0);
    fflush(stdout);
    pid = fork();
    g_assert(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        m = &impls[i];
        mcb_init(2 * GiB, 64);
        m->init(NULL, NULL);
        s->run();
        if (write(fds[1], wrong, strlen(wrong)) < 0) {
            _exit(2);
        }
        _exit(0);
    }
    close(fds[1]);
    n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    g_assert(waitpid(pid, &status, 0) == pid);
    if (WIFSIGNALED(status)) {
        return g_strdup_printf("crashes (%s)", strsignal(WTERMSIG(status)));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        return g_strdup_printf("exits with status %d", WEXITSTATUS(status));
    }
    return n > 0 ? g_strndup(buf, n) : NULL;
}

int main(int argc, char **argv)
{
    char *found[ARRAY_SIZE(scenarios)][NR_IMPLS];
    size_t s;
    int i, t = 0;

    /* the children inherit nothing but the process image */
    printf("1..%zu\n", ARRAY_SIZE(scenarios) * NR_IMPLS);
    for (s = 0; s < ARRAY_SIZE(scenarios); s++) {
        for (i = 0; i < NR_IMPLS; i++) {
            bool bad;

            found[s][i] = run_child(&scenarios[s], i);
            bad = found[s][i] != NULL;
            printf("%s %d - %s on %s: %s%s\n",
                   bad == scenarios[s].wrong[i] ? "ok" : "not ok", ++t,
                   scenarios[s].name, impls[i].name,
                   bad ? "wrong: " : "right", bad ? found[s][i] : "");
        }
    }
    printf("# %-45s | %-6s | %-26s | %s\n", "scenario", "ours", "7.2",
           "7.2 without the 2017 fix");
    for (s = 0; s < ARRAY_SIZE(scenarios); s++) {
        printf("# %-45s", scenarios[s].name);
        for (i = 0; i < NR_IMPLS; i++) {
            printf(" | %s", found[s][i] ? found[s][i] : "right");
        }
        printf("\n");
    }
    return 0;
}
