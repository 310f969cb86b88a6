/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ahci-workload: what its parts share (see main.c for what it does).
 *
 * main.c: options, the shared state below, the phase runner;
 * image.c: the disk image's pattern and the shadow of what every disk
 * byte must be; phases.c: command batches and the verified phases;
 * vcpus.c: the phase issuing from several vCPUs at once; bench.c: the
 * benchmark mode.  The globals are the workload's one guest and disk,
 * used from the main thread (vCPU 0) only; vcpus.c's helper threads
 * have their own connections and say what they share.
 */
#ifndef WORKLOAD_H
#define WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ahci.h"
#include "vcpu.h"

#define MIB             (1ull << 20)
#define GUARD           64          /* poisoned bytes around read buffers */
#define POISON          0xa5
#define ABAR_GPA        0xf1000000ull   /* in the PCI hole, as hvmloader */
#define DRIVER_GPA      0x200000ull
#define MAX_PIECES      (AHCI_SLOTS * AHCI_MAX_PRD)
#define MAX_REPORTS     8           /* mismatches printed per run */
#define FATAL           (-2)        /* device or environment: stop */

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
    unsigned vcpus;             /* > 1: the vcpus phase on that many */
} Opts;

typedef struct Stats {
    uint64_t ios, bytes_rd, bytes_wr, verified, errors;
    unsigned max_depth;
} Stats;

extern Opts opt;
extern Vcpu vcpu0;              /* the vCPU the driver runs on */
extern Ahci ahci;
extern Stats st;
extern uint64_t disk_bytes;
extern uint64_t ram_end;        /* guest RAM below 4 GiB */
extern unsigned reports;        /* mismatches printed so far */

/* main.c */
uint64_t rnd(void);                             /* from --seed */
uint64_t rnd_range(uint64_t lo, uint64_t hi);   /* [lo, hi) */
double now_s(void);
void print_counters(const char *prefix, const HvCounters *a,
                    const HvCounters *b);

/* image.c */
int mkimage(const char *path, const char *mib_s);
void expected(uint64_t off, uint8_t *out, size_t len);
int shadow_write(uint64_t off, const uint8_t *data, size_t len);
int compare_image(uint64_t *bad_off);
int load_shadow(void);
bool check_data(const char *what, uint64_t gpa, const uint8_t *got,
                const uint8_t *want, size_t len, uint64_t disk_off);

/* phases.c */
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

void add_cmd(Batch *b, uint8_t ata, uint64_t lba, uint32_t sectors,
             unsigned first_piece);
bool place(Batch *b, uint32_t len, uint64_t lo, uint64_t hi,
           unsigned cross, unsigned align);
int prepare(Batch *b);
int verify(Batch *b);
void account(const Batch *b);
int device_error(void);
int run_batch(Batch *b, bool ncq_at_once);
/* A command of sectors split into 1..maxp pieces placed in [lo, hi). */
bool add_random_cmd(Batch *b, uint8_t ata, uint64_t lba, uint32_t sectors,
                    unsigned maxp, uint64_t lo, uint64_t hi);
uint32_t random_sectors(void);
uint64_t hot_index(void);
int phase_dma_ext(void);
int phase_ncq_mixed(void);
int phase_overlap(bool *overlapped);
int phase_image(void);

/* vcpus.c */
int phase_vcpus(void);

/* bench.c */
bool run_bench_set(void);

#endif /* WORKLOAD_H */
