/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * memcpy bandwidth of this machine, for bench/q35/run.sh: copies 1 MiB
 * blocks between two 64 MiB buffers (larger than the caches, as a
 * device model's DMA copies are) for the given seconds and prints
 * "memcpy mbps=N" (decimal MB/s, the unit the AHCI figures use).
 * Single-threaded, as QEMU's copy of one I/O is.
 *
 *   memcpy-bw [SECS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUF     (64u << 20)
#define BLOCK   (1u << 20)

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0, t0, t;
    unsigned char *src = malloc(BUF), *dst = malloc(BUF);
    unsigned long long bytes = 0;
    unsigned off = 0;

    if (!src || !dst || secs <= 0) {
        fprintf(stderr, "usage: memcpy-bw [SECS > 0]\n");
        return 2;
    }
    memset(src, 0x5a, BUF);     /* fault every page in first */
    memset(dst, 0xa5, BUF);
    t0 = now();
    do {
        memcpy(dst + off, src + (BUF - BLOCK - off), BLOCK);
        off = (off + BLOCK) % BUF;
        bytes += BLOCK;
        t = now();
    } while (t - t0 < secs);
    /* keep the copies observable */
    printf("memcpy mbps=%.0f check=%u\n", bytes / (t - t0) / 1e6,
           dst[off] ^ dst[BUF - 1]);
    free(src);
    free(dst);
    return 0;
}
