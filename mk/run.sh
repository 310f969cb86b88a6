#!/bin/bash
# The main job (`make run`, after `make build series`).
#
# 1. Show that the built device model offers the xen accelerator.
# 2. On xensim: start our build/qemu-system-x86_64 and Debian's stock
#    /usr/libexec/xen-qemu-system-i386 the way libxl 4.17 does (xenfv, an
#    AHCI disk made with build/qemu-img) through build/xensim/run, wait for
#    "running", replay libxl's QMP exchange, run a short guest workload on
#    the simulated vCPU (PCI scan of bus 0 through CF8/CFC, a PIO read of
#    the Xen platform port, an MMIO read of the AHCI HBA after placing its
#    BAR), tear down with SIGHUP, and compare the two side by side (state,
#    QMP, devices found, the hypervisor's non-zero counters).
#    Skipped, and said so, while the simulator is not built.
# 3. Summarise the patch series.
# Exits non-zero if a device-model run failed.
. "$(dirname "$0")/common.sh"

qemu=$BUILD/qemu-system-x86_64
stock=/usr/libexec/xen-qemu-system-i386
sim=$BUILD/xensim
status=0

echo "== $("$qemu" --version | head -n1)"
echo "== accelerators:"
"$qemu" -accel help | sed 1d | sed 's/^/   /'
"$qemu" -accel help | grep -qx xen || die "xen accelerator missing"
echo "== machines for Xen:"
"$qemu" -machine help | grep -E '^(xenfv|pc |q35)' | sed 's/^/   /' || true

if [ ! -x "$sim/xensim-hv" ] || [ ! -e "$sim/lib/libxenctrl.so.4.17" ] ||
   [ ! -x "$sim/run" ] || [ ! -x "$sim/xenstored" ]; then
    echo "== xensim: the simulator part is not built yet" \
         "($sim/xensim-hv or its libraries missing); no device-model run"
else
    work=$(mktemp -d /tmp/xen-dm-run.XXXXXX)
    trap 'rm -rf "$work"' EXIT
    "$BUILD/qemu-img" create -q -f qcow2 "$work/disk.qcow2" 64M
    domid=1
    for bin in "$qemu" "$stock"; do
        name=$(basename "$bin")
        echo "== xensim: $name as libxl starts it (domid $domid," \
             "256 MiB, 2 vCPUs, AHCI qcow2 disk)"
        if [ ! -x "$bin" ]; then
            echo "   $bin missing"
            status=1
            continue
        fi
        if ! "$sim/run" --domid $domid --memory 256 --vcpus 2 \
                --disk "$work/disk.qcow2" --hdtype ahci --guest-io \
                --summary-json "$work/$name.json" -- "$bin" 2>&1 |
                sed 's/^/   /'; then
            status=1
        fi
        domid=$((domid + 1))
    done
    echo "== xensim: side by side"
    python3 - "$work/$(basename "$qemu").json" \
        "$work/$(basename "$stock").json" <<'PY'
import json
import sys

runs = []
for path in sys.argv[1:]:
    try:
        with open(path) as f:
            runs.append(json.load(f))
    except (OSError, ValueError):
        runs.append({})


def row(label, values):
    print("   %-26s %-24s %-24s" % (label, *[str(v) for v in values]))


row("", ["ours", "Debian stock"])
row("QEMU", [r.get("qemu_version", "-") for r in runs])
row("state running after (s)", [r.get("running_after_s", "never")
                                for r in runs])
row("query-status", [r.get("status", "-") for r in runs])
row("QMP commands answered", [r.get("qmp_commands", 0) for r in runs])
row("PCI functions on bus 0", [len(r.get("pci", [])) for r in runs])
pci = sorted({p for r in runs for p in r.get("pci", [])})
for p in pci:
    row("  " + p, ["yes" if p in r.get("pci", []) else "-" for r in runs])
names = []
for r in runs:
    for k in r.get("counters", {}):
        if k not in names:
            names.append(k)
zero = 0
for k in names:
    vals = [r.get("counters", {}).get(k, "-") for r in runs]
    if all(v in ("0", "-") for v in vals):
        zero += 1
        continue
    row("hv " + k, vals)
if zero:
    row("hv (%d more counters)" % zero, ["0", "0"])
row("result", ["PASS" if r.get("pass") else "FAIL" for r in runs])
PY
fi

echo "== series on $(cat "$BASE_REPO/base-version"):"
git -C "$SERIES_REPO" log --reverse --format='   %s' base..series
echo "== patches: $(ls "$TOP"/series-out/*.patch 2>/dev/null | wc -l) files in series-out/"
exit $status
