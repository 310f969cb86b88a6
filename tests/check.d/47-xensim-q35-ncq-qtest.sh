#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# tests/qtest/xen-ahci-ncq-test through the xensim bridge on our QEMU: a
# Q35 guest under Xen, libqos's AHCI driver, the 2017 map cache bug
# report's overlapping NCQ transfers made deterministic with blkdebug
# breakpoints (A/B/C; with an unlocked lookup of X before B ends; the
# four-transfer variant with an invalidate), and 6 ports x 32 NCQ slots
# with invalidates, slow foreign maps and a bad page injected mid-flight.
# Debian's stock QEMU 7.2 cannot start Q35 under Xen (check.d/45), so it
# is not run here.
#
# Then the same test on mutants (tests/xensim/q35/mutant-build.sh, built
# by make mutants): QEMU 7.2's map cache must fail the
# unlocked-lookup case (a lock left behind) and pass the report's own
# order (the 2017 fix); a map cache whose invalidate unmaps locked
# entries must fail the stress case.
set -uo pipefail
: "${TOP:?}" "${BUILD:?}"
. "$(dirname "$0")/lib/tap.sh"
t=$BUILD/qemu/tests/qtest/xen-ahci-ncq-test
bridge=$BUILD/xensim/qemu-system-x86_64
m72=$BUILD/mutants/qemu-mapcache72
minv=$BUILD/mutants/qemu-invalidate-unmaps-locked
# make build builds the test and the bridge, make mutants the mutants.
tap_need "$bridge" "$BUILD/xensim/xensim-hv" "$t" "$m72" "$minv" ||
    { tap_end; exit 1; }
tap_plan 7
log=$(mktemp /tmp/xen-ahci-ncq.XXXXXX)
trap 'rm -f "$log"' EXIT

# run QEMU CASE...: the test's TAP output in $log
run() {
    local qemu=$1 args=()
    shift
    for c in "$@"; do
        args+=(-p "/x86_64/xen-ahci-ncq/$c")
    done
    # (a stderr of its own: no "Aborted" job report from bash)
    XENSIM_QEMU=$qemu QTEST_QEMU_BINARY=$bridge timeout 900 "$t" --tap \
        "${args[@]}" > "$log" 2>&1
}
passed() {
    grep -q "^ok [0-9]* /x86_64/xen-ahci-ncq/$1\$" "$log"
}

run "$BUILD/qemu-system-x86_64" report/abc report/abc-unlocked report/four \
    stress/6x32
grep -E '^(ok|not ok|Bail)|transfers|ERROR' "$log" | sed 's/^/# /'
passed report/abc
tap $? "ours: A and B in flight, A done, C; B done, C done: data right, no lock left"
passed report/abc-unlocked
tap $? "ours: ... with an unlocked lookup of X (PIO IDENTIFY, port 1) before B ends"
passed report/four
tap $? "ours: four transfers, lookups over 32 MiB and an invalidate while C and D run"
passed stress/6x32
tap $? "ours: 6 ports x 32 NCQ, invalidates, slow maps, a bad page: no error, images right"

run "$m72" report/abc 2>/dev/null
grep -E '^(ok|not ok|Bail)|ERROR' "$log" | sed 's/^/# 7.2: /'
passed report/abc
tap $? "7.2's map cache: the report's own order passes (the 2017 fix)"
run "$m72" report/abc-unlocked 2>/dev/null
grep -E '^(ok|not ok|Bail)|ERROR' "$log" | sed 's/^/# 7.2: /'
! passed report/abc-unlocked && grep -q 'f.locked == g->mc0.locked' "$log"
tap $? "7.2's map cache: the unlocked lookup leaves a lock behind (test fails)"
run "$minv" stress/6x32 2>/dev/null
grep -E '^(ok|not ok|Bail)|ERROR|signal' "$log" | sed 's/^/# mutant: /'
! passed stress/6x32
tap $? "an invalidate that unmaps locked DMA mappings fails the stress case"
