/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim-hv interrupt lines as the device model drives them (vcpu.h):
 * ISA IRQs, PCI INTx with Xen's GSI swizzle and the four PCI links,
 * set_irq_level GSIs, and the MSIs injected.
 *
 * Invariant: a line's level is derived from the dm_op state on every
 * read (nothing cached); waiters sleep on hv.cond, which dmop.c
 * broadcasts on every change.
 */
#include <errno.h>
#include <time.h>

#include "hv.h"
#include "vcpu.h"

static int pci_gsi(unsigned dev, unsigned intx)
{
    return ((dev << 2) + (dev >> 3) + intx) % 32 + 16;
}

/* Level of gsi from everything the device model drives.  hv.lock held. */
static int irq_level_locked(unsigned gsi)
{
    unsigned dev, intx;

    if (gsi >= HV_NR_GSIS) {
        return 0;
    }
    if (hv_dom->gsi_level[gsi]) {
        return 1;
    }
    if (gsi < 16 && hv_dom->isa_level[gsi]) {
        return 1;
    }
    for (dev = 0; dev < 32; dev++) {
        for (intx = 0; intx < 4; intx++) {
            if (!hv_dom->intx_level[dev][intx]) {
                continue;
            }
            if (gsi >= 16 && pci_gsi(dev, intx) == (int)gsi) {
                return 1;
            }
            if (gsi > 0 && gsi < 16 &&
                hv_dom->link_route[(dev + intx) & 3] == gsi) {
                return 1;
            }
        }
    }
    return 0;
}

int hv_gsi_level_locked(unsigned gsi)
{
    return irq_level_locked(gsi);
}

int xensim_irq_level(unsigned gsi)
{
    int level;

    pthread_mutex_lock(&hv.lock);
    level = irq_level_locked(gsi);
    pthread_mutex_unlock(&hv.lock);
    return level;
}

int xensim_wait_irq(unsigned gsi, int level, int timeout_ms)
{
    struct timespec deadline;
    int ret = 0;

    hv_deadline_us(&deadline, (long)timeout_ms * 1000);
    pthread_mutex_lock(&hv.lock);
    while (irq_level_locked(gsi) != !!level) {
        if (pthread_cond_timedwait(&hv.cond, &hv.lock, &deadline) ==
            ETIMEDOUT) {
            ret = irq_level_locked(gsi) == !!level ? 0 : -ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&hv.lock);
    return ret;
}

uint64_t xensim_msi_count(uint64_t *last_addr, uint32_t *last_data)
{
    uint64_t n;

    pthread_mutex_lock(&hv.lock);
    n = hv_dom->msi_count;
    if (last_addr) {
        *last_addr = hv_dom->msi_last_addr;
    }
    if (last_data) {
        *last_data = hv_dom->msi_last_data;
    }
    pthread_mutex_unlock(&hv.lock);
    return n;
}
