#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# xensim launcher end to end.
#  1. The launcher's libxl emulation against scripted stand-ins for QEMU
#     and xensim-hv (tests/xensim/launch/tests): argv shape, xenstore
#     nodes, QMP ids and framing, teardown, --keep/--stop, and that it
#     catches a misbehaving device model.  Needs only xenstored.
#  2. Debian's stock xen-qemu-system-i386 and our qemu-system-x86_64
#     under build/xensim/run on the real simulator: both must reach
#     "running", answer libxl's QMP greeting, qmp_capabilities and
#     query-status with \r\n-terminated messages, and serve a short guest
#     workload (PCI scan, PIO, MMIO).  Skipped while the simulator's
#     libraries and hv are not built.
set -uo pipefail
: "${TOP:?}" "${BUILD:?}"
out=$BUILD/xensim
tests=$TOP/tests/xensim/launch/tests
. "$(dirname "$0")/lib/tap.sh"
skip() { tap_skip "$@"; }
show() { sed 's/^/# /' "$1"; }
# Alive and not a zombie (orphans may never be reaped in a container).
alive() {
    local st
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}

tap_need "$out/run" "$out/xenstored" || { tap_end; exit 1; }

scratch=$(mktemp -d /tmp/xensim-launch-test.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

# ---- 1. against the stand-ins --------------------------------------------
fake=$scratch/fake
mkdir -p "$fake/lib"
cp "$out/run" "$out/xenstored" "$fake/"
cp -r "$out/py" "$fake/"        # the launcher's driver module
cp "$tests/fake-hv.py" "$fake/xensim-hv"
: > "$fake/lib/libxenctrl.so.4.17"
# XENSIM_LIBS=real preloads the devxen shim into the stand-in too (it
# leaves everything but /dev/xen alone).
if [ -e "$out/shim/libxensim-devxen.so" ]; then
    mkdir -p "$fake/shim"
    cp "$out/shim/libxensim-devxen.so" "$fake/shim/"
fi
img=$scratch/disk.img wb=cache=writeback
truncate -s 16M "$img"
export FAKE_DM_ARGV=$scratch/argv

FAKE_DM_MODE=good "$fake/run" --domid 3 --memory 256 --vcpus 2 \
    --disk "$scratch/disk.img" --hdtype ahci --pci-scan \
    -- "$tests/fake-dm.py" -device extra-arg >"$scratch/out" 2>&1
rc=$?
tap $rc "launcher runs a well-behaved device model to PASS"
[ $rc = 0 ] || show "$scratch/out"
argv=$(tr '\n' ' ' < "$scratch/argv" 2>/dev/null)
has() { case " $argv " in *" $1 "*) return 0;; esac; return 1; }
has "-name xensim-guest-3" && has "-m 248" && has "-smp 2,maxcpus=2" \
    && has "-device cirrus-vga,vgamem_mb=8" && has "-boot order=cda" \
    && has "-net none"
tap $? "argv: name, -m maxmem minus videoram, -smp, cirrus, boot, no NIC"
has "-device ahci,id=ahci0" \
    && has "-device ide-hd,bus=ahci0.0,unit=0,drive=ahcidisk-0" \
    && has "-drive file=$img,if=none,id=ahcidisk-0,format=raw,$wb"
tap $? "argv: AHCI disk as libxl passes hdtype=ahci"
case "$argv" in *"-machine xenfv,suppress-vmdesc=on -device extra-arg -m "*) r=0;; *) r=1;; esac
tap $r "argv: the user's extra arguments come right after -machine (libxl)"
grep -q 'query-status: running' "$scratch/out" \
    && grep -q 'QMP greeting (QEMU 7.2.22) and qmp_capabilities' \
        "$scratch/out" && grep -q '(id 0x786c7100)' "$scratch/out"
tap $? "QMP: greeting, capabilities with libxl's first id, query-status"
grep -q 'PCI scan: 2 functions' "$scratch/out"
tap $? "PCI scan through the control socket finds the stand-in's devices"
grep -q 'QEMU exited on SIGHUP (status 0)' "$scratch/out" \
    && grep -q 'ok: /local/domain/0/device-model/3 stays removed' \
        "$scratch/out"
tap $? "teardown: device-model node removed, then SIGHUP"

FAKE_DM_MODE=good "$fake/run" --domid 4 --hdtype ide --serial \
    --disk "$scratch/disk.img" -- "$tests/fake-dm.py" >"$scratch/out" 2>&1
grep -q 'ok: serial0: /dev/pts/99 recorded at /local/domain/4/serial/0/tty' \
    "$scratch/out"
tap $? "a pty serial from query-chardev goes to serial/0/tty as libxl does"
argv=$(tr '\n' ' ' < "$scratch/argv" 2>/dev/null)
has "-drive file=$img,if=ide,index=0,media=disk,format=raw,$wb" \
    && ! has "-smp 1,maxcpus=1"
tap $? "argv: IDE disk for hdtype=ide, no -smp for one vCPU"

for mode in lf badid shape die; do
    FAKE_DM_MODE=$mode "$fake/run" --domid 5 -- "$tests/fake-dm.py" \
        >"$scratch/out" 2>&1
    rc=$?
    left=0
    dir=$(sed -n 's/.*logs kept in //p' "$scratch/out")
    if [ -n "$dir" ] && [ -f "$dir/pids" ]; then
        while read -r _ pid; do
            alive "$pid" && left=1
        done < "$dir/pids"
        rm -rf "$dir"
    fi
    [ $rc = 1 ] && [ $left = 0 ] && grep -q '^== FAIL' "$scratch/out"
    r=$?
    tap $r "a misbehaving device model ($mode) fails the run, is cleaned up"
    [ $r = 0 ] || show "$scratch/out"
done

"$fake/run" --keep --domid 6 -- "$tests/fake-dm.py" >"$scratch/env" \
    2>"$scratch/err"
rc=$?
env_ok=1
if [ $rc = 0 ]; then
    eval "$(grep -E '^[A-Z_]+=' "$scratch/env")"
    [ -S "$XENSIM_QMP" ] && [ -S "$XENSTORED_PATH" ] \
        && alive "$XENSIM_QEMU_PID" && env_ok=0
fi
tap $env_ok "--keep leaves the device model up and prints its sockets"
if [ $rc = 0 ]; then
    $XENSIM_STOP >/dev/null 2>&1
    ! alive "$XENSIM_QEMU_PID" && ! alive "$XENSIM_HV_PID" \
        && ! alive "$XENSTORED_PID" && [ ! -d "$XENSIM_RUN_DIR" ]
    tap $? "--stop tears it all down"
else
    tap 1 "--stop tears it all down"
fi

# ---- 2. real device models on the simulator -------------------------------
have_sim=1
[ -x "$out/xensim-hv" ] && [ -e "$out/lib/libxenctrl.so.4.17" ] || have_sim=0
domid=10
for qemu in /usr/libexec/xen-qemu-system-i386 "$BUILD/qemu-system-x86_64"; do
    what=$(basename "$qemu")
    domid=$((domid + 1))
    if [ $have_sim = 0 ]; then
        for t in "reaches running" "QMP greeting and qmp_capabilities" \
                 "query-status says running" \
                 "guest I/O: PCI scan, PIO, MMIO" \
                 "exits on SIGHUP"; do
            skip "$what under build/xensim/run: $t" "hv not built"
        done
        continue
    fi
    if [ ! -x "$qemu" ]; then
        skip "$what under build/xensim/run" "$qemu missing"
        continue
    fi
    "$out/run" --domid $domid --memory 128 --disk "$scratch/disk.img" \
        --hdtype ahci --guest-io -- "$qemu" >"$scratch/out" 2>&1
    rc=$?
    grep -q 'ok: device-model state = running' "$scratch/out"
    tap $? "$what under build/xensim/run: reaches running"
    grep -q 'ok: QMP greeting (QEMU 7\.2\.[0-9]*) and qmp_capabilities' \
        "$scratch/out"
    tap $? "$what under build/xensim/run: QMP greeting and qmp_capabilities"
    grep -q 'ok: query-status: running' "$scratch/out"
    tap $? "$what under build/xensim/run: query-status says running"
    grep -q 'ok: PCI scan: 7 functions' "$scratch/out" \
        && grep -q 'ok: PIO: Xen platform magic' "$scratch/out" \
        && grep -q 'ok: MMIO: AHCI at 00:04.0' "$scratch/out"
    tap $? "$what under build/xensim/run: guest I/O: PCI scan, PIO, MMIO"
    grep -q 'ok: QEMU exited on SIGHUP' "$scratch/out" && [ $rc = 0 ]
    r=$?
    tap $r "$what under build/xensim/run: exits on SIGHUP"
    [ $r = 0 ] || show "$scratch/out"
done

# ---- 3. the map cache cap as an operator sets it ---------------------------
# libxl: device_model_args_hvm = ["-accel", "xen,mapcache-max-size=64M"]
# lands after "-machine xenfv,..."; the cap must reach query-xen-mapcache
# and "info xen-mapcache", and a bad value must stop QEMU at start-up
# with a message that names the property.
qemu=$BUILD/qemu-system-x86_64
cap_tests=("-accel xen,mapcache-max-size=64M: QEMU reaches running"
           "query-xen-mapcache reports max-bytes 64M, eviction stalls, bytes pending"
           "info xen-mapcache reports the cap, eviction stalls, bytes pending"
           "mapcache-max-size=512K: refused at start-up, named")
if [ $have_sim = 0 ] || [ ! -x "$qemu" ]; then
    for t in "${cap_tests[@]}"; do skip "$t" "hv or QEMU not built"; done
    tap_end
    exit 0
fi
stop=""
trap '[ -n "$stop" ] && $stop >/dev/null 2>&1; rm -rf "$scratch"' EXIT
env=$("$out/run" --keep --domid 20 --memory 128 -- "$qemu" \
          -accel xen,mapcache-max-size=64M 2>"$scratch/out")
tap $? "${cap_tests[0]}"
eval "$env"
stop=${XENSIM_STOP:-}
"$out/run" --qmp "${XENSIM_QMP:-/nonexistent}" \
    --execute query-xen-mapcache >"$scratch/q" 2>&1
grep -q '"max-bytes": 67108864,' "$scratch/q" &&
    grep -q '"eviction-stalls": [0-9]' "$scratch/q" &&
    grep -q '"bytes-pending": [0-9]' "$scratch/q"
r=$?
tap $r "${cap_tests[1]}"
[ $r = 0 ] || show "$scratch/q"
"$out/run" --qmp "${XENSIM_QMP:-/nonexistent}" \
    --execute human-monitor-command \
    --arguments '{"command-line": "info xen-mapcache"}' >"$scratch/h" 2>&1
tr -d '\r' < "$scratch/h" > "$scratch/h1"
grep -q '^bytes mapped  *[0-9]* of 67108864$' "$scratch/h1" &&
    grep -q '^eviction stalls  *[0-9]*$' "$scratch/h1" &&
    grep -q '^bytes pending  *[0-9]*$' "$scratch/h1"
r=$?
tap $r "${cap_tests[2]}"
[ $r = 0 ] || show "$scratch/h"
[ -n "$stop" ] && $stop >/dev/null 2>&1
stop=""

"$out/run" --domid 21 --memory 128 -- "$qemu" \
    -accel xen,mapcache-max-size=512K >"$scratch/out" 2>&1
rc=$?
[ $rc != 0 ] && grep -q 'mapcache-max-size=512K: mapcache-max-size must be 0 (automatic) or at least 1M' \
    "$scratch/out"
r=$?
kept=$(sed -n 's/.*logs kept in //p' "$scratch/out")
[ -n "$kept" ] && rm -rf "$kept"
tap $r "${cap_tests[3]}"
[ $r = 0 ] || show "$scratch/out"
tap_end
