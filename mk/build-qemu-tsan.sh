#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# QEMU built with ThreadSanitizer (make tsan): the same tree and options as
# the main build (mk/configure.sh) plus 7.2's --enable-tsan, for running
# the ioreq thread, the main loop and the block layer's threads together
# under xensim (tests/tsan).  Output: $BUILD/qemu-tsan/qemu-system-x86_64.
# Not part of make check: a cold build takes as long as the main one.
. "$(dirname "$0")/common.sh"

TBUILD=$BUILD/qemu-tsan
XEN_DM_QBUILD=$TBUILD XEN_DM_CONFIG_EXTRA="--enable-tsan --disable-werror" \
    bash "$TOP/mk/configure.sh"
build_variant "$TBUILD"
