#!/bin/bash
# QEMU's own qtests (and ours, xen-dma-test) through the xensim qtest
# bridge: QTEST_QEMU_BINARY=build/xensim/qemu-system-x86_64 runs each
# libqtest test unchanged against a device model under -accel xen, once
# with our QEMU and once with Debian's stock xen-qemu-system-i386.
#
# First the bridge itself against a hand-played libqtest (peer.py).  Then
# each test binary, rerun past the case it died in (see run_test), so one
# failing case does not hide the others.  A case that fails for a known
# reason outside the bridge is reported as "ok ... # SKIP reason" (the
# KNOWN tables below, mirrored in tests/xensim/README-bridge.md); any
# other failure is "not ok".  Names are "<ours|stock>: <test> <case>".
set -uo pipefail
: "${TOP:?}" "${BUILD:?}"
out=$BUILD/xensim
stock=/usr/libexec/xen-qemu-system-i386
. "$(dirname "$0")/lib/tap.sh"
ok() { tap_ok "$@"; }
notok() { tap_notok "$@"; }
skip() { tap_skip "$@"; }

# Failures whose cause lies outside the bridge, by "binary test case"
# glob: a failing case reports SKIP with the reason, a passing one "ok".
declare -A KNOWN=(
  [stock" q35-test "*]="stock QEMU 7.2 has no Xen branch in pc_q35_init: -M q35 -accel xen dies in machine init (SIGSEGV)"
  [stock" ahci-test "*]="ahci-test runs on q35, which stock QEMU 7.2 cannot start under -accel xen (SIGSEGV in machine init)"
  [ours" q35-test /x86_64/q35/tseg-size/1mb"]="TSEG: under Xen guest RAM is Xen's p2m and Xen HVM guests have no SMM; QEMU's TSEG blackhole cannot hide RAM from the guest"
  [ours" q35-test /x86_64/q35/tseg-size/2mb"]="TSEG: under Xen guest RAM is Xen's p2m and Xen HVM guests have no SMM; QEMU's TSEG blackhole cannot hide RAM from the guest"
  [ours" q35-test /x86_64/q35/tseg-size/8mb"]="TSEG: under Xen guest RAM is Xen's p2m and Xen HVM guests have no SMM; QEMU's TSEG blackhole cannot hide RAM from the guest"
  [ours" q35-test /x86_64/q35/tseg-size/ext/16mb"]="TSEG: under Xen guest RAM is Xen's p2m and Xen HVM guests have no SMM; QEMU's TSEG blackhole cannot hide RAM from the guest"
  [ours" q35-test /x86_64/q35/smram/smbase_lock"]="SMBASE: under Xen the RAM at 0x30000 is Xen's p2m and Xen HVM guests have no SMM; QEMU's SMRAM-at-SMBASE window cannot hide it"
  [ours" ahci-test /x86_64/ahci/io/dma/lba28/retry"]="rerror=stop: QEMU 7.2 sends RESUME before its vm-state handlers re-enable the Xen ioreq server, and a stopped QEMU disables it, so a status read racing the stop or the resume gets Xen's all-ones (timing-dependent)"
  [ours" ahci-test /x86_64/ahci/io/ncq/retry"]="rerror=stop: QEMU 7.2 sends RESUME before its vm-state handlers re-enable the Xen ioreq server, and a stopped QEMU disables it, so a status read racing the stop or the resume gets Xen's all-ones (timing-dependent)"
  [ours" ahci-test /x86_64/ahci/flush/retry"]="rerror=stop: QEMU 7.2 sends RESUME before its vm-state handlers re-enable the Xen ioreq server, and a stopped QEMU disables it, so a status read racing the stop or the resume gets Xen's all-ones (timing-dependent)"
  [ours" ahci-test /x86_64/ahci/flush/migrate"]="migration: under Xen the toolstack moves guest RAM and keeps the target domain paused; a device model started with -incoming serves no ioreqs before the stream is in (the test probes it first)"
  [ours" ahci-test /x86_64/ahci/migrate/sanity"]="migration: under Xen the toolstack moves guest RAM and keeps the target domain paused; a device model started with -incoming serves no ioreqs before the stream is in (the test probes it first)"
  [ours" ahci-test /x86_64/ahci/migrate/dma/simple"]="migration: under Xen the toolstack moves guest RAM and keeps the target domain paused; a device model started with -incoming serves no ioreqs before the stream is in (the test probes it first)"
  [ours" ahci-test /x86_64/ahci/migrate/dma/halted"]="migration: under Xen the toolstack moves guest RAM and keeps the target domain paused; a device model started with -incoming serves no ioreqs before the stream is in (the test probes it first)"
  [ours" ahci-test /x86_64/ahci/migrate/ncq/simple"]="migration: under Xen the toolstack moves guest RAM and keeps the target domain paused; a device model started with -incoming serves no ioreqs before the stream is in (the test probes it first)"
  [ours" ahci-test /x86_64/ahci/migrate/ncq/halted"]="migration: under Xen the toolstack moves guest RAM and keeps the target domain paused; a device model started with -incoming serves no ioreqs before the stream is in (the test probes it first)"
  [*" i440fx-test /x86_64/i440fx/pam"]="PAM: under Xen the memory below 1 MiB is the guest's RAM in Xen's p2m; QEMU's PAM registers do not change what the guest reads"
  [*" i440fx-test /x86_64/i440fx/firmware/bios"]="-bios: under Xen firmware is hvmloader's job, QEMU does not place the BIOS blob in guest RAM"
  [*" i440fx-test /x86_64/i440fx/firmware/pflash"]="pc under -accel xen has no pflash ('machine type does not support if=pflash')"
  [stock" xen-platform-test /x86_64/xen-platform/blacklist"]="stock 7.2 ignores the driver build number: no /mh/driver-blacklist lookup, the magic never reads 0xd249"
  [stock" xen-platform-test /x86_64/xen-platform/pvdevice"]="stock 7.2 aborts on xen-pvdevice size=12288 (pci_register_bar asserts a power of two) instead of an Error"
  [stock" xen-platform-test /x86_64/xen-platform/apic-msi-window"]="stock 7.2 xen-apic injects the offset into the MSI window (0x2000), not the address (0xfee02000)"
  [stock" xen-platform-test /x86_64/xen-platform/unplug/nic-nvme"]="stock 7.2 leaves an unplugged NVMe controller's -drive in query-block"
  [stock" xen-platform-test /x86_64/xen-platform/unplug/nvme-xenfv"]="stock 7.2 cannot start -machine xenfv next to the bridge's -accel xen"
  [stock" xen-platform-test /x86_64/xen-platform/unplug/ahci-ncq"]="stock 7.2 never unplugs AHCI disks"
  [*" ide-test /x86_64/ide/flush/retry_pci"]="rerror=stop races the status read: a stopped QEMU disables its ioreq server, so Xen answers the read with all-ones"
)
# Failures recognised by what the log says, whatever the case: "binary"
# glob -> "extended regex|reason".
declare -A KNOWN_LOG=(
)
# Cases not run at all, with the reason.
declare -A NORUN=(
  [*" rtl8139-test /x86_64/rtl8139/timer"]="waits for 3 wraps of a 33 MHz counter: ~400 s of real time under Xen"
)
# lookup TABLE BINARY TEST CASE: the reason for the first matching glob
# (TABLE KNOWN_PAT: the glob itself, from KNOWN).
lookup() {
    local key="$2 $3 $4" pat tname=$1
    [ "$tname" = KNOWN_PAT ] && tname=KNOWN
    local -n table=$tname
    for pat in "${!table[@]}"; do
        # shellcheck disable=SC2053
        if [[ $key == $pat ]]; then
            if [ "$1" = KNOWN_PAT ]; then
                echo "$pat"
            else
                echo "${table[$pat]}"
            fi
            return 0
        fi
    done
    return 1
}
log_reason() {
    local pat
    for pat in "${!KNOWN_LOG[@]}"; do
        # shellcheck disable=SC2053
        if [[ $1 == $pat ]] && grep -qE "${KNOWN_LOG[$pat]%%|*}" <<<"$2"
        then
            echo "${KNOWN_LOG[$pat]#*|}"
            return 0
        fi
    done
    return 1
}

tap_need "$out/qemu-system-x86_64" "$out/xensim-hv" "$out/xenstored" \
    "$out/lib/libxenctrl.so.4.17" || { tap_end; exit 1; }

tests=${BRIDGE_QTESTS:-$(make -s -C "$TOP" print-qtests)}
scratch=$(mktemp -d /tmp/xensim-bridge-check.XXXXXX)
# Other engineers rebuild build/ while this runs for minutes: test a
# snapshot, hard links taken under the build lock (a relink replaces the
# file, the link keeps the old one).  QEMU finds its firmware through
# qemu-bundle/ next to the binary.
snap=$(mktemp -d "$BUILD/.bridge-check.XXXXXX")
trap 'rm -rf "$scratch" "$snap"' EXIT
if ! flock "$BUILD/.lock" bash -c '
        set -e
        cp -al "$1/xensim" "$2/xensim"
        ln "$1/qemu/qemu-system-x86_64" "$2/qemu-system-x86_64"
        ln -s "$1/qemu/qemu-bundle" "$2/qemu-bundle"
        mkdir "$2/qtest"
        for t in $3; do
            if [ -x "$1/qemu/tests/qtest/$t" ]; then
                ln "$1/qemu/tests/qtest/$t" "$2/qtest/$t"
            fi
        done' - "$BUILD" "$snap" "$tests"; then
    notok "snapshot the build for the bridge tests"
    tap_end
    exit 1
fi
qt=$snap/qtest
export QTEST_QEMU_BINARY=$snap/xensim/qemu-system-x86_64
export QTEST_QEMU_IMG=$BUILD/qemu-img

# Run one test binary: all its cases in one go (some share one QEMU and
# depend on order); when it dies, record the case it died in as failed
# and run again without the cases already decided, until all are.
run_test() {
    local tag=$1 t=$2 c line path rc next reason log=$scratch/log.$1
    local -a cases skips
    local -A res=() why=()
    mapfile -t cases < <("$qt/$t" -l 2>/dev/null | grep '^/')
    for c in "${cases[@]}"; do
        if reason=$(lookup NORUN "$tag" "$t" "$c"); then
            res[$c]=norun why[$c]=$reason
        fi
    done
    while :; do
        skips=()
        for c in "${!res[@]}"; do
            skips+=(-s "$c")
        done
        { timeout 300 "$qt/$t" --tap "${skips[@]}" >"$log" 2>&1; } 2>/dev/null
        rc=$?
        while read -r line; do
            [[ $line =~ ^(not\ )?ok\ [0-9]+\ (/[^ ]*)(.*)$ ]] || continue
            path=${BASH_REMATCH[2]}
            [ -n "${res[$path]:-}" ] && continue
            if [ -n "${BASH_REMATCH[1]}" ]; then
                res[$path]=fail why[$path]=$(tail -8 "$log")
            elif [[ ${BASH_REMATCH[3]} == *"# SKIP"* ]]; then
                res[$path]=skip why[$path]=${BASH_REMATCH[3]#*# SKIP }
            else
                res[$path]=ok
            fi
        done < "$log"
        next=
        for c in "${cases[@]}"; do
            if [ -z "${res[$c]:-}" ]; then
                next=$c
                break
            fi
        done
        [ -z "$next" ] && break
        res[$next]=fail
        why[$next]="(exit $rc) $(grep -vE \
            '^# (starting QEMU|Start of|End of)|SKIP by request' "$log" \
            | tail -8)"
        # A whole test known to fail (its machine does not start): one
        # failed case is enough, the others would fail the same way.
        reason=$(lookup KNOWN_PAT "$tag" "$t" "$next")
        if [[ $reason == "*\" $t \"*" || $reason == "$tag\" $t \"*" ]]; then
            for c in "${cases[@]}"; do
                if [ -z "${res[$c]:-}" ]; then
                    res[$c]=fail why[$c]="as $next"
                fi
            done
        fi
    done
    for c in "${cases[@]}"; do
        local name="$t $c"
        case ${res[$c]} in
        ok) ok "$name" ;;
        skip) skip "$name" "${why[$c]}" ;;
        norun) skip "$name" "not run: ${why[$c]}" ;;
        fail)
            if reason=$(lookup KNOWN "$tag" "$t" "$c"); then
                skip "$name" "known: $reason"
            elif reason=$(log_reason "$tag" "${why[$c]}"); then
                skip "$name" "known: $reason"
            else
                notok "$name"
                printf '%s\n' "${why[$c]}" | sed 's/^/#   /'
            fi
            ;;
        esac
    done
}

run_binary() {
    local tag=$1 t
    export XENSIM_QEMU=$2
    for t in $tests; do
        if [ -x "$qt/$t" ]; then
            run_test "$tag" "$t"
        else
            notok "$t: not built"
        fi
    done
}

# The bridge itself against a hand-played libqtest: hostile commands,
# Xen's answers, teardown (tests/xensim/bridge/tests/peer.py).
peer() {
    tap_run bridge timeout 300 python3 \
        "$TOP/tests/xensim/bridge/tests/peer.py" "$QTEST_QEMU_BINARY" "$2"
}

# Ours and stock side by side (each run is a chain of round trips, not
# CPU work), each a TAP stream with its own plan at its end; then both
# relayed in order, so a run cut short shows as results missing.
check_binary() {
    peer "$1" "$2"
    run_binary "$1" "$2"
    tap_end
}
check_binary ours "$snap/qemu-system-x86_64" >"$scratch/ours.tap" 2>&1 &
if [ -x "$stock" ]; then
    check_binary stock "$stock" >"$scratch/stock.tap" 2>&1 &
else
    { skip "stock device model" "$stock not installed"; tap_end; } \
        >"$scratch/stock.tap"
fi
wait
tap_relay ours <"$scratch/ours.tap"
tap_relay stock <"$scratch/stock.tap"
tap_end
