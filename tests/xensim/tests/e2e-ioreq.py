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
  - on a Q35 guest (PCIe root bus, so extended config space is
    reachable), registers past 255 of its conventional functions read
    all-ones through PCI_CONFIG ioreqs, and QEMU goes on;
  - the buffered ring wrapped several times with 4- and 8-byte entries
    (8-byte pairs straddling the ring's end), every value read back;
  - buffered writes, then at once a synchronous read of the same
    address: the read sees the last write (Xen's ordering), 100 times;
  - map cache invalidations from one vCPU while another does rep ins
    into guest RAM;
  - 4 vCPUs at once, each with its own MMIO and PIO traffic;
  - the same 4 vCPUs (PIO, PCI_CONFIG, buffered writes) while QMP stops
    and continues the VM, resets it and reads query-xen-ioreq, over and
    over: every access answered (served, or all-ones while the server is
    disabled), the server serving again after the last cont;
  - a request in each of the 4 vCPUs' slots at once, each answered in
    its own slot and notified on its own vCPU's port;
  - Xen's internal devices answered by the hv without an ioreq, CMOS
    RAM, PM1a_CNT and 0xe9 reads still sent to QEMU;
  - query-xen-ioreq (and HMP info xen-ioreq) counting all of it;
and at the end no device-model bug reported by the hv.

usage: e2e-ioreq.py [--only REGEX] BUILD_XENSIM_DIR NAME=QEMU [NAME=QEMU...]
(--only: the checks whose name REGEX matches, then the device-model bug
check)
A NAME starting with "stock" records failures as SKIP.  A NAME
"mutant-M" runs QEMU as mutant M of tests/mutant-dm.c (XENSIM_MUTANT=M,
built as build/xensim/tests/libxensim-mutant-dm.so) and passes only if
the checks guarding against that bug fail on it.  TAP on stdout.
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "py"))
from xensim import Control, Failure, Guest, Qmp, e2e_main, pci_scan  # noqa: E402

GPA = 0x200000
VGA = 0xa0000
PIO, COPY, PCI_CONFIG = 0, 1, 2
READ, PTR, DF = 1, 2, 4


class Run:
    """One binary's checks; a label starting with "stock" is Debian's
    7.2, whose failures are known SKIPs."""

    def __init__(self, tap, label):
        self.t = tap
        self.label = label
        self.stock = label.startswith("stock")

    def tap(self, ok, what, detail=""):
        self.t.check(ok, "%s: %s" % (self.label, what), detail, self.stock)

    def check(self, what, fn):
        if not self.t.wanted(what):
            return
        try:
            ok, detail = fn()
        except (Failure, OSError, ValueError, KeyError) as e:
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


def q35_conventional_past_255(sim, qemu, env=None):
    """A PCI_CONFIG read of register 0x100 and 0xffc of every function
    on a Q35 guest's bus 0 (all conventional: 256-byte config space)."""
    g = Guest(sim, qemu, vga="std", qmp=False, env=env,
              args=["-machine", "q35,accel=xen"])
    if not g.ok:
        return False, "Q35 guest does not start: %s" % g.launch_log[-200:]
    try:
        c, bad, seen = g.ctl, [], 0
        for dev, fn, _, _ in pci_scan(c):
            for reg in (0x100, 0xffc):
                reply, _ = c.cmd("rawioreq 0 %d %#x 0 4 1 %d" % (
                    PCI_CONFIG, (dev << 3 | fn) << 32 | reg, READ))
                seen += 1
                if reply != "ok 0xffffffff":
                    bad.append("%02x.%x reg %#x: %s" % (dev, fn, reg, reply))
        alive = c.value("inw 0x10") == 0x49d2
        return seen > 0 and not bad and alive, "%d reads, alive %s: %s" % (
            seen, alive, "; ".join(bad[:4]))
    finally:
        g.stop()


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


def pipelined(c, lines):
    """Send lines in one go, so that the hv runs them back to back (a few
    microseconds apart, not a socket round trip); their replies."""
    c.sock.sendall("".join(line + "\n" for line in lines).encode())
    return [c._line() for _ in lines]


def buffered_then_sync(c):
    vga_linear(c)
    a = VGA + 0x100
    stale = []
    for it in range(100):
        vals = [it << 16 | k for k in range(20)]
        replies = pipelined(c, ["bufwrite %#x 4 %#x" % (a, v) for v in vals] +
                            ["readl %#x" % a])
        if not all(r.startswith("ok") for r in replies):
            return False, "replies %s" % replies
        got = int(replies[-1].split()[1], 0)
        if got != vals[-1]:
            stale.append("%#x for %#x" % (got, vals[-1]))
    return not stale, "%d of 100 reads stale: %s" % (len(stale),
                                                     ", ".join(stale[:4]))


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
        except (Failure, OSError) as e:
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
        except (Failure, OSError) as e:
            errors.append("cpu %d: %s" % (cpu, e))

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return not errors, "; ".join(errors[:4])


def lifecycle_under_load(c, ctl_path, qmp_path, secs=3.0):
    """4 vCPUs issue ioreqs while the main loop disables and enables the
    server (stop, cont), resets the machine (system_reset) and reports
    the counters the xen-ioreq thread writes (query-xen-ioreq)."""
    errors, served, refused = [], [0] * 4, [0] * 4
    stop = threading.Event()

    def worker(cpu):
        try:
            w = Control(ctl_path)
            w.ok("cpu %d" % cpu)
            i = 0
            while not stop.is_set():
                i += 1
                for line, want in (("inw 0x10", 0x49d2),
                                   ("rawioreq 0 %d 0 0 4 1 %d" %
                                    (PCI_CONFIG, READ), None)):
                    reply, _ = w.cmd(line)
                    if reply.startswith("err ENOENT"):
                        refused[cpu] += 1    # rawioreq: server disabled
                        continue
                    v = int(reply.split()[1], 0) if reply.startswith(
                        "ok ") else None
                    if v == want or (want is None and v is not None and
                                     v & 0xffff == 0x8086):
                        served[cpu] += 1
                    elif v in (0xffff, 0xffffffff):
                        refused[cpu] += 1    # unclaimed: server disabled
                    else:
                        errors.append("cpu %d: %s: %s" % (cpu, line, reply))
                w.ok("bufwrite %#x 4 %#x" % (VGA + 0x9000 + 4 * cpu, i))
        except (Failure, OSError) as e:
            errors.append("cpu %d: %s" % (cpu, e))

    q = Qmp(qmp_path, timeout=30)
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    rounds = 0
    # stock 7.2 has no query-xen-ioreq: query-status stands in for it
    query = ("query-xen-ioreq" if "error" not in q.command("query-xen-ioreq")
             else "query-status")
    try:
        for t in ts:
            t.start()
        end = time.monotonic() + secs
        while time.monotonic() < end and not errors:
            rounds += 1
            for cmd in ("stop", query, "cont", query) + (
                    ("system_reset",) if rounds % 4 == 0 else ()):
                r = q.command(cmd)
                if "error" in r:
                    errors.append("%s: %s" % (cmd, r["error"]))
            time.sleep(0.01)
    finally:
        stop.set()
        for t in ts:
            t.join()
        status = q.command("query-status").get("return", {})
        info = q.command("query-xen-ioreq").get("return", {})
        q.close()
    after = [c.value("inw 0x10")]
    if status.get("status") != "running" or (
            query == "query-xen-ioreq" and not info.get("serving")):
        errors.append("after: status %s, serving %s" %
                      (status.get("status"), info.get("serving")))
    if after != [0x49d2] or not all(served):
        errors.append("after: inw 0x10 = %s, served %s" % (after, served))
    detail = "%d rounds, served %s, refused %s, stale %s: %s" % (
        rounds, served, refused, info.get("stale"), "; ".join(errors[:4]))
    print("# stop/cont/reset under load: %s" % detail)
    return not errors, detail


def slot(c, cpu):
    """slotget of QEMU's server on cpu: {field: int}."""
    c.cpu(cpu)
    words, _ = c.do("slotget 0")
    return {k: int(v, 0) for k, _, v in (w.partition("=") for w in words)}


def own_ports(c, nr=4):
    """A PCI_CONFIG read of a different function in each vCPU's slot, all
    in flight at once (written, then every port raised, last vCPU
    first); each must be answered in its own slot and notified on its own
    vCPU's port, as Xen's wait_for_io() waits for (one port per vCPU)."""
    found = bus0(c)
    devs = sorted(found)[:nr]
    before = {}
    for cpu, dev in enumerate(devs):
        before[cpu] = slot(c, cpu)["notified"]
        for field, val in (("addr", (dev << 3) << 32), ("data", 0),
                           ("size", 4), ("count", 1), ("type", PCI_CONFIG),
                           ("ptr", 0), ("df", 0), ("dir", 1),
                           ("state", 1)):         # STATE_IOREQ_READY
            c.ok("slotset 0 %s %#x" % (field, val))
    for cpu in reversed(range(len(devs))):
        c.cpu(cpu)
        c.ok("notify 0")
    got = {}
    deadline = time.monotonic() + 10
    while len(got) < len(devs) and time.monotonic() < deadline:
        for cpu in range(len(devs)):
            sl = slot(c, cpu)
            if cpu not in got and sl["state"] == 3:   # IORESP_READY
                got[cpu] = sl
        time.sleep(0.02)
    time.sleep(0.2)     # a notify on a wrong port would be counted now
    result = []
    for cpu, dev in enumerate(devs):
        sl = slot(c, cpu)
        c.ok("slotset 0 state 0")               # as the vCPU takes it
        result.append((cpu, dev, cpu in got, sl["data"] & 0xffffffff ==
                       found[dev], sl["notified"] - before[cpu]))
    c.cpu(0)
    ok = len(devs) == nr and all(a and d and k == 1
                                 for _, _, a, d, k in result)
    return ok, "; ".join("vCPU %d dev %d: answered %s, data ok %s, %d "
                         "notifies on its port" % r for r in result)


# Accesses Xen 4.17 takes itself (xen/arch/x86/hvm: vpic, emul-i8254,
# rtc, pmtimer at hvmloader's 0xb000, vioapic, vlapic, hpet, the 0xe9
# console) and the neighbours it passes on to the device model.
XEN_OWN = ["inb 0x20", "inb 0x21", "inb 0xa0", "inb 0xa1", "inb 0x4d0",
           "inb 0x4d1", "outb 0x43 0", "inb 0x40", "inb 0x40", "inb 0x61",
           "outb 0x70 0", "inb 0x71", "outb 0x70 0x0a", "inb 0x71",
           "inw 0xb000", "inw 0xb002", "inl 0xb008", "outb 0xe9 0x41",
           "writel 0xfec00000 1", "readl 0xfec00010", "readl 0xfee00030",
           "readl 0xfed00000"]
DM_OWN = ["outb 0x70 0x40", "inb 0x71", "inw 0xb004", "inb 0xe9",
          "inl 0xb00c"]


def xen_internal(c):
    """Xen's own devices answer without an ioreq; the DM's neighbours
    still get one each; the models read what Xen's do."""
    def ioreqs():
        """(sent to an ioreq server or, unclaimed, Xen's null handler;
        taken by Xen's own devices)"""
        cnt = c.counters()
        return (cnt["ioreq_pio"] + cnt["ioreq_copy"] +
                cnt["ioreq_unclaimed"], cnt.get("xen_internal_io"))

    detail = []
    for line in XEN_OWN:
        before = ioreqs()
        c.ok(line)
        after = ioreqs()
        if after[0] != before[0] or after[1] == before[1]:
            detail.append("%s: %d ioreqs, Xen's devices %s -> %s" % (
                line, after[0] - before[0], before[1], after[1]))
    for line in DM_OWN:
        before = ioreqs()
        c.ok(line)
        if ioreqs()[0] != before[0] + 1:
            detail.append("%s: not forwarded" % line)
    c.ok("outb 0x70 0x0b")
    reg_b = c.value("inb 0x71")
    c.ok("outb 0x70 0x00")
    sec = c.value("inb 0x71")
    t0 = c.value("inl 0xb008")
    time.sleep(0.2)
    ticks = (c.value("inl 0xb008") - t0) & 0xffffffff
    c.ok("writel 0xfec00000 1")
    ver = c.value("readl 0xfec00010")
    c.cpu(1)
    lapic_id = c.value("readl 0xfee00020")
    c.cpu(0)
    hpet = c.value("readl 0xfed00000")
    if not (reg_b & 0x02 and sec & 0xf < 10 and sec >> 4 < 6):
        detail.append("RTC reg B %#x seconds %#x" % (reg_b, sec))
    if not 0.2 * 3579545 * 0.9 < ticks < 3579545 * 5:
        detail.append("PM timer %d ticks in 0.2 s" % ticks)
    if ver != 0x2f0011 or lapic_id != 1 << 24 or hpet & 0xffff0000 != \
            0x80860000:
        detail.append("IOAPIC version %#x, vCPU 1's APIC ID %#x, HPET "
                      "capabilities %#x" % (ver, lapic_id, hpet))
    return not detail, "; ".join(detail)


def ioreq_counters(qmp_path, vcpus):
    """query-xen-ioreq after the checks above: every type counted, the
    buffered entries, nothing refused, one notify per answer."""
    q = Qmp(qmp_path, timeout=30)
    try:
        info = q.command("query-xen-ioreq")
        hmp = q.command("human-monitor-command",
                        {"command-line": "info xen-ioreq"})
    finally:
        q.close()
    if "error" in info:
        return False, "query-xen-ioreq: %s" % info["error"]
    i = info["return"]
    ok = (i["serving"] and i["vcpus"] == vcpus and i["pio"] > 0 and
          i["copy"] > 0 and i["pci-config"] > 0 and i["invalidate"] > 0 and
          i["buffered"] >= 700 and i["buffered-batches"] > 0 and
          i["rejected"] == 0 and i["stale"] == 0 and
          i["sync"] == i["notifies"] and
          "server %d" % i["server-id"] in hmp.get("return", ""))
    return ok, "%s / %r" % (i, hmp.get("return", hmp))


MUTANTS = {
    # XENSIM_MUTANT: the checks that must fail on it
    "vcpu0-notify": ("each vCPU answered on its own port", "4 vCPUs at once"),
}


def run_mutant(t, sim, label, qemu):
    """Self-test: a QEMU turned into a known-buggy device model by
    tests/mutant-dm.c must fail the checks that guard against the bug."""
    mutant = label.split("-", 1)[1]
    env = dict(os.environ, XENSIM_MUTANT=mutant, LD_PRELOAD=os.path.join(
        sim, "tests", "libxensim-mutant-dm.so"))
    g = Guest(sim, qemu, vga="std", vcpus=4, qmp=False, env=env)
    if not g.ok:
        t.check(False, "%s: starts on xensim" % label, g.launch_log[-300:])
        return
    try:
        checks = {"each vCPU answered on its own port": own_ports,
                  "4 vCPUs at once": lambda c: four_vcpus(
                      c, g.env["XENSIM_CONTROL"])}
        for what in MUTANTS[mutant]:
            try:
                ok, detail = checks[what](g.ctl)
            except (Failure, OSError, ValueError) as e:
                ok, detail = False, str(e)
            t.check(not ok, "%s: \"%s\" fails on a device model that "
                    "answers every vCPU on vCPU 0's port" % (label, what),
                    "it passed: %s" % detail)
            print("# %s: %s: %s" % (label, what, detail))
    finally:
        g.stop()


def run(t, sim, label, qemu):
    if label.startswith("mutant-"):
        return run_mutant(t, sim, label, qemu)
    r = Run(t, label)
    g = Guest(sim, qemu, vga="std", vcpus=4, qmp=False)
    if not g.ok:
        r.tap(False, "starts on xensim", g.launch_log[-300:])
        return
    try:
        c = g.ctl
        ctl = g.env["XENSIM_CONTROL"]
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
        r.check("PCI config past 255 of conventional functions on Q35 "
                "reads all-ones", lambda: q35_conventional_past_255(sim, qemu))
        r.check("buffered ring wrapped with 4- and 8-byte entries",
                lambda: buffered_wrap(c))
        r.check("buffered writes then a synchronous read: the read sees "
                "them", lambda: buffered_then_sync(c))
        r.check("map cache invalidations while another vCPU does rep ins",
                lambda: invalidate_under_rep(c, ctl))
        r.check("4 vCPUs at once", lambda: four_vcpus(c, ctl))
        r.check("4 vCPUs at once while QMP stops, continues and resets "
                "the VM", lambda: lifecycle_under_load(
                    c, ctl, g.env["XENSIM_QMP"]))
        r.check("each vCPU answered on its own port (4 requests in flight "
                "at once)", lambda: own_ports(c))
        r.check("Xen's internal devices (PIC, PIT, RTC clock, ACPI PM, "
                "IOAPIC, LAPIC, HPET, port 0xe9) answer without an ioreq, "
                "their neighbours reach QEMU", lambda: xen_internal(c))
        r.check("query-xen-ioreq and info xen-ioreq count what was served",
                lambda: ioreq_counters(g.env["XENSIM_QMP"], 4))
        cnt = c.counters()
        bugs, timeouts = cnt.get("dm_bugs"), cnt.get("ioreq_timeouts")
        r.tap(bugs == 0 and timeouts == 0,
              "no device-model bug, no ioreq timeout",
              "dm_bugs %s ioreq_timeouts %s" % (bugs, timeouts))
    finally:
        g.stop()


if __name__ == "__main__":
    sys.exit(e2e_main(run, sys.argv[1:]))
