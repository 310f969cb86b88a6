#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The map cache's model-based random test (tests/unit/test-xen-mapcache.c,
# 4 threads: lockless hits, DMA locks, unlocks and reverse lookups against
# maps, evictions, resizes and invalidates), its miss storm (evictions
# done by the RCU thread) and reverse-vs-invalidate (lockless reverse
# lookups walking rev chains while invalidates free the entries on them)
# built with ThreadSanitizer by make build
# (mk/build-tsan.sh).  Any data race report fails;
# tsan-mapcache.supp next to this suite lists the RCU synchronisation
# TSan cannot model, with the reasons.
set -uo pipefail
. "$(dirname "$0")/lib/tap.sh"
W=$BUILD/tsan-mapcache
supp=$(cd "$(dirname "$0")" && pwd)/tsan-mapcache.supp

tap_need "$W/test-xen-mapcache-tsan" || { tap_end; exit 0; }
XEN_MAPCACHE_RANDOM_OPS=${XEN_MAPCACHE_TSAN_OPS:-200000} \
TSAN_OPTIONS="suppressions=$supp halt_on_error=0 exitcode=66" \
    "$W/test-xen-mapcache-tsan" --tap -p /xen-mapcache/random \
    -p /xen-mapcache/rcu-paths -p /xen-mapcache/miss-storm \
    -p /xen-mapcache/reverse-vs-invalidate >"$W/out" 2>&1
rc=$?
tap_relay "under TSan" < <(grep -E '^(1\.\.|ok|not ok)' "$W/out")
grep -E '^# [0-9]+ ops' "$W/out"
reports=$(grep -c '^WARNING: ThreadSanitizer' "$W/out")
[ $rc = 0 ] && [ "$reports" = 0 ]
r=$?
tap $r "random test under TSan: no data race ($reports reports, status $rc)"
[ $r = 0 ] || grep -E '^(WARNING|SUMMARY)|^    #[0-3] ' "$W/out" | head -40 | sed 's/^/# /'
tap_end
