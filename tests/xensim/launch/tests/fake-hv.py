#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A scripted stand-in for xensim-hv, for testing the launcher itself.

It listens on --socket and --control (appearing by atomic rename, as the
real one does) and answers the control lines the launcher uses, with a
two-device PCI bus 0 behind CF8/CFC (i440FX at 00:00.0 and the Xen
platform device at 00:02.0).
"""
import argparse
import os
import signal
import socket
import sys

p = argparse.ArgumentParser()
for opt in ("--socket", "--control", "--domid", "--memory", "--vcpus"):
    p.add_argument(opt, required=True)
p.add_argument("--quiet", action="store_true")
opts = p.parse_args()
for name in ("domid", "memory", "vcpus"):
    int(getattr(opts, name))


def listen(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path + ".tmp")
    s.listen(4)
    os.rename(path + ".tmp", path)
    return s


lib = listen(opts.socket)
ctl = listen(opts.control)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
devices = {(0, 0): (0x12378086, 0x060000, 0x00),
           (2, 0): (0x00015853, 0xff8001, 0x00)}
cf8 = 0
io = 0
while True:
    conn, _ = ctl.accept()
    f = conn.makefile("rw")
    for line in f:
        words = line.split()
        reply = "ok"
        if words[:2] == ["outl", "0xcf8"]:
            cf8 = int(words[2], 0)
            io += 1
        elif words[:2] == ["inl", "0xcfc"]:
            io += 1
            dev, fn, reg = (cf8 >> 11) & 31, (cf8 >> 8) & 7, cf8 & 0xfc
            ids, cls, hdr = devices.get((dev, fn), (0xffffffff, 0, 0))
            val = {0: ids, 8: cls << 8, 0xc: hdr << 16}.get(reg, 0)
            reply = "ok %#x" % (val if ids != 0xffffffff else 0xffffffff)
        elif words == ["counters"]:
            f.write("ioreqs %d\nmaps 0\n" % io)
        else:
            reply = "err EINVAL"
        f.write(reply + "\n")
        f.flush()
    conn.close()
