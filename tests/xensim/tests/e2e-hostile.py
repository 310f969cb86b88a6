#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Hostile ioreqs and ring entries against a device model on xensim.

Each case starts a fresh device model with the libxl-style launcher
(build/xensim/run --keep, std VGA), sends one request or ring state Xen
never produces (the hv's `rawioreq` / `rawbuf` probes and its injection
commands `ioreq`, `notify`, `bufring`, which bypass Xen's checks) and then
checks what a guest and a toolstack would see:
  - the vCPU got an answer (`ok`), and a read got all-ones where the case
    says so (absent hardware);
  - nothing else happened: guest RAM, VGA memory, the ring pointers or the
    slot are as the refusal leaves them (each case's post checks, so that
    a device model that served the request anyway fails);
  - QEMU still answers QMP query-status with "running", and (not asked
    of stock) query-xen-ioreq counts the request as refused, stale or
    spurious;
  - an ordinary access still works: the Xen platform device's magic at
    port 0x10 (0x49d2);
  - the hv reported no device-model protocol bug (dm_bugs 0).

usage: e2e-hostile.py [--only REGEX] BUILD_XENSIM_DIR NAME=QEMU [NAME=QEMU...]
(--only: the cases whose name REGEX matches)
A NAME starting with "stock" is Debian's 7.2: its failures are recorded
as "ok ... # SKIP known stock 7.2 failure: <case>".  TAP on stdout.
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "py"))
from xensim import Failure, Guest, Qmp, Tap, alive, qmp_status  # noqa: E402

ONES = {1: 0xff, 2: 0xffff, 4: 0xffffffff}
ALL = 0xffffffffffffffff
GPA = 0x200000          # a page of guest RAM for data_is_ptr buffers

PIO, COPY, PCI_CONFIG = 0, 1, 2
READ, PTR, DF = 1, 2, 4


def buf_entry(type_, size_code, addr, data, is_read=False):
    """A buf_ioreq_t as the 64-bit number rawbuf takes."""
    return (type_ | (1 << 9 if is_read else 0) | size_code << 10 |
            (addr & 0xfffff) << 12 | (data & 0xffffffff) << 32)


VGA = 0xa0000
# std VGA's window as plain memory: all planes writable, chain-4
VGA_LINEAR = ["outb 0x3c4 2", "outb 0x3c5 0x0f", "outb 0x3c4 4",
              "outb 0x3c5 0x08", "writel %#x 0x11223344" % VGA]
CMOS_5A = ["outb 0x70 0x40", "outb 0x71 0x5a", "outb 0x70 0x40"]


def case(name, line, want, setup=(), post=(), counter="rejected"):
    """One hostile request.  setup: control lines sent first (each must
    answer ok).  post: (line, expected) checked after the answer, where
    expected is an int (the reply's value), a str (the reply's text after
    "ok ") or a function of that text returning True when right.
    counter: the query-xen-ioreq counter the case must raise (not asked
    of stock, which has no such command)."""
    return {"name": name, "line": line, "want": want, "setup": list(setup),
            "post": list(post), "counter": counter}


def ptrs_equal(text):
    rp, wp = (int(x, 0) for x in text.split())
    return rp == wp


def slot_idle(text):
    return "state=0 " in text + " "


NOTHING_WRITTEN = ("memread %#x 4" % GPA, "eeeeeeee")
VGA_KEPT = ("readl %#x" % VGA, 0x11223344)
RING_EMPTY = ("bufptrs 0", ptrs_equal)

CASES = [
    case("PIO size 0", "rawioreq 0 %d 0x10 0 0 1 %d" % (PIO, READ), ALL),
    case("PIO size 3", "rawioreq 0 %d 0x10 0 3 1 %d" % (PIO, READ),
         0xffffff),
    case("PIO size 8", "rawioreq 0 %d 0x10 0 8 1 %d" % (PIO, READ), ALL),
    case("PIO write size 8", "rawioreq 0 %d 0x10 0x1234 8 1 0" % PIO, None),
    # wrapping the port to 16 bits would read the platform magic at 0x10
    case("PIO port beyond 0xffff (XSA-199)",
         "rawioreq 0 %d 0x10010 0 2 1 %d" % (PIO, READ), 0xffff),
    case("PIO count 0 with data_is_ptr",
         "rawioreq 0 %d 0x71 %#x 1 0 %d" % (PIO, GPA, READ | PTR), None,
         setup=CMOS_5A + ["memset %#x 4 0xee" % GPA],
         post=[NOTHING_WRITTEN]),
    case("MMIO size 16", "rawioreq 0 %d 0xfebf0000 0 16 1 %d" % (COPY, READ),
         ALL),
    case("MMIO size 0", "rawioreq 0 %d %#x 0 0 1 %d" % (COPY, VGA, READ),
         ALL, setup=VGA_LINEAR),
    case("MMIO count 0", "rawioreq 0 %d %#x 0 4 0 %d" % (COPY, VGA, READ),
         0xffffffff, setup=VGA_LINEAR),
    case("PCI_CONFIG count 0",
         "rawioreq 0 %d 0 0 4 0 %d" % (PCI_CONFIG, READ), 0xffffffff),
    case("PCI_CONFIG count 2",
         "rawioreq 0 %d 0 0 4 2 %d" % (PCI_CONFIG, READ), 0xffffffff),
    case("PCI_CONFIG size 8",
         "rawioreq 0 %d 0 0 8 1 %d" % (PCI_CONFIG, READ), ALL),
    # register 0 of 00:00.0 if the register were cut to 12 bits
    case("PCI_CONFIG register 0x10000",
         "rawioreq 0 %d 0x10000 0 4 1 %d" % (PCI_CONFIG, READ), 0xffffffff),
    case("type 3 (VMWARE_PORT)", "rawioreq 0 3 0x5658 0 4 1 %d" % READ,
         0xffffffff),
    case("unknown type 9", "rawioreq 0 9 0 0 4 1 %d" % READ, 0xffffffff),
    case("unknown type 255", "rawioreq 0 255 0 0 4 1 0", None),
    case("data_is_ptr rep with a huge count",
         "rawioreq 0 %d 0x71 %#x 1 0xffffffff %d" % (PIO, GPA, READ | PTR),
         None),
    case("data_is_ptr buffer outside guest RAM",
         "rawioreq 0 %d 0x71 0xfffff000 4 1024 %d" % (PIO, READ | PTR), None),
    case("data_is_ptr buffer in MMIO (the VGA window)",
         "rawioreq 0 %d 0x71 %#x 1 4 %d" % (PIO, VGA, READ | PTR), None,
         setup=VGA_LINEAR + CMOS_5A, post=[VGA_KEPT]),
    case("MMIO rep count*size overflowing 32 bits",
         "rawioreq 0 %d 0xfebf0000 %#x 8 0x20000000 %d" % (COPY, GPA,
                                                            READ | PTR),
         None),
    # items 0..4 of it would land at 0x10, 0xc, ... 0x0
    case("df rep buffer running below 0",
         "rawioreq 0 %d 0x71 0x10 4 0x100 %d" % (PIO, READ | PTR | DF), None,
         setup=CMOS_5A + ["memset 0 0x20 0xee"],
         post=[("memread 0 0x20", "ee" * 0x20)]),
    case("buffered 8-byte entry without its second half",
         "rawbuf 0 1 %#x" % buf_entry(COPY, 3, 0xa0000, 0x55), None,
         post=[("inw 0x10", 0x49d2), RING_EMPTY]),
    case("buffered ring pointers 600 apart",
         "rawbuf 0 600 %#x" % buf_entry(COPY, 0, 0xa0000, 0x55), None,
         setup=VGA_LINEAR,
         post=[("inw 0x10", 0x49d2), RING_EMPTY,
               ("bufwrite %#x 4 0x55667788" % VGA, ""),
               ("readl %#x" % VGA, 0x55667788), RING_EMPTY]),
    case("buffered read entry",
         "rawbuf 0 1 %#x" % buf_entry(COPY, 2, 0xa0000, 0, True), None,
         setup=VGA_LINEAR, post=[("inw 0x10", 0x49d2), VGA_KEPT]),
    case("buffered entry of unknown type",
         "rawbuf 0 1 %#x" % buf_entry(0x42, 2, 0xa0000, 0), None),
    case("buffered notify with the ring empty", "bufring 0 empty", None,
         post=[("inw 0x10", 0x49d2), RING_EMPTY], counter="spurious"),
    case("spurious notify of an idle vCPU slot", "notify 0", None,
         post=[("slotget 0", slot_idle)], counter="spurious"),
    # Xen's vCPU waits while the slot is READY or INPROCESS
    case("notified slot left INPROCESS",
         "ioreq type=0,addr=0x10,size=2,dir=1,state=2", 0xffff,
         counter="stale"),
    case("notified slot in a state that does not exist (9)",
         "ioreq type=0,addr=0x10,size=2,dir=1,state=9", 0xffff,
         counter="stale"),
]

def qmp_query(path, command, timeout=10):
    """The return of command on a fresh QMP connection, or the failure
    as a string."""
    try:
        q = Qmp(path, timeout=timeout)
        try:
            return q.execute(command)
        finally:
            q.close()
    except (OSError, Failure) as e:
        return "no answer (%s)" % e


def post_check(ctl, line, expected):
    """None if right, else what went wrong."""
    reply, _ = ctl.cmd(line)
    if not reply.startswith("ok"):
        return "%s: %s" % (line, reply)
    text = reply[3:].strip()
    if isinstance(expected, int):
        ok = text and int(text.split()[0], 0) == expected
    elif isinstance(expected, str):
        ok = text == expected
    else:
        ok = expected(text)
    return None if ok else "%s: %s" % (line, reply)


def run_case(sim, qemu, c, stock):
    """Returns (ok, detail)."""
    line, want = c["line"], c["want"]
    g = Guest(sim, qemu, ["-d", "guest_errors"], vga="std", qmp=False)
    if not g.ok:
        return False, "did not start: " + g.launch_log.strip().splitlines()[-1]
    try:
        ctl = g.ctl
        problems = []
        for s in c["setup"]:
            reply, _ = ctl.cmd(s)
            if not reply.startswith("ok"):
                return False, "setup %s: %s" % (s, reply)
        reply, _ = ctl.cmd(line)
        if not reply.startswith("ok"):
            problems.append("answer %r" % reply)
        elif want is not None:
            got = int(reply.split()[1], 0)
            if got != want:
                problems.append("read %#x, not %#x" % (got, want))
        time.sleep(0.2)
        if not alive(g.pid):
            problems.append("QEMU died")
        else:
            for pl, expected in c["post"]:
                wrong = post_check(ctl, pl, expected)
                if wrong:
                    problems.append(wrong)
                    break
            st = qmp_status(g.env["XENSIM_QMP"])
            if st != "running":
                problems.append("query-status: %s" % st)
            if not stock:
                info = qmp_query(g.env["XENSIM_QMP"], "query-xen-ioreq")
                if not isinstance(info, dict) or not info.get(c["counter"]):
                    problems.append("query-xen-ioreq %s not counted: %s"
                                    % (c["counter"], info))
            reply, _ = ctl.cmd("inw 0x10")
            if reply != "ok 0x49d2":
                problems.append("then inw 0x10: " + reply)
        bugs = ctl.counter("dm_bugs")
        if bugs:
            problems.append("dm_bugs %d" % bugs)
        if problems:
            tail = g.log().strip()
            if tail:
                problems.append("log: " + tail.splitlines()[-1][:120])
        return not problems, "; ".join(problems)
    except (OSError, Failure) as e:
        return False, "control socket: %s" % e
    finally:
        g.stop()


def main():
    args = sys.argv[1:]
    only = None
    if len(args) > 1 and args[0] == "--only":
        only = re.compile(args[1])
        args = args[2:]
    sim = args[0]
    binaries = [a.split("=", 1) for a in args[1:]]
    cases = [c for c in CASES if not only or only.search(c["name"])]
    print("1..%d" % (len(cases) * len(binaries)))
    t = Tap()
    for label, qemu in binaries:
        stock = label.startswith("stock")
        for c in cases:
            ok, detail = run_case(sim, qemu, c, stock)
            what = "%s: %s" % (label, c["name"])
            t.check(ok, what, "%s: %s" % (what, detail),
                    skip=("known stock 7.2 failure: %s" % c["name"])
                    if stock else None)
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
