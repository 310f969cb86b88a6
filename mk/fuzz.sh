#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# make fuzz: the coverage-guided ioreq fuzzing campaign (tests/fuzz).
#
# afl-fuzz drives build/fuzz/xsfuzz, which plays each input into the
# ASan+UBSan, coverage-instrumented QEMU (mk/build-fuzz.sh) under xensim.
# FUZZ_SECONDS (default 3600) bounds the run; FUZZ_OUT (default
# build/fuzz/campaign) keeps its corpus, crashes and findings.  Prints
# executions, exec/s, coverage edges and findings; exits 1 if there is a
# new finding (afl-fuzz's crashes and hangs, xsfuzz's finding reports not
# matching tests/fuzz/known-findings).
# XSFUZZ_QEMU overrides the QEMU binary (e.g. a planted-bug mutant).
. "$(dirname "$0")/common.sh"

FUZZ_SECONDS=${FUZZ_SECONDS:-3600}
F=$BUILD/fuzz
OUT=${FUZZ_OUT:-$F/campaign}

command -v afl-fuzz >/dev/null || die "afl-fuzz missing (make deps)"
make --no-print-directory -s -C "$TOP/tests/xensim" O="$BUILD/xensim" >/dev/null
make --no-print-directory -s -C "$TOP/tests/fuzz" O="$F"
if [ -z "${XSFUZZ_QEMU:-}" ]; then
    bash "$TOP/mk/build-fuzz.sh"
    XSFUZZ_QEMU=$BUILD/qemu-fuzz/qemu-system-x86_64
fi
python3 "$TOP/tests/fuzz/mkseeds.py" "$F" >/dev/null

# The map must hold QEMU's edges (its runtime says how many) and
# xsfuzz's few: round up to a power of two.
qemu_edges=$(AFL_DUMP_MAP_SIZE=1 "$XSFUZZ_QEMU" 2>/dev/null | tail -1 || true)
case $qemu_edges in ''|*[!0-9]*) qemu_edges=65536 ;; esac
map=65536
while [ $map -lt $((qemu_edges + 4096)) ]; do map=$((map * 2)); done

start=$(date +%s)
if [ -z "${FUZZ_SUMMARY_ONLY:-}" ]; then    # else: summarise $OUT again
rm -rf "$OUT"
mkdir -p "$OUT/work" "$OUT/findings"
log "fuzzing $XSFUZZ_QEMU for $FUZZ_SECONDS s (output in $OUT)"
# afl-fuzz: no CPU binding or governor checks on a shared machine; no UI;
# no sanitizer options of ours (it insists on its own; xsfuzz gives
# QEMU the symbolizing ones).
AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
AFL_NO_UI=1 AFL_FAST_CAL=1 AFL_MAP_SIZE=$map XSFUZZ_MAP_SIZE=$map \
AFL_FORKSRV_INIT_TMOUT=60000 \
XSFUZZ_SIM=$BUILD/xensim XSFUZZ_QEMU=$XSFUZZ_QEMU XSFUZZ_WORK=$OUT/work \
XSFUZZ_FINDINGS=$OUT/findings TMPDIR=$OUT/work \
    nice env -u ASAN_OPTIONS -u UBSAN_OPTIONS afl-fuzz -i "$F/seeds" -o "$OUT" -x "$F/xsfuzz.dict" -t 30000 \
        -V "$FUZZ_SECONDS" -- "$F/xsfuzz" >"$OUT/afl.log" 2>&1
rc=$?
fi
# afl-fuzz kills xsfuzz, not the device model it left running
for d in "$OUT"/work/xensim-run.*; do
    [ -d "$d" ] && "$BUILD/xensim/run" --stop "$d" >/dev/null 2>&1
done
stats=$OUT/default/fuzzer_stats
stat() { sed -n "s/^$1 *: *//p" "$stats" 2>/dev/null; }
crashes=$(find "$OUT/default/crashes" -type f ! -name README.txt 2>/dev/null | wc -l)
hangs=$(find "$OUT/default/hangs" -type f 2>/dev/null | wc -l)
elapsed=$(( $(date +%s) - start ))
if [ ! -s "$stats" ]; then
    tail -20 "$OUT/afl.log" >&2
    die "afl-fuzz did not run (status $rc, see $OUT/afl.log)"
fi
# xsfuzz writes a report for every crash it sees; those matching
# tests/fuzz/known-findings are known open bugs, the rest are new.
# With no report behind them, afl-fuzz's crashes and hangs are new.
new=0 known=0
declare -A why
for r in "$OUT"/findings/*; do
    [ -f "$r" ] || continue
    reason=""
    while IFS=$'\t' read -r re text; do
        case $re in ''|'#'*) continue ;; esac
        if grep -qE -- "$re" "$r"; then reason=$text; break; fi
    done < "$TOP/tests/fuzz/known-findings"
    if [ -n "$reason" ]; then
        known=$((known + 1)); why[$reason]=$(( ${why[$reason]:-0} + 1 ))
    else
        new=$((new + 1))
        echo "fuzz:   NEW $(basename "$r"): $(sed -n 's/^detail: //p' "$r")"
    fi
done
reports=$((new + known))
[ "$crashes" -gt "$reports" ] && new=$((new + crashes - reports))
new=$((new + hangs))
echo "fuzz: $(stat execs_done) executions in $(stat run_time) s" \
     "($(stat execs_per_sec) exec/s), $(stat edges_found) edges" \
     "(of $(stat total_edges) in the map), corpus $(stat corpus_count)," \
     "stability $(stat stability), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "fuzz: findings: $new new, $known known ($crashes crashes, $hangs hangs" \
     "saved by afl-fuzz; $reports xsfuzz reports; $elapsed s wall)"
for k in "${!why[@]}"; do echo "fuzz:   known x${why[$k]}: $k"; done
# late QMP replies within xsfuzz's grace: the host's load, not findings
slow=0
[ -f "$OUT/work/slow-qmp.log" ] && slow=$(wc -l < "$OUT/work/slow-qmp.log")
echo "fuzz: harness: $slow late QMP replies within the grace" \
     "(work/slow-qmp.log)"
[ "$new" = 0 ]
