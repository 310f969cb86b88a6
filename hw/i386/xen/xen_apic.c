/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * xen-apic: the local APIC of a Xen HVM guest, as the device model sees it.
 *
 * Xen emulates the guest's local APICs itself; QEMU keeps this stand-in
 * only for the MSI window at 0xfee00000.  An emulated PCI device raises an
 * MSI by writing its message data to its message address, which lands in
 * the window; each 32-bit write becomes one xendevicemodel_inject_msi()
 * (through xen_hvm_inject_msi()) with the full address, 0xfee00000 plus
 * the offset, and the data.  Xen decodes destination and vector from the
 * low 32 bits, and with vector 0 the PIRQ from destination and high bits.
 *
 * Invariants:
 *  - Only aligned 4-byte writes inject; any other size or alignment is a
 *    guest (or device) error: reported with LOG_GUEST_ERROR, rate-limited,
 *    and dropped.  Reads of the window give all-ones.
 *  - The rest of the APIC interface (base, TPR, NMI) belongs to Xen and is
 *    a no-op here.
 */

#include "qemu/osdep.h"
#include "hw/i386/apic_internal.h"
#include "hw/pci/msi.h"
#include "hw/xen/xen.h"
#include "qemu/module.h"
#include "trace.h"
#include "xen-guest-error.h"

/* All xen-apics share one window and one limiter (BQL held) */
static XenGuestErrorLimit xen_apic_errors;

static void xen_apic_inject(uint64_t addr, uint32_t data)
{
    trace_xen_apic_inject_msi(addr, data);
    xen_hvm_inject_msi(addr, data);
}

static uint64_t xen_apic_mem_read(void *opaque, hwaddr addr, unsigned size)
{
    return MAKE_64BIT_MASK(0, size * 8);
}

static void xen_apic_mem_write(void *opaque, hwaddr addr, uint64_t data,
                               unsigned size)
{
    if (size != 4 || (addr & 3)) {
        xen_guest_error(&xen_apic_errors, "xen-apic: %u-byte MSI write of "
                        "0x%" PRIx64 " at 0x%" HWADDR_PRIx " dropped: only "
                        "aligned 4-byte writes are MSIs\n", size, data,
                        APIC_DEFAULT_ADDRESS + addr);
        return;
    }
    xen_apic_inject(APIC_DEFAULT_ADDRESS + addr, data);
}

static const MemoryRegionOps xen_apic_io_ops = {
    .read = xen_apic_mem_read,
    .write = xen_apic_mem_write,
    /* Take every access, so that a bad one is reported, not asserted */
    .valid = {
        .min_access_size = 1,
        .max_access_size = 8,
        .unaligned = true,
    },
    .impl = {
        .min_access_size = 1,
        .max_access_size = 8,
        .unaligned = true,
    },
    .endianness = DEVICE_LITTLE_ENDIAN,
};

static void xen_apic_realize(DeviceState *dev, Error **errp)
{
    APICCommonState *s = APIC_COMMON(dev);

    /* Xen delivers MSIs properly: devices may offer them */
    msi_nonbroken = true;
    s->vapic_control = 0;
    memory_region_init_io(&s->io_memory, OBJECT(s), &xen_apic_io_ops, s,
                          "xen-apic-msi", APIC_SPACE_SIZE);
}

/* Base, TPR and NMIs are Xen's: nothing to do for any of them */
static void xen_apic_nop_set_base(APICCommonState *s, uint64_t val)
{
}

static void xen_apic_nop_set_tpr(APICCommonState *s, uint8_t val)
{
}

static uint8_t xen_apic_nop_get_tpr(APICCommonState *s)
{
    return 0;
}

static void xen_apic_nop(APICCommonState *s)
{
}

static void xen_apic_send_msi(MSIMessage *msi)
{
    xen_apic_inject(msi->address, msi->data);
}

static void xen_apic_class_init(ObjectClass *klass, void *data)
{
    APICCommonClass *k = APIC_COMMON_CLASS(klass);

    k->realize = xen_apic_realize;
    k->send_msi = xen_apic_send_msi;
    k->set_base = xen_apic_nop_set_base;
    k->set_tpr = xen_apic_nop_set_tpr;
    k->get_tpr = xen_apic_nop_get_tpr;
    k->vapic_base_update = xen_apic_nop;
    k->external_nmi = xen_apic_nop;
}

static const TypeInfo xen_apic_types[] = {
    {
        .name = "xen-apic",
        .parent = TYPE_APIC_COMMON,
        .class_init = xen_apic_class_init,
        .instance_size = sizeof(APICCommonState),
    },
};

DEFINE_TYPES(xen_apic_types)
