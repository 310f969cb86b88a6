/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * xen-pvdevice: a PCI device with IDs of the toolstack's choosing and one
 * empty memory BAR, so that a guest's PV driver package can bind to it.
 *
 * libxl's vendor_device="xenserver" adds "-device xen-pvdevice,
 * device-id=0xc000" (XenServer's Windows drivers install from it); the
 * vendor ID defaults to Xen's 0x5853.  The subsystem IDs repeat the vendor
 * and device IDs.  Nothing in the guest is expected to touch the BAR: an
 * access is traced, reads give all-ones.
 *
 * Invariants: bad property values fail realize with an Error naming the
 * property and the accepted range (the BAR size must be a power of two of
 * at least 4 KiB, so the guest can map it); the device itself keeps no
 * state but its PCI config space.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/module.h"
#include "qemu/units.h"
#include "hw/pci/pci.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "qom/object.h"
#include "trace.h"

#define TYPE_XEN_PV_DEVICE "xen-pvdevice"
OBJECT_DECLARE_SIMPLE_TYPE(XenPVDevice, XEN_PV_DEVICE)

#define PVDEVICE_NO_DEVICE_ID   0xffff
#define PVDEVICE_BAR            1
#define PVDEVICE_MIN_SIZE       (4 * KiB)
/* The largest a 32-bit memory BAR below 4 GiB can sensibly be */
#define PVDEVICE_MAX_SIZE       (1 * GiB)

struct XenPVDevice {
    PCIDevice parent_obj;

    uint16_t vendor_id;
    uint16_t device_id;
    uint8_t revision;
    uint32_t size;
    MemoryRegion mmio;
};

static uint64_t pvdevice_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    trace_xen_pv_mmio_read(addr);
    return MAKE_64BIT_MASK(0, size * 8);
}

static void pvdevice_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                                unsigned size)
{
    trace_xen_pv_mmio_write(addr);
}

static const MemoryRegionOps pvdevice_mmio_ops = {
    .read = pvdevice_mmio_read,
    .write = pvdevice_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
};

static const VMStateDescription vmstate_xen_pvdevice = {
    .name = TYPE_XEN_PV_DEVICE,
    .version_id = 1,
    .minimum_version_id = 1,
    /* All the state is PCI config space */
    .fields = (VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, XenPVDevice),
        VMSTATE_END_OF_LIST()
    }
};

static void pvdevice_realize(PCIDevice *dev, Error **errp)
{
    uint8_t *conf = dev->config;
    XenPVDevice *d = XEN_PV_DEVICE(dev);

    if (d->device_id == PVDEVICE_NO_DEVICE_ID) {
        error_setg(errp, "%s: property device-id is required (0x0000 to "
                   "0xfffe)", TYPE_XEN_PV_DEVICE);
        return;
    }
    if (d->vendor_id == 0xffff || d->vendor_id == 0) {
        error_setg(errp, "%s: vendor-id 0x%04x is not a PCI vendor",
                   TYPE_XEN_PV_DEVICE, d->vendor_id);
        return;
    }
    if (d->size < PVDEVICE_MIN_SIZE || d->size > PVDEVICE_MAX_SIZE ||
        !is_power_of_2(d->size)) {
        error_setg(errp, "%s: size 0x%" PRIx32 " must be a power of two "
                   "from 0x%" PRIx64 " to 0x%" PRIx64, TYPE_XEN_PV_DEVICE,
                   d->size, (uint64_t)PVDEVICE_MIN_SIZE,
                   (uint64_t)PVDEVICE_MAX_SIZE);
        return;
    }

    pci_set_word(conf + PCI_VENDOR_ID, d->vendor_id);
    pci_set_word(conf + PCI_DEVICE_ID, d->device_id);
    pci_set_word(conf + PCI_SUBSYSTEM_VENDOR_ID, d->vendor_id);
    pci_set_word(conf + PCI_SUBSYSTEM_ID, d->device_id);
    pci_set_byte(conf + PCI_REVISION_ID, d->revision);
    pci_set_word(conf + PCI_COMMAND, PCI_COMMAND_MEMORY);
    pci_config_set_prog_interface(conf, 0);
    pci_config_set_interrupt_pin(conf, 1);

    memory_region_init_io(&d->mmio, OBJECT(d), &pvdevice_mmio_ops, d,
                          "xen-pvdevice-mmio", d->size);
    pci_register_bar(dev, PVDEVICE_BAR, PCI_BASE_ADDRESS_MEM_PREFETCH,
                     &d->mmio);
}

static Property pvdevice_properties[] = {
    DEFINE_PROP_UINT16("vendor-id", XenPVDevice, vendor_id,
                       PCI_VENDOR_ID_XEN),
    DEFINE_PROP_UINT16("device-id", XenPVDevice, device_id,
                       PVDEVICE_NO_DEVICE_ID),
    DEFINE_PROP_UINT8("revision", XenPVDevice, revision, 0x01),
    DEFINE_PROP_UINT32("size", XenPVDevice, size, 4 * MiB),
    DEFINE_PROP_END_OF_LIST()
};

static void pvdevice_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);

    k->realize = pvdevice_realize;
    k->class_id = PCI_CLASS_SYSTEM_OTHER;
    dc->desc = "Xen PV device (IDs for PV driver installers)";
    device_class_set_props(dc, pvdevice_properties);
    dc->vmsd = &vmstate_xen_pvdevice;
}

static const TypeInfo pvdevice_types[] = {
    {
        .name = TYPE_XEN_PV_DEVICE,
        .parent = TYPE_PCI_DEVICE,
        .class_init = pvdevice_class_init,
        .instance_size = sizeof(XenPVDevice),
        .interfaces = (InterfaceInfo[]) {
            { INTERFACE_CONVENTIONAL_PCI_DEVICE },
            { }
        },
    },
};

DEFINE_TYPES(pvdevice_types)
