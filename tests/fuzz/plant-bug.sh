#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Show that the fuzzer finds a bug: build a mutant of the instrumented
# (PLANT_BUILD=$BUILD/qemu: the plain) QEMU whose ioreq dispatch asserts on a 2- or 4-byte port write to an
# IDE taskfile register other than the data register (something the
# seeds do not do, one operand byte away from what they do), fuzz it
# for FUZZ_SECONDS (default 120) and expect a finding.  The tree is put
# back and the real instrumented QEMU rebuilt afterwards.
#
#   TOP=$PWD BUILD=$PWD/build bash tests/fuzz/plant-bug.sh
#
# Exit 0 when the planted bug was found (the demonstration worked).
set -uo pipefail
: "${TOP:?}" "${BUILD:?}"
. "$TOP/mk/common.sh"
set +e
f=$SRC/hw/i386/xen/xen-ioreq-dispatch.c
FB=${PLANT_BUILD:-$BUILD/qemu-fuzz}   # or $BUILD/qemu, the plain build
mutant=$BUILD/fuzz/qemu-mutant
[ -x "$FB/qemu-system-x86_64" ] || exit 2
cp "$f" "$BUILD/fuzz/dispatch.orig"
restore() {
    cp "$BUILD/fuzz/dispatch.orig" "$f"
    touch "$f"
    AFL_QUIET=1 nice ninja -C "$FB" qemu-system-x86_64 >/dev/null
}
trap restore EXIT
python3 - "$f" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
anchor = "bool xen_ioreq_dispatch(XenIOReqServer *s, ioreq_t *req)\n{\n"
assert anchor in s
s = s.replace(anchor, anchor + """\
    /* PLANTED BUG (tests/fuzz/plant-bug.sh) */
    assert(!(req->type == IOREQ_TYPE_PIO && req->dir == IOREQ_WRITE &&
             req->size > 1 && (req->addr & 7) &&
             ((req->addr & ~7ull) == 0x1f0 || (req->addr & ~7ull) == 0x170)));
""", 1)
open(p, "w").write(s)
PY
AFL_QUIET=1 nice ninja -C "$FB" qemu-system-x86_64 >/dev/null || exit 2
cp "$FB/qemu-system-x86_64" "$mutant"
restore
trap - EXIT
FUZZ_SECONDS=${FUZZ_SECONDS:-120} FUZZ_OUT=$BUILD/fuzz/planted \
XSFUZZ_QEMU=$mutant bash "$TOP/mk/fuzz.sh"
rc=$?
planted="xen_ioreq_dispatch: Assertion"
grep -l "$planted" "$BUILD"/fuzz/planted/findings/* 2>/dev/null | head -3
grep -h -m1 "$planted" "$BUILD"/fuzz/planted/findings/* 2>/dev/null | head -1
if [ $rc = 1 ] && grep -q "$planted" "$BUILD"/fuzz/planted/findings/* 2>/dev/null; then
    echo "planted bug found"
    exit 0
fi
echo "planted bug NOT found"
exit 1
