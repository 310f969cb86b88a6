#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The map cache's bug scenarios against ours, QEMU 7.2's xen-mapcache.c
# from the pristine base, and 7.2 with the 2017 overlapping-DMA fix
# (7fb394ad8a) undone, all over the unit test's in-process backend
# (tests/unit/test-xen-mapcache-stock.c, built by make build with
# mk/build-mapcache-stock.sh).  Each TAP line says whether a cache
# translated and read right; a line is "ok" when the cache does what the
# test file records (ours: always right; 7.2: the measured failures).
# The table at the end is the one in docs/xen-mapcache.rst.
set -u
: "${TOP:?}" "${BUILD:?}"
. "$(dirname "$0")/lib/tap.sh"
t=$BUILD/mapcache-stock/test-xen-mapcache-stock
tap_need "$t" || { tap_end; exit 0; }
tap_run "" "$t"
tap_end
