#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Q35 Xen guests on xensim, end to end, through the interfaces a guest
and libxl use: the launcher's libxl argv (build/xensim/run), the vCPU
(hv control socket: port I/O, MMIO, raw ioreqs) and QMP.

What it checks, per start form of the machine:
  * libxl's "-machine xenfv,suppress-vmdesc=on" followed by
    device_model_args_hvm ["-machine", "q35,accel=xen"], the same with
    "-machine q35 -accel xen", and ["-machine", "xenfv-q35"]: the device
    model reaches running, bus 0 holds the MCH, the ICH9 LPC and AHCI and
    the Xen platform device, and suppress-vmdesc is still on;
    xen-platform=off leaves the platform device out;
  * RAM: QEMU's layout is Xen's (below 4G up to 0xF0000000, the rest at
    4G; max-ram-below-4g as libxl passes it), no QEMU RAM of its own;
  * PCIe config: the ECAM window where the guest's PCIEXBAR puts it,
    served as MMIO, with the 4 KiB space of a PCIe function; PCI_CONFIG
    ioreqs with register numbers above 255 (raw ioreqs, as Xen sends for
    AMD CF8 extended access);
  * INTx: an e1000's interrupt (ICS/ICR) reaches Xen's IOAPIC by device
    and pin, and in PIC mode the ISA IRQ of each of the eight PIRQ links
    A-H, as the guest programs D25IR and PIRQx_ROUT; rerouting an
    asserted line moves it; Xen's own four links are never set;
  * libxl's disk options: if=ide,index=0 on AHCI port 0, hdtype=ahci's
    second controller, a CD-ROM at an odd index refused with a hint
    naming the xl.cfg vdev; a PV driver's unplug of IDE disks takes the
    disk off ICH9's AHCI and keeps the CD-ROM.

TAP on stdout.  usage: e2e-q35.py BUILD_XENSIM_DIR QEMU [PART,...]
(parts: forms ram pcie intx disks; default all)
"""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "py"))
import xensim  # noqa: E402
from xensim import scan_bus0  # noqa: E402


def Guest(sim, qemu, args, memory=256, domid=21, vcpus=2, vga="std",
          **kw):
    """A Q35 test's device model: libxl's argv, by default for 2 vCPUs
    and std VGA."""
    return xensim.Guest(sim, qemu, args, memory=memory, domid=domid,
                        vcpus=vcpus, vga=vga, **kw)


n = 0
failed = 0


def tap(ok, what):
    global n, failed
    n += 1
    if not ok:
        failed += 1
    print("%sok %d - %s" % ("" if ok else "not ", n, what), flush=True)
    return ok


def note(text):
    for line in str(text).splitlines():
        print("# " + line)


MCH, LPC, AHCI, PLATFORM = 0x29c08086, 0x29188086, 0x29228086, 0x00015853


def check_board(tag, g, platform=True):
    found = scan_bus0(g.ctl)
    ids = set(found.values())
    tap(found.get((0, 0)) == MCH and found.get((31, 0)) == LPC and
        found.get((31, 2)) == AHCI,
        "%s: bus 0 has the Q35 MCH at 00.0, ICH9 LPC at 1f.0, AHCI at 1f.2"
        % tag)
    tap((PLATFORM in ids) == platform, "%s: Xen platform device %s" %
        (tag, "present" if platform else "absent (xen-platform=off)"))
    note(", ".join("%02x.%x=%04x:%04x" % (d, f, v & 0xffff, v >> 16)
                   for (d, f), v in sorted(found.items())))
    return found


def start_forms(sim, qemu):
    forms = [
        ("q35,accel=xen", ["-machine", "q35,accel=xen"], True),
        ("q35 -accel xen", ["-machine", "q35", "-accel", "xen"], True),
        ("xenfv-q35", ["-machine", "xenfv-q35"], True),
        ("q35,xen-platform=off", ["-machine", "q35,accel=xen,"
                                  "xen-platform=off"], False),
    ]
    for tag, args, platform in forms:
        g = Guest(sim, qemu, args)
        try:
            if not tap(g.ok, "%s: libxl argv + %s reaches running" %
                       (tag, " ".join(args))):
                note(g.launch_log[-3000:])
                continue
            check_board(tag, g, platform)
            mtype = g.qmp.run("qom-get", path="/machine", property="type")
            vmdesc = g.qmp.run("qom-get", path="/machine",
                               property="suppress-vmdesc")
            tap(vmdesc is True and "q35" in mtype,
                "%s: machine %s, suppress-vmdesc kept from libxl's -machine"
                % (tag, mtype))
            if tag == "q35,accel=xen":
                # hvmloader's ACPI enable (PIIX4's 0xf1 on APM_CNT) with
                # ICH9's SMI_EN.APMC_EN set at reset: no SMI under Xen
                g.ctl.cmd("outb 0xb2 0xf1")
                tap(g.ctl.cmd("ready")[0] == "ok 1" and
                    g.ctl.cfg_read(0, 0, 0) == MCH,
                    "%s: hvmloader's APM_CNT write 0xf1 leaves the device "
                    "model running" % tag)
        finally:
            g.stop()


def mtree_line(mtree, name):
    for line in mtree.splitlines():
        if ("alias " + name + " ") in line or ("alias " + name + "@") in line:
            return line.strip()
    return None


def ram_layout(sim, qemu):
    for memory, opt, lo_end, hi in (
            (4096, "", 0xefffffff, (0x100000000, 0x10fffffff)),
            (3072, ",max-ram-below-4g=2G", 0x7fffffff,
             (0x100000000, 0x13fffffff)),
            (256, "", 0x0fffffff, None)):
        g = Guest(sim, qemu, ["-machine", "q35,accel=xen" + opt],
                  memory=memory, domid=22, vga="none")
        tag = "RAM %d MiB%s" % (memory, opt)
        try:
            if not tap(g.ok, "%s: reaches running" % tag):
                note(g.launch_log[-3000:])
                continue
            mtree = g.qmp.hmp("info mtree")
            lo = mtree_line(mtree, "xen.ram.lo")
            hi_line = mtree_line(mtree, "xen.ram.hi")
            ok = lo is not None and lo.startswith(
                "00000000000c0000-%016x" % lo_end)
            if hi:
                ok = ok and hi_line is not None and hi_line.startswith(
                    "%016x-%016x" % hi)
            else:
                ok = ok and hi_line is None
            tap(ok, "%s: Xen's layout, below 4G to %#x%s" %
                (tag, lo_end + 1, ", above from 4G to %#x" % (hi[1] + 1)
                 if hi else ", nothing above"))
            note("%s | %s" % (lo, hi_line))
            tap("pc.ram" not in mtree and "pc.bios" not in mtree,
                "%s: no RAM or firmware of QEMU's own (pc.ram, pc.bios)"
                % tag)
        finally:
            g.stop()


ECAM = 0xe0000000
E1000E_SLOT, E1000_SLOT = 4, 0x19


def ecam(dev, fn, reg, bus=0):
    return ECAM + (bus << 20 | dev << 15 | fn << 12 | reg)


def pcie_config(sim, qemu):
    g = Guest(sim, qemu, ["-machine", "q35,accel=xen", "-device",
                          "e1000e,addr=%#x" % E1000E_SLOT], domid=23)
    try:
        if not tap(g.ok, "PCIe: q35 with an e1000e reaches running"):
            note(g.launch_log[-3000:])
            return
        c = g.ctl
        tap(c.value("readl %#x" % ECAM) == 0xffffffff,
            "PCIe: no ECAM window before the guest enables PCIEXBAR")
        # PCIEXBAR (MCH 0x60, 64 bits): base, length 256 MiB, enable
        c.cfg_write(0, 0, 0x64, 0)
        c.cfg_write(0, 0, 0x60, ECAM | 1)
        got = [c.value("readl %#x" % ecam(d, f, 0))
               for d, f in ((0, 0), (31, 0), (31, 2))]
        tap(got == [MCH, LPC, AHCI], "PCIe: ECAM at %#x (MMIO ioreqs) "
            "reads the MCH, LPC, AHCI IDs: %s" %
            (ECAM, " ".join("%08x" % v for v in got)))
        ext = c.value("readl %#x" % ecam(E1000E_SLOT, 0, 0x100))
        tap(ext not in (0, 0xffffffff) and ext & 0xffff == 1,
            "PCIe: ECAM reaches the e1000e's extended space "
            "(0x100: AER header %#x)" % ext)
        # A write through ECAM is seen through CF8/CFC
        c.do("writew %#x 0x0006" % ecam(E1000E_SLOT, 0, 4))
        tap(c.cfg_read(E1000E_SLOT, 0, 4, 2) & 0x7 == 0x6,
            "PCIe: a command register write through ECAM is seen at CFC")
        c.do("writew %#x 0x0000" % ecam(E1000E_SLOT, 0, 4))
        # PCI_CONFIG ioreqs with registers above 255 (Xen's AMD CF8
        # extended access; a Xen that decodes ECAM itself)
        sbdf = E1000E_SLOT << 3
        for reg in (0x100, 0x140):
            want = c.value("readl %#x" % ecam(E1000E_SLOT, 0, reg))
            got = c.value("rawioreq 0 2 %#x 0 4 1 1" % (sbdf << 32 | reg))
            tap(got == want and want != 0xffffffff,
                "PCIe: PCI_CONFIG ioreq for register %#x answers %#x "
                "(ECAM: %#x)" % (reg, got, want))
        got = c.value("rawioreq 0 2 %#x 0 4 1 1" % (sbdf << 32 | 0x1000))
        tap(got == 0xffffffff, "PCIe: PCI_CONFIG register 0x1000 (beyond "
            "4 KiB) reads all-ones (%#x)" % got)
        c.cfg_write(0, 0, 0x60, ECAM)
        tap(c.value("readl %#x" % ECAM) == 0xffffffff,
            "PCIe: PCIEXBAR disabled again, the window is gone")
        tap("DM BUG" not in open(os.path.join(
            g.env["XENSIM_RUN_DIR"], "hv.log"), errors="replace").read(),
            "PCIe: no DM BUG reported by the hv")
    finally:
        g.stop()


# ICH9 registers the guest programs (firmware's and the OS's job)
LPC_PIRQA_ROUT, LPC_PIRQE_ROUT, LPC_RCBA = 0x60, 0x68, 0xf0
RCBA = 0xfed1c000
D25IR = 0x3150
E1000_BAR = 0xf2000000
E1000_ICR, E1000_ICS, E1000_IMS = 0xc0, 0xc8, 0xd0
ISA_FOR_PIRQ = [3, 4, 5, 6, 7, 10, 11, 15]


def xen_intx_gsi(dev, intx):
    """Xen's hvm_pci_intx_gsi()."""
    return ((dev << 2) + (dev >> 3) + intx) % 32 + 16


def pirq_rout_reg(pirq):
    return (LPC_PIRQA_ROUT + pirq if pirq < 4
            else LPC_PIRQE_ROUT + pirq - 4)


def intx_routing(sim, qemu):
    g = Guest(sim, qemu, ["-machine", "q35,accel=xen", "-device",
                          "e1000,addr=%#x" % E1000_SLOT], domid=24)
    try:
        if not tap(g.ok, "INTx: q35 with an e1000 at slot 25 reaches "
                   "running"):
            note(g.launch_log[-3000:])
            return
        c = g.ctl
        gsi = xen_intx_gsi(E1000_SLOT, 0)
        # firmware: BAR0, memory decoding; chipset config at RCBA
        c.cfg_write(E1000_SLOT, 0, 0x10, E1000_BAR)
        c.cfg_write(E1000_SLOT, 0, 4, 0x2, 2)
        c.cfg_write(31, 0, LPC_RCBA, RCBA | 1)
        for p in range(8):
            c.cfg_write(31, 0, pirq_rout_reg(p), 0x80, 1)
        c.do("writel %#x 0x4" % (E1000_BAR + E1000_IMS))

        def assert_intx(isa):
            # e1000's interrupt mitigation (on for 7.2 machines) holds a
            # cause set within 128 us of virtual time of the last raise
            # until its timer runs in QEMU's main loop: wait for the GSI,
            # as a guest waits for its interrupt, instead of reading the
            # level at once (under load that read came before the timer).
            # QEMU sets the GSI and then the routed ISA IRQ, two DMOPs:
            # wait for both, or a read between them sees the ISA IRQ low.
            c.do("writel %#x 0x4" % (E1000_BAR + E1000_ICS))
            end = time.monotonic() + 2
            while ((c.irq(gsi), c.irq(isa)) != (1, 1) and
                   time.monotonic() < end):
                time.sleep(0.005)

        def deassert_intx():
            c.value("readl %#x" % (E1000_BAR + E1000_ICR))

        def isa_levels():
            return {i: c.irq(i) for i in set(ISA_FOR_PIRQ)}

        for pirq in range(8):
            name = "ABCDEFGH"[pirq]
            isa = ISA_FOR_PIRQ[pirq]
            # D25IR: slot 25's INTA -> PIRQ pirq; PIRQx_ROUT -> ISA IRQ
            c.do("writew %#x %#x" % (RCBA + D25IR, 0x3210 & ~7 | pirq))
            c.cfg_write(31, 0, pirq_rout_reg(pirq), isa, 1)
            assert_intx(isa)
            up, lv = c.irq(gsi), isa_levels()
            deassert_intx()
            down, lv2 = c.irq(gsi), isa_levels()
            others = [i for i, v in lv.items() if v and i != isa]
            tap(up == 1 and lv[isa] == 1 and not others and down == 0 and
                not any(lv2.values()),
                "INTx: PIRQ%s -> IRQ %d: e1000 INTA raises Xen GSI %d and "
                "ISA IRQ %d only, and lowers both (%s)" %
                (name, isa, gsi, isa, "up %d/%s down %d/%s" %
                 (up, lv, down, lv2)))
            c.cfg_write(31, 0, pirq_rout_reg(pirq), 0x80, 1)
        # reroute while asserted: PIRQE from IRQ 10 to 11, then disabled
        c.do("writew %#x %#x" % (RCBA + D25IR, 0x3214))
        c.cfg_write(31, 0, pirq_rout_reg(4), 10, 1)
        assert_intx(10)
        a = (c.irq(10), c.irq(11))
        c.cfg_write(31, 0, pirq_rout_reg(4), 11, 1)
        b = (c.irq(10), c.irq(11))
        c.cfg_write(31, 0, pirq_rout_reg(4), 0x80, 1)
        d = (c.irq(10), c.irq(11), c.irq(gsi))
        tap(a == (1, 0) and b == (0, 1) and d == (0, 0, 1),
            "INTx: an asserted PIRQ moves from IRQ 10 to 11, then is "
            "disabled; the GSI stays up (%s %s %s)" % (a, b, d))
        # D25IR rerouted while asserted: PIRQE (IRQ 10) -> PIRQF (IRQ 11)
        c.cfg_write(31, 0, pirq_rout_reg(4), 10, 1)
        c.cfg_write(31, 0, pirq_rout_reg(5), 11, 1)
        e = (c.irq(10), c.irq(11))
        c.do("writew %#x %#x" % (RCBA + D25IR, 0x3215))
        f = (c.irq(10), c.irq(11))
        deassert_intx()
        tap(e == (1, 0) and f == (0, 1) and c.irq(11) == 0,
            "INTx: D25IR rerouted while asserted moves the level from "
            "PIRQE's IRQ to PIRQF's (%s %s)" % (e, f))
        routes = c.link_routes()
        tap(all(w == "0" or w == "0x0" for l in routes
                for w in l.split()[1:]) or not routes,
            "INTx: Xen's own PCI links never set (%s)" % "; ".join(routes))
    finally:
        g.stop()


def disks(sim, qemu, img):
    abar = 0xf1000000

    def port_present(c, dev, fn, port):
        c.cfg_write(dev, fn, 0x24, abar)
        c.cfg_write(dev, fn, 4, 0x6, 2)
        det = c.value("readl %#x" % (abar + 0x100 + port * 0x80 + 0x28)) & 0xf
        c.cfg_write(dev, fn, 4, 0, 2)
        return det == 3

    g = Guest(sim, qemu, ["-machine", "q35,accel=xen"], domid=25,
              disk=img, hdtype="ide")
    try:
        if tap(g.ok, "disks: libxl's if=ide,index=0 disk on q35 starts"):
            tap(port_present(g.ctl, 31, 2, 0) and not port_present(
                g.ctl, 31, 2, 1), "disks: if=ide,index=0 is ICH9 AHCI port 0")
        else:
            note(g.launch_log[-3000:])
    finally:
        g.stop()
    g = Guest(sim, qemu, ["-machine", "q35,accel=xen"], domid=26,
              disk=img, hdtype="ahci")
    try:
        if tap(g.ok, "disks: hdtype=ahci on q35 starts"):
            found = scan_bus0(g.ctl)
            extra = [d for (d, f), v in found.items()
                     if v == AHCI and (d, f) != (31, 2)]
            tap(len(extra) == 1 and port_present(g.ctl, extra[0], 0, 0) and
                not port_present(g.ctl, 31, 2, 0),
                "disks: hdtype=ahci adds a second AHCI (ahci0, slot %s) "
                "holding the disk; the built-in one stays empty" % extra)
        else:
            note(g.launch_log[-3000:])
    finally:
        g.stop()
    unplug_on_ich9_ahci(sim, qemu, img)
    # a CD-ROM at hdb (index 1) as libxl emits it
    cd = ["-drive", "if=none,readonly=on,id=ide-832", "-device",
          "ide-cd,id=ide-832,drive=ide-832,bus=ide.0,unit=1"]
    g = Guest(sim, qemu, ["-machine", "q35,accel=xen"] + cd, domid=27)
    try:
        text = g.launch_log + g.log()
        tap(not g.ok and "Can't create IDE unit 1" in text and
            "vdev=hdc" in text and "xl.cfg" in text,
            "disks: a CD-ROM at hdb (unit 1) fails with a hint naming "
            "xl.cfg's vdev=hdc")
        note("\n".join(l for l in text.splitlines() if "IDE" in l or
                       "xl.cfg" in l or "vdev" in l)[:1500])
    finally:
        g.stop()


def unplug_on_ich9_ahci(sim, qemu, img):
    """A PV driver's unplug (port 0x10, UNPLUG_ALL_IDE_DISKS) takes the
    disk off ICH9's AHCI port 0 and keeps the CD-ROM at hdc (port 2)."""
    cdimg = img + ".cd"
    with open(cdimg, "wb") as f:
        f.truncate(4 << 20)
    cd = ["-drive", "if=none,readonly=on,id=ide-5632,format=raw,file=" +
          cdimg, "-device", "ide-cd,id=ide-5632,drive=ide-5632,bus=ide.2"]
    g = Guest(sim, qemu, ["-machine", "q35,accel=xen"] + cd, domid=28,
              disk=img, hdtype="ide")

    def drives():
        return sorted(b.get("qdev") or b["device"]
                      for b in g.qmp.run("query-block"))
    try:
        if not tap(g.ok, "unplug: q35 with a disk at hda and a CD at hdc "
                   "starts"):
            note(g.launch_log[-3000:])
            return
        before = drives()
        g.ctl.do("outw 0x10 0x1")
        after = drives()
        for _ in range(50):
            if len(after) < len(before):
                break
            subprocess.run(["sleep", "0.1"], check=False)
            after = drives()
        tap(len(before) == 2 and after == ["ide-5632"],
            "unplug: the ICH9 AHCI disk is gone, the CD-ROM stays "
            "(%s -> %s)" % (before, after))
        tap(g.ctl.value("inw 0x10") == 0x49d2 and
            g.qmp.run("query-status")["status"] == "running",
            "unplug: the platform device still answers, QEMU runs")
    finally:
        g.stop()


def main():
    sim, qemu = sys.argv[1], sys.argv[2]
    only = sys.argv[3].split(",") if len(sys.argv) > 3 else None
    parts = [("forms", start_forms), ("ram", ram_layout),
             ("pcie", pcie_config), ("intx", intx_routing)]
    for name, fn in parts:
        if only is None or name in only:
            try:
                fn(sim, qemu)
            except Exception as e:  # pylint: disable=broad-except
                tap(False, "%s: unexpected %s: %s" %
                    (name, type(e).__name__, e))
    if only is None or "disks" in only:
        with tempfile.TemporaryDirectory() as d:
            img = os.path.join(d, "disk.img")
            with open(img, "wb") as f:
                f.truncate(16 << 20)
            try:
                disks(sim, qemu, img)
            except Exception as e:  # pylint: disable=broad-except
                tap(False, "disks: unexpected %s: %s" %
                    (type(e).__name__, e))
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
