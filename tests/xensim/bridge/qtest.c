/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim qtest bridge: the qtest protocol (QEMU's softmmu/qtest.c is the
 * server side, tests/qtest/libqtest.c the client), answered by playing
 * the guest on one of xensim's vCPUs (0, or XENSIM_BRIDGE_CPU's: main.c
 * selects it) through the control socket.
 *
 * Invariants:
 *  - Every command gets one reply line; anything Xen cannot do, and any
 *    malformed or out-of-range argument, gets "FAIL reason" -- never a
 *    silent "OK".
 *  - Guest accesses wait until the device model's ioreq server is up.
 *  - Bulk accesses try guest RAM first (memread/memwrite); pages the guest
 *    does not have fall back to naturally aligned MMIO accesses, which is
 *    how a CPU's copy would reach the device model.
 *  - Once an interrupt controller is intercepted, every reply is preceded
 *    by "IRQ raise/lower N" for each edge of a GSI since the last report,
 *    in order, from the hv's interrupt log (hv/irqlog.h), so a pulse
 *    between two commands is seen; levels start at 0, as in libqtest.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/sockio.h"
#include "bridge.h"

#define MAX_WORDS       8
/* Largest read/write/memset one command may ask for. */
#define MAX_XFER        (16u << 20)
/*
 * Guest RAM moves through the control socket in chunks this big
 * (memread answers at most 128 KiB; memwrite lines stay < 256 KiB).
 */
#define RAM_CHUNK       (32u << 10)
#define PAGE_SIZE       4096u
/* Real-time clock steps longer than this are refused, not slept. */
#define MAX_CLOCK_STEP  (60LL * 1000000000LL)
/*
 * clock_step without argument: QEMU would jump to the next timer
 * deadline, which only QEMU knows; let this much real time pass.
 */
#define DEFAULT_STEP_NS (10LL * 1000000LL)

/* ---- replies -------------------------------------------------------- */

static void send_all(Bridge *b, const char *s, size_t n)
{
    if (!b->qfd_dead && sockio_send_all(b->qfd, s, n) < 0) {
        b->qfd_dead = true;
    }
}

static void reply(Bridge *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void reply(Bridge *b, const char *fmt, ...)
{
    va_list ap;
    char *msg;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0) {
        static const char oom[] = "FAIL xensim bridge: out of memory\n";

        send_all(b, oom, sizeof(oom) - 1);
        return;
    }
    if (b->trace) {
        fprintf(stderr, "[bridge] < %.*s", n > 200 ? 200 : n, msg);
        if (n > 200) {
            fputs("...\n", stderr);
        }
    }
    send_all(b, msg, n);
    free(msg);
}

void bridge_fail(Bridge *b, const char *why)
{
    reply(b, "FAIL %s\n", why);
}

/* One line of the hv's irqlog: "SEQ gsi N LEVEL" (or "SEQ msi ..."). */
static void irqlog_line(void *opaque, const char *line)
{
    Bridge *b = opaque;
    unsigned long long seq;
    unsigned gsi, level;

    if (sscanf(line, "%llu gsi %u %u", &seq, &gsi, &level) != 3 ||
        gsi >= BRIDGE_NR_GSI) {
        return;
    }
    if (!!level != b->irq[gsi]) {
        b->irq[gsi] = !!level;
        reply(b, "IRQ %s %u\n", level ? "raise" : "lower", gsi);
    }
}

static void ignore_line(void *opaque, const char *line)
{
}

/*
 * Read the hv's interrupt log from b->irqlog_next on, reporting each edge
 * (report: false only moves irqlog_next to the end).  The log is in the
 * order the device model drove the lines, so a pulse between two
 * commands is reported as a raise and a lower, as QEMU's qtest does.
 */
static void read_irqlog(Bridge *b, bool report)
{
    for (;;) {
        uint64_t next;
        const char *rest;
        int r;

        if (ctlc_send(&b->ctl, "irqlog %" PRIu64, b->irqlog_next) < 0) {
            return;
        }
        r = ctlc_reply_body(&b->ctl, &rest,
                            report ? irqlog_line : ignore_line, b);
        if (r < 0 || sscanf(rest, "%" SCNu64, &next) != 1 ||
            next == b->irqlog_next) {
            return;
        }
        b->irqlog_next = next;
    }
}

/* The current levels, reported against libqtest's initial 0 (lines
 * already asserted when the intercept starts). */
static void report_levels(Bridge *b)
{
    unsigned i;

    for (i = 0; i < BRIDGE_NR_GSI; i++) {
        if (ctlc_send(&b->ctl, "irq %u", i) < 0) {
            return;
        }
    }
    for (i = 0; i < BRIDGE_NR_GSI; i++) {
        const char *rest;
        uint8_t level;

        if (ctlc_reply(&b->ctl, &rest) < 0) {
            return;
        }
        level = !strcmp(rest, "1");
        if (level != b->irq[i]) {
            b->irq[i] = level;
            reply(b, "IRQ %s %u\n", level ? "raise" : "lower", i);
        }
    }
}

/*
 * Report interrupt lines that changed since the last report: the first
 * time the levels, then every edge from the log.
 */
static void report_irqs(Bridge *b)
{
    if (!b->intercept || !b->ready) {
        return;
    }
    if (!b->irqlog_synced) {
        read_irqlog(b, false);
        report_levels(b);
        b->irqlog_synced = true;
        return;
    }
    read_irqlog(b, true);
}

/* ---- argument parsing ----------------------------------------------- */

static bool parse_u64(const char *s, uint64_t *v)
{
    char *end;

    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ') {
        return false;
    }
    errno = 0;
    *v = strtoull(s, &end, 0);
    return !errno && !*end;
}

static bool parse_i64(const char *s, int64_t *v)
{
    char *end;

    if (!s || !*s || *s == ' ') {
        return false;
    }
    errno = 0;
    *v = strtoll(s, &end, 0);
    return !errno && !*end;
}

/* ---- base64 (RFC 4648, as g_base64_encode/decode) ------------------- */

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const uint8_t *d, size_t n)
{
    char *out = malloc((n + 2) / 3 * 4 + 1), *p = out;
    size_t i;

    if (!out) {
        return NULL;
    }
    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = d[i] << 16 | d[i + 1] << 8 | d[i + 2];

        *p++ = b64chars[v >> 18];
        *p++ = b64chars[(v >> 12) & 63];
        *p++ = b64chars[(v >> 6) & 63];
        *p++ = b64chars[v & 63];
    }
    if (i < n) {
        uint32_t v = d[i] << 16 | (i + 1 < n ? d[i + 1] << 8 : 0);

        *p++ = b64chars[v >> 18];
        *p++ = b64chars[(v >> 12) & 63];
        *p++ = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
        *p++ = '=';
    }
    *p = 0;
    return out;
}

/* Decode in place; returns the byte count or -1 on a malformed string. */
static ssize_t b64_decode(char *s)
{
    uint8_t *out = (uint8_t *)s;
    uint32_t acc = 0;
    size_t n = 0, bits = 0, pad = 0;
    const char *p;

    for (p = s; *p; p++) {
        const char *c;

        if (*p == '=') {
            pad++;
            continue;
        }
        c = strchr(b64chars, *p);
        if (!c || pad) {
            return -1;
        }
        acc = acc << 6 | (c - b64chars);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = acc >> bits;
        }
    }
    if (pad > 2) {
        return -1;
    }
    return n;
}

/* ---- guest access ---------------------------------------------------- */

static bool ensure_ready(Bridge *b)
{
    if (!b->ready) {
        b->ready = b->ops->wait_ready(b);
    }
    return b->ready;
}

/* Largest naturally aligned access at addr that fits in len. */
static unsigned access_size(uint64_t addr, uint64_t len)
{
    unsigned s = 8;

    while (s > 1 && ((addr & (s - 1)) || s > len)) {
        s >>= 1;
    }
    return s;
}

static const char sfx[] = { 0, 'b', 'w', 0, 'l', 0, 0, 0, 'q' };

static int mmio_read(Bridge *b, uint64_t addr, uint8_t *buf, uint64_t len)
{
    while (len) {
        unsigned s = access_size(addr, len), i;
        uint64_t v;

        if (ctlc_value(&b->ctl, &v, "read%c 0x%" PRIx64, sfx[s], addr) < 0) {
            return -1;
        }
        for (i = 0; i < s; i++) {
            buf[i] = v >> (8 * i);
        }
        addr += s;
        buf += s;
        len -= s;
    }
    return 0;
}

static int mmio_write(Bridge *b, uint64_t addr, const uint8_t *buf,
                      uint64_t len)
{
    const char *rest;

    while (len) {
        unsigned s = access_size(addr, len), i;
        uint64_t v = 0;

        for (i = 0; i < s; i++) {
            v |= (uint64_t)buf[i] << (8 * i);
        }
        if (ctlc_cmd(&b->ctl, &rest, "write%c 0x%" PRIx64 " 0x%" PRIx64,
                     sfx[s], addr, v) < 0) {
            return -1;
        }
        addr += s;
        buf += s;
        len -= s;
    }
    return 0;
}

static bool is_efault(Bridge *b)
{
    return !b->ctl.broken && strstr(b->ctl.err, "EFAULT");
}

static int ram_read(Bridge *b, uint64_t addr, uint8_t *buf, uint64_t len)
{
    const char *hex;
    uint64_t i;

    if (ctlc_cmd(&b->ctl, &hex, "memread 0x%" PRIx64 " %" PRIu64,
                 addr, len) < 0) {
        return -1;
    }
    if (strlen(hex) != 2 * len) {
        snprintf(b->ctl.err, sizeof(b->ctl.err), "xensim: short memread");
        return -1;
    }
    for (i = 0; i < len; i++) {
        int hi = sockio_hexval(hex[2 * i]);
        int lo = sockio_hexval(hex[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            snprintf(b->ctl.err, sizeof(b->ctl.err), "xensim: bad memread");
            return -1;
        }
        buf[i] = hi << 4 | lo;
    }
    return 0;
}

static int ram_write(Bridge *b, uint64_t addr, const uint8_t *buf,
                     uint64_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *hex = malloc(2 * len + 1);
    const char *rest;
    uint64_t i;
    int ret;

    if (!hex) {
        snprintf(b->ctl.err, sizeof(b->ctl.err), "out of memory");
        return -1;
    }
    for (i = 0; i < len; i++) {
        hex[2 * i] = digits[buf[i] >> 4];
        hex[2 * i + 1] = digits[buf[i] & 15];
    }
    hex[2 * len] = 0;
    ret = ctlc_cmd(&b->ctl, &rest, "memwrite 0x%" PRIx64 " %s", addr, hex);
    free(hex);
    return ret;
}

/*
 * One RAM chunk the guest lacks some page of: page by page, and pages
 * that are not RAM go to the device model as MMIO.
 */
static int guest_rw_pages(Bridge *b, uint64_t addr, uint8_t *buf,
                          uint64_t len, bool write)
{
    while (len) {
        uint64_t n = PAGE_SIZE - (addr & (PAGE_SIZE - 1));
        int ret;

        n = n < len ? n : len;
        ret = write ? ram_write(b, addr, buf, n) : ram_read(b, addr, buf, n);
        if (ret < 0) {
            if (!is_efault(b)) {
                return -1;
            }
            ret = write ? mmio_write(b, addr, buf, n)
                        : mmio_read(b, addr, buf, n);
            if (ret < 0) {
                return -1;
            }
        }
        addr += n;
        buf += n;
        len -= n;
    }
    return 0;
}

/* Copy between libqtest's buffer and the guest, a RAM chunk at a time. */
static int guest_rw(Bridge *b, uint64_t addr, uint8_t *buf, uint64_t len,
                    bool write)
{
    while (len) {
        uint64_t n = RAM_CHUNK - (addr & (RAM_CHUNK - 1));
        int ret;

        n = n < len ? n : len;
        ret = write ? ram_write(b, addr, buf, n) : ram_read(b, addr, buf, n);
        if (ret < 0 && (!is_efault(b) ||
                        guest_rw_pages(b, addr, buf, n, write) < 0)) {
            return -1;
        }
        addr += n;
        buf += n;
        len -= n;
    }
    return 0;
}

/* Validate ADDR LEN of a bulk command; sets *why on error. */
static bool check_range(const char *a, const char *l, uint64_t *addr,
                        uint64_t *len, bool allow_empty, const char **why)
{
    if (!parse_u64(a, addr) || !parse_u64(l, len)) {
        *why = "bad address or length";
        return false;
    }
    if (!*len && !allow_empty) {
        *why = "length must not be zero";
        return false;
    }
    if (*len > MAX_XFER) {
        *why = "length exceeds the bridge's 16 MiB limit";
        return false;
    }
    if (*len && *addr + *len - 1 < *addr) {
        *why = "range wraps around the address space";
        return false;
    }
    return true;
}

/* ---- commands --------------------------------------------------------- */

typedef struct Cmd {
    Bridge *b;
    char **w;
    int n;          /* number of words */
} Cmd;

#define FAIL_ACCESS(c) \
    reply((c)->b, "FAIL %s\n", (c)->b->ctl.err)

/* Start the device model if need be; false, with the reply sent, if not. */
static bool cmd_ready(Cmd *c)
{
    if (ensure_ready(c->b)) {
        return true;
    }
    reply(c->b, "FAIL device model not running\n");
    return false;
}

/*
 * The guest access of in/out/read/write COMMAND WHERE [VALUE]: xensim-hv
 * takes the same command; a read answers with the value in width digits.
 */
static void cmd_access(Cmd *c, bool write, uint64_t where, uint64_t val,
                       int width)
{
    const char *rest;

    if (write) {
        if (ctlc_cmd(&c->b->ctl, &rest, "%s 0x%" PRIx64 " 0x%" PRIx64,
                     c->w[0], where, val) < 0) {
            FAIL_ACCESS(c);
            return;
        }
        report_irqs(c->b);
        reply(c->b, "OK\n");
        return;
    }
    if (ctlc_value(&c->b->ctl, &val, "%s 0x%" PRIx64, c->w[0], where) < 0) {
        FAIL_ACCESS(c);
        return;
    }
    report_irqs(c->b);
    reply(c->b, "OK 0x%0*" PRIx64 "\n", width, val);
}

/* Write len bytes of data at addr and answer the command. */
static void cmd_write_guest(Cmd *c, uint64_t addr, uint8_t *data,
                            uint64_t len)
{
    if (!cmd_ready(c)) {
        return;
    }
    if (guest_rw(c->b, addr, data, len, true) < 0) {
        FAIL_ACCESS(c);
        return;
    }
    report_irqs(c->b);
    reply(c->b, "OK\n");
}

/*
 * libqos addresses PCI config space by writing the register's low bits
 * into CF8 (0x80000002 then inw 0xcfc reads offset 2): QEMU's host bridge
 * ORs them into the address, but Xen, like real hardware, latches CF8 with
 * those bits clear and takes them from the data port.  Fold them into the
 * data port here, so such an access means on Xen what the test meant.
 */
static uint64_t pci_data_port(Bridge *b, uint64_t port, int size, bool out,
                              uint64_t *val)
{
    if (port == 0xcf8 && size == 4 && out) {
        b->cf8 = *val;
        *val &= ~3ull;
        return port;
    }
    if ((port & ~3ull) == 0xcfc && (b->cf8 & 0x80000000u) && (b->cf8 & 3)) {
        return 0xcfc | ((b->cf8 | port) & 3);
    }
    return port;
}

static void cmd_pio(Cmd *c, bool out)
{
    int s = sockio_size_letter(c->w[0][out ? 3 : 2]);
    uint64_t port, val = 0;

    if (c->n != (out ? 3 : 2) || !parse_u64(c->w[1], &port) ||
        port > 0xffff || (out && !parse_u64(c->w[2], &val))) {
        reply(c->b, "FAIL usage: %s PORT%s\n", c->w[0], out ? " VALUE" : "");
        return;
    }
    if (!cmd_ready(c)) {
        return;
    }
    val &= (1ull << (8 * s)) - 1;
    port = pci_data_port(c->b, port, s, out, &val);
    cmd_access(c, out, port, val, 4);
}

static void cmd_mem(Cmd *c, bool write)
{
    int s = sockio_size_letter(c->w[0][write ? 5 : 4]);
    uint64_t addr, val = 0;

    if (c->n != (write ? 3 : 2) || !parse_u64(c->w[1], &addr) ||
        (write && !parse_u64(c->w[2], &val)) || addr + s - 1 < addr) {
        reply(c->b, "FAIL usage: %s ADDR%s\n", c->w[0],
              write ? " VALUE" : "");
        return;
    }
    if (!cmd_ready(c)) {
        return;
    }
    if (s < 8) {
        val &= (1ull << (8 * s)) - 1;
    }
    cmd_access(c, write, addr, val, 16);
}

/* read ADDR LEN / b64read ADDR LEN */
static void cmd_read(Cmd *c, bool b64)
{
    static const char digits[] = "0123456789abcdef";
    uint64_t addr, len, i;
    const char *why;
    uint8_t *data;
    char *enc;

    if (c->n != 3 || !check_range(c->w[1], c->w[2], &addr, &len, b64,
                                  &why)) {
        reply(c->b, "FAIL %s: %s\n", c->w[0], c->n != 3 ?
              "usage: ADDR LEN" : why);
        return;
    }
    if (!cmd_ready(c)) {
        return;
    }
    data = malloc(len ? len : 1);
    if (!data) {
        reply(c->b, "FAIL out of memory\n");
        return;
    }
    if (guest_rw(c->b, addr, data, len, false) < 0) {
        free(data);
        FAIL_ACCESS(c);
        return;
    }
    if (b64) {
        enc = b64_encode(data, len);
    } else {
        enc = malloc(2 * len + 1);
        for (i = 0; enc && i < len; i++) {
            enc[2 * i] = digits[data[i] >> 4];
            enc[2 * i + 1] = digits[data[i] & 15];
        }
        if (enc) {
            enc[2 * len] = 0;
        }
    }
    free(data);
    if (!enc) {
        reply(c->b, "FAIL out of memory\n");
        return;
    }
    report_irqs(c->b);
    reply(c->b, b64 ? "OK %s\n" : "OK 0x%s\n", enc);
    free(enc);
}

/* write ADDR LEN 0xHEX (short data is zero-padded, as QEMU does) */
static void cmd_write(Cmd *c)
{
    uint64_t addr, len, i, digits;
    const char *why, *hex;
    uint8_t *data;

    if (c->n != 4 || !check_range(c->w[1], c->w[2], &addr, &len, false,
                                  &why)) {
        reply(c->b, "FAIL write: %s\n", c->n != 4 ?
              "usage: ADDR LEN 0xDATA" : why);
        return;
    }
    hex = c->w[3];
    if (strncmp(hex, "0x", 2) || strlen(hex) < 3) {
        reply(c->b, "FAIL write: data must be 0x followed by hex\n");
        return;
    }
    hex += 2;
    digits = strlen(hex);
    if (digits > 2 * len) {
        reply(c->b, "FAIL write: more data than LEN\n");
        return;
    }
    data = calloc(1, len);
    if (!data) {
        reply(c->b, "FAIL out of memory\n");
        return;
    }
    for (i = 0; i < digits; i++) {
        int v = sockio_hexval(hex[i]);

        if (v < 0) {
            free(data);
            reply(c->b, "FAIL write: bad hex digit\n");
            return;
        }
        data[i / 2] |= v << (i & 1 ? 0 : 4);
    }
    cmd_write_guest(c, addr, data, len);
    free(data);
}

/* b64write ADDR LEN B64 */
static void cmd_b64write(Cmd *c)
{
    uint64_t addr, len;
    const char *why;
    ssize_t got;

    if (c->n != 4 || !check_range(c->w[1], c->w[2], &addr, &len, true,
                                  &why)) {
        reply(c->b, "FAIL b64write: %s\n", c->n != 4 ?
              "usage: ADDR LEN DATA" : why);
        return;
    }
    got = b64_decode(c->w[3]);
    if (got < 0 || (uint64_t)got != len) {
        reply(c->b, "FAIL b64write: data is not LEN bytes of base64\n");
        return;
    }
    cmd_write_guest(c, addr, (uint8_t *)c->w[3], len);
}

/* memset ADDR LEN PATTERN */
static void cmd_memset(Cmd *c)
{
    uint64_t addr, len, pattern;
    const char *why;
    uint8_t *data;

    if (c->n != 4 || !check_range(c->w[1], c->w[2], &addr, &len, true,
                                  &why) || !parse_u64(c->w[3], &pattern)) {
        reply(c->b, "FAIL memset: %s\n", c->n != 4 ?
              "usage: ADDR LEN PATTERN" : "bad argument");
        return;
    }
    if (!len) {
        reply(c->b, "OK\n");
        return;
    }
    data = malloc(len);
    if (!data) {
        reply(c->b, "FAIL out of memory\n");
        return;
    }
    memset(data, (uint8_t)pattern, len);
    cmd_write_guest(c, addr, data, len);
    free(data);
}

/*
 * irq_intercept_in/out PATH.  Under Xen the interrupt controllers (PIC,
 * IOAPIC) live in the hypervisor, and what the device model drives are
 * the GSIs it reports through dm_op -- which is exactly what intercepting
 * the interrupt controller's inputs shows.  Lines of any other device are
 * invisible to Xen, so those intercepts fail; so does every
 * irq_intercept_out: a device's output lines end in QEMU or in Xen's
 * vIOAPIC/vPIC, neither of which the bridge can observe.
 */
static void cmd_intercept(Cmd *c)
{
    const char *path, *last;

    if (c->n != 2) {
        reply(c->b, "FAIL usage: %s QOM-PATH\n", c->w[0]);
        return;
    }
    if (!strcmp(c->w[0], "irq_intercept_out")) {
        reply(c->b, "FAIL xensim bridge: irq_intercept_out is not possible "
              "under Xen (output lines end in QEMU or in Xen's interrupt "
              "controllers); use irq_intercept_in ioapic\n");
        return;
    }
    path = c->w[1];
    last = strrchr(path, '/');
    last = last ? last + 1 : path;
    if (strcmp(last, "ioapic") && strcmp(last, "i8259") &&
        strcmp(last, "pic")) {
        reply(c->b, "FAIL xensim bridge: under Xen only the interrupt "
              "controller's lines (ioapic, i8259) can be intercepted\n");
        return;
    }
    if (c->b->intercept) {
        if (strcmp(c->b->intercept, path)) {
            reply(c->b, "FAIL IRQ intercept already enabled\n");
        } else {
            reply(c->b, "OK\n");
        }
        return;
    }
    c->b->intercept = strdup(path);
    if (!c->b->intercept) {
        reply(c->b, "FAIL out of memory\n");
        return;
    }
    memset(c->b->irq, 0, sizeof(c->b->irq));
    c->b->irqlog_synced = false;
    reply(c->b, "OK\n");
}

/* clock_step [NS] / clock_set NS: virtual time is real time under Xen. */
static void cmd_clock(Cmd *c, bool set)
{
    int64_t ns, now = c->b->ops->clock_ns(c->b);

    if (set ? c->n != 2 : c->n > 2) {
        reply(c->b, "FAIL usage: %s\n", set ? "clock_set NS"
                                            : "clock_step [NS]");
        return;
    }
    if (c->n == 1) {
        ns = DEFAULT_STEP_NS;
    } else if (!parse_i64(c->w[1], &ns)) {
        reply(c->b, "FAIL %s: bad number\n", c->w[0]);
        return;
    } else if (set) {
        ns -= now;
    }
    if (ns > MAX_CLOCK_STEP) {
        reply(c->b, "FAIL %s: under Xen virtual time is real time; the "
              "bridge does not sleep %" PRIi64 " s\n", c->w[0],
              (int64_t)(ns / 1000000000LL));
        return;
    }
    if (ns > 0 && !c->b->ops->sleep_ns(c->b, ns)) {
        reply(c->b, "FAIL %s: interrupted\n", c->w[0]);
        return;
    }
    report_irqs(c->b);
    reply(c->b, "OK %" PRIi64 "\n", c->b->ops->clock_ns(c->b));
}

void bridge_command(Bridge *b, char *line)
{
    char *w[MAX_WORDS + 1], *save = NULL, *tok;
    Cmd c = { .b = b, .w = w };
    size_t len = strlen(line);

    if (len && line[len - 1] == '\r') {
        line[--len] = 0;
    }
    if (b->trace) {
        fprintf(stderr, "[bridge] > %.200s%s\n", line,
                len > 200 ? "..." : "");
    }
    for (tok = strtok_r(line, " ", &save); tok;
         tok = strtok_r(NULL, " ", &save)) {
        if (c.n == MAX_WORDS) {
            reply(b, "FAIL too many arguments\n");
            return;
        }
        w[c.n++] = tok;
    }
    w[c.n] = NULL;
    if (!c.n) {
        reply(b, "FAIL empty command\n");
        return;
    }

    if (!strcmp(w[0], "outb") || !strcmp(w[0], "outw") ||
        !strcmp(w[0], "outl")) {
        cmd_pio(&c, true);
    } else if (!strcmp(w[0], "inb") || !strcmp(w[0], "inw") ||
               !strcmp(w[0], "inl")) {
        cmd_pio(&c, false);
    } else if (!strncmp(w[0], "write", 5) && strlen(w[0]) == 6 &&
               sockio_size_letter(w[0][5])) {
        cmd_mem(&c, true);
    } else if (!strncmp(w[0], "read", 4) && strlen(w[0]) == 5 &&
               sockio_size_letter(w[0][4])) {
        cmd_mem(&c, false);
    } else if (!strcmp(w[0], "read")) {
        cmd_read(&c, false);
    } else if (!strcmp(w[0], "b64read")) {
        cmd_read(&c, true);
    } else if (!strcmp(w[0], "write")) {
        cmd_write(&c);
    } else if (!strcmp(w[0], "b64write")) {
        cmd_b64write(&c);
    } else if (!strcmp(w[0], "memset")) {
        cmd_memset(&c);
    } else if (!strcmp(w[0], "endianness")) {
        reply(b, "OK little\n");
    } else if (!strcmp(w[0], "irq_intercept_in") ||
               !strcmp(w[0], "irq_intercept_out")) {
        cmd_intercept(&c);
    } else if (!strcmp(w[0], "set_irq_in")) {
        reply(b, "FAIL xensim bridge: under Xen a device's input lines "
              "cannot be driven from outside the device model\n");
    } else if (!strcmp(w[0], "clock_step")) {
        cmd_clock(&c, false);
    } else if (!strcmp(w[0], "clock_set")) {
        cmd_clock(&c, true);
    } else if (!strcmp(w[0], "module_load")) {
        reply(b, "FAIL xensim bridge: module_load is not supported\n");
    } else {
        reply(b, "FAIL Unknown command '%.64s'\n", w[0]);
    }
}
