/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim devxen shim: the Linux /dev/xen interface (privcmd, hypercall,
 * evtchn, gntdev, gntalloc) simulated inside the calling process, so
 * that Debian's own Xen libraries run unchanged against xensim-hv.
 *
 * The shim plays the dom0 kernel; xensim-hv plays Xen.  It is loaded
 * with LD_PRELOAD and interposes open/close/ioctl/mmap/munmap/read/write
 * /dup2/dup3 (the libraries call them through the PLT; none of Debian's
 * libxen* uses syscall(2) for these, so nothing bypasses the shim).
 *
 * Invariants:
 *  - An open device file is a DevFile: the fd the application holds
 *    (a memfd, or for evtchn the event socket the hv writes pending
 *    ports to) plus a private connection to the hv that the application
 *    never sees.  The application's fd is never the connection, so
 *    nothing it reads or writes can break the protocol.
 *  - A DevFile lives while its fd is open or a mapping made through it
 *    exists (as a struct file lives while a VMA holds it).
 *  - Foreign mappings are MAP_SHARED mmaps of the hv's guest-RAM memfd
 *    (the simulated machine memory: mfn = memfd offset / 4 KiB) over a
 *    placeholder mmap of an empty memfd, so a page that failed to map
 *    raises SIGBUS when touched, as privcmd's fault handler does.
 *  - Hypercalls are forwarded with the caller's pid; the hv reads and
 *    writes the buffers they point to in this process itself
 *    (process_vm_readv/writev), as Xen copies from and to dom0.
 *  - Nothing here exits or aborts: errors are -1/errno as the kernel's.
 */
#ifndef XENSIM_DEVXEN_H
#define XENSIM_DEVXEN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../lib/client.h"

#define DEVXEN_PAGE_SIZE    4096ul
#define DEVXEN_PAGE_SHIFT   12
/* Ports the evtchn device accepts (the FIFO ABI's limit). */
#define DEVXEN_NR_PORTS     (1u << 17)
#define DEVXEN_DOMID_NONE   0xffffu     /* no restriction */

typedef enum DevKind {
    DEV_PRIVCMD = 1,
    DEV_HYPERCALL,
    DEV_EVTCHN,
    DEV_GNTDEV,
    DEV_GNTALLOC,
} DevKind;

typedef struct GntMapping GntMapping;

typedef struct DevFile {
    DevKind kind;
    int fd;                     /* what the application holds; -1 closed */
    XenSimConn *conn;           /* to the hv */
    unsigned refs;              /* the fd + mappings; under devxen_lock */
    uint16_t restrict_domid;    /* privcmd/evtchn restriction */
    int memfd;                  /* privcmd: machine memory */
    uint8_t *bound;             /* evtchn: bitmap of ports bound here */
    pthread_mutex_t lock;       /* evtchn bind state, gntdev maps */
    GntMapping *gnt;            /* gntdev: grant maps */
    uint64_t gnt_next_index;
} DevFile;

/* A mapping made with mmap() on a device fd. */
typedef enum VmaKind {
    VMA_PRIVCMD,                /* placeholder or foreign/resource pages */
    VMA_GNTDEV,
} VmaKind;

typedef struct Vma {
    uintptr_t start, end;       /* [start, end) */
    VmaKind kind;
    DevFile *file;
    int prot;
    bool used;                  /* privcmd: a batch/resource filled it */
    bool resource;              /* filled by MMAP_RESOURCE */
    uint8_t *mapped;            /* privcmd: one bit per page that maps */
} Vma;

/* shim.c: the real libc entry points and shared helpers */
extern pthread_mutex_t devxen_lock;
extern int (*real_close)(int);
extern void *(*real_mmap)(void *, size_t, int, int, int, off_t);
extern int (*real_munmap)(void *, size_t);
extern ssize_t (*real_read)(int, void *, size_t);
extern ssize_t (*real_write)(int, const void *, size_t);

/* Copy from/to this process's memory, failing with -EFAULT as
 * copy_from_user() does instead of faulting. */
int devxen_copy_in(void *dst, const void *usrc, size_t len);
int devxen_copy_out(void *udst, const void *src, size_t len);

/* An empty memfd named name, close-on-exec when cloexec. */
int devxen_memfd(const char *name, bool cloexec);

/* Report a kernel feature the shim does not simulate: counted by the
 * hv as an unsupported call; returns -ENOSYS. */
int devxen_unsupported(DevFile *f, const char *what);

/* Forward one hypercall (op, args) to the hv; returns its result or
 * -errno. */
long devxen_hypercall(DevFile *f, unsigned op, uint64_t a0, uint64_t a1,
                      uint64_t a2, uint64_t a3, uint64_t a4);

/* VMA bookkeeping; callers hold devxen_lock. */
Vma *devxen_vma_find__locked(uintptr_t addr);
int devxen_vma_add__locked(const Vma *v);
void devxen_vma_drop_range__locked(uintptr_t start, uintptr_t end);
void devxen_file_put__locked(DevFile *f);

/* privcmd.c */
int privcmd_open(DevFile *f);
int privcmd_ioctl(DevFile *f, unsigned long cmd, void *arg);
void *privcmd_mmap(DevFile *f, void *addr, size_t len, int prot, int flags,
                   off_t off);
void privcmd_vma_gone(const Vma *v, uintptr_t start, uintptr_t end);
int hypercall_buf_open(DevFile *f);
void *hypercall_buf_mmap(DevFile *f, void *addr, size_t len, int prot,
                         int flags, off_t off);

/* evtchn.c */
int evtchn_open(DevFile *f, int oflags);
int evtchn_ioctl(DevFile *f, unsigned long cmd, void *arg);
ssize_t evtchn_read(DevFile *f, void *buf, size_t count);
ssize_t evtchn_write(DevFile *f, const void *buf, size_t count);

/* gntdev.c */
int gntdev_open(DevFile *f);
int gntdev_ioctl(DevFile *f, unsigned long cmd, void *arg);
void *gntdev_mmap(DevFile *f, void *addr, size_t len, int prot, int flags,
                  off_t off);
void gntdev_release(DevFile *f);
int gntalloc_open(DevFile *f);
int gntalloc_ioctl(DevFile *f, unsigned long cmd, void *arg);

#endif /* XENSIM_DEVXEN_H */
