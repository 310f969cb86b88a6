#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The ioreq paths against real devices, on xensim.

One device model per binary, started like libxl does (build/xensim/run
--keep, std VGA, 4 vCPUs); the guest side is the hv control socket:
  - PIO 1/2/4 (the Xen platform device's magic, CMOS RAM through the RTC);
  - rep outs/ins with and without df (data_is_ptr through the map cache);
  - MMIO 1/2/4/8 into the VGA window (chain-4 mode: plain memory), rep
    stos, rep movs both ways and with df;
  - PCI config: vendor/device of every function on bus 0 through CF8/CFC
    and through direct PCI_CONFIG ioreqs, a BAR written and read back, a
    data_is_ptr config read, registers past 255 of a conventional
    function reading all-ones;
  - the buffered ring wrapped several times with 4- and 8-byte entries
    (8-byte pairs straddling the ring's end), every value read back;
  - map cache invalidations from one vCPU while another does rep ins
    into guest RAM;
  - 4 vCPUs at once, each with its own MMIO and PIO traffic;
and at the end no device-model bug reported by the hv.

usage: e2e-ioreq.py BUILD_XENSIM_DIR NAME=QEMU [NAME=QEMU...]
A NAME starting with "stock" records failures as SKIP.  TAP on stdout.
"""
import shlex
import socket
import subprocess
import sys
import threading

GPA = 0x200000
VGA = 0xa0000
n = 0
PIO, COPY, PCI_CONFIG = 0, 1, 2
READ, PTR, DF = 1, 2, 4


class Control:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(60)
        self.s.connect(path)
        self.f = self.s.makefile("rw")

    def cmd(self, line):
        self.f.write(line + "\n")
        self.f.flush()
        extra = []
        while True:
            r = self.f.readline()
            if not r:
                return "err EOF", extra
            r = r.strip()
            if r.startswith("ok") or r.startswith("err"):
                return r, extra
            extra.append(r)

    def ok(self, line):
        r, _ = self.cmd(line)
        if not r.startswith("ok"):
            raise RuntimeError("%s: %s" % (line, r))
        return r

    def value(self, line):
        return int(self.ok(line).split()[1], 0)

    def mem(self, addr, length):
        return bytes.fromhex(self.ok("memread %#x %d" % (addr, length))[3:])


class Run:
    def __init__(self, label):
        self.label = label
        self.stock = label.startswith("stock")
        self.failed = 0

    def tap(self, ok, what, detail=""):
        global n
        n += 1
        what = "%s: %s" % (self.label, what)
        if not ok and detail:
            print("# " + detail)
        if not ok and self.stock:
            print("ok %d - %s # SKIP known stock 7.2 failure: %s"
                  % (n, what, what), flush=True)
        else:
            print("%sok %d - %s" % ("" if ok else "not ", n, what),
                  flush=True)
            self.failed += not ok

    def check(self, what, fn):
        try:
            ok, detail = fn()
        except (RuntimeError, OSError, ValueError) as e:
            ok, detail = False, str(e)
        self.tap(ok, what, detail)


def pio(c):
    r = []
    r.append(c.value("inw 0x10") == 0x49d2)
    c.ok("outb 0x70 0x40")
    c.ok("outb 0x71 0x5a")
    r.append(c.value("inb 0x71") == 0x5a)
    c.ok("outl 0xcf8 0x80000000")
    r.append(c.value("inl 0xcfc") == 0x12378086)
    r.append(c.value("inw 0xcfe") == 0x1237)
    return all(r), "PIO results %s" % r


def rep_pio(c):
    c.ok("memwrite %#x 11223344" % GPA)
    c.ok("outb 0x70 0x41")
    c.ok("outsb 0x71 %#x 4" % GPA)          # up: the last one is 0x44
    up = c.value("inb 0x71")
    c.ok("rawioreq 0 %d 0x71 %#x 1 4 %d" % (PIO, GPA + 3, PTR | DF))
    down = c.value("inb 0x71")              # down: the last one is 0x11
    c.ok("memset %#x 8 0xee" % (GPA + 0x100))
    c.ok("outb 0x70 0x42")
    c.ok("outb 0x71 0x77")
    c.ok("rawioreq 0 %d 0x71 %#x 1 4 %d" % (PIO, GPA + 0x104,
                                            READ | PTR | DF))
    got = c.mem(GPA + 0x100, 8)
    ok = up == 0x44 and down == 0x11 and got == bytes.fromhex(
        "ee77777777eeeeee")
    return ok, "outs up %#x down %#x, ins df %s" % (up, down, got.hex())


def vga_linear(c):
    # sequencer: all planes writable, chain-4: the window is plain memory
    c.ok("outb 0x3c4 2")
    c.ok("outb 0x3c5 0x0f")
    c.ok("outb 0x3c4 4")
    c.ok("outb 0x3c5 0x08")


def mmio(c):
    vga_linear(c)
    r = []
    for size, letter, v in ((1, "b", 0x5a), (2, "w", 0xbeef),
                            (4, "l", 0x11223344),
                            (8, "q", 0x0102030405060708)):
        a = VGA + 0x10 * size
        c.ok("write%s %#x %#x" % (letter, a, v))
        r.append(c.value("read%s %#x" % (letter, a)) == v)
    return all(r), "MMIO 1/2/4/8 %s" % r


def rep_mmio(c):
    vga_linear(c)
    # rep stos: one value 4 times
    c.ok("rawioreq 0 %d %#x 0xcafef00d 4 4 0" % (COPY, VGA + 0x100))
    stos = [c.value("readl %#x" % (VGA + 0x100 + 4 * i)) for i in range(4)]
    # rep movs RAM -> MMIO -> RAM
    c.ok("memwrite %#x 0011223344556677" % GPA)
    c.ok("copytol %#x %#x 2" % (VGA + 0x200, GPA))
    c.ok("memset %#x 8 0" % (GPA + 0x40))
    c.ok("copyfroml %#x %#x 2" % (VGA + 0x200, GPA + 0x40))
    movs = c.mem(GPA + 0x40, 8)
    # rep movs with df, 2 dwords ending at the given addresses
    c.ok("memset %#x 8 0" % (GPA + 0x80))
    c.ok("rawioreq 0 %d %#x %#x 4 2 %d" % (COPY, VGA + 0x204, GPA + 0x84,
                                           READ | PTR | DF))
    movs_df = c.mem(GPA + 0x80, 8)
    ok = (stos == [0xcafef00d] * 4 and movs.hex() == "0011223344556677" and
          movs_df.hex() == "0011223344556677")
    return ok, "stos %s movs %s df %s" % ([hex(x) for x in stos],
                                          movs.hex(), movs_df.hex())


def bus0(c):
    found = {}
    for dev in range(32):
        c.ok("outl 0xcf8 %#x" % (0x80000000 | dev << 11))
        ids = c.value("inl 0xcfc")
        if ids != 0xffffffff:
            found[dev] = ids
    return found


def pci_config(c):
    found = bus0(c)
    direct = {d: c.value("rawioreq 0 %d %#x 0 4 1 %d" % (
        PCI_CONFIG, (d << 3) << 32, READ)) for d in found}
    # the VGA's BAR0 (std VGA: 16 MiB prefetchable memory)
    vga = [d for d, v in found.items() if v == 0x11111234]
    ok_bar = False
    if vga:
        sbdf = (vga[0] << 3) << 32
        c.ok("rawioreq 0 %d %#x 0xf0000000 4 1 0" % (PCI_CONFIG, sbdf | 0x10))
        bar = c.value("rawioreq 0 %d %#x 0 4 1 %d" % (PCI_CONFIG,
                                                       sbdf | 0x10, READ))
        ok_bar = bar & 0xfffffff0 == 0xf0000000
        c.ok("rawioreq 0 %d %#x 0 4 1 0" % (PCI_CONFIG, sbdf | 0x10))
    c.ok("memset %#x 4 0" % GPA)
    c.ok("rawioreq 0 %d 0 %#x 4 1 %d" % (PCI_CONFIG, GPA, READ | PTR))
    ptr = int.from_bytes(c.mem(GPA, 4), "little")
    high = c.value("rawioreq 0 %d 0x100 0 4 1 %d" % (PCI_CONFIG, READ))
    ok = (direct == found and len(found) >= 4 and ok_bar and
          ptr == found.get(0) and high == 0xffffffff)
    return ok, ("cf8 %s direct %s bar %s ptr %#x reg 0x100 %#x" %
                ({d: hex(v) for d, v in found.items()},
                 {d: hex(v) for d, v in direct.items()}, ok_bar, ptr, high))


def buffered_wrap(c):
    vga_linear(c)
    want = {}
    for i in range(700):                    # ~1050 slots: two wraps
        size = 8 if i % 3 else 4
        a = VGA + 0x1000 + 8 * i
        v = (0x1000000000 * i + 0x0101 * i + 7) & ((1 << (8 * size)) - 1)
        c.ok("bufwrite %#x %d %#x" % (a, size, v))
        want[a] = (size, v)
    bad = []
    for a, (size, v) in want.items():
        got = c.value("read%s %#x" % ("q" if size == 8 else "l", a))
        if got != v:
            bad.append("%#x: %#x != %#x" % (a, got, v))
    return not bad, "; ".join(bad[:4])


def invalidate_under_rep(c, ctl_path):
    errors = []
    c.ok("outb 0x70 0x43")
    c.ok("outb 0x71 0x3c")

    def reps():
        try:
            r = Control(ctl_path)
            r.ok("cpu 1")
            for i in range(150):
                r.ok("insb 0x71 %#x 4096" % (GPA + 0x10000 * (i % 8)))
        except (RuntimeError, OSError) as e:
            errors.append(str(e))

    t = threading.Thread(target=reps)
    t.start()
    inv = 0
    while t.is_alive():
        c.ok("invalidate")
        inv += 1
    t.join()
    data = c.mem(GPA + 0x70000, 4096)
    ok = not errors and data == b"\x3c" * 4096
    return ok, "invalidations %d errors %s data ok %s" % (
        inv, errors[:2], data == b"\x3c" * 4096)


def four_vcpus(c, ctl_path):
    vga_linear(c)
    errors = []

    def worker(cpu):
        try:
            w = Control(ctl_path)
            w.ok("cpu %d" % cpu)
            for i in range(300):
                a = VGA + 0x8000 + 0x100 * cpu + 4 * (i % 32)
                v = cpu << 24 | i
                w.ok("writel %#x %#x" % (a, v))
                if w.value("readl %#x" % a) != v:
                    errors.append("cpu %d mmio %d" % (cpu, i))
                if w.value("inw 0x10") != 0x49d2:
                    errors.append("cpu %d pio %d" % (cpu, i))
        except (RuntimeError, OSError) as e:
            errors.append("cpu %d: %s" % (cpu, e))

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return not errors, "; ".join(errors[:4])


def run(sim, label, qemu):
    r = Run(label)
    p = subprocess.run([sim + "/run", "--keep", "--vga", "std", "--vcpus",
                        "4", "--", qemu], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=120)
    if p.returncode:
        r.tap(False, "starts on xensim", p.stderr[-300:])
        return r.failed
    env = dict(t.partition("=")[::2] for t in shlex.split(p.stdout))
    try:
        c = Control(env["XENSIM_CONTROL"])
        ctl = env["XENSIM_CONTROL"]
        r.check("PIO 1, 2, 4 bytes (platform magic, CMOS RAM, CF8/CFC)",
                lambda: pio(c))
        r.check("rep outsb/insb with and without df through the map cache",
                lambda: rep_pio(c))
        r.check("MMIO 1, 2, 4, 8 bytes (VGA window)", lambda: mmio(c))
        r.check("rep stos, rep movs both ways and with df",
                lambda: rep_mmio(c))
        r.check("PCI config of every function (CF8/CFC and PCI_CONFIG), "
                "BAR read-back, data_is_ptr, registers past 255",
                lambda: pci_config(c))
        r.check("buffered ring wrapped with 4- and 8-byte entries",
                lambda: buffered_wrap(c))
        r.check("map cache invalidations while another vCPU does rep ins",
                lambda: invalidate_under_rep(c, ctl))
        r.check("4 vCPUs at once", lambda: four_vcpus(c, ctl))
        _, lines = c.cmd("counters")
        bugs = [l for l in lines if l.startswith("dm_bugs ")]
        timeouts = [l for l in lines if l.startswith("ioreq_timeouts ")]
        r.tap(bugs == ["dm_bugs 0"] and timeouts == ["ioreq_timeouts 0"],
              "no device-model bug, no ioreq timeout", "%s %s"
              % (bugs, timeouts))
    finally:
        subprocess.run(shlex.split(env["XENSIM_STOP"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=120)
    return r.failed


def main():
    sim = sys.argv[1]
    failed = 0
    for arg in sys.argv[2:]:
        label, qemu = arg.split("=", 1)
        failed += run(sim, label, qemu)
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
