/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim hostile-ioreq injection: the C API for writing what Xen would
 * never write into an ioreq server's shared pages (for device-model
 * hardening tests and fuzzers linked into xensim-hv; the control socket's
 * injection commands are a thin shell over it, see ../README.md).
 *
 * Unlike vcpu.h, nothing here routes or validates: the caller names the
 * ioreq server and vCPU slot, and every field is written as given.  A
 * device model that mishandles what it gets is not a "DM BUG" here; the
 * caller judges it (the batch functions end with a liveness verdict).
 *
 * Invariants:
 *  - Functions that wait for an answer hold the vCPU's access lock, so
 *    they never interleave with an ordinary access on the same vCPU;
 *    the field pokes (xensim_slot_set, ring writes, notifies) take only
 *    hv.lock and so may run while a request of that vCPU is in flight
 *    (that is how a slot is changed under the device model).
 *  - All functions return 0 (or a count) or a negative errno; none of
 *    them exits.  A request that times out stays in its slot as the
 *    device model left it; the next ordinary access on that vCPU reports
 *    what it finds there.
 */
#ifndef XENSIM_INJECT_H
#define XENSIM_INJECT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <xen/xen.h>
#include <xen/hvm/ioreq.h>

/* Fields of an ioreq_t slot, by name ("addr", "data", "count", "size",
 * "vp_eport", "pad" (_pad0), "pad1", "state", "data_is_ptr", "dir",
 * "df", "type", "flags" = the whole bitfield byte). */
typedef enum XenSimSlotField {
    XENSIM_SLOT_ADDR, XENSIM_SLOT_DATA, XENSIM_SLOT_COUNT,
    XENSIM_SLOT_SIZE, XENSIM_SLOT_VP_EPORT, XENSIM_SLOT_PAD,
    XENSIM_SLOT_PAD1, XENSIM_SLOT_STATE, XENSIM_SLOT_DATA_IS_PTR,
    XENSIM_SLOT_DIR, XENSIM_SLOT_DF, XENSIM_SLOT_TYPE, XENSIM_SLOT_FLAGS,
    XENSIM_SLOT_NR_FIELDS
} XenSimSlotField;

/* -1 if name is not a field. */
int xensim_slot_field(const char *name);
const char *xensim_slot_field_name(XenSimSlotField f);

/* Write/read one field of cpu's slot in server id (enabled or not). */
int xensim_slot_set(uint16_t id, unsigned cpu, XenSimSlotField f,
                    uint64_t val);
/* slot_get also gives, if notified is not NULL, the notifies the device
 * model has sent so far on cpu's ioreq port of server id (which port
 * answered whom: one port per vCPU). */
int xensim_slot_get(uint16_t id, unsigned cpu, ioreq_t *out,
                    uint64_t *notified);

/* One hostile request. */
typedef struct XenSimInjection {
    uint16_t server;
    unsigned cpu;
    ioreq_t req;            /* every field written as given, state too
                             * (STATE_IOREQ_READY for an ordinary one) */
    bool no_notify;         /* write the slot but do not raise the port */
    bool allow_disabled;    /* send to a server that is not enabled */
    int timeout_ms;         /* 0: the hv's --timeout-ms */
    bool race;              /* once the DM picked the request up
                             * (state left READY), write race_field */
    XenSimSlotField race_field;
    uint64_t race_val;
} XenSimInjection;

/* How an injection ended. */
typedef enum XenSimOutcome {
    XENSIM_ANSWERED,        /* IORESP_READY and notified */
    XENSIM_TIMED_OUT,       /* no notified answer in time */
    XENSIM_SLOT_BUSY,       /* slot not idle when the request was due */
    XENSIM_BAD_STATE,       /* DM left a state other than IORESP_READY */
    XENSIM_NO_SERVER,
} XenSimOutcome;

/* Send *inj and wait for the answer; *data gets the slot's data.
 * Returns the outcome (>= 0) or -EINVAL for a bad cpu. */
int xensim_inject(const XenSimInjection *inj, uint64_t *data);

/* Raise cpu's ioreq event channel of server id (no request written). */
int xensim_notify_vcpu(uint16_t id, unsigned cpu);
/* Raise the buffered-ring event channel of server id. */
int xensim_notify_buffered(uint16_t id);

/* Raw buffered ring: slot index (mod IOREQ_BUFFER_SLOT_NUM) gets the
 * 8 bytes of a buf_ioreq_t; the pointer pair is written in one store. */
int xensim_bufring_set_slot(uint16_t id, uint32_t index, uint64_t raw);
int xensim_bufring_set_ptrs(uint16_t id, uint32_t rp, uint32_t wp);
int xensim_bufring_get_ptrs(uint16_t id, uint32_t *rp, uint32_t *wp);

/* Canned hostile ring states, each written then notified:
 *  "lone-half"   the first half of an 8-byte entry as the last one
 *  "rp-ahead"    read pointer one past the write pointer
 *  "gap"         write pointer a ring and a half past the read pointer
 *  "bad-type"    an entry of unknown type 0x7f
 *  "wrap"        a valid pair of entries straddling the 32-bit wrap
 *  "empty"       nothing in the ring (rp == wp), notify only */
int xensim_bufring_scenario(uint16_t id, const char *name);

/* Liveness after hostile input: the server's owner is alive and the
 * server answers an ordinary read (config read of its first PCI device,
 * else a byte read of its first port or MMIO range) on cpu. */
typedef struct XenSimVerdict {
    bool alive, answering;
    unsigned sent, answered, timed_out, refused;
} XenSimVerdict;
void xensim_liveness(uint16_t id, unsigned cpu, int timeout_ms,
                     XenSimVerdict *v);

/* Parse one request spec "key=value[,key=value...]" (also separated by
 * blanks) into *inj; keys: server cpu type addr data size count dir df
 * ptr pad pad1 state vp_eport notify disabled timeout race=FIELD:VALUE.
 * Unset fields keep their value in *inj.  -EINVAL on a bad spec. */
int xensim_parse_injection(const char *spec, XenSimInjection *inj);
/* The canonical spec of *inj (replay-log line), into buf. */
void xensim_format_injection(const XenSimInjection *inj, char *buf,
                             size_t len);

/*
 * Batches, each request bounded by its timeout, each ending with
 * xensim_liveness().  A batch stops at the first request that times out
 * (the vCPU is stuck, as it would be on Xen).  If log is non-NULL every
 * request is written to it (flushed) before it is sent, so a log replays
 * through xensim_batch_file().
 *  - xensim_batch_random: n requests generated from seed, aimed at
 *    *tmpl's server and cpu: mostly at the ranges it claims, with
 *    random types, sizes, counts, flags, pads and data.
 *  - xensim_batch_file: one spec per line (blank and '#' lines skipped,
 *    an optional leading "ioreq" word ignored), fields not given taken
 *    from *tmpl.
 */
int xensim_batch_random(uint64_t seed, unsigned n,
                        const XenSimInjection *tmpl, FILE *log,
                        XenSimVerdict *v);
int xensim_batch_file(FILE *in, const XenSimInjection *tmpl, FILE *log,
                      XenSimVerdict *v);
int xensim_batch_specs(char **specs, int nr, const XenSimInjection *tmpl,
                       FILE *log, XenSimVerdict *v);

#endif /* XENSIM_INJECT_H */
