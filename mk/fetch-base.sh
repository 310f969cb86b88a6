#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Fetch the base once: Debian 12's QEMU 7.2 source package with Debian's
# patches applied, committed as a pristine git repository in the cache
# ($BASE_REPO, tag "base").  Later runs reuse it untouched.
. "$(dirname "$0")/common.sh"

if git -C "$BASE_REPO" rev-parse -q --verify base >/dev/null 2>&1; then
    exit 0
fi

mkdir -p "$CACHE"
work=$(mktemp -d "$CACHE/fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
log "apt-get source qemu=$BASE_DEBIAN_VERSION"
if ! apt-get source -qq qemu="$BASE_DEBIAN_VERSION" >fetch.log 2>&1; then
    log "exact version not served any more; taking the archive's qemu"
    apt-get source -qq qemu >fetch.log 2>&1 || { cat fetch.log >&2; die "apt-get source qemu failed"; }
fi
tree=$(find . -maxdepth 1 -type d -name 'qemu-*' | head -n1)
[ -n "$tree" ] || die "no source tree unpacked"
ver=$(cat "$tree/VERSION")
case "$ver" in 7.2.*) ;; *) die "base is QEMU $ver, not 7.2.x" ;; esac
deb=$(dpkg-parsechangelog -l "$tree/debian/changelog" -S Version)
[ -f "$tree/.pc/applied-patches" ] || die "Debian patches were not applied"
log "base: QEMU $ver, Debian $deb"

# Debian's quilt state is not part of the source; everything else is.
rm -rf "$tree/.pc"
mv "$tree" "$work/base"
git -C "$work/base" init -q -b master
git -C "$work/base" add -A -f
git -C "$work/base" -c gc.auto=0 commit -q -m "QEMU $ver as shipped in Debian $deb

Unpacked with 'apt-get source qemu' (Debian patches applied)."
git -C "$work/base" tag base
printf 'QEMU %s, Debian source package qemu %s\n' "$ver" "$deb" > "$work/base/.git/base-version"
rm -rf "$BASE_REPO"
mv "$work/base/.git" "$BASE_REPO"
git --git-dir="$BASE_REPO" config core.bare true
log "pristine base at $BASE_REPO"
