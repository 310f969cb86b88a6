#!/bin/bash
# Hostile ioreqs and buffered ring entries (tests/xensim/tests/
# e2e-hostile.py): every request class Xen never sends, one fresh device
# model each, through the hv's rawioreq/rawbuf probes.  Ours must answer
# the vCPU (all-ones for reads), keep answering query-status and serve an
# ordinary access afterwards, with no device-model bug reported.  Debian's
# stock 7.2 dies, hangs or answers wrongly on most: those are recorded as
# "ok ... # SKIP known stock 7.2 failure: <case>".
set -uo pipefail
: "${TOP:?}" "${BUILD:?}"
sim=$BUILD/xensim
stock=/usr/libexec/xen-qemu-system-i386
if ! make --no-print-directory -s -C "$TOP/tests/xensim" O="$sim" \
        >/dev/null; then
    echo "not ok 1 - build xensim"
    exit 1
fi
args=("ours=$BUILD/qemu-system-x86_64")
[ -x "$stock" ] && args+=("stock=$stock")
python3 "$TOP/tests/xensim/tests/e2e-hostile.py" "$sim" "${args[@]}" |
    grep -v '^1\.\.'
exit "${PIPESTATUS[0]}"
