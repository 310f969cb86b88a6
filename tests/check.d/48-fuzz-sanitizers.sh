#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The ioreq fuzzer and the sanitizer builds (tests/fuzz/README.md).
#  - xsfuzz and the ASan+UBSan, coverage-instrumented QEMU
#    (mk/build-fuzz.sh, build/qemu-fuzz) are there (make sanitizers,
#    which make check runs, builds them);
#  - every seed and every regression input (tests/fuzz/regress/) replays
#    on it with no finding (no crash, sanitizer report, hang, unanswered
#    access or device-model bug);
#  - a FUZZ_SMOKE_SECONDS (default 60) afl-fuzz run ends with no finding;
#  - the sanitized QEMU passes the PCI/mapcache end-to-end test, the
#    hostile-ioreq classes, the AHCI workload, the Q35 end-to-end test
#    and the Q35 six-port workload: a sanitizer report aborts QEMU, so
#    any report fails its test (suite 49 runs the short soak on it);
#  - the simulator's own libraries, hv and unit tests built with ASan +
#    UBSan (build/xensim-san) pass those tests.
# XEN_DM_SANITIZERS=0 skips it all (the instrumented build is the cost:
# a second full QEMU build, with clang, ASan and UBSan).
set -uo pipefail
: "${TOP:?}" "${BUILD:?}"
. "$(dirname "$0")/lib/tap.sh"
sim=$BUILD/xensim
F=$BUILD/fuzz
san=$BUILD/qemu-fuzz/qemu-system-x86_64
ssan=$BUILD/xensim-san
tap_plan 13
skip_rest() {
    while [ $tap_n -lt 13 ]; do tap_skip "$1" "$2"; done
    exit 0
}
if ! command -v afl-clang-fast >/dev/null; then
    skip_rest "fuzzer" "AFL++ not installed (make deps)"
fi
if [ "${XEN_DM_SANITIZERS:-1}" = 0 ]; then
    skip_rest "fuzzer and sanitizers" "XEN_DM_SANITIZERS=0"
fi
# (tap_need reports what is missing as "not ok" itself)
tap_need "$F/xsfuzz" "$F/xsfuzz-replay" "$F/seeds" "$sim/ahci-workload" &&
    tap_ok "xsfuzz, its seeds and dictionary built"
tap_need "$san" "$ssan/tests/test-ioreq" ||
    skip_rest "sanitized run" "no sanitized QEMU or simulator (make sanitizers)"
tap_ok "the ASan+UBSan instrumented QEMU and simulator built"

export ASAN_OPTIONS=abort_on_error=1:detect_leaks=0:verify_asan_link_order=0:symbolize=1:print_summary=1
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1:symbolize=1
scratch=$(mktemp -d /tmp/xsfuzz-check.XXXXXX)
trap 'for d in "$scratch"/xensim-run.*; do [ -d "$d" ] && "$sim/run" --stop "$d" >/dev/null 2>&1; done; rm -rf "$scratch"' EXIT

replay() {
    local what=$1 out=$scratch/$1.out
    shift
    TMPDIR=$scratch XSFUZZ_SIM=$sim XSFUZZ_QEMU=$san \
    XSFUZZ_WORK=$scratch XSFUZZ_FINDINGS=$scratch \
        "$F/xsfuzz-replay" "$@" >"$out" 2>&1
    local rc=$?
    tap $rc "$what: $# inputs replay with no finding"
    [ $rc = 0 ] || grep -E 'FINDING|^xsfuzz' "$out" | head -5 | sed 's/^/# /'
}
replay seeds "$F"/seeds/*
regress=("$TOP"/tests/fuzz/regress/*.bin)
if [ -e "${regress[0]}" ]; then
    replay regressions "${regress[@]}"
else
    tap_skip regressions "none recorded"
fi

FUZZ_SECONDS=${FUZZ_SMOKE_SECONDS:-60} FUZZ_OUT=$F/smoke XSFUZZ_QEMU=$san \
    bash "$TOP/mk/fuzz.sh" >"$scratch/smoke.out" 2>&1
rc=$?
sed 's/^/# /' "$scratch/smoke.out" | grep -v '^# \[' | tail -8
tap $rc "fuzz smoke (${FUZZ_SMOKE_SECONDS:-60} s): no finding"
grep -q '^fuzz: [1-9][0-9]* executions' "$scratch/smoke.out"
tap $? "fuzz smoke ran executions"

# The sanitized QEMU through the end-to-end suites' own tests:
# sanitized_e2e NAME WHAT SCRIPT ARG... runs tests/xensim/SCRIPT SIM
# ARG... as one result, its first failures as diagnostics.
sanitized_e2e() {
    local out=$scratch/$1.out what=$2 script=$3 rc
    shift 3
    python3 "$TOP/tests/xensim/$script" "$sim" "$@" >"$out" 2>&1
    rc=$?
    grep -q '^not ok' "$out" && rc=1
    tap $rc "sanitized QEMU: $what ($(grep -c '^ok' "$out") ok)"
    [ $rc = 0 ] || grep '^not ok' "$out" | head -5 | sed 's/^/# /'
}
sanitized_e2e pci e2e-pci tests/e2e-pci.py "$san"
sanitized_e2e hostile "hostile ioreqs" tests/e2e-hostile.py "ours=$san"
"$sim/ahci-workload" --mkimage "$scratch/disk.img" 64 >/dev/null 2>&1
bash "$TOP/tests/xensim/workload/guest-run.sh" --sim "$sim" "$san" \
    "$scratch/disk.img" -- --seed 7 >"$scratch/ahci.out" 2>&1
rc=$?
grep -q '^phase image: ok' "$scratch/ahci.out" || rc=1
tap $rc "sanitized QEMU: AHCI workload (NCQ, overlap, image verified)"
[ $rc = 0 ] || tail -8 "$scratch/ahci.out" | sed 's/^/# /'
# Q35 under the sanitized QEMU: the machine's start forms, ECAM, INTx,
# unplug (e2e-q35, ~20 s) and six AHCI ports of NCQ with the 2017
# report's overlap (q35-workload, ~30 s).
sanitized_e2e q35 e2e-q35 q35/e2e-q35.py "$san"
timeout 900 python3 "$TOP/tests/xensim/q35/q35-workload.py" "$sim" "$san" \
    --batches 4 >"$scratch/q35wl.out" 2>&1
rc=$?
grep -q '^summary: .*result=PASS' "$scratch/q35wl.out" || rc=1
tap $rc "sanitized QEMU: Q35 workload (6 ports of NCQ, overlap, images verified)"
[ $rc = 0 ] || tail -8 "$scratch/q35wl.out" | sed 's/^/# /'
# The simulator itself under the sanitizers (built by make sanitizers).
rc=0
tests_ok=0
for t in test-transport test-fmem test-ioreq; do
    [ $rc = 0 ] || break
    # one retry: test-ioreq's timing checks are slower under ASan
    for try in 1 2; do
        ASAN_OPTIONS=detect_leaks=0:allow_user_segv_handler=1 \
            timeout 600 "$ssan/tests/$t" >"$scratch/xsan-$t.out" 2>&1 &&
            ! grep -q '^not ok' "$scratch/xsan-$t.out" && break
        [ $try = 2 ] && rc=1
    done
    tests_ok=$((tests_ok + $(grep -c '^ok' "$scratch/xsan-$t.out")))
done
tap $rc "sanitized simulator: its unit tests pass ($tests_ok ok)"
[ $rc = 0 ] || grep -h -E '^not ok|ERROR|error:' "$scratch"/xsan-*.out |
    head -5 | sed 's/^/# /'
grep -h -E 'ERROR: AddressSanitizer|runtime error:' "$scratch"/*.out \
    >"$scratch/reports" 2>/dev/null
[ ! -s "$scratch/reports" ]
tap $? "no sanitizer report in any output"
head -5 "$scratch/reports" | sed 's/^/# /'
exit 0
