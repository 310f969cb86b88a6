/*
 * Xen HVM ioreq server: where ioreqs enter QEMU and responses leave.
 *
 * Owns the server Xen forwards this domain's emulated accesses to: its
 * creation and enabling, the two shared pages (the synchronous page, one
 * ioreq_t slot per vCPU, and the buffered ring), and the event channels
 * (one per vCPU slot plus the buffered one, all on one xenevtchn handle
 * whose fd the main loop polls).
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
 * - nothing read from a shared page is trusted: a bad slot state, a
 *   malformed entry or ring pointers that disagree are logged and
 *   skipped, never fatal;
 * - the ring is drained before any synchronous request is served (Xen's
 *   ordering: buffered writes happen before a later synchronous access);
 * - one wakeup drains at most one ring's worth of entries; a bottom half
 *   in the main loop continues, with the buffered port kept masked until
 *   the ring is empty, so no pass does unbounded work;
 * - the server is enabled, and its fd handler installed, exactly while the
 *   VM runs; xenstore's "running" is written by the accelerator after
 *   this (its handler runs later, see accel/xen/xen-all.c);
 * - everything runs in the main loop with the BQL held, taken once per
 *   wakeup however many requests that wakeup serves; the hot path
 *   allocates nothing.
 *
 * Copyright (c) 2026 Xen DM Developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "sysemu/runstate.h"
#include "sysemu/sysemu.h"
#include "xen-ioreq.h"
#include "trace.h"

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
 * Carry out up to one ring's worth of entries.  Returns true when entries
 * are left for another pass.
 */
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
        uint64_t raw = qatomic_read((uint64_t *)
                                    &pg->buf_ioreq[(rd + done) %
                                                   IOREQ_BUFFER_SLOT_NUM]);
        buf_ioreq_t e;
        ioreq_t req = { .count = 1, .dir = IOREQ_WRITE };
        uint32_t used = 1;
        bool is_write;

        memcpy(&e, &raw, sizeof(e));
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
            raw = qatomic_read((uint64_t *)
                               &pg->buf_ioreq[(rd + done + 1) %
                                              IOREQ_BUFFER_SLOT_NUM]);
            memcpy(&e, &raw, sizeof(e));
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
    smp_mb();   /* entries consumed before the slots are handed back */
    qatomic_add(&pg->read_pointer, done);
    return false;
}

/*
 * With the buffered port masked (it stays so from xenevtchn_pending() to
 * the unmask): drain a batch; unmask once the ring is empty, else let the
 * bottom half go on in the main loop.  While masked Xen sends no events
 * for the ring, so a busy producer costs one wakeup per batch, not per
 * entry; an entry put before the unmask re-raises the event.
 */
static void bufioreq_service(XenIOReqServer *s)
{
    if (bufioreq_drain_batch(s)) {
        qemu_bh_schedule(s->buf_bh);
        return;
    }
    s->buf_masked = false;
    xenevtchn_unmask(s->xce, s->buf_port);
}

static void bufioreq_bh(void *opaque)
{
    XenIOReqServer *s = opaque;

    if (s->serving && s->buf_masked) {
        bufioreq_service(s);
    }
}

/* ---- synchronous slots ---- */

static void serve_slot(XenIOReqServer *s, unsigned int vcpu)
{
    ioreq_t *slot = &s->sync_page->vcpu_ioreq[vcpu];
    ioreq_t req;

    if (slot_state(slot) != STATE_IOREQ_READY) {
        return;
    }
    smp_rmb();                      /* READY seen, then the contents */
    req = *(volatile ioreq_t *)slot;
    slot_set_state(slot, STATE_IOREQ_INPROCESS);

    trace_xen_ioreq_serve(vcpu, req.type, req.dir, req.addr, req.data,
                          req.size, req.count);
    xen_ioreq_dispatch(s, &req);
    slot->data = req.data;
    smp_wmb();                      /* data, then the state */

    if (slot_state(slot) != STATE_IOREQ_INPROCESS) {
        /* Xen took the slot back (or never gave it): not ours to answer. */
        s->stats.rejected++;
        xen_ioreq_log_guest_error("vCPU %u slot changed state to %u while "
                                  "in process; no response", vcpu,
                                  slot_state(slot));
        return;
    }
    xen_hvm_route_shutdown_requests();
    slot_set_state(slot, STATE_IORESP_READY);
    s->stats.sync++;
    xenevtchn_notify(s->xce, s->vcpu_port[vcpu]);
}

static void serve_ready_slots(XenIOReqServer *s)
{
    unsigned int i;

    for (i = 0; i < s->nr_vcpus; i++) {
        serve_slot(s, i);
    }
}

/*
 * Every pending event, then the buffered ring, then every ready slot (a
 * buffered write precedes any later synchronous access).  vCPU ports are
 * unmasked before their slots are served, so that the next request
 * raises a new event instead of being lost.
 */
static void xen_ioreq_events__locked(XenIOReqServer *s)
{
    xenevtchn_port_or_error_t port;
    bool sync = false;

    while ((port = xenevtchn_pending(s->xce)) >= 0) {
        if ((evtchn_port_t)port == s->buf_port) {
            s->buf_masked = true;
        } else {
            xenevtchn_unmask(s->xce, port);
            sync = true;
        }
    }
    if (s->buf_masked) {
        bufioreq_service(s);
    } else if (sync) {
        bufioreq_drain_batch(s);    /* only what Xen put before the slot */
    }
    if (sync) {
        serve_ready_slots(s);
    } else if (!s->buf_masked) {
        s->stats.spurious++;
    }
}

/* The event channels' fd handler, in the main loop. */
static void xen_ioreq_fd_event(void *opaque)
{
    xen_ioreq_events__locked(opaque);
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
    qemu_set_fd_handler(s->xce_fd, serve ? xen_ioreq_fd_event : NULL, NULL,
                        s);
    s->serving = serve;
    trace_xen_ioreq_server_serving(s->id, serve);
    if (serve) {
        /* Whatever arrived while stopped: its event may be gone. */
        if (s->buf_masked) {
            bufioreq_service(s);
        } else {
            bufioreq_drain_batch(s);
        }
        serve_ready_slots(s);
    }
}

static void xen_ioreq_exit(Notifier *n, void *data)
{
    XenIOReqServer *s = container_of(n, XenIOReqServer, exit);

    xendevicemodel_set_ioreq_server_state(xen_dmod, xen_domid, s->id, 0);
    xendevicemodel_destroy_ioreq_server(xen_dmod, xen_domid, s->id);
    if (s->fres) {
        xenforeignmemory_unmap_resource(xen_fmem, s->fres);
    }
    xenevtchn_close(s->xce);
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
    s->xce_fd = xenevtchn_fd(s->xce);
    /*
     * Linux's evtchn device blocks a read with nothing pending; the
     * wakeup handler reads until it is empty, so it must not block.
     */
    if (!g_unix_set_fd_nonblocking(s->xce_fd, true, NULL)) {
        error_setg_errno(errp, errno, "xen: cannot make the event channel "
                         "fd non-blocking");
        xenevtchn_close(s->xce);
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
    s->buf_bh = qemu_bh_new(bufioreq_bh, s);
    qemu_add_vm_change_state_handler(xen_ioreq_run_state, s);
    xen_ioreq_listeners_register(s);
    return s;

fail:
    g_free(s->vcpu_port);
    g_free(s);
    return NULL;
}
