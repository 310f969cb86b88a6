#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The device-model half of "xl save" and "xl restore" on a kept xensim run.

    libxl-save-restore.py save RUN-DIR FILE
    libxl-save-restore.py restore RUN-DIR FILE

RUN-DIR is what "run --keep" left (its env, pids and qemu-argv files).
The sequences are libxl 4.17's (shared/reference/libxl-dm.md 2.3):

save: QMP "stop", "add-fd" with FILE (O_WRONLY|O_CREAT, 0600) passed as
  SCM_RIGHTS on the command's first byte, "xen-save-devices-state"
  {"live": false, "filename": "/dev/fdset/N"}; then, as xl destroys the
  domain after a save, rm device-model/<domid> and SIGHUP the device
  model, which must exit.
restore: mkdir device-model/<domid>, spawn the same argv with
  "-incoming fd:N" (N an inherited O_RDONLY fd on FILE) and no -S, wait
  up to 60 s for device-model/<domid>/state = running, then QMP
  "query-status" (must be running) and the unpause "cont".  The new pid
  replaces the old one in RUN-DIR/pids (so the run's --stop tears it
  down) and in image/device-model-pid; it is printed on stdout.

Guest RAM stays in xensim-hv, which keeps running: on Xen the toolstack
restores RAM itself before it spawns the device model.
"""
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time

LIBXL_QMP_ID_BASE = 0x786c7100


def fail(msg):
    sys.stderr.write("libxl-save-restore: %s\n" % msg)
    sys.exit(1)


def read_env(run_dir):
    env = {}
    with open(os.path.join(run_dir, "env")) as f:
        for line in f:
            key, _, val = line.rstrip("\n").partition("=")
            words = shlex.split(val)
            env[key] = words[0] if words else ""
    return env


class Qmp:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = LIBXL_QMP_ID_BASE
        if "QMP" not in self._recv():
            fail("no QMP greeting")
        self.execute("qmp_capabilities")

    def _recv(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                fail("QEMU closed the QMP connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return json.loads(line)

    def execute(self, command, arguments=None, fd=None):
        req = {"execute": command, "id": self.next_id}
        self.next_id += 1
        if arguments is not None:
            req["arguments"] = arguments
        data = json.dumps(req).encode() + b"\r\n"
        if fd is None:
            self.sock.sendall(data)
        else:
            socket.send_fds(self.sock, [data[:1]], [fd])
            self.sock.sendall(data[1:])
        while True:
            msg = self._recv()
            if "event" in msg:
                continue
            if msg.get("id") != req["id"]:
                fail("%s: reply with id %s" % (command, msg.get("id")))
            if "error" in msg:
                fail("%s: %s" % (command, msg["error"].get("desc")))
            return msg.get("return")


def xenstore(env, *argv):
    return subprocess.run(argv, env=dict(os.environ,
                                         XENSTORED_PATH=env["XENSTORED_PATH"]),
                          check=True, capture_output=True,
                          text=True).stdout.strip()


def save(run_dir, path):
    env = read_env(run_dir)
    qmp = Qmp(env["XENSIM_QMP"])
    qmp.execute("stop")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    fdset = qmp.execute("add-fd", fd=fd)["fdset-id"]
    os.close(fd)
    qmp.execute("xen-save-devices-state",
                {"live": False, "filename": "/dev/fdset/%d" % fdset})
    qmp.sock.close()
    if os.path.getsize(path) == 0:
        fail("xen-save-devices-state wrote nothing")
    # xl destroy of the saved domain's device model.
    d = env["XENSIM_DOMID"]
    pid = int(env["XENSIM_QEMU_PID"])
    with open(os.path.join(run_dir, "pids")) as f:
        for line in f:
            key, val = line.split()
            if key == "qemu":
                pid = int(val)
    xenstore(env, "xenstore-rm", "/local/domain/0/device-model/%s" % d)
    os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
        except OSError:
            break
        time.sleep(0.05)
    else:
        fail("QEMU %d still alive 20 s after SIGHUP" % pid)
    for key in ("XENSIM_QMP", "XENSIM_QMP_LIBXENSTAT"):
        if os.path.exists(env[key]):
            os.unlink(env[key])


def restore(run_dir, path):
    env = read_env(run_dir)
    d = env["XENSIM_DOMID"]
    with open(os.path.join(run_dir, "qemu-argv")) as f:
        argv = shlex.split(f.read())
    xenstore(env, "xenstore-write", "/local/domain/0/device-model/%s" % d,
             "")
    fd = os.open(path, os.O_RDONLY)
    argv += ["-incoming", "fd:%d" % fd]
    qenv = dict(os.environ)
    for key in ("XENSIM_SOCKET", "XENSTORED_PATH", "XENSIM_LIBS",
                "LD_PRELOAD", "LD_LIBRARY_PATH"):
        qenv[key] = env[key]
    qenv["XENSTORED_RUNDIR"] = env["XENSIM_RUN_DIR"]
    qenv["XEN_DOMAIN_ID"] = d
    qenv.setdefault("XEN_QEMU_CONSOLE_LIMIT", "1048576")
    log = open(env["XENSIM_QEMU_LOG"], "ab")
    qemu = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, env=qenv,
                            pass_fds=(fd,), start_new_session=True)
    os.close(fd)
    log.close()
    with open(os.path.join(run_dir, "pids"), "a") as f:
        f.write("qemu %d\n" % qemu.pid)
    xenstore(env, "xenstore-write",
             "/local/domain/%s/image/device-model-pid" % d, str(qemu.pid))
    state = "/local/domain/0/device-model/%s/state" % d
    deadline = time.monotonic() + 60
    while True:
        try:
            if xenstore(env, "xenstore-read", state) == "running":
                break
        except subprocess.CalledProcessError:
            pass
        if qemu.poll() is not None:
            fail("QEMU exited (status %s) before 'running'" % qemu.returncode)
        if time.monotonic() > deadline:
            fail("state not 'running' 60 s after the restore spawn")
        time.sleep(0.1)
    qmp = Qmp(env["XENSIM_QMP"])
    status = qmp.execute("query-status").get("status")
    if status != "running":
        fail("query-status after restore: %s" % status)
    qmp.execute("cont")
    qmp.sock.close()
    print(qemu.pid)


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("save", "restore"):
        fail("usage: libxl-save-restore.py save|restore RUN-DIR FILE")
    (save if sys.argv[1] == "save" else restore)(sys.argv[2], sys.argv[3])


if __name__ == "__main__":
    main()
