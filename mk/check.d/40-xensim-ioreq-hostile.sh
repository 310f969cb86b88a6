#!/bin/bash
# Hostile ioreqs, ring states and slot states (tests/xensim/tests/
# e2e-hostile.py): every request class Xen never sends, one fresh device
# model each, through the hv's rawioreq/rawbuf probes and its injection
# commands (ioreq, notify, bufring).  Ours must answer the vCPU (all-ones
# for reads), leave guest RAM, VGA memory, ring pointers and slot as a
# refusal leaves them, count it in query-xen-ioreq, keep answering
# query-status and serve an ordinary access afterwards, with no
# device-model bug reported.  Debian's stock 7.2 dies, hangs or answers
# wrongly on most: those are recorded as
# "ok ... # SKIP known stock 7.2 failure: <case>".
# tests/ioreq-mutants/mutants.py shows each case failing on a mutant of
# our ioreq core.
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
