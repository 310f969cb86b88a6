/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim sockio: the small socket and line-protocol helpers that
 * xensim-hv, xenstored, the replacement libraries, the qtest bridge and
 * the AHCI workload have in common.
 *
 * Invariants: failures are -1 with errno set, nothing is logged and
 * nothing allocated (the libraries carry this file too); fds are
 * close-on-exec; EINTR is retried.
 */
#ifndef XENSIM_SOCKIO_H
#define XENSIM_SOCKIO_H

#include <stddef.h>

/* A SOCK_STREAM connection to the Unix socket at path. */
int sockio_connect(const char *path);

/*
 * A SOCK_STREAM socket listening (backlog 64) at path, which is unlinked
 * first; flags (e.g. SOCK_NONBLOCK) are added to the socket type.
 */
int sockio_listen(const char *path, int flags);

/* Send all len bytes of buf (MSG_NOSIGNAL).  0, or -1/errno. */
int sockio_send_all(int fd, const void *buf, size_t len);

/* The value of hex digit c (either case), or -1. */
int sockio_hexval(char c);

/* The bytes an access size letter names (b, w, l, q), or 0. */
unsigned sockio_size_letter(char c);

#endif /* XENSIM_SOCKIO_H */
