/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ahci-workload: a vCPU of the guest, played through xensim-hv's control
 * socket (one connection per vCPU: `cpu N` picks which), and a client of
 * QEMU's QMP monitor (the host's view of the disk).
 *
 * Invariants: every command waits for its own final "ok"/"err" line
 * with a deadline, so a dead or wedged simulator is an error, never a
 * hang; once a reply is lost the connection is marked broken and every
 * later call fails at once instead of reading someone else's answer.
 * Functions return 0 or -1 with a message in Vcpu.err (QMP: Qmp.err).
 */
#ifndef WORKLOAD_VCPU_H
#define WORKLOAD_VCPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/ctlclient.h"

typedef struct Vcpu {
    CtlClient ctl;          /* the control socket (common/ctlclient.h) */
    bool broken;            /* the connection is out of step */
    char err[512];

    /* Guest RAM [ram_lo, ram_hi) mapped here, or NULL (see vcpu_map_ram). */
    uint8_t *ram;
    uint64_t ram_lo, ram_hi;
    void *fmem;
} Vcpu;

int vcpu_open(Vcpu *v, const char *path, int timeout_ms);
void vcpu_close(Vcpu *v);

/* Send one command line; on "ok" return 0 and, if val, parse the (first)
 * number after "ok".  "err ..." from the hv is an error (text in v->err).
 */
int vcpu_cmd(Vcpu *v, uint64_t *val, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Guest accesses, as the vCPU of this connection would make them. */
int vcpu_readl(Vcpu *v, uint64_t addr, uint32_t *val);
int vcpu_writel(Vcpu *v, uint64_t addr, uint32_t val);
int vcpu_cfg_read(Vcpu *v, uint32_t bdf, unsigned reg, unsigned size,
                  uint32_t *val);
int vcpu_cfg_write(Vcpu *v, uint32_t bdf, unsigned reg, unsigned size,
                   uint32_t val);

/*
 * Map guest RAM [lo, hi) into this process with xenforeignmemory (the
 * library LD_LIBRARY_PATH offers, dlopen()ed: xensim's, whose socket is
 * $XENSIM_SOCKET), as a dom0 tool would.  The guest's own accesses
 * (hv_mem*) then go through it instead of the control socket's hex,
 * which is slow for bulk data.  It is one map of (hi - lo) / 4 KiB
 * pages, made before any counters are taken.  -1 (v->err says why) if
 * that is not possible; the socket path still works.
 */
int vcpu_map_ram(Vcpu *v, unsigned domid, uint64_t lo, uint64_t hi);
void vcpu_unmap_ram(Vcpu *v);

/* Use from's mapping of guest RAM (from keeps owning it and must
 * outlive v's use of it). */
void vcpu_share_ram(Vcpu *v, const Vcpu *from);

/* Guest RAM (any length; through the mapping, or through the socket in
 * 64 KiB pieces). */
int vcpu_memread(Vcpu *v, uint64_t gpa, void *buf, size_t len);
int vcpu_memwrite(Vcpu *v, uint64_t gpa, const void *buf, size_t len);
int vcpu_memset(Vcpu *v, uint64_t gpa, size_t len, uint8_t byte);

/* The hv's counters.  Unknown names read as 0. */
#define HV_MAX_COUNTERS 64
typedef struct HvCounters {
    unsigned n;
    char name[HV_MAX_COUNTERS][40];
    uint64_t val[HV_MAX_COUNTERS];
} HvCounters;

int vcpu_counters(Vcpu *v, HvCounters *c);
uint64_t hv_counter(const HvCounters *c, const char *name);

/* The vCPUs with a mapcache invalidation pending (bit N: vCPU N), from
 * `state`. */
int vcpu_invalidate_pending(Vcpu *v, uint64_t *mask);

/* Guest RAM below 4 GiB that the workload may use: the populated extent
 * that contains 1 MiB, from `state`. */
int vcpu_ram_below_4g(Vcpu *v, uint64_t *end);

/* QMP: just enough to throttle the disk's reads (a slow disk on demand,
 * so a transfer stays in flight for as long as a test needs). */
typedef struct Qmp {
    int fd;
    char err[512];
} Qmp;

int qmp_open(Qmp *q, const char *path);
int qmp_throttle_reads(Qmp *q, const char *drive, unsigned iops_rd);
void qmp_close(Qmp *q);

#endif /* WORKLOAD_VCPU_H */
