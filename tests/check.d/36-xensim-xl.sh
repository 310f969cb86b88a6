#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Debian's real toolstack under xensim (issue #16): xl 4.17 and libxl,
# unchanged, create an HVM guest on xensim-hv --toolstack and launch the
# device model themselves, once with our QEMU and once with Debian's
# stock one as device_model_override; tests/xensim/xl/xl-e2e.py checks
# the argv libxl built (/proc/PID/cmdline), the QMP handshake, the
# device-model state, xl cd-eject/cd-insert and pause/unpause, the vCPU
# player after unpause, that xl destroy leaves no device model, no
# background xl and no xenstore node behind, a second domain powered off
# by the guest (ACPI S5) and destroyed by xl's on_poweroff; xl migrate to
# this host (two domains at once, log-dirty of the guest's and the device
# model's writes, RAM, CMOS and disk across it); xl shutdown / reboot from
# the toolstack (no PV drivers: refused, or -F's ACPI triggers); a guest
# with hdtype = "ahci" and device_model_args_hvm; each once
# more with dm_restrict = 1 (chroot, -runas, QMP by fd).
# Then tests/xensim/xl/xl-restore-vram.py: a std VGA guest's framebuffer
# across xl save / xl restore (VRAM at its BAR, the physmap, QEMU's
# mapping of VRAM after -incoming, a disk DMA into the framebuffer), on
# ours, on stock (failures recorded as SKIPs), and on the map cache
# mutant that rewrites a replaced entry's guest index (issue #15 defect
# 1, `make mutants`), which must fail it.
set -uo pipefail
: "${TOP:?}" "${BUILD:?}"
. "$(dirname "$0")/lib/tap.sh"
out=$BUILD/xensim
# checks per run: plain, dm_restrict = 1 (one more)
plain=33
restrict=34
total=$((1 + 2 * (plain + restrict)))
# the launcher's argv against real libxl's, five xl.cfg files (argv_cases)
argv_checks=10
total=$((total + argv_checks))
# the framebuffer across save/restore: ours, stock (tap_xl ... VRAM), the mutant
vram=11         # checks of xl-restore-vram.py
total=$((total + 2 * vram + 1))
tap_plan $total
ok() { tap_ok "$@"; }
notok() { tap_notok "$@"; }

tap_xl_ready $total "xl end to end" || exit 0

for dm in ours stock; do
    tap_xl $dm plain $plain xl-e2e.py
    tap_xl $dm dm_restrict $restrict xl-e2e.py --dm-restrict
done

# build/xensim/run (the launcher) must build the argv real libxl builds
# for the same guest: tests/xensim/xl/xl-argv.py, with our QEMU.
argv_cases() {
    echo "# the launcher's device-model argv against real libxl 4.17's"
    tap_run "launcher vs libxl" timeout 600 python3 \
        "$TOP/tests/xensim/xl/xl-argv.py" --xensim "$out" \
        --dm "$BUILD/qemu-system-x86_64" --qemu-img "$BUILD/qemu-img"
}
argv_cases

# The framebuffer across save/restore (a separate guest and toolstack).
tap_xl ours VRAM $vram xl-restore-vram.py
tap_xl stock VRAM $vram xl-restore-vram.py --known-failures "stock 7.2"

mutant=$BUILD/mutants/qemu-replace-rewrites-index
if [ ! -x "$mutant" ]; then
    tap_skip "mutant replace-rewrites-index fails the framebuffer DMA" \
        "not built (make mutants)"
else
    dma=$(timeout 300 python3 "$TOP/tests/xensim/xl/xl-restore-vram.py" \
              --xensim "$out" --dm "$mutant" 2>&1 |
          grep -c '^not ok - a READ DMA into the framebuffer')
    what="mutant replace-rewrites-index (replace rewrites the guest index)"
    if [ "$dma" = 1 ]; then
        ok "$what: the framebuffer DMA after restore fails"
    else
        notok "$what: the framebuffer DMA after restore did not fail"
    fi
fi
