/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim: the C client of xensim-hv's control socket (one command line,
 * then body lines, then a final "ok ..." or "err ..." line; see
 * ../README.md), for the qtest bridge and the AHCI workload.
 *
 * Every function returns 0 or -1 with the reason in c->err; a lost reply
 * marks the client broken (every later call fails at once).
 */
#ifndef XENSIM_CTLCLIENT_H
#define XENSIM_CTLCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct CtlClient {
    int fd;
    int intr_fd;        /* readable = abandon the current wait (signals) */
    int timeout_ms;     /* for each reply line */
    char *buf;          /* bytes received and not yet consumed */
    size_t len;
    size_t cap;
    char *line;         /* the last reply line, NUL-terminated */
    bool broken;        /* a reply was lost: the stream is out of step */
    char err[256];      /* why the last command failed */
} CtlClient;

/* Connect; intr_fd (or -1) readable makes a wait give up, timeout_ms
 * bounds the wait for each reply line.  0 or -1 (c->err says why). */
int ctlc_connect(CtlClient *c, const char *path, int intr_fd,
                 int timeout_ms);
void ctlc_close(CtlClient *c);

/* Queue one command line (no newline) without waiting for its reply. */
int ctlc_send(CtlClient *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Read the reply to the oldest unanswered command.  Returns 0 for "ok"
 * with *rest pointing at what follows "ok" (valid until the next call),
 * -1 otherwise with c->err describing the failure.
 */
int ctlc_reply(CtlClient *c, const char **rest);

/* ctlc_reply() for a command that prints lines before its final one
 * (counters, irqlog): line() gets each of them (NULL: ignored). */
int ctlc_reply_body(CtlClient *c, const char **rest,
                    void (*line)(void *opaque, const char *line),
                    void *opaque);

/* ctlc_send() + ctlc_reply(). */
int ctlc_cmd(CtlClient *c, const char **rest, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A command whose reply is "ok VALUE"; parses VALUE. */
int ctlc_value(CtlClient *c, uint64_t *val, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * The failure return of this client and of the clients built on it
 * (the workload's Vcpu, Qmp and Ahci): the reason formatted into err,
 * an array of size bytes, and -1.  Each file wraps it in its fail()
 * macro, e.g. ctlc_errorf(x->err, sizeof(x->err), ...).
 */
int ctlc_errorf(char *err, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* XENSIM_CTLCLIENT_H */
