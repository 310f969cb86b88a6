# SPDX-License-Identifier: GPL-2.0-or-later
"""Guest-side helpers for the Q35 tests on xensim: the hv control socket
as a vCPU (port I/O, MMIO, PCI configuration through CF8/CFC, IRQ
levels), a minimal QMP client, and a device model started the way libxl
starts it (build/xensim/run --keep), torn down on stop().
"""
import json
import os
import shlex
import shutil
import socket
import subprocess


class Control:
    """The hv control socket: one line per command, reply ok/err."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(30)
        self.s.connect(path)
        self.f = self.s.makefile("rw")

    def cmd(self, line):
        self.f.write(line + "\n")
        self.f.flush()
        extra = []
        while True:
            reply = self.f.readline()
            if not reply:
                raise RuntimeError("%s: control socket closed" % line)
            reply = reply.strip()
            if reply.startswith("ok") or reply.startswith("err"):
                return reply, extra
            extra.append(reply)

    def do(self, line):
        reply, extra = self.cmd(line)
        if not reply.startswith("ok"):
            raise RuntimeError("%s: %s" % (line, reply))
        return reply.split()[1:], extra

    def value(self, line):
        words, _ = self.do(line)
        return int(words[0], 0)

    # PCI configuration through CF8/CFC, as firmware does
    @staticmethod
    def cf8(dev, fn, reg, bus=0):
        return 0x80000000 | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc)

    def cfg_read(self, dev, fn, reg, size=4):
        self.do("outl 0xcf8 %#x" % self.cf8(dev, fn, reg))
        op = {1: "inb", 2: "inw", 4: "inl"}[size]
        return self.value("%s %#x" % (op, 0xcfc + (reg & 3)))

    def cfg_write(self, dev, fn, reg, val, size=4):
        self.do("outl 0xcf8 %#x" % self.cf8(dev, fn, reg))
        op = {1: "outb", 2: "outw", 4: "outl"}[size]
        self.do("%s %#x %#x" % (op, 0xcfc + (reg & 3), val))

    def irq(self, gsi):
        return self.value("irq %d" % gsi)

    def link_routes(self):
        _, lines = self.do("state")
        return [l for l in lines if "link" in l]


class Qmp:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(30)
        self.s.connect(path)
        self.f = self.s.makefile("rw")
        json.loads(self.f.readline())
        self.run("qmp_capabilities")

    def run(self, cmd, **args):
        self.f.write(json.dumps({"execute": cmd, "arguments": args}) + "\n")
        self.f.flush()
        while True:
            msg = json.loads(self.f.readline())
            if "return" in msg:
                return msg["return"]
            if "error" in msg:
                raise RuntimeError("%s: %s" % (cmd, msg["error"]["desc"]))

    def hmp(self, line):
        return self.run("human-monitor-command", **{"command-line": line})


class Guest:
    """A device model under build/xensim/run --keep."""

    def __init__(self, sim, qemu, args, memory=256, domid=21, disk=None,
                 hdtype=None, vga="std"):
        argv = [os.path.join(sim, "run"), "--keep", "--domid", str(domid),
                "--memory", str(memory), "--vcpus", "2", "--vga", vga]
        if disk:
            argv += ["--disk", disk, "--hdtype", hdtype]
        argv += ["--", qemu] + args
        p = subprocess.run(argv, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=120)
        self.launch_log = p.stderr + p.stdout
        self.env = {}
        self.ok = p.returncode == 0
        if not self.ok:
            self.collect_failed_run()
            return
        for line in p.stdout.splitlines():
            k, _, v = line.partition("=")
            self.env[k] = shlex.split(v)[0] if v else ""
        self.ctl = Control(self.env["XENSIM_CONTROL"])
        self.qmp = Qmp(self.env["XENSIM_QMP"])

    def collect_failed_run(self):
        """A failed launch keeps its run directory: take QEMU's log, rm."""
        for line in self.launch_log.splitlines():
            if "logs kept in " not in line:
                continue
            d = line.split("logs kept in ")[1].strip()
            if not os.path.basename(d).startswith("xensim-run."):
                continue
            for fn in os.listdir(d):
                if fn.startswith("qemu-dm"):
                    with open(os.path.join(d, fn), errors="replace") as f:
                        self.launch_log += f.read()
            shutil.rmtree(d, ignore_errors=True)

    def log(self):
        try:
            with open(self.env["XENSIM_QEMU_LOG"], errors="replace") as f:
                return f.read()
        except (KeyError, OSError):
            return ""

    def stop(self):
        if self.env.get("XENSIM_STOP"):
            subprocess.run(shlex.split(self.env["XENSIM_STOP"]),
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=60)


def scan_bus0(ctl):
    found = {}
    for dev in range(32):
        for fn in range(8):
            ids = ctl.cfg_read(dev, fn, 0)
            if ids != 0xffffffff:
                found[(dev, fn)] = ids
            if fn == 0:
                if ids == 0xffffffff:
                    break
                if not ctl.cfg_read(dev, 0, 0xc) & 0x00800000:
                    break
    return found


