/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim unit test: foreign memory.  Maps of guest RAM see the same
 * bytes as the guest (control socket memread/memwrite); unpopulated gfns
 * fail per page in err[] and the whole map without err[]; bad arguments
 * and injected faults fail with errno; relocated gfns keep existing
 * mappings; resources map the ioreq pages; an unmap of something never
 * mapped is reported and the hypervisor carries on.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenforeignmemory.h>
#include <xen/hvm/dm_op.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/ioreq.h>
#include <xen/event_channel.h>
#include <xen/memory.h>

#include "harness.h"

#define PAGE 4096

static xenforeignmemory_handle *stress_fmem;

static sigjmp_buf probe_jmp;
static volatile sig_atomic_t probe_sig;

static void probe_handler(int sig)
{
    probe_sig = sig;
    siglongjmp(probe_jmp, 1);
}

/* Read one byte at addr; the signal it raised (SIGBUS, SIGSEGV) or 0. */
static int read_probe_signal(const volatile char *addr)
{
    struct sigaction sa = { .sa_handler = probe_handler }, old_bus, old_segv;

    probe_sig = 0;
    sigaction(SIGBUS, &sa, &old_bus);
    sigaction(SIGSEGV, &sa, &old_segv);
    if (!sigsetjmp(probe_jmp, 1)) {
        (void)*addr;
    }
    sigaction(SIGBUS, &old_bus, NULL);
    sigaction(SIGSEGV, &old_segv, NULL);
    return probe_sig;
}

/* Map and release (both ways) in a loop, as mapcache users in several
 * threads would. */
static void *map_stress(void *arg)
{
    long bad = 0, i;

    for (i = 0; i < 500; i++) {
        xen_pfn_t pfn[2] = { 0x100 + (i % 64), 0x101 + (i % 64) };
        int err[2];
        char *p = xenforeignmemory_map(stress_fmem, 1, PROT_READ, 2, pfn,
                                       err);

        if (!p) {
            bad++;
            continue;
        }
        if (i & 1) {
            munmap(p, 2 * PAGE);
        } else if (xenforeignmemory_unmap(stress_fmem, p, 2)) {
            bad++;
        }
    }
    return (void *)bad;
}

static void test_concurrent_maps(xenforeignmemory_handle *fmem)
{
    xen_pfn_t pfn = 0x100;
    int err;
    /* a round trip first: the caller's last unmap may still be queued */
    void *flush = xenforeignmemory_map(fmem, 1, PROT_READ, 1, &pfn, &err);
    long long maps = counter("fmem_maps"), unmaps = counter("fmem_unmaps");
    int bugs = hv_bug_lines(NULL);
    pthread_t t[4];
    long bad = 0, i;
    void *ret;

    xenforeignmemory_unmap(fmem, flush, 1);
    stress_fmem = fmem;
    for (i = 0; i < 4; i++) {
        pthread_create(&t[i], NULL, map_stress, NULL);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(t[i], &ret);
        bad += (long)ret;
    }
    /*
     * Unmaps are one-way: a round trip on the handle (a map) flushes
     * them.  Its own unmap would be one-way again, so it comes after.
     */
    flush = xenforeignmemory_map(fmem, 1, PROT_READ, 1, &pfn, &err);
    check(bad == 0 && counter("fmem_maps") == maps + 2001 &&
          counter("fmem_unmaps") == unmaps + 2001 &&
          hv_bug_lines(NULL) == bugs,
          "4 threads x 500 maps, half released by plain munmap: all "
          "counted, nothing reported");
    xenforeignmemory_unmap(fmem, flush, 1);
}

int main(void)
{
    xenforeignmemory_handle *fmem;
    xendevicemodel_handle *dmod;
    xenforeignmemory_resource_handle *fres;
    xen_pfn_t pfn[4] = { 0x10, 0x11, 0xa0, 0x12 };
    int err[4] = { 1, 1, 1, 1 };
    char *p, *q;
    void *addr = NULL;
    ioservid_t id;
    const char *reply;

    harness_start("1", "16", "1", "2000");
    fmem = xenforeignmemory_open(NULL, 0);
    dmod = xendevicemodel_open(NULL, 0);
    check(fmem && dmod, "open");

    ctl("memwrite 0x10000 deadbeef");
    p = xenforeignmemory_map(fmem, 1, PROT_READ | PROT_WRITE, 2, pfn, err);
    check(p && err[0] == 0 && err[1] == 0, "map two RAM pages");
    check(p && !memcmp(p, "\xde\xad\xbe\xef", 4),
          "guest's write visible through the map");
    if (p) {
        memcpy(p + PAGE + 8, "\x01\x02", 2);
    }
    reply = ctl("memread 0x11008 2");
    check(!strcmp(reply, "ok 0102"), "write through the map lands in "
          "guest RAM (%s)", reply);
    check(xenforeignmemory_unmap(fmem, p, 2) == 0, "unmap");

    p = xenforeignmemory_map(fmem, 1, PROT_READ, 4, pfn, err);
    check(p && !err[0] && !err[1] && err[2] == -EINVAL && !err[3],
          "VGA hole gfn fails per page (err %d %d %d %d)", err[0], err[1],
          err[2], err[3]);
    check(p && p[3 * PAGE] == 0, "page after the hole still mapped");
    {
        /*
         * privcmd: an access to a page that failed in err[] is SIGBUS.
         * Caught here, not in a child: privcmd VMAs are VM_DONTCOPY, so a
         * forked child has no mapping there at all (SIGSEGV).
         */
        int sig = read_probe_signal(p + 2 * PAGE);

        check(sig == SIGBUS, "reading the failed page raises SIGBUS, as "
              "privcmd (%s)", sig ? strsignal(sig) : "no signal");
    }
    xenforeignmemory_unmap(fmem, p, 4);

    errno = 0;
    p = xenforeignmemory_map(fmem, 1, PROT_READ, 4, pfn, NULL);
    check(!p && errno == EINVAL, "without err[] a bad page fails the map");
    p = xenforeignmemory_map(fmem, 2, PROT_READ, 1, pfn, err);
    check(!p && errno == ESRCH, "map of another domain: ESRCH");
    p = xenforeignmemory_map(fmem, 1, PROT_READ, 0, pfn, err);
    check(!p && errno == EINVAL, "map of 0 pages: EINVAL");

    ctl("fault map-fail 2");
    p = xenforeignmemory_map(fmem, 1, PROT_READ, 1, pfn, err);
    q = xenforeignmemory_map(fmem, 1, PROT_READ, 1, pfn, err);
    check(p && !q && errno == ENOMEM, "fault map-fail 2 fails the 2nd map");
    check(counter("fmem_map_failures") == 1, "map failure counted");
    xenforeignmemory_unmap(fmem, p, 1);
    ctl("fault page-error 0x11");
    p = xenforeignmemory_map(fmem, 1, PROT_READ, 2, pfn, err);
    check(p && !err[0] && err[1] == -EINVAL, "fault page-error per page");
    xenforeignmemory_unmap(fmem, p, 2);
    ctl("fault clear");

    /* MAP_FIXED remap over an existing area, as the mapcache does. */
    p = xenforeignmemory_map2(fmem, 1, NULL, PROT_READ, 0, 2, pfn, err);
    q = xenforeignmemory_map2(fmem, 1, p, PROT_READ, MAP_FIXED, 1, pfn + 1,
                              err);
    check(p && q == p && !memcmp(q + 8, "\x01\x02", 2),
          "map2 with MAP_FIXED replaces in place");
    munmap(p, 2 * PAGE);

    /* Relocation keeps the mapping on the same page. */
    p = xenforeignmemory_map(fmem, 1, PROT_READ, 1, &pfn[1], err);
    check(xendevicemodel_relocate_memory(dmod, 1, 1, 0x11, 0x3000) == 0,
          "relocate_memory 0x11 -> 0x3000");
    check(p && p[8] == 1, "old mapping still sees the page");
    reply = ctl("memread 0x3000008 2");
    check(!strcmp(reply, "ok 0102"), "page now at gfn 0x3000 (%s)", reply);
    reply = ctl("memread 0x11000 1");
    check(!strcmp(reply, "ok ff"), "gfn 0x11 is now a hole (%s)", reply);
    check(xendevicemodel_relocate_memory(dmod, 1, 1, 0x11, 0x3001) == -1 &&
          errno == EINVAL, "relocating a hole: EINVAL");

    /* Resources: the ioreq server's two pages. */
    check(xendevicemodel_create_ioreq_server(dmod, 1, 2, &id) == 0,
          "create ioreq server");
    fres = xenforeignmemory_map_resource(fmem, 1,
                                         XENMEM_resource_ioreq_server, id,
                                         0, 2, &addr,
                                         PROT_READ | PROT_WRITE, 0);
    check(fres && addr, "map_resource frames 0..1");
    check(fres && ((shared_iopage_t *)((char *)addr + PAGE))
          ->vcpu_ioreq[0].vp_eport != 0, "frame 1 holds vp_eport");
    check(!xenforeignmemory_map_resource(fmem, 1, 1, id, 0, 1, &addr, 3, 0)
          && errno == EOPNOTSUPP, "unknown resource type: EOPNOTSUPP");
    addr = NULL;
    check(!xenforeignmemory_map_resource(fmem, 1, 0, id, 1, 2, &addr, 3, 0)
          && errno == EINVAL, "frames beyond the server: EINVAL");
    check(!xenforeignmemory_map_resource(fmem, 1, 0, 7, 0, 2, &addr, 3, 0)
          && errno == ENOENT, "unknown server: ENOENT");
    check(xenforeignmemory_unmap_resource(fmem, fres) == 0,
          "unmap_resource");

    /* The legacy way to the ioreq pages: gfns from libxl's pool. */
    {
        ioservid_t id2;
        xen_pfn_t gfn[2] = { 0, 0 };
        evtchn_port_t port;
        shared_iopage_t *sp;

        ctl("fault no-resource 1");
        xendevicemodel_create_ioreq_server(dmod, 1, 2, &id2);
        addr = NULL;
        check(!xenforeignmemory_map_resource(fmem, 1, 0, id2, 0, 2, &addr,
                                             3, 0) && errno == EOPNOTSUPP,
              "fault no-resource: map_resource EOPNOTSUPP (pre-4.12 Xen)");
        ctl("fault clear");
        check(xendevicemodel_get_ioreq_server_info(dmod, 1, id2, &gfn[0],
                                                   &gfn[1], &port) == 0 &&
              gfn[0] == 0xfeff2 && gfn[1] == 0xfeff3,
              "get_ioreq_server_info hands out pool gfns (%#lx %#lx)",
              (unsigned long)gfn[0], (unsigned long)gfn[1]);
        sp = xenforeignmemory_map(fmem, 1, PROT_READ | PROT_WRITE, 1, gfn,
                                  err);
        check(sp && !err[0], "sync page mapped through its gfn");
        check(!xenforeignmemory_map_resource(fmem, 1, 0, id2, 0, 2, &addr,
                                             3, 0) && errno == EPERM,
              "then map_resource: EPERM, as Xen");
        ctl("state");
        check(strstr(harness_ctl_extra, "p2m gfn 0xfeff2 ") != NULL,
              "pool gfn in the p2m while the server is disabled");
        xendevicemodel_set_ioreq_server_state(dmod, 1, id2, 1);
        check(sp && sp->vcpu_ioreq[0].vp_eport != 0,
              "vp_eport written on enable");
        /* Not through a guest read: the removal queued an invalidate
         * (Xen's p2m_remove_page), which this undriven server would
         * never answer. */
        ctl("state");
        check(strstr(harness_ctl_extra, "p2m gfn 0xfeff2 ") == NULL &&
              strstr(harness_ctl_extra, "invalidate-pending 0") != NULL,
              "gfn hidden from the guest while enabled, an invalidate "
              "pending");
        xendevicemodel_set_ioreq_server_state(dmod, 1, id2, 0);
        reply = ctl("memread 0xfeff2000 4");
        check(!strcmp(reply, "ok 00000000") && sp &&
              sp->vcpu_ioreq[0].vp_eport == 0,
              "back in the p2m, cleared, once disabled (%s)", reply);
        xenforeignmemory_unmap(fmem, sp, 1);
        xendevicemodel_destroy_ioreq_server(dmod, 1, id2);
        reply = ctl("memread 0xfeff2000 1");
        check(!strcmp(reply, "ok ff"), "gone with the server");
    }

    /* Memory dm_ops: dirty VRAM, memory types, cache attributes. */
    {
        unsigned long bits[1] = { 0 };
        xen_pfn_t vram = 0x50;

        check(xendevicemodel_track_dirty_vram(dmod, 1, 0x50, 8, bits) == 0 &&
              (bits[0] & 0xff) == 0xff,
              "track_dirty_vram: a new range starts all dirty");
        check(xendevicemodel_track_dirty_vram(dmod, 1, 0x50, 8, bits) == 0 &&
              (bits[0] & 0xff) == 0, "... then clean");
        ctl("memwrite 0x52010 01");
        ctl("memwrite 0x57ff0 01");
        check(xendevicemodel_track_dirty_vram(dmod, 1, 0x50, 8, bits) == 0 &&
              (bits[0] & 0xff) == 0x84, "guest writes mark pages 2 and 7 "
              "(%#lx)", bits[0] & 0xff);
        p = xenforeignmemory_map(fmem, 1, PROT_READ | PROT_WRITE, 1, &vram,
                                 err);
        if (p) {
            p[0] = 1;   /* the device model's own writes are not logged */
        }
        xenforeignmemory_unmap(fmem, p, 1);
        check(xendevicemodel_modified_memory(dmod, 1, 0x53, 1) == 0 &&
              xendevicemodel_track_dirty_vram(dmod, 1, 0x50, 8, bits) == 0 &&
              (bits[0] & 0xff) == 0x08, "modified_memory marks page 3 "
              "(%#lx)", bits[0] & 0xff);
        check(xendevicemodel_track_dirty_vram(dmod, 1, 0x50, 0, NULL) == 0,
              "nr 0 stops tracking");
        check(xendevicemodel_track_dirty_vram(dmod, 1, ~0ull, 2, bits) == -1
              && errno == EINVAL, "wrapping range: EINVAL");

        ctl("memwrite 0x60000 11");
        check(xendevicemodel_set_mem_type(dmod, 1, HVMMEM_ram_ro, 0x60, 1)
              == 0, "set_mem_type ram_ro");
        ctl("memwrite 0x60000 22");
        reply = ctl("memread 0x60000 1");
        check(!strcmp(reply, "ok 11"), "guest writes to ram_ro dropped (%s)",
              reply);
        xendevicemodel_set_mem_type(dmod, 1, HVMMEM_ram_rw, 0x60, 1);
        ctl("memwrite 0x60000 22");
        reply = ctl("memread 0x60000 1");
        check(!strcmp(reply, "ok 22"), "ram_rw again (%s)", reply);
        /* Xen changes the type page by page (dm.c set_mem_type()): a
         * range strictly inside a ram_ro one leaves both sides ram_ro. */
        {
            static const unsigned gfn[] = { 0x61, 0x63, 0x64, 0x67 };
            static const char *const want[] = { "11", "22", "22", "11" };
            char got[4][16];
            unsigned i;
            bool good = true;

            for (i = 0; i < 4; i++) {
                ctl("memwrite %#x 11", gfn[i] << 12);
            }
            xendevicemodel_set_mem_type(dmod, 1, HVMMEM_ram_ro, 0x60, 8);
            xendevicemodel_set_mem_type(dmod, 1, HVMMEM_ram_rw, 0x63, 2);
            for (i = 0; i < 4; i++) {
                ctl("memwrite %#x 22", gfn[i] << 12);
                reply = ctl("memread %#x 1", gfn[i] << 12);
                snprintf(got[i], sizeof(got[i]), "%s", reply);
                good &= !strncmp(reply, "ok ", 3) &&
                        !strcmp(reply + 3, want[i]);
            }
            check(good, "ram_rw of 0x63-0x64 inside ram_ro 0x60-0x67: "
                  "0x61 and 0x67 stay ram_ro, 0x63-0x64 writable (%s, %s, "
                  "%s, %s)", got[0], got[1], got[2], got[3]);
            xendevicemodel_set_mem_type(dmod, 1, HVMMEM_ram_rw, 0x60, 8);
        }
        check(xendevicemodel_set_mem_type(dmod, 1, 77, 0x60, 1) == -1 &&
              errno == EINVAL, "unknown memory type: EINVAL");
        check(xendevicemodel_pin_memory_cacheattr(dmod, 1, 0x60, 0x61,
                                                  XEN_DMOP_MEM_CACHEATTR_WB)
              == 0, "pin_memory_cacheattr WB");
        check(xendevicemodel_pin_memory_cacheattr(dmod, 1, 0x61, 0x60, 6)
              == -1 && errno == EINVAL, "cacheattr with start > end: EINVAL");
        check(xendevicemodel_inject_event(dmod, 1, 5, 0x20, 0, ~0u, 0, 0)
              == -1 && errno == EINVAL, "inject_event on vCPU 5 of 1: "
              "EINVAL");
    }

    /* Device-model bugs: reported, Xen's return, hypervisor survives. */
    p = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check(xenforeignmemory_unmap(fmem, p, 1) == 0,
          "unmap of something never mapped returns munmap's result");
    /* The report is one-way: a round trip on the same handle syncs. */
    p = xenforeignmemory_map(fmem, 1, PROT_READ, 1, pfn, err);
    xenforeignmemory_unmap(fmem, p, 1);
    check(hv_bug_lines("never mapped") == 1,
          "... and is reported as a device-model bug");
    check(counter("fmem_maps") > 0 && counter("fmem_unmaps") > 0,
          "map/unmap counters");

    /* Plain munmap of a foreign map (QEMU's mapcache) is tracked too. */
    {
        long long before;

        /* the map's round trip flushes the earlier one-way unmaps */
        p = xenforeignmemory_map(fmem, 1, PROT_READ, 2, pfn, err);
        before = counter("fmem_unmaps");
        munmap(p, 2 * PAGE);
        xenforeignmemory_map(fmem, 1, PROT_READ, 1, pfn, err);
        check(counter("fmem_unmaps") == before + 1,
              "plain munmap of a foreign map counted as an unmap");
    }

    /* Ballooned-out page: a write through a stale mapping is caught. */
    {
        xen_pfn_t gfn = 0x40;

        p = xenforeignmemory_map(fmem, 1, PROT_READ | PROT_WRITE, 1, &gfn,
                                 err);
        reply = ctl("balloon 0x40 1");
        check(!strcmp(reply, "ok") && counter("pages_revoked") == 1,
              "balloon out gfn 0x40");
        reply = ctl("memread 0x40000 1");
        check(!strcmp(reply, "ok ff"), "gfn 0x40 is gone");
        check(hv_bug_lines("revoked") == 0, "no report while untouched");
        if (p) {
            p[100] = 1;
        }
        counter("dm_bugs");
        check(hv_bug_lines("answered the invalidation") == 1,
              "write through the revoked mapping reported (the read above "
              "flushed the invalidation)");
        xenforeignmemory_unmap(fmem, p, 1);
    }

    /* Populating a populated gfn replaces its page: the old one is gone. */
    {
        xc_interface *xch = xc_interface_open(NULL, NULL, 0);
        xen_pfn_t gfn = 0x9100;

        xc_domain_populate_physmap_exact(xch, 1, 1, 0, 0, &gfn);
        p = xenforeignmemory_map(fmem, 1, PROT_READ | PROT_WRITE, 1, &gfn,
                                 err);
        xc_domain_populate_physmap_exact(xch, 1, 1, 0, 0, &gfn);
        ctl("invalidate");      /* answered: the old page is dead now */
        if (p) {
            p[7] = 7;
        }
        counter("dm_bugs");
        check(p && hv_bug_lines("gfn 0x9100 after the device model") ==
              1, "write through a mapping of a re-populated gfn reported");
        reply = ctl("memread 0x9100007 1");
        check(!strcmp(reply, "ok 00"), "the new page is fresh (%s)", reply);
        xenforeignmemory_unmap(fmem, p, 1);
        xc_interface_close(xch);
    }

    test_concurrent_maps(fmem);

    xendevicemodel_close(dmod);
    xenforeignmemory_close(fmem);
    return harness_finish();
}
