#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The ioreq paths against real devices (tests/xensim/tests/e2e-ioreq.py):
# PIO 1/2/4, rep outs/ins with and without df, MMIO 1/2/4/8, rep stos and
# rep movs both ways and with df, PCI config of every function (CF8/CFC
# and PCI_CONFIG ioreqs, a BAR read back, data_is_ptr, registers past 255),
# the buffered ring wrapped with 8-byte entries, map cache invalidations
# while another vCPU does rep ins, 4 vCPUs at once, a request in flight
# on each of 4 vCPUs answered on its own port, query-xen-ioreq and
# info xen-ioreq counting it all; no device-model bug.
# Ours and Debian's stock 7.2 (a stock failure is recorded as a SKIP);
# then ours made to answer every vCPU on vCPU 0's port (mutant-dm.c),
# on which the per-port checks must fail.
set -uo pipefail
: "${TOP:?}" "${BUILD:?}"
. "$(dirname "$0")/lib/tap.sh"
tap_e2e "$TOP/tests/xensim/tests/e2e-ioreq.py" \
    "mutant-vcpu0-notify=$BUILD/qemu-system-x86_64"
rc=$?
tap_end
exit $rc
