# SPDX-License-Identifier: GPL-2.0-or-later
# Shared set-up of the xensim benchmarks (bench/*/run.sh), sourced after
# mk/common.sh.  It sets
#   sim    the xensim build ($BUILD/xensim)
#   ours   our QEMU ($BUILD/qemu-system-x86_64)
#   stock  Debian's stock QEMU
# bench_need_xensim leaves quietly (exit 0) when xensim is not built.
# bench_workload_setup TAG (bench/ahci, bench/q35) does that, builds the
# guest workload (ahci-workload), checks that both QEMUs exist, and makes
# a scratch directory $work (/tmp/bench-TAG.*).  Each device model such a
# benchmark starts appends its XENSIM_STOP command to the array stops; on
# exit every one of them runs, then $work goes.

sim=$BUILD/xensim
ours=$BUILD/qemu-system-x86_64
stock=/usr/libexec/xen-qemu-system-i386

bench_cleanup() {
    local s
    for s in "${stops[@]}"; do
        $s >/dev/null 2>&1
    done
    rm -rf "$work"
}

bench_need_xensim() {
    if [ ! -x "$sim/xensim-hv" ] || [ ! -x "$sim/run" ]; then
        echo "xensim not built: run make build"
        exit 0
    fi
}

bench_workload_setup() {
    local b

    bench_need_xensim
    make --no-print-directory -s -C "$TOP/tests/xensim/workload" O="$sim" \
        >/dev/null || die "cannot build ahci-workload"
    for b in "$ours" "$stock"; do
        [ -x "$b" ] || die "$b missing"
    done
    work=$(mktemp -d "/tmp/bench-$1.XXXXXX")
    stops=()
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}
