/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim interrupt log: every edge of every GSI (as the device model
 * drives them through ISA IRQ, PCI INTx and link-route dm_ops) and every
 * MSI (address, data), in the order they happened, so a pulse shorter
 * than a poll is not lost.  Readable from code in xensim-hv (the qtest
 * bridge, tests) and through the control socket's `irqlog`.
 *
 * Invariants: entries carry a sequence number that grows by one per
 * event; the log keeps the last XENSIM_IRQLOG_SIZE events (a reader that
 * falls further behind sees the gap in the numbers).
 */
#ifndef XENSIM_IRQLOG_H
#define XENSIM_IRQLOG_H

#include <stdbool.h>
#include <stdint.h>

#define XENSIM_IRQLOG_SIZE 4096

typedef struct XenSimIrqEvent {
    uint64_t seq;
    bool is_msi;
    uint8_t gsi, level;         /* GSI edges */
    uint64_t addr;              /* MSIs */
    uint32_t data;
} XenSimIrqEvent;

/* Copy up to max events with seq >= since into ev; returns how many and
 * sets *next to the seq to ask for next time. */
unsigned xensim_irqlog_read(uint64_t since, XenSimIrqEvent *ev,
                            unsigned max, uint64_t *next);

#endif /* XENSIM_IRQLOG_H */
