/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim-hv internals: the state of the simulated hypervisor (Hv, the
 * machine) and of the guest domains it runs (HvDom, at most
 * HV_MAX_DOMAINS at once, so a migration to the same host has its
 * source and its destination alive together).
 *
 * Threads: the server thread (server.c) answers the libraries; each
 * control connection has its own thread; vCPU calls (vcpu.h) come from
 * those or from the qtest bridge.  All state below is guarded by
 * hv.lock; hv.cond is broadcast whenever something a vCPU may be waiting
 * for changes (a notify from the device model, an interrupt line).
 *
 * Invariants:
 *  - Each domain's p2m is a sorted list of non-overlapping extents; each
 *    maps a gfn run to a run of the one machine-memory memfd.  A gfn maps
 *    at most one memfd page; a memfd page backs at most one gfn of one
 *    domain.
 *  - A domain's guest-side ports and dom0-side ports are linked both ways
 *    or not at all (the dom0 port names the domain); a dom0 port is owned
 *    by exactly one library connection.
 *  - A thread touches a domain only through hv_dom, chosen under hv.lock
 *    for the request or command at hand.
 *  - Nothing the device model sends may terminate the process: bad
 *    requests get Xen's error and a report on stderr (hv_bug()).
 */
#ifndef XENSIM_HV_H
#define XENSIM_HV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <xenctrl.h>
#include <xen/hvm/ioreq.h>
#include <xen/hvm/params.h>

#include "../proto.h"

#define HV_MAX_VCPUS        (XENSIM_PAGE_SIZE / sizeof(ioreq_t))
#define HV_MAX_SERVERS      8       /* Xen's MAX_NR_IOREQ_SERVERS */
#define HV_MAX_RANGES       256     /* Xen's MAX_NR_IO_RANGES, per type */
#define HV_MAX_PORTS        1024
#define HV_NR_GSIS          48
#define HV_LOWMEM_END       0xF0000000ull
#define HV_HIGHMEM_START    0x100000000ull
#define HV_VGA_HOLE_START   0xA0ull     /* gfn */
#define HV_VGA_HOLE_END     0xC0ull     /* gfn, exclusive */
/* libxl's ioreq server gfn pool (HVM_PARAM_IOREQ_SERVER_PFN): 8 pages
 * below the special pages at 0xfeff8. */
#define HV_IOREQ_GFN_POOL   0xfeff0ull
#define HV_IOREQ_GFN_PAGES  8

/* --- counters ----------------------------------------------------------- */

#define HV_COUNTERS(X) \
    X(fmem_maps) X(fmem_map_pages) X(fmem_map_page_errors) \
    X(fmem_map_failures) X(fmem_unmaps) X(resource_maps) \
    X(resource_unmaps) X(populate_pages) X(ioreq_pio) X(ioreq_copy) \
    X(ioreq_pci_config) X(ioreq_invalidate) X(ioreq_timeoffset) \
    X(ioreq_buffered) X(ioreq_unclaimed) X(ioreq_timeouts) \
    X(ioreq_unnotified) \
    /* ioreq.c: servers whose device model exited without destroying */ \
    X(ioreq_servers_orphaned) \
    X(notify_to_dm) X(notify_from_dm) X(dm_ops) X(dm_op_errors) \
    X(isa_irq_changes) X(pci_intx_changes) X(link_routes) X(msis) \
    X(evtchn_binds) X(unsupported_calls) X(dm_bugs) X(shutdowns) \
    X(pages_revoked) X(revoked_checks) \
    /* xendev.c (accesses Xen's own devices took) */ \
    X(xen_internal_io) \
    /* hypercall.c (the devxen shim's hypercalls) */ \
    X(hypercalls) X(hypercalls_enosys)

typedef enum HvCounter {
#define HV_COUNTER_ENUM(n) HV_CNT_##n,
    HV_COUNTERS(HV_COUNTER_ENUM)
#undef HV_COUNTER_ENUM
    HV_CNT_MAX
} HvCounter;

extern const char *const hv_counter_names[HV_CNT_MAX];

/* --- event channels ----------------------------------------------------- */

typedef struct HvClient HvClient;
typedef struct HvDom HvDom;

typedef enum HvPortState {
    HV_PORT_FREE = 0,
    HV_PORT_UNBOUND,        /* allocated, waiting for the other end */
    HV_PORT_INTERDOMAIN,    /* linked to a port of the other space */
} HvPortState;

/* A port in the guest's space (the Xen side of ioreq channels). */
typedef struct HvGuestPort {
    HvPortState state;
    uint32_t peer;          /* dom0 port when INTERDOMAIN */
    uint64_t notified;      /* notifies from dom0 so far */
    uint64_t answered;      /* ioreq responses taken on this port */
} HvGuestPort;

/* A port in dom0's space, bound through some xenevtchn handle. */
typedef struct HvDom0Port {
    HvPortState state;
    uint32_t peer;          /* guest port when INTERDOMAIN */
    HvDom *peer_dom;        /* its domain when INTERDOMAIN */
    HvClient *owner;
    bool masked;            /* delivered and not yet unmasked */
    bool pending;           /* raised while masked */
} HvDom0Port;

/* --- ioreq servers ------------------------------------------------------ */

typedef struct HvRange {
    uint64_t start, end;    /* inclusive */
} HvRange;

typedef struct HvRangeSet {
    HvRange r[HV_MAX_RANGES];
    unsigned nr;
} HvRangeSet;

typedef struct HvIoreqServer {
    bool used, enabled;
    uint16_t id;
    uint8_t bufioreq_handling;  /* HVM_IOREQSRV_BUFIOREQ_* */
    HvClient *owner;            /* NULL once its creator went away */
    bool orphaned;              /* creator exited without destroying it */
    uint64_t pages_off;         /* in the guest memfd: buffered, sync */
    buffered_iopage_t *buf;
    shared_iopage_t *shared;
    bool resource_mapped;       /* pages acquired by map_resource */
    uint64_t gfn[2];            /* legacy gfns (sync, buffered); 0 none */
    uint32_t vcpu_port[HV_MAX_VCPUS];
    uint32_t buf_port;
    HvRangeSet range[3];        /* XEN_DMOP_IO_RANGE_{PORT,MEMORY,PCI} */
} HvIoreqServer;

/* --- memory ------------------------------------------------------------- */

typedef struct HvExtent {
    uint64_t gfn, nr;
    uint64_t off;               /* byte offset in the memfd */
} HvExtent;

/* A page taken from the guest (balloon); poisoned to catch stale maps. */
typedef struct HvRevoked {
    uint64_t gfn;               /* where it was */
    uint64_t off;               /* memfd offset, never reused */
} HvRevoked;

typedef struct HvMemType {
    uint64_t gfn, nr;
    uint16_t type;              /* HVMMEM_* other than ram_rw */
} HvMemType;

/* --- the hypervisor ----------------------------------------------------- */

/* Domains alive at once: a migration to the same host needs two. */
#define HV_MAX_DOMAINS      4

/* One guest domain: what Xen keeps in its struct domain. */
struct HvDom {
    unsigned slot;              /* index in hv.doms[], for per-file state */
    bool used;                  /* created and not yet destroyed */
    uint64_t seq;               /* creation order */

    /* configuration */
    uint32_t domid;
    unsigned nr_vcpus;
    uint64_t memory_mib;

    /* memory */
    HvExtent *p2m;
    unsigned p2m_len, p2m_cap;
    HvMemType *memtype;
    unsigned memtype_len, memtype_cap;
    uint64_t dirty_first, dirty_nr;     /* track_dirty_vram's range */
    uint8_t *dirty_bits;
    /* log-dirty of the whole domain (XEN_DOMCTL_SHADOW_OP_*): one bit
     * per gfn in [0, logdirty_pages); NULL when off */
    uint8_t *logdirty_bits;
    uint64_t logdirty_pages, logdirty_count;
    /* Xen's per-vCPU mapcache_invalidate: set by p2m removals, sent by
     * each vCPU before its next access. */
    bool invalidate_pending[HV_MAX_VCPUS];
    bool creation_finished;             /* a vCPU has run (unpaused) */
    uint64_t repopulated_pages;         /* populated twice, for the log */
    HvRevoked *revoked;
    unsigned revoked_len, revoked_cap;
    unsigned revoked_armed;             /* [0, armed) poisoned, watched */
    unsigned revoked_cursor;            /* next to check */

    /* ioreq */
    HvIoreqServer server[HV_MAX_SERVERS];
    uint32_t pci_cf8;

    /* event channels in the guest's space, index 0 never used */
    HvGuestPort gport[HV_MAX_PORTS];

    /* interrupts */
    uint8_t isa_level[16];
    uint8_t intx_level[32][4];
    uint8_t link_route[4];
    uint8_t gsi_level[HV_NR_GSIS];      /* from set_irq_level */
    uint64_t msi_count;
    uint64_t msi_last_addr;
    uint32_t msi_last_data;

    /* the control's `waitmap`: a foreign map of a gfn >= watch_gfn (0:
     * not watching) records the mapper's pid */
    uint64_t watch_gfn;
    int watch_pid;

    /* domain state */
    uint64_t hvm_param[HVM_NR_PARAMS];
    int shutdown_reason;                /* -1 none */
    uint64_t shutdown_count;
};

/* The machine: what is shared by every domain. */
typedef struct Hv {
    pthread_mutex_t lock;
    pthread_cond_t cond;

    /* configuration */
    int timeout_ms;
    bool quiet;

    /* machine memory: every domain's pages are in this one memfd */
    int memfd;
    uint64_t memfd_size;        /* bytes, sparse */
    uint64_t memfd_top;         /* next free offset for populate */

    /* event channels in dom0's space, index 0 never used */
    HvDom0Port lport[HV_MAX_PORTS];
    uint64_t events;                    /* bumps on every broadcast */

    /* fault injection */
    uint64_t fault_map_fail_in;         /* 0 off, else countdown */
    uint64_t fault_evtchn_fail_in;
    uint64_t fault_page_error_gfn;      /* ~0 off */
    int fault_slow_ms;
    bool fault_no_resource;             /* map_resource: EOPNOTSUPP */

    uint64_t cnt[HV_CNT_MAX];

    HvDom doms[HV_MAX_DOMAINS];
} Hv;

extern Hv hv;

/*
 * The domain this thread's current request is about (Xen's target
 * domain): chosen by hv_domain_check() from a request's domid, by
 * hv_domain_select() for a control command, never NULL (a placeholder
 * that is no domain when none exists).  Thread-local; what it points to
 * is guarded by hv.lock.
 */
extern __thread HvDom *hv_dom;

/* log.c */
void hv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hv_bug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hv_print_counters(FILE *f);

/* mem.c; callers hold hv.lock */
int hv_mem_init(uint64_t mib);
int64_t hv_p2m_lookup(uint64_t gfn);        /* memfd offset or -1 */
int hv_populate(uint64_t gfn, uint64_t nr);
int hv_relocate(uint64_t src, uint64_t dst, uint64_t nr);
int hv_decrease_reservation(uint64_t gfn, uint64_t nr);
int64_t hv_mem_alloc(uint64_t pages);       /* zeroed, outside the p2m */
void *hv_mem_ptr(uint64_t off);
int hv_p2m_set(uint64_t gfn, uint64_t off); /* map one gfn */
void hv_p2m_clear(uint64_t gfn);
void hv_check_revoked(void);            /* a few pages, in turn */
void hv_check_revoked_all(void);
void hv_arm_revoked(void);
void hv_request_invalidate(void);      /* a foreign p2m removal */
int hv_set_mem_type(uint64_t gfn, uint64_t nr, uint16_t type);
uint16_t hv_mem_type(uint64_t gfn);
void *hv_gfn_ptr(uint64_t gfn);             /* hv's own view, or NULL */
void hv_mark_dirty(uint64_t gfn);           /* VRAM tracking and log */
/* domain-save.c: the domain's log-dirty (SHADOW_OP), hv.lock held */
bool hv_logdirty_on(void);
void hv_logdirty_mark(uint64_t gfn);

/* evtchn.c; callers hold hv.lock */
int hv_guest_port_alloc(void);              /* unbound, remote dom0 */
void hv_guest_port_free(uint32_t port);
void hv_guest_send(uint32_t gport);         /* guest -> dom0 */
int hv_evtchn_bind_interdomain(HvClient *c, uint32_t domid, uint32_t rport);
int hv_evtchn_bind_unbound(HvClient *c, uint32_t domid);
int hv_evtchn_unbind(HvClient *c, uint32_t lport);
int hv_evtchn_notify(HvClient *c, uint32_t lport);
void hv_evtchn_unmask(HvClient *c, uint32_t lport);
void hv_evtchn_client_gone(HvClient *c);

/* ioreq.c; callers hold hv.lock */
HvIoreqServer *hv_server_find(uint16_t id);
int hv_server_create(HvClient *owner, uint8_t handle_bufioreq);
int hv_server_destroy(uint16_t id);
int hv_server_set_state(uint16_t id, bool enabled);
int hv_server_legacy_gfns(uint16_t id, uint64_t *ioreq_gfn,
                          uint64_t *bufioreq_gfn);
int hv_server_map_range(uint16_t id, uint32_t type, uint64_t s, uint64_t e);
int hv_server_unmap_range(uint16_t id, uint32_t type, uint64_t s,
                          uint64_t e);
void hv_server_client_gone(HvClient *c);
HvIoreqServer *hv_server_select(uint8_t type, uint64_t addr, uint64_t len);

/* dmop.c; caller holds hv.lock.  Returns 0 or -errno. */
int hv_dm_op(HvClient *c, void *op, size_t oplen, const void *in,
             size_t inlen, void *out, size_t outlen);

/* hypercall.c; caller holds hv.lock.  XENSIM_OP_HYPERCALL: 0 (result
 * in rsp->arg[0]) or -errno. */
int hv_hypercall(HvClient *c, const XenSimMsg *req, const void *in,
                 XenSimMsg *rsp);
void hv_hypercall_print_enosys(FILE *f);

/* domain.c: --toolstack starts without a domain (see domain.c) */
void hv_domain_init(bool toolstack, uint32_t domid, unsigned vcpus,
                    uint64_t memory_mib);
/* Whether domid names a domain (0, and it becomes the thread's hv_dom)
 * or not (-ESRCH, hv_dom unchanged); hv.lock held. */
int hv_domain_check(uint64_t domid);
/* The domain of that id, or NULL; hv.lock held. */
HvDom *hv_domain_find(uint64_t domid);
/* hv_dom for a control command (domain.c says which); hv.lock held. */
void hv_domain_select(uint32_t pinned);
/* Xen's VIRQ_DOM_EXC: the domain shut down or died; xenstored (at
 * XENSTORED_PATH, if set) fires @releaseDomain.  hv.lock held. */
void hv_domain_exception(bool dead);

/* vcpu.c */
int hv_vcpu_init(void);
/* The ioreq_t bitfield byte (state:4, data_is_ptr, dir, df) of a slot. */
volatile uint8_t *hv_slot_flags(ioreq_t *slot);
/* A CLOCK_REALTIME deadline us from now, for hv.cond waits. */
struct timespec;
void hv_deadline_us(struct timespec *ts, long us);
/* guestmem.c: guest RAM at gpa (-EFAULT if a page is not RAM); hv.lock
 * held */
int hv_ram_rw_locked(uint64_t gpa, void *buf, size_t len, bool is_write);
/* A vCPU's access lock: one access in flight per vCPU; taken before
 * hv.lock, never while holding it. */
void hv_vcpu_lock(unsigned cpu);
void hv_vcpu_unlock(unsigned cpu);

/* irqlog.c (irqlog.h); hv.lock held */
void hv_irqlog_lines_changed(void);
void hv_irqlog_msi(uint64_t addr, uint32_t data);
/* xendev.c: Xen 4.17's internal devices take the access (true: done,
 * *val has a read's result) before any ioreq server; hv.lock held */
bool hv_xendev_access_locked(unsigned cpu, uint8_t type, uint64_t addr,
                             unsigned size, bool is_write, uint64_t *val);
/* A new domain's devices (xendev.c) and ioreq-memory server (dmop.c)
 * start afresh; hv.lock held. */
void hv_xendev_domain_reset(void);
/* XEN_DOMCTL_SENDTRIGGER_POWER/SLEEP: hvm_acpi_power_button() and
 * hvm_acpi_sleep_button() (PM1a_STS, then the SCI); hv.lock held */
void hv_xendev_acpi_button(bool sleep);
void hv_dmop_domain_reset(void);
/* irq.c: a GSI's level from everything the DM drives; hv.lock held */
int hv_gsi_level_locked(unsigned gsi);

/* control-inject.c: the injection commands; -ENOSYS if arg[0] is not
 * one of them. */
int hv_inject_command(FILE *out, unsigned cpu, char **arg, int argc);

/* control.c */
void *hv_control_session(void *fdp);

/* server.c */
struct HvClient {
    int fd;
    int event_sock;             /* hv end of an evtchn handle's socket */
    XenSimLib lib;
    int pid;
    bool dead;
};
int hv_serve(const char *socket_path, const char *control_path);
void hv_request_exit(void);

#endif /* XENSIM_HV_H */
