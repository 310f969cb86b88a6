#!/bin/bash
# The map cache's model-based random test (tests/unit/test-xen-mapcache.c,
# 4 threads: lockless hits, DMA locks, unlocks and reverse lookups against
# maps, evictions, resizes and invalidates) and its miss storm (evictions
# done by the RCU thread) built with ThreadSanitizer.  Any
# data race report fails; mk/tsan-mapcache.supp lists the RCU
# synchronisation TSan cannot model, with the reasons.
set -uo pipefail
. "$TOP/mk/common.sh"
set +e
. "$TOP/mk/meson-cc.sh"
n=0
tap() {
    n=$((n + 1))
    if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}
W=$BUILD/tsan-mapcache
mkdir -p "$W"

build() {
    local f flags link
    cd "$QBUILD" || return 1
    for f in tests/unit/test-xen-mapcache.c \
             tests/unit/test-xen-mapcache-backend.c util/rcu.c; do
        flags=$(meson_cflags "$f") || return 1
        eval "cc $flags -O1 -g -fsanitize=thread -Wno-tsan -c $SRC/$f \
              -o $W/$(basename "$f" .c).o" || return 1
    done
    link=$(meson_link_args tests/unit/test-xen-mapcache) || return 1
    # util/rcu.c is compiled in (instrumented) ahead of libqemuutil.a's
    eval "cc -fsanitize=thread -o $W/test-xen-mapcache-tsan $W/*.o $link"
}
build >"$W/build.log" 2>&1
rc=$?
tap $rc "test-xen-mapcache builds with -fsanitize=thread"
if [ $rc != 0 ]; then
    sed 's/^/# /' "$W/build.log" | tail -20
    exit 0
fi

XEN_MAPCACHE_RANDOM_OPS=${XEN_MAPCACHE_TSAN_OPS:-200000} \
TSAN_OPTIONS="suppressions=$TOP/mk/tsan-mapcache.supp halt_on_error=0 exitcode=66" \
    "$W/test-xen-mapcache-tsan" -p /xen-mapcache/random \
    -p /xen-mapcache/rcu-paths -p /xen-mapcache/miss-storm >"$W/out" 2>&1
rc=$?
grep -E '^# [0-9]+ ops' "$W/out"
reports=$(grep -c '^WARNING: ThreadSanitizer' "$W/out")
[ $rc = 0 ] && [ "$reports" = 0 ]
r=$?
tap $r "random test under TSan: no data race ($reports reports, status $rc)"
[ $r = 0 ] && exit 0
grep -E '^(WARNING|SUMMARY)|^    #[0-3] ' "$W/out" | head -40 | sed 's/^/# /'
