#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# AHCI NCQ read benchmark (make bench): the guest workload of
# tests/xensim/workload on xensim, against our QEMU and Debian's stock one
# in the same run.  Sequential (128 KiB as 32 scattered 4 KiB pages) and
# random (4 KiB) NCQ reads at depth 1 and 32 into a 64 MiB guest page
# cache, and random 4 KiB reads at depth 32 into odd addresses around one
# guest index, half across a 1 MiB border ("cross": the map cache keeps
# 2 MiB and 1 MiB mappings of one index alive together); every byte
# verified (untimed).  Three device models: ours as libxl starts it (its
# drive uses io_uring when the host allows it), ours with
# "-accel xen,aio-default=threads" (QEMU's thread pool, as before), and
# stock.  All stay up for the whole run and the measurements rotate
# between them, round after round, so load from anything else on the
# machine hits them alike; the table shows medians over the rounds, and
# which engine each drive used (io_uring when QEMU's io_uring ring posted
# at least one completion per I/O of the measurement, from
# /proc/PID/fdinfo; threads when it posted none).  MB/s and I/Os per second: higher is better;
# the device model's CPU time per I/O (user + system, all its threads,
# from /proc: steadier than wall time on a loaded host), ioreqs and
# foreign maps per I/O (from the hv counters): lower is better.
# Settings: AHCI_BENCH_SECS per measurement (1.5), AHCI_BENCH_ROUNDS (3).
. "$(cd "$(dirname "$0")/../.." && pwd)/mk/common.sh"
set +e
. "$TOP/bench/lib.sh"

secs=${AHCI_BENCH_SECS:-1.5}
rounds=${AHCI_BENCH_ROUNDS:-3}
configs="seq:1 seq:32 rand:1 rand:32 cross:32"
mem=512 img_mib=256

bench_workload_setup ahci
whos="uring threads stock"
declare -A bin=([uring]=$ours [threads]=$ours [stock]=$stock)
declare -A args=([threads]="-accel xen,aio-default=threads")

# One image per device model (QEMU locks its image), same contents.
"$sim/ahci-workload" --mkimage "$work/uring.img" $img_mib || exit 1
cp "$work/uring.img" "$work/threads.img"
cp "$work/uring.img" "$work/stock.img"

domid=11
declare -A pid
for who in $whos; do
    # shellcheck disable=SC2086
    if ! "$sim/run" --keep --domid $domid --memory $mem --vcpus 2 \
            --disk "$work/$who.img" --hdtype ahci -- "${bin[$who]}" \
            ${args[$who]:-} > "$work/$who.env" 2> "$work/$who.launch"; then
        cat "$work/$who.launch"
        die "cannot start ${bin[$who]} on xensim"
    fi
    stops+=("$( (. "$work/$who.env"; echo "$XENSIM_STOP") )")
    pid[$who]=$( (. "$work/$who.env"; echo "$XENSIM_QEMU_PID") )
    domid=$((domid + 1))
done

# ring_completions PID: completions posted by QEMU's io_uring rings.
ring_completions() {
    local fd cq=0 t
    for fd in /proc/"$1"/fd/*; do
        [ "$(readlink "$fd" 2>/dev/null)" = "anon_inode:[io_uring]" ] ||
            continue
        t=$(awk '$1 == "CqTail:" { print $2 }' \
                /proc/"$1"/fdinfo/"${fd##*/}" 2>/dev/null)
        cq=$((cq + ${t:-0}))
    done
    echo $cq
}

# workload WHO SET SEED: one measurement, its "bench" lines, each with
# the engine its I/Os went through.
workload() {
    local cq0 cq1
    cq0=$(ring_completions "${pid[$1]}")
    ( set -a; . "$work/$1.env"; set +a
      exec "$sim/ahci-workload" --disk "$work/$1.img" --irq intx \
          --seed "$3" --bench "$secs" --bench-set "$2" ) > "$work/out" 2>&1
    local rc=$?
    if [ $rc != 0 ]; then
        sed 's/^/   /' "$work/out"
        die "$1: workload failed (exit $rc)"
    fi
    cq1=$(ring_completions "${pid[$1]}")
    sed -n "s/^bench /$1 /p" "$work/out" |
        awk -v cq=$((cq1 - cq0)) '{
            ios = 0
            for (i = 3; i <= NF; i++)
                if ($i ~ /^ios=/) ios = substr($i, 5) + 0
            eng = cq == 0 ? "threads" : (cq >= ios ? "io_uring" : "mixed")
            print $0 " engine=" eng }'
}

echo "   ($rounds rounds x 5 configurations x 3 device models," \
     "$secs s each; this takes about $(python3 -c \
     "print(round($rounds * 15 * ($secs + 1.2) + 15))") s)"
for who in $whos; do
    workload $who warmup 1 >> "$work/results"
done
for r in $(seq 1 "$rounds"); do
    for c in $configs; do
        # Rotate who goes first.
        case $((r % 3)) in
        1) order="uring threads stock" ;;
        2) order="stock uring threads" ;;
        0) order="threads stock uring" ;;
        esac
        for who in $order; do
            workload "$who" "$c" "$r" >> "$work/results"
        done
    done
done

python3 - "$work/results" "$secs" "$rounds" "$mem" "$img_mib" <<'EOF'
import statistics
import sys

path, secs, rounds, mem, img = sys.argv[1:]
whos = ("stock", "threads", "uring")
runs = {}
warm = {}
engines = {}
for line in open(path):
    w = line.split()
    who, name = w[0], w[1]
    kv = dict(x.split("=", 1) for x in w[2:])
    if name == "warm-up":
        warm[who] = kv
        continue
    key = "%s d%s" % (name, kv["depth"])
    runs.setdefault(key, {}).setdefault(who, []).append(kv)
    engines.setdefault(who, set()).add(kv.get("engine", "?"))


def med(key, who, field):
    vals = [float(kv[field]) for kv in runs[key].get(who, [])]
    return statistics.median(vals) if vals else float("nan")


def ratio(a, b):
    return "%8.2f" % (a / b) if b else "%8s" % "-"


print("%-32s %10s %10s %10s %8s %8s %8s" % (
    "measurement (median of %s)" % rounds, "stock 7.2", "ours thr",
    "ours uring", "thr/stk", "urg/stk", "urg/thr"))
print("%-32s %10s %10s %10s" % (("engine of the drive",) + tuple(
    "/".join(sorted(engines.get(w, {"-"}))) for w in whos)))
for key in runs:
    for field, label, fmt in (("mbps", "MB/s", "%10.2f"),
                              ("iops", "I/Os per second", "%10.0f"),
                              ("dm_cpu_us_per_io", "QEMU CPU us per I/O",
                               "%10.1f"),
                              ("ioreqs_per_io", "ioreqs per I/O", "%10.2f"),
                              ("maps_per_io", "foreign maps per I/O",
                               "%10.3f")):
        s, t, u = (med(key, w, field) for w in whos)
        print("%-32s " % ("%s %s" % (key, label)) +
              " ".join(fmt % v for v in (s, t, u)) + " " +
              ratio(t, s) + " " + ratio(u, s) + " " + ratio(u, t))
for field, label in (("maps", "warm-up: foreign maps"),
                     ("map_pages", "warm-up: pages mapped"),
                     ("unmaps", "warm-up: foreign unmaps")):
    s, t, u = (float(warm.get(w, {}).get(field, "nan")) for w in whos)
    print("%-32s %10.0f %10.0f %10.0f %s %s %s" % (
        label, s, t, u, ratio(t, s), ratio(u, s), ratio(u, t)))
EOF
echo "   command: bench/ahci/run.sh (AHCI_BENCH_SECS=$secs" \
     "AHCI_BENCH_ROUNDS=$rounds), i.e. per device model"
echo "     $sim/run --keep --domid N --memory $mem --vcpus 2" \
     "--disk IMG --hdtype ahci -- BINARY"
echo "   then, alternating, per round and configuration"
echo "     $sim/ahci-workload --disk IMG --irq intx --seed ROUND" \
     "--bench $secs --bench-set {warmup|seq:1|seq:32|rand:1|rand:32|cross:32}"
echo "   IMG: ahci-workload --mkimage IMG $img_mib (raw, patterned);" \
     "BINARY: $ours (ours uring) |" \
     "$ours -accel xen,aio-default=threads (ours thr) | $stock"
