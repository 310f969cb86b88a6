#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Lifecycle pieces the launcher can drive today (tests/xensim/tests/
# e2e-lifecycle.py): VRAM relocated onto its BAR with the physmap recorded
# in xenstore and removed again, xen-set-global-dirty-log reporting DMA to
# Xen only while on, stop + xen-save-devices-state (live false/true) +
# cont, an e1000e's MSIs (vector 0 without a pirq dropped, as Xen refuses
# it), set-up failures (xenstore unreachable, an event channel bind
# failing, -xen-domid-restrict refused) ending a second device model
# with status 1 and a message and no ioreq server left (xensim counts
# servers a device model leaves, as Xen keeps them).  Ours and stock (a
# stock failure is a SKIP).
set -uo pipefail
: "${TOP:?}" "${BUILD:?}"
. "$(dirname "$0")/lib/tap.sh"
tap_e2e "$TOP/tests/xensim/tests/e2e-lifecycle.py"
rc=$?
tap_end
exit $rc
