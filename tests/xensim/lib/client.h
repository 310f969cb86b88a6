/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim library side of the transport (see ../proto.h): one connection
 * per library handle, synchronous request/reply under the handle's lock.
 *
 * Invariants:
 *  - A XenSimConn is connected and has completed XENSIM_OP_HELLO, or
 *    xensim_conn_open() returned NULL with errno set.
 *  - xensim_call() never leaves a half-read reply behind: on a transport
 *    error the connection is marked dead and every later call fails
 *    with EIO (the hypervisor went away; nothing else is safe).
 *  - Library code reports failures to its caller with -1/errno (or NULL)
 *    as the real Xen library would; it never exits.
 *
 * This file is compiled into every replacement library; the symbols are
 * hidden by the version scripts, so each .so has its own copy.
 */
#ifndef XENSIM_CLIENT_H
#define XENSIM_CLIENT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "../proto.h"

typedef struct XenSimConn {
    int fd;
    int dead;
    pthread_mutex_t lock;
    uint32_t domid;         /* the simulated guest, from HELLO */
    uint32_t nr_vcpus;
} XenSimConn;

/* Connect to $XENSIM_SOCKET and say HELLO for lib.  fds the HELLO reply
 * carries are stored in fds[] (up to *nfds on entry; count on return). */
XenSimConn *xensim_conn_open(XenSimLib lib, int *fds, unsigned *nfds);
void xensim_conn_close(XenSimConn *c);

/*
 * One request/reply.  req->op and args are filled by the caller; in/inlen
 * is the payload sent.  The reply header lands in *rsp; up to outlen
 * reply payload bytes are copied to out (the rest is discarded), and up
 * to *nfds received fds are stored in fds (count returned in *nfds).
 * Returns rsp->ret, or -1 with errno = rsp->err / transport errno.
 */
int xensim_call(XenSimConn *c, XenSimMsg *req, const void *in, size_t inlen,
                XenSimMsg *rsp, void *out, size_t outlen,
                int *fds, unsigned *nfds);

/* Send a one-way message (no reply).  Returns 0 or -1/errno. */
int xensim_send_oneway(XenSimConn *c, XenSimMsg *req, const void *in,
                       size_t inlen);

/* Convenience: request with args only, no payloads. */
int xensim_simple(XenSimConn *c, uint32_t op, uint64_t a0, uint64_t a1,
                  uint64_t a2, uint64_t a3, XenSimMsg *rsp);

/* Tell the hypervisor about a call it does not implement; sets errno. */
int xensim_unsupported(XenSimConn *c, const char *func);

/* Report a device-model bug seen on the library side (one-way). */
void xensim_report(XenSimConn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* XENSIM_CLIENT_H */
