/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim qtest bridge: client of xensim-hv's line-protocol control socket
 * (commands in ../README.md).
 *
 * Invariants: replies are matched to commands strictly in order; once a
 * reply is lost (timeout, interruption, I/O error) the client is marked
 * broken and every later command fails at once instead of reading some
 * other command's answer.  A reply line longer than HVCTL_MAX_LINE is an
 * error, not an allocation.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/sockio.h"
#include "bridge.h"

/* memread's largest answer is 2 * 128 KiB of hex plus "ok ". */
#define HVCTL_MAX_LINE      (300 * 1024)
/* The hv answers within its vCPU timeout (10 s by default). */
#define HVCTL_TIMEOUT_MS    60000

int hvctl_connect(HvCtl *c, const char *path, int intr_fd)
{
    memset(c, 0, sizeof(*c));
    c->intr_fd = intr_fd;
    c->fd = sockio_connect(path);
    return c->fd < 0 ? -1 : 0;
}

void hvctl_close(HvCtl *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    free(c->line);
    c->line = NULL;
    c->len = c->cap = 0;
}

static int broken(HvCtl *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int broken(HvCtl *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->err, sizeof(c->err), fmt, ap);
    va_end(ap);
    c->broken = true;
    return -1;
}

static int vsend(HvCtl *c, const char *fmt, va_list ap)
{
    char *msg;
    int n;

    if (c->broken || c->fd < 0) {
        snprintf(c->err, sizeof(c->err), "xensim control socket unusable");
        return -1;
    }
    n = vasprintf(&msg, fmt, ap);
    if (n < 0) {
        return broken(c, "out of memory");
    }
    msg[n] = '\n';  /* replaces the NUL; we write n + 1 bytes */
    if (sockio_send_all(c->fd, msg, n + 1) < 0) {
        free(msg);
        return broken(c, "xensim control socket: %s", strerror(errno));
    }
    free(msg);
    return 0;
}

int hvctl_send(HvCtl *c, const char *fmt, ...)
{
    va_list ap;
    int ret;

    va_start(ap, fmt);
    ret = vsend(c, fmt, ap);
    va_end(ap);
    return ret;
}

/* Wait for the control socket; give up on timeout or interruption. */
static int wait_readable(HvCtl *c)
{
    struct pollfd p[2] = {
        { .fd = c->fd, .events = POLLIN },
        { .fd = c->intr_fd, .events = POLLIN },
    };
    int r;

    do {
        r = poll(p, c->intr_fd >= 0 ? 2 : 1, HVCTL_TIMEOUT_MS);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        return broken(c, "poll: %s", strerror(errno));
    }
    if (r == 0) {
        return broken(c, "xensim-hv did not answer in %d ms",
                      HVCTL_TIMEOUT_MS);
    }
    if (p[0].revents) {
        return 0;
    }
    return broken(c, "interrupted (device model or bridge stopping)");
}

int hvctl_reply(HvCtl *c, const char **rest)
{
    char *nl;
    size_t n;

    if (c->broken || c->fd < 0) {
        snprintf(c->err, sizeof(c->err), "xensim control socket unusable");
        return -1;
    }
    while (!(nl = memchr(c->buf, '\n', c->len))) {
        ssize_t r;

        if (c->len >= HVCTL_MAX_LINE) {
            return broken(c, "xensim-hv reply too long");
        }
        if (c->cap - c->len < 4096) {
            size_t cap = c->cap ? c->cap * 2 : 8192;
            char *p = realloc(c->buf, cap);

            if (!p) {
                return broken(c, "out of memory");
            }
            c->buf = p;
            c->cap = cap;
        }
        if (wait_readable(c) < 0) {
            return -1;
        }
        r = read(c->fd, c->buf + c->len, c->cap - c->len);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return broken(c, "xensim control socket: %s",
                          r ? strerror(errno) : "closed");
        }
        c->len += r;
    }
    n = nl - c->buf;
    free(c->line);
    c->line = malloc(n + 1);
    if (!c->line) {
        return broken(c, "out of memory");
    }
    memcpy(c->line, c->buf, n);
    c->line[n] = 0;
    memmove(c->buf, nl + 1, c->len - n - 1);
    c->len -= n + 1;

    if (!strncmp(c->line, "ok", 2) && (!c->line[2] || c->line[2] == ' ')) {
        *rest = c->line[2] ? c->line + 3 : c->line + 2;
        return 0;
    }
    if (!strncmp(c->line, "err ", 4)) {
        snprintf(c->err, sizeof(c->err), "xensim: %s", c->line + 4);
    } else {
        /* Not an answer we know: we can no longer trust the pairing. */
        broken(c, "xensim-hv sent an unexpected line");
    }
    return -1;
}

int hvctl_cmd(HvCtl *c, const char **rest, const char *fmt, ...)
{
    va_list ap;
    int ret;

    va_start(ap, fmt);
    ret = vsend(c, fmt, ap);
    va_end(ap);
    if (ret < 0) {
        return ret;
    }
    return hvctl_reply(c, rest);
}

int hvctl_value(HvCtl *c, uint64_t *val, const char *fmt, ...)
{
    va_list ap;
    const char *rest;
    char *end;
    int ret;

    va_start(ap, fmt);
    ret = vsend(c, fmt, ap);
    va_end(ap);
    if (ret < 0 || hvctl_reply(c, &rest) < 0) {
        return -1;
    }
    errno = 0;
    *val = strtoull(rest, &end, 0);
    if (errno || end == rest || *end) {
        snprintf(c->err, sizeof(c->err), "xensim: bad value '%.40s'", rest);
        return -1;
    }
    return 0;
}
