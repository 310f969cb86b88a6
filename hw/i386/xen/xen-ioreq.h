/*
 * Xen HVM ioreq server: the interface between its parts.
 *
 * An ioreq enters in xen-ioreq-server.c (an event channel fires, a
 * synchronous slot or the buffered ring is read into a local copy), is
 * checked and carried out in xen-ioreq-dispatch.c, and the response
 * leaves again from xen-ioreq-server.c.  xen-ioreq-listener.c tells Xen
 * which addresses, ports and PCI functions the server claims.  The
 * machine glue (xen-hvm.c) owns RAM, the physmap and shutdown.
 *
 * Everything here runs with the BQL held: in the main loop, or in the
 * "xen-ioreq" thread that reads the event channels (xen-ioreq-server.c).
 *
 * Copyright (c) 2026 Xen DM Developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_I386_XEN_IOREQ_H
#define HW_I386_XEN_IOREQ_H

#include "exec/memory.h"
#include "hw/pci/pci.h"
#include "hw/xen/xen_common.h"
#include <xen/hvm/ioreq.h>

/* Slots in the synchronous page: one ioreq_t per vCPU id. */
#define XEN_IOREQ_MAX_VCPUS (XC_PAGE_SIZE / sizeof(ioreq_t))

/*
 * Xen clips every rep to 4096 repetitions (hvmemul_linear_to_phys), so a
 * larger count never comes from Xen's emulator: it is refused, which
 * bounds the work one ioreq can make the main loop do.
 */
#define XEN_IOREQ_MAX_REPS 4096

typedef struct XenPciFunction {
    PCIDevice *dev;
    uint32_t sbdf;              /* as in a PCI_CONFIG ioreq's addr >> 32 */
    QLIST_ENTRY(XenPciFunction) next;
} XenPciFunction;

typedef struct XenIOReqStats {
    /* requests carried out, synchronous and buffered, by ioreq type */
    uint64_t pio, copy, pci_config, timeoffset, invalidate;
    uint64_t sync;              /* synchronous ioreqs answered */
    uint64_t buffered;          /* buffered entries carried out */
    uint64_t buffered_batches;  /* passes over the buffered ring */
    uint64_t rejected;          /* ioreqs or entries refused as malformed */
    uint64_t stale;             /* notified slots INPROCESS or invalid */
    uint64_t spurious;          /* events with nothing to serve */
    uint64_t wakeups;           /* event channel fd wakeups */
    uint64_t notifies;          /* responses notified to Xen */
} XenIOReqStats;

typedef struct XenIOReqServer {
    ioservid_t id;
    unsigned int nr_vcpus;              /* slots served: the max_cpus */
    shared_iopage_t *sync_page;
    buffered_iopage_t *buf_page;
    xenforeignmemory_resource_handle *fres; /* NULL: legacy gfn mappings */
    xenevtchn_handle *xce;
    QemuThread thread;                  /* reads xce, serves with the BQL */
    bool thread_started;
    bool exiting;                       /* the exit notifier ran */
    evtchn_port_t *vcpu_port;           /* local port of each vCPU slot */
    evtchn_port_t buf_port;             /* local port of the buffered ring */
    bool buf_masked;                    /* buffered port taken, not unmasked */
    bool serving;                       /* enabled, requests served */

    MemoryListener mem_listener;
    MemoryListener io_listener;
    DeviceListener dev_listener;
    QLIST_HEAD(, XenPciFunction) pci_functions;

    Notifier exit;
    XenIOReqStats stats;
} XenIOReqServer;

/* xen-ioreq-server.c */
XenIOReqServer *xen_ioreq_server_create(unsigned int max_cpus, Error **errp);
/* The server xen_ioreq_server_create() set up, or NULL. */
XenIOReqServer *xen_ioreq_server_current(void);

/* xen-ioreq-dispatch.c */

/*
 * Carry out @req, a local copy the caller owns (never the shared slot).
 * A request Xen cannot have sent is answered as absent hardware would:
 * a read returns all-ones, a write is dropped; it is logged
 * (LOG_GUEST_ERROR, rate-limited) and counted.  Returns false for those.
 */
bool xen_ioreq_dispatch(XenIOReqServer *s, ioreq_t *req);

/* Rate-limited LOG_GUEST_ERROR report of a malformed request or entry. */
void xen_ioreq_log_guest_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* xen-ioreq-listener.c */
void xen_ioreq_listeners_register(XenIOReqServer *s);
PCIDevice *xen_ioreq_find_pci_function(XenIOReqServer *s, uint32_t sbdf);

/* xen-hvm.c: the machine glue the ioreq server calls back */

/*
 * True when the section is guest memory Xen maps itself (main RAM, VRAM
 * relocated onto its BAR): Xen never forwards accesses there, so the
 * server must not claim it.
 */
bool xen_hvm_section_is_xen_memory(MemoryRegionSection *section);

/*
 * Before a synchronous response leaves: turn a pending guest poweroff or
 * reset into a request to Xen, so the toolstack sees it before the vCPU
 * runs on.
 */
void xen_hvm_route_shutdown_requests(void);

#endif /* HW_I386_XEN_IOREQ_H */
