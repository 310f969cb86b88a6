/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim unit test: ioreq round trips against a tiny fake device model
 * running in a thread of this process, written the way QEMU's xen-hvm
 * code uses the libraries (map_resource, vp_eport binding, pending /
 * unmask / notify, buffered ring).  The guest side is driven through the
 * control socket: PIO, CF8/CFC PCI config, MMIO, rep string I/O into
 * guest RAM, buffered writes, invalidation, interrupts and MSIs, dm_op
 * argument checks, and device-model misbehaviour that must be reported
 * without stopping the simulator.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xen/hvm/ioreq.h>
#include <xen/hvm/hvm_op.h>
#include <xen/memory.h>

#include "harness.h"

#define DOMID       1
#define NR_VCPUS    2
#define PIO_BASE    0x1000
#define MMIO_BASE   0xfe000000ull
#define PAGE        4096

enum Misbehave {
    DM_OK,
    DM_BAD_STATE,       /* answer with a state that does not exist */
    DM_IGNORE,          /* never pick the request up */
    DM_EARLY_NOTIFY,    /* notify before the response is ready */
    DM_NO_NOTIFY,       /* answer, but never notify */
};

static struct {
    xendevicemodel_handle *dmod;
    xenforeignmemory_handle *fmem;
    xenevtchn_handle *xce;
    ioservid_t id;
    buffered_iopage_t *buf;
    shared_iopage_t *shared;
    evtchn_port_t local[NR_VCPUS], buf_local;
    uint32_t regs[16];
    uint8_t mmio[PAGE];
    uint32_t cfg[64];
    int invalidates, buffered, buf_events;
    ioreq_t last_req;   /* the slot as the DM last picked it up */
    ioreq_t last_inval;
    uint64_t last_buf_addr, last_buf_data;
    uint8_t last_buf_type;
    volatile int misbehave, stop;
    pthread_mutex_t lock;
} dm = { .lock = PTHREAD_MUTEX_INITIALIZER };

static uint64_t mask(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static void guest_rw(uint64_t gpa, void *p, unsigned size, bool write)
{
    xen_pfn_t pfn = gpa >> 12;
    int err;
    char *m = xenforeignmemory_map(dm.fmem, DOMID, PROT_READ | PROT_WRITE,
                                   1, &pfn, &err);

    if (!m) {
        return;
    }
    if (err) {
        xenforeignmemory_unmap(dm.fmem, m, 1);
        return;
    }
    if (write) {
        memcpy(m + (gpa & (PAGE - 1)), p, size);
    } else {
        memcpy(p, m + (gpa & (PAGE - 1)), size);
    }
    xenforeignmemory_unmap(dm.fmem, m, 1);
}

static void handle(ioreq_t *r)
{
    uint32_t i;

    dm.last_req = *r;
    /* Hostile requests (injection tests): answer, touch nothing. */
    if (r->size == 0 || r->size > 8 || (r->data_is_ptr && r->count > 64)) {
        return;
    }

    switch (r->type) {
    case IOREQ_TYPE_PIO: {
        uint32_t *reg = &dm.regs[((r->addr - PIO_BASE) / 4) % 16];

        if (!r->data_is_ptr) {
            if (r->dir == IOREQ_READ) {
                r->data = *reg;
            } else {
                *reg = r->data;
            }
            break;
        }
        for (i = 0; i < r->count; i++) {
            uint64_t gpa = r->data + (r->df ? -1 : 1) * (int64_t)i * r->size;
            uint64_t v = *reg;      /* room for a hostile size of 8 */

            if (r->dir == IOREQ_READ) {
                guest_rw(gpa, &v, r->size, true);
            } else {
                guest_rw(gpa, &v, r->size, false);
                *reg = v;
            }
        }
        break;
    }
    case IOREQ_TYPE_COPY: {
        uint64_t off = (r->addr - MMIO_BASE) % (PAGE - 8);

        if (r->data_is_ptr) {
            /* rep movs: item i at addr + i * size <-> data + i * size */
            for (i = 0; i < r->count; i++) {
                int64_t step = (r->df ? -1 : 1) * (int64_t)i * r->size;
                uint8_t *dev = dm.mmio + (uint64_t)(off + step) % (PAGE - 8);

                guest_rw(r->data + step, dev, r->size,
                         r->dir == IOREQ_READ);
            }
            break;
        }
        if (r->dir == IOREQ_READ) {
            r->data = 0;
            memcpy(&r->data, dm.mmio + off, r->size);
        } else {
            memcpy(dm.mmio + off, &r->data, r->size);
        }
        break;
    }
    case IOREQ_TYPE_PCI_CONFIG: {
        uint32_t reg = r->addr & 0xff;

        if (r->dir == IOREQ_READ) {
            r->data = (dm.cfg[reg / 4] >> ((reg & 3) * 8)) & mask(r->size);
        }
        break;
    }
    case IOREQ_TYPE_INVALIDATE:
        dm.last_inval = *r;
        dm.invalidates++;
        break;
    }
}

static void drain_buffered(void)
{
    buffered_iopage_t *b = dm.buf;

    while (b->read_pointer != b->write_pointer) {
        uint32_t avail = b->write_pointer - b->read_pointer;
        buf_ioreq_t *bp = &b->buf_ioreq[b->read_pointer %
                                        IOREQ_BUFFER_SLOT_NUM];
        uint64_t data = bp->data;
        unsigned slots = 1;

        if (avail > IOREQ_BUFFER_SLOT_NUM ||
            (bp->size == 3 && avail < 2)) {
            break;      /* a hostile ring (injection tests): stop */
        }
        if (bp->size == 3) {
            data |= (uint64_t)b->buf_ioreq[(b->read_pointer + 1) %
                                           IOREQ_BUFFER_SLOT_NUM].data << 32;
            slots = 2;
        }
        dm.last_buf_type = bp->type;
        dm.last_buf_addr = bp->addr;
        dm.last_buf_data = data;
        dm.buffered++;
        __atomic_add_fetch(&b->read_pointer, slots, __ATOMIC_RELEASE);
    }
}

static void *dm_thread(void *arg)
{
    struct pollfd pfd = { .fd = xenevtchn_fd(dm.xce), .events = POLLIN };

    while (!dm.stop) {
        int port, v;
        ioreq_t *slot, copy;

        if (poll(&pfd, 1, 50) <= 0) {
            continue;
        }
        port = xenevtchn_pending(dm.xce);
        if (port < 0) {
            continue;
        }
        xenevtchn_unmask(dm.xce, port);
        pthread_mutex_lock(&dm.lock);
        if ((evtchn_port_t)port == dm.buf_local) {
            dm.buf_events++;
        }
        drain_buffered();
        for (v = 0; v < NR_VCPUS && dm.local[v] != (evtchn_port_t)port;
             v++) {
            continue;
        }
        if (v == NR_VCPUS) {
            pthread_mutex_unlock(&dm.lock);
            continue;
        }
        slot = &dm.shared->vcpu_ioreq[v];
        if (slot->state != STATE_IOREQ_READY || dm.misbehave == DM_IGNORE) {
            pthread_mutex_unlock(&dm.lock);
            continue;
        }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        slot->state = STATE_IOREQ_INPROCESS;
        copy = *slot;
        handle(&copy);
        slot->data = copy.data;
        __atomic_thread_fence(__ATOMIC_RELEASE);
        if (dm.misbehave == DM_EARLY_NOTIFY) {
            xenevtchn_notify(dm.xce, port);
            usleep(100000);
        }
        slot->state = dm.misbehave == DM_BAD_STATE ? 5 : STATE_IORESP_READY;
        if (dm.misbehave != DM_NO_NOTIFY) {
            xenevtchn_notify(dm.xce, port);
        }
        pthread_mutex_unlock(&dm.lock);
    }
    return NULL;
}

static bool dm_start(pthread_t *t)
{
    void *addr = NULL;
    evtchn_port_t bufport;
    int v, p;

    dm.dmod = xendevicemodel_open(NULL, 0);
    dm.fmem = xenforeignmemory_open(NULL, 0);
    dm.xce = xenevtchn_open(NULL, 0);
    if (!dm.dmod || !dm.fmem || !dm.xce ||
        xendevicemodel_create_ioreq_server(dm.dmod, DOMID,
                                           HVM_IOREQSRV_BUFIOREQ_ATOMIC,
                                           &dm.id) < 0 ||
        !xenforeignmemory_map_resource(dm.fmem, DOMID,
                                       XENMEM_resource_ioreq_server, dm.id,
                                       0, 2, &addr, PROT_READ | PROT_WRITE,
                                       0) ||
        xendevicemodel_get_ioreq_server_info(dm.dmod, DOMID, dm.id, NULL,
                                             NULL, &bufport) < 0 ||
        xendevicemodel_set_ioreq_server_state(dm.dmod, DOMID, dm.id, 1) < 0) {
        return false;
    }
    dm.buf = addr;
    dm.shared = (shared_iopage_t *)((char *)addr + PAGE);
    for (v = 0; v < NR_VCPUS; v++) {
        p = xenevtchn_bind_interdomain(dm.xce, DOMID,
                                       dm.shared->vcpu_ioreq[v].vp_eport);
        if (p < 0) {
            return false;
        }
        dm.local[v] = p;
    }
    p = xenevtchn_bind_interdomain(dm.xce, DOMID, bufport);
    if (p < 0) {
        return false;
    }
    dm.buf_local = p;
    dm.cfg[0] = 0x12345678;
    return xendevicemodel_map_io_range_to_ioreq_server(
               dm.dmod, DOMID, dm.id, 0, PIO_BASE, PIO_BASE + 0x3f) == 0 &&
           xendevicemodel_map_io_range_to_ioreq_server(
               dm.dmod, DOMID, dm.id, 1, MMIO_BASE, MMIO_BASE + 0xfff) == 0 &&
           xendevicemodel_map_io_range_to_ioreq_server(
               dm.dmod, DOMID, dm.id, 1, 0xa0000, 0xbffff) == 0 &&
           xendevicemodel_map_pcidev_to_ioreq_server(
               dm.dmod, DOMID, dm.id, 0, 0, 3, 0) == 0 &&
           pthread_create(t, NULL, dm_thread, NULL) == 0;
}

static bool reply_is(const char *cmd, const char *want)
{
    const char *r = ctl("%s", cmd);

    return check(!strcmp(r, want), "%s -> %s (got %s)", cmd, want, r);
}

static bool wait_for(volatile int *v, int want)
{
    int i;

    for (i = 0; i < 500 && *v < want; i++) {
        usleep(10000);
    }
    return *v >= want;
}

/* One guest vCPU driven through its own control connection. */
static void *vcpu_worker(void *arg)
{
    long cpu = (long)arg, bad = 0, i;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    char line[128];
    FILE *in, *out;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", harness_control_path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        return (void *)-1L;
    }
    in = fdopen(fd, "r");
    out = fdopen(dup(fd), "w");
    fprintf(out, "cpu %ld\n", cpu);
    fflush(out);
    if (!fgets(line, sizeof(line), in)) {
        bad++;
    }
    for (i = 0; i < 300; i++) {
        fprintf(out, "inl 0x%x\n", PIO_BASE + 0x20 + 4 * (int)cpu);
        fflush(out);
        if (!fgets(line, sizeof(line), in) ||
            strtoul(line + 3, NULL, 0) != 0x100 + cpu) {
            bad++;
        }
    }
    fclose(out);
    fclose(in);
    return (void *)bad;
}

static void test_vcpus_in_parallel(void)
{
    pthread_t t[NR_VCPUS];
    long v, bad = 0;
    int bugs = hv_bug_lines(NULL);
    void *ret;

    for (v = 0; v < NR_VCPUS; v++) {
        dm.regs[(0x20 + 4 * v) / 4] = 0x100 + v;
    }
    for (v = 0; v < NR_VCPUS; v++) {
        pthread_create(&t[v], NULL, vcpu_worker, (void *)v);
    }
    for (v = 0; v < NR_VCPUS; v++) {
        pthread_join(t[v], &ret);
        bad += (long)ret;
    }
    check(bad == 0, "%d vCPUs with requests in flight at the same time "
          "(%ld wrong answers)", NR_VCPUS, bad);
    check(hv_bug_lines(NULL) == bugs, "no spurious device-model bug "
          "reports");
}

static void test_dm_op_errors(void)
{
    long long bugs = counter("dm_bugs");

    check(xendevicemodel_set_pci_intx_level(dm.dmod, DOMID, 0, 1, 3, 0, 1)
          == -1 && errno == EINVAL, "intx on bus 1: EINVAL");
    check(xendevicemodel_set_isa_irq_level(dm.dmod, DOMID, 16, 1) == -1 &&
          errno == EINVAL, "ISA IRQ 16: EINVAL");
    check(xendevicemodel_set_pci_link_route(dm.dmod, DOMID, 4, 5) == -1 &&
          errno == EINVAL, "link 4: EINVAL");
    check(xendevicemodel_map_io_range_to_ioreq_server(
              dm.dmod, DOMID, dm.id, 0, 0x20, 0x10) == -1 && errno == EINVAL,
          "range with start > end: EINVAL");
    check(xendevicemodel_map_io_range_to_ioreq_server(
              dm.dmod, DOMID, dm.id, 0, PIO_BASE + 4, PIO_BASE + 7) == -1 &&
          errno == EEXIST, "overlapping range: EEXIST");
    check(xendevicemodel_unmap_io_range_from_ioreq_server(
              dm.dmod, DOMID, dm.id, 0, 0x5000, 0x5003) == -1 &&
          errno == ENOENT, "unmap of a range never mapped: ENOENT");
    check(xendevicemodel_destroy_ioreq_server(dm.dmod, DOMID, 7) == -1 &&
          errno == ENOENT, "destroy of an unknown server: ENOENT");
    check(xendevicemodel_set_mem_type(dm.dmod, DOMID, HVMMEM_ram_rw, 0xa0, 1)
          == -1 && errno == EINVAL, "set_mem_type on a hole: EINVAL");
    check(xendevicemodel_set_ioreq_server_state(dm.dmod, 9, dm.id, 1) == -1
          && errno == ESRCH, "dm_op on another domain: ESRCH");
    check(counter("dm_bugs") >= bugs + 8,
          "rejected dm_ops are reported as device-model bugs");

    /* Xen 4.17's own checks (dm.c, irq.c) */
    check(xendevicemodel_set_irq_level(dm.dmod, DOMID, 20, 1) == -1 &&
          errno == EOPNOTSUPP, "set_irq_level on x86: EOPNOTSUPP");
    check(xendevicemodel_set_mem_type(dm.dmod, DOMID, HVMMEM_mmio_dm, 0xa0,
                                      1) == 0, "set_mem_type mmio_dm on a "
          "hole: allowed");
    check(xendevicemodel_set_mem_type(dm.dmod, DOMID, HVMMEM_ram_ro, 0x10,
                                      0) == -1 && errno == EINVAL,
          "set_mem_type of 0 pages: EINVAL");
    check(xendevicemodel_set_mem_type(dm.dmod, DOMID, HVMMEM_ram_rw,
                                      0x100000, 1) == -1 && errno == EINVAL,
          "set_mem_type above the highest gfn: EINVAL");
    check(xendevicemodel_set_mem_type(dm.dmod, DOMID, HVMMEM_unused, 0x10,
                                      1) == -1 && errno == EINVAL,
          "set_mem_type HVMMEM_unused: EINVAL");
    check(xendevicemodel_modified_memory(dm.dmod, DOMID, ~0ull - 1, 4) == 0,
          "modified_memory outside log-dirty mode: even a wrapping extent "
          "is not looked at, 0");
    check(xendevicemodel_inject_msi(dm.dmod, DOMID, 0xfee00000, 0) == -1 &&
          errno == ERANGE, "inject_msi of vector 0 without a pirq: ERANGE");

    /* HVMMEM_ioreq_server (dm.c set_mem_type(), p2m_set_ioreq_server()) */
    check(xendevicemodel_set_mem_type(dm.dmod, DOMID, HVMMEM_ioreq_server,
                                      0x10, 1) == -1 && errno == EINVAL,
          "set_mem_type ioreq_server with no server mapped to it: EINVAL");
    check(xendevicemodel_map_mem_type_to_ioreq_server(
              dm.dmod, DOMID, dm.id, HVMMEM_ioreq_server,
              XEN_DMOP_IOREQ_MEM_ACCESS_READ) == -1 && errno == EINVAL,
          "map_mem_type with the READ flag: EINVAL (only WRITE)");
    check(xendevicemodel_map_mem_type_to_ioreq_server(
              dm.dmod, DOMID, dm.id, HVMMEM_ioreq_server, 0) == -1 &&
          errno == EINVAL, "unmapping a server that does not have the "
          "type: EINVAL");
    check(xendevicemodel_map_mem_type_to_ioreq_server(
              dm.dmod, DOMID, dm.id, HVMMEM_ioreq_server,
              XEN_DMOP_IOREQ_MEM_ACCESS_WRITE) == 0,
          "map_mem_type WRITE: 0");
    check(xendevicemodel_map_mem_type_to_ioreq_server(
              dm.dmod, DOMID, dm.id, HVMMEM_ioreq_server,
              XEN_DMOP_IOREQ_MEM_ACCESS_WRITE) == -1 && errno == EBUSY,
          "map_mem_type while a server has the type: EBUSY");
    check(xendevicemodel_set_mem_type(dm.dmod, DOMID, HVMMEM_ram_ro, 0x11,
                                      1) == 0 &&
          xendevicemodel_set_mem_type(dm.dmod, DOMID, HVMMEM_ioreq_server,
                                      0x11, 1) == -1 && errno == EINVAL,
          "set_mem_type ioreq_server from ram_ro: EINVAL");
    check(xendevicemodel_set_mem_type(dm.dmod, DOMID, HVMMEM_ioreq_server,
                                      0x10, 1) == 0,
          "set_mem_type ioreq_server from ram_rw, server mapped: 0");
    check(xendevicemodel_set_mem_type(dm.dmod, DOMID, HVMMEM_ram_ro, 0x10,
                                      1) == -1 && errno == EINVAL,
          "set_mem_type ioreq_server -> ram_ro: EINVAL (only ram_rw)");
    check(xendevicemodel_map_mem_type_to_ioreq_server(
              dm.dmod, DOMID, dm.id, HVMMEM_ioreq_server, 0) == 0 &&
          xendevicemodel_set_mem_type(dm.dmod, DOMID, HVMMEM_ram_ro, 0x10,
                                      1) == 0,
          "unmapping the server turns its pages back to ram_rw");
    xendevicemodel_set_mem_type(dm.dmod, DOMID, HVMMEM_ram_rw, 0x10, 2);
}

static void test_misbehaviour(void)
{
    const char *r;

    dm.misbehave = DM_BAD_STATE;
    r = ctl("inl 0x1004");
    check(!strncmp(r, "err EIO", 7), "bad response state fails the access "
          "(%s)", r);
    check(hv_bug_lines("instead of IORESP_READY") == 1,
          "... and is reported");

    dm.misbehave = DM_EARLY_NOTIFY;
    r = ctl("inl 0x1004");
    check(!strncmp(r, "ok", 2), "early notify: access still completes");
    check(hv_bug_lines("response in the wrong state") >= 1,
          "... and the early notify is reported");

    dm.misbehave = DM_IGNORE;
    r = ctl("inl 0x1004");
    check(!strncmp(r, "err ETIMEDOUT", 13), "no response: ETIMEDOUT (%s)",
          r);
    check(counter("ioreq_timeouts") == 1, "timeout counted");
    /* The device model answers late; the next access drops that. */
    pthread_mutex_lock(&dm.lock);
    dm.shared->vcpu_ioreq[0].state = STATE_IORESP_READY;
    dm.misbehave = DM_OK;
    pthread_mutex_unlock(&dm.lock);
    reply_is("inl 0x1004", "ok 0xcafe");
}

/* Xen item 1: an answer counts only once the DM notifies the port. */
static void test_completion_needs_notify(void)
{
    const char *r;
    int bugs = hv_bug_lines("never notified");

    dm.misbehave = DM_NO_NOTIFY;
    r = ctl("inl 0x1004");
    check(!strncmp(r, "err ETIMEDOUT", 13), "IORESP_READY without a notify "
          "is no answer: the access times out (%s)", r);
    check(hv_bug_lines("never notified") == bugs + 1 &&
          counter("ioreq_unnotified") == 1,
          "... reported as a DM bug and counted in ioreq_unnotified");
    dm.misbehave = DM_OK;
    reply_is("inl 0x1004", "ok 0xcafe");
}

/* Xen items 2-4, 6, 9: what Xen 4.17 sends, and to whom. */
static void test_xen_exact(void)
{
    long long cfg = counter("ioreq_pci_config");
    long long pio = counter("ioreq_pio");
    int inv = dm.invalidates;
    ioservid_t id2;
    evtchn_port_t port2 = 0;
    xenevtchn_handle *xce2;
    struct pollfd pfd;
    const char *r;
    char cmd[128];

    /* 2: rep ins on 0xcfc is one PCI_CONFIG ioreq with the guest's count */
    reply_is("outl 0xcf8 0x80001800", "ok");
    reply_is("insl 0xcfc 0x26000 4", "ok");
    check(counter("ioreq_pci_config") == cfg + 1 &&
          dm.last_req.type == IOREQ_TYPE_PCI_CONFIG &&
          dm.last_req.count == 4 && dm.last_req.data_is_ptr,
          "rep insl on 0xcfc: one PCI_CONFIG ioreq of count 4 (%lld ioreqs, "
          "count %u)", counter("ioreq_pci_config") - cfg,
          dm.last_req.count);

    /* 3: data_is_ptr count clamped to the buffer's page; buffer not RAM:
     * nothing sent */
    reply_is("insb 0x1008 0x26ffe 5", "ok");
    check(counter("ioreq_pio") == pio + 2 && dm.last_req.count == 3 &&
          dm.last_req.data == 0x27000, "rep insb across a page boundary: "
          "two ioreqs, counts 2 and 3 (last count %u data %#llx)",
          dm.last_req.count, (unsigned long long)dm.last_req.data);
    pio = counter("ioreq_pio");
    r = ctl("insb 0x1008 0xfd000000 4");
    check(!strncmp(r, "err EFAULT", 10) && counter("ioreq_pio") == pio,
          "rep insb into a buffer that is not RAM: no ioreq, EFAULT (%s)", r);
    reply_is("copyfroml 0xfe000ff8 0x26000 4", "ok");
    check(dm.last_req.count == 2 && dm.last_req.addr == 0xfe000ff8ull,
          "rep movs from MMIO: count clamped to the MMIO page (last "
          "count %u addr %#llx)", dm.last_req.count,
          (unsigned long long)dm.last_req.addr);

    /* 4: INVALIDATE as Xen builds it, and per vCPU */
    reply_is("balloon 0x81 1", "ok");
    reply_is("inl 0x1004", "ok 0xcafe");
    check(dm.invalidates == inv + 1 && dm.last_inval.count == 0 &&
          dm.last_inval.size == 4 && dm.last_inval.dir == IOREQ_WRITE &&
          dm.last_inval.data == ~0ull && !dm.last_inval.data_is_ptr,
          "INVALIDATE: size 4, count 0, write, data ~0 (count %u size %u)",
          dm.last_inval.count, dm.last_inval.size);
    reply_is("cpu 1", "ok");
    reply_is("inl 0x1004", "ok 0xcafe");
    reply_is("inl 0x1004", "ok 0xcafe");
    reply_is("cpu 0", "ok");
    check(dm.invalidates == inv + 2, "a dom0 balloon sets the pending "
          "invalidate of every vCPU: vCPU 1 sends its own (%d)",
          dm.invalidates - inv);

    /* 11: IRQ pulses are not lost: an ordered log of edges and MSIs */
    {
        unsigned long long next;
        char want[256];

        r = ctl("irqlog");
        next = strtoull(r + 3, NULL, 0);
        xendevicemodel_set_isa_irq_level(dm.dmod, DOMID, 7, 1);
        xendevicemodel_set_isa_irq_level(dm.dmod, DOMID, 7, 0);
        xendevicemodel_inject_msi(dm.dmod, DOMID, 0xfee01000, 0x4042);
        xendevicemodel_set_isa_irq_level(dm.dmod, DOMID, 7, 0);
        r = ctl("irqlog %llu", next);
        snprintf(want, sizeof(want), "%llu gsi 7 1\n%llu gsi 7 0\n"
                 "%llu msi 0xfee01000 0x4042\n", next, next + 1, next + 2);
        check(!strcmp(harness_ctl_extra, want) &&
              strtoull(r + 3, NULL, 0) == next + 3,
              "irqlog: a pulse on GSI 7 and an MSI, in order, once each "
              "(%s)", harness_ctl_extra);
    }

    /* 9: the highest server id first; 6: a notify nobody is bound to is
     * dropped */
    xce2 = xenevtchn_open(NULL, 0);
    check(xendevicemodel_create_ioreq_server(dm.dmod, DOMID,
                                             HVM_IOREQSRV_BUFIOREQ_OFF,
                                             &id2) == 0 && id2 > dm.id &&
          xce2, "second ioreq server %u", id2);
    snprintf(cmd, sizeof(cmd), "slotget %u", id2);
    r = ctl("%s", cmd);
    sscanf(strstr(r, "vp_eport=") ? strstr(r, "vp_eport=") + 9 : "0", "%u",
           &port2);
    snprintf(cmd, sizeof(cmd), "notify %u", id2);
    reply_is(cmd, "ok");
    pfd.fd = xenevtchn_fd(xce2);
    pfd.events = POLLIN;
    check(xenevtchn_bind_interdomain(xce2, DOMID, port2) > 0 &&
          poll(&pfd, 1, 200) == 0, "a notify before anyone bound the port "
          "is dropped, not delivered at bind");
    xendevicemodel_map_io_range_to_ioreq_server(dm.dmod, DOMID, id2, 0,
                                                0x1004, 0x1007);
    xendevicemodel_set_ioreq_server_state(dm.dmod, DOMID, id2, 1);
    reply_is("cpu 1", "ok");
    r = ctl("inl 0x1004");
    snprintf(cmd, sizeof(cmd), "slotget %u", id2);
    check(!strncmp(r, "err ETIMEDOUT", 13) &&
          strstr(ctl("%s", cmd), "addr=0x1004") != NULL,
          "both servers claim 0x1004: the higher id gets it (%s)", r);
    reply_is("cpu 0", "ok");
    xendevicemodel_set_ioreq_server_state(dm.dmod, DOMID, id2, 0);
    xendevicemodel_destroy_ioreq_server(dm.dmod, DOMID, id2);
    xenevtchn_close(xce2);

    /* 9: enabling a server with legacy gfns removes them from the p2m */
    inv = dm.invalidates;
    {
        xen_pfn_t g1, g2;
        evtchn_port_t bp;

        check(xendevicemodel_create_ioreq_server(dm.dmod, DOMID,
                                                 HVM_IOREQSRV_BUFIOREQ_OFF,
                                                 &id2) == 0 &&
              xendevicemodel_get_ioreq_server_info(dm.dmod, DOMID, id2,
                                                   &g1, &g2, &bp) == 0 &&
              xendevicemodel_set_ioreq_server_state(dm.dmod, DOMID, id2, 1)
              == 0, "a server on legacy gfns, enabled");
    }
    ctl("state");
    check(strstr(harness_ctl_extra, "invalidate-pending 0 1\n") != NULL,
          "enabling it removed its gfns from the p2m: every vCPU has an "
          "invalidate pending");
    xendevicemodel_set_ioreq_server_state(dm.dmod, DOMID, id2, 0);
    xendevicemodel_destroy_ioreq_server(dm.dmod, DOMID, id2);
    reply_is("inl 0x1004", "ok 0xcafe");
    check(dm.invalidates == inv + 1, "enabling a server with legacy gfns "
          "queues an invalidate (p2m_remove_page) (%d)",
          dm.invalidates - inv);
    reply_is("cpu 1", "ok");
    reply_is("inl 0x1004", "ok 0xcafe");
    reply_is("cpu 0", "ok");
}

/* Xen item 8: a ballooned-out page as Xen leaves it to the DM. */
static void test_balloon_semantics(void)
{
    xen_pfn_t gfn = 0x90;
    int err = 0, bugs = hv_bug_lines(NULL);
    char *m = xenforeignmemory_map(dm.fmem, DOMID, PROT_READ | PROT_WRITE,
                                   1, &gfn, &err);
    long long c0, c1;
    int i;

    if (!check(m && !err, "map gfn 0x90")) {
        return;
    }
    memcpy(m, "before", 6);
    reply_is("balloon 0x90 1", "ok");
    check(!memcmp(m, "before", 6), "a mapping made before the balloon "
          "keeps the old content (Xen holds a page reference)");
    memcpy(m + 8, "dma", 3);
    ctl("counters");
    check(hv_bug_lines(NULL) == bugs, "DMA into it before the DM answered "
          "the invalidation is not a bug");
    reply_is("inl 0x1004", "ok 0xcafe");
    m[16] = 1;
    ctl("counters");
    check(hv_bug_lines("answered the invalidation") == 1, "a write after "
          "the DM answered the invalidation is reported");
    xenforeignmemory_unmap(dm.fmem, m, 1);

    /* The per-ioreq check does not rescan every revoked page. */
    reply_is("balloon 0x200 0x200", "ok");
    reply_is("inl 0x1004", "ok 0xcafe");
    c0 = counter("revoked_checks");
    for (i = 0; i < 10; i++) {
        ctl("inl 0x1004");
    }
    c1 = counter("revoked_checks");
    check(c0 >= 0 && c1 - c0 - counter("pages_revoked") <= 40,
          "10 ioreqs look at <= 40 revoked pages of %lld (%lld)",
          counter("pages_revoked"), c1 - c0 - counter("pages_revoked"));
    reply_is("cpu 1", "ok");
    reply_is("inl 0x1004", "ok 0xcafe");
    reply_is("cpu 0", "ok");
}

static void test_injection(void)
{
    const char *r;
    char path[4200], path2[4200], cmd[8600];
    int bufev, bugs = hv_bug_lines(NULL);
    long long inv;

    /* Any field, as given. */
    reply_is("ioreq type=0,addr=0x1004,size=4,dir=1", "ok 0xcafe");
    reply_is("ioreq type=0 addr=0x1004 size=4 dir=1 pad=0xbeef pad1=1",
             "ok 0xcafe");
    check(dm.last_req._pad0 == 0xbeef && dm.last_req._pad1 == 1,
          "ioreq: the pads reach the DM as written");
    reply_is("ioreq type=1,addr=0xfe000010,size=4,dir=1,vp_eport=77",
             "ok 0x11223344");
    check(dm.last_req.vp_eport == 77, "ioreq: a hostile vp_eport in the "
          "slot (%u)", dm.last_req.vp_eport);
    reply_is("ioreq type=0x55,addr=0x1004,size=3,count=0,dir=1,data=7",
             "ok 0x7");
    check(dm.last_req.type == 0x55 && dm.last_req.size == 3 &&
          dm.last_req.count == 0, "ioreq: unknown type, odd size, count 0");
    /* A field changed while the DM handles the request. */
    reply_is("ioreq type=0,addr=0x1004,size=4,dir=1,race=addr:0x9999",
             "ok 0xcafe");
    r = ctl("slotget 0");
    check(strstr(r, "addr=0x9999") != NULL, "race: the slot changed under "
          "the DM (%s)", r);
    /* Slot written, port not raised: times out; a later notify lets the
     * DM answer, and the next ordinary access takes over cleanly. */
    r = ctl("ioreq type=0,addr=0x1004,size=4,dir=1,notify=0,timeout=200");
    check(!strncmp(r, "err ETIMEDOUT", 13), "notify=0: no answer (%s)", r);
    reply_is("notify 0", "ok");
    usleep(100000);
    reply_is("inl 0x1004", "ok 0xcafe");
    /* A spurious notify with an idle slot. */
    reply_is("notify 0", "ok");
    reply_is("inl 0x1004", "ok 0xcafe");
    /* Requests to a disabled server. */
    xendevicemodel_set_ioreq_server_state(dm.dmod, DOMID, dm.id, 0);
    r = ctl("ioreq type=0,addr=0x1004,size=4,dir=1");
    check(!strncmp(r, "err ENOENT", 10), "disabled server refused without "
          "disabled=1 (%s)", r);
    reply_is("ioreq type=0,addr=0x1004,size=4,dir=1,disabled=1",
             "ok 0xcafe");
    xendevicemodel_set_ioreq_server_state(dm.dmod, DOMID, dm.id, 1);

    /* Buffered ring, raw. */
    bufev = dm.buf_events;
    reply_is("bufring 0 empty", "ok");
    check(wait_for(&dm.buf_events, bufev + 1), "notify on the buffered "
          "port with an empty ring reaches the DM");
    r = ctl("bufptrs 0");
    {
        unsigned rp = 0, wp = 0;

        sscanf(r, "ok %x %x", &rp, &wp);
        check(rp == dm.buf->read_pointer && wp == dm.buf->write_pointer,
              "bufptrs reads the pointer pair (%s)", r);
        reply_is("bufring 0 rp-ahead", "ok");
        check(dm.buf->read_pointer == wp + 1 &&
              dm.buf->write_pointer == wp, "rp-ahead: read pointer past "
              "the write pointer");
        reply_is("bufring 0 gap", "ok");
        check(dm.buf->write_pointer - dm.buf->read_pointer ==
              IOREQ_BUFFER_SLOT_NUM * 3 / 2, "gap larger than the ring");
        snprintf(cmd, sizeof(cmd), "bufptrs 0 %u %u", wp, wp);
        reply_is(cmd, "ok");
        reply_is("bufring 0 lone-half", "ok");
        check(dm.buf->write_pointer == wp + 1 &&
              dm.buf->buf_ioreq[wp % IOREQ_BUFFER_SLOT_NUM].size == 3,
              "lone half of an 8-byte entry");
        snprintf(cmd, sizeof(cmd), "bufptrs 0 %u %u", wp, wp);
        reply_is(cmd, "ok");
        bufev = dm.buffered;
        reply_is("bufring 0 bad-type", "ok");
        check(wait_for(&dm.buffered, bufev + 1) && dm.last_buf_type == 0x7f,
              "entry of unknown type delivered");
        bufev = dm.buffered;
        reply_is("bufring 0 wrap", "ok");
        check(wait_for(&dm.buffered, bufev + 2) && dm.last_buf_data == 0xbb
              && dm.buf->read_pointer == 1,
              "pointer pair wrapping at 2^32 (rp %u)", dm.buf->read_pointer);
        reply_is("bufslot 0 5 0x1122334400a00010", "ok");
        check(((uint64_t *)dm.buf->buf_ioreq)[5] == 0x1122334400a00010ull,
              "bufslot writes a raw entry");
        reply_is("bufptrs 0 0 0", "ok");
    }

    /* Batches: several per line, seeded with a replay log, from a file. */
    r = ctl("ioreqs type=0,addr=0x1004,size=4,dir=1 "
            "type=1,addr=0xfe000010,size=4,dir=1 type=7,size=9");
    check(!strcmp(r, "ok sent=3 answered=3 timed_out=0 refused=0 alive=1 "
                  "answering=1"), "ioreqs: three per line, verdict (%s)", r);
    inv = dm.invalidates;
    snprintf(path, sizeof(path), "%s.batch.log", harness_control_path);
    snprintf(path2, sizeof(path2), "%s.replay.log", harness_control_path);
    r = ctl("batch 42 300 timeout=1000 log=%s", path);
    check(!strcmp(r, "ok sent=300 answered=300 timed_out=0 refused=0 "
                  "alive=1 answering=1"), "batch: 300 seeded ioreqs, DM "
          "alive and answering (%s)", r);
    r = ctl("batch-file %s timeout=1000 log=%s", path, path2);
    check(!strcmp(r, "ok sent=300 answered=300 timed_out=0 refused=0 "
                  "alive=1 answering=1"), "batch-file replays the log (%s)",
          r);
    snprintf(cmd, sizeof(cmd), "cmp -s %s %s", path, path2);
    check(system(cmd) == 0, "the replay sent the same requests");
    r = ctl("batch 1 1 log=/");
    check(!strcmp(r, "err EISDIR Is a directory"), "a replay log that "
          "cannot be written: the errno by name (%s)", r);
    r = ctl("batch 43 300 timeout=1000");
    check(strstr(r, "sent=300") && strstr(r, "alive=1 answering=1"),
          "another seed (%s)", r);
    dm.invalidates = inv;
    check(hv_bug_lines(NULL) == bugs, "injection reports no DM bug");

    /* A DM that stops answering: the verdict says so. */
    dm.misbehave = DM_IGNORE;
    r = ctl("liveness 0 200");
    check(!strcmp(r, "ok alive=1 answering=0"), "liveness of a DM that "
          "does not answer (%s)", r);
    dm.misbehave = DM_OK;
    reply_is("notify 0", "ok");
    usleep(100000);
    reply_is("liveness 0 1000", "ok alive=1 answering=1");
}

int main(void)
{
    pthread_t t;
    long long copies;
    int before_timeoffset;
    const char *inval_slot;

    harness_start("1", "16", "2", "3000");
    if (!check(dm_start(&t), "fake device model registers its server")) {
        return harness_finish();
    }
    reply_is("ready", "ok 1");

    reply_is("outl 0x1004 0xcafe", "ok");
    reply_is("inl 0x1004", "ok 0xcafe");
    reply_is("inb 0x1004", "ok 0xfe");
    reply_is("cpu 1", "ok");
    reply_is("inw 0x1004", "ok 0xcafe");
    reply_is("cpu 0", "ok");
    reply_is("inl 0x2000", "ok 0xffffffff");
    check(!strncmp(ctl("bench-pio 0x1004 100"), "ok ", 3),
          "bench-pio: 100 round trips");
    check(!strncmp(ctl("bench-pio 0x1004 10 2"), "ok ", 3),
          "bench-pio: 10 round trips of 2 bytes");
    check(!strncmp(ctl("bench-pio 0x1004 10 8"), "err EINVAL", 10),
          "bench-pio: no 8-byte port reads");
    reply_is("inb 0x2000", "ok 0xff");
    check(counter("ioreq_unclaimed") == 2, "unclaimed accesses counted");
    check(counter("ioreq_pio") == 114, "PIO ioreqs counted");

    reply_is("outl 0xcf8 0x80001800", "ok");
    reply_is("inl 0xcfc", "ok 0x12345678");
    reply_is("inw 0xcfe", "ok 0x1234");
    reply_is("outl 0xcf8 0x80002000", "ok");
    reply_is("inl 0xcfc", "ok 0xffffffff");
    check(counter("ioreq_pci_config") == 2,
          "CF8/CFC became IOREQ_TYPE_PCI_CONFIG for the claimed SBDF");

    reply_is("writel 0xfe000010 0x11223344", "ok");
    reply_is("readl 0xfe000010", "ok 0x11223344");
    reply_is("writeq 0xfe000020 0x0102030405060708", "ok");
    reply_is("readq 0xfe000020", "ok 0x102030405060708");
    reply_is("readw 0xfe000022", "ok 0x506");
    copies = counter("ioreq_copy");
    reply_is("memwrite 0x10000 78563412", "ok");
    reply_is("readl 0x10000", "ok 0x12345678");
    check(counter("ioreq_copy") == copies, "RAM reads bypass the device "
          "model");
    reply_is("readl 0xfd000000", "ok 0xffffffff");
    reply_is("memwrite 0xfe000100 0102030405060708aabb", "ok");
    reply_is("readq 0xfe000100", "ok 0x807060504030201");
    reply_is("memread 0xfe000107 3", "ok 08aabb");
    reply_is("memset 0x30000 3 0x5a", "ok");
    reply_is("memread 0x2ffff 5", "ok 005a5a5a00");

    reply_is("outl 0x1008 0xa5a5f00d", "ok");
    reply_is("insl 0x1008 0x20000 3", "ok");
    reply_is("memread 0x20000 12", "ok 0df0a5a50df0a5a50df0a5a5");
    reply_is("memwrite 0x21000 efbeadde", "ok");
    reply_is("outsl 0x100c 0x21000 1", "ok");
    reply_is("insb 0x4444 0x22000 3", "ok");
    reply_is("memread 0x22000 4", "ok ffffff00");
    reply_is("inl 0x100c", "ok 0xdeadbeef");

    reply_is("memwrite 0x23000 a1a2a3a4b1b2b3b4", "ok");
    reply_is("copytol 0xfe000200 0x23000 2", "ok");
    reply_is("readq 0xfe000200", "ok 0xb4b3b2b1a4a3a2a1");
    reply_is("copyfromw 0xfe000202 0x24000 3", "ok");
    reply_is("memread 0x24000 6", "ok a3a4b1b2b3b4");
    reply_is("copyfroml 0xfd000000 0x25000 1", "ok");
    reply_is("memread 0x25000 4", "ok ffffffff");
    reply_is("bufwrite 0xa0010 2 0x55aa", "ok");
    check(wait_for(&dm.buffered, 1) && dm.last_buf_addr == 0xa0010 &&
          dm.last_buf_data == 0x55aa, "buffered write through the ring");
    reply_is("bufwrite 0xa0020 8 0x1122334455667788", "ok");
    check(wait_for(&dm.buffered, 2) &&
          dm.last_buf_data == 0x1122334455667788ull,
          "8-byte buffered write uses two slots");
    check(counter("ioreq_buffered") == 2, "buffered writes counted");
    {
        /* More than a ring's worth: pointers wrap and are kept small. */
        long long before = counter("ioreq_buffered");
        long long copies = counter("ioreq_copy");
        int i, fails = 0, want;

        for (i = 0; i < 1200; i++) {
            fails += strcmp(ctl("bufwrite 0xa0100 4 %d", i), "ok") != 0;
        }
        want = 2 + (int)(counter("ioreq_buffered") - before);
        check(fails == 0 && wait_for(&dm.buffered, want) &&
              dm.last_buf_data == 1199 &&
              dm.buffered - 2 + (counter("ioreq_copy") - copies) == 1200,
              "1200 buffered writes all arrive (ring or sync fallback)");
        /*
         * Xen rebases the pair at each write, so the read pointer was
         * below 511 at the last one; the reader may have moved it up to
         * the write pointer since.
         */
        check(dm.buf->read_pointer <= dm.buf->write_pointer &&
              dm.buf->write_pointer < 2 * IOREQ_BUFFER_SLOT_NUM,
              "BUFIOREQ_ATOMIC keeps the ring pointers canonical (%u %u)",
              dm.buf->read_pointer, dm.buf->write_pointer);
    }
    before_timeoffset = dm.buffered;
    reply_is("timeoffset 3600", "ok");
    check(wait_for(&dm.buffered, before_timeoffset + 1) &&
          dm.last_buf_type == IOREQ_TYPE_TIMEOFFSET &&
          dm.last_buf_data == 3600, "TIMEOFFSET broadcast on the ring");

    reply_is("invalidate", "ok");
    check(dm.invalidates == 1, "IOREQ_TYPE_INVALIDATE reached the DM");
    reply_is("invalidate 5", "ok");
    check(dm.invalidates == 6, "invalidate storm of 5");
    reply_is("cpu 1", "ok");
    reply_is("invalidate", "ok");
    inval_slot = ctl("slotget 0");
    check(dm.invalidates == 7 && strstr(inval_slot, " type=8 ") != NULL,
          "invalidate on the connection's vCPU 1: vCPU 1's slot carries it "
          "(%s)", inval_slot);
    reply_is("cpu 0", "ok");
    check(xendevicemodel_relocate_memory(dm.dmod, DOMID, 2, 0x70, 0x7000)
          == 0 && dm.invalidates == 7, "relocate_memory: no broadcast yet");
    reply_is("inl 0x1004", "ok 0xcafe");
    check(dm.invalidates == 8, "p2m change: IOREQ_TYPE_INVALIDATE before "
          "the next access");
    reply_is("balloon 0x80 1", "ok");
    reply_is("inl 0x1004", "ok 0xcafe");
    check(dm.invalidates == 9, "balloon: invalidation too");

    xendevicemodel_set_isa_irq_level(dm.dmod, DOMID, 5, 1);
    reply_is("irq 5", "ok 1");
    xendevicemodel_set_isa_irq_level(dm.dmod, DOMID, 5, 0);
    reply_is("irq 5", "ok 0");
    xendevicemodel_set_pci_link_route(dm.dmod, DOMID, 3, 10);
    xendevicemodel_set_pci_intx_level(dm.dmod, DOMID, 0, 0, 3, 0, 1);
    reply_is("irq 10", "ok 1");
    reply_is("irq 28", "ok 1");
    reply_is("waitirq 10 1 100", "ok");
    xendevicemodel_set_pci_intx_level(dm.dmod, DOMID, 0, 0, 3, 0, 0);
    reply_is("waitirq 10 0 100", "ok");
    reply_is("waitirq 10 1 50", "err ETIMEDOUT Connection timed out");
    xendevicemodel_inject_msi(dm.dmod, DOMID, 0xfee00000, 0x4041);
    reply_is("msi", "ok 1 0xfee00000 0x4041");

    check(xenevtchn_bind_interdomain(dm.xce, DOMID, 999) == -1 &&
          errno == EINVAL, "bind to an unallocated port: EINVAL");
    check(xenevtchn_bind_interdomain(dm.xce, 5, 1) == -1 && errno == ESRCH,
          "bind to another domain: ESRCH");
    check(xenevtchn_bind_interdomain(dm.xce, DOMID,
                                     dm.shared->vcpu_ioreq[0].vp_eport) == -1
          && errno == EINVAL, "bind of a port already bound: EINVAL");
    check(xenevtchn_notify(dm.xce, 900) == -1 && errno == EINVAL,
          "notify of a port never bound: EINVAL");
    ctl("fault evtchn-fail 1");
    check(xenevtchn_bind_unbound_port(dm.xce, DOMID) == -1 &&
          errno == EINVAL, "fault evtchn-fail");
    ctl("fault slow 50");
    check(xendevicemodel_set_isa_irq_level(dm.dmod, DOMID, 3, 0) == 0,
          "fault slow: calls still succeed");
    ctl("fault clear");

    /* A raw ioreq goes to the named server as given, unrouted. */
    reply_is("rawioreq 0 0 0x1004 0 4 1 1", "ok 0xcafe");
    reply_is("rawioreq 0 0 0x1004 0 8 1 1", "ok 0xcafe");
    reply_is("rawioreq 5 0 0x1004 0 4 1 1", "err ENOENT No such file or "
             "directory");
    test_vcpus_in_parallel();
    test_dm_op_errors();
    test_misbehaviour();
    test_completion_needs_notify();
    test_xen_exact();
    test_balloon_semantics();
    test_injection();

    check(xendevicemodel_set_ioreq_server_state(dm.dmod, DOMID, dm.id, 0)
          == 0, "disable server");
    reply_is("inl 0x1004", "ok 0xffffffff");
    dm.stop = 1;
    pthread_join(t, NULL);
    check(xendevicemodel_destroy_ioreq_server(dm.dmod, DOMID, dm.id) == 0,
          "destroy server");
    reply_is("ready", "ok 0");
    return harness_finish();
}
