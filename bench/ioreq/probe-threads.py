#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Per-thread CPU time and context switches per synchronous ioreq.

Starts our QEMU, then stock, each on its own xensim (as bench-ioreq.py
does, one after the other, not interleaved), runs N 4-byte PIO reads of
port 0x10 and N 4-byte MMIO reads of 0xa0000, and prints per request the
round trip and, grouped by thread name, the device model's and the
simulator's CPU time and context switches: whether one of the two
QEMUs wakes more threads per request.  QEMU names its threads only with
-name debug-threads=on, so its threads add up under one name here.

usage: probe-threads.py SIM_DIR OURS STOCK [N]
"""
import collections
import glob
import os
import sys

sys.path.insert(0, os.path.join(sys.argv[1], "py"))
from xensim import Guest  # noqa: E402

def threads(pid):
    out = {}
    for t in glob.glob("/proc/%d/task/*" % pid):
        try:
            comm = open(t + "/comm").read().strip()
            ns = int(open(t + "/schedstat").read().split()[0])
            st = dict(l.split(":\t") for l in open(t + "/status").read().splitlines() if ":\t" in l)
            cs = int(st["voluntary_ctxt_switches"]) + int(st["nonvoluntary_ctxt_switches"])
            out[os.path.basename(t)] = (comm, ns, cs)
        except OSError:
            pass
    return out

def delta(a, b, n):
    r = collections.defaultdict(lambda: [0, 0])
    for tid, (comm, ns, cs) in b.items():
        ns0, cs0 = a.get(tid, (comm, 0, 0))[1:]
        r[comm][0] += (ns - ns0) / n
        r[comm][1] += (cs - cs0) / n
    return {k: v for k, v in r.items() if v[0] > 50 or v[1] > 0.01}

sim, ours, stock = sys.argv[1:4]
n = int(sys.argv[4]) if len(sys.argv) > 4 else 20000
for i, (who, qemu) in enumerate((("ours", ours), ("stock", stock))):
    g = Guest(sim, qemu, domid=31 + i, vga="std", qmp=False)
    if not g.ok:
        sys.exit("cannot start %s" % qemu)
    hv = int(g.env.get("XENSIM_HV_PID", 0))
    for what, cmd in (("pio", "bench-pio 0x10 %d" % n), ("mmio", "bench-mmio 0xa0000 %d" % n)):
        a, ha = threads(g.pid), threads(hv)
        rt = g.ctl.value(cmd)
        b, hb = threads(g.pid), threads(hv)
        print("%-5s %-4s rt %6d ns  DM %s  hv %s" % (who, what, rt,
              {k: "%.0fns/%.2fcs" % tuple(v) for k, v in delta(a, b, n).items()},
              {k: "%.0fns/%.2fcs" % tuple(v) for k, v in delta(ha, hb, n).items()}))
    g.stop()
