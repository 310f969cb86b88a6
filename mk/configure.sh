#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Configure the lean build in $QBUILD: x86_64-softmmu only, Xen as the one
# accelerator (qtest is always there for the tests), our device set, no
# TCG/KVM, only the tools the tests need, and io_uring (liburing) as the
# one extra block I/O engine (Xen guests' drives use it by default).
# Reconfigures only when these options change; meson picks up changed
# meson.build files by itself.
. "$(dirname "$0")/common.sh"

opts=(
    --target-list=x86_64-softmmu
    --without-default-features
    --without-default-devices --with-devices-x86_64=xen
    --enable-xen --enable-xen-pci-passthrough
    --disable-tcg --disable-kvm
    --enable-tools --enable-vnc
    --enable-linux-io-uring
    --audio-drv-list=
    --disable-docs --disable-install-blobs
    --enable-trace-backends=log
    --firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu
)
if command -v ccache >/dev/null; then
    opts+=(--cc="ccache cc" --cxx="ccache c++" --objcc="ccache cc")
fi

want="$SRC ${opts[*]}"
if [ -f "$QBUILD/build.ninja" ] && [ "$(cat "$QBUILD/.xen-dm-opts" 2>/dev/null)" = "$want" ]; then
    exit 0
fi
rm -rf "$QBUILD"
mkdir -p "$QBUILD"
cd "$QBUILD"
log "configure ${opts[*]}"
"$SRC/configure" "${opts[@]}" > configure.log 2>&1 || { tail -30 configure.log >&2; die "configure failed (see $QBUILD/configure.log)"; }
printf '%s' "$want" > .xen-dm-opts
