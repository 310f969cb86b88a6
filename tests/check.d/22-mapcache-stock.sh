#!/bin/bash
# The map cache's bug scenarios against ours, QEMU 7.2's xen-mapcache.c
# from the pristine base, and 7.2 with the 2017 overlapping-DMA fix
# (7fb394ad8a) undone, all over the unit test's in-process backend
# (tests/unit/test-xen-mapcache-stock.c).  Each TAP line says whether a
# cache translated and read right; a line is "ok" when the cache does
# what the test file records (ours: always right; 7.2: the measured
# failures).  The table at the end is the one in docs/xen-mapcache.rst.
set -uo pipefail
. "$TOP/mk/common.sh"
set +e
. "$TOP/mk/meson-cc.sh"
W=$BUILD/mapcache-stock
mkdir -p "$W/stock"

fail_build() {
    echo "not ok 1 - build test-xen-mapcache-stock"
    sed 's/^/# /' "$W/build.log" | tail -20
    exit 0
}

build() {
    local f renames_s="" renames_u="" target common link
    git --git-dir="$BASE_REPO" show base:hw/i386/xen/xen-mapcache.c \
        > "$W/stock/xen-mapcache.c" || return 1
    # Undo 7fb394ad8a: the walk stops at the first unlocked entry again
    # for locked requests too, and no free entry is reused.
    sed -e 's/while (entry && (lock || entry->lock) && entry->vaddr_base/while (entry \&\& entry->lock \&\& entry->vaddr_base/' \
        -e 's/if (!entry && free_entry) {/if (!entry \&\& free_entry \&\& false) {/' \
        "$W/stock/xen-mapcache.c" > "$W/stock/unfixed-mapcache.c"
    [ "$(diff "$W/stock/xen-mapcache.c" "$W/stock/unfixed-mapcache.c" |
         grep -c '^>')" = 2 ] || { echo "the 2017 fix was not found"; return 1; }
    cat > "$W/stock/trace.h" <<'EOT'
#define trace_xen_map_cache(a) do { } while (0)
#define trace_xen_remap_bucket(a) do { } while (0)
#define trace_xen_map_cache_return(a) do { } while (0)
EOT
    for f in xen_map_cache_init xen_map_cache xen_ram_addr_from_mapcache \
             xen_invalidate_map_cache_entry xen_invalidate_map_cache \
             xen_replace_cache_entry; do
        renames_s+=" -D$f=stock_$f"
        renames_u+=" -D$f=unfixed_$f"
    done
    target=$(meson_cflags hw/i386/xen/xen-mapcache.c) || return 1
    common=$(meson_cflags tests/unit/test-xen-mapcache-backend.c) || return 1
    link=$(meson_link_args tests/unit/test-xen-mapcache) || return 1
    cd "$QBUILD" || return 1
    eval "cc $target -w $renames_s -c $W/stock/xen-mapcache.c -o $W/stock.o" &&
    eval "cc $target -w $renames_u -c $W/stock/unfixed-mapcache.c -o $W/unfixed.o" &&
    eval "cc $target -c $SRC/hw/i386/xen/xen-mapcache.c -o $W/ours.o" &&
    eval "cc $common -c $SRC/tests/unit/test-xen-mapcache-backend.c -o $W/backend.o" &&
    eval "cc $common -I$SRC/tests/unit -c $SRC/tests/unit/test-xen-mapcache-stock.c -o $W/main.o" &&
    eval "cc -o $W/test-xen-mapcache-stock $W/main.o $W/ours.o $W/stock.o $W/unfixed.o $W/backend.o $link"
}
build >"$W/build.log" 2>&1 || fail_build
"$W/test-xen-mapcache-stock" 2>"$W/stderr"
