#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Install what a fresh Debian 12 machine lacks, idempotently: the deb-src
# entries `apt-get source qemu` needs, the build dependencies of a lean
# Xen-enabled QEMU, the Xen 4.17 libraries and headers, and the stock
# Debian Xen device model we measure ourselves against.
. "$(dirname "$0")/common.sh"

PKGS=(
    build-essential dpkg-dev git rsync ccache pkg-config python3 python3-venv
    meson ninja-build flex bison
    libglib2.0-dev libpixman-1-dev zlib1g-dev libfdt-dev
    liburing-dev    # QEMU's linux_io_uring block engine (aio=io_uring)
    libxen-dev qemu-system-xen qemu-system-data seabios ipxe-qemu
    libtsan2        # the map cache's ThreadSanitizer run (check.d/21)
    gcc-multilib    # 32-bit headers: check.d/20's 32-bit build is refused by name
    # The ioreq fuzzer (tests/fuzz): AFL++'s afl-fuzz and afl-clang-fast
    # (clang 14), which also builds the ASan+UBSan QEMU the suites run.
    afl++ clang
    # Xen's own toolstack (xl, libxl, libxenguest, hvmloader) to run under
    # xensim's simulated /dev/xen; no hypervisor, no boot loader change
    # (--no-install-recommends keeps xen-hypervisor and grub-xen-host out).
    xen-utils-4.17
)

SRC_LIST=/etc/apt/sources.list.d/xen-dm-deb-src.sources
need_update=0
if ! grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    [ "$(id -u)" = 0 ] || die "need root to add deb-src entries ($SRC_LIST)"
    log "adding deb-src entries in $SRC_LIST"
    cat > "$SRC_LIST" <<'SRCS'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRCS
    need_update=1
fi

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
stamp=/var/lib/apt/lists/.xen-dm-updated
if [ ${#missing[@]} -gt 0 ] || [ $need_update = 1 ] || [ ! -e "$stamp" ]; then
    [ "$(id -u)" = 0 ] || die "need root to install: ${missing[*]}"
    log "apt-get update"
    apt-get update -qq && touch "$stamp"
fi
if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi
