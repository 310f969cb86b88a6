/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The Xen platform PCI device (5853:0001) and the emulated-device unplug
 * protocol it carries.
 *
 * PV drivers in an HVM guest find Xen through this device: its memory BAR
 * is where they map the grant table and shared info, and its fixed I/O
 * ports at 0x10 (docs/misc/hvm-emulated-unplug.pandoc in Xen) let them
 * identify themselves, be refused by a driver blacklist, send log lines
 * to the device model, and unplug the emulated disks and NICs they
 * replace.  The I/O BAR keeps the older SUSE and Novell VMDP unplug
 * writes working.
 *
 * Fixed ports (offset from 0x10; any other offset or width is a guest
 * error, reads as all-ones and writes are dropped):
 *   +0 byte  R/W  platform flags (bit 0: ROM area 0xC0000-0xFFFFF read-only)
 *   +0 word  R    magic, 0x49d2, or 0xd249 once the driver is blacklisted
 *   +0 word  W    unplug mask (UNPLUG_* below)
 *   +0 dword W    driver build number (checked against the blacklist)
 *   +2 byte  R    protocol version, 1
 *   +2 byte  W    log port: one character of a guest log line
 *   +2 word  W    driver product number (Xen's public/hvm/pvdrivers.h)
 *
 * Invariants:
 *  - An unplug takes away only the devices its bits name, on the bus of
 *    this device, never a passthrough device or a CD-ROM, and leaves no
 *    request pointing at freed state: every drive is drained (in-flight
 *    and throttled requests complete) and flushed before it is detached,
 *    and the BlockBackends are released only after their device let go
 *    (for a controller taken away whole, when it is finalized: query-block
 *    shows its drives gone a grace period after the unplug).
 *  - A class once unplugged stays unplugged for the life of the process
 *    (as the guest's drivers expect after a reboot); asking again is a
 *    no-op.
 *  - Nothing the guest writes can stop QEMU: bad registers, widths and
 *    values are reported (LOG_GUEST_ERROR, rate-limited) and ignored, and
 *    the log port drops lines beyond its rate and never prints control
 *    characters.
 *
 * Everything here runs under the BQL (I/O callbacks and reset).
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qemu/error-report.h"
#include "qemu/module.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "hw/ide/internal.h"
#include "hw/ide/ahci.h"
#include "hw/pci/pci.h"
#include "hw/scsi/scsi.h"
#include "hw/xen/xen_common.h"
#include "hw/xen/xen-legacy-backend.h"
#include "migration/vmstate.h"
#include "net/net.h"
#include "sysemu/block-backend.h"
#include "sysemu/blockdev.h"
#include "sysemu/xen.h"
#include "qom/object.h"
#include "trace.h"
#include "xen-guest-error.h"

#define TYPE_XEN_PLATFORM "xen-platform"
/* Never unplugged: the guest's PV drivers do not replace it */
#define TYPE_XEN_PT_DEVICE "xen-pci-passthrough"
OBJECT_DECLARE_SIMPLE_TYPE(XenPlatformState, XEN_PLATFORM)

#define XEN_PLATFORM_FIXED_PORT     0x10
#define XEN_PLATFORM_FIXED_SIZE     16
#define XEN_PLATFORM_IO_BAR_SIZE    0x100
/* Room for the grant table and shared info the guest maps there */
#define XEN_PLATFORM_MMIO_BAR_SIZE  (16 * MiB)

#define PLATFORM_MAGIC              0x49d2
#define PLATFORM_MAGIC_BLACKLISTED  0xd249
#define PLATFORM_PROTOCOL_VERSION   1

/* Platform flags */
#define PLATFORM_FLAG_ROM_LOCK      0x01
#define PLATFORM_ROM_PFN            0xc0
#define PLATFORM_ROM_NR_PFNS        0x40

/* The unplug mask */
#define UNPLUG_DISKS                0x0001  /* IDE, AHCI and SCSI disks */
#define UNPLUG_NICS                 0x0002
#define UNPLUG_AUX_IDE_DISKS        0x0004  /* all but the primary master */
#define UNPLUG_NVME_DISKS           0x0008
#define UNPLUG_KNOWN                0x000f

/* Guest log lines: longer ones are cut, more per window are dropped */
#define LOG_LINE_MAX                240
#define LOG_LINES_BURST             20
#define LOG_WINDOW_MS               1000

struct XenPlatformState {
    PCIDevice parent_obj;

    MemoryRegion fixed_io;
    MemoryRegion io_bar;
    MemoryRegion mmio_bar;

    uint8_t flags;              /* PLATFORM_FLAG_*; migrated */

    /* Driver identification, for the blacklist; reset with the guest */
    uint16_t product;
    bool have_product;
    uint32_t build;
    bool blacklisted;

    /* Unplug: done is for the process' life, writes count per boot */
    uint16_t unplugged;
    unsigned int unplug_writes;

    /* The log port */
    char line[LOG_LINE_MAX + 1];
    unsigned int line_len;
    int64_t log_window_start_ms;
    unsigned int log_lines_in_window;
    uint64_t log_lines;
    uint64_t log_dropped;

    XenGuestErrorLimit errors;
};

/* ---- guest log lines ---------------------------------------------------- */

static void platform_log_flush(XenPlatformState *s)
{
    int64_t now = qemu_clock_get_ms(QEMU_CLOCK_REALTIME);

    s->line[s->line_len] = '\0';
    if (now - s->log_window_start_ms >= LOG_WINDOW_MS) {
        if (s->log_lines_in_window > LOG_LINES_BURST) {
            info_report("xen platform: %u guest log lines dropped",
                        s->log_lines_in_window - LOG_LINES_BURST);
        }
        s->log_window_start_ms = now;
        s->log_lines_in_window = 0;
    }
    if (++s->log_lines_in_window > LOG_LINES_BURST) {
        s->log_dropped++;
        if (s->log_lines_in_window == LOG_LINES_BURST + 1) {
            xen_guest_error(&s->errors,
                            "xen platform: guest log flood, dropping lines\n");
        }
    } else {
        s->log_lines++;
        trace_xen_platform_log(s->line);
        info_report("xen platform: guest: %s", s->line);
    }
    s->line_len = 0;
}

static void platform_log_byte(XenPlatformState *s, uint8_t c)
{
    if (c == '\n') {
        platform_log_flush(s);
        return;
    }
    if (c == '\r') {
        return;
    }
    /* Whatever the guest sends, the log gets printable ASCII */
    s->line[s->line_len++] = (c >= 0x20 && c < 0x7f) ? c : '?';
    if (s->line_len == LOG_LINE_MAX) {
        platform_log_flush(s);
    }
}

/* ---- driver identification and blacklist -------------------------------- */

/* Product numbers and names of Xen's public/hvm/pvdrivers.h */
static const char *platform_product_name(uint16_t product)
{
    switch (product) {
    case 0x0001:
        return "xensource-windows";
    case 0x0002:
        return "gplpv-windows";
    case 0x0003:
        return "linux";
    case 0x0004:
        return "xenserver-windows-v7.0+";
    case 0x0005:
        return "xenserver-windows-v7.2+";
    case 0xffff:
        return "experimental";
    default:
        return NULL;
    }
}

/* Step 4 of the protocol: is /mh/driver-blacklist/<product>/<build> there? */
static void platform_check_blacklist(XenPlatformState *s)
{
    const char *name = platform_product_name(s->product);
    g_autofree char *path = NULL;
    g_autofree void *val = NULL;
    unsigned int len;

    if (!s->have_product || !name) {
        xen_guest_error(&s->errors, "xen platform: driver build %u sent "
                        "%s product number\n", s->build,
                        s->have_product ? "with an unknown" : "without a");
        return;
    }
    if (!xenstore) {
        return;
    }
    path = g_strdup_printf("/mh/driver-blacklist/%s/%u", name, s->build);
    val = xs_read(xenstore, XBT_NULL, path, &len);
    s->blacklisted = val != NULL;
    trace_xen_platform_driver(s->product, name, s->build, s->blacklisted);
    if (s->blacklisted) {
        info_report("xen platform: PV driver %s build %u is blacklisted",
                    name, s->build);
    }
}

/* ---- unplug ------------------------------------------------------------- */

/* Release a drive its device let go of, as drive_del would. */
static void platform_release_drive(BlockBackend *blk)
{
    if (*blk_name(blk) && !blk_get_attached_dev(blk)) {
        monitor_remove_blk(blk);
        blk_unref(blk);     /* the monitor's reference */
    }
    blk_unref(blk);         /* the one taken for the unplug */
}

static bool platform_is_below(DeviceState *dev, DeviceState *root)
{
    while (dev) {
        if (dev == root) {
            return true;
        }
        dev = dev->parent_bus ? dev->parent_bus->parent : NULL;
    }
    return false;
}

/*
 * Take @dev (a PCI storage controller, or a disk on one) away for good:
 * drain everything, unrealize it, then release the drives it used.
 */
static void platform_unparent_storage(DeviceState *dev)
{
    g_autoptr(GPtrArray) drives = g_ptr_array_new();
    BlockBackend *blk = NULL;
    unsigned int i;

    while ((blk = blk_all_next(blk))) {
        if (platform_is_below(blk_get_attached_dev(blk), dev)) {
            blk_ref(blk);
            g_ptr_array_add(drives, blk);
            /*
             * The device lets go of a drive only when it is finalized,
             * after an RCU grace period: have a -drive deleted then, as
             * device_del does
             */
            blockdev_mark_auto_del(blk);
        }
    }
    for (i = 0; i < drives->len; i++) {
        blk_drain(drives->pdata[i]);
        if (blk_flush(drives->pdata[i]) < 0) {
            warn_report("xen platform: flush before unplug failed");
        }
    }
    object_unparent(OBJECT(dev));
    for (i = 0; i < drives->len; i++) {
        platform_release_drive(drives->pdata[i]);
    }
}

/* PIIX IDE: every hard disk, or all but the primary master (@aux). */
static void platform_unplug_ide(PCIDevice *d, bool aux)
{
    BusState *bus;

    QLIST_FOREACH(bus, &DEVICE(d)->child_bus, sibling) {
        IDEBus *idebus = (IDEBus *)object_dynamic_cast(OBJECT(bus),
                                                       TYPE_IDE_BUS);
        int unit;

        if (!idebus) {
            continue;
        }
        for (unit = 0; unit < 2; unit++) {
            BlockBackend *blk;

            if (aux && idebus->bus_id == 0 && unit == 0) {
                continue;
            }
            blk = ide_bus_detach_disk(idebus, unit);
            if (blk) {
                trace_xen_platform_unplug_disk(d->name, idebus->bus_id, unit);
                platform_release_drive(blk);
            }
        }
    }
}

/* Any AHCI controller: every hard disk, or all but port 0's (@aux). */
static void platform_unplug_ahci(PCIDevice *d, bool aux)
{
    AHCIState *ahci = ahci_pci_get_state(d);
    int port;

    if (!ahci) {
        warn_report("xen platform: cannot unplug the disks of SATA "
                    "controller %s", d->name);
        return;
    }
    for (port = aux ? 1 : 0; port < ahci->ports; port++) {
        BlockBackend *blk = ahci_detach_disk(ahci, port);

        if (blk) {
            trace_xen_platform_unplug_disk(d->name, port, 0);
            platform_release_drive(blk);
        }
    }
}

/* SCSI: the disks on the controller's buses, not its CD-ROMs. */
static void platform_unplug_scsi(PCIDevice *d)
{
    g_autoptr(GPtrArray) disks = g_ptr_array_new();
    BusState *bus;
    BusChild *kid;
    unsigned int i;

    QLIST_FOREACH(bus, &DEVICE(d)->child_bus, sibling) {
        QTAILQ_FOREACH(kid, &bus->children, sibling) {
            SCSIDevice *sd = (SCSIDevice *)object_dynamic_cast(
                OBJECT(kid->child), TYPE_SCSI_DEVICE);

            if (sd && sd->type != TYPE_ROM) {
                g_ptr_array_add(disks, sd);
            }
        }
    }
    for (i = 0; i < disks->len; i++) {
        trace_xen_platform_unplug_device(object_get_typename(disks->pdata[i]));
        platform_unparent_storage(DEVICE(disks->pdata[i]));
    }
}

static void platform_unplug_nic(PCIDevice *d)
{
    g_autofree char *netdev = NULL;

    /* The backend (a tap) goes too, so that the PV NIC can have it */
    if (object_property_find(OBJECT(d), "netdev")) {
        netdev = object_property_get_str(OBJECT(d), "netdev", NULL);
    }
    if (netdev && *netdev) {
        NetClientState *nc = qemu_find_netdev(netdev);

        if (nc) {
            qemu_del_net_client(nc);
        }
    }
    trace_xen_platform_unplug_device(d->name);
    object_unparent(OBJECT(d));
}

static void platform_collect_device(PCIBus *bus, PCIDevice *d, void *opaque)
{
    g_ptr_array_add(opaque, d);
}

/* Unplug the classes of @mask not unplugged yet. */
static void platform_unplug(XenPlatformState *s, uint16_t mask)
{
    PCIDevice *self = PCI_DEVICE(s);
    g_autoptr(GPtrArray) devs = g_ptr_array_new();
    bool disks = mask & UNPLUG_DISKS;
    bool aux = !disks && (mask & UNPLUG_AUX_IDE_DISKS);
    unsigned int i;

    trace_xen_platform_unplug(mask);
    /* Collected first: unplugging changes the bus under the walk */
    pci_for_each_device(pci_get_bus(self), pci_dev_bus_num(self),
                        platform_collect_device, devs);

    for (i = 0; i < devs->len; i++) {
        PCIDevice *d = devs->pdata[i];
        uint16_t class = pci_get_word(d->config + PCI_CLASS_DEVICE);

        if (d == self || object_dynamic_cast(OBJECT(d), TYPE_XEN_PT_DEVICE)) {
            continue;
        }
        if (class == PCI_CLASS_STORAGE_IDE && (disks || aux)) {
            platform_unplug_ide(d, aux);
        } else if (class == PCI_CLASS_STORAGE_SATA && (disks || aux)) {
            platform_unplug_ahci(d, aux);
        } else if (class == PCI_CLASS_STORAGE_SCSI && disks) {
            platform_unplug_scsi(d);
        } else if (class == PCI_CLASS_STORAGE_EXPRESS &&
                   (mask & UNPLUG_NVME_DISKS)) {
            trace_xen_platform_unplug_device(d->name);
            platform_unparent_storage(DEVICE(d));
        } else if ((class >> 8) == PCI_BASE_CLASS_NETWORK &&
                   (mask & UNPLUG_NICS)) {
            platform_unplug_nic(d);
        }
    }
}

/* Step 6 of the protocol: a write of the unplug mask. */
static void platform_unplug_write(XenPlatformState *s, uint16_t mask)
{
    uint16_t todo;

    if (mask & ~UNPLUG_KNOWN) {
        xen_guest_error(&s->errors, "xen platform: unknown unplug bits "
                        "0x%04x ignored\n", mask & ~UNPLUG_KNOWN);
        mask &= UNPLUG_KNOWN;
    }
    if (s->blacklisted) {
        xen_guest_error(&s->errors, "xen platform: unplug 0x%04x from a "
                        "blacklisted driver refused\n", mask);
        return;
    }
    /* Disks done implies aux disks done */
    todo = mask & ~s->unplugged;
    if ((s->unplugged & UNPLUG_DISKS) && (todo & UNPLUG_AUX_IDE_DISKS)) {
        todo &= ~UNPLUG_AUX_IDE_DISKS;
    }
    if (s->unplug_writes++ && todo) {
        /* The protocol unplugs once, before the OS enumerates devices */
        xen_guest_error(&s->errors, "xen platform: unplug 0x%04x after an "
                        "earlier one in this boot: the guest may be using "
                        "these devices\n", todo);
    }
    if (!todo) {
        trace_xen_platform_unplug_repeated(mask);
        return;
    }
    platform_unplug(s, todo);
    s->unplugged |= todo;
}

/* ---- platform flags ----------------------------------------------------- */

static void platform_set_flags(XenPlatformState *s, uint8_t val)
{
    bool lock = val & PLATFORM_FLAG_ROM_LOCK;

    if (val & ~PLATFORM_FLAG_ROM_LOCK) {
        xen_guest_error(&s->errors, "xen platform: unknown platform flags "
                        "0x%02x ignored\n", val & ~PLATFORM_FLAG_ROM_LOCK);
    }
    if (xen_set_mem_type(xen_domid, lock ? HVMMEM_ram_ro : HVMMEM_ram_rw,
                         PLATFORM_ROM_PFN, PLATFORM_ROM_NR_PFNS)) {
        warn_report("xen platform: cannot make the ROM area %s: %s",
                    lock ? "read-only" : "writable", strerror(errno));
        return;
    }
    s->flags = lock ? PLATFORM_FLAG_ROM_LOCK : 0;
}

/* ---- the fixed I/O ports ------------------------------------------------ */

static uint64_t platform_fixed_read(void *opaque, hwaddr addr, unsigned size)
{
    XenPlatformState *s = opaque;

    switch (addr << 4 | size) {
    case 0x01:
        return s->flags;
    case 0x02:
        return s->blacklisted ? PLATFORM_MAGIC_BLACKLISTED : PLATFORM_MAGIC;
    case 0x21:
        return PLATFORM_PROTOCOL_VERSION;
    }
    xen_guest_error(&s->errors, "xen platform: bad %u-byte read of port "
                    "0x%" HWADDR_PRIx "\n", size,
                    XEN_PLATFORM_FIXED_PORT + addr);
    return MAKE_64BIT_MASK(0, size * 8);
}

static void platform_fixed_write(void *opaque, hwaddr addr, uint64_t val,
                                 unsigned size)
{
    XenPlatformState *s = opaque;

    switch (addr << 4 | size) {
    case 0x01:
        platform_set_flags(s, val);
        return;
    case 0x02:
        platform_unplug_write(s, val);
        return;
    case 0x04:
        s->build = val;
        platform_check_blacklist(s);
        return;
    case 0x21:
        platform_log_byte(s, val);
        return;
    case 0x22:
        s->product = val;
        s->have_product = true;
        if (!platform_product_name(val)) {
            xen_guest_error(&s->errors, "xen platform: unknown PV driver "
                            "product 0x%04x\n", s->product);
        }
        return;
    }
    xen_guest_error(&s->errors, "xen platform: bad %u-byte write of 0x%"
                    PRIx64 " to port 0x%" HWADDR_PRIx "\n", size, val,
                    XEN_PLATFORM_FIXED_PORT + addr);
}

static const MemoryRegionOps platform_fixed_ops = {
    .read = platform_fixed_read,
    .write = platform_fixed_write,
    /* Every width and offset reaches us, so each gets a clear answer */
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid.min_access_size = 1,
    .valid.max_access_size = 4,
    .valid.unaligned = true,
    .impl.min_access_size = 1,
    .impl.max_access_size = 4,
    .impl.unaligned = true,
};

/* ---- BAR 0: I/O, the pre-protocol SUSE and Novell VMDP unplug ----------- */

static uint64_t platform_io_bar_read(void *opaque, hwaddr addr,
                                     unsigned size)
{
    XenPlatformState *s = opaque;

    if (addr == 0) {
        return s->flags;
    }
    return 0xff;
}

static void platform_io_bar_write(void *opaque, hwaddr addr, uint64_t val,
                                  unsigned size)
{
    XenPlatformState *s = opaque;

    switch (addr) {
    case 0:
        platform_set_flags(s, val);
        return;
    case 4:
        /* SUSE xen-kmp and VMDP < 1.7 in "all devices" mode: outl(1) */
        if (val == 1) {
            platform_unplug_write(s, UNPLUG_DISKS | UNPLUG_NICS);
            return;
        }
        break;
    case 8:
        /* VMDP < 1.7 in disk-only (1) or NIC-only (2) mode */
        if (val == 1) {
            platform_unplug_write(s, UNPLUG_DISKS);
            return;
        } else if (val == 2) {
            platform_unplug_write(s, UNPLUG_NICS);
            return;
        }
        /* Those VMDPs logged through here, a byte at a time */
        platform_log_byte(s, val);
        return;
    case 5 ... 7:
        /* The high bytes of SUSE's outl(1) */
        if (val == 0) {
            return;
        }
        break;
    }
    xen_guest_error(&s->errors, "xen platform: bad write of 0x%" PRIx64
                    " to I/O BAR offset 0x%" HWADDR_PRIx "\n", val, addr);
}

static const MemoryRegionOps platform_io_bar_ops = {
    .read = platform_io_bar_read,
    .write = platform_io_bar_write,
    .impl = {
        .min_access_size = 1,
        .max_access_size = 1,
    },
    .endianness = DEVICE_LITTLE_ENDIAN,
};

/* ---- BAR 1: memory, where the guest maps Xen's pages -------------------- */

static uint64_t platform_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    XenPlatformState *s = opaque;

    /* Only a page the guest has not mapped yet can reach us */
    xen_guest_error(&s->errors, "xen platform: read of unmapped MMIO BAR "
                    "offset 0x%" HWADDR_PRIx "\n", addr);
    return 0;
}

static void platform_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                                unsigned size)
{
    XenPlatformState *s = opaque;

    xen_guest_error(&s->errors, "xen platform: write to unmapped MMIO BAR "
                    "offset 0x%" HWADDR_PRIx "\n", addr);
}

static const MemoryRegionOps platform_mmio_ops = {
    .read = platform_mmio_read,
    .write = platform_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
};

/* ---- the device --------------------------------------------------------- */

static void platform_reset(DeviceState *dev)
{
    XenPlatformState *s = XEN_PLATFORM(dev);

    platform_set_flags(s, 0);
    s->have_product = false;
    s->product = 0;
    s->build = 0;
    s->blacklisted = false;
    s->unplug_writes = 0;
    s->line_len = 0;
}

static int platform_post_load(void *opaque, int version_id)
{
    XenPlatformState *s = opaque;

    platform_set_flags(s, s->flags);
    return 0;
}

/* The same stream as QEMU 7.2's, so guests migrate either way */
static const VMStateDescription vmstate_xen_platform = {
    .name = "platform",
    .version_id = 4,
    .minimum_version_id = 4,
    .post_load = platform_post_load,
    .fields = (VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, XenPlatformState),
        VMSTATE_UINT8(flags, XenPlatformState),
        VMSTATE_END_OF_LIST()
    }
};

static void platform_realize(PCIDevice *dev, Error **errp)
{
    XenPlatformState *s = XEN_PLATFORM(dev);
    uint8_t *conf = dev->config;

    /* The ports and reset talk to Xen */
    if (!xen_enabled()) {
        error_setg(errp, "%s needs the Xen accelerator", TYPE_XEN_PLATFORM);
        return;
    }

    pci_set_word(conf + PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    pci_config_set_prog_interface(conf, 0);
    pci_config_set_interrupt_pin(conf, 1);

    memory_region_init_io(&s->io_bar, OBJECT(s), &platform_io_bar_ops, s,
                          "xen-platform-io", XEN_PLATFORM_IO_BAR_SIZE);
    pci_register_bar(dev, 0, PCI_BASE_ADDRESS_SPACE_IO, &s->io_bar);

    memory_region_init_io(&s->mmio_bar, OBJECT(s), &platform_mmio_ops, s,
                          "xen-platform-mmio", XEN_PLATFORM_MMIO_BAR_SIZE);
    pci_register_bar(dev, 1, PCI_BASE_ADDRESS_MEM_PREFETCH, &s->mmio_bar);

    memory_region_init_io(&s->fixed_io, OBJECT(s), &platform_fixed_ops, s,
                          "xen-platform-fixed", XEN_PLATFORM_FIXED_SIZE);
    memory_region_add_subregion(get_system_io(), XEN_PLATFORM_FIXED_PORT,
                                &s->fixed_io);
}

static void platform_exit(PCIDevice *dev)
{
    XenPlatformState *s = XEN_PLATFORM(dev);

    memory_region_del_subregion(get_system_io(), &s->fixed_io);
}

/* Read-only counters and state for the operator (qom-get) */
static void platform_get_u64(Object *obj, Visitor *v, const char *name,
                             void *opaque, Error **errp)
{
    XenPlatformState *s = XEN_PLATFORM(obj);
    uint64_t val;

    if (!strcmp(name, "guest-log-lines")) {
        val = s->log_lines;
    } else if (!strcmp(name, "guest-log-dropped")) {
        val = s->log_dropped;
    } else if (!strcmp(name, "guest-errors")) {
        val = s->errors.total;
    } else if (!strcmp(name, "unplugged")) {
        val = s->unplugged;
    } else if (!strcmp(name, "driver-product")) {
        val = s->have_product ? s->product : 0;
    } else if (!strcmp(name, "driver-build")) {
        val = s->build;
    } else {
        val = s->blacklisted;
    }
    visit_type_uint64(v, name, &val, errp);
}

static void platform_class_init(ObjectClass *klass, void *data)
{
    static const char *const counters[] = {
        "guest-log-lines", "guest-log-dropped", "guest-errors", "unplugged",
        "driver-product", "driver-build", "driver-blacklisted",
    };
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);
    unsigned int i;

    k->realize = platform_realize;
    k->exit = platform_exit;
    k->vendor_id = PCI_VENDOR_ID_XEN;
    k->device_id = PCI_DEVICE_ID_XEN_PLATFORM;
    /* Class 0xff80: what Windows and Linux PV drivers match on */
    k->class_id = PCI_CLASS_OTHERS << 8 | 0x80;
    k->subsystem_vendor_id = PCI_VENDOR_ID_XEN;
    k->subsystem_id = PCI_DEVICE_ID_XEN_PLATFORM;
    k->revision = 1;
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    dc->desc = "Xen platform PCI device";
    dc->reset = platform_reset;
    dc->vmsd = &vmstate_xen_platform;

    for (i = 0; i < ARRAY_SIZE(counters); i++) {
        object_class_property_add(klass, counters[i], "uint64",
                                  platform_get_u64, NULL, NULL, NULL);
    }
}

static const TypeInfo platform_types[] = {
    {
        .name = TYPE_XEN_PLATFORM,
        .parent = TYPE_PCI_DEVICE,
        .class_init = platform_class_init,
        .instance_size = sizeof(XenPlatformState),
        .interfaces = (InterfaceInfo[]) {
            { INTERFACE_CONVENTIONAL_PCI_DEVICE },
            { }
        },
    },
};

DEFINE_TYPES(platform_types)
