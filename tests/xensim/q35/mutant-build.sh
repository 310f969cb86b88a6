#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build a device model whose map cache is QEMU 7.2's, to show that the
# Q35 NCQ tests fail on the code they guard against:
#
#   mutant-build.sh BUILD mapcache72          7.2's xen-mapcache.c
#   mutant-build.sh BUILD mapcache72-unfixed  ... with the 2017 fix
#                                             (7fb394ad8a) undone
#   mutant-build.sh BUILD invalidate-unmaps-locked
#                                             ours, but an invalidate
#                                             unmaps locked entries too
#   mutant-build.sh BUILD replace-rewrites-index
#                                             ours, but replace gives
#                                             the entry the new guest
#                                             index, as 7.2 does (issue
#                                             #15 defect 1; suite 36's
#                                             xl-restore-vram.py)
#
# writes BUILD/mutants/qemu-NAME.  The file comes from the pristine base
# (tag "base" of $XEN_DM_CACHE/base.git), with only what our tree needs
# to link it: no-op macros for its trace events (our trace-events no
# longer declares them) and, at its end, the functions our header adds:
# failure_is_transient (never), set_max_size (ignored), get_stats and
# query-xen-mapcache (entries, locked entries and bytes of 7.2's
# buckets; the rest zero).  It is built in BUILD's own tree, under
# BUILD's lock, and the tree's own file is put back (with a new mtime, so
# that ninja rebuilds it) and relinked before the lock is released.
set -euo pipefail
build=$(cd "${1:?usage: $0 BUILD mapcache72|mapcache72-unfixed}" && pwd)
name=${2:?}
cache=${XEN_DM_CACHE:-/var/tmp/xen-dm-cache}
src=$build/assembled/qemu/hw/i386/xen/xen-mapcache.c
mkdir -p "$build/mutants"
work=$(mktemp -d /tmp/mutant-build.XXXXXX)
trap 'rm -rf "$work"' EXIT

git --git-dir="$cache/base.git" show base:hw/i386/xen/xen-mapcache.c \
    > "$work/stock.c"

# mutate_ours SED WHAT: our file with one line changed by SED, or an
# error naming WHAT when SED no longer finds its line
mutate_ours() {
    sed "$1" "$src" > "$work/mutant.c"
    [ "$(diff "$src" "$work/mutant.c" | grep -c '^>')" = 1 ] ||
        { echo "$2 not found" >&2; exit 1; }
}
case $name in
mapcache72) cp "$work/stock.c" "$work/mutant.c" ;;
mapcache72-unfixed)
    # As check.d/22: the walk stops at the first unlocked entry for
    # locked requests too, and no free entry is reused.
    sed -e 's/while (entry && (lock || entry->lock) && entry->vaddr_base/while (entry \&\& entry->lock \&\& entry->vaddr_base/' \
        -e 's/if (!entry && free_entry) {/if (!entry \&\& free_entry \&\& false) {/' \
        "$work/stock.c" > "$work/mutant.c"
    [ "$(diff "$work/stock.c" "$work/mutant.c" | grep -c '^>')" = 2 ] ||
        { echo "the 2017 fix was not found" >&2; exit 1; }
    ;;
invalidate-unmaps-locked)
    # ours, but an invalidate unmaps locked entries too (after the
    # grace period), with DMA still in flight into them: mc_doom__locked
    # evicts whatever the lock count says
    mutate_ours 's/^    if (old < MCS_LOCK) {$/    if (old < MCS_LOCK || true) {/' \
        "mc_doom__locked()'s lock test"
    ;;
replace-rewrites-index)
    # ours, but xen_replace_cache_entry() gives the replaced mapping the
    # BAR's guest index, as 7.2's does: a reverse lookup of a VRAM
    # pointer then answers BAR + offset instead of VRAM's ram_addr
    mutate_ours 's/^        old_bad = e->bad_pages;$/        qatomic_set(\&e->index, new_addr >> MC_SHIFT);\n&/' \
        "xen_replace_cache_entry()'s remap"
    ;;
*) echo "unknown mutant $name" >&2; exit 2 ;;
esac
case $name in mapcache72*) ;; *) false ;; esac && sed -i 's|^#include "trace.h"|#define trace_xen_map_cache(a) do { } while (0)\
#define trace_xen_remap_bucket(a) do { } while (0)\
#define trace_xen_map_cache_return(a) do { } while (0)\
#include "qapi/qapi-commands-misc.h"|' "$work/mutant.c"
case $name in mapcache72*) ;; *) false ;; esac && cat >> "$work/mutant.c" <<'EOF'

/* mutant-build.sh: what our header adds to 7.2's interface */
bool xen_map_cache_failure_is_transient(void)
{
    return false;
}

void xen_map_cache_set_max_size(uint64_t max_bytes)
{
}

/* 7.2 keeps no counters; what its buckets hold now */
void xen_map_cache_get_stats(XenMapCacheStats *stats)
{
    MapCacheEntry *e;
    unsigned long i;

    memset(stats, 0, sizeof(*stats));
    if (!mapcache) {
        return;
    }
    mapcache_lock();
    for (i = 0; i < mapcache->nr_buckets; i++) {
        for (e = &mapcache->entry[i]; e; e = e->next) {
            if (e->vaddr_base) {
                stats->entries++;
                stats->locked += e->lock != 0;
                stats->bytes_mapped += e->size;
            }
        }
    }
    stats->max_bytes = mapcache->max_mcache_size;
    mapcache_unlock();
}

XenMapCacheInfo *qmp_query_xen_mapcache(Error **errp)
{
    XenMapCacheInfo *info = g_new0(XenMapCacheInfo, 1);
    XenMapCacheStats s;

    xen_map_cache_get_stats(&s);
    info->entries = s.entries;
    info->locked = s.locked;
    info->bytes_mapped = s.bytes_mapped;
    info->max_bytes = s.max_bytes;
    return info;
}
EOF

exec 9>"$build/.lock"
flock 9
cp -p "$src" "$work/ours.c"
restore() {
    cp "$work/ours.c" "$src"
    touch "$src"
    ninja -C "$build/qemu" qemu-system-x86_64 >/dev/null
}
trap 'restore; rm -rf "$work"' EXIT
cp "$work/mutant.c" "$src"
ninja -C "$build/qemu" qemu-system-x86_64 > "$work/ninja.log" 2>&1 ||
    { tail -30 "$work/ninja.log" >&2; exit 1; }
cp "$build/qemu/qemu-system-x86_64" "$build/mutants/qemu-$name.new"
mv "$build/mutants/qemu-$name.new" "$build/mutants/qemu-$name"
echo "$build/mutants/qemu-$name"
