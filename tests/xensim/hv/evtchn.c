/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim-hv event channels: each guest domain's port space (where ioreq
 * servers allocate their per-vCPU and buffered ports) and dom0's port
 * space (where device models and xenconsoled bind them through xenevtchn
 * handles; a dom0 port knows the domain of its peer).
 *
 * Delivery to dom0 follows the Linux evtchn driver that QEMU is written
 * against: a raised port is masked and its number written to the owning
 * handle's event socket (so the fd is readable exactly while something
 * is pending); raising a masked port only sets pending; unmask re-delivers
 * a pending port.  All functions run under hv.lock.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>

#include "hv.h"

static bool lport_valid(uint32_t p)
{
    return p > 0 && p < HV_MAX_PORTS;
}

/* Fault injection: fail the Nth event channel operation. */
static bool evtchn_fault(const char *what)
{
    if (hv.fault_evtchn_fail_in && --hv.fault_evtchn_fail_in == 0) {
        hv_log("fault: failing %s", what);
        return true;
    }
    return false;
}

int hv_guest_port_alloc(void)
{
    uint32_t p;

    for (p = 1; p < HV_MAX_PORTS; p++) {
        if (hv_dom->gport[p].state == HV_PORT_FREE) {
            hv_dom->gport[p] = (HvGuestPort) { .state = HV_PORT_UNBOUND };
            return p;
        }
    }
    return -ENOSPC;
}

void hv_guest_port_free(uint32_t port)
{
    HvGuestPort *g = &hv_dom->gport[port];

    if (g->state == HV_PORT_INTERDOMAIN) {
        /* The dom0 end stays allocated but unbound, as on Xen. */
        hv.lport[g->peer].state = HV_PORT_UNBOUND;
        hv.lport[g->peer].peer = 0;
        hv.lport[g->peer].peer_dom = NULL;
    }
    *g = (HvGuestPort) { .state = HV_PORT_FREE };
}

static void deliver(uint32_t lport)
{
    HvDom0Port *l = &hv.lport[lport];

    if (l->masked) {
        l->pending = true;
        return;
    }
    l->masked = true;
    l->pending = false;
    if (l->owner && l->owner->event_sock >= 0 &&
        send(l->owner->event_sock, &lport, sizeof(lport),
             MSG_DONTWAIT | MSG_NOSIGNAL) != sizeof(lport)) {
        hv_log("evtchn: cannot queue port %u for pid %d: %m", lport,
               l->owner->pid);
    }
}

void hv_guest_send(uint32_t gport)
{
    HvGuestPort *g = &hv_dom->gport[gport];

    if (g->state != HV_PORT_INTERDOMAIN) {
        /* Nobody listening yet: Xen's evtchn_send() drops it. */
        return;
    }
    hv.cnt[HV_CNT_notify_to_dm]++;
    deliver(g->peer);
}

static int lport_alloc(HvClient *c)
{
    uint32_t p;

    for (p = 1; p < HV_MAX_PORTS; p++) {
        if (hv.lport[p].state == HV_PORT_FREE) {
            hv.lport[p] = (HvDom0Port) { .state = HV_PORT_UNBOUND,
                                         .owner = c };
            return p;
        }
    }
    return -ENOSPC;
}

int hv_evtchn_bind_interdomain(HvClient *c, uint32_t domid, uint32_t rport)
{
    HvGuestPort *g;
    int l;

    if (evtchn_fault("bind_interdomain")) {
        return -EINVAL;
    }
    if (hv_domain_check(domid) < 0) {
        return -ESRCH;
    }
    if (!lport_valid(rport)) {
        return -EINVAL;
    }
    g = &hv_dom->gport[rport];
    if (g->state != HV_PORT_UNBOUND) {
        return -EINVAL;
    }
    l = lport_alloc(c);
    if (l < 0) {
        return l;
    }
    g->state = HV_PORT_INTERDOMAIN;
    g->peer = l;
    hv.lport[l].state = HV_PORT_INTERDOMAIN;
    hv.lport[l].peer = rport;
    hv.lport[l].peer_dom = hv_dom;
    hv.cnt[HV_CNT_evtchn_binds]++;
    hv_log("evtchn: domain %u port %u <-> dom0 port %d (pid %d)",
           hv_dom->domid, rport, l, c->pid);
    return l;
}

int hv_evtchn_bind_unbound(HvClient *c, uint32_t domid)
{
    if (evtchn_fault("bind_unbound_port")) {
        return -EINVAL;
    }
    if (domid != 0 && !hv_domain_find(domid)) {
        return -ESRCH;
    }
    return lport_alloc(c);
}

static HvDom0Port *owned(HvClient *c, uint32_t lport)
{
    if (!lport_valid(lport) || hv.lport[lport].state == HV_PORT_FREE ||
        hv.lport[lport].owner != c) {
        return NULL;
    }
    return &hv.lport[lport];
}

int hv_evtchn_unbind(HvClient *c, uint32_t lport)
{
    HvDom0Port *l = owned(c, lport);

    if (!l) {
        return -EINVAL;
    }
    if (l->state == HV_PORT_INTERDOMAIN) {
        /* The guest end goes back to unbound, ready to be bound again. */
        l->peer_dom->gport[l->peer].state = HV_PORT_UNBOUND;
        l->peer_dom->gport[l->peer].peer = 0;
    }
    *l = (HvDom0Port) { .state = HV_PORT_FREE };
    return 0;
}

int hv_evtchn_notify(HvClient *c, uint32_t lport)
{
    HvDom0Port *l;

    if (evtchn_fault("notify")) {
        return -EINVAL;
    }
    l = owned(c, lport);
    if (!l) {
        hv_bug("evtchn notify on port %u, which this handle (pid %d) "
               "has not bound", lport, c->pid);
        return -EINVAL;
    }
    hv.cnt[HV_CNT_notify_from_dm]++;
    if (l->state == HV_PORT_INTERDOMAIN) {
        l->peer_dom->gport[l->peer].notified++;
        hv.events++;
        pthread_cond_broadcast(&hv.cond);
    }
    return 0;
}

void hv_evtchn_unmask(HvClient *c, uint32_t lport)
{
    HvDom0Port *l = owned(c, lport);

    if (!l) {
        hv_bug("evtchn unmask of port %u, which this handle (pid %d) "
               "has not bound", lport, c->pid);
        return;
    }
    l->masked = false;
    if (l->pending) {
        deliver(lport);
    }
}

void hv_evtchn_client_gone(HvClient *c)
{
    uint32_t p;

    for (p = 1; p < HV_MAX_PORTS; p++) {
        if (hv.lport[p].state != HV_PORT_FREE && hv.lport[p].owner == c) {
            hv_evtchn_unbind(c, p);
        }
    }
}
