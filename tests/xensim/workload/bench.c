/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ahci-workload --bench: timed NCQ reads (seq, rand, cross, seq1m) at a
 * queue depth, with the device model's CPU time and the hv's counters
 * per I/O.  Only issue to completion is timed; verification runs
 * between batches.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

/*
 * Benchmark: NCQ reads, sequential (128 KiB, as 32 scattered 4 KiB
 * pages, as a guest's page cache hands them over) or random (4 KiB),
 * into a 64 MiB page cache at 16 MiB; or "cross": random 4 KiB into any
 * even address of the 8 MiB around the hot index, half of them across
 * a 1 MiB border (2 MiB mappings next to 1 MiB ones).  At a depth, for
 * opt.bench_secs each.  Only issue-to-completion is timed; verification
 * runs between batches, untimed.  A warm-up pass first reads into every
 * page of both areas once, so the figures are the steady state, not
 * the first touch of each page (which xensim's lazily faulted mappings
 * make far dearer than Xen's privcmd does).
 */
#define BENCH_LO        (16 * MIB)
#define BENCH_HI        (80 * MIB)

/* Read into every page of [gpa, end) once. */
static int warm(uint64_t gpa, uint64_t end, uint64_t *ios)
{
    uint64_t lba = 0;

    while (gpa < end) {
        Batch b = { 0 };
        unsigned i, p;

        for (i = 0; i < ahci.nslots && gpa < end; i++) {
            unsigned first = b.npieces;

            for (p = 0; p < 32; p++, gpa += 4096 + 2 * GUARD) {
                b.piece[b.npieces].gpa = gpa;
                b.piece[b.npieces++].len = 4096;
            }
            add_cmd(&b, ATA_READ_FPDMA, lba, 256, first);
            lba += 256;
        }
        if (run_batch(&b, true) < 0) {
            return -1;
        }
        *ios += b.n;
    }
    return 0;
}

static int bench_warmup(void)
{
    uint64_t ios = 0;
    HvCounters c0, c1;

    if (vcpu_counters(&vcpu0, &c0) < 0) {
        printf("   ERROR counters: %s\n", vcpu0.err);
        return -1;
    }
    if (warm(BENCH_LO, BENCH_HI, &ios) < 0 ||
        warm(hot_index() - 5 * MIB, hot_index() + 5 * MIB, &ios) < 0) {
        return -1;
    }
    if (vcpu_counters(&vcpu0, &c1) < 0) {
        printf("   ERROR counters: %s\n", vcpu0.err);
        return -1;
    }
    printf("bench warm-up ios=%" PRIu64 " maps=%" PRIu64 " map_pages=%"
           PRIu64 " unmaps=%" PRIu64 "\n", ios,
           hv_counter(&c1, "fmem_maps") - hv_counter(&c0, "fmem_maps"),
           hv_counter(&c1, "fmem_map_pages") -
           hv_counter(&c0, "fmem_map_pages"),
           hv_counter(&c1, "fmem_unmaps") - hv_counter(&c0, "fmem_unmaps"));
    return 0;
}

/* CPU time (user + system, all threads) the device model has used, in
 * microseconds; -1 if unknown.  Less at the mercy of other load on the
 * host than wall-clock figures. */
static double dm_cpu_us(void)
{
    char path[64], buf[1024], *p;
    unsigned long long ut, stime;
    FILE *f;
    size_t n;

    if (opt.qemu_pid <= 0) {
        return -1;
    }
    snprintf(path, sizeof(path), "/proc/%d/stat", opt.qemu_pid);
    f = fopen(path, "r");
    if (!f) {
        return -1;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    p = strrchr(buf, ')');
    /* After ") ": state and 10 more fields, then utime and stime. */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                     "%llu %llu", &ut, &stime) != 2) {
        return -1;
    }
    return (ut + stime) * 1e6 / sysconf(_SC_CLK_TCK);
}

typedef enum BenchKind {
    BENCH_SEQ,          /* 128 KiB, 32 pages */
    BENCH_RAND,         /* 4 KiB, one page */
    BENCH_CROSS,        /* 4 KiB at any even address around the hot index,
                         * half across a 1 MiB border */
    BENCH_SEQ1M,        /* 1 MiB into one buffer (a page-aligned 1 MiB
                         * spans two buckets) */
} BenchKind;

static int bench(const char *name, BenchKind kind, unsigned depth)
{
    bool seq = kind == BENCH_SEQ || kind == BENCH_SEQ1M;
    uint32_t sectors = kind == BENCH_SEQ1M ? 2048 : seq ? 256 : 8;
    uint64_t lo = BENCH_LO, hi = BENCH_HI, next = 0;
    uint64_t ios = 0, bytes = 0;
    double busy = 0, t_end = now_s() + opt.bench_secs, cpu0 = dm_cpu_us();
    HvCounters c0, c1;

    if (vcpu_counters(&vcpu0, &c0) < 0) {
        printf("   ERROR counters: %s\n", vcpu0.err);
        return -1;
    }
    while (now_s() < t_end) {
        Batch b = { 0 };
        uint32_t mask = depth == 32 ? ~0u : (1u << depth) - 1;
        double t0;
        unsigned i, p;

        for (i = 0; i < depth; i++) {
            uint64_t lba;
            unsigned first = b.npieces;

            if (seq) {
                lba = next;
                next = (next + sectors) % (disk_bytes / 512 - sectors);
            } else {
                lba = rnd_range(0, disk_bytes / 512 / 8) * 8;
            }
            if (kind == BENCH_SEQ1M) {
                /* apart by more than the guards, 32 fit in the area */
                b.piece[b.npieces].gpa = lo + i * (MIB + 8192);
                b.piece[b.npieces++].len = MIB;
                add_cmd(&b, ATA_READ_FPDMA, lba, sectors, first);
                continue;
            }
            for (p = 0; p < sectors / 8; p++) {
                bool ok = kind == BENCH_CROSS ?
                          place(&b, 4096, hot_index() - 4 * MIB,
                                hot_index() + 4 * MIB, 2, 2) :
                          place(&b, 4096, lo, hi, 0, 4096);

                if (!ok) {
                    printf("   ERROR cannot place buffers\n");
                    return -1;
                }
            }
            add_cmd(&b, ATA_READ_FPDMA, lba, sectors, first);
        }
        if (prepare(&b) < 0) {
            return -1;
        }
        t0 = now_s();
        if (ahci_issue(&ahci, b.cmd, b.n, 0) < 0 ||
            ahci_wait(&ahci, mask, true, NULL) < 0) {
            return device_error();
        }
        busy += now_s() - t0;
        account(&b);
        ios += b.n;
        bytes += b.n * sectors * 512ull;
        if (verify(&b) < 0) {
            return -1;
        }
    }
    if (vcpu_counters(&vcpu0, &c1) < 0) {
        printf("   ERROR counters: %s\n", vcpu0.err);
        return -1;
    }
    printf("bench %s depth=%u ios=%" PRIu64 " bytes=%" PRIu64
           " secs=%.3f iops=%.0f mbps=%.2f dm_cpu_us_per_io=%.1f "
           "ioreqs_per_io=%.2f maps_per_io=%.3f unmaps_per_io=%.3f "
           "map_pages_per_io=%.2f\n", name, depth, ios, bytes, busy,
           ios / busy, bytes / busy / 1e6,
           cpu0 < 0 ? -1.0 : (dm_cpu_us() - cpu0) / ios,
           (double)(hv_counter(&c1, "ioreq_copy") +
                    hv_counter(&c1, "ioreq_pio") -
                    hv_counter(&c0, "ioreq_copy") -
                    hv_counter(&c0, "ioreq_pio")) / ios,
           (double)(hv_counter(&c1, "fmem_maps") -
                    hv_counter(&c0, "fmem_maps")) / ios,
           (double)(hv_counter(&c1, "fmem_unmaps") -
                    hv_counter(&c0, "fmem_unmaps")) / ios,
           (double)(hv_counter(&c1, "fmem_map_pages") -
                    hv_counter(&c0, "fmem_map_pages")) / ios);
    fflush(stdout);
    return 0;
}

/* --bench-set: a comma-separated list of warmup, seq:DEPTH, rand:DEPTH,
 * cross:DEPTH, seq1m:DEPTH. */
bool run_bench_set(void)
{
    char *list = strdup(opt.bench_set), *save = NULL, *w;
    bool ok = true;

    for (w = strtok_r(list, ",", &save); w && ok;
         w = strtok_r(NULL, ",", &save)) {
        unsigned depth = 0;
        char kind[8];
        static const struct {
            const char *kind, *name;
            BenchKind k;
        } kinds[] = {
            { "seq", "seq-128k", BENCH_SEQ },
            { "rand", "rand-4k", BENCH_RAND },
            { "cross", "cross-4k", BENCH_CROSS },
            { "seq1m", "seq-1m", BENCH_SEQ1M },
        };
        unsigned k = (sizeof(kinds) / sizeof(kinds[0]));

        if (!strcmp(w, "warmup")) {
            ok = bench_warmup() == 0;
        } else if (sscanf(w, "%7[a-z0-9]:%u", kind, &depth) == 2 &&
                   depth >= 1 && depth <= ahci.nslots) {
            for (k = 0; k < (sizeof(kinds) / sizeof(kinds[0])); k++) {
                if (!strcmp(kind, kinds[k].kind)) {
                    break;
                }
            }
        }
        if (k < (sizeof(kinds) / sizeof(kinds[0]))) {
            ok = bench(kinds[k].name, kinds[k].k, depth) == 0;
        } else if (strcmp(w, "warmup")) {
            printf("   ERROR --bench-set: '%s'\n", w);
            ok = false;
        }
    }
    free(list);
    return ok;
}

