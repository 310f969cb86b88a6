#!/bin/bash
# The series as a maintainer receives it: every patch applies with git am
# to the pristine base, the result is exactly the tree we build, and the
# base tree's checkpatch.pl reports no errors on any patch.
. "$TOP/mk/common.sh"

out=$TOP/series-out
n=0
am=$(mktemp -d)
trap 'rm -rf "$am"' EXIT
git clone -q --shared "$BASE_REPO" "$am/tree"
git -C "$am/tree" checkout -q -b am base
patches=$(ls "$out"/*.patch | grep -v '/0000-cover-letter.patch$')
n=$((n + 1))
if git -C "$am/tree" am -q $patches >"$am/am.log" 2>&1; then
    echo "ok $n - git am applies $(echo "$patches" | wc -l) patches to the pristine base"
else
    sed 's/^/# /' "$am/am.log"
    echo "not ok $n - git am of the series on the pristine base"
fi
n=$((n + 1))
if [ "$(git -C "$am/tree" rev-parse 'HEAD^{tree}')" = \
     "$(git -C "$SERIES_REPO" rev-parse 'series^{tree}')" ]; then
    echo "ok $n - the applied series is the tree we build"
else
    echo "not ok $n - the applied series differs from the tree we build"
fi
for p in $patches; do
    n=$((n + 1))
    name=$(basename "$p")
    # Errors fail a patch; warnings are for the reviewer to weigh.
    if (cd "$am/tree" && perl scripts/checkpatch.pl --no-tree "$p") >"$am/cp.log" 2>&1 \
       && grep -qE 'total: 0 errors|no obvious style problems' "$am/cp.log"; then
        echo "ok $n - checkpatch: $name"
    else
        grep -A3 '^ERROR' "$am/cp.log" | sed 's/^/# /'
        echo "not ok $n - checkpatch: $name"
    fi
done
