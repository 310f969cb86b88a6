#!/bin/bash
# xensim end to end: Debian's stock Xen device model and our
# build/qemu-system-x86_64 start on xensim-hv + xenstored with a
# libxl-style argv and answer PCI config reads of every device on bus 0
# (CF8/CFC issued by the simulator's vCPU).
set -uo pipefail
: "${TOP:?}" "${BUILD:?}"
out=$BUILD/xensim
if ! make --no-print-directory -s -C "$TOP/tests/xensim" O="$out" \
        >/dev/null; then
    echo "not ok 1 - build xensim"
    exit 1
fi
python3 "$TOP/tests/xensim/tests/e2e-pci.py" "$out" \
    /usr/libexec/xen-qemu-system-i386 "$BUILD/qemu-system-x86_64" |
    grep -v '^1\.\.'
exit "${PIPESTATUS[0]}"
