/*
 * The monitor's view of the I/O engine of a Xen guest's drives:
 * query-xen-drive-aio (QMP) and "info xen-drive-aio" (HMP).
 *
 * Copyright (c) 2026 Xen DM Developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * xen-drive-aio.c chooses, once at start-up, the engine of drives given
 * no aio= and says why; this file adds what each drive's image is opened
 * with now.  It only reads: the answer is computed from the block graph
 * at the time of the call, so a medium inserted later (cd-insert) shows
 * up with the engine it was really opened with.
 *
 * A drive's engine is the one its POSIX file node (drivers "file",
 * "host_device", "host_cdrom", below any format and filter nodes) uses,
 * derived the way file-posix derives it: the node's own aio= option,
 * else the engine flag it was opened with.  A drive without a medium or
 * on another protocol (nbd, ...) has no engine.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-block.h"
#include "qapi/qmp/qdict.h"
#include "qapi/util.h"
#include "qemu/option.h"
#include "block/block_int.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "sysemu/block-backend.h"
#include "sysemu/blockdev.h"
#include "sysemu/xen-drive-aio.h"

static bool is_posix_file_node(BlockDriverState *bs)
{
    const char *drv = bs->drv ? bs->drv->format_name : "";

    return !strcmp(drv, "file") || !strcmp(drv, "host_device") ||
           !strcmp(drv, "host_cdrom");
}

/* The engine of the POSIX file under @bs, false if there is none. */
static bool node_engine(BlockDriverState *bs, BlockdevAioOptions *engine)
{
    const char *aio;

    while (bs && !is_posix_file_node(bs)) {
        bs = bdrv_primary_bs(bs);
    }
    if (!bs) {
        return false;
    }
    aio = bs->options ? qdict_get_try_str(bs->options, "aio") : NULL;
    if (aio) {
        *engine = qapi_enum_parse(&BlockdevAioOptions_lookup, aio,
                                  BLOCKDEV_AIO_OPTIONS_THREADS, NULL);
    } else if (bs->open_flags & BDRV_O_NATIVE_AIO) {
        *engine = BLOCKDEV_AIO_OPTIONS_NATIVE;
#ifdef CONFIG_LINUX_IO_URING
    } else if (bs->open_flags & BDRV_O_IO_URING) {
        *engine = BLOCKDEV_AIO_OPTIONS_IO_URING;
#endif
    } else {
        *engine = BLOCKDEV_AIO_OPTIONS_THREADS;
    }
    return true;
}

static XenDriveAioDrive *drive_info(BlockBackend *blk)
{
    XenDriveAioDrive *d = g_new0(XenDriveAioDrive, 1);
    DriveInfo *dinfo = blk_legacy_dinfo(blk);

    d->device = *blk_name(blk) ? g_strdup(blk_name(blk))
                               : blk_get_attached_dev_id(blk);
    d->has_engine = node_engine(blk_bs(blk), &d->engine);
    /* -blockdev nodes carry their own options; -drive may give aio= */
    d->from_default = dinfo && !qemu_opt_get(dinfo->opts, "aio");
    return d;
}

XenDriveAioInfo *qmp_query_xen_drive_aio(Error **errp)
{
    XenDriveAioInfo *info;
    XenDriveAioDriveList **tail;
    const char *policy, *why;
    BlockBackend *blk;
    bool io_uring;

    if (!xen_drive_aio_choice(&policy, &io_uring, &why)) {
        error_setg(errp, "Xen drive I/O engine: QEMU does not run a Xen "
                   "guest");
        return NULL;
    }
    info = g_new0(XenDriveAioInfo, 1);
    info->aio_default = g_strdup(policy);
    info->default_engine = io_uring ? BLOCKDEV_AIO_OPTIONS_IO_URING
                                    : BLOCKDEV_AIO_OPTIONS_THREADS;
    info->reason = g_strdup(why);
    tail = &info->drives;
    for (blk = blk_all_next(NULL); blk; blk = blk_all_next(blk)) {
        if (*blk_name(blk) || blk_get_attached_dev(blk)) {
            QAPI_LIST_APPEND(tail, drive_info(blk));
        }
    }
    return info;
}

void hmp_info_xen_drive_aio(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;
    XenDriveAioInfo *info = qmp_query_xen_drive_aio(&err);
    XenDriveAioDriveList *l;

    if (hmp_handle_error(mon, err)) {
        return;
    }
    monitor_printf(mon, "drives given no aio=: %s (aio-default=%s: %s)\n",
                   BlockdevAioOptions_str(info->default_engine),
                   info->aio_default, info->reason);
    for (l = info->drives; l; l = l->next) {
        XenDriveAioDrive *d = l->value;

        monitor_printf(mon, "%-16s %-9s %s\n", d->device,
                       d->has_engine ? BlockdevAioOptions_str(d->engine)
                                     : "-",
                       !d->has_engine ? "(no medium or not a POSIX file)" :
                       d->from_default ? "(aio-default)" : "(its own aio=)");
    }
    qapi_free_XenDriveAioInfo(info);
}
