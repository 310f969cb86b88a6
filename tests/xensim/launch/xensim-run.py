#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""xensim launcher: start a device model the way libxl 4.17 does, on xensim.

Installed as build/xensim/run.  It starts xensim's xenstored and
hypervisor (xensim-hv) with sockets in a private temporary directory,
writes the xenstore nodes libxl writes before the spawn, spawns the given
QEMU with the argv libxl builds for an HVM guest, waits for
device-model/<domid>/state = "running", talks QMP to it as libxl does
(new connection per operation, ids from 0x786c7100, \\r\\n framing), can
drive a short guest workload through the hypervisor's control socket, and
tears down with SIGHUP as `xl destroy` does.  See README-launch.md.
Its xenstore, QMP and control-socket clients are the shared ones of
py/xensim.py (installed next to it as build/xensim/py/xensim.py).

Invariants: every wait is bounded; every process it starts is stopped
(unless --keep); the exit status is 0 only if every check passed,
EXIT_NOT_BUILT when the simulator is not built, 1 otherwise.
"""

import argparse
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

EXIT_NOT_BUILT = 77

DM_START_TIMEOUT = 60              # LIBXL_DEVICE_MODEL_START_TIMEOUT
SIGHUP_EXIT_TIMEOUT = 20
HELPER_START_TIMEOUT = 20

VIDEORAM_MIB = {"cirrus": 8, "std": 16, "none": 0}

XEN_PLATFORM_MAGIC = 0x49d2        # xen-platform fixed I/O port 0x10
AHCI_ICH9_ID = 0x29228086
AHCI_ABAR = 0xf1000000             # in the MMIO hole, as hvmloader would

HERE = os.path.dirname(os.path.realpath(__file__))
# Installed as build/xensim/run next to build/xensim/py/; in the source
# tree as launch/xensim-run.py next to ../py/.
sys.path.insert(0, os.path.join(HERE, "py"))
sys.path.insert(1, os.path.join(HERE, "..", "py"))
from xensim import (Control, Failure, LIBXL_QMP_ID_BASE,  # noqa: E402
                    QMP_CMD_TIMEOUT, Qmp, XenStore, lib_env, pci_scan)

# Which Xen libraries the device model runs on ($XENSIM_LIBS, --libs):
# "real" (the default) = Debian's own libxen* over the devxen shim
# (LD_PRELOAD, see README-devxen.md), "sim" = xensim's replacement
# libraries (LD_LIBRARY_PATH=lib/), kept as a fallback.
SHIM = os.path.join(HERE, "shim", "libxensim-devxen.so")


def log(msg):
    """Progress goes to stderr; stdout carries the summary or --keep env."""
    print("xensim-run: " + msg, file=sys.stderr, flush=True)


# ---- the launcher --------------------------------------------------------

def libxl_argv(opts, run_dir, qemu_args, qmp_fd=None):
    """The device-model argv libxl 4.17 builds (libxl-dm.md section 1,
    libxl__build_device_model_args_new()); qmp_fd: dm_restrict's
    pre-opened QMP socket."""
    d = opts.domid
    argv = [opts.qemu, "-xen-domid", str(d), "-no-shutdown", "-chardev"]
    if qmp_fd is not None:
        # libxl listens itself and starts QEMU stopped (query-status =
        # prelaunch until "cont").
        argv += ["socket,id=libxl-cmd,fd=%d,server=on,wait=off" % qmp_fd,
                 "-S"]
    else:
        argv += ["socket,id=libxl-cmd,path=%s/qmp-libxl-%d,server=on,"
                 "wait=off" % (run_dir, d)]
    argv += ["-mon", "chardev=libxl-cmd,mode=control",
             "-chardev", "socket,id=libxenstat-cmd,path=%s/qmp-libxenstat-"
             "%d,server=on,wait=off" % (run_dir, d),
             "-mon", "chardev=libxenstat-cmd,mode=control"]
    argv += ["-nodefaults", "-no-user-config", "-name", opts.name,
             "-vnc", "none", "-display", "none"]
    if opts.serial:
        argv += ["-serial", "pty"]
    videoram = VIDEORAM_MIB[opts.vga]
    if opts.vga == "cirrus":
        argv += ["-device", "cirrus-vga,vgamem_mb=%d" % videoram]
    elif opts.vga == "std":
        argv += ["-device", "VGA,vgamem_mb=%d" % videoram]
    argv += ["-boot", "order=cda"]
    if opts.vcpus > 1:
        argv += ["-smp", "%d,maxcpus=%d" % (opts.vcpus, opts.vcpus)]
    argv += ["-net", "none"]
    if opts.dm_restrict:
        argv += ["-xen-domid-restrict", "-chroot", chroot_dir(run_dir, d)]
    argv += ["-machine", "xenfv,suppress-vmdesc=on"]
    # device_model_args_hvm: verbatim, right after the machine (section 1)
    argv += qemu_args
    argv += ["-m", str(opts.memory - videoram)]
    if opts.hdtype == "ahci":
        argv += ["-device", "ahci,id=ahci0"]
    for disk in opts.disks:
        argv += disk_args(disk, opts.hdtype)
    if opts.dm_restrict:
        argv += ["-runas", opts.dm_user]
    return argv


def chroot_dir(run_dir, domid):
    return "%s/qemu-root-%d" % (run_dir, domid)


def disk_args(disk, hdtype):
    """One disk's options, as libxl's per-disk loop (section 1.3)."""
    idx, devnum = disk["index"], disk["devnum"]
    if disk["cdrom"]:
        drive = "if=none,readonly=on,id=ide-%d" % devnum
        if disk["path"]:
            drive += ",file=%s,format=%s" % (disk["path"], disk["format"])
        return ["-drive", drive, "-device",
                "ide-cd,id=ide-%d,drive=ide-%d,bus=ide.%d,unit=%d"
                % (devnum, devnum, idx // 2, idx % 2)]
    if hdtype == "ahci" and idx < 6:
        return ["-drive", "file=%s,if=none,id=ahcidisk-%d,format=%s,"
                "cache=writeback" % (disk["path"], idx, disk["format"]),
                "-device", "ide-hd,bus=ahci0.%d,unit=0,drive=ahcidisk-%d"
                % (idx, idx)]
    return ["-drive", "file=%s,if=ide,index=%d,media=disk,format=%s,"
            "cache=writeback" % (disk["path"], idx, disk["format"])]


def vdev_number(vdev):
    """(disk index, device number) of a vdev, as
    libxl__device_disk_dev_number(): hd[a-d], xvd<letters>, sd[a-p]."""
    m = re.fullmatch(r"(hd|sd|xvd)([a-z]+)", vdev)
    if not m:
        return None
    idx = 0
    for c in m.group(2):
        idx = idx * 26 + ord(c) - ord("a") + 1
    idx -= 1
    if m.group(1) == "hd" and idx < 4:
        return idx, ((3 if idx < 2 else 22) << 8) | ((idx & 1) << 6)
    if m.group(1) == "xvd" and idx <= 15:
        return idx, (202 << 8) | (idx << 4)
    return None         # sd*: the launcher has no SCSI; past hdd: none


def disk_format(path):
    with open(path, "rb") as f:
        magic = f.read(4)
    return "qcow2" if magic == b"QFI\xfb" else "raw"


def parse_disk(spec, cdrom, used, hdtype):
    """--disk/--cdrom IMG[,vdev=VDEV][,format=FMT]: a disk dict, or an
    error string.  Without vdev: the first free index (hda...hdd, then
    xvde...; a CD: hdc).  Without format: qcow2 if the image says so,
    else raw (xl wants format= for anything but raw)."""
    path, *keys = spec.split(",")
    disk = {"path": os.path.abspath(path) if path else "", "cdrom": cdrom,
            "format": None, "vdev": None}
    for kv in keys:
        k, _, v = kv.partition("=")
        if k not in ("vdev", "format") or not v:
            return "%s: unknown or empty key '%s'" % (spec, kv)
        disk[k] = v
    if not disk["path"] and not cdrom:
        return "%s: a disk needs an image" % spec
    if disk["path"] and not os.path.isfile(disk["path"]):
        return "no such disk image: %s" % disk["path"]
    if disk["format"] not in (None, "raw", "qcow2"):
        return "%s: format raw or qcow2" % spec
    if disk["vdev"] is None:
        free = [i for i in range(6) if i not in used]
        if cdrom and 2 not in used:
            free = [2]
        if not free:
            return "%s: no free disk index" % spec
        disk["vdev"] = ("hd%c" if free[0] < 4 else "xvd%c") % (
            ord("a") + free[0])
    num = vdev_number(disk["vdev"])
    if num is None:
        return "%s: vdev hda-hdd or xvda-xvdp" % spec
    disk["index"], disk["devnum"] = num
    if disk["index"] in used:
        return "%s: disk index %d used twice" % (spec, disk["index"])
    # libxl's checks: a CD past index 4, an IDE disk past 3 or an AHCI
    # one past 5 is left to PV drivers (index 4 passes for a CD, though
    # PIIX3 has no ide.2: QEMU then refuses the argv).
    limit = 5 if cdrom else 4 if hdtype == "ide" else 6
    if disk["index"] >= limit:
        # libxl leaves such a disk to PV drivers (a warning); no emulation
        return "%s: libxl emulates no %s at index %d" % (
            spec, "CD" if cdrom else "%s disk" % hdtype.upper(),
            disk["index"])
    if disk["path"] and disk["format"] is None:
        disk["format"] = disk_format(disk["path"])
    return disk


def wait_for(cond, timeout, what, alive=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        if alive is not None and alive.poll() is not None:
            raise Failure("%s exited (status %s) before %s"
                          % (alive.args[0], alive.returncode, what))
        time.sleep(0.05)
    raise Failure("timed out after %d s waiting for %s" % (timeout, what))


def can_connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


class Launch:
    def __init__(self, opts, qemu_args):
        self.opts = opts
        self.qemu_args = qemu_args
        self.dir = tempfile.mkdtemp(prefix="xensim-run.")
        self.paths = {
            "xenstored": os.path.join(self.dir, "xenstored.sock"),
            "hv": os.path.join(self.dir, "xensim.sock"),
            "control": os.path.join(self.dir, "xensim-control.sock"),
            "qmp": os.path.join(self.dir, "qmp-libxl-%d" % opts.domid),
            "qmp_stat": os.path.join(self.dir,
                                     "qmp-libxenstat-%d" % opts.domid),
            "qemu_log": os.path.join(self.dir,
                                     "qemu-dm-%s.log" % opts.name),
        }
        self.procs = {}
        self.xs = None
        self.summary = []
        self.checks_failed = 0
        self.result = {"qemu": opts.qemu, "domid": opts.domid,
                       "memory_mib": opts.memory, "vcpus": opts.vcpus,
                       "disks": [d["vdev"] + (":cdrom" if d["cdrom"] else "")
                                 + "=" + d["path"] for d in opts.disks],
                       "hdtype": opts.hdtype, "dm_restrict": opts.dm_restrict,
                       "run_dir": self.dir}

    # -- helpers

    def note(self, ok, what):
        self.summary.append(("ok  " if ok else "FAIL") + "  " + what)
        if not ok:
            self.checks_failed += 1
        log(("ok: " if ok else "FAILED: ") + what)

    def spawn(self, key, argv, env=None, log_name=None, pass_fds=()):
        out = open(os.path.join(self.dir, log_name or key + ".log"), "wb")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, env=env,
                                start_new_session=True, pass_fds=pass_fds)
        out.close()
        self.procs[key] = proc
        with open(os.path.join(self.dir, "pids"), "a") as f:
            f.write("%s %d\n" % (key, proc.pid))
        return proc

    def env(self):
        env = lib_env(dict(os.environ), self.opts.libs, HERE)
        env["XENSIM_SOCKET"] = self.paths["hv"]
        env["XENSTORED_PATH"] = self.paths["xenstored"]
        env["XENSTORED_RUNDIR"] = self.dir
        env.setdefault("XEN_QEMU_CONSOLE_LIMIT", "1048576")
        env["XEN_DOMAIN_ID"] = str(self.opts.domid)
        return env

    # -- stages

    def start_helpers(self):
        xenstored = os.path.join(HERE, "xenstored")
        hv = os.path.join(HERE, "xensim-hv")
        libs = (SHIM if self.opts.libs == "real" else
                os.path.join(HERE, "lib", "libxenctrl.so.4.17"))
        missing = [p for p in (xenstored, hv, libs) if not os.path.exists(p)]
        if missing:
            raise NotBuilt("simulator not built: missing "
                           + ", ".join(missing))
        xs = self.spawn("xenstored", [xenstored, "--socket",
                                      self.paths["xenstored"]]
                        + (["--verbose"] if self.opts.verbose else []))
        wait_for(lambda: can_connect(self.paths["xenstored"]),
                 HELPER_START_TIMEOUT, "xenstored's socket", xs)
        mem = self.opts.memory - VIDEORAM_MIB[self.opts.vga]
        hvp = self.spawn("hv", [hv, "--socket", self.paths["hv"],
                                "--control", self.paths["control"],
                                "--domid", str(self.opts.domid),
                                "--memory", str(mem),
                                "--vcpus", str(self.opts.vcpus),
                                "--quiet"]
                        + (["--timeout-ms", str(self.opts.hv_timeout_ms)]
                           if self.opts.hv_timeout_ms else []))
        wait_for(lambda: os.path.exists(self.paths["hv"]) and
                 os.path.exists(self.paths["control"]),
                 HELPER_START_TIMEOUT, "xensim-hv's sockets", hvp)
        log("xenstored pid %d, xensim-hv pid %d, run dir %s"
            % (xs.pid, hvp.pid, self.dir))
        self.xs = XenStore(self.paths["xenstored"])

    def write_libxl_nodes(self):
        """What libxl writes before spawning the DM (libxl-dm.md 3.1)."""
        d, xs = self.opts.domid, self.xs
        dom = "/local/domain/%d" % d
        xs.write("/libxl/%d/dm-version" % d, "qemu_xen")
        xs.mkdir(dom)
        xs.set_perms(dom, "n0", "r%d" % d)
        xs.write(dom + "/name", self.opts.name)
        xs.write(dom + "/domid", str(d))
        for key, val in (("acpi", "1"), ("acpi_s3", "1"), ("acpi_s4", "1"),
                         ("acpi_laptop_slate", "0"),
                         ("device-model", "qemu_xen")):
            xs.write(dom + "/platform/" + key, val)
        xs.write(dom + "/hvmloader/bios", "seabios")
        xs.write(dom + "/hvmloader/allow-memory-relocate", "0")
        xs.mkdir("/local/domain/0/device-model/%d" % d)

    def spawn_qemu(self):
        listener = None
        if self.opts.dm_restrict:
            # As libxl: the QMP socket bound and listening (backlog 1)
            # before the spawn, its fd passed; the chroot made mode 0000.
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(self.paths["qmp"])
            listener.listen(1)
            os.mkdir(chroot_dir(self.dir, self.opts.domid), 0o000)
        argv = libxl_argv(self.opts, self.dir, self.qemu_args,
                          listener.fileno() if listener else None)
        self.result["argv"] = argv
        with open(os.path.join(self.dir, "qemu-argv"), "w") as f:
            f.write(" ".join(shlex.quote(a) for a in argv) + "\n")
        log("spawning " + " ".join(shlex.quote(a) for a in argv))
        if not listener:
            self.watch_state()
        try:
            qemu = self.spawn("qemu", argv, env=self.env(),
                              log_name=os.path.basename(
                                  self.paths["qemu_log"]),
                              pass_fds=(listener.fileno(),) if listener
                              else ())
        finally:
            if listener:
                # Only QEMU holds it now: if QEMU dies, QMP sees EOF.
                listener.close()
        self.xs.write("/local/domain/%d/image/device-model-pid"
                      % self.opts.domid, str(qemu.pid))
        return qemu

    def watch_state(self):
        self.state_path = ("/local/domain/0/device-model/%d/state"
                           % self.opts.domid)
        self.xs.watch(self.state_path, "dm-state")

    def wait_running(self, qemu):
        """libxl's readiness wait: a watch on state, 60 s, QEMU alive;
        with dm_restrict, QMP query-status instead (qmp_postconfig)."""
        if self.opts.dm_restrict:
            return
        start = time.monotonic()
        deadline = start + DM_START_TIMEOUT
        while True:
            if self.xs.read(self.state_path) == "running":
                break
            if qemu.poll() is not None:
                raise Failure("QEMU exited with status %s before 'running'"
                              % qemu.returncode)
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("state not 'running' after %d s"
                              % DM_START_TIMEOUT)
            self.xs.wait_event(min(left, 0.5))
        self.xs.unwatch(self.state_path, "dm-state")
        self.result["running_after_s"] = round(time.monotonic() - start, 1)
        self.note(True, "device-model state = running after %.1f s"
                  % (time.monotonic() - start))
        for key in ("qmp", "qmp_stat"):
            if not os.path.exists(self.paths[key]):
                raise Failure("QMP socket %s missing" % self.paths[key])

    def qmp_postconfig(self):
        """libxl's first connection after the spawn, plus unpause."""
        transcript = []
        # Without dm_restrict QEMU is running once it wrote "state";
        # with it, libxl's readiness is query-status = prelaunch (-S).
        want = "prelaunch" if self.opts.dm_restrict else "running"
        try:
            start = time.monotonic()
            conn = Qmp(self.paths["qmp"], transcript,
                       timeout=DM_START_TIMEOUT if self.opts.dm_restrict
                       else QMP_CMD_TIMEOUT)
            conn.timeout = QMP_CMD_TIMEOUT
            conn.sock.settimeout(QMP_CMD_TIMEOUT)
            self.result["qemu_version"] = "%d.%d.%d" % conn.greeting
            self.note(True, "QMP greeting (QEMU %s) and qmp_capabilities "
                      "(id %#x)%s" % (self.result["qemu_version"],
                                      LIBXL_QMP_ID_BASE,
                                      " on the pre-opened socket after "
                                      "%.1f s" % (time.monotonic() - start)
                                      if self.opts.dm_restrict else ""))
            status = conn.execute("query-status")
            status = status.get("status") if isinstance(status, dict) \
                else status
            self.result["status"] = status
            self.note(status == want, "query-status: %s" % status)
            chardevs = conn.execute("query-chardev")
            if not isinstance(chardevs, list) or \
                    not all(isinstance(c, dict) for c in chardevs):
                raise Failure("query-chardev did not return a list of "
                              "objects")
            labels = [str(c.get("label")) for c in chardevs]
            self.note("libxl-cmd" in labels,
                      "query-chardev: %s" % ", ".join(labels))
            for c in chardevs:
                label = str(c.get("label", ""))
                fname = str(c.get("filename", ""))
                if label.startswith("serial") and fname.startswith("pty:"):
                    node = "/local/domain/%d/serial/%s/tty" % (
                        self.opts.domid, label[6:])
                    self.xs.write(node, fname[4:])
                    self.note(self.xs.read(node) == fname[4:],
                              "%s: %s recorded at %s" % (label, fname[4:],
                                                          node))
            conn.close()
            # libxl_domain_unpause: a new connection, then "cont".
            conn = Qmp(self.paths["qmp"], transcript)
            conn.execute("cont")
            if self.opts.dm_restrict:
                status = conn.execute("query-status")
                self.note(isinstance(status, dict) and
                          status.get("status") == "running",
                          "unpause: cont, then query-status: %s" % (
                              status.get("status") if isinstance(
                                  status, dict) else status))
            else:
                self.note(True, "unpause: cont on a running VM succeeds")
            conn.close()
            self.result["qmp_commands"] = sum(
                1 for t in transcript if t.startswith("-> "))
        finally:
            with open(os.path.join(self.dir, "qmp-transcript"), "w") as f:
                f.write("\n".join(transcript) + "\n")
            if self.opts.verbose:
                for line in transcript:
                    log("qmp " + line)

    def workload(self):
        ctl = Control(self.paths["control"])
        try:
            if self.opts.pci_scan or self.opts.guest_io:
                devs = self.scan(ctl)
            if self.opts.guest_io:
                self.guest_io(ctl, devs)
            for line in self.opts.control:
                reply, body = ctl.command(line)
                for b in body:
                    log("  " + b)
                self.note(not reply.startswith("err"),
                          "control '%s': %s" % (line, reply))
        finally:
            ctl.close()

    def scan(self, ctl):
        devs = pci_scan(ctl)
        log("PCI bus 0 (through CF8/CFC on vCPU 0):")
        for dev, fn, ids, cls in devs:
            log("  00:%02x.%x %04x:%04x class %06x"
                % (dev, fn, ids & 0xffff, ids >> 16, cls))
        self.result["pci"] = ["00:%02x.%x %04x:%04x" % (
            dev, fn, ids & 0xffff, ids >> 16) for dev, fn, ids, _ in devs]
        has = {ids for _, _, ids, _ in devs}
        self.note(0x12378086 in has and 0x00015853 in has,
                  "PCI scan: %d functions, i440FX and Xen platform "
                  "device present" % len(devs))
        return devs

    def guest_io(self, ctl, devs):
        """A few accesses a firmware would make, one per ioreq kind."""
        magic = ctl.value("inw 0x10")
        self.note(magic == XEN_PLATFORM_MAGIC,
                  "PIO: Xen platform magic at port 0x10 = %#x" % magic)
        ahci = [(d, f) for d, f, ids, _ in devs if ids == AHCI_ICH9_ID]
        if not ahci:
            return
        # Place the AHCI ABAR (BAR5) as hvmloader would, enable memory
        # decoding, and read the HBA's version register through MMIO.
        dev, fn = ahci[0]
        cfg = 0x80000000 | (dev << 11) | (fn << 8)
        ctl.ok("outl 0xcf8 %#x" % (cfg | 0x24))
        ctl.ok("outl 0xcfc %#x" % AHCI_ABAR)
        ctl.ok("outl 0xcf8 %#x" % (cfg | 0x04))
        cmd = ctl.value("inw 0xcfc")
        ctl.ok("outw 0xcfc %#x" % (cmd | 0x6))
        version = ctl.value("readl %#x" % (AHCI_ABAR + 0x10))
        self.note(version == 0x10000,
                  "MMIO: AHCI at 00:%02x.%x, BAR5 at %#x, VS = %#x"
                  % (dev, fn, AHCI_ABAR, version))

    def counters(self):
        try:
            ctl = Control(self.paths["control"])
            _, body = ctl.command("counters")
            ctl.close()
        except (OSError, Failure) as e:
            log("no hv counters: %s" % e)
            return
        self.hv_counters = body
        counters = {}
        for line in body:
            words = line.split()
            if len(words) == 2:
                counters[words[0]] = words[1]
        self.result["counters"] = counters
        # The hv flags device-model protocol violations; show them.
        try:
            with open(os.path.join(self.dir, "hv.log"),
                      errors="replace") as f:
                for line in f:
                    if "DM BUG" in line:
                        log("hv: " + line.rstrip())
        except OSError:
            pass
        log("hv counters: " + ", ".join(body))

    def keep(self):
        env = self.env()
        info = [
            ("XENSIM_RUN_DIR", self.dir),
            ("XENSIM_SOCKET", self.paths["hv"]),
            ("XENSIM_CONTROL", self.paths["control"]),
            ("XENSTORED_PATH", self.paths["xenstored"]),
            ("XENSIM_QMP", self.paths["qmp"]),
            ("XENSIM_QMP_LIBXENSTAT", self.paths["qmp_stat"]),
            ("XENSIM_QEMU_LOG", self.paths["qemu_log"]),
            ("XENSIM_QEMU_PID", str(self.procs["qemu"].pid)),
            ("XENSIM_HV_PID", str(self.procs["hv"].pid)),
            ("XENSTORED_PID", str(self.procs["xenstored"].pid)),
            ("XENSIM_DOMID", str(self.opts.domid)),
            ("XENSIM_LIBS", self.opts.libs),
            ("LD_LIBRARY_PATH", env.get("LD_LIBRARY_PATH", "")),
            ("LD_PRELOAD", env.get("LD_PRELOAD", "")),
            ("XENSIM_STOP", "%s --stop %s" % (os.path.join(HERE, "run"),
                                              self.dir)),
        ]
        text = "".join("%s=%s\n" % (k, shlex.quote(v)) for k, v in info)
        with open(os.path.join(self.dir, "env"), "w") as f:
            f.write(text)
        sys.stdout.write(text)
        sys.stdout.flush()

    def destroy(self):
        """xl destroy: rm the DM's xenstore dir, SIGHUP, then clean up."""
        qemu = self.procs.get("qemu")
        d = self.opts.domid
        if self.xs:
            self.xs.rm("/local/domain/0/device-model/%d" % d)
        if qemu and qemu.poll() is None:
            qemu.send_signal(signal.SIGHUP)
            try:
                qemu.wait(SIGHUP_EXIT_TIMEOUT)
                self.note(True, "QEMU exited on SIGHUP (status %d)"
                          % qemu.returncode)
                if self.xs:
                    node = "/local/domain/0/device-model/%d" % d
                    self.note(self.xs.read(node) is None,
                              "%s stays removed after the exit" % node)
            except subprocess.TimeoutExpired:
                qemu.kill()
                qemu.wait()
                self.note(False, "QEMU still alive %d s after SIGHUP"
                          % SIGHUP_EXIT_TIMEOUT)
        elif qemu:
            self.note(False, "QEMU had already exited (status %s)"
                      % qemu.returncode)
        for key in ("qmp", "qmp_stat"):
            if os.path.exists(self.paths[key]):
                os.unlink(self.paths[key])
        if self.xs:
            self.xs.rm("/libxl/%d" % d)
            self.xs.rm("/local/domain/%d" % d)
            self.xs.close()
            self.xs = None
        stop_helpers(self.procs)

    def show_log_tail(self):
        try:
            with open(self.paths["qemu_log"], errors="replace") as f:
                lines = f.read().splitlines()[-15:]
        except OSError:
            return
        if lines:
            log("last lines of the QEMU log:")
            for line in lines:
                log("    " + line)

    def run(self):
        ok = False
        try:
            self.start_helpers()
            self.write_libxl_nodes()
            qemu = self.spawn_qemu()
            self.wait_running(qemu)
            self.qmp_postconfig()
            if self.opts.pci_scan or self.opts.guest_io or \
                    self.opts.control:
                self.workload()
            self.counters()
            ok = True
        except NotBuilt:
            self.abandon()
            raise
        except (Failure, OSError) as e:
            self.note(False, str(e))
            self.show_log_tail()
        except Exception as e:  # pylint: disable=broad-except
            # Whatever a device model answers, we still tear down.
            self.note(False, "unexpected %s: %s" % (type(e).__name__, e))
            self.show_log_tail()
        if ok and self.opts.keep:
            self.keep()
            return 0
        self.destroy()
        self.print_summary()
        self.result["checks"] = self.summary
        self.result["pass"] = not self.checks_failed
        if self.opts.summary_json:
            with open(self.opts.summary_json, "w") as f:
                json.dump(self.result, f, indent=1)
        if self.checks_failed:
            log("logs kept in %s" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        return 1 if self.checks_failed else 0

    def abandon(self):
        stop_helpers(self.procs)
        shutil.rmtree(self.dir, ignore_errors=True)

    def print_summary(self):
        print("== xensim-run summary: domid %d, %s, %d MiB, %d vCPU(s)%s"
              % (self.opts.domid, os.path.basename(self.opts.qemu),
                 self.opts.memory, self.opts.vcpus,
                 ", disks %s (%s)" % (
                     " ".join(d["vdev"] + (":cdrom" if d["cdrom"] else "")
                              for d in self.opts.disks), self.opts.hdtype)
                 if self.opts.disks else ""))
        for line in self.summary:
            print("   " + line)
        c = self.result.get("counters")
        if c:
            def num(*names):
                total = 0
                for n in names:
                    try:
                        total += int(c.get(n, "0"), 0)
                    except ValueError:
                        pass
                return total
            print("   hv    ioreqs: %d PIO, %d MMIO, %d PCI config, %d "
                  "buffered; foreign maps: %d (%d pages); dm_ops %d; "
                  "DM bugs %d" % (
                      num("ioreq_pio"), num("ioreq_copy"),
                      num("ioreq_pci_config"), num("ioreq_buffered"),
                      num("fmem_maps", "resource_maps"),
                      num("fmem_map_pages"), num("dm_ops"),
                      num("dm_bugs")))
        print("== %s" % ("PASS" if not self.checks_failed else
                         "FAIL (%d checks)" % self.checks_failed))


class NotBuilt(Exception):
    """The simulator's parts are missing."""


def stop_helpers(procs):
    for key in ("hv", "xenstored"):
        proc = procs.get(key)
        if proc and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def read_env_file(run_dir):
    env = {}
    try:
        with open(os.path.join(run_dir, "env")) as f:
            for line in f:
                key, _, val = line.rstrip("\n").partition("=")
                words = shlex.split(val)
                env[key] = words[0] if words else ""
    except (OSError, ValueError):
        pass
    return env


def qmp_command(path, command, arguments):
    """One QMP command on a kept device model, as a libxl operator would."""
    transcript = []
    try:
        args = json.loads(arguments) if arguments else None
        qmp = Qmp(path, transcript)
        try:
            ret = qmp.execute(command, args)
        finally:
            qmp.close()
    except ValueError as e:
        log("--arguments is not JSON: %s" % e)
        return 2
    except (OSError, Failure) as e:
        log("QMP %s: %s" % (command, e))
        return 1
    if isinstance(ret, str):        # human-monitor-command
        sys.stdout.write(ret if ret.endswith("\n") else ret + "\n")
    else:
        print(json.dumps(ret, indent=1, sort_keys=True))
    return 0


def stop_kept(run_dir):
    """Tear down what `run --keep` left behind, as xl destroy would."""
    pids = {}
    try:
        with open(os.path.join(run_dir, "pids")) as f:
            for line in f:
                key, pid = line.split()
                pids[key] = int(pid)
    except (OSError, ValueError) as e:
        log("cannot read %s/pids: %s" % (run_dir, e))
        return 1
    env = read_env_file(run_dir)
    xs, domid = None, env.get("XENSIM_DOMID")
    try:
        xs = XenStore(env["XENSTORED_PATH"], timeout=5)
        xs.rm("/local/domain/0/device-model/%s" % domid)
    except (KeyError, OSError, Failure) as e:
        log("xenstore cleanup skipped: %s" % e)
        xs = None
    status = 0
    for key, sig in (("qemu", signal.SIGHUP), ("hv", signal.SIGTERM),
                     ("xenstored", signal.SIGTERM)):
        pid = pids.get(key)
        if pid is None:
            continue
        if key == "hv" and xs:
            xs.rm("/libxl/%s" % domid)
            xs.rm("/local/domain/%s" % domid)
            xs.close()
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + SIGHUP_EXIT_TIMEOUT
        while time.monotonic() < deadline and not is_zombie(pid):
            time.sleep(0.05)
        if not is_zombie(pid):
            log("%s (pid %d) ignored signal %d; killing it" % (key, pid, sig))
            os.kill(pid, signal.SIGKILL)
            status = 1
        else:
            log("%s (pid %d) stopped" % (key, pid))
    shutil.rmtree(run_dir, ignore_errors=True)
    return status


def is_zombie(pid):
    """True if @pid is gone or a zombie (nobody may ever reap it)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def parse_args(argv):
    if "--" in argv:
        split = argv.index("--")
        own, rest = argv[:split], argv[split + 1:]
    else:
        own, rest = argv, []
    p = argparse.ArgumentParser(
        prog="run", usage="%(prog)s [options] -- QEMU-BINARY [ARGS...]\n"
        "       %(prog)s --stop RUN-DIR\n"
        "       %(prog)s --qmp SOCKET --execute COMMAND [--arguments JSON]",
        description="Start a QEMU device model on xensim as libxl 4.17 "
        "does, check it, and tear it down.")
    p.add_argument("--domid", type=int, default=1)
    p.add_argument("--libs", choices=("sim", "real"),
                   default=os.environ.get("XENSIM_LIBS") or "real",
                   help="Xen libraries for QEMU: Debian's real ones over "
                   "the devxen shim (real) or xensim's replacements "
                   "(sim); default $XENSIM_LIBS or real")
    p.add_argument("--memory", type=int, default=128, metavar="MiB",
                   help="libxl maxmem; QEMU gets -m MiB minus videoram")
    p.add_argument("--vcpus", type=int, default=1)
    p.add_argument("--hv-timeout-ms", type=int, default=0, metavar="MS",
                   help="xensim-hv's --timeout-ms (how long a vCPU waits "
                   "for the device model); default the hv's own")
    p.add_argument("--name", default=None)
    p.add_argument("--disk", metavar="IMG[,vdev=V][,format=F]",
                   action="append", default=[],
                   type=lambda v: (v, False), dest="disk_specs",
                   help="an emulated disk (repeatable), vdev hda-hdd or "
                   "xvda-xvdf (default: the first free), format raw or "
                   "qcow2 (default: from the image)")
    p.add_argument("--cdrom", metavar="[IMG][,vdev=V][,format=F]",
                   action="append", type=lambda v: (v, True),
                   dest="disk_specs",
                   help="a CD-ROM as xl's devtype=cdrom (default vdev "
                   "hdc; no IMG: empty drive)")
    p.add_argument("--dm-restrict", action="store_true",
                   help="xl's dm_restrict=1: QMP socket opened by the "
                   "launcher and passed as an fd, -S, -xen-domid-restrict, "
                   "-chroot, -runas (needs root)")
    p.add_argument("--dm-user", default="xen-qemuuser-shared",
                   help="-runas user with --dm-restrict (libxl's "
                   "xen-qemuuser-shared)")
    p.add_argument("--hdtype", choices=("ahci", "ide"), default="ide")
    p.add_argument("--vga", choices=sorted(VIDEORAM_MIB), default="cirrus")
    p.add_argument("--serial", action="store_true",
                   help="add a pty serial port (-serial pty)")
    p.add_argument("--pci-scan", action="store_true",
                   help="scan PCI bus 0 through the hv control socket")
    p.add_argument("--guest-io", action="store_true",
                   help="PCI scan, then a PIO read of the Xen platform "
                   "port and an MMIO read of the AHCI HBA")
    p.add_argument("--control", action="append", default=[],
                   metavar="LINE", help="send LINE to the hv control socket")
    p.add_argument("--keep", action="store_true",
                   help="leave everything running and print its env")
    p.add_argument("--stop", metavar="RUN-DIR",
                   help="tear down what --keep left running")
    p.add_argument("--qmp", metavar="SOCKET",
                   help="run one QMP command (--execute, --arguments) on "
                   "a kept device model's SOCKET ($XENSIM_QMP), print "
                   "the result")
    p.add_argument("--execute", metavar="COMMAND")
    p.add_argument("--arguments", metavar="JSON")
    p.add_argument("--summary-json", metavar="FILE",
                   help="also write the results as JSON to FILE")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="log QMP traffic; xenstored logs every request")
    opts = p.parse_args(own)
    if opts.stop:
        return opts, []
    if opts.qmp:
        if not opts.execute:
            p.error("--qmp needs --execute COMMAND")
        return opts, []
    if not rest:
        p.error("the QEMU binary goes after --")
    if not 0 < opts.domid < 0x7ff0:
        p.error("--domid must be a guest domain id (1..32751)")
    if not 0 < opts.vcpus <= 128:
        p.error("--vcpus must be 1..128")
    if opts.memory - VIDEORAM_MIB[opts.vga] < 16:
        p.error("--memory too small")
    opts.disks, used = [], set()
    for spec, cdrom in opts.disk_specs:
        disk = parse_disk(spec, cdrom, used, opts.hdtype)
        if isinstance(disk, str):
            p.error(disk)
        used.add(disk["index"])
        opts.disks.append(disk)
    if opts.dm_restrict:
        if os.geteuid() != 0:
            p.error("--dm-restrict needs root (QEMU's -chroot and -runas)")
        try:
            pwd.getpwnam(opts.dm_user)
        except KeyError:
            # libxl: "Couldn't find device_model_user" and no create
            p.error("--dm-restrict: no user %s" % opts.dm_user)
    opts.qemu = rest[0]
    if not os.access(opts.qemu, os.X_OK):
        p.error("not executable: %s" % opts.qemu)
    opts.name = opts.name or "xensim-guest-%d" % opts.domid
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", opts.name):
        p.error("--name: letters, digits and _ . - only")
    return opts, rest[1:]


def main(argv):
    opts, qemu_args = parse_args(argv)
    if opts.stop:
        return stop_kept(opts.stop)
    if opts.qmp:
        return qmp_command(opts.qmp, opts.execute, opts.arguments)
    launch = Launch(opts, qemu_args)
    try:
        return launch.run()
    except NotBuilt as e:
        log(str(e))
        return EXIT_NOT_BUILT
    except KeyboardInterrupt:
        launch.destroy()
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
