#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The launcher's device-model argv against real libxl's (issue #13).

Debian's real xl 4.17 creates HVM guests on xensim-hv --toolstack for a
set of xl.cfg files (six AHCI disks, IDE disks with qcow2, CD-ROMs,
dm_restrict = 1); the argv libxl built is read from the device model's
/proc/PID/cmdline.  Then build/xensim/run (the launcher) starts the same
guest with the matching options, and its argv (from its --summary-json)
must be libxl's, after the two differences that are not the guest's:
the run directory (libxl's /var/run/xen, the launcher's private one)
and the number of the pre-opened QMP fd.  Real libxl is the oracle: a
difference is a launcher bug.  Each launcher run must also pass its own
checks (QEMU reaches "running", or with dm_restrict QMP query-status =
prelaunch before `cont`).

Prints TAP (a plan, then lines without numbers, "ok - ..."); the suite
(tests/check.d/36-xensim-xl.sh) numbers them.  XL_ARGV_ONLY=0,2 runs
only those cases.  Runs in a private mount namespace (re-executes itself
under `unshare -m`), with the dm_restrict users of xl-e2e.py.
"""
import argparse
import difflib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.realpath(__file__))
_spec = importlib.util.spec_from_file_location(
    "xl_e2e", os.path.join(HERE, "xl-e2e.py"))
xl_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(xl_e2e)

XL = xl_e2e.XL
XENCONSOLED = xl_e2e.XENCONSOLED
NAME = "xsim-argv"
MEMORY_MIB = 64
QCOW2_MAGIC = b"QFI\xfb"


def make_images(d, qemu_img):
    """Raw and qcow2 disks, an ISO: path by name."""
    paths = {}
    for i in range(6):
        paths["raw%d" % i] = os.path.join(d, "raw%d.img" % i)
        with open(paths["raw%d" % i], "wb") as f:
            f.truncate(8 << 20)
    paths["qcow2"] = os.path.join(d, "disk.qcow2")
    if subprocess.run([qemu_img, "create", "-q", "-f", "qcow2",
                       paths["qcow2"], "16M"]).returncode:
        paths.pop("qcow2")          # the qcow2 case is left out, and said
    paths["iso"] = os.path.join(d, "cd.iso")
    with open(paths["iso"], "wb") as f:
        f.write(b"C" * (1 << 20))
    return paths


def qdisk(vdev, path, fmt="raw"):
    """An xl.cfg disk QEMU backs (qdisk: xensim has no blkback)."""
    return "format=%s,vdev=%s,access=rw,backendtype=qdisk,target=%s" % (
        fmt, vdev, path)


def cdrom(vdev, path):
    if not path:
        return "vdev=%s,access=ro,devtype=cdrom,format=empty" % vdev
    return "format=raw,vdev=%s,access=ro,devtype=cdrom,target=%s" % (
        vdev, path)


def cases(p):
    """(name, xl.cfg disks, other xl.cfg lines, launcher options)."""
    ahci = [("raw%d" % i, "xvd%c" % (ord("a") + i)) for i in range(6)]
    out = [
        ("6 AHCI disks (hdtype = ahci, xvda-xvdf)",
         [qdisk(v, p[k]) for k, v in ahci], ['hdtype = "ahci"'],
         ["--hdtype", "ahci"] +
         sum((["--disk", "%s,vdev=%s,format=raw" % (p[k], v)]
              for k, v in ahci), [])),
        ("IDE disks hda/hdb and a CD on hdc (hdc:cdrom)",
         [qdisk("hda", p["raw0"]), qdisk("hdb", p["raw1"]),
          cdrom("hdc", p["iso"])], [],
         ["--disk", "%s,vdev=hda" % p["raw0"],
          "--disk", "%s,vdev=hdb" % p["raw1"],
          "--cdrom", "%s,vdev=hdc,format=raw" % p["iso"]]),
        ("AHCI disks with a CD on hdc and an empty CD on hdd",
         [qdisk("hda", p["raw0"]), cdrom("hdc", p["iso"]),
          cdrom("hdd", None), qdisk("xvde", p["raw4"])],
         ['hdtype = "ahci"'],
         ["--hdtype", "ahci", "--disk", "%s,vdev=hda" % p["raw0"],
          "--cdrom", "%s,vdev=hdc" % p["iso"], "--cdrom", ",vdev=hdd",
          "--disk", "%s,vdev=xvde" % p["raw4"]]),
        ("dm_restrict = 1 (pre-opened QMP fd, -S, chroot, runas)",
         [qdisk("hda", p["raw0"])], ["dm_restrict = 1"],
         ["--disk", "%s,vdev=hda" % p["raw0"], "--dm-restrict"]),
    ]
    if "qcow2" in p:
        out.insert(2, (
            "a qcow2 disk and a raw one on IDE (format = qcow2)",
            [qdisk("hda", p["qcow2"], "qcow2"), qdisk("hdb", p["raw1"])],
            [],
            ["--disk", "%s,vdev=hda,format=qcow2" % p["qcow2"],
             "--disk", "%s,vdev=hdb,format=raw" % p["raw1"]]))
    return out


def normalise(argv, run_dir):
    """Only what is not the guest's: the run directory and fd numbers."""
    out = []
    for a in argv:
        a = a.replace(run_dir.rstrip("/") + "/", "RUN/")
        out.append(re.sub(r"\bfd=\d+", "fd=N", a))
    return out


def argv_diff(want, got):
    return "\n".join(difflib.unified_diff(want, got, "libxl", "launcher",
                                          lineterm="", n=1))


class Toolstack:
    """xenstored, xensim-hv --toolstack and xenconsoled for real xl."""

    def __init__(self, xensim, d):
        self.d = d
        shim = os.path.join(xensim, "shim", "libxensim-devxen.so")
        self.paths = {k: os.path.join(d, k)
                      for k in ("xs.sock", "hv.sock", "hv.ctl")}
        self.env = dict(os.environ, XENSTORED_PATH=self.paths["xs.sock"],
                        XENSIM_SOCKET=self.paths["hv.sock"],
                        LD_PRELOAD=shim)
        self.env.pop("XLE2E_NS", None)
        plain = dict(self.env)
        plain.pop("LD_PRELOAD")
        self.procs = []
        self.spawn("xenstored", [os.path.join(xensim, "xenstored"),
                                 "--socket", self.paths["xs.sock"]], plain)
        self.spawn("hv", [os.path.join(xensim, "xensim-hv"), "--socket",
                          self.paths["hv.sock"], "--control",
                          self.paths["hv.ctl"], "--toolstack"], plain)
        xl_e2e.wait_for(lambda: all(os.path.exists(v)
                                    for v in self.paths.values()), 20)
        xl_e2e.xs(self.env, "write", "/local/pool/0/name", "Pool-0")
        self.spawn("xenconsoled", [XENCONSOLED, "-i", "--log=none"],
                   self.env)

    def spawn(self, name, argv, env):
        log = open(os.path.join(self.d, name + ".log"), "w")
        self.procs.append((subprocess.Popen(argv, env=env, stdout=log,
                                            stderr=subprocess.STDOUT), log))

    def xl(self, *args, timeout=90):
        r = subprocess.run([XL, "-vvv"] + list(args), env=self.env,
                           capture_output=True, text=True, timeout=timeout)
        with open(os.path.join(self.d, "xl.log"), "a") as f:
            f.write("$ xl %s\n%s%s" % (" ".join(args), r.stdout, r.stderr))
        return r

    def libxl_argv(self, cfg_path):
        """xl create, the argv of libxl's device model, xl destroy."""
        r = self.xl("create", cfg_path)
        if r.returncode:
            return None, "xl create failed: " + r.stderr[-1500:]
        domid = self.xl("domid", NAME).stdout.strip()
        pid = xl_e2e.dm_pid(self.env, domid)
        argv = xl_e2e.dm_argv(pid) if pid else None
        self.xl("destroy", NAME)
        if pid:
            xl_e2e.wait_for(lambda: not xl_e2e.alive(pid), 15)
        for p in xl_e2e.xl_processes(cfg_path):
            os.kill(p, signal.SIGKILL)
        return (argv, int(domid)) if argv else (None, "no device model")

    def stop(self):
        xl_e2e.stop_procs([p for p, _ in self.procs])
        for _, log in self.procs:
            log.close()


def launcher_argv(xensim, dm, domid, opts, d):
    """Run the launcher with the same guest: (argv, run dir, ok, text)."""
    summary = os.path.join(d, "launch-%d.json" % domid)
    r = subprocess.run([os.path.join(xensim, "run"), "--domid", str(domid),
                        "--name", NAME, "--memory", str(MEMORY_MIB),
                        "--summary-json", summary] + opts + ["--", dm],
                       capture_output=True, text=True, timeout=180)
    try:
        with open(summary) as f:
            res = json.load(f)
    except (OSError, ValueError):
        return None, None, False, r.stderr[-1500:]
    return (res.get("argv"), res.get("run_dir"), r.returncode == 0,
            r.stdout[-1500:] + r.stderr[-1500:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--xensim", required=True, help="build/xensim")
    ap.add_argument("--dm", required=True, help="device_model_override")
    ap.add_argument("--qemu-img", help="default: build/qemu-img")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    xl_e2e.private_namespace(True)
    a.xensim = os.path.abspath(a.xensim)
    a.dm = os.path.abspath(a.dm)
    d = tempfile.mkdtemp(prefix="xensim-xl-argv.")
    ts = None
    try:
        ts = Toolstack(a.xensim, d)
        images = make_images(d, a.qemu_img or os.path.join(
            a.xensim, "..", "qemu-img"))
        only = os.environ.get("XL_ARGV_ONLY")
        todo = [c for i, c in enumerate(cases(images))
                if only is None or str(i) in only.split(",")]
        print("1..%d" % (2 * len(todo) + ("qcow2" not in images)),
              flush=True)
        if "qcow2" not in images:
            xl_e2e.report(False, "argv: qemu-img made a qcow2 image")
        for i, (what, disks, extra, opts) in enumerate(todo):
            cfg = os.path.join(d, "guest%d.cfg" % i)
            with open(cfg, "w") as f:
                f.write('type = "hvm"\nname = "%s"\nmemory = %d\n'
                        'vcpus = 1\ndisk = [ %s ]\n'
                        'device_model_override = "%s"\nvnc = 0\n'
                        'on_crash = "destroy"\n%s'
                        % (NAME, MEMORY_MIB,
                           ",\n  ".join('"%s"' % x for x in disks), a.dm,
                           "".join(x + "\n" for x in extra)))
            want, domid = ts.libxl_argv(cfg)
            if want is None:
                xl_e2e.report(False, "argv: %s: real libxl's argv (%s)"
                              % (what, domid))
                continue
            xl_e2e.diag("libxl: " + " ".join(want))
            got, run_dir, ok, out = launcher_argv(a.xensim, a.dm, domid,
                                                  opts, d)
            if got is None:
                xl_e2e.report(False, "argv: %s: the launcher's argv" % what)
                xl_e2e.diag(out)
                continue
            want = normalise(want, "/var/run/xen")
            got = normalise(got, run_dir)
            if not xl_e2e.report(want == got, "argv: %s: the launcher "
                                 "builds real libxl's argv" % what):
                xl_e2e.diag(argv_diff(want, got))
            if not xl_e2e.report(ok, "argv: %s: the launcher's run of it "
                                 "passes" % what):
                xl_e2e.diag(out)
    finally:
        if ts:
            ts.stop()
        if a.keep:
            xl_e2e.diag("logs kept in " + d)
        else:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
