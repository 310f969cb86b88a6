#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# xensim end to end: Debian's stock Xen device model and our
# build/qemu-system-x86_64 start on xensim-hv + xenstored with a
# libxl-style argv and answer PCI config reads of every device on bus 0
# (CF8/CFC issued by the simulator's vCPU).
set -uo pipefail
: "${TOP:?}" "${BUILD:?}"
. "$(dirname "$0")/lib/tap.sh"
out=$BUILD/xensim
if tap_need "$out/xensim-hv" "$out/xenstored" "$out/lib/libxenctrl.so.4.17"; then
    tap_run e2e-pci python3 "$TOP/tests/xensim/tests/e2e-pci.py" "$out" \
        /usr/libexec/xen-qemu-system-i386 "$BUILD/qemu-system-x86_64"
fi
tap_end
exit 0
