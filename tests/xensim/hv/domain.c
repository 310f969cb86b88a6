/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim-hv domain life: the guest domain as Xen 4.17's domctl sees it
 * (common/domctl.c, common/domain.c, arch/x86/domctl.c), so a real
 * toolstack (libxl's xl create/destroy) can create, build, unpause and
 * destroy it.
 *
 * Started with --domid the hv has one domain from the start, unpaused
 * and populated (what a device-model test wants); started with
 * --toolstack there is none until XEN_DOMCTL_createdomain makes one,
 * paused by the system controller and without memory, exactly as Xen
 * leaves a new domain for the domain builder.  Up to HV_MAX_DOMAINS live
 * at once (a migration to the same host has its source and destination;
 * beyond that createdomain answers ENOMEM, what Xen answers when it
 * cannot make a domain).  destroydomain ends one (its ioreq servers,
 * ports and pages go); ids come from Xen's rover (the next free id
 * after the last one given).
 *
 * Invariants:
 *  - a domain exists iff its slot is used; every domid check goes
 *    through hv_domain_check(), which also makes it the thread's hv_dom;
 *  - per-domain state of this file is dom_state[slot] ("dom" below),
 *    reset when the slot is taken;
 *  - controller_pause_count >= 0; creation finishes (hv_dom->creation_finished)
 *    when it first drops to 0, as domain_unpause_by_systemcontroller();
 *  - with a max_pages limit (toolstack mode), tot_pages never exceeds it
 *    and a claim is at most one, as page_alloc.c keeps them.
 *
 * No vCPU executes guest code here: after unpause, "running" means the
 * hv's vCPU player (vcpu.c, the control socket's workloads) drives the
 * device model, as without a toolstack.  All functions run under
 * hv.lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hypercall.h"

#include <xen/io/xs_wire.h>

#include <xen/hvm/hvm_info_table.h>

/* Xen's HVM_MAX_VCPUS; the hv's own ioreq-slot limit is lower. */
#define DOM_HVM_MAX_VCPUS   128
/* Xen 4.17's opt_max_grant_frames / opt_max_maptrack_frames defaults. */
#define DOM_MAX_GRANT_FRAMES    64
#define DOM_MAX_MAPTRACK_FRAMES 1024
/* X86_EMU_ALL & ~X86_EMU_VPCI, what an HVM domU must ask for. */
#define DOM_EMU_HVM (XEN_X86_EMU_ALL & ~XEN_X86_EMU_VPCI)

static struct {
    bool exists;
    bool toolstack;             /* created by domctl, limits enforced */
    bool destroyed;             /* a domain existed and was destroyed */
    int controller_pause_count;
    uint32_t ssidref;
    xen_domain_handle_t handle;
    uint32_t cdf;               /* XEN_DOMCTL_CDF_* */
    uint32_t emulation_flags;
    uint32_t max_vcpus;
    bool vcpus_created;         /* XEN_DOMCTL_max_vcpus done */
    uint64_t max_pages;
    uint64_t outstanding_pages; /* claim */
    uint64_t paging_pool;       /* bytes, HAP's pool */
    uint32_t max_grant_frames;
    uint16_t weight, cap;       /* credit2 */
    int64_t gnttab_off;         /* memfd offset of the frames, or -1 */
    uint8_t e820[HV_E820_MAX * 20];
    uint32_t e820_nr;
    struct xen_domctl_tsc_info tsc;
    uint64_t start_ns;
} dom_state[HV_MAX_DOMAINS];

/* This file's part of the thread's current domain. */
#define dom (dom_state[hv_dom->slot])

static bool toolstack;          /* domains made by createdomain */
static uint32_t last_domid;     /* the rover */
static uint64_t domain_seq;
static HvDom no_domain = { .shutdown_reason = -1 };

__thread HvDom *hv_dom = &no_domain;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

void hv_domain_init(bool toolstack_mode, uint32_t domid, unsigned vcpus,
                    uint64_t memory_mib)
{
    for (unsigned i = 0; i < HV_MAX_DOMAINS; i++) {
        hv.doms[i].slot = i;
    }
    toolstack = toolstack_mode;
    if (!toolstack) {
        /* --domid: built and running, no limits. */
        hv_dom = &hv.doms[0];
        hv_dom->used = true;
        hv_dom->seq = ++domain_seq;
        hv_dom->domid = last_domid = domid;
        hv_dom->nr_vcpus = vcpus;
        hv_dom->memory_mib = memory_mib;
        hv_dom->shutdown_reason = -1;
        dom.cdf = XEN_DOMCTL_CDF_hvm | XEN_DOMCTL_CDF_hap;
        dom.emulation_flags = DOM_EMU_HVM;
        dom.max_vcpus = hv_dom->nr_vcpus;
        dom.vcpus_created = true;
        dom.max_pages = UINT64_MAX;
        dom.max_grant_frames = DOM_MAX_GRANT_FRAMES;
        dom.gnttab_off = -1;
        hv_dom->creation_finished = false;   /* set by the first vCPU access */
        dom.start_ns = now_ns();
        hv_hvmctx_reset(hv_dom->nr_vcpus);
    }
}

HvDom *hv_domain_find(uint64_t domid)
{
    for (unsigned i = 0; i < HV_MAX_DOMAINS; i++) {
        if (hv.doms[i].used && hv.doms[i].domid == domid) {
            return &hv.doms[i];
        }
    }
    return NULL;
}

/*
 * The domain a control command addresses: the one pinned by `domain N`
 * while it exists, else the newest whose creation finished (the running
 * guest; a migration's destination until it is unpaused is not), else
 * the newest.
 */
void hv_domain_select(uint32_t pinned)
{
    HvDom *best = NULL, *pin = pinned ? hv_domain_find(pinned) : NULL;

    for (unsigned i = 0; !pin && i < HV_MAX_DOMAINS; i++) {
        HvDom *d = &hv.doms[i];

        if (d->used && (!best ||
                        d->creation_finished > best->creation_finished ||
                        (d->creation_finished == best->creation_finished &&
                         d->seq > best->seq))) {
            best = d;
        }
    }
    hv_dom = pin ? pin : best ? best : &no_domain;
}

/*
 * XS_CONTROL "domain-exception DOMID dead|shutdown" to xensim's
 * xenstored, which then does what xenstored does on VIRQ_DOM_EXC.  A
 * short blocking exchange: xenstored never waits for the hv.
 */
void hv_domain_exception(bool dead)
{
    const char *path = getenv("XENSTORED_PATH");
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    char body[64];
    struct xsd_sockmsg m = { .type = XS_CONTROL };
    struct pollfd p;
    char reply[64];
    int fd, n;

    if (!toolstack || !path || strlen(path) >= sizeof(sa.sun_path)) {
        return;
    }
    n = snprintf(body, sizeof(body), "domain-exception%c%u%c%s", 0,
                 hv_dom->domid, 0, dead ? "dead" : "shutdown");
    m.len = n + 1;
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        write(fd, &m, sizeof(m)) != sizeof(m) ||
        write(fd, body, m.len) != (ssize_t)m.len) {
        hv_bug("cannot tell xenstored at %s of domain %u's exception: %m",
               path, hv_dom->domid);
        close(fd);
        return;
    }
    p = (struct pollfd) { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, 2000) == 1) {
        n = read(fd, reply, sizeof(reply));
        (void)n;
    }
    close(fd);
    hv_log("domain %u %s: xenstored told (VIRQ_DOM_EXC)", hv_dom->domid,
           dead ? "dead" : "shut down");
}

unsigned hv_domain_count(void)
{
    unsigned n = 0;

    for (unsigned i = 0; i < HV_MAX_DOMAINS; i++) {
        n += hv.doms[i].used;
    }
    return n;
}

int hv_domain_check(uint64_t domid)
{
    HvDom *d = hv_domain_find(domid);

    if (!d) {
        return -ESRCH;
    }
    hv_dom = d;
    return 0;
}

static uint64_t tot_pages(void)
{
    uint64_t n = 0;
    unsigned i;

    for (i = 0; i < hv_dom->p2m_len; i++) {
        n += hv_dom->p2m[i].nr;
    }
    return n;
}

bool hv_domain_may_populate(uint64_t pages)
{
    uint64_t tot = tot_pages();

    if (!toolstack) {
        return true;
    }
    /* assign_pages(): "Over-allocation" fails the extent. */
    if (tot + pages > dom.max_pages || tot + pages < tot) {
        return false;
    }
    dom.outstanding_pages = dom.outstanding_pages > pages ?
                            dom.outstanding_pages - pages : 0;
    return true;
}

/* domain_set_outstanding_pages() */
long hv_domain_claim(uint64_t pages)
{
    uint64_t tot = tot_pages();

    if (pages == 0) {
        dom.outstanding_pages = 0;
        return 0;
    }
    if (dom.outstanding_pages) {
        return -EINVAL;
    }
    if (pages <= tot || pages > dom.max_pages) {
        return -EINVAL;
    }
    dom.outstanding_pages = pages - tot;
    return 0;
}

uint32_t hv_domain_gnttab_max_frames(uint32_t id)
{
    switch (id) {
    case XENMEM_resource_grant_table_id_shared:
        return dom.max_grant_frames;
    case XENMEM_resource_grant_table_id_status:
        /* grant_to_status_frames(): 8-byte entries, 2-byte status. */
        return (dom.max_grant_frames * (XENSIM_PAGE_SIZE / 8) * 2 +
                XENSIM_PAGE_SIZE - 1) / XENSIM_PAGE_SIZE;
    }
    return 0;
}

long hv_domain_gnttab_frames(uint32_t id, uint64_t frame, uint32_t nr,
                             xen_pfn_t *mfn)
{
    uint32_t i;

    if (!nr || id != XENMEM_resource_grant_table_id_shared) {
        return -EINVAL;         /* status frames exist only with v2 */
    }
    if (frame + nr > dom.max_grant_frames) {
        return -EINVAL;
    }
    if (dom.gnttab_off < 0) {
        dom.gnttab_off = hv_mem_alloc(dom.max_grant_frames);
        if (dom.gnttab_off < 0) {
            return -ENOMEM;
        }
    }
    for (i = 0; i < nr; i++) {
        mfn[i] = (dom.gnttab_off >> XENSIM_PAGE_SHIFT) + frame + i;
    }
    return 0;
}

long hv_domain_set_e820(const HcCall *h, uint64_t buf, uint32_t nr)
{
    if (hc_from_user(h, dom.e820, buf, nr * 20) < 0) {
        return -EFAULT;
    }
    dom.e820_nr = nr;
    return 0;
}

void hv_domain_info(struct xen_domctl_getdomaininfo *info)
{
    uint32_t flags = XEN_DOMINF_blocked;

    memset(info, 0, sizeof(*info));
    info->domain = hv_dom->domid;
    info->max_vcpu_id = XEN_INVALID_MAX_VCPU_ID;
    if (dom.vcpus_created && hv_dom->nr_vcpus) {
        /* No vCPU executes: all online and blocked, none running. */
        info->max_vcpu_id = hv_dom->nr_vcpus - 1;
        info->nr_online_vcpus = hv_dom->nr_vcpus;
    }
    info->flags = (info->nr_online_vcpus ? flags : 0) |
                  (dom.controller_pause_count > 0 ? XEN_DOMINF_paused : 0) |
                  ((dom.cdf & XEN_DOMCTL_CDF_hvm) ?
                   XEN_DOMINF_hvm_guest : 0) |
                  ((dom.cdf & XEN_DOMCTL_CDF_hap) ? XEN_DOMINF_hap : 0);
    if (hv_dom->shutdown_reason >= 0) {
        info->flags |= XEN_DOMINF_shutdown |
                       ((uint32_t)hv_dom->shutdown_reason <<
                        XEN_DOMINF_shutdownshift);
    }
    info->ssidref = dom.ssidref;
    info->tot_pages = tot_pages();
    info->max_pages = toolstack ? dom.max_pages : info->tot_pages;
    info->outstanding_pages = dom.outstanding_pages;
    info->cpu_time = 0;
    info->shared_info_frame = 0;
    info->cpupool = 0;
    info->gpaddr_bits = 52;
    memcpy(info->handle, dom.handle, sizeof(info->handle));
    info->arch_config.emulation_flags = dom.emulation_flags;
}

/*
 * Dom0 as Xen describes the control domain: PV, running, privileged.
 * Only in toolstack mode, where libxl and xl list it; with --domid the
 * hv's domain lists stay as the device-model tests know them.
 */
static void dom0_info(struct xen_domctl_getdomaininfo *info)
{
    memset(info, 0, sizeof(*info));
    info->domain = 0;
    info->flags = XEN_DOMINF_running;
    info->nr_online_vcpus = 1;
    info->max_vcpu_id = 0;
    info->max_pages = UINT32_MAX;
    info->gpaddr_bits = 52;
}

unsigned hv_domain_list(uint32_t first, struct xen_domctl_getdomaininfo *out,
                        unsigned max)
{
    HvDom *saved = hv_dom;
    unsigned n = 0;
    uint32_t at = first;

    if (toolstack && first == 0 && n < max) {
        dom0_info(&out[n++]);
    }
    /* In domid order, as Xen's domain list is kept. */
    while (n < max) {
        HvDom *next = NULL;

        for (unsigned i = 0; i < HV_MAX_DOMAINS; i++) {
            HvDom *d = &hv.doms[i];

            if (d->used && d->domid >= at &&
                (!next || d->domid < next->domid)) {
                next = d;
            }
        }
        if (!next) {
            break;
        }
        hv_dom = next;
        hv_domain_info(&out[n++]);
        at = next->domid + 1;
    }
    hv_dom = saved;
    return n;
}

/* sanitise_domain_config(), arch_sanitise_domain_config() and the
 * HVM-only checks of arch_domain_create() (emulation_flags_ok). */
static int check_config(const struct xen_domctl_createdomain *c)
{
    const uint32_t known = XEN_DOMCTL_CDF_hvm | XEN_DOMCTL_CDF_hap |
                           XEN_DOMCTL_CDF_s3_integrity |
                           XEN_DOMCTL_CDF_oos_off |
                           XEN_DOMCTL_CDF_xs_domain | XEN_DOMCTL_CDF_iommu |
                           XEN_DOMCTL_CDF_nested_virt |
                           XEN_DOMCTL_CDF_vpmu;
    bool hvm = c->flags & XEN_DOMCTL_CDF_hvm;
    bool hap = c->flags & XEN_DOMCTL_CDF_hap;

    if ((c->flags & ~known) ||
        (c->grant_opts & ~XEN_DOMCTL_GRANT_version_mask) ||
        c->max_vcpus < 1 || (hap && !hvm)) {
        return -EINVAL;
    }
    /* No IOMMU, no vmtrace, no vPMU on the simulated machine. */
    if ((c->flags & XEN_DOMCTL_CDF_iommu) || c->iommu_opts ||
        c->vmtrace_size || (c->flags & XEN_DOMCTL_CDF_vpmu)) {
        return -EINVAL;
    }
    /* Only HVM is simulated (a Xen built without CONFIG_PV). */
    if (!hvm || c->max_vcpus > DOM_HVM_MAX_VCPUS ||
        (c->flags & XEN_DOMCTL_CDF_s3_integrity) ||
        ((c->flags & XEN_DOMCTL_CDF_nested_virt) && !hap) ||
        (c->arch.misc_flags & ~XEN_X86_MSR_RELAXED)) {
        return -EINVAL;
    }
    if (c->arch.emulation_flags != DOM_EMU_HVM &&
        c->arch.emulation_flags != XEN_X86_EMU_LAPIC) {
        return -EOPNOTSUPP;     /* arch_domain_create(): "Bad flags" */
    }
    /* grant_table_init() and evtchn_init(). */
    if (c->max_grant_frames > DOM_MAX_GRANT_FRAMES ||
        c->max_maptrack_frames > DOM_MAX_MAPTRACK_FRAMES ||
        c->max_grant_frames == 0) {
        return -EINVAL;
    }
    /* cpupool_add_domain(): only pool 0 exists. */
    if (c->cpupool_id != 0) {
        return -ENOENT;
    }
    return 0;
}

/* A free slot, as fresh as a new struct domain; NULL if none. */
static HvDom *take_slot(void)
{
    for (unsigned i = 0; i < HV_MAX_DOMAINS; i++) {
        HvDom *d = &hv.doms[i];

        if (!d->used) {
            memset(d, 0, sizeof(*d));
            d->slot = i;
            memset(&dom_state[i], 0, sizeof(dom_state[i]));
            return d;
        }
    }
    return NULL;
}

static long create_domain(struct xen_domctl *d)
{
    struct xen_domctl_createdomain *c = &d->u.createdomain;
    uint32_t domid = d->domain;
    HvDom *slot;
    long ret;

    if (!toolstack) {
        return -ENOMEM;         /* the hv already has its one domain */
    }
    if (domid > 0 && domid < DOMID_FIRST_RESERVED) {
        if (hv_domain_find(domid)) {
            return -EEXIST;
        }
    } else {
        /* The rover: the next free id after the last one, from 1. */
        domid = last_domid;
        do {
            domid = domid + 1 >= DOMID_FIRST_RESERVED ? 1 : domid + 1;
        } while (hv_domain_find(domid));
    }
    ret = check_config(c);
    if (ret < 0) {
        return ret;
    }
    slot = take_slot();
    if (!slot) {
        fprintf(stderr, "xensim-hv: createdomain: the hv simulates at "
                "most %d domains at once\n", HV_MAX_DOMAINS);
        return -ENOMEM;
    }
    if (c->max_vcpus > HV_MAX_VCPUS) {
        fprintf(stderr, "xensim-hv: createdomain: %u vCPUs, the hv "
                "simulates at most %zu\n", c->max_vcpus, HV_MAX_VCPUS);
        return -EINVAL;
    }
    hv_dom = slot;
    hv_dom->used = true;
    hv_dom->seq = ++domain_seq;
    if (!(d->domain > 0 && d->domain < DOMID_FIRST_RESERVED)) {
        last_domid = domid;
    }
    dom.controller_pause_count = 1;
    dom.ssidref = c->ssidref;
    memcpy(dom.handle, c->handle, sizeof(dom.handle));
    dom.cdf = c->flags;
    dom.emulation_flags = c->arch.emulation_flags;
    dom.max_vcpus = c->max_vcpus;
    dom.vcpus_created = false;
    dom.max_pages = 0;
    dom.outstanding_pages = 0;
    dom.max_grant_frames = c->max_grant_frames < 0 ? DOM_MAX_GRANT_FRAMES
                                                   : c->max_grant_frames;
    dom.gnttab_off = -1;
    dom.weight = 256;
    dom.cap = 0;
    dom.start_ns = now_ns();
    hv_cpupolicy_domain_reset();
    hv_domain_save_reset();
    hv_xendev_domain_reset();
    hv_dmop_domain_reset();
    hv_hvmctx_reset(c->max_vcpus);
    hv_dom->domid = domid;
    hv_dom->nr_vcpus = c->max_vcpus;
    hv_dom->shutdown_reason = -1;
    hv_dom->creation_finished = false;
    d->domain = domid;
    hv_log("createdomain: domain %u, %u vCPUs, flags %#x", domid,
           c->max_vcpus, c->flags);
    return 0;
}

/* domain_kill(): what the domain held goes. */
static long destroy_domain(void)
{
    unsigned i;

    for (i = 0; i < HV_MAX_SERVERS; i++) {
        if (hv_dom->server[i].used) {
            hv_server_destroy(hv_dom->server[i].id);
        }
    }
    /* The memory is freed (reads as zeroes through a mapping left
     * behind); no page is watched for stale writes any more.  Other
     * domains' pages stay. */
    for (i = 0; i < hv_dom->p2m_len; i++) {
        fallocate(hv.memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  hv_dom->p2m[i].off,
                  hv_dom->p2m[i].nr << XENSIM_PAGE_SHIFT);
    }
    for (i = 0; i < hv_dom->revoked_len; i++) {
        fallocate(hv.memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  hv_dom->revoked[i].off, XENSIM_PAGE_SIZE);
    }
    for (i = 1; i < HV_MAX_PORTS; i++) {
        if (hv_dom->gport[i].state != HV_PORT_FREE) {
            hv_guest_port_free(i);
        }
    }
    hv_log("destroydomain: domain %u", hv_dom->domid);
    hv_domain_exception(true);
    free(hv_dom->p2m);
    free(hv_dom->memtype);
    free(hv_dom->revoked);
    free(hv_dom->dirty_bits);
    free(hv_dom->logdirty_bits);
    memset(hv_dom, 0, sizeof(*hv_dom));
    hv_dom->slot = hv_dom - hv.doms;
    hv.events++;
    pthread_cond_broadcast(&hv.cond);
    return 0;
}

static long vcpu_affinity(const HcCall *h, struct xen_domctl *d)
{
    struct xen_domctl_vcpuaffinity *a = &d->u.vcpuaffinity;

    /* vcpu_affinity_domctl() */
    if (a->vcpu >= dom.max_vcpus || !dom.vcpus_created) {
        return -EINVAL;
    }
    if (!(a->flags & (XEN_VCPUAFFINITY_HARD | XEN_VCPUAFFINITY_SOFT))) {
        return -EINVAL;
    }
    /* Every CPU is as good as another: the affinity asked is the one
     * in effect, left in the caller's bitmaps for set and get alike. */
    return 0;
}

/* sched_adjust() for credit2, the one scheduler (csched2_dom_cntl). */
static long scheduler_op(struct xen_domctl *d, bool *copyback)
{
    struct xen_domctl_scheduler_op *op = &d->u.scheduler_op;

    if (op->sched_id != XEN_SCHEDULER_CREDIT2) {
        return -EINVAL;
    }
    switch (op->cmd) {
    case XEN_DOMCTL_SCHEDOP_getinfo:
        op->u.credit2.weight = dom.weight;
        op->u.credit2.cap = dom.cap;
        break;
    case XEN_DOMCTL_SCHEDOP_putinfo:
        if (op->u.credit2.cap > 100 * dom.max_vcpus) {
            return -EINVAL;
        }
        if (op->u.credit2.weight) {
            dom.weight = op->u.credit2.weight;
        }
        dom.cap = op->u.credit2.cap;
        break;
    default:
        return -EINVAL;
    }
    *copyback = true;
    return 0;
}

long hv_domain_domctl(const HcCall *h, struct xen_domctl *d, bool *copyback)
{
    long ret;

    *copyback = false;
    if (d->cmd == XEN_DOMCTL_createdomain) {
        ret = create_domain(d);
        *copyback = ret == 0;
        return ret;
    }
    ret = hv_domain_check(d->domain);
    if (ret < 0) {
        return ret;
    }
    switch (d->cmd) {
    case XEN_DOMCTL_destroydomain:
        return destroy_domain();
    case XEN_DOMCTL_pausedomain:
        if (dom.controller_pause_count + 1 > 255) {
            return -EOVERFLOW;
        }
        dom.controller_pause_count++;
        return 0;
    case XEN_DOMCTL_unpausedomain:
        if (dom.controller_pause_count - 1 < 0) {
            return -EINVAL;
        }
        dom.controller_pause_count--;
        if (dom.controller_pause_count == 0 && !hv_dom->creation_finished) {
            hv_dom->creation_finished = true;
            /* The vCPU player stands in for hvmloader, which moves the
             * ACPI PM blocks to 0xb000 (libxl's default acpi = 1). */
            hv_dom->hvm_param[HVM_PARAM_ACPI_IOPORTS_LOCATION] = 1;
            hv_log("domain %u unpaused: creation finished; the hv's vCPU "
                   "player runs the guest", hv_dom->domid);
        }
        hv.events++;
        pthread_cond_broadcast(&hv.cond);
        return 0;
    case XEN_DOMCTL_max_vcpus:
        if (d->u.max_vcpus.max != dom.max_vcpus) {
            return -EINVAL;
        }
        dom.vcpus_created = true;
        return 0;
    case XEN_DOMCTL_setvcpuaffinity:
    case XEN_DOMCTL_getvcpuaffinity:
        return vcpu_affinity(h, d);
    case XEN_DOMCTL_max_mem:
        dom.max_pages = d->u.max_mem.max_memkb >> (XENSIM_PAGE_SHIFT - 10);
        return 0;
    case XEN_DOMCTL_setdomainhandle:
        memcpy(dom.handle, d->u.setdomainhandle.handle, sizeof(dom.handle));
        return 0;
    case XEN_DOMCTL_settscinfo:
        /* tsc_set_info(): TSC_MODE_DEFAULT, ALWAYS_EMULATE (1) and
         * NEVER_EMULATE (2); the incarnation counts up. */
        if (d->u.tsc_info.tsc_mode > 2) {
            return -EINVAL;
        }
        dom.tsc = d->u.tsc_info;
        dom.tsc.incarnation++;
        dom.start_ns = now_ns() - d->u.tsc_info.elapsed_nsec;
        return 0;
    case XEN_DOMCTL_setnodeaffinity:
        /* domain_set_node_affinity(): must meet node 0, the only one;
         * xenctl_bitmap_to_nodemask() reads at most MAX_NUMNODES bits. */
        if (d->u.nodeaffinity.nodemap.nr_bits) {
            uint8_t b0;

            if (hc_from_user(h, &b0,
                             (uintptr_t)d->u.nodeaffinity.nodemap.bitmap.p,
                             1) < 0) {
                return -EFAULT;
            }
            if (!(b0 & 1)) {
                return -EINVAL;
            }
            return 0;
        }
        return -EINVAL;
    case XEN_DOMCTL_set_paging_mempool_size:
        if ((d->u.paging_mempool.size & (XENSIM_PAGE_SIZE - 1)) ||
            (d->u.paging_mempool.size >> XENSIM_PAGE_SHIFT) > UINT32_MAX) {
            return -EINVAL;
        }
        dom.paging_pool = d->u.paging_mempool.size;
        return 0;
    case XEN_DOMCTL_get_paging_mempool_size:
        d->u.paging_mempool.size = dom.paging_pool;
        *copyback = true;
        return 0;
    case XEN_DOMCTL_shadow_op:
        return hv_domain_shadow_op(h, d, copyback, dom.paging_pool);
    case XEN_DOMCTL_getpageframeinfo3:
        return hv_domain_pageframeinfo(h, d);
    case XEN_DOMCTL_scheduler_op:
        return scheduler_op(d, copyback);
    case XEN_DOMCTL_gethvmcontext:
    case XEN_DOMCTL_sethvmcontext:
        return hv_hvmctx_domctl(h, d, copyback);
    case XEN_DOMCTL_get_cpu_policy:
    case XEN_DOMCTL_set_cpu_policy:
        return hv_cpupolicy_domctl(h, d, copyback);
    case XEN_DOMCTL_resumedomain:
        /* domain_resume(): the shutdown (a suspend for a save or a
         * migration that failed) is forgotten, the vCPUs run again.  The
         * caller is dom0, never the domain itself. */
        hv_dom->shutdown_reason = -1;
        hv_log("domain %u resumed", hv_dom->domid);
        hv.events++;
        pthread_cond_broadcast(&hv.cond);
        return 0;
    case XEN_DOMCTL_sendtrigger:
        /* arch_do_domctl(): what `xl trigger` and xl shutdown/reboot -F
         * (libxl_send_trigger) reach.  No vCPU executes, so an NMI is
         * accepted and has nothing to interrupt; RESET and INIT are not
         * implemented by Xen 4.17 on x86 (its own ENOSYS, not the hv's). */
        if (d->u.sendtrigger.vcpu >= dom.max_vcpus || !dom.vcpus_created) {
            return -ESRCH;
        }
        switch (d->u.sendtrigger.trigger) {
        case XEN_DOMCTL_SENDTRIGGER_NMI:
            return 0;
        case XEN_DOMCTL_SENDTRIGGER_POWER:
        case XEN_DOMCTL_SENDTRIGGER_SLEEP:
            hv_xendev_acpi_button(d->u.sendtrigger.trigger ==
                                  XEN_DOMCTL_SENDTRIGGER_SLEEP);
            hv_log("domain %u: ACPI %s button (sendtrigger)", hv_dom->domid,
                   d->u.sendtrigger.trigger == XEN_DOMCTL_SENDTRIGGER_SLEEP
                   ? "sleep" : "power");
            return 0;
        }
        return -ENOSYS;
    case XEN_DOMCTL_gettscinfo:
        d->u.tsc_info = dom.tsc;
        d->u.tsc_info.elapsed_nsec = now_ns() - dom.start_ns;
        *copyback = true;
        return 0;
    }
    return hc_not_simulated(h, d->cmd);
}
