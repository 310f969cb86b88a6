#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A guest AHCI workload on xensim against our QEMU and Debian's stock one
# (tests/xensim/workload, README-workload.md): the same raw image with a
# known pattern, the same seed.  Per binary: the HBA found and the disk
# identified; READ DMA EXT data verified; NCQ READ/WRITE FPDMA QUEUED
# batches verified with 32 commands in flight; the 2017 map cache bug
# report's overlapping DMA pattern verified; the image file equal to what
# the guest wrote; no errors, no DM BUG reports, no ioreq timeouts.  Ours
# also with INTx instead of MSI.  Then the workload's own failure paths:
# the device model killed under it (a clear error, exit 1, no hang), an
# image it did not make (refused, exit 2), and the verifier finding wrong
# data (a zeroed image it is told to trust).
#
# Stock QEMU 7.2 keeps a known map cache bug (a duplicate entry after an
# unlocked lookup, then the wrong entry's reverse lookup or lock count:
# "Bad ram offset", "mapcache entry lock overflow"): a stock failure with
# that signature in its log is reported "ok ... # SKIP stock: <reason>".
# Ours must pass every line.
set -uo pipefail
: "${TOP:?}" "${BUILD:?}"
sim=$BUILD/xensim
ours=$BUILD/qemu-system-x86_64
stock=/usr/libexec/xen-qemu-system-i386
guest=$TOP/tests/xensim/workload/guest-run.sh
. "$(dirname "$0")/lib/tap.sh"
skip() { tap_skip "$@"; }

tap_need "$sim/xensim-hv" "$sim/run" "$sim/lib/libxenctrl.so.4.17" \
    "$sim/ahci-workload" || { tap_end; exit 1; }

scratch=$(mktemp -d /tmp/xensim-ahci-test.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

# The known old map cache failure, from a run's output; empty if none.
known_bug() {
    grep -oE 'Bad ram offset [0-9a-fA-F]+|mapcache entry lock overflow' \
        "$1" | head -n 1
}

# check NAME BINARY [WORKLOAD-ARGS...]: one run, its TAP lines.
check() {
    local name=$1 bin=$2 out=$scratch/$1.out rc bug line
    shift 2
    if [ ! -x "$bin" ]; then
        skip "$name: AHCI workload" "$bin missing"
        return
    fi
    "$sim/ahci-workload" --mkimage "$scratch/disk.img" 64 || {
        tap 1 "$name: make the disk image"
        return
    }
    bash "$guest" --sim "$sim" "$bin" "$scratch/disk.img" -- --seed 7 \
        "$@" > "$out" 2>&1
    rc=$?
    sed 's/^/# /' "$out"
    bug=""
    [ "$name" = stock ] && bug=$(known_bug "$out")
    # result PATTERN DESCRIPTION
    result() {
        if grep -qE "$1" "$out"; then
            tap 0 "$name: $2"
        elif [ -n "$bug" ]; then
            skip "$name: $2" "stock: QEMU 7.2 map cache bug ($bug)"
        else
            tap 1 "$name: $2"
        fi
    }
    result '^phase init: ok.*NCQ yes depth 32' \
        "AHCI found by PCI scan, IDENTIFY matches the image, NCQ depth 32"
    result '^phase read-dma-ext: ok' "READ DMA EXT data verified"
    result '^phase ncq-mixed: ok' \
        "NCQ READ/WRITE FPDMA batches verified (overlapping 1 MiB regions)"
    result '^summary: .*max_inflight=32 ' "32 NCQ commands in flight"
    if [[ " $* " != *" --no-overlap "* ]]; then
        result '^phase overlap: ok' \
            "2017 bug pattern (2 MiB + 1 MiB DMA of one index) verified"
        result '^summary: .*overlap=yes ' \
            "overlap pattern held (B and C in flight at the CPU access)"
    fi
    result '^phase image: ok' "image file equals what the guest wrote"
    line=$(grep '^hv: ' "$out")
    if [ $rc = 0 ] && [[ $line == *" dm_bugs=0"* ]] &&
       [[ $line == *" ioreq_timeouts=0 "* ]] &&
       grep -q '^summary: .* errors=0 .*result=PASS' "$out"; then
        tap 0 "$name: no errors, no DM bugs, no ioreq timeouts"
    elif [ -n "$bug" ]; then
        skip "$name: no errors, no DM bugs, no ioreq timeouts" \
            "stock: QEMU 7.2 map cache bug ($bug)"
    else
        tap 1 "$name: no errors, no DM bugs, no ioreq timeouts (exit $rc)"
    fi
}

check ours "$ours"
check stock "$stock"
check ours-intx "$ours" --irq intx --no-overlap --batches 16

# The device model dies under the guest: a clear error, not a hang.
"$sim/ahci-workload" --mkimage "$scratch/disk.img" 64
if env=$("$sim/run" --keep --domid 9 --memory 256 --vcpus 2 \
             --disk "$scratch/disk.img" --hdtype ahci -- "$ours" \
             2>"$scratch/kill.launch"); then
    (
        set -a
        eval "$env"
        set +a
        timeout 120 "$sim/ahci-workload" --disk "$scratch/disk.img" \
            > "$scratch/kill.out" 2>&1 &
        wl=$!
        sleep 1
        kill -9 "$XENSIM_QEMU_PID"
        wait $wl
        echo $? > "$scratch/kill.rc"
        $XENSIM_STOP >/dev/null 2>&1
    )
    sed 's/^/# /' "$scratch/kill.out"
    [ "$(cat "$scratch/kill.rc")" = 1 ] &&
        grep -q 'device model (pid [0-9]*) has exited' "$scratch/kill.out"
    tap $? "device model killed mid-run: the workload says so and exits 1"
else
    sed 's/^/# /' "$scratch/kill.launch"
    tap 1 "device model killed mid-run: launch"
fi

# An image the workload did not make is refused before any guest access.
head -c $((64 << 20)) /dev/zero > "$scratch/zero.img"
"$sim/ahci-workload" --disk "$scratch/zero.img" --control /nonexistent \
    > "$scratch/zero.out" 2>&1
rc=$?
sed 's/^/# /' "$scratch/zero.out"
[ $rc = 2 ] && grep -q "not the workload's pattern" "$scratch/zero.out"
tap $? "an image without the pattern is refused (exit 2)"

# The verifier itself: told to trust a zeroed image, the workload must
# find that the data read is not the pattern.
bash "$guest" --sim "$sim" --domid 8 "$ours" "$scratch/zero.img" -- \
    --no-image-check --no-overlap > "$scratch/verify.out" 2>&1
rc=$?
sed 's/^/# /' "$scratch/verify.out"
[ $rc = 1 ] && grep -q '^   MISMATCH read data' "$scratch/verify.out"
tap $? "verifier: wrong data read is reported as MISMATCH, exit 1"
tap_end
