/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim library side of the transport: see client.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/sockio.h"
#include "client.h"
#include "wire.h"

static int connect_socket(void)
{
    const char *path = getenv(XENSIM_SOCKET_ENV);
    int fd;

    if (!path || !*path) {
        fprintf(stderr, "xensim: %s is not set: no hypervisor to talk to\n",
                XENSIM_SOCKET_ENV);
        errno = ENOENT;
        return -1;
    }
    fd = sockio_connect(path);
    if (fd < 0) {
        int e = errno;

        fprintf(stderr, "xensim: cannot connect to %s: %s\n", path,
                strerror(e));
        errno = e;
    }
    return fd;
}

XenSimConn *xensim_conn_open(XenSimLib lib, int *fds, unsigned *nfds)
{
    XenSimConn *c = calloc(1, sizeof(*c));
    XenSimMsg req = { .op = XENSIM_OP_HELLO }, rsp;
    int e;

    if (!c) {
        return NULL;
    }
    c->fd = connect_socket();
    if (c->fd < 0) {
        e = errno;
        free(c);
        errno = e;
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    req.arg[0] = lib;
    req.arg[1] = getpid();
    if (xensim_call(c, &req, NULL, 0, &rsp, NULL, 0, fds, nfds) < 0) {
        e = errno;
        xensim_conn_close(c);
        errno = e;
        return NULL;
    }
    c->domid = rsp.arg[0];
    c->nr_vcpus = rsp.arg[1];
    return c;
}

void xensim_conn_close(XenSimConn *c)
{
    if (!c) {
        return;
    }
    close(c->fd);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static int call_locked(XenSimConn *c, XenSimMsg *req, const void *in,
                       size_t inlen, XenSimMsg *rsp, void *out,
                       size_t outlen, int *fds, unsigned *nfds)
{
    size_t take;

    if (c->dead) {
        errno = EIO;
        return -1;
    }
    req->len = inlen;
    req->flags = 0;
    if (xensim_wire_send(c->fd, req, in, inlen, NULL, 0) < 0 ||
        xensim_wire_recv_hdr(c->fd, rsp, fds, nfds) < 0) {
        goto dead;
    }
    if (rsp->len > XENSIM_MAX_PAYLOAD) {
        errno = EPROTO;
        goto dead;
    }
    take = rsp->len < outlen ? rsp->len : outlen;
    if (xensim_wire_read(c->fd, out, take) < 0 ||
        xensim_wire_skip(c->fd, rsp->len - take) < 0) {
        goto dead;
    }
    if (rsp->ret < 0) {
        errno = rsp->err ? rsp->err : EIO;
        return -1;
    }
    return rsp->ret;

dead:
    fprintf(stderr, "xensim: lost the hypervisor connection: %s\n",
            strerror(errno));
    c->dead = 1;
    errno = EIO;
    return -1;
}

int xensim_call(XenSimConn *c, XenSimMsg *req, const void *in, size_t inlen,
                XenSimMsg *rsp, void *out, size_t outlen,
                int *fds, unsigned *nfds)
{
    XenSimMsg scratch;
    int ret, e;

    if (!rsp) {
        rsp = &scratch;
    }
    pthread_mutex_lock(&c->lock);
    ret = call_locked(c, req, in, inlen, rsp, out, outlen, fds, nfds);
    e = errno;
    pthread_mutex_unlock(&c->lock);
    errno = e;
    return ret;
}

int xensim_send_oneway(XenSimConn *c, XenSimMsg *req, const void *in,
                       size_t inlen)
{
    int ret = 0, e = 0;

    req->len = inlen;
    req->flags = XENSIM_OP_ONEWAY;
    pthread_mutex_lock(&c->lock);
    if (c->dead) {
        ret = -1;
        e = EIO;
    } else if (xensim_wire_send(c->fd, req, in, inlen, NULL, 0) < 0) {
        c->dead = 1;
        ret = -1;
        e = EIO;
    }
    pthread_mutex_unlock(&c->lock);
    errno = e;
    return ret;
}

int xensim_simple(XenSimConn *c, uint32_t op, uint64_t a0, uint64_t a1,
                  uint64_t a2, uint64_t a3, XenSimMsg *rsp)
{
    XenSimMsg req = { .op = op, .arg = { a0, a1, a2, a3 } };

    return xensim_call(c, &req, NULL, 0, rsp, NULL, 0, NULL, NULL);
}

int xensim_unsupported(XenSimConn *c, const char *func)
{
    XenSimMsg req = { .op = XENSIM_OP_UNSUPPORTED };

    if (!c) {
        errno = ENOSYS;
        return -1;
    }
    return xensim_call(c, &req, func, strlen(func) + 1, NULL, NULL, 0,
                       NULL, NULL);
}

void xensim_report(XenSimConn *c, const char *fmt, ...)
{
    XenSimMsg req = { .op = XENSIM_OP_REPORT };
    char text[512];
    va_list ap;
    int e = errno;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    fprintf(stderr, "xensim: device-model bug: %s\n", text);
    if (c) {
        xensim_send_oneway(c, &req, text, strlen(text) + 1);
    }
    errno = e;
}
