#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# xensim ABI contract: the replacement libraries in $1 (build/xensim/lib)
# export exactly the versioned symbols of Debian's Xen 4.17 libraries
# (libxenctrl: every symbol the given QEMU binaries import, at
# VERS_4.17.0), under the same sonames and version-node chains.  QEMU is
# linked BIND_NOW: anything less fails at load time.  TAP on stdout.
# usage: abi-check.sh LIBDIR QEMU...
set -uo pipefail
libdir=$1
shift
sysdir=/usr/lib/x86_64-linux-gnu
n=0 rc=0
tap() {
    n=$((n + 1))
    if [ "$1" = 0 ]; then
        echo "ok $n - $2"
    else
        echo "not ok $n - $2"
        rc=1
    fi
}
# "node symbol" for every symbol a library defines under a version node.
exports() {
    objdump -T "$1" | awk 'NF >= 2 && $0 !~ /\*UND\*/ && $(NF-1) ~ /^VERS_/ {
        print $(NF-1), $NF }' | sort
}
# The version-definition chain: "node<-parent ...".
nodes() {
    readelf -V "$1" | awk '/Version definition/ { on = 1 }
        /Version needs/ { on = 0 }
        on && /Name:/ && !/Flags: BASE/ { if (name) print name "<-" parent;
                                          name = $NF; parent = "" }
        on && /Parent 1:/ { parent = $NF }
        END { if (name) print name "<-" parent }' | grep '^VERS_'
}
for lib in libxenforeignmemory.so.1 libxendevicemodel.so.1 \
           libxenevtchn.so.1 libxengnttab.so.1; do
    diff <(exports "$sysdir/$lib") <(exports "$libdir/$lib") >/dev/null
    tap $? "$lib exports Debian's symbols under the same version nodes"
    diff <(nodes "$sysdir/$lib") <(nodes "$libdir/$lib") >/dev/null
    tap $? "$lib has Debian's version-node chain"
    soname=$(readelf -d "$libdir/$lib" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
    [ "$soname" = "$lib" ]
    tap $? "$lib soname"
done
for qemu in "$@"; do
    if [ ! -x "$qemu" ]; then
        echo "ok $((n += 1)) - # SKIP $qemu not built"
        continue
    fi
    imports=$(objdump -T "$qemu" |
        awk 'NF >= 2 && /\*UND\*/ && $(NF-1) == "(VERS_4.17.0)" { print $NF }')
    missing=$(for sym in $imports; do
        exports "$libdir/libxenctrl.so.4.17" |
            grep -qx "VERS_4.17.0 $sym" || echo "$sym"
    done)
    [ -n "$imports" ] && [ -z "$missing" ]
    tap $? "libxenctrl.so.4.17 has all $(echo $imports | wc -w) VERS_4.17.0 \
symbols $(basename "$qemu") imports${missing:+ (missing: $missing)}"
    # BIND_NOW: the loader resolves every import before main() runs.
    LD_LIBRARY_PATH=$libdir "$qemu" -version >/dev/null 2>&1
    tap $? "$(basename "$qemu") loads the replacement libraries"
done
echo "1..$n"
exit $rc
