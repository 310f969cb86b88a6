/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ahci-workload: the "vcpus" phase (--vcpus N, N > 1): the guest issuing
 * from several vCPUs at once.
 *
 * vCPU 0 (the main thread, the AHCI driver) runs NCQ read batches, the
 * device's DMA into guest RAM, while vCPUs 1..N-1, each a thread with its
 * own control connection (`cpu K`), make synchronous accesses in a loop:
 * a PIO read of the Xen platform device's magic (port 0x10), an MMIO
 * read of the HBA's version register, `rep insb` from CMOS RAM into a
 * page of guest RAM and `rep outsb` from it to the POST port (both
 * data_is_ptr: the device model copies through its map cache).  Between
 * batches dom0 balloons a page out and back, which leaves an invalidation
 * pending on every vCPU (Xen's per-vCPU mapcache_invalidate), sent by
 * each before its next access.  At the end, with the helpers stopped, one
 * more balloon must leave all N vCPUs pending, and one access on each
 * must clear them, with the hv's ioreq_invalidate up by exactly N.
 *
 * Invariants: a helper touches only its own page of guest RAM (below the
 * driver's structures), read-only registers and CMOS byte VCPUS_CMOS,
 * whose value vCPU 0 writes before the helpers start; `st` and rnd()
 * belong to the main thread; every helper stops when `stop` is set and
 * every wait is bounded by the vCPU connection's deadline.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workload.h"

#define VCPUS_BUF       0x180000ull     /* + 4 KiB per vCPU, below 2 MiB */
#define VCPUS_MAX       128
#define VCPUS_CMOS      0x40            /* CMOS RAM: QEMU's, not Xen's */
#define VCPUS_CMOS_VAL  0x5c
#define VCPUS_STR_LEN   512             /* bytes per rep insb/outsb */
#define VCPUS_BATCHES   12
#define XEN_PLATFORM_MAGIC 0x49d2
#define AHCI_VS         0x10

typedef struct Helper {
    pthread_t thread;
    unsigned cpu;
    Vcpu v;
    uint64_t rounds;
    unsigned errors;
    char first_error[256];
} Helper;

static atomic_bool stop;

static void helper_error(Helper *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void helper_error(Helper *h, const char *fmt, ...)
{
    va_list ap;

    if (!h->errors++) {
        va_start(ap, fmt);
        vsnprintf(h->first_error, sizeof(h->first_error), fmt, ap);
        va_end(ap);
    }
}

static void *helper_run(void *opaque)
{
    Helper *h = opaque;
    uint64_t buf = VCPUS_BUF + 4096ull * h->cpu, val = 0;
    uint8_t got[VCPUS_STR_LEN];
    size_t i;

    while (!atomic_load(&stop) && h->errors < 8) {
        if (vcpu_cmd(&h->v, &val, "inw 0x10") < 0 ||
            val != XEN_PLATFORM_MAGIC) {
            helper_error(h, "PIO inw 0x10 = %#" PRIx64 " (want %#x): %s",
                         val, XEN_PLATFORM_MAGIC, h->v.err);
        }
        if (vcpu_cmd(&h->v, &val, "readl %#" PRIx64,
                     ahci.abar + AHCI_VS) < 0 || val < 0x10000) {
            helper_error(h, "MMIO AHCI VS = %#" PRIx64 " at %#" PRIx64
                         ": %s", val, ahci.abar + AHCI_VS, h->v.err);
        }
        memset(got, 0, sizeof(got));
        if (vcpu_memwrite(&h->v, buf, got, sizeof(got)) < 0 ||
            vcpu_cmd(&h->v, NULL, "insb 0x71 %#" PRIx64 " %d", buf,
                     VCPUS_STR_LEN) < 0 ||
            vcpu_memread(&h->v, buf, got, sizeof(got)) < 0) {
            helper_error(h, "rep insb into %#" PRIx64 ": %s", buf,
                         h->v.err);
        } else {
            for (i = 0; i < sizeof(got) && got[i] == VCPUS_CMOS_VAL; i++) {
            }
            if (i < sizeof(got)) {
                helper_error(h, "rep insb: byte %zu is %#x, not %#x", i,
                             got[i], VCPUS_CMOS_VAL);
            }
        }
        if (vcpu_cmd(&h->v, NULL, "outsb 0x80 %#" PRIx64 " %d", buf,
                     VCPUS_STR_LEN) < 0) {
            helper_error(h, "rep outsb from %#" PRIx64 ": %s", buf,
                         h->v.err);
        }
        h->rounds++;
    }
    return NULL;
}

/* Balloon one page out and back in, as dom0 would. */
static int balloon_cycle(uint64_t gfn)
{
    if (vcpu_cmd(&vcpu0, NULL, "balloon %#" PRIx64 " 1", gfn) < 0 ||
        vcpu_cmd(&vcpu0, NULL, "populate %#" PRIx64 " 1", gfn) < 0) {
        printf("   ERROR balloon: %s\n", vcpu0.err);
        st.errors++;
        return -1;
    }
    return 0;
}

/* After the helpers stopped: each vCPU's invalidation is its own. */
static int check_per_vcpu_invalidate(Helper *h, unsigned n, uint64_t gfn)
{
    HvCounters c0, c1;
    uint64_t pending, want = (n == 64 ? 0 : 1ull << n) - 1, val, sent;
    unsigned i;
    int ret = 0;

    if (vcpu_counters(&vcpu0, &c0) < 0 || balloon_cycle(gfn) < 0 ||
        vcpu_invalidate_pending(&vcpu0, &pending) < 0) {
        printf("   ERROR invalidate check: %s\n", vcpu0.err);
        return -1;
    }
    if ((pending & want) != want) {
        printf("   ERROR after a balloon, invalidations pending on vCPUs "
               "%#" PRIx64 ", want %#" PRIx64 "\n", pending, want);
        ret = -1;
    }
    for (i = 0; i < n; i++) {
        Vcpu *v = i ? &h[i].v : &vcpu0;

        if (vcpu_cmd(v, &val, "inw 0x10") < 0) {
            printf("   ERROR vCPU %u: %s\n", i, v->err);
            return -1;
        }
    }
    if (vcpu_invalidate_pending(&vcpu0, &pending) < 0 ||
        vcpu_counters(&vcpu0, &c1) < 0) {
        printf("   ERROR invalidate check: %s\n", vcpu0.err);
        return -1;
    }
    sent = hv_counter(&c1, "ioreq_invalidate") -
           hv_counter(&c0, "ioreq_invalidate");
    if (pending & want || sent != n) {
        printf("   ERROR after one access per vCPU: pending %#" PRIx64
               ", %" PRIu64 " invalidates sent (want %u, one per vCPU)\n",
               pending & want, sent, n);
        ret = -1;
    }
    if (ret == 0) {
        printf("   per-vCPU invalidate: all %u vCPUs pending after a "
               "balloon, %" PRIu64 " sent, one before each vCPU's next "
               "access\n", n, sent);
    }
    return ret;
}

/* NCQ reads on vCPU 0, verified; balloons between batches. */
static int driver_batches(uint64_t gfn, unsigned *balloons)
{
    uint64_t hot = hot_index();
    unsigned k;

    for (k = 0; k < VCPUS_BATCHES; k++) {
        Batch b = { 0 };
        unsigned misses = 0;

        while (b.n < ahci.nslots && misses < 64) {
            uint32_t sectors = random_sectors();
            uint64_t lba = rnd_range(0, disk_bytes / 512 - sectors);

            if (!add_random_cmd(&b, ATA_READ_FPDMA, lba, sectors, 4,
                                hot - 4 * MIB, hot + 4 * MIB)) {
                misses++;
            }
        }
        if (run_batch(&b, true) == FATAL) {
            return FATAL;
        }
        if (k % 2 == 0) {
            if (balloon_cycle(gfn) < 0) {
                return FATAL;
            }
            ++*balloons;
        }
    }
    return 0;
}

int phase_vcpus(void)
{
    static Helper h[VCPUS_MAX];
    unsigned n = opt.vcpus, i, started, balloons = 0;
    uint64_t gfn = (ram_end >> 12) - 16;    /* no phase's buffer */
    int ret;

    if (n < 2 || n > VCPUS_MAX) {
        printf("   ERROR --vcpus %u: 2..%d\n", n, VCPUS_MAX);
        return -1;
    }
    if (vcpu_cmd(&vcpu0, NULL, "outb 0x70 %#x", VCPUS_CMOS) < 0 ||
        vcpu_cmd(&vcpu0, NULL, "outb 0x71 %#x", VCPUS_CMOS_VAL) < 0) {
        printf("   ERROR CMOS: %s\n", vcpu0.err);
        return -1;
    }
    atomic_store(&stop, false);
    for (started = 1; started < n; started++) {
        Helper *p = &h[started];

        memset(p, 0, sizeof(*p));
        p->cpu = started;
        if (vcpu_open(&p->v, opt.control, opt.timeout_ms) < 0 ||
            vcpu_cmd(&p->v, NULL, "cpu %u", started) < 0) {
            printf("   ERROR vCPU %u: %s\n", started, p->v.err);
            vcpu_close(&p->v);
            break;
        }
        vcpu_share_ram(&p->v, &vcpu0);
        if (pthread_create(&p->thread, NULL, helper_run, p)) {
            printf("   ERROR vCPU %u: no thread\n", started);
            vcpu_close(&p->v);
            break;
        }
    }
    ret = started == n ? driver_batches(gfn, &balloons) : -1;
    atomic_store(&stop, true);
    for (i = 1; i < started; i++) {
        pthread_join(h[i].thread, NULL);
        printf("   vCPU %u: %" PRIu64 " rounds of PIO, MMIO, rep insb/outsb"
               ", %u errors%s%s\n", i, h[i].rounds, h[i].errors,
               h[i].errors ? ": " : "", h[i].first_error);
        if (h[i].errors || !h[i].rounds) {
            st.errors++;
        }
    }
    printf("   vCPU 0: %u NCQ batches, %u balloons meanwhile\n",
           VCPUS_BATCHES, balloons);
    if (ret == 0 && check_per_vcpu_invalidate(h, n, gfn) < 0) {
        st.errors++;
    }
    for (i = 1; i < started; i++) {
        vcpu_close(&h[i].v);
    }
    return ret;
}
