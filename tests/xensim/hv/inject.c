/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim-hv hostile-ioreq injection (see inject.h): raw slot and ring
 * writes, spurious notifies, requests with any field set, and seeded or
 * scripted batches that end with a liveness verdict.
 *
 * A request here completes the way an ordinary one does (vcpu.c): only
 * on a notify of the vCPU's port with the slot at IORESP_READY, taking
 * one notify per answer (port->answered).  Everything else about the
 * request is the caller's choice.  Invariants: the slot and ring are
 * only touched under hv.lock while their server exists; a waiting
 * injection holds the vCPU's access lock (hv_vcpu_lock) like any access.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hv.h"
#include "inject.h"

static const char *const field_names[XENSIM_SLOT_NR_FIELDS] = {
    [XENSIM_SLOT_ADDR] = "addr", [XENSIM_SLOT_DATA] = "data",
    [XENSIM_SLOT_COUNT] = "count", [XENSIM_SLOT_SIZE] = "size",
    [XENSIM_SLOT_VP_EPORT] = "vp_eport", [XENSIM_SLOT_PAD] = "pad",
    [XENSIM_SLOT_PAD1] = "pad1", [XENSIM_SLOT_STATE] = "state",
    [XENSIM_SLOT_DATA_IS_PTR] = "ptr", [XENSIM_SLOT_DIR] = "dir",
    [XENSIM_SLOT_DF] = "df", [XENSIM_SLOT_TYPE] = "type",
    [XENSIM_SLOT_FLAGS] = "flags",
};

int xensim_slot_field(const char *name)
{
    int i;

    if (!strcmp(name, "data_is_ptr")) {
        return XENSIM_SLOT_DATA_IS_PTR;
    }
    for (i = 0; i < XENSIM_SLOT_NR_FIELDS; i++) {
        if (!strcmp(name, field_names[i])) {
            return i;
        }
    }
    return -1;
}

const char *xensim_slot_field_name(XenSimSlotField f)
{
    return f < XENSIM_SLOT_NR_FIELDS ? field_names[f] : "?";
}

/* The byte holding state, data_is_ptr, dir, df and _pad1 (vcpu.c). */
#define flags_byte hv_slot_flags

static void set_field(ioreq_t *r, XenSimSlotField f, uint64_t v)
{
    switch (f) {
    case XENSIM_SLOT_ADDR:
        r->addr = v;
        break;
    case XENSIM_SLOT_DATA:
        r->data = v;
        break;
    case XENSIM_SLOT_COUNT:
        r->count = v;
        break;
    case XENSIM_SLOT_SIZE:
        r->size = v;
        break;
    case XENSIM_SLOT_VP_EPORT:
        r->vp_eport = v;
        break;
    case XENSIM_SLOT_PAD:
        r->_pad0 = v;
        break;
    case XENSIM_SLOT_PAD1:
        r->_pad1 = v;
        break;
    case XENSIM_SLOT_STATE:
        __atomic_store_n(flags_byte(r), (*flags_byte(r) & ~0x0f) | (v & 0xf),
                         __ATOMIC_RELEASE);
        break;
    case XENSIM_SLOT_DATA_IS_PTR:
        r->data_is_ptr = v;
        break;
    case XENSIM_SLOT_DIR:
        r->dir = v;
        break;
    case XENSIM_SLOT_DF:
        r->df = v;
        break;
    case XENSIM_SLOT_TYPE:
        r->type = v;
        break;
    case XENSIM_SLOT_FLAGS:
        __atomic_store_n(flags_byte(r), v, __ATOMIC_RELEASE);
        break;
    default:
        break;
    }
}

/* Server id if it exists and has its pages.  hv.lock held. */
static HvIoreqServer *server_locked(uint16_t id)
{
    HvIoreqServer *s = hv_server_find(id);

    return s && s->shared && s->buf ? s : NULL;
}

/* Take hv.lock and return server id as server_locked() finds it; NULL
 * (and hv.lock released) if there is none.  The caller unlocks. */
static HvIoreqServer *server_lock(uint16_t id)
{
    HvIoreqServer *s;

    pthread_mutex_lock(&hv.lock);
    s = server_locked(id);
    if (!s) {
        pthread_mutex_unlock(&hv.lock);
    }
    return s;
}

int xensim_slot_set(uint16_t id, unsigned cpu, XenSimSlotField f,
                    uint64_t val)
{
    HvIoreqServer *s;

    if (cpu >= hv_dom->nr_vcpus || f >= XENSIM_SLOT_NR_FIELDS) {
        return -EINVAL;
    }
    s = server_lock(id);
    if (!s) {
        return -ENOENT;
    }
    set_field(&s->shared->vcpu_ioreq[cpu], f, val);
    pthread_mutex_unlock(&hv.lock);
    return 0;
}

int xensim_slot_get(uint16_t id, unsigned cpu, ioreq_t *out,
                    uint64_t *notified)
{
    HvIoreqServer *s;

    if (cpu >= hv_dom->nr_vcpus) {
        return -EINVAL;
    }
    s = server_lock(id);
    if (!s) {
        return -ENOENT;
    }
    *out = s->shared->vcpu_ioreq[cpu];
    if (notified) {
        *notified = hv_dom->gport[s->vcpu_port[cpu]].notified;
    }
    pthread_mutex_unlock(&hv.lock);
    return 0;
}

static bool passed(const struct timespec *t)
{
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    return now.tv_sec > t->tv_sec ||
           (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

/* Send and wait.  hv.lock and cpu's access lock held. */
static int inject_locked(const XenSimInjection *inj, uint64_t *data)
{
    HvIoreqServer *s = server_locked(inj->server);
    shared_iopage_t *page;
    ioreq_t *slot;
    HvGuestPort *gp;
    struct timespec deadline;
    uint8_t st;
    bool raced = !inj->race;
    int ms = inj->timeout_ms > 0 ? inj->timeout_ms : hv.timeout_ms;

    if (!s || (!s->enabled && !inj->allow_disabled)) {
        return XENSIM_NO_SERVER;
    }
    page = s->shared;
    slot = &page->vcpu_ioreq[inj->cpu];
    gp = &hv_dom->gport[s->vcpu_port[inj->cpu]];
    st = *flags_byte(slot) & 0x0f;
    if (st == STATE_IORESP_READY) {
        /* A late answer to an earlier timed-out request: drop it. */
        set_field(slot, XENSIM_SLOT_STATE, STATE_IOREQ_NONE);
        st = STATE_IOREQ_NONE;
    }
    if (st != STATE_IOREQ_NONE) {
        return XENSIM_SLOT_BUSY;
    }
    gp->answered = gp->notified;    /* stale notifies wake nobody */
    /* All but the flags byte, then the flags (state last, as Xen). */
    slot->addr = inj->req.addr;
    slot->data = inj->req.data;
    slot->count = inj->req.count;
    slot->size = inj->req.size;
    slot->vp_eport = inj->req.vp_eport;
    slot->_pad0 = inj->req._pad0;
    slot->type = inj->req.type;
    __atomic_store_n(flags_byte(slot),
                     *flags_byte((ioreq_t *)&inj->req), __ATOMIC_RELEASE);
    if (!inj->no_notify) {
        hv_guest_send(s->vcpu_port[inj->cpu]);
    }
    hv_deadline_us(&deadline, (long)ms * 1000);
    for (;;) {
        struct timespec step;

        if (!hv_dom->server[inj->server].used ||
            hv_dom->server[inj->server].shared != page) {
            return XENSIM_NO_SERVER;
        }
        st = *flags_byte(slot) & 0x0f;
        if (!raced && st != STATE_IOREQ_READY) {
            set_field(slot, inj->race_field, inj->race_val);
            raced = true;
            continue;
        }
        if (gp->notified > gp->answered) {
            if (st == STATE_IORESP_READY) {
                *data = slot->data;
                gp->answered++;
                set_field(slot, XENSIM_SLOT_STATE, STATE_IOREQ_NONE);
                return XENSIM_ANSWERED;
            }
            if (st != STATE_IOREQ_READY && st != STATE_IOREQ_INPROCESS) {
                gp->answered++;
                set_field(slot, XENSIM_SLOT_STATE, STATE_IOREQ_NONE);
                return XENSIM_BAD_STATE;
            }
            gp->answered = gp->notified;    /* a notify too early */
        }
        if (passed(&deadline)) {
            return XENSIM_TIMED_OUT;
        }
        /* A racing poke polls (the DM's INPROCESS is not notified). */
        if (raced) {
            step = deadline;
        } else {
            hv_deadline_us(&step, 50);
        }
        pthread_cond_timedwait(&hv.cond, &hv.lock, &step);
    }
}

int xensim_inject(const XenSimInjection *inj, uint64_t *data)
{
    uint64_t dummy;
    int ret;

    if (inj->cpu >= hv_dom->nr_vcpus) {
        return -EINVAL;
    }
    hv_vcpu_lock(inj->cpu);
    pthread_mutex_lock(&hv.lock);
    ret = inject_locked(inj, data ? data : &dummy);
    pthread_mutex_unlock(&hv.lock);
    hv_vcpu_unlock(inj->cpu);
    return ret;
}

int xensim_notify_vcpu(uint16_t id, unsigned cpu)
{
    HvIoreqServer *s;

    if (cpu >= hv_dom->nr_vcpus) {
        return -EINVAL;
    }
    s = server_lock(id);
    if (!s) {
        return -ENOENT;
    }
    hv_guest_send(s->vcpu_port[cpu]);
    pthread_mutex_unlock(&hv.lock);
    return 0;
}

int xensim_notify_buffered(uint16_t id)
{
    HvIoreqServer *s = server_lock(id);
    int ret = -ENOENT;

    if (s) {
        if (s->buf_port) {
            hv_guest_send(s->buf_port);
            ret = 0;
        }
        pthread_mutex_unlock(&hv.lock);
    }
    return ret;
}

static void ring_slot_set_locked(HvIoreqServer *s, uint32_t index,
                                 uint64_t raw)
{
    memcpy(&s->buf->buf_ioreq[index % IOREQ_BUFFER_SLOT_NUM], &raw, 8);
}

static void ring_ptrs_set_locked(HvIoreqServer *s, uint32_t rp, uint32_t wp)
{
    __atomic_store_n((uint64_t *)&s->buf->read_pointer,
                     ((uint64_t)wp << 32) | rp, __ATOMIC_RELEASE);
}

int xensim_bufring_set_slot(uint16_t id, uint32_t index, uint64_t raw)
{
    HvIoreqServer *s = server_lock(id);

    if (!s) {
        return -ENOENT;
    }
    ring_slot_set_locked(s, index, raw);
    pthread_mutex_unlock(&hv.lock);
    return 0;
}

int xensim_bufring_set_ptrs(uint16_t id, uint32_t rp, uint32_t wp)
{
    HvIoreqServer *s = server_lock(id);

    if (!s) {
        return -ENOENT;
    }
    ring_ptrs_set_locked(s, rp, wp);
    pthread_mutex_unlock(&hv.lock);
    return 0;
}

int xensim_bufring_get_ptrs(uint16_t id, uint32_t *rp, uint32_t *wp)
{
    HvIoreqServer *s = server_lock(id);
    uint64_t both;

    if (!s) {
        return -ENOENT;
    }
    both = __atomic_load_n((uint64_t *)&s->buf->read_pointer,
                           __ATOMIC_ACQUIRE);
    pthread_mutex_unlock(&hv.lock);
    *rp = both;
    *wp = both >> 32;
    return 0;
}

/* A buf_ioreq_t as 8 raw bytes. */
static uint64_t buf_entry(uint8_t type, unsigned size_code, uint32_t addr,
                          uint32_t data)
{
    buf_ioreq_t b = {
        .type = type, .dir = IOREQ_WRITE, .size = size_code,
        .addr = addr & 0xfffff, .data = data,
    };
    uint64_t raw;

    memcpy(&raw, &b, 8);
    return raw;
}

int xensim_bufring_scenario(uint16_t id, const char *name)
{
    HvIoreqServer *s = server_lock(id);
    uint32_t rp, wp;
    int ret = 0;

    if (!s) {
        return -ENOENT;
    }
    rp = __atomic_load_n(&s->buf->read_pointer, __ATOMIC_ACQUIRE);
    wp = s->buf->write_pointer;
    if (!strcmp(name, "lone-half")) {
        ring_slot_set_locked(s, wp, buf_entry(IOREQ_TYPE_COPY, 3, 0xa0000,
                                              0x11223344));
        ring_ptrs_set_locked(s, rp, wp + 1);
    } else if (!strcmp(name, "rp-ahead")) {
        ring_ptrs_set_locked(s, wp + 1, wp);
    } else if (!strcmp(name, "gap")) {
        ring_ptrs_set_locked(s, rp, rp + IOREQ_BUFFER_SLOT_NUM * 3 / 2);
    } else if (!strcmp(name, "bad-type")) {
        ring_slot_set_locked(s, wp, buf_entry(0x7f, 2, 0xa0000, 0x55));
        ring_ptrs_set_locked(s, rp, wp + 1);
    } else if (!strcmp(name, "wrap")) {
        rp = 0xffffffffu;
        ring_slot_set_locked(s, rp, buf_entry(IOREQ_TYPE_COPY, 2, 0xa0000,
                                              0xaa));
        ring_slot_set_locked(s, rp + 1, buf_entry(IOREQ_TYPE_COPY, 2,
                                                  0xa0004, 0xbb));
        ring_ptrs_set_locked(s, rp, rp + 2);
    } else if (strcmp(name, "empty")) {
        ret = -EINVAL;
    }
    if (ret == 0 && s->buf_port) {
        hv_guest_send(s->buf_port);
    }
    pthread_mutex_unlock(&hv.lock);
    return ret;
}

/* The probe the verdict sends.  hv.lock held. */
static bool probe_for(HvIoreqServer *s, ioreq_t *r)
{
    memset(r, 0, sizeof(*r));
    r->dir = IOREQ_READ;
    r->count = 1;
    r->state = STATE_IOREQ_READY;
    if (s->range[XEN_DMOP_IO_RANGE_PCI].nr) {
        r->type = IOREQ_TYPE_PCI_CONFIG;
        r->addr = s->range[XEN_DMOP_IO_RANGE_PCI].r[0].start << 32;
        r->size = 2;
    } else if (s->range[XEN_DMOP_IO_RANGE_PORT].nr) {
        r->type = IOREQ_TYPE_PIO;
        r->addr = s->range[XEN_DMOP_IO_RANGE_PORT].r[0].start;
        r->size = 1;
    } else if (s->range[XEN_DMOP_IO_RANGE_MEMORY].nr) {
        r->type = IOREQ_TYPE_COPY;
        r->addr = s->range[XEN_DMOP_IO_RANGE_MEMORY].r[0].start;
        r->size = 1;
    } else {
        return false;
    }
    return true;
}

void xensim_liveness(uint16_t id, unsigned cpu, int timeout_ms,
                     XenSimVerdict *v)
{
    XenSimInjection inj = { .server = id, .cpu = cpu,
                            .timeout_ms = timeout_ms };
    HvIoreqServer *s;
    bool have_probe = false;
    uint64_t data;

    v->alive = v->answering = false;
    if (cpu >= hv_dom->nr_vcpus) {
        return;
    }
    hv_vcpu_lock(cpu);
    pthread_mutex_lock(&hv.lock);
    s = server_locked(id);
    if (s && s->owner && !s->owner->dead) {
        v->alive = s->owner->pid <= 0 || kill(s->owner->pid, 0) == 0;
        have_probe = s->enabled && probe_for(s, &inj.req);
        inj.req.vp_eport = s->vcpu_port[cpu];
    }
    if (have_probe) {
        v->answering = inject_locked(&inj, &data) == XENSIM_ANSWERED;
    }
    pthread_mutex_unlock(&hv.lock);
    hv_vcpu_unlock(cpu);
}

/* --- specs ------------------------------------------------------------ */

static bool parse_u64(const char *s, uint64_t *v)
{
    char *end;

    errno = 0;
    *v = strtoull(s, &end, 0);
    return errno == 0 && end != s && (*end == 0 || *end == ',' ||
                                      *end == ' ' || *end == '\t');
}

int xensim_parse_injection(const char *spec, XenSimInjection *inj)
{
    char *copy = strdup(spec), *save = NULL, *tok;
    int ret = 0;

    if (!copy) {
        return -ENOMEM;
    }
    for (tok = strtok_r(copy, ", \t\r\n", &save); tok && ret == 0;
         tok = strtok_r(NULL, ", \t\r\n", &save)) {
        char *eq = strchr(tok, '=');
        uint64_t v;
        int f;

        if (!strcmp(tok, "ioreq")) {
            continue;
        }
        if (!eq) {
            ret = -EINVAL;
            break;
        }
        *eq++ = 0;
        if (!strcmp(tok, "race")) {
            char *colon = strchr(eq, ':');

            if (!colon) {
                ret = -EINVAL;
                break;
            }
            *colon++ = 0;
            f = xensim_slot_field(eq);
            if (f < 0 || !parse_u64(colon, &v)) {
                ret = -EINVAL;
                break;
            }
            inj->race = true;
            inj->race_field = f;
            inj->race_val = v;
            continue;
        }
        if (!parse_u64(eq, &v)) {
            ret = -EINVAL;
        } else if (!strcmp(tok, "server")) {
            inj->server = v;
        } else if (!strcmp(tok, "cpu")) {
            inj->cpu = v;
        } else if (!strcmp(tok, "notify")) {
            inj->no_notify = !v;
        } else if (!strcmp(tok, "disabled")) {
            inj->allow_disabled = v;
        } else if (!strcmp(tok, "timeout")) {
            inj->timeout_ms = v;
        } else if ((f = xensim_slot_field(tok)) >= 0) {
            set_field(&inj->req, f, v);
        } else {
            ret = -EINVAL;
        }
    }
    free(copy);
    return ret;
}

void xensim_format_injection(const XenSimInjection *inj, char *buf,
                             size_t len)
{
    const ioreq_t *r = &inj->req;
    int n;

    n = snprintf(buf, len, "ioreq server=%u cpu=%u type=%u addr=%#llx "
                 "data=%#llx size=%u count=%u flags=%#x pad=%#x "
                 "vp_eport=%u", inj->server, inj->cpu, r->type,
                 (unsigned long long)r->addr, (unsigned long long)r->data,
                 r->size, r->count, *flags_byte((ioreq_t *)r), r->_pad0,
                 r->vp_eport);
    if (n > 0 && (size_t)n < len && inj->no_notify) {
        n += snprintf(buf + n, len - n, " notify=0");
    }
    if (n > 0 && (size_t)n < len && inj->allow_disabled) {
        n += snprintf(buf + n, len - n, " disabled=1");
    }
    if (n > 0 && (size_t)n < len && inj->timeout_ms) {
        n += snprintf(buf + n, len - n, " timeout=%d", inj->timeout_ms);
    }
    if (n > 0 && (size_t)n < len && inj->race) {
        snprintf(buf + n, len - n, " race=%s:%#llx",
                 xensim_slot_field_name(inj->race_field),
                 (unsigned long long)inj->race_val);
    }
}

/* --- batches ---------------------------------------------------------- */

/* Xen's port for the slot, unless the spec set one. */
static void default_port(XenSimInjection *inj)
{
    HvIoreqServer *s;

    if (inj->req.vp_eport || inj->cpu >= hv_dom->nr_vcpus) {
        return;
    }
    pthread_mutex_lock(&hv.lock);
    s = hv_server_find(inj->server);
    if (s) {
        inj->req.vp_eport = s->vcpu_port[inj->cpu];
    }
    pthread_mutex_unlock(&hv.lock);
}

/* Send one request of a batch; false when the batch must stop. */
static bool batch_one(XenSimInjection *inj, FILE *log, XenSimVerdict *v)
{
    char line[512];
    int ret;

    default_port(inj);
    if (log) {
        xensim_format_injection(inj, line, sizeof(line));
        fprintf(log, "%s\n", line);
        fflush(log);
    }
    v->sent++;
    ret = xensim_inject(inj, NULL);
    if (ret == XENSIM_ANSWERED) {
        v->answered++;
    } else if (ret == XENSIM_TIMED_OUT) {
        v->timed_out++;
        return false;
    } else if (ret == XENSIM_SLOT_BUSY) {
        v->refused++;
        return false;       /* the DM holds the slot: the vCPU is stuck */
    } else {
        v->refused++;
    }
    return true;
}

static void batch_end(const XenSimInjection *tmpl, XenSimVerdict *v)
{
    XenSimVerdict live;

    xensim_liveness(tmpl->server, tmpl->cpu, tmpl->timeout_ms, &live);
    v->alive = live.alive;
    v->answering = live.answering;
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A random address: usually inside a range of type t the server claims. */
static uint64_t pick_addr(uint64_t *rng, const HvRangeSet *rs, bool pci)
{
    uint64_t r = splitmix(rng);

    if (rs->nr && (r & 7)) {
        const HvRange *x = &rs->r[(r >> 8) % rs->nr];
        uint64_t span = x->end - x->start + 1;
        uint64_t a = x->start + (span ? (r >> 20) % span : 0);

        return pci ? (a << 32) | ((r >> 40) & 0xfff) : a;
    }
    return splitmix(rng);
}

static void random_request(uint64_t *rng, HvIoreqServer *s, ioreq_t *r)
{
    static const uint8_t types[] = {
        IOREQ_TYPE_PIO, IOREQ_TYPE_PIO, IOREQ_TYPE_COPY, IOREQ_TYPE_COPY,
        IOREQ_TYPE_PCI_CONFIG, IOREQ_TYPE_PCI_CONFIG, IOREQ_TYPE_TIMEOFFSET,
        IOREQ_TYPE_INVALIDATE,
    };
    static const uint32_t sizes[] = { 1, 2, 4, 8, 1, 2, 4, 3, 0, 16 };
    uint64_t x = splitmix(rng);
    uint8_t flags;

    memset(r, 0, sizeof(*r));
    r->type = (x & 0xf) < 14 ? types[(x >> 4) % 8] : (uint8_t)(x >> 8);
    x = splitmix(rng);
    r->size = (x & 0xf) < 15 ? sizes[(x >> 4) % 10] : (uint32_t)(x >> 8);
    x = splitmix(rng);
    r->count = (x & 3) ? 1 : (x & 4) ? (uint32_t)(x >> 8) % 4096
                                     : (uint32_t)(x >> 8);
    flags = splitmix(rng);
    /* Mostly a plain access, sometimes every flag bit at random. */
    if (flags & 0x80) {
        r->dir = flags & 1;
        r->df = (flags & 2) && (flags & 4);
        r->data_is_ptr = (flags & 8) && (flags & 16);
    } else {
        r->dir = flags & 1;
        r->df = (flags >> 1) & 1;
        r->data_is_ptr = (flags >> 2) & 1;
        r->_pad1 = (flags >> 3) & 1;
    }
    switch (r->type) {
    case IOREQ_TYPE_PIO:
        r->addr = pick_addr(rng, &s->range[XEN_DMOP_IO_RANGE_PORT], false);
        break;
    case IOREQ_TYPE_COPY:
        r->addr = pick_addr(rng, &s->range[XEN_DMOP_IO_RANGE_MEMORY], false);
        break;
    case IOREQ_TYPE_PCI_CONFIG:
        r->addr = pick_addr(rng, &s->range[XEN_DMOP_IO_RANGE_PCI], true);
        break;
    default:
        r->addr = splitmix(rng);
        break;
    }
    x = splitmix(rng);
    /* data_is_ptr: mostly a gpa in low RAM, else anything. */
    r->data = r->data_is_ptr && (x & 3) ? (x >> 8) % (hv_dom->memory_mib << 20)
                                        : splitmix(rng);
    r->_pad0 = (splitmix(rng) & 0xf) == 0 ? (uint16_t)splitmix(rng) : 0;
    r->state = STATE_IOREQ_READY;
}

int xensim_batch_random(uint64_t seed, unsigned n,
                        const XenSimInjection *tmpl, FILE *log,
                        XenSimVerdict *v)
{
    uint64_t rng = seed;
    unsigned i;

    memset(v, 0, sizeof(*v));
    if (tmpl->cpu >= hv_dom->nr_vcpus) {
        return -EINVAL;
    }
    for (i = 0; i < n; i++) {
        XenSimInjection inj = *tmpl;
        HvIoreqServer *s;

        pthread_mutex_lock(&hv.lock);
        s = hv_server_find(tmpl->server);
        if (s) {
            random_request(&rng, s, &inj.req);
        }
        pthread_mutex_unlock(&hv.lock);
        if (!s) {
            v->refused++;
            break;
        }
        if (!batch_one(&inj, log, v)) {
            break;
        }
    }
    batch_end(tmpl, v);
    return 0;
}

int xensim_batch_specs(char **specs, int nr, const XenSimInjection *tmpl,
                       FILE *log, XenSimVerdict *v)
{
    int i, ret;

    memset(v, 0, sizeof(*v));
    for (i = 0; i < nr; i++) {
        XenSimInjection inj = *tmpl;

        inj.req.state = STATE_IOREQ_READY;
        ret = xensim_parse_injection(specs[i], &inj);
        if (ret < 0) {
            return ret;
        }
        if (!batch_one(&inj, log, v)) {
            break;
        }
    }
    batch_end(tmpl, v);
    return 0;
}

int xensim_batch_file(FILE *in, const XenSimInjection *tmpl, FILE *log,
                      XenSimVerdict *v)
{
    char *line = NULL;
    size_t cap = 0;
    int ret = 0;

    memset(v, 0, sizeof(*v));
    while (getline(&line, &cap, in) > 0) {
        XenSimInjection inj = *tmpl;
        char *p = line + strspn(line, " \t");

        if (*p == '#' || *p == '\n' || *p == 0) {
            continue;
        }
        inj.req.state = STATE_IOREQ_READY;
        ret = xensim_parse_injection(p, &inj);
        if (ret < 0) {
            break;
        }
        if (!batch_one(&inj, log, v)) {
            break;
        }
    }
    free(line);
    if (ret == 0) {
        batch_end(tmpl, v);
    }
    return ret;
}
