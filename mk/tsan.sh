#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# make tsan: QEMU under ThreadSanitizer (mk/build-qemu-tsan.sh) through the
# runs where its threads meet: the ioreq end-to-end test (4 vCPUs at once,
# a request in flight on each, the buffered ring, invalidations during
# rep ins, stop/cont/reset with 4 vCPUs busy), the hostile-ioreq classes,
# the AHCI workload on 4 vCPUs (NCQ from the vcpus phase, the map cache,
# io_uring), the lifecycle test (save, dirty log, VRAM relocation) and the
# Q35 workload (six AHCI ports of NCQ, a 4 MiB PIO command polled from the
# vCPU).
# The "xen-ioreq" thread serves ioreqs with the BQL, the main loop runs
# the devices' completions, the block layer its own threads.
# TSan's reports go to $BUILD/tsan/report.*; the run ends with their
# count and, for each distinct kind, the first frames of both accesses.
# Suppressions: 7.2's tests/tsan/suppressions.tsan (recursive AioContext
# locks, glibc's mutex init) and tests/check.d/tsan-qemu.supp (7.2's own
# start-up races of the monitor's I/O thread, the BH list's plain head
# read, errno in the SIGTERM handler; top frames only, each explained
# there).  Exit status: 0 when there is no report and every run passed
# (a report also makes QEMU exit with TSan's status 66).
. "$(dirname "$0")/common.sh"
set +e

bash "$TOP/mk/build-qemu-tsan.sh" >"$BUILD/qemu-tsan-build.log" 2>&1 || {
    tail -20 "$BUILD/qemu-tsan-build.log"
    die "the TSan build failed (see $BUILD/qemu-tsan-build.log)"
}
tsan=$BUILD/qemu-tsan/qemu-system-x86_64
sim=$BUILD/xensim
out=$BUILD/tsan
rm -rf "$out"
mkdir -p "$out"
cat "$SRC/tests/tsan/suppressions.tsan" "$TOP/tests/check.d/tsan-qemu.supp" \
    >"$out/suppressions"
export TSAN_OPTIONS="log_path=$out/report suppressions=$out/suppressions history_size=4 second_deadlock_stack=1"
failed=0

run() {
    local name=$1 rc
    shift
    "$@" >"$out/$name.out" 2>&1
    rc=$?
    grep -q '^not ok' "$out/$name.out" && rc=1
    if grep -q '^ok' "$out/$name.out"; then
        echo "tsan: $name: rc $rc ($(grep -c '^ok' "$out/$name.out") ok," \
             "$(grep -c '^not ok' "$out/$name.out") not ok)"
    else
        echo "tsan: $name: rc $rc ($(grep -E '^(summary|phase image)' \
             "$out/$name.out" | tail -1 | cut -c1-100))"
    fi
    [ $rc = 0 ] || failed=$((failed + 1))
}

run e2e-ioreq python3 "$TOP/tests/xensim/tests/e2e-ioreq.py" "$sim" \
    "ours=$tsan"
run e2e-hostile python3 "$TOP/tests/xensim/tests/e2e-hostile.py" "$sim" \
    "ours=$tsan"
run e2e-lifecycle python3 "$TOP/tests/xensim/tests/e2e-lifecycle.py" "$sim" \
    "ours=$tsan"
"$sim/ahci-workload" --mkimage "$out/disk.img" 64 >/dev/null 2>&1
run ahci-workload bash "$TOP/tests/xensim/workload/guest-run.sh" \
    --sim "$sim" --vcpus 4 "$tsan" "$out/disk.img" -- --seed 7
grep -q '^phase image: ok' "$out/ahci-workload.out" ||
    { echo "tsan: ahci-workload: image not verified"; failed=$((failed + 1)); }
rm -f "$out/disk.img"
run q35-workload python3 "$TOP/tests/xensim/q35/q35-workload.py" "$sim" \
    "$tsan" --batches 2
grep -q '^summary: .*result=PASS' "$out/q35-workload.out" ||
    { echo "tsan: q35-workload: no PASS"; failed=$((failed + 1)); }

reports=$(cat "$out"/report.* 2>/dev/null | grep -c '^WARNING: ThreadSanitizer')
echo "tsan: $reports reports in $out/report.*"
# one line per kind: the warning and the top frame of each access
cat "$out"/report.* 2>/dev/null | sed 's/ (pid=[0-9]*)//; s/ (qemu-system[^)]*)//' |
    awk '/^WARNING: ThreadSanitizer/ { w = $0; n = 0; next }
         w && /^    #0 / { w = w " |" substr($0, 7); if (++n == 2) { print w; w = "" } }
         w && /^SUMMARY/ { print w; w = "" }' | sort | uniq -c | sort -rn | head -40
[ "$reports" = 0 ] && [ $failed = 0 ]
