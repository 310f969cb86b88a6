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
#    back what the image holds;
#  - every case asks query-xen-drive-aio (and once "info xen-drive-aio")
#    which engine each drive uses and why, and checks it against what
#    /proc shows;
#  - xl save / xl restore of the device model as libxl does it (stop,
#    add-fd, xen-save-devices-state; a new QEMU with -incoming fd:N,
#    tests/drive-aio/libxl-save-restore.py) on the same xensim-hv, which
#    keeps guest RAM as Xen's restore would: the restored QEMU loaded the
#    guest's device state (the AHCI BAR and command list the guest
#    programmed before the save), its drives are on io_uring, data
#    written before the save reads back, and the full AHCI workload
#    passes on it through io_uring.
#
# XEN_DRIVE_AIO_QEMU runs the suite on another binary (e.g. Debian's
# stock one, to see which cases it fails).
set -uo pipefail
: "${TOP:?}" "${BUILD:?}"
. "$(dirname "$0")/lib/tap.sh"
sim=$BUILD/xensim
ours=${XEN_DRIVE_AIO_QEMU:-$BUILD/qemu-system-x86_64}
deny=$BUILD/drive-aio/deny-io-uring
skip() { tap_skip "$@"; }

# make build builds the workload and deny-io-uring; the plan comes last
# (tap_end), so a suite that dies on the way fails for want of it.
tap_need "$sim/xensim-hv" "$sim/run" "$sim/ahci-workload" "$ours" "$deny" ||
    { tap_end; exit 1; }
if ! "$deny" ENOSYS true; then
    skip "drive I/O engine" "seccomp filters not available here"
    tap_end
    exit 0
fi
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

# ios NAME: the I/Os the workload's summary counts.
ios() { sed -n 's/^summary: ios=\([0-9]*\) .*/\1/p' "$scratch/$1.out"; }

warnings() { grep -c 'warning: xen: drives without aio=' "$scratch/$1.log"; }

# qmp CMD [JSON-ARGS]: one QMP command on the running instance.
qmp() {
    "$sim/run" --qmp "$(qemu_var XENSIM_QMP)" --execute "$1" \
        ${2:+--arguments "$2"}
}

# aio_query NAME: query-xen-drive-aio of the running instance, kept.
aio_query() { qmp query-xen-drive-aio > "$scratch/$1.aio" 2>&1; }

# aio_is NAME EXPR: a Python expression on that answer, q = the reply,
# d = its drives by device name.
aio_is() {
    python3 -c 'import json, sys
try:
    q = json.load(open(sys.argv[1]))
except ValueError:
    print("# query: " + open(sys.argv[1]).read().replace("\n", " "))
    sys.exit(1)
print("# query: " + json.dumps(q, sort_keys=True))
d = {x["device"]: x for x in q["drives"]}
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)' "$scratch/$1.aio" "${@:2}"
}

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
    aio_query default
    aio_is default 'q["aio-default"] == "auto" and
        q["default-engine"] == "io_uring" and q["reason"] == "host allows it"
        and d["ahcidisk-0"] == {"device": "ahcidisk-0",
                                "engine": "io_uring", "from-default": True}'
    tap $? "default: query-xen-drive-aio: io_uring, host allows it, ahcidisk-0 on it"
    qmp human-monitor-command '{"command-line":"info xen-drive-aio"}' \
        > "$scratch/default.hmp" 2>&1
    sed 's/^/# hmp: /' "$scratch/default.hmp"
    grep -q '^drives given no aio=: io_uring (aio-default=auto: host allows it)' \
        "$scratch/default.hmp" &&
        grep -q '^ahcidisk-0 *io_uring *(aio-default)' "$scratch/default.hmp"
    tap $? "default: info xen-drive-aio says the same"
    finish default
    grep -q 'xen_drive_aio_default .*use io_uring: host allows it' \
        "$scratch/default.log"
    tap $? "default: trace event says io_uring"
    [ "$(warnings default)" = 0 ]
    tap $? "default: no fallback warning"
else
    tap 1 "default: launch"
fi

# --- the operator turns it off
if start prop "$ours" -accel xen,aio-default=threads; then
    pid=$(qemu_var XENSIM_QEMU_PID)
    workload prop
    tap $? "aio-default=threads: AHCI workload verified"
    read -r rings cq < <(ring_stats "$pid")
    [ "$rings" = 0 ]
    tap $? "aio-default=threads: no io_uring ring (rings=$rings)"
    aio_query prop
    aio_is prop 'q["aio-default"] == "threads" and
        q["default-engine"] == "threads" and
        q["reason"] == "aio-default=threads" and
        d["ahcidisk-0"]["engine"] == "threads" and
        d["ahcidisk-0"]["from-default"]'
    tap $? "aio-default=threads: query-xen-drive-aio says threads, and why"
    finish prop
    grep -q 'use threads: aio-default=threads' "$scratch/prop.log" &&
        [ "$(warnings prop)" = 0 ]
    tap $? "aio-default=threads: traced, no warning"
else
    tap 1 "aio-default=threads: launch"
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
        aio_query "deny-$e"
        finish "deny-$e"
        [ "$(warnings "deny-$e")" = 1 ] &&
            grep 'warning: xen: drives without aio=' "$scratch/deny-$e.log" |
            grep -q 'io_uring_setup refused .*seccomp'
        tap $? "seccomp $e: exactly one warning line, naming the reason"
        # The reason the monitor gives is the warning's.
        why=$(sed -n 's/.*warning: xen: drives without aio= use threads: //p' \
                  "$scratch/deny-$e.log")
        aio_is "deny-$e" 'q["default-engine"] == "threads" and
            q["reason"] == sys.argv[3] and "seccomp" in q["reason"] and
            d["ahcidisk-0"]["engine"] == "threads"' "$why"
        tap $? "seccomp $e: query-xen-drive-aio: threads, with the warning's reason"
    else
        tap 1 "seccomp $e: launch"
    fi
done

# --- an explicit aio= wins, both ways
# explicit_aio AIO DEFAULT DESC [START-ARG...]: a drive with aio=AIO on a
# machine whose default engine is DEFAULT: verified, on AIO's engine
# (threads: no completion through the io_uring ring), and
# query-xen-drive-aio names the drive's own aio=.
explicit_aio() {
    local aio=$1 default=$2 desc=$3 name bin pid rc rings cq
    shift 3
    name=explicit-${aio#io_}
    bin=$(wrapper "$name" -- -set "drive.ahcidisk-0.aio=$aio")
    if ! start "$name" "$bin" "$@"; then
        tap 1 "explicit aio=$aio: launch"
        return
    fi
    pid=$(qemu_var XENSIM_QEMU_PID)
    workload "$name" --no-overlap --batches 16
    rc=$?
    read -r rings cq < <(ring_stats "$pid")
    if [ "$aio" = threads ]; then
        [ $rc = 0 ] && [ "$rings" = 1 ] && [ "$cq" = 0 ]
        tap $? "$desc (completions=$cq)"
    else
        [ $rc = 0 ] && [ "$rings" = 1 ] && [ "$cq" -ge "$(ios "$name")" ]
        tap $? "$desc"
    fi
    aio_query "$name"
    aio_is "$name" 'q["default-engine"] == sys.argv[3] and
        d["ahcidisk-0"] == {"device": "ahcidisk-0", "engine": sys.argv[4],
                            "from-default": False}' "$default" "$aio"
    tap $? "explicit aio=$aio: query-xen-drive-aio: $aio, the drive's own aio="
    finish "$name"
}
explicit_aio threads io_uring \
    "explicit aio=threads: verified, no I/O through io_uring"
explicit_aio io_uring threads \
    "explicit aio=io_uring under aio-default=threads: verified, on io_uring" \
    -accel xen,aio-default=threads

# --- cd-insert as libxl does it, on an empty CD drive
head -c $((1 << 20)) /dev/zero | tr '\0' 'Z' > "$scratch/cd.iso"
bin=$(wrapper cd -- -drive if=none,readonly=on,id=ide-5632 \
          -device ide-cd,id=ide-5632,drive=ide-5632,bus=ide.1,unit=0)
if start cd "$bin"; then
    pid=$(qemu_var XENSIM_QEMU_PID)
    aio_query cd-empty
    aio_is cd-empty '"engine" not in d["ide-5632"]'
    tap $? "cd-insert: query-xen-drive-aio: the empty CD drive has no engine"
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
    aio_query cd
    aio_is cd 'd["ide-5632"] == {"device": "ide-5632", "engine": "io_uring",
                                 "from-default": True}'
    tap $? "cd-insert: query-xen-drive-aio: the new medium is on io_uring"
    finish cd
    # qemu-io prints on QEMU's stdout, i.e. into its log.
    grep -q 'read 262144/262144 bytes' "$scratch/cd.log" &&
        ! grep -q 'Pattern verification failed' "$scratch/cd.log"
    tap $? "cd-insert: the new medium reads back what the image holds"
else
    tap 1 "cd-insert: launch"
fi

# --- xl save / xl restore of the device model (-incoming fd:N)
# A second AHCI disk holds data written before the save; the guest
# workload runs on the first (port 0) before the save and after the
# restore.
"$sim/ahci-workload" --mkimage "$scratch/data.img" 64 >/dev/null
bin=$(wrapper restore -- \
          -drive "file=$scratch/data.img,if=none,id=ahcidisk-1,format=raw,cache=writeback" \
          -device ide-hd,bus=ahci0.1,unit=0,drive=ahcidisk-1)
restore_tool="python3 $TOP/tests/drive-aio/libxl-save-restore.py"
# guest_readl ADDR: a 32-bit guest MMIO read on vCPU 0 (hv control).
guest_readl() {
    python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"readl " + sys.argv[2].encode() + b"\n")
r = s.makefile().readline().split()
print("%#x" % int(r[1], 0) if r[:1] == ["ok"] else "err")' \
        "$(qemu_var XENSIM_CONTROL)" "$1" 2>/dev/null || echo err
}
if start restore "$bin"; then
    run_dir=$(qemu_var XENSIM_RUN_DIR)
    # The guest programs the HBA (BAR5 at 0xf1000000, port 0's command
    # list at 2 MiB) and reads through it; read-only, so the image stays
    # the workload's pattern for the run after the restore.
    ( set -a; . "$env_file"; set +a
      timeout 120 "$sim/ahci-workload" --disk "$scratch/disk.img" --seed 7 \
          --bench 0.3 --bench-set rand:32 ) > "$scratch/restore-before.out" 2>&1
    rc=$?
    sed 's/^/# /' "$scratch/restore-before.out"
    qmp human-monitor-command \
        '{"command-line":"qemu-io ahcidisk-1 \"write -P 0xa5 0 1M\""}' \
        > "$scratch/restore.write" 2>&1
    [ $rc = 0 ] && grep -q '^summary: .*result=PASS' "$scratch/restore-before.out"
    tap $? "restore: before the save, the guest's verified reads"
    $restore_tool save "$run_dir" "$scratch/qemu-save" \
        > "$scratch/save.out" 2>&1
    rc=$?
    sed 's/^/# /' "$scratch/save.out"
    [ $rc = 0 ] && [ -s "$scratch/qemu-save" ]
    tap $? "restore: stop, add-fd, xen-save-devices-state, SIGHUP (as xl save)"
    old_log=$(qemu_var XENSIM_QEMU_LOG)
    cp "$old_log" "$scratch/restore-saved.log" 2>/dev/null
    : > "$old_log"
    newpid=$($restore_tool restore "$run_dir" "$scratch/qemu-save" \
                 2> "$scratch/restore.err")
    rc=$?
    sed 's/^/# /' "$scratch/restore.err"
    [ $rc = 0 ] && [ -n "$newpid" ] &&
        tr '\0' ' ' < "/proc/$newpid/cmdline" 2>/dev/null |
        grep -q -- '-incoming fd:[0-9]'
    tap $? "restore: QEMU with -incoming fd:N reaches running (as xl restore)"
    # Device state came from the stream: a fresh QEMU has no BAR5 there,
    # and a port's command list base is 0 after reset.
    clb="$(guest_readl 0xf1000010) $(guest_readl 0xf1000100)"
    echo "# restored AHCI: VS PxCLB = $clb"
    [ "$clb" = "0x10000 0x200000" ]
    tap $? "restore: the guest's AHCI programming came back from the stream ($clb)"
    pid=$newpid
    aio_query restore
    aio_is restore 'q["default-engine"] == "io_uring" and
        d["ahcidisk-0"]["engine"] == "io_uring" and
        d["ahcidisk-1"]["engine"] == "io_uring"'
    tap $? "restore: query-xen-drive-aio: both drives on io_uring after -incoming"
    read -r rings cq0 < <(ring_stats "$pid")
    qmp human-monitor-command \
        '{"command-line":"qemu-io ahcidisk-1 \"read -P 0xa5 0 1M\""}' \
        > "$scratch/restore.read" 2>&1
    read -r rings cq1 < <(ring_stats "$pid")
    [ "$rings" = 1 ] && [ "$cq1" -gt "$cq0" ]
    tap $? "restore: data written before the save read through io_uring ($cq0 -> $cq1)"
    ( set -a; . "$env_file"; set +a; XENSIM_QEMU_PID=$pid
      timeout 300 "$sim/ahci-workload" --disk "$scratch/disk.img" \
          --seed 7 ) > "$scratch/restore-after.out" 2>&1
    rc=$?
    sed 's/^/# /' "$scratch/restore-after.out"
    read -r rings cq2 < <(ring_stats "$pid")
    ios=$(ios restore-after)
    [ $rc = 0 ] &&
        grep -q '^summary: .* errors=0 .*result=PASS' "$scratch/restore-after.out" &&
        grep -q '^phase image: ok' "$scratch/restore-after.out" &&
        [ "$((cq2 - cq1))" -ge "${ios:-1}" ] && [ "${ios:-0}" -gt 0 ]
    tap $? "restore: AHCI workload verified after the restore, through io_uring ($((cq2 - cq1)) completions, ${ios:-0} I/Os)"
    finish restore
    grep -q 'read 1048576/1048576 bytes' "$scratch/restore.log" &&
        ! grep -q 'Pattern verification failed' "$scratch/restore.log" &&
        grep -q 'wrote 1048576/1048576 bytes' "$scratch/restore-saved.log"
    tap $? "restore: the 1 MiB written before the save reads back intact"
else
    tap 1 "restore: launch"
fi
tap_end
