#!/bin/bash
# The series as a maintainer receives it: every patch applies with git am
# to the pristine base, the result is exactly the tree we build, and the
# base tree's checkpatch.pl reports no errors on any patch.
. "$TOP/mk/common.sh"
. "$(dirname "$0")/lib/tap.sh"

out=$TOP/series-out
am=$(mktemp -d)
trap 'rm -rf "$am"' EXIT
git clone -q --shared "$BASE_REPO" "$am/tree"
git -C "$am/tree" checkout -q -b am base
patches=$(ls "$out"/*.patch | grep -v '/0000-cover-letter.patch$')
tap_plan $((2 + $(wc -l <<<"$patches")))
if git -C "$am/tree" am -q $patches >"$am/am.log" 2>&1; then
    tap_ok "git am applies $(echo "$patches" | wc -l) patches to the pristine base"
else
    tap_diag "$am/am.log"
    tap_notok "git am of the series on the pristine base"
fi
if [ "$(git -C "$am/tree" rev-parse 'HEAD^{tree}')" = \
     "$(git -C "$SERIES_REPO" rev-parse 'series^{tree}')" ]; then
    tap_ok "the applied series is the tree we build"
else
    tap_notok "the applied series differs from the tree we build"
fi
for p in $patches; do
    name=$(basename "$p")
    # Errors fail a patch; warnings are for the reviewer to weigh.
    if (cd "$am/tree" && perl scripts/checkpatch.pl --no-tree "$p") >"$am/cp.log" 2>&1 \
       && grep -qE 'total: 0 errors|no obvious style problems' "$am/cp.log"; then
        tap_ok "checkpatch: $name"
    else
        grep -A3 '^ERROR' "$am/cp.log" | sed 's/^/# /'
        tap_notok "checkpatch: $name"
    fi
done
