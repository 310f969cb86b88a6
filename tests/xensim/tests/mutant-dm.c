/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A mutant device model for the tests' self-checks: LD_PRELOADed into a
 * real QEMU (stock or ours, on either library set), it turns that QEMU
 * into one with a known bug, so that a test can show it fails on it.
 *
 * XENSIM_MUTANT selects the bug:
 *   vcpu0-notify  every xenevtchn_notify goes to the local port bound
 *                 to the lowest remote port (vCPU 0's ioreq port: Xen
 *                 4.17's ioreq_server_add_vcpu() allocates it before
 *                 the other vCPUs' and the buffered port, and xensim
 *                 does the same): a device model that answers every
 *                 vCPU's ioreq on vCPU 0's port.
 * Unset or unknown: nothing changes.
 *
 * Invariant: the real library functions are called for everything; only
 * the port argument of a notify is changed.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xenevtchn.h>

/* Xen 4.17's version node of both functions (lib/xenevtchn.map). */
#define EVTCHN_VERS "VERS_1.0"

static int vcpu0_port = -1;
static evtchn_port_t vcpu0_remote;

static void *real(const char *name)
{
    void *fn = dlvsym(RTLD_NEXT, name, EVTCHN_VERS);

    return fn ? fn : dlsym(RTLD_NEXT, name);
}

static int mutant(const char *name)
{
    const char *m = getenv("XENSIM_MUTANT");

    return m && !strcmp(m, name);
}

xenevtchn_port_or_error_t
xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid,
                           evtchn_port_t remote_port)
{
    xenevtchn_port_or_error_t (*fn)(xenevtchn_handle *, uint32_t,
                                    evtchn_port_t) =
        real("xenevtchn_bind_interdomain");
    xenevtchn_port_or_error_t port = fn(xce, domid, remote_port);

    if (port >= 0 && (vcpu0_port < 0 || remote_port < vcpu0_remote)) {
        vcpu0_port = port;
        vcpu0_remote = remote_port;
    }
    return port;
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
    int (*fn)(xenevtchn_handle *, evtchn_port_t) = real("xenevtchn_notify");

    if (mutant("vcpu0-notify") && vcpu0_port >= 0) {
        port = vcpu0_port;
    }
    return fn(xce, port);
}
