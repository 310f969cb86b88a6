/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim-hv guest memory as the guest sees it (vcpu.h): RAM read and
 * written directly, and guest-physical ranges split into RAM runs and
 * MMIO accesses (those go through vcpu.c as ioreqs).
 *
 * Invariants: a RAM access never reaches the device model; writes to
 * HVMMEM_ram_ro pages are dropped and every written page is marked
 * dirty for track_dirty_vram; an unpopulated page fails with -EFAULT.
 */
#include <errno.h>
#include <string.h>

#include "hv.h"
#include "vcpu.h"

#include <xen/hvm/hvm_op.h>

/* hv.lock held */
int hv_ram_rw_locked(uint64_t gpa, void *buf, size_t len, bool is_write)
{
    char *p = buf;

    while (len) {
        uint64_t gfn = gpa >> XENSIM_PAGE_SHIFT;
        size_t in_page = XENSIM_PAGE_SIZE - (gpa & (XENSIM_PAGE_SIZE - 1));
        size_t chunk = len < in_page ? len : in_page;
        char *host = hv_gfn_ptr(gfn);

        if (!host) {
            return -EFAULT;
        }
        host += gpa & (XENSIM_PAGE_SIZE - 1);
        if (!is_write) {
            memcpy(p, host, chunk);
        } else if (hv_mem_type(gfn) != HVMMEM_ram_ro) {
            memcpy(host, p, chunk);
            hv_mark_dirty(gfn);
        }
        gpa += chunk;
        p += chunk;
        len -= chunk;
    }
    return 0;
}

int xensim_ram_read(uint64_t gpa, void *buf, size_t len)
{
    int ret;

    pthread_mutex_lock(&hv.lock);
    ret = hv_ram_rw_locked(gpa, buf, len, false);
    pthread_mutex_unlock(&hv.lock);
    return ret;
}

int xensim_ram_write(uint64_t gpa, const void *buf, size_t len)
{
    int ret;

    pthread_mutex_lock(&hv.lock);
    ret = hv_ram_rw_locked(gpa, (void *)buf, len, true);
    pthread_mutex_unlock(&hv.lock);
    return ret;
}

/* Largest naturally aligned access of at most 8 bytes at gpa in len. */
static unsigned piece_size(uint64_t gpa, size_t len)
{
    unsigned size = 8;

    while (size > len || (gpa & (size - 1))) {
        size /= 2;
    }
    return size;
}

int xensim_mem_rw(unsigned cpu, uint64_t gpa, void *buf, size_t len,
                  bool is_write)
{
    char *p = buf;

    while (len) {
        size_t in_page = XENSIM_PAGE_SIZE - (gpa & (XENSIM_PAGE_SIZE - 1));
        size_t chunk = len < in_page ? len : in_page;
        bool ram;
        int ret;

        pthread_mutex_lock(&hv.lock);
        ram = hv_gfn_ptr(gpa >> XENSIM_PAGE_SHIFT) != NULL;
        if (ram) {
            ret = hv_ram_rw_locked(gpa, p, chunk, is_write);
        }
        pthread_mutex_unlock(&hv.lock);
        if (!ram) {
            unsigned size = piece_size(gpa, chunk);
            uint64_t v = 0;

            chunk = size;
            if (is_write) {
                memcpy(&v, p, size);
            }
            ret = xensim_mmio(cpu, gpa, size, is_write, &v);
            if (!is_write) {
                memcpy(p, &v, size);
            }
        }
        if (ret < 0) {
            return ret;
        }
        gpa += chunk;
        p += chunk;
        len -= chunk;
    }
    return 0;
}
