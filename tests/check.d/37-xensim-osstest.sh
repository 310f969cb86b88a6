#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# OSSTest's qemuu HVM job sequence through Debian's real xl under xensim
# (issue #16; /work/shared/reference/libxl-dm.md section 4.1, the
# test-guest steps of test-amd64-amd64-xl-qemuu-debianhvm-amd64 after the
# install): guest-start, guest-saverestore, guest-localmigrate, a second
# saverestore, guest-localmigrate/x10, guest-stop, guest-start.2,
# guest-start.repeat (10 stop/start), guest-destroy; with our QEMU and
# with Debian's stock one as device_model_override.  The guest's RAM
# markers and an RTC CMOS byte are checked after every step
# (tests/xensim/xl/xl-e2e.py --osstest).
set -uo pipefail
: "${TOP:?}" "${BUILD:?}"
. "$(dirname "$0")/lib/tap.sh"
per_dm=10       # xl-e2e.py's OSSTEST_CHECKS
total=$((1 + 2 * per_dm))
tap_plan $total

tap_xl_ready $total "osstest sequence" || exit 0

for dm in ours stock; do
    tap_xl -t 900 $dm "" $per_dm xl-e2e.py --osstest
done
