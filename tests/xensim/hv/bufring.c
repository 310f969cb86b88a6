/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim-hv buffered ioreqs (vcpu.h): Xen's side of each server's
 * buffered ring (stdvga writes, TIMEOFFSET), and the raw-entry probe.
 *
 * Invariants: entries are written before the write pointer moves
 * (release); an 8-byte write takes two adjacent slots; with
 * HVM_IOREQSRV_BUFIOREQ_ATOMIC both pointers are rebased together in
 * one 64-bit compare-and-swap, as Xen does; a full ring is never
 * overwritten.
 */
#include <errno.h>
#include <string.h>

#include "hv.h"
#include "vcpu.h"

#include <xen/hvm/hvm_op.h>

/* Put one request on s's buffered ring; false if it does not fit. */
static bool buffered_put(HvIoreqServer *s, uint8_t type, uint64_t addr,
                         unsigned size, uint64_t val)
{
    buffered_iopage_t *pg = s->buf;
    uint64_t *ptrs = (uint64_t *)&pg->read_pointer;
    unsigned slots = size == 8 ? 2 : 1;
    uint32_t rp = __atomic_load_n(&pg->read_pointer, __ATOMIC_ACQUIRE);
    uint32_t wp = pg->write_pointer;
    buf_ioreq_t bp = {
        .type = type,
        .dir = IOREQ_WRITE,
        .size = size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : 3,
        .addr = addr,
        .data = val,
    };
    uint64_t old, new;

    if (wp - rp > IOREQ_BUFFER_SLOT_NUM) {
        hv_bug("buffered ring of ioreq server %u: read_pointer %u is "
               "ahead of write_pointer %u", s->id, rp, wp);
        return false;
    }
    if (wp - rp >= IOREQ_BUFFER_SLOT_NUM - (slots - 1)) {
        return false;
    }
    pg->buf_ioreq[wp % IOREQ_BUFFER_SLOT_NUM] = bp;
    if (slots == 2) {
        bp.data = val >> 32;
        pg->buf_ioreq[(wp + 1) % IOREQ_BUFFER_SLOT_NUM] = bp;
    }
    __atomic_store_n(&pg->write_pointer, wp + slots, __ATOMIC_RELEASE);

    /* BUFIOREQ_ATOMIC: keep both pointers small, in one 64-bit swap. */
    old = __atomic_load_n(ptrs, __ATOMIC_ACQUIRE);
    do {
        uint32_t r = old, w = old >> 32;
        uint32_t n = r / IOREQ_BUFFER_SLOT_NUM;

        if (!n || s->bufioreq_handling != HVM_IOREQSRV_BUFIOREQ_ATOMIC) {
            break;
        }
        r -= n * IOREQ_BUFFER_SLOT_NUM;
        w -= n * IOREQ_BUFFER_SLOT_NUM;
        new = ((uint64_t)w << 32) | r;
    } while (!__atomic_compare_exchange_n(ptrs, &old, new, false,
                                          __ATOMIC_ACQ_REL,
                                          __ATOMIC_ACQUIRE));
    hv.cnt[HV_CNT_ioreq_buffered]++;
    hv_guest_send(s->buf_port);
    return true;
}

int xensim_mmio_buffered_write(uint64_t addr, unsigned size, uint64_t val)
{
    HvIoreqServer *s;
    bool done = false;

    if (size != 1 && size != 2 && size != 4 && size != 8) {
        return -EINVAL;
    }
    pthread_mutex_lock(&hv.lock);
    s = hv_server_select(IOREQ_TYPE_COPY, addr, size);
    if (!s) {
        hv.cnt[HV_CNT_ioreq_unclaimed]++;
        done = true;
    } else if (s->bufioreq_handling != HVM_IOREQSRV_BUFIOREQ_OFF &&
               addr <= 0xfffff) {
        done = buffered_put(s, IOREQ_TYPE_COPY, addr, size, val);
    }
    pthread_mutex_unlock(&hv.lock);
    if (done) {
        return 0;
    }
    return xensim_mmio(0, addr, size, true, &val);
}

/*
 * Hostile-hypervisor probe: put @n raw 8-byte entries at the write
 * pointer of server @id's ring, move the write pointer by @advance (which
 * may disagree with @n) and notify, with none of Xen's checks.
 */
int xensim_raw_bufioreq(uint16_t id, const uint64_t *slots, unsigned n,
                        uint32_t advance)
{
    HvIoreqServer *s;
    buffered_iopage_t *pg;
    uint32_t wp;
    unsigned i;
    int ret = 0;

    pthread_mutex_lock(&hv.lock);
    s = hv_server_find(id);
    if (!s || !s->enabled || !s->buf) {
        ret = -ENOENT;
    } else {
        pg = s->buf;
        wp = pg->write_pointer;
        for (i = 0; i < n; i++) {
            memcpy(&pg->buf_ioreq[(wp + i) % IOREQ_BUFFER_SLOT_NUM],
                   &slots[i], sizeof(slots[i]));
        }
        __atomic_store_n(&pg->write_pointer, wp + advance, __ATOMIC_RELEASE);
        hv.cnt[HV_CNT_ioreq_buffered]++;
        hv_guest_send(s->buf_port);
    }
    pthread_mutex_unlock(&hv.lock);
    return ret;
}

int xensim_timeoffset(int64_t offset)
{
    unsigned i;
    int ret = 0;

    pthread_mutex_lock(&hv.lock);
    for (i = 0; i < HV_MAX_SERVERS; i++) {
        HvIoreqServer *s = &hv_dom->server[i];

        if (!s->used || !s->enabled ||
            s->bufioreq_handling == HVM_IOREQSRV_BUFIOREQ_OFF) {
            continue;
        }
        if (buffered_put(s, IOREQ_TYPE_TIMEOFFSET, 0, 8, offset)) {
            hv.cnt[HV_CNT_ioreq_timeoffset]++;
        } else {
            ret = -EBUSY;   /* ring full: Xen drops it too */
        }
    }
    pthread_mutex_unlock(&hv.lock);
    return ret;
}
