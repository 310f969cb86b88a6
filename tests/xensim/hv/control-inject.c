/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim-hv control socket: the hostile-ioreq injection commands (a
 * shell over inject.h; the command table is in ../README.md).  control.c
 * hands every line it does not know to hv_inject_command().
 *
 * Invariants: exactly one final "ok ..." line per command on success,
 * -errno otherwise (control.c prints the "err" line); nothing here
 * routes or validates what is injected, only the command's own syntax.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv.h"
#include "inject.h"
#include "irqlog.h"

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

static int outcome_errno(int outcome)
{
    switch (outcome) {
    case XENSIM_ANSWERED:
        return 0;
    case XENSIM_TIMED_OUT:
        return -ETIMEDOUT;
    case XENSIM_SLOT_BUSY:
        return -EBUSY;
    case XENSIM_BAD_STATE:
        return -EIO;
    case XENSIM_NO_SERVER:
        return -ENOENT;
    }
    return outcome < 0 ? outcome : -EIO;
}

static void template(XenSimInjection *t, unsigned cpu)
{
    memset(t, 0, sizeof(*t));
    t->cpu = cpu;
    t->req.state = STATE_IOREQ_READY;
    t->req.count = 1;
    t->req.size = 1;
}

/* Words of the form key=value after the fixed arguments: log=PATH is the
 * batch's replay log; the rest are defaults for every request. */
static int batch_options(char **arg, int argc, int first,
                         XenSimInjection *t, FILE **log)
{
    int i, ret;

    *log = NULL;
    for (i = first; i < argc; i++) {
        if (!strncmp(arg[i], "log=", 4)) {
            if (*log) {
                fclose(*log);
            }
            *log = fopen(arg[i] + 4, "w");
            if (!*log) {
                return -errno;
            }
            continue;
        }
        ret = xensim_parse_injection(arg[i], t);
        if (ret < 0) {
            if (*log) {
                fclose(*log);
                *log = NULL;
            }
            return ret;
        }
    }
    return 0;
}

static void print_verdict(FILE *out, const XenSimVerdict *v)
{
    fprintf(out, "ok sent=%u answered=%u timed_out=%u refused=%u alive=%d "
            "answering=%d\n", v->sent, v->answered, v->timed_out,
            v->refused, v->alive, v->answering);
}

static int cmd_ioreq(FILE *out, unsigned cpu, char **arg, int argc)
{
    XenSimInjection inj;
    uint64_t data = 0;
    char spec[4096] = "";
    int i, ret;

    template(&inj, cpu);
    for (i = 1; i < argc; i++) {
        strncat(spec, arg[i], sizeof(spec) - strlen(spec) - 2);
        strcat(spec, " ");
    }
    ret = xensim_parse_injection(spec, &inj);
    if (ret < 0) {
        return ret;
    }
    if (!inj.req.vp_eport) {
        pthread_mutex_lock(&hv.lock);
        if (hv_server_find(inj.server) && inj.cpu < hv_dom->nr_vcpus) {
            inj.req.vp_eport = hv_server_find(inj.server)->vcpu_port[inj.cpu];
        }
        pthread_mutex_unlock(&hv.lock);
    }
    ret = outcome_errno(xensim_inject(&inj, &data));
    if (ret == 0) {
        fprintf(out, "ok %#llx\n", (unsigned long long)data);
    }
    return ret;
}

static int cmd_batch(FILE *out, unsigned cpu, char **arg, int argc)
{
    XenSimInjection t;
    XenSimVerdict v;
    uint64_t seed, n;
    FILE *log;
    int ret;

    template(&t, cpu);
    if (argc < 3 || !num(arg[1], &seed) || !num(arg[2], &n)) {
        return -EINVAL;
    }
    ret = batch_options(arg, argc, 3, &t, &log);
    if (ret < 0) {
        return ret;
    }
    ret = xensim_batch_random(seed, n, &t, log, &v);
    if (log) {
        fclose(log);
    }
    if (ret == 0) {
        print_verdict(out, &v);
    }
    return ret;
}

static int cmd_batch_file(FILE *out, unsigned cpu, char **arg, int argc)
{
    XenSimInjection t;
    XenSimVerdict v;
    FILE *in, *log;
    int ret;

    template(&t, cpu);
    if (argc < 2) {
        return -EINVAL;
    }
    ret = batch_options(arg, argc, 2, &t, &log);
    if (ret < 0) {
        return ret;
    }
    in = fopen(arg[1], "r");
    if (!in) {
        ret = -errno;
    } else {
        ret = xensim_batch_file(in, &t, log, &v);
        fclose(in);
    }
    if (log) {
        fclose(log);
    }
    if (ret == 0) {
        print_verdict(out, &v);
    }
    return ret;
}

static int cmd_ioreqs(FILE *out, unsigned cpu, char **arg, int argc)
{
    XenSimInjection t;
    XenSimVerdict v;
    int ret;

    template(&t, cpu);
    if (argc < 2) {
        return -EINVAL;
    }
    ret = xensim_batch_specs(arg + 1, argc - 1, &t, NULL, &v);
    if (ret == 0) {
        print_verdict(out, &v);
    }
    return ret;
}

static int cmd_slotset(FILE *out, unsigned cpu, char **arg, int argc)
{
    uint64_t id, val;
    int f = argc == 4 ? xensim_slot_field(arg[2]) : -1;
    int ret;

    if (f < 0 || !num(arg[1], &id) || !num(arg[3], &val)) {
        return -EINVAL;
    }
    ret = xensim_slot_set(id, cpu, f, val);
    if (ret == 0) {
        fprintf(out, "ok\n");
    }
    return ret;
}

static int cmd_slotget(FILE *out, unsigned cpu, char **arg, int argc)
{
    uint64_t id;
    uint64_t notified = 0;
    ioreq_t r;
    int ret;

    if (argc != 2 || !num(arg[1], &id)) {
        return -EINVAL;
    }
    ret = xensim_slot_get(id, cpu, &r, &notified);
    if (ret == 0) {
        fprintf(out, "ok addr=%#llx data=%#llx count=%u size=%u "
                "vp_eport=%u pad=%#x state=%u ptr=%u dir=%u df=%u pad1=%u "
                "type=%u notified=%llu\n", (unsigned long long)r.addr,
                (unsigned long long)r.data, r.count, r.size, r.vp_eport,
                r._pad0, r.state, r.data_is_ptr, r.dir, r.df, r._pad1,
                r.type, (unsigned long long)notified);
    }
    return ret;
}

static int cmd_notify(FILE *out, unsigned cpu, char **arg, int argc)
{
    uint64_t id;
    int ret;

    if (argc != 2 || !num(arg[1], &id)) {
        return -EINVAL;
    }
    ret = !strcmp(arg[0], "bufnotify") ? xensim_notify_buffered(id)
                                       : xensim_notify_vcpu(id, cpu);
    if (ret == 0) {
        fprintf(out, "ok\n");
    }
    return ret;
}

static int cmd_bufslot(FILE *out, unsigned cpu, char **arg, int argc)
{
    uint64_t id, index, raw;
    int ret;

    if (argc != 4 || !num(arg[1], &id) || !num(arg[2], &index) ||
        !num(arg[3], &raw)) {
        return -EINVAL;
    }
    ret = xensim_bufring_set_slot(id, index, raw);
    if (ret == 0) {
        fprintf(out, "ok\n");
    }
    return ret;
}

static int cmd_bufptrs(FILE *out, unsigned cpu, char **arg, int argc)
{
    uint64_t id, rp, wp;
    uint32_t r, w;
    int ret;

    if (argc == 2 && num(arg[1], &id)) {
        ret = xensim_bufring_get_ptrs(id, &r, &w);
        if (ret == 0) {
            fprintf(out, "ok %#x %#x\n", r, w);
        }
        return ret;
    }
    if (argc != 4 || !num(arg[1], &id) || !num(arg[2], &rp) ||
        !num(arg[3], &wp) || rp > UINT32_MAX || wp > UINT32_MAX) {
        return -EINVAL;
    }
    ret = xensim_bufring_set_ptrs(id, rp, wp);
    if (ret == 0) {
        fprintf(out, "ok\n");
    }
    return ret;
}

static int cmd_bufring(FILE *out, unsigned cpu, char **arg, int argc)
{
    uint64_t id;
    int ret;

    if (argc != 3 || !num(arg[1], &id)) {
        return -EINVAL;
    }
    ret = xensim_bufring_scenario(id, arg[2]);
    if (ret == 0) {
        fprintf(out, "ok\n");
    }
    return ret;
}

static int cmd_liveness(FILE *out, unsigned cpu, char **arg, int argc)
{
    uint64_t id = 0, ms = 0;
    XenSimVerdict v = { 0 };

    if ((argc > 1 && !num(arg[1], &id)) || (argc > 2 && !num(arg[2], &ms)) ||
        argc > 3) {
        return -EINVAL;
    }
    xensim_liveness(id, cpu, ms, &v);
    fprintf(out, "ok alive=%d answering=%d\n", v.alive, v.answering);
    return 0;
}

static int cmd_irqlog(FILE *out, unsigned cpu, char **arg, int argc)
{
    XenSimIrqEvent ev[256];
    uint64_t since = 0, next;
    unsigned i, n;

    if (argc > 2 || (argc == 2 && !num(arg[1], &since))) {
        return -EINVAL;
    }
    n = xensim_irqlog_read(since, ev, 256, &next);
    for (i = 0; i < n; i++) {
        if (ev[i].is_msi) {
            fprintf(out, "%llu msi %#llx %#x\n",
                    (unsigned long long)ev[i].seq,
                    (unsigned long long)ev[i].addr, ev[i].data);
        } else {
            fprintf(out, "%llu gsi %u %u\n", (unsigned long long)ev[i].seq,
                    ev[i].gsi, ev[i].level);
        }
    }
    fprintf(out, "ok %llu\n", (unsigned long long)next);
    return 0;
}

static const struct {
    const char *name;
    int (*fn)(FILE *out, unsigned cpu, char **arg, int argc);
} inject_commands[] = {
    { "ioreq", cmd_ioreq },
    { "ioreqs", cmd_ioreqs },
    { "batch", cmd_batch },
    { "batch-file", cmd_batch_file },
    { "slotset", cmd_slotset },
    { "slotget", cmd_slotget },
    { "notify", cmd_notify },
    { "bufnotify", cmd_notify },
    { "bufslot", cmd_bufslot },
    { "bufptrs", cmd_bufptrs },
    { "bufring", cmd_bufring },
    { "liveness", cmd_liveness },
    { "irqlog", cmd_irqlog },
};

int hv_inject_command(FILE *out, unsigned cpu, char **arg, int argc)
{
    size_t i;

    for (i = 0; i < sizeof(inject_commands) / sizeof(inject_commands[0]);
         i++) {
        if (!strcmp(arg[0], inject_commands[i].name)) {
            return inject_commands[i].fn(out, cpu, arg, argc);
        }
    }
    return -ENOSYS;
}
