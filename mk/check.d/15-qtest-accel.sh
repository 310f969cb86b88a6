#!/bin/bash
# QEMU's own qtests for the devices of our lean configuration, on the qtest
# accelerator: proves the device set is complete and the build sound before
# the Xen-specific suites run the same tests under the simulator.
. "$TOP/mk/common.sh"

export QTEST_QEMU_BINARY=$BUILD/qemu-system-x86_64
export QTEST_QEMU_IMG=$BUILD/qemu-img
for t in $(make -s -C "$TOP" print-qtests); do
    echo "# $t"
    # Prefix each result with the test binary so names stay unique.
    timeout 600 "$BUILD/qemu/tests/qtest/$t" --tap -q 2>&1 \
        | sed -E "s@^(ok|not ok) [0-9]+ @\1 - $t: @"
    rc=${PIPESTATUS[0]}
    [ "$rc" = 0 ] || echo "not ok - $t exited with status $rc"
done
