/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim devxen shim: /dev/xen/evtchn with the semantics of Linux's
 * drivers/xen/evtchn.c.
 *
 * The fd the application holds is the hv's event socket for this file
 * (SOCK_SEQPACKET, one 4-byte port per message), so poll/select/epoll
 * and O_NONBLOCK work natively: it is readable exactly while a delivered
 * port is queued.  A delivered port stays masked until written back.
 *
 * - read: whole ports only (count rounded down, 0 reads nothing), at
 *   most a page; blocks for the first port unless O_NONBLOCK (EAGAIN).
 * - write: unmasks each port bound through this file; others are
 *   ignored; returns the rounded count.
 * - ioctls: BIND_VIRQ, BIND_INTERDOMAIN, BIND_UNBOUND_PORT, UNBIND
 *   (ENOTCONN if not bound here), NOTIFY (ENOTCONN likewise), RESET,
 *   RESTRICT_DOMID (once; then binds to other domains and unbound/VIRQ
 *   binds fail with EACCES); other commands ENOSYS, as the driver.
 * - close: the hv unbinds every port of the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devxen.h"

#include <sys/ioctl.h>
#include <xen/xen.h>
#include <xen/sys/evtchn.h>

static bool port_bound__locked(DevFile *f, uint32_t port)
{
    return f->bound[port / 8] & (1u << (port % 8));
}

static void port_set__locked(DevFile *f, uint32_t port, bool on)
{
    if (on) {
        f->bound[port / 8] |= 1u << (port % 8);
    } else {
        f->bound[port / 8] &= ~(1u << (port % 8));
    }
}

int evtchn_open(DevFile *f, int oflags)
{
    int fds[XENSIM_MAX_FDS];
    unsigned nfds = XENSIM_MAX_FDS;

    f->bound = calloc(DEVXEN_NR_PORTS / 8, 1);
    if (!f->bound) {
        return -ENOMEM;
    }
    f->conn = xensim_conn_open(XENSIM_LIB_EVTCHN, fds, &nfds);
    if (!f->conn) {
        return -ENODEV;
    }
    if (nfds != 1) {
        while (nfds) {
            real_close(fds[--nfds]);
        }
        return -ENODEV;
    }
    if (oflags & O_NONBLOCK) {
        fcntl(fds[0], F_SETFL, O_NONBLOCK);
    }
    return fds[0];
}

/* A bind through the hv; records the port as this file's. */
static int evtchn_bind(DevFile *f, uint32_t op, uint64_t a0, uint64_t a1)
{
    XenSimMsg rsp;
    int port = xensim_simple(f->conn, op, a0, a1, 0, 0, &rsp);

    if (port < 0) {
        return -errno;
    }
    if ((unsigned)port >= DEVXEN_NR_PORTS) {
        return -EINVAL;
    }
    port_set__locked(f, port, true);
    return port;
}

static int evtchn_ioctl__locked(DevFile *f, unsigned long cmd, void *arg)
{
    bool restricted = f->restrict_domid != DEVXEN_DOMID_NONE;
    XenSimMsg req;
    int ret;

    switch (cmd) {
    case IOCTL_EVTCHN_BIND_VIRQ: {
        struct ioctl_evtchn_bind_virq b;

        if (restricted) {
            return -EACCES;
        }
        ret = devxen_copy_in(&b, arg, sizeof(b));
        return ret < 0 ? ret :
               evtchn_bind(f, XENSIM_OP_EVTCHN_BIND_VIRQ, b.virq, 0);
    }
    case IOCTL_EVTCHN_BIND_INTERDOMAIN: {
        struct ioctl_evtchn_bind_interdomain b;

        ret = devxen_copy_in(&b, arg, sizeof(b));
        if (ret < 0) {
            return ret;
        }
        if (restricted && f->restrict_domid != b.remote_domain) {
            return -EACCES;
        }
        return evtchn_bind(f, XENSIM_OP_EVTCHN_BIND_INTERDOMAIN,
                           b.remote_domain, b.remote_port);
    }
    case IOCTL_EVTCHN_BIND_UNBOUND_PORT: {
        struct ioctl_evtchn_bind_unbound_port b;

        if (restricted) {
            return -EACCES;
        }
        ret = devxen_copy_in(&b, arg, sizeof(b));
        return ret < 0 ? ret :
               evtchn_bind(f, XENSIM_OP_EVTCHN_BIND_UNBOUND,
                           b.remote_domain, 0);
    }
    case IOCTL_EVTCHN_UNBIND: {
        struct ioctl_evtchn_unbind u;

        ret = devxen_copy_in(&u, arg, sizeof(u));
        if (ret < 0) {
            return ret;
        }
        if (u.port >= DEVXEN_NR_PORTS) {
            return -EINVAL;
        }
        if (!port_bound__locked(f, u.port)) {
            return -ENOTCONN;
        }
        if (xensim_simple(f->conn, XENSIM_OP_EVTCHN_UNBIND, u.port, 0, 0, 0,
                          NULL) < 0) {
            return -errno;
        }
        port_set__locked(f, u.port, false);
        return 0;
    }
    case IOCTL_EVTCHN_NOTIFY: {
        struct ioctl_evtchn_notify n;

        ret = devxen_copy_in(&n, arg, sizeof(n));
        if (ret < 0) {
            return ret;
        }
        if (n.port >= DEVXEN_NR_PORTS) {
            return -EINVAL;
        }
        if (!port_bound__locked(f, n.port)) {
            return -ENOTCONN;
        }
        /* Cannot fail on Xen for a bound port: one-way. */
        req = (XenSimMsg) { .op = XENSIM_OP_EVTCHN_NOTIFY,
                            .arg = { n.port } };
        return xensim_send_oneway(f->conn, &req, NULL, 0) < 0 ? -errno : 0;
    }
    case IOCTL_EVTCHN_RESET: {
        uint32_t port;

        while (recv(f->fd, &port, sizeof(port), MSG_DONTWAIT) > 0) {
            /* the ring is emptied; the ports stay masked, as in Linux */
        }
        return 0;
    }
    case IOCTL_EVTCHN_RESTRICT_DOMID: {
        struct ioctl_evtchn_restrict_domid r;

        if (restricted) {
            return -EACCES;
        }
        ret = devxen_copy_in(&r, arg, sizeof(r));
        if (ret < 0) {
            return ret;
        }
        if (r.domid == 0 || r.domid >= DOMID_FIRST_RESERVED) {
            return -EINVAL;
        }
        f->restrict_domid = r.domid;
        return 0;
    }
    }
    return -ENOSYS;
}

int evtchn_ioctl(DevFile *f, unsigned long cmd, void *arg)
{
    int ret;

    pthread_mutex_lock(&f->lock);
    ret = evtchn_ioctl__locked(f, cmd, arg);
    pthread_mutex_unlock(&f->lock);
    return ret;
}

/*
 * The ports are received straight into the caller's buffer, one message
 * each: a bad buffer is the kernel's EFAULT, as copy_to_user's in Linux
 * (there the ports stay queued; here the one being received is lost).
 */
ssize_t evtchn_read(DevFile *f, void *buf, size_t count)
{
    char *ports = buf;          /* any alignment: recv copies bytes */
    size_t n, want;
    ssize_t r;

    count &= ~(sizeof(uint32_t) - 1);
    if (!count) {
        return 0;
    }
    if (count > DEVXEN_PAGE_SIZE) {
        count = DEVXEN_PAGE_SIZE;
    }
    want = count / sizeof(uint32_t);
    do {
        r = recv(f->fd, ports, sizeof(uint32_t), 0);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        return -errno;
    }
    if (r != sizeof(uint32_t)) {
        return -EIO;            /* the hv went away */
    }
    for (n = 1; n < want; n++) {
        if (recv(f->fd, ports + n * sizeof(uint32_t), sizeof(uint32_t),
                 MSG_DONTWAIT) !=
            sizeof(uint32_t)) {
            break;
        }
    }
    return n * sizeof(uint32_t);
}

ssize_t evtchn_write(DevFile *f, const void *buf, size_t count)
{
    uint32_t ports[DEVXEN_PAGE_SIZE / sizeof(uint32_t)];
    size_t i;
    int ret;

    count &= ~(sizeof(uint32_t) - 1);
    if (!count) {
        return 0;
    }
    if (count > DEVXEN_PAGE_SIZE) {
        count = DEVXEN_PAGE_SIZE;
    }
    ret = devxen_copy_in(ports, buf, count);
    if (ret < 0) {
        return ret;
    }
    pthread_mutex_lock(&f->lock);
    for (i = 0; i < count / sizeof(uint32_t); i++) {
        XenSimMsg req = { .op = XENSIM_OP_EVTCHN_UNMASK,
                          .arg = { ports[i] } };

        if (ports[i] < DEVXEN_NR_PORTS && port_bound__locked(f, ports[i])) {
            xensim_send_oneway(f->conn, &req, NULL, 0);
        }
    }
    pthread_mutex_unlock(&f->lock);
    return count;
}
