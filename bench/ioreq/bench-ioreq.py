#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""ioreq round trips and buffered throughput, ours against stock.

Both device models run at once on their own xensim (libxl-style launcher,
kept running); the measurements alternate between them round after round
so that load from elsewhere hits both alike; medians are shown.

  sync PIO    bench-pio 0x10 N 2: 2-byte reads of the Xen platform
              device's magic port (mean round trip seen by the vCPU, ns)
  sync MMIO   bench-mmio 0xa0000 N: 4-byte reads of VGA memory
  DM CPU      the device model's CPU time (all threads, schedstat) over
              each sync run, divided by N
  DM user     the user-mode part of that (utime, in clock ticks, over both
              sync runs): the device model's own work, without the system
              calls, most of which are xensim's socket transport standing
              in for Xen's event channel and hypercalls; it bounds what
              QEMU's code can change
  DM switches the device model's context switches per sync ioreq (all
              threads): whether a request wakes more than the one thread
  sim CPU     the simulator's (xensim-hv: the vCPU side) CPU per sync
              ioreq: the transport's cost on the other end
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

TICK_NS = 1e9 / os.sysconf("SC_CLK_TCK")


def cpu_ns(pid):
    """CPU time of every thread of @pid so far (schedstat, ns)."""
    total = 0
    for p in glob.glob("/proc/%d/task/*/schedstat" % pid):
        try:
            total += int(open(p).read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def user_ns(pid):
    """User-mode CPU time of @pid's threads so far (utime, tick-grained)."""
    try:
        fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        return int(fields[11]) * TICK_NS
    except (OSError, ValueError, IndexError):
        return 0


def switches(pid):
    """Voluntary and involuntary context switches of @pid's threads."""
    total = 0
    for p in glob.glob("/proc/%d/task/*/status" % pid):
        try:
            for line in open(p):
                if "ctxt_switches:" in line:
                    total += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return total


def start(sim, qemu, domid):
    g = Guest(sim, qemu, domid=domid, vga="std", qmp=False)
    if not g.ok:
        sys.exit("cannot start %s: %s" % (qemu, g.launch_log))
    return g


def sync_round(r, ctl, pid, hv, n):
    u0, s0, h0 = user_ns(pid), switches(pid), cpu_ns(hv)
    for key, cmd in (("pio", "bench-pio 0x10 %d 2" % n),
                     ("mmio", "bench-mmio 0xa0000 %d" % n)):
        c0 = cpu_ns(pid)
        r[key].append(ctl.value(cmd))
        r[key + "cpu"].append((cpu_ns(pid) - c0) / n)
    r["user"].append((user_ns(pid) - u0) / (2 * n))
    r["switches"].append((switches(pid) - s0) / (2 * n))
    r["synchv"].append((cpu_ns(hv) - h0) / (2 * n))


def buffered_round(r, ctl, pid, hv, n):
    c0, h0 = cpu_ns(pid), cpu_ns(hv)
    ns = ctl.value("bench-bufwrite 0xa0000 1 %d" % n)
    r["bufcpu"].append((cpu_ns(pid) - c0) / n)
    r["bufsim"].append((cpu_ns(hv) - h0) / n)
    r["buf"].append(n * 1e9 / ns)


ROWS = [("sync PIO round trip (ns)", "pio", "lower", None, 0),
        ("sync MMIO round trip (ns)", "mmio", "lower", None, 0),
        ("DM CPU per sync PIO (ns)", "piocpu", "lower", 0.8, 0),
        ("DM CPU per sync MMIO (ns)", "mmiocpu", "lower", 0.8, 0),
        ("DM user CPU per sync (ns)", "user", "lower", None, 0),
        ("DM switches per sync", "switches", "lower", None, 2),
        ("sim CPU per sync (ns)", "synchv", "lower", None, 0),
        ("buffered writes per second", "buf", "higher", 2.0, 0),
        ("DM CPU per buffered write", "bufcpu", "lower", None, 0),
        ("sim CPU per buffered write", "bufsim", "lower", None, 0)]


def verdict(ratio, better, target):
    if target is None:
        return "(%s is better)" % better
    met = ratio <= target if better == "lower" else ratio >= target
    return "%s %.1fx: %s" % ("<=" if better == "lower" else ">=", target,
                             "met" if met else "NOT met")


def main():
    sim, ours, stock = sys.argv[1:4]
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    n = int(sys.argv[5]) if len(sys.argv) > 5 else 20000
    dms = {}
    try:
        for i, (who, qemu) in enumerate((("ours", ours), ("stock", stock))):
            g = start(sim, qemu, 21 + i)
            dms[who] = (g, g.ctl, g.pid, int(g.env.get("XENSIM_HV_PID", 0)))
        res = {w: {row[1]: [] for row in ROWS} for w in dms}
        for _ in range(rounds):
            for who, (g, ctl, pid, hv) in dms.items():
                sync_round(res[who], ctl, pid, hv, n)
                buffered_round(res[who], ctl, pid, hv, n * 5)
        med = {w: {k: statistics.median(v) for k, v in r.items()}
               for w, r in res.items()}
        print("   (%d rounds, N=%d sync PIO and N MMIO, %d buffered per "
              "round; medians)" % (rounds, n, n * 5))
        print("   %-28s %12s %12s %8s  %s" % ("", "ours", "stock",
                                              "ratio", "target"))
        for label, k, better, target, digits in ROWS:
            o, s = med["ours"][k], med["stock"][k]
            ratio = o / s if s else float("nan")
            print("   %-28s %12.*f %12.*f %7.2fx  %s"
                  % (label, digits, o, digits, s, ratio,
                     verdict(ratio, better, target)))
    finally:
        for g, _, _, _ in dms.values():
            g.stop()


if __name__ == "__main__":
    main()
