#!/bin/bash
# The main job.  Foundation stage: show that the built device model offers
# the xen accelerator and summarise the series it was built from.
. "$(dirname "$0")/common.sh"

qemu=$BUILD/qemu-system-x86_64
echo "== $("$qemu" --version | head -n1)"
echo "== accelerators:"
"$qemu" -accel help | sed 1d | sed 's/^/   /'
"$qemu" -accel help | grep -qx xen || die "xen accelerator missing"
echo "== machines for Xen:"
"$qemu" -machine help | grep -E '^(xenfv|pc |q35)' | sed 's/^/   /' || true
echo "== series on $(cat "$BASE_REPO/base-version"):"
git -C "$SERIES_REPO" log --reverse --format='   %s' base..series
echo "== patches: $(ls "$TOP"/series-out/*.patch 2>/dev/null | wc -l) files in series-out/"
