#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Run ahci-workload against one QEMU binary on xensim, as libxl starts it.
#
#   guest-run.sh [--sim DIR] [--domid N] [--memory MiB] [--vcpus N] \
#                BINARY IMAGE [-- WORKLOAD-ARGS...]
#
# Starts BINARY with `run --keep` (xenfv, AHCI raw disk IMAGE, 2 vCPUs;
# --vcpus N: N vCPUs, and the workload's vcpus phase on all of them),
# runs $SIM/ahci-workload against it with the environment run prints,
# then tears everything down (also on interruption).  Prints the
# workload's output; if it failed, adds what explains it:
#   qemu-alive: yes|no
#   qemu-log: LINE      (the device model's last log lines)
#   hv-log: LINE        (xensim-hv's DM BUG reports)
# and, when the device model has query-xen-mapcache, its counters:
#   mapcache: bytes_mapped=N entries=N evictions=N hits=N ...
# Exit status: the workload's (77 if xensim is not built).
set -uo pipefail

sim=${XENSIM_BUILD:-$(cd "$(dirname "$0")/../../.." && pwd)/build/xensim}
domid=1 memory=256 vcpus=2 wl_vcpus=()
while [ $# -gt 0 ]; do
    case $1 in
    --vcpus) vcpus=$2 wl_vcpus=(--vcpus "$2"); shift 2 ;;
    --sim) sim=$2; shift 2 ;;
    --domid) domid=$2; shift 2 ;;
    --memory) memory=$2; shift 2 ;;
    *) break ;;
    esac
done
[ $# -ge 2 ] || { echo "usage: $0 [options] BINARY IMAGE [-- ARGS]" >&2
                  exit 2; }
bin=$1 img=$2
shift 2
[ "${1:-}" = -- ] && shift
[ -x "$sim/run" ] && [ -x "$sim/ahci-workload" ] || exit 77

err=$(mktemp)
stop=""
cleanup() {
    [ -n "$stop" ] && $stop >/dev/null 2>&1
    stop=""
    rm -f "$err"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! env=$("$sim/run" --keep --domid "$domid" --memory "$memory" \
               --vcpus "$vcpus" --disk "$img" --hdtype ahci -- "$bin" \
               2>"$err")
then
    echo "launch failed:"
    sed 's/^/   /' "$err"
    exit 1
fi
set -a
eval "$env"
set +a
stop=$XENSIM_STOP
qemu_log=$XENSIM_QEMU_LOG hv_log=$XENSIM_RUN_DIR/hv.log
qemu_pid=$XENSIM_QEMU_PID

timeout 300 "$sim/ahci-workload" --disk "$img" "${wl_vcpus[@]}" "$@"
rc=$?
# The map cache's counters, where the device model has query-xen-mapcache
"$sim/run" --qmp "$XENSIM_QMP" --execute query-xen-mapcache 2>/dev/null |
    python3 -c 'import json, sys
d = json.load(sys.stdin)
print("mapcache: " + " ".join("%s=%s" % (k.replace("-", "_"), v)
                              for k, v in sorted(d.items())))' 2>/dev/null
if [ $rc != 0 ]; then
    state=$(awk '{ sub(/.*\) /, ""); print $1 }' /proc/$qemu_pid/stat \
            2>/dev/null)
    if [ -z "$state" ] || [ "$state" = Z ]; then
        echo "qemu-alive: no"
    else
        echo "qemu-alive: yes"
    fi
    tail -n 5 "$qemu_log" 2>/dev/null | sed 's/^/qemu-log: /'
    grep 'DM BUG' "$hv_log" 2>/dev/null | head -n 5 | sed 's/^/hv-log: /'
fi
exit $rc
