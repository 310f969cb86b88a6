#!/bin/bash
# xensim hypervisor simulator unit tests (tests/xensim/tests): the ABI
# contract of the replacement libraries, transport, foreign memory,
# event channels and ioreq round trips against a fake device model.
# Each test binary runs its own private xensim-hv.
set -uo pipefail
: "${TOP:?}" "${BUILD:?}"
out=$BUILD/xensim
if ! make --no-print-directory -s -C "$TOP/tests/xensim" O="$out" \
        libs hv tests >/dev/null; then
    echo "not ok 1 - build xensim libraries, xensim-hv and its tests"
    exit 1
fi
rc=0
echo "# abi-check"
bash "$TOP/tests/xensim/tests/abi-check.sh" "$out/lib" \
    /usr/libexec/xen-qemu-system-i386 "$BUILD/qemu-system-x86_64" || rc=1
for t in test-transport test-fmem test-ioreq; do
    echo "# $t"
    "$out/tests/$t" 2>/dev/null | grep -v '^1\.\.' || true
    [ "${PIPESTATUS[0]}" = 0 ] || rc=1
done
exit $rc
