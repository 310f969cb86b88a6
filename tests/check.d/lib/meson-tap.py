#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Run QEMU-side tests through `meson test` and print one TAP stream.

  meson-tap.py BUILDDIR LOGBASE MESON-TEST-ARGS...

runs `meson test -C BUILDDIR --no-rebuild --logbase LOGBASE ARGS` (the
meson that configured BUILDDIR; nothing is built: make build did that),
then reads BUILDDIR/meson-logs/LOGBASE.json and prints, for every test
meson ran, each result of the test's own TAP as "ok - TEST: CASE" (SKIP
kept), then one plan for all of them.  A test whose TAP stops short of
its plan or has none, or that meson does not count as passed (FAIL,
TIMEOUT, ERROR, UNEXPECTEDPASS) with no failing case to show for it,
adds a "not ok" saying so, with the end of its output as diagnostics.
Meson running no test at all is a failure too.  Exits 0.
"""
import json
import os
import re
import subprocess
import sys

RESULT = re.compile(r"^(not ok|ok)\b(?: +\d+)?(?: +-)?(?: +(.*))?$")
PLAN = re.compile(r"^1\.\.(\d+)")
NOISE = re.compile(r"^# (Start of|End of|starting QEMU|slow test)")
GOOD = {"OK", "SKIP", "EXPECTEDFAIL"}

n = 0


def emit(ok, what):
    global n
    n += 1
    print("%s %d - %s" % ("ok" if ok else "not ok", n, what))


def diag(text, lines=15):
    for line in text.splitlines()[-lines:]:
        print("#   " + line)


def meson_binary(builddir):
    with open(os.path.join(builddir, "config-host.mak")) as f:
        for line in f:
            if line.startswith("MESON="):
                return line.split("=", 1)[1].strip()
    return "meson"


def main():
    builddir, logbase, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    log = os.path.join(builddir, "meson-logs", logbase + ".json")
    if os.path.exists(log):
        os.unlink(log)
    cmd = [meson_binary(builddir), "test", "-C", builddir, "--no-rebuild",
           "--logbase", logbase] + args
    print("# " + " ".join(cmd))
    run = subprocess.run(cmd, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    tests = []
    if os.path.exists(log):
        with open(log) as f:
            tests = [json.loads(line) for line in f if line.strip()]
    if not tests:
        diag(run.stdout)
        emit(False, "meson test ran no test (status %d)" % run.returncode)
    for t in tests:
        # "qemu:unit+xen / test-xen-mapcache": the test's own name
        name, result = t["name"].split(" / ", 1)[-1], t["result"]
        plan, got, bad = None, 0, 0
        for line in (t.get("stdout") or "").splitlines():
            m = PLAN.match(line)
            if m:
                plan = int(m.group(1))
                continue
            if line.startswith("#") and not NOISE.match(line):
                print(line)
                continue
            m = RESULT.match(line)
            if m:
                got += 1
                ok = m.group(1) == "ok"
                bad += not ok
                emit(ok, "%s: %s" % (name, m.group(2) or ""))
        problem = None
        if plan is None:
            problem = "no TAP plan (%d results)" % got
        elif got < plan:
            problem = "stopped after %d of %d results (%d missing)" % (
                got, plan, plan - got)
        elif got > plan:
            problem = "%d results, its plan says %d" % (got, plan)
        elif result not in GOOD and not bad:
            problem = "meson says %s (exit %s)" % (result,
                                                   t.get("returncode"))
        if problem:
            diag((t.get("stdout") or "") + (t.get("stderr") or ""))
            emit(False, "%s: %s" % (name, problem))
        print("# %s: %s in %.1f s" % (name, result, t.get("duration", 0)))
    print("1..%d" % n)


main()
