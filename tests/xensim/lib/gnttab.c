/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim libxengnttab.so.1: grant tables.  The simulated HVM guest
 * grants nothing, so handles open (QEMU's backend core probes one) and
 * every map or copy of a grant reference fails as Xen would for a bad
 * reference; the hypervisor logs and counts each attempt.
 *
 * Invariants: no call here maps memory, so xengnttab_unmap() of anything
 * is a device-model bug and is reported.
 */
#include <errno.h>
#include <stdlib.h>

#include <xengnttab.h>

#include "client.h"

struct xengntdev_handle {
    XenSimConn *conn;
};

static struct xengntdev_handle *gnt_open(void)
{
    struct xengntdev_handle *h = calloc(1, sizeof(*h));

    if (!h) {
        return NULL;
    }
    h->conn = xensim_conn_open(XENSIM_LIB_GNTTAB, NULL, NULL);
    if (!h->conn) {
        int e = errno;

        free(h);
        errno = e;
        return NULL;
    }
    return h;
}

static int gnt_close(struct xengntdev_handle *h)
{
    if (h) {
        xensim_conn_close(h->conn);
        free(h);
    }
    return 0;
}

xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger,
                                 unsigned open_flags)
{
    return gnt_open();
}

int xengnttab_close(xengnttab_handle *xgt)
{
    return gnt_close(xgt);
}

int xengnttab_fd(xengnttab_handle *xgt)
{
    return xgt->conn->fd;
}

int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr_grants)
{
    return 0;
}

void *xengnttab_map_domain_grant_refs(xengnttab_handle *xgt, uint32_t count,
                                      uint32_t domid, uint32_t *refs,
                                      int prot)
{
    XenSimMsg req = {
        .op = XENSIM_OP_GNTTAB_MAP,
        .arg = { domid, count },
    };

    if (!count) {
        errno = EINVAL;
        return NULL;
    }
    /* The hypervisor refuses every map (the guest grants nothing) and
     * sets errno; nothing is ever mapped here. */
    if (xensim_call(xgt->conn, &req, refs, (size_t)count * sizeof(*refs),
                    NULL, NULL, 0, NULL, NULL) >= 0) {
        errno = EINVAL;
    }
    return NULL;
}

void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid,
                              uint32_t ref, int prot)
{
    return xengnttab_map_domain_grant_refs(xgt, 1, domid, &ref, prot);
}

void *xengnttab_map_grant_refs(xengnttab_handle *xgt, uint32_t count,
                               uint32_t *domids, uint32_t *refs, int prot)
{
    if (!count) {
        errno = EINVAL;
        return NULL;
    }
    return xengnttab_map_domain_grant_refs(xgt, count, domids[0], refs,
                                           prot);
}

void *xengnttab_map_grant_ref_notify(xengnttab_handle *xgt, uint32_t domid,
                                     uint32_t ref, int prot,
                                     uint32_t notify_offset,
                                     evtchn_port_t notify_port)
{
    return xengnttab_map_domain_grant_refs(xgt, 1, domid, &ref, prot);
}

int xengnttab_unmap(xengnttab_handle *xgt, void *start_address,
                    uint32_t count)
{
    xensim_report(xgt->conn, "xengnttab_unmap(%p, %u): no grant mapping "
                  "was ever made", start_address, count);
    errno = EINVAL;
    return -1;
}

int xengnttab_grant_copy(xengnttab_handle *xgt, uint32_t count,
                         xengnttab_grant_copy_segment_t *segs)
{
    XenSimMsg req = { .op = XENSIM_OP_GNTTAB_GRANT_COPY, .arg = { count } };
    int16_t *status = NULL;
    uint32_t i;
    int ret;

    if (count) {
        status = calloc(count, sizeof(*status));
        if (!status) {
            return -1;
        }
    }
    ret = xensim_call(xgt->conn, &req, segs, (size_t)count * sizeof(*segs),
                      NULL, status, (size_t)count * sizeof(*status), NULL,
                      NULL);
    if (ret >= 0) {
        for (i = 0; i < count; i++) {
            segs[i].status = status[i];
        }
    }
    free(status);
    return ret < 0 ? -1 : 0;
}

int xengnttab_dmabuf_exp_from_refs(xengnttab_handle *xgt, uint32_t domid,
                                   uint32_t flags, uint32_t count,
                                   const uint32_t *refs, uint32_t *fd)
{
    return xensim_unsupported(xgt->conn, __func__);
}

int xengnttab_dmabuf_exp_wait_released(xengnttab_handle *xgt, uint32_t fd,
                                       uint32_t wait_to_ms)
{
    return xensim_unsupported(xgt->conn, __func__);
}

int xengnttab_dmabuf_imp_to_refs(xengnttab_handle *xgt, uint32_t domid,
                                 uint32_t fd, uint32_t count, uint32_t *refs)
{
    return xensim_unsupported(xgt->conn, __func__);
}

int xengnttab_dmabuf_imp_release(xengnttab_handle *xgt, uint32_t fd)
{
    return xensim_unsupported(xgt->conn, __func__);
}

/* --- grant sharing: nothing to share with a simulated guest ---------- */

xengntshr_handle *xengntshr_open(struct xentoollog_logger *logger,
                                 unsigned open_flags)
{
    return gnt_open();
}

int xengntshr_close(xengntshr_handle *xgs)
{
    return gnt_close(xgs);
}

int xengntshr_fd(xengntshr_handle *xgs)
{
    return xgs->conn->fd;
}

void *xengntshr_share_pages(xengntshr_handle *xgs, uint32_t domid,
                            int count, uint32_t *refs, int writable)
{
    xensim_unsupported(xgs->conn, __func__);
    return NULL;
}

void *xengntshr_share_page_notify(xengntshr_handle *xgs, uint32_t domid,
                                  uint32_t *ref, int writable,
                                  uint32_t notify_offset,
                                  evtchn_port_t notify_port)
{
    xensim_unsupported(xgs->conn, __func__);
    return NULL;
}

int xengntshr_unshare(xengntshr_handle *xgs, void *start_address,
                      uint32_t count)
{
    return xensim_unsupported(xgs->conn, __func__);
}
