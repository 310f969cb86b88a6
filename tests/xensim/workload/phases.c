/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ahci-workload: command batches and the verified phases (read-dma-ext,
 * ncq-mixed, overlap, image; ../README-workload.md).
 *
 * Invariants: within one batch no buffer (with its guards) overlaps
 * another and no command's LBA range overlaps a write's, so what every
 * read must bring does not depend on the order the device chooses; a
 * batch is verified only once all of it completed.
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
void add_cmd(Batch *b, uint8_t ata, uint64_t lba, uint32_t sectors,
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
bool place(Batch *b, uint32_t len, uint64_t lo, uint64_t hi,
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
int prepare(Batch *b)
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
            if (vcpu_memwrite(&vcpu0, p->gpa, buf, p->len) < 0) {
                goto fail;
            }
        } else if (vcpu_memset(&vcpu0, p->gpa - GUARD, p->len + 2 * GUARD,
                               POISON) < 0) {
            goto fail;
        }
    }
    return 0;
fail:
    printf("   ERROR guest memory: %s\n", vcpu0.err);
    st.errors++;
    return FATAL;
}

/* After completion: reads are checked, writes enter the shadow (their
 * source buffers are read back from guest RAM, which the device must
 * not have changed). */
int verify(Batch *b)
{
    static uint8_t buf[4 * MIB + 2 * GUARD], want[4 * MIB];
    static uint8_t guard[GUARD];
    unsigned i;
    int ret = 0;

    memset(guard, POISON, GUARD);
    for (i = 0; i < b->npieces; i++) {
        Piece *p = &b->piece[i];
        bool ok;

        if (vcpu_memread(&vcpu0, p->gpa - GUARD, buf,
                         p->len + 2 * GUARD) < 0) {
            printf("   ERROR guest memory: %s\n", vcpu0.err);
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
        ok = check_data("read data", p->gpa, buf + GUARD, want, p->len,
                        p->disk_off);
        ok &= check_data("guard before buffer", p->gpa - GUARD, buf, guard,
                         GUARD, p->disk_off);
        ok &= check_data("guard after buffer", p->gpa + p->len,
                         buf + GUARD + p->len, guard, GUARD, p->disk_off);
        if (ok) {
            st.verified += p->len;
        } else {
            ret = -1;
        }
    }
    return ret;
}

void account(const Batch *b)
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

int device_error(void)
{
    printf("   ERROR device: %s\n", ahci.err);
    st.errors++;
    return FATAL;
}

/* Issue a prepared batch, wait for all of it, verify: 0, -1 (data
 * mismatches, reported and counted) or FATAL. */
int run_batch(Batch *b, bool ncq_at_once)
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
bool add_random_cmd(Batch *b, uint8_t ata, uint64_t lba, uint32_t sectors,
                    unsigned maxp, uint64_t lo, uint64_t hi)
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

uint32_t random_sectors(void)
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
uint64_t hot_index(void)
{
    return (ram_end * 7 / 16) & ~(MIB - 1);
}

int phase_dma_ext(void)
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

int phase_ncq_mixed(void)
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
int phase_overlap(bool *overlapped)
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
    if (vcpu_cmd(&vcpu0, NULL, "outsb 0x80 %#" PRIx64 " 16",
                 x + 0x80000) < 0) {
        printf("   ERROR rep outsb: %s\n", vcpu0.err);
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
int phase_image(void)
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

