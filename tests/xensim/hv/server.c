/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim-hv server thread: accepts library connections on the main
 * socket and control connections on the control socket, and answers
 * every library request (see ../proto.h) under hv.lock.
 *
 * Invariants: a request is answered only after it has been fully
 * executed, so the library sees Xen's synchronous semantics; a client
 * that breaks the framing is disconnected (its ports and servers are
 * released) and the server carries on; nothing a client sends can stop
 * the process.  Control connections each get a thread (control.c)
 * because vCPU accesses block until the device model answers.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/sockio.h"
#include "hv.h"
#include "../lib/wire.h"

#include <xengnttab.h>

#include <xen/grant_table.h>
#include <xen/memory.h>

#define MAX_CLIENTS 256

static HvClient *clients[MAX_CLIENTS];
static int exit_pipe[2] = { -1, -1 };

void hv_request_exit(void)
{
    char c = 'x';

    if (write(exit_pipe[1], &c, 1) < 0) {
        /* Nothing sensible to do; the loop also polls a flag. */
    }
}

/* Listen on path; the path appears only once listening (atomic rename). */
static int listen_at(const char *path)
{
    char tmp[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int fd;

    if (snprintf(tmp, sizeof(tmp), "%s.%d", path, getpid()) >=
        (int)sizeof(tmp)) {
        fprintf(stderr, "xensim-hv: socket path too long: %s\n", path);
        return -1;
    }
    fd = sockio_listen(tmp, 0);
    if (fd < 0 || rename(tmp, path) < 0) {
        fprintf(stderr, "xensim-hv: cannot listen on %s: %m\n", path);
        unlink(tmp);
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    return fd;
}

static void client_drop(unsigned i)
{
    HvClient *c = clients[i];

    pthread_mutex_lock(&hv.lock);
    hv_evtchn_client_gone(c);
    for (unsigned d = 0; d < HV_MAX_DOMAINS; d++) {
        if (hv.doms[d].used) {
            hv_dom = &hv.doms[d];
            hv_server_client_gone(c);
        }
    }
    pthread_mutex_unlock(&hv.lock);
    if (c->event_sock >= 0) {
        close(c->event_sock);
    }
    close(c->fd);
    free(c);
    clients[i] = NULL;
}

/* The request's domain becomes the thread's hv_dom. */
static int check_domid(uint64_t domid)
{
    return hv_domain_check(domid);
}

/* XENSIM_OP_HELLO: may attach one fd (memfd or event socket). */
static int do_hello(HvClient *c, const XenSimMsg *req, XenSimMsg *rsp,
                    int *fd)
{
    int sv[2];

    if (c->lib) {
        return -EPROTO;     /* introduced already */
    }
    switch (req->arg[0]) {
    case XENSIM_LIB_FMEM:
    case XENSIM_LIB_PRIVCMD:
        *fd = hv.memfd;
        break;
    case XENSIM_LIB_EVTCHN:
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
            return -errno;
        }
        c->event_sock = sv[0];
        *fd = sv[1];
        break;
    case XENSIM_LIB_CTRL:
    case XENSIM_LIB_DM:
    case XENSIM_LIB_GNTTAB:
        break;
    default:
        return -EINVAL;
    }
    c->lib = req->arg[0];
    c->pid = req->arg[1];
    rsp->arg[0] = hv_dom->domid;
    rsp->arg[1] = hv_dom->nr_vcpus;
    rsp->arg[2] = XENSIM_PAGE_SIZE;
    return 0;
}

static int do_populate(const XenSimMsg *req, const void *in)
{
    const uint64_t *pfn = in;
    uint64_t nr = req->arg[1], order = req->arg[2], i;
    int ret;

    if (check_domid(req->arg[0]) < 0) {
        return -ESRCH;
    }
    if (order > 18 || nr > req->len / sizeof(uint64_t) ||
        req->len != nr * sizeof(uint64_t)) {
        return -EINVAL;
    }
    hv_dom->repopulated_pages = 0;
    for (i = 0; i < nr; i++) {
        ret = hv_populate(pfn[i], 1ull << order);
        if (ret < 0) {
            return ret;
        }
    }
    hv_log("populate_physmap: %llu extents of order %llu from gfn %#llx%s",
           (unsigned long long)nr, (unsigned long long)order,
           nr ? (unsigned long long)pfn[0] : 0ull,
           hv_dom->repopulated_pages ? " (some were populated: fresh pages)" :
           "");
    return 0;
}

static int do_fmem_map(HvClient *c, const XenSimMsg *req, const void *in,
                       int64_t **out,
                       size_t *outlen)
{
    const uint64_t *gfn = in;
    uint64_t nr = req->arg[2], i;
    int64_t *slot;
    int ok = 0;

    if (check_domid(req->arg[0]) < 0) {
        return -ESRCH;
    }
    if (!nr || nr > req->len / sizeof(uint64_t) ||
        req->len != nr * sizeof(uint64_t)) {
        return -EINVAL;
    }
    if (hv.fault_map_fail_in && --hv.fault_map_fail_in == 0) {
        hv.cnt[HV_CNT_fmem_map_failures]++;
        hv_log("fault: failing foreign map of %llu pages at gfn %#llx",
               (unsigned long long)nr, (unsigned long long)gfn[0]);
        return -ENOMEM;
    }
    slot = malloc(nr * sizeof(*slot));
    if (!slot) {
        return -ENOMEM;
    }
    for (i = 0; i < nr; i++) {
        slot[i] = gfn[i] == hv.fault_page_error_gfn ? -1 :
                  hv_p2m_lookup(gfn[i]);
        if (slot[i] < 0) {
            slot[i] = -EINVAL;
            hv.cnt[HV_CNT_fmem_map_page_errors]++;
        } else {
            ok++;
        }
    }
    hv.cnt[HV_CNT_fmem_maps]++;
    hv.cnt[HV_CNT_fmem_map_pages] += ok;
    for (i = 0; hv_dom->watch_gfn && !hv_dom->watch_pid && i < nr; i++) {
        if (gfn[i] >= hv_dom->watch_gfn) {
            hv_dom->watch_pid = c->pid;     /* the control's `waitmap` */
            hv.events++;
            pthread_cond_broadcast(&hv.cond);
        }
    }
    *out = slot;
    *outlen = nr * sizeof(*slot);
    return ok;
}

static int do_map_resource(const XenSimMsg *req, XenSimMsg *rsp, int *fd)
{
    HvIoreqServer *s;
    uint64_t frame = req->arg[3], nr = req->arg[4];
    uint64_t nr_frames;

    if (check_domid(req->arg[0]) < 0) {
        return -ESRCH;
    }
    if (req->arg[1] != XENMEM_resource_ioreq_server ||
        hv.fault_no_resource) {
        return -EOPNOTSUPP;
    }
    s = hv_server_find(req->arg[2]);
    if (!s) {
        return -ENOENT;
    }
    if (s->gfn[0]) {
        return -EPERM;      /* pages already handed out as gfns */
    }
    nr_frames = 1 + 1;  /* bufioreq page + one page of vCPU slots */
    if (nr == 0) {
        rsp->arg[1] = nr_frames;    /* size query */
        return 0;
    }
    if (frame >= nr_frames || nr > nr_frames - frame) {
        return -EINVAL;
    }
    if (frame == XENMEM_resource_ioreq_server_frame_bufioreq &&
        s->bufioreq_handling == HVM_IOREQSRV_BUFIOREQ_OFF) {
        return -EINVAL;
    }
    rsp->arg[0] = s->pages_off + (frame << XENSIM_PAGE_SHIFT);
    *fd = hv.memfd;
    s->resource_mapped = true;
    hv.cnt[HV_CNT_resource_maps]++;
    return 0;
}

static int do_evtchn(HvClient *c, const XenSimMsg *req)
{
    switch (req->op) {
    case XENSIM_OP_EVTCHN_BIND_INTERDOMAIN:
        return hv_evtchn_bind_interdomain(c, req->arg[0], req->arg[1]);
    case XENSIM_OP_EVTCHN_BIND_UNBOUND:
        return hv_evtchn_bind_unbound(c, req->arg[0]);
    case XENSIM_OP_EVTCHN_BIND_VIRQ:
        return -EINVAL;     /* dom0 VIRQs are not simulated */
    case XENSIM_OP_EVTCHN_UNBIND:
        return hv_evtchn_unbind(c, req->arg[0]);
    case XENSIM_OP_EVTCHN_NOTIFY:
        return hv_evtchn_notify(c, req->arg[0]);
    case XENSIM_OP_EVTCHN_UNMASK:
        hv_evtchn_unmask(c, req->arg[0]);
        return 0;
    }
    return -ENOSYS;
}

/*
 * Execute one request.  The reply payload (if any) is returned through
 * out and outlen (freed by the caller when free_out is set); an fd to
 * attach through fd.  Returns the result or -errno.
 */
static int dispatch(HvClient *c, const XenSimMsg *req, void *in,
                    XenSimMsg *rsp, void **out, size_t *outlen, int *fd,
                    bool *free_out)
{
    if (c->lib == 0 && req->op != XENSIM_OP_HELLO) {
        return -EPROTO;
    }
    switch (req->op) {
    case XENSIM_OP_HELLO:
        return do_hello(c, req, rsp, fd);
    case XENSIM_OP_UNSUPPORTED:
        hv.cnt[HV_CNT_unsupported_calls]++;
        hv_log("pid %d called %.*s: not simulated", c->pid, (int)req->len,
               (char *)in);
        return -ENOSYS;
    case XENSIM_OP_REPORT:
        hv_bug("(reported by pid %d's library) %.*s", c->pid,
               (int)req->len, (char *)in);
        return 0;
    case XENSIM_OP_POPULATE_PHYSMAP:
        return do_populate(req, in);
    case XENSIM_OP_GET_HVM_PARAM:
        if (check_domid(req->arg[0]) < 0) {
            return -ESRCH;
        }
        if (req->arg[1] >= HVM_NR_PARAMS) {
            return -EINVAL;
        }
        rsp->arg[0] = hv_dom->hvm_param[req->arg[1]];
        return 0;
    case XENSIM_OP_SET_HVM_PARAM:
        if (check_domid(req->arg[0]) < 0) {
            return -ESRCH;
        }
        if (req->arg[1] >= HVM_NR_PARAMS) {
            return -EINVAL;
        }
        hv_dom->hvm_param[req->arg[1]] = req->arg[2];
        hv_log("hvm param %llu = %#llx", (unsigned long long)req->arg[1],
               (unsigned long long)req->arg[2]);
        return 0;
    case XENSIM_OP_DOMAIN_SHUTDOWN:
        if (check_domid(req->arg[0]) < 0) {
            return -ESRCH;
        }
        hv_dom->shutdown_reason = req->arg[1];
        hv_dom->shutdown_count++;
        hv.cnt[HV_CNT_shutdowns]++;
        hv.events++;
        pthread_cond_broadcast(&hv.cond);
        return 0;
    case XENSIM_OP_FMEM_MAP:
        *free_out = true;
        return do_fmem_map(c, req, in, (int64_t **)out, outlen);
    case XENSIM_OP_FMEM_UNMAP:
        hv.cnt[HV_CNT_fmem_unmaps]++;
        return 0;
    case XENSIM_OP_FMEM_MAP_RESOURCE:
        return do_map_resource(req, rsp, fd);
    case XENSIM_OP_FMEM_UNMAP_RESOURCE:
        hv.cnt[HV_CNT_resource_unmaps]++;
        return 0;
    case XENSIM_OP_DM_OP: {
        size_t inlen = req->arg[1], extra_out = req->arg[2];
        size_t oplen = req->len >= inlen ? req->len - inlen : 0;
        char *buf;
        int ret;

        if (check_domid(req->arg[0]) < 0) {
            return -ESRCH;
        }
        if (req->len < inlen || extra_out > XENSIM_MAX_PAYLOAD) {
            return -EINVAL;
        }
        buf = calloc(1, oplen + extra_out);
        if (!buf) {
            return -ENOMEM;
        }
        memcpy(buf, in, oplen);
        ret = hv_dm_op(c, buf, oplen, (char *)in + oplen, inlen,
                       buf + oplen, extra_out);
        *out = buf;
        *outlen = oplen + extra_out;
        *free_out = true;
        return ret;
    }
    case XENSIM_OP_EVTCHN_BIND_INTERDOMAIN:
    case XENSIM_OP_EVTCHN_BIND_UNBOUND:
    case XENSIM_OP_EVTCHN_BIND_VIRQ:
    case XENSIM_OP_EVTCHN_UNBIND:
    case XENSIM_OP_EVTCHN_NOTIFY:
    case XENSIM_OP_EVTCHN_UNMASK:
        if (c->lib != XENSIM_LIB_EVTCHN) {
            return -EBADF;
        }
        return do_evtchn(c, req);
    case XENSIM_OP_GNTTAB_GRANT_COPY: {
        uint64_t count = req->arg[0], i;
        int16_t *status;

        if (count > req->len / sizeof(xengnttab_grant_copy_segment_t) ||
            req->len != count * sizeof(xengnttab_grant_copy_segment_t)) {
            return -EINVAL;
        }
        if (!count) {
            return 0;
        }
        status = malloc(count * sizeof(*status));
        if (!status) {
            return -ENOMEM;
        }
        for (i = 0; i < count; i++) {
            status[i] = GNTST_bad_gntref;
        }
        hv_log("grant copy of %llu segments: the guest grants nothing",
               (unsigned long long)count);
        *out = status;
        *outlen = count * sizeof(*status);
        *free_out = true;
        return 0;
    }
    case XENSIM_OP_HYPERCALL:
        return hv_hypercall(c, req, in, rsp);
    case XENSIM_OP_GNTTAB_MAP:
        hv_log("grant map of %llu refs from dom%llu: the guest grants "
               "nothing", (unsigned long long)req->arg[1],
               (unsigned long long)req->arg[0]);
        return -EINVAL;
    }
    hv_bug("pid %d sent unknown op %u", c->pid, req->op);
    return -ENOSYS;
}

/* Serve one message from client i; false to drop the client. */
static bool client_serve(HvClient *c)
{
    XenSimMsg req, rsp;
    void *in = NULL, *out = NULL;
    size_t outlen = 0;
    bool free_out = false;
    int fd = -1, ret;
    unsigned nfds = 0;
    bool ok;

    if (xensim_wire_recv_hdr(c->fd, &req, NULL, &nfds) < 0) {
        return false;
    }
    if (req.len > XENSIM_MAX_PAYLOAD) {
        hv_bug("pid %d: message of %u bytes exceeds the protocol limit",
               c->pid, req.len);
        return false;
    }
    if (req.len) {
        in = malloc(req.len + 1);
        if (!in || xensim_wire_read(c->fd, in, req.len) < 0) {
            free(in);
            return false;
        }
        ((char *)in)[req.len] = 0;
    }
    memset(&rsp, 0, sizeof(rsp));
    pthread_mutex_lock(&hv.lock);
    hv_domain_select(0);        /* until a domid says which */
    ret = dispatch(c, &req, in, &rsp, &out, &outlen, &fd, &free_out);
    pthread_mutex_unlock(&hv.lock);
    if (req.flags & XENSIM_OP_ONEWAY) {
        ok = true;
        goto done;
    }
    if (hv.fault_slow_ms) {
        usleep(hv.fault_slow_ms * 1000);
    }
    rsp.op = req.op;
    rsp.ret = ret < 0 ? -1 : ret;
    rsp.err = ret < 0 ? -ret : 0;
    rsp.len = outlen;
    rsp.nfds = fd >= 0 && ret >= 0;
    ok = xensim_wire_send(c->fd, &rsp, out, outlen, &fd, rsp.nfds) == 0;
    if (req.op == XENSIM_OP_HELLO && c->lib == XENSIM_LIB_EVTCHN &&
        fd >= 0) {
        close(fd);      /* the client's end of the event socket */
    }
done:
    if (free_out) {
        free(out);
    }
    free(in);
    return ok;
}

static void accept_client(int lfd)
{
    /* A client that stops mid-message is dropped, not waited for. */
    struct timeval stall = { .tv_sec = 5 };
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    unsigned i;

    if (fd < 0) {
        return;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &stall, sizeof(stall));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &stall, sizeof(stall));
    for (i = 0; i < MAX_CLIENTS; i++) {
        if (!clients[i]) {
            clients[i] = calloc(1, sizeof(HvClient));
            if (!clients[i]) {
                break;
            }
            clients[i]->fd = fd;
            clients[i]->event_sock = -1;
            return;
        }
    }
    fprintf(stderr, "xensim-hv: too many library connections\n");
    close(fd);
}

static void accept_control(int lfd)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    int *arg;
    pthread_t t;

    if (fd < 0) {
        return;
    }
    arg = malloc(sizeof(*arg));
    if (!arg) {
        close(fd);
        return;
    }
    *arg = fd;
    if (pthread_create(&t, NULL, hv_control_session, arg) != 0) {
        close(fd);
        free(arg);
        return;
    }
    pthread_detach(t);
}

int hv_serve(const char *socket_path, const char *control_path)
{
    struct pollfd pfd[MAX_CLIENTS + 3];
    int lfd, cfd = -1;
    unsigned i, n, idx[MAX_CLIENTS];

    if (pipe2(exit_pipe, O_CLOEXEC) < 0) {
        return -1;
    }
    lfd = listen_at(socket_path);
    if (lfd < 0) {
        return -1;
    }
    if (control_path) {
        cfd = listen_at(control_path);
        if (cfd < 0) {
            return -1;
        }
    }
    for (;;) {
        pfd[0] = (struct pollfd) { .fd = exit_pipe[0], .events = POLLIN };
        pfd[1] = (struct pollfd) { .fd = lfd, .events = POLLIN };
        pfd[2] = (struct pollfd) { .fd = cfd, .events = POLLIN };
        n = 3;
        for (i = 0; i < MAX_CLIENTS; i++) {
            if (clients[i]) {
                idx[n - 3] = i;
                pfd[n++] = (struct pollfd) { .fd = clients[i]->fd,
                                             .events = POLLIN };
            }
        }
        if (poll(pfd, n, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        if (pfd[0].revents) {
            break;
        }
        if (pfd[1].revents & POLLIN) {
            accept_client(lfd);
        }
        if (cfd >= 0 && (pfd[2].revents & POLLIN)) {
            accept_control(cfd);
        }
        for (i = 3; i < n; i++) {
            if (pfd[i].revents && !client_serve(clients[idx[i - 3]])) {
                client_drop(idx[i - 3]);
            }
        }
    }
    unlink(socket_path);
    if (control_path) {
        unlink(control_path);
    }
    return 0;
}
