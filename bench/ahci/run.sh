#!/bin/bash
# AHCI NCQ read benchmark (make bench): the guest workload of
# tests/xensim/workload on xensim, against our QEMU and Debian's stock one
# in the same run.  Sequential (128 KiB as 32 scattered 4 KiB pages) and
# random (4 KiB) NCQ reads at depth 1 and 32 into a 64 MiB guest page
# cache, and random 4 KiB reads at depth 32 into odd addresses around one
# guest index, half across a 1 MiB border ("cross": the map cache keeps
# 2 MiB and 1 MiB mappings of one index alive together); every byte
# verified (untimed).  Both device models stay up for the whole run and
# the measurements alternate between them, round after round, so load
# from anything else on the machine hits both alike; the table shows
# medians over the rounds.  MB/s and I/Os per second: higher is better;
# the device model's CPU time per I/O (user + system, all its threads,
# from /proc: steadier than wall time on a loaded host), ioreqs and
# foreign maps per I/O (from the hv counters): lower is better.
# Settings: AHCI_BENCH_SECS per measurement (1.5), AHCI_BENCH_ROUNDS (3).
. "$(cd "$(dirname "$0")/../.." && pwd)/mk/common.sh"
set +e

sim=$BUILD/xensim
ours=$BUILD/qemu-system-x86_64
stock=/usr/libexec/xen-qemu-system-i386
secs=${AHCI_BENCH_SECS:-1.5}
rounds=${AHCI_BENCH_ROUNDS:-3}
configs="seq:1 seq:32 rand:1 rand:32 cross:32"
mem=512 img_mib=256

if [ ! -x "$sim/xensim-hv" ] || [ ! -x "$sim/run" ]; then
    echo "xensim not built: run make build"
    exit 0
fi
make --no-print-directory -s -C "$TOP/tests/xensim/workload" O="$sim" \
    >/dev/null || die "cannot build ahci-workload"
for b in "$ours" "$stock"; do
    [ -x "$b" ] || die "$b missing"
done

work=$(mktemp -d /tmp/bench-ahci.XXXXXX)
stops=()
cleanup() {
    local s
    for s in "${stops[@]}"; do
        $s >/dev/null 2>&1
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One image per device model (QEMU locks its image), same contents.
"$sim/ahci-workload" --mkimage "$work/ours.img" $img_mib || exit 1
cp "$work/ours.img" "$work/stock.img"

domid=11
for who in ours stock; do
    bin=${!who}
    if ! "$sim/run" --keep --domid $domid --memory $mem --vcpus 2 \
            --disk "$work/$who.img" --hdtype ahci -- "$bin" \
            > "$work/$who.env" 2> "$work/$who.launch"; then
        cat "$work/$who.launch"
        die "cannot start $bin on xensim"
    fi
    stops+=("$( (. "$work/$who.env"; echo "$XENSIM_STOP") )")
    domid=$((domid + 1))
done

# workload WHO SET SEED: one measurement, its "bench" lines.
workload() {
    ( set -a; . "$work/$1.env"; set +a
      exec "$sim/ahci-workload" --disk "$work/$1.img" --irq intx \
          --seed "$3" --bench "$secs" --bench-set "$2" ) > "$work/out" 2>&1
    local rc=$?
    if [ $rc != 0 ]; then
        sed 's/^/   /' "$work/out"
        die "$1: workload failed (exit $rc)"
    fi
    sed -n "s/^bench /$1 /p" "$work/out"
}

echo "   ($rounds rounds x 5 configurations x 2 device models," \
     "$secs s each; this takes about $(python3 -c \
     "print(round($rounds * 10 * ($secs + 1.2) + 10))") s)"
workload ours warmup 1 >> "$work/results"
workload stock warmup 1 >> "$work/results"
for r in $(seq 1 "$rounds"); do
    for c in $configs; do
        # Alternate who goes first.
        order="ours stock"
        [ $((r % 2)) = 0 ] && order="stock ours"
        for who in $order; do
            workload "$who" "$c" "$r" >> "$work/results"
        done
    done
done

python3 - "$work/results" "$secs" "$rounds" "$mem" "$img_mib" <<'EOF'
import statistics
import sys

path, secs, rounds, mem, img = sys.argv[1:]
runs = {}
warm = {}
for line in open(path):
    w = line.split()
    who, name = w[0], w[1]
    kv = dict(x.split("=", 1) for x in w[2:])
    if name == "warm-up":
        warm[who] = kv
        continue
    key = "%s d%s" % (name, kv["depth"])
    runs.setdefault(key, {}).setdefault(who, []).append(kv)


def med(key, who, field):
    vals = [float(kv[field]) for kv in runs[key].get(who, [])]
    return statistics.median(vals) if vals else float("nan")


print("%-34s %12s %12s %10s" % ("measurement (median of %s)" % rounds,
                                 "stock 7.2", "ours", "ours/stock"))
for key in runs:
    for field, label, fmt in (("mbps", "MB/s", "%12.2f"),
                              ("iops", "I/Os per second", "%12.0f"),
                              ("dm_cpu_us_per_io", "QEMU CPU us per I/O",
                               "%12.1f"),
                              ("ioreqs_per_io", "ioreqs per I/O", "%12.2f"),
                              ("maps_per_io", "foreign maps per I/O",
                               "%12.3f")):
        s, o = med(key, "stock", field), med(key, "ours", field)
        ratio = "%10.2f" % (o / s) if s else "%10s" % "-"
        print("%-34s " % ("%s %s" % (key, label)) + fmt % s + " " +
              fmt % o + " " + ratio)
for field, label in (("maps", "warm-up: foreign maps"),
                     ("map_pages", "warm-up: pages mapped"),
                     ("unmaps", "warm-up: foreign unmaps")):
    s = float(warm.get("stock", {}).get(field, "nan"))
    o = float(warm.get("ours", {}).get(field, "nan"))
    ratio = "%10.2f" % (o / s) if s else "%10s" % "-"
    print("%-34s %12.0f %12.0f %s" % (label, s, o, ratio))
EOF
echo "   command: bench/ahci/run.sh (AHCI_BENCH_SECS=$secs" \
     "AHCI_BENCH_ROUNDS=$rounds), i.e. per device model"
echo "     $sim/run --keep --domid N --memory $mem --vcpus 2" \
     "--disk IMG --hdtype ahci -- BINARY"
echo "   then, alternating, per round and configuration"
echo "     $sim/ahci-workload --disk IMG --irq intx --seed ROUND" \
     "--bench $secs --bench-set {warmup|seq:1|seq:32|rand:1|rand:32|cross:32}"
echo "   IMG: ahci-workload --mkimage IMG $img_mib (raw, patterned);" \
     "BINARY: $ours | $stock"
