# SPDX-License-Identifier: GPL-2.0-or-later
# Shared settings for the project's driver scripts (sourced, not run).
#
# The project tree holds only our own files; everything upstream comes from
# Debian 12's QEMU 7.2 source package, unpacked once into a cache directory
# outside the tree and reused by every later build.

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${XEN_DM_CACHE:-/var/tmp/xen-dm-cache}
BUILD=${XEN_DM_BUILD:-$TOP/build}

# The Debian source version we build on; any 7.2.x the archive serves is
# accepted when this exact one is gone, and the one used is recorded.
BASE_DEBIAN_VERSION=${BASE_DEBIAN_VERSION:-1:7.2+dfsg-7+deb12u18}
BASE_REPO=$CACHE/base.git          # pristine base, one commit tagged "base"
SERIES_REPO=$BUILD/series/qemu.git # throwaway: base + our series (deep enough
                                  # that tools looking for QEMU trees skip it)
SRC=$BUILD/assembled/qemu         # tree the build reads (mtime-stable copy)
QBUILD=$BUILD/qemu                 # meson build directory

# Fixed identity and dates make the series reproducible patch for patch.
SERIES_NAME=${SERIES_NAME:-Xen DM Developers}
SERIES_EMAIL=${SERIES_EMAIL:-xen-dm-devel@lists.example.org}
export GIT_AUTHOR_NAME="$SERIES_NAME" GIT_AUTHOR_EMAIL="$SERIES_EMAIL"
export GIT_COMMITTER_NAME="$SERIES_NAME" GIT_COMMITTER_EMAIL="$SERIES_EMAIL"
export GIT_AUTHOR_DATE="2026-11-25T00:00:00Z" GIT_COMMITTER_DATE="2026-11-25T00:00:00Z"

log() { printf '[%s] %s\n' "$(basename "$0" .sh)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# build_variant DIR: the QEMU binary of a variant build in DIR (configured
# by mk/configure.sh), its qemu-bundle pointing at Debian's firmware.
build_variant() {
    nice ninja -C "$1" qemu-system-x86_64 || return
    for d in share/qemu share/seabios lib/ipxe/qemu; do
        mkdir -p "$1/qemu-bundle/usr/$(dirname $d)"
        ln -sfn "/usr/$d" "$1/qemu-bundle/usr/$d"
    done
}
