/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim devxen shim: the interposed libc entry points, the table of
 * open device files and the table of device mappings (see devxen.h).
 *
 * Invariants: a call on an fd or address range the shim does not own
 * goes to libc unchanged (one bounds check and a NULL test on the fast
 * path, no lock); files[] and vmas[] change only under devxen_lock; a
 * MAP_FIXED mmap or a munmap over device mappings drops them from
 * vmas[] in the same devxen_lock section as libc's call, and a device
 * mmap adds its record in the same section as its own mmap, so vmas[]
 * always describes the address space as the kernel's VMAs would.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "devxen.h"

#define FD_SLOTS    65536

pthread_mutex_t devxen_lock = PTHREAD_MUTEX_INITIALIZER;
int (*real_close)(int);
void *(*real_mmap)(void *, size_t, int, int, int, off_t);
int (*real_munmap)(void *, size_t);
ssize_t (*real_read)(int, void *, size_t);
ssize_t (*real_write)(int, const void *, size_t);
static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_ioctl)(int, unsigned long, ...);
static int (*real_dup2)(int, int);
static int (*real_dup3)(int, int, int);

static DevFile *files[FD_SLOTS];
static Vma *vmas;               /* sorted by start, never overlapping */
static unsigned nr_vmas, cap_vmas;

static void resolve(void)
{
    if (real_close) {
        return;
    }
    real_open = dlsym(RTLD_NEXT, "open");
    real_openat = dlsym(RTLD_NEXT, "openat");
    real_ioctl = dlsym(RTLD_NEXT, "ioctl");
    real_mmap = dlsym(RTLD_NEXT, "mmap");
    real_munmap = dlsym(RTLD_NEXT, "munmap");
    real_read = dlsym(RTLD_NEXT, "read");
    real_write = dlsym(RTLD_NEXT, "write");
    real_dup2 = dlsym(RTLD_NEXT, "dup2");
    real_dup3 = dlsym(RTLD_NEXT, "dup3");
    __atomic_store_n(&real_close, dlsym(RTLD_NEXT, "close"),
                     __ATOMIC_RELEASE);
}

/*
 * This process's pid, for process_vm_readv/writev on itself: glibc makes
 * getpid() a system call each time, and a copy per evtchn call should
 * cost what copy_from_user costs, not three system calls.
 */
static pid_t shim_pid;

static void shim_pid_reset(void)
{
    shim_pid = getpid();
}

__attribute__((constructor)) static void shim_init(void)
{
    resolve();
    shim_pid_reset();
    pthread_atfork(NULL, NULL, shim_pid_reset);
    /*
     * The hv reads and writes hypercall buffers in this process: under
     * Yama's ptrace_scope 1 only a ptracer this process names may (the
     * hv is no ancestor of it).  Without Yama this is a no-op.
     */
    prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
}

/* --- helpers ------------------------------------------------------------ */

int devxen_copy_in(void *dst, const void *usrc, size_t len)
{
    struct iovec l = { dst, len }, r = { (void *)usrc, len };

    if (!len) {
        return 0;
    }
    return process_vm_readv(shim_pid, &l, 1, &r, 1, 0) == (ssize_t)len ?
           0 : -EFAULT;
}

int devxen_copy_out(void *udst, const void *src, size_t len)
{
    struct iovec l = { (void *)src, len }, r = { udst, len };

    if (!len) {
        return 0;
    }
    return process_vm_writev(shim_pid, &l, 1, &r, 1, 0) == (ssize_t)len ?
           0 : -EFAULT;
}

int devxen_memfd(const char *name, bool cloexec)
{
    return memfd_create(name, cloexec ? MFD_CLOEXEC : 0);
}

int devxen_unsupported(DevFile *f, const char *what)
{
    char text[96];

    snprintf(text, sizeof(text), "kernel: %s", what);
    xensim_unsupported(f->conn, text);
    return -ENOSYS;
}

long devxen_hypercall(DevFile *f, unsigned op, uint64_t a0, uint64_t a1,
                      uint64_t a2, uint64_t a3, uint64_t a4)
{
    uint64_t call[6] = { op, a0, a1, a2, a3, a4 };
    XenSimMsg req = { .op = XENSIM_OP_HYPERCALL, .arg = { shim_pid } };
    XenSimMsg rsp;

    if (xensim_call(f->conn, &req, call, sizeof(call), &rsp, NULL, 0,
                    NULL, NULL) < 0) {
        return -errno;
    }
    return (long)rsp.arg[0];
}

/* --- mappings ------------------------------------------------------------ */

/* Index of the first VMA whose end is > addr. */
static unsigned vma_search(uintptr_t addr)
{
    unsigned lo = 0, hi = nr_vmas;

    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;

        if (vmas[mid].end <= addr) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

Vma *devxen_vma_find__locked(uintptr_t addr)
{
    unsigned i = vma_search(addr);

    return i < nr_vmas && vmas[i].start <= addr ? &vmas[i] : NULL;
}

int devxen_vma_add__locked(const Vma *v)
{
    unsigned i;

    devxen_vma_drop_range__locked(v->start, v->end);
    if (nr_vmas == cap_vmas) {
        unsigned cap = cap_vmas ? cap_vmas * 2 : 64;
        Vma *n = realloc(vmas, cap * sizeof(*n));

        if (!n) {
            return -ENOMEM;
        }
        vmas = n;
        cap_vmas = cap;
    }
    i = vma_search(v->start);
    memmove(&vmas[i + 1], &vmas[i], (nr_vmas - i) * sizeof(*vmas));
    vmas[i] = *v;
    nr_vmas++;
    v->file->refs++;
    return 0;
}

static void vma_gone(Vma *v, uintptr_t start, uintptr_t end)
{
    if (v->kind == VMA_PRIVCMD) {
        privcmd_vma_gone(v, start, end);
    }
}

/* Split v at addr (start < addr < end): v keeps the low part. */
static int vma_split__locked(unsigned i, uintptr_t addr)
{
    Vma hi = vmas[i];
    size_t lo_pages = (addr - vmas[i].start) >> DEVXEN_PAGE_SHIFT;
    size_t hi_pages = (hi.end - addr) >> DEVXEN_PAGE_SHIFT;
    size_t b;

    hi.start = addr;
    hi.mapped = NULL;
    if (vmas[i].mapped) {
        hi.mapped = calloc((hi_pages + 7) / 8, 1);
        if (!hi.mapped) {
            return -ENOMEM;
        }
        for (b = 0; b < hi_pages; b++) {
            if (vmas[i].mapped[(lo_pages + b) / 8] &
                (1u << ((lo_pages + b) % 8))) {
                hi.mapped[b / 8] |= 1u << (b % 8);
            }
        }
    }
    vmas[i].end = addr;
    return devxen_vma_add__locked(&hi);
}

void devxen_vma_drop_range__locked(uintptr_t start, uintptr_t end)
{
    unsigned i = vma_search(start);

    while (i < nr_vmas && vmas[i].start < end) {
        Vma *v = &vmas[i];

        if (v->start < start) {
            if (vma_split__locked(i, start) < 0) {
                return;
            }
            i++;
            continue;
        }
        if (v->end > end) {
            if (vma_split__locked(i, end) < 0) {
                return;
            }
            continue;
        }
        vma_gone(v, v->start, v->end);
        free(v->mapped);
        devxen_file_put__locked(v->file);
        memmove(v, v + 1, (nr_vmas - i - 1) * sizeof(*vmas));
        nr_vmas--;
    }
}

/* --- device files -------------------------------------------------------- */

void devxen_file_put__locked(DevFile *f)
{
    if (--f->refs) {
        return;
    }
    if (f->kind == DEV_GNTDEV) {
        gntdev_release(f);
    }
    if (f->memfd >= 0) {
        real_close(f->memfd);
    }
    xensim_conn_close(f->conn);
    free(f->bound);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

static DevFile *file_get(int fd)
{
    DevFile *f;

    if (fd < 0 || fd >= FD_SLOTS ||
        !__atomic_load_n(&files[fd], __ATOMIC_ACQUIRE)) {
        return NULL;
    }
    pthread_mutex_lock(&devxen_lock);
    f = files[fd];
    if (f) {
        f->refs++;
    }
    pthread_mutex_unlock(&devxen_lock);
    return f;
}

static void file_put(DevFile *f)
{
    pthread_mutex_lock(&devxen_lock);
    devxen_file_put__locked(f);
    pthread_mutex_unlock(&devxen_lock);
}

/* The fd is going away (close, or dup2/dup3 onto it). */
static void file_forget(int fd)
{
    DevFile *f;

    if (fd < 0 || fd >= FD_SLOTS ||
        !__atomic_load_n(&files[fd], __ATOMIC_ACQUIRE)) {
        return;
    }
    pthread_mutex_lock(&devxen_lock);
    f = files[fd];
    files[fd] = NULL;
    if (f) {
        f->fd = -1;
        devxen_file_put__locked(f);
    }
    pthread_mutex_unlock(&devxen_lock);
}

static DevKind device_kind(const char *path)
{
    static const struct {
        const char *path;
        DevKind kind;
    } devs[] = {
        { "/dev/xen/privcmd", DEV_PRIVCMD },
        { "/dev/xen/hypercall", DEV_HYPERCALL },
        { "/dev/xen/evtchn", DEV_EVTCHN },
        { "/dev/xen/gntdev", DEV_GNTDEV },
        { "/dev/xen/gntalloc", DEV_GNTALLOC },
    };
    unsigned i;

    if (!path || strncmp(path, "/dev/xen/", 9)) {
        return 0;
    }
    for (i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
        if (!strcmp(path, devs[i].path)) {
            return devs[i].kind;
        }
    }
    return 0;
}

static int device_open(DevKind kind, int oflags)
{
    DevFile *f = calloc(1, sizeof(*f));
    int fd, e;

    if (!f) {
        errno = ENOMEM;
        return -1;
    }
    f->kind = kind;
    f->memfd = -1;
    f->restrict_domid = DEVXEN_DOMID_NONE;
    f->refs = 1;
    pthread_mutex_init(&f->lock, NULL);
    switch (kind) {
    case DEV_PRIVCMD:
        fd = privcmd_open(f);
        break;
    case DEV_HYPERCALL:
        fd = hypercall_buf_open(f);
        break;
    case DEV_EVTCHN:
        fd = evtchn_open(f, oflags);
        break;
    case DEV_GNTDEV:
        fd = gntdev_open(f);
        break;
    default:
        fd = gntalloc_open(f);
        break;
    }
    if (fd >= 0 && fd >= FD_SLOTS) {
        real_close(fd);
        fd = -EMFILE;
    }
    if (fd < 0) {
        e = -fd;
        if (f->memfd >= 0) {
            real_close(f->memfd);
        }
        xensim_conn_close(f->conn);
        free(f->bound);
        free(f);
        errno = e;
        return -1;
    }
    if (!(oflags & O_CLOEXEC)) {
        fcntl(fd, F_SETFD, 0);
    }
    f->fd = fd;
    pthread_mutex_lock(&devxen_lock);
    __atomic_store_n(&files[fd], f, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&devxen_lock);
    return fd;
}

/* --- interposed entry points --------------------------------------------- */

#define EXPORT __attribute__((visibility("default")))

static int open_common(int dirfd, const char *path, int oflags, mode_t mode)
{
    DevKind kind;

    resolve();
    kind = device_kind(path);
    if (kind) {
        return device_open(kind, oflags);
    }
    if (dirfd == AT_FDCWD) {
        return real_open(path, oflags, mode);
    }
    return real_openat(dirfd, path, oflags, mode);
}

static mode_t open_mode(int oflags, va_list ap)
{
    return (oflags & O_CREAT) || (oflags & O_TMPFILE) == O_TMPFILE ?
           va_arg(ap, mode_t) : 0;
}

EXPORT int open(const char *path, int oflags, ...)
{
    va_list ap;
    mode_t mode;

    va_start(ap, oflags);
    mode = open_mode(oflags, ap);
    va_end(ap);
    return open_common(AT_FDCWD, path, oflags, mode);
}

EXPORT int open64(const char *path, int oflags, ...)
{
    va_list ap;
    mode_t mode;

    va_start(ap, oflags);
    mode = open_mode(oflags, ap);
    va_end(ap);
    return open_common(AT_FDCWD, path, oflags, mode);
}

EXPORT int __open_2(const char *path, int oflags)
{
    return open_common(AT_FDCWD, path, oflags, 0);
}

EXPORT int __open64_2(const char *path, int oflags)
{
    return open_common(AT_FDCWD, path, oflags, 0);
}

EXPORT int openat(int dirfd, const char *path, int oflags, ...)
{
    va_list ap;
    mode_t mode;

    va_start(ap, oflags);
    mode = open_mode(oflags, ap);
    va_end(ap);
    return open_common(dirfd, path, oflags, mode);
}

EXPORT int openat64(int dirfd, const char *path, int oflags, ...)
{
    va_list ap;
    mode_t mode;

    va_start(ap, oflags);
    mode = open_mode(oflags, ap);
    va_end(ap);
    return open_common(dirfd, path, oflags, mode);
}

EXPORT int __openat_2(int dirfd, const char *path, int oflags)
{
    return open_common(dirfd, path, oflags, 0);
}

EXPORT int __openat64_2(int dirfd, const char *path, int oflags)
{
    return open_common(dirfd, path, oflags, 0);
}

EXPORT int close(int fd)
{
    int e;

    resolve();
    e = errno;
    file_forget(fd);
    errno = e;
    return real_close(fd);
}

EXPORT int dup2(int oldfd, int newfd)
{
    resolve();
    if (oldfd != newfd) {
        file_forget(newfd);
    }
    return real_dup2(oldfd, newfd);
}

EXPORT int dup3(int oldfd, int newfd, int flags)
{
    resolve();
    if (oldfd != newfd) {
        file_forget(newfd);
    }
    return real_dup3(oldfd, newfd, flags);
}

EXPORT int ioctl(int fd, unsigned long cmd, ...)
{
    DevFile *f;
    va_list ap;
    void *arg;
    int ret;

    va_start(ap, cmd);
    arg = va_arg(ap, void *);
    va_end(ap);
    resolve();
    f = file_get(fd);
    if (!f) {
        return real_ioctl(fd, cmd, arg);
    }
    switch (f->kind) {
    case DEV_PRIVCMD:
        ret = privcmd_ioctl(f, cmd, arg);
        break;
    case DEV_EVTCHN:
        ret = evtchn_ioctl(f, cmd, arg);
        break;
    case DEV_GNTDEV:
        ret = gntdev_ioctl(f, cmd, arg);
        break;
    case DEV_GNTALLOC:
        ret = gntalloc_ioctl(f, cmd, arg);
        break;
    default:
        ret = -ENOTTY;
        break;
    }
    file_put(f);
    if (ret < 0) {
        errno = -ret;
        return -1;
    }
    return ret;
}

static void *mmap_common(void *addr, size_t len, int prot, int flags, int fd,
                         off_t off)
{
    DevFile *f;
    void *p;

    resolve();
    f = (flags & MAP_ANONYMOUS) ? NULL : file_get(fd);
    if (!f) {
        if (!(flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) ||
            !__atomic_load_n(&nr_vmas, __ATOMIC_RELAXED)) {
            return real_mmap(addr, len, prot, flags, fd, off);
        }
        /* Replacing pages: no device mmap may reuse them in between. */
        pthread_mutex_lock(&devxen_lock);
        p = real_mmap(addr, len, prot, flags, fd, off);
        if (p != MAP_FAILED) {
            int e = errno;

            devxen_vma_drop_range__locked((uintptr_t)p, (uintptr_t)p + len);
            errno = e;
        }
        pthread_mutex_unlock(&devxen_lock);
        return p;
    }
    switch (f->kind) {
    case DEV_PRIVCMD:
        p = privcmd_mmap(f, addr, len, prot, flags, off);
        break;
    case DEV_HYPERCALL:
        p = hypercall_buf_mmap(f, addr, len, prot, flags, off);
        break;
    case DEV_GNTDEV:
        p = gntdev_mmap(f, addr, len, prot, flags, off);
        break;
    default:
        errno = ENODEV;
        p = MAP_FAILED;
        break;
    }
    file_put(f);
    return p;
}

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off)
{
    return mmap_common(addr, len, prot, flags, fd, off);
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd,
                    off_t off)
{
    return mmap_common(addr, len, prot, flags, fd, off);
}

EXPORT int munmap(void *addr, size_t len)
{
    int ret;

    resolve();
    if (!__atomic_load_n(&nr_vmas, __ATOMIC_RELAXED)) {
        return real_munmap(addr, len);
    }
    /*
     * Unmap and forget under the lock, so that a device mmap in another
     * thread cannot get these pages between the two and lose its record.
     */
    pthread_mutex_lock(&devxen_lock);
    ret = real_munmap(addr, len);
    if (ret == 0) {
        uintptr_t end = ((uintptr_t)addr + len + DEVXEN_PAGE_SIZE - 1) &
                        ~(DEVXEN_PAGE_SIZE - 1);
        int e = errno;      /* callers rely on a kept errno (map2) */

        devxen_vma_drop_range__locked((uintptr_t)addr, end);
        errno = e;
    }
    pthread_mutex_unlock(&devxen_lock);
    return ret;
}

EXPORT ssize_t read(int fd, void *buf, size_t count)
{
    DevFile *f;
    ssize_t ret;

    resolve();
    f = file_get(fd);
    if (!f) {
        return real_read(fd, buf, count);
    }
    ret = f->kind == DEV_EVTCHN ? evtchn_read(f, buf, count) : -EINVAL;
    file_put(f);
    if (ret < 0) {
        errno = -ret;
        return -1;
    }
    return ret;
}

EXPORT ssize_t write(int fd, const void *buf, size_t count)
{
    DevFile *f;
    ssize_t ret;

    resolve();
    f = file_get(fd);
    if (!f) {
        return real_write(fd, buf, count);
    }
    ret = f->kind == DEV_EVTCHN ? evtchn_write(f, buf, count) : -EINVAL;
    file_put(f);
    if (ret < 0) {
        errno = -ret;
        return -1;
    }
    return ret;
}
