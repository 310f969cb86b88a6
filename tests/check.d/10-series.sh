#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The series as a maintainer receives it: every patch applies with git am
# to the pristine base, the result is exactly the tree we build, the base
# tree's checkpatch.pl reports no errors on any patch, and every patch
# builds on its own with the tests of meson suite "xen" passing there
# (git bisect).
#
# The last part builds: each prefix of the series in turn, incrementally
# and through ccache, in build/bisect (mk/build-prefix.sh).  That is the
# one build a suite does, because whether each patch builds is what it
# tests; a prefix that does not build is a failed result here, while a
# failure of the main build stops make check before any suite runs.
# The map cache's random test runs 50000 operations per prefix instead
# of 1000000 (check.d/20 runs the full one on the whole series).
. "$TOP/mk/common.sh"
set +e
. "$(dirname "$0")/lib/tap.sh"

out=$TOP/series-out
am=$(mktemp -d)
trap 'rm -rf "$am"' EXIT
git clone -q --shared "$BASE_REPO" "$am/tree"
git -C "$am/tree" checkout -q -b am base
patches=$(ls "$out"/*.patch | grep -v '/0000-cover-letter.patch$')
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

# Each prefix, oldest first.  One build tree for all, under its own lock.
mapfile -t commits < <(git -C "$SERIES_REPO" rev-list --reverse base..series)
total=${#commits[@]}
mkdir -p "$BUILD/bisect"
exec 9>"$BUILD/bisect/.lock"
flock 9
start=$SECONDS
tested_sum="" tested_at=0
for ((k = 1; k <= total; k++)); do
    c=${commits[k - 1]}
    what="patch $k/$total ($(git -C "$SERIES_REPO" log -1 --format=%s "$c"))"
    t0=$SECONDS
    if ! bash "$TOP/mk/build-prefix.sh" "$c" >"$am/build.log" 2>&1; then
        tail -25 "$am/build.log" | tap_diag /dev/stdin
        tap_notok "$what builds on its own"
        continue
    fi
    tap_ok "$what builds on its own"
    echo "# patch $k: built in $((SECONDS - t0)) s"
    [ -s "$BUILD/bisect/xen-tests" ] || continue
    # A patch that changes nothing the tests run (documentation, say)
    # leaves every binary as the previous prefix built it: its tests
    # would rerun what ran there, so they are not run again.
    sum=$(cd "$BUILD/bisect/qemu" &&
          cat qemu-system-x86_64 $(cat ../xen-targets) | sha1sum)
    if [ "$sum" = "$tested_sum" ]; then
        echo "# patch $k: binaries as at patch $tested_at, tested there"
        continue
    fi
    tested_sum=$sum tested_at=$k
    t0=$SECONDS
    XEN_MAPCACHE_RANDOM_OPS=50000 python3 "$(dirname "$0")/lib/meson-tap.py" \
        "$BUILD/bisect/qemu" check-prefix --suite xen \
        --timeout-multiplier 4 >"$am/meson.tap"
    tap_relay "patch $k/$total" <"$am/meson.tap"
    echo "# patch $k: tests in $((SECONDS - t0)) s"
done
echo "# every prefix built and tested in $((SECONDS - start)) s"
tap_end
