#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# QEMU's own qtests (and ours, xen-dma-test) through the xensim qtest
# bridge: QTEST_QEMU_BINARY=build/xensim/qemu-system-x86_64 runs each
# libqtest test unchanged against a device model under -accel xen, once
# with our QEMU and once with Debian's stock xen-qemu-system-i386.
#
# First the bridge itself against a hand-played libqtest (peer.py).  Then
# each test binary, rerun past the case it died in (see run_test), so one
# failing case does not hide the others.  A case that fails for a known
# reason outside the bridge is reported as "ok ... # SKIP known: reason":
# tests/xensim/bridge-known-failures.tsv names each such case with its
# reason, and README-bridge.md's table is generated from it.  Any other
# failure is "not ok"; so is a listed case that passes, or that the test
# does not have, so the table cannot go stale.  Names are "<ours|stock>:
# <test> <case>".
set -uo pipefail
: "${TOP:?}" "${BUILD:?}"
out=$BUILD/xensim
stock=/usr/libexec/xen-qemu-system-i386
. "$(dirname "$0")/lib/tap.sh"
ok() { tap_ok "$@"; }
notok() { tap_notok "$@"; }
skip() { tap_skip "$@"; }

tap_need "$out/qemu-system-x86_64" "$out/xensim-hv" "$out/xenstored" \
    "$out/lib/libxenctrl.so.4.17" || { tap_end; exit 1; }

tests=${BRIDGE_QTESTS:-$(make -s -C "$TOP" print-qtests)}
scratch=$(mktemp -d /tmp/xensim-bridge-check.XXXXXX)
# Other engineers rebuild build/ while this runs for minutes: test a
# snapshot, hard links taken under the build lock (a relink replaces the
# file, the link keeps the old one).  QEMU finds its firmware through
# qemu-bundle/ next to the binary.
snap=$(mktemp -d "$BUILD/.bridge-check.XXXXXX")
trap 'rm -rf "$scratch" "$snap"' EXIT
# The known failures (lib/known-failures.py says what the kinds mean);
# the first result fails when README-bridge.md's section is not the
# table's.  KNOWN and KIND are keyed "<ours|stock> <test> <case>".
table=$TOP/tests/xensim/bridge-known-failures.tsv
readme=$TOP/tests/xensim/README-bridge.md
kf=$(dirname "$0")/lib/known-failures.py
declare -A KNOWN=() KIND=()
if rows=$(python3 "$kf" "$table" rows 2>"$scratch/kf.err"); then
    while IFS=$'\t' read -r dm t c kind reason; do
        KNOWN["$dm $t $c"]=$reason KIND["$dm $t $c"]=$kind
    done <<<"$rows"
fi
if [ -n "$rows" ] &&
        python3 "$kf" "$table" check "$readme" 2>>"$scratch/kf.err"; then
    ok "known-failures table is valid; README-bridge.md's section is generated from it"
else
    tap_diag "$scratch/kf.err"
    notok "known-failures table is valid; README-bridge.md's section is generated from it"
fi
if ! flock "$BUILD/.lock" bash -c '
        set -e
        cp -al "$1/xensim" "$2/xensim"
        ln "$1/qemu/qemu-system-x86_64" "$2/qemu-system-x86_64"
        ln -s "$1/qemu/qemu-bundle" "$2/qemu-bundle"
        mkdir "$2/qtest"
        for t in $3; do
            if [ -x "$1/qemu/tests/qtest/$t" ]; then
                ln "$1/qemu/tests/qtest/$t" "$2/qtest/$t"
            fi
        done' - "$BUILD" "$snap" "$tests"; then
    notok "snapshot the build for the bridge tests"
    tap_end
    exit 1
fi
qt=$snap/qtest
export QTEST_QEMU_BINARY=$snap/xensim/qemu-system-x86_64
export QTEST_QEMU_IMG=$BUILD/qemu-img

# Run one test binary: all its cases in one go (some share one QEMU and
# depend on order); when it dies, record the case it died in as failed
# and run again without the cases already decided, until all are.
run_test() {
    local tag=$1 t=$2 c line path rc next reason log=$scratch/log.$1
    local -a cases skips
    local -A res=() why=()
    local empty=0 decided key
    local -A listed=()
    mapfile -t cases < <("$qt/$t" -l 2>/dev/null | grep '^/')
    if [ ${#cases[@]} -eq 0 ]; then
        # It registers its cases after probing QEMU (-machine none), and
        # the probe failed: report it, not nothing.
        reason=${KNOWN["$tag $t (no cases)"]:-}
        if [ -n "$reason" ]; then
            skip "$tag $t: lists no cases" "known: $reason"
        else
            notok "$tag $t: lists no cases"
        fi
        return
    fi
    for c in "${cases[@]}"; do
        listed[$c]=1
        if [ "${KIND["$tag $t $c"]:-}" = norun ]; then
            res[$c]=norun why[$c]=${KNOWN["$tag $t $c"]}
        fi
    done
    # A row for a case this test does not have is stale too.
    for key in "${!KNOWN[@]}"; do
        [[ $key == "$tag $t "* ]] || continue
        c=${key#"$tag $t "}
        [ -n "${listed[$c]:-}" ] ||
            notok "$t $c: in bridge-known-failures.tsv, but $t has no such case"
    done
    while :; do
        decided=${#res[@]}
        skips=()
        for c in "${!res[@]}"; do
            skips+=(-s "$c")
        done
        { timeout 300 "$qt/$t" --tap "${skips[@]}" >"$log" 2>&1; } 2>/dev/null
        rc=$?
        while read -r line; do
            [[ $line =~ ^(not\ )?ok\ [0-9]+\ (/[^ ]*)(.*)$ ]] || continue
            path=${BASH_REMATCH[2]}
            [ -n "${res[$path]:-}" ] && continue
            if [ -n "${BASH_REMATCH[1]}" ]; then
                res[$path]=fail why[$path]=$(tail -8 "$log")
            elif [[ ${BASH_REMATCH[3]} == *"# SKIP"* ]]; then
                res[$path]=skip why[$path]=${BASH_REMATCH[3]#*# SKIP }
            else
                res[$path]=ok
            fi
        done < "$log"
        next=
        for c in "${cases[@]}"; do
            if [ -z "${res[$c]:-}" ]; then
                next=$c
                break
            fi
        done
        [ -z "$next" ] && break
        res[$next]=fail
        why[$next]="(exit $rc) $(grep -vE \
            '^# (starting QEMU|Start of|End of)|SKIP by request' "$log" \
            | tail -8)"
        # Two runs in a row without a single result, and every case still
        # undecided a known failure for the same reason as the one it died
        # in: the machine does not start (stock's q35 under -accel xen),
        # the rest would die the same way, so it is recorded as failed,
        # not rerun.  Two cases that each kill the test (ours' migration
        # cases) are not that while cases of another kind remain.
        if [ "${#res[@]}" = $((decided + 1)) ]; then
            empty=$((empty + 1))
        else
            empty=0
        fi
        reason=${KNOWN["$tag $t $next"]:-}
        if [ $empty -ge 2 ] && [ -n "$reason" ] &&
                [ "${KIND["$tag $t $next"]}" = fail ]; then
            local same=1
            for c in "${cases[@]}"; do
                if [ -z "${res[$c]:-}" ] &&
                        [ "${KNOWN["$tag $t $c"]:-}" != "$reason" ]; then
                    same=0
                    break
                fi
            done
            if [ $same = 1 ]; then
                for c in "${cases[@]}"; do
                    if [ -z "${res[$c]:-}" ]; then
                        res[$c]=fail why[$c]="as $next: the machine does not start"
                    fi
                done
            fi
        fi
    done
    for c in "${cases[@]}"; do
        local name="$t $c"
        key="$tag $t $c"
        case ${res[$c]}:${KIND[$key]:-} in
        ok:fail)
            notok "$name: listed as a known failure, but passes: delete its row in bridge-known-failures.tsv (${KNOWN[$key]})" ;;
        ok:*) ok "$name" ;;
        skip:*) skip "$name" "${why[$c]}" ;;
        norun:*) skip "$name" "not run: ${why[$c]}" ;;
        fail:fail | fail:flaky) skip "$name" "known: ${KNOWN[$key]}" ;;
        fail:*)
            notok "$name"
            printf '%s\n' "${why[$c]}" | sed 's/^/#   /'
            ;;
        esac
    done
}

run_binary() {
    local tag=$1 t
    export XENSIM_QEMU=$2
    for t in $tests; do
        if [ -x "$qt/$t" ]; then
            run_test "$tag" "$t"
        else
            notok "$t: not built"
        fi
    done
}

# The bridge itself against a hand-played libqtest: hostile commands,
# Xen's answers, teardown (tests/xensim/bridge/tests/peer.py).
peer() {
    tap_run bridge timeout 300 python3 \
        "$TOP/tests/xensim/bridge/tests/peer.py" "$QTEST_QEMU_BINARY" "$2"
}

# Ours and stock side by side (each run is a chain of round trips, not
# CPU work), each a TAP stream with its own plan at its end; then both
# relayed in order, so a run cut short shows as results missing.
check_binary() {
    tap_n=0
    peer "$1" "$2"
    run_binary "$1" "$2"
    tap_end
}
check_binary ours "$snap/qemu-system-x86_64" >"$scratch/ours.tap" 2>&1 &
if [ -x "$stock" ]; then
    check_binary stock "$stock" >"$scratch/stock.tap" 2>&1 &
else
    { skip "stock device model" "$stock not installed"; tap_end; } \
        >"$scratch/stock.tap"
fi
wait
tap_relay ours <"$scratch/ours.tap"
tap_relay stock <"$scratch/stock.tap"
tap_end
