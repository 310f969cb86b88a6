/*
 * Xen HVM ioreq server: what an operator sees of it.
 *
 * query-xen-ioreq (QMP) and info xen-ioreq (HMP) report the server's
 * state and the counters xen-ioreq-server.c and xen-ioreq-dispatch.c
 * keep (XenIOReqStats).  Read-only: nothing here changes the server.
 * Both run in the main loop with the BQL held, as the counters' writers
 * do, so a report is one consistent snapshot.
 *
 * Copyright (c) 2026 Xen DM Developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-xen-ioreq.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "xen-ioreq.h"

XenIOReqInfo *qmp_query_xen_ioreq(Error **errp)
{
    XenIOReqServer *s = xen_ioreq_server_current();
    XenIOReqInfo *info;

    if (!s) {
        error_setg(errp, "Xen ioreq server: this QEMU runs no Xen HVM guest");
        return NULL;
    }
    info = g_new0(XenIOReqInfo, 1);
    info->server_id = s->id;
    info->vcpus = s->nr_vcpus;
    info->legacy_pages = !s->fres;
    info->serving = s->serving;
    info->pio = s->stats.pio;
    info->copy = s->stats.copy;
    info->pci_config = s->stats.pci_config;
    info->timeoffset = s->stats.timeoffset;
    info->invalidate = s->stats.invalidate;
    info->sync = s->stats.sync;
    info->buffered = s->stats.buffered;
    info->buffered_batches = s->stats.buffered_batches;
    info->rejected = s->stats.rejected;
    info->stale = s->stats.stale;
    info->spurious = s->stats.spurious;
    info->wakeups = s->stats.wakeups;
    info->notifies = s->stats.notifies;
    return info;
}

void hmp_info_xen_ioreq(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;
    XenIOReqInfo *i = qmp_query_xen_ioreq(&err);

    if (hmp_handle_error(mon, err)) {
        return;
    }
    monitor_printf(mon, "server %u, %u vCPU slots, %s pages, %s\n",
                   i->server_id, i->vcpus,
                   i->legacy_pages ? "legacy gfn" : "resource",
                   i->serving ? "serving" : "stopped");
    monitor_printf(mon, "carried out  pio %" PRIu64 " copy %" PRIu64
                   " pci-config %" PRIu64 " timeoffset %" PRIu64
                   " invalidate %" PRIu64 "\n", i->pio, i->copy,
                   i->pci_config, i->timeoffset, i->invalidate);
    monitor_printf(mon, "synchronous  %" PRIu64 " answered, %" PRIu64
                   " notifies\n", i->sync, i->notifies);
    monitor_printf(mon, "buffered     %" PRIu64 " entries in %" PRIu64
                   " batches\n", i->buffered, i->buffered_batches);
    monitor_printf(mon, "refused      %" PRIu64 " malformed, %" PRIu64
                   " stale slots\n", i->rejected, i->stale);
    monitor_printf(mon, "events       %" PRIu64 " wakeups, %" PRIu64
                   " spurious\n", i->wakeups, i->spurious);
    qapi_free_XenIOReqInfo(i);
}
