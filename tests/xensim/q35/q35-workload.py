#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A Q35 Xen guest on xensim: firmware, then AHCI NCQ on all six ports.

The device model starts as libxl starts it, with
device_model_args_hvm = ["-machine", "q35,accel=xen"] and six disks on
the ICH9 AHCI's ports (ide.0 .. ide.5).  Then, on the vCPU (hv control
socket), every access an ioreq:

firmware, as a Q35-aware hvmloader must do it (hvmloader 4.17 cannot:
docs/xen-q35.rst):
  * scan bus 0 and find the MCH (8086:29c0) and the ICH9 LPC (8086:2918)
    at 00:1f.0 instead of asserting on PIIX3 at 00:01.0;
  * program PCIEXBAR (MCH 0x60) and check the ECAM window through MMIO;
  * enable the LPC's ACPI PM block: PMBASE (0x40) = 0xb000, ACPI_CTRL
    (0x44) ACPI_EN with the SCI on IRQ 9; PM1a_CNT at 0xb004 then shows
    SCI_EN (QEMU's ICH9 PM is ACPI-only without SMM), before and after
    hvmloader's PIIX4 ACPI-enable value 0xf1 and ICH9's 0x02 on APM_CNT;
  * route PIRQ A-H at LPC 0x60-0x63 and 0x68-0x6b;
  * size and place every BAR of every function on bus 0 in the PCI hole
    and the I/O space, enable decoding, and write the interrupt line.

OS, an AHCI driver on all six ports at once: HBA reset, per port a
command list, FIS area and 32 command tables, IDENTIFY (size, NCQ, depth
32), then batches of READ/WRITE FPDMA QUEUED with 32 slots on every port
issued together (192; max_port_depth: a port's PxSACT right after its
issue, max_inflight: all ports' at the first poll; each disk is limited
to --throttle-iops over QMP, 10 by default, so that commands stay
outstanding long enough for the guest to see them), PRD buffers placed at random in a window of
guest RAM with a quarter straddling a 1 MiB border; completion by INTx
through PIRQA (ISA IRQ and Xen's GSI both seen up, then down once PxIS
and IS are cleared).  Every sector read is compared with what the disk
must hold (its pattern or the data last written), and at the end every
sector of every image file.

Output: "phase NAME: ok|FAIL ..." lines and one
"summary: ios= ... errors= ... result=PASS|FAIL".  Exit 0 only on PASS.

usage: q35-workload.py BUILD_XENSIM_DIR QEMU [--batches N] [--seed N]
                      [--throttle-iops N] [--zero-disk N]
"""
import argparse
import os
import random
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "py"))
import xensim  # noqa: E402
from xensim import scan_bus0  # noqa: E402

PORTS = 6
SLOTS = 32
DISK_SECTORS = 32768            # 16 MiB per disk
SECTOR = 512

MCH, LPC = 0x29c08086, 0x29188086
AHCI_DEV, AHCI_FN = 31, 2
ECAM = 0xe0000000
PMBASE = 0xb000
APM_CNT = 0xb2
PIRQ_ISA = [11, 10, 5, 11, 10, 5, 11, 10]   # A-H
MMIO_BASE, IO_BASE = 0xf0000000, 0xc000

# guest RAM use (the guest has 512 MiB)
DRIVER_BASE = 0x200000          # per port: 64 KiB of CLB/FIS/tables
PORT_RAM = 0x10000
CT_OFF, CT_SIZE = 0x1000, 0x400
IDENT_BUF = 0x1000000
BUF_LO, BUF_HI = 0x2000000, 0x6000000   # 64 MiB window for PRD buffers
MIB = 1 << 20

ERRORS = []


def error(msg):
    ERRORS.append(msg)
    print("   ERROR " + msg, flush=True)


def pattern(disk, sector):
    base = (disk + 1) << 56 | sector << 6
    return struct.pack("<64Q", *[(base | j) ^ 0x5a5a5a5a5a5a5a5a
                                 for j in range(64)])


def mkimage(path, disk):
    with open(path, "wb") as f:
        for s in range(DISK_SECTORS):
            f.write(pattern(disk, s))


class Firmware:
    """What a Q35-aware hvmloader does before the OS runs."""

    def __init__(self, ctl):
        self.c = ctl
        self.mmio = MMIO_BASE
        self.io = IO_BASE

    def run(self):
        c = self.c
        found = scan_bus0(c)
        if found.get((0, 0)) != MCH or found.get((31, 0)) != LPC:
            raise RuntimeError("not a Q35 board: %s" % found)
        # PCIEXBAR: 256 MiB at ECAM, enabled
        c.cfg_write(0, 0, 0x64, 0)
        c.cfg_write(0, 0, 0x60, ECAM | 1)
        ids = c.value("readl %#x" % ECAM)
        lpc = c.value("readl %#x" % (ECAM + (31 << 15)))
        if ids != MCH or lpc != LPC:
            raise RuntimeError("ECAM window: %#x %#x" % (ids, lpc))
        # ACPI PM block of the LPC
        c.cfg_write(31, 0, 0x40, PMBASE | 1)
        c.cfg_write(31, 0, 0x44, 0x80, 1)       # ACPI_EN, SCI on IRQ 9
        # Without SMM (Xen) QEMU's ICH9 PM is ACPI-only: SCI_EN is set
        # from reset.  hvmloader's PIIX4 value 0xf1 must not harm it (it
        # killed the device model before: an SMI on no vCPU), ICH9's
        # 0x02 must leave it set.
        sci_reset = c.value("inw %#x" % (PMBASE + 4)) & 1
        c.do("outb %#x 0xf1" % APM_CNT)
        sci_f1 = c.value("inw %#x" % (PMBASE + 4)) & 1
        c.do("outb %#x 0x02" % APM_CNT)
        sci_en = c.value("inw %#x" % (PMBASE + 4)) & 1
        if not (sci_reset and sci_f1 and sci_en):
            raise RuntimeError("PM1a_CNT.SCI_EN: %d at reset, %d after "
                               "0xf1, %d after 0x02" %
                               (sci_reset, sci_f1, sci_en))
        # PIRQ A-H
        for p, irq in enumerate(PIRQ_ISA):
            reg = 0x60 + p if p < 4 else 0x68 + p - 4
            c.cfg_write(31, 0, reg, irq, 1)
        placed = []
        for (dev, fn) in sorted(found):
            placed += self.place_bars(dev, fn)
        return found, placed

    def place_bars(self, dev, fn):
        c = self.c
        hdr = c.cfg_read(dev, fn, 0xc) >> 16 & 0x7f
        if hdr != 0:
            return []
        placed = []
        cmd = 0
        bar = 0
        while bar < 6:
            reg = 0x10 + 4 * bar
            old = c.cfg_read(dev, fn, reg)
            c.cfg_write(dev, fn, reg, 0xffffffff)
            size_mask = c.cfg_read(dev, fn, reg)
            c.cfg_write(dev, fn, reg, old)
            if size_mask in (0, 0xffffffff) and old == 0:
                bar += 1
                continue
            if size_mask & 1:                   # I/O
                size = (~(size_mask & ~3) & 0xffff) + 1
                self.io = (self.io + size - 1) & ~(size - 1)
                c.cfg_write(dev, fn, reg, self.io)
                placed.append((dev, fn, bar, "io", self.io, size))
                self.io += size
                cmd |= 1
                bar += 1
                continue
            is64 = (size_mask >> 1 & 3) == 2
            size = (~(size_mask & ~0xf) & 0xffffffff) + 1
            self.mmio = (self.mmio + size - 1) & ~(size - 1)
            c.cfg_write(dev, fn, reg, self.mmio)
            if is64:
                c.cfg_write(dev, fn, reg + 4, 0)
            placed.append((dev, fn, bar, "mem", self.mmio, size))
            self.mmio += size
            cmd |= 2
            bar += 2 if is64 else 1
        pin = c.cfg_read(dev, fn, 0x3d, 1)
        if pin and dev >= 25:
            # D<n>IR default: INTA-D -> PIRQA-D
            c.cfg_write(dev, fn, 0x3c, PIRQ_ISA[pin - 1], 1)
        if cmd:
            c.cfg_write(dev, fn, 4, cmd | 4, 2)     # + bus master
        return placed


def xen_intx_gsi(dev, intx):
    return ((dev << 2) + (dev >> 3) + intx) % 32 + 16


class Hba:
    """A guest AHCI driver for all ports of the ICH9 AHCI."""

    def __init__(self, ctl, abar, timeout=30.0):
        self.c = ctl
        self.abar = abar
        self.timeout = timeout

    def rd(self, off):
        return self.c.value("readl %#x" % (self.abar + off))

    def wr(self, off, val):
        self.c.do("writel %#x %#x" % (self.abar + off, val))

    def prd(self, port, off):
        return self.rd(0x100 + port * 0x80 + off)

    def pwr(self, port, off, val):
        self.wr(0x100 + port * 0x80 + off, val)

    def wait(self, what, fn):
        end = time.time() + self.timeout
        while time.time() < end:
            v = fn()
            if v:
                return v
            time.sleep(0.002)
        raise RuntimeError("timeout: " + what)

    def init(self):
        self.wr(0x04, 1 << 31)                  # GHC.AE
        self.wr(0x04, 1 << 31 | 1)              # HR
        self.wait("HBA reset", lambda: not self.rd(0x04) & 1)
        self.wr(0x04, 1 << 31)
        cap = self.rd(0x00)
        pi = self.rd(0x0c)
        if (cap & 0x1f) + 1 != PORTS or pi != (1 << PORTS) - 1 or \
                not cap & (1 << 30):
            raise RuntimeError("CAP %#x PI %#x: not 6 ports with NCQ" %
                               (cap, pi))
        for p in range(PORTS):
            base = DRIVER_BASE + p * PORT_RAM
            self.c.do("memset %#x %#x 0" % (base, PORT_RAM))
            self.pwr(p, 0x00, base)             # CLB
            self.pwr(p, 0x04, 0)
            self.pwr(p, 0x08, base + 0x800)     # FB
            self.pwr(p, 0x0c, 0)
            self.pwr(p, 0x30, 0xffffffff)       # SERR
            self.pwr(p, 0x10, 0xffffffff)       # IS
            self.pwr(p, 0x18, 1 << 4)           # FRE
            self.wait("port %d link" % p,
                      lambda p=p: self.prd(p, 0x28) & 0xf == 3)
            sig = self.prd(p, 0x24)
            if sig != 0x101:
                raise RuntimeError("port %d: signature %#x" % (p, sig))
            self.pwr(p, 0x14, 0x7d4000ff)       # PxIE: completions, errors
            self.pwr(p, 0x18, 1 << 4 | 1)        # ST
        self.wr(0x08, 0xffffffff)
        self.wr(0x04, 1 << 31 | 2)               # IE (INTx)

    def cmd_table(self, port, slot):
        return DRIVER_BASE + port * PORT_RAM + CT_OFF + slot * CT_SIZE

    def build(self, port, slot, ata, lba, count, prds, write):
        ct = self.cmd_table(port, slot)
        fis = bytearray(0x80)
        fis[0], fis[1], fis[2] = 0x27, 0x80, ata
        fis[4], fis[5], fis[6] = lba & 0xff, lba >> 8 & 0xff, lba >> 16 & 0xff
        fis[7] = 0x40 if ata != 0xec else 0
        fis[8], fis[9], fis[10] = lba >> 24 & 0xff, lba >> 32 & 0xff, 0
        if ata in (0x60, 0x61):
            fis[3], fis[11] = count & 0xff, count >> 8
            fis[12] = slot << 3
        else:
            fis[12], fis[13] = count & 0xff, count >> 8 & 0xff
        prdt = b"".join(struct.pack("<QII", a, 0, n - 1) for a, n in prds)
        hdr = struct.pack("<IIQ16x", 5 | (1 << 6 if write else 0) |
                          len(prds) << 16, 0, ct)
        return (ct, bytes(fis) + prdt), (DRIVER_BASE + port * PORT_RAM +
                                         slot * 32, hdr)

    def identify(self, port, buf=IDENT_BUF):
        (ct, tbl), (h, hdr) = self.build(port, 0, 0xec, 0, 0,
                                         [(buf, 512)], False)
        self.c.do("memwrite %#x %s" % (ct, tbl.hex()))
        self.c.do("memwrite %#x %s" % (h, hdr.hex()))
        self.pwr(port, 0x38, 1)
        self.wait("port %d IDENTIFY" % port,
                  lambda: not self.prd(port, 0x38) & 1)
        self.pwr(port, 0x10, 0xffffffff)
        self.wr(0x08, 1 << port)
        words = struct.unpack("<256H", bytes.fromhex(
            self.c.do("memread %#x 512" % buf)[0][0]))
        sectors = words[100] | words[101] << 16 | words[102] << 32
        return sectors, bool(words[76] & 0x100), (words[75] & 0x1f) + 1


class Disk:
    """What one disk must hold, sector by sector."""

    def __init__(self, index):
        self.index = index
        self.written = {}

    def expect(self, sector):
        return self.written.get(sector) or pattern(self.index, sector)


def place_buffers(rng, used, nbytes):
    """A buffer of nbytes in the window, not meeting any used one; a
    quarter straddle a 1 MiB border."""
    for _ in range(1000):
        if rng.random() < 0.25:
            border = rng.randrange(BUF_LO // MIB + 1, BUF_HI // MIB) * MIB
            gpa = border - rng.randrange(1, nbytes // 2 + 1) * 2
        else:
            gpa = rng.randrange(BUF_LO, BUF_HI - nbytes) & ~1
        if gpa < BUF_LO or gpa + nbytes > BUF_HI:
            continue
        if all(gpa + nbytes <= a or b <= gpa for a, b in used):
            used.append((gpa, gpa + nbytes))
            return gpa
    raise RuntimeError("no room for a %d-byte buffer" % nbytes)


def ncq_batch(g, hba, disks, rng, stats):
    c = g.ctl
    used = []
    plan = []               # (port, slot, write, lba, count, gpa, data)
    for p in range(PORTS):
        taken = []
        for slot in range(SLOTS):
            count = rng.choice([1, 2, 7, 8, 16, 33, 64])
            write = rng.random() < 0.3
            for _ in range(100):
                lba = rng.randrange(0, DISK_SECTORS - count)
                if all(lba + count <= a or b <= lba for a, b in taken):
                    break
            taken.append((lba, lba + count))
            nbytes = count * SECTOR
            gpa = place_buffers(rng, used, nbytes)
            data = rng.randbytes(nbytes) if write else None
            plan.append((p, slot, write, lba, count, gpa, data))
    # guest RAM: poison read buffers, fill write buffers, commands
    for p, slot, write, lba, count, gpa, data in plan:
        if write:
            c.do("memwrite %#x %s" % (gpa, data.hex()))
        else:
            c.do("memset %#x %#x 0xa5" % (gpa, count * SECTOR))
        # split into two PRDs when it straddles 1 MiB, as a page list would
        nbytes = count * SECTOR
        border = (gpa // MIB + 1) * MIB
        if gpa + nbytes > border and border - gpa >= 2:
            prds = [(gpa, border - gpa), (border, gpa + nbytes - border)]
        else:
            prds = [(gpa, nbytes)]
        (ct, tbl), (h, hdr) = hba.build(p, slot, 0x61 if write else 0x60,
                                        lba, count, prds, write)
        c.do("memwrite %#x %s" % (ct, tbl.hex()))
        c.do("memwrite %#x %s" % (h, hdr.hex()))
    mask = (1 << SLOTS) - 1
    for p in range(PORTS):                  # every port, 32 slots each
        hba.pwr(p, 0x34, mask)              # PxSACT
        hba.pwr(p, 0x38, mask)              # PxCI
        depth = bin(hba.prd(p, 0x34)).count("1")
        stats["max_port_depth"] = max(stats["max_port_depth"], depth)
    # outstanding on all ports together, as the first poll sees it
    inflight = sum(bin(hba.prd(p, 0x34)).count("1") for p in range(PORTS))
    stats["max_inflight"] = max(stats["max_inflight"], inflight)
    gsi = xen_intx_gsi(AHCI_DEV, 0)
    isa = PIRQ_ISA[0]
    saw_irq = False
    pending = set(range(PORTS))
    end = time.time() + 60
    while pending and time.time() < end:
        if c.irq(isa) and c.irq(gsi):
            saw_irq = True
        for p in list(pending):
            sact = hba.prd(p, 0x34)
            pis = hba.prd(p, 0x10)
            if pis & 0x7d000000:
                error("port %d: PxIS %#x PxTFD %#x SERR %#x" %
                      (p, pis, hba.prd(p, 0x20), hba.prd(p, 0x30)))
                pending.discard(p)
            if not sact and not hba.prd(p, 0x38):
                pending.discard(p)
        time.sleep(0.001)
    if pending:
        error("ports %s: NCQ batch not done in 60 s" % sorted(pending))
    if not saw_irq:
        saw_irq = bool(c.irq(isa) and c.irq(gsi))
    for p in range(PORTS):
        hba.pwr(p, 0x10, 0xffffffff)
    hba.wr(0x08, 0xffffffff)
    lowered = not c.irq(isa) and not c.irq(gsi)
    if not saw_irq or not lowered:
        error("INTx: ISA IRQ %d / GSI %d %s" % (
            isa, gsi, "never raised" if not saw_irq else "not lowered"))
    stats["irqs"] += saw_irq
    # verify every sector read, then account the writes
    for p, slot, write, lba, count, gpa, data in plan:
        d = disks[p]
        if write:
            for i in range(count):
                d.written[lba + i] = data[i * SECTOR:(i + 1) * SECTOR]
            stats["bytes_written"] += count * SECTOR
        else:
            got = bytes.fromhex(c.do("memread %#x %#x" %
                                     (gpa, count * SECTOR))[0][0])
            for i in range(count):
                want = d.expect(lba + i)
                if got[i * SECTOR:(i + 1) * SECTOR] != want:
                    error("port %d slot %d: sector %d read into %#x "
                          "differs" % (p, slot, lba + i, gpa + i * SECTOR))
                    break
            stats["bytes_read"] += count * SECTOR
            stats["verified"] += count
        stats["ios"] += 1


HOT = 0xe000000                 # the index of the overlap phase (7/16 of RAM)


def issue_wait(g, hba, p, cmds, what, wait=True):
    """Write cmds [(slot, ata, lba, count, gpa, data)] on port p, issue
    them together; with wait, until they are all done."""
    c = g.ctl
    mask = 0
    for slot, ata, lba, count, gpa, data in cmds:
        nbytes = count * SECTOR
        if data is not None:
            c.do("memwrite %#x %s" % (gpa, data.hex()))
        else:
            c.do("memset %#x %#x 0xa5" % (gpa, nbytes))
        (ct, tbl), (h, hdr) = hba.build(p, slot, ata, lba, count,
                                        [(gpa, nbytes)], data is not None)
        c.do("memwrite %#x %s" % (ct, tbl.hex()))
        c.do("memwrite %#x %s" % (h, hdr.hex()))
        mask |= 1 << slot
    if ata in (0x60, 0x61):
        hba.pwr(p, 0x34, mask)
    hba.pwr(p, 0x38, mask)
    if wait:
        wait_slots(hba, p, mask, what)
    return mask


def wait_slots(hba, p, mask, what, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if hba.prd(p, 0x10) & 0x7d000000:
            raise RuntimeError("%s: PxIS %#x PxTFD %#x" % (
                what, hba.prd(p, 0x10), hba.prd(p, 0x20)))
        if not (hba.prd(p, 0x34) | hba.prd(p, 0x38)) & mask:
            hba.pwr(p, 0x10, 0xffffffff)
            hba.wr(0x08, 1 << p)
            return
        time.sleep(0.002)
    raise RuntimeError("%s: not done in %d s" % (what, timeout))


def check_read(g, disk, what, lba, count, gpa, stats):
    got = bytes.fromhex(g.ctl.do("memread %#x %#x" %
                                 (gpa, count * SECTOR))[0][0])
    for i in range(count):
        if got[i * SECTOR:(i + 1) * SECTOR] != disk.expect(lba + i):
            error("%s: sector %d read into %#x differs" %
                  (what, lba + i, gpa + i * SECTOR))
            break
    stats["bytes_read"] += count * SECTOR
    stats["verified"] += count
    stats["ios"] += 1


def phase_overlap(g, hba, disks, stats):
    """The 2017 bug report's sequence on port 0, index X = HOT:
    A, a WRITE FPDMA of 512 bytes at X + 0xfff80 (a 2 MiB mapping of X),
    and B, a READ FPDMA of 4 KiB inside X, in flight together (B held by
    a 1 read/s throttle that a first read Z primes); once A is done, C,
    a READ FPDMA inside X, a CPU string write (rep outsb to the POST port)
    from a buffer inside X, and an IDENTIFY on port 1 into a buffer
    inside X, while B and C are in flight; then 32 reads inside X at once.
    The IDENTIFY's PIO data goes through dma_memory_rw(): an unlocked
    sized lookup of X (so is the rep's buffer on QEMU 7.2; our ioreq core
    maps it locked).  QEMU 7.2's map cache remaps A's unlocked 2 MiB
    entry to 1 MiB beside B's: two entries of one key, and B's unmap
    finds the wrong one."""
    p, d, x = 0, disks[0], HOT
    data_a = bytes(random.Random(x).randbytes(SECTOR))
    g.qmp.run("block_set_io_throttle", device="ahcidisk-0", bps=0, bps_rd=0,
              bps_wr=0, iops=0, iops_rd=1, iops_wr=0)
    try:
        z = (0, 0x60, 0, 1, x - 32 * MIB, None)
        a = (1, 0x61, 64, 1, x + 0xfff80, data_a)
        b = (2, 0x60, 1024, 8, x + 0x10000, None)
        issue_wait(g, hba, p, [z, a, b], "Z, A, B", wait=False)
        wait_slots(hba, p, 0x3, "Z and A")
        d.written[64] = data_a
        stats["bytes_written"] += SECTOR
        stats["ios"] += 1
        cc = (3, 0x60, 2048, 8, x + 0x40000, None)
        issue_wait(g, hba, p, [cc], "C", wait=False)
        g.ctl.do("outsb 0x80 %#x 16" % (x + 0x80000))
        sectors = hba.identify(1, x + 0x90000)[0]
        if sectors != DISK_SECTORS:
            error("overlap: IDENTIFY on port 1 says %d sectors" % sectors)
        pending = hba.prd(p, 0x34) | hba.prd(p, 0x38)
        held = pending & 0xc == 0xc
        stats["overlap"] = "yes" if held else "no"
        print("   overlap: A done, B and C %s when the CPU touched index "
              "%#x" % ("in flight" if held else "NOT in flight", x >> 20),
              flush=True)
        wait_slots(hba, p, 0xc, "B and C")
    finally:
        g.qmp.run("block_set_io_throttle", device="ahcidisk-0", bps=0,
                  bps_rd=0, bps_wr=0, iops=0, iops_rd=0, iops_wr=0)
    for what, cmd in (("Z", z), ("B", b), ("C", cc)):
        check_read(g, d, "overlap " + what, cmd[2], cmd[3], cmd[4], stats)
    fin = [(i, 0x60, 4096 + 64 * i, 32, x + 0x1000 + i * 0x7000, None)
           for i in range(SLOTS)]
    issue_wait(g, hba, p, fin, "32 reads inside X")
    for slot, _, lba, count, gpa, _ in fin:
        check_read(g, d, "overlap read %d" % slot, lba, count, gpa, stats)
    if not held:
        error("overlap: B and C were not in flight at the CPU access")


PIO_CHAIN_SECTORS = 8192       # 4 MiB: one PRD, 8192 PIO blocks
PIO_CHAIN_MIN_POLLS = 4


def phase_pio_chain(g, hba, disks, stats):
    """A READ SECTORS EXT (PIO, one sector a block) of 4 MiB on port 2,
    and the vCPU polling PxCI until it clears.  QEMU carries a PIO command
    on from each block's completion; if the main loop holds the BQL across
    the whole chain (completions that come back at once, as io_uring's for
    page-cache hits), no ioreq is served until the command ends and every
    poll but the last waits for it.  Each block may take the BQL; the
    vCPU's register reads must be served while the command runs."""
    p, d, gpa, n = 2, disks[2], BUF_LO, PIO_CHAIN_SECTORS
    (ct, tbl), (h, hdr) = hba.build(p, 0, 0x24, 0, n, [(gpa, n * SECTOR)],
                                    False)
    g.ctl.do("memwrite %#x %s" % (ct, tbl.hex()))
    g.ctl.do("memwrite %#x %s" % (h, hdr.hex()))
    hba.pwr(p, 0x38, 1)
    polls, end = 0, time.time() + 120
    while hba.prd(p, 0x38) & 1 and time.time() < end:
        polls += 1
    wait_slots(hba, p, 1, "READ SECTORS EXT")
    for lba in range(0, n, 128):        # memread's limit: 64 KiB a call
        check_read(g, d, "pio-chain", lba, 128, gpa + lba * SECTOR, stats)
    stats["pio_chain_polls"] = polls
    if polls < PIO_CHAIN_MIN_POLLS:
        error("pio-chain: %d register reads saw the PIO command outstanding "
              "(at least %d expected): ioreqs waited for the whole command"
              % (polls, PIO_CHAIN_MIN_POLLS))
    return polls


def check_images(imgs, disks):
    bad = 0
    for p, path in enumerate(imgs):
        with open(path, "rb") as f:
            for s in range(DISK_SECTORS):
                if f.read(SECTOR) != disks[p].expect(s):
                    bad += 1
                    if bad < 5:
                        error("disk %d sector %d: image differs" % (p, s))
    return bad


def unthrottle(g):
    """Every disk's I/O limit off; False (the new "throttled")."""
    for p in range(PORTS):
        g.qmp.run("block_set_io_throttle", device="ahcidisk-%d" % p, bps=0,
                  bps_rd=0, bps_wr=0, iops=0, iops_rd=0, iops_wr=0)
    return False


def counters(ctl):
    _, lines = ctl.do("counters")
    return dict(l.split()[:2] for l in lines if len(l.split()) >= 2)


def mapcache(g):
    """query-xen-mapcache, or {} where the device model has none (7.2)."""
    try:
        return g.qmp.run("query-xen-mapcache")
    except RuntimeError:
        return {}


def report(stats):
    """The figures make run prints: rates over the I/O phases."""
    if "io_secs" not in stats:
        return
    secs = stats["io_secs"] or 1e-9
    ios = stats["ios"] or 1
    line = ("figures: io_secs=%.1f iops=%.0f mbps=%.2f fmem_maps_per_kio=%.1f "
            "fmem_unmaps_per_kio=%.1f" % (
                secs, stats["ios"] / secs,
                (stats["bytes_read"] + stats["bytes_written"]) / secs / 1e6,
                stats.get("fmem_maps", 0) * 1000.0 / ios,
                stats.get("fmem_unmaps", 0) * 1000.0 / ios))
    mc, mc0 = stats.get("mc"), stats.get("mc0")
    if mc:
        hits = mc["hits"] - mc0["hits"]
        misses = mc["misses"] - mc0["misses"]
        line += (" mc_hits=%d mc_misses=%d mc_hit_rate=%.4f mc_entries=%d "
                 "mc_locked=%d mc_locked_before=%d mc_doomed=%d mc_doomed_before=%d" % (
                     hits, misses, hits / max(hits + misses, 1),
                     mc["entries"], mc["locked"], mc0["locked"],
                     mc.get("doomed", 0), mc0.get("doomed", 0)))
    print(line, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sim")
    ap.add_argument("qemu")
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--seed", type=int, default=35)
    ap.add_argument("--throttle-iops", type=int, default=10, metavar="N",
                    help="QMP I/O limit per disk (0: none): without one "
                    "QEMU completes a port's 32 commands before the guest's "
                    "next register read, so no depth could be seen")
    ap.add_argument("--throttled-batches", type=int, metavar="K",
                    help="throttle only the first K batches (default: "
                    "all); the others run at full speed")
    ap.add_argument("--no-overlap", action="store_true",
                    help="skip the 2017 bug report's overlap phase")
    ap.add_argument("--no-pio-chain", action="store_true",
                    help="skip the 4 MiB PIO command polled from the vCPU")
    ap.add_argument("--zero-disk", type=int, metavar="N",
                    help="zero disk N's image while still expecting its "
                    "pattern: the verifier must report it (a self-test)")
    opts = ap.parse_args()
    rng = random.Random(opts.seed)
    stats = dict(ios=0, bytes_read=0, bytes_written=0, verified=0,
                 max_inflight=0, max_port_depth=0, irqs=0, overlap="-")
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="q35-workload.") as tmp:
        imgs = [os.path.join(tmp, "disk%d.img" % p) for p in range(PORTS)]
        args = ["-machine", "q35,accel=xen"]
        for p, path in enumerate(imgs):
            mkimage(path, p)
            if opts.zero_disk == p:
                with open(path, "r+b") as f:
                    f.write(bytes(DISK_SECTORS * SECTOR))
            args += ["-drive", "file=%s,if=none,id=ahcidisk-%d,format=raw,"
                     "cache=writeback" % (path, p),
                     "-device", "ide-hd,bus=ide.%d,unit=0,drive=ahcidisk-%d"
                     % (p, p)]
        g = xensim.Guest(opts.sim, opts.qemu, args, memory=512, domid=35,
                         vcpus=2, vga="std")
        try:
            if not g.ok:
                print(g.launch_log[-3000:])
                why = [l.split("FAILED: ", 1)[1] for l in
                       g.launch_log.splitlines() if "FAILED: " in l]
                print("phase start: FAIL (the device model did not start%s)"
                      % (": " + why[0] if why else ""))
                return 1
            print("phase start: ok (libxl argv + -machine q35,accel=xen, "
                  "6 AHCI disks)", flush=True)
            fw = Firmware(g.ctl)
            found, placed = fw.run()
            abar = [a for d, f, b, k, a, s in placed
                    if (d, f, b) == (AHCI_DEV, AHCI_FN, 5)]
            print("phase firmware: ok (%d functions, %d BARs placed; "
                  "PCIEXBAR %#x; PMBASE %#x, SCI_EN set; PIRQ "
                  "A-H -> %s)" % (len(found), len(placed), ECAM, PMBASE,
                                  PIRQ_ISA), flush=True)
            if opts.throttle_iops:
                for p in range(PORTS):
                    g.qmp.run("block_set_io_throttle",
                              device="ahcidisk-%d" % p, bps=0, bps_rd=0,
                              bps_wr=0, iops=opts.throttle_iops, iops_rd=0,
                              iops_wr=0)
            hba = Hba(g.ctl, abar[0])
            hba.init()
            disks = [Disk(p) for p in range(PORTS)]
            for p in range(PORTS):
                sectors, ncq, depth = hba.identify(p)
                if (sectors, ncq, depth) != (DISK_SECTORS, True, 32):
                    error("port %d IDENTIFY: %d sectors, NCQ %s, depth %d"
                          % (p, sectors, ncq, depth))
            print("phase init: %s (6 ports up, IDENTIFY: %d sectors, NCQ "
                  "depth 32 each)" % ("ok" if not ERRORS else "FAIL",
                                      DISK_SECTORS), flush=True)
            c = g.ctl
            hv0 = counters(c)
            mc0 = mapcache(g)
            t_io = time.time()
            throttled = opts.throttle_iops > 0
            for b in range(opts.batches):
                if throttled and b == opts.throttled_batches:
                    throttled = unthrottle(g)
                ncq_batch(g, hba, disks, rng, stats)
                print("progress: batch %d/%d ios=%d errors=%d" %
                      (b + 1, opts.batches, stats["ios"], len(ERRORS)),
                      flush=True)
            print("phase ncq: %s (%d I/Os, %d sectors verified, %d "
                  "errors)" % ("ok" if not ERRORS else "FAIL", stats["ios"],
                               stats["verified"], len(ERRORS)), flush=True)
            if not opts.no_overlap:
                if throttled:
                    throttled = unthrottle(g)
                n_err = len(ERRORS)
                try:
                    phase_overlap(g, hba, disks, stats)
                except Exception:
                    print("phase overlap: FAIL (the device stopped "
                          "answering)", flush=True)
                    raise
                print("phase overlap: %s (A/B/C of the 2017 report on port "
                      "0, index %#x; B and C in flight at the CPU access: "
                      "%s)" % ("ok" if len(ERRORS) == n_err else "FAIL",
                               HOT >> 20, stats["overlap"]), flush=True)
            if not opts.no_pio_chain:
                if throttled:
                    throttled = unthrottle(g)
                n_err = len(ERRORS)
                polls = phase_pio_chain(g, hba, disks, stats)
                print("phase pio-chain: %s (READ SECTORS EXT of %d sectors "
                      "on port 2, data verified; %d PxCI reads served while "
                      "it ran)" % ("ok" if len(ERRORS) == n_err else "FAIL",
                                   PIO_CHAIN_SECTORS, polls), flush=True)
            stats["io_secs"] = time.time() - t_io
            hv = counters(c)
            for k in ("fmem_maps", "fmem_unmaps"):
                stats[k] = int(hv.get(k, "0"), 0) - int(hv0.get(k, "0"), 0)
            mc = mapcache(g)
            if mc and mc0:
                stats["mc"] = mc
                stats["mc0"] = mc0
        except Exception as e:  # pylint: disable=broad-except
            error("%s: %s" % (type(e).__name__, e))
            hv = {}
        finally:
            log = g.log()
            pid = g.env.get("XENSIM_QEMU_PID")
            if pid and not os.path.exists("/proc/%s/status" % pid) or \
                    pid and "State:\tZ" in open("/proc/%s/status" % pid).read():
                last = [l for l in log.splitlines() if l.strip()][-3:]
                error("the device model has exited; its log ends: %s" %
                      " | ".join(last))
            g.stop()
        if g.ok and "disks" in locals():
            bad = check_images(imgs, disks)
            print("phase image: %s (%d sectors on 6 disks checked, %d "
                  "differ)" % ("ok" if not bad else "FAIL",
                               PORTS * DISK_SECTORS, bad), flush=True)
    if "DM BUG" in log or int(hv.get("dm_bugs", "0"), 0):
        error("the hv reported a device model bug")
    if stats.get("mc") and stats["mc"]["locked"] != stats["mc0"]["locked"]:
        error("map cache: %d locked entries at the end, %d before the I/O" %
              (stats["mc"]["locked"], stats["mc0"]["locked"]))
    ok = not ERRORS and stats["ios"] > 0
    report(stats)
    print("summary: ios=%d bytes_read=%d bytes_written=%d verified=%d "
          "max_port_depth=%d max_inflight=%d errors=%d irqs=%d overlap=%s "
          "ioreq_timeouts=%s dm_bugs=%s "
          "secs=%.1f result=%s" % (
              stats["ios"], stats["bytes_read"], stats["bytes_written"],
              stats["verified"], stats["max_port_depth"],
              stats["max_inflight"], len(ERRORS),
              stats["irqs"], stats["overlap"], hv.get("ioreq_timeouts", "?"),
              hv.get("dm_bugs", "?"), time.time() - t0,
              "PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
