#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Lifecycle pieces testable with today's launcher, on xensim.

One device model per binary (build/xensim/run --keep, std VGA):
  - the VGA BAR programmed as hvmloader would: QEMU relocates VRAM onto
    it (the guest then reads and writes it as RAM, no ioreq) and records
    the physmap in xenstore (device-model/<domid>/physmap/<ram_addr>/
    start_addr, size, name); moving the BAR away removes the node;
  - xen-set-global-dirty-log: while on, a DMA into guest RAM (rep insb)
    is reported to Xen (modified_memory dm_op); while off it is not;
  - stop, xen-save-devices-state (live false, then live true) writes a
    QEMU device state stream, cont runs again;
  - an e1000e's MSI as the guest programs it: a vector reaches Xen,
    vector 0 (Xen's pirq form) reaches it when it names a pirq and is
    dropped when it names none (Xen's hvm_inject_msi() refuses that with
    ERANGE);
  - a second device model for the domain started while xenstore is
    unreachable, then while event channel binds fail, then with
    -xen-domid-restrict on a kernel that cannot restrict: each exits
    with status 1 and a message naming what failed, and leaves no ioreq
    server behind (xensim counts servers a device model left, as Xen
    keeps them); the first one goes on serving.

usage: e2e-lifecycle.py [--only REGEX] BUILD_XENSIM_DIR NAME=QEMU...
(--only: the checks whose name REGEX matches, then the device-model bug
check)
A NAME starting with "stock" records failures as SKIP.  TAP on stdout.
"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "py"))
from xensim import Failure, Guest, e2e_main, pci_scan, xs_read  # noqa: E402

BAR = 0xf0000000
GPA = 0x200000
NIC_BAR = 0xf2000000                        # the e1000e's register BAR
E1000_ICS, E1000_IMS = 0xc8, 0xd0


def vga_dev(c):
    for dev in range(32):
        c.cmd("outl 0xcf8 %#x" % (0x80000000 | dev << 11))
        if c.value("inl 0xcfc") == 0x11111234:
            return dev
    return None


def physmap(c, xs, domid):
    dev = vga_dev(c)
    if dev is None:
        return False, "no std VGA on bus 0"
    cfg = 0x80000000 | dev << 11
    c.cmd("outl 0xcf8 %#x" % (cfg | 0x10))
    c.cmd("outl 0xcfc %#x" % BAR)
    c.cmd("outl 0xcf8 %#x" % (cfg | 0x04))
    c.cmd("outw 0xcfc 0x0003")              # I/O + memory decoding
    base = "/local/domain/0/device-model/%d/physmap" % domid
    # The VRAM block's ram_addr: just above -m (launcher: memory - 16 MiB)
    entries = {}
    for off in ("%x" % (a << 20) for a in range(64, 4096, 8)):
        v = xs_read(xs, "%s/%s/start_addr" % (base, off))
        if v is not None:
            entries[off] = (v, xs_read(xs, "%s/%s/size" % (base, off)),
                            xs_read(xs, "%s/%s/name" % (base, off)))
    copies = c.counter("ioreq_copy")
    c.cmd("memwrite %#x 5a5aa5a5" % (BAR + 0x1000))
    r, _ = c.cmd("memread %#x 4" % (BAR + 0x1000))
    as_ram = r == "ok 5a5aa5a5" and c.counter("ioreq_copy") == copies
    recorded = list(entries.values()) == [("%x" % BAR, "1000000", "vga.vram")]
    # BAR away: relocated back, node gone
    c.cmd("outl 0xcf8 %#x" % (cfg | 0x04))
    c.cmd("outw 0xcfc 0x0001")
    gone = all(xs_read(xs, "%s/%s/start_addr" % (base, off)) is None
               for off in entries)
    return (as_ram and recorded and gone,
            "VRAM at BAR as RAM %s, nodes %s, removed after decode off %s"
            % (as_ram, entries, gone))


def dirty_log(c, q):
    def dm_ops_for_dma():
        before = c.counter("dm_ops")
        c.cmd("insb 0x71 %#x 64" % GPA)
        return c.counter("dm_ops") - before

    c.cmd("outb 0x70 0x40")     # CMOS RAM: QEMU's (the clock is Xen's)
    off = dm_ops_for_dma()
    r = q.command("xen-set-global-dirty-log", {"enable": True})
    on = dm_ops_for_dma()
    q.command("xen-set-global-dirty-log", {"enable": False})
    off2 = dm_ops_for_dma()
    ok = "return" in r and off == 0 and on >= 1 and off2 == 0
    return ok, "dm_ops per DMA: off %d, on %d, off again %d (%s)" % (
        off, on, off2, r)


def save_state(q, tmp):
    results = []
    q.command("stop")
    for live in (False, True):
        path = os.path.join(tmp, "dm-state-%d" % live)
        r = q.command("xen-save-devices-state",
                      {"filename": path, "live": live})
        try:
            head = open(path, "rb").read(8)
        except OSError:
            head = b""
        results.append(("return" in r, head[:4] == b"QEVM", r))
    q.command("cont")
    status = q.command("query-status").get("return", {}).get("status")
    ok = all(a and b for a, b, _ in results) and status == "running"
    return ok, "saves %s, then %s" % (results, status)


def msi_cap(c, dev, fn):
    ptr = c.cfg_read(dev, fn, 0x34) & 0xfc
    while ptr:
        cap = c.cfg_read(dev, fn, ptr)
        if cap & 0xff == 0x05:
            return ptr
        ptr = (cap >> 8) & 0xfc
    return None


def msi_vector0(c):
    """An e1000e's MSI, programmed by the guest, raised through ICS: a
    vector is sent to Xen as it is; vector 0 is Xen's pirq form
    (hvm_inject_msi(): pirq from the address's destination id and high
    bits), sent when it names a pirq and dropped when it names none,
    which Xen would refuse with ERANGE."""
    nic = [(d, f) for d, f, ids, _ in pci_scan(c) if ids == 0x10d38086]
    if not nic:
        return False, "no e1000e on bus 0"
    dev, fn = nic[0]
    cap = msi_cap(c, dev, fn)
    if cap is None:
        return False, "the e1000e has no MSI capability"
    c.cfg_write(dev, fn, 0x10, NIC_BAR)
    c.cfg_write(dev, fn, 0x04, 0x0006, size=2)  # memory, bus master
    c.cfg_write(dev, fn, cap + 2, 0x0001, size=2)    # MSI on, 1 vector
    c.ok("writel %#x 0x1" % (NIC_BAR + E1000_IMS))
    seen = []
    for dest, vector in ((1, 0x41), (0, 0), (5, 0)):
        c.cfg_write(dev, fn, cap + 4, 0xfee00000 | dest << 12)
        c.cfg_write(dev, fn, cap + 8, 0)
        c.cfg_write(dev, fn, cap + 12, vector, size=2)
        before = c.counters()
        c.ok("writel %#x 0x1" % (NIC_BAR + E1000_ICS))
        c.value("readl %#x" % (NIC_BAR + 0xc0))    # ICR: read clears it
        after = c.counters()
        seen.append((dest, vector, after["msis"] - before["msis"],
                     after["dm_op_errors"] - before["dm_op_errors"]))
    want = [(1, 0x41, 1, 0), (0, 0, 0, 0), (5, 0, 1, 0)]
    return seen == want, ("(dest, vector, MSIs Xen took, dm_ops Xen "
                          "refused): %s, want %s" % (seen, want))


def servers(c):
    _, lines = c.cmd("state")
    return [l for l in lines if l.startswith("server ")]


def second_dm(env, tmp, extra_env, timeout=60, extra_args=()):
    """Start another device model for the same domain, with the first
    one's command line (plus extra_args) and environment (QMP sockets
    moved aside); its (exit status or None if still running, log)."""
    pid = int(env["XENSIM_QEMU_PID"])
    argv = open("/proc/%d/cmdline" % pid).read().split("\0")[:-1]
    denv = dict(l.split("=", 1) for l in
                open("/proc/%d/environ" % pid).read().split("\0") if "=" in l)
    denv.update(extra_env)
    argv = [a.replace("path=%s/qmp-" % env["XENSIM_RUN_DIR"],
                      "path=%s/second-qmp-" % tmp) for a in argv]
    argv += list(extra_args)
    log = os.path.join(tmp, "second-dm.log")
    with open(log, "w") as out:
        p = subprocess.Popen(argv, env=denv, stdin=subprocess.DEVNULL,
                             stdout=out, stderr=subprocess.STDOUT)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            rc = None
    return rc, open(log).read()


def setup_failures(c, env, tmp):
    """The toolstack's services failing under a starting device model:
    it must end with status 1 and a message saying what failed (no abort,
    no core), and leave no ioreq server behind; the running one goes on."""
    before = servers(c)
    orphaned = c.counter("ioreq_servers_orphaned")
    problems = []
    rc, log = second_dm(env, tmp, {"XENSTORED_PATH": tmp + "/no-xenstored"})
    if rc != 1 or "xenstore" not in log:
        problems.append("no xenstore: status %s, log %r" % (rc, log[-300:]))
    c.cmd("fault evtchn-fail 1")
    rc, log = second_dm(env, tmp, {})
    c.cmd("fault clear")
    if rc != 1 or not re.search("event channel|evtchn", log):
        problems.append("event channel bind failing: status %s, log %r"
                        % (rc, log[-300:]))
    # -xen-domid-restrict on a kernel that cannot restrict (the shim's
    # IOCTL_PRIVCMD_RESTRICT fails): libxl relies on such a device model
    # not running at all, unrestricted.
    rc, log = second_dm(env, tmp, {"XENSIM_SHIM_FAULT": "restrict"},
                        timeout=30, extra_args=["-xen-domid-restrict"])
    if rc != 1 or "restrict" not in log:
        problems.append("-xen-domid-restrict refused: status %s, log %r"
                        % (rc, log[-300:]))
    after = servers(c)
    if after != before:
        problems.append("ioreq servers %s, before %s" % (after, before))
    # xensim keeps a server its device model did not destroy, as Xen does
    # (it would keep claiming the guest's ranges): counted by the hv.
    left = c.counter("ioreq_servers_orphaned") - orphaned
    if left:
        problems.append("%d ioreq server(s) left behind by the failed "
                        "device models" % left)
    if c.value("inw 0x10") != 0x49d2:
        problems.append("the running device model stopped serving")
    return not problems, "; ".join(problems)


def run(t, sim, label, qemu):
    stock = label.startswith("stock")
    g = Guest(sim, qemu, args=["-device", "e1000e"], vga="std", domid=3)
    if not g.ok:
        t.check(False, "%s: starts" % label, g.launch_log[-300:], stock)
        return
    tmp = tempfile.mkdtemp(prefix="xensim-life.")
    try:
        c, q = g.ctl, g.qmp
        for what, fn in [(w, f) for w, f in (
                ("VRAM relocated onto its BAR, physmap recorded in xenstore "
                 "and removed with the BAR", lambda: physmap(
                     c, g.env["XENSTORED_PATH"], 3)),
                ("xen-set-global-dirty-log: DMA reported to Xen only while "
                 "on", lambda: dirty_log(c, q)),
                ("stop, xen-save-devices-state live false and true, cont",
                 lambda: save_state(q, tmp)),
                ("device MSIs: a vector sent to Xen, vector 0 naming a "
                 "pirq sent, vector 0 naming none dropped (Xen refuses it)",
                 lambda: msi_vector0(c)),
                ("set-up failures (no xenstore, event channel bind, "
                 "-xen-domid-restrict refused) end with status 1 and a "
                 "message, no ioreq server left",
                 lambda: setup_failures(c, g.env, tmp))
                ) if t.wanted(w)]:
            try:
                ok, detail = fn()
            except (OSError, ValueError, KeyError, IndexError,
                    Failure) as e:
                ok, detail = False, repr(e)
            t.check(ok, "%s: %s" % (label, what), detail, stock)
        t.check(c.counter("dm_bugs") == 0, "%s: no device-model bug"
                % label, "dm_bugs %s" % c.counter("dm_bugs"), stock)
    finally:
        g.stop()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    sys.exit(e2e_main(run, sys.argv[1:]))
