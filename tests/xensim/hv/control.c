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
#include <time.h>
#include <unistd.h>

#include "hv.h"
#include "vcpu.h"

#define MAX_LINE    (256 * 1024)

typedef struct Session {
    FILE *out;
    unsigned cpu;
} Session;

static const char *errname(int e)
{
    switch (e) {
    case EINVAL:
        return "EINVAL";
    case EFAULT:
        return "EFAULT";
    case ETIMEDOUT:
        return "ETIMEDOUT";
    case EBUSY:
        return "EBUSY";
    case EIO:
        return "EIO";
    case ENODEV:
        return "ENODEV";
    case ENOMEM:
        return "ENOMEM";
    case E2BIG:
        return "E2BIG";
    }
    return "EUNKNOWN";
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

static int size_of(char c)
{
    switch (c) {
    case 'b':
        return 1;
    case 'w':
        return 2;
    case 'l':
        return 4;
    case 'q':
        return 8;
    }
    return 0;
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
    fprintf(out, "domid %u vcpus %u memory %lluMiB cf8 %#x\n", hv.domid,
            hv.nr_vcpus, (unsigned long long)hv.memory_mib, hv.pci_cf8);
    for (i = 0; i < HV_MAX_SERVERS; i++) {
        HvIoreqServer *s = &hv.server[i];

        if (!s->used) {
            continue;
        }
        fprintf(out, "server %u %s bufioreq %u buf_port %u vcpu0_port %u\n",
                i, s->enabled ? "enabled" : "disabled", s->bufioreq_handling,
                s->buf_port, s->vcpu_port[0]);
        for (t = 0; t < 3; t++) {
            for (r = 0; r < s->range[t].nr; r++) {
                fprintf(out, "  %s %#llx-%#llx\n", rname[t],
                        (unsigned long long)s->range[t].r[r].start,
                        (unsigned long long)s->range[t].r[r].end);
            }
        }
    }
    for (i = 0; i < hv.p2m_len; i++) {
        fprintf(out, "p2m gfn %#llx nr %#llx\n",
                (unsigned long long)hv.p2m[i].gfn,
                (unsigned long long)hv.p2m[i].nr);
    }
    fputs("isa-irq-asserted", out);
    for (i = 0; i < 16; i++) {
        if (hv.isa_level[i]) {
            fprintf(out, " %u", i);
        }
    }
    fputs("\npci-intx-asserted", out);
    for (i = 0; i < 32; i++) {
        for (t = 0; t < 4; t++) {
            if (hv.intx_level[i][t]) {
                fprintf(out, " %02x:%c", i, 'A' + t);
            }
        }
    }
    fprintf(out, "\nlink-routes %u %u %u %u\nmsis %llu\n",
            hv.link_route[0], hv.link_route[1], hv.link_route[2],
            hv.link_route[3], (unsigned long long)hv.msi_count);
    fprintf(out, "shutdown %d count %llu\n", hv.shutdown_reason,
            (unsigned long long)hv.shutdown_count);
    pthread_mutex_unlock(&hv.lock);
}

static int cmd_fault(char **arg)
{
    uint64_t v = 0;

    if (!arg[1]) {
        return -EINVAL;
    }
    if (!strcmp(arg[1], "clear")) {
        pthread_mutex_lock(&hv.lock);
        hv.fault_map_fail_in = hv.fault_evtchn_fail_in = 0;
        hv.fault_page_error_gfn = ~0ull;
        hv.fault_slow_ms = 0;
        hv.fault_no_resource = false;
        pthread_mutex_unlock(&hv.lock);
        return 0;
    }
    if (!num(arg[2], &v)) {
        return -EINVAL;
    }
    pthread_mutex_lock(&hv.lock);
    if (!strcmp(arg[1], "map-fail")) {
        hv.fault_map_fail_in = v;
    } else if (!strcmp(arg[1], "page-error")) {
        hv.fault_page_error_gfn = v;
    } else if (!strcmp(arg[1], "evtchn-fail")) {
        hv.fault_evtchn_fail_in = v;
    } else if (!strcmp(arg[1], "slow")) {
        hv.fault_slow_ms = v;
    } else if (!strcmp(arg[1], "no-resource")) {
        hv.fault_no_resource = v != 0;
    } else {
        v = ~0ull;
    }
    pthread_mutex_unlock(&hv.lock);
    return v == ~0ull ? -EINVAL : 0;
}

/* Execute one command; its output goes to s->out.  Returns -errno. */
static int command(Session *s, char **arg, int argc, bool *quit)
{
    const char *c = arg[0];
    uint64_t a = 0, b = 0, n = 0;
    size_t len = strlen(c);
    int ret;

    if (!strcmp(c, "cpu") && argc == 2 && num(arg[1], &a)) {
        if (a >= hv.nr_vcpus) {
            return -EINVAL;
        }
        s->cpu = a;
        fprintf(s->out, "ok\n");
        return 0;
    }
    if (len == 3 && !strncmp(c, "in", 2) && size_of(c[2]) &&
        size_of(c[2]) <= 4 && argc == 2 && num(arg[1], &a)) {
        uint32_t v = 0;

        ret = xensim_pio(s->cpu, a, size_of(c[2]), false, &v);
        if (ret == 0) {
            fprintf(s->out, "ok %#x\n", v);
        }
        return ret;
    }
    if (len == 4 && !strncmp(c, "out", 3) && size_of(c[3]) &&
        size_of(c[3]) <= 4 && argc == 3 && num(arg[1], &a) &&
        num(arg[2], &b)) {
        uint32_t v = b;

        ret = xensim_pio(s->cpu, a, size_of(c[3]), true, &v);
        if (ret == 0) {
            fprintf(s->out, "ok\n");
        }
        return ret;
    }
    if (len == 4 && !strncmp(c, "ins", 3) && size_of(c[3]) &&
        size_of(c[3]) <= 4 && argc == 4 && num(arg[1], &a) &&
        num(arg[2], &b) && num(arg[3], &n)) {
        ret = xensim_pio_rep(s->cpu, a, size_of(c[3]), false, b, n, false);
        if (ret == 0) {
            fprintf(s->out, "ok\n");
        }
        return ret;
    }
    if (len == 5 && !strncmp(c, "outs", 4) && size_of(c[4]) &&
        size_of(c[4]) <= 4 && argc == 4 && num(arg[1], &a) &&
        num(arg[2], &b) && num(arg[3], &n)) {
        ret = xensim_pio_rep(s->cpu, a, size_of(c[4]), true, b, n, false);
        if (ret == 0) {
            fprintf(s->out, "ok\n");
        }
        return ret;
    }
    if (len == 5 && !strncmp(c, "read", 4) && size_of(c[4]) && argc == 2 &&
        num(arg[1], &a)) {
        uint64_t v = 0;

        ret = xensim_mmio(s->cpu, a, size_of(c[4]), false, &v);
        if (ret == 0) {
            fprintf(s->out, "ok %#llx\n", (unsigned long long)v);
        }
        return ret;
    }
    if (len == 6 && !strncmp(c, "write", 5) && size_of(c[5]) && argc == 3 &&
        num(arg[1], &a) && num(arg[2], &b)) {
        ret = xensim_mmio(s->cpu, a, size_of(c[5]), true, &b);
        if (ret == 0) {
            fprintf(s->out, "ok\n");
        }
        return ret;
    }
    if (!strcmp(c, "bufwrite") && argc == 4 && num(arg[1], &a) &&
        num(arg[2], &n) && num(arg[3], &b)) {
        ret = xensim_mmio_buffered_write(a, n, b);
        if (ret == 0) {
            fprintf(s->out, "ok\n");
        }
        return ret;
    }
    if (!strcmp(c, "memread") && argc == 3 && num(arg[1], &a) &&
        num(arg[2], &n)) {
        uint8_t *buf;
        uint64_t i;

        if (n > MAX_LINE / 2) {
            return -E2BIG;
        }
        buf = malloc(n ? n : 1);
        if (!buf) {
            return -ENOMEM;
        }
        ret = xensim_mem_rw(s->cpu, a, buf, n, false);
        if (ret == 0) {
            fputs("ok ", s->out);
            for (i = 0; i < n; i++) {
                fprintf(s->out, "%02x", buf[i]);
            }
            fputc('\n', s->out);
        }
        free(buf);
        return ret;
    }
    if (!strcmp(c, "memwrite") && argc == 3 && num(arg[1], &a) &&
        strlen(arg[2]) % 2 == 0) {
        size_t bytes = strlen(arg[2]) / 2;
        uint8_t *buf = malloc(bytes ? bytes : 1);

        if (!buf) {
            return -ENOMEM;
        }
        ret = hex_decode(arg[2], buf, bytes);
        if (ret == 0) {
            ret = xensim_mem_rw(s->cpu, a, buf, bytes, true);
        }
        if (ret == 0) {
            fprintf(s->out, "ok\n");
        }
        free(buf);
        return ret;
    }
    if (!strcmp(c, "memset") && argc == 4 && num(arg[1], &a) &&
        num(arg[2], &n) && num(arg[3], &b) && b <= 0xff) {
        uint8_t *buf;

        if (n > MAX_LINE) {
            return -E2BIG;
        }
        buf = malloc(n ? n : 1);
        if (!buf) {
            return -ENOMEM;
        }
        memset(buf, b, n);
        ret = xensim_mem_rw(s->cpu, a, buf, n, true);
        if (ret == 0) {
            fprintf(s->out, "ok\n");
        }
        free(buf);
        return ret;
    }
    if (!strcmp(c, "bench-pio") && argc == 3 && num(arg[1], &a) &&
        num(arg[2], &n) && n > 0) {
        /* n synchronous port reads, for a round-trip figure without the
         * control socket in the loop. */
        struct timespec t0, t1;
        uint64_t i;
        uint32_t v;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (i = 0, ret = 0; i < n && ret == 0; i++) {
            ret = xensim_pio(s->cpu, a, 4, false, &v);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (ret == 0) {
            fprintf(s->out, "ok %llu\n", (unsigned long long)
                    (((t1.tv_sec - t0.tv_sec) * 1000000000ll +
                      (t1.tv_nsec - t0.tv_nsec)) / n));
        }
        return ret;
    }
    if (!strcmp(c, "irq") && argc == 2 && num(arg[1], &a)) {
        fprintf(s->out, "ok %d\n", xensim_irq_level(a));
        return 0;
    }
    if (!strcmp(c, "waitirq") && argc >= 3 && num(arg[1], &a) &&
        num(arg[2], &b)) {
        if (argc < 4 || !num(arg[3], &n)) {
            n = hv.timeout_ms;
        }
        ret = xensim_wait_irq(a, b, n);
        if (ret == 0) {
            fprintf(s->out, "ok\n");
        }
        return ret;
    }
    if (!strcmp(c, "msi") && argc == 1) {
        uint64_t addr;
        uint32_t data;

        n = xensim_msi_count(&addr, &data);
        fprintf(s->out, "ok %llu %#llx %#x\n", (unsigned long long)n,
                (unsigned long long)addr, data);
        return 0;
    }
    if (!strcmp(c, "invalidate")) {
        if (argc < 2 || !num(arg[1], &n)) {
            n = 1;
        }
        for (ret = 0; n-- && ret == 0;) {
            ret = xensim_invalidate();
        }
        if (ret == 0) {
            fprintf(s->out, "ok\n");
        }
        return ret;
    }
    if (!strcmp(c, "balloon") && argc == 3 && num(arg[1], &a) &&
        num(arg[2], &n)) {
        pthread_mutex_lock(&hv.lock);
        ret = hv_decrease_reservation(a, n);
        pthread_mutex_unlock(&hv.lock);
        if (ret == 0) {
            fprintf(s->out, "ok\n");
        }
        return ret;
    }
    if (!strcmp(c, "timeoffset") && argc == 2 && num(arg[1], &a)) {
        ret = xensim_timeoffset(a);
        if (ret == 0) {
            fprintf(s->out, "ok\n");
        }
        return ret;
    }
    if (!strcmp(c, "counters") && argc == 1) {
        pthread_mutex_lock(&hv.lock);
        hv_check_revoked();
        hv_print_counters(s->out);
        pthread_mutex_unlock(&hv.lock);
        fprintf(s->out, "ok\n");
        return 0;
    }
    if (!strcmp(c, "state") && argc == 1) {
        print_state(s->out);
        fprintf(s->out, "ok\n");
        return 0;
    }
    if (!strcmp(c, "ready") && argc == 1) {
        fprintf(s->out, "ok %d\n", xensim_dm_ready());
        return 0;
    }
    if (!strcmp(c, "fault")) {
        ret = cmd_fault(arg);
        if (ret == 0) {
            fprintf(s->out, "ok\n");
        }
        return ret;
    }
    if (!strcmp(c, "quit") && argc == 1) {
        fprintf(s->out, "ok\n");
        *quit = true;
        return 0;
    }
    return -EINVAL;
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
        char *arg[9], *save = NULL, *tok;
        int argc = 0, ret;

        for (tok = strtok_r(line, " \t\r\n", &save); tok && argc < 8;
             tok = strtok_r(NULL, " \t\r\n", &save)) {
            arg[argc++] = tok;
        }
        if (!argc || arg[0][0] == '#') {
            continue;
        }
        arg[argc] = NULL;
        ret = command(&s, arg, argc, &quit);
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
