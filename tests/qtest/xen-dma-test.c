/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QTest testcase for the guest's view of an i440FX PC: PCI enumeration
 * through CF8/CFC and a PIIX IDE bus-master DMA read into guest RAM.
 *
 * Written for the Xen device model: run through the xensim qtest bridge
 * (QTEST_QEMU_BINARY=.../xensim/qemu-system-x86_64), every access below is
 * a trapped guest instruction routed by the simulated hypervisor, guest
 * RAM is the hypervisor's (so the DMA check reads what QEMU wrote through
 * its map cache), and the interrupt is the ISA IRQ level QEMU set with a
 * dm_op.  It passes unchanged on the qtest accelerator.
 *
 * Config space is reached through libqos/xen-sim's CF8/CFC accessors,
 * which write only aligned CF8 values: real chipsets and Xen ignore CF8's
 * low two bits, unlike QEMU's host bridge that libqos's pci-pc relies on.
 *
 * Copyright (c) 2026 Xen DM Developers
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "libqos/xen-sim.h"
#include "qemu/bswap.h"
#include "qapi/qmp/qdict.h"
#include "qapi/qmp/qlist.h"

#define DEVFN(slot, fn)     ((slot) << 3 | (fn))

#define IDE_DEVFN           DEVFN(1, 1)
#define IDE_CMD_BASE        0x1f0
#define IDE_CTL_BASE        0x3f6
#define IDE_IRQ             14
#define BMDMA_BASE          0xc000

#define ATA_STATUS_BSY      0x80
#define ATA_STATUS_DRDY     0x40
#define ATA_STATUS_DF       0x20
#define ATA_STATUS_DRQ      0x08
#define ATA_STATUS_ERR      0x01
#define ATA_CMD_READ_DMA    0xc8

#define BM_CMD_START        0x01
#define BM_CMD_TO_MEMORY    0x08
#define BM_STS_ACTIVE       0x01
#define BM_STS_ERR          0x02
#define BM_STS_INTR         0x04

#define SECTOR_SIZE         512
#define IMAGE_SECTORS       64
#define TEST_LBA            37
#define PRDT_GPA            0x10000
#define BUF_GPA             0x20000

/* Wall-clock bound on waiting for the DMA: the bridge's accesses are slow */
#define DMA_TIMEOUT_US      (10 * G_USEC_PER_SEC)

static char *image_path;

/* Sector contents the test can recompute: differs per sector and byte. */
static uint8_t image_byte(unsigned lba, unsigned i)
{
    return (lba * 37 + i * 7 + (i >> 8)) ^ 0xa5;
}

typedef struct PciFunc {
    int devfn;
    uint16_t vendor;
    uint16_t device;
} PciFunc;

/* Walk bus 0 as firmware does; returns the number of functions found. */
static int scan_bus0(QTestState *qts, PciFunc *found, int max)
{
    int n = 0, slot, fn;

    for (slot = 0; slot < 32; slot++) {
        for (fn = 0; fn < 8; fn++) {
            int devfn = DEVFN(slot, fn);
            uint32_t ids = xen_sim_cfg_readl(qts, devfn, 0x00);

            if ((ids & 0xffff) == 0xffff) {
                if (fn == 0) {
                    break;
                }
                continue;
            }
            g_assert_cmpint(n, <, max);
            found[n].devfn = devfn;
            found[n].vendor = ids & 0xffff;
            found[n].device = ids >> 16;
            n++;
            /* Header type bit 7: more functions behind function 0 */
            if (fn == 0 &&
                !(xen_sim_cfg_readl(qts, devfn, 0x0c) & 0x00800000)) {
                break;
            }
        }
    }
    return n;
}

static const PciFunc *find_func(const PciFunc *f, int n, int devfn)
{
    int i;

    for (i = 0; i < n; i++) {
        if (f[i].devfn == devfn) {
            return &f[i];
        }
    }
    return NULL;
}

/*
 * Every function the guest finds through CF8/CFC must be one QEMU says the
 * machine has (query-pci), with the same IDs, and the other way round; and
 * the i440FX board's own functions and the VGA we added must be there.
 */
static void test_pci_scan(void)
{
    QTestState *qts = qtest_init("-machine pc -nodefaults "
                                 "-device VGA,addr=05.0");
    PciFunc found[64];
    const PciFunc *f;
    QDict *rsp, *dev, *id;
    QList *buses, *devs;
    QListEntry *e;
    int n, listed = 0;

    n = scan_bus0(qts, found, ARRAY_SIZE(found));

    rsp = qtest_qmp(qts, "{ 'execute': 'query-pci' }");
    g_assert(qdict_haskey(rsp, "return"));
    buses = qdict_get_qlist(rsp, "return");
    g_assert(buses && !qlist_empty(buses));
    devs = qdict_get_qlist(qobject_to(QDict, qlist_peek(buses)), "devices");
    g_assert(devs);
    QLIST_FOREACH_ENTRY(devs, e) {
        dev = qobject_to(QDict, qlist_entry_obj(e));
        id = qdict_get_qdict(dev, "id");
        f = find_func(found, n, DEVFN(qdict_get_int(dev, "slot"),
                                          qdict_get_int(dev, "function")));
        g_assert_nonnull(f);
        g_assert_cmphex(f->vendor, ==, qdict_get_int(id, "vendor"));
        g_assert_cmphex(f->device, ==, qdict_get_int(id, "device"));
        listed++;
    }
    qobject_unref(rsp);
    g_assert_cmpint(listed, ==, n);

    f = find_func(found, n, DEVFN(0, 0));       /* i440FX host bridge */
    g_assert(f && f->vendor == 0x8086 && f->device == 0x1237);
    f = find_func(found, n, DEVFN(1, 0));       /* PIIX3 ISA bridge */
    g_assert(f && f->vendor == 0x8086 && f->device == 0x7000);
    f = find_func(found, n, IDE_DEVFN);             /* PIIX3 IDE */
    g_assert(f && f->vendor == 0x8086 && f->device == 0x7010);
    f = find_func(found, n, DEVFN(5, 0));       /* -device VGA */
    g_assert(f && f->vendor == 0x1234 && f->device == 0x1111);

    qtest_quit(qts);
}

/*
 * READ DMA of one sector on the primary channel's master: the data must
 * land in guest RAM at the PRD's address (and nowhere else around it), the
 * controller must report completion and raise IRQ 14, and reading the
 * ATA status must lower it again.
 */
static void test_bmdma_read(void)
{
    QTestState *qts;
    uint8_t buf[SECTOR_SIZE + 2 * 64], expect[SECTOR_SIZE];
    uint32_t prd[2];
    uint8_t status;
    int64_t deadline;
    unsigned i;

    qts = qtest_initf("-machine pc -nodefaults "
                      "-drive file=%s,if=ide,bus=0,unit=0,format=raw,"
                      "cache=writeback", image_path);
    qtest_irq_intercept_in(qts, "ioapic");

    /* Firmware's job: an I/O BAR for the bus master, and enable it */
    xen_sim_cfg_writel(qts, IDE_DEVFN, 0x20, BMDMA_BASE | 1);
    /* I/O space, bus master */
    xen_sim_cfg_writew(qts, IDE_DEVFN, 0x04, 0x0005);
    g_assert_cmphex(xen_sim_cfg_readl(qts, IDE_DEVFN, 0x20) & 0xfffc, ==,
                    BMDMA_BASE);

    /* Guard bytes around the target so a stray write shows */
    qtest_memset(qts, BUF_GPA - 64, 0xcc, sizeof(buf));
    prd[0] = cpu_to_le32(BUF_GPA);
    prd[1] = cpu_to_le32(SECTOR_SIZE | 0x80000000u);    /* end of table */
    qtest_memwrite(qts, PRDT_GPA, prd, sizeof(prd));

    qtest_outb(qts, BMDMA_BASE + 0, 0);
    qtest_outb(qts, BMDMA_BASE + 2, BM_STS_INTR | BM_STS_ERR);
    qtest_outl(qts, BMDMA_BASE + 4, PRDT_GPA);

    qtest_outb(qts, IDE_CMD_BASE + 6, 0xe0 | ((TEST_LBA >> 24) & 0xf));
    qtest_outb(qts, IDE_CMD_BASE + 2, 1);
    qtest_outb(qts, IDE_CMD_BASE + 3, TEST_LBA & 0xff);
    qtest_outb(qts, IDE_CMD_BASE + 4, (TEST_LBA >> 8) & 0xff);
    qtest_outb(qts, IDE_CMD_BASE + 5, (TEST_LBA >> 16) & 0xff);
    qtest_outb(qts, IDE_CMD_BASE + 7, ATA_CMD_READ_DMA);
    qtest_outb(qts, BMDMA_BASE + 0, BM_CMD_START | BM_CMD_TO_MEMORY);

    deadline = g_get_monotonic_time() + DMA_TIMEOUT_US;
    do {
        status = qtest_inb(qts, BMDMA_BASE + 2);
        g_assert(g_get_monotonic_time() < deadline);
    } while ((status & (BM_STS_ACTIVE | BM_STS_INTR)) == BM_STS_ACTIVE);

    g_assert_cmphex(status & (BM_STS_ACTIVE | BM_STS_ERR | BM_STS_INTR), ==,
                    BM_STS_INTR);
    g_assert(qtest_get_irq(qts, IDE_IRQ));
    qtest_outb(qts, BMDMA_BASE + 0, 0);

    qtest_memread(qts, BUF_GPA - 64, buf, sizeof(buf));
    for (i = 0; i < SECTOR_SIZE; i++) {
        expect[i] = image_byte(TEST_LBA, i);
    }
    g_assert(memcmp(buf + 64, expect, SECTOR_SIZE) == 0);
    for (i = 0; i < 64; i++) {
        g_assert_cmphex(buf[i], ==, 0xcc);
        g_assert_cmphex(buf[64 + SECTOR_SIZE + i], ==, 0xcc);
    }

    /* Reading the status register acknowledges the interrupt */
    status = qtest_inb(qts, IDE_CMD_BASE + 7);
    g_assert_cmphex(status & (ATA_STATUS_BSY | ATA_STATUS_DF |
                              ATA_STATUS_DRQ | ATA_STATUS_ERR), ==, 0);
    g_assert(status & ATA_STATUS_DRDY);
    g_assert(!qtest_get_irq(qts, IDE_IRQ));

    qtest_quit(qts);
}

static void create_image(void)
{
    uint8_t sector[SECTOR_SIZE];
    unsigned lba, i;
    int fd;

    fd = g_file_open_tmp("xen-dma-test-XXXXXX", &image_path, NULL);
    g_assert(fd >= 0);
    for (lba = 0; lba < IMAGE_SECTORS; lba++) {
        for (i = 0; i < SECTOR_SIZE; i++) {
            sector[i] = image_byte(lba, i);
        }
        g_assert(write(fd, sector, SECTOR_SIZE) == SECTOR_SIZE);
    }
    close(fd);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    create_image();

    qtest_add_func("/xen-dma/pci-scan", test_pci_scan);
    qtest_add_func("/xen-dma/ide-bmdma-read", test_bmdma_read);

    ret = g_test_run();
    unlink(image_path);
    g_free(image_path);
    return ret;
}
