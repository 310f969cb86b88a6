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
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ahci.h"
#include "hvctl.h"

#define MIB             (1ull << 20)
#define GUARD           64          /* poisoned bytes around read buffers */
#define POISON          0xa5
#define ABAR_GPA        0xf1000000ull   /* in the PCI hole, as hvmloader */
#define DRIVER_GPA      0x200000ull
#define MAX_PIECES      (AHCI_SLOTS * AHCI_MAX_PRD)
#define MAX_REPORTS     8           /* mismatches printed per run */
#define FATAL           (-2)        /* device or environment: stop */

/* The image pattern: word i (byte offset 8 * i) holds an invertible
 * function of i, so misplaced data names where it came from. */
#define PAT_XOR         0x5851f42d4c957f2dull
#define PAT_MUL         0x9e3779b97f4a7c15ull

typedef struct Opts {
    const char *control, *qmp, *disk, *drive;
    int qemu_pid;
    unsigned domid;             /* for the foreign map of guest RAM */
    bool msi;
    uint64_t seed;
    unsigned batches;           /* NCQ batches in the mixed phase */
    unsigned dma_ext;           /* READ DMA EXT commands */
    int timeout_ms;
    double bench_secs;          /* > 0: benchmark mode */
    const char *bench_set;
    bool no_overlap;
    bool no_image_check;        /* tests of the verifier itself */
} Opts;

typedef struct Stats {
    uint64_t ios, bytes_rd, bytes_wr, verified, errors;
    unsigned max_depth;
} Stats;

static Opts opt = {
    .drive = "ahcidisk-0", .msi = true, .seed = 1, .batches = 48,
    .dma_ext = 16, .timeout_ms = 20000,
    .bench_set = "warmup,seq:1,seq:32,rand:1,rand:32,cross:32",
};
static Hv hv;
static Ahci ahci;
static Stats st;
static uint64_t disk_bytes;
static uint64_t ram_end;        /* guest RAM below 4 GiB */
static uint64_t rng_state;
static unsigned reports;

static uint64_t rnd(void)
{
    /* splitmix64: reproducible from --seed. */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rnd_range(uint64_t lo, uint64_t hi)   /* [lo, hi) */
{
    return lo + rnd() % (hi - lo);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t pat_word(uint64_t i)
{
    return (i ^ PAT_XOR) * PAT_MUL;
}

/* Inverse of pat_word (PAT_MUL is odd, so invertible mod 2^64). */
static uint64_t pat_index(uint64_t v)
{
    uint64_t inv = PAT_MUL;
    int k;

    for (k = 0; k < 5; k++) {
        inv *= 2 - PAT_MUL * inv;       /* Newton: 5 steps give 64 bits */
    }
    return (v * inv) ^ PAT_XOR;
}

static int mkimage(const char *path, const char *mib_s)
{
    uint64_t mib = strtoull(mib_s, NULL, 0), i, w;
    uint64_t buf[8192];
    int fd;

    if (!mib || mib > 65536) {
        fprintf(stderr, "ahci-workload: --mkimage: size 1..65536 MiB\n");
        return 2;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        fprintf(stderr, "ahci-workload: %s: %s\n", path, strerror(errno));
        return 2;
    }
    for (i = 0; i < mib * MIB / sizeof(buf); i++) {
        for (w = 0; w < 8192; w++) {
            buf[w] = pat_word(i * 8192 + w);
        }
        if (write(fd, buf, sizeof(buf)) != sizeof(buf)) {
            fprintf(stderr, "ahci-workload: %s: short write\n", path);
            close(fd);
            return 2;
        }
    }
    close(fd);
    return 0;
}

/*
 * The disk as it must be: the image pattern, except for the sectors the
 * guest wrote, which are kept here (one pointer per sector, allocated at
 * the first write).  Deliberately not a copy of the disk: on a loaded
 * host, touching hundreds of MiB costs far more than the workload.
 */
static uint8_t **overlay;

static void sector_pattern(uint64_t sector, uint8_t *out)
{
    uint64_t w;

    for (w = 0; w < 64; w++) {
        uint64_t v = pat_word(sector * 64 + w);

        memcpy(out + 8 * w, &v, 8);     /* little-endian host, as x86 */
    }
}

/* What the disk must hold at [off, off + len). */
static void expected(uint64_t off, uint8_t *out, size_t len)
{
    uint8_t sec[512];

    while (len) {
        uint64_t s = off / 512;
        size_t in = off % 512, n = 512 - in < len ? 512 - in : len;

        if (overlay[s]) {
            memcpy(out, overlay[s] + in, n);
        } else {
            sector_pattern(s, sec);
            memcpy(out, sec + in, n);
        }
        out += n;
        off += n;
        len -= n;
    }
}

/* The device completed a write of data to [off, off + len). */
static int shadow_write(uint64_t off, const uint8_t *data, size_t len)
{
    while (len) {
        uint64_t s = off / 512;
        size_t in = off % 512, n = 512 - in < len ? 512 - in : len;

        if (!overlay[s]) {
            overlay[s] = malloc(512);
            if (!overlay[s]) {
                return -1;
            }
            sector_pattern(s, overlay[s]);
        }
        memcpy(overlay[s] + in, data, n);
        data += n;
        off += n;
        len -= n;
    }
    return 0;
}

/* Compare the image file with what it must hold; -1 on a mismatch or a
 * read error, with want/got from the first differing MiB. */
static int compare_image(uint64_t *bad_off)
{
    uint8_t *buf = malloc(MIB), *want = malloc(MIB);
    uint64_t off;
    int fd = open(opt.disk, O_RDONLY), ret = 0;

    *bad_off = ~0ull;
    for (off = 0; fd >= 0 && buf && want && off < disk_bytes; off += MIB) {
        size_t n = disk_bytes - off < MIB ? disk_bytes - off : MIB, i;

        if (pread(fd, buf, n, off) != (ssize_t)n) {
            break;
        }
        expected(off, want, n);
        if (memcmp(buf, want, n)) {
            for (i = 0; buf[i] == want[i]; i++) {
            }
            *bad_off = off + i;
            ret = -1;
            break;
        }
    }
    if (fd < 0 || !buf || !want || (ret == 0 && off < disk_bytes)) {
        ret = -2;
    }
    if (fd >= 0) {
        close(fd);
    }
    free(buf);
    free(want);
    return ret;
}

static int load_shadow(void)
{
    struct stat sb;
    uint64_t bad;
    int r;

    if (stat(opt.disk, &sb) < 0) {
        fprintf(stderr, "ahci-workload: %s: %s\n", opt.disk,
                strerror(errno));
        return -1;
    }
    disk_bytes = sb.st_size;
    if (disk_bytes < 64 * MIB || disk_bytes % 512) {
        fprintf(stderr, "ahci-workload: %s: need a raw image of at least "
                "64 MiB\n", opt.disk);
        return -1;
    }
    overlay = calloc(disk_bytes / 512, sizeof(*overlay));
    if (!overlay) {
        fprintf(stderr, "ahci-workload: out of memory\n");
        return -1;
    }
    r = opt.no_image_check ? 0 : compare_image(&bad);
    if (r < 0) {
        fprintf(stderr, "ahci-workload: %s: %s%#" PRIx64 "; make it with "
                "--mkimage\n", opt.disk, r == -2 ? "cannot read it" :
                "not the workload's pattern at offset ", r == -2 ? 0 : bad);
        return -1;
    }
    return 0;
}

/* Say what data sits where it should not. */
static void explain(const uint8_t *got, size_t len)
{
    uint64_t v, idx;

    if (len < 8) {
        return;
    }
    memcpy(&v, got, 8);
    idx = pat_index(v);
    if (idx < disk_bytes / 8) {
        printf("      (holds the image's data of disk offset %#" PRIx64
               ")\n", idx * 8);
    } else if (got[0] == POISON && got[7] == POISON) {
        printf("      (still poison: no data arrived)\n");
    }
}

/* Compare guest buffer contents with what must be there. */
static bool check(const char *what, uint64_t gpa, const uint8_t *got,
                  const uint8_t *want, size_t len, uint64_t disk_off)
{
    size_t i;

    for (i = 0; i < len && got[i] == want[i]; i++) {
    }
    if (i == len) {
        return true;
    }
    st.errors++;
    if (reports++ < MAX_REPORTS) {
        printf("   MISMATCH %s: guest %#" PRIx64 " byte %zu of %zu "
               "(disk offset %#" PRIx64 "): got %02x want %02x\n", what,
               gpa + i, i, len, disk_off + i, got[i], want[i]);
        explain(got + (i & ~7ul), len - (i & ~7ul));
    }
    return false;
}

/*
 * Batches.  A batch is up to 32 commands with their PRD pieces placed in
 * guest RAM; each piece has a disk offset it maps to.
 */
typedef struct Piece {
    uint64_t gpa, disk_off;
    uint32_t len;
    bool write;
} Piece;

typedef struct Batch {
    AhciCmd cmd[AHCI_SLOTS];
    unsigned n;
    Piece piece[MAX_PIECES];
    unsigned npieces;
} Batch;

static bool ranges_meet(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return a < b + blen && b < a + alen;
}

/* Is [gpa, gpa+len) with guards free of every piece placed so far? */
static bool gpa_free(const Batch *b, uint64_t gpa, uint32_t len)
{
    unsigned i;

    if (gpa < DRIVER_GPA + AHCI_DRIVER_RAM + GUARD ||
        gpa + len + GUARD > ram_end) {
        return false;
    }
    for (i = 0; i < b->npieces; i++) {
        if (ranges_meet(gpa - GUARD, len + 2 * GUARD,
                        b->piece[i].gpa - GUARD,
                        b->piece[i].len + 2 * GUARD)) {
            return false;
        }
    }
    return true;
}

/* May a command on [lba, lba+n) join the batch? */
static bool lba_free(const Batch *b, uint64_t lba, uint32_t n, bool write)
{
    unsigned i;

    for (i = 0; i < b->n; i++) {
        const AhciCmd *c = &b->cmd[i];
        bool w = c->ata == ATA_WRITE_FPDMA || c->ata == ATA_WRITE_DMA_EXT;

        if ((w || write) && ranges_meet(lba, n, c->lba, c->sectors)) {
            return false;
        }
    }
    return true;
}

/* Append a command whose pieces the caller placed in b->piece from
 * first_piece on. */
static void add_cmd(Batch *b, uint8_t ata, uint64_t lba, uint32_t sectors,
                    unsigned first_piece)
{
    AhciCmd *c = &b->cmd[b->n++];
    uint64_t off = lba * 512;
    unsigned i;
    bool write = ata == ATA_WRITE_FPDMA || ata == ATA_WRITE_DMA_EXT;

    memset(c, 0, sizeof(*c));
    c->ata = ata;
    c->lba = lba;
    c->sectors = sectors;
    for (i = first_piece; i < b->npieces; i++) {
        b->piece[i].disk_off = off;
        b->piece[i].write = write;
        c->prd[c->nprd].addr = b->piece[i].gpa;
        c->prd[c->nprd++].len = b->piece[i].len;
        off += b->piece[i].len;
    }
}

/*
 * Place a piece of len bytes in [lo, hi): anywhere (even address), or,
 * with probability 1/cross, across a 1 MiB border.  False if no room.
 */
static bool place(Batch *b, uint32_t len, uint64_t lo, uint64_t hi,
                  unsigned cross, unsigned align)
{
    unsigned tries;

    for (tries = 0; tries < 200; tries++) {
        uint64_t gpa;

        if (cross && len >= 4 && rnd() % cross == 0) {
            uint64_t border = (rnd_range(lo, hi) + MIB - 1) & ~(MIB - 1);

            gpa = border - (rnd_range(1, len / 2) * 2);
        } else {
            gpa = rnd_range(lo, hi - len) & ~(uint64_t)(align - 1);
        }
        if (gpa >= lo && gpa + len <= hi && gpa_free(b, gpa, len)) {
            b->piece[b->npieces].gpa = gpa;
            b->piece[b->npieces++].len = len;
            return true;
        }
    }
    return false;
}

/* Fill write sources from fresh random data, poison read buffers. */
static int prepare(Batch *b)
{
    static uint8_t buf[4 * MIB];
    unsigned i;

    for (i = 0; i < b->npieces; i++) {
        Piece *p = &b->piece[i];

        if (p->write) {
            uint64_t w;

            for (w = 0; w < p->len; w += 8) {
                uint64_t v = rnd();

                memcpy(buf + w, &v, 8);
            }
            if (hv_memwrite(&hv, p->gpa, buf, p->len) < 0) {
                goto fail;
            }
        } else if (hv_memset(&hv, p->gpa - GUARD, p->len + 2 * GUARD,
                             POISON) < 0) {
            goto fail;
        }
    }
    return 0;
fail:
    printf("   ERROR guest memory: %s\n", hv.err);
    st.errors++;
    return FATAL;
}

/* After completion: reads are checked, writes enter the shadow (their
 * source buffers are read back from guest RAM, which the device must
 * not have changed). */
static int verify(Batch *b)
{
    static uint8_t buf[4 * MIB + 2 * GUARD], want[4 * MIB];
    static uint8_t guard[GUARD];
    unsigned i;
    int ret = 0;

    memset(guard, POISON, GUARD);
    for (i = 0; i < b->npieces; i++) {
        Piece *p = &b->piece[i];
        bool ok;

        if (hv_memread(&hv, p->gpa - GUARD, buf, p->len + 2 * GUARD) < 0) {
            printf("   ERROR guest memory: %s\n", hv.err);
            st.errors++;
            return FATAL;
        }
        if (p->write) {
            if (shadow_write(p->disk_off, buf + GUARD, p->len) < 0) {
                printf("   ERROR out of memory\n");
                st.errors++;
                return FATAL;
            }
            continue;
        }
        expected(p->disk_off, want, p->len);
        ok = check("read data", p->gpa, buf + GUARD, want, p->len,
                   p->disk_off);
        ok &= check("guard before buffer", p->gpa - GUARD, buf, guard,
                    GUARD, p->disk_off);
        ok &= check("guard after buffer", p->gpa + p->len,
                    buf + GUARD + p->len, guard, GUARD, p->disk_off);
        if (ok) {
            st.verified += p->len;
        } else {
            ret = -1;
        }
    }
    return ret;
}

static void account(const Batch *b)
{
    unsigned i;

    for (i = 0; i < b->n; i++) {
        const AhciCmd *c = &b->cmd[i];
        bool w = c->ata == ATA_WRITE_FPDMA || c->ata == ATA_WRITE_DMA_EXT;

        st.ios++;
        if (w) {
            st.bytes_wr += c->sectors * 512ull;
        } else {
            st.bytes_rd += c->sectors * 512ull;
        }
    }
    if (b->n > st.max_depth) {
        st.max_depth = b->n;
    }
}

static int device_error(void)
{
    printf("   ERROR device: %s\n", ahci.err);
    st.errors++;
    return FATAL;
}

/* Issue a prepared batch, wait for all of it, verify: 0, -1 (data
 * mismatches, reported and counted) or FATAL. */
static int run_batch(Batch *b, bool ncq_at_once)
{
    uint32_t mask = (b->n == 32) ? ~0u : (1u << b->n) - 1;
    unsigned i;
    int ret = prepare(b);

    if (ret < 0) {
        return ret;
    }
    if (ncq_at_once) {
        if (ahci_issue(&ahci, b->cmd, b->n, 0) < 0 ||
            ahci_wait(&ahci, mask, true, NULL) < 0) {
            return device_error();
        }
    } else {
        for (i = 0; i < b->n; i++) {
            if (ahci_issue(&ahci, &b->cmd[i], 1, 0) < 0 ||
                ahci_wait(&ahci, 1, true, NULL) < 0) {
                return device_error();
            }
        }
    }
    account(b);
    return verify(b);
}

/* A command of sectors split into 1..maxp pieces placed in [lo, hi). */
static bool add_random_cmd(Batch *b, uint8_t ata, uint64_t lba,
                           uint32_t sectors, unsigned maxp, uint64_t lo,
                           uint64_t hi)
{
    unsigned first = b->npieces, np = 1 + rnd() % maxp, i;
    uint32_t left = sectors * 512;

    if (np > left / 2) {
        np = left / 2;
    }
    for (i = 0; i < np; i++) {
        /* Even lengths of at least 2, leaving 2 bytes per later piece. */
        uint32_t room = left - 2 * (np - i - 1);
        uint32_t len = i + 1 < np ? 2 * rnd_range(1, room / 2 + 1) : left;

        if (len > AHCI_PRD_MAX_BYTES || b->npieces == MAX_PIECES ||
            !place(b, len, lo, hi, 4, 2)) {
            b->npieces = first;
            return false;
        }
        left -= len;
    }
    add_cmd(b, ata, lba, sectors, first);
    return true;
}

static uint32_t random_sectors(void)
{
    switch (rnd() % 4) {
    case 0:
        return 1;
    case 1:
        return rnd_range(2, 17);
    case 2:
        return 8 * rnd_range(1, 17);
    default:
        return rnd_range(1, 257);
    }
}

/* The guest index the phases crowd their buffers around: 7/16 of guest
 * RAM, where the bug report's 0x700xxxxx is in a 4 GiB guest. */
static uint64_t hot_index(void)
{
    return (ram_end * 7 / 16) & ~(MIB - 1);
}

static int phase_dma_ext(void)
{
    Batch b = { 0 };
    uint64_t hot = hot_index();

    while (b.n < opt.dma_ext && b.n < AHCI_SLOTS) {
        uint32_t sectors = random_sectors();
        uint64_t lba = rnd_range(0, disk_bytes / 512 - sectors);

        if (!add_random_cmd(&b, ATA_READ_DMA_EXT, lba, sectors, 4,
                            hot - 4 * MIB, hot + 4 * MIB)) {
            break;
        }
    }
    /* Non-NCQ: one command at a time. */
    return run_batch(&b, false);
}

/* Written extents of the mixed phase, read back at its end. */
typedef struct Extent {
    uint64_t lba;
    uint32_t sectors;
} Extent;

static Extent *written;
static unsigned nwritten, cap_written;

static int phase_ncq_mixed(void)
{
    uint64_t hot = hot_index(), lo = hot - 4 * MIB, hi = hot + 4 * MIB;
    unsigned k, i;

    for (k = 0; k < opt.batches; k++) {
        Batch b = { 0 };
        /* Every fourth batch fills all 32 slots; others vary. */
        unsigned depth = (k % 4 == 0) ? ahci.nslots :
                         1 + rnd() % ahci.nslots;
        unsigned misses = 0;

        while (b.n < depth && misses < 64) {
            bool write = rnd() % 10 < 3;
            uint32_t sectors = random_sectors();
            uint64_t lba = rnd_range(0, disk_bytes / 512 - sectors);

            if (!lba_free(&b, lba, sectors, write) ||
                !add_random_cmd(&b, write ? ATA_WRITE_FPDMA : ATA_READ_FPDMA,
                                lba, sectors, 4, lo, hi)) {
                misses++;
                continue;
            }
            if (write) {
                if (nwritten == cap_written) {
                    cap_written = cap_written ? 2 * cap_written : 256;
                    written = realloc(written,
                                      cap_written * sizeof(*written));
                    if (!written) {
                        printf("   ERROR out of memory\n");
                        return -1;
                    }
                }
                written[nwritten].lba = lba;
                written[nwritten++].sectors = sectors;
            }
        }
        if (run_batch(&b, true) == FATAL) {
            return FATAL;
        }
    }
    /* Read every written extent back, 32 at a time. */
    for (i = 0; i < nwritten;) {
        Batch b = { 0 };

        while (i < nwritten && b.n < ahci.nslots &&
               add_random_cmd(&b, ATA_READ_FPDMA, written[i].lba,
                              written[i].sectors, 2, lo, hi)) {
            i++;
        }
        if (!b.n) {
            printf("   ERROR cannot place read-back buffers\n");
            st.errors++;
            return -1;
        }
        if (run_batch(&b, true) == FATAL) {
            return FATAL;
        }
    }
    return st.errors ? -1 : 0;
}

/*
 * The 2017 report's pattern, with index X = the hot index:
 *   A: WRITE FPDMA, 512 bytes at X + 0xfff80 (crosses into X + 1 MiB:
 *      the map cache needs a 2 MiB mapping at index X);
 *   B: READ FPDMA, 4 KiB inside X, in flight while A completes;
 *   C: READ FPDMA, 4 KiB inside X, issued after A completed, B still in
 *      flight (the report's transfer C);
 *   then a CPU string write (rep outsb to the POST port) from a buffer
 *   inside X while B and C are in flight: an unlocked, sized access of
 *   the same index (QEMU 7.2 remaps the cached 2 MiB entry to 1 MiB,
 *   next to B's: two entries with one key);
 *   then 32 READ FPDMA at once inside X, after B and C completed.
 * B stays in flight because reads are throttled (QMP) to 1 per second
 * after a first read Z; without QMP, B is a 24 MiB transfer and the
 * phase reports whether the overlap happened.
 */
static int phase_overlap(bool *overlapped)
{
    uint64_t x = hot_index(), far = x - 32 * MIB;
    Batch zab = { 0 }, c = { 0 }, fin = { 0 };
    Qmp qmp = { .fd = -1 };
    uint32_t pending, done;
    bool throttled = false;
    int ret = -1;
    unsigned i;

    *overlapped = false;
    if (opt.qmp) {
        if (qmp_open(&qmp, opt.qmp) < 0 ||
            qmp_throttle_reads(&qmp, opt.drive, 1) < 0) {
            printf("   ERROR QMP: %s\n", qmp.err);
            qmp_close(&qmp);
            st.errors++;
            return -1;
        }
        throttled = true;
    }
    /* Z (slot 0): primes the read throttle; buffer far from X. */
    zab.piece[zab.npieces++] = (Piece) { .gpa = far, .len = 512 };
    add_cmd(&zab, ATA_READ_FPDMA, 0, 1, 0);
    /* A (slot 1). */
    zab.piece[zab.npieces++] = (Piece) { .gpa = x + 0xfff80, .len = 512 };
    add_cmd(&zab, ATA_WRITE_FPDMA, 64, 1, 1);
    /* B (slot 2): 4 KiB in X, then, unthrottled, 24 MiB more far away. */
    zab.piece[zab.npieces++] = (Piece) { .gpa = x + 0x10000, .len = 4096 };
    if (throttled) {
        add_cmd(&zab, ATA_READ_FPDMA, 1024, 8, 2);
    } else {
        for (i = 0; i < 6; i++) {
            /* Apart by more than the guards. */
            zab.piece[zab.npieces++] = (Piece) {
                .gpa = far + 2 * MIB + i * (4 * MIB + 4096),
                .len = 4 * MIB };
        }
        add_cmd(&zab, ATA_READ_FPDMA, 1024, 8 + 6 * 8192, 2);
    }
    if (disk_bytes < 64 * MIB || far < 64 * MIB) {
        printf("   ERROR overlap phase needs a 64 MiB disk and guest\n");
        st.errors++;
        goto out;
    }
    if (prepare(&zab) < 0) {
        goto out;
    }
    if (ahci_issue(&ahci, zab.cmd, 3, 0) < 0 ||
        ahci_wait(&ahci, 0x3, true, NULL) < 0) {
        goto dev;
    }
    /* C (slot 3), while B is still queued. */
    c.piece[c.npieces++] = (Piece) { .gpa = x + 0x40000, .len = 4096 };
    add_cmd(&c, ATA_READ_FPDMA, 2048, 8, 0);
    if (prepare(&c) < 0) {
        goto out;
    }
    if (ahci_issue(&ahci, c.cmd, 1, 3) < 0) {
        goto dev;
    }
    if (hv_cmd(&hv, NULL, "outsb 0x80 %#" PRIx64 " 16", x + 0x80000) < 0) {
        printf("   ERROR rep outsb: %s\n", hv.err);
        st.errors++;
        goto out;
    }
    if (ahci_pending(&ahci, &pending) < 0) {
        goto dev;
    }
    *overlapped = (pending & 0xc) == 0xc;
    printf("   overlap: A done, B and C %s when the CPU touched index "
           "%#" PRIx64 " (%s)\n", *overlapped ? "in flight" : "NOT in flight",
           x >> 20, throttled ? "reads throttled" : "B is 24 MiB");
    if (ahci_wait(&ahci, 0xc, true, &done) < 0) {
        goto dev;
    }
    if (throttled && qmp_throttle_reads(&qmp, opt.drive, 0) < 0) {
        printf("   ERROR QMP: %s\n", qmp.err);
        st.errors++;
        goto out;
    }
    /* The slots in c used slot 3: verify() only needs pieces. */
    account(&zab);
    account(&c);
    if (verify(&zab) == FATAL || verify(&c) == FATAL) {
        goto out;
    }
    /* 32 reads inside X at once (the locked entries of index X). */
    for (i = 0; i < ahci.nslots; i++) {
        uint64_t gpa = x + 0x1000 + i * 0x7000;

        fin.piece[fin.npieces++] = (Piece) { .gpa = gpa, .len = 0x4000 };
        add_cmd(&fin, ATA_READ_FPDMA, 4096 + 64 * i, 32, fin.npieces - 1);
    }
    ret = run_batch(&fin, true);
    goto out;
dev:
    device_error();
out:
    if (throttled && qmp.fd >= 0) {
        qmp_throttle_reads(&qmp, opt.drive, 0);
    }
    qmp_close(&qmp);
    return ret;
}

/* FLUSH CACHE EXT, then the image file must hold what the guest wrote
 * and the pattern elsewhere. */
static int phase_image(void)
{
    AhciCmd f = { .ata = ATA_FLUSH_EXT };
    uint64_t bad;
    int r;

    if (ahci_issue(&ahci, &f, 1, 0) < 0 ||
        ahci_wait(&ahci, 1, true, NULL) < 0) {
        return device_error();
    }
    r = compare_image(&bad);
    if (r < 0) {
        st.errors++;
        if (r == -2) {
            printf("   ERROR cannot read %s back\n", opt.disk);
        } else {
            printf("   MISMATCH image file at offset %#" PRIx64 "\n", bad);
        }
    }
    return r < 0 ? -1 : 0;
}

/* Counter deltas for the summary. */
static const char *const shown[] = {
    "ioreq_copy", "ioreq_pio", "ioreq_pci_config", "ioreq_buffered",
    "ioreq_invalidate", "ioreq_timeouts", "fmem_maps", "fmem_unmaps",
    "fmem_map_pages", "fmem_map_failures", "msis", "pci_intx_changes",
    "dm_bugs",
};

static void print_counters(const char *prefix, const HvCounters *a,
                           const HvCounters *b)
{
    unsigned i;

    for (i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
        printf("%s%s=%" PRIu64, i ? " " : prefix, shown[i],
               hv_counter(b, shown[i]) - hv_counter(a, shown[i]));
    }
    printf("\n");
}

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

    if (hv_counters(&hv, &c0) < 0) {
        printf("   ERROR counters: %s\n", hv.err);
        return -1;
    }
    if (warm(BENCH_LO, BENCH_HI, &ios) < 0 ||
        warm(hot_index() - 5 * MIB, hot_index() + 5 * MIB, &ios) < 0) {
        return -1;
    }
    if (hv_counters(&hv, &c1) < 0) {
        printf("   ERROR counters: %s\n", hv.err);
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

    if (hv_counters(&hv, &c0) < 0) {
        printf("   ERROR counters: %s\n", hv.err);
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
    if (hv_counters(&hv, &c1) < 0) {
        printf("   ERROR counters: %s\n", hv.err);
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
static bool run_bench_set(void)
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
        { "no-image-check", 0, NULL, 'I' },
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
    if (hv_open(&hv, opt.control, 30000) < 0 ||
        hv_ram_below_4g(&hv, &ram_end) < 0) {
        fprintf(stderr, "ahci-workload: %s\n", hv.err);
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
        hv_map_ram(&hv, opt.domid, MIB, ram_end) == 0) {
        printf("guest RAM %#" PRIx64 "-%#" PRIx64 " mapped (one foreign "
               "map, before the counters)\n", (uint64_t)MIB, ram_end);
    } else {
        printf("guest RAM through the control socket%s%s\n",
               hv.err[0] ? ": " : "", hv.err);
        hv.err[0] = 0;
    }
    if (hv_counters(&hv, &c0) < 0) {
        fprintf(stderr, "ahci-workload: %s\n", hv.err);
        return 2;
    }
    t0 = now_s();
    ahci.qemu_pid = opt.qemu_pid;
    if (ahci_init(&ahci, &hv, DRIVER_GPA, ABAR_GPA, opt.msi,
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
        if (ok && !opt.no_overlap) {
            ok = phase("overlap", overlap_fn);
        }
        ok = ok && phase("image", phase_image);
    }
    if (hv_counters(&hv, &c1) < 0) {
        printf("ERROR counters: %s\n", hv.err);
        ok = false;
    }
    printf("summary: ios=%" PRIu64 " bytes_read=%" PRIu64 " bytes_written=%"
           PRIu64 " verified=%" PRIu64 " max_inflight=%u errors=%" PRIu64
           " irqs=%" PRIu64 " overlap=%s secs=%.2f result=%s\n", st.ios,
           st.bytes_rd, st.bytes_wr, st.verified, ahci.max_inflight,
           st.errors, ahci.irqs, !overlap_ran ? "-" : overlapped ? "yes" : "no",
           now_s() - t0,
           ok ? "PASS" : "FAIL");
    if (c1.n) {
        print_counters("hv: ", &c0, &c1);
    }
    hv_close(&hv);
    return ok ? 0 : 1;
}
