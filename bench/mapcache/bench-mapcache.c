/*
 * Map cache benchmark: our xen-mapcache.c against QEMU 7.2's, both
 * linked into this binary over the same in-process foreign-memory
 * backend (tests/unit/test-xen-mapcache-backend.c).  7.2's functions are
 * renamed stock_* at compile time (see run.sh).
 *
 * Copyright (c) 2026 Xen DM Developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Prints one line per measurement: "name<TAB>stock<TAB>ours<TAB>unit".
 * Timings are the best of several runs; nothing here asserts on time.
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qemu/rcu.h"
#include "qemu/thread.h"
#include "hw/xen/xen_common.h"
#include "sysemu/xen-mapcache.h"
#include "test-xen-mapcache-backend.h"

void stock_xen_map_cache_init(phys_offset_to_gaddr_t f, void *opaque);
uint8_t *stock_xen_map_cache(hwaddr addr, hwaddr size, uint8_t lock,
                             bool dma);
ram_addr_t stock_xen_ram_addr_from_mapcache(void *ptr);
void stock_xen_invalidate_map_cache_entry(uint8_t *ptr);
void stock_xen_invalidate_map_cache(void);

/* 7.2's invalidate drains the block layer first: nothing to drain here. */
void bdrv_drain_all(void)
{
}

typedef struct Impl {
    const char *name;
    uint8_t *(*map)(hwaddr addr, hwaddr size, uint8_t lock, bool dma);
    ram_addr_t (*reverse)(void *ptr);
    void (*unlock)(uint8_t *ptr);
    void (*invalidate)(void);
} Impl;

static void ours_invalidate(void)
{
    /* munmap is deferred to the RCU thread: the caller does not wait */
    xen_invalidate_map_cache();
}

static const Impl impls[2] = {
    { "stock", stock_xen_map_cache, stock_xen_ram_addr_from_mapcache,
      stock_xen_invalidate_map_cache_entry, stock_xen_invalidate_map_cache },
    { "ours", xen_map_cache, xen_ram_addr_from_mapcache,
      xen_invalidate_map_cache_entry, ours_invalidate },
};

#define RAM         (2 * GiB)
#define RUNS        15
#define PASSES      3           /* of the locked-depth group */

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* The best of @n runs: the machine may be busy with other work. */
static double best(double *v, int n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return v[0];
}

static void row(const char *name, double stock, double ours,
                const char *unit)
{
    printf("%s\t%.1f\t%.1f\t%s\n", name, stock, ours, unit);
    fflush(stdout);
}

static volatile uint8_t sink;

/* Forward hit: the same page again, as the CPU path asks for it. */
static double bench_hit(const Impl *m, hwaddr size)
{
    double t[RUNS];
    int r, i, n = 2000000;

    /* physmem.c calls it inside an RCU critical section */
    RCU_READ_LOCK_GUARD();
    sink = *m->map(0x100000, size, 0, false);
    for (r = 0; r < RUNS; r++) {
        double t0 = now_ns();

        for (i = 0; i < n; i++) {
            sink = *m->map(0x100000 + (i & 0xff) * 8, size, 0, false);
        }
        t[r] = (now_ns() - t0) / n;
    }
    return best(t, RUNS);
}

/*
 * A bare hash probe: what a forward hit must do at the least, called the
 * same way (through the Impl pointer): hash (index, nbuckets), walk the
 * chain, compare the key, add the offset.  No locking, no bookkeeping.
 */
typedef struct Probe {
    uint64_t index;
    uint64_t nbuckets;
    uint8_t *base;
    struct Probe *next;
} Probe;

static Probe *probe_heads[1024];
static Probe probe_nodes[512];

static inline uint64_t probe_hash(uint64_t index, uint64_t nb)
{
    uint64_t x = index + nb * 0x9e3779b97f4a7c15ULL;

    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x & 1023;
}

static uint8_t * __attribute__((noinline))
probe_map(hwaddr addr, hwaddr size, uint8_t lock, bool dma)
{
    uint64_t index = addr >> 20, off = addr & (MiB - 1);
    uint64_t nb = DIV_ROUND_UP(off + (size ? size : 1), MiB);
    Probe *p = probe_heads[probe_hash(index, nb)];

    while (p && (p->index != index || p->nbuckets != nb)) {
        p = p->next;
    }
    return p ? p->base + off : NULL;
}

static const Impl probe_impl = { "probe", probe_map };

static void probe_init(void)
{
    static uint8_t page[MiB];
    int i;

    for (i = 0; i < 512; i++) {
        size_t h = probe_hash(i, 1);

        probe_nodes[i].index = i;
        probe_nodes[i].nbuckets = 1;
        probe_nodes[i].base = page;
        probe_nodes[i].next = probe_heads[h];
        probe_heads[h] = &probe_nodes[i];
    }
}

/* Raw floor of a miss: one foreign map of a 1 MiB bucket. */
static double bench_raw_map(void)
{
    xen_pfn_t pfns[256];
    int err[256];
    double t[RUNS];
    int r, i, j, n = 256;
    void *v[256];

    for (r = 0; r < RUNS; r++) {
        double t0 = now_ns(), t1;

        for (i = 0; i < n; i++) {
            for (j = 0; j < 256; j++) {
                pfns[j] = (64 + i) * 256 + j;
            }
            v[i] = xenforeignmemory_map2(NULL, 1, NULL, PROT_READ |
                                         PROT_WRITE, 0, 256, pfns, err);
            sink = *(uint8_t *)v[i];        /* the first access faults */
        }
        t1 = now_ns();
        for (i = 0; i < n; i++) {
            munmap(v[i], MiB);
        }
        t[r] = (t1 - t0) / n;
    }
    return best(t, RUNS);
}

/* Miss: map buckets never seen since the last invalidate. */
static double bench_miss(const Impl *m)
{
    double t[RUNS];
    int r, i, n = 256;

    for (r = 0; r < RUNS; r++) {
        double t0;

        m->invalidate();
        drain_call_rcu();
        t0 = now_ns();
        for (i = 0; i < n; i++) {
            sink = *m->map((64 + i) * MiB, 0, 0, false);
        }
        t[r] = (now_ns() - t0) / n;
    }
    m->invalidate();
    return best(t, RUNS);
}

/*
 * L locked DMA mappings over 64 buckets.  Reverse lookups walk the ring
 * oldest first; then each op completes the oldest transfer (unlock) and
 * starts a new one (locked map), as a device with queue depth L does.
 */
static void bench_locked(const Impl *m, int locked, double *rev_ns,
                         double *cycle_ns)
{
    uint8_t **ring = g_new(uint8_t *, locked);
    hwaddr *gpa = g_new(hwaddr, locked);
    double tr[RUNS], tc[RUNS];
    int r, i, head = 0;
    long ops;

    for (i = 0; i < locked; i++) {
        gpa[i] = (hwaddr)(i % 64) * MiB + (i / 64 % 128) * 8192;
        ring[i] = m->map(gpa[i], 4096, 1, true);
    }
    for (r = 0; r < RUNS; r++) {
        double t0 = now_ns();

        /* qemu_ram_block_from_host() calls it under RCU */
        WITH_RCU_READ_LOCK_GUARD() {
            for (ops = 0; ops < 200000 &&
                          (ops % 16 || now_ns() - t0 < 1e8); ops++) {
                int k = (head + ops) % locked;

                if (m->reverse(ring[k]) != gpa[k]) {
                    fprintf(stderr, "%s: wrong reverse lookup\n", m->name);
                    exit(1);
                }
            }
        }
        tr[r] = (now_ns() - t0) / ops;

        t0 = now_ns();
        for (ops = 0; ops < 200000 && (ops % 16 || now_ns() - t0 < 1e8);
             ops++) {
            m->unlock(ring[head]);
            ring[head] = m->map(gpa[head], 4096, 1, true);
            head = (head + 1) % locked;
        }
        tc[r] = (now_ns() - t0) / ops;
    }
    for (i = 0; i < locked; i++) {
        m->unlock(ring[i]);
    }
    *rev_ns = best(tr, RUNS);
    *cycle_ns = best(tc, RUNS);
    g_free(ring);
    g_free(gpa);
}

/* Invalidate with @n unlocked entries. */
static double bench_invalidate(const Impl *m, int n)
{
    double t[RUNS];
    int r, i;

    for (r = 0; r < RUNS; r++) {
        double t0;

        for (i = 0; i < n; i++) {
            sink = *m->map((hwaddr)(64 + i) * MiB, 0, 0, false);
        }
        t0 = now_ns();
        m->invalidate();
        t[r] = (now_ns() - t0) / 1000;
        drain_call_rcu();
    }
    return best(t, RUNS);
}

/*
 * DMA map / reverse / unmap throughput from several threads.  Each
 * worker writes only its own cache line (ops, sink): a shared one would
 * measure the benchmark, not the cache.
 */
typedef struct Worker {
    const Impl *m;
    int seed;
    bool shared;                /* all threads in one 1 MiB bucket */
    long ops;
    double cpu_ns;              /* the thread's CPU time */
    uint8_t sink;
} QEMU_ALIGNED(64) Worker;

static bool workers_stop;

/*
 * The control: the same worker loop over a "cache" that shares nothing
 * between threads (a pointer into one static page; no reverse lookup, no
 * unlock).  Its 2-thread / 1-thread ratio is what the machine gives two
 * threads at that moment; on a loaded host it is well below 2.
 */
static uint8_t ctl_page[4096];

static uint8_t *ctl_map(hwaddr addr, hwaddr size, uint8_t lock, bool dma)
{
    return ctl_page + (addr & 0xfff);
}

static const Impl ctl_impl = { "control", ctl_map };

static void *worker(void *opaque)
{
    Worker *w = opaque;
    unsigned int s = w->seed;
    struct timespec ts;

    rcu_register_thread();
    while (!qatomic_read(&workers_stop)) {
        hwaddr gpa;
        uint8_t *p;

        s = s * 1103515245 + 12345;
        if (w->shared) {
            gpa = 16 * MiB + ((hwaddr)(s >> 8) % 255) * 4096;
        } else {
            /* a 16 MiB region per thread: distinct buckets */
            gpa = (hwaddr)w->seed * 16 * MiB +
                  ((hwaddr)(s >> 8) % (16 * MiB - 4096) & ~0xfffULL);
        }
        /* address_space_map(): qemu_ram_ptr_length() under RCU */
        WITH_RCU_READ_LOCK_GUARD() {
            p = w->m->map(gpa, 4096, 1, true);
        }
        w->sink += *p;
        /* address_space_unmap(): qemu_ram_block_from_host() under RCU */
        WITH_RCU_READ_LOCK_GUARD() {
            if (w->m->reverse && w->m->reverse(p) != gpa) {
                fprintf(stderr, "%s: wrong reverse lookup\n", w->m->name);
                exit(1);
            }
        }
        /* ... then xen_invalidate_map_cache_entry(), outside RCU */
        if (w->m->unlock) {
            w->m->unlock(p);
        }
        w->ops++;
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    w->cpu_ns = ts.tv_sec * 1e9 + ts.tv_nsec;
    rcu_unregister_thread();
    return NULL;
}

/*
 * Throughput in Mops/s of wall time, and in Mops per CPU-second in
 * *@per_cpu: the second does not depend on how much CPU a loaded host
 * gives the threads, and drops when they contend (a line bouncing
 * between CPUs, a mutex handed over).
 */
static double bench_threads_once(const Impl *m, int nthreads, bool shared,
                                 int ms, double *per_cpu)
{
    QemuThread th[8];
    Worker w[8];
    double t0, secs, cpu = 0;
    long total = 0;
    int i;

    qatomic_set(&workers_stop, false);
    t0 = now_ns();
    for (i = 0; i < nthreads; i++) {
        w[i] = (Worker){ m, i + 1, shared, 0 };
        qemu_thread_create(&th[i], "bench", worker, &w[i],
                           QEMU_THREAD_JOINABLE);
    }
    g_usleep(ms * 1000);
    qatomic_set(&workers_stop, true);
    for (i = 0; i < nthreads; i++) {
        qemu_thread_join(&th[i]);
        total += w[i].ops;
        cpu += w[i].cpu_ns;
    }
    secs = (now_ns() - t0) / 1e9;
    *per_cpu = total / (cpu / 1e9) / 1e6;
    return total / secs / 1e6;
}

/* Throughput in Mops/s: the best of RUNS runs, after a warm-up run. */
static double bench_threads(const Impl *m, int nthreads, bool shared,
                            double *per_cpu)
{
    double t[RUNS], c[RUNS];
    int r;

    bench_threads_once(m, nthreads, shared, 100, &c[0]);
    for (r = 0; r < RUNS; r++) {
        t[r] = -bench_threads_once(m, nthreads, shared, 200, &c[r]);
        c[r] = -c[r];
    }
    *per_cpu = -best(c, RUNS);
    return -best(t, RUNS);
}

/* Run the measurement group @what?  All unless argv[1] names one. */
static const char *only;

static bool want(const char *what)
{
    return !only || strstr(what, only);
}

int main(int argc, char **argv)
{
    static const int depths[] = { 1, 32, 1024, 65536 };
    double v[2], rv[2], cv[2], raw;
    double best_rev[ARRAY_SIZE(depths)][2], best_cyc[ARRAY_SIZE(depths)][2];
    char name[64];
    int i, d, pass;

    only = argc > 1 ? argv[1] : NULL;
    mcb_init(RAM, 0);
    stock_xen_map_cache_init(NULL, NULL);
    xen_map_cache_init(NULL, NULL);
    /* touch guest RAM once so that the pattern fill is not timed */
    for (i = 0; i < 2; i++) {
        bench_miss(&impls[i]);
    }

    if (want("hit")) {
        double probe = 0, hit[2][2] = { { 0 } };    /* [size 0/8][impl] */

        probe_init();
        for (i = 0; i < 2; i++) {
            bench_hit(&impls[i], 0);        /* warm up */
        }
        /* the probe and the caches alternate, so a busy spell hits all */
        for (pass = 0; pass < PASSES; pass++) {
            v[0] = bench_hit(&probe_impl, 8);
            probe = pass ? MIN(probe, v[0]) : v[0];
            for (d = 0; d < 2; d++) {
                for (i = 0; i < 2; i++) {
                    v[i] = bench_hit(&impls[i], d * 8);
                    hit[d][i] = pass ? MIN(hit[d][i], v[i]) : v[i];
                }
            }
        }
        row("bare hash probe (same call, no cache)", probe, probe, "ns/op");
        row("forward hit, size 0 (qemu_map_ram_ptr)", hit[0][0], hit[0][1],
            "ns/op");
        row("forward hit, size 8 (flatview_read)", hit[1][0], hit[1][1],
            "ns/op");
    }

    if (want("miss")) {
        double miss[2] = { 0, 0 };

        /* the floor and the misses alternate, as the hits do */
        for (pass = 0; pass < PASSES; pass++) {
            v[0] = bench_raw_map();
            raw = pass ? MIN(raw, v[0]) : v[0];
            for (i = 0; i < 2; i++) {
                v[i] = bench_miss(&impls[i]);
                miss[i] = pass ? MIN(miss[i], v[i]) : v[i];
            }
        }
        row("raw foreign map of 1 MiB + touch (floor)", raw, raw, "ns/op");
        row("miss: map a new bucket + touch", miss[0], miss[1], "ns/op");
        /* within the noise of the floor when it is near or below zero */
        row("miss cost over the floor", miss[0] - raw, miss[1] - raw,
            "ns/op");
    }

    /*
     * Several passes over all depths, the best of each kept: a burst of
     * other work on the machine then hits one pass, not one depth.
     */
    for (pass = 0; pass < PASSES && want("locked"); pass++) {
        for (d = 0; d < ARRAY_SIZE(depths); d++) {
            for (i = 0; i < 2; i++) {
                bench_locked(&impls[i], depths[d], &rv[i], &cv[i]);
                best_rev[d][i] = pass ? MIN(best_rev[d][i], rv[i]) : rv[i];
                best_cyc[d][i] = pass ? MIN(best_cyc[d][i], cv[i]) : cv[i];
            }
        }
    }
    for (d = 0; d < ARRAY_SIZE(depths) && want("locked"); d++) {
        snprintf(name, sizeof(name), "reverse lookup, %d locked", depths[d]);
        row(name, best_rev[d][0], best_rev[d][1], "ns/op");
        snprintf(name, sizeof(name), "unlock + map, %d locked", depths[d]);
        row(name, best_cyc[d][0], best_cyc[d][1], "ns/op");
    }
    for (d = 16; d <= 1024 && want("invalidate"); d *= 64) {
        for (i = 0; i < 2; i++) {
            v[i] = bench_invalidate(&impls[i], d);
        }
        snprintf(name, sizeof(name), "invalidate, %d entries", d);
        row(name, v[0], v[1], "us/op");
    }
    for (pass = 0; pass < 2 && want("thread"); pass++) {
        for (d = 1; d <= 2; d++) {
            for (i = 0; i < 2; i++) {
                v[i] = bench_threads(&impls[i], d, pass, &cv[i]);
            }
            snprintf(name, sizeof(name), "DMA map+unmap, %d thread%s, %s", d,
                     d > 1 ? "s" : "", pass ? "shared bucket" : "distinct");
            row(name, v[0], v[1], "Mops/s");
            snprintf(name, sizeof(name), "DMA per CPU-second, %d thread%s, %s",
                     d, d > 1 ? "s" : "", pass ? "shared" : "distinct");
            row(name, cv[0], cv[1], "Mops/cpu-s");
            v[0] = bench_threads(&ctl_impl, d, pass, &cv[0]);
            snprintf(name, sizeof(name), "control (shares nothing), %d "
                     "thread%s, %s", d, d > 1 ? "s" : "",
                     pass ? "shared" : "distinct");
            row(name, v[0], v[0], "Mops/s");
        }
    }
    return 0;
}
