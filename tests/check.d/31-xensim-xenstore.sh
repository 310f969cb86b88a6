#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# xensim xenstored unit tests: the daemon driven through Debian's real
# libxenstore (as QEMU and libxl use it) plus raw malformed frames.
set -uo pipefail
: "${TOP:?}" "${BUILD:?}"
. "$(dirname "$0")/lib/tap.sh"
out=$BUILD/xensim
if tap_need "$out/xenstored" "$out/xenstored-test"; then
    tap_run xenstored "$out/xenstored-test" "$out/xenstored"
fi
tap_end
exit 0
