/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim libxenevtchn.so.1: event channels of the simulated host.
 *
 * Like /dev/xen/evtchn, each handle has one fd (here the client end of a
 * socketpair whose other end the hypervisor holds) that is readable
 * exactly while a port bound on this handle is pending; each pending
 * port arrives as one 4-byte message.  So xenevtchn_pending() is a local
 * non-blocking read.  notify and unmask of a port this handle has bound
 * are one-way messages (they cannot fail on Xen), so answering an ioreq
 * never waits for the hypervisor to be scheduled; a notify of any other
 * port takes a round trip and gets Xen's EINVAL.
 *
 * Invariants: a port returned by xenevtchn_pending() stays masked in the
 * hypervisor until xenevtchn_unmask(); messages on the handle's
 * connection are processed in order, so a one-way notify is seen after
 * everything the caller did before it; failures are -1/errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <xenevtchn.h>

#include "client.h"

#define MAX_BOUND_PORTS 4096

struct xenevtchn_handle {
    XenSimConn *conn;
    int event_fd;           /* readable while a port is pending */
    int quiet_fd;           /* keeps a dead event_fd quiet, or -1 */
    pthread_mutex_t lock;   /* guards bound */
    uint8_t bound[MAX_BOUND_PORTS / 8];
};

static void set_bound(xenevtchn_handle *xce, int port, bool on)
{
    if (port <= 0 || port >= MAX_BOUND_PORTS) {
        return;
    }
    pthread_mutex_lock(&xce->lock);
    if (on) {
        xce->bound[port / 8] |= 1u << (port % 8);
    } else {
        xce->bound[port / 8] &= ~(1u << (port % 8));
    }
    pthread_mutex_unlock(&xce->lock);
}

static bool is_bound(xenevtchn_handle *xce, evtchn_port_t port)
{
    bool on;

    if (port >= MAX_BOUND_PORTS) {
        return false;
    }
    pthread_mutex_lock(&xce->lock);
    on = xce->bound[port / 8] & (1u << (port % 8));
    pthread_mutex_unlock(&xce->lock);
    return on;
}

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger,
                                 unsigned open_flags)
{
    xenevtchn_handle *xce = calloc(1, sizeof(*xce));
    int fds[1];
    unsigned nfds = 1;

    if (!xce) {
        return NULL;
    }
    xce->conn = xensim_conn_open(XENSIM_LIB_EVTCHN, fds, &nfds);
    if (!xce->conn || nfds != 1) {
        int e = xce->conn ? EPROTO : errno;

        xensim_conn_close(xce->conn);
        free(xce);
        errno = e;
        return NULL;
    }
    xce->event_fd = fds[0];
    xce->quiet_fd = -1;
    pthread_mutex_init(&xce->lock, NULL);
    return xce;
}

xenevtchn_handle *xenevtchn_fdopen(struct xentoollog_logger *logger, int fd,
                                   unsigned open_flags)
{
    errno = EOPNOTSUPP;
    return NULL;
}

int xenevtchn_close(xenevtchn_handle *xce)
{
    if (xce) {
        close(xce->event_fd);
        if (xce->quiet_fd >= 0) {
            close(xce->quiet_fd);
        }
        xensim_conn_close(xce->conn);
        pthread_mutex_destroy(&xce->lock);
        free(xce);
    }
    return 0;
}

int xenevtchn_fd(xenevtchn_handle *xce)
{
    return xce->event_fd;
}

int xenevtchn_restrict(xenevtchn_handle *xce, domid_t domid)
{
    return 0;
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
    XenSimMsg req = { .op = XENSIM_OP_EVTCHN_NOTIFY, .arg = { port } };

    if (is_bound(xce, port)) {
        return xensim_send_oneway(xce->conn, &req, NULL, 0);
    }
    return xensim_call(xce->conn, &req, NULL, 0, NULL, NULL, 0, NULL,
                       NULL) < 0 ? -1 : 0;
}

xenevtchn_port_or_error_t xenevtchn_bind_unbound_port(xenevtchn_handle *xce,
                                                      uint32_t domid)
{
    int port = xensim_simple(xce->conn, XENSIM_OP_EVTCHN_BIND_UNBOUND, domid,
                             0, 0, 0, NULL);

    set_bound(xce, port, true);
    return port;
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce,
                                                     uint32_t domid,
                                                     evtchn_port_t
                                                     remote_port)
{
    int port = xensim_simple(xce->conn, XENSIM_OP_EVTCHN_BIND_INTERDOMAIN,
                             domid, remote_port, 0, 0, NULL);

    set_bound(xce, port, true);
    return port;
}

xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *xce,
                                              unsigned int virq)
{
    return xensim_simple(xce->conn, XENSIM_OP_EVTCHN_BIND_VIRQ, virq, 0, 0,
                         0, NULL);
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
    set_bound(xce, port, false);
    return xensim_simple(xce->conn, XENSIM_OP_EVTCHN_UNBIND, port, 0, 0, 0,
                         NULL) < 0 ? -1 : 0;
}

/*
 * The hypervisor closed our event socket: its fd would now poll readable
 * (EOF) forever and spin the caller's main loop.  Put a pipe nobody
 * writes to under the same fd number instead.
 */
static void hypervisor_gone(xenevtchn_handle *xce)
{
    int p[2];

    if (xce->quiet_fd >= 0 || pipe2(p, O_CLOEXEC) < 0) {
        return;
    }
    fprintf(stderr, "xensim: the hypervisor has gone; event channels "
            "stay quiet\n");
    dup3(p[0], xce->event_fd, O_CLOEXEC);
    close(p[0]);
    xce->quiet_fd = p[1];
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
    uint32_t port;
    ssize_t n;

    do {
        n = recv(xce->event_fd, &port, sizeof(port), MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof(port)) {
        return port;
    }
    if (n == 0) {
        hypervisor_gone(xce);
        errno = EIO;
    } else if (n > 0) {
        errno = EPROTO;
    }
    return -1;
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
    XenSimMsg req = { .op = XENSIM_OP_EVTCHN_UNMASK, .arg = { port } };

    return xensim_send_oneway(xce->conn, &req, NULL, 0);
}
