#!/bin/bash
# Lay the project over the pristine base as a patch series.
#
# series/NN-slug/ describes one commit: "message" (subject, blank line,
# body; Signed-off-by is added), "files" (project paths copied to the same
# path in the tree) and optional *.diff hooks into upstream files, applied
# in name order.  MAINTAINERS is special: the project's file is one section,
# spliced in after the existing Xen section.
#
# Only what git tracks takes part (as it stands in the work tree), so that a
# clean clone and a work tree with someone's unfinished files build alike.
#
# The result is committed in $SERIES_REPO (throwaway), then copied to $SRC
# with content comparison so that unchanged files keep their mtimes and
# ninja rebuilds only what a change touched.
. "$(dirname "$0")/common.sh"

bash "$TOP/mk/fetch-base.sh"

rm -rf "$SERIES_REPO"
git clone -q --shared "$BASE_REPO" "$SERIES_REPO"
git -C "$SERIES_REPO" checkout -q -b series base

# Every tracked file of ours that lands in the QEMU tree must belong to a
# patch (untracked work in progress is left out until it is listed).
listed=$(mktemp)
trap 'rm -f "$listed"' EXIT
patch_dirs=$(cd "$TOP" && git ls-files 'series/[0-9]*/message' | xargs -r -n1 dirname | sort)
for d in $patch_dirs; do
    d=$TOP/$d
    [ -f "$d/files" ] && grep -v '^\s*\(#\|$\)' "$d/files" >> "$listed" || true
done
sort -o "$listed" "$listed"
dups=$(uniq -d "$listed")
[ -z "$dups" ] || die "files in more than one patch: $dups"
unlisted=$(cd "$TOP" && git ls-files --cached -- \
               accel hw include configs docs MAINTAINERS tests/qtest tests/unit \
           | sort | comm -23 - "$listed")
[ -z "$unlisted" ] || die "files in no patch of series/: $unlisted"

splice_maintainers() {
    # Insert our section after the "X86 Xen CPUs" one (ends at a blank line).
    awk -v sect="$1" '
        { print }
        /^X86 Xen CPUs$/ { inx = 1 }
        inx && /^$/ { while ((getline l < sect) > 0) print l; print ""; inx = 0 }
    ' "$SERIES_REPO/MAINTAINERS" > "$SERIES_REPO/MAINTAINERS.new"
    mv "$SERIES_REPO/MAINTAINERS.new" "$SERIES_REPO/MAINTAINERS"
}

n=0
for d in $patch_dirs; do
    d=$TOP/$d
    if [ -f "$d/files" ]; then
        grep -v '^\s*\(#\|$\)' "$d/files" | while read -r f; do
            [ -f "$TOP/$f" ] || die "$d/files names missing $f"
            if [ "$f" = MAINTAINERS ]; then
                splice_maintainers "$TOP/$f"
            else
                mkdir -p "$SERIES_REPO/$(dirname "$f")"
                cp "$TOP/$f" "$SERIES_REPO/$f"
            fi
        done
    fi
    for p in $(cd "$TOP" && git ls-files "${d#$TOP/}/*.diff"); do
        p=$TOP/$p
        git -C "$SERIES_REPO" apply --whitespace=nowarn "$p" || die "hook $p does not apply"
    done
    git -C "$SERIES_REPO" add -A
    git -C "$SERIES_REPO" -c gc.auto=0 commit -q -s -F "$d/message" \
        || die "$(basename "$d") makes no change"
    n=$((n + 1))
done
log "series: $n patches on $(cat "$BASE_REPO/base-version")"

mkdir -p "$SRC"
# No -t: a file whose content did not change is not touched at all.
rsync -rlc --delete --exclude=/.git "$SERIES_REPO/" "$SRC/"
