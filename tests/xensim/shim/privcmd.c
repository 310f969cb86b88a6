/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim devxen shim: /dev/xen/privcmd and /dev/xen/hypercall with the
 * semantics of Linux's drivers/xen/privcmd.c and privcmd-buf.c, for a
 * PV-style dom0 (frames Xen hands back are machine frames).
 *
 * - IOCTL_PRIVCMD_HYPERCALL: forwarded as it is (EPERM once restricted).
 * - IOCTL_PRIVCMD_DM_OP: at most 16 buffers of at most 4096 bytes, the
 *   hv reads/writes them in place; num == 0 succeeds without a call (the
 *   library's probe).
 * - IOCTL_PRIVCMD_MMAPBATCH(_V2): the VMA must be a privcmd one; a
 *   fresh VMA must be covered exactly, a used one only in holes.  Xen
 *   (the hv's FMEM_MAP, standing in for the page-table update) checks
 *   each gfn; good frames are mmapped from the machine memfd in
 *   contiguous runs, failed ones stay SIGBUS.  V2 reports per-page
 *   errors in err[], V1 in the top nibble of arr[]; the return is
 *   -ENOENT if a page was paged out, else 0.
 * - IOCTL_PRIVCMD_MMAP_RESOURCE: XENMEM_acquire_resource through the hv
 *   (size query when addr and num are 0), the machine frames it returns
 *   mapped like a batch.
 * - IOCTL_PRIVCMD_RESTRICT: sets the domain once; then every domid must
 *   match (EPERM) and raw hypercalls are refused.  With
 *   XENSIM_SHIM_FAULT=restrict in the environment it fails with ENOTTY,
 *   as on a kernel whose privcmd lacks it (a device model that must then
 *   not run unrestricted: -xen-domid-restrict).
 * - Unknown ioctls: ENOTTY (libxenforeignmemory probes that errno).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devxen.h"

#include <sys/ioctl.h>
#include <xen/xen.h>
#include <xen/memory.h>
#include <xen/hvm/dm_op.h>
#include <xen/sys/privcmd.h>

#define DM_OP_MAX_BUFS      16
#define DM_OP_MAX_BUF_SIZE  4096

int privcmd_open(DevFile *f)
{
    int fds[XENSIM_MAX_FDS];
    unsigned nfds = XENSIM_MAX_FDS;

    f->conn = xensim_conn_open(XENSIM_LIB_PRIVCMD, fds, &nfds);
    if (!f->conn) {
        return errno == EIO ? -ENXIO : -ENOENT;
    }
    if (nfds != 1) {
        while (nfds) {
            real_close(fds[--nfds]);
        }
        return -ENXIO;
    }
    f->memfd = fds[0];
    return devxen_memfd("xen-privcmd", true);
}

void *privcmd_mmap(DevFile *f, void *addr, size_t len, int prot, int flags,
                   off_t off)
{
    Vma v = { .kind = VMA_PRIVCMD, .file = f, .prot = prot };
    void *p;
    int ret;

    if (!len || (len & (DEVXEN_PAGE_SIZE - 1)) || !(flags & MAP_SHARED)) {
        errno = EINVAL;
        return MAP_FAILED;
    }
    v.mapped = calloc((len / DEVXEN_PAGE_SIZE + 7) / 8, 1);
    if (!v.mapped) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    pthread_mutex_lock(&devxen_lock);
    /* An empty file: every page faults (SIGBUS) until a batch fills it. */
    p = real_mmap(addr, len, prot,
                  (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) | MAP_SHARED |
                  MAP_NORESERVE, f->fd, 0);
    if (p == MAP_FAILED) {
        ret = -errno;
    } else {
        madvise(p, len, MADV_DONTFORK);     /* VM_DONTCOPY */
        v.start = (uintptr_t)p;
        v.end = v.start + len;
        ret = devxen_vma_add__locked(&v);
        if (ret < 0) {
            real_munmap(p, len);
        }
    }
    pthread_mutex_unlock(&devxen_lock);
    if (ret < 0) {
        free(v.mapped);
        errno = -ret;
        return MAP_FAILED;
    }
    return p;
}

/* Tell the hv (for its counters) that foreign pages went away. */
void privcmd_vma_gone(const Vma *v, uintptr_t start, uintptr_t end)
{
    XenSimMsg req = { .arg = { start, (end - start) >> DEVXEN_PAGE_SHIFT } };

    if (!v->used) {
        return;
    }
    if (v->resource) {
        req.op = XENSIM_OP_FMEM_UNMAP_RESOURCE;
    } else {
        req.op = XENSIM_OP_FMEM_UNMAP;
        req.arg[2] = 1;     /* a plain munmap, as QEMU's map cache does */
    }
    xensim_send_oneway(v->file->conn, &req, NULL, 0);
}

static bool page_mapped(const Vma *v, size_t page)
{
    return v->mapped[page / 8] & (1u << (page % 8));
}

/* Map machine frames [off, off + pages) of the memfd at addr. */
static int map_run(DevFile *f, Vma *v, uintptr_t addr, uint64_t off,
                   size_t pages)
{
    size_t first = (addr - v->start) >> DEVXEN_PAGE_SHIFT, i;

    if (real_mmap((void *)addr, pages << DEVXEN_PAGE_SHIFT, v->prot,
                  MAP_SHARED | MAP_FIXED, f->memfd, off) == MAP_FAILED) {
        return -errno;
    }
    madvise((void *)addr, pages << DEVXEN_PAGE_SHIFT, MADV_DONTFORK);
    for (i = first; i < first + pages; i++) {
        v->mapped[i / 8] |= 1u << (i % 8);
    }
    return 0;
}

/*
 * Map frames given as memfd byte offsets (or -errno each) at addr, in
 * contiguous runs.  Returns 0 or -errno for a failure to mmap at all.
 */
static int map_frames(DevFile *f, Vma *v, uintptr_t addr,
                      const int64_t *off, size_t n)
{
    size_t i = 0, j;
    int ret;

    while (i < n) {
        if (off[i] < 0) {
            i++;
            continue;
        }
        for (j = i + 1; j < n && off[j] >= 0 &&
             off[j] == off[i] + (int64_t)((j - i) << DEVXEN_PAGE_SHIFT);
             j++) {
        }
        ret = map_run(f, v, addr + (i << DEVXEN_PAGE_SHIFT), off[i], j - i);
        if (ret < 0) {
            return ret;
        }
        i = j;
    }
    return 0;
}

static int restricted_to_other(DevFile *f, uint16_t dom)
{
    return f->restrict_domid != DEVXEN_DOMID_NONE &&
           f->restrict_domid != dom;
}

static int mmapbatch(DevFile *f, void *udata, int version)
{
    privcmd_mmapbatch_v2_t m;
    XenSimMsg req = { .op = XENSIM_OP_FMEM_MAP };
    xen_pfn_t *gfn = NULL;
    int64_t *slot = NULL;
    int *err = NULL;
    size_t i, pages;
    bool enoent = false, any_err = false;
    Vma *v;
    int ret;

    if (version == 1) {
        privcmd_mmapbatch_t m1;

        ret = devxen_copy_in(&m1, udata, sizeof(m1));
        if (ret < 0) {
            return ret;
        }
        m = (privcmd_mmapbatch_v2_t) { .num = m1.num, .dom = m1.dom,
                                       .addr = m1.addr, .arr = m1.arr };
    } else {
        ret = devxen_copy_in(&m, udata, sizeof(m));
        if (ret < 0) {
            return ret;
        }
    }
    if (restricted_to_other(f, m.dom)) {
        return -EPERM;
    }
    if (m.num == 0 || m.num > (1u << 24)) {
        return -EINVAL;
    }
    pages = m.num;
    gfn = malloc(pages * sizeof(*gfn));
    slot = malloc(pages * sizeof(*slot));
    err = calloc(pages, sizeof(*err));
    if (!gfn || !slot || !err) {
        ret = -ENOMEM;
        goto out;
    }
    ret = devxen_copy_in(gfn, m.arr, pages * sizeof(*gfn));
    if (ret < 0 ||
        (version == 2 &&
         (ret = devxen_copy_out(m.err, err, pages * sizeof(*err))) < 0)) {
        goto out;
    }

    pthread_mutex_lock(&devxen_lock);
    v = devxen_vma_find__locked(m.addr);
    ret = -EINVAL;
    if (!v || v->kind != VMA_PRIVCMD || v->file != f) {
        goto unlock;
    }
    if (!v->used) {
        if (m.addr != v->start || m.addr + (pages << DEVXEN_PAGE_SHIFT) !=
            v->end) {
            goto unlock;
        }
    } else {
        size_t first = (m.addr - v->start) >> DEVXEN_PAGE_SHIFT;

        if (m.addr + (pages << DEVXEN_PAGE_SHIFT) > v->end) {
            goto unlock;
        }
        for (i = 0; i < pages; i++) {
            if (page_mapped(v, first + i)) {
                goto unlock;
            }
        }
    }
    v->used = true;
    req.arg[0] = m.dom;
    req.arg[1] = v->prot;
    req.arg[2] = pages;
    if (xensim_call(f->conn, &req, gfn, pages * sizeof(*gfn), NULL, slot,
                    pages * sizeof(*slot), NULL, NULL) < 0) {
        ret = -errno;
        goto unlock;
    }
    ret = map_frames(f, v, m.addr, slot, pages);
unlock:
    pthread_mutex_unlock(&devxen_lock);
    if (ret < 0) {
        goto out;
    }

    for (i = 0; i < pages; i++) {
        if (slot[i] < 0) {
            err[i] = slot[i];
            any_err = true;
            enoent |= slot[i] == -ENOENT;
        }
    }
    if (any_err) {
        if (version == 2) {
            ret = devxen_copy_out(m.err, err, pages * sizeof(*err));
        } else {
            for (i = 0; i < pages; i++) {
                if (err[i]) {
                    gfn[i] |= err[i] == -ENOENT ?
                              PRIVCMD_MMAPBATCH_PAGED_ERROR :
                              PRIVCMD_MMAPBATCH_MFN_ERROR;
                }
            }
            ret = devxen_copy_out((void *)m.arr, gfn, pages * sizeof(*gfn));
        }
    }
    if (ret == 0 && enoent) {
        ret = -ENOENT;
    }
out:
    free(gfn);
    free(slot);
    free(err);
    return ret;
}

static int mmap_resource(DevFile *f, privcmd_mmap_resource_t *udata)
{
    privcmd_mmap_resource_t k;
    xen_mem_acquire_resource_t x;
    xen_pfn_t *mfn;
    int64_t *off;
    uint64_t i;
    Vma *v;
    long rc;

    rc = devxen_copy_in(&k, udata, sizeof(k));
    if (rc < 0) {
        return rc;
    }
    if (restricted_to_other(f, k.dom)) {
        return -EPERM;
    }
    if (!!k.addr != !!k.num) {
        return -EINVAL;
    }
    memset(&x, 0, sizeof(x));
    x.domid = k.dom;
    x.type = k.type;
    x.id = k.id;
    if (!k.addr) {
        rc = devxen_hypercall(f, __HYPERVISOR_memory_op,
                              XENMEM_acquire_resource, (uintptr_t)&x, 0, 0,
                              0);
        if (rc) {
            return rc;
        }
        k.num = x.nr_frames;
        return devxen_copy_out(&udata->num, &k.num, sizeof(k.num));
    }
    if (k.num > (1u << 20)) {
        return -EINVAL;
    }
    mfn = calloc(k.num, sizeof(*mfn));
    off = calloc(k.num, sizeof(*off));
    if (!mfn || !off) {
        free(mfn);
        free(off);
        return -ENOMEM;
    }
    pthread_mutex_lock(&devxen_lock);
    v = devxen_vma_find__locked(k.addr);
    rc = -EINVAL;
    if (!v || v->kind != VMA_PRIVCMD || v->file != f ||
        k.addr + (k.num << DEVXEN_PAGE_SHIFT) > v->end) {
        goto out;
    }
    v->used = true;
    v->resource = true;
    x.frame = k.idx;
    x.nr_frames = k.num;
    x.frame_list.p = mfn;
    rc = devxen_hypercall(f, __HYPERVISOR_memory_op, XENMEM_acquire_resource,
                          (uintptr_t)&x, 0, 0, 0);
    if (rc) {
        goto out;
    }
    for (i = 0; i < k.num; i++) {
        off[i] = (int64_t)(mfn[i] << DEVXEN_PAGE_SHIFT);
    }
    rc = map_frames(f, v, k.addr, off, k.num);
out:
    pthread_mutex_unlock(&devxen_lock);
    free(mfn);
    free(off);
    return rc;
}

static int dm_op(DevFile *f, void *udata)
{
    privcmd_dm_op_t k;
    privcmd_dm_op_buf_t kbufs[DM_OP_MAX_BUFS];
    xen_dm_op_buf_t xbufs[DM_OP_MAX_BUFS];
    unsigned i;
    int ret;

    ret = devxen_copy_in(&k, udata, sizeof(k));
    if (ret < 0) {
        return ret;
    }
    if (restricted_to_other(f, k.dom)) {
        return -EPERM;
    }
    if (k.num == 0) {
        return 0;
    }
    if (k.num > DM_OP_MAX_BUFS) {
        return -E2BIG;
    }
    ret = devxen_copy_in(kbufs, k.ubufs, k.num * sizeof(kbufs[0]));
    if (ret < 0) {
        return ret;
    }
    for (i = 0; i < k.num; i++) {
        if (kbufs[i].size > DM_OP_MAX_BUF_SIZE) {
            return -E2BIG;
        }
        xbufs[i].h.p = kbufs[i].uptr;
        xbufs[i].size = kbufs[i].size;
    }
    return devxen_hypercall(f, __HYPERVISOR_dm_op, k.dom, k.num,
                            (uintptr_t)xbufs, 0, 0);
}

/* XENSIM_SHIM_FAULT=restrict: IOCTL_PRIVCMD_RESTRICT is missing. */
static bool restrict_fault(void)
{
    const char *f = getenv("XENSIM_SHIM_FAULT");

    return f && !strcmp(f, "restrict");
}

int privcmd_ioctl(DevFile *f, unsigned long cmd, void *arg)
{
    privcmd_hypercall_t h;
    domid_t dom;
    int ret;

    switch (cmd) {
    case IOCTL_PRIVCMD_HYPERCALL:
        if (f->restrict_domid != DEVXEN_DOMID_NONE) {
            return -EPERM;
        }
        ret = devxen_copy_in(&h, arg, sizeof(h));
        if (ret < 0) {
            return ret;
        }
        return devxen_hypercall(f, h.op, h.arg[0], h.arg[1], h.arg[2],
                                h.arg[3], h.arg[4]);
    case IOCTL_PRIVCMD_MMAPBATCH:
        return mmapbatch(f, arg, 1);
    case IOCTL_PRIVCMD_MMAPBATCH_V2:
        return mmapbatch(f, arg, 2);
    case IOCTL_PRIVCMD_MMAP_RESOURCE:
        return mmap_resource(f, arg);
    case IOCTL_PRIVCMD_DM_OP:
        return dm_op(f, arg);
    case IOCTL_PRIVCMD_RESTRICT:
        if (restrict_fault()) {
            return -ENOTTY;
        }
        ret = devxen_copy_in(&dom, arg, sizeof(dom));
        if (ret < 0) {
            return ret;
        }
        if (f->restrict_domid == DEVXEN_DOMID_NONE) {
            f->restrict_domid = dom;
        } else if (f->restrict_domid != dom) {
            return -EINVAL;
        }
        return 0;
    case IOCTL_PRIVCMD_MMAP:
        return devxen_unsupported(f, "IOCTL_PRIVCMD_MMAP");
    }
    return -ENOTTY;
}

/* --- /dev/xen/hypercall: locked, never-faulting hypercall buffers ------- */

int hypercall_buf_open(DevFile *f)
{
    return devxen_memfd("xen-hypercall", true);
}

void *hypercall_buf_mmap(DevFile *f, void *addr, size_t len, int prot,
                         int flags, off_t off)
{
    void *p;

    if (!(flags & MAP_SHARED) || off) {
        errno = EINVAL;
        return MAP_FAILED;
    }
    p = real_mmap(addr, len, prot,
                  (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) | MAP_SHARED |
                  MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p != MAP_FAILED) {
        madvise(p, len, MADV_DONTFORK);
    }
    return p;
}
