#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Run every benchmark (bench/*/run.sh).  Each prints its own table with
# ratios against Debian's stock build measured in the same run.
. "$(dirname "$0")/common.sh"
export TOP BUILD
for b in "$TOP"/bench/*/run.sh; do
    [ -e "$b" ] || continue
    echo "=== bench: $(basename "$(dirname "$b")")"
    bash "$b"
done
