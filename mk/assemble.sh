#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Lay the project over the pristine base as a patch series.
#
# series/NN-slug/ describes one commit: "message" (subject, blank line,
# body; Signed-off-by is added), "files" (project paths copied to the same
# path in the tree) and optional *.diff hunks, applied in name order.
# MAINTAINERS is special: the project's file is one section, spliced in
# after the existing Xen section.
#
# A *.diff holds hunks against upstream files (also one that a later
# patch replaces with ours), or against a file of ours that an earlier
# patch adds: that is how one file of ours is split over
# patches (series/README.md).  The work tree's file is always the end
# state; the patch listing it in "files" gets that file with the later
# patches' hunks on it taken back out (git apply -R, last patch first),
# and each later patch puts its hunks back in.
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

# $stage: each file of ours as the patch that adds it has it.
stage=$(mktemp -d)
trap 'rm -f "$listed"; rm -rf "$stage"' EXIT
declare -A owner=()
i=0
for d in $patch_dirs; do
    if [ -f "$TOP/$d/files" ]; then
        while read -r f; do
            [ -f "$TOP/$f" ] || die "$d/files names missing $f"
            owner[$f]=$i
            mkdir -p "$stage/$(dirname "$f")"
            cp "$TOP/$f" "$stage/$f"
        done < <(grep -v '^\s*\(#\|$\)' "$TOP/$d/files")
    fi
    i=$((i + 1))
done
dirs=($patch_dirs)
for ((i = ${#dirs[@]} - 1; i >= 0; i--)); do
    d=${dirs[i]}
    for p in $(cd "$TOP" && git ls-files "$d/*.diff"); do
        ours=()
        # (a diff made by diff -u has no "diff --git" lines: read +++ too)
        for f in $(sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$TOP/$p" | sort -u); do
            [ -n "${owner[$f]:-}" ] || continue
            # Before the patch that replaces an upstream file with ours,
            # a hunk is against the upstream file: nothing to take out.
            if [ "${owner[$f]}" -gt "$i" ] &&
                    git --git-dir="$BASE_REPO" cat-file -e "base:$f" 2>/dev/null; then
                continue
            fi
            [ "${owner[$f]}" -lt "$i" ] ||
                die "$p has hunks against $f, which ${dirs[${owner[$f]}]} adds: only a later patch can"
            [ "$f" != MAINTAINERS ] || die "$p: no hunks against MAINTAINERS (spliced whole)"
            ours+=(--include="$f")
        done
        [ ${#ours[@]} = 0 ] && continue
        (cd "$stage" && GIT_CEILING_DIRECTORIES=$stage/.. \
            git apply -R --whitespace=nowarn "${ours[@]}" "$TOP/$p") ||
            die "$p: its hunks against our files do not come back out of the work tree's files (regenerate them, series/README.md)"
    done
done

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
            if [ "$f" = MAINTAINERS ]; then
                splice_maintainers "$stage/$f"
            else
                mkdir -p "$SERIES_REPO/$(dirname "$f")"
                cp "$stage/$f" "$SERIES_REPO/$f"
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
# Taking hunks out and putting them back must give the work tree's files.
for f in "${!owner[@]}"; do
    [ "$f" = MAINTAINERS ] && continue
    cmp -s "$TOP/$f" "$SERIES_REPO/$f" ||
        die "$f: the series ends with a different file than the work tree's"
done

mkdir -p "$SRC"
# No -t: a file whose content did not change is not touched at all.
rsync -rlc --delete --exclude=/.git "$SERIES_REPO/" "$SRC/"
