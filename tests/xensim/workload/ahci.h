/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ahci-workload: a guest's AHCI driver, running on a xensim vCPU.
 *
 * It does what an OS does: finds the HBA by a PCI scan through CF8/CFC,
 * places and enables its ABAR, resets it, gives one port a command list,
 * a received-FIS area and 32 command tables in guest RAM, and issues
 * commands into slots.  Completion is seen through the interrupt (MSI
 * count or INTx level, as recorded by the hv) and PxIS/PxSACT/PxCI.
 *
 * Invariants: every wait has a deadline; anything the device does that
 * the AHCI spec does not allow (all-ones registers, error bits, a slot
 * that completes twice or was never issued, a port that does not start)
 * is an error with a message in Ahci.err, never a hang or a crash.
 */
#ifndef WORKLOAD_AHCI_H
#define WORKLOAD_AHCI_H

#include <stdbool.h>
#include <stdint.h>

#include "vcpu.h"

#define AHCI_SLOTS          32
#define AHCI_MAX_PRD        64
#define AHCI_PRD_MAX_BYTES  (4u << 20)  /* DBC is 22 bits */

/* ATA commands used. */
#define ATA_IDENTIFY        0xec
#define ATA_READ_DMA_EXT    0x25
#define ATA_WRITE_DMA_EXT   0x35
#define ATA_FLUSH_EXT       0xea
#define ATA_READ_FPDMA      0x60
#define ATA_WRITE_FPDMA     0x61

typedef struct AhciPrd {
    uint64_t addr;          /* guest-physical, even */
    uint32_t len;           /* bytes, even, <= AHCI_PRD_MAX_BYTES */
} AhciPrd;

typedef struct AhciCmd {
    uint8_t ata;
    uint64_t lba;
    uint32_t sectors;       /* 1..65536 */
    unsigned nprd;
    AhciPrd prd[AHCI_MAX_PRD];
} AhciCmd;

typedef struct Ahci {
    Vcpu *cpu;
    int timeout_ms;         /* per command batch */
    bool use_msi;
    int qemu_pid;           /* > 0: named when the device goes away */

    uint32_t bdf;           /* bus 0 device/function << 3 | fn */
    uint64_t abar;
    unsigned gsi;           /* INTx GSI as Xen derives it */
    uint64_t msi_seen;
    unsigned port;
    unsigned nslots;

    uint64_t clb, fb, ctba; /* command list, received FIS, tables */
    uint64_t ident_buf;

    uint64_t sectors;       /* from IDENTIFY */
    unsigned queue_depth;
    bool ncq;
    char model[41];

    uint32_t busy;          /* slots issued, not yet seen complete */
    uint32_t ncq_busy;      /* ... of which NCQ */

    /* Statistics. */
    uint64_t irqs, polls;
    unsigned max_inflight;

    char err[512];
} Ahci;

/* Guest RAM the driver needs for its own structures (from base). */
#define AHCI_DRIVER_RAM     0x20000

/* PCI scan, ABAR placement, HBA reset, port start.  base: guest RAM for
 * the driver's structures; abar: where to place BAR5. */
int ahci_init(Ahci *a, Vcpu *cpu, uint64_t base, uint64_t abar, bool use_msi,
              int timeout_ms);

/* IDENTIFY DEVICE; fills sectors, ncq, queue_depth, model. */
int ahci_identify(Ahci *a);

/* Put cmds[i] into slot i (n <= nslots), issue them all at once (NCQ
 * commands via PxSACT and PxCI), without waiting. */
int ahci_issue(Ahci *a, const AhciCmd *cmds, unsigned n, unsigned first);

/* Wait until the slots in mask are done; *done_now (may be NULL) gets
 * the slots that completed.  wait_all: until all of mask is done, else
 * until at least one is. */
int ahci_wait(Ahci *a, uint32_t mask, bool wait_all, uint32_t *done_now);

/* Slots still outstanding (PxSACT | PxCI). */
int ahci_pending(Ahci *a, uint32_t *pending);

#endif /* WORKLOAD_AHCI_H */
