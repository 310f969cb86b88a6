/*
 * The I/O engine of a Xen guest's drives: io_uring where the host allows it.
 *
 * Copyright (c) 2026 Xen DM Developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * libxl 4.17 gives every disk as "-drive ...,cache=writeback" without an
 * aio= option, so each request goes to QEMU's default engine, a thread
 * pool: one worker hand-off and one wake-up back per request, about 40% of
 * the device model's CPU on an AHCI read.  Under the Xen accelerator those
 * drives use io_uring instead, when the host offers it.
 *
 * -drive options are turned into drives (and their images opened, which
 * fixes the engine) before any accelerator exists, so the choice is made
 * in the accelerator's prepare_backends hook, which vl.c calls on the
 * accelerator the command line asks for first, with its -accel options,
 * right before it creates the drives.  The choice goes to the block layer
 * as drive_set_default_aio(): a drive with no aio= gets BDRV_O_IO_URING in
 * its open flags, as if the user had written aio=io_uring.
 *
 * Invariants:
 *  - an explicit aio= on a -drive always wins, and -blockdev is never
 *    touched (its options are the user's, complete);
 *  - the host is probed once, at start-up: a raw io_uring_setup() (its
 *    errno says why it is refused: kernel, kernel.io_uring_disabled, a
 *    seccomp policy, the locked-memory limit), then the main loop's own
 *    ring is set up, the one every drive in the main AioContext shares.
 *    It therefore exists before -runas, -chroot or -sandbox take effect,
 *    so a drive opened later (cd-insert, drive_add) never meets a refusal
 *    the start-up probe did not see;
 *  - refused, drives without aio= use threads as before and one warning
 *    says why; the operator's "-accel xen,aio-default=threads" does the
 *    same without probing;
 *  - the choice never changes once drives exist: setting aio-default to
 *    another value afterwards (-global) is refused with an error.
 *
 * Why io_uring keeps cache=writeback's guarantees: it issues the same
 * preadv/pwritev/fdatasync the thread pool does (IORING_OP_READV, _WRITEV,
 * _FSYNC with IORING_FSYNC_DATASYNC) on the same buffered file descriptor
 * (no O_DIRECT), through the page cache.  Requests in flight are
 * unordered with both engines; a flush covers every write that completed
 * before it was submitted with both; short writes and errors reach the
 * guest as the same -errno (block/io_uring.c turns a short write into
 * -ENOSPC and resubmits short reads, as the thread pool does).
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/util.h"
#include "qemu/accel.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/option.h"
#include "block/aio.h"
#include "block/block.h"
#include "sysemu/blockdev.h"
#include "sysemu/xen-drive-aio.h"
#include "hw/xen/trace.h"

#ifdef CONFIG_LINUX_IO_URING
#include <sys/syscall.h>
#include <linux/io_uring.h>
#endif

typedef enum {
    XEN_AIO_DEFAULT_AUTO,       /* io_uring if the host allows it */
    XEN_AIO_DEFAULT_THREADS,    /* QEMU's own default, the thread pool */
    XEN_AIO_DEFAULT__MAX,
} XenAioDefault;

static const char *const xen_aio_default_names[XEN_AIO_DEFAULT__MAX] = {
    [XEN_AIO_DEFAULT_AUTO] = "auto",
    [XEN_AIO_DEFAULT_THREADS] = "threads",
};

static const QEnumLookup xen_aio_default_lookup = {
    .array = xen_aio_default_names,
    .size = XEN_AIO_DEFAULT__MAX,
};

/*
 * One accelerator per process: the policy lives here, not in the object.
 * prepared: prepare_backends ran, drives follow @policy from now on, with
 * @io_uring as their engine for the reason @why (set once, kept).
 */
static struct {
    XenAioDefault policy;
    bool prepared;
    bool io_uring;
    char *why;
} xen_drive_aio;

/* What a refusal of io_uring_setup() most likely means on a Xen host. */
static const char *io_uring_refusal_hint(int err)
{
    switch (err) {
    case ENOSYS:
        return "kernel without io_uring, or a seccomp policy";
    case EPERM:
        return "kernel.io_uring_disabled, or a seccomp policy";
    case ENOMEM:
    case EAGAIN:
        return "locked-memory limit (RLIMIT_MEMLOCK)";
    default:
        return "host refusal";
    }
}

/* Probe the host and set up the main loop's ring, or say why not. */
static bool xen_drive_aio_probe(Error **errp)
{
#ifdef CONFIG_LINUX_IO_URING
    struct io_uring_params params = { 0 };
    long fd;

    /*
     * liburing returns -errno without setting errno, so QEMU's own
     * "failed to init linux io_uring ring" message would name a stale
     * errno: ask the kernel directly first.
     */
    fd = syscall(__NR_io_uring_setup, 1, &params);
    if (fd < 0) {
        error_setg_errno(errp, errno, "io_uring_setup refused (%s)",
                         io_uring_refusal_hint(errno));
        return false;
    }
    close(fd);
    return aio_setup_linux_io_uring(qemu_get_aio_context(), errp) != NULL;
#else
    error_setg(errp, "QEMU built without io_uring support");
    return false;
#endif
}

/* Record the engine of drives given no aio=, and why, once. */
static void xen_drive_aio_chose(bool io_uring, const char *why)
{
    xen_drive_aio.io_uring = io_uring;
    xen_drive_aio.why = g_strdup(why);
    trace_xen_drive_aio_default(io_uring ? "io_uring" : "threads", why);
}

bool xen_drive_aio_choice(const char **policy, bool *io_uring,
                          const char **why)
{
    *policy = xen_aio_default_names[xen_drive_aio.policy];
    *io_uring = xen_drive_aio.io_uring;
    *why = xen_drive_aio.why;
    return xen_drive_aio.prepared;
}

static void xen_drive_aio_prepare_backends(AccelClass *ac, QemuOpts *opts,
                                           Error **errp)
{
    const char *value = opts ? qemu_opt_get(opts, "aio-default") : NULL;
    Error *local_err = NULL;
    int policy;

    policy = qapi_enum_parse(&xen_aio_default_lookup, value,
                             XEN_AIO_DEFAULT_AUTO, errp);
    if (policy < 0) {
        return;
    }
    xen_drive_aio.policy = policy;
    xen_drive_aio.prepared = true;

    if (policy == XEN_AIO_DEFAULT_THREADS) {
        xen_drive_aio_chose(false, "aio-default=threads");
        return;
    }
    if (!xen_drive_aio_probe(&local_err)) {
        xen_drive_aio_chose(false, error_get_pretty(local_err));
        warn_report("xen: drives without aio= use threads: %s",
                    error_get_pretty(local_err));
        error_free(local_err);
        return;
    }
    drive_set_default_aio(BDRV_O_IO_URING);
    xen_drive_aio_chose(true, "host allows it");
}

static int xen_drive_aio_get_default(Object *obj, Error **errp)
{
    return xen_drive_aio.policy;
}

static void xen_drive_aio_set_default(Object *obj, int value, Error **errp)
{
    if (xen_drive_aio.prepared && value != xen_drive_aio.policy) {
        error_setg(errp, "aio-default: the drives already use '%s'; give "
                   "it as -accel xen,aio-default=%s",
                   xen_aio_default_names[xen_drive_aio.policy],
                   xen_aio_default_names[value]);
        return;
    }
    xen_drive_aio.policy = value;
}

void xen_drive_aio_class_init(ObjectClass *oc)
{
    AccelClass *ac = ACCEL_CLASS(oc);

    ac->prepare_backends = xen_drive_aio_prepare_backends;
    object_class_property_add_enum(oc, "aio-default", "XenAioDefault",
                                   &xen_aio_default_lookup,
                                   xen_drive_aio_get_default,
                                   xen_drive_aio_set_default);
    object_class_property_set_description(oc, "aio-default",
        "I/O engine of drives given no aio=: auto (io_uring if the host "
        "allows it, else threads) or threads");
}
