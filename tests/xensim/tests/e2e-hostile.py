#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Hostile ioreqs and ring entries against a device model on xensim.

Each case starts a fresh device model with the libxl-style launcher
(build/xensim/run --keep), sends one request Xen never sends (the hv's
`rawioreq` / `rawbuf` probes, which bypass Xen's checks) and then checks
what a guest and a toolstack would see:
  - the vCPU got an answer (`ok`), and a read got all-ones where the case
    says so (absent hardware);
  - QEMU still answers QMP query-status with "running";
  - an ordinary access still works: the Xen platform device's magic at
    port 0x10 (0x49d2);
  - the hv reported no device-model protocol bug (dm_bugs 0).

usage: e2e-hostile.py BUILD_XENSIM_DIR NAME=QEMU [NAME=QEMU...]
A NAME starting with "stock" is Debian's 7.2: its failures are recorded
as "ok ... # SKIP known stock 7.2 failure: <case>".  TAP on stdout.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "py"))
from xensim import Failure, Guest, Tap, alive, qmp_status  # noqa: E402

ONES = {1: 0xff, 2: 0xffff, 4: 0xffffffff}
ALL = 0xffffffffffffffff
GPA = 0x200000          # a page of guest RAM for data_is_ptr buffers

PIO, COPY, PCI_CONFIG = 0, 1, 2
READ, PTR, DF = 1, 2, 4


def buf_entry(type_, size_code, addr, data, is_read=False):
    """A buf_ioreq_t as the 64-bit number rawbuf takes."""
    return (type_ | (1 << 9 if is_read else 0) | size_code << 10 |
            (addr & 0xfffff) << 12 | (data & 0xffffffff) << 32)


# (name, control line, expected data of the answer or None)
CASES = [
    ("PIO size 0", "rawioreq 0 %d 0x10 0 0 1 %d" % (PIO, READ), ALL),
    ("PIO size 3", "rawioreq 0 %d 0x10 0 3 1 %d" % (PIO, READ), 0xffffff),
    ("PIO size 8", "rawioreq 0 %d 0x10 0 8 1 %d" % (PIO, READ), ALL),
    ("PIO write size 8", "rawioreq 0 %d 0x10 0x1234 8 1 0" % PIO, None),
    ("PIO port beyond 0xffff (XSA-199)",
     "rawioreq 0 %d 0x10010 0 2 1 %d" % (PIO, READ), 0xffff),
    ("PIO count 0 with data_is_ptr",
     "rawioreq 0 %d 0x71 %#x 1 0 %d" % (PIO, GPA, READ | PTR), None),
    ("MMIO size 16", "rawioreq 0 %d 0xfebf0000 0 16 1 %d" % (COPY, READ),
     ALL),
    ("MMIO size 0", "rawioreq 0 %d 0xfebf0000 0 0 1 %d" % (COPY, READ), ALL),
    ("MMIO count 0", "rawioreq 0 %d 0xfebf0000 0 4 0 %d" % (COPY, READ),
     0xffffffff),
    ("PCI_CONFIG count 0",
     "rawioreq 0 %d 0 0 4 0 %d" % (PCI_CONFIG, READ), 0xffffffff),
    ("PCI_CONFIG count 2",
     "rawioreq 0 %d 0 0 4 2 %d" % (PCI_CONFIG, READ), 0xffffffff),
    ("PCI_CONFIG size 8",
     "rawioreq 0 %d 0 0 8 1 %d" % (PCI_CONFIG, READ), ALL),
    ("PCI_CONFIG register 0x10000",
     "rawioreq 0 %d 0x10000 0 4 1 %d" % (PCI_CONFIG, READ), 0xffffffff),
    ("type 3 (VMWARE_PORT)", "rawioreq 0 3 0x5658 0 4 1 %d" % READ,
     0xffffffff),
    ("unknown type 9", "rawioreq 0 9 0 0 4 1 %d" % READ, 0xffffffff),
    ("unknown type 255", "rawioreq 0 255 0 0 4 1 0", None),
    ("data_is_ptr rep with a huge count",
     "rawioreq 0 %d 0x71 %#x 1 0xffffffff %d" % (PIO, GPA, READ | PTR),
     None),
    ("data_is_ptr buffer outside guest RAM",
     "rawioreq 0 %d 0x71 0xfffff000 4 1024 %d" % (PIO, READ | PTR), None),
    ("MMIO rep count*size overflowing 32 bits",
     "rawioreq 0 %d 0xfebf0000 %#x 8 0x20000000 %d" % (COPY, GPA,
                                                        READ | PTR), None),
    ("df rep buffer running below 0",
     "rawioreq 0 %d 0x71 0x10 4 0x100 %d" % (PIO, READ | PTR | DF), None),
    ("buffered 8-byte entry without its second half",
     "rawbuf 0 1 %#x" % buf_entry(COPY, 3, 0xa0000, 0x55), None),
    ("buffered ring pointers 600 apart",
     "rawbuf 0 600 %#x" % buf_entry(COPY, 0, 0xa0000, 0x55), None),
    ("buffered read entry",
     "rawbuf 0 1 %#x" % buf_entry(COPY, 2, 0xa0000, 0, True), None),
    ("buffered entry of unknown type",
     "rawbuf 0 1 %#x" % buf_entry(0x42, 2, 0xa0000, 0), None),
]

def run_case(sim, qemu, case):
    """Returns (ok, detail)."""
    name, line, want = case
    g = Guest(sim, qemu, ["-d", "guest_errors"], qmp=False)
    if not g.ok:
        return False, "did not start: " + g.launch_log.strip().splitlines()[-1]
    try:
        ctl = g.ctl
        problems = []
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
            st = qmp_status(g.env["XENSIM_QMP"])
            if st != "running":
                problems.append("query-status: " + st)
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
    sim = sys.argv[1]
    binaries = [a.split("=", 1) for a in sys.argv[2:]]
    print("1..%d" % (len(CASES) * len(binaries)))
    t = Tap()
    for label, qemu in binaries:
        stock = label.startswith("stock")
        for case in CASES:
            ok, detail = run_case(sim, qemu, case)
            what = "%s: %s" % (label, case[0])
            t.check(ok, what, "%s: %s" % (what, detail),
                    skip=("known stock 7.2 failure: %s" % case[0])
                    if stock else None)
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
