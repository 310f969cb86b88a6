/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Rate-limited LOG_GUEST_ERROR reports for the Xen platform devices.
 *
 * A guest can hit a bad register in a loop; each device keeps one
 * XenGuestErrorLimit and reports through xen_guest_error(), which lets
 * XEN_GUEST_ERROR_BURST messages through per XEN_GUEST_ERROR_WINDOW_MS of
 * real time and counts the rest.  The first message of a new window says
 * how many were suppressed before it, so nothing is dropped silently.
 *
 * The limiter is not thread-safe: callers run under the BQL, as every
 * MemoryRegionOps callback of these devices does.
 */
#ifndef HW_I386_XEN_GUEST_ERROR_H
#define HW_I386_XEN_GUEST_ERROR_H

#include "qemu/log.h"
#include "qemu/timer.h"

#define XEN_GUEST_ERROR_BURST       10
#define XEN_GUEST_ERROR_WINDOW_MS   1000

typedef struct XenGuestErrorLimit {
    int64_t window_start_ms;
    unsigned int in_window;
    uint64_t suppressed;        /* since the last message that got out */
    uint64_t total;             /* every report, logged or not */
} XenGuestErrorLimit;

/*
 * Whether one more report fits in the current window; on the first of a
 * new window, *suppressed is how many the previous windows swallowed.
 */
static inline bool xen_guest_error_allow(XenGuestErrorLimit *l,
                                         uint64_t *suppressed)
{
    int64_t now = qemu_clock_get_ms(QEMU_CLOCK_REALTIME);

    l->total++;
    if (now - l->window_start_ms >= XEN_GUEST_ERROR_WINDOW_MS) {
        l->window_start_ms = now;
        l->in_window = 0;
    }
    if (l->in_window >= XEN_GUEST_ERROR_BURST) {
        l->suppressed++;
        return false;
    }
    l->in_window++;
    *suppressed = l->suppressed;
    l->suppressed = 0;
    return true;
}

#define xen_guest_error(limit, fmt, ...)                                    \
    do {                                                                    \
        uint64_t xge_dropped_;                                              \
        if (xen_guest_error_allow((limit), &xge_dropped_) &&                \
            qemu_loglevel_mask(LOG_GUEST_ERROR)) {                          \
            if (xge_dropped_) {                                             \
                qemu_log("(%" PRIu64 " similar messages suppressed)\n",     \
                         xge_dropped_);                                     \
            }                                                               \
            qemu_log(fmt, ## __VA_ARGS__);                                  \
        }                                                                   \
    } while (0)

#endif /* HW_I386_XEN_GUEST_ERROR_H */
