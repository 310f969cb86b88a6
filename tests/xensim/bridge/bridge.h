/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim qtest bridge: shared declarations.
 *
 * The bridge stands in for QEMU on libqtest's qtest socket.  It runs the
 * real device model under xensim (-accel xen) and answers each qtest
 * command by playing the guest through the simulator's control socket.
 *
 * Invariants:
 *  - Nothing received from libqtest or the control socket can crash the
 *    bridge: every malformed input ends in an error value, never abort().
 *  - A qtest command gets exactly one reply line ("OK ..." or "FAIL ..."),
 *    preceded by the "IRQ raise/lower N" lines of the interrupt lines that
 *    changed while it ran, as QEMU's own qtest server does.
 */
#ifndef XENSIM_BRIDGE_H
#define XENSIM_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/ctlclient.h"

/* ---- qtest protocol (qtest.c) ----------------------------------------- */

/* Xen's GSIs: 0-15 ISA IRQs, 16-47 PCI INTx (see hv/vcpu.h). */
#define BRIDGE_NR_GSI 48

typedef struct Bridge Bridge;

typedef struct BridgeOps {
    /*
     * Block until the device model serves the guest; false if it never
     * will (QEMU gone, or interrupted).
     */
    bool (*wait_ready)(Bridge *b);
    /* Nanoseconds since the guest started, on a monotonic clock. */
    int64_t (*clock_ns)(Bridge *b);
    /* Sleep ns of real time; false if interrupted. */
    bool (*sleep_ns)(Bridge *b, int64_t ns);
} BridgeOps;

struct Bridge {
    int qfd;                    /* libqtest's qtest socket */
    bool qfd_dead;              /* write failed: libqtest went away */
    CtlClient ctl;
    const BridgeOps *ops;
    bool ready;
    uint32_t cf8;               /* CF8 as libqtest last wrote it */
    char *intercept;            /* QOM path of the intercepted controller */
    uint8_t irq[BRIDGE_NR_GSI]; /* levels last reported to libqtest */
    uint64_t irqlog_next;       /* the hv's interrupt log, read up to */
    bool irqlog_synced;         /* levels reported since the intercept */
    bool trace;                 /* log commands and replies on stderr */
};

/* Handle one qtest command line (without its newline). */
void bridge_command(Bridge *b, char *line);

/* Reply "FAIL why" outside of a command (e.g. an over-long line). */
void bridge_fail(Bridge *b, const char *why);

#endif /* XENSIM_BRIDGE_H */
