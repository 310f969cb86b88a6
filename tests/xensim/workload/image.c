/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ahci-workload: the disk image.  --mkimage writes a pattern in which
 * 8-byte word i is an invertible function of i, so data found in the
 * wrong place names where it came from; the shadow is what every disk
 * byte must be (the pattern, or the data of a completed write, kept
 * per sector).
 *
 * Invariants: the shadow changes only when the device reported a write
 * done (shadow_write); the image file is compared with it at start
 * (load_shadow) and after the final flush (compare_image).
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

/* The image pattern: word i (byte offset 8 * i) holds an invertible
 * function of i, so misplaced data names where it came from. */
#define PAT_XOR         0x5851f42d4c957f2dull
#define PAT_MUL         0x9e3779b97f4a7c15ull

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

int mkimage(const char *path, const char *mib_s)
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
void expected(uint64_t off, uint8_t *out, size_t len)
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
int shadow_write(uint64_t off, const uint8_t *data, size_t len)
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
int compare_image(uint64_t *bad_off)
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

int load_shadow(void)
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
bool check_data(const char *what, uint64_t gpa, const uint8_t *got,
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

