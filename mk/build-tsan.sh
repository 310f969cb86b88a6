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

build() {
    local f flags link
    cd "$QBUILD"
    for f in tests/unit/test-xen-mapcache.c \
             tests/unit/test-xen-mapcache-backend.c util/rcu.c; do
        flags=$(meson_cflags "$f")
        eval "$cc $flags -O1 -g -fsanitize=thread -Wno-tsan -c $SRC/$f \
              -o $W/$(basename "$f" .c).o"
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
