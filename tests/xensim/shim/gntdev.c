/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim devxen shim: /dev/xen/gntdev and /dev/xen/gntalloc.
 *
 * gntdev follows Linux's drivers/xen/gntdev.c: MAP_GRANT_REF only
 * records the refs and hands out a file offset; the grant map hypercall
 * happens at mmap() of that offset, and its failure fails the mmap with
 * EINVAL.  GRANT_COPY of zero segments succeeds (libxengnttab's probe);
 * others go to the hv, whose status per segment is written back.
 * SET_MAX_GRANTS is not implemented (ENOTTY), as in current kernels.
 *
 * xensim-hv has no grant tables (the simulated guest grants nothing), so
 * every map and copy of a real ref fails with Xen's status; and dom0
 * has none to share from, so gntalloc opens but its ioctls answer ENOSYS
 * and are counted by the hv as unsupported.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "devxen.h"

#include <sys/ioctl.h>
#include <xengnttab.h>
#include <xen/sys/gntdev.h>

struct GntMapping {
    GntMapping *next;
    uint64_t index;             /* file offset */
    uint32_t count;
    struct ioctl_gntdev_grant_ref *refs;
};

#define GNT_MAX_COUNT   (1u << 16)

int gntdev_open(DevFile *f)
{
    f->conn = xensim_conn_open(XENSIM_LIB_GNTTAB, NULL, NULL);
    if (!f->conn) {
        return -ENODEV;
    }
    return devxen_memfd("xen-gntdev", true);
}

void gntdev_release(DevFile *f)
{
    while (f->gnt) {
        GntMapping *m = f->gnt;

        f->gnt = m->next;
        free(m->refs);
        free(m);
    }
}

static GntMapping *find__locked(DevFile *f, uint64_t index, uint32_t count)
{
    GntMapping *m;

    for (m = f->gnt; m; m = m->next) {
        if (m->index == index && (!count || m->count == count)) {
            return m;
        }
    }
    return NULL;
}

static int map_grant_ref__locked(DevFile *f, void *arg)
{
    struct ioctl_gntdev_map_grant_ref op;
    GntMapping *m;
    int ret;

    ret = devxen_copy_in(&op, arg, sizeof(op));
    if (ret < 0) {
        return ret;
    }
    if (op.count == 0 || op.count > GNT_MAX_COUNT) {
        return -EINVAL;
    }
    m = calloc(1, sizeof(*m));
    if (!m || !(m->refs = calloc(op.count, sizeof(*m->refs)))) {
        free(m);
        return -ENOMEM;
    }
    ret = devxen_copy_in(m->refs,
                         (char *)arg + offsetof(typeof(op), refs),
                         op.count * sizeof(*m->refs));
    if (ret < 0) {
        free(m->refs);
        free(m);
        return ret;
    }
    m->count = op.count;
    m->index = f->gnt_next_index;
    f->gnt_next_index += (uint64_t)op.count << DEVXEN_PAGE_SHIFT;
    op.index = m->index;
    ret = devxen_copy_out(arg, &op, offsetof(typeof(op), refs));
    if (ret < 0) {
        free(m->refs);
        free(m);
        return ret;
    }
    m->next = f->gnt;
    f->gnt = m;
    return 0;
}

static int unmap_grant_ref__locked(DevFile *f, void *arg)
{
    struct ioctl_gntdev_unmap_grant_ref op;
    GntMapping **pp, *m;
    int ret;

    ret = devxen_copy_in(&op, arg, sizeof(op));
    if (ret < 0) {
        return ret;
    }
    for (pp = &f->gnt; (m = *pp); pp = &m->next) {
        if (m->index == op.index && m->count == op.count) {
            *pp = m->next;
            free(m->refs);
            free(m);
            return 0;
        }
    }
    return -ENOENT;
}

static int grant_copy(DevFile *f, void *arg)
{
    struct ioctl_gntdev_grant_copy op;
    XenSimMsg req = { .op = XENSIM_OP_GNTTAB_GRANT_COPY };
    xengnttab_grant_copy_segment_t *seg;
    int16_t *status;
    unsigned i;
    int ret;

    ret = devxen_copy_in(&op, arg, sizeof(op));
    if (ret < 0 || op.count == 0) {
        return ret;
    }
    if (op.count > GNT_MAX_COUNT) {
        return -EINVAL;
    }
    seg = calloc(op.count, sizeof(*seg));
    status = calloc(op.count, sizeof(*status));
    if (!seg || !status) {
        ret = -ENOMEM;
        goto out;
    }
    ret = devxen_copy_in(seg, op.segments, op.count * sizeof(*seg));
    if (ret < 0) {
        goto out;
    }
    req.arg[0] = op.count;
    if (xensim_call(f->conn, &req, seg, op.count * sizeof(*seg), NULL,
                    status, op.count * sizeof(*status), NULL, NULL) < 0) {
        ret = -errno;
        goto out;
    }
    for (i = 0; i < op.count && ret == 0; i++) {
        ret = devxen_copy_out(&op.segments[i].status, &status[i],
                              sizeof(status[i]));
    }
out:
    free(seg);
    free(status);
    return ret;
}

int gntdev_ioctl(DevFile *f, unsigned long cmd, void *arg)
{
    int ret = -ENOTTY;

    pthread_mutex_lock(&f->lock);
    switch (cmd) {
    case IOCTL_GNTDEV_MAP_GRANT_REF:
        ret = map_grant_ref__locked(f, arg);
        break;
    case IOCTL_GNTDEV_UNMAP_GRANT_REF:
        ret = unmap_grant_ref__locked(f, arg);
        break;
    case IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR:
        /* Nothing is ever mapped (see gntdev_mmap). */
        ret = -EINVAL;
        break;
    case IOCTL_GNTDEV_SET_UNMAP_NOTIFY: {
        struct ioctl_gntdev_unmap_notify op;

        ret = devxen_copy_in(&op, arg, sizeof(op));
        if (ret == 0 && !find__locked(f, op.index & ~(DEVXEN_PAGE_SIZE - 1),
                                      0)) {
            ret = -ENOENT;
        }
        break;
    }
    case IOCTL_GNTDEV_GRANT_COPY:
        pthread_mutex_unlock(&f->lock);
        return grant_copy(f, arg);
    }
    pthread_mutex_unlock(&f->lock);
    return ret;
}

void *gntdev_mmap(DevFile *f, void *addr, size_t len, int prot, int flags,
                  off_t off)
{
    XenSimMsg req = { .op = XENSIM_OP_GNTTAB_MAP };
    uint32_t *refs;
    GntMapping *m;
    unsigned i;
    int ret;

    pthread_mutex_lock(&f->lock);
    m = find__locked(f, off, len >> DEVXEN_PAGE_SHIFT);
    if (!m || !(flags & MAP_SHARED) ||
        (size_t)m->count << DEVXEN_PAGE_SHIFT != len) {
        pthread_mutex_unlock(&f->lock);
        errno = EINVAL;
        return MAP_FAILED;
    }
    refs = malloc(m->count * sizeof(*refs));
    if (!refs) {
        pthread_mutex_unlock(&f->lock);
        errno = ENOMEM;
        return MAP_FAILED;
    }
    for (i = 0; i < m->count; i++) {
        refs[i] = m->refs[i].ref;
    }
    req.arg[0] = m->refs[0].domid;
    req.arg[1] = m->count;
    ret = xensim_call(f->conn, &req, refs, m->count * sizeof(*refs), NULL,
                      NULL, 0, NULL, NULL);
    pthread_mutex_unlock(&f->lock);
    free(refs);
    if (ret >= 0) {
        /* The hv granted something it cannot back with a page. */
        errno = -devxen_unsupported(f, "gntdev mmap of a granted page");
    } else {
        errno = EINVAL;
    }
    return MAP_FAILED;
}

int gntalloc_open(DevFile *f)
{
    f->conn = xensim_conn_open(XENSIM_LIB_GNTTAB, NULL, NULL);
    if (!f->conn) {
        return -ENODEV;
    }
    return devxen_memfd("xen-gntalloc", true);
}

int gntalloc_ioctl(DevFile *f, unsigned long cmd, void *arg)
{
    return devxen_unsupported(f, "gntalloc ioctl");
}
