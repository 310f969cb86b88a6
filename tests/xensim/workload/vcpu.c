/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ahci-workload: a guest vCPU through xensim-hv's control socket
 * (the shared client, ../common/ctlclient.h, under guest-level helpers:
 * config space, RAM through a foreign mapping or memread/memwrite,
 * counters) and a QMP client (see vcpu.h).
 *
 * Invariants: each reply line has a deadline; a connection that lost a
 * reply, or got one it cannot parse, is broken for good.
 */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <xenforeignmemory.h>

#include "../common/sockio.h"
#include "vcpu.h"

#define PIECE       (64 * 1024)         /* bytes per memread/memwrite */

/* Fail the call (-1, v->err); with brk, the connection for good. */
#define fail(v, brk, ...) \
    ((v)->broken |= (brk), ctlc_errorf((v)->err, sizeof((v)->err), __VA_ARGS__))

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}

int vcpu_open(Vcpu *v, const char *path, int timeout_ms)
{
    memset(v, 0, sizeof(*v));
    if (ctlc_connect(&v->ctl, path, -1, timeout_ms) < 0) {
        return fail(v, true, "%s", v->ctl.err);
    }
    return 0;
}

void vcpu_close(Vcpu *v)
{
    vcpu_unmap_ram(v);
    ctlc_close(&v->ctl);
}

/* Send cmd (one line, its newline optional); body lines go to body()
 * (NULL: ignored); the final "ok ..." line is in *final until the next
 * command. */
static int transact(Vcpu *v, const char *cmd, char **final,
                    void (*body)(void *, const char *), void *opaque)
{
    int n = strcspn(cmd, "\n");
    const char *rest;

    if (v->broken) {
        char why[sizeof(v->err)];

        snprintf(why, sizeof(why), "%s", v->err);
        return fail(v, true, "control connection broken earlier: %s", why);
    }
    if (ctlc_send(&v->ctl, "%.*s", n, cmd) < 0 ||
        ctlc_reply_body(&v->ctl, &rest, body, opaque) < 0) {
        return fail(v, v->ctl.broken, "'%.*s': %s", n > 60 ? 60 : n, cmd,
                    v->ctl.err);
    }
    *final = v->ctl.line;
    return 0;
}

int vcpu_cmd(Vcpu *v, uint64_t *val, const char *fmt, ...)
{
    char cmd[256], *line, *end;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(cmd, sizeof(cmd) - 1, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= (int)sizeof(cmd) - 1) {
        return fail(v, false, "command too long");
    }
    strcat(cmd, "\n");
    if (transact(v, cmd, &line, NULL, NULL) < 0) {
        return -1;
    }
    if (val) {
        errno = 0;
        *val = strtoull(line + 2, &end, 0);
        if (errno || end == line + 2 || (*end && *end != ' ')) {
            fail(v, true, "'%s': malformed reply '%s'", fmt, line);
            return -1;
        }
    }
    return 0;
}

int vcpu_readl(Vcpu *v, uint64_t addr, uint32_t *val)
{
    uint64_t got;

    if (vcpu_cmd(v, &got, "readl %#llx", (unsigned long long)addr) < 0) {
        return -1;
    }
    *val = got;
    return 0;
}

int vcpu_writel(Vcpu *v, uint64_t addr, uint32_t val)
{
    return vcpu_cmd(v, NULL, "writel %#llx %#x", (unsigned long long)addr,
                    val);
}

static const char *const size_suffix = "?bw?l";

int vcpu_cfg_read(Vcpu *v, uint32_t bdf, unsigned reg, unsigned size,
                  uint32_t *val)
{
    uint64_t got;

    if (vcpu_cmd(v, NULL, "outl 0xcf8 %#x",
                 0x80000000u | bdf << 8 | (reg & 0xfc)) < 0 ||
        vcpu_cmd(v, &got, "in%c %#x", size_suffix[size],
                 0xcfc + (reg & 3)) < 0) {
        return -1;
    }
    *val = got;
    return 0;
}

int vcpu_cfg_write(Vcpu *v, uint32_t bdf, unsigned reg, unsigned size,
                   uint32_t val)
{
    if (vcpu_cmd(v, NULL, "outl 0xcf8 %#x",
                 0x80000000u | bdf << 8 | (reg & 0xfc)) < 0) {
        return -1;
    }
    return vcpu_cmd(v, NULL, "out%c %#x %#x", size_suffix[size],
                    0xcfc + (reg & 3), val);
}

/* libxenforeignmemory, resolved at run time. */
static xenforeignmemory_handle *(*fm_open)(struct xentoollog_logger *,
                                           unsigned);
static void *(*fm_map)(xenforeignmemory_handle *, uint32_t, int, size_t,
                       const xen_pfn_t *, int *);
static int (*fm_unmap)(xenforeignmemory_handle *, void *, size_t);
static int (*fm_close)(xenforeignmemory_handle *);

int vcpu_map_ram(Vcpu *v, unsigned domid, uint64_t lo, uint64_t hi)
{
    size_t n = (hi - lo) >> 12, i;
    xen_pfn_t *pfn;
    int *err;
    void *lib = dlopen("libxenforeignmemory.so.1", RTLD_NOW);

    if (!lib) {
        return fail(v, false, "dlopen: %s", dlerror());
    }
    fm_open = dlsym(lib, "xenforeignmemory_open");
    fm_map = dlsym(lib, "xenforeignmemory_map");
    fm_unmap = dlsym(lib, "xenforeignmemory_unmap");
    fm_close = dlsym(lib, "xenforeignmemory_close");
    if (!fm_open || !fm_map || !fm_unmap || !fm_close) {
        return fail(v, false, "libxenforeignmemory lacks symbols");
    }
    if ((lo | hi) & 0xfff || hi <= lo) {
        return fail(v, false, "bad RAM range");
    }
    v->fmem = fm_open(NULL, 0);
    if (!v->fmem) {
        return fail(v, false, "xenforeignmemory_open: %s",
                    strerror(errno));
    }
    pfn = calloc(n, sizeof(*pfn));
    err = calloc(n, sizeof(*err));
    if (!pfn || !err) {
        free(pfn);
        free(err);
        vcpu_unmap_ram(v);
        return fail(v, false, "out of memory");
    }
    for (i = 0; i < n; i++) {
        pfn[i] = (lo >> 12) + i;
    }
    v->ram = fm_map(v->fmem, domid, PROT_READ | PROT_WRITE, n, pfn, err);
    for (i = 0; v->ram && i < n && !err[i]; i++) {
    }
    free(pfn);
    if (!v->ram) {
        fail(v, false, "xenforeignmemory_map: %s", strerror(errno));
    } else if (i < n) {
        fail(v, false, "guest page %#llx: error %d",
             (unsigned long long)(lo >> 12) + i, err[i]);
    }
    if (!v->ram || i < n) {
        free(err);
        vcpu_unmap_ram(v);
        return -1;
    }
    free(err);
    v->ram_lo = lo;
    v->ram_hi = hi;
    return 0;
}

void vcpu_unmap_ram(Vcpu *v)
{
    if (v->ram && v->fmem) {
        fm_unmap(v->fmem, v->ram, (v->ram_hi - v->ram_lo) >> 12);
    }
    if (v->fmem) {
        fm_close(v->fmem);
    }
    v->ram = NULL;
    v->fmem = NULL;
    v->ram_lo = v->ram_hi = 0;
}

void vcpu_share_ram(Vcpu *v, const Vcpu *from)
{
    vcpu_unmap_ram(v);
    v->ram = from->ram;         /* no fmem: vcpu_unmap_ram leaves it */
    v->ram_lo = from->ram_lo;
    v->ram_hi = from->ram_hi;
}

/* The mapped bytes of [gpa, gpa + len), or NULL. */
static uint8_t *mapped(Vcpu *v, uint64_t gpa, size_t len)
{
    if (v->ram && gpa >= v->ram_lo && gpa <= v->ram_hi &&
        len <= v->ram_hi - gpa) {
        return v->ram + (gpa - v->ram_lo);
    }
    return NULL;
}

int vcpu_memread(Vcpu *v, uint64_t gpa, void *buf, size_t len)
{
    uint8_t *out = buf, *m = mapped(v, gpa, len);

    if (m) {
        memcpy(buf, m, len);
        return 0;
    }

    while (len) {
        size_t n = len < PIECE ? len : PIECE, i;
        char cmd[64], *line;

        snprintf(cmd, sizeof(cmd), "memread %#llx %zu\n",
                 (unsigned long long)gpa, n);
        if (transact(v, cmd, &line, NULL, NULL) < 0) {
            return -1;
        }
        if (strlen(line) != 3 + 2 * n || line[2] != ' ') {
            fail(v, true, "memread %#llx %zu: reply of %zu bytes",
                 (unsigned long long)gpa, n, strlen(line));
            return -1;
        }
        for (i = 0; i < n; i++) {
            int hi = sockio_hexval(line[3 + 2 * i]);
            int lo = sockio_hexval(line[4 + 2 * i]);

            if (hi < 0 || lo < 0) {
                fail(v, true, "memread: bad hex in reply");
                return -1;
            }
            out[i] = hi << 4 | lo;
        }
        out += n;
        gpa += n;
        len -= n;
    }
    return 0;
}

int vcpu_memwrite(Vcpu *v, uint64_t gpa, const void *buf, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *in = buf;
    uint8_t *m = mapped(v, gpa, len);
    char *cmd;

    if (m) {
        memcpy(m, buf, len);
        return 0;
    }
    cmd = malloc(2 * PIECE + 64);

    if (!cmd) {
        return fail(v, false, "out of memory");
    }
    while (len) {
        size_t n = len < PIECE ? len : PIECE, i;
        int off = sprintf(cmd, "memwrite %#llx ", (unsigned long long)gpa);
        char *line;

        for (i = 0; i < n; i++) {
            cmd[off++] = digits[in[i] >> 4];
            cmd[off++] = digits[in[i] & 15];
        }
        cmd[off++] = '\n';
        cmd[off] = 0;
        if (transact(v, cmd, &line, NULL, NULL) < 0) {
            free(cmd);
            return -1;
        }
        in += n;
        gpa += n;
        len -= n;
    }
    free(cmd);
    return 0;
}

int vcpu_memset(Vcpu *v, uint64_t gpa, size_t len, uint8_t byte)
{
    uint8_t *m = mapped(v, gpa, len);

    if (m) {
        memset(m, byte, len);
        return 0;
    }
    while (len) {
        size_t n = len < PIECE ? len : PIECE;

        if (vcpu_cmd(v, NULL, "memset %#llx %zu %u",
                     (unsigned long long)gpa, n, byte) < 0) {
            return -1;
        }
        gpa += n;
        len -= n;
    }
    return 0;
}

static void counter_line(void *opaque, const char *line)
{
    HvCounters *c = opaque;
    unsigned long long v;
    char name[40];

    if (c->n < HV_MAX_COUNTERS &&
        sscanf(line, "%39s %llu", name, &v) == 2) {
        strcpy(c->name[c->n], name);
        c->val[c->n++] = v;
    }
}

int vcpu_counters(Vcpu *v, HvCounters *c)
{
    char *line;

    c->n = 0;
    if (transact(v, "counters\n", &line, counter_line, c) < 0) {
        return -1;
    }
    return 0;
}

uint64_t hv_counter(const HvCounters *c, const char *name)
{
    unsigned i;

    for (i = 0; i < c->n; i++) {
        if (!strcmp(c->name[i], name)) {
            return c->val[i];
        }
    }
    return 0;
}

typedef struct RamScan {
    uint64_t end;
} RamScan;

static void p2m_line(void *opaque, const char *line)
{
    RamScan *r = opaque;
    unsigned long long gfn, nr;

    if (sscanf(line, "p2m gfn %llx nr %llx", &gfn, &nr) == 2 &&
        gfn <= 0x100 && gfn + nr > 0x100) {
        r->end = (gfn + nr) << 12;
    }
}

int vcpu_ram_below_4g(Vcpu *v, uint64_t *end)
{
    RamScan r = { 0 };
    char *line;

    if (transact(v, "state\n", &line, p2m_line, &r) < 0) {
        return -1;
    }
    if (!r.end) {
        return fail(v, false, "no populated RAM extent covers 1 MiB");
    }
    *end = r.end > 0xF0000000ull ? 0xF0000000ull : r.end;
    return 0;
}

static void pending_line(void *opaque, const char *line)
{
    uint64_t *mask = opaque;
    const char *p = line + strlen("invalidate-pending");
    char *end;

    if (strncmp(line, "invalidate-pending", strlen("invalidate-pending"))) {
        return;
    }
    for (;;) {
        unsigned long cpu = strtoul(p, &end, 10);

        if (end == p) {
            break;
        }
        if (cpu < 64) {
            *mask |= 1ull << cpu;
        }
        p = end;
    }
}

int vcpu_invalidate_pending(Vcpu *v, uint64_t *mask)
{
    char *line;

    *mask = 0;
    return transact(v, "state\n", &line, pending_line, mask);
}

/* QMP. */

#define qmp_fail(q, ...) ctlc_errorf((q)->err, sizeof((q)->err), __VA_ARGS__)

/* Read messages until one contains "return" or "error" (or, for the
 * greeting, "QMP"); events are skipped.  5 s deadline. */
static int qmp_wait(Qmp *q, const char *want)
{
    char buf[8192];
    size_t len = 0;
    int64_t deadline = now_ms() + 5000;

    for (;;) {
        char *nl;

        while ((nl = memchr(buf, '\n', len))) {
            *nl = 0;
            if (strstr(buf, "\"error\"")) {
                return qmp_fail(q, "QMP error: %.400s", buf);
            }
            if (strstr(buf, want)) {
                return 0;
            }
            len -= nl + 1 - buf;
            memmove(buf, nl + 1, len);
        }
        if (len == sizeof(buf)) {
            return qmp_fail(q, "QMP message too long");
        }
        int64_t left = deadline - now_ms();
        struct pollfd p = { .fd = q->fd, .events = POLLIN };

        if (left <= 0 || poll(&p, 1, left) <= 0) {
            return qmp_fail(q, "QMP: no answer");
        }
        ssize_t n = recv(q->fd, buf + len, sizeof(buf) - len, 0);

        if (n <= 0) {
            return qmp_fail(q, "QMP: connection closed");
        }
        len += n;
    }
}

static int qmp_exec(Qmp *q, const char *json)
{
    if (sockio_send_all(q->fd, json, strlen(json)) < 0) {
        return qmp_fail(q, "QMP send: %s", strerror(errno));
    }
    return qmp_wait(q, "\"return\"");
}

int qmp_open(Qmp *q, const char *path)
{
    q->fd = sockio_connect(path);
    if (q->fd < 0) {
        return qmp_fail(q, "QMP %s: %s", path, strerror(errno));
    }
    if (qmp_wait(q, "\"QMP\"") < 0 ||
        qmp_exec(q, "{\"execute\": \"qmp_capabilities\"}\r\n") < 0) {
        qmp_close(q);
        return -1;
    }
    return 0;
}

int qmp_throttle_reads(Qmp *q, const char *drive, unsigned iops_rd)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd),
             "{\"execute\": \"block_set_io_throttle\", \"arguments\": "
             "{\"device\": \"%s\", \"bps\": 0, \"bps_rd\": 0, "
             "\"bps_wr\": 0, \"iops\": 0, \"iops_rd\": %u, "
             "\"iops_wr\": 0}}\r\n", drive, iops_rd);
    return qmp_exec(q, cmd);
}

void qmp_close(Qmp *q)
{
    if (q->fd >= 0) {
        close(q->fd);
    }
    q->fd = -1;
}
