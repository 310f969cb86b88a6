#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The short soak (tests/soak/README.md): 10^4 NCQ I/Os on the six AHCI
# disks of a Q35 guest (-machine q35 -accel xen,mapcache-max-size=128M)
# with invalidate storms, failing foreign maps, gfns failing in err[],
# a page ballooned out and populated back, and an xl save / xl restore
# of the device model (-incoming fd:N) half way; `make soak` is the
# 10^6 one.  Every sector read and every image sector must be right,
# QEMU alive at every sample, the map cache within its cap and no
# locked entry left behind; then the same on the ASan+UBSan QEMU.
set -uo pipefail
: "${TOP:?}" "${BUILD:?}"
. "$(dirname "$0")/lib/tap.sh"
tap_need "$BUILD/xensim/run" "$BUILD/soak/soak-io" \
    "$BUILD/qemu-system-x86_64" || { tap_end; exit 1; }
tap_plan 7
log=$(mktemp /tmp/soak-check.XXXXXX)
trap 'rm -f "$log"' EXIT
timeout 900 python3 "$TOP/tests/soak/soak.py" "$BUILD" \
    "$BUILD/qemu-system-x86_64" --ios "${SOAK_CHECK_IOS:-10000}" \
    --report-every 1000 > "$log" 2>&1
rc=$?
grep -v '^sample\|^progress' "$log" | sed 's/^/# /'
summary=$(grep '^summary: ios=.*errors=[0-9]* result=' "$log" | tail -1)
grep -q '^summary: ios=[0-9]* data_errors=0 image_errors=0 ' <<<"$summary"
tap $? "every sector read and every image sector verified: zero data errors"
grep -q '^restore: QEMU [0-9]* from the saved state' "$log"
tap $? "xl save / xl restore (-incoming fd:N) half way, the guest going on"
! grep -q 'is gone at\|not alive at the end' "$log"
tap $? "QEMU alive at every sample and at the end"
! grep -q 'map cache above its cap\|locked entries at the end' "$log"
tap $? "map cache within its cap, no locked entry left behind"
done_line=$(grep '^done ' "$log" | tail -1)
grep -qE 'storms=[1-9].* map_fails=[1-9]' <<<"$done_line" &&
    grep -qE 'page_errors=[1-9].* balloons=[1-9]' <<<"$done_line"
tap $? "every kind of fault injected (${done_line#done })"
[ $rc = 0 ] && grep -q 'result=PASS$' <<<"$summary"
tap $? "soak verdict: ${summary#summary: }"
# The same on the ASan+UBSan QEMU (make sanitizers; ~10 s): a report
# aborts QEMU, which the soak sees as QEMU gone.
san=$BUILD/qemu-fuzz/qemu-system-x86_64
if [ ! -x "$san" ] || [ "${XEN_DM_SANITIZERS:-1}" = 0 ]; then
    tap_skip "soak on the sanitized QEMU" "no sanitized QEMU (make sanitizers)"
else
    ASAN_OPTIONS=abort_on_error=1:detect_leaks=0:verify_asan_link_order=0:symbolize=1:print_summary=1 \
    UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1:symbolize=1 \
        timeout 900 python3 "$TOP/tests/soak/soak.py" "$BUILD" "$san" \
        --ios "${SOAK_CHECK_IOS:-10000}" --report-every 1000 > "$log" 2>&1
    rc=$?
    summary=$(grep '^summary: ios=.*errors=[0-9]* result=' "$log" | tail -1)
    [ $rc = 0 ] && grep -q 'result=PASS$' <<<"$summary"
    tap $? "soak on the sanitized QEMU: ${summary#summary: }"
    [ $rc = 0 ] || grep -v '^sample\|^progress' "$log" | tail -8 | sed 's/^/# /'
fi
exit 0
