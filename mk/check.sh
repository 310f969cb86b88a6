#!/bin/bash
# Run every test suite and count.  A suite is an executable mk/check.d/*.sh
# that prints TAP result lines ("ok ..." / "not ok ..."); lines starting
# with "ok" or "not ok" are counted, everything else is passed through.
# A suite that exits non-zero without reporting a failure counts as one.
# The last line is the plain "N passed, N failed" summary.
. "$(dirname "$0")/common.sh"

passed=0 failed=0 skipped=0
export TOP BUILD
for suite in "$TOP"/mk/check.d/*.sh; do
    name=$(basename "$suite" .sh)
    echo "=== $name"
    out=$(mktemp)
    set +e
    bash "$suite" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    set -e
    p=$(grep -cE '^ok\b' "$out" || true)
    s=$(grep -cE '^ok\b.*# *(SKIP|skip)' "$out" || true)
    f=$(grep -cE '^not ok\b' "$out" || true)
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        echo "not ok - $name exited with status $rc"
        f=1
    fi
    passed=$((passed + p - s)) failed=$((failed + f)) skipped=$((skipped + s))
    rm -f "$out"
done
echo
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" = 0 ]
