/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * QTest testcase for the Xen platform devices as an HVM guest's PV
 * drivers see them: the platform PCI device (5853:0001) and its unplug
 * protocol, xen-pvdevice, and xen-apic's MSI window.
 *
 * It needs Xen: run it through the xensim qtest bridge
 * (QTEST_QEMU_BINARY=.../xensim/qemu-system-x86_64); on any other
 * accelerator every case skips.  Each access is a trapped guest
 * instruction routed by the simulated hypervisor.  What only the
 * hypervisor sees (injected MSIs) and xenstore (the driver blacklist) are
 * reached through the bridge's run directory with libqos/xen-sim.
 *
 * The firmware's work (BAR assignment, enabling decoding) is done here
 * with libqos/xen-sim's aligned CF8/CFC accesses, as in xen-dma-test.
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "libqos/xen-sim.h"
#include "qemu/bswap.h"
#include "qapi/qmp/qdict.h"
#include "qapi/qmp/qlist.h"

#define DEVFN(slot, fn)     ((slot) << 3 | (fn))

#define PLATFORM_PORT       0x10
#define UNPLUG_DISKS        0x0001
#define UNPLUG_NICS         0x0002
#define UNPLUG_AUX_DISKS    0x0004
#define UNPLUG_NVME         0x0008

/* Where the test puts BARs (above the guest's 128 MiB of RAM) */
#define PLATFORM_IO_BAR     0xc100
#define PLATFORM_MMIO_BAR   0xe1000000u
#define AHCI_BAR            0xe0100000u
#define PVDEVICE_BAR        0xe2000000u
#define BMDMA_BASE          0xc000

#define SECTOR_SIZE         512
#define IMAGE_SECTORS       256
#define CD_SECTOR           2048

#define TIMEOUT_US          (20 * G_USEC_PER_SEC)

static char *disk_path, *cd_path;
static const char *tmp_dir;

static uint8_t image_byte(unsigned lba, unsigned i)
{
    return (lba * 37 + i * 7 + (i >> 8)) ^ 0x5a;
}

/* ---- PCI config space, as firmware reaches it -------------------------- */

/* A byte of config space, from a read of its dword */
static uint8_t cfg_readb(QTestState *qts, int devfn, int reg)
{
    return xen_sim_cfg_readl(qts, devfn, reg) >> ((reg & 3) * 8);
}

/* The function with these IDs on bus 0, or -1. */
static int find_devfn(QTestState *qts, uint16_t vendor, uint16_t device)
{
    int devfn;

    for (devfn = 0; devfn < 256; devfn++) {
        if (xen_sim_cfg_readl(qts, devfn, 0) ==
            ((uint32_t)device << 16 | vendor)) {
            return devfn;
        }
    }
    return -1;
}

/* The size a BAR decodes, by the all-ones probe; the BAR is restored. */
static uint32_t bar_probe(QTestState *qts, int devfn, int bar)
{
    int reg = 0x10 + bar * 4;
    uint32_t old = xen_sim_cfg_readl(qts, devfn, reg), mask;

    xen_sim_cfg_writel(qts, devfn, reg, 0xffffffff);
    mask = xen_sim_cfg_readl(qts, devfn, reg);
    xen_sim_cfg_writel(qts, devfn, reg, old);
    return mask;
}

/* ---- QMP: what the operator sees --------------------------------------- */

/* Whether query-pci lists a device with these IDs on bus 0. */
static bool pci_listed(QTestState *qts, uint16_t vendor, uint16_t device)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-pci' }");
    QList *devs;
    QListEntry *e;
    bool found = false;

    devs = qdict_get_qlist(qobject_to(QDict,
                           qlist_peek(qdict_get_qlist(rsp, "return"))),
                           "devices");
    QLIST_FOREACH_ENTRY(devs, e) {
        QDict *id = qdict_get_qdict(qobject_to(QDict, qlist_entry_obj(e)),
                                    "id");

        if (qdict_get_int(id, "vendor") == vendor &&
            qdict_get_int(id, "device") == device) {
            found = true;
        }
    }
    qobject_unref(rsp);
    return found;
}

/* Whether query-block lists the drive @id (with a medium, if @inserted). */
static bool drive_listed(QTestState *qts, const char *id, bool *inserted)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-block' }");
    QListEntry *e;
    bool found = false;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), e) {
        QDict *d = qobject_to(QDict, qlist_entry_obj(e));

        if (!strcmp(qdict_get_str(d, "device"), id)) {
            found = true;
            if (inserted) {
                *inserted = qdict_haskey(d, "inserted");
            }
        }
    }
    qobject_unref(rsp);
    return found;
}

/*
 * A controller unplugged whole releases its drives when it is finalized,
 * after an RCU grace period: give that a few seconds.
 */
static void wait_drive_gone(QTestState *qts, const char *id)
{
    int64_t deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    while (drive_listed(qts, id, NULL)) {
        g_assert(g_get_monotonic_time() < deadline);
        g_usleep(10 * 1000);
    }
}

static void assert_running(QTestState *qts)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-status' }");

    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(rsp, "return"), "status"),
                    ==, "running");
    qobject_unref(rsp);
}

/* The QOM path of the xen-platform device (see boot()), for qom-get. */
static char *platform_path(QTestState *qts)
{
    return g_strdup("/machine/peripheral/platform");
}

/* A counter of the platform device; -1 when it has none (stock 7.2). */
static int64_t platform_counter(QTestState *qts, const char *name)
{
    g_autofree char *path = platform_path(qts);
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'qom-get', 'arguments': "
                           "{ 'path': %s, 'property': %s } }", path, name);
    int64_t val = -1;

    if (qdict_haskey(rsp, "return")) {
        val = qdict_get_int(rsp, "return");
    }
    qobject_unref(rsp);
    return val;
}

/* ---- the guest's platform driver --------------------------------------- */

static QTestState *boot(const char *extra)
{
    /*
     * libxl starts "-machine xenfv"; through the bridge only our QEMU
     * can (Debian's 7.2 refuses xenfv's accel=xen next to -accel xen), so
     * the cases use the same board as pc plus the device xenfv adds
     */
    return qtest_initf("-machine pc -nodefaults "
                       "-device xen-platform,id=platform %s", extra);
}

/* boot() with the disk image as the PIIX IDE primary master, drive hd0 */
static QTestState *boot_hd0(void)
{
    g_autofree char *args = g_strdup_printf(
        "-drive file=%s,if=ide,bus=0,unit=0,format=raw,id=hd0,snapshot=on",
        disk_path);

    return boot(args);
}

static void unplug(QTestState *qts, uint16_t mask)
{
    /* What every PV driver does first: check the magic */
    g_assert_cmphex(qtest_inw(qts, PLATFORM_PORT), ==, 0x49d2);
    qtest_outw(qts, PLATFORM_PORT, mask);
}

/*
 * Config space as PV drivers match on it: IDs, class 0xff80, revision 1,
 * subsystem IDs, INTA, an I/O BAR of 256 bytes and a 16 MiB prefetchable
 * memory BAR.
 */
static void test_platform_pci(void)
{
    QTestState *qts = boot("");
    int devfn = find_devfn(qts, 0x5853, 0x0001);

    g_assert_cmpint(devfn, >=, 0);
    g_assert_cmphex(xen_sim_cfg_readl(qts, devfn, 0x08), ==, 0xff800001);
    g_assert_cmphex(xen_sim_cfg_readl(qts, devfn, 0x2c), ==, 0x00015853);
    g_assert_cmphex(cfg_readb(qts, devfn, 0x3d), ==, 1);
    g_assert_cmphex(bar_probe(qts, devfn, 0), ==, 0xffffff01);
    g_assert_cmphex(bar_probe(qts, devfn, 1), ==, 0xff000008);
    g_assert_cmphex(bar_probe(qts, devfn, 2), ==, 0);
    g_assert(pci_listed(qts, 0x5853, 0x0001));

    /* The BARs decode where firmware puts them */
    xen_sim_cfg_writel(qts, devfn, 0x10, PLATFORM_IO_BAR | 1);
    xen_sim_cfg_writel(qts, devfn, 0x14, PLATFORM_MMIO_BAR);
    xen_sim_cfg_writel(qts, devfn, 0x04, 0x3);
    g_assert_cmphex(qtest_inb(qts, PLATFORM_IO_BAR), ==, 0);
    g_assert_cmphex(qtest_inb(qts, PLATFORM_IO_BAR + 1), ==, 0xff);
    g_assert_cmphex(qtest_readl(qts, PLATFORM_MMIO_BAR + 0x1000), ==, 0);
    assert_running(qts);
    qtest_quit(qts);
}

/* Every register of the fixed ports, byte-exact, then the bad widths. */
static void test_platform_ports(void)
{
    QTestState *qts = boot("");
    int64_t errors;

    g_assert_cmphex(qtest_inw(qts, 0x10), ==, 0x49d2);
    g_assert_cmphex(qtest_inb(qts, 0x12), ==, 1);
    g_assert_cmphex(qtest_inb(qts, 0x10), ==, 0);
    qtest_outb(qts, 0x10, 1);                   /* ROM area read-only */
    g_assert_cmphex(qtest_inb(qts, 0x10), ==, 1);
    qtest_outb(qts, 0x10, 0);
    g_assert_cmphex(qtest_inb(qts, 0x10), ==, 0);

    /* The Linux driver's handshake: product 3, a build number */
    qtest_outw(qts, 0x12, 0x0003);
    qtest_outl(qts, 0x10, 0x00010203);
    g_assert_cmphex(qtest_inw(qts, 0x10), ==, 0x49d2);

    /* Wrong widths and offsets: all-ones, nothing changes */
    errors = platform_counter(qts, "guest-errors");
    g_assert_cmphex(qtest_inl(qts, 0x10), ==, 0xffffffff);
    g_assert_cmphex(qtest_inw(qts, 0x12), ==, 0xffff);
    g_assert_cmphex(qtest_inb(qts, 0x11), ==, 0xff);
    g_assert_cmphex(qtest_inb(qts, 0x13), ==, 0xff);
    g_assert_cmphex(qtest_inb(qts, 0x1f), ==, 0xff);
    qtest_outl(qts, 0x12, 0xdeadbeef);
    qtest_outb(qts, 0x14, 0x55);
    qtest_outw(qts, 0x1e, 0x55aa);
    g_assert_cmphex(qtest_inw(qts, 0x10), ==, 0x49d2);
    g_assert_cmphex(qtest_inb(qts, 0x10), ==, 0);
    if (errors >= 0) {
        g_assert_cmpint(platform_counter(qts, "guest-errors"), ==,
                        errors + 8);
    }
    assert_running(qts);
    qtest_quit(qts);
}

/* A build listed under /mh/driver-blacklist reads the magic reversed. */
static void test_platform_blacklist(void)
{
    QTestState *qts = boot_hd0();

    xen_sim_xenstore_write("/mh/driver-blacklist/linux/4242", "1");
    g_assert_cmphex(qtest_inw(qts, 0x10), ==, 0x49d2);
    qtest_outw(qts, 0x12, 0x0003);
    qtest_outl(qts, 0x10, 4241);
    g_assert_cmphex(qtest_inw(qts, 0x10), ==, 0x49d2);
    qtest_outl(qts, 0x10, 4242);
    g_assert_cmphex(qtest_inw(qts, 0x10), ==, 0xd249);
    /* A blacklisted driver must not unplug anything */
    qtest_outw(qts, 0x10, UNPLUG_DISKS);
    g_assert(drive_listed(qts, "hd0", NULL));
    assert_running(qts);
    qtest_quit(qts);
}

/* ---- IDE: aux, then all disks; the CD-ROM stays and still DMAs --------- */

#define IDE_DEVFN           DEVFN(1, 1)

static void wait_bm(QTestState *qts, uint16_t bm)
{
    int64_t deadline = g_get_monotonic_time() + TIMEOUT_US;
    uint8_t status;

    do {
        status = qtest_inb(qts, bm + 2);
        g_assert(g_get_monotonic_time() < deadline);
    } while ((status & 5) == 1);
    g_assert_cmphex(status & 7, ==, 4);     /* done, interrupt, no error */
}

/* ATAPI READ(10) of one 2 KiB sector by DMA on the secondary master. */
static void cd_dma_read(QTestState *qts, uint32_t lba, uint32_t gpa)
{
    uint16_t bm = BMDMA_BASE + 8;
    uint8_t cdb[12] = { 0x28, 0, lba >> 24, lba >> 16, lba >> 8, lba,
                        0, 0, 1, 0, 0, 0 };
    uint32_t prd[2] = { cpu_to_le32(gpa),
                        cpu_to_le32(CD_SECTOR | 0x80000000u) };
    int64_t deadline;
    int i;

    qtest_memwrite(qts, 0x8000, prd, sizeof(prd));
    qtest_outb(qts, bm, 0);
    qtest_outb(qts, bm + 2, 6);
    qtest_outl(qts, bm + 4, 0x8000);

    qtest_outb(qts, 0x176, 0xa0);
    qtest_outb(qts, 0x171, 1);                  /* DMA */
    qtest_outb(qts, 0x174, CD_SECTOR & 0xff);
    qtest_outb(qts, 0x175, CD_SECTOR >> 8);
    qtest_outb(qts, 0x177, 0xa0);               /* PACKET */
    deadline = g_get_monotonic_time() + TIMEOUT_US;
    while ((qtest_inb(qts, 0x177) & 0x88) != 0x08) {
        g_assert(g_get_monotonic_time() < deadline);
    }
    for (i = 0; i < 12; i += 2) {
        qtest_outw(qts, 0x170, cdb[i] | cdb[i + 1] << 8);
    }
    qtest_outb(qts, bm, 0x09);                  /* start, to memory */
    wait_bm(qts, bm);
    qtest_outb(qts, bm, 0);
}

static void cd_check(QTestState *qts)
{
    uint8_t buf[CD_SECTOR];
    unsigned i;

    qtest_memset(qts, 0x10000, 0xcc, CD_SECTOR);
    cd_dma_read(qts, 3, 0x10000);
    qtest_memread(qts, 0x10000, buf, CD_SECTOR);
    for (i = 0; i < CD_SECTOR; i++) {
        g_assert_cmphex(buf[i], ==, image_byte(3 * 4 + i / SECTOR_SIZE,
                                               i % SECTOR_SIZE));
    }
}

static void test_unplug_ide(void)
{
    g_autofree char *args = g_strdup_printf(
        "-drive file=%s,if=ide,bus=0,unit=0,format=raw,id=hd0,snapshot=on "
        "-drive file=%s,if=ide,bus=0,unit=1,format=raw,id=hd1,snapshot=on "
        "-drive file=%s,if=ide,bus=1,unit=0,format=raw,id=cd0,media=cdrom",
        disk_path, disk_path, cd_path);
    QTestState *qts = boot(args);
    bool inserted;

    xen_sim_cfg_writel(qts, IDE_DEVFN, 0x20, BMDMA_BASE | 1);
    xen_sim_cfg_writel(qts, IDE_DEVFN, 0x04, 0x5);
    cd_check(qts);

    unplug(qts, UNPLUG_AUX_DISKS);
    g_assert(drive_listed(qts, "hd0", NULL));
    g_assert(!drive_listed(qts, "hd1", NULL));
    unplug(qts, UNPLUG_DISKS);
    g_assert(!drive_listed(qts, "hd0", NULL));
    g_assert(drive_listed(qts, "cd0", &inserted) && inserted);
    g_assert(pci_listed(qts, 0x8086, 0x7010));  /* the controller stays */

    /*
     * The CD-ROM still works; the primary channel reads as empty (status
     * 0) and a command sent there does nothing
     */
    cd_check(qts);
    qtest_outb(qts, 0x1f6, 0xe0);
    qtest_outb(qts, 0x1f7, 0xec);               /* IDENTIFY */
    g_assert_cmphex(qtest_inb(qts, 0x1f7), ==, 0);
    /* Asking again does nothing */
    unplug(qts, UNPLUG_DISKS | UNPLUG_AUX_DISKS);
    assert_running(qts);
    qtest_quit(qts);
}

/* ---- NICs and NVMe: each goes with its own bit only -------------------- */

/* nvme on QEMU 7.2's pc machine; older machines (xenfv) give Intel's */
#define NVME_VENDOR         0x1b36
#define NVME_DEVICE         0x0010
#define NVME_VENDOR_XENFV   0x8086
#define NVME_DEVICE_XENFV   0x5845

static void test_unplug_nic_nvme(void)
{
    g_autofree char *args = g_strdup_printf(
        "-netdev hubport,id=net0,hubid=0 -device rtl8139,netdev=net0 "
        "-drive file=%s,if=none,id=nvme0,format=raw,snapshot=on "
        "-device nvme,drive=nvme0,serial=xen0", disk_path);
    QTestState *qts = boot(args);

    g_assert(pci_listed(qts, 0x10ec, 0x8139));
    g_assert(pci_listed(qts, NVME_VENDOR, NVME_DEVICE));
    /* Linux's "unplug all" (7) does not include NVMe */
    unplug(qts, UNPLUG_DISKS | UNPLUG_NICS | UNPLUG_AUX_DISKS);
    g_assert(!pci_listed(qts, 0x10ec, 0x8139));
    g_assert(pci_listed(qts, NVME_VENDOR, NVME_DEVICE));
    g_assert(drive_listed(qts, "nvme0", NULL));
    unplug(qts, UNPLUG_NVME);
    g_assert(!pci_listed(qts, NVME_VENDOR, NVME_DEVICE));
    wait_drive_gone(qts, "nvme0");
    assert_running(qts);
    qtest_quit(qts);
}

/*
 * On xenfv, as libxl starts it, nvme has an MSI-X BAR of its own
 * (msix-exclusive-bar, a compat property), and QEMU 7.2 aborted in
 * nvme_exit() on every unplug of such a controller.
 */
static void test_unplug_nvme_xenfv(void)
{
    g_autofree char *args = g_strdup_printf(
        "-machine xenfv -nodefaults "
        "-drive file=%s,if=none,id=nvme0,format=raw,snapshot=on "
        "-device nvme,drive=nvme0,serial=xen0", disk_path);
    QTestState *qts = qtest_init(args);

    g_assert(pci_listed(qts, NVME_VENDOR_XENFV, NVME_DEVICE_XENFV));
    unplug(qts, UNPLUG_NVME);
    g_assert(!pci_listed(qts, NVME_VENDOR_XENFV, NVME_DEVICE_XENFV));
    wait_drive_gone(qts, "nvme0");
    assert_running(qts);
    qtest_quit(qts);
}

/* ---- AHCI: unplug while NCQ reads are queued; MSIs reach Xen ----------- */

#define AHCI_PORT0          (AHCI_BAR + 0x100)
#define CLB_GPA             0x40000
#define FB_GPA              0x41000
#define CT_GPA              0x42000     /* 256 bytes per command table */
#define DATA_GPA            0x100000    /* 4 KiB per tag */
#define NCQ_TAGS            8
#define NCQ_SECTORS         8
#define MSI_ADDR            0xfee01000u
#define MSI_DATA            0x4041u

static int ahci_setup(QTestState *qts)
{
    int devfn = find_devfn(qts, 0x8086, 0x2922);
    uint8_t cap;

    g_assert_cmpint(devfn, >=, 0);
    xen_sim_cfg_writel(qts, devfn, 0x24, AHCI_BAR);
    xen_sim_cfg_writel(qts, devfn, 0x04, 0x6);      /* memory, bus master */

    /* MSI: the first capability whose ID is 5 */
    for (cap = cfg_readb(qts, devfn, 0x34); cap;
         cap = cfg_readb(qts, devfn, cap + 1)) {
        if (cfg_readb(qts, devfn, cap) == 5) {
            break;
        }
    }
    g_assert(cap);
    xen_sim_cfg_writel(qts, devfn, cap + 4, MSI_ADDR);
    xen_sim_cfg_writel(qts, devfn, cap + 8, 0);
    xen_sim_cfg_writel(qts, devfn, cap + 12, MSI_DATA);
    xen_sim_cfg_writel(qts, devfn, cap,
                       xen_sim_cfg_readl(qts, devfn, cap) | 0x10000);

    qtest_writel(qts, AHCI_BAR + 0x04, 0x80000000);     /* GHC.AE */
    qtest_writel(qts, AHCI_PORT0 + 0x18, 0);
    qtest_memset(qts, CLB_GPA, 0, 0x2000);
    qtest_writel(qts, AHCI_PORT0 + 0x00, CLB_GPA);
    qtest_writel(qts, AHCI_PORT0 + 0x04, 0);
    qtest_writel(qts, AHCI_PORT0 + 0x08, FB_GPA);
    qtest_writel(qts, AHCI_PORT0 + 0x0c, 0);
    qtest_writel(qts, AHCI_PORT0 + 0x30, 0xffffffff);
    qtest_writel(qts, AHCI_PORT0 + 0x10, 0xffffffff);
    qtest_writel(qts, AHCI_PORT0 + 0x14, 0xffffffff);   /* PxIE: all */
    qtest_writel(qts, AHCI_PORT0 + 0x18, 0x11);         /* FRE, ST */
    qtest_writel(qts, AHCI_BAR + 0x04, 0x80000002);     /* GHC.IE */
    return devfn;
}

/* Queue READ FPDMA QUEUED of NCQ_SECTORS at lba 8 * tag, for every tag. */
static void ahci_queue_reads(QTestState *qts)
{
    uint32_t mask = (1u << NCQ_TAGS) - 1;
    int tag;

    for (tag = 0; tag < NCQ_TAGS; tag++) {
        uint64_t ct = CT_GPA + tag * 0x100;
        uint32_t hdr[8] = { cpu_to_le32(5 | 1 << 16), 0,
                            cpu_to_le32(ct), 0 };
        uint8_t fis[20] = { 0x27, 0x80, 0x60, NCQ_SECTORS,
                            tag * 8, 0, 0, 0x40, 0, 0, 0, 0, tag << 3 };
        uint32_t prd[4] = { cpu_to_le32(DATA_GPA + tag * 0x1000), 0, 0,
                            cpu_to_le32(NCQ_SECTORS * SECTOR_SIZE - 1) };

        qtest_memset(qts, DATA_GPA + tag * 0x1000, 0xcc, 0x1000);
        qtest_memwrite(qts, CLB_GPA + tag * 32, hdr, sizeof(hdr));
        qtest_memset(qts, ct, 0, 0x100);
        qtest_memwrite(qts, ct, fis, sizeof(fis));
        qtest_memwrite(qts, ct + 0x80, prd, sizeof(prd));
    }
    qtest_writel(qts, AHCI_PORT0 + 0x34, mask);         /* PxSACT */
    qtest_writel(qts, AHCI_PORT0 + 0x38, mask);         /* PxCI */
}

static void ahci_check_data(QTestState *qts)
{
    uint8_t buf[NCQ_SECTORS * SECTOR_SIZE];
    int tag;
    unsigned i;

    for (tag = 0; tag < NCQ_TAGS; tag++) {
        qtest_memread(qts, DATA_GPA + tag * 0x1000, buf, sizeof(buf));
        for (i = 0; i < sizeof(buf); i++) {
            g_assert_cmphex(buf[i], ==, image_byte(tag * 8 + i / SECTOR_SIZE,
                                                   i % SECTOR_SIZE));
        }
    }
}

static void test_unplug_ahci_ncq(void)
{
    g_autofree char *args = g_strdup_printf(
        "-device ahci,id=ahci "
        "-drive file=%s,if=none,id=sata0,format=raw,snapshot=on,"
        "throttling.iops-total=4 "
        "-device ide-hd,drive=sata0,bus=ahci.0 "
        "-drive file=%s,if=none,id=satacd,format=raw,media=cdrom "
        "-device ide-cd,drive=satacd,bus=ahci.1", disk_path, cd_path);
    QTestState *qts = boot(args);
    uint64_t msis, addr;
    uint32_t data;
    bool inserted;

    ahci_setup(qts);
    g_assert_cmphex(qtest_readl(qts, AHCI_PORT0 + 0x28) & 0xf, ==, 3);
    msis = xen_sim_msi(&addr, &data);

    ahci_queue_reads(qts);
    /* The throttle holds most of them: they are in flight now */
    g_assert_cmphex(qtest_readl(qts, AHCI_PORT0 + 0x34), !=, 0);
    unplug(qts, UNPLUG_DISKS);

    /* Drained before the drive went: every read completed */
    ahci_check_data(qts);
    g_assert(!drive_listed(qts, "sata0", NULL));
    g_assert(drive_listed(qts, "satacd", &inserted) && inserted);
    g_assert_cmphex(qtest_readl(qts, AHCI_PORT0 + 0x28) & 0xf, ==, 0);
    g_assert_cmphex(qtest_readl(qts, AHCI_PORT0 + 0x34), ==, 0);
    /* The CD-ROM's port still has its device */
    g_assert_cmphex(qtest_readl(qts, AHCI_PORT0 + 0x80 + 0x28) & 0xf, ==, 3);
    g_assert(pci_listed(qts, 0x8086, 0x2922));

    /* Completions were MSIs, injected with the address and data set */
    g_assert_cmpint(xen_sim_msi(&addr, &data), >, msis);
    g_assert_cmphex(addr, ==, MSI_ADDR);
    g_assert_cmphex(data, ==, MSI_DATA);

    /* Commands to the empty port go nowhere, QEMU carries on */
    ahci_queue_reads(qts);
    assert_running(qts);
    qtest_quit(qts);
}

/* ---- xen-apic: the MSI window, as devices write to it ---------------- */

/*
 * Under Xen a vCPU's access to the 0xfee00000 page is Xen's own (its
 * vlapic); what reaches QEMU's xen-apic is a device's write there, the
 * way an MSI arrives.  Here the PIIX IDE bus master makes the accesses:
 * ide_dma_sector() moves one sector of the primary master by DMA, its
 * first @len bytes at @gpa and the rest at SPLIT_GPA.
 */
#define PRDT_GPA            0x8000
#define MSG_GPA             0x20000
#define SPLIT_GPA           0x21000
#define MSG_LBA             200
#define WINDOW              0xfee00000u

static void ide_dma_sector(QTestState *qts, bool to_memory, uint32_t lba,
                           uint32_t gpa, uint32_t len)
{
    uint32_t prd[4] = { cpu_to_le32(gpa), cpu_to_le32(len),
                        cpu_to_le32(SPLIT_GPA),
                        cpu_to_le32((SECTOR_SIZE - len) | 0x80000000u) };

    qtest_memwrite(qts, PRDT_GPA, prd, sizeof(prd));
    qtest_outb(qts, BMDMA_BASE, 0);
    qtest_outb(qts, BMDMA_BASE + 2, 6);         /* clear interrupt, error */
    qtest_outl(qts, BMDMA_BASE + 4, PRDT_GPA);
    qtest_outb(qts, 0x1f6, 0xe0 | ((lba >> 24) & 0xf));
    qtest_outb(qts, 0x1f2, 1);
    qtest_outb(qts, 0x1f3, lba);
    qtest_outb(qts, 0x1f4, lba >> 8);
    qtest_outb(qts, 0x1f5, lba >> 16);
    qtest_outb(qts, 0x1f7, to_memory ? 0xc8 : 0xca);   /* READ/WRITE DMA */
    qtest_outb(qts, BMDMA_BASE, to_memory ? 0x09 : 0x01);
    wait_bm(qts, BMDMA_BASE);
    qtest_outb(qts, BMDMA_BASE, 0);
    g_assert_cmphex(qtest_inb(qts, 0x1f7) & 0x89, ==, 0);  /* BSY DRQ ERR */
}

static void test_apic_msi_window(void)
{
    QTestState *qts = boot_hd0();
    uint32_t msg = cpu_to_le32(0x4062), got;
    uint64_t n, addr;
    uint32_t data;

    xen_sim_cfg_writel(qts, IDE_DEVFN, 0x20, BMDMA_BASE | 1);
    xen_sim_cfg_writel(qts, IDE_DEVFN, 0x04, 0x5);
    /* The message data onto the disk, from RAM */
    qtest_memwrite(qts, MSG_GPA, &msg, sizeof(msg));
    ide_dma_sector(qts, false, MSG_LBA, MSG_GPA, 4);

    /* An aligned 4-byte device write: one MSI, full address, its data */
    n = xen_sim_msi(&addr, &data);
    ide_dma_sector(qts, true, MSG_LBA, WINDOW + 0x2000, 4);
    g_assert_cmpint(xen_sim_msi(&addr, &data), ==, n + 1);
    g_assert_cmphex(addr, ==, WINDOW + 0x2000);
    g_assert_cmphex(data, ==, 0x4062);

    /* Other sizes and alignments: nothing injected, QEMU carries on */
    ide_dma_sector(qts, true, MSG_LBA, WINDOW + 0x2, 2);
    ide_dma_sector(qts, true, MSG_LBA, WINDOW + 0x11, 4);
    ide_dma_sector(qts, true, MSG_LBA, WINDOW + 0x8, 8);
    g_assert_cmpint(xen_sim_msi(&addr, &data), ==, n + 1);

    /* A device reading the window gets all-ones */
    ide_dma_sector(qts, false, MSG_LBA, WINDOW, 4);
    qtest_memset(qts, MSG_GPA, 0, sizeof(got));
    ide_dma_sector(qts, true, MSG_LBA, MSG_GPA, 4);
    qtest_memread(qts, MSG_GPA, &got, sizeof(got));
    g_assert_cmphex(got, ==, 0xffffffff);
    assert_running(qts);
    qtest_quit(qts);
}

/* ---- bad input: each is reported and harmless ------------------------- */

static void test_platform_bad_input(void)
{
    QTestState *qts = boot_hd0();
    int64_t lines, dropped;
    int i;
    const char *msg;

    /* Unknown unplug bits and flags are ignored */
    unplug(qts, 0xfff0);
    g_assert(drive_listed(qts, "hd0", NULL));
    qtest_outb(qts, 0x10, 0xfe);
    g_assert_cmphex(qtest_inb(qts, 0x10), ==, 0);
    qtest_outw(qts, 0x12, 0x7777);              /* unknown product */
    qtest_outl(qts, 0x10, 1);
    g_assert_cmphex(qtest_inw(qts, 0x10), ==, 0x49d2);

    /* A flood on the log port: a few lines get out, the rest are dropped */
    lines = platform_counter(qts, "guest-log-lines");
    for (i = 0; i < 60; i++) {
        for (msg = "flood\x1b[2J\n"; *msg; msg++) {
            qtest_outb(qts, 0x12, *msg);
        }
    }
    if (lines >= 0) {
        lines = platform_counter(qts, "guest-log-lines") - lines;
        dropped = platform_counter(qts, "guest-log-dropped");
        g_assert_cmpint(lines, >=, 1);
        g_assert_cmpint(lines, <=, 40);
        g_assert_cmpint(lines + dropped, ==, 60);
    }

    /* The unmapped MMIO BAR, the legacy I/O BAR's bad offsets */
    xen_sim_cfg_writel(qts, find_devfn(qts, 0x5853, 1), 0x10,
                       PLATFORM_IO_BAR | 1);
    xen_sim_cfg_writel(qts, find_devfn(qts, 0x5853, 1), 0x14,
                       PLATFORM_MMIO_BAR);
    xen_sim_cfg_writel(qts, find_devfn(qts, 0x5853, 1), 0x04, 0x3);
    qtest_writel(qts, PLATFORM_MMIO_BAR, 0x12345678);
    g_assert_cmphex(qtest_readl(qts, PLATFORM_MMIO_BAR), ==, 0);
    qtest_outb(qts, PLATFORM_IO_BAR + 0x40, 1);
    qtest_outb(qts, PLATFORM_IO_BAR + 4, 7);

    /* An unplug, repeated, then a late one of another class */
    unplug(qts, UNPLUG_DISKS);
    g_assert(!drive_listed(qts, "hd0", NULL));
    unplug(qts, UNPLUG_DISKS);
    unplug(qts, UNPLUG_NICS);
    /* Widths the protocol does not have */
    qtest_outl(qts, 0x12, 1);
    qtest_inl(qts, 0x12);

    /* Still serving */
    assert_running(qts);
    g_assert_cmphex(qtest_inw(qts, 0x10), ==, 0x49d2);
    g_assert_cmphex(qtest_inb(qts, 0x12), ==, 1);
    g_assert(pci_listed(qts, 0x5853, 0x0001));
    qtest_quit(qts);
}

/* ---- xen-pvdevice ------------------------------------------------------- */

static void test_pvdevice(void)
{
    QTestState *qts = boot("-device xen-pvdevice,device-id=0xc000");
    int devfn = find_devfn(qts, 0x5853, 0xc000);
    QDict *rsp;

    g_assert_cmpint(devfn, >=, 0);
    g_assert_cmphex(xen_sim_cfg_readl(qts, devfn, 0x08), ==, 0x08800001);
    g_assert_cmphex(xen_sim_cfg_readl(qts, devfn, 0x2c), ==, 0xc0005853);
    g_assert_cmphex(cfg_readb(qts, devfn, 0x3d), ==, 1);
    g_assert_cmphex(bar_probe(qts, devfn, 0), ==, 0);
    g_assert_cmphex(bar_probe(qts, devfn, 1), ==, 0xffc00008);
    xen_sim_cfg_writel(qts, devfn, 0x14, PVDEVICE_BAR);
    xen_sim_cfg_writel(qts, devfn, 0x04, 0x2);
    g_assert_cmphex(qtest_readl(qts, PVDEVICE_BAR + 0x10), ==, 0xffffffff);

    /* Bad properties: a clear error, and QEMU carries on */
    rsp = qtest_qmp(qts, "{ 'execute': 'device_add', 'arguments': "
                    "{ 'driver': 'xen-pvdevice', 'vendor-id': 1 } }");
    g_assert(qdict_haskey(rsp, "error"));
    qobject_unref(rsp);
    rsp = qtest_qmp(qts, "{ 'execute': 'device_add', 'arguments': "
                    "{ 'driver': 'xen-pvdevice', 'device-id': 2, "
                    "'size': 12288 } }");
    g_assert(qdict_haskey(rsp, "error"));
    g_assert(strstr(qdict_get_str(qdict_get_qdict(rsp, "error"), "desc"),
                    "size"));
    qobject_unref(rsp);
    assert_running(qts);

    /* A good one with every property set */
    rsp = qtest_qmp(qts, "{ 'execute': 'device_add', 'arguments': "
                    "{ 'driver': 'xen-pvdevice', 'vendor-id': 4660, "
                    "'device-id': 22136, 'revision': 3, 'size': 8192, "
                    "'addr': '0x1e' } }");
    g_assert(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
    devfn = DEVFN(0x1e, 0);
    g_assert_cmphex(xen_sim_cfg_readl(qts, devfn, 0x00), ==, 0x56781234);
    g_assert_cmphex(xen_sim_cfg_readl(qts, devfn, 0x08), ==, 0x08800003);
    g_assert_cmphex(bar_probe(qts, devfn, 1), ==, 0xffffe008);
    qtest_quit(qts);
}

/* ---- setup -------------------------------------------------------------- */

static void create_images(void)
{
    uint8_t sector[SECTOR_SIZE];
    unsigned lba, i;
    int fd, cd;

    disk_path = g_strdup_printf("%s/disk.img", tmp_dir);
    cd_path = g_strdup_printf("%s/cd.iso", tmp_dir);
    fd = open(disk_path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    cd = open(cd_path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    g_assert(fd >= 0 && cd >= 0);
    for (lba = 0; lba < IMAGE_SECTORS; lba++) {
        for (i = 0; i < SECTOR_SIZE; i++) {
            sector[i] = image_byte(lba, i);
        }
        g_assert(write(fd, sector, SECTOR_SIZE) == SECTOR_SIZE);
        g_assert(write(cd, sector, SECTOR_SIZE) == SECTOR_SIZE);
    }
    close(fd);
    close(cd);
}

static void add(const char *name, void (*fn)(void))
{
    g_autofree char *path = g_strdup_printf("/xen-platform/%s", name);

    qtest_add_func(path, fn);
}

int main(int argc, char **argv)
{
    int ret;

    /* Before anything asks glib for it: the bridge's run dir goes here */
    tmp_dir = xen_sim_init("xen-platform-test");

    g_test_init(&argc, &argv, NULL);
    if (!xen_sim_bridged()) {
        g_test_skip("needs Xen: run through the xensim qtest bridge");
        rmdir(tmp_dir);
        return g_test_run();
    }
    create_images();

    add("pci-config", test_platform_pci);
    add("ports", test_platform_ports);
    add("blacklist", test_platform_blacklist);
    add("unplug/ide", test_unplug_ide);
    add("unplug/nic-nvme", test_unplug_nic_nvme);
    add("unplug/nvme-xenfv", test_unplug_nvme_xenfv);
    add("unplug/ahci-ncq", test_unplug_ahci_ncq);
    add("bad-input", test_platform_bad_input);
    add("pvdevice", test_pvdevice);
    add("apic-msi-window", test_apic_msi_window);

    ret = g_test_run();
    unlink(disk_path);
    unlink(cd_path);
    rmdir(tmp_dir);
    return ret;
}
