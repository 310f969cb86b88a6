#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The qtest bridge against a hostile or unlucky libqtest (TAP output).

Plays libqtest's side by hand: listens on a qtest and a QMP socket,
starts the bridge as libqtest would, then sends malformed commands (each
must get a FAIL and leave the bridge serving), checks a few answers that
need the bridge's adaptations, and checks teardown: SIGTERM gives QEMU's
status and leaves no process behind; a QEMU that cannot start, or dies
in machine init (q35 with smm=on: Xen has no SMM; stock 7.2 crashes in
any q35 init), releases libqtest at once instead of hanging it.

usage: peer.py BRIDGE QEMU
"""
import base64
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

BRIDGE, QEMU = sys.argv[1], sys.argv[2]
n = 0


def tap(ok, what, diag=None):
    global n
    n += 1
    print("%s %d - %s" % ("ok" if ok else "not ok", n, what))
    if not ok and diag:
        for line in str(diag).splitlines()[-10:]:
            print("#   " + line)
    sys.stdout.flush()


class Peer:
    """libqtest's half: sockets, the spawned 'QEMU', line replies."""

    def __init__(self, qemu, machine="pc", extra=(), env=None):
        self.dir = tempfile.mkdtemp(prefix="bridge-peer-")
        qpath = os.path.join(self.dir, "qtest.sock")
        self.qmp_path = os.path.join(self.dir, "qtest.qmp")
        lq = socket.socket(socket.AF_UNIX)
        lq.bind(qpath)
        lq.listen(1)
        lm = socket.socket(socket.AF_UNIX)
        lm.bind(self.qmp_path)
        lm.listen(1)
        # The bridge's run directory inside ours (its control socket).
        env = dict(os.environ, XENSIM_QEMU=qemu, TMPDIR=self.dir,
                   **(env or {}))
        argv = [BRIDGE, "-qtest", "unix:" + qpath, "-qtest-log", "/dev/null",
                "-chardev", "socket,path=%s,id=char0" % self.qmp_path,
                "-mon", "chardev=char0,mode=control", "-display", "none",
                "-machine", machine, "-nodefaults"] + list(extra) + [
                "-accel", "qtest"]
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        lq.settimeout(30)
        lm.settimeout(30)
        self.q = lq.accept()[0]
        self.m = lm.accept()[0]
        lq.close()
        lm.close()
        self.q.settimeout(60)
        self.m.settimeout(60)
        self.buf = b""

    def qmp_handshake(self):
        try:
            f = self.m.makefile("rb")
            if not f.readline():
                return False
            self.m.sendall(b'{"execute": "qmp_capabilities"}\n')
            return b"return" in f.readline()
        except OSError:
            return False

    def cmd(self, line):
        """Send one line; return (irq_lines, reply) or (.., None) on EOF."""
        if isinstance(line, str):
            line = line.encode()
        self.q.sendall(line + b"\n")
        irqs = []
        while True:
            while b"\n" not in self.buf:
                chunk = self.q.recv(65536)
                if not chunk:
                    return irqs, None
                self.buf += chunk
            reply, self.buf = self.buf.split(b"\n", 1)
            reply = reply.decode(errors="replace")
            if reply.startswith("IRQ "):
                irqs.append(reply)
            else:
                return irqs, reply

    def wait(self, timeout=40):
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
            return None, err.decode(errors="replace")
        return self.proc.returncode, err.decode(errors="replace")

    def leftovers(self):
        """Processes still running with our directory in their argv."""
        left = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmdline = f.read()
                with open("/proc/%s/stat" % pid) as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if self.dir.encode() in cmdline and state != "Z":
                left.append(pid)
        return left


# ---- 1. hostile commands ---------------------------------------------------
p = Peer(QEMU)
tap(p.qmp_handshake(), "QEMU under the bridge answers libqtest's QMP")
bad = [
    "", "bogus", "inb", "inb 0x10000", "inb -1", "outb 12 zz", "outl",
    "readl", "readl 0xfffffffffffffffe", "writeq 0x1000",
    "read 0 0", "read 0xffffffffffffffff 2", "read 0 99999999999",
    "b64read 0 x", "write 0 4 0xzz", "write 0 1 0x112233", "write 0 4 12",
    "b64write 0 4 !!!!", "b64write 0 4 AAAA", "memset 0 -1 0",
    "memset 0 4", "clock_step 99999999999999", "clock_step x",
    "clock_set", "set_irq_in /machine/ioapic x 0 1",
    "irq_intercept_in /machine/peripheral/foo", "irq_intercept_in",
    "module_load a b", "inb 0\x00x", "a b c d e f g h i j k",
]
for line in bad:
    _, r = p.cmd(line)
    tap(r is not None and r.startswith("FAIL"),
        "malformed %r gets FAIL (%s)" % (line[:40], r))
_, r = p.cmd(b"x" * (70 << 20))
tap(r is not None and r.startswith("FAIL"), "a 70 MiB line gets FAIL")

# ---- 2. the bridge still serves, with Xen's answers -------------------------
_, r = p.cmd("outl 0xcf8 0x80000000")
_, r = p.cmd("inl 0xcfc")
tap(r == "OK 0x12378086", "CF8/CFC reads the i440FX's IDs (%s)" % r)
p.cmd("outl 0xcf8 0x80000002")
_, r = p.cmd("inw 0xcfc")
tap(r == "OK 0x1237", "libqos-style CF8 low bits reach offset 2 (%s)" % r)
_, r = p.cmd("write 0x1000 4 0xdeadbeef")
_, r2 = p.cmd("read 0x1000 4")
tap(r == "OK" and r2 == "OK 0xdeadbeef", "write/read guest RAM (%s)" % r2)
data = bytes(range(256)) * 300  # 76800 bytes: several RAM chunks
b64 = base64.b64encode(data).decode()
_, r = p.cmd("b64write 0x7ff0 %d %s" % (len(data), b64))
_, r2 = p.cmd("b64read 0x7ff0 %d" % len(data))
tap(r == "OK" and r2 == "OK " + b64, "b64write/b64read across chunks")
_, r = p.cmd("read 0x9fff0 32")
tap(r is not None and r.startswith("OK 0x") and r.endswith("ff" * 16),
    "read across RAM into the VGA hole: unclaimed MMIO reads all-ones")
_, r = p.cmd("irq_intercept_in ioapic")
_, r2 = p.cmd("irq_intercept_in ioapic")
_, r3 = p.cmd("irq_intercept_out /machine/i8259")
tap(r == "OK" and r2 == "OK" and r3.startswith("FAIL"),
    "irq_intercept: once, same path again OK, another FAIL")
_, r = p.cmd("irq_intercept_out ioapic")
tap(r.startswith("FAIL"), "irq_intercept_out refused, even on the "
    "intercepted controller (%s)" % r)
_, r = p.cmd("clock_step 1000000")
_, r2 = p.cmd("clock_step 1000000")
try:
    t1, t2 = int(r.split()[1]), int(r2.split()[1])
    ok = t2 >= t1 + 1000000
except (AttributeError, IndexError, ValueError):
    ok = False
tap(ok, "clock_step reports real time moving on (%s, %s)" % (r, r2))
_, r = p.cmd("endianness")
tap(r == "OK little", "endianness")

# ---- 3. teardown ------------------------------------------------------------
p.proc.send_signal(signal.SIGTERM)
rc, err = p.wait()
tap(rc == 0, "SIGTERM: the bridge exits with QEMU's status 0 (%s)" % rc, err)
time.sleep(0.2)
left = p.leftovers()
tap(not left, "no process left behind (%s)" % left)

# ---- 4. Xen always: -machine none probes under Xen, no other -qtest -----
# A stand-in QEMU records the argv the bridge gives it (and exits, so
# the bridge releases libqtest as for any QEMU that dies at start).
rec_dir = tempfile.mkdtemp(prefix="bridge-peer-argv-")
rec = os.path.join(rec_dir, "argv")
fake = os.path.join(rec_dir, "qemu")
with open(fake, "w") as f:
    f.write('#!/bin/sh\nprintf "%%s\\n" "$@" > %s\nexit 1\n' % rec)
os.chmod(fake, 0o755)
p = Peer(fake, machine="none")
p.wait()
try:
    with open(rec) as f:
        argv = f.read().split("\n")
except OSError:
    argv = []
tap("-accel" in argv and argv[argv.index("-accel") + 1] == "xen" and
    "-xen-domid" in argv and "-qtest" not in argv and "qtest" not in argv,
    "-machine none (libqtest's QMP probe) runs under Xen, not on the qtest "
    "accelerator (QEMU got: %s)" % " ".join(argv))
subprocess.run(["rm", "-rf", rec_dir])
r = subprocess.run([BRIDGE, "-qtest", "tcp:localhost:1", "-machine", "pc",
                    "-accel", "qtest"], env=dict(os.environ, XENSIM_QEMU=QEMU),
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, timeout=60)
tap(r.returncode == 1 and b"only -qtest unix:" in r.stderr,
    "-qtest tcp:...: a clear error, QEMU never runs (%s)" % r.returncode,
    r.stderr.decode(errors="replace"))

# ---- 5. an IRQ pulse inside one command is reported, edge by edge --------
# e1000 at 00:04.0 (INTA: Xen's GSI 32).  ICS sets a cause with the mask
# clear; then one 16-byte write sets IMS (the line rises) and IMC (it
# falls) in a single qtest command.
E1000_BAR = 0xf0000000
p = Peer(QEMU, extra=["-device", "e1000,addr=4"])
p.qmp_handshake()
p.cmd("irq_intercept_in ioapic")
p.cmd("outl 0xcf8 0x80002000")
_, ids = p.cmd("inl 0xcfc")
p.cmd("outl 0xcf8 0x80002010")
p.cmd("outl 0xcfc %#x" % E1000_BAR)
p.cmd("outl 0xcf8 0x80002004")
p.cmd("outw 0xcfc 0x6")
p.cmd("writel %#x 0x1" % (E1000_BAR + 0xc8))
irqs, r = p.cmd("write %#x 16 0x01000000000000000100000000000000"
                % (E1000_BAR + 0xd0))
tap(ids == "OK 0x100e8086" and r == "OK" and
    irqs == ["IRQ raise 32", "IRQ lower 32"],
    "a pulse between two replies is reported as raise and lower (%s, %s)"
    % (ids, irqs))
p.proc.send_signal(signal.SIGTERM)
p.wait()

# XENSIM_BRIDGE_CPU: the qtest accesses are vCPU 1's (the device model
# answered them on vCPU 1's port, never on vCPU 0's).
p = Peer(QEMU, extra=["-smp", "2"], env={"XENSIM_BRIDGE_CPU": "1"})
p.qmp_handshake()
p.cmd("outl 0xcf8 0x80000000")
_, magic = p.cmd("inl 0xcfc")
slots = {}
try:
    run = [d for d in os.listdir(p.dir) if d.startswith("xensim-bridge.")]
    c = socket.socket(socket.AF_UNIX)
    c.settimeout(20)
    c.connect(os.path.join(p.dir, run[0], "control"))
    f = c.makefile("rw")
    for cpu in (0, 1):
        f.write("cpu %d\nslotget 0\n" % cpu)
        f.flush()
        f.readline()
        slots[cpu] = dict(w.split("=", 1) for w in f.readline().split()[1:]
                          if "=" in w)
    c.close()
except (OSError, IndexError, ValueError) as e:
    slots["error"] = str(e)
tap(magic == "OK 0x12378086" and
    slots.get(1, {}).get("notified", "0") != "0" and
    slots.get(0, {}).get("notified") == "0",
    "XENSIM_BRIDGE_CPU=1: qtest's accesses are vCPU 1's ioreqs (00:00.0 "
    "%s; notifies on vCPU 0/1: %s/%s)" % (
        magic, slots.get(0, {}).get("notified"),
        slots.get(1, {}).get("notified")))
p.proc.send_signal(signal.SIGTERM)
p.wait()

p = Peer("/bin/false")
rc, err = p.wait()
tap(rc == 1, "QEMU that cannot start: libqtest released, status 1 (%s)"
    % rc, err)

p = Peer(QEMU, machine="q35,smm=on")
ok = not p.qmp_handshake()
rc, err = p.wait()
tap(ok and rc is not None and rc != 0,
    "q35,smm=on dying in machine init fails fast with QEMU's status (%s)"
    % rc, err)

p = Peer(QEMU)
p.qmp_handshake()
p.q.close()
rc, err = p.wait()
tap(rc == 0, "libqtest hanging up stops QEMU cleanly (%s)" % rc, err)
print("1..%d" % n)
