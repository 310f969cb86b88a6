/*
 * Xen HVM ioreq server: what it claims.
 *
 * Xen forwards to an ioreq server only the MMIO ranges, port ranges and
 * PCI functions the server has claimed.  Three listeners keep the claims
 * equal to what QEMU emulates:
 * - address_space_memory: every section except guest memory Xen maps
 *   itself (main RAM, VRAM relocated onto its BAR; the machine glue
 *   decides, see xen_hvm_section_is_xen_memory()).  The PCIe ECAM window
 *   of a Q35 machine is such an MMIO section too;
 * - address_space_io: every section but the unassigned filler;
 * - devices: every realized PCI function, also kept in a list that
 *   PCI_CONFIG dispatch looks the function up in.
 *
 * Invariants: a claim made by region_add is withdrawn by the matching
 * region_del, with the same decision (the physmap listener of xen-hvm.c
 * runs before this one on add and after it on del, so its answer is the
 * same both times).  Failed claims are reported, not fatal.
 *
 * Copyright (c) 2026 Xen DM Developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "exec/address-spaces.h"
#include "exec/ioport.h"
#include "hw/pci/pci.h"
#include "hw/qdev-core.h"
#include "xen-ioreq.h"
#include "trace.h"

/* After the machine glue's physmap listener (priority 9) on add. */
#define XEN_CLAIM_PRIORITY 10

static bool section_range(MemoryRegionSection *section, uint64_t *first,
                          uint64_t *last)
{
    if (int128_eq(section->size, int128_zero())) {
        return false;
    }
    *first = section->offset_within_address_space;
    *last = *first + int128_get64(int128_sub(section->size, int128_one()));
    return true;
}

static void claim_range(XenIOReqServer *s, bool is_mmio, bool add,
                        MemoryRegionSection *section)
{
    uint64_t first, last;
    int rc;

    if (!section_range(section, &first, &last)) {
        return;
    }
    trace_xen_ioreq_claim(s->id, is_mmio, add, first, last,
                          memory_region_name(section->mr));
    if (add) {
        rc = xendevicemodel_map_io_range_to_ioreq_server(
            xen_dmod, xen_domid, s->id, is_mmio, first, last);
    } else {
        rc = xendevicemodel_unmap_io_range_from_ioreq_server(
            xen_dmod, xen_domid, s->id, is_mmio, first, last);
    }
    if (rc) {
        error_report("xen: cannot %s %s 0x%" PRIx64 "-0x%" PRIx64 " (%s): %s",
                     add ? "claim" : "release", is_mmio ? "MMIO" : "ports",
                     first, last, memory_region_name(section->mr),
                     strerror(errno));
    }
}

static void mem_region_add(MemoryListener *l, MemoryRegionSection *section)
{
    XenIOReqServer *s = container_of(l, XenIOReqServer, mem_listener);

    if (!xen_hvm_section_is_xen_memory(section)) {
        claim_range(s, true, true, section);
    }
}

static void mem_region_del(MemoryListener *l, MemoryRegionSection *section)
{
    XenIOReqServer *s = container_of(l, XenIOReqServer, mem_listener);

    if (!xen_hvm_section_is_xen_memory(section)) {
        claim_range(s, true, false, section);
    }
}

static void io_region_add(MemoryListener *l, MemoryRegionSection *section)
{
    XenIOReqServer *s = container_of(l, XenIOReqServer, io_listener);

    if (section->mr->ops != &unassigned_io_ops) {
        claim_range(s, false, true, section);
    }
}

static void io_region_del(MemoryListener *l, MemoryRegionSection *section)
{
    XenIOReqServer *s = container_of(l, XenIOReqServer, io_listener);

    if (section->mr->ops != &unassigned_io_ops) {
        claim_range(s, false, false, section);
    }
}

static void claim_pci_function(XenIOReqServer *s, PCIDevice *dev, bool add)
{
    uint8_t bus = pci_dev_bus_num(dev);
    int rc;

    if (add) {
        rc = xendevicemodel_map_pcidev_to_ioreq_server(
            xen_dmod, xen_domid, s->id, 0, bus, PCI_SLOT(dev->devfn),
            PCI_FUNC(dev->devfn));
    } else {
        rc = xendevicemodel_unmap_pcidev_from_ioreq_server(
            xen_dmod, xen_domid, s->id, 0, bus, PCI_SLOT(dev->devfn),
            PCI_FUNC(dev->devfn));
    }
    if (rc) {
        error_report("xen: cannot %s PCI %02x:%02x.%x: %s",
                     add ? "claim" : "release", bus, PCI_SLOT(dev->devfn),
                     PCI_FUNC(dev->devfn), strerror(errno));
    }
}

static void dev_realize(DeviceListener *l, DeviceState *dev)
{
    XenIOReqServer *s = container_of(l, XenIOReqServer, dev_listener);
    XenPciFunction *f;
    PCIDevice *pdev;

    if (!object_dynamic_cast(OBJECT(dev), TYPE_PCI_DEVICE)) {
        return;
    }
    pdev = PCI_DEVICE(dev);
    f = g_new0(XenPciFunction, 1);
    f->dev = pdev;
    f->sbdf = PCI_BUILD_BDF(pci_dev_bus_num(pdev), pdev->devfn);
    QLIST_INSERT_HEAD(&s->pci_functions, f, next);
    claim_pci_function(s, pdev, true);
}

static void dev_unrealize(DeviceListener *l, DeviceState *dev)
{
    XenIOReqServer *s = container_of(l, XenIOReqServer, dev_listener);
    XenPciFunction *f;

    if (!object_dynamic_cast(OBJECT(dev), TYPE_PCI_DEVICE)) {
        return;
    }
    QLIST_FOREACH(f, &s->pci_functions, next) {
        if (f->dev == PCI_DEVICE(dev)) {
            claim_pci_function(s, f->dev, false);
            QLIST_REMOVE(f, next);
            g_free(f);
            return;
        }
    }
}

PCIDevice *xen_ioreq_find_pci_function(XenIOReqServer *s, uint32_t sbdf)
{
    XenPciFunction *f;

    QLIST_FOREACH(f, &s->pci_functions, next) {
        if (f->sbdf == sbdf) {
            return f->dev;
        }
    }
    return NULL;
}

void xen_ioreq_listeners_register(XenIOReqServer *s)
{
    s->mem_listener = (MemoryListener) {
        .name = "xen-ioreq-mmio",
        .region_add = mem_region_add,
        .region_del = mem_region_del,
        .priority = XEN_CLAIM_PRIORITY,
    };
    s->io_listener = (MemoryListener) {
        .name = "xen-ioreq-pio",
        .region_add = io_region_add,
        .region_del = io_region_del,
        .priority = XEN_CLAIM_PRIORITY,
    };
    s->dev_listener = (DeviceListener) {
        .realize = dev_realize,
        .unrealize = dev_unrealize,
    };
    memory_listener_register(&s->mem_listener, &address_space_memory);
    memory_listener_register(&s->io_listener, &address_space_io);
    device_listener_register(&s->dev_listener);
}
