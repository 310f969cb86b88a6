#!/bin/bash
# Lifecycle pieces the launcher can drive today (tests/xensim/tests/
# e2e-lifecycle.py): VRAM relocated onto its BAR with the physmap recorded
# in xenstore and removed again, xen-set-global-dirty-log reporting DMA to
# Xen only while on, stop + xen-save-devices-state (live false/true) +
# cont, set-up failures (xenstore unreachable, an event channel bind
# failing) ending a second device model with status 1 and a message and
# no ioreq server left.  Ours and stock (a stock failure is a SKIP).
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
python3 "$TOP/tests/xensim/tests/e2e-lifecycle.py" "$sim" "${args[@]}" |
    grep -v '^1\.\.'
exit "${PIPESTATUS[0]}"
