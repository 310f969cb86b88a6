# SPDX-License-Identifier: GPL-2.0-or-later
# Compile and link extra programs exactly as the QEMU build does (sourced).
#
#   meson_cflags FILE   the compile flags meson uses for FILE (a path
#                       relative to the QEMU tree), minus -c/-o/dependency
#                       options, shell-quoted for eval
#   meson_link_args T   the LINK_ARGS ninja uses for target T (e.g.
#                       tests/unit/test-xen-mapcache)
# Both read $QBUILD (mk/common.sh), so `make build` must have run.

meson_cflags() {
    python3 - "$QBUILD/compile_commands.json" "$1" <<'EOP'
import json, shlex, sys
for c in json.load(open(sys.argv[1])):
    if c['file'].endswith(sys.argv[2]):
        args = shlex.split(c['command'])
        out, skip = [], False
        args = args[2:] if args[0].endswith('ccache') else args[1:]
        for a in args:
            if skip:
                skip = False
                continue
            if a in ('-o', '-c', '-MQ', '-MF'):
                skip = True
                continue
            if a == '-MD' or a.endswith('.c'):
                continue
            out.append(a)
        print(shlex.join(out))
        break
else:
    sys.exit('no compile command for ' + sys.argv[2])
EOP
}

meson_link_args() {
    local args
    args=$(sed -n "\\|^build $1:|,/^\$/s/^ LINK_ARGS = //p" "$QBUILD/build.ninja")
    [ -n "$args" ] || { echo "no link command for $1 in $QBUILD" >&2; return 1; }
    echo "$args"
}
