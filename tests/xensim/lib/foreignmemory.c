/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim libxenforeignmemory.so.1: foreign maps of the simulated guest's
 * memory and of ioreq server resources.
 *
 * The hypervisor hands each handle the guest memory memfd once (HELLO);
 * a map asks the hypervisor where each wanted gfn lives in that memfd and
 * then mmaps it locally, one mmap per run of pages that are contiguous in
 * the memfd.  A page the guest does not have is reported in err[]
 * (negative errno) and, as in a Linux privcmd mapping, an access to it
 * raises SIGBUS: it maps an empty memfd, past its end.
 *
 * Invariants:
 *  - Every live mapping made here is in the process-wide registry until
 *    xenforeignmemory_unmap()/unmap_resource() removes it, so an unmap
 *    of something never mapped is caught and reported by name.
 *  - A map either returns an address whose every page is the guest page
 *    it names (or a SIGBUS page with err[i] set), or NULL with
 *    errno set and nothing left mapped.
 *  - Unmapping keeps Xen's return value (that of munmap) even when the
 *    call is reported as a device-model bug.
 *  - Plain munmap() of (part of) a foreign mapping, which is how QEMU's
 *    mapcache releases buckets, updates the registry too (interposed).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <xenforeignmemory.h>

#include "client.h"

struct xenforeignmemory_handle {
    XenSimConn *conn;
    int memfd;              /* guest memory, from HELLO */
};

struct xenforeignmemory_resource_handle {
    void *addr;
    unsigned long nr_frames;
    unsigned int type, id;
};

/* --- registry of live mappings (all handles of the process) ---------- */

/*
 * Sorted by address and non-overlapping (a MAP_FIXED map first forgets
 * what it replaces), so lookups are binary searches: the registry sits on
 * the mapcache's miss path and every munmap() of the process.
 */
typedef struct FmemMapping {
    char *addr;
    size_t pages;
    int is_resource;
    XenSimConn *conn;           /* the handle that made it */
} FmemMapping;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static FmemMapping *registry;
static size_t registry_len, registry_cap;

static int real_munmap(void *addr, size_t len)
{
    return syscall(SYS_munmap, addr, len);
}

static char *mapping_end(const FmemMapping *m)
{
    return m->addr + m->pages * XENSIM_PAGE_SIZE;
}

/* Index of the first mapping that ends after addr.  Lock held. */
static size_t registry_search(const char *addr)
{
    size_t lo = 0, hi = registry_len;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (mapping_end(&registry[mid]) <= addr) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* Insert m at its sorted place.  Lock held. */
static void registry_insert(FmemMapping m)
{
    size_t i;

    if (registry_len == registry_cap) {
        size_t cap = registry_cap ? registry_cap * 2 : 64;
        FmemMapping *n = realloc(registry, cap * sizeof(*n));

        if (!n) {
            return;     /* tracking is a debugging aid, never a failure */
        }
        registry = n;
        registry_cap = cap;
    }
    i = registry_search(m.addr);
    memmove(&registry[i + 1], &registry[i],
            (registry_len - i) * sizeof(*registry));
    registry[i] = m;
    registry_len++;
}

static void registry_remove_at(size_t i)
{
    memmove(&registry[i], &registry[i + 1],
            (registry_len - i - 1) * sizeof(*registry));
    registry_len--;
}


/* Remove the exact mapping [addr, pages); returns 0 or -1 if unknown. */
static int registry_del(void *addr, size_t pages, int is_resource)
{
    size_t i;
    int ret = -1;

    pthread_mutex_lock(&registry_lock);
    i = registry_search(addr);
    if (i < registry_len && registry[i].addr == addr &&
        registry[i].pages == pages &&
        registry[i].is_resource == is_resource) {
        registry_remove_at(i);
        ret = 0;
    }
    pthread_mutex_unlock(&registry_lock);
    return ret;
}

/*
 * [addr, addr + len) is being unmapped or replaced behind our back (plain
 * munmap, mmap MAP_FIXED): trim or drop the mappings it overlaps and tell
 * the hypervisor how many foreign pages went away.
 */
static void registry_forget_range(char *addr, size_t len)
{
    char *end = addr + len;
    size_t i;

    pthread_mutex_lock(&registry_lock);
    i = registry_search(addr);
    while (i < registry_len && registry[i].addr < end) {
        FmemMapping *m = &registry[i];
        char *m_end = mapping_end(m);
        char *from = m->addr > addr ? m->addr : addr;
        char *to = m_end < end ? m_end : end;
        XenSimMsg req = {
            .op = XENSIM_OP_FMEM_UNMAP,
            .arg = { (uintptr_t)from, (to - from) / XENSIM_PAGE_SIZE, 1 },
        };

        xensim_send_oneway(m->conn, &req, NULL, 0);
        if (m->addr < addr && m_end > end) {
            /* Hole in the middle: keep the head, add the tail. */
            FmemMapping tail = *m;

            tail.addr = end;
            tail.pages = (m_end - end) / XENSIM_PAGE_SIZE;
            m->pages = (addr - m->addr) / XENSIM_PAGE_SIZE;
            registry_insert(tail);
            break;
        }
        if (m->addr < addr) {
            m->pages = (addr - m->addr) / XENSIM_PAGE_SIZE;
            i++;
        } else if (m_end > end) {
            m->pages = (m_end - end) / XENSIM_PAGE_SIZE;
            m->addr = end;
            i++;
        } else {
            registry_remove_at(i);
        }
    }
    pthread_mutex_unlock(&registry_lock);
}

static void registry_add(XenSimConn *conn, void *addr, size_t pages,
                         int is_resource)
{
    /* Whatever the registry still has there went away unseen (some
     * mmap/munmap we do not interpose): keep the entries disjoint. */
    registry_forget_range(addr, pages * XENSIM_PAGE_SIZE);
    pthread_mutex_lock(&registry_lock);
    registry_insert((FmemMapping) { addr, pages, is_resource, conn });
    pthread_mutex_unlock(&registry_lock);
}

/* Forget every mapping of a closing handle (the mappings stay valid). */
static void registry_forget_conn(XenSimConn *conn)
{
    size_t i = 0;

    pthread_mutex_lock(&registry_lock);
    while (i < registry_len) {
        if (registry[i].conn == conn) {
            registry_remove_at(i);
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&registry_lock);
}

/*
 * QEMU's mapcache releases foreign maps with plain munmap(), never with
 * xenforeignmemory_unmap().  This library therefore interposes munmap
 * (under glibc's version node, see xenforeignmemory.map) so the registry
 * and the hypervisor's unmap counters stay true.  Everything else passes
 * straight to the kernel.
 */
int munmap(void *addr, size_t len)
{
    if (__atomic_load_n(&registry_len, __ATOMIC_RELAXED)) {
        registry_forget_range(addr, len);
    }
    return real_munmap(addr, len);
}

/* --- handle ----------------------------------------------------------- */

xenforeignmemory_handle *xenforeignmemory_open(struct xentoollog_logger *logger,
                                               unsigned open_flags)
{
    xenforeignmemory_handle *fmem = calloc(1, sizeof(*fmem));
    int fds[1];
    unsigned nfds = 1;

    if (!fmem) {
        return NULL;
    }
    fmem->conn = xensim_conn_open(XENSIM_LIB_FMEM, fds, &nfds);
    if (!fmem->conn || nfds != 1) {
        int e = fmem->conn ? EPROTO : errno;

        xensim_conn_close(fmem->conn);
        free(fmem);
        errno = e;
        return NULL;
    }
    fmem->memfd = fds[0];
    return fmem;
}

int xenforeignmemory_close(xenforeignmemory_handle *fmem)
{
    if (fmem) {
        registry_forget_conn(fmem->conn);
        close(fmem->memfd);
        xensim_conn_close(fmem->conn);
        free(fmem);
    }
    return 0;
}

int xenforeignmemory_restrict(xenforeignmemory_handle *fmem, domid_t domid)
{
    return 0;
}

/* --- guest pages ------------------------------------------------------ */

/* mmap the runs of valid slots over the reserved area at base. */
static int map_runs(xenforeignmemory_handle *fmem, char *base, int prot,
                    size_t pages, const int64_t *slot)
{
    size_t i = 0;

    while (i < pages) {
        size_t run = 1;

        if (slot[i] < 0) {
            i++;
            continue;
        }
        while (i + run < pages && slot[i + run] >= 0 &&
               slot[i + run] == slot[i] + (int64_t)(run * XENSIM_PAGE_SIZE)) {
            run++;
        }
        if (mmap(base + i * XENSIM_PAGE_SIZE, run * XENSIM_PAGE_SIZE, prot,
                 MAP_SHARED | MAP_FIXED, fmem->memfd, slot[i]) == MAP_FAILED) {
            return -1;
        }
        i += run;
    }
    return 0;
}

/* Pages that fail in err[]: an access raises SIGBUS, as privcmd's. */
static int map_sigbus_pages(char *base, int prot, size_t pages,
                            const int64_t *slot)
{
    static int empty_fd = -1;
    size_t i, run;

    for (i = 0; i < pages; i += run) {
        for (run = 0; i + run < pages && slot[i + run] < 0; run++) {
            continue;
        }
        if (!run) {
            run = 1;
            continue;
        }
        if (__atomic_load_n(&empty_fd, __ATOMIC_ACQUIRE) < 0) {
            int fd = syscall(SYS_memfd_create, "xensim-err-page",
                             MFD_CLOEXEC);
            int none = -1;

            if (fd < 0) {
                return -1;
            }
            if (!__atomic_compare_exchange_n(&empty_fd, &none, fd, 0,
                                             __ATOMIC_ACQ_REL,
                                             __ATOMIC_ACQUIRE)) {
                close(fd);
            }
        }
        if (mmap(base + i * XENSIM_PAGE_SIZE, run * XENSIM_PAGE_SIZE,
                 prot, MAP_SHARED | MAP_FIXED, empty_fd, 0) == MAP_FAILED) {
            return -1;
        }
    }
    return 0;
}

void *xenforeignmemory_map2(xenforeignmemory_handle *fmem, uint32_t dom,
                            void *addr, int prot, int flags, size_t pages,
                            const xen_pfn_t arr[], int err[])
{
    XenSimMsg req = {
        .op = XENSIM_OP_FMEM_MAP,
        .arg = { dom, (uint32_t)prot, pages },
    };
    size_t bytes = pages * sizeof(int64_t);
    int64_t *slot;
    char *base;
    size_t i;
    int e;

    if (!pages || bytes / sizeof(int64_t) != pages ||
        bytes > XENSIM_MAX_PAYLOAD) {
        errno = pages ? E2BIG : EINVAL;
        return NULL;
    }
    slot = malloc(bytes);
    if (!slot) {
        return NULL;
    }
    if (xensim_call(fmem->conn, &req, arr, pages * sizeof(xen_pfn_t), NULL,
                    slot, bytes, NULL, NULL) < 0) {
        e = errno;
        goto fail_free;
    }
    if (!err) {
        /* Without err[] any failed page fails the whole map. */
        for (i = 0; i < pages; i++) {
            if (slot[i] < 0) {
                e = (int)-slot[i];
                goto fail_free;
            }
        }
    }
    if (flags & MAP_FIXED) {
        /* Replaces whatever was mapped there, foreign maps included. */
        registry_forget_range(addr, pages * XENSIM_PAGE_SIZE);
    }
    base = mmap(addr, pages * XENSIM_PAGE_SIZE, PROT_NONE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
                (flags & MAP_FIXED), -1, 0);
    if (base == MAP_FAILED) {
        e = errno;
        goto fail_free;
    }
    if (map_runs(fmem, base, prot, pages, slot) < 0 ||
        map_sigbus_pages(base, prot, pages, slot) < 0) {
        e = errno;
        real_munmap(base, pages * XENSIM_PAGE_SIZE);
        goto fail_free;
    }
    if (err) {
        for (i = 0; i < pages; i++) {
            err[i] = slot[i] < 0 ? (int)slot[i] : 0;
        }
    }
    free(slot);
    registry_add(fmem->conn, base, pages, 0);
    return base;

fail_free:
    free(slot);
    errno = e;
    return NULL;
}

void *xenforeignmemory_map(xenforeignmemory_handle *fmem, uint32_t dom,
                           int prot, size_t pages, const xen_pfn_t arr[],
                           int err[])
{
    return xenforeignmemory_map2(fmem, dom, NULL, prot, 0, pages, arr, err);
}

int xenforeignmemory_unmap(xenforeignmemory_handle *fmem, void *addr,
                           size_t pages)
{
    XenSimMsg req = {
        .op = XENSIM_OP_FMEM_UNMAP,
        .arg = { (uintptr_t)addr, pages, 0 },
    };

    if (registry_del(addr, pages, 0) < 0) {
        xensim_report(fmem->conn, "xenforeignmemory_unmap(%p, %zu pages) "
                      "of something never mapped", addr, pages);
    } else {
        xensim_send_oneway(fmem->conn, &req, NULL, 0);
    }
    return real_munmap(addr, pages * XENSIM_PAGE_SIZE);
}

/* --- resources -------------------------------------------------------- */

xenforeignmemory_resource_handle *xenforeignmemory_map_resource(
    xenforeignmemory_handle *fmem, domid_t domid, unsigned int type,
    unsigned int id, unsigned long frame, unsigned long nr_frames,
    void **paddr, int prot, int flags)
{
    XenSimMsg req = {
        .op = XENSIM_OP_FMEM_MAP_RESOURCE,
        .arg = { domid, type, id, frame, nr_frames },
    }, rsp;
    xenforeignmemory_resource_handle *fres;
    int fd = -1;
    unsigned nfds = 1;
    void *addr;
    int e;

    if (!nr_frames) {
        errno = EINVAL;
        return NULL;
    }
    if (xensim_call(fmem->conn, &req, NULL, 0, &rsp, NULL, 0, &fd,
                    &nfds) < 0) {
        return NULL;
    }
    if (nfds != 1) {
        errno = EPROTO;
        return NULL;
    }
    fres = calloc(1, sizeof(*fres));
    if (!fres) {
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    addr = mmap(*paddr, nr_frames * XENSIM_PAGE_SIZE, prot,
                MAP_SHARED | flags, fd, rsp.arg[0]);
    e = errno;
    close(fd);
    if (addr == MAP_FAILED) {
        free(fres);
        errno = e;
        return NULL;
    }
    fres->addr = addr;
    fres->nr_frames = nr_frames;
    fres->type = type;
    fres->id = id;
    *paddr = addr;
    registry_add(fmem->conn, addr, nr_frames, 1);
    return fres;
}

int xenforeignmemory_unmap_resource(xenforeignmemory_handle *fmem,
                                    xenforeignmemory_resource_handle *fres)
{
    XenSimMsg req = { .op = XENSIM_OP_FMEM_UNMAP_RESOURCE };
    int ret;

    if (!fres) {
        return 0;
    }
    req.arg[0] = (uintptr_t)fres->addr;
    req.arg[1] = fres->nr_frames;
    if (registry_del(fres->addr, fres->nr_frames, 1) < 0) {
        xensim_report(fmem->conn, "xenforeignmemory_unmap_resource of "
                      "resource type %u id %u at %p: not mapped",
                      fres->type, fres->id, fres->addr);
    } else {
        xensim_send_oneway(fmem->conn, &req, NULL, 0);
    }
    ret = real_munmap(fres->addr, fres->nr_frames * XENSIM_PAGE_SIZE);
    free(fres);
    return ret;
}

int xenforeignmemory_resource_size(xenforeignmemory_handle *fmem,
                                   domid_t domid, unsigned int type,
                                   unsigned int id, size_t *size)
{
    XenSimMsg req = {
        .op = XENSIM_OP_FMEM_MAP_RESOURCE,
        .arg = { domid, type, id, 0, 0 },
    }, rsp;

    /* nr_frames == 0 is the size query, as in Xen's acquire_resource. */
    if (xensim_call(fmem->conn, &req, NULL, 0, &rsp, NULL, 0, NULL,
                    NULL) < 0) {
        return -1;
    }
    *size = rsp.arg[1] * XENSIM_PAGE_SIZE;
    return 0;
}
