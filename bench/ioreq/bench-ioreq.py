#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""ioreq round trips and buffered throughput, ours against stock.

Both device models run at once on their own xensim (libxl-style launcher,
kept running); the measurements alternate between them round after round
so that load from elsewhere hits both alike; medians are shown.

  sync PIO    bench-pio 0x10 N: 4-byte reads of the Xen platform device's
              port (mean round trip seen by the vCPU, ns)
  sync MMIO   bench-mmio 0xa0000 N: 4-byte reads of VGA memory
  CPU/ioreq   the device model's CPU time (all threads, schedstat) over a
              sync PIO run, divided by N
  buffered    bench-bufwrite 0xa0000 1 N: N buffered 1-byte VGA writes then
              one synchronous read; writes per second
  CPU/bufw    the device model's CPU time over that run, divided by N, and
              the simulator's (xensim-hv: the producer filling the ring,
              and the vCPU side of each synchronous write it falls back
              to when the ring is full): which side bounds the throughput

usage: bench-ioreq.py SIM_DIR OURS STOCK [ROUNDS] [N]
"""
import glob
import os
import statistics
import sys

# The simulator's driver module, installed next to SIM_DIR/run.
sys.path.insert(0, os.path.join(sys.argv[1] if len(sys.argv) > 1 else ".",
                                "py"))
from xensim import Guest  # noqa: E402


def cpu_ns(pid):
    total = 0
    for p in glob.glob("/proc/%d/task/*/schedstat" % pid):
        try:
            total += int(open(p).read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def start(sim, qemu, domid):
    g = Guest(sim, qemu, domid=domid, vga="std", qmp=False)
    if not g.ok:
        sys.exit("cannot start %s: %s" % (qemu, g.launch_log))
    return g


def main():
    sim, ours, stock = sys.argv[1:4]
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    n = int(sys.argv[5]) if len(sys.argv) > 5 else 20000
    dms = {}
    try:
        for i, (who, qemu) in enumerate((("ours", ours), ("stock", stock))):
            g = start(sim, qemu, 21 + i)
            dms[who] = (g, g.ctl, g.pid)
        res = {w: {"pio": [], "mmio": [], "cpu": [], "buf": [], "bufcpu": [],
                   "bufsim": []} for w in dms}
        for _ in range(rounds):
            for who, (g, ctl, pid) in dms.items():
                hv = int(g.env.get("XENSIM_HV_PID", 0))
                c0 = cpu_ns(pid)
                res[who]["pio"].append(ctl.value("bench-pio 0x10 %d" % n))
                res[who]["cpu"].append((cpu_ns(pid) - c0) / n)
                res[who]["mmio"].append(ctl.value("bench-mmio 0xa0000 %d"
                                                  % n))
                c0, h0 = cpu_ns(pid), cpu_ns(hv)
                ns = ctl.value("bench-bufwrite 0xa0000 1 %d" % (n * 5))
                res[who]["bufcpu"].append((cpu_ns(pid) - c0) / (n * 5))
                res[who]["bufsim"].append((cpu_ns(hv) - h0) / (n * 5))
                res[who]["buf"].append(n * 5 * 1e9 / ns)
        med = {w: {k: statistics.median(v) for k, v in r.items()}
               for w, r in res.items()}
        print("   (%d rounds, N=%d sync, %d buffered per round; medians)"
              % (rounds, n, n * 5))
        print("   %-28s %12s %12s %8s  %s" % ("", "ours", "stock",
                                              "ratio", "target"))
        rows = [("sync PIO round trip (ns)", "pio", "lower", None),
                ("sync MMIO round trip (ns)", "mmio", "lower", None),
                ("DM CPU per sync ioreq (ns)", "cpu", "lower", 0.8),
                ("buffered writes per second", "buf", "higher", 2.0),
                ("DM CPU per buffered write", "bufcpu", "lower", None),
                ("sim CPU per buffered write", "bufsim", "lower", None)]
        for label, k, better, target in rows:
            o, s = med["ours"][k], med["stock"][k]
            ratio = o / s if s else float("nan")
            if target is None:
                t = "(%s is better)" % better
            elif better == "lower":
                t = "<= %.1fx: %s" % (target, "met" if ratio <= target
                                      else "NOT met")
            else:
                t = ">= %.1fx: %s" % (target, "met" if ratio >= target
                                      else "NOT met")
            print("   %-28s %12.0f %12.0f %7.2fx  %s" % (label, o, s, ratio,
                                                       t))
    finally:
        for g, _, _ in dms.values():
            g.stop()


if __name__ == "__main__":
    main()
