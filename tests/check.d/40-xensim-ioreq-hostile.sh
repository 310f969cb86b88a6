#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Hostile ioreqs, ring states and slot states (tests/xensim/tests/
# e2e-hostile.py): every request class Xen never sends, one fresh device
# model each, through the hv's rawioreq/rawbuf probes and its injection
# commands (ioreq, notify, bufring).  Ours must answer the vCPU (all-ones
# for reads), leave guest RAM, VGA memory, ring pointers and slot as a
# refusal leaves them, count it in query-xen-ioreq, keep answering
# query-status and serve an ordinary access afterwards, with no
# device-model bug reported.  Debian's stock 7.2 dies, hangs or answers
# wrongly on most: those are recorded as
# "ok ... # SKIP known stock 7.2 failure: <case>".
# tests/ioreq-mutants/mutants.py shows each case failing on a mutant of
# our ioreq core.
set -uo pipefail
: "${TOP:?}" "${BUILD:?}"
. "$(dirname "$0")/lib/tap.sh"
tap_e2e "$TOP/tests/xensim/tests/e2e-hostile.py"
rc=$?
tap_end
exit $rc
