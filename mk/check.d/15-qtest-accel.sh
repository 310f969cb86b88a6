#!/bin/bash
# QEMU's own qtests for the devices of our lean configuration, on the qtest
# accelerator: proves the device set is complete and the build sound before
# the Xen-specific suites run the same tests under the simulator.
. "$TOP/mk/common.sh"
set +e
. "$(dirname "$0")/lib/tap.sh"

export QTEST_QEMU_BINARY=$BUILD/qemu-system-x86_64
export QTEST_QEMU_IMG=$BUILD/qemu-img
for t in $(make -s -C "$TOP" print-qtests); do
    # Each result named by the test binary, so names stay unique.
    tap_need "$BUILD/qemu/tests/qtest/$t" &&
        tap_run "$t" timeout 600 "$BUILD/qemu/tests/qtest/$t" --tap -q
done
tap_end
exit 0
