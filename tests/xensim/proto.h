/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim transport: the one wire protocol between the replacement Xen
 * libraries (tests/xensim/lib/) and the simulated hypervisor (xensim-hv).
 *
 * Every library handle (xc_interface, xenforeignmemory_handle,
 * xendevicemodel_handle, xenevtchn_handle, xengnttab_handle) owns one
 * SOCK_STREAM connection to the Unix socket named by $XENSIM_SOCKET.
 * The first message on a connection is XENSIM_OP_HELLO naming the
 * library; everything after it is request/reply in strict order.
 *
 * Invariants:
 *  - A message is one XenSimMsg header followed by exactly hdr.len
 *    payload bytes.  Requests and replies use the same header.
 *  - Every request gets exactly one reply, except ops flagged
 *    XENSIM_OP_ONEWAY, which get none.  Replies arrive in request order.
 *  - A reply carries ret >= 0 on success; ret == -1 with err set to a
 *    positive errno value (Xen's convention for the library call) on
 *    failure.
 *  - File descriptors (guest memory memfd, ioreq page memfd, event
 *    channel socket) travel as SCM_RIGHTS ancillary data on the first
 *    byte of a reply header; hdr.nfds says how many.
 *  - Structures defined by Xen (struct xen_dm_op, ioreq_t, ...) are
 *    never redefined here: dm_op payloads are the Xen structures from
 *    libxen-dev's headers, byte for byte.
 */
#ifndef XENSIM_PROTO_H
#define XENSIM_PROTO_H

#include <stdint.h>

/* Environment variable naming the hypervisor's socket. */
#define XENSIM_SOCKET_ENV       "XENSIM_SOCKET"

/* Upper bound for one payload; larger requests are refused (E2BIG). */
#define XENSIM_MAX_PAYLOAD      (64u << 20)

/* At most this many fds ride on one reply. */
#define XENSIM_MAX_FDS          2

#define XENSIM_PAGE_SHIFT       12
#define XENSIM_PAGE_SIZE        (1u << XENSIM_PAGE_SHIFT)

typedef struct XenSimMsg {
    uint32_t op;        /* XENSIM_OP_*, echoed in the reply */
    uint32_t len;       /* payload bytes following this header */
    int32_t ret;        /* reply: result, -1 on failure */
    int32_t err;        /* reply: errno when ret == -1 */
    uint32_t nfds;      /* reply: fds attached as SCM_RIGHTS */
    uint32_t flags;     /* XENSIM_OP_ONEWAY on requests that get no reply */
    uint64_t arg[6];    /* op-specific arguments / results */
} XenSimMsg;

#define XENSIM_OP_ONEWAY        1u

/* Which library opened the connection (XENSIM_OP_HELLO arg[0]). */
typedef enum XenSimLib {
    XENSIM_LIB_CTRL = 1,
    XENSIM_LIB_FMEM = 2,
    XENSIM_LIB_DM = 3,
    XENSIM_LIB_EVTCHN = 4,
    XENSIM_LIB_GNTTAB = 5,
    /* The devxen shim's /dev/xen/privcmd file (shim/): as FMEM, the
     * HELLO reply carries the guest memory memfd (machine memory). */
    XENSIM_LIB_PRIVCMD = 6,
} XenSimLib;

/*
 * Operations.  "in:" lists request arguments, "out:" reply fields.
 * Domain ids are always checked: a domid other than the simulated guest's
 * fails with ESRCH, as Xen does for a domain that does not exist.
 */
typedef enum XenSimOp {
    /*
     * in: arg0 XenSimLib, arg1 caller pid.
     * out: arg0 guest domid, arg1 guest vCPU count, arg2 page size.
     * The XENSIM_LIB_FMEM reply carries the guest memory memfd; the
     * XENSIM_LIB_EVTCHN reply carries the handle's event socket: it is
     * readable exactly while a port is pending and each read of 4 bytes
     * returns one pending local port (as /dev/xen/evtchn does).
     */
    XENSIM_OP_HELLO = 1,

    /* A library call the simulator does not implement.  in: payload =
     * function name (NUL-terminated).  out: ret -1, err ENOSYS or as the
     * simulator decides.  Counted and logged. */
    XENSIM_OP_UNSUPPORTED = 2,

    /* Device-model bug detected on the library side (e.g. unmap of an
     * address never mapped).  ONEWAY.  payload = text. */
    XENSIM_OP_REPORT = 3,

    /* --- libxenctrl ---------------------------------------------------- */
    /* in: arg0 domid, arg1 nr_extents, arg2 extent_order, arg3 mem_flags;
     * payload xen_pfn_t[nr_extents].  out: ret 0. */
    XENSIM_OP_POPULATE_PHYSMAP = 10,
    /* in: arg0 domid, arg1 param.  out: arg0 value. */
    XENSIM_OP_GET_HVM_PARAM = 11,
    /* in: arg0 domid, arg1 param, arg2 value. */
    XENSIM_OP_SET_HVM_PARAM = 12,
    /* in: arg0 domid, arg1 SHUTDOWN_* reason. */
    XENSIM_OP_DOMAIN_SHUTDOWN = 13,

    /* --- libxenforeignmemory ------------------------------------------- */
    /*
     * in: arg0 domid, arg1 prot, arg2 nr; payload uint64_t gfn[nr].
     * out: ret = pages that can be mapped; payload int64_t slot[nr]: the
     * byte offset of the page in the guest memory memfd, or -errno for a
     * page the guest does not have (EINVAL, as Xen for an unpopulated
     * gfn).  ret -1 fails the whole map (bad arguments, injected fault).
     */
    XENSIM_OP_FMEM_MAP = 20,
    /* ONEWAY.  in: arg0 address, arg1 pages, arg2 how (0 =
     * xenforeignmemory_unmap, 1 = plain munmap of a foreign mapping). */
    XENSIM_OP_FMEM_UNMAP = 21,
    /*
     * in: arg0 domid, arg1 type, arg2 id, arg3 frame, arg4 nr_frames.
     * out: arg0 byte offset of the first frame in the attached memfd
     * (the guest memory memfd; ioreq pages live there outside the p2m).
     * nr_frames == 0 is a size query: out arg1 = frames, no fd.
     * Only XENMEM_resource_ioreq_server is known (else EOPNOTSUPP).
     */
    XENSIM_OP_FMEM_MAP_RESOURCE = 22,
    /* ONEWAY.  in: arg0 address, arg1 nr_frames. */
    XENSIM_OP_FMEM_UNMAP_RESOURCE = 23,

    /* --- libxendevicemodel --------------------------------------------- */
    /*
     * in: arg0 domid, arg1 bytes of extra input after the dm_op,
     * arg2 bytes of extra output wanted; payload struct xen_dm_op then
     * the extra input (modified_memory extents).  out: payload struct
     * xen_dm_op (with its OUT fields) then the extra output
     * (track_dirty_vram bitmap).
     */
    XENSIM_OP_DM_OP = 30,

    /* --- libxenevtchn -------------------------------------------------- */
    /* in: arg0 domid, arg1 remote port.  out: ret local port. */
    XENSIM_OP_EVTCHN_BIND_INTERDOMAIN = 40,
    /* in: arg0 domid.  out: ret local port. */
    XENSIM_OP_EVTCHN_BIND_UNBOUND = 41,
    /* in: arg0 virq.  out: ret local port. */
    XENSIM_OP_EVTCHN_BIND_VIRQ = 42,
    /* in: arg0 local port. */
    XENSIM_OP_EVTCHN_UNBIND = 43,
    /* in: arg0 local port.  Sent ONEWAY for ports the handle has bound
     * (cannot fail on Xen), as a request otherwise (EINVAL). */
    XENSIM_OP_EVTCHN_NOTIFY = 44,
    /* ONEWAY.  in: arg0 local port. */
    XENSIM_OP_EVTCHN_UNMASK = 45,

    /* --- libxengnttab -------------------------------------------------- */
    /* in: arg0 count of segments (payload: xengnttab_grant_copy_segment_t
     * [count]).  out: payload int16_t status[count]. */
    XENSIM_OP_GNTTAB_GRANT_COPY = 50,
    /* in: arg0 domid, arg1 count; payload uint32_t ref[count]. */
    XENSIM_OP_GNTTAB_MAP = 51,

    /* --- the devxen shim (simulated Linux /dev/xen, shim/) ------------- */
    /*
     * One hypercall as IOCTL_PRIVCMD_HYPERCALL issues it.  in: arg0 the
     * calling process's pid; payload uint64_t[6] = op, arg1..arg5.  The
     * hv reads and writes the buffers and guest handles the arguments
     * point to in that process (process_vm_readv/writev), as Xen copies
     * from and to dom0; a bad pointer fails with EFAULT.  out: ret 0 and
     * arg0 = the hypercall's (long) result, or ret -1 and err = -result.
     * Unimplemented hypercalls and sub-ops fail with ENOSYS and are
     * counted (hv/hypercall.c).
     */
    XENSIM_OP_HYPERCALL = 60,
} XenSimOp;

#endif /* XENSIM_PROTO_H */
