#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Build one commit of the series ($SERIES_REPO, made by mk/assemble.sh) in
# a build tree of its own, $BUILD/bisect; check.d/10 builds every prefix
# of the series in turn with it, so that each patch is known to build.
#
#   mk/build-prefix.sh COMMIT
#
# builds qemu-system-x86_64, qemu-img and the tests of the meson suite
# "xen" as they are at COMMIT, and lists those tests' names in
# $BUILD/bisect/xen-tests.  The tree ($BUILD/bisect/assembled/qemu) is a
# checkout from a git directory of its own, so moving from one commit to
# the next rewrites only the files that differ and ninja rebuilds only
# what they touch; its layout mirrors $BUILD's, so ccache (base_dir=/work)
# serves every object the main build compiled from the same source.
. "$(dirname "$0")/common.sh"

commit=$1
B=$BUILD/bisect
gd=$B/tree.git
mkdir -p "$B/assembled/qemu"
if [ ! -d "$gd" ]; then
    git init -q --bare "$gd"
    echo "$BASE_REPO/objects" > "$gd/objects/info/alternates"
    git --git-dir="$gd" config core.bare false
    git --git-dir="$gd" config core.worktree "$B/assembled/qemu"
fi
git --git-dir="$gd" fetch -q "$SERIES_REPO" "+series:refs/heads/series"
git --git-dir="$gd" checkout -q -f --detach "$commit"

XEN_DM_BUILD=$B bash "$TOP/mk/configure.sh"
qb=$B/qemu
ninja -C "$qb" build.ninja >/dev/null    # meson.build changed: regenerate
meson=$(sed -n 's/^MESON=//p' "$qb/config-host.mak")
"$meson" introspect --tests "$qb" | python3 -c '
import json, os, sys
qb = sys.argv[1]
with open(os.path.join(qb, "..", "xen-tests"), "w") as names, \
     open(os.path.join(qb, "..", "xen-targets"), "w") as targets:
    for t in json.load(sys.stdin):
        if {"xen", "qemu:xen"} & set(t["suite"]):
            names.write(t["name"] + "\n")
            targets.write(os.path.relpath(t["cmd"][0], qb) + "\n")
' "$qb"
ninja -C "$qb" qemu-system-x86_64 qemu-img $(cat "$B/xen-targets")
for d in share/qemu share/seabios lib/ipxe/qemu; do
    mkdir -p "$qb/qemu-bundle/usr/$(dirname $d)"
    ln -sfn "/usr/$d" "$qb/qemu-bundle/usr/$d"
done
