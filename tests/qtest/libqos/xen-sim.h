/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * libqos helpers for qtests of the Xen device model, run through the
 * xensim qtest bridge (QTEST_QEMU_BINARY=.../xensim/qemu-system-x86_64),
 * where every access is a trapped guest instruction routed by the
 * simulated hypervisor.
 *
 * PCI config space as firmware reaches it under Xen: CF8 gets an aligned
 * register number (Xen, like real chipsets, ignores its low two bits;
 * QEMU's host bridge, which libqos's pci-pc relies on, does not) and the
 * data goes through 0xcfc plus the register's byte lane.
 *
 * What only the hypervisor sees (the MSIs it was asked to inject, its
 * counters, map cache invalidates and faults) and xenstore are reached
 * through the bridge's run directory: xen_sim_init() points TMPDIR at a
 * directory of the test's own, in which the bridge makes its
 * xensim-bridge.XXXXXX with the hv's control socket ("control") and
 * xenstored's ("xenstored").  A control command is one line; the reply
 * ends with a line "ok ..." or "err ...".
 *
 * Every helper asserts on what it cannot do (no bridge, a refused
 * command): a test has nothing to fall back on.
 */

#ifndef LIBQOS_XEN_SIM_H
#define LIBQOS_XEN_SIM_H

#include "../libqtest.h"

/* ---- PCI config space through CF8/CFC -------------------------------- */

uint32_t xen_sim_cfg_readl(QTestState *qts, int devfn, int reg);
void xen_sim_cfg_writel(QTestState *qts, int devfn, int reg, uint32_t val);
void xen_sim_cfg_writew(QTestState *qts, int devfn, int reg, uint16_t val);

/* ---- the simulator: its run directory and sockets -------------------- */

/*
 * Call first in main(), before anything asks glib for the temporary
 * directory: makes /tmp/@name.XXXXXX and points TMPDIR at it.  Returns
 * it (the test may keep its own files there and removes it at the end).
 */
const char *xen_sim_init(const char *name);

/* Whether the test runs through the bridge (xensim-hv next to it). */
bool xen_sim_bridged(void);

/* A connected stream socket to the run directory's socket @name. */
int xen_sim_connect(const char *name);

/*
 * One hv control command @line (without its newline).  An "err" reply
 * fails the test; the reply, up to and with its final "ok ..." line, is
 * appended to @out when it is not NULL.
 */
void xen_sim_control(const char *line, GString *out);

/* The hv counter @name ("counters"). */
uint64_t xen_sim_counter(const char *name);

/* The MSIs the hv injected: how many, the last one's address and data. */
uint64_t xen_sim_msi(uint64_t *addr, uint32_t *data);

/* XS_WRITE of @path = @val to the simulated xenstored, as dom0 would. */
void xen_sim_xenstore_write(const char *path, const char *val);

#endif
