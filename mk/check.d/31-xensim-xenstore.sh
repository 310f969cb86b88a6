#!/bin/bash
# xensim xenstored unit tests: the daemon driven through Debian's real
# libxenstore (as QEMU and libxl use it) plus raw malformed frames.
# Builds the daemon and its test if `make build` has not (the simulator's
# top-level Makefile may not exist yet), then runs the TAP test binary.
set -uo pipefail
: "${TOP:?}" "${BUILD:?}"
out=$BUILD/xensim
if ! make --no-print-directory -s -C "$TOP/tests/xensim/xenstored" \
        O="$out" >/dev/null; then
    echo "not ok 1 - build xensim xenstored"
    exit 1
fi
"$out/xenstored-test" "$out/xenstored" 2>&1 | grep -v '^1\.\.'
exit "${PIPESTATUS[0]}"
