/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim-hv interrupt log (see irqlog.h): dmop.c reports every change of
 * the interrupt inputs and every MSI; the GSI levels are recomputed and
 * each GSI that changed gets an edge entry.  All of it under hv.lock.
 */
#include <string.h>

#include "hv.h"
#include "irqlog.h"

static XenSimIrqEvent ring[XENSIM_IRQLOG_SIZE];
static uint64_t next_seq;
static uint8_t last_level[HV_NR_GSIS];

static void push(XenSimIrqEvent e)
{
    e.seq = next_seq++;
    ring[e.seq % XENSIM_IRQLOG_SIZE] = e;
}

void hv_irqlog_lines_changed(void)
{
    unsigned gsi;

    for (gsi = 0; gsi < HV_NR_GSIS; gsi++) {
        uint8_t level = hv_gsi_level_locked(gsi);

        if (level != last_level[gsi]) {
            last_level[gsi] = level;
            push((XenSimIrqEvent) { .gsi = gsi, .level = level });
        }
    }
}

void hv_irqlog_msi(uint64_t addr, uint32_t data)
{
    push((XenSimIrqEvent) { .is_msi = true, .addr = addr, .data = data });
}

unsigned xensim_irqlog_read(uint64_t since, XenSimIrqEvent *ev,
                            unsigned max, uint64_t *next)
{
    unsigned n = 0;
    uint64_t s;

    pthread_mutex_lock(&hv.lock);
    s = since;
    if (next_seq > XENSIM_IRQLOG_SIZE && s < next_seq - XENSIM_IRQLOG_SIZE) {
        s = next_seq - XENSIM_IRQLOG_SIZE;
    }
    for (; s < next_seq && n < max; s++) {
        ev[n++] = ring[s % XENSIM_IRQLOG_SIZE];
    }
    *next = s;
    pthread_mutex_unlock(&hv.lock);
    return n;
}
