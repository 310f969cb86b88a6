/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim vCPU API: the guest side of the simulated hypervisor, callable
 * from any thread inside the xensim-hv process (the control socket uses
 * it; so does the qtest bridge).
 *
 * A call behaves like one trapped guest instruction on Xen: the access
 * is routed to the ioreq server that claimed it (PIO range, MMIO range,
 * or PCI SBDF after the CF8 latch), sent as a synchronous ioreq on the
 * vCPU's slot, and the call blocks until the device model has answered
 * (STATE_IORESP_READY) or the response timeout passes.  Unclaimed reads
 * return all-ones, unclaimed writes are dropped; RAM accesses go straight
 * to guest memory.
 *
 * Invariants:
 *  - At most one access is in flight per vCPU; calls on the same vCPU
 *    from several threads are serialised.
 *  - Every function returns 0 (or a non-negative count) on success and a
 *    negative errno on failure; none of them exits or aborts.
 *  - A pending mapcache invalidation (p2m change) is broadcast before the
 *    next access, as Xen does on the way back into the guest.
 */
#ifndef XENSIM_VCPU_H
#define XENSIM_VCPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/hvm/ioreq.h>

/* Port I/O of size 1, 2 or 4.  *val is the value written or read. */
int xensim_pio(unsigned cpu, uint16_t port, unsigned size, bool is_write,
               uint32_t *val);

/* String port I/O (rep ins/outs): count items of size bytes between the
 * port and guest RAM at gpa (data_is_ptr); df walks downwards. */
int xensim_pio_rep(unsigned cpu, uint16_t port, unsigned size,
                   bool is_write, uint64_t gpa, uint32_t count, bool df);

/* Memory access of size 1, 2, 4 or 8 at guest-physical addr: RAM when
 * the gfn is populated, else an ioreq (IOREQ_TYPE_COPY). */
int xensim_mmio(unsigned cpu, uint64_t addr, unsigned size, bool is_write,
                uint64_t *val);

/* String MMIO (rep movs between device memory and RAM): count items of
 * size bytes between MMIO at addr and guest RAM at gpa (data_is_ptr);
 * is_write copies RAM -> device. */
int xensim_mmio_rep(unsigned cpu, uint64_t addr, unsigned size,
                    bool is_write, uint64_t gpa, uint32_t count, bool df);

/* Guest-physical memory as a guest instruction stream would see it: RAM
 * where populated, elsewhere MMIO ioreqs in naturally aligned pieces of
 * up to 8 bytes (unclaimed: reads all-ones, writes dropped). */
int xensim_mem_rw(unsigned cpu, uint64_t gpa, void *buf, size_t len,
                  bool is_write);

/* Buffered MMIO write through the bufioreq ring (addr < 1 MiB, as Xen's
 * stdvga path); falls back to a synchronous write when the ring is full
 * or the server has no ring. */
int xensim_mmio_buffered_write(uint64_t addr, unsigned size, uint64_t val);

/* Broadcast IOREQ_TYPE_TIMEOFFSET (the guest moved its RTC) through the
 * buffered ring of every enabled server, as Xen does; -EBUSY if a ring
 * was full (that server misses it, as on Xen). */
int xensim_timeoffset(int64_t offset);

/* Guest RAM, bypassing the device model.  -EFAULT if any page of the
 * range is not populated.  Writes mark pages dirty for track_dirty_vram
 * and are dropped on pages typed HVMMEM_ram_ro. */
int xensim_ram_read(uint64_t gpa, void *buf, size_t len);
int xensim_ram_write(uint64_t gpa, const void *buf, size_t len);

/* Interrupt lines as the device model drove them.  gsi < 16 is the ISA
 * IRQ (its own level OR any PCI link routed to it); gsi 16..47 are the
 * PCI INTx GSIs Xen derives from device and pin.  Returns 0 or 1. */
int xensim_irq_level(unsigned gsi);

/* Wait until gsi reaches level; 0 on success, -ETIMEDOUT. */
int xensim_wait_irq(unsigned gsi, int level, int timeout_ms);

/* MSIs injected so far, and the last one's address and data. */
uint64_t xensim_msi_count(uint64_t *last_addr, uint32_t *last_data);

/*
 * Send one ioreq exactly as given (type, addr, data, size, count,
 * data_is_ptr, dir, df of *req) to ioreq server id on cpu's slot, with
 * none of Xen's routing or validation: a hostile-hypervisor probe for
 * device-model hardening tests (Xen itself never sends e.g. a PIO of
 * size 8).  The answer's data lands in req->data.  -ENOENT if the server
 * does not exist or is disabled.
 */
int xensim_raw_ioreq(unsigned cpu, uint16_t id, ioreq_t *req);
/* raw buffered ring entries, write pointer moved by @advance */
int xensim_raw_bufioreq(uint16_t id, const uint64_t *slots, unsigned n,
                        uint32_t advance);

/* Broadcast IOREQ_TYPE_INVALIDATE to every enabled server now, from
 * vCPU 0 / from vCPU cpu (-EINVAL: no such vCPU). */
int xensim_invalidate(void);
int xensim_invalidate_cpu(unsigned cpu);

/* Number of vCPUs of the simulated guest. */
unsigned xensim_nr_vcpus(void);

/* True once some ioreq server is enabled, i.e. the device model is up. */
bool xensim_dm_ready(void);

#endif /* XENSIM_VCPU_H */
