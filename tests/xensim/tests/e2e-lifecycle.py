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
    QEMU device state stream, cont runs again.

usage: e2e-lifecycle.py BUILD_XENSIM_DIR NAME=QEMU [NAME=QEMU...]
A NAME starting with "stock" records failures as SKIP.  TAP on stdout.
"""
import json
import os
import shlex
import socket
import struct
import subprocess
import sys
import tempfile

n = 0
BAR = 0xf0000000
GPA = 0x200000


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
            r = self.f.readline().strip()
            if r.startswith("ok") or r.startswith("err") or not r:
                return r, extra
            extra.append(r)

    def value(self, line):
        r, _ = self.cmd(line)
        return int(r.split()[1], 0)

    def counter(self, name):
        _, lines = self.cmd("counters")
        for l in lines:
            k, _, v = l.partition(" ")
            if k == name:
                return int(v, 0)
        return None


class Qmp:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(30)
        self.s.connect(path)
        self.f = self.s.makefile("rw", newline="\r\n")
        json.loads(self.f.readline())
        self.run("qmp_capabilities")

    def run(self, cmd, **args):
        msg = {"execute": cmd}
        if args:
            msg["arguments"] = args
        self.f.write(json.dumps(msg) + "\r\n")
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if "return" in r or "error" in r:
                return r


def xs_read(sock_path, path):
    """One XS_READ (xs_wire.h type 2) on the xenstored socket, or None."""
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(sock_path)
        body = path.encode() + b"\0"
        s.sendall(struct.pack("<IIII", 2, 1, 0, len(body)) + body)
        hdr = s.recv(16, socket.MSG_WAITALL)
        kind, _, _, length = struct.unpack("<IIII", hdr)
        data = s.recv(length, socket.MSG_WAITALL) if length else b""
        return data.decode().rstrip("\0") if kind == 2 else None
    except OSError:
        return None
    finally:
        s.close()


def tap(ok, what, stock, detail):
    global n
    n += 1
    if not ok:
        print("# " + detail)
    if not ok and stock:
        print("ok %d - %s # SKIP known stock 7.2 failure: %s" % (n, what,
                                                                 what))
        return 0
    print("%sok %d - %s" % ("" if ok else "not ", n, what), flush=True)
    return 0 if ok else 1


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

    off = dm_ops_for_dma()
    r = q.run("xen-set-global-dirty-log", enable=True)
    on = dm_ops_for_dma()
    q.run("xen-set-global-dirty-log", enable=False)
    off2 = dm_ops_for_dma()
    ok = "return" in r and off == 0 and on >= 1 and off2 == 0
    return ok, "dm_ops per DMA: off %d, on %d, off again %d (%s)" % (
        off, on, off2, r)


def save_state(q, tmp):
    results = []
    q.run("stop")
    for live in (False, True):
        path = os.path.join(tmp, "dm-state-%d" % live)
        r = q.run("xen-save-devices-state", filename=path, live=live)
        try:
            head = open(path, "rb").read(8)
        except OSError:
            head = b""
        results.append(("return" in r, head[:4] == b"QEVM", r))
    cont = q.run("cont")
    status = q.run("query-status").get("return", {}).get("status")
    ok = all(a and b for a, b, _ in results) and status == "running"
    return ok, "saves %s, then %s" % (results, status)


def run(sim, label, qemu):
    stock = label.startswith("stock")
    failed = 0
    p = subprocess.run([sim + "/run", "--keep", "--vga", "std", "--domid",
                        "3", "--", qemu], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=120)
    if p.returncode:
        return tap(False, "%s: starts" % label, stock, p.stderr[-300:])
    env = dict(t.partition("=")[::2] for t in shlex.split(p.stdout))
    tmp = tempfile.mkdtemp(prefix="xensim-life.")
    try:
        c = Control(env["XENSIM_CONTROL"])
        q = Qmp(env["XENSIM_QMP"])
        for what, fn in (
                ("VRAM relocated onto its BAR, physmap recorded in xenstore "
                 "and removed with the BAR", lambda: physmap(
                     c, env["XENSTORED_PATH"], 3)),
                ("xen-set-global-dirty-log: DMA reported to Xen only while "
                 "on", lambda: dirty_log(c, q)),
                ("stop, xen-save-devices-state live false and true, cont",
                 lambda: save_state(q, tmp))):
            try:
                ok, detail = fn()
            except (OSError, ValueError, KeyError, IndexError) as e:
                ok, detail = False, repr(e)
            failed += tap(ok, "%s: %s" % (label, what), stock, detail)
        failed += tap(c.counter("dm_bugs") == 0, "%s: no device-model bug"
                      % label, stock, "dm_bugs %s" % c.counter("dm_bugs"))
    finally:
        subprocess.run(shlex.split(env["XENSIM_STOP"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=120)
        subprocess.run(["rm", "-rf", tmp])
    return failed


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
