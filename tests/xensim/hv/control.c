/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim-hv control socket: a line protocol that drives the guest side
 * (vcpu.h) and inspects or perturbs the simulator; the command set is
 * documented in ../README.md.
 *
 * Invariants: every command gets exactly one final line starting with
 * "ok" or "err <ERRNO-NAME>"; multi-line output precedes it.  A session
 * runs on its own thread, so a vCPU access that waits for the device
 * model blocks only this session.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/param.h>
#include <time.h>
#include <unistd.h>

#include "../common/sockio.h"
#include "hv.h"
#include "vcpu.h"

#define MAX_LINE    (256 * 1024)
#define MAX_WORDS   12      /* a longer line is refused */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

typedef struct Session {
    FILE *out;
    unsigned cpu;
    uint32_t domain;        /* pinned by `domain N`; 0: hv_domain_select's */
} Session;

/* The errno's symbolic name (glibc knows every one), "E<number>" for
 * a value it does not. */
static const char *errname(int e)
{
    static __thread char unknown[16];
    const char *name = strerrorname_np(e);

    if (name) {
        return name;
    }
    snprintf(unknown, sizeof(unknown), "E%d", e);
    return unknown;
}

static bool num(const char *s, uint64_t *v)
{
    char *end;

    if (!s) {
        return false;
    }
    errno = 0;
    *v = strtoull(s, &end, 0);
    return errno == 0 && end != s && *end == 0;
}

static int hex_decode(const char *hex, uint8_t *buf, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned v;

        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
            return -EINVAL;
        }
        buf[i] = v;
    }
    return 0;
}

static void print_state(FILE *out)
{
    unsigned i, t, r;
    static const char *const rname[] = { "pio", "mmio", "pci" };

    pthread_mutex_lock(&hv.lock);
    fprintf(out, "domid %u vcpus %u memory %lluMiB cf8 %#x\n", hv_dom->domid,
            hv_dom->nr_vcpus, (unsigned long long)hv_dom->memory_mib, hv_dom->pci_cf8);
    for (i = 0; i < HV_MAX_SERVERS; i++) {
        HvIoreqServer *s = &hv_dom->server[i];

        if (!s->used) {
            continue;
        }
        fprintf(out, "server %u %s bufioreq %u buf_port %u vcpu0_port %u%s"
                "\n", i, s->enabled ? "enabled" : "disabled",
                s->bufioreq_handling, s->buf_port, s->vcpu_port[0],
                s->orphaned ? " orphaned" : "");
        for (t = 0; t < 3; t++) {
            for (r = 0; r < s->range[t].nr; r++) {
                fprintf(out, "  %s %#llx-%#llx\n", rname[t],
                        (unsigned long long)s->range[t].r[r].start,
                        (unsigned long long)s->range[t].r[r].end);
            }
        }
    }
    for (i = 0; i < hv_dom->p2m_len; i++) {
        fprintf(out, "p2m gfn %#llx nr %#llx\n",
                (unsigned long long)hv_dom->p2m[i].gfn,
                (unsigned long long)hv_dom->p2m[i].nr);
    }
    fputs("isa-irq-asserted", out);
    for (i = 0; i < 16; i++) {
        if (hv_dom->isa_level[i]) {
            fprintf(out, " %u", i);
        }
    }
    fputs("\npci-intx-asserted", out);
    for (i = 0; i < 32; i++) {
        for (t = 0; t < 4; t++) {
            if (hv_dom->intx_level[i][t]) {
                fprintf(out, " %02x:%c", i, 'A' + t);
            }
        }
    }
    fprintf(out, "\nlink-routes %u %u %u %u\nmsis %llu\n",
            hv_dom->link_route[0], hv_dom->link_route[1], hv_dom->link_route[2],
            hv_dom->link_route[3], (unsigned long long)hv_dom->msi_count);
    fputs("invalidate-pending", out);
    for (i = 0; i < hv_dom->nr_vcpus; i++) {
        if (hv_dom->invalidate_pending[i]) {
            fprintf(out, " %u", i);
        }
    }
    fputc('\n', out);
    fprintf(out, "shutdown %d count %llu\n", hv_dom->shutdown_reason,
            (unsigned long long)hv_dom->shutdown_count);
    pthread_mutex_unlock(&hv.lock);
}

/*
 * One command.  Its numeric arguments are parsed into v[] before the
 * handler runs (arg[] keeps the words, for the ones that are not
 * numbers); size is the access size from a b/w/l/q suffix.  A handler
 * prints its "ok ..." line on success and returns 0, or returns -errno
 * and the caller prints the "err" line.
 */
typedef struct Call {
    Session *s;
    unsigned size;
    uint64_t v[8];
    char **arg;
    int argc;
} Call;

typedef struct Command {
    const char *name;
    unsigned sizes;         /* access sizes its suffix may give (1|2|4|8),
                             * 0 = the name takes no suffix */
    int nums;               /* numeric arguments required; -1: the
                             * handler parses its own arguments */
    int opt;                /* optional numeric arguments after them */
    int words;              /* non-numeric arguments after the numbers */
    int (*fn)(Call *c);
    bool quit;
} Command;

#define SZ_PIO  (1 | 2 | 4)
#define SZ_MMIO (SZ_PIO | 8)

static int ok(Call *c)
{
    fprintf(c->s->out, "ok\n");
    return 0;
}

static int ok_value(Call *c, int ret, uint64_t val)
{
    if (ret == 0) {
        fprintf(c->s->out, "ok %#llx\n", (unsigned long long)val);
    }
    return ret;
}

static int ok_if(Call *c, int ret)
{
    return ret == 0 ? ok(c) : ret;
}

static int do_cpu(Call *c)
{
    if (c->v[0] >= hv_dom->nr_vcpus) {
        return -EINVAL;
    }
    c->s->cpu = c->v[0];
    return ok(c);
}

static int do_in(Call *c)
{
    uint32_t v = 0;
    int ret = xensim_pio(c->s->cpu, c->v[0], c->size, false, &v);

    return ok_value(c, ret, v);
}

static int do_out(Call *c)
{
    uint32_t v = c->v[1];

    return ok_if(c, xensim_pio(c->s->cpu, c->v[0], c->size, true, &v));
}

static int do_ins(Call *c)
{
    return ok_if(c, xensim_pio_rep(c->s->cpu, c->v[0], c->size, false,
                                   c->v[1], c->v[2], false));
}

static int do_outs(Call *c)
{
    return ok_if(c, xensim_pio_rep(c->s->cpu, c->v[0], c->size, true,
                                   c->v[1], c->v[2], false));
}

static int do_read(Call *c)
{
    uint64_t v = 0;
    int ret = xensim_mmio(c->s->cpu, c->v[0], c->size, false, &v);

    return ok_value(c, ret, v);
}

static int do_write(Call *c)
{
    return ok_if(c, xensim_mmio(c->s->cpu, c->v[0], c->size, true,
                                &c->v[1]));
}

static int do_movs_in(Call *c)
{
    return ok_if(c, xensim_mmio_rep(c->s->cpu, c->v[0], c->size, false,
                                    c->v[1], c->v[2], false));
}

static int do_movs_out(Call *c)
{
    return ok_if(c, xensim_mmio_rep(c->s->cpu, c->v[0], c->size, true,
                                    c->v[1], c->v[2], false));
}

static int do_rawioreq(Call *c)
{
    /* SERVER TYPE ADDR DATA SIZE COUNT FLAGS(1 read, 2 ptr, 4 df) */
    ioreq_t r = {
        .type = c->v[1], .addr = c->v[2], .data = c->v[3],
        .size = c->v[4], .count = c->v[5],
        .dir = c->v[6] & 1 ? IOREQ_READ : IOREQ_WRITE,
        .data_is_ptr = !!(c->v[6] & 2), .df = !!(c->v[6] & 4),
    };
    int ret = xensim_raw_ioreq(c->s->cpu, c->v[0], &r);

    return ok_value(c, ret, r.data);
}

static int do_rawbuf(Call *c)
{
    /* SERVER ADVANCE SLOT [SLOT]: raw 8-byte ring entries */
    unsigned n = c->argc - 3;

    return ok_if(c, xensim_raw_bufioreq(c->v[0], &c->v[2], n, c->v[1]));
}

static int do_bufwrite(Call *c)
{
    return ok_if(c, xensim_mmio_buffered_write(c->v[0], c->v[1], c->v[2]));
}

static int do_timeoffset(Call *c)
{
    return ok_if(c, xensim_timeoffset(c->v[0]));
}

static int do_memread(Call *c)
{
    uint64_t n = c->v[1], i;
    uint8_t *buf;
    int ret;

    if (n > MAX_LINE / 2) {
        return -E2BIG;
    }
    buf = malloc(n ? n : 1);
    if (!buf) {
        return -ENOMEM;
    }
    ret = xensim_mem_rw(c->s->cpu, c->v[0], buf, n, false);
    if (ret == 0) {
        fputs("ok ", c->s->out);
        for (i = 0; i < n; i++) {
            fprintf(c->s->out, "%02x", buf[i]);
        }
        fputc('\n', c->s->out);
    }
    free(buf);
    return ret;
}

static int do_memwrite(Call *c)
{
    const char *hex = c->arg[2];
    size_t bytes = strlen(hex) / 2;
    uint8_t *buf;
    int ret;

    if (strlen(hex) % 2) {
        return -EINVAL;
    }
    buf = malloc(bytes ? bytes : 1);
    if (!buf) {
        return -ENOMEM;
    }
    ret = hex_decode(hex, buf, bytes);
    if (ret == 0) {
        ret = xensim_mem_rw(c->s->cpu, c->v[0], buf, bytes, true);
    }
    free(buf);
    return ok_if(c, ret);
}

static int do_memset(Call *c)
{
    uint64_t n = c->v[1];
    uint8_t *buf;
    int ret;

    if (n > MAX_LINE || c->v[2] > 0xff) {
        return n > MAX_LINE ? -E2BIG : -EINVAL;
    }
    buf = malloc(n ? n : 1);
    if (!buf) {
        return -ENOMEM;
    }
    memset(buf, c->v[2], n);
    ret = xensim_mem_rw(c->s->cpu, c->v[0], buf, n, true);
    free(buf);
    return ok_if(c, ret);
}

static uint64_t elapsed_ns(const struct timespec *t0,
                           const struct timespec *t1)
{
    return (t1->tv_sec - t0->tv_sec) * 1000000000ull +
           (t1->tv_nsec - t0->tv_nsec);
}

/*
 * N synchronous SIZE-byte reads (SIZE the optional third number, else 4)
 * of port or address V[0]: ok NS, the mean round trip seen by the vCPU.
 */
static int bench_reads(Call *c, bool pio)
{
    struct timespec t0, t1;
    uint64_t i, n = c->v[1], v;
    unsigned size = c->v[2] ? c->v[2] : 4;
    uint32_t v32;
    int ret = 0;

    if (!n || size > 8 || !((pio ? SZ_PIO : SZ_MMIO) & size)) {
        return -EINVAL;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < n && ret == 0; i++) {
        ret = pio ? xensim_pio(c->s->cpu, c->v[0], size, false, &v32) :
                    xensim_mmio(c->s->cpu, c->v[0], size, false, &v);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (ret == 0) {
        fprintf(c->s->out, "ok %llu\n",
                (unsigned long long)(elapsed_ns(&t0, &t1) / n));
    }
    return ret;
}

static int do_bench_pio(Call *c)
{
    return bench_reads(c, true);
}

static int do_bench_mmio(Call *c)
{
    return bench_reads(c, false);
}

static int do_bench_bufwrite(Call *c)
{
    /*
     * N buffered SIZE-byte writes to ADDR (< 1 MiB), then one synchronous
     * read of ADDR so that the ring is known drained: ok NS (total).
     */
    struct timespec t0, t1;
    uint64_t i, n = c->v[2], v;
    int ret = 0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < n && ret == 0; i++) {
        ret = xensim_mmio_buffered_write(c->v[0], c->v[1], i);
    }
    if (ret == 0) {
        ret = xensim_mmio(c->s->cpu, c->v[0], 1, false, &v);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (ret == 0) {
        fprintf(c->s->out, "ok %llu\n",
                (unsigned long long)elapsed_ns(&t0, &t1));
    }
    return ret;
}

static int do_irq(Call *c)
{
    fprintf(c->s->out, "ok %d\n", xensim_irq_level(c->v[0]));
    return 0;
}

static int do_waitirq(Call *c)
{
    int ms = c->argc > 3 ? (int)c->v[2] : hv.timeout_ms;

    return ok_if(c, xensim_wait_irq(c->v[0], c->v[1], ms));
}

static int do_msi(Call *c)
{
    uint64_t addr;
    uint32_t data;
    uint64_t n = xensim_msi_count(&addr, &data);

    fprintf(c->s->out, "ok %llu %#llx %#x\n", (unsigned long long)n,
            (unsigned long long)addr, data);
    return 0;
}

static int do_invalidate(Call *c)
{
    uint64_t n = c->argc > 1 ? c->v[0] : 1;
    int ret = 0;

    while (n-- && ret == 0) {
        ret = xensim_invalidate_cpu(c->s->cpu);
    }
    return ok_if(c, ret);
}

static int do_balloon(Call *c)
{
    int ret;

    pthread_mutex_lock(&hv.lock);
    ret = hv_decrease_reservation(c->v[0], c->v[1]);
    pthread_mutex_unlock(&hv.lock);
    return ok_if(c, ret);
}

/* Give ballooned gfns back to the guest (fresh zeroed pages, as the
 * guest's balloon driver re-populating them): the fuzzer's reset. */
static int do_populate(Call *c)
{
    int ret;

    pthread_mutex_lock(&hv.lock);
    ret = hv_populate(c->v[0], c->v[1]);
    pthread_mutex_unlock(&hv.lock);
    return ok_if(c, ret);
}

static int do_counters(Call *c)
{
    pthread_mutex_lock(&hv.lock);
    hv_check_revoked_all();
    hv_print_counters(c->s->out);
    pthread_mutex_unlock(&hv.lock);
    return ok(c);
}

static int do_state(Call *c)
{
    print_state(c->s->out);
    return ok(c);
}

static int do_ready(Call *c)
{
    fprintf(c->s->out, "ok %d\n", xensim_dm_ready());
    return 0;
}

/* domain [N]: pin the session to domain N (0: the default choice);
 * answers the id of the domain commands now address (0: none). */
static int do_domain(Call *c)
{
    int ret = 0;

    pthread_mutex_lock(&hv.lock);
    if (c->argc > 1) {
        if (c->v[0] && !hv_domain_find(c->v[0])) {
            ret = -ESRCH;
        } else {
            c->s->domain = c->v[0];
        }
    }
    hv_domain_select(c->s->domain);
    if (!ret) {
        fprintf(c->s->out, "ok %u\n", hv_dom->used ? hv_dom->domid : 0);
    }
    pthread_mutex_unlock(&hv.lock);
    return ret;
}

/* waitmap GFN MS: until a client maps a gfn >= GFN of the domain
 * (a migration's sender reaching it); answers that client's pid. */
static int do_waitmap(Call *c)
{
    struct timespec deadline;
    HvDom *d;
    int pid;

    if (!c->v[0]) {
        return -EINVAL;
    }
    hv_deadline_us(&deadline, (long)MIN(c->v[1], 600000) * 1000);
    pthread_mutex_lock(&hv.lock);
    d = hv_dom;
    d->watch_gfn = c->v[0];
    d->watch_pid = 0;
    while (!d->watch_pid && d->used &&
           pthread_cond_timedwait(&hv.cond, &hv.lock, &deadline) == 0) {
    }
    pid = d->watch_pid;
    d->watch_gfn = 0;
    d->watch_pid = 0;
    pthread_mutex_unlock(&hv.lock);
    if (!pid) {
        return -ETIMEDOUT;
    }
    fprintf(c->s->out, "ok %d\n", pid);
    return 0;
}

static int do_fault(Call *c)
{
    const char *what = c->arg[1];
    uint64_t v;
    int ret = 0;

    if (!strcmp(what, "clear")) {
        pthread_mutex_lock(&hv.lock);
        hv.fault_map_fail_in = hv.fault_evtchn_fail_in = 0;
        hv.fault_page_error_gfn = ~0ull;
        hv.fault_slow_ms = 0;
        hv.fault_no_resource = false;
        pthread_mutex_unlock(&hv.lock);
        return ok(c);
    }
    if (c->argc != 3 || !num(c->arg[2], &v)) {
        return -EINVAL;
    }
    pthread_mutex_lock(&hv.lock);
    if (!strcmp(what, "map-fail")) {
        hv.fault_map_fail_in = v;
    } else if (!strcmp(what, "page-error")) {
        hv.fault_page_error_gfn = v;
    } else if (!strcmp(what, "evtchn-fail")) {
        hv.fault_evtchn_fail_in = v;
    } else if (!strcmp(what, "slow")) {
        hv.fault_slow_ms = v;
    } else if (!strcmp(what, "no-resource")) {
        hv.fault_no_resource = v != 0;
    } else {
        ret = -EINVAL;
    }
    pthread_mutex_unlock(&hv.lock);
    return ok_if(c, ret);
}

static const Command commands[] = {
    { "cpu", 0, 1, 0, 0, do_cpu },
    { "in", SZ_PIO, 1, 0, 0, do_in },
    { "out", SZ_PIO, 2, 0, 0, do_out },
    { "ins", SZ_PIO, 3, 0, 0, do_ins },
    { "outs", SZ_PIO, 3, 0, 0, do_outs },
    { "read", SZ_MMIO, 1, 0, 0, do_read },
    { "write", SZ_MMIO, 2, 0, 0, do_write },
    { "copyfrom", SZ_MMIO, 3, 0, 0, do_movs_in },
    { "copyto", SZ_MMIO, 3, 0, 0, do_movs_out },
    { "bufwrite", 0, 3, 0, 0, do_bufwrite },
    { "rawioreq", 0, 7, 0, 0, do_rawioreq },
    { "rawbuf", 0, 3, 1, 0, do_rawbuf },
    { "timeoffset", 0, 1, 0, 0, do_timeoffset },
    { "memread", 0, 2, 0, 0, do_memread },
    { "memwrite", 0, 1, 0, 1, do_memwrite },
    { "memset", 0, 3, 0, 0, do_memset },
    { "bench-pio", 0, 2, 1, 0, do_bench_pio },
    { "bench-mmio", 0, 2, 1, 0, do_bench_mmio },
    { "bench-bufwrite", 0, 3, 0, 0, do_bench_bufwrite },
    { "irq", 0, 1, 0, 0, do_irq },
    { "waitirq", 0, 2, 1, 0, do_waitirq },
    { "msi", 0, 0, 0, 0, do_msi },
    { "invalidate", 0, 0, 1, 0, do_invalidate },
    { "balloon", 0, 2, 0, 0, do_balloon },
    { "populate", 0, 2, 0, 0, do_populate },
    { "counters", 0, 0, 0, 0, do_counters },
    { "state", 0, 0, 0, 0, do_state },
    { "ready", 0, 0, 0, 0, do_ready },
    { "fault", 0, -1, 0, 0, do_fault },
    { "domain", 0, 0, 1, 0, do_domain },
    { "waitmap", 0, 2, 0, 0, do_waitmap },
    { "quit", 0, 0, 0, 0, ok, true },
};

/* Match word against cmd, with an access-size suffix if cmd takes one. */
static bool match(const Command *cmd, const char *word, unsigned *size)
{
    size_t n = strlen(cmd->name);

    if (strncmp(word, cmd->name, n)) {
        return false;
    }
    if (!cmd->sizes) {
        *size = 0;
        return word[n] == 0;
    }
    *size = sockio_size_letter(word[n]);
    return *size && word[n + 1] == 0 && (cmd->sizes & *size);
}

/* Execute one command line; output goes to s->out.  Returns -errno. */
static int command(Session *s, char **arg, int argc, bool *quit)
{
    const Command *cmd;
    Call c = { .s = s, .arg = arg, .argc = argc };
    int i, nums = argc - 1;

    /* Which domain this command is about, chosen afresh each time. */
    pthread_mutex_lock(&hv.lock);
    hv_domain_select(s->domain);
    pthread_mutex_unlock(&hv.lock);
    for (cmd = commands; cmd < commands + ARRAY_SIZE(commands); cmd++) {
        if (match(cmd, arg[0], &c.size)) {
            break;
        }
    }
    if (cmd == commands + ARRAY_SIZE(commands)) {
        int ret = hv_inject_command(s->out, s->cpu, arg, argc);

        return ret == -ENOSYS ? -EINVAL : ret;
    }
    if (cmd->nums >= 0) {
        nums -= cmd->words;
        if (nums < cmd->nums || nums > cmd->nums + cmd->opt) {
            return -EINVAL;
        }
        for (i = 0; i < nums; i++) {
            if (!num(arg[1 + i], &c.v[i])) {
                return -EINVAL;
            }
        }
    } else if (argc < 2) {
        return -EINVAL;
    }
    *quit = cmd->quit;
    return cmd->fn(&c);
}

void *hv_control_session(void *fdp)
{
    int fd = *(int *)fdp;
    Session s = { .cpu = 0 };
    FILE *in;
    char *line = NULL;
    size_t cap = 0;
    bool quit = false;

    free(fdp);
    in = fdopen(fd, "r");
    s.out = fdopen(dup(fd), "w");
    if (!in || !s.out) {
        if (in) {
            fclose(in);
        } else {
            close(fd);
        }
        return NULL;
    }
    while (!quit && getline(&line, &cap, in) > 0) {
        char *arg[MAX_WORDS + 1], *save = NULL, *tok;
        int argc = 0, ret;

        for (tok = strtok_r(line, " \t\r\n", &save); tok;
             tok = strtok_r(NULL, " \t\r\n", &save)) {
            if (argc <= MAX_WORDS) {
                arg[argc] = tok;
            }
            argc++;
        }
        if (!argc || arg[0][0] == '#') {
            continue;
        }
        if (argc > MAX_WORDS) {
            ret = -E2BIG;
        } else {
            arg[argc] = NULL;
            ret = command(&s, arg, argc, &quit);
        }
        if (ret < 0) {
            fprintf(s.out, "err %s %s\n", errname(-ret), strerror(-ret));
        }
        fflush(s.out);
    }
    free(line);
    fclose(s.out);
    fclose(in);
    if (quit) {
        hv_request_exit();
    }
    return NULL;
}
