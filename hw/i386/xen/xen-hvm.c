/*
 * Xen HVM machine glue for the PC machines (xenfv, pc with accel=xen).
 *
 * Owns what the machine is on Xen, apart from the ioreq server
 * (xen-ioreq-*.c) and the map cache (xen-mapcache.c):
 * - guest RAM as the toolstack populated it: one "xen.ram" block seen
 *   through three aliases (below 640 KiB, 768 KiB up to the low-memory
 *   end, and from 4 GiB); 0xa0000-0xbffff is left to VGA;
 * - every other RAM block (VRAM, ROMs) populated by us at gfns equal to
 *   its ram_addr, except on -incoming, where Xen restored it;
 * - the physmap: the VGA framebuffer relocated from its ram_addr gfns
 *   onto its BAR, recorded in xenstore under device-model/<domid>/physmap
 *   so that the toolstack carries it across save/restore; on -incoming
 *   the map cache's stand-in mapping is pointed at the restored gfns;
 * - VRAM dirty tracking (Xen tracks one range: the framebuffer), and
 *   modified-memory reports to Xen while global dirty logging is on;
 * - S3 suspend/wakeup, and guest poweroff/reset routed to Xen.
 *
 * Invariants: the physmap list holds exactly the relocations in force
 * (an entry is added only once Xen relocated the pages, removed only once
 * they are back), so xen_hvm_section_is_xen_memory() answers the same
 * for a section's region_add and its region_del.  Guest-driven events
 * (BAR moves, dirty logging) never stop QEMU; failures are reported.
 *
 * Copyright (c) 2026 Xen DM Developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qemu/error-report.h"
#include "qemu/accel.h"
#include "cpu.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-migration.h"
#include "exec/address-spaces.h"
#include "hw/i386/pc.h"
#include "hw/i386/apic-msidef.h"
#include "hw/irq.h"
#include "hw/pci/pci.h"
#include "hw/xen/xen_common.h"
#include "hw/xen/xen-legacy-backend.h"
#include "hw/xen/xen-bus.h"
#include "hw/xen/xen-x86.h"
#include "sysemu/runstate.h"
#include "sysemu/sysemu.h"
#include "sysemu/xen.h"
#include "sysemu/xen-mapcache.h"
#include "xen-ioreq.h"
#include "trace.h"

#include <xen/hvm/e820.h>

/* Before the ioreq server's claim listener on add, after it on del. */
#define XEN_PHYSMAP_PRIORITY 9

typedef struct XenPhysmap {
    hwaddr start_addr;          /* where the guest sees it (BAR) */
    ram_addr_t size;
    hwaddr phys_offset;         /* its ram_addr, the gfns it came from */
    char *name;
    QLIST_ENTRY(XenPhysmap) next;
} XenPhysmap;

typedef struct XenHvmMachine {
    MemoryRegion ram, ram_640k, ram_lo, ram_hi;
    MemoryRegion *framebuffer;
    struct xs_handle *xs;
    XenIOReqServer *ioreq;
    MemoryListener physmap_listener;
    QLIST_HEAD(, XenPhysmap) physmap;
    const XenPhysmap *dirty_tracked;    /* the range Xen tracks, or NULL */
    unsigned long *dirty_bitmap;
    bool log_global;                    /* report modified memory to Xen */
    Notifier suspend, wakeup;
} XenHvmMachine;

static XenHvmMachine xen_hvm;

/* ---- interrupts ---- */

int xen_pci_slot_get_pirq(PCIDevice *pci_dev, int irq_num)
{
    return irq_num + (PCI_SLOT(pci_dev->devfn) << 2);
}

void xen_piix3_set_irq(void *opaque, int irq_num, int level)
{
    xen_set_pci_intx_level(xen_domid, 0, 0, irq_num >> 2, irq_num & 3,
                           level);
}

int xen_set_pci_link_route(uint8_t link, uint8_t irq)
{
    return xendevicemodel_set_pci_link_route(xen_dmod, xen_domid, link, irq);
}

/* Vector 0: Xen remapped the MSI onto a pirq, passed as the dest id. */
int xen_is_pirq_msi(uint32_t msi_data)
{
    return !((msi_data & MSI_DATA_VECTOR_MASK) >> MSI_DATA_VECTOR_SHIFT);
}

/* The pirq a vector-0 MSI names, as Xen's hvm_inject_msi() decodes it. */
static uint32_t xen_msi_pirq(uint64_t addr)
{
    return ((addr >> 32) & 0xffffff00) |
           ((addr & MSI_ADDR_DEST_ID_MASK) >> MSI_ADDR_DEST_ID_SHIFT);
}

/*
 * A guest programs its devices' MSI address and data, so what reaches
 * here is the guest's: vector 0 is Xen's remapped form (a PV-on-HVM
 * guest's pirq, sent on as it is); vector 0 naming no pirq is an MSI Xen
 * refuses (ERANGE), dropped here and reported as the guest's error
 * (rate-limited), as is any other refusal.
 */
void xen_hvm_inject_msi(uint64_t addr, uint32_t data)
{
    if (xen_is_pirq_msi(data) && !xen_msi_pirq(addr)) {
        xen_ioreq_log_guest_error("MSI with vector 0 and no pirq (address "
                                  "0x%" PRIx64 ", data 0x%" PRIx32 ") "
                                  "dropped", addr, data);
        return;
    }
    if (xen_inject_msi(xen_domid, addr, data)) {
        xen_ioreq_log_guest_error("Xen refused the MSI (address 0x%" PRIx64
                                  ", data 0x%" PRIx32 "): %s", addr, data,
                                  strerror(errno));
    }
}

static void xen_isa_irq(void *opaque, int irq, int level)
{
    xen_set_isa_irq_level(xen_domid, irq, level);
}

qemu_irq *xen_interrupt_controller_init(void)
{
    return qemu_allocate_irqs(xen_isa_irq, NULL, 16);
}

/* ---- RAM ---- */

static bool xen_ram_init(PCMachineState *pcms, ram_addr_t ram_size,
                         MemoryRegion **ram_memory, Error **errp)
{
    ERRP_GUARD();
    X86MachineState *x86ms = X86_MACHINE(pcms);
    MemoryRegion *sysmem = get_system_memory();
    uint64_t lowmem_end = object_property_get_uint(OBJECT(pcms),
                                                   PC_MACHINE_MAX_RAM_BELOW_4G,
                                                   &error_abort);
    ram_addr_t block_size = ram_size;

    /* Xen's hole below 4 GiB is at least its default one. */
    if (!lowmem_end || lowmem_end > HVM_BELOW_4G_RAM_END) {
        lowmem_end = HVM_BELOW_4G_RAM_END;
    }
    x86ms->below_4g_mem_size = MIN(ram_size, lowmem_end);
    x86ms->above_4g_mem_size = ram_size - x86ms->below_4g_mem_size;
    if (x86ms->above_4g_mem_size) {
        /* ram_addr = guest address: the block spans the hole too */
        block_size = 4 * GiB + x86ms->above_4g_mem_size;
    }

    memory_region_init_ram(&xen_hvm.ram, NULL, "xen.ram", block_size, errp);
    if (*errp) {
        return false;
    }
    *ram_memory = &xen_hvm.ram;

    memory_region_init_alias(&xen_hvm.ram_640k, NULL, "xen.ram.640k",
                             &xen_hvm.ram, 0, 0xa0000);
    memory_region_add_subregion(sysmem, 0, &xen_hvm.ram_640k);
    /* 0xc0000-0xfffff is RAM too: the firmware puts option ROMs there. */
    memory_region_init_alias(&xen_hvm.ram_lo, NULL, "xen.ram.lo",
                             &xen_hvm.ram, 0xc0000,
                             x86ms->below_4g_mem_size - 0xc0000);
    memory_region_add_subregion(sysmem, 0xc0000, &xen_hvm.ram_lo);
    if (x86ms->above_4g_mem_size) {
        memory_region_init_alias(&xen_hvm.ram_hi, NULL, "xen.ram.hi",
                                 &xen_hvm.ram, 4 * GiB,
                                 x86ms->above_4g_mem_size);
        memory_region_add_subregion(sysmem, 4 * GiB, &xen_hvm.ram_hi);
    }
    return true;
}

void xen_ram_alloc(ram_addr_t ram_addr, ram_addr_t size, MemoryRegion *mr,
                   Error **errp)
{
    unsigned long nr = size >> TARGET_PAGE_BITS, i;
    g_autofree xen_pfn_t *gfns = NULL;

    if (mr == &xen_hvm.ram) {
        return;                 /* the toolstack populated it */
    }
    if (runstate_check(RUN_STATE_INMIGRATE)) {
        trace_xen_ram_alloc_restored(ram_addr, size);
        return;                 /* Xen restored it with the domain */
    }
    trace_xen_ram_alloc(ram_addr, size);
    gfns = g_new(xen_pfn_t, nr);
    for (i = 0; i < nr; i++) {
        gfns[i] = (ram_addr >> TARGET_PAGE_BITS) + i;
    }
    if (xc_domain_populate_physmap_exact(xen_xc, xen_domid, nr, 0, 0, gfns)) {
        error_setg_errno(errp, errno, "xen: cannot populate %lu pages of "
                         "RAM at 0x" RAM_ADDR_FMT, nr, ram_addr);
    }
}

/* ---- physmap: the framebuffer moved onto its BAR ---- */

static XenPhysmap *physmap_at(hwaddr addr)
{
    XenPhysmap *p;

    QLIST_FOREACH(p, &xen_hvm.physmap, next) {
        if (addr >= p->start_addr && addr - p->start_addr < p->size) {
            return p;
        }
    }
    return NULL;
}

/* The guest address of ram_addr @offset (VRAM may live at its BAR). */
static hwaddr physmap_gaddr(ram_addr_t offset)
{
    XenPhysmap *p;

    QLIST_FOREACH(p, &xen_hvm.physmap, next) {
        if (offset >= p->phys_offset && offset - p->phys_offset < p->size) {
            return p->start_addr + (offset - p->phys_offset);
        }
    }
    return offset;
}

static char *physmap_node(const XenPhysmap *p, const char *leaf)
{
    return g_strdup_printf("/local/domain/0/device-model/%u/physmap/%"
                           PRIx64 "%s%s", xen_domid,
                           (uint64_t)p->phys_offset, leaf ? "/" : "",
                           leaf ? leaf : "");
}

static void physmap_node_write(const XenPhysmap *p, const char *leaf,
                               const char *value)
{
    g_autofree char *path = physmap_node(p, leaf);

    if (!xen_hvm.xs || !xs_write(xen_hvm.xs, XBT_NULL, path, value,
                                 strlen(value))) {
        warn_report("xen: cannot write %s", path);
    }
}

static void physmap_record(const XenPhysmap *p)
{
    g_autofree char *start = g_strdup_printf("%" PRIx64,
                                             (uint64_t)p->start_addr);
    g_autofree char *size = g_strdup_printf("%" PRIx64, (uint64_t)p->size);

    physmap_node_write(p, "start_addr", start);
    physmap_node_write(p, "size", size);
    physmap_node_write(p, "name", p->name);
}

static void physmap_forget(const XenPhysmap *p)
{
    g_autofree char *path = physmap_node(p, NULL);

    if (xen_hvm.xs) {
        xs_rm(xen_hvm.xs, XBT_NULL, path);
    }
}

static void dirty_tracking_stop(void)
{
    if (xen_hvm.dirty_tracked) {
        xen_hvm.dirty_tracked = NULL;
        g_free(xen_hvm.dirty_bitmap);
        xen_hvm.dirty_bitmap = NULL;
        xen_track_dirty_vram(xen_domid, 0, 0, NULL);
    }
}

static void physmap_add(MemoryRegionSection *section)
{
    hwaddr start = section->offset_within_address_space;
    ram_addr_t size = int128_get64(section->size);
    hwaddr offset = memory_region_get_ram_addr(section->mr) +
                    section->offset_within_region;
    XenPhysmap *p;

    /* Only the framebuffer at its BAR: Xen dirty-tracks one range. */
    if (section->mr != xen_hvm.framebuffer || start <= 0xbffff ||
        !size || physmap_at(start) ||
        (start | size | offset) & ~TARGET_PAGE_MASK) {
        return;
    }

    if (runstate_check(RUN_STATE_INMIGRATE)) {
        /* Xen restored the pages at the BAR: repoint the stand-in. */
        uint8_t *host = xen_replace_cache_entry(offset, start, size);

        if (!host || host != memory_region_get_ram_ptr(section->mr) +
                             section->offset_within_region) {
            error_report("xen: cannot map the restored framebuffer at "
                         "0x%" HWADDR_PRIx, start);
            return;
        }
    } else {
        if (xendevicemodel_relocate_memory(xen_dmod, xen_domid,
                                           size >> TARGET_PAGE_BITS,
                                           offset >> TARGET_PAGE_BITS,
                                           start >> TARGET_PAGE_BITS)) {
            error_report("xen: cannot move the framebuffer (0x" RAM_ADDR_FMT
                         " bytes) from gfn 0x%" HWADDR_PRIx " to 0x%"
                         HWADDR_PRIx ": %s", size, offset >> TARGET_PAGE_BITS,
                         start >> TARGET_PAGE_BITS, strerror(errno));
            return;
        }
        if (xendevicemodel_pin_memory_cacheattr(xen_dmod, xen_domid,
                start >> TARGET_PAGE_BITS,
                (start + size - 1) >> TARGET_PAGE_BITS,
                XEN_DOMCTL_MEM_CACHEATTR_WB)) {
            warn_report("xen: cannot pin the framebuffer's cache "
                        "attributes: %s", strerror(errno));
        }
    }

    p = g_new0(XenPhysmap, 1);
    p->start_addr = start;
    p->size = size;
    p->phys_offset = offset;
    p->name = g_strdup(memory_region_name(section->mr));
    QLIST_INSERT_HEAD(&xen_hvm.physmap, p, next);
    trace_xen_physmap_add(p->phys_offset, p->start_addr, p->size);
    physmap_record(p);
}

static void physmap_del(MemoryRegionSection *section)
{
    XenPhysmap *p = physmap_at(section->offset_within_address_space);

    if (!p || section->mr != xen_hvm.framebuffer) {
        return;
    }
    if (xendevicemodel_relocate_memory(xen_dmod, xen_domid,
                                       p->size >> TARGET_PAGE_BITS,
                                       p->start_addr >> TARGET_PAGE_BITS,
                                       p->phys_offset >> TARGET_PAGE_BITS)) {
        /* The pages stay at the BAR, so the entry stays too. */
        error_report("xen: cannot move the framebuffer back from 0x%"
                     HWADDR_PRIx ": %s", p->start_addr, strerror(errno));
        return;
    }
    trace_xen_physmap_del(p->phys_offset, p->start_addr, p->size);
    if (xen_hvm.dirty_tracked == p) {
        dirty_tracking_stop();
    }
    physmap_forget(p);
    QLIST_REMOVE(p, next);
    g_free(p->name);
    g_free(p);
}

bool xen_hvm_section_is_xen_memory(MemoryRegionSection *section)
{
    XenPhysmap *p;

    if (section->mr == &xen_hvm.ram) {
        return true;
    }
    p = physmap_at(section->offset_within_address_space);
    return p && section->mr == xen_hvm.framebuffer;
}

/* ---- dirty tracking ---- */

static void dirty_sync(hwaddr start, ram_addr_t size)
{
    XenPhysmap *p = physmap_at(start);
    hwaddr npages = size >> TARGET_PAGE_BITS;
    const unsigned int bits = sizeof(unsigned long) * 8;
    size_t words = DIV_ROUND_UP(npages, bits), i;

    if (!p) {
        return;
    }
    if (!xen_hvm.dirty_tracked) {
        xen_hvm.dirty_tracked = p;
        xen_hvm.dirty_bitmap = g_new0(unsigned long, words);
    } else if (xen_hvm.dirty_tracked != p) {
        return;                 /* Xen tracks one range only */
    }

    if (xen_track_dirty_vram(xen_domid, start >> TARGET_PAGE_BITS, npages,
                             xen_hvm.dirty_bitmap) < 0) {
        /* ENODATA: no log yet, so everything may be dirty */
        if (errno == ENODATA) {
            memory_region_set_dirty(xen_hvm.framebuffer, 0, size);
        }
        return;
    }
    for (i = 0; i < words; i++) {
        unsigned long w = xen_hvm.dirty_bitmap[i];

        while (w) {
            unsigned int b = ctzl(w);

            w &= w - 1;
            memory_region_set_dirty(xen_hvm.framebuffer,
                                    (i * bits + b) * TARGET_PAGE_SIZE,
                                    TARGET_PAGE_SIZE);
        }
    }
}

static void physmap_region_add(MemoryListener *l, MemoryRegionSection *sec)
{
    if (memory_region_is_ram(sec->mr) &&
        memory_region_is_logging(sec->mr, DIRTY_MEMORY_VGA)) {
        physmap_add(sec);
    }
}

static void physmap_region_del(MemoryListener *l, MemoryRegionSection *sec)
{
    if (memory_region_is_ram(sec->mr)) {
        physmap_del(sec);
    }
}

static void physmap_log_start(MemoryListener *l, MemoryRegionSection *sec,
                              int old, int new)
{
    if (new & ~old & (1 << DIRTY_MEMORY_VGA)) {
        dirty_sync(sec->offset_within_address_space,
                   int128_get64(sec->size));
    }
}

static void physmap_log_stop(MemoryListener *l, MemoryRegionSection *sec,
                             int old, int new)
{
    if (old & ~new & (1 << DIRTY_MEMORY_VGA)) {
        dirty_tracking_stop();
    }
}

static void physmap_log_sync(MemoryListener *l, MemoryRegionSection *sec)
{
    dirty_sync(sec->offset_within_address_space, int128_get64(sec->size));
}

static void physmap_log_global_start(MemoryListener *l)
{
    xen_hvm.log_global = true;
}

static void physmap_log_global_stop(MemoryListener *l)
{
    xen_hvm.log_global = false;
}

void xen_hvm_modified_memory(ram_addr_t start, ram_addr_t length)
{
    hwaddr gaddr;
    uint64_t first, nr;

    if (likely(!xen_hvm.log_global)) {
        return;
    }
    gaddr = physmap_gaddr(start);
    first = gaddr >> TARGET_PAGE_BITS;
    nr = ((gaddr + MAX(length, 1) + TARGET_PAGE_SIZE - 1) >>
          TARGET_PAGE_BITS) - first;
    if (xen_modified_memory(xen_domid, first, nr)) {
        error_report("xen: modified_memory of %" PRIu64 " pages at gfn 0x%"
                     PRIx64 " failed: %s", nr, first, strerror(errno));
    }
}

/* The toolstack's log-dirty phase of a save: see xen_hvm_modified_memory */
void qmp_xen_set_global_dirty_log(bool enable, Error **errp)
{
    if (!enable) {
        memory_global_dirty_log_stop(GLOBAL_DIRTY_MIGRATION);
        return;
    }
    memory_global_dirty_log_start(GLOBAL_DIRTY_MIGRATION);
}

void xen_register_framebuffer(MemoryRegion *mr)
{
    xen_hvm.framebuffer = mr;
}

/* ---- power ---- */

static void xen_hvm_suspend(Notifier *n, void *data)
{
    xc_set_hvm_param(xen_xc, xen_domid, HVM_PARAM_ACPI_S_STATE, 3);
}

static void xen_hvm_wakeup(Notifier *n, void *data)
{
    xc_set_hvm_param(xen_xc, xen_domid, HVM_PARAM_ACPI_S_STATE, 0);
}

void destroy_hvm_domain(bool reboot)
{
    unsigned int reason = reboot ? SHUTDOWN_reboot : SHUTDOWN_poweroff;
    xc_interface *xc;

    trace_xen_hvm_shutdown(reason);
    if (!xendevicemodel_shutdown(xen_dmod, xen_domid, reason)) {
        return;
    }
    if (errno != ENOTTY) {
        error_report("xen: shutdown request (%s) failed: %s",
                     reboot ? "reboot" : "poweroff", strerror(errno));
        return;
    }
    /* Xen before dm_op shutdown: the domctl */
    xc = xc_interface_open(NULL, NULL, 0);
    if (!xc || xc_domain_shutdown(xc, xen_domid, reason)) {
        error_report("xen: shutdown request (%s) failed: %s",
                     reboot ? "reboot" : "poweroff", strerror(errno));
    }
    if (xc) {
        xc_interface_close(xc);
    }
}

/*
 * Only tells Xen: the main loop resets the devices itself when it takes
 * the request (main_loop_should_exit), so this is safe from the ioreq
 * thread too.
 */
void xen_hvm_route_shutdown_requests(void)
{
    if (!runstate_is_running()) {
        return;
    }
    if (qemu_shutdown_requested_get()) {
        destroy_hvm_domain(false);
    }
    if (qemu_reset_requested_get()) {
        destroy_hvm_domain(true);
    }
}

void xen_shutdown_fatal_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    error_vreport(fmt, ap);
    va_end(ap);
    error_report("xen: the domain will be destroyed");
    qemu_system_shutdown_request(SHUTDOWN_CAUSE_HOST_ERROR);
}

/* ---- machine init ---- */

void xen_hvm_init_pc(PCMachineState *pcms, MemoryRegion **ram_memory,
                     Error **errp)
{
    MachineState *ms = MACHINE(pcms);
    uint64_t mapcache_max;

    QLIST_INIT(&xen_hvm.physmap);
    xen_hvm.xs = xs_daemon_open();
    if (!xen_hvm.xs) {
        error_setg_errno(errp, errno, "xen: cannot open xenstore");
        return;
    }

    /* On failure its exit notifier takes the half-made server down. */
    xen_hvm.ioreq = xen_ioreq_server_create(ms->smp.max_cpus, errp);
    if (!xen_hvm.ioreq) {
        return;
    }

    xen_hvm.suspend.notify = xen_hvm_suspend;
    qemu_register_suspend_notifier(&xen_hvm.suspend);
    xen_hvm.wakeup.notify = xen_hvm_wakeup;
    qemu_register_wakeup_notifier(&xen_hvm.wakeup);
    qemu_register_wakeup_support();

    xen_map_cache_init(NULL, NULL);
    mapcache_max = object_property_get_uint(OBJECT(current_accel()),
                                            "mapcache-max-size", &error_abort);
    if (mapcache_max) {
        xen_map_cache_set_max_size(mapcache_max);
    }
    if (!xen_ram_init(pcms, ms->ram_size, ram_memory, errp)) {
        return;
    }

    xen_hvm.physmap_listener = (MemoryListener) {
        .name = "xen-physmap",
        .region_add = physmap_region_add,
        .region_del = physmap_region_del,
        .log_start = physmap_log_start,
        .log_stop = physmap_log_stop,
        .log_sync = physmap_log_sync,
        .log_global_start = physmap_log_global_start,
        .log_global_stop = physmap_log_global_stop,
        .priority = XEN_PHYSMAP_PRIORITY,
    };
    memory_listener_register(&xen_hvm.physmap_listener,
                             &address_space_memory);

    xen_bus_init();
    if (xen_be_init()) {
        error_setg(errp, "xen: cannot set up the PV backend core (xenstore "
                   "or grant tables)");
        return;
    }
    xen_be_register_common();

    /* Xen builds the ACPI tables */
    pcms->acpi_build_enabled = false;
}
