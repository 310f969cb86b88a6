#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A scripted stand-in for QEMU, for testing the xensim launcher itself.

It checks that its argv is shaped as libxl 4.17 builds it, writes
device-model/<domid>/state = running through XENSTORED_PATH (a relative
path, as QEMU does), serves QMP on the libxl-cmd chardev socket and exits
on SIGHUP.  FAKE_DM_MODE picks a misbehaviour the launcher must catch:
  good   behave
  lf     end QMP messages with "\\n" instead of "\\r\\n"
  die    exit with status 3 before writing "running"
  badid  answer query-status with the wrong id
  shape  answer query-chardev with an object instead of a list
"""
import json
import os
import signal
import socket
import struct
import sys

mode = os.environ.get("FAKE_DM_MODE", "good")
argv = sys.argv[1:]


def fail(msg):
    print("fake-dm: bad argv: " + msg, file=sys.stderr)
    sys.exit(2)


def arg_after(opt, start=0):
    i = argv.index(opt, start)
    return argv[i + 1]


# libxl's fixed prefix, in order.
if argv[:3] != ["-xen-domid", argv[1], "-no-shutdown"]:
    fail("prefix " + " ".join(argv[:3]))
domid = int(argv[1])
chardevs = {}
for i, a in enumerate(argv):
    if a == "-chardev":
        props = dict(p.split("=", 1) for p in argv[i + 1].split(",")[1:])
        chardevs[props["id"]] = props
for cid in ("libxl-cmd", "libxenstat-cmd"):
    c = chardevs.get(cid)
    if not c or c.get("server") != "on" or c.get("wait") != "off" or \
            not c["path"].endswith("/qmp-%s-%d" % (cid.split("-")[0], domid)):
        fail("chardev " + cid)
    if "chardev=%s,mode=control" % cid not in argv:
        fail("-mon for " + cid)
for opt in ("-nodefaults", "-no-user-config"):
    if opt not in argv:
        fail(opt)
if arg_after("-machine") != "xenfv,suppress-vmdesc=on":
    fail("machine")
if arg_after("-vnc") != "none" or arg_after("-display") != "none":
    fail("display")
if argv.index("-m") < argv.index("-machine"):
    fail("-m before -machine")
for forbidden in ("-S", "-xen-attach", "-vga", "-M", "-monitor"):
    if forbidden in argv:
        fail("libxl never passes " + forbidden + " here")
with open(os.environ["FAKE_DM_ARGV"], "w") as f:
    f.write("\n".join(argv) + "\n")
if mode == "die":
    sys.exit(3)

# QMP sockets first (QEMU creates them before it runs).
listeners = []
for cid in ("libxl-cmd", "libxenstat-cmd"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(chardevs[cid]["path"])
    s.listen(1)
    listeners.append(s)

# device-model/<domid>/state = running, relative to the DM's domain.
xs = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
xs.connect(os.environ["XENSTORED_PATH"])
payload = ("device-model/%d/state\0running" % domid).encode()
xs.sendall(struct.pack("=IIII", 11, 1, 0, len(payload)) + payload)
hdr = xs.recv(16)
if struct.unpack("=IIII", hdr)[0] != 11:
    sys.exit(4)
xs.recv(16)

signal.signal(signal.SIGHUP, lambda *a: sys.exit(0))
eol = b"\n" if mode == "lf" else b"\r\n"


def send(conn, obj):
    conn.sendall(json.dumps(obj).encode() + eol)


while True:
    conn, _ = listeners[0].accept()
    send(conn, {"QMP": {"version": {"qemu": {"major": 7, "minor": 2,
                                             "micro": 22},
                                    "package": "fake"},
                        "capabilities": ["oob"]}})
    buf = b""
    while True:
        data = conn.recv(4096)
        if not data:
            break
        buf += data
        while b"\r\n" in buf:
            line, buf = buf.split(b"\r\n", 1)
            req = json.loads(line)
            cmd, rid = req["execute"], req["id"]
            send(conn, {"event": "NOISE", "data": {}})
            if cmd == "query-status":
                ret = {"status": "running", "running": True}
                if mode == "badid":
                    rid += 1
            elif cmd == "query-chardev" and mode == "shape":
                ret = {"label": "libxl-cmd"}
            elif cmd == "query-chardev":
                ret = [{"label": c, "filename": "unix:" + p["path"],
                        "frontend-open": True}
                       for c, p in chardevs.items()]
                if "pty" in argv:
                    ret.append({"label": "serial0", "frontend-open": True,
                                "filename": "pty:/dev/pts/99"})
            else:
                ret = {}
            send(conn, {"return": ret, "id": rid})
    conn.close()
