#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A guest AHCI workload on xensim against our QEMU and Debian's stock one
# (tests/xensim/workload, README-workload.md): the same raw image with a
# known pattern, the same seed.  Per binary: the HBA found and the disk
# identified; READ DMA EXT data verified; NCQ READ/WRITE FPDMA QUEUED
# batches verified with 32 commands in flight; the 2017 map cache bug
# report's overlapping DMA pattern verified; the image file equal to what
# the guest wrote; no errors, no DM BUG reports, no ioreq timeouts.  Ours
# also with INTx instead of MSI, and both on a 4-vCPU guest whose vCPUs
# 1-3 make PIO, MMIO and rep string I/O while vCPU 0 runs NCQ DMA, with
# dom0 balloons leaving an invalidation pending per vCPU (the workload's
# vcpus phase); that phase must fail on a device model that answers every
# vCPU on vCPU 0's port (mutant-dm.c vcpu0-notify).  Then the workload's
# own failure paths:
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

# check NAME BINARY [WORKLOAD-ARGS...]: one run, its TAP lines; the
# guest has $vcpus vCPUs (--vcpus also given to the workload when not 2).
vcpus=2
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
    bash "$guest" --sim "$sim" $([ $vcpus = 2 ] || echo --vcpus $vcpus) \
        "$bin" "$scratch/disk.img" -- --seed 7 "$@" > "$out" 2>&1
    rc=$?
    sed 's/^/# /' "$out"
    bug=""
    [[ $name == stock* ]] && bug=$(known_bug "$out")
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
    if [ $vcpus != 2 ]; then
        result '^phase vcpus: ok' "$vcpus vCPUs issuing at once (PIO, MMIO,"\
" rep string I/O on 1-$((vcpus - 1)) during NCQ DMA on 0), data verified"
        result '^   per-vCPU invalidate: all' \
            "a dom0 balloon: an invalidation pending on each vCPU, each sent"\
" once before that vCPU's next access"
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
vcpus=4
check ours-4vcpus "$ours" --no-overlap --batches 16
check stock-4vcpus "$stock" --no-overlap --batches 16
vcpus=2

# The vcpus phase must see a device model that answers vCPUs 1-3 on
# vCPU 0's port (their accesses never complete).
"$sim/ahci-workload" --mkimage "$scratch/disk.img" 64
XENSIM_MUTANT=vcpu0-notify LD_PRELOAD=$sim/tests/libxensim-mutant-dm.so \
    bash "$guest" --sim "$sim" --vcpus 4 "$ours" "$scratch/disk.img" -- \
    --seed 7 --no-overlap --batches 4 --timeout-ms 3000 \
    > "$scratch/mutant.out" 2>&1
sed 's/^/# /' "$scratch/mutant.out"
grep -q '^phase ncq-mixed: ok' "$scratch/mutant.out" &&
    grep -q '^phase vcpus: FAIL' "$scratch/mutant.out"
tap $? "vcpus phase fails on the vcpu0-notify mutant (vCPU 0 alone passes)"

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
