#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The main job (`make run`, after `make build series`).
#
# 1. Show that the built device model offers the xen accelerator.
# 2. On xensim: start our build/qemu-system-x86_64 and Debian's stock
#    /usr/libexec/xen-qemu-system-i386 the way libxl 4.17 does (xenfv, an
#    AHCI disk) through build/xensim/run, wait for "running", replay
#    libxl's QMP exchange, scan PCI bus 0 from the simulated vCPU, and
#    tear down with SIGHUP.
# 3. The guest workload (tests/xensim/workload, README-workload.md) on
#    each, with the same raw image and seed: an AHCI driver on the vCPU
#    runs READ DMA EXT, NCQ READ/WRITE FPDMA QUEUED with 32 commands in
#    flight in shared 1 MiB guest regions, and the 2017 map cache bug
#    report's overlapping-DMA pattern, verifying every byte.
# 4. Both side by side (state, QMP, devices, workload figures, hv
#    counters), then the series summary.
# Skipped, and said so, while the simulator is not built.  Exits non-zero
# if a device-model run failed, except a stock failure that is QEMU 7.2's
# known map cache bug (named in the table): finding that is the point.
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
elif ! make --no-print-directory -s -C "$TOP/tests/xensim/workload" \
        O="$sim" >/dev/null; then
    echo "== xensim: cannot build the guest workload"
    status=1
else
    work=$(mktemp -d /tmp/xen-dm-run.XXXXXX)
    trap 'rm -rf "$work"' EXIT
    # Raw, with the workload's pattern; one copy per device model.
    "$sim/ahci-workload" --mkimage "$work/disk.img" 64
    domid=1
    for bin in "$qemu" "$stock"; do
        name=$(basename "$bin")
        echo "== xensim: $name as libxl starts it (domid $domid," \
             "256 MiB, 2 vCPUs, AHCI raw disk)"
        if [ ! -x "$bin" ]; then
            echo "   $bin missing"
            status=1
            continue
        fi
        cp "$work/disk.img" "$work/$name.img"
        if ! "$sim/run" --domid $domid --memory 256 --vcpus 2 \
                --disk "$work/$name.img" --hdtype ahci --pci-scan \
                --summary-json "$work/$name.json" -- "$bin" 2>&1 |
                sed 's/^/   /'; then
            status=1
        fi
        echo "== xensim: guest AHCI workload on $name (seed 1)"
        rc=0
        bash "$TOP/tests/xensim/workload/guest-run.sh" --sim "$sim" \
            --domid $((domid + 10)) --memory 256 "$bin" \
            "$work/$name.img" -- --seed 1 > "$work/$name.wl" 2>&1 || rc=$?
        echo $rc > "$work/$name.rc"
        sed 's/^/   /' "$work/$name.wl"
        domid=$((domid + 1))
    done
    echo "== xensim: side by side"
    python3 - "$work" "$(basename "$qemu")" "$(basename "$stock")" <<'PY' ||
import json
import os
import re
import sys

work, names = sys.argv[1], sys.argv[2:]
runs, wls = [], []
for name in names:
    try:
        with open(os.path.join(work, name + ".json")) as f:
            runs.append(json.load(f))
    except (OSError, ValueError):
        runs.append({})
    wl = {"rc": None, "text": ""}
    try:
        with open(os.path.join(work, name + ".wl")) as f:
            wl["text"] = f.read()
        with open(os.path.join(work, name + ".rc")) as f:
            wl["rc"] = int(f.read())
    except (OSError, ValueError):
        pass
    for key in ("summary", "hv", "mapcache"):
        m = re.search(r"^%s: (.*)$" % key, wl["text"], re.M)
        if m:
            wl.update(kv.split("=", 1) for kv in m.group(1).split()
                      if "=" in kv)
    wl["phases"] = dict(re.findall(r"^phase (\S+): (ok|FAIL)", wl["text"],
                                   re.M))
    m = re.search(r"Bad ram offset \w+|mapcache entry lock overflow",
                  wl["text"])
    wl["bug"] = m.group(0) if m else ""
    wls.append(wl)


def row(label, values):
    print(("   %-30s %-22s %s" % (label, *[str(v) for v in values]))
          .rstrip())


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
row("launch/teardown checks", ["PASS" if r.get("pass") else "FAIL"
                               for r in runs])
print("   -- guest AHCI workload (same image, same seed)")
for ph in ("init", "read-dma-ext", "ncq-mixed", "overlap", "image"):
    row("phase " + ph, [w["phases"].get(ph, "not run") for w in wls])
row("I/Os completed", [w.get("ios", "-") for w in wls])
row("bytes read / written", ["%s / %s" % (w.get("bytes_read", "-"),
                                          w.get("bytes_written", "-"))
                             for w in wls])
row("bytes verified", [w.get("verified", "-") for w in wls])
row("NCQ commands in flight, max", [w.get("max_inflight", "-")
                                    for w in wls])
row("overlap pattern held", [w.get("overlap", "-") for w in wls])
row("errors", [w.get("errors", "-") for w in wls])
row("hv ioreqs MMIO / PIO / PCI cfg", [
    "%s / %s / %s" % (w.get("ioreq_copy", "-"), w.get("ioreq_pio", "-"),
                      w.get("ioreq_pci_config", "-")) for w in wls])
row("hv foreign maps / unmaps", [
    "%s / %s" % (w.get("fmem_maps", "-"), w.get("fmem_unmaps", "-"))
    for w in wls])
row("hv pages mapped", [w.get("fmem_map_pages", "-") for w in wls])
row("hv MSIs", [w.get("msis", "-") for w in wls])
row("hv DM bugs / ioreq timeouts", [
    "%s / %s" % (w.get("dm_bugs", "-"), w.get("ioreq_timeouts", "-"))
    for w in wls])
print("   -- map cache (query-xen-mapcache; 7.2 has no such command)")
row("entries / locked at the end", [
    "%s / %s" % (w["entries"], w["locked"]) if "entries" in w else "-"
    for w in wls])
row("hits / misses / evictions", [
    "%s / %s / %s" % (w["hits"], w["misses"], w["evictions"])
    if "hits" in w else "-" for w in wls])
row("reverse lookups / failures", [
    "%s / %s" % (w["reverse_lookups"], w["failures"])
    if "reverse_lookups" in w else "-" for w in wls])
row("bytes mapped / cap", [
    "%s / %s" % (w["bytes_mapped"], w["max_bytes"])
    if "bytes_mapped" in w else "-" for w in wls])
row("device model", ["died: " + w["bug"] if w["bug"] else
                     "died" if "qemu-alive: no" in w["text"] else "alive"
                     for w in wls])
verdict = []
status = 0
for i, w in enumerate(wls):
    if w["rc"] == 0:
        verdict.append("PASS")
    elif i == 1 and w["bug"]:
        verdict.append("FAIL: known 7.2 bug")
    else:
        verdict.append("FAIL")
        status = 1
row("workload result", verdict)
if wls[1]["bug"]:
    print("   stock QEMU 7.2 died of its map cache's duplicate-entry bug "
          "(\"%s\"):" % wls[1]["bug"])
    print("   an unlocked lookup remapped the cached 2 MiB entry of the "
          "index to 1 MiB")
    print("   next to a locked 1 MiB one; the reverse lookup or unlock "
          "then hit the wrong entry.")
sys.exit(status)
PY
    status=1
fi

echo "== series on $(cat "$BASE_REPO/base-version"):"
git -C "$SERIES_REPO" log --reverse --format='   %s' base..series
echo "== patches: $(ls "$TOP"/series-out/*.patch 2>/dev/null | wc -l)" \
     "files in series-out/"
exit $status
