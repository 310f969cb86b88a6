#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# QEMU's own qtests for the devices of our lean configuration, and ours
# (xen-dma-test), on the qtest accelerator: proves the device set is
# complete and the build sound before the Xen-specific suites run the same
# tests under the simulator.  They run as QEMU runs them, `meson test
# --suite qtest-x86_64` (the Makefile's QTESTS, built by make build), and
# each case of their TAP is counted (lib/meson-tap.py).
. "$TOP/mk/common.sh"
set +e
names=()
for t in $(make -s -C "$TOP" print-qtests); do
    names+=("qtest-x86_64/$t")
done
# QEMU's timeouts (30 s, 60 s for the slow ones) assume a quiet machine.
python3 "$(dirname "$0")/lib/meson-tap.py" "$QBUILD" check-qtest \
    --suite qtest-x86_64 --timeout-multiplier 10 "${names[@]}"
