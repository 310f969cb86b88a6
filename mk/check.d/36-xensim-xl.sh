#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Debian's real toolstack under xensim (issue #16): xl 4.17 and libxl,
# unchanged, create an HVM guest on xensim-hv --toolstack and launch the
# device model themselves, once with our QEMU and once with Debian's
# stock one as device_model_override; tests/xensim/xl/xl-e2e.py checks
# the argv libxl built (/proc/PID/cmdline), the QMP handshake, the
# device-model state, the vCPU player after unpause, and that xl destroy
# leaves no device model and no xenstore node behind.
set -uo pipefail
: "${TOP:?}" "${BUILD:?}"
out=$BUILD/xensim
per_dm=17
echo "1..$((1 + 2 * per_dm))"
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }

if [ ! -x /usr/lib/xen-4.17/bin/xl ] || ! command -v unshare >/dev/null ||
   [ "$(id -u)" != 0 ]; then
    for i in $(seq $((1 + 2 * per_dm))); do
        ok "xl end to end # SKIP needs root, unshare and xen-utils-4.17 (mk/deps.sh)"
    done
    exit 0
fi
if make --no-print-directory -s -C "$TOP/tests/xensim" O="$out" \
        hv shim subdirs >/dev/null; then
    ok "build xensim-hv, the devxen shim and xenstored"
else
    notok "build xensim-hv, the devxen shim and xenstored"
fi

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
                notok "$dm: ${BASH_REMATCH[2]}"
            else
                ok "$dm: ${BASH_REMATCH[2]}"
            fi
        else
            echo "$line"
        fi
    done < <(timeout 300 python3 "$TOP/tests/xensim/xl/xl-e2e.py" \
                 --xensim "$out" --dm "$bin" 2>&1)
    while [ "$seen" -lt "$per_dm" ]; do
        seen=$((seen + 1))
        notok "$dm: check $seen of $per_dm did not run"
    done
done
