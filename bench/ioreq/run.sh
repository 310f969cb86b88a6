#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# ioreq benchmark (make bench): synchronous PIO and MMIO round trips, the
# device model's CPU time per synchronous ioreq, and buffered write
# throughput, for our QEMU and Debian's stock one on xensim in the same
# run (bench-ioreq.py says how each figure is taken).  Settings:
# IOREQ_BENCH_ROUNDS (5), IOREQ_BENCH_N (20000 synchronous ioreqs a round).
. "$(cd "$(dirname "$0")/../.." && pwd)/mk/common.sh"
set +e
. "$TOP/bench/lib.sh"
bench_need_xensim
echo "   load: $(uptime)"
python3 "$TOP/bench/ioreq/bench-ioreq.py" "$sim" "$ours" "$stock" \
    "${IOREQ_BENCH_ROUNDS:-5}" "${IOREQ_BENCH_N:-20000}"
