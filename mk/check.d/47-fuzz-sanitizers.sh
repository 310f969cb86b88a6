#!/bin/bash
# The ioreq fuzzer and the sanitizer builds (tests/fuzz/README.md).
#  - build xsfuzz and the ASan+UBSan, coverage-instrumented QEMU
#    (mk/build-fuzz.sh, build/qemu-fuzz);
#  - every seed and every regression input (tests/fuzz/regress/) replays
#    on it with no finding (no crash, sanitizer report, hang, unanswered
#    access or device-model bug);
#  - a FUZZ_SMOKE_SECONDS (default 60) afl-fuzz run ends with no finding;
#  - the sanitized QEMU passes the PCI/mapcache end-to-end test, the
#    hostile-ioreq classes and the AHCI workload: a sanitizer report
#    aborts QEMU, so any report fails its test;
#  - the simulator's own libraries, hv and unit tests built with ASan +
#    UBSan (build/xensim-san) pass those tests.
# XEN_DM_SANITIZERS=0 skips it all (the instrumented build is the cost:
# a second full QEMU build, with clang, ASan and UBSan).
set -uo pipefail
: "${TOP:?}" "${BUILD:?}"
sim=$BUILD/xensim
F=$BUILD/fuzz
san=$BUILD/qemu-fuzz/qemu-system-x86_64
echo "1..11"
n=0
tap() {
    n=$((n + 1))
    if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}
skip_rest() {
    while [ $n -lt 11 ]; do n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; done
    exit 0
}
if ! command -v afl-clang-fast >/dev/null; then
    skip_rest "fuzzer" "AFL++ not installed (make deps)"
fi
if [ "${XEN_DM_SANITIZERS:-1}" = 0 ]; then
    skip_rest "fuzzer and sanitizers" "XEN_DM_SANITIZERS=0"
fi
make --no-print-directory -s -C "$TOP/tests/xensim" O="$sim" >/dev/null &&
    make --no-print-directory -s -C "$TOP/tests/fuzz" O="$F" >/dev/null &&
    python3 "$TOP/tests/fuzz/mkseeds.py" "$F" >/dev/null
tap $? "build xsfuzz, its seeds and dictionary"
t0=$(date +%s)
bash "$TOP/mk/build-fuzz.sh" >"$F/build-san.log" 2>&1
rc=$?
tap $rc "build the ASan+UBSan instrumented QEMU ($(( $(date +%s) - t0 )) s)"
if [ $rc != 0 ]; then
    tail -20 "$F/build-san.log" | sed 's/^/# /'
    skip_rest "sanitized run" "no sanitized QEMU"
fi

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
    n=$((n + 1)); echo "ok $n - regressions # SKIP none recorded"
fi

FUZZ_SECONDS=${FUZZ_SMOKE_SECONDS:-60} FUZZ_OUT=$F/smoke XSFUZZ_QEMU=$san \
    bash "$TOP/mk/fuzz.sh" >"$scratch/smoke.out" 2>&1
rc=$?
sed 's/^/# /' "$scratch/smoke.out" | grep -v '^# \[' | tail -8
tap $rc "fuzz smoke (${FUZZ_SMOKE_SECONDS:-60} s): no finding"
grep -q '^fuzz: [1-9][0-9]* executions' "$scratch/smoke.out"
tap $? "fuzz smoke ran executions"

# The sanitized QEMU through the end-to-end suites' own tests.
python3 "$TOP/tests/xensim/tests/e2e-pci.py" "$sim" "$san" \
    >"$scratch/pci.out" 2>&1
rc=$?
grep -q '^not ok' "$scratch/pci.out" && rc=1
tap $rc "sanitized QEMU: e2e-pci ($(grep -c '^ok' "$scratch/pci.out") ok)"
[ $rc = 0 ] || grep '^not ok' "$scratch/pci.out" | head -5 | sed 's/^/# /'
python3 "$TOP/tests/xensim/tests/e2e-hostile.py" "$sim" "ours=$san" \
    >"$scratch/hostile.out" 2>&1
rc=$?
grep -q '^not ok' "$scratch/hostile.out" && rc=1
tap $rc "sanitized QEMU: hostile ioreqs ($(grep -c '^ok' "$scratch/hostile.out") ok)"
[ $rc = 0 ] || grep '^not ok' "$scratch/hostile.out" | head -5 | sed 's/^/# /'
make --no-print-directory -s -C "$TOP/tests/xensim/workload" O="$sim" \
    >/dev/null
"$sim/ahci-workload" --mkimage "$scratch/disk.img" 64 >/dev/null 2>&1
bash "$TOP/tests/xensim/workload/guest-run.sh" --sim "$sim" "$san" \
    "$scratch/disk.img" -- --seed 7 >"$scratch/ahci.out" 2>&1
rc=$?
grep -q '^phase image: ok' "$scratch/ahci.out" || rc=1
tap $rc "sanitized QEMU: AHCI workload (NCQ, overlap, image verified)"
[ $rc = 0 ] || tail -8 "$scratch/ahci.out" | sed 's/^/# /'
# The simulator itself under the sanitizers (a command-line CFLAGS
# replaces the Makefile's, so its own flags are repeated).
ssan=$BUILD/xensim-san
rc=0
nice make --no-print-directory -s -C "$TOP/tests/xensim" O="$ssan" \
    CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
-fno-sanitize-recover=undefined -Wall -Werror -std=gnu11 -D_GNU_SOURCE \
-D__XEN_TOOLS__" libs hv tests >"$scratch/xsan-build.out" 2>&1 || rc=1
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
