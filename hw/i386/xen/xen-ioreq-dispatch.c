/*
 * Xen HVM ioreq dispatch: one request, checked, then carried out.
 *
 * Input is a private copy of an ioreq_t (from a synchronous slot or a
 * buffered ring entry); nothing here reads shared pages, so every field is
 * checked once and used as checked (XSA-197).
 *
 * What Xen 4.17 sends, and so what is served:
 *   PIO         size 1, 2, 4; port + size within 0..0xffff (XSA-199);
 *               count 1, or a rep (ins/outs) with data_is_ptr
 *   COPY        size 1, 2, 4, 8; count 1..4096; with data_is_ptr a
 *               memory to memory rep (movs), else a repeated access with
 *               one value (stos/lods)
 *   PCI_CONFIG  size 1, 2, 4; count 1; register 0..4095 within the
 *               function's config space (4096 bytes for PCIe)
 *   TIMEOFFSET  nothing to do (the RTC offset is Xen's business)
 *   INVALIDATE  drop the map cache
 * A data_is_ptr buffer must lie in guest memory Xen maps (main RAM, VRAM
 * on its BAR) as one range, since Xen only hands out such gfns there; RAM
 * that only QEMU sees at that address (VGA's chain-4 window, ROMs) does
 * not count.  It is mapped once through the map cache.
 *
 * Invariants: anything else (sizes, counts, types, overflowing or
 * wrapping ranges, buffers outside RAM) is answered as absent hardware:
 * reads all-ones, writes dropped, a rate-limited LOG_GUEST_ERROR; no
 * request allocates memory or loops more than XEN_IOREQ_MAX_REPS times.
 *
 * Copyright (c) 2026 Xen DM Developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/timer.h"
#include "qemu/bswap.h"
#include "exec/address-spaces.h"
#include "exec/memory.h"
#include "hw/pci/pci.h"
#include "hw/pci/pci_host.h"
#include "sysemu/xen-mapcache.h"
#include "xen-ioreq.h"
#include "trace.h"

#define PIO_PORT_LIMIT 0x10000

/* At most this many reports a second; the rest are counted. */
#define LOG_BURST 10

void xen_ioreq_log_guest_error(const char *fmt, ...)
{
    static int64_t window_start;
    static unsigned int in_window, suppressed;
    int64_t now = qemu_clock_get_ms(QEMU_CLOCK_REALTIME);
    va_list ap;
    FILE *f;

    if (!qemu_loglevel_mask(LOG_GUEST_ERROR)) {
        return;
    }
    if (now - window_start >= 1000) {
        if (suppressed) {
            qemu_log("xen ioreq: %u similar reports suppressed\n",
                     suppressed);
        }
        window_start = now;
        in_window = 0;
        suppressed = 0;
    }
    if (in_window++ >= LOG_BURST) {
        suppressed++;
        return;
    }
    f = qemu_log_trylock();
    if (f) {
        va_start(ap, fmt);
        fputs("xen ioreq: ", f);
        vfprintf(f, fmt, ap);
        fputc('\n', f);
        va_end(ap);
        qemu_log_unlock(f);
    }
}

static uint64_t all_ones(uint32_t size)
{
    return size && size < 8 ? MAKE_64BIT_MASK(0, size * 8) : UINT64_MAX;
}

static bool reject(XenIOReqServer *s, ioreq_t *req, const char *why)
{
    s->stats.rejected++;
    trace_xen_ioreq_reject(req->type, req->addr, req->size, req->count, why);
    xen_ioreq_log_guest_error("refused type %u %s addr 0x%" PRIx64
                              " data 0x%" PRIx64 " size %u count %u%s%s: %s",
                              req->type, req->dir == IOREQ_READ ? "read" :
                              "write", req->addr, req->data, req->size,
                              req->count, req->data_is_ptr ? " ptr" : "",
                              req->df ? " df" : "", why);
    if (req->dir == IOREQ_READ && !req->data_is_ptr) {
        req->data = all_ones(req->size);
    }
    return false;
}

/*
 * A range of @count items of @size bytes that starts at @addr and runs
 * down (@df) or up.  Sets *lo to its lowest byte; false if it wraps.
 * count * size cannot overflow: count <= XEN_IOREQ_MAX_REPS, size <= 8.
 */
static bool rep_range(uint64_t addr, uint32_t size, uint32_t count, bool df,
                      uint64_t *lo)
{
    uint64_t back = (uint64_t)(count - 1) * size;
    uint64_t span = (uint64_t)count * size;

    if (df) {
        if (addr < back) {
            return false;
        }
        *lo = addr - back;
    } else {
        *lo = addr;
    }
    return *lo + span - 1 >= *lo;
}

/* Offset of item @i from the lowest byte of its range. */
static uint64_t rep_offset(uint32_t i, uint32_t size, uint32_t count, bool df)
{
    return df ? (uint64_t)(count - 1 - i) * size : (uint64_t)i * size;
}

/* The guest RAM a data_is_ptr request names, mapped for the request. */
typedef struct GuestBuffer {
    uint8_t *host;
    hwaddr len;
    bool is_write;              /* QEMU writes into it */
} GuestBuffer;

static bool guest_buffer_map(GuestBuffer *b, uint64_t lo, uint64_t len,
                             bool is_write)
{
    MemoryRegionSection sec = { .offset_within_address_space = lo };
    hwaddr xlat, l = len;

    b->host = NULL;
    b->is_write = is_write;
    WITH_RCU_READ_LOCK_GUARD() {
        sec.mr = address_space_translate(&address_space_memory, lo, &xlat,
                                         &l, is_write,
                                         MEMTXATTRS_UNSPECIFIED);
        if (l < len || !memory_access_is_direct(sec.mr, is_write)) {
            return false;
        }
        /* RAM to QEMU is not always RAM to Xen: VGA's chain-4 window */
        if (!xen_hvm_section_is_xen_memory(&sec)) {
            return false;
        }
    }
    b->len = len;
    b->host = address_space_map(&address_space_memory, lo, &b->len, is_write,
                                MEMTXATTRS_UNSPECIFIED);
    if (b->host && b->len < len) {
        address_space_unmap(&address_space_memory, b->host, b->len,
                            is_write, 0);
        b->host = NULL;
    }
    return b->host != NULL;
}

static void guest_buffer_unmap(GuestBuffer *b)
{
    address_space_unmap(&address_space_memory, b->host, b->len, b->is_write,
                        b->is_write ? b->len : 0);
}

static uint64_t pio_read(uint32_t port, uint32_t size)
{
    uint8_t buf[8];

    if (address_space_read(&address_space_io, port, MEMTXATTRS_UNSPECIFIED,
                           buf, size) != MEMTX_OK) {
        return all_ones(size);
    }
    return ldn_le_p(buf, size);
}

static void pio_write(uint32_t port, uint32_t size, uint64_t val)
{
    uint8_t buf[8];

    stn_le_p(buf, size, val);
    address_space_write(&address_space_io, port, MEMTXATTRS_UNSPECIFIED,
                        buf, size);
}

static uint64_t mem_read(uint64_t addr, uint32_t size)
{
    uint8_t buf[8];

    if (address_space_read(&address_space_memory, addr,
                           MEMTXATTRS_UNSPECIFIED, buf, size) != MEMTX_OK) {
        return all_ones(size);
    }
    return ldn_le_p(buf, size);
}

static void mem_write(uint64_t addr, uint32_t size, uint64_t val)
{
    uint8_t buf[8];

    stn_le_p(buf, size, val);
    address_space_write(&address_space_memory, addr, MEMTXATTRS_UNSPECIFIED,
                        buf, size);
}

static bool dispatch_pio(XenIOReqServer *s, ioreq_t *req)
{
    uint32_t size = req->size, count = req->count, i;
    GuestBuffer buf;
    uint64_t lo;
    uint32_t port;

    if (size != 1 && size != 2 && size != 4) {
        return reject(s, req, "PIO size not 1, 2 or 4");
    }
    if (req->addr >= PIO_PORT_LIMIT || req->addr + size > PIO_PORT_LIMIT) {
        return reject(s, req, "port beyond 0xffff");
    }
    port = req->addr;
    trace_xen_ioreq_pio(req->dir, port, req->data, size, count,
                        req->data_is_ptr);

    if (!req->data_is_ptr) {
        if (count != 1) {
            return reject(s, req, "PIO count not 1 without data_is_ptr");
        }
        if (req->dir == IOREQ_READ) {
            req->data = pio_read(port, size);
        } else {
            pio_write(port, size, req->data);
        }
        return true;
    }

    /* rep ins/outs: the buffer in guest RAM, item by item. */
    if (count == 0 || count > XEN_IOREQ_MAX_REPS) {
        return reject(s, req, "rep count 0 or beyond 4096");
    }
    if (!rep_range(req->data, size, count, req->df, &lo)) {
        return reject(s, req, "rep buffer wraps");
    }
    if (!guest_buffer_map(&buf, lo, (uint64_t)count * size,
                          req->dir == IOREQ_READ)) {
        return reject(s, req, "rep buffer not in guest RAM");
    }
    for (i = 0; i < count; i++) {
        uint8_t *item = buf.host + rep_offset(i, size, count, req->df);

        if (req->dir == IOREQ_READ) {
            stn_le_p(item, size, pio_read(port, size));
        } else {
            pio_write(port, size, ldn_le_p(item, size));
        }
    }
    guest_buffer_unmap(&buf);
    return true;
}

static bool dispatch_copy(XenIOReqServer *s, ioreq_t *req)
{
    uint32_t size = req->size, count = req->count, i;
    uint64_t addr_lo, buf_lo;
    GuestBuffer buf;

    if (size != 1 && size != 2 && size != 4 && size != 8) {
        return reject(s, req, "MMIO size not 1, 2, 4 or 8");
    }
    if (count == 0 || count > XEN_IOREQ_MAX_REPS) {
        return reject(s, req, "MMIO count 0 or beyond 4096");
    }
    if (!rep_range(req->addr, size, count, req->df, &addr_lo)) {
        return reject(s, req, "MMIO range wraps");
    }
    trace_xen_ioreq_copy(req->dir, req->addr, req->data, size, count,
                         req->data_is_ptr);

    if (!req->data_is_ptr) {
        /* rep stos repeats one value; rep lods keeps the last one read */
        for (i = 0; i < count; i++) {
            uint64_t a = addr_lo + rep_offset(i, size, count, req->df);

            if (req->dir == IOREQ_READ) {
                req->data = mem_read(a, size);
            } else {
                mem_write(a, size, req->data);
            }
        }
        return true;
    }

    /* rep movs: read moves addr -> buffer, write moves buffer -> addr */
    if (!rep_range(req->data, size, count, req->df, &buf_lo)) {
        return reject(s, req, "rep buffer wraps");
    }
    if (!guest_buffer_map(&buf, buf_lo, (uint64_t)count * size,
                          req->dir == IOREQ_READ)) {
        return reject(s, req, "rep buffer not in guest RAM");
    }
    for (i = 0; i < count; i++) {
        uint64_t off = rep_offset(i, size, count, req->df);

        if (req->dir == IOREQ_READ) {
            stn_le_p(buf.host + off, size, mem_read(addr_lo + off, size));
        } else {
            mem_write(addr_lo + off, size, ldn_le_p(buf.host + off, size));
        }
    }
    guest_buffer_unmap(&buf);
    return true;
}

static bool dispatch_pci_config(XenIOReqServer *s, ioreq_t *req)
{
    uint32_t sbdf = req->addr >> 32, reg = req->addr, size = req->size;
    GuestBuffer buf;
    PCIDevice *dev;
    uint64_t val;

    if (size != 1 && size != 2 && size != 4) {
        return reject(s, req, "PCI config size not 1, 2 or 4");
    }
    if (req->count != 1) {
        return reject(s, req, "PCI config count not 1");
    }
    if (reg >= PCIE_CONFIG_SPACE_SIZE) {
        return reject(s, req, "PCI config register beyond 4095");
    }
    dev = xen_ioreq_find_pci_function(s, sbdf);
    if (!dev) {
        return reject(s, req, "no such PCI function");
    }
    if (req->data_is_ptr && !guest_buffer_map(&buf, req->data, size,
                                              req->dir == IOREQ_READ)) {
        return reject(s, req, "PCI config buffer not in guest RAM");
    }

    /* The limit turns registers past the function's space into ~0. */
    if (req->dir == IOREQ_READ) {
        val = pci_host_config_read_common(dev, reg, pci_config_size(dev),
                                          size);
        trace_xen_ioreq_pci_config(sbdf, reg, size, true, val);
        if (req->data_is_ptr) {
            stn_le_p(buf.host, size, val);
        } else {
            req->data = val;
        }
    } else {
        val = req->data_is_ptr ? ldn_le_p(buf.host, size) : req->data;
        trace_xen_ioreq_pci_config(sbdf, reg, size, false, val);
        pci_host_config_write_common(dev, reg, pci_config_size(dev), val,
                                     size);
    }
    if (req->data_is_ptr) {
        guest_buffer_unmap(&buf);
    }
    return true;
}

static bool counted(bool served, uint64_t *counter)
{
    *counter += served;
    return served;
}

bool xen_ioreq_dispatch(XenIOReqServer *s, ioreq_t *req)
{
    /* A write carries only size bytes of value; the rest is noise. */
    if (req->dir == IOREQ_WRITE && !req->data_is_ptr && req->size &&
        req->size < 8) {
        req->data &= all_ones(req->size);
    }

    switch (req->type) {
    case IOREQ_TYPE_PIO:
        return counted(dispatch_pio(s, req), &s->stats.pio);
    case IOREQ_TYPE_COPY:
        return counted(dispatch_copy(s, req), &s->stats.copy);
    case IOREQ_TYPE_PCI_CONFIG:
        return counted(dispatch_pci_config(s, req), &s->stats.pci_config);
    case IOREQ_TYPE_TIMEOFFSET:
        trace_xen_ioreq_timeoffset(req->data);
        s->stats.timeoffset++;
        return true;
    case IOREQ_TYPE_INVALIDATE:
        trace_xen_ioreq_invalidate();
        xen_invalidate_map_cache();
        s->stats.invalidate++;
        return true;
    default:
        /* includes 3, QEMU's old VMWARE_PORT: Xen 4.17 has no such type */
        return reject(s, req, "unknown ioreq type");
    }
}
