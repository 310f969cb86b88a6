#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The I/O engine of a Xen guest's drives (accel/xen/xen-drive-aio.c) on
# xensim, with the AHCI guest workload (every byte verified, 32 NCQ
# commands in flight, the overlap phase, the image compared at the end):
#  - libxl's argv (no aio=): the drive uses io_uring.  Observed from
#    outside: QEMU holds an io_uring ring whose completion counter
#    (/proc/PID/fdinfo, CqTail) covers the workload's I/Os, and the trace
#    event xen_drive_aio_default says so;
#  - "-accel xen,aio-default=threads": no ring, threads, the workload
#    passes, no warning;
#  - a seccomp policy refusing io_uring_setup (tests/drive-aio/
#    deny-io-uring, EPERM and ENOSYS): threads, exactly one warning
#    naming the reason, the workload passes;
#  - an explicit aio= wins both ways (-set drive.ahcidisk-0.aio=...);
#  - cd-insert as libxl does it (eject, blockdev-change-medium on an empty
#    ide-cd drive): the new medium is read through io_uring, and reads
#    back what the image holds.
# make build builds the workload and tests/drive-aio/deny-io-uring.
set -uo pipefail
: "${TOP:?}" "${BUILD:?}"
. "$(dirname "$0")/lib/tap.sh"
sim=$BUILD/xensim
ours=$BUILD/qemu-system-x86_64
deny=$BUILD/drive-aio/deny-io-uring
skip() { tap_skip "$@"; }

tap_need "$sim/xensim-hv" "$sim/run" "$sim/ahci-workload" "$ours" "$deny" ||
    { tap_end; exit 1; }
if ! "$deny" ENOSYS true; then
    skip "drive I/O engine" "seccomp filters not available here"
    tap_end
    exit 0
fi
# default 5, aio-default=threads 3, seccomp 2 x 3, explicit aio= 2, cd 3
tap_plan 19
scratch=$(mktemp -d /tmp/xensim-io-uring-test.XXXXXX)
stop=""
cleanup() {
    [ -n "$stop" ] && $stop >/dev/null 2>&1
    rm -rf "$scratch"
}
trap cleanup EXIT

# ring_stats PID: "RINGS COMPLETIONS": QEMU's io_uring instances and the
# completions they posted (CqTail counts every completion, unmasked).
ring_stats() {
    local fd rings=0 cq=0 t
    for fd in /proc/"$1"/fd/*; do
        [ "$(readlink "$fd" 2>/dev/null)" = "anon_inode:[io_uring]" ] ||
            continue
        rings=$((rings + 1))
        t=$(awk '$1 == "CqTail:" { print $2 }' \
                /proc/"$1"/fdinfo/"${fd##*/}" 2>/dev/null)
        cq=$((cq + ${t:-0}))
    done
    echo "$rings $cq"
}

# wrapper NAME PREFIX-WORDS -- APPEND-WORDS: a "QEMU binary" for run that
# execs ours under PREFIX (e.g. the seccomp tool) with APPEND after
# libxl's arguments (-set must follow the -drive it changes).
wrapper() {
    local name=$1 pre=() post=()
    shift
    while [ $# -gt 0 ] && [ "$1" != -- ]; do pre+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    post=("$@")
    {
        echo '#!/bin/sh'
        printf 'exec'
        printf ' %q' "${pre[@]}" "$ours"
        printf ' "$@"'
        [ ${#post[@]} -gt 0 ] && printf ' %q' "${post[@]}"
        echo
    } > "$scratch/$name.sh"
    chmod +x "$scratch/$name.sh"
    echo "$scratch/$name.sh"
}

# start NAME BINARY [QEMU-ARGS...]: launch as libxl does on a fresh image
# (the workload writes), with the trace event of the engine choice on;
# sets $env_file and $stop.
domid=20
start() {
    local name=$1 bin=$2
    shift 2
    env_file=$scratch/$name.env
    domid=$((domid + 1))
    "$sim/ahci-workload" --mkimage "$scratch/disk.img" 64 || return 1
    if ! "$sim/run" --keep --domid $domid --memory 256 --vcpus 2 \
            --disk "$scratch/disk.img" --hdtype ahci -- "$bin" \
            -trace xen_drive_aio_default "$@" \
            > "$env_file" 2> "$scratch/$name.launch"; then
        sed 's/^/# /' "$scratch/$name.launch"
        return 1
    fi
    stop=$( (. "$env_file"; echo "$XENSIM_STOP") )
}

# qemu_var NAME: a variable of the running instance's environment.
qemu_var() { (. "$env_file"; eval "echo \"\$$1\""); }

# workload NAME [ARGS]: the verified AHCI workload on the running instance.
workload() {
    local name=$1 out=$scratch/$1.out rc
    shift
    ( set -a; . "$env_file"; set +a
      timeout 300 "$sim/ahci-workload" --disk "$scratch/disk.img" \
          --seed 7 "$@" ) > "$out" 2>&1
    rc=$?
    sed 's/^/# /' "$out"
    [ $rc = 0 ] && grep -q '^summary: .* errors=0 .*result=PASS' "$out" &&
        grep -q '^phase ncq-mixed: ok' "$out" &&
        grep -q '^phase image: ok' "$out"
}

finish() {
    local log
    log=$(qemu_var XENSIM_QEMU_LOG)
    cp "$log" "$scratch/$1.log" 2>/dev/null
    $stop >/dev/null 2>&1
    stop=""
    sed 's/^/# qemu: /' "$scratch/$1.log" | grep -v 'qemu: $' | tail -n 8
}

# launch_failed WHAT N: the N results of a case whose QEMU did not start.
launch_failed() {
    local i
    for ((i = 1; i <= $2; i++)); do
        tap_notok "$1: launch (result $i of $2 not reached)"
    done
}

# ios NAME: the I/Os the workload's summary counts.
ios() { sed -n 's/^summary: ios=\([0-9]*\) .*/\1/p' "$scratch/$1.out"; }

warnings() { grep -c 'warning: xen: drives without aio=' "$scratch/$1.log"; }

# --- libxl's argv: io_uring
if start default "$ours"; then
    pid=$(qemu_var XENSIM_QEMU_PID)
    workload default
    tap $? "default: AHCI workload verified (NCQ, overlap, image)"
    grep -q '^summary: .*overlap=yes ' "$scratch/default.out"
    tap $? "default: overlap pattern held with io_uring"
    read -r rings cq < <(ring_stats "$pid")
    echo "# default: io_uring rings=$rings completions=$cq ios=$(ios default)"
    [ "$rings" = 1 ] && [ "$cq" -ge "$(ios default)" ] &&
        [ "$(ios default)" -gt 0 ]
    tap $? "default: the drive's I/O went through io_uring (completions >= I/Os)"
    finish default
    grep -q 'xen_drive_aio_default .*use io_uring: host allows it' \
        "$scratch/default.log"
    tap $? "default: trace event says io_uring"
    [ "$(warnings default)" = 0 ]
    tap $? "default: no fallback warning"
else
    launch_failed default 5
fi

# --- the operator turns it off
if start prop "$ours" -accel xen,aio-default=threads; then
    pid=$(qemu_var XENSIM_QEMU_PID)
    workload prop
    tap $? "aio-default=threads: AHCI workload verified"
    read -r rings cq < <(ring_stats "$pid")
    [ "$rings" = 0 ]
    tap $? "aio-default=threads: no io_uring ring (rings=$rings)"
    finish prop
    grep -q 'use threads: aio-default=threads' "$scratch/prop.log" &&
        [ "$(warnings prop)" = 0 ]
    tap $? "aio-default=threads: traced, no warning"
else
    launch_failed aio-default=threads 3
fi

# --- the host refuses: a seccomp policy, EPERM then ENOSYS
for e in EPERM ENOSYS; do
    bin=$(wrapper "deny-$e" "$deny" "$e" --)
    if start "deny-$e" "$bin"; then
        pid=$(qemu_var XENSIM_QEMU_PID)
        workload "deny-$e" --no-overlap --batches 16
        tap $? "seccomp $e: AHCI workload verified on threads"
        read -r rings cq < <(ring_stats "$pid")
        [ "$rings" = 0 ]
        tap $? "seccomp $e: no io_uring ring (rings=$rings)"
        finish "deny-$e"
        [ "$(warnings "deny-$e")" = 1 ] &&
            grep 'warning: xen: drives without aio=' "$scratch/deny-$e.log" |
            grep -q 'io_uring_setup refused .*seccomp'
        tap $? "seccomp $e: exactly one warning line, naming the reason"
    else
        launch_failed "seccomp $e" 3
    fi
done

# --- an explicit aio= wins, both ways
bin=$(wrapper explicit-threads -- -set drive.ahcidisk-0.aio=threads)
if start explicit-threads "$bin"; then
    pid=$(qemu_var XENSIM_QEMU_PID)
    workload explicit-threads --no-overlap --batches 16
    rc=$?
    read -r rings cq < <(ring_stats "$pid")
    [ $rc = 0 ] && [ "$rings" = 1 ] && [ "$cq" = 0 ]
    tap $? "explicit aio=threads: verified, no I/O through io_uring (completions=$cq)"
    finish explicit-threads
else
    launch_failed "explicit aio=threads" 1
fi
bin=$(wrapper explicit-uring -- -set drive.ahcidisk-0.aio=io_uring)
if start explicit-uring "$bin" -accel xen,aio-default=threads; then
    pid=$(qemu_var XENSIM_QEMU_PID)
    workload explicit-uring --no-overlap --batches 16
    rc=$?
    read -r rings cq < <(ring_stats "$pid")
    [ $rc = 0 ] && [ "$rings" = 1 ] && [ "$cq" -ge "$(ios explicit-uring)" ]
    tap $? "explicit aio=io_uring under aio-default=threads: verified, on io_uring"
    finish explicit-uring
else
    launch_failed "explicit aio=io_uring" 1
fi

# --- cd-insert as libxl does it, on an empty CD drive
head -c $((1 << 20)) /dev/zero | tr '\0' 'Z' > "$scratch/cd.iso"
bin=$(wrapper cd -- -drive if=none,readonly=on,id=ide-5632 \
          -device ide-cd,id=ide-5632,drive=ide-5632,bus=ide.1,unit=0)
if start cd "$bin"; then
    pid=$(qemu_var XENSIM_QEMU_PID)
    qmp=$(qemu_var XENSIM_QMP)
    qmp() { "$sim/run" --qmp "$qmp" --execute "$1" ${2:+--arguments "$2"}; }
    read -r rings cq0 < <(ring_stats "$pid")
    qmp eject '{"id":"ide-5632"}' > "$scratch/cd.qmp" 2>&1 &&
        qmp blockdev-change-medium \
            "{\"id\":\"ide-5632\",\"filename\":\"$scratch/cd.iso\",\"format\":\"raw\"}" \
            >> "$scratch/cd.qmp" 2>&1
    tap $? "cd-insert: eject and blockdev-change-medium succeed"
    qmp human-monitor-command \
        '{"command-line":"qemu-io ide-5632 \"read -P 0x5a 0 256k\""}' \
        > "$scratch/cd.read" 2>&1
    sed 's/^/# /' "$scratch/cd.qmp" "$scratch/cd.read"
    read -r rings cq1 < <(ring_stats "$pid")
    [ "$rings" = 1 ] && [ "$cq1" -gt "$cq0" ]
    tap $? "cd-insert: the new medium is read through io_uring ($cq0 -> $cq1)"
    finish cd
    # qemu-io prints on QEMU's stdout, i.e. into its log.
    grep -q 'read 262144/262144 bytes' "$scratch/cd.log" &&
        ! grep -q 'Pattern verification failed' "$scratch/cd.log"
    tap $? "cd-insert: the new medium reads back what the image holds"
else
    launch_failed cd-insert 3
fi
