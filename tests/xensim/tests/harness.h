/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim unit-test harness: TAP output, a private xensim-hv per test
 * program (sockets and stderr log in a temporary directory), and a client
 * for its control socket.
 *
 * Invariants: every check prints exactly one "ok N - ..." or
 * "not ok N - ..." line; the hv is always stopped (SIGTERM) by
 * harness_finish(), which also prints the TAP plan and returns the exit
 * status.  XENSIM_SOCKET points at the private hv, so the replacement
 * libraries under test talk to it.
 */
#ifndef XENSIM_HARNESS_H
#define XENSIM_HARNESS_H

#include <stdbool.h>
#include <stddef.h>

/* Record one TAP result; returns cond. */
bool check(bool cond, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Start xensim-hv (found next to the test binary: ../xensim-hv) with the
 * given extra arguments (NULL-terminated). */
void harness_start(const char *domid, const char *memory_mib,
                   const char *vcpus, const char *timeout_ms);

/* Send one control command; the final reply line (without newline) is
 * returned in a static buffer; preceding lines are appended to
 * harness_ctl_extra (cleared per call). */
const char *ctl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern char harness_ctl_extra[65536];

/* Path of the private hv's control socket (for extra connections). */
extern char harness_control_path[];

/* Value of a counter via "counters" (or -1). */
long long counter(const char *name);

/* Number of "DM BUG" lines the hv has written to its log so far. */
int hv_bug_lines(const char *containing);

/* Stop the hv, print the plan; returns the process exit status. */
int harness_finish(void);

#endif /* XENSIM_HARNESS_H */
