#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# OSSTest's qemuu HVM job sequence through Debian's real xl under xensim
# (issue #16; /work/shared/reference/libxl-dm.md section 4.1, the
# test-guest steps of test-amd64-amd64-xl-qemuu-debianhvm-amd64 after the
# install): guest-start, guest-saverestore, guest-localmigrate, a second
# saverestore, guest-localmigrate/x10, guest-stop, guest-start.2,
# guest-start.repeat (10 stop/start), guest-destroy; with our QEMU and
# with Debian's stock one as device_model_override.  The guest's RAM
# markers and an RTC CMOS byte are checked after every step
# (tests/xensim/xl/xl-e2e.py --osstest).
set -uo pipefail
: "${TOP:?}" "${BUILD:?}"
. "$(dirname "$0")/lib/tap.sh"
out=$BUILD/xensim
per_dm=10       # xl-e2e.py's OSSTEST_CHECKS
total=$((1 + 2 * per_dm))
tap_plan $total

if [ ! -x /usr/lib/xen-4.17/bin/xl ] || ! command -v unshare >/dev/null ||
   [ "$(id -u)" != 0 ]; then
    for i in $(seq $total); do
        tap_skip "osstest sequence" "needs root, unshare and xen-utils-4.17 (mk/deps.sh)"
    done
    exit 0
fi
tap_need "$out/xensim-hv" "$out/shim/libxensim-devxen.so" \
    "$out/xenstored" && tap_ok "xensim-hv, the devxen shim and xenstored built"

for dm in ours stock; do
    case $dm in
    ours) bin=$BUILD/qemu-system-x86_64 ;;
    stock) bin=/usr/libexec/xen-qemu-system-i386 ;;
    esac
    echo "# $dm: device_model_override = $bin"
    seen=0
    while IFS= read -r line; do
        if [[ $line =~ ^(not\ )?ok\ -\ (.*)$ ]]; then
            seen=$((seen + 1))
            if [ -n "${BASH_REMATCH[1]}" ]; then
                tap_notok "$dm: ${BASH_REMATCH[2]}"
            else
                tap_ok "$dm: ${BASH_REMATCH[2]}"
            fi
        else
            echo "$line"
        fi
    done < <(timeout 900 python3 "$TOP/tests/xensim/xl/xl-e2e.py" \
                 --xensim "$out" --dm "$bin" --osstest 2>&1)
    while [ "$seen" -lt "$per_dm" ]; do
        seen=$((seen + 1))
        tap_notok "$dm: check $seen of $per_dm did not run"
    done
done
