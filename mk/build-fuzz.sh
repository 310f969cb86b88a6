#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The instrumented QEMU: the same tree and options as the main build
# (mk/configure.sh), compiled by AFL++'s afl-clang-fast (edge coverage for
# afl-fuzz, dormant unless afl-fuzz's __AFL_SHM_ID is in the environment)
# with QEMU's --enable-sanitizers (ASan + UBSan).  One binary serves the
# fuzzer (tests/fuzz) and the sanitizer suites, so CI pays one extra build.
# Output: $BUILD/qemu-fuzz/qemu-system-x86_64 (symlinked as
# $BUILD/qemu-system-x86_64-san).  ccache is shared with the main build.
# -latomic: clang turns the ioreq core's 64-bit qatomic_read() of a
# buffered ring slot (a 4-byte aligned type) into __atomic_load_8 calls.
. "$(dirname "$0")/common.sh"

command -v afl-clang-fast >/dev/null || die "afl-clang-fast missing (make deps)"
FBUILD=$BUILD/qemu-fuzz
export AFL_QUIET=1
XEN_DM_QBUILD=$FBUILD XEN_DM_CC=afl-clang-fast XEN_DM_CXX=afl-clang-fast++ \
XEN_DM_CONFIG_EXTRA="--enable-sanitizers --disable-werror --extra-ldflags=-latomic" \
    bash "$TOP/mk/configure.sh"
build_variant "$FBUILD"
ln -sf qemu-fuzz/qemu-system-x86_64 "$BUILD/qemu-system-x86_64-san"
