#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Run every test suite and count.  A suite is tests/check.d/NN-name.sh; it
# prints TAP (tests/check.d/lib/tap.sh): one plan "1..N" and N result lines
# "ok ..." / "not ok ...", "ok ... # SKIP reason" for a known failure.
# Everything else is passed through.
#
# A suite fails (one "not ok" line naming it) when it prints no plan or
# more than one, stops before its plan is complete (the line says how
# many results are missing), prints more results than planned, or exits
# non-zero without reporting a failure.  Suites only test: make check
# builds everything first, so a build failure stops it as one.
# CHECK_SUITES="NN-name ..." runs only those suites.
# The last line is the plain "N passed, N failed[, N skipped]" summary.
. "$(dirname "$0")/../mk/common.sh"

passed=0 failed=0 skipped=0
export TOP BUILD
suites=()
if [ -n "${CHECK_SUITES:-}" ]; then
    for s in $CHECK_SUITES; do
        suites+=("$TOP/tests/check.d/$s.sh")
    done
else
    suites=("$TOP"/tests/check.d/[0-9]*.sh)
fi
# Suites live here, next to the tests; mk/ is the build driver's.  A suite
# merged into the old place would silently not run: say so instead.
for old in "$TOP"/mk/check.d/*.sh; do
    [ -e "$old" ] || continue
    echo "not ok - $old: suites live in tests/check.d now (git mv it there)"
    failed=$((failed + 1))
done
for suite in "${suites[@]}"; do
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
    plans=$(grep -E '^1\.\.[0-9]+' "$out" || true)
    results=$((p + f))
    harness=()
    if [ -z "$plans" ]; then
        harness+=("no TAP plan: it stopped after $results results")
    elif [ "$(wc -l <<<"$plans")" != 1 ]; then
        harness+=("$(wc -l <<<"$plans") TAP plans, one expected")
    else
        plan=${plans#1..}
        plan=${plan%% *}
        if [ "$results" -lt "$plan" ]; then
            harness+=("stopped after $results of $plan results ($((plan - results)) missing)")
        elif [ "$results" -gt "$plan" ]; then
            harness+=("$results results, its plan says $plan")
        fi
    fi
    if [ "$rc" != 0 ] && [ ${#harness[@]} != 0 ]; then
        harness[0]+=", exit status $rc"
    elif [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        harness+=("exited with status $rc")
    fi
    for h in "${harness[@]}"; do
        echo "not ok - $name: $h"
        f=$((f + 1))
    done
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
