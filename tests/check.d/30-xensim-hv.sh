#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# xensim hypervisor simulator unit tests (tests/xensim/tests): the ABI
# contract of the replacement libraries, transport, foreign memory,
# event channels and ioreq round trips against a fake device model.
# Each test binary runs its own private xensim-hv.
set -uo pipefail
: "${TOP:?}" "${BUILD:?}"
. "$(dirname "$0")/lib/tap.sh"
out=$BUILD/xensim
tap_run abi-check bash "$TOP/tests/xensim/tests/abi-check.sh" "$out/lib" \
    /usr/libexec/xen-qemu-system-i386 "$BUILD/qemu-system-x86_64"
for t in test-transport test-fmem test-ioreq; do
    tap_need "$out/tests/$t" && tap_run "$t" "$out/tests/$t"
done
tap_end
exit 0
