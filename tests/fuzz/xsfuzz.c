/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xsfuzz: the ioreq fuzzer's target program.  It plays one fuzz input
 * as a guest would into a real QEMU device model running under xensim,
 * and turns whatever goes wrong in QEMU into a crash of its own, which is
 * what afl-fuzz records.
 *
 * The QEMU (built by mk/build-fuzz.sh: afl-clang-fast + ASan + UBSan) is
 * started once by xensim's libxl-style launcher and kept across inputs;
 * it inherits afl-fuzz's __AFL_SHM_ID and writes its edge coverage into
 * afl-fuzz's map directly, so the coverage is QEMU's, measured across
 * the process boundary (the reason for AFL++ rather than libFuzzer,
 * whose counters live in the fuzzing process).  Between inputs the
 * machine is reset (QMP system_reset, the BARs programmed again as a
 * BIOS would, ballooned pages re-populated, faults cleared, the
 * buffered ring resynchronised), so an input replays alone.
 *
 * Input: a byte stream decoded into actions (see the opcode table in
 * decode_one(); tests/fuzz/README.md): port, MMIO and PCI config
 * accesses routed as Xen routes them, rep and data_is_ptr copies,
 * hostile ioreqs written field by field into the vCPU's slot, buffered
 * ring entries, invalidates, balloon, foreign-map faults, and AHCI and
 * IDE command programming (command lists, FIS, PRDs in guest RAM, then
 * the doorbell).  Short inputs read as zeros past their end.
 *
 * A finding, after every input: QEMU dead (crash, abort, sanitizer
 * report), QEMU alive but not answering an ordinary config read, an
 * ordinary (Xen-shaped) access that timed out, or the simulator's
 * dm_bugs counter moved.  The finding is written (kind, QEMU's log with
 * the sanitizer report) to $XSFUZZ_FINDINGS, the target is torn down to
 * be started afresh, and the process aborts.
 *
 * Invariants: every wait is bounded (control replies, QMP, the
 * simulator's per-access timeout); the target's identity lives in one
 * shared page so that every process afl-fuzz forks sees a restart; an
 * input never touches guest RAM outside the windows it is given below
 * except through the device model itself.
 *
 * Without afl-fuzz (no __AFL_FUZZ_TESTCASE_LEN), "xsfuzz FILE..." replays
 * each file once and exits 1 on the first finding: the regression tests.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef __AFL_FUZZ_TESTCASE_LEN
__AFL_FUZZ_INIT();
/* AFL++'s runtime: the edge count, and the map size it reports */
extern uint32_t __afl_final_loc, __afl_map_size;
#endif

/* ---- guest memory layout the inputs use ---- */
#define CLB(port)           (0x100000ull + (port) * 0x1000ull)
#define FIS(port)           (CLB(port) + 0x800)
#define CMDTBL(port, slot)  (0x110000ull + ((port) * 32 + (slot)) * 0x100ull)
#define IDE_PRDT            0x120000ull
#define SCRATCH_LO          0x100000ull     /* zeroed at every reset */
#define SCRATCH_LEN         0x30000ull
#define DATA_LO             0x200000ull     /* DMA buffers */
#define DATA_LEN            0x200000ull
#define BALLOON_GFN         0x400ull        /* 16 pages that come and go */
#define BALLOON_NR          16
#define RAM_TOP             0x7800000ull    /* -m 120 (128 - cirrus 8) */

/* ioreq types (xen/hvm/ioreq.h) */
#define IOREQ_PIO           0
#define IOREQ_COPY          1
#define IOREQ_PCI_CONFIG    2

#define MAX_ACTIONS         256
#define BATCH               24              /* control lines in flight */
#define REPLY_MS            20000

#define MAX_BARS            32
#define MAX_CFGW            64

typedef struct Bar {
    uint64_t base, size;
    bool io;
    uint32_t bdf;
} Bar;

/* The running target, shared by every process afl-fuzz forks. */
typedef struct Target {
    int generation;             /* 0: not running */
    pid_t qemu_pid, hv_pid;
    char run_dir[256], control[320], qmp[320], qemu_log[320], stop[800];
    unsigned server;            /* QEMU's ioreq server id */
    unsigned long inputs;       /* played since start */
    uint64_t dm_bugs;           /* counter at the last check */
    long hvlog_off;             /* hv.log read up to here */
    unsigned nbars;
    Bar bars[MAX_BARS];
    unsigned ncfgw;             /* BIOS config writes after a reset */
    struct { uint32_t bdf, reg, val; } cfgw[MAX_CFGW];
    uint32_t ahci_bdf, ide_bdf;
    uint64_t abar;
    uint16_t bmide;
    unsigned long findings;
    unsigned long unanswered_hostile;   /* hostile requests left busy */
    unsigned long played;               /* inputs, over all targets */
} Target;

static Target *tgt;
static const char *sim_dir, *qemu_bin, *work_dir, *findings_dir;
static unsigned long restart_every = 20000;
static bool trace;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
                                                     noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "xsfuzz: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}

static int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000ll + ts.tv_nsec / 1000;
}

static int unix_connect(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        return -1;
    }
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- the hv control socket, pipelined ---- */

typedef struct Ctl {
    int fd;
    int generation;
    char *out;
    size_t outlen, outcap;
    unsigned pending;
    char in[1 << 16];
    size_t inlen;
    /* results of the last flush */
    unsigned timeouts;          /* "err ETIMEDOUT" replies */
    unsigned ordinary_timeouts; /* ... of Xen-shaped accesses */
    unsigned input_timeouts[2]; /* this input's: [0] hostile, [1] ordinary */
    char last[512];             /* the last final line */
    char *body;                 /* body lines of the last flush */
    size_t bodylen, bodycap;
    bool broken;
    uint8_t kinds[BATCH * 4];   /* per pending line: 1 = ordinary */
    char lines[BATCH * 4][160]; /* per pending line: its start */
    char replies[BATCH * 4][160]; /* per line of the last flush: reply */
    char timed_out[200];        /* this input's first line timing out */
} Ctl;

static Ctl ctl = { .fd = -1 };

static void ctl_close(void)
{
    if (ctl.fd >= 0) {
        close(ctl.fd);
    }
    ctl.fd = -1;
    ctl.outlen = ctl.inlen = ctl.pending = 0;
    ctl.broken = false;
}

static void ctl_queue_kind(bool ordinary, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int ctl_flush(void);

static void ctl_queue_kind(bool ordinary, const char *fmt, ...)
{
    va_list ap;
    char line[1024];
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= (int)sizeof(line) - 1) {
        return;
    }
    line[n++] = '\n';
    if (trace) {
        fwrite(line, 1, n, stderr);
    }
    if (ctl.outlen + n > ctl.outcap) {
        ctl.outcap = (ctl.outlen + n) * 2;
        ctl.out = realloc(ctl.out, ctl.outcap);
        if (!ctl.out) {
            die("out of memory");
        }
    }
    memcpy(ctl.out + ctl.outlen, line, n);
    ctl.outlen += n;
    snprintf(ctl.lines[ctl.pending], sizeof(ctl.lines[0]), "%.*s",
             n - 1, line);
    ctl.kinds[ctl.pending++] = ordinary;
    if (ctl.pending >= BATCH) {
        ctl_flush();
    }
}

#define ctl_queue(...) ctl_queue_kind(true, __VA_ARGS__)
#define ctl_queue_hostile(...) ctl_queue_kind(false, __VA_ARGS__)

static void body_add(const char *line, size_t n)
{
    if (ctl.bodylen + n + 1 > ctl.bodycap) {
        ctl.bodycap = (ctl.bodylen + n + 1) * 2;
        ctl.body = realloc(ctl.body, ctl.bodycap);
        if (!ctl.body) {
            die("out of memory");
        }
    }
    memcpy(ctl.body + ctl.bodylen, line, n);
    ctl.bodylen += n;
    ctl.body[ctl.bodylen++] = '\n';
}

/*
 * Send every queued line and read one final line ("ok..."/"err...") per
 * line, writing and reading together so that neither side blocks.
 * Returns 0, or -1 when the hv went away or stopped replying.
 */
static int ctl_flush(void)
{
    size_t sent = 0;
    unsigned done = 0, want = ctl.pending;
    int64_t deadline = now_ms() + REPLY_MS;

    ctl.timeouts = ctl.ordinary_timeouts = 0;
    ctl.bodylen = 0;
    ctl.last[0] = 0;
    while (done < want) {
        struct pollfd p = { .fd = ctl.fd, .events = POLLIN };
        int64_t left = deadline - now_ms();

        if (ctl.broken || left <= 0) {
            ctl.broken = true;
            break;
        }
        if (sent < ctl.outlen) {
            p.events |= POLLOUT;
        }
        if (poll(&p, 1, left) < 0) {
            if (errno == EINTR) {
                continue;
            }
            ctl.broken = true;
            break;
        }
        if (p.revents & POLLOUT) {
            ssize_t n = send(ctl.fd, ctl.out + sent, ctl.outlen - sent,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0 && errno != EAGAIN && errno != EINTR) {
                ctl.broken = true;
                break;
            }
            sent += n > 0 ? n : 0;
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = recv(ctl.fd, ctl.in + ctl.inlen,
                             sizeof(ctl.in) - 1 - ctl.inlen, MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                ctl.broken = true;
                break;
            }
            ctl.inlen += n > 0 ? n : 0;
        }
        for (;;) {
            char *nl = memchr(ctl.in, '\n', ctl.inlen);
            size_t len;

            if (!nl) {
                if (ctl.inlen >= sizeof(ctl.in) - 1) {
                    ctl.inlen = 0;          /* an over-long body line */
                }
                break;
            }
            *nl = 0;
            len = nl - ctl.in;
            if (!strncmp(ctl.in, "ok", 2) || !strncmp(ctl.in, "err", 3)) {
                snprintf(ctl.last, sizeof(ctl.last), "%.500s", ctl.in);
                snprintf(ctl.replies[done], sizeof(ctl.replies[0]), "%.150s",
                         ctl.in);
                if (strstr(ctl.in, "err ETIMEDOUT")) {
                    ctl.timeouts++;
                    ctl.ordinary_timeouts += ctl.kinds[done];
                    if (!ctl.input_timeouts[0] && !ctl.input_timeouts[1]) {
                        snprintf(ctl.timed_out, sizeof(ctl.timed_out),
                                 "%s", ctl.lines[done]);
                    }
                    ctl.input_timeouts[ctl.kinds[done]]++;
                }
                if (trace) {
                    fprintf(stderr, "  -> %s\n", ctl.in);
                }
                done++;
            } else {
                body_add(ctl.in, len);
            }
            memmove(ctl.in, nl + 1, ctl.inlen - len - 1);
            ctl.inlen -= len + 1;
        }
    }
    ctl.outlen = 0;
    ctl.pending = 0;
    return ctl.broken ? -1 : 0;
}

/* One command now; its final line in ctl.last.  0 if it said "ok". */
static int ctl_cmd(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int ctl_cmd(const char *fmt, ...)
{
    va_list ap;
    char line[1024];

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    ctl_flush();
    ctl_queue("%s", line);
    if (ctl_flush() < 0) {
        return -1;
    }
    return strncmp(ctl.last, "ok", 2) ? -1 : 0;
}

static uint64_t ctl_value(void)
{
    return strtoull(ctl.last + 2, NULL, 0);
}

/* ---- QMP (the libxl socket) ---- */

static int qmp_fd = -1;
static int qmp_generation;
static char qmp_buf[1 << 16];
static size_t qmp_len;
static bool qmp_reset_seen;         /* a RESET event went by */
static bool qmp_stop_seen;          /* a STOP event (guest poweroff) */

/* Read lines until one contains want (or "error" when want is a
 * "return"); 0 on a match, -1 on an error reply or a closed socket, -2
 * when timeout_ms passed. */
static int qmp_wait(const char *want, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;

    for (;;) {
        char *nl;

        while ((nl = memchr(qmp_buf, '\n', qmp_len))) {
            size_t len = nl - qmp_buf + 1;
            bool hit;

            *nl = 0;
            hit = strstr(qmp_buf, want) != NULL;
            qmp_reset_seen |= strstr(qmp_buf, "\"RESET\"") != NULL;
            qmp_stop_seen |= strstr(qmp_buf, "\"STOP\"") != NULL;
            if (!hit && !strcmp(want, "\"return\"") &&
                strstr(qmp_buf, "\"error\"")) {
                memmove(qmp_buf, qmp_buf + len, qmp_len - len);
                qmp_len -= len;
                return -1;
            }
            memmove(qmp_buf, qmp_buf + len, qmp_len - len);
            qmp_len -= len;
            if (hit) {
                return 0;
            }
        }
        int64_t left = deadline - now_ms();
        struct pollfd p = { .fd = qmp_fd, .events = POLLIN };

        if (left <= 0 || poll(&p, 1, left) == 0) {
            return -2;
        }
        if (!(p.revents & POLLIN)) {
            return -1;
        }
        ssize_t n = recv(qmp_fd, qmp_buf + qmp_len,
                         sizeof(qmp_buf) - 1 - qmp_len, 0);
        if (n <= 0) {
            return -1;
        }
        qmp_len += n;
        if (qmp_len >= sizeof(qmp_buf) - 1) {
            qmp_len = 0;
        }
    }
}

static int qmp_send(const char *json)
{
    size_t n = strlen(json);

    if (send(qmp_fd, json, n, MSG_NOSIGNAL) != (ssize_t)n ||
        send(qmp_fd, "\r\n", 2, MSG_NOSIGNAL) != 2) {
        return -1;
    }
    return 0;
}

static int qmp_exec(const char *json)
{
    return qmp_send(json) < 0 ? -1 : qmp_wait("\"return\"", 10000);
}

static int qmp_connect(void)
{
    if (qmp_fd >= 0 && qmp_generation == tgt->generation) {
        return 0;
    }
    if (qmp_fd >= 0) {
        close(qmp_fd);
    }
    qmp_len = 0;
    qmp_fd = unix_connect(tgt->qmp);
    if (qmp_fd < 0) {
        return -1;
    }
    qmp_generation = tgt->generation;
    if (qmp_wait("\"QMP\"", 10000) < 0 ||
        qmp_exec("{\"execute\": \"qmp_capabilities\"}") < 0) {
        close(qmp_fd);
        qmp_fd = -1;
        return -1;
    }
    return 0;
}

/* ---- the target: start, probe, stop ---- */

static void target_stop(void)
{
    if (!tgt->generation) {
        return;
    }
    ctl_close();
    if (qmp_fd >= 0) {
        close(qmp_fd);
        qmp_fd = -1;
    }
    if (tgt->qemu_pid > 0) {
        kill(tgt->qemu_pid, SIGKILL);
    }
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR);

        dup2(fd, 1);
        dup2(fd, 2);
        execl("/bin/sh", "sh", "-c", tgt->stop, (char *)NULL);
        _exit(127);
    }
    if (pid > 0) {
        waitpid(pid, NULL, 0);
    }
    tgt->generation = 0;
}

static bool qemu_alive(void)
{
    char path[64], buf[512], *p;
    int fd, n;

    snprintf(path, sizeof(path), "/proc/%d/stat", tgt->qemu_pid);
    fd = open(path, O_RDONLY);
    if (fd < 0) {
        return false;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return false;
    }
    buf[n] = 0;
    p = strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static void set_str(char *dst, size_t len, const char *val)
{
    size_t n = strlen(val);

    /* the launcher quotes values shell-style only when it must */
    if (n >= 2 && val[0] == '\'' && val[n - 1] == '\'') {
        val++;
        n -= 2;
    }
    snprintf(dst, len, "%.*s", (int)n, val);
}

static uint32_t cfg_read(uint32_t bdf, unsigned reg, unsigned size)
{
    ctl_queue("outl 0xcf8 %#x", 0x80000000u | bdf << 8 | (reg & 0xfc));
    if (ctl_cmd("in%c %#x", size == 1 ? 'b' : size == 2 ? 'w' : 'l',
                0xcfc + (reg & 3)) < 0) {
        return ~0u;
    }
    return ctl_value();
}

static void cfg_write(uint32_t bdf, unsigned reg, unsigned size,
                      uint32_t val)
{
    ctl_queue("outl 0xcf8 %#x", 0x80000000u | bdf << 8 | (reg & 0xfc));
    ctl_queue("out%c %#x %#x", size == 1 ? 'b' : size == 2 ? 'w' : 'l',
              0xcfc + (reg & 3), val);
}

static void bios_write(uint32_t bdf, unsigned reg, uint32_t val)
{
    if (tgt->ncfgw < MAX_CFGW) {
        tgt->cfgw[tgt->ncfgw].bdf = bdf;
        tgt->cfgw[tgt->ncfgw].reg = reg;
        tgt->cfgw[tgt->ncfgw].val = val;
        tgt->ncfgw++;
    }
    cfg_write(bdf, reg, 4, val);
}

/*
 * What hvmloader does for bus 0, once per target: size every BAR, place
 * those up to 1 MiB (I/O from 0xc000, memory from 0xf1000000), enable
 * decoding and bus mastering.  The writes are kept and replayed after
 * every reset.
 */
static void bios_scan(void)
{
    uint32_t io_next = 0xc000;
    uint64_t mem_next = 0xf1000000;

    tgt->nbars = tgt->ncfgw = 0;
    tgt->ahci_bdf = tgt->ide_bdf = ~0u;
    for (unsigned dev = 0; dev < 32; dev++) {
        for (unsigned fn = 0; fn < 8; fn++) {
            uint32_t bdf = dev << 3 | fn;
            uint32_t id = cfg_read(bdf, 0, 4);
            uint32_t class = cfg_read(bdf, 8, 4) >> 8;
            bool any = false;

            if ((id & 0xffff) == 0xffff) {
                if (fn == 0) {
                    break;
                }
                continue;
            }
            if ((class >> 8) == 0x0106) {
                tgt->ahci_bdf = bdf;
            } else if ((class >> 8) == 0x0101) {
                tgt->ide_bdf = bdf;
            }
            for (unsigned i = 0; i < 6; i++) {
                unsigned reg = 0x10 + 4 * i;
                uint32_t old = cfg_read(bdf, reg, 4), mask;
                uint64_t size;

                cfg_write(bdf, reg, 4, ~0u);
                mask = cfg_read(bdf, reg, 4);
                cfg_write(bdf, reg, 4, old);
                if (!mask || mask == ~0u) {
                    continue;
                }
                bool io = mask & 1;
                size = io ? (uint64_t)(uint16_t)~(mask & ~3u) + 1
                          : (uint64_t)(uint32_t)~(mask & ~0xfu) + 1;
                if (!io && ((mask >> 1) & 3) == 2) {
                    i++;            /* 64-bit: the high half stays 0 */
                }
                if (size > 0x100000 || tgt->nbars >= MAX_BARS) {
                    continue;
                }
                Bar *b = &tgt->bars[tgt->nbars++];
                if (io) {
                    io_next = (io_next + size - 1) & ~(size - 1);
                    b->base = io_next;
                    io_next += size;
                } else {
                    mem_next = (mem_next + size - 1) & ~(size - 1);
                    b->base = mem_next;
                    mem_next += size;
                }
                b->size = size;
                b->io = io;
                b->bdf = bdf;
                bios_write(bdf, reg, b->base);
                any = true;
                if (bdf == tgt->ahci_bdf && i == 5) {
                    tgt->abar = b->base;
                }
                if (bdf == tgt->ide_bdf && i == 4) {
                    tgt->bmide = b->base;
                }
            }
            if (any) {
                bios_write(bdf, 4, 0x7);    /* I/O, memory, bus master */
            }
            if (fn == 0 && !(cfg_read(bdf, 0xc, 4) & 0x800000)) {
                break;
            }
        }
    }
    ctl_flush();
}

static int ctl_connect(void)
{
    if (ctl.fd >= 0 && ctl.generation == tgt->generation && !ctl.broken) {
        return 0;
    }
    ctl_close();
    ctl.fd = unix_connect(tgt->control);
    ctl.generation = tgt->generation;
    return ctl.fd < 0 ? -1 : 0;
}

static uint64_t counter(const char *name)
{
    char key[64];
    const char *p;
    size_t n = snprintf(key, sizeof(key), "%s ", name);

    if (!ctl.body) {
        return 0;
    }
    for (p = ctl.body; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1
                                                    : NULL) {
        if (!strncmp(p, key, n)) {
            return strtoull(p + n, NULL, 0);
        }
    }
    return 0;
}

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);

    return v && *v ? v : def;
}

static void make_image(const char *path, off_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT, 0644);

    if (fd < 0 || ftruncate(fd, size) < 0) {
        die("%s: %s", path, strerror(errno));
    }
    close(fd);
}

static void target_start(void)
{
    char ahci[300], slow[300], ide[300], cmd[2048], line[1024];
    int p[2];
    pid_t pid;
    FILE *f;

    snprintf(ahci, sizeof(ahci), "%s/ahci.img", work_dir);
    snprintf(slow, sizeof(slow), "%s/ahci-slow.img", work_dir);
    snprintf(ide, sizeof(ide), "%s/ide.img", work_dir);
    make_image(ahci, 8 << 20);
    make_image(slow, 1 << 20);
    make_image(ide, 4 << 20);
    /*
     * AHCI port 1 holds a throttled disk (50 requests/s after a burst of
     * 5): its commands
     * stay in flight for ~20 ms while the guest's next accesses arrive,
     * so races between a running command and the guest (the command
     * list stopped under it, a reset) are reached and replay.  A page
     * cache read on port 0 completes before the next ioreq is served.
     */
    snprintf(cmd, sizeof(cmd),
             "exec %s/run --keep --memory 128 --vcpus 2 "
             "--hv-timeout-ms 10000 -- %s -device ahci,id=ahci0 "
             "-drive file=%s,if=none,id=ahcidisk-0,format=raw,"
             "cache=writeback "
             "-device ide-hd,bus=ahci0.0,unit=0,drive=ahcidisk-0 "
             "-drive file=%s,if=none,id=ahcislow,format=raw,"
             "cache=writeback,throttling.iops-total=50 "
             "-device ide-hd,bus=ahci0.1,unit=0,drive=ahcislow "
             "-drive file=%s,if=ide,index=1,format=raw,cache=writeback "
             "2>>%s/launch.log",
             sim_dir, qemu_bin, ahci, slow, ide, work_dir);
    if (pipe(p) < 0) {
        die("pipe: %s", strerror(errno));
    }
    pid = fork();
    if (pid == 0) {
        /* QEMU must not take afl-fuzz's forkserver pipes for its own */
        close(198);
        close(199);
        /* a sanitizer report kills QEMU (the finding), symbolized; the
         * devxen shim is preloaded ahead of the ASan runtime; leaks at
         * exit are not findings */
        setenv("ASAN_OPTIONS", env_or("XSFUZZ_QEMU_ASAN_OPTIONS",
               "abort_on_error=1:detect_leaks=0:verify_asan_link_order=0:"
               "symbolize=1:handle_abort=1:print_summary=1"), 1);
        setenv("UBSAN_OPTIONS", env_or("XSFUZZ_QEMU_UBSAN_OPTIONS",
               "halt_on_error=1:abort_on_error=1:print_stacktrace=1:"
               "symbolize=1"), 1);
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    memset(tgt, 0, offsetof(Target, findings));
    f = fdopen(p[0], "r");
    while (f && fgets(line, sizeof(line), f)) {
        char *eq = strchr(line, '=');

        line[strcspn(line, "\n")] = 0;
        if (!eq) {
            continue;
        }
        *eq++ = 0;
        if (!strcmp(line, "XENSIM_RUN_DIR")) {
            set_str(tgt->run_dir, sizeof(tgt->run_dir), eq);
        } else if (!strcmp(line, "XENSIM_CONTROL")) {
            set_str(tgt->control, sizeof(tgt->control), eq);
        } else if (!strcmp(line, "XENSIM_QMP")) {
            set_str(tgt->qmp, sizeof(tgt->qmp), eq);
        } else if (!strcmp(line, "XENSIM_QEMU_LOG")) {
            set_str(tgt->qemu_log, sizeof(tgt->qemu_log), eq);
        } else if (!strcmp(line, "XENSIM_QEMU_PID")) {
            tgt->qemu_pid = atoi(eq);
        } else if (!strcmp(line, "XENSIM_HV_PID")) {
            tgt->hv_pid = atoi(eq);
        } else if (!strcmp(line, "XENSIM_STOP")) {
            set_str(tgt->stop, sizeof(tgt->stop), eq);
        }
    }
    if (f) {
        fclose(f);
    }
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) || !tgt->qemu_pid ||
        !tgt->control[0]) {
        die("the launcher failed (see %s/launch.log)", work_dir);
    }
    tgt->generation = (int)(now_ms() & 0x3fffffff) | 1;
    if (ctl_connect() < 0) {
        die("control socket %s: %s", tgt->control, strerror(errno));
    }
    /* QEMU's server: the one `state` lists first */
    ctl_cmd("state");
    const char *s = ctl.body ? strstr(ctl.body, "server ") : NULL;
    tgt->server = s ? strtoul(s + 7, NULL, 0) : 0;
    bios_scan();
    ctl_cmd("counters");
    tgt->dm_bugs = counter("dm_bugs");
    if (trace) {
        fprintf(stderr, "xsfuzz: target up: qemu %d server %u ahci %#x "
                "abar %#llx ide %#x bmide %#x, %u BARs\n", tgt->qemu_pid,
                tgt->server, tgt->ahci_bdf, (unsigned long long)tgt->abar,
                tgt->ide_bdf, tgt->bmide, tgt->nbars);
    }
}

/* ---- findings ---- */

static void copy_file(FILE *out, const char *path, long max)
{
    FILE *in = fopen(path, "r");
    char buf[4096];
    size_t n;
    long size;

    if (!in) {
        fprintf(out, "(no %s)\n", path);
        return;
    }
    fseek(in, 0, SEEK_END);
    size = ftell(in);
    fseek(in, size > max ? size - max : 0, SEEK_SET);
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
        fwrite(buf, 1, n, out);
    }
    fclose(in);
}

static const uint8_t *cur_input;
static size_t cur_len;

static void finding(const char *kind, const char *detail)
    __attribute__((noreturn));
static void finding(const char *kind, const char *detail)
{
    char path[512], hvlog[400];
    FILE *out;

    tgt->findings++;
    snprintf(path, sizeof(path), "%s/finding-%ld-%d-%s.txt", findings_dir,
             (long)time(NULL), getpid(), kind);
    out = fopen(path, "w");
    if (out) {
        fprintf(out, "kind: %s\ndetail: %s\ninput:", kind, detail);
        for (size_t i = 0; i < cur_len; i++) {
            fprintf(out, "%s%02x", i % 32 ? "" : "\n", cur_input[i]);
        }
        fprintf(out, "\n--- QEMU log (tail)\n");
        copy_file(out, tgt->qemu_log, 64 << 10);
        snprintf(hvlog, sizeof(hvlog), "%s/hv.log", tgt->run_dir);
        fprintf(out, "--- xensim-hv log (tail)\n");
        copy_file(out, hvlog, 16 << 10);
        fclose(out);
    }
    fprintf(stderr, "xsfuzz: FINDING %s: %s (%s)\n", kind, detail, path);
    target_stop();
#ifdef __AFL_FUZZ_TESTCASE_LEN
    abort();
#else
    exit(1);
#endif
}

/* ---- decoding ---- */

typedef struct In {
    const uint8_t *p;
    size_t len, pos;
} In;

static uint64_t get(In *in, unsigned bytes)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < bytes; i++) {
        uint64_t b = in->pos < in->len ? in->p[in->pos] : 0;

        in->pos++;
        v |= b << (8 * i);
    }
    return v;
}

#define U8(in)  ((uint8_t)get(in, 1))
#define U16(in) ((uint16_t)get(in, 2))
#define U32(in) ((uint32_t)get(in, 4))
#define U64(in) get(in, 8)

/* Per-input state, for the reset after it. */
static struct {
    bool ballooned[BALLOON_NR];
    bool faults, ring;
    unsigned port_ready;        /* AHCI ports given a command list */
    bool ahci_on;
    unsigned cpu;
    bool stop;                  /* an access timed out: stop playing */
} st;

static const uint16_t fixed_ports[] = {
    0xcf8, 0xcfc, 0x1f0, 0x1f1, 0x1f2, 0x1f3, 0x1f4, 0x1f5, 0x1f6, 0x1f7,
    0x3f6, 0x170, 0x177, 0x376, 0x10, 0x12, 0x88, 0x3c0, 0x3c4, 0x3c5,
    0x3ce, 0x3cf, 0x3d4, 0x3d5, 0x3da, 0x70, 0x71, 0x60, 0x64, 0x92,
    0xcf9, 0xb000, 0xb004, 0xb008, 0xafe0, 0xaf00, 0x3f0, 0x3f4, 0x3f5,
    0x80, 0x510, 0x511, 0x402, 0x4d0,
};
#define NFIXED (sizeof(fixed_ports) / sizeof(fixed_ports[0]))

static uint16_t pick_port(In *in)
{
    uint16_t sel = U16(in);
    unsigned nio = 0, idx;
    Bar *io[MAX_BARS];

    if (sel >= 0xf000) {
        return sel & 0xfff;                 /* any low port */
    }
    for (unsigned i = 0; i < tgt->nbars; i++) {
        if (tgt->bars[i].io) {
            io[nio++] = &tgt->bars[i];
        }
    }
    idx = (sel & 0xff) % (NFIXED + nio);
    if (idx < NFIXED) {
        return fixed_ports[idx] + ((sel >> 8) & 3);
    }
    Bar *b = io[idx - NFIXED];
    return b->base + ((sel >> 8) % b->size);
}

static uint64_t pick_mmio(In *in)
{
    uint8_t sel = U8(in);
    uint32_t off = U32(in);
    unsigned nmem = 0;
    Bar *mem[MAX_BARS];
    static const struct { uint64_t base, size; } fixed[] = {
        { 0xa0000, 0x20000 },       /* VGA window */
        { 0xfed00000, 0x1000 },     /* HPET (Xen's) */
        { 0xfec00000, 0x1000 },     /* IOAPIC (Xen's) */
        { 0xfee00000, 0x1000 },     /* LAPIC / MSI */
        { 0xf0000000, 0x1000000 },  /* platform device MMIO */
        { RAM_TOP, 0x100000 },      /* just past RAM */
    };
    unsigned nf = sizeof(fixed) / sizeof(fixed[0]);

    for (unsigned i = 0; i < tgt->nbars; i++) {
        if (!tgt->bars[i].io) {
            mem[nmem++] = &tgt->bars[i];
        }
    }
    if (sel == 0xff) {
        return (uint64_t)off << 12 | (off & 0xfff);
    }
    /* BARs twice as likely as the fixed windows */
    unsigned idx = sel % (nf + 2 * nmem);
    if (idx < nf) {
        return fixed[idx].base + off % fixed[idx].size;
    }
    Bar *b = mem[(idx - nf) % nmem];
    return b->base + off % b->size;
}

/* A guest-physical buffer for DMA or data_is_ptr. */
static uint64_t pick_gpa(In *in)
{
    uint8_t kind = U8(in);
    uint32_t off = U32(in);

    switch (kind % 8) {
    case 0: case 1: case 2: case 3:
        return DATA_LO + (off % DATA_LEN);
    case 4:
        return (BALLOON_GFN << 12) + off % (BALLOON_NR << 12);
    case 5:
        return 0xa0000 + off % 0x20000;
    case 6:
        return RAM_TOP - 0x10000 + off % 0x20000;
    default:
        return (uint64_t)off << (kind >> 4);
    }
}

static char size_letter(unsigned size)
{
    return size == 1 ? 'b' : size == 2 ? 'w' : size == 4 ? 'l' : 'q';
}

static void mmio_write(uint64_t addr, unsigned size, uint64_t val)
{
    ctl_queue("write%c %#llx %#llx", size_letter(size),
              (unsigned long long)addr, (unsigned long long)val);
}

static void ahci_port_setup(unsigned port)
{
    uint64_t pr = tgt->abar + 0x100 + port * 0x80;

    if (!st.ahci_on) {
        mmio_write(tgt->abar + 4, 4, 0x80000002);   /* GHC: AE, IE */
        st.ahci_on = true;
    }
    if (st.port_ready & (1u << port)) {
        return;
    }
    mmio_write(pr + 0x18, 4, 0);                    /* stop */
    mmio_write(pr + 0x00, 4, CLB(port));
    mmio_write(pr + 0x04, 4, 0);
    mmio_write(pr + 0x08, 4, FIS(port));
    mmio_write(pr + 0x0c, 4, 0);
    mmio_write(pr + 0x30, 4, ~0u);                  /* SERR */
    mmio_write(pr + 0x10, 4, ~0u);                  /* IS */
    mmio_write(pr + 0x14, 4, ~0u);                  /* IE */
    mmio_write(pr + 0x18, 4, 0x16);                 /* FRE POD SUD */
    mmio_write(pr + 0x18, 4, 0x17);                 /* ST */
    st.port_ready |= 1u << port;
}

static void ram_write(uint64_t gpa, const void *buf, size_t len)
{
    char hex[2 * 512 + 1];
    const uint8_t *b = buf;

    while (len) {
        size_t n = len > 512 ? 512 : len;

        for (size_t i = 0; i < n; i++) {
            sprintf(hex + 2 * i, "%02x", b[i]);
        }
        ctl_queue("memwrite %#llx %s", (unsigned long long)gpa, hex);
        gpa += n;
        b += n;
        len -= n;
    }
}

static const uint8_t ata_cmds[] = {
    0xec, 0x25, 0x35, 0x60, 0x61, 0xea, 0xe7, 0xa0, 0xa1, 0xef, 0xc8,
    0xca, 0x20, 0x30, 0xc4, 0xc5, 0xf8, 0x27, 0x40, 0x42, 0x91, 0x06,
    0xb0, 0x2f, 0x63, 0x64, 0x65, 0xe5, 0x08, 0x90,
};

/*
 * AHCI: a command header, an H2D register FIS and PRDs in guest RAM,
 * then the doorbell (PxSACT too for NCQ), as a driver issues a command.
 */
static void ahci_command(In *in)
{
    uint8_t port = U8(in) % 6, slot = U8(in) % 32, csel = U8(in);
    uint8_t flags = U8(in), nprd = U8(in) % 9, feat = U8(in);
    uint32_t lba = U32(in);
    uint16_t count = U16(in);
    uint8_t hdr[32] = { 0 }, tbl[0x80 + 8 * 16] = { 0 };
    uint8_t cmd = csel < 0xe0 ? ata_cmds[csel % sizeof(ata_cmds)] : csel;
    uint64_t pr = tgt->abar + 0x100 + port * 0x80;

    if (!tgt->abar) {
        return;
    }
    ahci_port_setup(port);
    /* header: CFL 5 dwords, A(tapi) W(rite) P C bits from flags */
    hdr[0] = 5 | (flags & 0xe0);
    hdr[1] = flags & 0x04 ? 0x04 : 0;               /* C: clear busy */
    hdr[2] = nprd;
    uint64_t ctba = CMDTBL(port, slot);
    memcpy(hdr + 8, &ctba, 8);
    /* H2D register FIS */
    tbl[0] = 0x27;
    tbl[1] = flags & 0x08 ? 0 : 0x80;               /* C bit */
    tbl[2] = cmd;
    tbl[3] = feat;
    tbl[4] = lba;
    tbl[5] = lba >> 8;
    tbl[6] = lba >> 16;
    tbl[7] = 0x40;                                  /* LBA mode */
    tbl[8] = lba >> 24;
    tbl[12] = count;
    tbl[13] = count >> 8;
    if (cmd == 0x60 || cmd == 0x61) {               /* NCQ: tag, count */
        tbl[3] = count;
        tbl[11] = count >> 8;
        tbl[12] = slot << 3;
    }
    if (flags & 0x20) {                             /* ATAPI CDB */
        for (unsigned i = 0; i < 12; i++) {
            tbl[0x40 + i] = U8(in);
        }
    }
    for (unsigned i = 0; i < nprd; i++) {
        uint64_t a = pick_gpa(in);
        uint32_t dbc = U16(in) | (U8(in) & 0x80 ? 0x3f0000 : 0);

        memcpy(tbl + 0x80 + 16 * i, &a, 8);
        dbc |= flags & 0x10 ? 0x80000000u : 0;      /* I bit */
        memcpy(tbl + 0x80 + 16 * i + 12, &dbc, 4);
    }
    ram_write(CLB(port) + slot * 32, hdr, sizeof(hdr));
    ram_write(ctba, tbl, 0x80 + 16 * nprd);
    if (cmd == 0x60 || cmd == 0x61) {
        mmio_write(pr + 0x34, 4, 1u << slot);       /* PxSACT */
    }
    mmio_write(pr + 0x38, 4, 1u << slot);           /* PxCI */
}

/* Wait (bounded) until the port's commands are done. */
static void ahci_wait(In *in)
{
    uint8_t port = U8(in) % 6;
    uint64_t pr = tgt->abar + 0x100 + port * 0x80;

    if (!tgt->abar) {
        return;
    }
    for (int i = 0; i < 50; i++) {
        if (ctl_cmd("readl %#llx", (unsigned long long)pr + 0x38) < 0 ||
            ctl_value() == 0) {
            break;
        }
        usleep(200);
    }
    mmio_write(pr + 0x10, 4, ~0u);                  /* ack PxIS */
    mmio_write(tgt->abar + 8, 4, ~0u);              /* ack IS */
}

/* IDE bus-master DMA: PRD table in RAM, BMIDE, the taskfile, start. */
static void ide_dma(In *in)
{
    uint8_t chan = U8(in) & 1, csel = U8(in), nprd = U8(in) % 6 + 1;
    uint8_t dir = U8(in), dev = U8(in);
    uint32_t lba = U32(in);
    uint8_t count = U8(in);
    uint16_t tf = chan ? 0x170 : 0x1f0;
    uint16_t bm = tgt->bmide + chan * 8;
    uint8_t prd[6 * 8];
    uint8_t cmd = csel < 0xe0 ? ata_cmds[csel % sizeof(ata_cmds)] : csel;

    if (!tgt->bmide) {
        return;
    }
    for (unsigned i = 0; i < nprd; i++) {
        uint32_t a = pick_gpa(in);
        uint16_t len = U16(in);
        uint16_t eot = i + 1 == nprd ? 0x8000 : 0;

        memcpy(prd + 8 * i, &a, 4);
        memcpy(prd + 8 * i + 4, &len, 2);
        memcpy(prd + 8 * i + 6, &eot, 2);
    }
    ram_write(IDE_PRDT + chan * 0x100, prd, 8 * nprd);
    ctl_queue("outb %#x 0", bm);                    /* stop */
    ctl_queue("outb %#x 6", bm + 2);                /* clear status */
    ctl_queue("outl %#x %#llx", bm + 4,
              (unsigned long long)IDE_PRDT + chan * 0x100);
    ctl_queue("outb %#x %#x", tf + 6, 0xe0 | (dev & 0x10) | (lba >> 24 & 15));
    ctl_queue("outb %#x %#x", tf + 2, count);
    ctl_queue("outb %#x %#x", tf + 3, lba & 0xff);
    ctl_queue("outb %#x %#x", tf + 4, lba >> 8 & 0xff);
    ctl_queue("outb %#x %#x", tf + 5, lba >> 16 & 0xff);
    ctl_queue("outb %#x %#x", tf + 7, cmd);
    ctl_queue("outb %#x %#x", bm, 1 | (dir & 8));   /* start, direction */
}

static const char *const fields[] = {
    "addr", "data", "count", "size", "pad", "pad1", "ptr", "dir", "df",
    "type",
};

/* A request written field by field into the vCPU's slot (hv/inject.h). */
static void hostile_ioreq(In *in)
{
    uint8_t type = U8(in), size = U8(in), fl = U8(in);
    uint32_t count = U32(in);
    uint64_t data = U64(in), addr;
    unsigned t;
    char race[64] = "";

    /* the address as the type expects it, the type itself sometimes not */
    switch (type & 0xc0) {
    case 0x00:
        addr = pick_port(in);
        t = IOREQ_PIO;
        break;
    case 0x40:
        addr = pick_mmio(in);
        t = IOREQ_COPY;
        break;
    case 0x80:
        addr = (uint64_t)(U8(in) % 32 * 8) << 32 | (U16(in) & 0xfff);
        t = IOREQ_PCI_CONFIG;
        break;
    default:
        addr = U64(in);
        t = type % 9;
    }
    if (type & 0x20) {
        t = type % 9;
    }
    if (fl & 0x80) {
        data = pick_gpa(in);
    }
    if (fl & 0x40) {
        snprintf(race, sizeof(race), " race=%s:%#x",
                 fields[U8(in) % (sizeof(fields) / sizeof(fields[0]))],
                 U32(in));
    }
    /* size 0..8 mostly, count small mostly: Xen's shapes and just past */
    unsigned sz = size < 0xf0 ? (1u << (size % 4)) + (size & 0x10 ? 1 : 0)
                              : size;
    uint32_t cnt = count & 0x80000000u ? count : count % 0x1100;
    ctl_queue_hostile("ioreq server=%u cpu=%u type=%u addr=%#llx "
                      "data=%#llx size=%u count=%u dir=%u df=%u ptr=%u "
                      "timeout=3000%s",
                      tgt->server, st.cpu, t,
                      (unsigned long long)addr, (unsigned long long)data,
                      sz, cnt, fl & 1, fl >> 1 & 1, fl >> 7 & 1, race);
}

static const char *const scenarios[] = {
    "lone-half", "rp-ahead", "gap", "bad-type", "wrap", "empty",
};

/* Decode and queue one action; false at the end of the input. */
static bool decode_one(In *in)
{
    uint8_t op;

    if (in->pos >= in->len) {
        return false;
    }
    op = U8(in);
    switch (op % 24) {
    case 0: case 1: {                               /* port I/O */
        unsigned size = 1u << (U8(in) % 3);
        uint16_t port = pick_port(in);
        uint32_t val = U32(in);
        if (op % 24 == 0) {
            ctl_queue("out%c %#x %#x", size_letter(size), port,
                      size == 4 ? val : val & ((1u << 8 * size) - 1));
        } else {
            ctl_queue("in%c %#x", size_letter(size), port);
        }
        break;
    }
    case 2: case 3: {                               /* MMIO */
        unsigned size = 1u << (U8(in) % 4);
        uint64_t addr = pick_mmio(in) & ~(uint64_t)(size - 1);
        uint64_t val = U64(in);
        if (op % 24 == 2) {
            ctl_queue("write%c %#llx %#llx", size_letter(size),
                      (unsigned long long)addr,
                      size == 8 ? (unsigned long long)val
                                : (unsigned long long)(val &
                                  ((1ull << 8 * size) - 1)));
        } else {
            ctl_queue("read%c %#llx", size_letter(size),
                      (unsigned long long)addr);
        }
        break;
    }
    case 4: case 5: {                               /* PCI config */
        uint32_t bdf = U8(in) % 40;                 /* some absent */
        unsigned reg = U8(in), size = 1u << (U8(in) % 3);
        uint32_t val = U32(in);
        reg &= ~(size - 1);
        if (op % 24 == 4) {
            cfg_write(bdf, reg, size, size == 4 ? val
                      : val & ((1u << 8 * size) - 1));
        } else {
            ctl_queue("outl 0xcf8 %#x", 0x80000000u | bdf << 8 |
                      (reg & 0xfc));
            ctl_queue("in%c %#x", size_letter(size), 0xcfc + (reg & 3));
        }
        break;
    }
    case 6: {                                       /* rep ins/outs */
        unsigned size = 1u << (U8(in) % 3);
        uint16_t port = pick_port(in);
        uint8_t dir = U8(in);
        uint64_t gpa = pick_gpa(in);
        unsigned count = U16(in) % 4097;
        ctl_queue("%s%c %#x %#llx %u", dir & 1 ? "outs" : "ins",
                  size_letter(size), port, (unsigned long long)gpa, count);
        break;
    }
    case 7: {                                       /* rep movs */
        unsigned size = 1u << (U8(in) % 4);
        uint64_t addr = pick_mmio(in);
        uint8_t dir = U8(in);
        uint64_t gpa = pick_gpa(in);
        unsigned count = U16(in) % 4097;
        ctl_queue("%s%c %#llx %#llx %u", dir & 1 ? "copyto" : "copyfrom",
                  size_letter(size), (unsigned long long)addr,
                  (unsigned long long)gpa, count);
        break;
    }
    case 8: case 9:
        hostile_ioreq(in);
        break;
    case 10: {                                      /* buffered write */
        unsigned size = 1u << (U8(in) % 4);
        uint32_t addr = U8(in) & 1 ? 0xa0000 + U32(in) % 0x20000
                                   : U32(in) % 0x100000;
        uint64_t val = U64(in);
        ctl_queue("bufwrite %#x %u %#llx", addr, size,
                  (unsigned long long)(size == 8 ? val
                                       : val & ((1ull << 8 * size) - 1)));
        break;
    }
    case 11: {                                      /* raw ring entries */
        uint8_t adv = U8(in) % 4;
        uint64_t a = U64(in), b = U64(in);
        ctl_queue_hostile("rawbuf %u %u %#llx %#llx", tgt->server, adv,
                          (unsigned long long)a, (unsigned long long)b);
        st.ring = true;
        break;
    }
    case 12:
        ctl_queue_hostile("bufring %u %s", tgt->server,
                          scenarios[U8(in) % 6]);
        st.ring = true;
        break;
    case 13:
        ctl_queue("invalidate %u", U8(in) % 4 + 1);
        break;
    case 14: {                                      /* balloon */
        unsigned g = U8(in) % BALLOON_NR, n = U8(in) % 4 + 1;
        if (g + n > BALLOON_NR) {
            n = BALLOON_NR - g;
        }
        for (unsigned i = 0; i < n; i++) {
            if (st.ballooned[g + i]) {
                n = i;
                break;
            }
        }
        if (n) {
            ctl_queue("balloon %#llx %u",
                      (unsigned long long)BALLOON_GFN + g, n);
            for (unsigned i = 0; i < n; i++) {
                st.ballooned[g + i] = true;
            }
        }
        break;
    }
    case 15: {                                      /* map faults */
        uint8_t k = U8(in);
        uint32_t v = U8(in);
        if (k & 1) {
            ctl_queue("fault map-fail %u", v % 8 + 1);
        } else {
            ctl_queue("fault page-error %#llx", (unsigned long long)
                      (k & 2 ? BALLOON_GFN + v % BALLOON_NR
                             : (DATA_LO >> 12) + v % (DATA_LEN >> 12)));
        }
        st.faults = true;
        break;
    }
    case 16: {                                      /* RAM contents */
        uint64_t gpa = pick_gpa(in);
        uint8_t buf[64];
        unsigned n = U8(in) % 64 + 1;
        for (unsigned i = 0; i < n; i++) {
            buf[i] = U8(in);
        }
        if (gpa >= DATA_LO && gpa + n <= DATA_LO + DATA_LEN) {
            ram_write(gpa, buf, n);
        }
        break;
    }
    case 17: case 18:
        ahci_command(in);
        break;
    case 19:
        ahci_wait(in);
        break;
    case 20:
        ide_dma(in);
        break;
    case 21:
        st.cpu = U8(in) & 1;
        ctl_queue("cpu %u", st.cpu);
        break;
    case 22:
        if (U8(in) & 1) {
            ctl_queue_hostile("notify %u", tgt->server);
        } else {
            ctl_queue_hostile("bufnotify %u", tgt->server);
        }
        break;
    case 23:
        ctl_queue("timeoffset %d", (int32_t)U32(in));
        break;
    }
    return true;
}

/* ---- one input ---- */

/*
 * The reset's QMP steps are bounded (XSFUZZ_QMP_REPLY_MS, 10 s); on a
 * loaded host a reply may come later than that from a QEMU that is fine,
 * so a live QEMU gets XSFUZZ_QMP_GRACE_MS more.  A reply within the
 * grace is a harness event (a line in WORK/slow-qmp.log, not a finding);
 * an error reply, a closed socket or no reply at all is a finding that
 * names the step and how long it waited.
 */
static int qmp_reply_ms = 10000, qmp_grace_ms = 10000;

static double load_1min(void)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double load = 0;

    if (f) {
        if (fscanf(f, "%lf", &load) != 1) {
            load = 0;
        }
        fclose(f);
    }
    return load;
}

/*
 * One step of the reset: send @json (NULL: nothing to send) and wait for
 * a line holding @want; 0 when it came, in time or within the grace, else
 * < 0 with the finding's text in @why.
 */
static int qmp_reset_step(const char *step, const char *json,
                          const char *want, char *why, size_t whylen)
{
    int64_t t0 = now_ms();
    int rc = json && qmp_send(json) < 0 ? -1 : qmp_wait(want, qmp_reply_ms);
    char path[512];
    FILE *f;

    if (rc == -2 && qemu_alive()) {
        rc = qmp_wait(want, qmp_grace_ms);
    }
    if (rc < 0) {
        snprintf(why, whylen, "QMP %s: %s after %lld ms (load %.2f)", step,
                 rc == -2 ? "no reply" : "error reply or socket closed",
                 (long long)(now_ms() - t0), load_1min());
    } else if (now_ms() - t0 > qmp_reply_ms) {
        snprintf(path, sizeof(path), "%s/slow-qmp.log", work_dir);
        f = fopen(path, "a");
        if (f) {
            fprintf(f, "%ld %s: reply after %lld ms (load %.2f)\n",
                    (long)time(NULL), step, (long long)(now_ms() - t0),
                    load_1min());
            fclose(f);
        }
    }
    return rc;
}

static void reset_target(void)
{
    /* the simulator's side */
    for (unsigned i = 0; i < BALLOON_NR; i++) {
        if (st.ballooned[i]) {
            ctl_queue("populate %#llx 1", (unsigned long long)BALLOON_GFN + i);
        }
    }
    if (st.faults) {
        ctl_queue("fault clear");
    }
    if (st.ring && ctl_cmd("bufptrs %u", tgt->server) == 0) {
        unsigned long wp = strtoul(strchr(ctl.last + 3, ' ') ?
                                   strchr(ctl.last + 3, ' ') : "0", NULL, 0);
        ctl_queue("bufptrs %u %#lx %#lx", tgt->server, wp, wp);
    }
    ctl_queue("cpu 0");
    ctl_flush();
    /* the machine */
    int64_t r0 = now_us();
    char why[160] = "QMP: cannot connect";

    qmp_reset_seen = false;
    if (qmp_connect() < 0 ||
        qmp_reset_step("system_reset", "{\"execute\": \"system_reset\"}",
                       "\"return\"", why, sizeof(why)) < 0 ||
        (!qmp_reset_seen &&
         qmp_reset_step("RESET event", NULL, "\"RESET\"", why,
                        sizeof(why)) < 0) ||
        (qmp_stop_seen &&
         qmp_reset_step("cont", "{\"execute\": \"cont\"}", "\"return\"",
                        why, sizeof(why)) < 0)) {
        for (int i = 0; i < 20 && qemu_alive(); i++) {
            usleep(50000);          /* it may be dying */
        }
        if (!qemu_alive()) {
            finding("crash", "QEMU died (at the reset after the input)");
        }
        finding("qmp", why);
    }
    qmp_stop_seen = false;
    if (trace) {
        fprintf(stderr, "xsfuzz: QMP reset %lld us\n",
                (long long)(now_us() - r0));
    }
    /* one PCI_CONFIG ioreq each, as Xen sends them after CF8/CFC */
    for (unsigned i = 0; i < tgt->ncfgw; i++) {
        ctl_queue("ioreq server=%u type=%u addr=%#llx size=4 data=%#x",
                  tgt->server, IOREQ_PCI_CONFIG,
                  (unsigned long long)tgt->cfgw[i].bdf << 32 |
                  tgt->cfgw[i].reg, tgt->cfgw[i].val);
    }
    ctl_queue("memset %#llx %#llx 0", (unsigned long long)SCRATCH_LO,
              (unsigned long long)SCRATCH_LEN);
    /*
     * An empty map cache (what is locked stays: VRAM, ROMs): otherwise
     * whether an input's DMA hits or maps depends on the inputs before
     * it, and afl-fuzz sees the same input take other edges (stability)
     */
    ctl_queue("invalidate");
    ctl_flush();
}

/*
 * The hv.log lines reporting DM bugs since the last look, the first in
 * report.  True if each is the simulator's own doing: a ring whose
 * pointers this input's hostile ring writes put out of order.
 */
static bool new_dm_bugs(char *report, size_t len)
{
    char path[400], line[1024];
    bool all_ring = true;
    FILE *f;

    report[0] = 0;
    snprintf(path, sizeof(path), "%s/hv.log", tgt->run_dir);
    f = fopen(path, "r");
    if (!f) {
        return false;
    }
    fseek(f, tgt->hvlog_off, SEEK_SET);
    while (fgets(line, sizeof(line), f)) {
        if (!strstr(line, "DM BUG")) {
            continue;
        }
        line[strcspn(line, "\n")] = 0;
        if (!report[0]) {
            snprintf(report, len, "%.390s", line);
        }
        all_ring &= st.ring && strstr(line, "buffered ring") != NULL;
    }
    tgt->hvlog_off = ftell(f);
    fclose(f);
    return all_ring && report[0];
}

/* The state of vCPU cpu's slot, -1 if unknown. */
static int slot_state_of(unsigned cpu)
{
    const char *p;

    ctl_queue("cpu %u", cpu);
    if (ctl_cmd("slotget %u", tgt->server) < 0 ||
        !(p = strstr(ctl.last, "state="))) {
        return -1;
    }
    return atoi(p + 6);
}

static void check_dm_bugs(void);

static void check_target(void)
{
    char detail[600];
    char last[512];

    snprintf(last, sizeof(last), "%s", ctl.last);
    if (!qemu_alive()) {
        finding("crash", "QEMU died");
    }
    if (ctl_connect() < 0) {
        finding("hv", "the simulator stopped replying");
    }
    if (ctl.input_timeouts[1]) {
        snprintf(detail, sizeof(detail), "an ordinary access timed out "
                 "(first timeout: %s)", ctl.timed_out);
        finding("timeout", detail);
    }
    /*
     * Every vCPU: a hostile request QEMU did not answer leaves its slot
     * busy (Xen's vCPU would wait for ever); hand it back so the next
     * input starts clean, then the vCPU must be served again.
     */
    if (!ctl.input_timeouts[0]) {
        /* the common case, in one round trip */
        ctl_queue("cpu 0");
        ctl_queue("liveness %u 5000", tgt->server);
        ctl_queue("cpu 1");
        ctl_queue("liveness %u 5000", tgt->server);
        ctl_queue("cpu 0");
        ctl_queue("counters");
        if (ctl_flush() < 0) {
            finding("hv", "the simulator stopped replying");
        }
        for (unsigned cpu = 0; cpu < 2; cpu++) {
            const char *r = ctl.replies[1 + 2 * cpu];

            if (!strstr(r, "alive=1")) {
                finding("crash", "QEMU died (liveness)");
            }
            if (!strstr(r, "answering=1")) {
                snprintf(detail, sizeof(detail), "QEMU alive but vCPU %u's "
                         "ordinary config read is not answered", cpu);
                finding("hang", detail);
            }
        }
        check_dm_bugs();
        return;
    }
    for (unsigned cpu = 0; cpu < 2; cpu++) {
        int state = slot_state_of(cpu);

        if (state > 0 && ctl.input_timeouts[0]) {
            tgt->unanswered_hostile++;
            ctl_cmd("slotset %u state 0", tgt->server);
        }
        if (ctl_cmd("liveness %u 5000", tgt->server) < 0) {
            finding("hv", "the simulator stopped replying");
        }
        if (!strstr(ctl.last, "alive=1")) {
            finding("crash", "QEMU died (liveness)");
        }
        if (!strstr(ctl.last, "answering=1")) {
            snprintf(detail, sizeof(detail), "QEMU alive but vCPU %u's "
                     "ordinary config read is not answered (slot state %d "
                     "after the input)", cpu, state);
            finding("hang", detail);
        }
    }
    ctl_queue("cpu 0");
    ctl_cmd("counters");
    check_dm_bugs();
}

/* After "counters": the dm_bugs counter must not have moved. */
static void check_dm_bugs(void)
{
    char detail[600];
    uint64_t bugs = counter("dm_bugs");
    if (bugs != tgt->dm_bugs) {
        char report[400];
        bool ours = new_dm_bugs(report, sizeof(report));

        snprintf(detail, sizeof(detail), "dm_bugs %llu -> %llu: %s",
                 (unsigned long long)tgt->dm_bugs, (unsigned long long)bugs,
                 report);
        tgt->dm_bugs = bugs;
        if (!ours) {
            finding("dm-bug", detail);
        }
    }
}

/* $XSFUZZ_WORK/xsfuzz-stats: the campaign's own figures. */
static void write_stats(void)
{
    char path[400];
    FILE *f;

    snprintf(path, sizeof(path), "%s/xsfuzz-stats", work_dir);
    f = fopen(path, "w");
    if (f) {
        fprintf(f, "inputs %lu\nunanswered_hostile %lu\nfindings %lu\n",
                tgt->played, tgt->unanswered_hostile, tgt->findings);
        fclose(f);
    }
}

/*
 * Clear afl-fuzz's coverage map (the SysV segment of __AFL_SHM_ID, all
 * of it).  A target started in the middle of an input fills it with
 * QEMU's start-up edges: the input would get them, and afl-fuzz would
 * find that input unstable, when nothing it did reached them.
 */
static void coverage_forget(void)
{
    const char *id = getenv("__AFL_SHM_ID");
    struct shmid_ds ds;
    void *map;

    if (!id || shmctl(atoi(id), IPC_STAT, &ds) < 0) {
        return;
    }
    map = shmat(atoi(id), NULL, 0);
    if (map != (void *)-1) {
        memset(map, 0, ds.shm_segsz);
        shmdt(map);
    }
}

static void run_one(const uint8_t *data, size_t len)
{
    In in = { .p = data, .len = len };
    unsigned n = 0;

    cur_input = data;
    cur_len = len;
    if (tgt->generation && (tgt->inputs >= restart_every || !qemu_alive())) {
        target_stop();
    }
    if (!tgt->generation) {
        target_start();
        coverage_forget();
    }
    if (ctl_connect() < 0) {
        finding("hv", "cannot reach the simulator's control socket");
    }
    /* the reset comes after the input, so that what the input left
     * behind (an in-flight DMA, a ballooned page) fails with it */
    memset(&st, 0, sizeof(st));
    ctl.input_timeouts[0] = ctl.input_timeouts[1] = 0;
    int64_t t0 = now_us();
    while (n++ < MAX_ACTIONS && decode_one(&in)) {
        if (ctl.pending == 0 && ctl.timeouts) {
            break;              /* a vCPU is stuck; the checks say why */
        }
        if (ctl.broken) {
            break;
        }
    }
    ctl_flush();
    int64_t t1 = now_us();
    reset_target();
    int64_t t2 = now_us();
    tgt->inputs++;
    if (++tgt->played % 100 == 0) {
        write_stats();
    }
    check_target();
    if (trace) {
        fprintf(stderr, "xsfuzz: actions %lld us, reset %lld us, "
                "checks %lld us\n", (long long)(t1 - t0),
                (long long)(t2 - t1), (long long)(now_us() - t2));
    }
}

#ifndef __AFL_FUZZ_TESTCASE_LEN
static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = malloc(1 << 20);

    if (!f || !buf) {
        die("%s: %s", path, strerror(errno));
    }
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}
#endif

int main(int argc, char **argv)
{
    static char wd[256];

    sim_dir = env_or("XSFUZZ_SIM", NULL);
    qemu_bin = env_or("XSFUZZ_QEMU", NULL);
    if (!sim_dir || !qemu_bin) {
        die("set XSFUZZ_SIM (build/xensim) and XSFUZZ_QEMU (the binary)");
    }
    work_dir = env_or("XSFUZZ_WORK", NULL);
    if (!work_dir) {
        snprintf(wd, sizeof(wd), "/tmp/xsfuzz.%d", getpid());
        mkdir(wd, 0755);
        work_dir = wd;
    }
    findings_dir = env_or("XSFUZZ_FINDINGS", work_dir);
    restart_every = strtoul(env_or("XSFUZZ_RESTART_EVERY", "20000"), NULL, 0);
    trace = getenv("XSFUZZ_TRACE") != NULL;
    qmp_reply_ms = atoi(env_or("XSFUZZ_QMP_REPLY_MS", "10000"));
    qmp_grace_ms = atoi(env_or("XSFUZZ_QMP_GRACE_MS", "10000"));
    signal(SIGPIPE, SIG_IGN);

    tgt = mmap(NULL, sizeof(*tgt), PROT_READ | PROT_WRITE,
               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (tgt == MAP_FAILED) {
        die("mmap: %s", strerror(errno));
    }
    memset(tgt, 0, sizeof(*tgt));

#ifdef __AFL_FUZZ_TESTCASE_LEN
    (void)argc;
    (void)argv;
    /*
     * The coverage is QEMU's: tell afl-fuzz (in the forkserver hello,
     * which reports this process's edge count) that the map is as large
     * as QEMU's, else it would look only at xsfuzz's few edges.
     */
    uint32_t map = strtoul(env_or("XSFUZZ_MAP_SIZE", "0"), NULL, 0);
    if (map > __afl_final_loc) {
        __afl_final_loc = map;
        __afl_map_size = map;
    }
    target_start();
    ctl_close();                /* each forked process opens its own */
    __AFL_INIT();
    uint8_t *buf = __AFL_FUZZ_TESTCASE_BUF;
    while (__AFL_LOOP(100000)) {
        run_one(buf, __AFL_FUZZ_TESTCASE_LEN);
    }
    return 0;
#else
    if (argc < 2) {
        die("usage: xsfuzz INPUT... (replays each; exit 1 on a finding)");
    }
    for (int i = 1; i < argc; i++) {
        size_t len;
        uint8_t *buf = read_file(argv[i], &len);

        run_one(buf, len);
        printf("ok %s (%zu bytes)\n", argv[i], len);
        free(buf);
    }
    target_stop();
    return 0;
#endif
}
