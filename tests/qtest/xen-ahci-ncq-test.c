/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * QTest testcase: overlapping AHCI NCQ transfers on a Q35 guest under
 * Xen, through libqos's AHCI driver, against the Xen map cache.
 *
 * The 2017 map cache bug report ("reproduced somewhat easily on a Q35
 * machine using an emulated AHCI controller"), in the real device: on
 * port 0, transfer A (a 512-byte WRITE FPDMA QUEUED across the 1 MiB
 * border of guest index X: a 2 MiB mapping) and B (a 4 KiB READ FPDMA
 * QUEUED inside X) in flight together; A completes; C (and in the
 * four-transfer variant D) inside X while B is still in flight.  In the
 * "unlocked" cases an IDENTIFY on port 1 into a buffer inside X comes
 * between: its PIO data goes through dma_memory_rw(), an unlocked sized
 * lookup of X.  QEMU 7.2's map cache remaps A's unlocked 2 MiB entry to
 * 1 MiB for it, beside B's locked 1 MiB one; B's completion then finds
 * the wrong entry ("Bad ram offset", or a lock count that wraps: "mapcache
 * entry lock overflow").  The order is deterministic: port 0's drive is
 * behind blkdebug, and each of B, C, D is held at its read_aio event by a
 * breakpoint (HMP qemu-io "break"/"wait_break"/"resume") until the test
 * releases it.  Every byte read is checked against the image, every
 * write read back, and the map cache (query-xen-mapcache) must end with
 * as many locked and doomed entries as before the transfers.
 *
 * The stress case: six disks, 32 NCQ commands on every port issued
 * together (throttled over QMP so they stay in flight), random sizes,
 * LBAs and buffers, a quarter of them across 1 MiB borders; while they
 * run the simulated hypervisor sends map cache invalidates, makes
 * foreign maps slow, and makes a page of a bucket in use fail to map
 * (one no transfer touches: the map cache must fail only requests that
 * need it).  No command may fail, no byte may differ, and the images
 * must hold what the guest wrote.
 *
 * It needs Xen: run it through the xensim qtest bridge
 * (QTEST_QEMU_BINARY=.../xensim/qemu-system-x86_64); elsewhere every
 * case skips.  The hypervisor's control socket is reached through the
 * bridge's run directory with libqos/xen-sim.
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "libqos/libqos-pc.h"
#include "libqos/ahci.h"
#include "libqos/xen-sim.h"
#include "qapi/qmp/qdict.h"

#define PORTS           6
#define SLOTS           32
#define SECTOR          512
#define DISK_BYTES      (8 * MiB)
#define DISK_SECTORS    (DISK_BYTES / SECTOR)
#define REGION_BYTES    (40 * MiB)      /* guest RAM for data buffers */
#define PAGE            4096

static const char *tmp_dir;
static char *img_path[PORTS];

/* ---- the disks ----------------------------------------------------------- */

/* Image byte: names its disk, sector and offset. */
static uint8_t image_byte(int disk, uint64_t lba, unsigned i)
{
    return (lba * 131 + i * 7 + (i >> 8) + disk * 59) ^ 0xa5;
}

static void make_images(void)
{
    g_autofree uint8_t *buf = g_malloc(DISK_BYTES);
    int d;
    uint64_t off;

    for (d = 0; d < PORTS; d++) {
        img_path[d] = g_strdup_printf("%s/disk%d.img", tmp_dir, d);
        for (off = 0; off < DISK_BYTES; off++) {
            buf[off] = image_byte(d, off / SECTOR, off % SECTOR);
        }
        g_assert_true(g_file_set_contents(img_path[d], (char *)buf,
                                          DISK_BYTES, NULL));
    }
}

/* ---- the guest -------------------------------------------------------- */

typedef struct MapCacheFigures {
    int64_t locked, doomed, failures;
} MapCacheFigures;

typedef struct Guest {
    AHCIQState *ahci;
    QTestState *qts;
    int ndisks;
    uint64_t region;            /* REGION_BYTES of guest RAM, 1 MiB aligned */
    uint8_t *disk[PORTS];       /* what each disk must hold */
    MapCacheFigures mc0;        /* before the transfers */
    bool invalidated;           /* the hv sent a map cache invalidate */
} Guest;

static MapCacheFigures mapcache_figures(Guest *g)
{
    QDict *rsp = qtest_qmp(g->qts, "{'execute': 'query-xen-mapcache'}");
    QDict *ret;
    MapCacheFigures f;

    g_assert(qdict_haskey(rsp, "return"));
    ret = qdict_get_qdict(rsp, "return");
    f.locked = qdict_get_int(ret, "locked");
    f.doomed = qdict_get_int(ret, "doomed");
    f.failures = qdict_get_int(ret, "failures");
    qobject_unref(rsp);
    return f;
}

/*
 * Q35 with @ndisks disks on the ICH9 AHCI's ports; port 0's behind
 * blkdebug when @hold is set.  The HBA is enabled and every port started
 * by libqos; the data region is allocated after that, so nothing of the
 * driver's own (command lists, FIS areas) shares its buckets.
 */
static Guest *guest_boot(int ndisks, bool hold)
{
    GString *cli = g_string_new("-M q35 -m 256 ");
    Guest *g = g_new0(Guest, 1);
    uint64_t r;
    int d;

    for (d = 0; d < ndisks; d++) {
        g_string_append_printf(cli, "-drive if=none,id=drive%d,file=%s%s,"
                               "format=raw,cache=writeback "
                               "-device ide-hd,drive=drive%d,bus=ide.%d ",
                               d, d == 0 && hold ? "blkdebug::" : "",
                               img_path[d], d, d);
        g_assert_true(g_file_get_contents(img_path[d], (char **)&g->disk[d],
                                          NULL, NULL));
    }
    g->ndisks = ndisks;
    g->ahci = g_new0(AHCIQState, 1);
    g->ahci->parent = qtest_pc_boot("%s", cli->str);
    g_string_free(cli, true);
    g->qts = g->ahci->parent->qts;
    g->ahci->dev = get_ahci_device(g->qts, &g->ahci->fingerprint);
    ahci_pci_enable(g->ahci);
    ahci_hba_enable(g->ahci);
    for (d = 0; d < ndisks; d++) {
        ahci_port_clear(g->ahci, d);
    }
    r = ahci_alloc(g->ahci, REGION_BYTES + MiB);
    g->region = ROUND_UP(r, MiB);
    g->mc0 = mapcache_figures(g);
    return g;
}

/*
 * QEMU still runs and the map cache holds no lock the transfers took;
 * then the image files must hold what the guest wrote.
 */
static void guest_finish(Guest *g)
{
    MapCacheFigures f = mapcache_figures(g);
    QDict *rsp;
    int d;

    rsp = qtest_qmp(g->qts, "{'execute': 'query-status'}");
    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(rsp, "return"), "status"),
                    ==, "running");
    qobject_unref(rsp);
    /*
     * An invalidate dooms the mappings locked for good (the HBA's command
     * lists and FIS areas, VRAM): still locked, out of the cache.  Only
     * without one must the doomed count be back where it was.
     */
    g_assert_cmpint(f.locked, ==, g->mc0.locked);
    if (!g->invalidated) {
        g_assert_cmpint(f.doomed, ==, g->mc0.doomed);
    }
    g_assert_cmpint(f.failures, ==, g->mc0.failures);
    g_assert_cmpuint(xen_sim_counter("dm_bugs"), ==, 0);

    free_ahci_device(g->ahci->dev);
    qtest_pc_shutdown(g->ahci->parent);
    for (d = 0; d < g->ndisks; d++) {
        g_autofree char *img = NULL;
        gsize len;

        g_assert_true(g_file_get_contents(img_path[d], &img, &len, NULL));
        g_assert_cmpuint(len, ==, DISK_BYTES);
        if (memcmp(img, g->disk[d], DISK_BYTES)) {
            g_error("disk %d: the image file is not what the guest wrote", d);
        }
        g_free(g->disk[d]);
    }
    g_free(g->ahci);
    g_free(g);
    /* the next case starts from the pattern */
    make_images();
}

static void hmp_qemu_io(Guest *g, const char *cmd)
{
    g_autofree char *out = qtest_hmp(g->qts, "qemu-io drive0 \"%s\"", cmd);

    g_assert_cmpstr(out, ==, "");
}

/* ---- transfers -------------------------------------------------------- */

typedef struct Xfer {
    const char *name;
    uint8_t port;
    bool write;
    uint64_t lba;
    uint32_t bytes;
    uint64_t gpa;
    AHCICommand *cmd;
} Xfer;

/* Write data (a write) or poison (a read) into the buffer, commit. */
static void xfer_prepare(Guest *g, Xfer *x, uint32_t seed)
{
    g_autofree uint8_t *buf = g_malloc(x->bytes);
    uint32_t i;

    for (i = 0; x->write && i < x->bytes; i++) {
        buf[i] = (seed + i * 13 + (i >> 9)) ^ 0x3c;
    }
    if (x->write) {
        qtest_memwrite(g->qts, x->gpa, buf, x->bytes);
    } else {
        qtest_memset(g->qts, x->gpa, 0x5a, x->bytes);
    }
    x->cmd = ahci_command_create(x->write ? WRITE_FPDMA_QUEUED
                                          : READ_FPDMA_QUEUED);
    /* one PRD for up to 64 KiB, so a buffer across a border is one map */
    ahci_command_adjust(x->cmd, x->lba, x->gpa, x->bytes, 64 * KiB);
    ahci_command_commit(g->ahci, x->cmd, x->port);
}

static void xfer_issue(Guest *g, Xfer *x, uint32_t seed)
{
    xfer_prepare(g, x, seed);
    ahci_command_issue_async(g->ahci, x->cmd);
}

/*
 * Issue prepared transfers of one port with one PxSACT and one PxCI
 * write: the HBA starts (and maps) them all before any can complete.
 */
static void xfers_issue_together(Guest *g, Xfer **xs, int n)
{
    uint32_t mask = 0;
    int i;

    for (i = 0; i < n; i++) {
        g_assert_cmpuint(xs[i]->port, ==, xs[0]->port);
        mask |= 1u << ahci_command_slot(xs[i]->cmd);
    }
    ahci_px_wreg(g->ahci, xs[0]->port, AHCI_PX_SACT, mask);
    ahci_px_wreg(g->ahci, xs[0]->port, AHCI_PX_CI, mask);
}

static bool xfer_done(Guest *g, Xfer *x)
{
    uint32_t bit = 1u << ahci_command_slot(x->cmd);

    return !((ahci_px_rreg(g->ahci, x->port, AHCI_PX_SACT) |
              ahci_px_rreg(g->ahci, x->port, AHCI_PX_CI)) & bit);
}

/* Wait, check the port reports no error, and check or account the data. */
static void xfer_complete(Guest *g, Xfer *x)
{
    g_autofree uint8_t *got = g_malloc(x->bytes);
    uint8_t *want = g->disk[x->port] + x->lba * SECTOR;
    uint32_t is;

    ahci_command_wait(g->ahci, x->cmd);
    is = ahci_px_rreg(g->ahci, x->port, AHCI_PX_IS);
    if (is & AHCI_PX_IS_TFES || ahci_px_rreg(g->ahci, x->port,
                                             AHCI_PX_SERR)) {
        g_error("%s: port %u PxIS 0x%x PxTFD 0x%x", x->name, x->port, is,
                ahci_px_rreg(g->ahci, x->port, AHCI_PX_TFD));
    }
    ahci_port_check_nonbusy(g->ahci, x->cmd);
    qtest_memread(g->qts, x->gpa, got, x->bytes);
    if (x->write) {
        memcpy(want, got, x->bytes);
    } else if (memcmp(got, want, x->bytes)) {
        g_error("%s: the data read into 0x%" PRIx64 " is not disk %u's "
                "sectors %" PRIu64 "+%u", x->name, x->gpa, x->port, x->lba,
                x->bytes / SECTOR);
    }
    ahci_command_free(x->cmd);
    x->cmd = NULL;
}

/* IDENTIFY on @port into @gpa: PIO data, an unlocked lookup of its index. */
static void identify_into(Guest *g, uint8_t port, uint64_t gpa)
{
    AHCICommand *cmd = ahci_command_create(CMD_IDENTIFY);
    uint16_t id[256];

    ahci_command_set_sizes(cmd, SECTOR, 0);
    ahci_command_set_buffer(cmd, gpa);
    ahci_command_commit(g->ahci, cmd, port);
    ahci_command_issue(g->ahci, cmd);
    ahci_command_verify(g->ahci, cmd);
    ahci_command_free(cmd);
    qtest_memread(g->qts, gpa, id, sizeof(id));
    g_assert_cmpuint(le16_to_cpu(id[100]) | le16_to_cpu(id[101]) << 16, ==,
                     DISK_SECTORS);
}

/* Read back every written sector range through NCQ and check it. */
static void read_back(Guest *g, Xfer *w, uint64_t gpa)
{
    Xfer r = { .name = "read-back", .port = w->port, .lba = w->lba,
               .bytes = w->bytes, .gpa = gpa };

    xfer_issue(g, &r, 0);
    xfer_complete(g, &r);
}

/* 32 reads inside X at once: the entries of index X, after it all */
static void reads_inside(Guest *g, uint64_t x)
{
    Xfer r[SLOTS];
    int i;

    for (i = 0; i < SLOTS; i++) {
        r[i] = (Xfer) { .name = "read inside X", .port = 0,
                        .lba = 4096 + 64 * i, .bytes = 0x4000,
                        .gpa = x + 0x1000 + i * 0x7000 };
        xfer_issue(g, &r[i], 0);
    }
    for (i = 0; i < SLOTS; i++) {
        xfer_complete(g, &r[i]);
    }
}

/* ---- the bug report's scenarios -------------------------------------- */

/*
 * REPORT_ABC: A, B; A done; C; B done; C done.
 * REPORT_ABC_UNLOCKED: the same with an unlocked lookup of X before B
 * ends.  REPORT_FOUR: A, B; A done; C, D; the unlocked lookup; B done;
 * unlocked lookups over 32 MiB; an invalidate; C, D done.
 */
typedef enum {
    REPORT_ABC,
    REPORT_ABC_UNLOCKED,
    REPORT_FOUR,
} Report;

static void hold(Guest *g, Xfer *x, const char *tag, uint32_t seed)
{
    g_autofree char *brk = g_strdup_printf("break read_aio %s", tag);
    g_autofree char *wait = g_strdup_printf("wait_break %s", tag);

    hmp_qemu_io(g, brk);
    xfer_issue(g, x, seed);
    hmp_qemu_io(g, wait);
}

static void release(Guest *g, const char *tag)
{
    g_autofree char *cmd = g_strdup_printf("resume %s", tag);

    hmp_qemu_io(g, cmd);
}

static void run_report(Report which)
{
    Guest *g = guest_boot(2, true);
    uint64_t x = g->region + 16 * MiB;
    Xfer a = { "A", 0, true, 64, SECTOR, x + 0xfff80 };
    Xfer b = { "B", 0, false, 1024, 0x1000, x + 0x10000 };
    Xfer c = { "C", 0, false, 2048, 0x1000, x + 0x40000 };
    Xfer d = { "D", 0, false, 3072, 0x800, x + 0x60000 };
    Xfer *ab[2];
    int i;

    /*
     * A and B start together (both mapped before A can complete); A runs
     * through, B is held at its read until released
     */
    hmp_qemu_io(g, "break read_aio B");
    xfer_prepare(g, &a, 1);
    xfer_prepare(g, &b, 0);
    ab[0] = &a;
    ab[1] = &b;
    xfers_issue_together(g, ab, 2);
    hmp_qemu_io(g, "wait_break B");
    xfer_complete(g, &a);
    g_assert_false(xfer_done(g, &b));

    hold(g, &c, "C", 0);
    if (which == REPORT_FOUR) {
        hold(g, &d, "D", 0);
    }
    if (which != REPORT_ABC) {
        identify_into(g, 1, x + 0x80000);
    }
    g_assert_false(xfer_done(g, &b) || xfer_done(g, &c));

    release(g, "B");
    xfer_complete(g, &b);
    g_assert_false(xfer_done(g, &c));
    if (which == REPORT_FOUR) {
        /* unlocked lookups all over the region, then an invalidate */
        for (i = 0; i < 32; i++) {
            identify_into(g, 1, g->region + i * MiB + 0x80000);
        }
        xen_sim_control("invalidate", NULL);
        g->invalidated = true;
        g_assert_false(xfer_done(g, &c) || xfer_done(g, &d));
        release(g, "D");
        xfer_complete(g, &d);
    }
    release(g, "C");
    xfer_complete(g, &c);

    read_back(g, &a, x + 0x200000);
    reads_inside(g, x);
    guest_finish(g);
}

static void test_report_abc(void)
{
    run_report(REPORT_ABC);
}

static void test_report_abc_unlocked(void)
{
    run_report(REPORT_ABC_UNLOCKED);
}

static void test_report_four(void)
{
    run_report(REPORT_FOUR);
}

/* ---- stress: 6 ports x 32 slots, with faults injected -------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#define WAVES           3
#define CMDS            (PORTS * SLOTS)
#define SLICE           ((REGION_BYTES / CMDS) & ~(uint64_t)(PAGE - 1))

/*
 * Command k of a wave gets its own slice of the region (so no buffers
 * meet) and, on its port, its own 1/32 of the disk (so no write meets
 * another transfer); size, offset and direction are random, and a
 * buffer whose slice holds a 1 MiB border straddles it more often than
 * not.
 */
static void plan_wave(Guest *g, Xfer *xs, unsigned *straddling)
{
    static const uint32_t sectors[] = { 1, 2, 7, 8, 16, 33, 64, 128 };
    int k;

    for (k = 0; k < CMDS; k++) {
        Xfer *x = &xs[k];
        uint64_t lo = g->region + k * SLICE, hi = lo + SLICE;
        uint64_t border = ROUND_UP(lo + 1, MiB);
        uint64_t lba0 = (k % SLOTS) * (DISK_SECTORS / SLOTS);

        x->name = "stress";
        x->port = k / SLOTS;
        x->bytes = sectors[rnd() % ARRAY_SIZE(sectors)] * SECTOR;
        x->write = rnd() % 10 < 3;
        x->lba = lba0 + rnd() % (DISK_SECTORS / SLOTS - x->bytes / SECTOR);
        if (border > lo + x->bytes && border + x->bytes < hi &&
            rnd() % 4 != 0) {
            x->gpa = border - 2 * (1 + rnd() % (x->bytes / 2 - 1));
        } else {
            x->gpa = lo + 2 * (rnd() % ((SLICE - x->bytes) / 2));
        }
        *straddling += x->gpa / MiB != (x->gpa + x->bytes - 1) / MiB;
    }
}

/* A page of the region no transfer of the wave touches. */
static uint64_t untouched_page(Guest *g, Xfer *xs)
{
    uint64_t p;
    int k;

    for (p = g->region + 3 * PAGE; p < g->region + REGION_BYTES;
         p += 7 * PAGE) {
        for (k = 0; k < CMDS; k++) {
            if (xs[k].gpa < p + PAGE && p < xs[k].gpa + xs[k].bytes) {
                break;
            }
        }
        if (k == CMDS) {
            return p;
        }
    }
    g_assert_not_reached();
}

static void throttle_all(Guest *g, int iops)
{
    int d;

    for (d = 0; d < PORTS; d++) {
        g_autofree char *drive = g_strdup_printf("drive%d", d);
        QDict *rsp = qtest_qmp(g->qts, "{'execute': 'block_set_io_throttle',"
                               " 'arguments': {'device': %s, 'bps': 0,"
                               " 'bps_rd': 0, 'bps_wr': 0, 'iops': %d,"
                               " 'iops_rd': 0, 'iops_wr': 0}}", drive, iops);

        g_assert(qdict_haskey(rsp, "return"));
        qobject_unref(rsp);
    }
}

static unsigned in_flight(Guest *g, Xfer *xs, unsigned n)
{
    unsigned k, busy = 0;

    for (k = 0; k < n; k++) {
        busy += !xfer_done(g, &xs[k]);
    }
    return busy;
}

static void test_stress(void)
{
    Guest *g;
    Xfer *xs = g_new0(Xfer, CMDS);
    uint64_t inv0, maps0;
    unsigned w, k, straddling = 0, held_max = 0;
    char *fault;

    g = guest_boot(PORTS, false);
    g->invalidated = true;
    rng_state = 0x6a5f32;
    inv0 = xen_sim_counter("ioreq_invalidate");
    maps0 = xen_sim_counter("fmem_maps");
    for (w = 0; w < WAVES; w++) {
        plan_wave(g, xs, &straddling);
        /* 32 per port at 4 IOPS per disk: eight seconds in flight */
        throttle_all(g, 4);
        xen_sim_control("fault slow 2", NULL);
        fault = g_strdup_printf("fault page-error 0x%" PRIx64,
                                untouched_page(g, xs) / PAGE);
        for (k = 0; k < CMDS; k++) {
            xfer_issue(g, &xs[k], w * CMDS + k);
            /* mid-flight: an invalidate, a bad page in a bucket in use */
            if (k == CMDS / 3) {
                held_max = MAX(held_max, in_flight(g, xs, k + 1));
                xen_sim_control("invalidate", NULL);
            } else if (k == CMDS / 2) {
                xen_sim_control(fault, NULL);
            }
        }
        g_free(fault);
        held_max = MAX(held_max, in_flight(g, xs, CMDS));
        xen_sim_control("invalidate", NULL);
        for (k = 0; k < CMDS; k++) {
            xfer_complete(g, &xs[k]);
        }
        xen_sim_control("fault clear", NULL);
        throttle_all(g, 0);
    }
    g_test_message("%u transfers, %u across a 1 MiB border, up to %u in "
                   "flight at an invalidate; %" PRIu64 " invalidates, %"
                   PRIu64 " foreign maps", WAVES * CMDS, straddling,
                   held_max, xen_sim_counter("ioreq_invalidate") - inv0,
                   xen_sim_counter("fmem_maps") - maps0);
    g_assert_cmpuint(xen_sim_counter("ioreq_invalidate") - inv0, >=, 2 * WAVES);
    g_assert_cmpuint(held_max, >=, SLOTS / 2);
    g_assert_cmpuint(straddling, >=, WAVES * CMDS / 8);
    g_free(xs);
    guest_finish(g);
}

/* ---- setup -------------------------------------------------------------- */

int main(int argc, char **argv)
{
    int ret, d;

    /* Before anything asks glib for it: the bridge's run dir goes here */
    tmp_dir = xen_sim_init("xen-ahci-ncq-test");

    g_test_init(&argc, &argv, NULL);
    if (!xen_sim_bridged()) {
        g_test_skip("needs Xen: run through the xensim qtest bridge");
        rmdir(tmp_dir);
        return g_test_run();
    }
    make_images();
    qtest_add_func("/xen-ahci-ncq/report/abc", test_report_abc);
    qtest_add_func("/xen-ahci-ncq/report/abc-unlocked",
                   test_report_abc_unlocked);
    qtest_add_func("/xen-ahci-ncq/report/four", test_report_four);
    qtest_add_func("/xen-ahci-ncq/stress/6x32", test_stress);
    ret = g_test_run();
    for (d = 0; d < PORTS; d++) {
        unlink(img_path[d]);
    }
    rmdir(tmp_dir);
    return ret;
}
