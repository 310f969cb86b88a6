#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Map cache benchmark (make bench): QEMU 7.2's xen-mapcache.c, taken from
# the pristine base, against ours from the assembled tree, compiled with
# the build's own flags into one harness over the same in-process
# foreign-memory backend as the unit test.  Prints a table with ratios
# ours/stock (for ns and us lower is better, for Mops/s higher).  Then
# (argument "unmap", or none) physmem.c's DMA map+unmap path over ours,
# today's against one that notifies the map clients at every unmap.
. "$(cd "$(dirname "$0")/../.." && pwd)/mk/common.sh"

Q=$QBUILD
W=$BUILD/bench-mapcache
mkdir -p "$W/stock"
[ -f "$Q/libqemuutil.a" ] || die "no $Q/libqemuutil.a: run make build"

git --git-dir="$BASE_REPO" show base:hw/i386/xen/xen-mapcache.c \
    > "$W/stock/xen-mapcache.c"
# 7.2's own trace points compile to nothing; ours keep theirs (disabled).
cat > "$W/stock/trace.h" <<'EOT'
#define trace_xen_map_cache(a) do { } while (0)
#define trace_xen_remap_bucket(a) do { } while (0)
#define trace_xen_map_cache_return(a) do { } while (0)
EOT

. "$TOP/mk/meson-cc.sh"
CC=${CC:-cc}
target_flags=$(meson_cflags hw/i386/xen/xen-mapcache.c)
common_flags=$(meson_cflags tests/unit/test-xen-mapcache-backend.c)
renames=""
for f in xen_map_cache_init xen_map_cache xen_ram_addr_from_mapcache \
         xen_invalidate_map_cache_entry xen_invalidate_map_cache \
         xen_replace_cache_entry; do
    renames+=" -D$f=stock_$f"
done

cd "$Q"
eval "$CC $target_flags -O2 -w $renames -c $W/stock/xen-mapcache.c -o $W/stock.o"
eval "$CC $target_flags -O2 -c $SRC/hw/i386/xen/xen-mapcache.c -o $W/ours.o"
eval "$CC $common_flags -O2 -c $SRC/tests/unit/test-xen-mapcache-backend.c -o $W/backend.o"
eval "$CC $common_flags -O2 -I$SRC/tests/unit -c $TOP/bench/mapcache/bench-mapcache.c -o $W/bench.o"
# Link as meson links the unit tests.
link_args=$(meson_link_args tests/unit/test-xen-mapcache) || exit 1
eval "$CC -o $W/bench-mapcache $W/bench.o $W/ours.o $W/stock.o $W/backend.o $link_args"

if [ "${1:-}" != unmap ]; then
"$W/bench-mapcache" "$@" > "$W/results.tsv"
awk -F'\t' '
    BEGIN { printf "%-42s %12s %12s %8s  %s\n", "measurement", "stock 7.2",
            "ours", "ours/st", "unit" }
    {
        r = ($2 > 0) ? sprintf("%.3f", $3 / $2) : "-"
        printf "%-42s %12.1f %12.1f %8s  %s\n", $1, $2, $3, r, $4
        v[$1] = $3; s[$1] = $2
    }
    END {
        probe = v["bare hash probe (same call, no cache)"]
        hit = v["forward hit, size 8 (flatview_read)"]
        hit0 = v["forward hit, size 0 (qemu_map_ram_ptr)"]
        r1 = v["reverse lookup, 1 locked"]; r64k = v["reverse lookup, 65536 locked"]
        printf "\ntargets (informative, not asserted):\n"
        printf "  reverse lookup 65536/1 locked: %.2fx (target <= 1.5x)\n", r64k / r1
        printf "  reverse lookup at 1024 locked, stock/ours: %.0fx (target >= 50x)\n",
               s["reverse lookup, 1024 locked"] / v["reverse lookup, 1024 locked"]
        printf "  forward hit / bare probe: %.2fx (size 0), %.2fx (size 8) (target <= 1.3x)\n",
               hit0 / probe, hit / probe
        d1 = "DMA map+unmap, 1 thread, distinct"; d2 = "DMA map+unmap, 2 threads, distinct"
        s1 = "DMA map+unmap, 1 thread, shared bucket"; s2 = "DMA map+unmap, 2 threads, shared bucket"
        c1 = "control (shares nothing), 1 thread, distinct"
        c2 = "control (shares nothing), 2 threads, distinct"
        cs1 = "control (shares nothing), 1 thread, shared"
        cs2 = "control (shares nothing), 2 threads, shared"
        if (v[d1] > 0)
            printf "  DMA 2 threads / 1 thread, distinct buckets: ours %.2fx, stock %.2fx, control %.2fx (target >= 1.6x)\n",
                   v[d2] / v[d1], s[d2] / s[d1], v[c2] / v[c1]
        if (v[s1] > 0)
            printf "  DMA 2 threads / 1 thread, shared bucket: ours %.2fx, stock %.2fx, control %.2fx (target >= 1.0x)\n",
                   v[s2] / v[s1], s[s2] / s[s1], v[cs2] / v[cs1]
        if (v[d1] > 0 && v[c2] > 0)
            printf "  the same, divided by the control (what the machine gave 2 threads): distinct ours %.2f, stock %.2f; shared ours %.2f, stock %.2f\n",
                   (v[d2] / v[d1]) / (v[c2] / v[c1]), (s[d2] / s[d1]) / (v[c2] / v[c1]),
                   (v[s2] / v[s1]) / (v[cs2] / v[cs1]), (s[s2] / s[s1]) / (v[cs2] / v[cs1])
        p1 = "DMA per CPU-second, 1 thread, distinct"; p2 = "DMA per CPU-second, 2 threads, distinct"
        q1 = "DMA per CPU-second, 1 thread, shared"; q2 = "DMA per CPU-second, 2 threads, shared"
        if (v[p1] > 0)
            printf "  ops per CPU-second, 2 threads / 1 thread (1.0 = no contention; less load-dependent than wall time, not immune: other processes evict the caches): distinct ours %.2f, stock %.2f; shared ours %.2f, stock %.2f\n",
                   v[p2] / v[p1], s[p2] / s[p1], v[q2] / v[q1], s[q2] / s[q1]
    }' "$W/results.tsv"
fi

# physmem.c's DMA unmap (bench-physmem.c): today's, which takes the map
# clients' lock only when a client waits, against the same code notifying
# them at every unmap, as main did before.
[ -n "${1:-}" ] && [ "$1" != unmap ] && exit 0
for v in before ours; do
    d=$W/physmem-$v
    mkdir -p "$d"
    cp "$SRC/memory_ldst.c.inc" "$d/"
    python3 "$TOP/mk/physmem-slice.py" "$SRC/softmmu/physmem.c" "$d/physmem-slice.c"
    if [ $v = before ]; then
        sed -i 's/^\( *\)xen_notify_map_clients();/\1cpu_notify_map_clients();/' "$d/physmem-slice.c"
        grep -q '^ *cpu_notify_map_clients();' "$d/physmem-slice.c" ||
            die "bench-physmem: the notify in address_space_unmap was not found"
    fi
    eval "$CC $common_flags -O2 -Wno-unused-function -I$SRC/tests/unit -I$d -c $TOP/bench/mapcache/bench-physmem.c -o $d/bench.o"
    eval "$CC -o $d/bench-physmem $d/bench.o $W/ours.o $W/backend.o $link_args"
    "$d/bench-physmem" > "$d/results.tsv"
done
printf '\n%-42s %12s %12s %8s  %s\n' "physmem DMA path" "notify all" "ours" "ours/all" "unit"
join -t "$(printf '\t')" -j1 <(sort "$W/physmem-before/results.tsv") \
    <(sort "$W/physmem-ours/results.tsv") |
    awk -F'\t' '{ r = ($2 > 0) ? sprintf("%.3f", $4 / $2) : "-"
                  printf "%-42s %12.2f %12.2f %8s  %s\n", $1, $2, $4, r, $3 }'
