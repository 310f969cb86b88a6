/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim unit test: the simulated Linux /dev/xen interface (../shim/)
 * under Debian's own Xen libraries, against a private xensim-hv.
 *
 * Linked against the system libxen* and run with LD_PRELOAD set to the
 * devxen shim (the test refuses to run without it).  It checks what the
 * Linux drivers promise and the replacement libraries never had to:
 * a page that failed to map raises SIGBUS; evtchn fds are pollable and
 * read/write ports; privcmd, devicemodel and evtchn restrictions fail
 * with EPERM/EACCES; privcmd's dm_op buffer limit is E2BIG; domctl and
 * sysctl answer with Xen 4.17's interface versions; an unimplemented
 * hypercall is ENOSYS and counted per sub-op.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xengnttab.h>
#include <xen/hvm/ioreq.h>
#include <xen/memory.h>

#include "harness.h"

#define DOMID   3
#define PAGE    4096

static sigjmp_buf fault_jmp;

static void on_sigbus(int sig)
{
    siglongjmp(fault_jmp, 1);
}

/* Whether reading *p raises SIGBUS. */
static bool read_faults(volatile const char *p)
{
    struct sigaction sa = { .sa_handler = on_sigbus }, old;
    bool faulted = false;

    sigaction(SIGBUS, &sa, &old);
    if (sigsetjmp(fault_jmp, 1) == 0) {
        (void)*p;
    } else {
        faulted = true;
    }
    sigaction(SIGBUS, &old, NULL);
    return faulted;
}

static void test_ctrl(xc_interface *xch)
{
    xc_domaininfo_t info[4];
    xc_dominfo_t di;
    long long enosys;

    xc_physinfo_t pi;

    check(xc_version(xch, XENVER_version, NULL) == ((4 << 16) | 17),
          "xen_version: 4.17");
    check(xc_physinfo(xch, &pi) == 0 && pi.nr_cpus >= 1 &&
          (pi.capabilities & XEN_SYSCTL_PHYSCAP_hvm) && pi.total_pages,
          "sysctl physinfo: this machine's CPUs and memory, HVM");
    check(xc_domain_getinfo(xch, 0, 1, &di) == 1 && di.domid == DOMID &&
          di.hvm && di.nr_online_vcpus == 2 && di.max_vcpu_id == 1,
          "domctl getdomaininfo (interface 0x%x): the HVM guest, 2 vCPUs",
          XEN_DOMCTL_INTERFACE_VERSION);
    check(xc_domain_getinfolist(xch, 0, 4, info) == 1 &&
          info[0].domain == DOMID && info[0].tot_pages > 0,
          "sysctl getdomaininfolist: one domain with its pages");
    check(xc_domain_getinfo(xch, DOMID + 1, 1, &di) == -1 ||
          di.domid != DOMID + 1, "no domain above the guest");

    enosys = counter("hypercalls_enosys");
    errno = 0;
    check(xc_domain_setdebugging(xch, DOMID, 1) == -1 && errno == ENOSYS,
          "domctl setdebugging is not simulated: ENOSYS");
    check(counter("hypercalls_enosys") == enosys + 1,
          "... and counted");
    ctl("counters");
    check(strstr(harness_ctl_extra, "enosys_domctl_18 1") != NULL,
          "... per sub-op (enosys_domctl_18)");
    /* Xen's controller pause count: one unpause per pause, no more. */
    check(xc_domain_pause(xch, DOMID) == 0 &&
          xc_domain_unpause(xch, DOMID) == 0,
          "domctl pausedomain then unpausedomain: 0, 0");
    errno = 0;
    check(xc_domain_unpause(xch, DOMID) == -1 && errno == EINVAL,
          "domctl unpausedomain with no pause outstanding: EINVAL");
}

static void test_fmem(xenforeignmemory_handle *fmem)
{
    xen_pfn_t pfn[3] = { 0x100, 0xa0, 0x101 };     /* 0xa0: VGA hole */
    int err[3] = { 7, 7, 7 };
    long long unmaps;
    char *p;

    ctl("memwrite 0x100000 5a5a5a5a");
    p = xenforeignmemory_map(fmem, DOMID, PROT_READ | PROT_WRITE, 3, pfn,
                             err);
    check(p && err[0] == 0 && err[1] == -EINVAL && err[2] == 0,
          "MMAPBATCH_V2: err[] per page (%d %d %d)", err[0], err[1], err[2]);
    if (!p) {
        return;
    }
    check(!memcmp(p, "\x5a\x5a\x5a\x5a", 4), "mapped page is guest RAM");
    p[2 * PAGE] = 0x42;
    check(!strcmp(ctl("memread 0x101000 1"), "ok 42"),
          "a write through the mapping is seen by the guest");
    check(read_faults(p + PAGE), "the page that failed raises SIGBUS");
    check(!read_faults(p + 2 * PAGE), "the page after it does not");
    unmaps = counter("fmem_unmaps");
    check(xenforeignmemory_unmap(fmem, p, 3) == 0, "unmap");
    xenforeignmemory_map(fmem, DOMID, PROT_READ, 1, pfn, err);  /* flush */
    check(counter("fmem_unmaps") == unmaps + 1, "unmap reaches the hv");

    ctl("fault map-fail 1");
    errno = 0;
    check(!xenforeignmemory_map(fmem, DOMID, PROT_READ, 1, pfn, err) &&
          errno == ENOMEM, "an injected map failure fails the map: ENOMEM");
}

static void test_ioreq_and_evtchn(xendevicemodel_handle *dmod,
                                  xenforeignmemory_handle *fmem)
{
    xenforeignmemory_resource_handle *fres;
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    evtchn_port_t bufport;
    ioservid_t id;
    size_t frames = 0;  /* bytes, despite the name of the call */
    void *addr = NULL;
    struct pollfd pfd;
    int local, fd;

    check(xendevicemodel_create_ioreq_server(dmod, DOMID, 2, &id) == 0,
          "dm_op create_ioreq_server");
    check(xenforeignmemory_resource_size(fmem, DOMID,
                                         XENMEM_resource_ioreq_server, id,
                                         &frames) == 0 && frames == 2 * PAGE,
          "MMAP_RESOURCE size query: 2 frames (in bytes)");
    fres = xenforeignmemory_map_resource(fmem, DOMID,
                                         XENMEM_resource_ioreq_server, id, 0,
                                         2, &addr, PROT_READ | PROT_WRITE,
                                         0);
    check(fres && ((shared_iopage_t *)((char *)addr + PAGE))
          ->vcpu_ioreq[0].vp_eport, "acquire_resource maps the slot page");
    check(xendevicemodel_get_ioreq_server_info(dmod, DOMID, id, NULL, NULL,
                                               &bufport) == 0 && bufport,
          "get_ioreq_server_info: buffered port");
    check(xendevicemodel_set_ioreq_server_state(dmod, DOMID, id, 1) == 0,
          "enable the server");

    if (!check(xce != NULL, "open /dev/xen/evtchn")) {
        return;
    }
    fd = xenevtchn_fd(xce);
    local = xenevtchn_bind_interdomain(xce, DOMID, bufport);
    check(local > 0, "bind the buffered ioreq port");
    pfd = (struct pollfd) { .fd = fd, .events = POLLIN };
    check(poll(&pfd, 1, 0) == 0, "evtchn fd not readable while idle");
    ctl("timeoffset 5");
    check(poll(&pfd, 1, 2000) == 1 && (pfd.revents & POLLIN),
          "a guest event makes the fd readable");
    check(xenevtchn_pending(xce) == local, "read returns the port");
    check(poll(&pfd, 1, 0) == 0, "one read consumed it");
    check(xenevtchn_unmask(xce, local) == 0, "write unmasks");
    errno = 0;
    check(xenevtchn_notify(xce, local + 100) == -1 && errno == ENOTCONN,
          "notify of a port not bound here: ENOTCONN (Linux)");
    check(xenevtchn_unbind(xce, local) == 0, "unbind");
    check(xenevtchn_restrict(xce, DOMID + 4) == 0, "restrict evtchn");
    errno = 0;
    check(xenevtchn_bind_interdomain(xce, DOMID, bufport) == -1 &&
          errno == EACCES, "bind to another domain when restricted: EACCES");
    xenevtchn_close(xce);
    xenforeignmemory_unmap_resource(fmem, fres);
}

static void test_limits_and_restrict(xendevicemodel_handle *dmod,
                                     xenforeignmemory_handle *fmem)
{
    unsigned long bitmap[1024] = { 0 };
    xen_pfn_t pfn = 0x100;
    int err;

    errno = 0;
    check(xendevicemodel_track_dirty_vram(dmod, DOMID, 0x100, 40000,
                                          bitmap) == -1 && errno == E2BIG,
          "dm_op buffer over 4096 bytes: E2BIG (privcmd)");
    check(xendevicemodel_restrict(dmod, DOMID + 4) == 0, "restrict dm");
    errno = 0;
    check(xendevicemodel_set_isa_irq_level(dmod, DOMID, 1, 1) == -1 &&
          errno == EPERM, "dm_op on another domain when restricted: EPERM");
    check(xenforeignmemory_restrict(fmem, DOMID) == 0, "restrict fmem");
    check(xenforeignmemory_map(fmem, DOMID, PROT_READ, 1, &pfn, &err) !=
          NULL, "map of the restricted domain still works");
    errno = 0;
    check(xenforeignmemory_restrict(fmem, DOMID + 1) == -1 &&
          errno == EINVAL, "a second, different restriction: EINVAL");
}

static void test_gnttab(void)
{
    xengnttab_handle *xgt = xengnttab_open(NULL, 0);

    if (!check(xgt != NULL, "open /dev/xen/gntdev")) {
        return;
    }
    check(xengnttab_grant_copy(xgt, 0, NULL) == 0,
          "grant copy of 0 segments (QEMU's probe)");
    check(xengnttab_map_grant_ref(xgt, DOMID, 1, PROT_READ) == NULL,
          "grant map fails: the guest grants nothing");
    xengnttab_close(xgt);
}

int main(void)
{
    xc_interface *xch;
    xenforeignmemory_handle *fmem;
    xendevicemodel_handle *dmod;
    const char *pre = getenv("LD_PRELOAD");

    if (!pre || !strstr(pre, "libxensim-devxen.so")) {
        printf("Bail out! run with LD_PRELOAD=.../libxensim-devxen.so\n");
        return 1;
    }
    harness_start("3", "16", "2", "2000");
    xch = xc_interface_open(NULL, NULL, 0);
    fmem = xenforeignmemory_open(NULL, 0);
    dmod = xendevicemodel_open(NULL, 0);
    if (!check(xch && fmem && dmod, "open libxenctrl, libxenforeignmemory, "
               "libxendevicemodel on /dev/xen/privcmd")) {
        return harness_finish();
    }
    test_ctrl(xch);
    test_fmem(fmem);
    test_ioreq_and_evtchn(dmod, fmem);
    test_gnttab();
    test_limits_and_restrict(dmod, fmem);
    check(!strncmp(ctl("ready"), "ok", 2), "the hv still answers");
    xendevicemodel_close(dmod);
    xenforeignmemory_close(fmem);
    xc_interface_close(xch);
    return harness_finish();
}
