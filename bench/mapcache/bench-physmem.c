/*
 * Benchmark of physmem.c's Xen DMA path: a map through
 * qemu_ram_ptr_length() and address_space_unmap(), the functions cut out
 * of our physmem.c (mk/physmem-slice.py) over our map cache, from one and
 * from two threads on distinct buckets.  run.sh builds it twice: with
 * today's physmem.c and with its address_space_unmap() notifying the map
 * clients unconditionally (what main did before), and prints both.
 *
 * Copyright (c) 2026 Xen DM Developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Prints "name<TAB>value<TAB>unit" lines; nothing here asserts on time.
 */

#include "qemu/osdep.h"
#include "qemu/thread.h"
#include "test-xen-physmem-harness.h"

#define RUNS    9

typedef struct Worker {
    int seed;
    long ops;
    uint8_t sink;
} QEMU_ALIGNED(64) Worker;

static bool stop;
static unsigned long client_lock_takes;
static QemuMutexLockFunc real_mutex_lock;

static void counting_mutex_lock(QemuMutex *m, const char *file, int line)
{
    if (m == &map_client_list_lock) {
        qatomic_inc(&client_lock_takes);
    }
    real_mutex_lock(m, file, line);
}

/* One DMA transfer of a page: address_space_map(), then _unmap(). */
static void dma_page(Worker *w, unsigned int s)
{
    /* an 8 MiB region of xen.ram per thread: distinct buckets */
    hwaddr gpa = (hwaddr)w->seed * 8 * MiB +
                 ((hwaddr)(s >> 8) % (8 * MiB - 4096) & ~0xfffULL);
    hwaddr l = 4096;
    uint8_t *p;

    WITH_RCU_READ_LOCK_GUARD() {
        p = qemu_ram_ptr_length(&ram_block, gpa, &l, true);
    }
    w->sink += *p;
    address_space_unmap(&as, p, l, false, 0);
    w->ops++;
}

static void *worker(void *opaque)
{
    Worker *w = opaque;
    unsigned int s = w->seed;

    rcu_register_thread();
    while (!qatomic_read(&stop)) {
        s = s * 1103515245 + 12345;
        dma_page(w, s);
    }
    rcu_unregister_thread();
    return NULL;
}

static double run_once(int nthreads, int ms)
{
    QemuThread th[2];
    Worker w[2];
    long total = 0;
    gint64 t0 = g_get_monotonic_time();
    int i;

    qatomic_set(&stop, false);
    for (i = 0; i < nthreads; i++) {
        w[i] = (Worker){ .seed = i + 1 };
        qemu_thread_create(&th[i], "dma", worker, &w[i],
                           QEMU_THREAD_JOINABLE);
    }
    g_usleep(ms * 1000);
    qatomic_set(&stop, true);
    for (i = 0; i < nthreads; i++) {
        qemu_thread_join(&th[i]);
        total += w[i].ops;
    }
    return total / ((g_get_monotonic_time() - t0) / 1e6) / 1e6;
}

int main(int argc, char **argv)
{
    Worker w = { .seed = 1 };
    double best;
    int n, r, i;

    setup();
    run_once(2, 100);                           /* map every bucket once */
    for (n = 1; n <= 2; n++) {
        best = 0;
        for (r = 0; r < RUNS; r++) {
            best = MAX(best, run_once(n, 200));
        }
        printf("DMA map+unmap via physmem, %d thread%s\t%.2f\tMops/s\n", n,
               n > 1 ? "s" : "", best);
    }

    real_mutex_lock = qatomic_read(&qemu_mutex_lock_func);
    qatomic_set(&qemu_mutex_lock_func, counting_mutex_lock);
    for (i = 0; i < 100000; i++) {
        dma_page(&w, i * 2654435761u);
    }
    qatomic_set(&qemu_mutex_lock_func, real_mutex_lock);
    printf("map client lock taken per unmap\t%.2f\tper op\n",
           (double)client_lock_takes / w.ops);
    return 0;
}
