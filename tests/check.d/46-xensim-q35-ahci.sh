#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A Q35 Xen guest on xensim (tests/xensim/q35/q35-workload.py): our QEMU
# started as libxl starts it with -machine q35,accel=xen and six disks on
# the ICH9 AHCI; the guest plays a Q35-aware firmware (BARs, PCIEXBAR,
# PIRQ A-H, the LPC's ACPI PM block), then NCQ READ/WRITE FPDMA QUEUED 32
# deep on all six ports at once, every sector read and every sector of
# every image checked, and the 2017 map cache bug report's overlapping
# A/B/C transfers with an unlocked lookup of their index in between
# (QEMU 7.2's map cache dies of it: tests/xensim/q35/mutant-build.sh
# mapcache72, then q35-workload.py on it ends "mapcache entry lock
# overflow"), and a 4 MiB PIO command during which the vCPU's polls of
# PxCI must be served (before series/37 none was: the whole command ran
# with the BQL held).  Then the verifier itself: a zeroed disk it still
# expects its pattern on must be reported and fail the run.  Debian's
# stock QEMU 7.2 cannot start Q35 under Xen (check.d/45).
set -uo pipefail
: "${TOP:?}" "${BUILD:?}"
. "$(dirname "$0")/lib/tap.sh"
out=$BUILD/xensim
wl=$TOP/tests/xensim/q35/q35-workload.py
tap_need "$out/run" "$out/xensim-hv" "$BUILD/qemu-system-x86_64" ||
    { tap_end; exit 1; }
# 11 results of the workload run, 1 of the verifier's
tap_plan 12
log=$(mktemp /tmp/xensim-q35-ahci.XXXXXX)
trap 'rm -f "$log"' EXIT
timeout 900 python3 "$wl" "$out" "$BUILD/qemu-system-x86_64" --batches 4 \
    > "$log" 2>&1
rc=$?
sed 's/^/# /' "$log"
result() {
    grep -qE "$1" "$log"
    tap $? "$2"
}
result '^phase start: ok' "libxl argv + -machine q35,accel=xen, 6 AHCI disks: running"
result '^phase firmware: ok' \
    "firmware: bus 0 scan, BARs, PCIEXBAR/ECAM, PMBASE + SCI_EN, PIRQ A-H"
result '^phase init: ok' "6 ports up, IDENTIFY: size, NCQ, queue depth 32"
result '^phase ncq: ok' "NCQ READ/WRITE FPDMA 32 deep on 6 ports, every sector read verified"
# 32 issued per port; the QMP throttle (10 IOPS per disk) lets a command
# or two through before the guest reads PxSACT back.
result '^summary: .*max_port_depth=(3[0-2]) ' \
    "32 NCQ commands issued on a port, 30 or more seen outstanding"
result '^summary: .*max_inflight=1[5-9][0-9] ' \
    "150 or more NCQ commands outstanding on the 6 ports at once"
result '^summary: .* irqs=4 ' "every batch completed by INTx (PIRQA's ISA IRQ and Xen's GSI up, then down)"
result '^phase overlap: ok .*in flight at the CPU access: yes' \
    "2017 report: A and B, A done, C, CPU rep outsb + PIO IDENTIFY into X with B, C in flight; data right"
grep -q '^figures: .*mc_locked=\([0-9]*\) mc_locked_before=\1 ' "$log"
tap $? "map cache: as many locked entries at the end as before the I/O (no stale lock)"
result '^phase image: ok' "every sector of the 6 image files is what the guest wrote or the pattern"
grep -q '^summary: .* errors=0 .*ioreq_timeouts=0 dm_bugs=0 .*result=PASS' \
    "$log" && [ $rc = 0 ]
tap $? "no errors, no ioreq timeouts, no DM bugs (exit $rc)"

timeout 900 python3 "$wl" "$out" "$BUILD/qemu-system-x86_64" --batches 1 \
    --zero-disk 3 > "$log" 2>&1
rc=$?
grep -E '^(phase|summary)' "$log" | sed 's/^/# /'
[ $rc = 1 ] && grep -q 'port 3 slot .* differs' "$log" &&
    grep -q '^phase image: FAIL' "$log" && ! grep -q 'port [01245] slot' "$log"
tap $? "verifier: a zeroed disk is reported (port 3 reads, image), exit 1"
