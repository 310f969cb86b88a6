#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The soak: a Q35 Xen guest's six AHCI disks under NCQ with faults, and
an xl save / xl restore of the device model in the middle.

    soak.py BUILD QEMU [--ios N] [--seed N] [--report-every N]
            [--no-restore] [--no-faults]

BUILD is the build directory (xensim/, soak/soak-io).  The device model
starts as libxl starts it (-machine q35 -accel
xen,mapcache-max-size=128M, six disks on the ICH9 AHCI, 512 MiB); soak-io (soak-io.c) plays the guest and injects
the faults; this script watches the host side.  At every progress line
(--report-every I/Os) it samples QEMU's resident memory (VmRSS) and
query-xen-mapcache, and checks QEMU is alive.  Half way, with nothing in
flight, it saves the device model as xl save does and restores it into
a new QEMU with -incoming fd:N as xl restore does
(tests/drive-aio/libxl-save-restore.py); the guest then goes on.

Prints the driver's lines, one "sample" line per progress line, and
    figures: ios= secs= iops= mc_max_bytes= mc_peak_bytes= restored=
             rss_before_kib=A..B rss_before_growth_kib_per_100k=
             rss_after_kib=A..B rss_after_growth_kib_per_100k=
    summary: ... result=PASS|FAIL
(before/after: the QEMU before the restore and the restored one; the
growth is a least-squares slope after each one's first fifth; the
floor, the smallest sample of each 10^5-I/O window, from its second
window on, is the better measure: RSS counts the guest pages mapped for
DMA until an invalidate drops them.)
PASS: zero
data and image errors, QEMU alive at every sample, the map cache never
above its cap and, once the driver has stopped its ports, as many
locked entries as before it started, the restore done (unless
--no-restore).  Exit 0 only on PASS.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "xensim", "py"))
import xensim  # noqa: E402

PORTS = 6
SAVE_RESTORE = os.path.join(TOP, "tests", "drive-aio",
                            "libxl-save-restore.py")


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def alive(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            return "State:\tZ" not in f.read()
    except OSError:
        return False


def parse(line):
    return dict(w.split("=", 1) for w in line.split()[1:] if "=" in w)


def growth_per_100k(samples):
    """Least-squares slope of one QEMU's RSS over I/Os after its warm-up
    (the first fifth of its samples dropped), in KiB per 10^5 I/Os."""
    if len(samples) < 3:
        return None
    pts = samples[len(samples) // 5:]
    if len(pts) < 2:
        return None
    n = len(pts)
    mx = sum(i for i, _ in pts) / n
    my = sum(r for _, r in pts) / n
    den = sum((i - mx) ** 2 for i, _ in pts)
    if not den:
        return None
    return sum((i - mx) * (r - my) for i, r in pts) / den * 1e5


def floor_growth_per_100k(samples):
    """RSS floor: the smallest sample of each 10^5-I/O window (the guest
    RAM the DMA touches is mapped, and counted in RSS, until an
    invalidate drops the unlocked mappings; the floor is what QEMU keeps
    for itself).  Returns (first, last, growth per window) over one
    QEMU's windows after its first (warm-up), or None."""
    wins, count = {}, {}
    for ios, rss in samples:
        w = ios // 100000
        wins[w] = min(wins.get(w, rss), rss)
        count[w] = count.get(w, 0) + 1
    # full windows only (a window holds ten samples at the default
    # --report-every), after the first
    most = max(count.values())
    keys = [w for w in sorted(wins)[1:] if count[w] * 2 > most]
    if len(keys) < 2:
        return None
    first, last = wins[keys[0]], wins[keys[-1]]
    return first, last, (last - first) / (keys[-1] - keys[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("qemu")
    ap.add_argument("--ios", type=int, default=10 ** 6)
    ap.add_argument("--seed", type=int, default=49)
    ap.add_argument("--report-every", type=int, default=10 ** 4)
    ap.add_argument("--no-restore", action="store_true")
    ap.add_argument("--no-faults", action="store_true")
    ap.add_argument("--faults", help="soak-io's --faults (default all)")
    ap.add_argument("--mapcache-cap", default="128M")
    opts = ap.parse_args()
    sim = os.path.join(opts.build, "xensim")
    drv = os.path.join(opts.build, "soak", "soak-io")
    errors = []
    samples = []            # (ios, rss) of the QEMU serving now
    samples_before = []     # ... of the one before the restore
    mc_peak = mc_cap = 0
    mc_over = []
    restored = False
    result = {}
    t0 = time.time()

    def error(msg):
        errors.append(msg)
        print("   ERROR " + msg, flush=True)

    with tempfile.TemporaryDirectory(prefix="soak.") as tmp:
        imgs = [os.path.join(tmp, "disk%d.img" % p) for p in range(PORTS)]
        # a map cache cap below what the batches keep locked (one or two
        # 1 MiB buckets per command, 192 commands over 96 MiB)
        args = ["-machine", "q35", "-accel",
                "xen,mapcache-max-size=%s" % opts.mapcache_cap]
        for p, path in enumerate(imgs):
            subprocess.run([drv, "--mkimage", path, str(p)], check=True)
            args += ["-drive", "file=%s,if=none,id=ahcidisk-%d,format=raw,"
                     "cache=writeback" % (path, p),
                     "-device", "ide-hd,bus=ide.%d,unit=0,drive=ahcidisk-%d"
                     % (p, p)]
        g = xensim.Guest(sim, opts.qemu, args, memory=512, domid=49,
                         vcpus=2, vga="std")
        if not g.ok:
            print(g.launch_log[-3000:])
            print("summary: result=FAIL (the device model did not start)")
            return 1
        pid = g.pid
        mc0 = g.qmp.run("query-xen-mapcache")
        mc_cap = mc0.get("max-bytes", 0)
        print("start: QEMU %d, Q35 with 6 AHCI disks; map cache cap %d "
              "bytes" % (pid, mc_cap), flush=True)
        env = dict(os.environ, **g.env)
        cmd = [drv, "--ios", str(opts.ios), "--seed", str(opts.seed),
               "--report-every", str(opts.report_every),
               "--domid", g.env["XENSIM_DOMID"]]
        if not opts.no_restore:
            cmd += ["--pause-at", str(opts.ios // 2)]
        if opts.no_faults:
            cmd += ["--no-faults"]
        if opts.faults:
            cmd += ["--faults", opts.faults]
        for path in imgs:
            cmd += ["--image", path]
        cmd = os.environ.get("SOAK_WRAP", "").split() + cmd
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=env)
        try:
            for line in p.stdout:
                line = line.rstrip("\n")
                print(line, flush=True)
                word = line.split()[0] if line.split() else ""
                if word not in ("progress", "pause", "done"):
                    if word == "summary:":
                        result = parse(line)
                    continue
                fig = parse(line)
                ios = int(fig["ios"])
                if not alive(pid):
                    error("QEMU %d is gone at %d I/Os" % (pid, ios))
                    break
                rss = rss_kib(pid)
                mc = g.qmp.run("query-xen-mapcache")
                mc_peak = max(mc_peak, mc["bytes-mapped"])
                if mc_cap and mc["bytes-mapped"] > mc_cap:
                    mc_over.append((ios, mc["bytes-mapped"]))
                samples.append((ios, rss))
                print("sample: ios=%d rss_kib=%d mc_entries=%d mc_locked=%d "
                      "mc_bytes=%d mc_invalidates=%d mc_failures=%d" % (
                          ios, rss, mc["entries"], mc["locked"],
                          mc["bytes-mapped"], mc["invalidates"],
                          mc["failures"]), flush=True)
                if word != "pause":
                    continue
                # xl save, then xl restore into a new device model
                run_dir = g.env["XENSIM_RUN_DIR"]
                image = os.path.join(tmp, "qemu-save")
                g.qmp.close()
                s = subprocess.run(["python3", SAVE_RESTORE, "save",
                                    run_dir, image], capture_output=True,
                                   text=True, timeout=120)
                if s.returncode:
                    error("save: %s" % s.stderr.strip())
                    break
                r = subprocess.run(["python3", SAVE_RESTORE, "restore",
                                    run_dir, image], capture_output=True,
                                   text=True, timeout=180)
                if r.returncode or not r.stdout.strip():
                    error("restore: %s" % r.stderr.strip())
                    break
                pid = int(r.stdout.split()[0])
                g.env["XENSIM_QEMU_PID"] = str(pid)
                g.qmp = xensim.Qmp(g.env["XENSIM_QMP"], timeout=30)
                restored = True
                print("restore: QEMU %d from the saved state (-incoming "
                      "fd:N), RSS %d KiB" % (pid, rss_kib(pid) or 0),
                      flush=True)
                p.stdin.write("go\n")
                p.stdin.flush()
                samples_before, samples = samples, []
        finally:
            if p.poll() is None:
                p.kill()
            rc = p.wait()
            mc1 = None
            try:
                mc1 = g.qmp.run("query-xen-mapcache")
            except Exception:   # pylint: disable=broad-except
                pass
            qemu_alive = alive(pid)
            log = g.log()
            g.stop()
    if rc != 0:
        error("soak-io exited with status %d" % rc)
    if not qemu_alive:
        error("QEMU is not alive at the end; its log ends: %s" %
              " | ".join(log.splitlines()[-3:]))
    if result.get("result") != "PASS":
        error("the guest's verdict: %s" % result.get("result", "none"))
    if mc_over:
        error("map cache above its cap %d: %s" % (mc_cap, mc_over[:3]))
    # the driver stopped its ports at the end: no DMA, no command list
    # or FIS area is mapped, so what stays locked is what was before it
    # started (the VRAM and ROM blocks)
    if mc1 and mc1["locked"] != mc0["locked"]:
        error("map cache: %d locked entries at the end, %d before the "
              "guest's driver started" % (mc1["locked"], mc0["locked"]))
    if not opts.no_restore and not restored:
        error("no save/restore happened")
    secs = time.time() - t0
    ios = int(result.get("ios", 0))
    line = "figures: ios=%d secs=%.0f iops=%.0f mc_max_bytes=%d " \
        "mc_peak_bytes=%d restored=%s" % (ios, secs, ios / max(secs, 1e-9),
                                          mc_cap, mc_peak,
                                          "yes" if restored else "no")
    for what, ss in (("before", samples_before), ("after", samples)):
        if not ss:
            continue
        gr = growth_per_100k(ss)
        line += " rss_%s_kib=%d..%d rss_%s_growth_kib_per_100k=%s" % (
            what, ss[0][1], ss[-1][1], what,
            "%.0f" % gr if gr is not None else "-")
        fl = floor_growth_per_100k(ss)
        if fl:
            line += " rss_%s_floor_kib=%d..%d rss_%s_floor_growth_kib_" \
                "per_100k=%.0f" % (what, fl[0], fl[1], what, fl[2])
    print(line, flush=True)
    ok = not errors and ios >= opts.ios
    print("summary: ios=%d data_errors=%s image_errors=%s recovered=%s "
          "errors=%d result=%s" % (ios, result.get("data_errors", "?"),
                                   result.get("image_errors", "?"),
                                   result.get("recovered", "?"),
                                   len(errors), "PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
