/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ahci-workload: a guest's disk workload on xensim's simulated vCPU, for
 * QEMU's AHCI device model (see ../README-workload.md).
 *
 *   ahci-workload --mkimage IMG MiB
 *   ahci-workload --disk IMG [--control SOCK] [--qmp SOCK] [options]
 *
 * Phases: identify; READ DMA EXT one at a time; NCQ READ/WRITE FPDMA
 * QUEUED batches of up to 32 commands whose PRDT buffers share a few
 * 1 MiB guest regions, some crossing 1 MiB borders; "overlap", the
 * transfer pattern of the 2017 map cache bug report (a 2 MiB mapping and
 * 1 MiB ones of the same index alive at once, with a CPU access to that
 * index in between); a final flush and comparison of the image file.
 * --bench replaces the phases by timed sequential and random NCQ reads.
 *
 * Invariants: the image file must hold the --mkimage pattern at start
 * (checked); the workload knows what every disk byte must be (pattern,
 * or the data of a completed write, kept per sector); every byte a read
 * brings into guest RAM is compared with it, and so are 64-byte poisoned
 * guards around every read buffer; a write counts once the device
 * reports it done, and
 * within one batch no command's LBA range overlaps a write's and no
 * buffer (with guards) overlaps another, so the expected contents never
 * depend on the order the device chooses.  Every wait has a deadline.
 * Exit status: 0 all verified, 1 a mismatch or device error, 2 usage or
 * environment.
 *
 * This file: options, the shared state (workload.h), the phase runner;
 * image.c, phases.c and bench.c do the rest.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

Opts opt = {
    .drive = "ahcidisk-0", .msi = true, .seed = 1, .batches = 48,
    .dma_ext = 16, .timeout_ms = 20000,
    .bench_set = "warmup,seq:1,seq:32,rand:1,rand:32,cross:32",
};
Vcpu vcpu0;
Ahci ahci;
Stats st;
uint64_t disk_bytes;
uint64_t ram_end;        /* guest RAM below 4 GiB */
static uint64_t rng_state;
unsigned reports;

uint64_t rnd(void)
{
    /* splitmix64: reproducible from --seed. */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t rnd_range(uint64_t lo, uint64_t hi)   /* [lo, hi) */
{
    return lo + rnd() % (hi - lo);
}

double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Counter deltas for the summary. */
static const char *const shown[] = {
    "ioreq_copy", "ioreq_pio", "ioreq_pci_config", "ioreq_buffered",
    "ioreq_invalidate", "ioreq_timeouts", "fmem_maps", "fmem_unmaps",
    "fmem_map_pages", "fmem_map_failures", "msis", "pci_intx_changes",
    "dm_bugs",
};

void print_counters(const char *prefix, const HvCounters *a,
                    const HvCounters *b)
{
    unsigned i;

    for (i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
        printf("%s%s=%" PRIu64, i ? " " : prefix, shown[i],
               hv_counter(b, shown[i]) - hv_counter(a, shown[i]));
    }
    printf("\n");
}

static void usage(void)
{
    fprintf(stderr,
"usage: ahci-workload --mkimage IMG MiB\n"
"       ahci-workload --disk IMG [options]\n"
"  --control SOCK   xensim-hv control socket ($XENSIM_CONTROL)\n"
"  --qmp SOCK       QEMU's QMP socket ($XENSIM_QMP): throttles reads to\n"
"                   hold a transfer in flight in the overlap phase\n"
"  --qemu-pid PID   named in errors when the device model is gone\n"
"                   ($XENSIM_QEMU_PID)\n"
"  --domid N        guest domain ($XENSIM_DOMID): with $XENSIM_SOCKET,\n"
"                   guest RAM is mapped instead of read through the\n"
"                   control socket\n"
"  --drive ID       block backend to throttle (ahcidisk-0)\n"
"  --irq msi|intx   completion interrupt (msi)\n"
"  --seed N         random seed (1)\n"
"  --batches N      NCQ batches in the mixed phase (48)\n"
"  --timeout-ms T   per batch of commands (20000)\n"
"  --no-overlap     skip the map cache bug pattern\n"
"  --no-image-check trust the image (to test that mismatches are found)\n"
"  --vcpus N        N > 1: the vcpus phase, vCPUs 1..N-1 issuing PIO, MMIO\n"
"                   and rep string I/O while vCPU 0 runs NCQ batches\n"
"  --bench SECS     timed NCQ read benchmark instead of the phases\n"
"  --bench-set LIST what --bench runs, in order (warmup,seq:1,seq:32,\n"
"                   rand:1,rand:32,cross:32; also seq1m:DEPTH, 1 MiB\n"
"                   reads into one buffer each)\n");
}

static int parse(int argc, char **argv)
{
    static const struct option lo[] = {
        { "control", 1, NULL, 'c' }, { "qmp", 1, NULL, 'q' },
        { "disk", 1, NULL, 'd' }, { "qemu-pid", 1, NULL, 'p' },
        { "drive", 1, NULL, 'D' }, { "irq", 1, NULL, 'i' },
        { "seed", 1, NULL, 's' }, { "batches", 1, NULL, 'b' },
        { "timeout-ms", 1, NULL, 't' }, { "no-overlap", 0, NULL, 'n' },
        { "bench", 1, NULL, 'B' }, { "domid", 1, NULL, 'm' },
        { "bench-set", 1, NULL, 'S' },
        { "no-image-check", 0, NULL, 'I' }, { "vcpus", 1, NULL, 'V' },
        { "help", 0, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;

    opt.control = getenv("XENSIM_CONTROL");
    opt.qmp = getenv("XENSIM_QMP");
    if (getenv("XENSIM_QEMU_PID")) {
        opt.qemu_pid = atoi(getenv("XENSIM_QEMU_PID"));
    }
    if (getenv("XENSIM_DOMID")) {
        opt.domid = atoi(getenv("XENSIM_DOMID"));
    }
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'c':
            opt.control = optarg;
            break;
        case 'q':
            opt.qmp = *optarg ? optarg : NULL;
            break;
        case 'd':
            opt.disk = optarg;
            break;
        case 'p':
            opt.qemu_pid = atoi(optarg);
            break;
        case 'D':
            opt.drive = optarg;
            break;
        case 'i':
            if (strcmp(optarg, "msi") && strcmp(optarg, "intx")) {
                return -1;
            }
            opt.msi = !strcmp(optarg, "msi");
            break;
        case 's':
            opt.seed = strtoull(optarg, NULL, 0);
            break;
        case 'b':
            opt.batches = strtoul(optarg, NULL, 0);
            break;
        case 't':
            opt.timeout_ms = atoi(optarg);
            break;
        case 'n':
            opt.no_overlap = true;
            break;
        case 'B':
            opt.bench_secs = strtod(optarg, NULL);
            break;
        case 'm':
            opt.domid = atoi(optarg);
            break;
        case 'S':
            opt.bench_set = optarg;
            break;
        case 'I':
            opt.no_image_check = true;
            break;
        case 'V':
            opt.vcpus = atoi(optarg);
            break;
        default:
            return -1;
        }
    }
    if (optind != argc || !opt.disk || !opt.control ||
        opt.timeout_ms <= 0 || opt.bench_secs < 0) {
        return -1;
    }
    return 0;
}

/* Run a phase and print its result line. */
static bool phase(const char *name, int (*fn)(void))
{
    uint64_t e0 = st.errors, v0 = st.verified, n0 = st.ios;
    double t0 = now_s();
    int ret = fn();

    printf("phase %s: %s (%" PRIu64 " I/Os, %" PRIu64 " bytes verified, %"
           PRIu64 " errors, %.2f s)\n", name, ret == 0 && st.errors == e0 ?
           "ok" : "FAIL", st.ios - n0, st.verified - v0, st.errors - e0,
           now_s() - t0);
    fflush(stdout);
    return ret == 0 && st.errors == e0;
}

static bool overlap_ran, overlapped;

static int overlap_fn(void)
{
    overlap_ran = true;
    return phase_overlap(&overlapped);
}

int main(int argc, char **argv)
{
    HvCounters c0, c1;
    bool ok = true;
    double t0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 4 && !strcmp(argv[1], "--mkimage")) {
        return mkimage(argv[2], argv[3]);
    }
    if (parse(argc, argv) < 0) {
        usage();
        return 2;
    }
    rng_state = opt.seed;
    if (load_shadow() < 0) {
        return 2;
    }
    if (vcpu_open(&vcpu0, opt.control, 30000) < 0 ||
        vcpu_ram_below_4g(&vcpu0, &ram_end) < 0) {
        fprintf(stderr, "ahci-workload: %s\n", vcpu0.err);
        return 2;
    }
    if (ram_end < 128 * MIB) {
        fprintf(stderr, "ahci-workload: guest RAM below 4 GiB ends at %#"
                PRIx64 "; need 128 MiB\n", ram_end);
        return 2;
    }
    /* Bulk guest memory through a foreign mapping if we can have one;
     * taken before the counters, so it is not in any figure. */
    if (opt.domid && getenv("XENSIM_SOCKET") &&
        vcpu_map_ram(&vcpu0, opt.domid, MIB, ram_end) == 0) {
        printf("guest RAM %#" PRIx64 "-%#" PRIx64 " mapped (one foreign "
               "map, before the counters)\n", (uint64_t)MIB, ram_end);
    } else {
        printf("guest RAM through the control socket%s%s\n",
               vcpu0.err[0] ? ": " : "", vcpu0.err);
        vcpu0.err[0] = 0;
    }
    if (vcpu_counters(&vcpu0, &c0) < 0) {
        fprintf(stderr, "ahci-workload: %s\n", vcpu0.err);
        return 2;
    }
    t0 = now_s();
    ahci.qemu_pid = opt.qemu_pid;
    if (ahci_init(&ahci, &vcpu0, DRIVER_GPA, ABAR_GPA, opt.msi,
                  opt.timeout_ms) < 0 || ahci_identify(&ahci) < 0) {
        printf("phase init: FAIL: %s\n", ahci.err);
        return 1;
    }
    printf("phase init: ok: AHCI at 00:%02x.%x, ABAR %#" PRIx64 ", port %u,"
           " %u slots, %s (GSI %u); disk \"%s\", %" PRIu64 " sectors, NCQ "
           "%s depth %u; guest RAM to %#" PRIx64 ", hot index %#" PRIx64
           "\n", ahci.bdf >> 3, ahci.bdf & 7, ahci.abar, ahci.port,
           ahci.nslots, opt.msi ? "MSI" : "INTx", ahci.gsi, ahci.model,
           ahci.sectors, ahci.ncq ? "yes" : "NO", ahci.queue_depth,
           ram_end, hot_index() >> 20);
    if (ahci.sectors * 512 != disk_bytes || !ahci.ncq ||
        ahci.queue_depth < ahci.nslots) {
        printf("phase identify: FAIL: the device reports %" PRIu64
               " bytes (image %" PRIu64 "), NCQ %d depth %u\n",
               ahci.sectors * 512, disk_bytes, ahci.ncq, ahci.queue_depth);
        return 1;
    }
    if (opt.bench_secs > 0) {
        ok = run_bench_set();
    } else {
        ok = phase("read-dma-ext", phase_dma_ext);
        ok = ok && phase("ncq-mixed", phase_ncq_mixed);
        if (opt.vcpus > 1) {
            ok = ok && phase("vcpus", phase_vcpus);
        }
        if (ok && !opt.no_overlap) {
            ok = phase("overlap", overlap_fn);
        }
        ok = ok && phase("image", phase_image);
    }
    if (vcpu_counters(&vcpu0, &c1) < 0) {
        printf("ERROR counters: %s\n", vcpu0.err);
        ok = false;
    }
    printf("summary: ios=%" PRIu64 " bytes_read=%" PRIu64 " bytes_written=%"
           PRIu64 " verified=%" PRIu64 " max_inflight=%u errors=%" PRIu64
           " irqs=%" PRIu64 " overlap=%s secs=%.2f result=%s\n", st.ios,
           st.bytes_rd, st.bytes_wr, st.verified, ahci.max_inflight,
           st.errors, ahci.irqs,
           !overlap_ran ? "-" : overlapped ? "yes" : "no", now_s() - t0,
           ok ? "PASS" : "FAIL");
    if (c1.n) {
        print_counters("hv: ", &c0, &c1);
    }
    vcpu_close(&vcpu0);
    return ok ? 0 : 1;
}
