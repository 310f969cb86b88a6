/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim-hv vCPUs: the guest side of the ioreq protocol (see vcpu.h):
 * the slot protocol, routing an access to its ioreq server, Xen's rep
 * chunks and the pending invalidation.  Guest RAM is guestmem.c, the
 * buffered ring bufring.c, interrupt lines irq.c.
 *
 * A synchronous access writes the request into the vCPU's slot of the
 * selected server with state NONE -> READY, raises the vCPU's event
 * channel, and sleeps on hv.cond (releasing hv.lock, so the server thread
 * can take the device model's calls) until the slot reaches
 * STATE_IORESP_READY; then the slot returns to NONE and the data is
 * taken, as Xen's hvm_wait_for_io() does.
 *
 * Invariants: at most one request per vCPU in flight (vcpu_lock); the
 * slot is only touched while its server exists (checked under hv.lock);
 * anything the device model gets wrong (bad state, notify without a
 * response, a slot not idle) is reported with the request named, and the
 * access fails or is completed, never the process.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hv.h"
#include "vcpu.h"

#include <xen/hvm/hvm_op.h>

/* ioreq_t's bitfield byte: state:4, data_is_ptr:1, dir:1, df:1. */
#define IOREQ_FLAGS_BYTE    (offsetof(ioreq_t, _pad0) + 2)
#define IOREQ_STATE_MASK    0x0f
#define IOREQ_PTR_BIT       0x10
#define IOREQ_DIR_BIT       0x20
#define IOREQ_DF_BIT        0x40

#define PCI_CF8_ENABLED     0x80000000u

static pthread_mutex_t vcpu_lock[HV_MAX_VCPUS];

/* The masks above must say what ioreq.h's bitfields say. */
static bool flags_layout_ok(void)
{
    ioreq_t r;
    const uint8_t *b = (const uint8_t *)&r + IOREQ_FLAGS_BYTE;

    memset(&r, 0, sizeof(r));
    r.state = STATE_IORESP_READY;
    r.data_is_ptr = 1;
    r.df = 1;
    r.dir = IOREQ_READ;
    return *b == (STATE_IORESP_READY | IOREQ_PTR_BIT | IOREQ_DF_BIT |
                  IOREQ_DIR_BIT);
}

int hv_vcpu_init(void)
{
    unsigned i;

    if (!flags_layout_ok()) {
        fprintf(stderr, "xensim-hv: ioreq_t bitfield layout differs from "
                "what vcpu.c assumes\n");
        return -1;
    }
    for (i = 0; i < HV_MAX_VCPUS; i++) {
        pthread_mutex_init(&vcpu_lock[i], NULL);
    }
    return 0;
}

void hv_vcpu_lock(unsigned cpu)
{
    pthread_mutex_lock(&vcpu_lock[cpu]);
}

void hv_vcpu_unlock(unsigned cpu)
{
    pthread_mutex_unlock(&vcpu_lock[cpu]);
}

volatile uint8_t *hv_slot_flags(ioreq_t *slot)
{
    return (volatile uint8_t *)slot + IOREQ_FLAGS_BYTE;
}

#define flags_byte hv_slot_flags

static uint8_t slot_state(ioreq_t *slot)
{
    return __atomic_load_n(flags_byte(slot), __ATOMIC_ACQUIRE) &
           IOREQ_STATE_MASK;
}

static void slot_set_state(ioreq_t *slot, uint8_t state)
{
    uint8_t b = *flags_byte(slot);

    __atomic_store_n(flags_byte(slot), (b & ~IOREQ_STATE_MASK) | state,
                     __ATOMIC_RELEASE);
}

static const char *type_name(uint8_t type)
{
    switch (type) {
    case IOREQ_TYPE_PIO:
        return "PIO";
    case IOREQ_TYPE_COPY:
        return "COPY";
    case IOREQ_TYPE_PCI_CONFIG:
        return "PCI_CONFIG";
    case IOREQ_TYPE_TIMEOFFSET:
        return "TIMEOFFSET";
    case IOREQ_TYPE_INVALIDATE:
        return "INVALIDATE";
    }
    return "?";
}

/* What the guest asked for; the "name" of an ioreq in reports. */
typedef struct HvAccess {
    uint8_t type;
    bool is_write, data_is_ptr, df;
    uint64_t addr, data;
    uint32_t size, count;
} HvAccess;

static void count_type(uint8_t type)
{
    switch (type) {
    case IOREQ_TYPE_PIO:
        hv.cnt[HV_CNT_ioreq_pio]++;
        break;
    case IOREQ_TYPE_COPY:
        hv.cnt[HV_CNT_ioreq_copy]++;
        break;
    case IOREQ_TYPE_PCI_CONFIG:
        hv.cnt[HV_CNT_ioreq_pci_config]++;
        break;
    case IOREQ_TYPE_TIMEOFFSET:
        hv.cnt[HV_CNT_ioreq_timeoffset]++;
        break;
    case IOREQ_TYPE_INVALIDATE:
        hv.cnt[HV_CNT_ioreq_invalidate]++;
        break;
    }
}

void hv_deadline_us(struct timespec *ts, long us)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += us / 1000000;
    ts->tv_nsec += (us % 1000000) * 1000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

/*
 * Send a on cpu's slot of s and wait for the answer.  hv.lock held.
 *
 * As in Xen's wait_for_io(), the vCPU sleeps until the device model
 * notifies its port and only then looks at the slot: IORESP_READY
 * without a notify is no answer (on Xen the guest hangs; here the access
 * times out and the DM bug is reported).  The device model writes
 * IORESP_READY before it notifies, and its notify reaches us
 * asynchronously, so notifies are counted: port->notified runs ahead of
 * port->answered by the notifies not yet consumed, and each answer
 * consumes one.
 */
static int send_sync(unsigned cpu, HvIoreqServer *s, HvAccess *a)
{
    uint16_t id = s->id;
    ioreq_t *slot = &s->shared->vcpu_ioreq[cpu];
    uint32_t port = s->vcpu_port[cpu];
    HvGuestPort *gp = &hv_dom->gport[port];
    struct timespec deadline;
    uint8_t st = slot_state(slot);

    if (st == STATE_IORESP_READY) {
        hv_log("vcpu %u: late response to a timed-out ioreq; dropped", cpu);
        if (gp->notified > gp->answered) {
            gp->answered++;
        }
        slot_set_state(slot, STATE_IOREQ_NONE);
    } else if (st != STATE_IOREQ_NONE) {
        hv_bug("vcpu %u: slot of ioreq server %u still in state %u (%s "
               "addr %#llx) when a new %s request is due", cpu, id, st,
               type_name(slot->type), (unsigned long long)slot->addr,
               type_name(a->type));
        return -EBUSY;
    }
    if (slot->vp_eport != port) {
        hv_bug("vcpu %u: device model changed vp_eport to %u (Xen's port "
               "is %u)", cpu, slot->vp_eport, port);
        slot->vp_eport = port;
    }
    /* Stale notifies (for answers already dropped) wake nobody. */
    gp->answered = gp->notified;
    slot->addr = a->addr;
    slot->data = a->data;
    slot->count = a->count;
    slot->size = a->size;
    slot->type = a->type;
    slot->_pad0 = 0;
    __atomic_store_n(flags_byte(slot),
                     (a->data_is_ptr ? IOREQ_PTR_BIT : 0) |
                     (a->is_write ? 0 : IOREQ_DIR_BIT) |
                     (a->df ? IOREQ_DF_BIT : 0) | STATE_IOREQ_NONE,
                     __ATOMIC_RELAXED);
    slot_set_state(slot, STATE_IOREQ_READY);
    count_type(a->type);
    hv_guest_send(port);

    hv_deadline_us(&deadline, (long)hv.timeout_ms * 1000);
    for (;;) {
        bool notified;

        if (!hv_dom->server[id].used || hv_dom->server[id].shared != s->shared) {
            hv_log("vcpu %u: ioreq server %u vanished during %s addr %#llx",
                   cpu, id, type_name(a->type),
                   (unsigned long long)a->addr);
            return -ENODEV;
        }
        /* Count first: a counted notify implies its state is visible. */
        notified = gp->notified > gp->answered;
        st = slot_state(slot);
        if (st == STATE_IOREQ_NONE && !hv_dom->server[id].enabled) {
            /*
             * Disabling a server with legacy gfns clears its pages (as on
             * Xen), possibly under an answered request.  Xen's
             * wait_for_io() treats NONE as a cancelled request and
             * completes it with all-ones; so do we, silently.
             */
            hv_log("vcpu %u: %s addr %#llx cancelled: server %u disabled",
                   cpu, type_name(a->type), (unsigned long long)a->addr,
                   id);
            a->data = ~0ull;
            gp->answered = gp->notified;
            return 0;
        }
        if (notified && st == STATE_IORESP_READY) {
            a->data = slot->data;
            gp->answered++;
            slot_set_state(slot, STATE_IOREQ_NONE);
            hv_check_revoked();
            return 0;
        }
        if (notified && st == STATE_IOREQ_NONE) {
            /* Xen completes it with all-ones (an emulator dying). */
            hv_bug("vcpu %u: device model set ioreq state NONE instead of "
                   "IORESP_READY on %s addr %#llx size %u", cpu,
                   type_name(a->type), (unsigned long long)a->addr,
                   a->size);
            a->data = ~0ull;
            gp->answered++;
            return 0;
        }
        if (notified && st > STATE_IORESP_READY) {
            /* Xen crashes the domain; we fail the access. */
            hv_bug("vcpu %u: device model set ioreq state %u instead of "
                   "IORESP_READY on %s addr %#llx size %u", cpu, st,
                   type_name(a->type), (unsigned long long)a->addr,
                   a->size);
            gp->answered++;     /* an answer, if a wrong one */
            slot_set_state(slot, STATE_IOREQ_NONE);
            return -EIO;
        }
        if (notified) {
            hv_bug("vcpu %u: device model notified port %u while the "
                   "slot is still %s (%s addr %#llx): response in the "
                   "wrong state", cpu, port,
                   st == STATE_IOREQ_READY ? "READY" : "INPROCESS",
                   type_name(a->type), (unsigned long long)a->addr);
            gp->answered = gp->notified;
        }
        if (pthread_cond_timedwait(&hv.cond, &hv.lock, &deadline) ==
            ETIMEDOUT && gp->notified == gp->answered) {
            st = slot_state(slot);
            hv.cnt[HV_CNT_ioreq_timeouts]++;
            if (st == STATE_IORESP_READY) {
                hv.cnt[HV_CNT_ioreq_unnotified]++;
                hv_bug("vcpu %u: device model answered %s addr %#llx size "
                       "%u (IORESP_READY) but never notified port %u: on "
                       "Xen the vCPU would wait forever", cpu,
                       type_name(a->type), (unsigned long long)a->addr,
                       a->size, port);
            } else {
                hv_bug("vcpu %u: no response to %s addr %#llx size %u "
                       "within %d ms (slot state %u)", cpu,
                       type_name(a->type), (unsigned long long)a->addr,
                       a->size, hv.timeout_ms, st);
            }
            return -ETIMEDOUT;
        }
    }
}

/* Xen sends a vCPU's pending mapcache invalidation before re-entering
 * the guest on that vCPU; we send it before its next access.  hv.lock
 * held. */
static int flush_invalidate(unsigned cpu)
{
    unsigned i;
    int ret = 0;

    hv_dom->creation_finished = true;
    if (!hv_dom->invalidate_pending[cpu]) {
        return 0;
    }
    hv_dom->invalidate_pending[cpu] = false;
    /* As ioreq_signal_mapcache_invalidate(): size 4, count 0, data ~0,
     * a write, to every enabled server, highest id first. */
    for (i = HV_MAX_SERVERS; i-- > 0;) {
        HvAccess a = {
            .type = IOREQ_TYPE_INVALIDATE, .is_write = true,
            .size = 4, .count = 0, .data = ~0ull,
        };

        if (hv_dom->server[i].used && hv_dom->server[i].enabled) {
            int r = send_sync(cpu, &hv_dom->server[i], &a);

            ret = ret ? ret : r;
        }
    }
    if (ret == 0) {
        hv_arm_revoked();
    }
    return ret;
}

static uint64_t ones(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

/* An unclaimed rep read stores all-ones into the guest buffer, as Xen's
 * null handler does.  hv.lock held. */
static void unclaimed_rep_read(const HvAccess *a)
{
    uint64_t ff = ~0ull;
    uint32_t i;

    for (i = 0; i < a->count; i++) {
        uint64_t gpa = a->df ? a->data - (uint64_t)i * a->size :
                               a->data + (uint64_t)i * a->size;

        hv_ram_rw_locked(gpa, &ff, a->size, true);
    }
}

/*
 * One of Xen's internal devices takes a whole (hvm_process_io_intercept()
 * walks a rep item by item between the device and guest RAM); false if
 * a is not theirs.  hv.lock held.
 */
static bool xen_internal(unsigned cpu, HvAccess *a)
{
    uint32_t i, n = a->data_is_ptr ? a->count : 1;

    for (i = 0; i < n; i++) {
        uint64_t step = (uint64_t)i * a->size;
        uint64_t gpa = a->df ? a->data - step : a->data + step;
        uint64_t addr = a->type != IOREQ_TYPE_COPY ? a->addr :
                        a->df ? a->addr - step : a->addr + step;
        uint64_t v = a->data_is_ptr ? 0 : a->data;

        if (a->data_is_ptr && a->is_write &&
            hv_ram_rw_locked(gpa, &v, a->size, false) < 0) {
            v = ~0ull;
        }
        if (!hv_xendev_access_locked(cpu, a->type, addr, a->size,
                                     a->is_write, &v)) {
            return i > 0;           /* theirs from the first item on */
        }
        if (!a->is_write && a->data_is_ptr) {
            hv_ram_rw_locked(gpa, &v, a->size, true);
        } else if (!a->is_write) {
            a->data = v & ones(a->size);
        }
    }
    return true;
}

/* Route a to its server (or complete it unclaimed).  hv.lock held. */
static int access_locked(unsigned cpu, HvAccess *a)
{
    HvIoreqServer *s;
    /* Xen matches a PIO range on one item, MMIO on all the rep covers. */
    uint64_t len = a->type == IOREQ_TYPE_PIO ? a->size :
                   (uint64_t)a->size * (a->count ? a->count : 1);
    int ret;

    ret = flush_invalidate(cpu);
    if (ret < 0) {
        return ret;
    }
    if (xen_internal(cpu, a)) {
        return 0;
    }
    if (a->type == IOREQ_TYPE_PIO && (a->addr & ~3ull) == 0xcfc &&
        (hv_dom->pci_cf8 & PCI_CF8_ENABLED)) {
        uint64_t sbdf = (hv_dom->pci_cf8 >> 8) & 0xffff;
        uint64_t reg = (hv_dom->pci_cf8 & 0xfc) | (a->addr & 3);

        s = hv_server_select(IOREQ_TYPE_PCI_CONFIG, (sbdf << 32) | reg, 1);
        if (s) {
            a->type = IOREQ_TYPE_PCI_CONFIG;
            a->addr = (sbdf << 32) | reg;
        }
    } else if (a->type == IOREQ_TYPE_COPY && a->df) {
        s = hv_server_select(a->type, a->addr - len + a->size, len);
    } else {
        s = hv_server_select(a->type, a->addr, len);
    }
    if (!s) {
        hv.cnt[HV_CNT_ioreq_unclaimed]++;
        if (!a->is_write && !a->data_is_ptr) {
            a->data = ones(a->size);
        } else if (!a->is_write) {
            unclaimed_rep_read(a);
        }
        return 0;
    }
    ret = send_sync(cpu, s, a);
    if (ret == 0 && !a->is_write && !a->data_is_ptr) {
        a->data &= ones(a->size);
    }
    return ret;
}

static int do_access(unsigned cpu, HvAccess *a)
{
    int ret;

    if (cpu >= hv_dom->nr_vcpus) {
        return -EINVAL;
    }
    pthread_mutex_lock(&vcpu_lock[cpu]);
    pthread_mutex_lock(&hv.lock);
    ret = access_locked(cpu, a);
    pthread_mutex_unlock(&hv.lock);
    pthread_mutex_unlock(&vcpu_lock[cpu]);
    return ret;
}

/*
 * Items of a's rep that Xen puts in one ioreq from gpa on (its
 * hvmemul_do_io_addr() and hvmemul_do_io()): as many as fit in the guest
 * buffer's page (one item spanning two pages when none fits), and for
 * MMIO as many as fit in the device's page.  0 if the buffer is not RAM:
 * Xen sends nothing then (it takes a page reference first and fails the
 * emulation).  hv.lock held.
 */
static uint32_t rep_chunk(const HvAccess *a, uint32_t reps)
{
    uint64_t gpa = a->data, gfn = gpa >> XENSIM_PAGE_SHIFT;
    unsigned off = gpa & (XENSIM_PAGE_SIZE - 1), size = a->size;
    uint64_t n;

    if (!hv_gfn_ptr(gfn)) {
        return 0;
    }
    n = a->df ? ((off + size - 1) & (XENSIM_PAGE_SIZE - 1)) / size
              : (XENSIM_PAGE_SIZE - off) / size;
    n = n < reps ? n : reps;
    if (n == 0) {
        if (!hv_gfn_ptr(a->df ? gfn - 1 : gfn + 1)) {
            return 0;
        }
        n = 1;
    }
    if (n > 1 && a->type == IOREQ_TYPE_COPY) {
        unsigned moff = a->addr & (XENSIM_PAGE_SIZE - 1);
        unsigned tail = XENSIM_PAGE_SIZE - moff;
        uint64_t m = tail < size ? 1 : (a->df ? moff + size : tail) / size;

        n = n < m ? n : m;
    }
    return n;
}

/* A rep string access, issued as Xen does: in chunks (rep_chunk()), the
 * guest re-executing the instruction for the rest. */
static int do_rep(unsigned cpu, HvAccess *a)
{
    uint32_t left = a->count;
    int ret = 0;

    if (cpu >= hv_dom->nr_vcpus) {
        return -EINVAL;
    }
    while (left && ret == 0) {
        HvAccess one = *a;
        uint64_t step;

        pthread_mutex_lock(&vcpu_lock[cpu]);
        pthread_mutex_lock(&hv.lock);
        one.count = rep_chunk(a, left);
        ret = one.count ? access_locked(cpu, &one) : -EFAULT;
        pthread_mutex_unlock(&hv.lock);
        pthread_mutex_unlock(&vcpu_lock[cpu]);
        step = (uint64_t)one.count * a->size;
        a->data = a->df ? a->data - step : a->data + step;
        if (a->type == IOREQ_TYPE_COPY) {
            a->addr = a->df ? a->addr - step : a->addr + step;
        }
        left -= one.count;
    }
    return ret;
}

int xensim_pio(unsigned cpu, uint16_t port, unsigned size, bool is_write,
               uint32_t *val)
{
    HvAccess a = {
        .type = IOREQ_TYPE_PIO, .is_write = is_write, .addr = port,
        .size = size, .count = 1, .data = is_write ? *val : 0,
    };
    int ret;

    if (size != 1 && size != 2 && size != 4) {
        return -EINVAL;
    }
    if (is_write && size == 4 && port == 0xcf8) {
        /* Xen latches CF8 and still forwards the write. */
        pthread_mutex_lock(&hv.lock);
        hv_dom->pci_cf8 = *val;
        pthread_mutex_unlock(&hv.lock);
    }
    ret = do_access(cpu, &a);
    if (ret == 0 && !is_write) {
        *val = a.data;
    }
    return ret;
}

int xensim_pio_rep(unsigned cpu, uint16_t port, unsigned size,
                   bool is_write, uint64_t gpa, uint32_t count, bool df)
{
    HvAccess a = {
        .type = IOREQ_TYPE_PIO, .is_write = is_write, .addr = port,
        .size = size, .count = count, .data = gpa, .data_is_ptr = true,
        .df = df,
    };

    if ((size != 1 && size != 2 && size != 4) || !count) {
        return -EINVAL;
    }
    /* Like every rep ins/outs, one on 0xcfc-0xcff keeps its count: Xen
     * turns it into one PCI_CONFIG ioreq of count items. */
    return do_rep(cpu, &a);
}

int xensim_mmio_rep(unsigned cpu, uint64_t addr, unsigned size,
                    bool is_write, uint64_t gpa, uint32_t count, bool df)
{
    HvAccess a = {
        .type = IOREQ_TYPE_COPY, .is_write = is_write, .addr = addr,
        .size = size, .count = count, .data = gpa, .data_is_ptr = true,
        .df = df,
    };

    if ((size != 1 && size != 2 && size != 4 && size != 8) || !count) {
        return -EINVAL;
    }
    return do_rep(cpu, &a);
}

int xensim_mmio(unsigned cpu, uint64_t addr, unsigned size, bool is_write,
                uint64_t *val)
{
    HvAccess a = {
        .type = IOREQ_TYPE_COPY, .is_write = is_write, .addr = addr,
        .size = size, .count = 1, .data = is_write ? *val : 0,
    };
    uint64_t v = is_write ? *val : 0;
    int ret;

    if (size != 1 && size != 2 && size != 4 && size != 8) {
        return -EINVAL;
    }
    if (cpu >= hv_dom->nr_vcpus) {
        return -EINVAL;
    }
    pthread_mutex_lock(&vcpu_lock[cpu]);
    pthread_mutex_lock(&hv.lock);
    if (hv_gfn_ptr(addr >> XENSIM_PAGE_SHIFT) &&
        hv_gfn_ptr((addr + size - 1) >> XENSIM_PAGE_SHIFT)) {
        /* RAM: no device model involved (little-endian guest). */
        ret = hv_ram_rw_locked(addr, &v, size, is_write);
        a.data = v;
    } else {
        ret = access_locked(cpu, &a);
    }
    pthread_mutex_unlock(&hv.lock);
    pthread_mutex_unlock(&vcpu_lock[cpu]);
    if (ret == 0 && !is_write) {
        *val = a.data;
    }
    return ret;
}

int xensim_raw_ioreq(unsigned cpu, uint16_t id, ioreq_t *req)
{
    HvAccess a = {
        .type = req->type, .is_write = req->dir == IOREQ_WRITE,
        .data_is_ptr = req->data_is_ptr, .df = req->df,
        .addr = req->addr, .data = req->data,
        .size = req->size, .count = req->count,
    };
    HvIoreqServer *s;
    int ret;

    if (cpu >= hv_dom->nr_vcpus) {
        return -EINVAL;
    }
    pthread_mutex_lock(&vcpu_lock[cpu]);
    pthread_mutex_lock(&hv.lock);
    s = hv_server_find(id);
    ret = s && s->enabled ? send_sync(cpu, s, &a) : -ENOENT;
    pthread_mutex_unlock(&hv.lock);
    pthread_mutex_unlock(&vcpu_lock[cpu]);
    if (ret == 0) {
        req->data = a.data;
    }
    return ret;
}

int xensim_invalidate_cpu(unsigned cpu)
{
    int ret;

    if (cpu >= hv_dom->nr_vcpus) {
        return -EINVAL;
    }
    pthread_mutex_lock(&vcpu_lock[cpu]);
    pthread_mutex_lock(&hv.lock);
    hv_dom->creation_finished = true;
    hv_dom->invalidate_pending[cpu] = true;
    ret = flush_invalidate(cpu);
    pthread_mutex_unlock(&hv.lock);
    pthread_mutex_unlock(&vcpu_lock[cpu]);
    return ret;
}

int xensim_invalidate(void)
{
    return xensim_invalidate_cpu(0);
}

unsigned xensim_nr_vcpus(void)
{
    return hv_dom->nr_vcpus;
}

bool xensim_dm_ready(void)
{
    unsigned i;
    bool ready = false;

    pthread_mutex_lock(&hv.lock);
    for (i = 0; i < HV_MAX_SERVERS; i++) {
        ready |= hv_dom->server[i].used && hv_dom->server[i].enabled;
    }
    pthread_mutex_unlock(&hv.lock);
    return ready;
}
