/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim qtest bridge: installed as build/xensim/qemu-system-x86_64, so
 * that QTEST_QEMU_BINARY can name it and any libqtest test runs unchanged
 * against a real device model under -accel xen (see ../README-bridge.md).
 *
 * libqtest starts "QEMU" with -qtest unix:SOCK ... -accel qtest and waits
 * for connections on SOCK and on its QMP socket.  The bridge
 *   1. connects to SOCK itself and will speak the qtest protocol there;
 *   2. starts xenstored and xensim-hv in a private run directory;
 *   3. starts the real QEMU ($XENSIM_QEMU) with the same arguments minus
 *      the qtest ones, -accel xen and -xen-domid; its QMP chardev still
 *      connects to libqtest's QMP socket;
 *   4. serves qtest commands from the simulator (qtest.c) until libqtest
 *      kills it or closes the socket, or QEMU exits.
 *
 * Invariants:
 *  - The bridge's pid is what libqtest signals and waits for: it exits
 *    only after QEMU did, with QEMU's status (re-raising QEMU's fatal
 *    signal), after stopping the simulator and removing the run directory.
 *  - Every child gets PR_SET_PDEATHSIG, so a SIGKILLed bridge leaves no
 *    process behind.
 *  - libqtest never blocks on a QEMU that died early: the bridge closes
 *    the qtest socket and, if QEMU never reached the QMP socket, connects
 *    to it and hangs up, so the test fails at once.
 *  - QEMU never runs without Xen: a libqtest run (-qtest unix:PATH),
 *    libqtest's guest-less "-machine none" QMP probes included, runs on
 *    -accel xen under the simulator; any other -qtest is refused with an
 *    error.  Only an invocation without -qtest (-version, -machine help:
 *    no guest) is exec'd unchanged.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

#include "../common/sockio.h"
#include "bridge.h"

/* One guest per simulator, so every bridge can use the same domid. */
#define DOMID_STR           "1"
#define MAX_LINE            (64u << 20)
#define HELPER_TIMEOUT_MS   10000
#define READY_TIMEOUT_MS    60000
#define QEMU_STOP_MS        20000
#define HELPER_STOP_MS      5000

typedef struct Child {
    const char *name;
    pid_t pid;
    int status;
    bool reaped;
} Child;

static struct {
    char dir[256];              /* private run directory */
    char selfdir[PATH_MAX];     /* where this binary and xensim live */
    char xs_path[PATH_MAX + 8];
    char hv_path[PATH_MAX + 8];
    char ctl_path[PATH_MAX + 8];
    const char *qtest_path;
    const char *qmp_path;
    int sigfd;
    int64_t t0;
    bool keep;
    const char *qtest_other;    /* a -qtest that is not unix:PATH */
    bool start_paused;          /* -S: no ioreq server until "cont" */
    Child xenstored, hv, qemu;
    Bridge b;
} g = {
    .sigfd = -1,
    .xenstored = { .name = "xenstored" },
    .hv = { .name = "xensim-hv" },
    .qemu = { .name = "QEMU" },
};

static void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void msg(const char *fmt, ...)
{
    va_list ap;

    fputs("xensim-bridge: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- children ---------------------------------------------------------- */

static bool reap(Child *c, bool block)
{
    int st;
    pid_t r;

    if (c->reaped || c->pid <= 0) {
        return true;
    }
    do {
        r = waitpid(c->pid, &st, block ? 0 : WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == c->pid || (r < 0 && errno == ECHILD)) {
        c->status = r == c->pid ? st : 0;
        c->reaped = true;
    }
    return c->reaped;
}

/* SIGTERM, then SIGKILL if it has not exited within ms. */
static void stop_child(Child *c, int ms)
{
    int64_t end = now_ns() + ms * 1000000LL;

    if (reap(c, false)) {
        return;
    }
    kill(c->pid, SIGTERM);
    while (!reap(c, false) && now_ns() < end) {
        usleep(5000);
    }
    if (!c->reaped) {
        msg("%s (pid %d) ignored SIGTERM; killing it", c->name, c->pid);
        kill(c->pid, SIGKILL);
        reap(c, true);
    }
}

/* fork + exec with output to log (NULL: inherit) and env additions. */
static bool spawn(Child *c, char **argv, const char *log, char **env)
{
    sigset_t all;

    c->pid = fork();
    if (c->pid < 0) {
        msg("fork: %s", strerror(errno));
        return false;
    }
    if (c->pid) {
        return true;
    }
    /* Child: die with the bridge; undo the bridge's signal setup. */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    signal(SIGPIPE, SIG_DFL);
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    if (log) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
    }
    for (; env && *env; env += 2) {
        setenv(env[0], env[1], 1);
    }
    execv(argv[0], argv);
    fprintf(stderr, "xensim-bridge: exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static bool can_connect(const char *path)
{
    int fd = sockio_connect(path);

    if (fd < 0) {
        return false;
    }
    close(fd);
    return true;
}

/* Wait until ready(path) holds, failing early if the child exits. */
static bool wait_for(Child *c, bool (*ready)(const char *), const char *path)
{
    int64_t end = now_ns() + HELPER_TIMEOUT_MS * 1000000LL;

    while (!ready(path)) {
        if (reap(c, false)) {
            msg("%s exited before %s appeared (log in %s)", c->name, path,
                g.dir);
            return false;
        }
        if (now_ns() > end) {
            msg("timed out waiting for %s", path);
            return false;
        }
        usleep(2000);
    }
    return true;
}

static bool exists(const char *path)
{
    return !access(path, F_OK);
}

/* ---- teardown --------------------------------------------------------- */

static void remove_run_dir(void)
{
    DIR *d;
    struct dirent *e;
    char p[PATH_MAX * 2];

    if (!g.dir[0] || g.keep) {
        if (g.dir[0]) {
            msg("run directory kept: %s", g.dir);
        }
        return;
    }
    d = opendir(g.dir);
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof(p), "%s/%s", g.dir, e->d_name);
            unlink(p);
        }
    }
    if (d) {
        closedir(d);
    }
    rmdir(g.dir);
}

/*
 * libqtest may still sit in accept() on its QMP socket (it unlinks the
 * path once it has accepted): hang up on it so the test fails now.
 */
static void release_qmp_waiter(void)
{
    int fd;

    if (g.qmp_path && exists(g.qmp_path)) {
        fd = sockio_connect(g.qmp_path);
        if (fd >= 0) {
            close(fd);
        }
    }
}

static void __attribute__((noreturn)) finish(void)
{
    int st;

    if (g.b.qfd >= 0) {
        close(g.b.qfd);
        g.b.qfd = -1;
    }
    ctlc_close(&g.b.ctl);
    if (g.qemu.pid > 0) {
        stop_child(&g.qemu, QEMU_STOP_MS);
    }
    release_qmp_waiter();
    stop_child(&g.hv, HELPER_STOP_MS);
    stop_child(&g.xenstored, HELPER_STOP_MS);
    remove_run_dir();

    if (g.qemu.pid <= 0) {
        exit(1);
    }
    st = g.qemu.status;
    if (WIFSIGNALED(st)) {
        sigset_t s;

        signal(WTERMSIG(st), SIG_DFL);
        sigemptyset(&s);
        sigaddset(&s, WTERMSIG(st));
        sigprocmask(SIG_UNBLOCK, &s, NULL);
        raise(WTERMSIG(st));
    }
    exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}

/*
 * Drain the signal fd: note which children exited, and whether we were
 * asked to stop.  Returns true if the bridge should shut down.
 */
static bool handle_signals(void)
{
    struct signalfd_siginfo si;
    bool stop = false;

    while (read(g.sigfd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo != SIGCHLD) {
            stop = true;
        }
    }
    if (reap(&g.qemu, false)) {
        int st = g.qemu.status;

        if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
            msg("QEMU exited with %s %d", WIFSIGNALED(st) ? "signal"
                : "status", WIFSIGNALED(st) ? WTERMSIG(st)
                : WEXITSTATUS(st));
        }
        stop = true;
    }
    if (reap(&g.hv, false) || reap(&g.xenstored, false)) {
        msg("%s died (logs in %s)", g.hv.reaped ? "xensim-hv" : "xenstored",
            g.dir);
        g.keep = true;
        stop = true;
    }
    return stop;
}

/* ---- Bridge callbacks ---------------------------------------------------- */

static bool sigfd_pending(int timeout_ms)
{
    struct pollfd p = { .fd = g.sigfd, .events = POLLIN };

    return poll(&p, 1, timeout_ms) > 0;
}

static bool op_wait_ready(Bridge *b)
{
    int64_t end = now_ns() + READY_TIMEOUT_MS * 1000000LL;
    uint64_t v;

    if (g.start_paused) {
        /*
         * QEMU enables its ioreq server only while the VM runs.  libqtest
         * sends guest accesses only after the QMP handshake, i.e. after
         * machine init, so there is nothing to wait for: until "cont",
         * Xen answers device accesses as unclaimed, and RAM works.
         */
        return true;
    }
    for (;;) {
        if (ctlc_value(&b->ctl, &v, "ready") < 0) {
            return false;
        }
        if (v) {
            return true;
        }
        if (now_ns() > end) {
            snprintf(b->ctl.err, sizeof(b->ctl.err),
                     "the device model did not start in %d s",
                     READY_TIMEOUT_MS / 1000);
            return false;
        }
        if (sigfd_pending(5)) {
            snprintf(b->ctl.err, sizeof(b->ctl.err), "QEMU exited");
            return false;
        }
    }
}

static int64_t op_clock_ns(Bridge *b)
{
    return now_ns() - g.t0;
}

static bool op_sleep_ns(Bridge *b, int64_t ns)
{
    struct pollfd p = { .fd = g.sigfd, .events = POLLIN };
    struct timespec ts = { .tv_sec = ns / 1000000000LL,
                           .tv_nsec = ns % 1000000000LL };

    return ppoll(&p, 1, &ts, NULL) == 0;
}

static const BridgeOps ops = {
    .wait_ready = op_wait_ready,
    .clock_ns = op_clock_ns,
    .sleep_ns = op_sleep_ns,
};

/* ---- command line ------------------------------------------------------ */

/* -m [size=]N[MGT][,...] in MiB; 0 if not understood. */
static unsigned long parse_mem(const char *s)
{
    const char *p = strstr(s, "size=");
    unsigned long long v;
    char *end;

    p = p ? p + 5 : s;
    errno = 0;
    v = strtoull(p, &end, 10);
    if (errno || end == p) {
        return 0;
    }
    switch (*end) {
    case 'G':
    case 'g':
        v <<= 10;
        break;
    case 'T':
    case 't':
        v <<= 20;
        break;
    case 'K':
    case 'k':
        v >>= 10;
        break;
    }
    return v > (1ull << 22) ? 0 : v;
}

/* -smp N[,maxcpus=M] or cpus=N,...: the vCPU slots QEMU will want. */
static unsigned parse_smp(const char *s)
{
    const char *keys[] = { "", "cpus=", "maxcpus=" };
    unsigned best = 1, i;

    for (i = 0; i < 3; i++) {
        const char *p = i ? strstr(s, keys[i]) : s;
        unsigned long v;
        char *end;

        if (!p) {
            continue;
        }
        p += strlen(keys[i]);
        v = strtoul(p, &end, 10);
        if (end != p && v > best && v <= 256) {
            best = v;
        }
    }
    return best;
}

/* The qmp path of libqtest's "-chardev socket,path=P,id=char0". */
static const char *chardev_path(const char *opt)
{
    const char *p;
    char *path, *comma;

    p = strstr(opt, "path=");
    if (strncmp(opt, "socket,", 7) || !strstr(opt, "id=char0") || !p) {
        return NULL;
    }
    path = strdup(p + 5);
    comma = path ? strchr(path, ',') : NULL;
    if (comma) {
        *comma = 0;
    }
    return path;
}

static const char *real_qemu(void)
{
    static char def[PATH_MAX + 32];
    const char *e = getenv("XENSIM_QEMU");

    if (e && *e) {
        return e;
    }
    snprintf(def, sizeof(def), "%s/../qemu-system-x86_64", g.selfdir);
    return def;
}

/*
 * The Xen libraries QEMU runs on ($XENSIM_LIBS, as build/xensim/run):
 * Debian's own over the devxen shim (default), or with "sim" xensim's
 * replacements in lib/.
 */
static void set_lib_path(void)
{
    const char *mode = getenv("XENSIM_LIBS");
    bool shim = !mode || strcmp(mode, "sim");
    const char *var = shim ? "LD_PRELOAD" : "LD_LIBRARY_PATH";
    const char *old = getenv(var);
    char *v;

    if (asprintf(&v, "%s/%s%s%s", g.selfdir,
                 shim ? "shim/libxensim-devxen.so" : "lib",
                 old && *old ? ":" : "", old ? old : "") >= 0) {
        setenv(var, v, 1);
        free(v);
    }
}

/*
 * Build QEMU's argv from libqtest's: drop -qtest and -qtest-log, turn
 * "-accel qtest" into "-accel xen", add -xen-domid.  Also learn the
 * guest size for xensim-hv.
 */
static char **rewrite_args(int argc, char **argv, unsigned long *mem,
                           unsigned *vcpus)
{
    char **out = calloc(argc + 4, sizeof(*out));
    int i, n = 0;

    if (!out) {
        return NULL;
    }
    out[n++] = (char *)real_qemu();
    out[n++] = "-xen-domid";
    out[n++] = DOMID_STR;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (a[0] == '-' && a[1] == '-') {
            a++;    /* QEMU accepts --opt as -opt */
        }
        if (v && !strcmp(a, "-qtest")) {
            g.qtest_path = strncmp(v, "unix:", 5) ? NULL : v + 5;
            g.qtest_other = g.qtest_path ? NULL : v;
            i++;
            continue;
        }
        if (v && !strcmp(a, "-qtest-log")) {
            i++;
            continue;
        }
        if (v && !strcmp(a, "-accel") && !strcmp(v, "qtest")) {
            out[n++] = argv[i];
            out[n++] = "xen";
            i++;
            continue;
        }
        if (v && !strcmp(a, "-m")) {
            unsigned long m = parse_mem(v);

            *mem = m ? m : *mem;
        } else if (v && !strcmp(a, "-smp")) {
            *vcpus = parse_smp(v);
        } else if (!strcmp(a, "-S")) {
            g.start_paused = true;
        } else if (v && !strcmp(a, "-chardev") && !g.qmp_path) {
            g.qmp_path = chardev_path(v);
        }
        out[n++] = argv[i];
    }
    out[n] = NULL;
    return out;
}

/* ---- startup ------------------------------------------------------------ */

/* XENSIM_BRIDGE_CPU=N: the qtest commands' accesses are vCPU N's. */
static bool select_vcpu(CtlClient *ctl, unsigned vcpus)
{
    const char *e = getenv("XENSIM_BRIDGE_CPU"), *rest;
    char *end;
    unsigned long cpu;

    if (!e) {
        return true;
    }
    cpu = strtoul(e, &end, 10);
    if (!*e || *end || cpu >= vcpus) {
        msg("XENSIM_BRIDGE_CPU=%s: not a vCPU of this guest (-smp %u)", e,
            vcpus);
        return false;
    }
    if (ctlc_cmd(ctl, &rest, "cpu %lu", cpu) < 0) {
        msg("cpu %lu: %s", cpu, ctl->err);
        return false;
    }
    return true;
}

static bool start_simulator(unsigned long mem, unsigned vcpus)
{
    char exe[PATH_MAX + 32], log[PATH_MAX + 32], mems[32], cpus[16];
    char *xs_argv[] = { exe, "--socket", g.xs_path, NULL };
    char *hv_argv[] = { exe, "--socket", g.hv_path, "--control", g.ctl_path,
                        "--domid", DOMID_STR, "--memory", mems, "--vcpus", cpus,
                        "--quiet", NULL };
    struct xs_handle *xs;
    bool ok;

    snprintf(exe, sizeof(exe), "%s/xenstored", g.selfdir);
    snprintf(log, sizeof(log), "%s/xenstored.log", g.dir);
    if (!spawn(&g.xenstored, xs_argv, log, NULL) ||
        !wait_for(&g.xenstored, can_connect, g.xs_path)) {
        return false;
    }
    snprintf(exe, sizeof(exe), "%s/xensim-hv", g.selfdir);
    snprintf(log, sizeof(log), "%s/xensim-hv.log", g.dir);
    snprintf(mems, sizeof(mems), "%lu", mem);
    snprintf(cpus, sizeof(cpus), "%u", vcpus);
    if (!spawn(&g.hv, hv_argv, log, NULL) ||
        !wait_for(&g.hv, exists, g.hv_path) ||
        !wait_for(&g.hv, exists, g.ctl_path)) {
        return false;
    }

    /* What libxl writes before it spawns a device model (libxl-dm.md). */
    setenv("XENSTORED_PATH", g.xs_path, 1);
    xs = xs_open(0);
    if (!xs) {
        msg("xs_open: %s", strerror(errno));
        return false;
    }
    ok = xs_write(xs, XBT_NULL, "/local/domain/1/name", "xensim-qtest", 12) &&
         xs_write(xs, XBT_NULL, "/local/domain/1/domid", "1", 1) &&
         xs_mkdir(xs, XBT_NULL, "/local/domain/0/device-model/1");
    if (!ok) {
        msg("xenstore: %s", strerror(errno));
    }
    xs_close(xs);
    return ok;
}

static void setup_signals(void)
{
    sigset_t s;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&s);
    sigaddset(&s, SIGCHLD);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGHUP);
    sigaddset(&s, SIGQUIT);
    sigprocmask(SIG_BLOCK, &s, NULL);
    g.sigfd = signalfd(-1, &s, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* ---- main loop --------------------------------------------------------- */

static void serve(void)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    bool discarding = false;

    for (;;) {
        struct pollfd p[2] = {
            { .fd = g.b.qfd, .events = POLLIN },
            { .fd = g.sigfd, .events = POLLIN },
        };
        char *nl, *line;
        size_t seen;
        ssize_t r;

        if (g.b.qfd_dead) {
            break;
        }
        if (poll(p, 2, -1) < 0 && errno != EINTR) {
            msg("poll: %s", strerror(errno));
            break;
        }
        if (p[1].revents && handle_signals()) {
            break;
        }
        if (!p[0].revents) {
            continue;
        }
        if (cap - len < 65536) {
            size_t ncap = cap ? cap * 2 : 131072;
            char *nb = ncap <= MAX_LINE + 65536 ? realloc(buf, ncap) : NULL;

            if (!nb) {
                /* An over-long line: answer it and skip to its end. */
                bridge_fail(&g.b, "xensim bridge: command line too long");
                discarding = true;
                len = 0;
                continue;
            }
            buf = nb;
            cap = ncap;
        }
        /* buf[0..len) is a partial line: search only what arrives */
        seen = len;
        r = read(g.b.qfd, buf + len, cap - len - 1);
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (r <= 0) {
            break;      /* libqtest hung up */
        }
        len += r;
        line = buf;
        while ((nl = memchr(line + seen, '\n', buf + len - line - seen))) {
            seen = 0;
            *nl = 0;
            if (discarding) {
                discarding = false;
            } else {
                if (memchr(line, 0, nl - line)) {
                    bridge_fail(&g.b, "NUL byte in command");
                } else {
                    bridge_command(&g.b, line);
                }
            }
            line = nl + 1;
        }
        len = buf + len - line;
        memmove(buf, line, len);
        if (discarding) {
            len = 0;
        }
    }
    free(buf);
}

int main(int argc, char **argv)
{
    char exe[PATH_MAX], **qargv, *slash;
    const char *tmp = getenv("TMPDIR");
    unsigned long mem = 128;
    unsigned vcpus = 1;
    ssize_t n;
    char *xs_env[8];

    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        perror("xensim-bridge: /proc/self/exe");
        return 1;
    }
    exe[n] = 0;
    slash = strrchr(exe, '/');
    *slash = 0;
    snprintf(g.selfdir, sizeof(g.selfdir), "%s", exe);
    set_lib_path();

    qargv = rewrite_args(argc, argv, &mem, &vcpus);
    if (!qargv) {
        return 1;
    }
    if (g.qtest_other) {
        msg("-qtest %s: only -qtest unix:PATH (libqtest's) can be served "
            "under Xen; refusing to run QEMU on the qtest accelerator",
            g.qtest_other);
        return 1;
    }
    if (!g.qtest_path) {
        /* No qtest, no guest: -version, -machine help, ... */
        argv[0] = (char *)real_qemu();
        execv(argv[0], argv);
        msg("exec %s: %s", argv[0], strerror(errno));
        return 127;
    }
    g.keep = getenv("XENSIM_BRIDGE_KEEP") != NULL;
    g.b.trace = getenv("XENSIM_BRIDGE_TRACE") != NULL;
    g.b.ops = &ops;
    g.b.qfd = -1;
    g.b.ctl.fd = -1;
    setup_signals();

    /* First unblock libqtest, which accepts the qtest socket first. */
    g.b.qfd = sockio_connect(g.qtest_path);
    if (g.b.qfd < 0) {
        msg("cannot connect to libqtest at %s: %s", g.qtest_path,
            strerror(errno));
        return 1;
    }

    snprintf(g.dir, sizeof(g.dir), "%s/xensim-bridge.XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g.dir)) {
        msg("mkdtemp %s: %s", g.dir, strerror(errno));
        g.dir[0] = 0;
        finish();
    }
    snprintf(g.xs_path, sizeof(g.xs_path), "%s/xenstored", g.dir);
    snprintf(g.hv_path, sizeof(g.hv_path), "%s/hv", g.dir);
    snprintf(g.ctl_path, sizeof(g.ctl_path), "%s/control", g.dir);
    if (!start_simulator(mem, vcpus)) {
        g.keep = true;
        finish();
    }

    xs_env[0] = "XENSIM_SOCKET";
    xs_env[1] = g.hv_path;
    xs_env[2] = "XENSTORED_PATH";
    xs_env[3] = g.xs_path;
    xs_env[4] = NULL;
    g.t0 = now_ns();
    if (!spawn(&g.qemu, qargv, NULL, xs_env)) {
        finish();
    }
    if (ctlc_connect(&g.b.ctl, g.ctl_path, g.sigfd, 60000) < 0) {
        msg("control socket %s: %s", g.ctl_path, strerror(errno));
        finish();
    }
    if (!select_vcpu(&g.b.ctl, vcpus)) {
        finish();
    }
    serve();
    finish();
}
