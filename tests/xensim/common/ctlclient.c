/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim: the C client of xensim-hv's line-protocol control socket
 * (ctlclient.h; commands in ../README.md), shared by the qtest bridge and
 * the AHCI workload.
 *
 * Invariants: replies are matched to commands strictly in order; once a
 * reply is lost (timeout, interruption, I/O error) the client is marked
 * broken and every later command fails at once instead of reading some
 * other command's answer.  A reply line longer than CTLC_MAX_LINE is an
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
#include "ctlclient.h"

/* memread's largest answer is 2 * 128 KiB of hex plus "ok ". */
#define CTLC_MAX_LINE       (300 * 1024)

int ctlc_errorf(char *err, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return -1;
}

/* Fail the command, and mark the client out of step for good. */
#define broken(c, ...) \
    ((c)->broken = true, ctlc_errorf((c)->err, sizeof((c)->err), __VA_ARGS__))

int ctlc_connect(CtlClient *c, const char *path, int intr_fd,
                 int timeout_ms)
{
    memset(c, 0, sizeof(*c));
    c->intr_fd = intr_fd;
    c->timeout_ms = timeout_ms;
    c->fd = sockio_connect(path);
    if (c->fd < 0) {
        return broken(c, "control socket %s: %s", path, strerror(errno));
    }
    return 0;
}

void ctlc_close(CtlClient *c)
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

static int vsend(CtlClient *c, const char *fmt, va_list ap)
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

int ctlc_send(CtlClient *c, const char *fmt, ...)
{
    va_list ap;
    int ret;

    va_start(ap, fmt);
    ret = vsend(c, fmt, ap);
    va_end(ap);
    return ret;
}

/* Wait for the control socket; give up on timeout or interruption. */
static int wait_readable(CtlClient *c)
{
    struct pollfd p[2] = {
        { .fd = c->fd, .events = POLLIN },
        { .fd = c->intr_fd, .events = POLLIN },
    };
    int r;

    do {
        r = poll(p, c->intr_fd >= 0 ? 2 : 1, c->timeout_ms);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        return broken(c, "poll: %s", strerror(errno));
    }
    if (r == 0) {
        return broken(c, "xensim-hv did not answer in %d ms",
                      c->timeout_ms);
    }
    if (p[0].revents) {
        return 0;
    }
    return broken(c, "interrupted (device model or bridge stopping)");
}

/* Take the next line into c->line.  0 or -1 (c->err set). */
static int next_line(CtlClient *c)
{
    char *nl = NULL;
    size_t n;

    if (c->broken || c->fd < 0) {
        snprintf(c->err, sizeof(c->err), "xensim control socket unusable");
        return -1;
    }
    /* (no buffer before the first read: memchr(NULL, ..., 0) is UB) */
    while (!c->len || !(nl = memchr(c->buf, '\n', c->len))) {
        ssize_t r;

        if (c->len >= CTLC_MAX_LINE) {
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
    return 0;
}

static bool is_final(const char *line)
{
    return (!strncmp(line, "ok", 2) && (!line[2] || line[2] == ' ')) ||
           !strncmp(line, "err ", 4);
}

/* The final line in c->line: 0 for ok (*rest after it), -1 for err. */
static int final_reply(CtlClient *c, const char **rest)
{
    if (!strncmp(c->line, "ok", 2)) {
        *rest = c->line[2] ? c->line + 3 : c->line + 2;
        return 0;
    }
    snprintf(c->err, sizeof(c->err), "xensim: %s", c->line + 4);
    return -1;
}

int ctlc_reply(CtlClient *c, const char **rest)
{
    if (next_line(c) < 0) {
        return -1;
    }
    if (!is_final(c->line)) {
        /* Not an answer we know: we can no longer trust the pairing. */
        return broken(c, "xensim-hv sent an unexpected line");
    }
    return final_reply(c, rest);
}

int ctlc_reply_body(CtlClient *c, const char **rest,
                    void (*line)(void *opaque, const char *line),
                    void *opaque)
{
    for (;;) {
        if (next_line(c) < 0) {
            return -1;
        }
        if (is_final(c->line)) {
            return final_reply(c, rest);
        }
        if (line) {
            line(opaque, c->line);
        }
    }
}

int ctlc_cmd(CtlClient *c, const char **rest, const char *fmt, ...)
{
    va_list ap;
    int ret;

    va_start(ap, fmt);
    ret = vsend(c, fmt, ap);
    va_end(ap);
    if (ret < 0) {
        return ret;
    }
    return ctlc_reply(c, rest);
}

int ctlc_value(CtlClient *c, uint64_t *val, const char *fmt, ...)
{
    va_list ap;
    const char *rest;
    char *end;
    int ret;

    va_start(ap, fmt);
    ret = vsend(c, fmt, ap);
    va_end(ap);
    if (ret < 0 || ctlc_reply(c, &rest) < 0) {
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
