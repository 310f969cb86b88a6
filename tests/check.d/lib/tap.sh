# SPDX-License-Identifier: GPL-2.0-or-later
# TAP output for the test suites (sourced by every suite; check.sh reads it).
#
# A suite prints exactly one plan and one result line per test:
#   tap_plan N            "1..N" first, when the suite knows its count
#   tap_end               "1..n" last, when it knows it only at the end
#                         (a suite that dies before tap_end has no plan,
#                         and check.sh fails it)
#   tap STATUS DESC       ok when STATUS is 0, else not ok
#   tap_ok DESC / tap_notok DESC / tap_skip DESC REASON
#   tap_diag FILE         FILE's lines as "# " diagnostics
#   tap_relay PREFIX [NAME]
#                         re-emit the TAP of a test program read on stdin
#                         (a redirection, not a pipe: it counts in this shell):
#                         its results renumbered and named "PREFIX: ..."
#                         (PREFIX empty: named as they are; NAME, default
#                         PREFIX, names the program in lines of its own),
#                         its plan checked, not passed on; a program that
#                         stops short of its plan, or prints none, adds a
#                         "not ok" saying how many results are missing.
#                         Returns non-zero if it added such a line.
#   tap_run PREFIX CMD... run CMD, tap_relay its stdout (stderr becomes
#                         diagnostics; with PREFIX empty CMD's script is the
#                         NAME); a non-zero exit that no "not ok"
#                         explains adds one.  Returns CMD's status.
#   tap_e2e SCRIPT ARG... an xensim end-to-end script (tap_run, after
#                         tap_need of what it runs): python3 SCRIPT
#                         BUILD/xensim ours=OUR-QEMU [stock=STOCK] ARG...,
#                         stock when Debian's is installed.  Returns its
#                         status, 1 when something is not built.
#   tap_xl_ready N WHAT   whether Debian's xl can run here (N SKIPs if not)
#   tap_xl [-t SECONDS] DM LABEL WANT SCRIPT ARG...
#                         a tests/xensim/xl script with device model DM,
#                         its results relayed (both: see below)
# Results are numbered by the suite (tap_n).  Other output should be "# "
# diagnostics; check.sh passes it through and counts only result lines.

tap_n=0

tap_plan() { echo "1..$1"; }
tap_end() { echo "1..$tap_n"; }

tap_ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1"; }
tap_notok() { tap_n=$((tap_n + 1)); echo "not ok $tap_n - $1"; }
tap_skip() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1 # SKIP $2"; }
tap() {
    if [ "$1" = 0 ]; then tap_ok "$2"; else tap_notok "$2"; fi
}
tap_diag() { sed 's/^/# /' "$1"; }

tap_relay() {
    local prefix=$1 who=${2:-${1:-the relayed program}} line plan="" got=0
    local status desc
    while IFS= read -r line; do
        if [[ $line =~ ^1\.\.([0-9]+) ]]; then
            plan=${BASH_REMATCH[1]}
        elif [[ $line =~ ^(not\ ok|ok)(\ [0-9]+)?(\ -)?(\ (.*))?$ ]]; then
            status=${BASH_REMATCH[1]} desc=${BASH_REMATCH[5]}
            got=$((got + 1))
            tap_n=$((tap_n + 1))
            echo "$status $tap_n - ${prefix:+$prefix: }$desc"
        elif [[ $line == "#"* ]]; then
            echo "$line"
        else
            echo "# $line"
        fi
    done
    if [ -z "$plan" ]; then
        tap_notok "$who: no TAP plan ($got results)"
        return 1
    fi
    if [ "$got" -lt "$plan" ]; then
        tap_notok "$who: stopped after $got of $plan results ($((plan - got)) missing)"
        return 1
    fi
    if [ "$got" -gt "$plan" ]; then
        tap_notok "$who: $got results, its plan says $plan"
        return 1
    fi
    return 0
}

tap_run() {
    local prefix=$1 who=$1 tmp rc
    shift
    if [ -z "$who" ]; then      # name the program, not its interpreter
        who=$(basename "$1")
        case $who in
        python3 | bash | timeout) who=$(basename "${2:-$1}") ;;
        esac
    fi
    tmp=$(mktemp)
    "$@" >"$tmp" 2>"$tmp.err"
    rc=$?
    tap_diag "$tmp.err"
    tap_relay "$prefix" "$who" <"$tmp" >"$tmp.tap"
    cat "$tmp.tap"
    if [ "$rc" != 0 ] && ! grep -q '^not ok' "$tmp.tap"; then
        tap_notok "$who: exited with status $rc"
    fi
    rm -f "$tmp" "$tmp.err" "$tmp.tap"
    return $rc
}

# tap_need FILE...: every file exists (built by make build); otherwise one
# "not ok" naming the missing ones, and non-zero.
tap_need() {
    local f missing=()
    for f in "$@"; do
        [ -e "$f" ] || missing+=("$f")
    done
    [ ${#missing[@]} = 0 ] && return 0
    tap_notok "built by make build: ${missing[*]} missing"
    return 1
}

# tap_e2e SCRIPT ARG...: see the top.  The script states its plan at its
# end, so a run cut short misses it.
tap_e2e() {
    local script=$1 sim=$BUILD/xensim ours=$BUILD/qemu-system-x86_64
    local stock=/usr/libexec/xen-qemu-system-i386 args
    shift
    tap_need "$sim/xensim-hv" "$sim/run" "$ours" || return 1
    args=("ours=$ours")
    [ -x "$stock" ] && args+=("stock=$stock")
    tap_run "" python3 "$script" "$sim" "${args[@]}" "$@"
}

# The suites that drive Debian's real xl under xensim (36, 37).
#
# tap_xl_ready N WHAT: where xl cannot run (not root, no unshare, no
# xen-utils-4.17) N SKIPs named WHAT and non-zero, for the suite to
# exit 0; else one result, that xensim's side of the toolstack is built
# (a "not ok" naming what is missing), and 0.
tap_xl_ready() {
    local n=$1 what=$2 sim=$BUILD/xensim
    if [ ! -x /usr/lib/xen-4.17/bin/xl ] || ! command -v unshare >/dev/null ||
       [ "$(id -u)" != 0 ]; then
        for _ in $(seq "$n"); do
            tap_skip "$what" "needs root, unshare and xen-utils-4.17 (mk/deps.sh)"
        done
        return 1
    fi
    # make build builds them (tests/xensim's all: hv, shim, xenstored).
    tap_need "$sim/xensim-hv" "$sim/shim/libxensim-devxen.so" \
        "$sim/xenstored" && tap_ok "xensim-hv, the devxen shim and xenstored built"
    return 0
}

# tap_xl [-t SECONDS] DM LABEL WANT SCRIPT ARG...: run
# tests/xensim/xl/SCRIPT (default at most 300 s) with device model DM
# (ours: BUILD/qemu-system-x86_64, stock: Debian's) and ARG...  The
# script prints unnumbered "ok - ..." / "not ok - ..." lines and no plan:
# each becomes a result named "DM, LABEL: ..." ("DM: ..." when LABEL is
# empty), any other line of its stdout or stderr is passed on as it is,
# and each of the WANT results it did not print is a "not ok ... check K
# of WANT did not run".
tap_xl() {
    local secs=300 dm bin prefix want script seen=0 line
    if [ "$1" = -t ]; then
        secs=$2
        shift 2
    fi
    dm=$1 prefix=$1${2:+, $2} want=$3 script=$4
    shift 4
    case $dm in
    ours) bin=$BUILD/qemu-system-x86_64 ;;
    stock) bin=/usr/libexec/xen-qemu-system-i386 ;;
    esac
    echo "# $prefix: $script, device_model_override = $bin"
    while IFS= read -r line; do
        if [[ $line =~ ^(not\ )?ok\ -\ (.*)$ ]]; then
            seen=$((seen + 1))
            if [ -n "${BASH_REMATCH[1]}" ]; then
                tap_notok "$prefix: ${BASH_REMATCH[2]}"
            else
                tap_ok "$prefix: ${BASH_REMATCH[2]}"
            fi
        else
            echo "$line"
        fi
    done < <(timeout "$secs" python3 "$TOP/tests/xensim/xl/$script" \
                 --xensim "$BUILD/xensim" --dm "$bin" "$@" 2>&1)
    while [ "$seen" -lt "$want" ]; do
        seen=$((seen + 1))
        tap_notok "$prefix: check $seen of $want did not run"
    done
}
