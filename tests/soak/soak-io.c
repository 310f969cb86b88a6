/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * soak-io: the guest side of the soak (tests/soak/README.md).  An AHCI
 * driver on a xensim vCPU that keeps all six ports of a Q35 guest's
 * ICH9 AHCI 32 NCQ commands deep, batch after batch, for --ios I/Os,
 * while it injects the faults a Xen host produces under a device model:
 * invalidate storms while commands are in flight, foreign maps that
 * fail, gfns that fail in a map's err[], pages ballooned out and
 * populated back.  Every sector read is checked against what the disk
 * must hold; at the end every sector of every image file.
 *
 *   soak-io --mkimage IMG DISK              write disk DISK's pattern
 *   soak-io --control SOCK --domid N --image IMG... [options]
 *
 * Invariants:
 *  - registers go through the hv control socket (each access an ioreq,
 *    pipelined where a driver would post writes); guest RAM contents
 *    through one foreign mapping of the driver's RAM (vcpu.h), made
 *    before the first fault;
 *  - no buffer of a batch overlaps another; no LBA range of a write
 *    overlaps any other command's of the same batch: the outcome does
 *    not depend on the order the device picks, and re-issuing a port's
 *    batch after an error is idempotent;
 *  - the "hole" pages (one per 8 MiB of the buffer window) are never a
 *    buffer: they are what gets ballooned out or made to fail in err[],
 *    so the map cache must keep serving the rest of their bucket;
 *  - a command the device fails (a map that failed under it) is an
 *    error the driver recovers from (stop and restart the port, issue
 *    the port's batch again) and counts as "recovered", never as a data
 *    error; a wrong byte, a command that never completes after three
 *    tries, or a device model that stops answering is a failure;
 *  - at the end every port is stopped, its FIS receive too, so that the
 *    device holds no mapping of the driver's RAM any more;
 *  - every --report-every I/Os a "progress" line goes to stdout; with
 *    --pause-at N the driver stops after the batch that reaches N with
 *    nothing in flight, prints "pause ios=N" and waits for a line on
 *    stdin (the orchestrator saves and restores the device model then).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../xensim/workload/vcpu.h"

#define PORTS           6
#define SLOTS           32
#define SECTOR          512
#define DISK_SECTORS    32768u          /* 16 MiB a disk */
#define MAX_SECTORS     32              /* per command */
#define MIB             (1ull << 20)

/* Guest RAM (the guest has 512 MiB). */
#define DRV_BASE        0x200000ull     /* per port: CLB, FIS, tables */
#define PORT_RAM        0x10000ull
#define CT_OFF          0x1000ull
#define CT_SIZE         0x200ull        /* FIS, ACMD, 8 PRDs */
#define WIN_LO          0x2000000ull    /* PRD buffers */
#define WIN_HI          0x8000000ull
#define HOLE_EVERY      (8 * MIB)
#define HOLE_OFF        0x80000ull      /* mid-bucket */
#define NHOLES          ((WIN_HI - WIN_LO) / HOLE_EVERY)
#define ABAR            0xf1000000ull
#define RAM_LO          0x100000ull     /* the driver maps from 1 MiB */

/* Fault kinds (--faults). */
#define FAULT_INVALIDATE    1u
#define FAULT_MAP_FAIL      2u
#define FAULT_PAGE_ERROR    4u
#define FAULT_BALLOON       8u

/* PxIS bits that end a command in error: TFES HBFS HBDS IFS OFS INFS */
#define PXIS_ERR        0x7d000000u

typedef struct Cmd {
    bool write;
    uint32_t lba, count;
    uint64_t gpa;
    uint32_t gen;                       /* the write's generation */
} Cmd;

typedef struct Soak {
    Vcpu vcpu;
    CtlClient *c;
    uint8_t *ram;                       /* guest [RAM_LO, WIN_HI) */
    uint32_t bdf;
    uint32_t *gen[PORTS];               /* per sector: 0 = the pattern */
    uint32_t next_gen;
    uint64_t rng;
    Cmd cmd[PORTS][SLOTS];

    /* options */
    uint64_t ios_target, report_every, pause_at;
    int timeout_ms;
    bool faults;
    unsigned kinds;                     /* FAULT_* of --faults */
    const char *image[PORTS];

    /* figures */
    uint64_t ios, sectors_verified, data_errors, recovered, timeouts;
    uint64_t device_errors;             /* commands the device failed */
    uint64_t storms, invalidates, map_fails, page_errors, balloons;
    uint64_t batches;
    int ballooned_hole;                 /* -1: none */
    uint64_t populate_at, clear_faults_at;
} Soak;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
                                                     noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stdout, "soak-io: FAIL: ");
    vfprintf(stdout, fmt, ap);
    fprintf(stdout, "\n");
    va_end(ap);
    fflush(stdout);
    exit(1);
}

static uint64_t rnd(Soak *s)
{
    /* xorshift64*: reproducible from --seed */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return s->rng * 0x2545f4914f6cdd1dull;
}

static uint64_t below(Soak *s, uint64_t n)
{
    return rnd(s) % n;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* What sector @sector of disk @disk holds at generation @gen. */
static void sector_data(unsigned disk, uint32_t sector, uint32_t gen,
                        uint8_t *out)
{
    uint64_t base = (uint64_t)(disk + 1) << 56 | (uint64_t)gen << 24 |
                    (uint64_t)sector << 6;

    for (unsigned j = 0; j < SECTOR / 8; j++) {
        uint64_t v = (base | j) ^ 0x5a5a5a5a5a5a5a5aull;

        memcpy(out + 8 * j, &v, 8);
    }
}

static int mkimage(const char *path, unsigned disk)
{
    FILE *f = fopen(path, "wb");
    uint8_t buf[SECTOR];

    if (!f) {
        perror(path);
        return 2;
    }
    for (uint32_t s = 0; s < DISK_SECTORS; s++) {
        sector_data(disk, s, 0, buf);
        if (fwrite(buf, SECTOR, 1, f) != 1) {
            perror(path);
            fclose(f);
            return 2;
        }
    }
    return fclose(f) ? 2 : 0;
}

static uint8_t *ram(Soak *s, uint64_t gpa)
{
    return s->ram + (gpa - RAM_LO);
}

/* Registers: each access an ioreq on vCPU 0. */

static uint32_t rd(Soak *s, uint64_t addr)
{
    uint64_t v;

    if (ctlc_value(s->c, &v, "readl %#llx", (unsigned long long)addr) < 0) {
        die("readl %#llx: %s", (unsigned long long)addr, s->c->err);
    }
    return v;
}

static void wr(Soak *s, uint64_t addr, uint32_t val)
{
    const char *r;

    if (ctlc_cmd(s->c, &r, "writel %#llx %#x", (unsigned long long)addr,
                 val) < 0) {
        die("writel %#llx: %s", (unsigned long long)addr, s->c->err);
    }
}

/* A posted write: its reply is collected by flush(). */
static unsigned posted;

static void wr_post(Soak *s, uint64_t addr, uint32_t val)
{
    if (ctlc_send(s->c, "writel %#llx %#x", (unsigned long long)addr,
                  val) < 0) {
        die("writel %#llx: %s", (unsigned long long)addr, s->c->err);
    }
    posted++;
}

static void flush(Soak *s)
{
    const char *r;

    for (; posted; posted--) {
        if (ctlc_reply(s->c, &r) < 0) {
            die("posted write: %s", s->c->err);
        }
    }
}

static void hv_do(Soak *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void hv_do(Soak *s, const char *fmt, ...)
{
    char line[256];
    const char *r;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (ctlc_cmd(s->c, &r, "%s", line) < 0) {
        die("%s: %s", line, s->c->err);
    }
}

static uint64_t preg(unsigned port, unsigned off)
{
    return ABAR + 0x100 + port * 0x80 + off;
}

static uint32_t cfg_rd(Soak *s, uint32_t bdf, unsigned reg)
{
    uint64_t v;

    hv_do(s, "outl 0xcf8 %#x", 0x80000000u | bdf << 8 | reg);
    if (ctlc_value(s->c, &v, "inl 0xcfc") < 0) {
        die("cfc: %s", s->c->err);
    }
    return v;
}

static void cfg_wr(Soak *s, uint32_t bdf, unsigned reg, uint32_t val)
{
    hv_do(s, "outl 0xcf8 %#x", 0x80000000u | bdf << 8 | reg);
    hv_do(s, "outl 0xcfc %#x", val);
}

/* The HBA: found on bus 0 by class, BAR5 placed, memory and bus master
 * on; reset; every port given its command list and started. */
static void port_start(Soak *s, unsigned p)
{
    uint64_t base = DRV_BASE + p * PORT_RAM;

    wr(s, preg(p, 0x00), base);                 /* CLB */
    wr(s, preg(p, 0x04), 0);
    wr(s, preg(p, 0x08), base + 0x800);         /* FB */
    wr(s, preg(p, 0x0c), 0);
    wr(s, preg(p, 0x30), ~0u);                  /* SERR */
    wr(s, preg(p, 0x10), ~0u);                  /* IS */
    wr(s, preg(p, 0x18), 1 << 4);               /* FRE */
    for (int i = 0; i < 1000 && (rd(s, preg(p, 0x28)) & 0xf) != 3; i++) {
        usleep(1000);
    }
    if ((rd(s, preg(p, 0x28)) & 0xf) != 3) {
        die("port %u: no link (PxSSTS %#x)", p, rd(s, preg(p, 0x28)));
    }
    wr(s, preg(p, 0x18), 1 << 4 | 1);           /* ST */
    if (!(rd(s, preg(p, 0x18)) & 1)) {
        die("port %u did not start", p);
    }
}

static void hba_init(Soak *s)
{
    bool found = false;

    for (unsigned dev = 0; dev < 32 && !found; dev++) {
        for (unsigned fn = 0; fn < 8; fn++) {
            uint32_t bdf = dev << 3 | fn;

            if ((cfg_rd(s, bdf, 0) & 0xffff) == 0xffff) {
                continue;
            }
            if (cfg_rd(s, bdf, 8) >> 8 == 0x010601) {
                s->bdf = bdf;
                found = true;
                break;
            }
        }
    }
    if (!found) {
        die("no AHCI controller on bus 0");
    }
    cfg_wr(s, s->bdf, 0x24, ABAR);
    cfg_wr(s, s->bdf, 0x04, 0x6);               /* memory, bus master */
    wr(s, ABAR + 4, 1u << 31);                  /* AE */
    wr(s, ABAR + 4, 1u << 31 | 1);              /* HR */
    for (int i = 0; i < 1000 && (rd(s, ABAR + 4) & 1); i++) {
        usleep(1000);
    }
    uint32_t cap = rd(s, ABAR), pi = rd(s, ABAR + 0xc);
    if ((cap & 0x1f) + 1 != PORTS || pi != (1u << PORTS) - 1 ||
        !(cap & 1u << 30)) {
        die("CAP %#x PI %#x: not 6 ports with NCQ", cap, pi);
    }
    memset(ram(s, DRV_BASE), 0, PORTS * PORT_RAM);
    for (unsigned p = 0; p < PORTS; p++) {
        port_start(s, p);
    }
    wr(s, ABAR + 8, ~0u);
}

/* Placement: one buffer a slice, slices shifted each batch so that
 * buffers fall across 1 MiB borders too; never on a hole page. */
static bool on_hole(uint64_t gpa, uint64_t len)
{
    for (uint64_t h = WIN_LO + HOLE_OFF; h < WIN_HI; h += HOLE_EVERY) {
        if (gpa < h + 4096 && h < gpa + len) {
            return true;
        }
    }
    return false;
}

static void plan_batch(Soak *s)
{
    static const uint32_t counts[] = { 1, 2, 4, 8, 8, 16, 32 };
    const uint64_t slice = (WIN_HI - WIN_LO - MIB) / (PORTS * SLOTS);
    uint64_t shift = below(s, slice) & ~1ull;

    for (unsigned p = 0; p < PORTS; p++) {
        for (unsigned t = 0; t < SLOTS; t++) {
            Cmd *c = &s->cmd[p][t];
            uint64_t lo = WIN_LO + shift + (p * SLOTS + t) * slice;

            c->count = counts[below(s, sizeof(counts) / sizeof(counts[0]))];
            c->write = below(s, 10) < 3;
            /* LBAs: each slot its own stripe of the disk, so nothing in
             * a batch overlaps; where in the stripe is random */
            uint32_t stripe = DISK_SECTORS / SLOTS;
            c->lba = t * stripe + below(s, stripe - c->count + 1);
            do {
                c->gpa = (lo + below(s, slice - c->count * SECTOR)) & ~1ull;
            } while (on_hole(c->gpa, c->count * SECTOR));
            c->gen = c->write ? ++s->next_gen : 0;
        }
    }
}

/* Command list entry, table (H2D FIS with the NCQ tag, PRDs split at
 * 1 MiB borders as a page list would be) and buffer contents. */
static void prepare(Soak *s, unsigned p, unsigned t)
{
    Cmd *c = &s->cmd[p][t];
    uint64_t ct = DRV_BASE + p * PORT_RAM + CT_OFF + t * CT_SIZE;
    uint8_t *fis = ram(s, ct), *prdt = fis + 0x80;
    uint8_t *hdr = ram(s, DRV_BASE + p * PORT_RAM + t * 32);
    uint32_t nbytes = c->count * SECTOR, nprd = 0;
    uint64_t border = (c->gpa / MIB + 1) * MIB;

    memset(fis, 0, CT_SIZE);
    fis[0] = 0x27;
    fis[1] = 0x80;
    fis[2] = c->write ? 0x61 : 0x60;
    fis[3] = c->count & 0xff;
    fis[4] = c->lba;
    fis[5] = c->lba >> 8;
    fis[6] = c->lba >> 16;
    fis[7] = 0x40;
    fis[8] = c->lba >> 24;
    fis[11] = c->count >> 8;
    fis[12] = t << 3;
    struct { uint64_t a; uint32_t n; } pieces[2] = { { c->gpa, nbytes } };
    if (c->gpa + nbytes > border) {
        pieces[0].n = border - c->gpa;
        pieces[1].a = border;
        pieces[1].n = c->gpa + nbytes - border;
        nprd = 2;
    } else {
        nprd = 1;
    }
    for (unsigned i = 0; i < nprd; i++) {
        uint32_t dbc = pieces[i].n - 1;

        memcpy(prdt + 16 * i, &pieces[i].a, 8);
        memcpy(prdt + 16 * i + 12, &dbc, 4);
    }
    uint32_t dw0 = 5 | (c->write ? 1 << 6 : 0) | nprd << 16;
    memset(hdr, 0, 32);
    memcpy(hdr, &dw0, 4);
    memcpy(hdr + 8, &ct, 8);
    if (c->write) {
        for (uint32_t i = 0; i < c->count; i++) {
            sector_data(p, c->lba + i, c->gen, ram(s, c->gpa + i * SECTOR));
        }
    } else {
        memset(ram(s, c->gpa), 0xa5, nbytes);
    }
}

/* Issue the port's whole batch: PxSACT, then PxCI, posted. */
static void issue(Soak *s, unsigned p)
{
    wr_post(s, preg(p, 0x34), ~0u);
    wr_post(s, preg(p, 0x38), ~0u);
}

/* Stop the port (its commands are dropped), clear errors, start it. */
static void port_recover(Soak *s, unsigned p)
{
    wr(s, preg(p, 0x18), 1 << 4);               /* ST off */
    for (int i = 0; i < 500 && (rd(s, preg(p, 0x18)) & 1 << 15); i++) {
        usleep(1000);
    }
    wr(s, preg(p, 0x30), ~0u);
    wr(s, preg(p, 0x10), ~0u);
    wr(s, ABAR + 8, 1u << p);
    for (int i = 0; i < 3; i++) {
        /* a failed map of the command list refuses ST: try again */
        wr(s, preg(p, 0x18), 1 << 4 | 1);
        if (rd(s, preg(p, 0x18)) & 1) {
            return;
        }
    }
    die("port %u does not start again after an error", p);
}

/*
 * Faults, at random batches, right after the batch is issued: an
 * invalidate storm, the next foreign maps failing, a hole's gfn failing
 * in err[], a hole ballooned out (populated again some batches later).
 */
static void inject(Soak *s)
{
    if (!s->faults) {
        return;
    }
    if (s->kinds & FAULT_INVALIDATE && below(s, 12) == 0) {
        unsigned n = 1 + below(s, 16);

        hv_do(s, "invalidate %u", n);
        s->storms++;
        s->invalidates += n;
    }
    if (s->kinds & FAULT_MAP_FAIL && below(s, 60) == 0) {
        hv_do(s, "fault map-fail %u", 1 + (unsigned)below(s, 4));
        s->map_fails++;
        s->clear_faults_at = s->batches + 5 + below(s, 20);
    }
    if (s->kinds & FAULT_PAGE_ERROR && below(s, 40) == 0) {
        uint64_t h = WIN_LO + below(s, NHOLES) * HOLE_EVERY + HOLE_OFF;

        hv_do(s, "fault page-error %#llx", (unsigned long long)(h >> 12));
        s->page_errors++;
        s->clear_faults_at = s->batches + 5 + below(s, 20);
    }
    if (s->kinds & FAULT_BALLOON && s->ballooned_hole < 0 &&
        below(s, 50) == 0) {
        s->ballooned_hole = below(s, NHOLES);
        hv_do(s, "balloon %#llx 1", (unsigned long long)
              ((WIN_LO + s->ballooned_hole * HOLE_EVERY + HOLE_OFF) >> 12));
        s->balloons++;
        s->populate_at = s->batches + 3 + below(s, 30);
    }
}

static void faults_tick(Soak *s)
{
    if (s->clear_faults_at && s->batches >= s->clear_faults_at) {
        hv_do(s, "fault clear");
        s->clear_faults_at = 0;
    }
    if (s->ballooned_hole >= 0 && s->batches >= s->populate_at) {
        hv_do(s, "populate %#llx 1", (unsigned long long)
              ((WIN_LO + s->ballooned_hole * HOLE_EVERY + HOLE_OFF) >> 12));
        s->ballooned_hole = -1;
    }
}

/*
 * Wait for every port; returns the ports whose batch failed: an error
 * bit in PxIS (a failed NCQ command stays set in PxSACT, a command
 * table that could not be read in PxCI, so such a port is given up
 * ERR_SETTLE_S after the error, time for its other commands to end), or
 * not done by the deadline.
 */
#define ERR_SETTLE_S    0.2

static unsigned wait_ports(Soak *s, unsigned ports)
{
    double end = now_s() + s->timeout_ms / 1000.0;
    double err_at[PORTS] = { 0 };
    unsigned failed = 0;

    while (ports) {
        for (unsigned p = 0; p < PORTS; p++) {
            if (!(ports & 1u << p)) {
                continue;
            }
            /* pipelined: PxIS, PxSACT, PxCI */
            uint64_t is, sact, ci;
            if (ctlc_send(s->c, "readl %#llx",
                          (unsigned long long)preg(p, 0x10)) < 0 ||
                ctlc_send(s->c, "readl %#llx",
                          (unsigned long long)preg(p, 0x34)) < 0 ||
                ctlc_send(s->c, "readl %#llx",
                          (unsigned long long)preg(p, 0x38)) < 0) {
                die("poll: %s", s->c->err);
            }
            const char *r;
            uint64_t v[3];
            for (int i = 0; i < 3; i++) {
                if (ctlc_reply(s->c, &r) < 0) {
                    die("poll port %u: %s", p, s->c->err);
                }
                v[i] = strtoull(r, NULL, 0);
            }
            is = v[0];
            sact = v[1];
            ci = v[2];
            if (is == 0xffffffffu && sact == 0xffffffffu) {
                die("port %u reads all-ones: the device is gone", p);
            }
            if (is & PXIS_ERR && !err_at[p]) {
                err_at[p] = now_s();
            }
            if (!sact && !ci) {
                ports &= ~(1u << p);
                if (is & PXIS_ERR) {
                    failed |= 1u << p;
                }
            } else if (err_at[p] && now_s() - err_at[p] > ERR_SETTLE_S) {
                ports &= ~(1u << p);
                failed |= 1u << p;
                s->device_errors++;
            }
        }
        if (ports && now_s() > end) {
            s->timeouts++;
            failed |= ports;
            break;
        }
    }
    return failed;
}

static void verify(Soak *s, unsigned p)
{
    uint8_t want[SECTOR];

    for (unsigned t = 0; t < SLOTS; t++) {
        Cmd *c = &s->cmd[p][t];

        for (uint32_t i = 0; i < c->count; i++) {
            uint32_t sec = c->lba + i;

            if (c->write) {
                s->gen[p][sec] = c->gen;
                continue;
            }
            sector_data(p, sec, s->gen[p][sec], want);
            if (memcmp(ram(s, c->gpa + i * SECTOR), want, SECTOR)) {
                s->data_errors++;
                printf("   ERROR port %u slot %u: sector %u read into "
                       "%#llx differs\n", p, t, sec,
                       (unsigned long long)c->gpa + i * SECTOR);
                break;
            }
            s->sectors_verified++;
        }
        s->ios++;
    }
}

static void run_batch(Soak *s)
{
    unsigned todo = (1u << PORTS) - 1;

    plan_batch(s);
    for (int attempt = 0; todo; attempt++) {
        if (attempt == 3) {
            die("ports %#x: batch %llu failed three times", todo,
                (unsigned long long)s->batches);
        }
        for (unsigned p = 0; p < PORTS; p++) {
            if (todo & 1u << p) {
                for (unsigned t = 0; t < SLOTS; t++) {
                    prepare(s, p, t);
                }
                issue(s, p);
            }
        }
        flush(s);
        if (attempt == 0) {
            inject(s);
        }
        unsigned failed = wait_ports(s, todo);
        for (unsigned p = 0; p < PORTS; p++) {
            if (failed & 1u << p) {
                port_recover(s, p);
                s->recovered++;
            }
        }
        /* clear the completions' PxIS and IS */
        for (unsigned p = 0; p < PORTS; p++) {
            if (todo & ~failed & 1u << p) {
                wr_post(s, preg(p, 0x10), ~0u);
            }
        }
        wr_post(s, ABAR + 8, ~0u);
        flush(s);
        for (unsigned p = 0; p < PORTS; p++) {
            if (todo & ~failed & 1u << p) {
                verify(s, p);
            }
        }
        todo = failed;
        if (failed && attempt == 0) {
            /* the fault that failed it is spent or cleared: retry clean */
            hv_do(s, "fault clear");
            s->clear_faults_at = 0;
        }
    }
    s->batches++;
    faults_tick(s);
}

static void progress(Soak *s, const char *what, double t0)
{
    printf("%s ios=%llu data_errors=%llu recovered=%llu "
           "device_errors=%llu timeouts=%llu "
           "verified=%llu storms=%llu invalidates=%llu map_fails=%llu "
           "page_errors=%llu balloons=%llu secs=%.1f\n", what,
           (unsigned long long)s->ios, (unsigned long long)s->data_errors,
           (unsigned long long)s->recovered,
           (unsigned long long)s->device_errors,
           (unsigned long long)s->timeouts,
           (unsigned long long)s->sectors_verified,
           (unsigned long long)s->storms,
           (unsigned long long)s->invalidates,
           (unsigned long long)s->map_fails,
           (unsigned long long)s->page_errors,
           (unsigned long long)s->balloons, now_s() - t0);
    fflush(stdout);
}

/* FLUSH CACHE EXT on every port (slot 0), then compare the images. */
static uint64_t check_images(Soak *s)
{
    uint8_t want[SECTOR], got[SECTOR];
    uint64_t bad = 0;

    for (unsigned p = 0; p < PORTS; p++) {
        uint8_t *hdr = ram(s, DRV_BASE + p * PORT_RAM);
        uint64_t ct = DRV_BASE + p * PORT_RAM + CT_OFF;
        uint8_t *fis = ram(s, ct);
        uint32_t dw0 = 5;

        memset(fis, 0, 0x80);
        fis[0] = 0x27;
        fis[1] = 0x80;
        fis[2] = 0xea;
        fis[7] = 0x40;
        memset(hdr, 0, 32);
        memcpy(hdr, &dw0, 4);
        memcpy(hdr + 8, &ct, 8);
        wr(s, preg(p, 0x38), 1);
        for (int i = 0; i < 5000 && (rd(s, preg(p, 0x38)) & 1); i++) {
            usleep(1000);
        }
    }
    for (unsigned p = 0; p < PORTS; p++) {
        FILE *f = s->image[p] ? fopen(s->image[p], "rb") : NULL;

        if (!f) {
            continue;
        }
        for (uint32_t sec = 0; sec < DISK_SECTORS; sec++) {
            sector_data(p, sec, s->gen[p][sec], want);
            if (fread(got, SECTOR, 1, f) != 1 || memcmp(got, want, SECTOR)) {
                if (bad++ < 5) {
                    printf("   ERROR disk %u sector %u: image differs\n",
                           p, sec);
                }
            }
        }
        fclose(f);
    }
    return bad;
}

static void usage(void)
{
    fprintf(stderr, "usage: soak-io --mkimage IMG DISK\n"
            "       soak-io --control SOCK --domid N --image IMG (x6) "
            "[--ios N] [--seed N] [--report-every N] [--pause-at N] "
            "[--timeout-ms MS] [--no-faults]\n"
            "       [--faults invalidate,map-fail,page-error,balloon]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static Soak s;
    const char *control = getenv("XENSIM_CONTROL");
    const char *domid_env = getenv("XENSIM_DOMID");
    unsigned domid = domid_env ? strtoul(domid_env, NULL, 0) : 0;
    unsigned nimg = 0;
    uint64_t seed = 49;

    s.ios_target = 10000;
    s.report_every = 10000;
    s.timeout_ms = 5000;
    s.faults = true;
    s.kinds = ~0u;
    s.ballooned_hole = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (!strcmp(a, "--mkimage") && i + 2 < argc) {
            return mkimage(argv[i + 1], strtoul(argv[i + 2], NULL, 0));
        } else if (!strcmp(a, "--no-faults")) {
            s.faults = false;
            continue;
        } else if (!v) {
            usage();
        } else if (!strcmp(a, "--control")) {
            control = v;
        } else if (!strcmp(a, "--domid")) {
            domid = strtoul(v, NULL, 0);
        } else if (!strcmp(a, "--image") && nimg < PORTS) {
            s.image[nimg++] = v;
        } else if (!strcmp(a, "--ios")) {
            s.ios_target = strtoull(v, NULL, 0);
        } else if (!strcmp(a, "--seed")) {
            seed = strtoull(v, NULL, 0);
        } else if (!strcmp(a, "--report-every")) {
            s.report_every = strtoull(v, NULL, 0);
        } else if (!strcmp(a, "--pause-at")) {
            s.pause_at = strtoull(v, NULL, 0);
        } else if (!strcmp(a, "--faults")) {
            s.kinds = (strstr(v, "invalidate") ? FAULT_INVALIDATE : 0) |
                      (strstr(v, "map-fail") ? FAULT_MAP_FAIL : 0) |
                      (strstr(v, "page-error") ? FAULT_PAGE_ERROR : 0) |
                      (strstr(v, "balloon") ? FAULT_BALLOON : 0);
        } else if (!strcmp(a, "--timeout-ms")) {
            s.timeout_ms = strtoul(v, NULL, 0);
        } else {
            usage();
        }
        i++;
    }
    if (!control || !domid) {
        usage();
    }
    s.rng = seed * 0x9e3779b97f4a7c15ull | 1;
    for (unsigned p = 0; p < PORTS; p++) {
        s.gen[p] = calloc(DISK_SECTORS, sizeof(uint32_t));
    }
    if (vcpu_open(&s.vcpu, control, 10000) < 0) {
        die("%s", s.vcpu.err);
    }
    s.c = &s.vcpu.ctl;
    if (vcpu_map_ram(&s.vcpu, domid, RAM_LO, WIN_HI) < 0) {
        die("mapping guest RAM: %s", s.vcpu.err);
    }
    s.ram = s.vcpu.ram;
    hba_init(&s);
    printf("init: AHCI %02x.%u, 6 ports started\n", s.bdf >> 3, s.bdf & 7);

    double t0 = now_s();
    uint64_t next_report = s.report_every;
    bool paused = false;
    while (s.ios < s.ios_target) {
        run_batch(&s);
        if (s.ios >= next_report) {
            progress(&s, "progress", t0);
            next_report += s.report_every;
        }
        if (s.pause_at && !paused && s.ios >= s.pause_at) {
            char line[64];

            progress(&s, "pause", t0);
            if (!fgets(line, sizeof(line), stdin)) {
                die("no go after the pause");
            }
            paused = true;
        }
    }
    if (s.faults) {
        hv_do(&s, "fault clear");
        if (s.ballooned_hole >= 0) {
            s.populate_at = 0;
            faults_tick(&s);
        }
    }
    uint64_t bad = check_images(&s);
    /* stop every port, FIS receive too: the device unmaps its lists */
    for (unsigned p = 0; p < PORTS; p++) {
        wr(&s, preg(p, 0x18), 0);
    }
    progress(&s, "done", t0);
    printf("summary: ios=%llu data_errors=%llu image_errors=%llu "
           "recovered=%llu result=%s\n", (unsigned long long)s.ios,
           (unsigned long long)s.data_errors, (unsigned long long)bad,
           (unsigned long long)s.recovered,
           s.data_errors || bad ? "FAIL" : "PASS");
    return s.data_errors || bad ? 1 : 0;
}
