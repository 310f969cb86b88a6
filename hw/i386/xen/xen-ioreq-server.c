/*
 * Xen HVM ioreq server: where ioreqs enter QEMU and responses leave.
 *
 * Owns the server Xen forwards this domain's emulated accesses to: its
 * creation and enabling, the two shared pages (the synchronous page, one
 * ioreq_t slot per vCPU, and the buffered ring), and the event channels
 * (one per vCPU slot plus the buffered one, all on one xenevtchn handle
 * that the "xen-ioreq" thread reads).
 *
 * Pages: mapped with xenforeignmemory_map_resource (frame 0 the ring,
 * frame 1 the slots); on Xen without it (EOPNOTSUPP) the legacy gfns from
 * get_ioreq_server_info are mapped instead.
 *
 * Synchronous protocol, per slot: Xen fills it and sets READY, then
 * notifies; we read the state, then (after a read barrier) the whole slot
 * once into a local copy, set INPROCESS, dispatch the copy, write back
 * data, and after a write barrier set IORESP_READY and notify once.
 *
 * Buffered ring: 511 slots of 8 bytes; an 8-byte write takes two (the
 * second carries the high half).  Xen advances write_pointer, we advance
 * read_pointer by atomic adds (Xen may rebase both pointers by a multiple
 * of 511 with a 64-bit cmpxchg).  Each entry is read once as one 64-bit
 * word.
 *
 * Invariants:
 * - nothing read from a shared page is trusted: a malformed entry or ring
 *   pointers that disagree are logged and skipped, never fatal; a
 *   notified slot left INPROCESS or in a state that does not exist gets
 *   the answer of a refused request (its vCPU waits for one), NONE and
 *   IORESP_READY are left to Xen;
 * - the ring is drained before any synchronous request is served, the
 *   buffered port masked or not (Xen's ordering: buffered writes happen
 *   before a later synchronous access);
 * - one pass drains at most one ring's worth of entries with the BQL
 *   held once; after a buffered event the thread keeps making passes,
 *   dropping the BQL between them, while they find entries (at most
 *   XEN_BUFIOREQ_MAX_PASSES), and unmasks the buffered port only after
 *   a pass found the ring empty: a busy producer costs no event per
 *   entry, and an entry put while the port is masked raises its event
 *   again at the unmask;
 * - the server is enabled, and requests are served, exactly while the VM
 *   runs; xenstore's "running" is written by the accelerator after this
 *   (its handler runs later, see accel/xen/xen-all.c);
 * - the thread is to Xen's vCPUs what a vCPU thread is to KVM's: it
 *   blocks in the event channel read without the BQL and does everything
 *   else with it held, so devices, the map cache, the bottom half and the
 *   monitor see the locking they see under any accelerator; one wakeup
 *   (one event) takes the BQL once and serves every ready slot; the hot
 *   path allocates nothing and makes three event channel calls per
 *   synchronous request (read the event, unmask, notify), the least the
 *   Linux evtchn device allows a thread that sleeps between requests: a
 *   delivered port stays masked until written back.
 *
 * Copyright (c) 2026 Xen DM Developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/rcu.h"
#include "qemu/thread.h"
#include "qapi/error.h"
#include "sysemu/runstate.h"
#include "sysemu/sysemu.h"
#include "xen-ioreq.h"
#include "trace.h"

/*
 * Passes over a busy ring after one buffered event, before the thread
 * reads its other events again (a pass drains up to 511 slots).
 */
#define XEN_BUFIOREQ_MAX_PASSES 4

/* The server of this domain, once set up. */
static XenIOReqServer *xen_ioreq_server;

/* The state bits of an ioreq_t, read or written as one byte. */
static uint8_t slot_state(ioreq_t *slot)
{
    const volatile ioreq_t *v = slot;   /* one load, shared with Xen */

    return v->state;
}

static void slot_set_state(ioreq_t *slot, uint8_t state)
{
    volatile ioreq_t *v = slot;         /* one store, shared with Xen */

    v->state = state;
}

/* ---- buffered ring ---- */

/*
 * Carry out up to one ring's worth of entries.  Returns true when the
 * pass found entries (or pointers still moving): the producer may be at
 * work, another pass is worth making.
 */
/*
 * Ring slot @i, read once: buf_ioreq_t is two 32-bit words (type, dir,
 * size and addr in the first, data in the second) of 4-byte alignment,
 * so each word is read on its own; a 64-bit atomic load of it would be
 * a misaligned one (a libatomic call under clang).  Xen writes a slot
 * before it moves the write pointer past it, so the halves agree.
 */
static buf_ioreq_t bufioreq_slot(buffered_iopage_t *pg, uint32_t i)
{
    uint32_t *w = (uint32_t *)&pg->buf_ioreq[i % IOREQ_BUFFER_SLOT_NUM];
    uint32_t raw[2] = { qatomic_read(&w[0]), qatomic_read(&w[1]) };
    buf_ioreq_t e;

    QEMU_BUILD_BUG_ON(sizeof(e) != sizeof(raw));
    memcpy(&e, raw, sizeof(e));
    return e;
}

static bool bufioreq_drain_batch(XenIOReqServer *s)
{
    buffered_iopage_t *pg = s->buf_page;
    uint32_t rd, wr, pending, done = 0;
    int tries = 0;

    /* A consistent pair: Xen may rebase both pointers meanwhile. */
    do {
        if (tries++ == 3) {
            return true;        /* moving under us: try again later */
        }
        rd = qatomic_read(&pg->read_pointer);
        smp_rmb();      /* read pointer, then write pointer */
        wr = qatomic_read(&pg->write_pointer);
        smp_rmb();      /* write pointer, then the entries it covers */
    } while (qatomic_read(&pg->read_pointer) != rd);

    pending = wr - rd;
    if (pending > IOREQ_BUFFER_SLOT_NUM) {
        s->stats.rejected++;
        xen_ioreq_log_guest_error("buffered ring pointers disagree: read %u "
                                  "write %u; dropping the ring's contents",
                                  rd, wr);
        qatomic_add(&pg->read_pointer, pending);
        return false;
    }

    while (done < pending) {
        buf_ioreq_t e = bufioreq_slot(pg, rd + done);
        ioreq_t req = { .count = 1, .dir = IOREQ_WRITE };
        uint32_t used = 1;
        bool is_write;

        is_write = e.dir == IOREQ_WRITE;
        req.type = e.type;
        req.addr = e.addr;
        req.size = 1u << e.size;
        req.data = e.data;
        if (req.size == 8) {
            if (pending - done < 2) {
                s->stats.rejected++;
                xen_ioreq_log_guest_error("buffered 8-byte entry at %u has "
                                          "no second half", rd + done);
                done++;
                break;
            }
            e = bufioreq_slot(pg, rd + done + 1);
            req.data |= (uint64_t)e.data << 32;
            used = 2;
        }
        if (!is_write) {
            s->stats.rejected++;
            xen_ioreq_log_guest_error("buffered entry at %u is a read",
                                      rd + done);
        } else if (xen_ioreq_dispatch(s, &req)) {
            s->stats.buffered++;
        }
        done += used;
    }
    trace_xen_bufioreq_drain(rd, wr, done);
    s->stats.buffered_batches += done != 0;
    smp_mb();   /* entries consumed before the slots are handed back */
    qatomic_add(&pg->read_pointer, done);
    return done != 0;
}

/* Unmask the buffered port: the next entry (or one put since) raises it. */
static void bufioreq_unmask(XenIOReqServer *s)
{
    s->buf_masked = false;
    xenevtchn_unmask(s->xce, s->buf_port);
}

/* ---- synchronous slots ---- */

static void answer_slot(XenIOReqServer *s, unsigned int vcpu, ioreq_t *slot,
                        uint64_t data)
{
    slot->data = data;
    smp_wmb();                      /* data, then the state */
    xen_hvm_route_shutdown_requests();
    slot_set_state(slot, STATE_IORESP_READY);
    s->stats.notifies++;
    xenevtchn_notify(s->xce, s->vcpu_port[vcpu]);
}

static void serve_slot(XenIOReqServer *s, unsigned int vcpu)
{
    ioreq_t *slot = &s->sync_page->vcpu_ioreq[vcpu];
    ioreq_t req;

    smp_rmb();                      /* READY seen, then the contents */
    req = *(volatile ioreq_t *)slot;
    slot_set_state(slot, STATE_IOREQ_INPROCESS);

    trace_xen_ioreq_serve(vcpu, req.type, req.dir, req.addr, req.data,
                          req.size, req.count);
    xen_ioreq_dispatch(s, &req);

    if (slot_state(slot) != STATE_IOREQ_INPROCESS) {
        /*
         * Xen took the slot back: NONE means it gave up waiting (it
         * completes the access itself), anything else is not ours.
         */
        s->stats.rejected++;
        xen_ioreq_log_guest_error("vCPU %u slot changed state to %u while "
                                  "in process; no response", vcpu,
                                  slot_state(slot));
        return;
    }
    answer_slot(s, vcpu, slot, req.data);
    s->stats.sync++;
}

/*
 * A notified slot that is not READY.  NONE and IORESP_READY are benign
 * (served by an earlier pass, or the answer not yet taken back by Xen).
 * INPROCESS is never left by us across passes, and states past
 * IORESP_READY do not exist: either way the vCPU waits for an answer
 * nobody will give, so it gets the one for a refused request.
 */
static void answer_stale_slot(XenIOReqServer *s, unsigned int vcpu,
                              uint8_t state)
{
    ioreq_t *slot = &s->sync_page->vcpu_ioreq[vcpu];
    ioreq_t req;

    if (state == STATE_IOREQ_NONE || state == STATE_IORESP_READY) {
        s->stats.spurious++;
        return;
    }
    smp_rmb();                      /* the state, then the contents */
    req = *(volatile ioreq_t *)slot; /* one copy of the shared slot */
    s->stats.stale++;
    xen_ioreq_log_guest_error("vCPU %u notified with its slot in state %u; "
                              "answered as a refused request", vcpu, state);
    if (req.dir == IOREQ_READ && !req.data_is_ptr) {
        req.data = req.size && req.size < 8 ?
                   MAKE_64BIT_MASK(0, req.size * 8) : UINT64_MAX;
    }
    answer_slot(s, vcpu, slot, req.data);
}

/*
 * Serve every READY slot; of vCPU @notified (-1: none) also answer a
 * slot in a state nobody serves.
 */
static void serve_slots(XenIOReqServer *s, int notified)
{
    unsigned int i;

    for (i = 0; i < s->nr_vcpus; i++) {
        uint8_t state = slot_state(&s->sync_page->vcpu_ioreq[i]);

        if (state == STATE_IOREQ_READY) {
            serve_slot(s, i);
        } else if (i == notified) {
            answer_stale_slot(s, i, state);
        }
    }
}

/* The vCPU whose slot @port belongs to, or -1 (the buffered port). */
static int port_vcpu(XenIOReqServer *s, evtchn_port_t port)
{
    unsigned int i;

    for (i = 0; i < s->nr_vcpus; i++) {
        if (s->vcpu_port[i] == port) {
            return i;
        }
    }
    return -1;
}

/*
 * A vCPU's event: the buffered ring first (a buffered write precedes any
 * later synchronous access), then every ready slot.  The port is
 * unmasked before the slots are served, so that its next request raises
 * a new event instead of being lost.  While the VM is stopped nothing is
 * served: the run state handler serves what is ready when it runs again.
 */
static void xen_ioreq_event__locked(XenIOReqServer *s, evtchn_port_t port)
{
    int vcpu = port_vcpu(s, port);

    s->stats.wakeups++;
    xenevtchn_unmask(s->xce, port);
    if (vcpu < 0) {
        s->stats.spurious++;
    } else if (s->serving) {
        bufioreq_drain_batch(s);    /* only what Xen put before the slot */
        serve_slots(s, vcpu);
    }
}

/*
 * The buffered port's event, BQL held; the port stays masked until the
 * unmask.  Passes over the ring while they find entries (a producer at
 * work), at most XEN_BUFIOREQ_MAX_PASSES, each with the BQL held once;
 * between passes it is dropped, so nothing that waits for it waits more
 * than one pass.  Returns false when the server is going.
 */
static bool bufioreq_event__locked(XenIOReqServer *s)
{
    unsigned int pass;

    s->stats.wakeups++;
    s->buf_masked = true;
    for (pass = 0; pass < XEN_BUFIOREQ_MAX_PASSES; pass++) {
        if (pass) {
            qemu_mutex_unlock_iothread();
            qemu_mutex_lock_iothread();
            if (s->exiting) {
                return false;
            }
        }
        if (!s->serving || !s->buf_masked) {
            /*
             * Stopped (the run state handler drains and unmasks when the
             * VM runs again), or that handler ran between two passes.
             */
            return true;
        }
        if (!bufioreq_drain_batch(s)) {
            /* a buffered event for an empty ring */
            s->stats.spurious += pass == 0;
            break;
        }
    }
    bufioreq_unmask(s);
    return true;
}

/*
 * The "xen-ioreq" thread: one event at a time, read without the BQL,
 * handled with it.  It ends when the server goes or its fd fails.
 */
static void *xen_ioreq_thread(void *opaque)
{
    XenIOReqServer *s = opaque;
    bool done = false;

    rcu_register_thread();
    while (!done) {
        xenevtchn_port_or_error_t port = xenevtchn_pending(s->xce);
        int err = errno;

        qemu_mutex_lock_iothread();
        if (s->exiting) {
            done = true;
        } else if (port >= 0 && port == s->buf_port) {
            done = !bufioreq_event__locked(s);
        } else if (port >= 0) {
            xen_ioreq_event__locked(s, port);
        } else if (err != EINTR && err != EAGAIN) {
            error_report("xen: cannot read the ioreq event channels: %s; "
                         "no more requests are served", strerror(err));
            done = true;
        }
        qemu_mutex_unlock_iothread();
    }
    rcu_unregister_thread();
    return NULL;
}

/* ---- set-up and run state ---- */

static bool map_pages(XenIOReqServer *s, Error **errp)
{
    xen_pfn_t sync_gfn = 0, buf_gfn = 0;
    evtchn_port_t buf_remote;
    bool legacy;
    void *addr = NULL;

    QEMU_BUILD_BUG_ON(XENMEM_resource_ioreq_server_frame_bufioreq != 0);
    QEMU_BUILD_BUG_ON(XENMEM_resource_ioreq_server_frame_ioreq(0) != 1);
    s->fres = xenforeignmemory_map_resource(xen_fmem, xen_domid,
                                            XENMEM_resource_ioreq_server,
                                            s->id, 0, 2, &addr,
                                            PROT_READ | PROT_WRITE, 0);
    if (s->fres) {
        s->buf_page = addr;
        s->sync_page = (void *)((uint8_t *)addr + XC_PAGE_SIZE);
    } else if (errno != EOPNOTSUPP) {
        error_setg_errno(errp, errno, "xen: cannot map the ioreq pages");
        return false;
    }
    legacy = !s->fres;
    trace_xen_ioreq_server_pages(s->id, legacy);

    if (xendevicemodel_get_ioreq_server_info(xen_dmod, xen_domid, s->id,
                                             legacy ? &sync_gfn : NULL,
                                             legacy ? &buf_gfn : NULL,
                                             &buf_remote)) {
        error_setg_errno(errp, errno, "xen: get_ioreq_server_info failed");
        return false;
    }
    if (legacy) {
        s->sync_page = xenforeignmemory_map(xen_fmem, xen_domid,
                                            PROT_READ | PROT_WRITE, 1,
                                            &sync_gfn, NULL);
        s->buf_page = xenforeignmemory_map(xen_fmem, xen_domid,
                                           PROT_READ | PROT_WRITE, 1,
                                           &buf_gfn, NULL);
        if (!s->sync_page || !s->buf_page) {
            error_setg_errno(errp, errno, "xen: cannot map the legacy ioreq "
                             "gfns 0x%" PRI_xen_pfn " and 0x%" PRI_xen_pfn,
                             sync_gfn, buf_gfn);
            return false;
        }
    }

    /* Only now may Xen fill vp_eport: enable before binding. */
    if (xendevicemodel_set_ioreq_server_state(xen_dmod, xen_domid, s->id,
                                              1)) {
        error_setg_errno(errp, errno, "xen: cannot enable ioreq server %u",
                         s->id);
        return false;
    }
    s->buf_port = xenevtchn_bind_interdomain(s->xce, xen_domid, buf_remote);
    if ((int)s->buf_port == -1) {
        error_setg_errno(errp, errno, "xen: cannot bind the buffered ioreq "
                         "event channel %u", buf_remote);
        return false;
    }
    return true;
}

static bool bind_vcpu_ports(XenIOReqServer *s, Error **errp)
{
    unsigned int i;

    for (i = 0; i < s->nr_vcpus; i++) {
        /* read once: the page is shared */
        evtchn_port_t remote = qatomic_read(&s->sync_page->vcpu_ioreq[i]
                                            .vp_eport);
        xenevtchn_port_or_error_t local;

        local = xenevtchn_bind_interdomain(s->xce, xen_domid, remote);
        if (local < 0) {
            error_setg_errno(errp, errno, "xen: cannot bind vCPU %u's ioreq "
                             "event channel %u", i, remote);
            return false;
        }
        s->vcpu_port[i] = local;
    }
    return true;
}

static void xen_ioreq_run_state(void *opaque, bool running, RunState state)
{
    XenIOReqServer *s = opaque;
    bool serve = state == RUN_STATE_RUNNING;

    if (serve == s->serving) {
        return;
    }
    if (xendevicemodel_set_ioreq_server_state(xen_dmod, xen_domid, s->id,
                                              serve)) {
        error_report("xen: cannot %s ioreq server %u: %s",
                     serve ? "enable" : "disable", s->id, strerror(errno));
    }
    s->serving = serve;
    trace_xen_ioreq_server_serving(s->id, serve);
    if (serve) {
        /* Whatever arrived while stopped: its event may be gone. */
        bufioreq_drain_batch(s);
        if (s->buf_masked) {
            bufioreq_unmask(s);     /* what came since raises it again */
        }
        serve_slots(s, -1);
    }
}

static void xen_ioreq_exit(Notifier *n, void *data)
{
    XenIOReqServer *s = container_of(n, XenIOReqServer, exit);

    s->exiting = true;          /* BQL held: the thread serves no more */
    xendevicemodel_set_ioreq_server_state(xen_dmod, xen_domid, s->id, 0);
    xendevicemodel_destroy_ioreq_server(xen_dmod, xen_domid, s->id);
    if (s->fres) {
        xenforeignmemory_unmap_resource(xen_fmem, s->fres);
    }
    if (!s->thread_started) {
        xenevtchn_close(s->xce);    /* else the thread may be reading it */
    }
}

XenIOReqServer *xen_ioreq_server_create(unsigned int max_cpus, Error **errp)
{
    XenIOReqServer *s = g_new0(XenIOReqServer, 1);

    if (max_cpus > XEN_IOREQ_MAX_VCPUS) {
        error_setg(errp, "xen: %u vCPUs, but the ioreq page has %zu slots",
                   max_cpus, (size_t)XEN_IOREQ_MAX_VCPUS);
        goto fail;
    }
    s->nr_vcpus = max_cpus;
    s->vcpu_port = g_new0(evtchn_port_t, max_cpus);
    QLIST_INIT(&s->pci_functions);

    s->xce = xenevtchn_open(NULL, 0);
    if (!s->xce) {
        error_setg_errno(errp, errno, "xen: cannot open event channels");
        goto fail;
    }
    if (xendevicemodel_create_ioreq_server(xen_dmod, xen_domid,
                                           HVM_IOREQSRV_BUFIOREQ_ATOMIC,
                                           &s->id)) {
        error_setg_errno(errp, errno, "xen: cannot create an ioreq server");
        xenevtchn_close(s->xce);
        goto fail;
    }
    trace_xen_ioreq_server_new(s->id, max_cpus);
    s->exit.notify = xen_ioreq_exit;
    qemu_add_exit_notifier(&s->exit);

    if (!map_pages(s, errp) || !bind_vcpu_ports(s, errp)) {
        return NULL;    /* the exit notifier tears the server down */
    }
    qemu_add_vm_change_state_handler(xen_ioreq_run_state, s);
    xen_ioreq_listeners_register(s);
    /* It blocks in the event channel read until Xen sends something. */
    qemu_thread_create(&s->thread, "xen-ioreq", xen_ioreq_thread, s,
                       QEMU_THREAD_DETACHED);
    s->thread_started = true;
    xen_ioreq_server = s;
    return s;

fail:
    g_free(s->vcpu_port);
    g_free(s);
    return NULL;
}

XenIOReqServer *xen_ioreq_server_current(void)
{
    return xen_ioreq_server;
}
