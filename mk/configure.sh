#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Configure the lean build in $QBUILD: x86_64-softmmu only, Xen as the one
# accelerator (qtest is always there for the tests), our device set, no
# TCG/KVM, only the tools the tests need, and io_uring (liburing) as the
# one extra block I/O engine (Xen guests' drives use it by default).
# Reconfigures only when these options change; meson picks up changed
# meson.build files by itself.
#
# XEN_DM_QBUILD (another build directory), XEN_DM_CC (the compiler, ccache
# in front when present) and XEN_DM_CONFIG_EXTRA (more configure options)
# make the variant builds from the same tree (mk/build-fuzz.sh).
. "$(dirname "$0")/common.sh"
QBUILD=${XEN_DM_QBUILD:-$QBUILD}

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
cc=${XEN_DM_CC:-cc} cxx=${XEN_DM_CXX:-c++}
if command -v ccache >/dev/null; then
    opts+=(--cc="ccache $cc" --cxx="ccache $cxx" --objcc="ccache $cc")
elif [ -n "${XEN_DM_CC:-}" ]; then
    opts+=(--cc="$cc" --cxx="$cxx" --objcc="$cc")
fi
# shellcheck disable=SC2206  # words of extra options, as given
opts+=(${XEN_DM_CONFIG_EXTRA:-})

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
