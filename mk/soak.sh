#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# make soak: the full soak (tests/soak/README.md), SOAK_IOS (default 10^6)
# NCQ I/Os with faults and a save/restore half way; niced, it runs long.
# Its output goes to $BUILD/soak/soak.log too; exits 1 unless PASS.
. "$(dirname "$0")/common.sh"

IOS=${SOAK_IOS:-1000000}
mkdir -p "$BUILD/soak"
log "soak: $IOS I/Os (output in $BUILD/soak/soak.log)"
nice -n "${SOAK_NICE:-10}" python3 "$TOP/tests/soak/soak.py" "$BUILD" \
    "$BUILD/qemu-system-x86_64" --ios "$IOS" \
    --report-every "${SOAK_REPORT_EVERY:-10000}" 2>&1 |
    tee "$BUILD/soak/soak.log" | grep -v '^progress\|^sample'
grep -q 'result=PASS$' "$BUILD/soak/soak.log"
