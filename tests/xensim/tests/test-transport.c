/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim unit test: library <-> hypervisor transport.  Every replacement
 * library opens a handle against a private xensim-hv; calls come back
 * with Xen's conventions (-1/errno, ESRCH for a foreign domain, ENOSYS
 * for what is not simulated) and the hypervisor keeps running.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xengnttab.h>
#include <xen/hvm/params.h>
#include <xen/sched.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../proto.h"
#include "harness.h"

static int raw_connect(void)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    strncpy(sa.sun_path, getenv("XENSIM_SOCKET"), sizeof(sa.sun_path) - 1);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* unmask is one-way: give the hypervisor a moment when waiting for it. */
static bool readable_within(xenevtchn_handle *xce, int ms)
{
    struct pollfd p = { .fd = xenevtchn_fd(xce), .events = POLLIN };

    return poll(&p, 1, ms) == 1;
}

static bool readable(xenevtchn_handle *xce)
{
    return readable_within(xce, 0);
}

/*
 * Delivery as the Linux evtchn driver gives it: the fd is readable
 * exactly while a port is pending, pending() hands out one port, which
 * stays masked (further events only mark it) until unmask().
 */
static void test_evtchn_delivery(xendevicemodel_handle *dmod,
                                 xenevtchn_handle *xce)
{
    ioservid_t id;
    evtchn_port_t bufport;
    int local;

    xendevicemodel_create_ioreq_server(dmod, 3, 2, &id);
    xendevicemodel_get_ioreq_server_info(dmod, 3, id, NULL, NULL, &bufport);
    xendevicemodel_map_io_range_to_ioreq_server(dmod, 3, id, 1, 0xa0000,
                                                0xbffff);
    xendevicemodel_set_ioreq_server_state(dmod, 3, id, 1);
    local = xenevtchn_bind_interdomain(xce, 3, bufport);
    check(local > 0, "bind the buffered port");
    /* As on Linux, pending() only returns at once on a non-blocking fd. */
    fcntl(xenevtchn_fd(xce), F_SETFL, O_NONBLOCK);
    check(!readable(xce) && xenevtchn_pending(xce) == -1 &&
          errno == EAGAIN, "nothing pending: fd not readable, EAGAIN");
    ctl("bufwrite 0xa0000 1 1");
    check(readable(xce), "event raised: fd readable");
    check(xenevtchn_pending(xce) == local, "pending() returns the port");
    check(!readable(xce), "one port per pending(): fd quiet again");
    ctl("bufwrite 0xa0000 1 2");
    check(!readable(xce), "masked until unmask: no second delivery");
    xenevtchn_unmask(xce, local);
    check(readable_within(xce, 2000) && xenevtchn_pending(xce) == local,
          "unmask re-delivers the event raised while masked");
    xenevtchn_unmask(xce, local);
    usleep(20000);
    check(!readable(xce), "unmask with nothing pending: quiet");
    check(xenevtchn_unbind(xce, local) == 0 &&
          xenevtchn_bind_interdomain(xce, 3, bufport) > 0,
          "unbind returns the guest port to unbound: it binds again");
    xendevicemodel_destroy_ioreq_server(dmod, 3, id);
}

/* Hostile or broken clients must not hurt the hypervisor. */
static void test_bad_clients(void)
{
    XenSimMsg m = { .op = XENSIM_OP_FMEM_MAP, .arg = { 3, 1, 1 } }, r;
    char c;
    int fd = raw_connect();

    check(fd >= 0 && write(fd, &m, sizeof(m)) == sizeof(m) &&
          read(fd, &r, sizeof(r)) == sizeof(r) && r.ret == -1 &&
          r.err == EPROTO, "request before HELLO: EPROTO");
    close(fd);
    fd = raw_connect();
    m = (XenSimMsg) { .op = XENSIM_OP_HELLO, .arg = { 99 } };
    check(fd >= 0 && write(fd, &m, sizeof(m)) == sizeof(m) &&
          read(fd, &r, sizeof(r)) == sizeof(r) && r.ret == -1 &&
          r.err == EINVAL, "HELLO from an unknown library: EINVAL");
    m.arg[0] = XENSIM_LIB_CTRL;
    check(write(fd, &m, sizeof(m)) == sizeof(m) &&
          read(fd, &r, sizeof(r)) == sizeof(r) && r.ret == 0 &&
          r.arg[0] == 3, "... and a proper HELLO then works");
    close(fd);
    fd = raw_connect();
    m.op = XENSIM_OP_HELLO;
    m.len = 0xffffffff;
    check(fd >= 0 && write(fd, &m, sizeof(m)) == sizeof(m) &&
          read(fd, &c, 1) == 0, "oversized message: connection dropped");
    close(fd);
    fd = raw_connect();
    check(fd >= 0 && write(fd, &m, 10) == 10, "half a header, then hang up");
    close(fd);
    check(!strncmp(ctl("counters"), "ok", 2), "hypervisor still serves");
}

int main(void)
{
    xc_interface *xch;
    xenforeignmemory_handle *fmem;
    xendevicemodel_handle *dmod;
    xenevtchn_handle *xce;
    xengnttab_handle *xgt;
    unsigned long v = 0;
    unsigned int vcpus = 0;
    xen_pfn_t pfn = 0x9000;
    int pirq = 0, r;

    /* Without a hypervisor every open fails cleanly. */
    unsetenv("XENSIM_SOCKET");
    xch = xc_interface_open(NULL, NULL, 0);
    check(!xch && errno == ENOENT,
          "xc_interface_open without XENSIM_SOCKET fails with ENOENT");

    harness_start("3", "64", "2", "2000");
    xch = xc_interface_open(NULL, NULL, 0);
    fmem = xenforeignmemory_open(NULL, 0);
    dmod = xendevicemodel_open(NULL, 0);
    xce = xenevtchn_open(NULL, 0);
    xgt = xengnttab_open(NULL, 0);
    check(xch && fmem && dmod && xce && xgt, "all five libraries open");
    check(xenevtchn_fd(xce) >= 0, "xenevtchn_fd is a real fd");

    check(xc_set_hvm_param(xch, 3, HVM_PARAM_ACPI_S_STATE, 3) == 0 &&
          xc_get_hvm_param(xch, 3, HVM_PARAM_ACPI_S_STATE, &v) == 0 &&
          v == 3, "HVM param set/get round trip");
    r = xc_set_hvm_param(xch, 3, HVM_NR_PARAMS, 1);
    check(r == -1 && errno == EINVAL, "HVM param out of range: EINVAL");
    r = xc_get_hvm_param(xch, 7, HVM_PARAM_ACPI_S_STATE, &v);
    check(r == -1 && errno == ESRCH, "unknown domain: ESRCH");

    check(xc_domain_populate_physmap_exact(xch, 3, 1, 0, 0, &pfn) == 0,
          "populate_physmap_exact of one page");
    check(counter("populate_pages") == 1, "populate counted");
    r = xc_domain_populate_physmap_exact(xch, 3, 1, 40, 0, &pfn);
    check(r == -1 && errno == EINVAL, "populate with absurd order: EINVAL");

    r = xc_physdev_map_pirq(xch, 3, 10, &pirq);
    check(r == -1 && errno == ENOSYS, "passthrough call: ENOSYS");
    check(counter("unsupported_calls") == 1, "unsupported call counted");

    check(xendevicemodel_nr_vcpus(dmod, 3, &vcpus) == 0 && vcpus == 2,
          "dm_op nr_vcpus reports --vcpus");
    check(xendevicemodel_shutdown(dmod, 3, SHUTDOWN_reboot) == 0,
          "remote shutdown accepted");
    ctl("state");
    check(strstr(harness_ctl_extra, "shutdown 1 count 1") != NULL,
          "shutdown reason recorded and observable");

    check(xengnttab_grant_copy(xgt, 0, NULL) == 0,
          "grant copy of 0 segments succeeds (QEMU's probe)");
    check(xengnttab_map_grant_ref(xgt, 3, 8, 3) == NULL,
          "grant map fails: the guest grants nothing");

    test_evtchn_delivery(dmod, xce);
    test_bad_clients();

    xengnttab_close(xgt);
    xenevtchn_close(xce);
    xendevicemodel_close(dmod);
    xenforeignmemory_close(fmem);
    xc_interface_close(xch);
    check(!strncmp(ctl("counters"), "ok", 2),
          "hypervisor still serves after clients went away");
    check(!strcmp(ctl("bogus 1 2"), "err EINVAL Invalid argument"),
          "unknown control command: err EINVAL");
    check(!strcmp(ctl("quit"), "ok"), "quit");
    return harness_finish();
}
