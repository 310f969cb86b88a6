/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim wire helpers shared by the libraries and the hypervisor:
 * whole-message send/receive on a SOCK_STREAM Unix socket, with fds as
 * SCM_RIGHTS on the first byte of the header.
 *
 * Invariants: a message is sent or received completely or the call
 * fails (-1/errno); received fds beyond what the caller can hold are
 * closed, never leaked; EINTR is retried.
 */
#ifndef XENSIM_WIRE_H
#define XENSIM_WIRE_H

#include <stddef.h>

#include "../proto.h"

/* Send hdr (hdr->len must equal len) + payload, attaching nfds fds. */
int xensim_wire_send(int sock, const XenSimMsg *hdr, const void *payload,
                     size_t len, const int *fds, unsigned nfds);

/* Receive one header; stores up to *nfds fds into fds, count in *nfds.
 * Returns 0, or -1 with errno (ECONNRESET on orderly EOF). */
int xensim_wire_recv_hdr(int sock, XenSimMsg *hdr, int *fds, unsigned *nfds);

/* Read exactly len bytes (payload). */
int xensim_wire_read(int sock, void *buf, size_t len);

/* Read and discard len bytes. */
int xensim_wire_skip(int sock, size_t len);

#endif /* XENSIM_WIRE_H */
