#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Build test-xen-mapcache-stock (part of make build; check.d/22 runs it):
# the map cache's bug scenarios (tests/unit/test-xen-mapcache-stock.c)
# linked with three caches over the unit test's in-process backend: ours,
# QEMU 7.2's xen-mapcache.c from the pristine base, and 7.2 with the 2017
# overlapping-DMA fix (7fb394ad8a) undone.  The two 7.2 copies get their
# entry points renamed (stock_*, unfixed_*) so that all three link into
# one program.  Compiled as meson compiles the cache and the test, into
# $BUILD/mapcache-stock/test-xen-mapcache-stock; ccache makes a rerun
# with unchanged sources cheap.  Also test-xen-physmem-{ours,stock}:
# physmem.c's map cache hooks, ours and 7.2's (mk/physmem-slice.py).
. "$(dirname "$0")/common.sh"
. "$TOP/mk/meson-cc.sh"

W=$BUILD/mapcache-stock
mkdir -p "$W/stock"
cc=cc
command -v ccache >/dev/null && cc="ccache cc"

build() {
    local f renames_s="" renames_u="" target common link
    git --git-dir="$BASE_REPO" show base:hw/i386/xen/xen-mapcache.c \
        > "$W/stock/xen-mapcache.c"
    # Undo 7fb394ad8a: the walk stops at the first unlocked entry again
    # for locked requests too, and no free entry is reused.
    sed -e 's/while (entry && (lock || entry->lock) && entry->vaddr_base/while (entry \&\& entry->lock \&\& entry->vaddr_base/' \
        -e 's/if (!entry && free_entry) {/if (!entry \&\& free_entry \&\& false) {/' \
        "$W/stock/xen-mapcache.c" > "$W/stock/unfixed-mapcache.c"
    if [ "$(diff "$W/stock/xen-mapcache.c" "$W/stock/unfixed-mapcache.c" |
            grep -c '^>')" != 2 ]; then
        echo "the 2017 fix was not found in 7.2's xen-mapcache.c"
        return 1
    fi
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
    target=$(meson_cflags hw/i386/xen/xen-mapcache.c)
    common=$(meson_cflags tests/unit/test-xen-mapcache-backend.c)
    link=$(meson_link_args tests/unit/test-xen-mapcache)
    cd "$QBUILD"
    eval "$cc $target -w $renames_s -c $W/stock/xen-mapcache.c -o $W/stock.o"
    eval "$cc $target -w $renames_u -c $W/stock/unfixed-mapcache.c -o $W/unfixed.o"
    eval "$cc $target -c $SRC/hw/i386/xen/xen-mapcache.c -o $W/ours.o"
    eval "$cc $common -c $SRC/tests/unit/test-xen-mapcache-backend.c -o $W/backend.o"
    eval "$cc $common -I$SRC/tests/unit -c $SRC/tests/unit/test-xen-mapcache-stock.c -o $W/main.o"
    eval "cc -o $W/test-xen-mapcache-stock.new $W/main.o $W/ours.o $W/stock.o $W/unfixed.o $W/backend.o $link"
    mv "$W/test-xen-mapcache-stock.new" "$W/test-xen-mapcache-stock"

    # physmem.c's map cache hooks (tests/unit/test-xen-physmem.c), cut
    # out of our physmem.c and out of 7.2's, each with its own
    # memory_ldst.c.inc, over our cache
    local v dir
    for v in ours stock; do
        dir=$W/physmem-$v
        mkdir -p "$dir"
        if [ $v = ours ]; then
            cp "$SRC/softmmu/physmem.c" "$dir/physmem.c"
            cp "$SRC/memory_ldst.c.inc" "$dir/memory_ldst.c.inc"
        else
            git --git-dir="$BASE_REPO" show base:softmmu/physmem.c > "$dir/physmem.c"
            git --git-dir="$BASE_REPO" show base:memory_ldst.c.inc > "$dir/memory_ldst.c.inc"
        fi
        python3 "$TOP/mk/physmem-slice.py" "$dir/physmem.c" "$dir/physmem-slice.c"
        eval "$cc $common -I$SRC/tests/unit -I$dir -c $SRC/tests/unit/test-xen-physmem.c -o $dir/main.o"
        eval "cc -o $W/test-xen-physmem-$v.new $dir/main.o $W/ours.o $W/backend.o $link"
        mv "$W/test-xen-physmem-$v.new" "$W/test-xen-physmem-$v"
    done
}
if ! (set -e; build) >"$W/build.log" 2>&1; then
    tail -20 "$W/build.log" >&2
    die "test-xen-mapcache-stock does not build (see $W/build.log)"
fi
