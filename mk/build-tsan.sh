#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Build the map cache's unit test with ThreadSanitizer (part of make build;
# check.d/21 runs it): test-xen-mapcache.c, its backend and util/rcu.c
# compiled exactly as meson compiles them, plus -fsanitize=thread, and
# linked with the test's own link line into
# $BUILD/tsan-mapcache/test-xen-mapcache-tsan.  ccache makes a rerun with
# unchanged sources cheap.
. "$(dirname "$0")/common.sh"
. "$TOP/mk/meson-cc.sh"

W=$BUILD/tsan-mapcache
mkdir -p "$W"
cc=cc
command -v ccache >/dev/null && cc="ccache cc"

# TSan does not model standalone fences (hence -Wno-tsan), and QEMU's
# RCU makes a reader's rcu_read_unlock() (a release store of its ctr)
# happen before synchronize_rcu's return through a relaxed read of that
# ctr followed by smp_mb(): C11's fence-to-release synchronisation,
# invisible to TSan, which then reports every call_rcu free as racing
# with the reads of the section before it.  rcu-tsan.c is util/rcu.c
# with that one read an acquire load: the same ordering (the fence after
# it stays; on x86 both are plain loads), now visible to TSan, and only
# between the pair that communicates, so a reader that touches memory
# after its rcu_read_unlock() is still reported.
rcu_for_tsan() {
    local from='v = qatomic_read(ctr);' to='v = qatomic_load_acquire(ctr);'

    [ "$(grep -cF "$from" "$SRC/util/rcu.c")" = 1 ] ||
        die "util/rcu.c: rcu_gp_ongoing()'s read of ctr not found once"
    sed "s/$from/$to/" "$SRC/util/rcu.c"
}

build() {
    local f flags link
    cd "$QBUILD"
    rcu_for_tsan >"$W/rcu-tsan.c"
    for f in tests/unit/test-xen-mapcache.c \
             tests/unit/test-xen-mapcache-backend.c util/rcu.c; do
        flags=$(meson_cflags "$f")
        src=$SRC/$f
        [ "$f" = util/rcu.c ] && src=$W/rcu-tsan.c
        eval "$cc $flags -iquote $SRC/util -O1 -g -fsanitize=thread -Wno-tsan \
              -c $src -o $W/$(basename "$f" .c).o"
    done
    link=$(meson_link_args tests/unit/test-xen-mapcache)
    # util/rcu.c is compiled in (instrumented) ahead of libqemuutil.a's
    eval "cc -fsanitize=thread -o $W/test-xen-mapcache-tsan.new $W/*.o $link"
    mv "$W/test-xen-mapcache-tsan.new" "$W/test-xen-mapcache-tsan"
}
if ! (set -e; build) >"$W/build.log" 2>&1; then
    tail -20 "$W/build.log" >&2
    die "test-xen-mapcache with -fsanitize=thread does not build (see $W/build.log)"
fi
