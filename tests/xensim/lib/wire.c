/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim wire helpers: see wire.h for the contract.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "wire.h"

static int send_all(int sock, struct iovec *iov, int iovcnt,
                    const int *fds, unsigned nfds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * XENSIM_MAX_FDS)];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = { .msg_iov = iov, .msg_iovlen = iovcnt };

    if (nfds > XENSIM_MAX_FDS) {
        errno = EINVAL;
        return -1;
    }
    if (nfds) {
        struct cmsghdr *cm;

        memset(&ctl, 0, sizeof(ctl));
        msg.msg_control = ctl.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
    }
    while (msg.msg_iovlen) {
        ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        /* fds went with the first chunk */
        msg.msg_control = NULL;
        msg.msg_controllen = 0;
        while (msg.msg_iovlen && (size_t)n >= msg.msg_iov->iov_len) {
            n -= msg.msg_iov->iov_len;
            msg.msg_iov++;
            msg.msg_iovlen--;
        }
        if (msg.msg_iovlen) {
            msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + n;
            msg.msg_iov->iov_len -= n;
        }
    }
    return 0;
}

int xensim_wire_send(int sock, const XenSimMsg *hdr, const void *payload,
                     size_t len, const int *fds, unsigned nfds)
{
    struct iovec iov[2] = {
        { .iov_base = (void *)hdr, .iov_len = sizeof(*hdr) },
        { .iov_base = (void *)payload, .iov_len = len },
    };

    return send_all(sock, iov, len ? 2 : 1, fds, nfds);
}

int xensim_wire_read(int sock, void *buf, size_t len)
{
    char *p = buf;

    while (len) {
        ssize_t n = read(sock, p, len);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        if (n == 0) {
            errno = ECONNRESET;
            return -1;
        }
        p += n;
        len -= n;
    }
    return 0;
}

int xensim_wire_skip(int sock, size_t len)
{
    char buf[4096];

    while (len) {
        size_t chunk = len < sizeof(buf) ? len : sizeof(buf);

        if (xensim_wire_read(sock, buf, chunk) < 0) {
            return -1;
        }
        len -= chunk;
    }
    return 0;
}

int xensim_wire_recv_hdr(int sock, XenSimMsg *hdr, int *fds, unsigned *nfds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * XENSIM_MAX_FDS)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = { .iov_base = hdr, .iov_len = sizeof(*hdr) };
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
    };
    unsigned want = nfds ? *nfds : 0, got = 0;
    struct cmsghdr *cm;
    ssize_t n;

    do {
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return -1;
    }
    if (n == 0) {
        errno = ECONNRESET;
        return -1;
    }
    for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
        int *in;
        unsigned i, cnt;

        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        in = (int *)CMSG_DATA(cm);
        cnt = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (i = 0; i < cnt; i++) {
            if (got < want) {
                fds[got++] = in[i];
            } else {
                close(in[i]);
            }
        }
    }
    if (nfds) {
        *nfds = got;
    }
    if ((size_t)n < sizeof(*hdr) &&
        xensim_wire_read(sock, (char *)hdr + n, sizeof(*hdr) - n) < 0) {
        while (got) {
            close(fds[--got]);
        }
        if (nfds) {
            *nfds = 0;
        }
        return -1;
    }
    return 0;
}
