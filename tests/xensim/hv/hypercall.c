/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim-hv hypercalls: what Xen 4.17 does for the hypercalls dom0's
 * kernel forwards (IOCTL_PRIVCMD_HYPERCALL, and the hypercalls privcmd
 * makes itself for DM_OP and MMAP_RESOURCE), as the devxen shim
 * (../shim/) sends them in XENSIM_OP_HYPERCALL.
 *
 * Like Xen, the hv copies arguments from and results to the caller's
 * memory itself (process_vm_readv/writev on the caller's pid): a bad
 * pointer is EFAULT, never a crash.  Argument checks and errnos follow
 * Xen 4.17's source (common/memory.c, common/domctl.c, common/sysctl.c,
 * arch/x86/hvm/dm.c, common/sched/core.c, arch/x86/hvm/hvm.c); the
 * domain is the one the hv simulates (other domids: ESRCH).
 *
 * Served: multicall (each entry as its own hypercall; libxenctrl
 * issues memory_op that way to get a long result); dm_op; memory_op
 * populate_physmap (within max_mem and a claim in toolstack mode),
 * add_to_physmap (gmfn, gmfn_range), acquire_resource (ioreq server
 * frames and the grant table, as machine frames: offsets in the guest
 * memfd / 4 KiB), claim_pages, set_memory_map, maximum_gpfn,
 * get_vnumainfo, the sharing counters; hvm_op set_param/get_param;
 * sched_op remote_shutdown; domctl getdomaininfo here and the domain's
 * life in domain.c (create, destroy, pause, the builder's and the
 * save stream's domctls, with cpupolicy.c, hvmctx.c, domain-save.c);
 * sysctl getdomaininfolist, physinfo (this machine's CPUs and memory),
 * sched_id, cpupool_op info, numainfo, cputopoinfo, the CPU featureset
 * and policies; xen_version (xensim's own build strings, no build id);
 * event_channel_op alloc_unbound and status; xsm_op as Xen's dummy XSM.
 *
 * Everything else answers -ENOSYS: never faked, counted in
 * hypercalls_enosys and per (hypercall, sub-op) in the enosys_* lines of
 * the counters, and reported on stderr the first time.  Runs under
 * hv.lock (called from server.c's dispatch).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif

#include "hypercall.h"

#include <xen/domctl.h>
#include <xen/event_channel.h>
#include <xen/hvm/dm_op.h>
#include <xen/hvm/hvm_op.h>
#include <xen/memory.h>
#include <xen/sched.h>
#include <xen/sysctl.h>
#include <xen/version.h>

/* The version the simulator claims (XENVER_version). */
#define HV_XEN_MAJOR    4
#define HV_XEN_MINOR    17
#define HV_XEN_EXTRA    ".0"

/* memory_op's cmd carries the extent to restart from above bit 6
 * (Xen-internal, xen/include/xen/hypercall.h). */
#define HV_MEMOP_EXTENT_SHIFT   6
#define HV_MEMOP_CMD_MASK       ((1u << HV_MEMOP_EXTENT_SHIFT) - 1)

/* Xen's struct dmop_args holds at most two buffers. */
#define DM_OP_MAX_BUFS  2
/* Largest second dm_op buffer read in one go (dirty bitmaps, extents). */
#define DM_OP_MAX_BUF1  (1u << 20)

/* --- the caller's memory ------------------------------------------------ */

/* A copy that failed for want of permission, not for a bad pointer. */
static int copy_failed(const HcCall *h)
{
    static bool said;

    if ((errno == EPERM || errno == ESRCH) && !said) {
        said = true;
        fprintf(stderr, "xensim-hv: cannot reach the memory of pid %d "
                "(%m): hypercalls from it fail with EFAULT\n", h->pid);
    }
    return -EFAULT;
}

int hc_from_user(const HcCall *h, void *dst, uint64_t src, size_t len)
{
    struct iovec l = { dst, len }, r = { (void *)(uintptr_t)src, len };

    if (!len) {
        return 0;
    }
    return process_vm_readv(h->pid, &l, 1, &r, 1, 0) == (ssize_t)len ?
           0 : copy_failed(h);
}

int hc_to_user(const HcCall *h, uint64_t dst, const void *src, size_t len)
{
    struct iovec l = { (void *)src, len }, r = { (void *)(uintptr_t)dst, len };

    if (!len) {
        return 0;
    }
    return process_vm_writev(h->pid, &l, 1, &r, 1, 0) == (ssize_t)len ?
           0 : copy_failed(h);
}

/* --- ENOSYS accounting -------------------------------------------------- */

#define HC_ENOSYS_SLOTS 64

static struct {
    uint32_t op, sub;
    uint64_t count;
} enosys[HC_ENOSYS_SLOTS];
static unsigned nr_enosys;

static const char *hypercall_name(uint64_t op)
{
    static const char *const names[] = {
        [__HYPERVISOR_mmu_update] = "mmu_update",
        [__HYPERVISOR_platform_op] = "platform_op",
        [__HYPERVISOR_memory_op] = "memory_op",
        [__HYPERVISOR_multicall] = "multicall",
        [__HYPERVISOR_xen_version] = "xen_version",
        [__HYPERVISOR_console_io] = "console_io",
        [__HYPERVISOR_grant_table_op] = "grant_table_op",
        [__HYPERVISOR_vcpu_op] = "vcpu_op",
        [__HYPERVISOR_mmuext_op] = "mmuext_op",
        [__HYPERVISOR_xsm_op] = "xsm_op",
        [__HYPERVISOR_sched_op] = "sched_op",
        [__HYPERVISOR_event_channel_op] = "event_channel_op",
        [__HYPERVISOR_physdev_op] = "physdev_op",
        [__HYPERVISOR_hvm_op] = "hvm_op",
        [__HYPERVISOR_sysctl] = "sysctl",
        [__HYPERVISOR_domctl] = "domctl",
        [__HYPERVISOR_dm_op] = "dm_op",
        [__HYPERVISOR_hypfs_op] = "hypfs_op",
    };

    if (op < sizeof(names) / sizeof(names[0]) && names[op]) {
        return names[op];
    }
    return "hypercall";
}

/* An unimplemented hypercall or sub-op: count it, say so once. */
long hc_not_simulated(const HcCall *h, uint32_t sub)
{
    unsigned i;

    hv.cnt[HV_CNT_hypercalls_enosys]++;
    for (i = 0; i < nr_enosys; i++) {
        if (enosys[i].op == h->op && enosys[i].sub == sub) {
            enosys[i].count++;
            return -ENOSYS;
        }
    }
    fprintf(stderr, "xensim-hv: ENOSYS: %s (%llu) sub-op %u from pid %d "
            "is not simulated\n", hypercall_name(h->op),
            (unsigned long long)h->op, sub, h->pid);
    if (nr_enosys < HC_ENOSYS_SLOTS) {
        enosys[nr_enosys].op = h->op;
        enosys[nr_enosys].sub = sub;
        enosys[nr_enosys].count = 1;
        nr_enosys++;
    }
    return -ENOSYS;
}

void hv_hypercall_print_enosys(FILE *f)
{
    unsigned i;

    for (i = 0; i < nr_enosys; i++) {
        fprintf(f, "enosys_%s_%u %llu\n", hypercall_name(enosys[i].op),
                enosys[i].sub, (unsigned long long)enosys[i].count);
    }
}

static int check_domid(uint64_t domid)
{
    return hv_domain_check(domid);
}

/* --- dm_op -------------------------------------------------------------- */

/* Bytes of xen_dm_op.u each op reads (Xen's op_size table, x86). */
static size_t dm_op_size(uint32_t op)
{
    switch (op) {
    case XEN_DMOP_create_ioreq_server:
        return sizeof(struct xen_dm_op_create_ioreq_server);
    case XEN_DMOP_get_ioreq_server_info:
        return sizeof(struct xen_dm_op_get_ioreq_server_info);
    case XEN_DMOP_map_io_range_to_ioreq_server:
    case XEN_DMOP_unmap_io_range_from_ioreq_server:
        return sizeof(struct xen_dm_op_ioreq_server_range);
    case XEN_DMOP_set_ioreq_server_state:
        return sizeof(struct xen_dm_op_set_ioreq_server_state);
    case XEN_DMOP_destroy_ioreq_server:
        return sizeof(struct xen_dm_op_destroy_ioreq_server);
    case XEN_DMOP_track_dirty_vram:
        return sizeof(struct xen_dm_op_track_dirty_vram);
    case XEN_DMOP_set_pci_intx_level:
        return sizeof(struct xen_dm_op_set_pci_intx_level);
    case XEN_DMOP_set_isa_irq_level:
        return sizeof(struct xen_dm_op_set_isa_irq_level);
    case XEN_DMOP_set_pci_link_route:
        return sizeof(struct xen_dm_op_set_pci_link_route);
    case XEN_DMOP_modified_memory:
        return sizeof(struct xen_dm_op_modified_memory);
    case XEN_DMOP_set_mem_type:
        return sizeof(struct xen_dm_op_set_mem_type);
    case XEN_DMOP_inject_event:
        return sizeof(struct xen_dm_op_inject_event);
    case XEN_DMOP_inject_msi:
        return sizeof(struct xen_dm_op_inject_msi);
    case XEN_DMOP_map_mem_type_to_ioreq_server:
        return sizeof(struct xen_dm_op_map_mem_type_to_ioreq_server);
    case XEN_DMOP_remote_shutdown:
        return sizeof(struct xen_dm_op_remote_shutdown);
    case XEN_DMOP_relocate_memory:
        return sizeof(struct xen_dm_op_relocate_memory);
    case XEN_DMOP_pin_memory_cacheattr:
        return sizeof(struct xen_dm_op_pin_memory_cacheattr);
    case XEN_DMOP_nr_vcpus:
        return sizeof(struct xen_dm_op_nr_vcpus);
    }
    return 0;
}

static long do_dm_op(const HcCall *h)
{
    uint64_t domid = h->arg[0], nr_bufs = h->arg[1];
    xen_dm_op_buf_t buf[DM_OP_MAX_BUFS];
    const size_t hdr = offsetof(struct xen_dm_op, u);
    struct xen_dm_op op, orig;
    size_t usize, len1 = 0;
    void *in = NULL, *out = NULL;
    long ret;

    if (nr_bufs > DM_OP_MAX_BUFS) {
        return -E2BIG;
    }
    ret = hc_from_user(h, buf, h->arg[2], nr_bufs * sizeof(buf[0]));
    if (ret < 0) {
        return ret;
    }
    ret = check_domid(domid);
    if (ret < 0) {
        return ret;
    }
    memset(&op, 0, sizeof(op));
    if (nr_bufs < 1 || buf[0].size < hdr ||
        hc_from_user(h, &op, (uintptr_t)buf[0].h.p, hdr) < 0) {
        return -EFAULT;
    }
    usize = dm_op_size(op.op);
    if (!usize) {
        return -EOPNOTSUPP;
    }
    if (buf[0].size < hdr + usize ||
        hc_from_user(h, &op.u, (uintptr_t)buf[0].h.p + hdr, usize) < 0) {
        return -EFAULT;
    }
    if (nr_bufs > 1) {
        len1 = buf[1].size;
        if (len1 > DM_OP_MAX_BUF1) {
            return -E2BIG;
        }
        in = malloc(len1 ? len1 : 1);
        out = calloc(1, len1 ? len1 : 1);
        if (!in || !out) {
            ret = -ENOMEM;
            goto done;
        }
        ret = hc_from_user(h, in, (uintptr_t)buf[1].h.p, len1);
        if (ret < 0) {
            goto done;
        }
    }
    orig = op;
    ret = hv_dm_op(h->c, &op, sizeof(op), in, len1, out, len1);
    if (ret == 0 && memcmp(&orig.u, &op.u, usize) &&
        hc_to_user(h, (uintptr_t)buf[0].h.p + hdr, &op.u, usize) < 0) {
        ret = -EFAULT;
    }
    if (ret == 0 && op.op == XEN_DMOP_track_dirty_vram &&
        hc_to_user(h, (uintptr_t)buf[1].h.p, out, len1) < 0) {
        ret = -EFAULT;
    }
done:
    free(in);
    free(out);
    return ret;
}

/* --- memory_op ---------------------------------------------------------- */

static long populate_physmap(const HcCall *h, uint64_t start_extent)
{
    struct xen_memory_reservation r;
    uint64_t i;
    xen_pfn_t gpfn;

    /*
     * Xen answers every failure here (bad pointer, size, domain, order)
     * with the extents done so far, never an errno; libxenctrl's
     * populate_physmap_exact turns a short count into EBUSY.
     */
    if (hc_from_user(h, &r, h->arg[1], sizeof(r)) < 0 ||
        r.nr_extents > (UINT32_MAX >> HV_MEMOP_EXTENT_SHIFT) ||
        start_extent >= r.nr_extents || check_domid(r.domid) < 0 ||
        r.extent_order > 18) {
        return start_extent;
    }
    hv_dom->repopulated_pages = 0;
    for (i = start_extent; i < r.nr_extents; i++) {
        if (hc_from_user(h, &gpfn, (uintptr_t)r.extent_start.p +
                      i * sizeof(gpfn), sizeof(gpfn)) < 0 ||
            !hv_domain_may_populate(1ull << r.extent_order) ||
            hv_populate(gpfn, 1ull << r.extent_order) < 0) {
            break;
        }
    }
    hv_log("populate_physmap: %llu of %llu extents of order %u%s",
           (unsigned long long)(i - start_extent),
           (unsigned long long)(r.nr_extents - start_extent),
           r.extent_order, hv_dom->repopulated_pages ?
           " (some were populated: fresh pages)" : "");
    return i;
}

static long add_to_physmap(const HcCall *h)
{
    struct xen_add_to_physmap x;
    long ret;

    ret = hc_from_user(h, &x, h->arg[1], sizeof(x));
    if (ret < 0) {
        return ret;
    }
    ret = check_domid(x.domid);
    if (ret < 0) {
        return ret;
    }
    switch (x.space) {
    case XENMAPSPACE_gmfn:
        return hv_relocate(x.idx, x.gpfn, 1);
    case XENMAPSPACE_gmfn_range:
        /* Done in one go: Xen's continuation would count size down. */
        ret = hv_relocate(x.idx, x.gpfn, x.size);
        if (ret == 0 && x.size) {
            x.idx += x.size;
            x.gpfn += x.size;
            x.size = 0;
            ret = hc_to_user(h, h->arg[1], &x, sizeof(x));
        }
        return ret;
    }
    return hc_not_simulated(h, XENMEM_add_to_physmap);
}

/* Machine frames of an ioreq server's pages (frame 0: buffered ring,
 * frame 1: synchronous slots), as ioreq_server_get_frame() hands out. */
static long ioreq_server_frames(uint16_t id, uint64_t frame, uint32_t nr,
                                xen_pfn_t *mfn)
{
    HvIoreqServer *s = hv_server_find(id);
    uint32_t i;

    if (!s) {
        return -ENOENT;
    }
    if (s->gfn[0]) {
        return -EPERM;      /* pages already handed out as gfns */
    }
    for (i = 0; i < nr; i++) {
        uint64_t f = frame + i;

        if (f == XENMEM_resource_ioreq_server_frame_bufioreq &&
            s->bufioreq_handling == HVM_IOREQSRV_BUFIOREQ_OFF) {
            return -ENOENT;
        }
        if (f > XENMEM_resource_ioreq_server_frame_ioreq(0)) {
            return -EINVAL;
        }
        mfn[i] = (s->pages_off >> XENSIM_PAGE_SHIFT) + f;
    }
    s->resource_mapped = true;
    hv.cnt[HV_CNT_resource_maps]++;
    return 0;
}

static long acquire_resource(const HcCall *h, uint64_t start_extent)
{
    xen_mem_acquire_resource_t x;
    uint32_t max_frames = 2;            /* one ring + one slot page */
    xen_pfn_t mfn[HV_GNTTAB_MAX_FRAMES];
    long ret;

    ret = hc_from_user(h, &x, h->arg[1], sizeof(x));
    if (ret < 0) {
        return ret;
    }
    if (x.pad != 0 || (x.frame >> 32) ||
        ((x.frame + x.nr_frames) >> 32)) {
        return -EINVAL;
    }
    ret = check_domid(x.domid);
    if (ret < 0) {
        return ret;
    }
    switch (x.type) {
    case XENMEM_resource_ioreq_server:
        if (hv.fault_no_resource) {
            return -EOPNOTSUPP;     /* a Xen before 4.12 */
        }
        break;
    case XENMEM_resource_grant_table:
        max_frames = hv_domain_gnttab_max_frames(x.id);
        break;
    case XENMEM_resource_vmtrace_buf:
        return hc_not_simulated(h, XENMEM_acquire_resource);
    default:
        return -EOPNOTSUPP;
    }
    if (!x.frame_list.p) {
        if (x.nr_frames || start_extent) {
            return -EINVAL;
        }
        x.nr_frames = max_frames;
        return hc_to_user(h, h->arg[1] + offsetof(typeof(x), nr_frames),
                       &x.nr_frames, sizeof(x.nr_frames));
    }
    if (start_extent >= x.nr_frames || x.nr_frames > max_frames) {
        return -EINVAL;
    }
    if (x.type == XENMEM_resource_grant_table) {
        ret = hv_domain_gnttab_frames(x.id, x.frame + start_extent,
                                      x.nr_frames - start_extent, mfn);
    } else {
        ret = ioreq_server_frames(x.id, x.frame + start_extent,
                                  x.nr_frames - start_extent, mfn);
    }
    if (ret < 0) {
        return ret;
    }
    return hc_to_user(h, (uintptr_t)x.frame_list.p + start_extent *
                   sizeof(xen_pfn_t), mfn,
                   (x.nr_frames - start_extent) * sizeof(xen_pfn_t));
}

/* XENMEM_claim_pages: a reservation naming only a count. */
static long claim_pages(const HcCall *h)
{
    struct xen_memory_reservation r;
    long ret;

    if (hc_from_user(h, &r, h->arg[1], sizeof(r)) < 0) {
        return -EFAULT;
    }
    if (r.extent_start.p || r.extent_order != 0 || r.mem_flags != 0) {
        return -EINVAL;
    }
    ret = check_domid(r.domid);
    return ret < 0 ? ret : hv_domain_claim(r.nr_extents);
}

/* XENMEM_set_memory_map: the guest's e820, at most E820MAX entries. */
static long set_memory_map(const HcCall *h)
{
    struct xen_foreign_memory_map m;
    long ret;

    if (hc_from_user(h, &m, h->arg[1], sizeof(m)) < 0) {
        return -EFAULT;
    }
    if (m.map.nr_entries > HV_E820_MAX) {
        return -EINVAL;
    }
    ret = check_domid(m.domid);
    if (ret < 0) {
        return ret;
    }
    return hv_domain_set_e820(h, (uintptr_t)m.map.buffer.p,
                              m.map.nr_entries);
}

/* XENMEM_get_vnumainfo: no domain here has a vNUMA topology. */
static long get_vnumainfo(const HcCall *h, uint64_t start_extent)
{
    struct xen_vnuma_topology_info t;
    long ret;

    if (start_extent) {
        return -EINVAL;
    }
    if (hc_from_user(h, &t, h->arg[1], sizeof(t)) < 0) {
        return -EFAULT;
    }
    if (t.pad != 0) {
        return -EINVAL;
    }
    ret = check_domid(t.domid);
    return ret < 0 ? ret : -EOPNOTSUPP;
}

static long do_memory_op(const HcCall *h)
{
    uint64_t cmd = h->arg[0] & HV_MEMOP_CMD_MASK;
    uint64_t start_extent = h->arg[0] >> HV_MEMOP_EXTENT_SHIFT;

    switch (cmd) {
    case XENMEM_populate_physmap:
        return populate_physmap(h, start_extent);
    case XENMEM_add_to_physmap:
        return add_to_physmap(h);
    case XENMEM_acquire_resource:
        return acquire_resource(h, start_extent);
    case XENMEM_claim_pages:
        return claim_pages(h);
    case XENMEM_maximum_gpfn:
        return hv_domain_max_gpfn(h);
    case XENMEM_get_vnumainfo:
        return get_vnumainfo(h, start_extent);
    case XENMEM_get_sharing_freed_pages:
    case XENMEM_get_sharing_shared_pages:
        return 0;       /* Xen without CONFIG_MEM_SHARING (its default) */
    case XENMEM_set_memory_map:
        return set_memory_map(h);
    }
    return hc_not_simulated(h, cmd);
}

/* --- hvm_op, sched_op, event_channel_op, xen_version -------------------- */

static long do_hvm_op(const HcCall *h)
{
    struct xen_hvm_param p;
    long ret;

    if (h->arg[0] != HVMOP_set_param && h->arg[0] != HVMOP_get_param) {
        return hc_not_simulated(h, h->arg[0]);
    }
    ret = hc_from_user(h, &p, h->arg[1], sizeof(p));
    if (ret < 0) {
        return ret;
    }
    ret = check_domid(p.domid);
    if (ret < 0) {
        return ret;
    }
    if (p.index >= HVM_NR_PARAMS) {
        return -EINVAL;
    }
    if (h->arg[0] == HVMOP_get_param) {
        p.value = hv_dom->hvm_param[p.index];
        return hc_to_user(h, h->arg[1], &p, sizeof(p));
    }
    hv_dom->hvm_param[p.index] = p.value;
    hv_log("hvm param %u = %#llx", p.index, (unsigned long long)p.value);
    return 0;
}

static long do_sched_op(const HcCall *h)
{
    struct sched_remote_shutdown r;
    long ret;

    if (h->arg[0] != SCHEDOP_remote_shutdown) {
        return hc_not_simulated(h, h->arg[0]);
    }
    ret = hc_from_user(h, &r, h->arg[1], sizeof(r));
    if (ret < 0) {
        return ret;
    }
    ret = check_domid(r.domain_id);
    if (ret < 0) {
        return ret;
    }
    hv_dom->shutdown_reason = (uint8_t)r.reason;
    hv_dom->shutdown_count++;
    hv.cnt[HV_CNT_shutdowns]++;
    hv_domain_exception(false);
    hv.events++;
    pthread_cond_broadcast(&hv.cond);
    return 0;
}

/* evtchn_status(): a port of dom0 (the caller, DOMID_SELF) or of the
 * guest; ports outside the table EINVAL, free ones closed.  Every
 * channel notifies vCPU 0. */
static long evtchn_status(const HcCall *h)
{
    struct evtchn_status st;
    bool self;

    if (hc_from_user(h, &st, h->arg[1], sizeof(st)) < 0) {
        return -EFAULT;
    }
    self = st.dom == DOMID_SELF || st.dom == 0;
    if (!self && check_domid(st.dom) < 0) {
        return -ESRCH;
    }
    if (st.port >= HV_MAX_PORTS) {
        return -EINVAL;         /* port 0: reserved, reads as closed */
    }
    memset(&st.u, 0, sizeof(st.u));
    st.vcpu = 0;
    switch (self ? hv.lport[st.port].state : hv_dom->gport[st.port].state) {
    case HV_PORT_FREE:
        st.status = EVTCHNSTAT_closed;
        break;
    case HV_PORT_UNBOUND:
        st.status = EVTCHNSTAT_unbound;
        st.u.unbound.dom = self ? hv_dom->domid : 0;
        break;
    case HV_PORT_INTERDOMAIN:
        st.status = EVTCHNSTAT_interdomain;
        st.u.interdomain.dom = self ? hv_dom->domid : 0;
        st.u.interdomain.port = self ? hv.lport[st.port].peer
                                     : hv_dom->gport[st.port].peer;
        break;
    }
    return hc_to_user(h, h->arg[1], &st, sizeof(st));
}

static long do_event_channel_op(const HcCall *h)
{
    struct evtchn_alloc_unbound a;
    long ret;

    if (h->arg[0] == EVTCHNOP_status) {
        return evtchn_status(h);
    }
    if (h->arg[0] != EVTCHNOP_alloc_unbound) {
        return hc_not_simulated(h, h->arg[0]);
    }
    ret = hc_from_user(h, &a, h->arg[1], sizeof(a));
    if (ret < 0) {
        return ret;
    }
    /* A guest port for dom0 to bind (xenstore, console rings). */
    ret = check_domid(a.dom);
    if (ret < 0) {
        return ret;
    }
    if (a.remote_dom != 0) {
        return -ESRCH;
    }
    ret = hv_guest_port_alloc();
    if (ret < 0) {
        return ret;
    }
    a.port = ret;
    ret = hc_to_user(h, h->arg[1], &a, sizeof(a));
    if (ret < 0) {
        hv_guest_port_free(a.port);
    }
    return ret;
}

/* What xensim says of itself where Xen names its build. */
static long do_xen_version(const HcCall *h)
{
    xen_extraversion_t extra = HV_XEN_EXTRA;
    xen_compile_info_t ci = { .compiler = "xensim", .compile_by = "xensim",
                              .compile_domain = "xensim",
                              .compile_date = __DATE__ };
    xen_capabilities_info_t caps = "xen-3.0-x86_64 hvm-3.0-x86_32 "
                                   "hvm-3.0-x86_32p hvm-3.0-x86_64";
    xen_changeset_info_t cs = "xensim";
    xen_platform_parameters_t pp = { .virt_start = 0xffff800000000000ull };
    xen_commandline_t cmdline = "";

    switch (h->arg[0]) {
    case XENVER_version:
        return (HV_XEN_MAJOR << 16) | HV_XEN_MINOR;
    case XENVER_extraversion:
        return hc_to_user(h, h->arg[1], extra, sizeof(extra));
    case XENVER_compile_info:
        return hc_to_user(h, h->arg[1], &ci, sizeof(ci));
    case XENVER_capabilities:
        return hc_to_user(h, h->arg[1], caps, sizeof(caps));
    case XENVER_changeset:
        return hc_to_user(h, h->arg[1], cs, sizeof(cs));
    case XENVER_platform_parameters:
        return hc_to_user(h, h->arg[1], &pp, sizeof(pp));
    case XENVER_pagesize:
        return XENSIM_PAGE_SIZE;
    case XENVER_commandline:
        return hc_to_user(h, h->arg[1], cmdline, sizeof(cmdline));
    case XENVER_build_id:
        /* Checks of kernel.c; xensim has no build id: xen_build_id()'s
         * ENODATA. */
        if (h->arg[1]) {
            xen_build_id_t b;

            if (hc_from_user(h, &b, h->arg[1], sizeof(b)) < 0) {
                return -EFAULT;
            }
            if (b.len == 0) {
                return -EINVAL;
            }
        }
        return -ENODATA;
    }
    return hc_not_simulated(h, h->arg[0]);
}

/* --- domctl, sysctl ----------------------------------------------------- */

static long do_domctl(const HcCall *h)
{
    struct xen_domctl d;
    bool copyback;
    long ret;

    ret = hc_from_user(h, &d, h->arg[0], sizeof(d));
    if (ret < 0) {
        return ret;
    }
    if (d.interface_version != XEN_DOMCTL_INTERFACE_VERSION) {
        return -EACCES;
    }
    switch (d.cmd) {
    case XEN_DOMCTL_getdomaininfo:
        /* 4.17: the first domain whose id is >= the one asked for. */
        if (d.domain >= DOMID_FIRST_RESERVED) {
            return -EINVAL;
        }
        if (!hv_domain_list(d.domain, &d.u.getdomaininfo, 1)) {
            return -ESRCH;
        }
        d.domain = d.u.getdomaininfo.domain;
        return hc_to_user(h, h->arg[0], &d, sizeof(d));
    }
    /* copyback: on success, or the error fields set_cpu_policy fills. */
    ret = hv_domain_domctl(h, &d, &copyback);
    if (copyback && hc_to_user(h, h->arg[0], &d, sizeof(d)) < 0) {
        ret = -EFAULT;
    }
    return ret;
}

static long host_cpus(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    return cpus < 1 ? 1 : cpus;
}

/*
 * The simulated machine is this one: its online CPUs (one socket, one
 * thread per core, one node) and its memory; HVM with HAP.
 */
static void physinfo(struct xen_sysctl_physinfo *pi)
{
    long cpus = host_cpus();
    struct sysinfo si;

    memset(pi, 0, sizeof(*pi));
    pi->threads_per_core = 1;
    pi->cores_per_socket = cpus;
    pi->nr_cpus = cpus;
    pi->max_cpu_id = cpus - 1;
    pi->nr_nodes = 1;
    pi->max_node_id = 0;
    pi->capabilities = XEN_SYSCTL_PHYSCAP_hvm | XEN_SYSCTL_PHYSCAP_hap;
    if (sysinfo(&si) == 0) {
        pi->total_pages = (uint64_t)si.totalram * si.mem_unit /
                          XENSIM_PAGE_SIZE;
        pi->free_pages = (uint64_t)si.freeram * si.mem_unit /
                         XENSIM_PAGE_SIZE;
    }
    pi->max_mfn = pi->total_pages ? pi->total_pages - 1 : 0;
}

/* cpumask_to_xenctl_bitmap() of "every CPU": the bytes the caller's
 * bitmap has room for, the rest of it zeroed. */
static long cpumap_all(const HcCall *h, struct xenctl_bitmap *b)
{
    uint8_t bytes[64] = { 0 };
    long cpus = host_cpus(), i;
    uint32_t guest_bytes = (b->nr_bits + 7) / 8;
    uint32_t copy = MIN(guest_bytes, (uint32_t)(cpus + 7) / 8);

    for (i = 0; i < cpus && i < 512; i++) {
        bytes[i / 8] |= 1u << (i % 8);
    }
    if (guest_bytes == 0) {
        return 0;
    }
    copy = MIN(copy, sizeof(bytes));
    if (hc_to_user(h, (uintptr_t)b->bitmap.p, bytes, copy) < 0) {
        return -EFAULT;
    }
    for (i = copy; i < guest_bytes; i++) {
        if (hc_to_user(h, (uintptr_t)b->bitmap.p + i, "", 1) < 0) {
            return -EFAULT;
        }
    }
    return 0;
}

/* cpupool_do_sysctl(): one pool, 0, with every CPU and credit2. */
static long cpupool_op(const HcCall *h, struct xen_sysctl *s)
{
    struct xen_sysctl_cpupool_op *op = &s->u.cpupool_op;
    long ret;

    if (op->op != XEN_SYSCTL_CPUPOOL_OP_INFO) {
        return hc_not_simulated(h, XEN_SYSCTL_cpupool_op);
    }
    /* cpupool_get_next_by_id(): the first pool >= the id asked for. */
    if (op->cpupool_id > 0) {
        return -ENOENT;
    }
    op->cpupool_id = 0;
    op->sched_id = XEN_SCHEDULER_CREDIT2;
    op->n_dom = 1 + hv_domain_count();
    ret = cpumap_all(h, &op->cpumap);
    if (ret < 0) {
        return ret;
    }
    return hc_to_user(h, h->arg[0], s, sizeof(*s));
}

/* One node holding all memory and every CPU, distance 10 to itself. */
static long numainfo(const HcCall *h, struct xen_sysctl *s)
{
    struct xen_sysctl_numainfo *ni = &s->u.numainfo;
    struct xen_sysctl_physinfo pi;
    uint32_t i, nodes = 1;

    if (ni->meminfo.p || ni->distance.p) {
        struct xen_sysctl_meminfo mi;
        uint32_t dist = 10;

        nodes = MIN(nodes, ni->num_nodes);
        physinfo(&pi);
        mi.memsize = pi.total_pages * XENSIM_PAGE_SIZE;
        mi.memfree = pi.free_pages * XENSIM_PAGE_SIZE;
        for (i = 0; i < nodes; i++) {
            if (ni->meminfo.p &&
                hc_to_user(h, (uintptr_t)ni->meminfo.p + i * sizeof(mi),
                           &mi, sizeof(mi)) < 0) {
                return -EFAULT;
            }
            if (ni->distance.p &&
                hc_to_user(h, (uintptr_t)ni->distance.p, &dist,
                           sizeof(dist)) < 0) {
                return -EFAULT;
            }
        }
    }
    if (ni->num_nodes != nodes) {
        ni->num_nodes = nodes;
        return hc_to_user(h, h->arg[0], s, sizeof(*s));
    }
    return 0;
}

/* The CPUs as physinfo has them: core i of socket 0, node 0. */
static long cputopoinfo(const HcCall *h, struct xen_sysctl *s)
{
    struct xen_sysctl_cputopoinfo *ti = &s->u.cputopoinfo;
    uint32_t i, cpus = host_cpus();

    if (ti->cputopo.p) {
        cpus = MIN(cpus, ti->num_cpus);
        for (i = 0; i < cpus; i++) {
            struct xen_sysctl_cputopo t = { .core = i, .socket = 0,
                                            .node = 0 };

            if (hc_to_user(h, (uintptr_t)ti->cputopo.p + i * sizeof(t),
                           &t, sizeof(t)) < 0) {
                return -EFAULT;
            }
        }
    }
    if (ti->num_cpus != cpus) {
        ti->num_cpus = cpus;
        return hc_to_user(h, h->arg[0], s, sizeof(*s));
    }
    return 0;
}

static long do_sysctl(const HcCall *h)
{
    struct xen_sysctl s;
    struct xen_domctl_getdomaininfo info[HV_MAX_DOMAINS + 1];
    unsigned n;
    long ret;

    ret = hc_from_user(h, &s, h->arg[0], sizeof(s));
    if (ret < 0) {
        return ret;
    }
    if (s.interface_version != XEN_SYSCTL_INTERFACE_VERSION) {
        return -EACCES;
    }
    switch (s.cmd) {
    case XEN_SYSCTL_physinfo:
        physinfo(&s.u.physinfo);
        return hc_to_user(h, h->arg[0], &s, sizeof(s));
    case XEN_SYSCTL_sched_id:
        s.u.sched_id.sched_id = XEN_SCHEDULER_CREDIT2;     /* 4.17's */
        return hc_to_user(h, h->arg[0], &s, sizeof(s));
    case XEN_SYSCTL_cpupool_op:
        return cpupool_op(h, &s);
    case XEN_SYSCTL_get_cpu_featureset:
    case XEN_SYSCTL_get_cpu_policy:
        return hv_cpupolicy_sysctl(h, &s);
    case XEN_SYSCTL_numainfo:
        return numainfo(h, &s);
    case XEN_SYSCTL_cputopoinfo:
        return cputopoinfo(h, &s);
    case XEN_SYSCTL_getdomaininfolist:
        n = hv_domain_list(s.u.getdomaininfolist.first_domain, info,
                           MIN(s.u.getdomaininfolist.max_domains,
                               HV_MAX_DOMAINS + 1));
        ret = hc_to_user(h, (uintptr_t)s.u.getdomaininfolist.buffer.p,
                         info, n * sizeof(info[0]));
        if (ret < 0) {
            return ret;
        }
        s.u.getdomaininfolist.num_domains = n;
        return hc_to_user(h, h->arg[0], &s, sizeof(s));
    }
    return hc_not_simulated(h, s.cmd);
}

/* --- entry -------------------------------------------------------------- */

static long hc_dispatch(const HcCall *h);

/* Each entry executed in turn, its result stored back (multicall.c). */
static long do_multicall(const HcCall *h)
{
    multicall_entry_t e;
    uint64_t i, nr = h->arg[1];
    HcCall sub = *h;
    long ret;

    for (i = 0; i < nr; i++) {
        uint64_t at = h->arg[0] + i * sizeof(e);

        ret = hc_from_user(h, &e, at, sizeof(e));
        if (ret < 0) {
            return ret;
        }
        sub.op = e.op;
        memcpy(sub.arg, e.args, sizeof(sub.arg));
        e.result = e.op == __HYPERVISOR_multicall ? -EINVAL :
                   hc_dispatch(&sub);
        ret = hc_to_user(h, at + offsetof(multicall_entry_t, result),
                      &e.result, sizeof(e.result));
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

static long hc_dispatch(const HcCall *h)
{
    hv.cnt[HV_CNT_hypercalls]++;
    switch (h->op) {
    case __HYPERVISOR_dm_op:
        return do_dm_op(h);
    case __HYPERVISOR_memory_op:
        return do_memory_op(h);
    case __HYPERVISOR_multicall:
        return do_multicall(h);
    case __HYPERVISOR_hvm_op:
        return do_hvm_op(h);
    case __HYPERVISOR_sched_op:
        return do_sched_op(h);
    case __HYPERVISOR_event_channel_op:
        return do_event_channel_op(h);
    case __HYPERVISOR_xen_version:
        return do_xen_version(h);
    case __HYPERVISOR_domctl:
        return do_domctl(h);
    case __HYPERVISOR_sysctl:
        return do_sysctl(h);
    case __HYPERVISOR_xsm_op:
        /* Xen's dummy XSM module (no FLASK policy loaded) has no ops. */
        return -ENOSYS;
    }
    return hc_not_simulated(h, 0);
}

int hv_hypercall(HvClient *c, const XenSimMsg *req, const void *in,
                 XenSimMsg *rsp)
{
    const uint64_t *call = in;
    HcCall h = { .c = c, .pid = req->arg[0] };
    long ret;

    if (req->len != 6 * sizeof(uint64_t) || h.pid <= 0) {
        hv_bug("pid %d: malformed hypercall message", c->pid);
        return -EINVAL;
    }
    h.op = call[0];
    memcpy(h.arg, &call[1], sizeof(h.arg));
    ret = hc_dispatch(&h);
    if (ret < 0) {
        return ret;
    }
    rsp->arg[0] = ret;
    return 0;
}
