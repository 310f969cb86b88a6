#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The map cache's bug scenarios against ours, QEMU 7.2's xen-mapcache.c
# from the pristine base, and 7.2 with the 2017 overlapping-DMA fix
# (7fb394ad8a) undone, all over the unit test's in-process backend
# (tests/unit/test-xen-mapcache-stock.c, built by make build with
# mk/build-mapcache-stock.sh).  Each TAP line says whether a cache
# translated and read right; a line is "ok" when the cache does what the
# test file records (ours: always right; 7.2: the measured failures).
# The table at the end is the one in docs/xen-mapcache.rst.
# Then physmem.c's hooks, ours and 7.2's (tests/unit/test-xen-physmem.c,
# built by mk/build-mapcache-stock.sh from mk/physmem-slice.py's cut).
set -u
: "${TOP:?}" "${BUILD:?}"
. "$(dirname "$0")/lib/tap.sh"
t=$BUILD/mapcache-stock/test-xen-mapcache-stock
tap_need "$t" || { tap_end; exit 0; }
tap_run "" "$t"

# physmem.c's map cache hooks (tests/unit/test-xen-physmem.c): ours must
# pass every case; 7.2's physmem.c and memory_ldst.c.inc, over the same
# cache, must end each case as measured (one child per case, as a
# device model would end: a signal, or the test's failed assertion where
# 7.2 goes on with a wrong answer).
p=$BUILD/mapcache-stock/test-xen-physmem
tap_need "$p-ours" "$p-stock" || { tap_end; exit 0; }
tap_run "ours" "$p-ours" --tap
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
while IFS='|' read -r case want why; do
    { "$p-stock" -p "/xen-physmem/$case" >"$tmp" 2>&1; echo $? >"$tmp.rc"; } 2>/dev/null
    rc=$(cat "$tmp.rc"); rm -f "$tmp.rc"
    case $want in
    SIGSEGV) [ "$rc" = 139 ] ;;
    *) [ "$rc" = 134 ] && grep -q -- "$want" "$tmp" ;;
    esac
    r=$?
    tap $r "7.2 physmem: /xen-physmem/$case: $why (status $rc)"
    [ $r = 0 ] || tail -5 "$tmp" | sed 's/^/# /'
done <<'EOT'
ldst-cached-ballooned|SIGSEGV|a ring on a ballooned page: the *_cached_slow load dereferences NULL
block-map-fails|should be NULL|a failed VRAM mapping hands out NULL + offset
block-from-host|Bad ram offset|an unknown host pointer exits QEMU
unmap-unknown|Bad ram offset|address_space_unmap of an unknown pointer exits QEMU
unmap-vram-keeps-block|s.locked == locked|DMA unmap drops VRAM's permanent lock
map-clients|client_runs == 2|a DMA unmap never wakes a waiting map client
EOT
tap_end
