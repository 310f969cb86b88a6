#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Q35 Xen guests on xensim (tests/xensim/q35/e2e-q35.py): the machine as
# libxl 4.17 starts it through device_model_args_hvm (q35,accel=xen;
# q35 -accel xen; xenfv-q35; xen-platform=off), Xen's RAM layout, the
# PCIe ECAM window and PCI_CONFIG ioreqs above register 255, INTx to
# Xen's IOAPIC and all eight PIRQ links A-H in PIC mode, and libxl's
# PIIX-style disk options on ICH9 AHCI.  Our QEMU only: Debian's stock
# 7.2 has no Xen branch in pc_q35_init and dies in machine init, which
# is checked and reported as a known SKIP.
set -uo pipefail
: "${TOP:?}" "${BUILD:?}"
. "$(dirname "$0")/lib/tap.sh"
out=$BUILD/xensim
stock=/usr/libexec/xen-qemu-system-i386
tap_need "$out/xensim-hv" "$out/run" "$BUILD/qemu-system-x86_64" ||
    { tap_end; exit 1; }
# e2e-q35.py states its plan at its end: a run cut short misses it.
tap_run "" python3 "$TOP/tests/xensim/q35/e2e-q35.py" "$out" \
    "$BUILD/qemu-system-x86_64"
rc=$?
if [ -x "$stock" ]; then
    log=$(mktemp /tmp/xensim-q35-stock.XXXXXX)
    if "$out/run" --domid 29 -- "$stock" -machine q35,accel=xen \
            >"$log" 2>&1; then
        tap_notok "stock: -machine q35,accel=xen started (expected QEMU 7.2 to fail in machine init)"
        rc=1
    else
        tap_skip "stock: -machine q35,accel=xen" "known: QEMU 7.2 has no Xen branch in pc_q35_init ($(grep -oE \
             'status -?[0-9]+' "$log" | head -n 1))"
    fi
    # a failed launch keeps its run directory
    sed -n 's/.*logs kept in \(\/tmp\/xensim-run\.[^ ]*\).*/\1/p' "$log" |
        xargs -r rm -rf
    rm -f "$log"
fi
tap_end
exit "$rc"
