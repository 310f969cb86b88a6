/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ahci-workload: the guest's AHCI driver (see ahci.h).  Register layout
 * from the AHCI 1.3 specification: HBA registers at ABAR, port p's at
 * ABAR + 0x100 + 0x80 * p; a 32-byte command header per slot; a command
 * table of a 64-byte command FIS, ATAPI area and PRDT at +0x80.
 *
 * Invariants: the driver tracks which slots it issued (and whether as
 * NCQ); a completion is only accepted for an issued slot; all waits end
 * at a deadline; PCI and register values are checked before use.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ahci.h"

/* HBA registers. */
#define HBA_CAP         0x00
#define HBA_GHC         0x04
#define HBA_IS          0x08
#define HBA_PI          0x0c
#define HBA_VS          0x10
#define GHC_HR          (1u << 0)
#define GHC_IE          (1u << 1)
#define GHC_AE          (1u << 31)
#define CAP_S64A        (1u << 31)
#define CAP_SNCQ        (1u << 30)

/* Port registers (offsets within the port's 0x80 bytes). */
#define PX_CLB          0x00
#define PX_CLBU         0x04
#define PX_FB           0x08
#define PX_FBU          0x0c
#define PX_IS           0x10
#define PX_IE           0x14
#define PX_CMD          0x18
#define PX_TFD          0x20
#define PX_SIG          0x24
#define PX_SSTS         0x28
#define PX_SERR         0x30
#define PX_SACT         0x34
#define PX_CI           0x38
#define CMD_ST          (1u << 0)
#define CMD_SUD         (1u << 1)
#define CMD_POD         (1u << 2)
#define CMD_FRE         (1u << 4)
#define CMD_FR          (1u << 14)
#define CMD_CR          (1u << 15)
#define TFD_ERR         0x01
#define TFD_DRQ         0x08
#define TFD_BSY         0x80
#define SIG_ATA         0x00000101
/* TFES HBFS HBDS IFS INFS OFS IPMS: the port stops or data was lost. */
#define PXIS_ERRORS     0x7d800000u
/* The errors, plus SDB, DMA setup, PIO setup and D2H register FIS. */
#define PXIE_ENABLE     (PXIS_ERRORS | 0x0f)

/* Driver memory layout, from base. */
#define CL_OFF          0x0000      /* 32 slots x 32 bytes, 1 KiB aligned */
#define FIS_OFF         0x0400      /* 256 bytes, 256-byte aligned */
#define IDENT_OFF       0x0800
#define CT_OFF          0x1000
#define CT_SIZE         (0x80 + 16 * AHCI_MAX_PRD)  /* 128-byte multiple */

#define FIS_H2D         0x27

#define PCI_CLASS_AHCI  0x010601

#define fail(a, ...) ctlc_errorf((a)->err, sizeof((a)->err), __VA_ARGS__)

static bool dm_exited(Ahci *a);

static int cpu_fail(Ahci *a, const char *what)
{
    if (dm_exited(a)) {
        return fail(a, "%s: %s; the device model (pid %d) has exited",
                    what, a->cpu->err, a->qemu_pid);
    }
    return fail(a, "%s: %s", what, a->cpu->err);
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}

static uint64_t port_reg(Ahci *a, unsigned reg)
{
    return a->abar + 0x100 + 0x80 * a->port + reg;
}

/* Has the device model exited (gone, or a zombie nobody reaped)?  A
 * process that is dying may take a moment (core dump): wait up to 2 s. */
static bool dm_exited(Ahci *a)
{
    int64_t deadline = now_ms() + 2000;
    char path[64], buf[512], *p;

    if (a->qemu_pid <= 0) {
        return false;
    }
    snprintf(path, sizeof(path), "/proc/%d/stat", a->qemu_pid);
    do {
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

        if (f) {
            fclose(f);
        }
        buf[n] = 0;
        p = strrchr(buf, ')');
        if (!f || !p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X') {
            return true;
        }
        usleep(20000);
    } while (now_ms() < deadline);
    return false;
}

/* A register read; all-ones from an AHCI register means the device (or
 * its device model) is gone. */
static int rd(Ahci *a, uint64_t addr, uint32_t *v, const char *name)
{
    if (vcpu_readl(a->cpu, addr, v) < 0) {
        return cpu_fail(a, name);
    }
    if (*v == 0xffffffffu) {
        if (dm_exited(a)) {
            return fail(a, "%s reads all-ones: the device model (pid %d) "
                        "has exited", name, a->qemu_pid);
        }
        return fail(a, "%s reads all-ones: the HBA is gone", name);
    }
    return 0;
}

static int wr(Ahci *a, uint64_t addr, uint32_t v, const char *name)
{
    return vcpu_writel(a->cpu, addr, v) < 0 ? cpu_fail(a, name) : 0;
}

static int cfg_rd(Ahci *a, uint32_t bdf, unsigned reg, unsigned size,
                  uint32_t *v)
{
    return vcpu_cfg_read(a->cpu, bdf, reg, size, v) < 0 ?
           cpu_fail(a, "PCI config read") : 0;
}

static int cfg_wr(Ahci *a, unsigned reg, unsigned size, uint32_t v)
{
    return vcpu_cfg_write(a->cpu, a->bdf, reg, size, v) < 0 ?
           cpu_fail(a, "PCI config write") : 0;
}

/* Bus 0 scan for the first function of class SATA/AHCI. */
static int find_hba(Ahci *a)
{
    unsigned dev, fn;

    for (dev = 0; dev < 32; dev++) {
        for (fn = 0; fn < 8; fn++) {
            uint32_t bdf = dev << 3 | fn, id, cls, hdr;

            if (cfg_rd(a, bdf, 0x00, 4, &id) < 0) {
                return -1;
            }
            if ((id & 0xffff) == 0xffff) {
                if (fn == 0) {
                    break;
                }
                continue;
            }
            if (cfg_rd(a, bdf, 0x08, 4, &cls) < 0 ||
                cfg_rd(a, bdf, 0x0e, 1, &hdr) < 0) {
                return -1;
            }
            if (cls >> 8 == PCI_CLASS_AHCI) {
                a->bdf = bdf;
                return 0;
            }
            if (fn == 0 && !(hdr & 0x80)) {
                break;
            }
        }
    }
    return fail(a, "PCI scan: no AHCI controller (class 01:06:01) on "
                "bus 0");
}

/* BAR5 (ABAR): size it, place it, enable memory decoding and DMA. */
static int place_abar(Ahci *a, uint64_t abar)
{
    uint32_t v, size, cmd;

    if (cfg_wr(a, 0x24, 4, 0xffffffff) < 0 ||
        cfg_rd(a, a->bdf, 0x24, 4, &v) < 0) {
        return -1;
    }
    if (v & 1) {
        return fail(a, "ABAR is an I/O BAR (%#x)", v);
    }
    size = ~(v & ~0xfu) + 1;
    if (!size || (size & (size - 1)) || size > (1u << 24) ||
        (abar & (size - 1))) {
        return fail(a, "ABAR size %#x (BAR reads %#x) unusable at %#llx",
                    size, v, (unsigned long long)abar);
    }
    if (cfg_wr(a, 0x24, 4, abar) < 0 || cfg_rd(a, a->bdf, 0x24, 4, &v) < 0) {
        return -1;
    }
    if ((v & ~0xfu) != abar) {
        return fail(a, "ABAR reads %#x after writing %#llx", v,
                    (unsigned long long)abar);
    }
    a->abar = abar;
    if (cfg_rd(a, a->bdf, 0x04, 2, &cmd) < 0) {
        return -1;
    }
    /* Memory space, bus master; INTx off when MSI is used. */
    cmd |= 0x6;
    cmd = a->use_msi ? cmd | 0x400 : cmd & ~0x400u;
    return cfg_wr(a, 0x04, 2, cmd);
}

static int setup_irq(Ahci *a)
{
    uint32_t pin, status, cap, id, ctl, dev = a->bdf >> 3;
    unsigned hops;

    if (cfg_rd(a, a->bdf, 0x3d, 1, &pin) < 0) {
        return -1;
    }
    if (pin < 1 || pin > 4) {
        if (!a->use_msi) {
            return fail(a, "interrupt pin %u: no INTx", pin);
        }
    } else {
        /* hvm_pci_intx_gsi() in Xen. */
        a->gsi = 16 + (((dev << 2) + (dev >> 3) + pin - 1) & 31);
    }
    if (!a->use_msi) {
        return 0;
    }
    if (cfg_rd(a, a->bdf, 0x06, 2, &status) < 0 ||
        cfg_rd(a, a->bdf, 0x34, 1, &cap) < 0) {
        return -1;
    }
    for (hops = 0; (status & 0x10) && cap >= 0x40 && hops < 48; hops++) {
        if (cfg_rd(a, a->bdf, cap, 1, &id) < 0) {
            return -1;
        }
        if (id == 0x05) {
            break;
        }
        if (cfg_rd(a, a->bdf, cap + 1, 1, &cap) < 0) {
            return -1;
        }
        cap &= 0xfc;
    }
    if (!(status & 0x10) || cap < 0x40 || hops == 48) {
        return fail(a, "no MSI capability");
    }
    if (cfg_rd(a, a->bdf, cap + 2, 2, &ctl) < 0 ||
        cfg_wr(a, cap + 4, 4, 0xfee00000) < 0) {
        return -1;
    }
    /* Vector 0x41, fixed delivery, to APIC 0. */
    if (ctl & 0x80) {
        if (cfg_wr(a, cap + 8, 4, 0) < 0 || cfg_wr(a, cap + 12, 2, 0x41) < 0) {
            return -1;
        }
    } else if (cfg_wr(a, cap + 8, 2, 0x41) < 0) {
        return -1;
    }
    /* One vector, enabled. */
    if (cfg_wr(a, cap + 2, 2, (ctl & ~0x70u) | 1) < 0) {
        return -1;
    }
    a->msi_seen = 0;
    {
        uint64_t n;

        if (vcpu_cmd(a->cpu, &n, "msi") < 0) {
            return cpu_fail(a, "msi");
        }
        a->msi_seen = n;
    }
    return 0;
}

static int reset_hba(Ahci *a)
{
    uint32_t cap, ghc, pi, vs;
    int64_t deadline;

    if (rd(a, a->abar + HBA_CAP, &cap, "CAP") < 0 ||
        rd(a, a->abar + HBA_VS, &vs, "VS") < 0) {
        return -1;
    }
    if (vs < 0x10000) {
        return fail(a, "AHCI version %#x: not an AHCI 1.x HBA", vs);
    }
    if (wr(a, a->abar + HBA_GHC, GHC_AE, "GHC") < 0 ||
        wr(a, a->abar + HBA_GHC, GHC_AE | GHC_HR, "GHC") < 0) {
        return -1;
    }
    deadline = now_ms() + 1000;     /* the spec gives the HBA 1 s */
    do {
        if (rd(a, a->abar + HBA_GHC, &ghc, "GHC") < 0) {
            return -1;
        }
    } while ((ghc & GHC_HR) && now_ms() < deadline);
    if (ghc & GHC_HR) {
        return fail(a, "HBA reset did not complete within 1 s");
    }
    if (wr(a, a->abar + HBA_GHC, GHC_AE | GHC_IE, "GHC") < 0 ||
        rd(a, a->abar + HBA_PI, &pi, "PI") < 0) {
        return -1;
    }
    a->nslots = ((cap >> 8) & 0x1f) + 1;
    if (!(cap & CAP_SNCQ)) {
        return fail(a, "CAP %#x: no NCQ support", cap);
    }
    if (!pi) {
        return fail(a, "no ports implemented");
    }
    /* The first port with a device and an established link; its
     * signature arrives with the first D2H FIS, once FRE is set. */
    for (a->port = 0; a->port < 32; a->port++) {
        uint32_t ssts;

        if (!(pi & (1u << a->port))) {
            continue;
        }
        if (rd(a, port_reg(a, PX_SSTS), &ssts, "PxSSTS") < 0) {
            return -1;
        }
        if ((ssts & 0xf) == 3) {
            return 0;
        }
    }
    return fail(a, "no port with a device attached (PI %#x)", pi);
}

static int start_port(Ahci *a)
{
    uint32_t cmd, tfd, sig;
    int64_t deadline;

    if (rd(a, port_reg(a, PX_CMD), &cmd, "PxCMD") < 0) {
        return -1;
    }
    if (cmd & (CMD_ST | CMD_CR | CMD_FRE | CMD_FR)) {
        return fail(a, "port %u still running after HBA reset (PxCMD %#x)",
                    a->port, cmd);
    }
    if (vcpu_memset(a->cpu, a->clb, CT_OFF, 0) < 0) {
        return cpu_fail(a, "clear command list");
    }
    if (wr(a, port_reg(a, PX_CLB), a->clb, "PxCLB") < 0 ||
        wr(a, port_reg(a, PX_CLBU), a->clb >> 32, "PxCLBU") < 0 ||
        wr(a, port_reg(a, PX_FB), a->fb, "PxFB") < 0 ||
        wr(a, port_reg(a, PX_FBU), a->fb >> 32, "PxFBU") < 0 ||
        wr(a, port_reg(a, PX_CMD), cmd | CMD_FRE, "PxCMD") < 0 ||
        wr(a, port_reg(a, PX_SERR), 0xffffffff, "PxSERR") < 0 ||
        wr(a, port_reg(a, PX_IS), 0xffffffff, "PxIS") < 0 ||
        wr(a, a->abar + HBA_IS, 1u << a->port, "IS") < 0 ||
        wr(a, port_reg(a, PX_IE), PXIE_ENABLE, "PxIE") < 0) {
        return -1;
    }
    deadline = now_ms() + 1000;
    do {
        if (rd(a, port_reg(a, PX_TFD), &tfd, "PxTFD") < 0) {
            return -1;
        }
    } while ((tfd & (TFD_BSY | TFD_DRQ)) && now_ms() < deadline);
    if (tfd & (TFD_BSY | TFD_DRQ)) {
        return fail(a, "port %u busy (PxTFD %#x)", a->port, tfd);
    }
    if (vcpu_readl(a->cpu, port_reg(a, PX_SIG), &sig) < 0) {
        return cpu_fail(a, "PxSIG");
    }
    if (sig != SIG_ATA) {
        return fail(a, "port %u: signature %#x, not an ATA disk", a->port,
                    sig);
    }
    if (wr(a, port_reg(a, PX_CMD),
           cmd | CMD_FRE | CMD_ST | CMD_SUD | CMD_POD, "PxCMD") < 0 ||
        rd(a, port_reg(a, PX_CMD), &cmd, "PxCMD") < 0) {
        return -1;
    }
    if (!(cmd & CMD_CR)) {
        return fail(a, "port %u: command list not running (PxCMD %#x)",
                    a->port, cmd);
    }
    return 0;
}

int ahci_init(Ahci *a, Vcpu *cpu, uint64_t base, uint64_t abar, bool use_msi,
              int timeout_ms)
{
    int pid = a->qemu_pid;

    memset(a, 0, sizeof(*a));
    a->qemu_pid = pid;
    a->cpu = cpu;
    a->use_msi = use_msi;
    a->timeout_ms = timeout_ms;
    a->clb = base + CL_OFF;
    a->fb = base + FIS_OFF;
    a->ident_buf = base + IDENT_OFF;
    a->ctba = base + CT_OFF;
    if (CT_OFF + AHCI_SLOTS * CT_SIZE > AHCI_DRIVER_RAM) {
        return fail(a, "driver structures do not fit");
    }
    if (find_hba(a) < 0 || place_abar(a, abar) < 0 || setup_irq(a) < 0 ||
        reset_hba(a) < 0 || start_port(a) < 0) {
        return -1;
    }
    return 0;
}

static bool is_ncq(uint8_t ata)
{
    return ata == ATA_READ_FPDMA || ata == ATA_WRITE_FPDMA;
}

static bool is_write(uint8_t ata)
{
    return ata == ATA_WRITE_FPDMA || ata == ATA_WRITE_DMA_EXT;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = v;
    p[1] = v >> 8;
    p[2] = v >> 16;
    p[3] = v >> 24;
}

/* Command header and table for cmd in slot. */
static int build(Ahci *a, const AhciCmd *c, unsigned slot, uint8_t *hdr,
                 uint8_t *tbl)
{
    uint64_t total = 0, ct = a->ctba + (uint64_t)slot * CT_SIZE;
    uint32_t count = c->sectors == 65536 ? 0 : c->sectors;
    unsigned i;

    if (c->nprd > AHCI_MAX_PRD || (c->sectors && !c->nprd) ||
        c->sectors > 65536) {
        return fail(a, "slot %u: %u PRDs for %u sectors", slot, c->nprd,
                    c->sectors);
    }
    memset(hdr, 0, 32);
    memset(tbl, 0, CT_SIZE);
    put32(hdr, 5 | (is_write(c->ata) ? 1u << 6 : 0) | c->nprd << 16);
    put32(hdr + 8, ct);
    put32(hdr + 12, ct >> 32);

    tbl[0] = FIS_H2D;
    tbl[1] = 0x80;                  /* C: a command */
    tbl[2] = c->ata;
    tbl[4] = c->lba;
    tbl[5] = c->lba >> 8;
    tbl[6] = c->lba >> 16;
    tbl[7] = c->ata == ATA_IDENTIFY ? 0 : 0x40;    /* LBA mode */
    tbl[8] = c->lba >> 24;
    tbl[9] = c->lba >> 32;
    tbl[10] = c->lba >> 40;
    if (is_ncq(c->ata)) {
        tbl[3] = count;             /* FPDMA: count in FEATURES */
        tbl[11] = count >> 8;
        tbl[12] = slot << 3;        /* tag = slot */
    } else if (c->ata != ATA_IDENTIFY && c->ata != ATA_FLUSH_EXT) {
        tbl[12] = count;
        tbl[13] = count >> 8;
    }
    for (i = 0; i < c->nprd; i++) {
        const AhciPrd *p = &c->prd[i];
        uint8_t *e = tbl + 0x80 + 16 * i;

        if (!p->len || (p->len & 1) || (p->addr & 1) ||
            p->len > AHCI_PRD_MAX_BYTES) {
            return fail(a, "slot %u PRD %u: bad %#llx+%#x", slot, i,
                        (unsigned long long)p->addr, p->len);
        }
        put32(e, p->addr);
        put32(e + 4, p->addr >> 32);
        put32(e + 12, p->len - 1);
        total += p->len;
    }
    if (c->ata != ATA_IDENTIFY && total != (uint64_t)c->sectors * 512) {
        return fail(a, "slot %u: PRDs hold %llu bytes for %u sectors",
                    slot, (unsigned long long)total, c->sectors);
    }
    return 0;
}

int ahci_issue(Ahci *a, const AhciCmd *cmds, unsigned n, unsigned first)
{
    static uint8_t hdrs[32 * AHCI_SLOTS], tbls[CT_SIZE * AHCI_SLOTS];
    uint32_t mask = 0;
    unsigned i, inflight;
    bool ncq = n && is_ncq(cmds[0].ata);

    if (!n || first + n > a->nslots) {
        return fail(a, "%u commands from slot %u: only %u slots", n, first,
                    a->nslots);
    }
    for (i = 0; i < n; i++) {
        if (is_ncq(cmds[i].ata) != ncq) {
            return fail(a, "NCQ and non-NCQ commands in one batch");
        }
        if (build(a, &cmds[i], first + i, hdrs + 32 * i,
                  tbls + CT_SIZE * i) < 0) {
            return -1;
        }
        mask |= 1u << (first + i);
    }
    if (mask & a->busy) {
        return fail(a, "slots %#x still busy", mask & a->busy);
    }
    if ((!ncq && a->busy) || (ncq && a->busy & ~a->ncq_busy)) {
        return fail(a, "cannot mix NCQ and non-NCQ commands in flight");
    }
    if (vcpu_memwrite(a->cpu, a->ctba + (uint64_t)first * CT_SIZE, tbls,
                      (size_t)CT_SIZE * n) < 0 ||
        vcpu_memwrite(a->cpu, a->clb + 32 * first, hdrs, 32 * n) < 0) {
        return cpu_fail(a, "command list");
    }
    if (ncq && wr(a, port_reg(a, PX_SACT), mask, "PxSACT") < 0) {
        return -1;
    }
    if (wr(a, port_reg(a, PX_CI), mask, "PxCI") < 0) {
        return -1;
    }
    a->busy |= mask;
    if (ncq) {
        a->ncq_busy |= mask;
    }
    inflight = __builtin_popcount(a->busy);
    if (inflight > a->max_inflight) {
        a->max_inflight = inflight;
    }
    return 0;
}

int ahci_pending(Ahci *a, uint32_t *pending)
{
    uint32_t sact = 0, ci = 0;

    /* All-ones is legal here (32 slots busy); ahci_wait() checks the
     * bits against what was issued. */
    if ((a->ncq_busy && vcpu_readl(a->cpu, port_reg(a, PX_SACT), &sact) < 0) ||
        vcpu_readl(a->cpu, port_reg(a, PX_CI), &ci) < 0) {
        return cpu_fail(a, "PxSACT/PxCI");
    }
    *pending = sact | ci;
    return 0;
}

/* Sleep until the HBA may have interrupted, at most ms. */
static int wait_irq(Ahci *a, int ms)
{
    int64_t end = now_ms() + ms;
    unsigned spins = 0;
    uint64_t n;

    if (!a->use_msi) {
        if (vcpu_cmd(a->cpu, NULL, "waitirq %u 1 %d", a->gsi, ms) < 0) {
            return a->cpu->broken ? cpu_fail(a, "waitirq") : 0;
        }
        a->irqs++;
        return 0;
    }
    for (;;) {
        if (vcpu_cmd(a->cpu, &n, "msi") < 0) {
            return cpu_fail(a, "msi");
        }
        if (n != a->msi_seen) {
            a->msi_seen = n;
            a->irqs++;
            return 0;
        }
        if (now_ms() >= end) {
            return 0;
        }
        /* Spin on the socket briefly, then back off. */
        if (++spins > 64) {
            usleep(100);
        }
    }
}

int ahci_wait(Ahci *a, uint32_t mask, bool wait_all, uint32_t *done_now)
{
    int64_t deadline = now_ms() + a->timeout_ms;
    uint32_t done = 0;

    if (mask & ~a->busy) {
        return fail(a, "waiting for slots %#x never issued",
                    mask & ~a->busy);
    }
    for (;;) {
        uint32_t is, pending, tfd = 0, serr = 0;

        if (rd(a, port_reg(a, PX_IS), &is, "PxIS") < 0) {
            return -1;
        }
        if (is && (wr(a, port_reg(a, PX_IS), is, "PxIS") < 0 ||
                   wr(a, a->abar + HBA_IS, 1u << a->port, "IS") < 0)) {
            return -1;
        }
        if (is & PXIS_ERRORS) {
            vcpu_readl(a->cpu, port_reg(a, PX_TFD), &tfd);
            vcpu_readl(a->cpu, port_reg(a, PX_SERR), &serr);
            return fail(a, "port %u error: PxIS %#x PxTFD %#x PxSERR %#x "
                        "(slots %#x outstanding)", a->port, is, tfd, serr,
                        a->busy);
        }
        if (ahci_pending(a, &pending) < 0) {
            return -1;
        }
        if (pending & ~a->busy) {
            if (dm_exited(a)) {
                return fail(a, "PxSACT|PxCI %#x: the device model (pid %d) "
                            "has exited", pending, a->qemu_pid);
            }
            return fail(a, "PxSACT|PxCI %#x: slots %#x were never issued",
                        pending, pending & ~a->busy);
        }
        done |= a->busy & ~pending;
        a->busy &= pending;
        a->ncq_busy &= pending;
        if (wait_all ? !(a->busy & mask) : (done & mask) != 0) {
            break;
        }
        if (!a->ncq_busy && a->busy) {
            /* A non-NCQ command that failed leaves ERR in PxTFD. */
            if (rd(a, port_reg(a, PX_TFD), &tfd, "PxTFD") < 0) {
                return -1;
            }
            if ((tfd & TFD_ERR) && !(tfd & TFD_BSY)) {
                return fail(a, "port %u: PxTFD %#x (error %#x)", a->port,
                            tfd, tfd >> 8 & 0xff);
            }
        }
        if (now_ms() >= deadline) {
            if (dm_exited(a)) {
                return fail(a, "device model (pid %d) exited with slots "
                            "%#x outstanding", a->qemu_pid,
                            a->busy & mask);
            }
            return fail(a, "timeout: slots %#x not complete after %d ms "
                        "(PxIS %#x, pending %#x)", a->busy & mask,
                        a->timeout_ms, is, pending);
        }
        a->polls++;
        if (wait_irq(a, 50) < 0) {
            return -1;
        }
    }
    if (done_now) {
        *done_now = done;
    }
    return 0;
}

int ahci_identify(Ahci *a)
{
    AhciCmd c = {
        .ata = ATA_IDENTIFY, .nprd = 1,
        .prd = { { .addr = a->ident_buf, .len = 512 } },
    };
    uint8_t id[512];
    uint16_t w[256];
    unsigned i;

    if (vcpu_memset(a->cpu, a->ident_buf, 512, 0xee) < 0) {
        return cpu_fail(a, "identify buffer");
    }
    if (ahci_issue(a, &c, 1, 0) < 0 || ahci_wait(a, 1, true, NULL) < 0) {
        return -1;
    }
    if (vcpu_memread(a->cpu, a->ident_buf, id, 512) < 0) {
        return cpu_fail(a, "identify data");
    }
    for (i = 0; i < 256; i++) {
        w[i] = id[2 * i] | id[2 * i + 1] << 8;
    }
    for (i = 0; i < 20; i++) {
        a->model[2 * i] = w[27 + i] >> 8;
        a->model[2 * i + 1] = w[27 + i];
    }
    for (i = 40; i > 0 && a->model[i - 1] == ' '; i--) {
        a->model[i - 1] = 0;
    }
    if (w[0] & 0x8000) {
        return fail(a, "IDENTIFY: not an ATA device (word 0 %#x)", w[0]);
    }
    if (w[83] & (1 << 10)) {
        a->sectors = (uint64_t)w[100] | (uint64_t)w[101] << 16 |
                     (uint64_t)w[102] << 32 | (uint64_t)w[103] << 48;
    } else {
        a->sectors = w[60] | (uint32_t)w[61] << 16;
    }
    a->ncq = w[76] & (1 << 8);
    a->queue_depth = (w[75] & 0x1f) + 1;
    if (!a->sectors || a->sectors > (1ull << 48)) {
        return fail(a, "IDENTIFY: %llu sectors",
                    (unsigned long long)a->sectors);
    }
    return 0;
}
