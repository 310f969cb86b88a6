/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim xenstored: a small xenstore daemon for the Xen simulator.
 *
 * It speaks the xs_wire protocol (xen/io/xs_wire.h) on a Unix socket, well
 * enough for Debian's libxenstore.so.4 as QEMU 7.2 and libxl use it.  Every
 * socket client is treated as dom0 (privileged, home /local/domain/0), as
 * xenstored treats its socket clients; permissions are stored and reported
 * but not enforced.
 *
 * Invariants:
 *  - one thread, one poll loop; every socket is non-blocking, so one slow
 *    or hostile client never stalls the others;
 *  - nothing a client sends can crash the daemon: a well-framed request
 *    that is malformed gets an XS_ERROR reply with Xen's errno string, a
 *    frame that breaks the protocol (payload over XENSTORE_PAYLOAD_MAX)
 *    or a client that stops reading its replies gets disconnected;
 *  - replies go out in request order; watch events are queued on the same
 *    stream after the reply of the request that caused them, and a new
 *    watch fires once right after its XS_WATCH reply, as xenstored does;
 *  - a transaction works on a private copy of the tree, records the
 *    generation of every node it looked at, and commits only if none of
 *    them changed meanwhile (else EAGAIN); its changes fire watches at
 *    commit time.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <xen/io/xs_wire.h>

#include "../common/sockio.h"
#include "store.h"

#define HOME_PATH           "/local/domain/0"
#define MAX_CONNS           256
#define MAX_WATCHES         256     /* per connection */
#define MAX_TRANSACTIONS    16      /* per connection */
#define MAX_ALL_TRANSACTIONS 128    /* each holds a copy of the tree */
#define REQUESTS_PER_ROUND  64      /* per client per poll round */
#define MAX_TOKEN_LEN       1000    /* keeps every event within one frame */
#define MAX_OUTQ            (4u << 20) /* unread replies before a drop */

struct watch {
    char *path;             /* canonical: absolute or "@special" */
    char *token;
    bool relative;          /* report event paths relative to HOME_PATH */
    struct watch *next;
};

struct tx_access {
    char *path;
    uint64_t gen;           /* 0: the node did not exist */
};

struct tx_op {
    uint32_t type;          /* XS_WRITE, XS_MKDIR, XS_RM or XS_SET_PERMS */
    char *path;
    char *data;
    unsigned int len;
    struct xs_perm *perms;
    unsigned int nr_perms;
};

struct transaction {
    uint32_t id;
    struct store *view;
    struct tx_access *seen;
    unsigned int nr_seen, seen_cap;
    struct tx_op *ops;
    unsigned int nr_ops, ops_cap;
    struct transaction *next;
};

struct conn {
    int fd;
    unsigned int id;
    struct xsd_sockmsg hdr;
    char in[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX + 1];
    size_t in_used;
    char *out;
    size_t out_len, out_off, out_cap;
    struct watch *watches;
    unsigned int nr_watches;
    struct transaction *txs;
    unsigned int nr_txs;
    uint32_t next_tx_id;
    bool dead;
};

static struct store *store;
static struct conn *conns[MAX_CONNS];
static unsigned int nr_conns;
static unsigned int conn_serial;
static unsigned int nr_all_txs;
static bool verbose;
static volatile sig_atomic_t quit;
static unsigned char introduced[65536 / 8];

static void logmsg(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("xenstored: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static const char *errno_name(int err)
{
    unsigned int i;

    for (i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++) {
        if (xsd_errors[i].errnum == err) {
            return xsd_errors[i].errstring;
        }
    }
    return "EIO";
}

/* ---- output ---------------------------------------------------------- */

static void conn_queue(struct conn *c, uint32_t type, uint32_t req_id,
                       uint32_t tx_id, const void *data, size_t len)
{
    struct xsd_sockmsg hdr = {
        .type = type, .req_id = req_id, .tx_id = tx_id, .len = len,
    };
    size_t need = c->out_len + sizeof(hdr) + len;

    if (c->dead) {
        return;
    }
    if (need - c->out_off > MAX_OUTQ) {
        logmsg("conn %u: not reading its replies, dropping it", c->id);
        c->dead = true;
        return;
    }
    if (need > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        char *p;

        while (cap < need) {
            cap *= 2;
        }
        p = realloc(c->out, cap);
        if (!p) {
            c->dead = true;
            return;
        }
        c->out = p;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, &hdr, sizeof(hdr));
    if (len) {
        memcpy(c->out + c->out_len + sizeof(hdr), data, len);
    }
    c->out_len = need;
}

/*
 * After a failed send() or recv() on @c: true to try again (EINTR);
 * otherwise stop for now, and for good (dead) unless it would block.
 */
static bool io_retry(struct conn *c)
{
    if (errno == EINTR) {
        return true;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
        c->dead = true;
    }
    return false;
}

static void conn_flush(struct conn *c)
{
    while (!c->dead && c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                         MSG_NOSIGNAL);

        if (n < 0) {
            if (io_retry(c)) {
                continue;
            }
            return;
        }
        c->out_off += n;
    }
    if (c->out_off == c->out_len) {
        c->out_off = c->out_len = 0;
    }
}

static void reply(struct conn *c, const void *data, size_t len)
{
    conn_queue(c, c->hdr.type, c->hdr.req_id, c->hdr.tx_id, data, len);
}

static void reply_str(struct conn *c, const char *s)
{
    reply(c, s, strlen(s) + 1);
}

static void reply_error(struct conn *c, int err)
{
    const char *name = errno_name(err);

    if (verbose) {
        logmsg("conn %u: type %u -> %s", c->id, c->hdr.type, name);
    }
    conn_queue(c, XS_ERROR, c->hdr.req_id, c->hdr.tx_id,
               name, strlen(name) + 1);
}

/* ---- watches --------------------------------------------------------- */

static void send_event(struct conn *c, const struct watch *w,
                       const char *path)
{
    char buf[XENSTORE_PAYLOAD_MAX];
    size_t plen, tlen;

    if (w->relative && store_path_is_child(path, HOME_PATH) &&
        strcmp(path, HOME_PATH) != 0) {
        path += strlen(HOME_PATH) + 1;
    }
    plen = strlen(path) + 1;
    tlen = strlen(w->token) + 1;
    if (plen + tlen > sizeof(buf)) {
        return;
    }
    memcpy(buf, path, plen);
    memcpy(buf + plen, w->token, tlen);
    conn_queue(c, XS_WATCH_EVENT, 0, 0, buf, plen + tlen);
}

/*
 * Tell every watcher that @path changed.  A recursive removal also fires
 * the watches set below @path, with their own path, as xenstored does.
 */
static void fire_watches(const char *path, bool removed)
{
    unsigned int i;
    struct watch *w;

    for (i = 0; i < nr_conns; i++) {
        for (w = conns[i]->watches; w; w = w->next) {
            if (path[0] == '@') {
                if (strcmp(path, w->path) == 0) {
                    send_event(conns[i], w, path);
                }
            } else if (w->path[0] == '@') {
                continue;
            } else if (store_path_is_child(path, w->path)) {
                send_event(conns[i], w, path);
            } else if (removed && store_path_is_child(w->path, path)) {
                send_event(conns[i], w, w->path);
            }
        }
    }
}

static void watch_free(struct watch *w)
{
    free(w->path);
    free(w->token);
    free(w);
}

/* ---- request parsing ------------------------------------------------- */

/*
 * Split the payload into its NUL-terminated strings.  Returns the number
 * of strings, or -1 if the payload does not end with a NUL.
 */
static int split_args(char *data, size_t len, const char **argv, int max)
{
    size_t off = 0;
    int argc = 0;

    if (len == 0 || data[len - 1] != '\0') {
        return -1;
    }
    while (off < len) {
        if (argc < max) {
            argv[argc] = data + off;
        }
        argc++;
        off += strlen(data + off) + 1;
    }
    return argc;
}

/* Turn a client path into a canonical absolute one; 0 or -errno. */
static int canonical_path(const char *raw, bool allow_special,
                          char *out, size_t out_size)
{
    int n;

    if (raw[0] == '@' && allow_special) {
        n = snprintf(out, out_size, "%s", raw);
        return (size_t)n < out_size && strlen(raw) > 1 ? 0 : -EINVAL;
    }
    if (raw[0] == '\0') {
        return -EINVAL;
    }
    if (raw[0] == '/') {
        n = snprintf(out, out_size, "%s", raw);
    } else {
        n = snprintf(out, out_size, "%s/%s", HOME_PATH, raw);
    }
    if (n < 0 || (size_t)n >= out_size || !store_path_valid(out)) {
        return -EINVAL;
    }
    return 0;
}

/* The request's single string argument as a canonical path. */
static int one_path(struct conn *c, char *data, char *path, size_t size)
{
    const char *argv[1];

    if (split_args(data, c->hdr.len, argv, 1) != 1) {
        return -EINVAL;
    }
    return canonical_path(argv[0], false, path, size);
}

static bool parse_domid(const char *s, unsigned int *domid)
{
    char *end;
    unsigned long v;

    if (!*s) {
        return false;
    }
    errno = 0;
    v = strtoul(s, &end, 10);
    if (*end || errno || v > 0xffff) {
        return false;
    }
    *domid = v;
    return true;
}

/* ---- transactions ---------------------------------------------------- */

static struct transaction *tx_find(struct conn *c, uint32_t id)
{
    struct transaction *t;

    for (t = c->txs; t; t = t->next) {
        if (t->id == id) {
            return t;
        }
    }
    return NULL;
}

static void tx_free(struct transaction *t)
{
    unsigned int i;

    for (i = 0; i < t->nr_seen; i++) {
        free(t->seen[i].path);
    }
    for (i = 0; i < t->nr_ops; i++) {
        free(t->ops[i].path);
        free(t->ops[i].data);
        free(t->ops[i].perms);
    }
    free(t->seen);
    free(t->ops);
    store_free(t->view);
    free(t);
}

static void tx_unlink(struct conn *c, struct transaction *t)
{
    struct transaction **pp;

    for (pp = &c->txs; *pp != t; pp = &(*pp)->next) {
        continue;
    }
    *pp = t->next;
    c->nr_txs--;
    nr_all_txs--;
    tx_free(t);
}

/* Remember the generation @path had in the view when first looked at. */
static int tx_note(struct transaction *t, const char *path)
{
    struct xs_node *n;
    unsigned int i;

    for (i = 0; i < t->nr_seen; i++) {
        if (strcmp(t->seen[i].path, path) == 0) {
            return 0;
        }
    }
    if (t->nr_seen == t->seen_cap) {
        unsigned int cap = t->seen_cap ? t->seen_cap * 2 : 8;
        struct tx_access *p = realloc(t->seen, cap * sizeof(*p));

        if (!p) {
            return -ENOMEM;
        }
        t->seen = p;
        t->seen_cap = cap;
    }
    n = store_lookup(t->view, path);
    t->seen[t->nr_seen].path = strdup(path);
    if (!t->seen[t->nr_seen].path) {
        return -ENOMEM;
    }
    t->seen[t->nr_seen].gen = n ? n->gen : 0;
    t->nr_seen++;
    return 0;
}

/*
 * Note @path and, for a change to the tree's shape (a node created or
 * removed), the parents whose child list changes: up to and including
 * the first ancestor that exists.
 */
static int tx_note_change(struct transaction *t, const char *path,
                          bool shape_changes)
{
    char buf[STORE_ABS_PATH_MAX + 1];
    int err;

    snprintf(buf, sizeof(buf), "%s", path);
    err = tx_note(t, buf);
    while (!err && shape_changes) {
        char *slash = strrchr(buf, '/');
        bool existed;

        if (slash == buf) {
            err = buf[1] ? tx_note(t, "/") : 0;
            break;
        }
        *slash = '\0';
        existed = store_lookup(t->view, buf) != NULL;
        err = tx_note(t, buf);
        if (existed) {
            break;
        }
    }
    return err;
}

/*
 * Note every node under @n (at @path) before the transaction removes it,
 * so that looking at one of them again later in the transaction (absent
 * from the view by then) compares against the generation the store had,
 * not against "absent".
 */
static int tx_note_subtree(struct transaction *t, const struct xs_node *n,
                           const char *path)
{
    char buf[STORE_ABS_PATH_MAX + 1];
    unsigned int i;
    int err = tx_note(t, path);

    for (i = 0; !err && i < n->nr_children; i++) {
        if (snprintf(buf, sizeof(buf), "%s/%s", strcmp(path, "/") ? path : "",
                     n->children[i]->name) >= (int)sizeof(buf)) {
            continue;
        }
        err = tx_note_subtree(t, n->children[i], buf);
    }
    return err;
}

static int tx_log(struct transaction *t, uint32_t type, const char *path,
                  const char *data, unsigned int len,
                  const struct xs_perm *perms, unsigned int nr_perms)
{
    struct tx_op *op;

    if (t->nr_ops == t->ops_cap) {
        unsigned int cap = t->ops_cap ? t->ops_cap * 2 : 8;
        struct tx_op *p = realloc(t->ops, cap * sizeof(*p));

        if (!p) {
            return -ENOMEM;
        }
        t->ops = p;
        t->ops_cap = cap;
    }
    op = &t->ops[t->nr_ops];
    memset(op, 0, sizeof(*op));
    op->type = type;
    op->path = strdup(path);
    if (len) {
        op->data = malloc(len);
        if (op->data) {
            memcpy(op->data, data, len);
        }
    }
    op->len = len;
    if (nr_perms) {
        op->perms = malloc(nr_perms * sizeof(*perms));
        if (op->perms) {
            memcpy(op->perms, perms, nr_perms * sizeof(*perms));
        }
    }
    op->nr_perms = nr_perms;
    if (!op->path || (len && !op->data) || (nr_perms && !op->perms)) {
        free(op->path);
        free(op->data);
        free(op->perms);
        return -ENOMEM;
    }
    t->nr_ops++;
    return 0;
}

/* ---- request handlers ------------------------------------------------ */

/*
 * Each do_*() either queues its reply and returns 0, or returns -errno
 * and queues nothing; handle_request() turns the latter into XS_ERROR.
 */

/*
 * The store a request works on: the transaction's view for a non-zero
 * tx_id, the live tree otherwise.  NULL (-ENOENT) for an unknown tx_id.
 */
static struct store *target_store(struct conn *c, struct transaction **tp)
{
    *tp = NULL;
    if (c->hdr.tx_id == 0) {
        return store;
    }
    *tp = tx_find(c, c->hdr.tx_id);
    return *tp ? (*tp)->view : NULL;
}

/*
 * The node a read-only request names by @raw, in the store @s the
 * request works on; the path is noted in the transaction @t (if any)
 * whether or not the node exists.  0 or -errno.
 */
static int find_node(struct store *s, struct transaction *t, const char *raw,
                     struct xs_node **np)
{
    char path[STORE_ABS_PATH_MAX + 1];
    int err = canonical_path(raw, false, path, sizeof(path));

    if (!err && t) {
        err = tx_note(t, path);
    }
    if (err) {
        return err;
    }
    *np = store_lookup(s, path);
    return *np ? 0 : -ENOENT;
}

/* find_node() for a request whose only argument is the path. */
static int one_node(struct conn *c, char *data, struct xs_node **np)
{
    const char *argv[1];
    struct transaction *t;
    struct store *s = target_store(c, &t);

    if (!s) {
        return -ENOENT;
    }
    if (split_args(data, c->hdr.len, argv, 1) != 1) {
        return -EINVAL;
    }
    return find_node(s, t, argv[0], np);
}

static int do_read(struct conn *c, char *data)
{
    struct xs_node *n;
    int err = one_node(c, data, &n);

    if (err) {
        return err;
    }
    reply(c, n->value, n->value_len);
    return 0;
}

/* Names of @n's children from byte @offset on, as many as fit. */
static size_t list_children(const struct xs_node *n, size_t offset,
                            char *buf, size_t size, bool *complete,
                            bool *bad_offset)
{
    size_t pos = 0, used = 0;
    unsigned int i;

    *complete = true;
    *bad_offset = offset != 0;
    for (i = 0; i < n->nr_children; i++) {
        size_t len = strlen(n->children[i]->name) + 1;

        if (pos == offset) {
            *bad_offset = false;
        }
        if (pos >= offset) {
            if (used + len > size) {
                *complete = false;
                break;
            }
            memcpy(buf + used, n->children[i]->name, len);
            used += len;
        }
        pos += len;
    }
    if (pos == offset) {
        *bad_offset = false;
    }
    return used;
}

static int do_directory(struct conn *c, char *data)
{
    char buf[XENSTORE_PAYLOAD_MAX];
    struct xs_node *n;
    bool complete, bad;
    size_t len;
    int err = one_node(c, data, &n);

    if (err) {
        return err;
    }
    len = list_children(n, 0, buf, sizeof(buf), &complete, &bad);
    if (!complete) {
        return -E2BIG;
    }
    reply(c, buf, len);
    return 0;
}

static int do_directory_part(struct conn *c, char *data)
{
    char buf[XENSTORE_PAYLOAD_MAX];
    const char *argv[2];
    struct transaction *t;
    struct store *s = target_store(c, &t);
    struct xs_node *n;
    unsigned long offset;
    bool complete, bad;
    char *end;
    size_t used;
    int err;

    if (!s) {
        return -ENOENT;
    }
    if (split_args(data, c->hdr.len, argv, 2) != 2) {
        return -EINVAL;
    }
    errno = 0;
    offset = strtoul(argv[1], &end, 10);
    if (!argv[1][0] || *end || errno || offset > UINT32_MAX) {
        return -EINVAL;
    }
    err = find_node(s, t, argv[0], &n);
    if (err) {
        return err;
    }
    used = snprintf(buf, sizeof(buf), "%" PRIu64, n->gen) + 1;
    /* Keep a byte for the empty string that marks the end of the list. */
    used += list_children(n, offset, buf + used, sizeof(buf) - used - 1,
                          &complete, &bad);
    if (bad) {
        return -EINVAL;
    }
    if (complete) {
        buf[used++] = '\0';
    }
    reply(c, buf, used);
    return 0;
}

static int do_get_perms(struct conn *c, char *data)
{
    char buf[XENSTORE_PAYLOAD_MAX];
    struct xs_node *n;
    size_t used = 0;
    unsigned int i;
    int err = one_node(c, data, &n);

    if (err) {
        return err;
    }
    for (i = 0; i < n->nr_perms; i++) {
        used += snprintf(buf + used, sizeof(buf) - used, "%c%u",
                         n->perms[i].mode, n->perms[i].domid) + 1;
    }
    reply(c, buf, used);
    return 0;
}

/*
 * WRITE, MKDIR, RM and SET_PERMS share this tail: apply the change to the
 * chosen store, and either log it in the transaction or fire watches.
 */
static int apply_change(struct conn *c, uint32_t type, const char *path,
                        const char *value, unsigned int len,
                        const struct xs_perm *perms, unsigned int nr_perms)
{
    struct transaction *t;
    struct store *s = target_store(c, &t);
    bool existed;
    int err = 0;

    if (!s) {
        return -ENOENT;
    }
    existed = store_lookup(s, path) != NULL;
    if (t) {
        bool shape = type == XS_RM ? existed
                                   : !existed && type != XS_SET_PERMS;

        err = tx_note_change(t, path, shape);
        if (!err && type == XS_RM && existed) {
            err = tx_note_subtree(t, store_lookup(s, path), path);
        }
        if (err) {
            return err;
        }
    }
    switch (type) {
    case XS_WRITE:
        err = store_write(s, path, value, len);
        break;
    case XS_MKDIR:
        err = store_mkdir(s, path);
        break;
    case XS_RM:
        err = store_rm(s, path);
        break;
    case XS_SET_PERMS:
        err = store_set_perms(s, path, perms, nr_perms);
        break;
    }
    if (err) {
        return err;
    }
    if (t) {
        err = tx_log(t, type, path, value, len, perms, nr_perms);
        if (err) {
            return err;
        }
    } else if (type == XS_MKDIR ? !existed : type != XS_RM || existed) {
        /* Only real changes fire: no-op MKDIR and RM stay silent. */
        fire_watches(path, type == XS_RM);
    }
    reply_str(c, "OK");
    return 0;
}

static int do_write(struct conn *c, char *data)
{
    char path[STORE_ABS_PATH_MAX + 1];
    size_t plen = strnlen(data, c->hdr.len);
    int err;

    if (plen == c->hdr.len) {
        return -EINVAL;
    }
    err = canonical_path(data, false, path, sizeof(path));
    if (err) {
        return err;
    }
    return apply_change(c, XS_WRITE, path, data + plen + 1,
                        c->hdr.len - plen - 1, NULL, 0);
}

static int do_mkdir_rm(struct conn *c, char *data)
{
    char path[STORE_ABS_PATH_MAX + 1];
    int err = one_path(c, data, path, sizeof(path));

    if (err) {
        return err;
    }
    return apply_change(c, c->hdr.type, path, NULL, 0, NULL, 0);
}

static int do_set_perms(struct conn *c, char *data)
{
    char path[STORE_ABS_PATH_MAX + 1];
    const char *argv[STORE_MAX_PERMS + 1];
    struct xs_perm perms[STORE_MAX_PERMS];
    int argc = split_args(data, c->hdr.len, argv, STORE_MAX_PERMS + 1);
    int i, err;

    if (argc < 2 || argc > STORE_MAX_PERMS + 1) {
        return -EINVAL;
    }
    err = canonical_path(argv[0], false, path, sizeof(path));
    if (err) {
        return err;
    }
    for (i = 1; i < argc; i++) {
        if (!store_parse_perm(argv[i], &perms[i - 1])) {
            return -EINVAL;
        }
    }
    return apply_change(c, XS_SET_PERMS, path, NULL, 0, perms, argc - 1);
}

static int do_watch(struct conn *c, char *data)
{
    char path[STORE_ABS_PATH_MAX + 1];
    const char *argv[2];
    struct watch *w;
    int err;

    if (split_args(data, c->hdr.len, argv, 2) < 2) {
        return -EINVAL;
    }
    err = canonical_path(argv[0], true, path, sizeof(path));
    if (err) {
        return err;
    }
    if (strlen(argv[1]) > MAX_TOKEN_LEN) {
        return -EINVAL;
    }
    for (w = c->watches; w; w = w->next) {
        if (strcmp(w->path, path) == 0 && strcmp(w->token, argv[1]) == 0) {
            return -EEXIST;
        }
    }
    if (c->nr_watches >= MAX_WATCHES) {
        return -E2BIG;
    }
    w = calloc(1, sizeof(*w));
    if (!w) {
        return -ENOMEM;
    }
    w->path = strdup(path);
    w->token = strdup(argv[1]);
    if (!w->path || !w->token) {
        watch_free(w);
        return -ENOMEM;
    }
    w->relative = argv[0][0] != '/' && argv[0][0] != '@';
    w->next = c->watches;
    c->watches = w;
    c->nr_watches++;
    reply_str(c, "OK");
    send_event(c, w, w->path);
    return 0;
}

static int do_unwatch(struct conn *c, char *data)
{
    char path[STORE_ABS_PATH_MAX + 1];
    const char *argv[2];
    struct watch **pp, *w;
    int err;

    if (split_args(data, c->hdr.len, argv, 2) < 2) {
        return -EINVAL;
    }
    err = canonical_path(argv[0], true, path, sizeof(path));
    if (err) {
        return err;
    }
    for (pp = &c->watches; (w = *pp) != NULL; pp = &w->next) {
        if (strcmp(w->path, path) == 0 && strcmp(w->token, argv[1]) == 0) {
            *pp = w->next;
            watch_free(w);
            c->nr_watches--;
            reply_str(c, "OK");
            return 0;
        }
    }
    return -ENOENT;
}

static int do_transaction_start(struct conn *c, char *data)
{
    struct transaction *t;
    char buf[16];
    const char *argv[1];

    if (c->hdr.tx_id != 0) {
        return -EBUSY;
    }
    if (split_args(data, c->hdr.len, argv, 1) != 1) {
        return -EINVAL;
    }
    if (c->nr_txs >= MAX_TRANSACTIONS ||
        nr_all_txs >= MAX_ALL_TRANSACTIONS) {
        return -ENOSPC;
    }
    t = calloc(1, sizeof(*t));
    if (!t) {
        return -ENOMEM;
    }
    t->view = store_clone(store);
    if (!t->view) {
        free(t);
        return -ENOMEM;
    }
    do {
        t->id = ++c->next_tx_id;
    } while (t->id == 0 || tx_find(c, t->id));
    t->next = c->txs;
    c->txs = t;
    c->nr_txs++;
    nr_all_txs++;
    snprintf(buf, sizeof(buf), "%u", t->id);
    reply_str(c, buf);
    return 0;
}

static bool tx_conflicts(const struct transaction *t)
{
    unsigned int i;

    for (i = 0; i < t->nr_seen; i++) {
        struct xs_node *n = store_lookup(store, t->seen[i].path);

        if ((n ? n->gen : 0) != t->seen[i].gen) {
            return true;
        }
    }
    return false;
}

static void tx_commit(const struct transaction *t)
{
    unsigned int i;

    for (i = 0; i < t->nr_ops; i++) {
        const struct tx_op *op = &t->ops[i];
        bool existed = store_lookup(store, op->path) != NULL;
        int err = 0;

        switch (op->type) {
        case XS_WRITE:
            err = store_write(store, op->path, op->data, op->len);
            break;
        case XS_MKDIR:
            err = existed ? -EEXIST : store_mkdir(store, op->path);
            break;
        case XS_RM:
            err = existed ? store_rm(store, op->path) : -ENOENT;
            break;
        case XS_SET_PERMS:
            err = store_set_perms(store, op->path, op->perms, op->nr_perms);
            break;
        }
        if (!err) {
            fire_watches(op->path, op->type == XS_RM);
        }
    }
}

static int do_transaction_end(struct conn *c, char *data)
{
    const char *argv[1];
    struct transaction *t = tx_find(c, c->hdr.tx_id);
    bool commit;

    if (!t) {
        return -ENOENT;
    }
    if (split_args(data, c->hdr.len, argv, 1) != 1 ||
        (strcmp(argv[0], "T") != 0 && strcmp(argv[0], "F") != 0)) {
        return -EINVAL;
    }
    commit = argv[0][0] == 'T';
    if (commit && tx_conflicts(t)) {
        tx_unlink(c, t);
        return -EAGAIN;
    }
    if (commit) {
        tx_commit(t);
    }
    tx_unlink(c, t);
    reply_str(c, "OK");
    return 0;
}

static int do_domain_op(struct conn *c, char *data)
{
    const char *argv[3];
    int argc = split_args(data, c->hdr.len, argv, 3);
    unsigned int domid;
    char buf[64];

    if (argc < 1 || !parse_domid(argv[0], &domid)) {
        return -EINVAL;
    }
    switch (c->hdr.type) {
    case XS_GET_DOMAIN_PATH:
        snprintf(buf, sizeof(buf), "/local/domain/%u", domid);
        reply_str(c, buf);
        return 0;
    case XS_IS_DOMAIN_INTRODUCED:
        reply_str(c, domid == 0 || (introduced[domid / 8] &
                                    (1u << (domid % 8))) ? "T" : "F");
        return 0;
    case XS_INTRODUCE:
        if (argc < 3 || domid == 0) {
            return -EINVAL;
        }
        introduced[domid / 8] |= 1u << (domid % 8);
        reply_str(c, "OK");
        fire_watches("@introduceDomain", false);
        return 0;
    case XS_RELEASE:
        if (domid == 0) {
            return -EINVAL;
        }
        introduced[domid / 8] &= ~(1u << (domid % 8));
        reply_str(c, "OK");
        fire_watches("@releaseDomain", false);
        return 0;
    case XS_SET_TARGET:
        if (argc < 2 || !parse_domid(argv[1], &domid)) {
            return -EINVAL;
        }
        reply_str(c, "OK");
        return 0;
    default: /* XS_RESUME */
        reply_str(c, "OK");
        return 0;
    }
}

static void reset_watches(struct conn *c)
{
    while (c->watches) {
        struct watch *w = c->watches;

        c->watches = w->next;
        watch_free(w);
    }
    c->nr_watches = 0;
    while (c->txs) {
        tx_unlink(c, c->txs);
    }
}

/*
 * "domain-exception DOMID dead|shutdown": what Xen's VIRQ_DOM_EXC tells
 * xenstored, sent by xensim-hv (which has no virq to raise).  As
 * xenstored's domain_cleanup(): a dead domain is forgotten, and either
 * way @releaseDomain fires so toolstacks look at the domain again.
 */
static int domain_exception(struct conn *c, const char *id, const char *how)
{
    unsigned int domid;

    if (!parse_domid(id, &domid) || domid == 0) {
        return -EINVAL;
    }
    if (strcmp(how, "dead") == 0) {
        introduced[domid / 8] &= ~(1u << (domid % 8));
    } else if (strcmp(how, "shutdown") != 0) {
        return -EINVAL;
    }
    logmsg("conn %u: domain %u %s: @releaseDomain", c->id, domid, how);
    reply_str(c, "OK");
    fire_watches("@releaseDomain", false);
    return 0;
}

static int do_control(struct conn *c, char *data)
{
    const char *argv[3];
    int argc = split_args(data, c->hdr.len, argv, 3);

    if (argc < 1) {
        return -EINVAL;
    }
    if (strcmp(argv[0], "domain-exception") == 0 && argc >= 3) {
        return domain_exception(c, argv[1], argv[2]);
    }
    if (strcmp(argv[0], "check") == 0) {
        reply_str(c, "OK");
    } else if (strcmp(argv[0], "print") == 0 && argc >= 2) {
        logmsg("conn %u: %s", c->id, argv[1]);
        reply_str(c, "OK");
    } else if (strcmp(argv[0], "help") == 0) {
        reply_str(c, "check\nprint <string>\n"
                  "domain-exception <domid> dead|shutdown\nhelp\n");
    } else {
        return -EINVAL;
    }
    return 0;
}

static int do_reset_watches(struct conn *c, char *data)
{
    reset_watches(c);
    reply_str(c, "OK");
    return 0;
}

/* Request handlers: 0 once the reply is queued, or -errno for XS_ERROR. */
static int (*const handlers[XS_TYPE_COUNT])(struct conn *c, char *data) = {
    [XS_READ] = do_read,
    [XS_WRITE] = do_write,
    [XS_MKDIR] = do_mkdir_rm,
    [XS_RM] = do_mkdir_rm,
    [XS_DIRECTORY] = do_directory,
    [XS_DIRECTORY_PART] = do_directory_part,
    [XS_GET_PERMS] = do_get_perms,
    [XS_SET_PERMS] = do_set_perms,
    [XS_WATCH] = do_watch,
    [XS_UNWATCH] = do_unwatch,
    [XS_TRANSACTION_START] = do_transaction_start,
    [XS_TRANSACTION_END] = do_transaction_end,
    [XS_GET_DOMAIN_PATH] = do_domain_op,
    [XS_IS_DOMAIN_INTRODUCED] = do_domain_op,
    [XS_INTRODUCE] = do_domain_op,
    [XS_RELEASE] = do_domain_op,
    [XS_RESUME] = do_domain_op,
    [XS_SET_TARGET] = do_domain_op,
    [XS_RESET_WATCHES] = do_reset_watches,
    [XS_CONTROL] = do_control,
};

/* @s with anything unprintable replaced, for the log (static buffer). */
static const char *printable(const char *s)
{
    static char buf[81];
    size_t i;

    for (i = 0; i < sizeof(buf) - 1 && s[i]; i++) {
        buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    }
    buf[i] = '\0';
    return buf;
}

static void handle_request(struct conn *c)
{
    char *data = c->in + sizeof(struct xsd_sockmsg);
    int err;

    data[c->hdr.len] = '\0';
    if (verbose) {
        /* The first string is the path for most requests. */
        logmsg("conn %u: type %u req %u tx %u len %u '%.80s'", c->id,
               c->hdr.type, c->hdr.req_id, c->hdr.tx_id, c->hdr.len,
               printable(data));
    }
    if (c->hdr.type < XS_TYPE_COUNT && handlers[c->hdr.type]) {
        err = handlers[c->hdr.type](c, data);
    } else {
        err = -EINVAL;
    }
    if (err) {
        reply_error(c, -err);
    }
}

/* ---- connections ----------------------------------------------------- */

/*
 * Read and serve what @c has sent, up to REQUESTS_PER_ROUND requests so
 * that a client streaming requests cannot starve the others.
 */
static void conn_read(struct conn *c)
{
    const size_t hlen = sizeof(struct xsd_sockmsg);
    unsigned int served = 0;

    while (served < REQUESTS_PER_ROUND) {
        size_t want = c->in_used < hlen ? hlen : hlen + c->hdr.len;
        ssize_t n = recv(c->fd, c->in + c->in_used, want - c->in_used, 0);

        if (n == 0) {
            c->dead = true;
            return;
        }
        if (n < 0) {
            if (io_retry(c)) {
                continue;
            }
            return;
        }
        c->in_used += n;
        if (c->in_used == hlen) {
            memcpy(&c->hdr, c->in, hlen);
            if (c->hdr.len > XENSTORE_PAYLOAD_MAX) {
                logmsg("conn %u: payload of %u bytes, dropping it",
                       c->id, c->hdr.len);
                c->dead = true;
                return;
            }
        }
        if (c->in_used == hlen + c->hdr.len && c->in_used >= hlen) {
            handle_request(c);
            served++;
            c->in_used = 0;
            if (c->dead) {
                return;
            }
        }
    }
}

static void conn_free(struct conn *c)
{
    reset_watches(c);
    close(c->fd);
    free(c->out);
    free(c);
}

static void accept_conn(int lfd)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    struct conn *c;

    if (fd < 0) {
        return;
    }
    if (nr_conns >= MAX_CONNS) {
        logmsg("too many clients, refusing one");
        close(fd);
        return;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return;
    }
    c->fd = fd;
    c->id = ++conn_serial;
    conns[nr_conns++] = c;
    if (verbose) {
        logmsg("conn %u: connected", c->id);
    }
}

static void reap_dead(void)
{
    unsigned int i = 0;

    while (i < nr_conns) {
        if (conns[i]->dead) {
            if (verbose) {
                logmsg("conn %u: gone", conns[i]->id);
            }
            conn_free(conns[i]);
            conns[i] = conns[--nr_conns];
        } else {
            i++;
        }
    }
}

static void on_signal(int sig)
{
    (void)sig;
    quit = 1;
}

static int listen_on(const char *path)
{
    int fd = sockio_listen(path, SOCK_NONBLOCK);

    if (fd < 0) {
        logmsg("%s: %s", path, strerror(errno));
    }
    return fd;
}

/* The nodes a freshly booted host has before any toolstack runs. */
static int seed_store(void)
{
    static const char *const dirs[] = {
        "/local/domain/0", "/tool", "/vm", "/libxl",
    };
    unsigned int i;
    int err = 0;

    store = store_new();
    if (!store) {
        return -ENOMEM;
    }
    for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && !err; i++) {
        err = store_mkdir(store, dirs[i]);
    }
    if (!err) {
        err = store_write(store, "/local/domain/0/domid", "0", 1);
    }
    if (!err) {
        err = store_write(store, "/local/domain/0/name", "Domain-0", 8);
    }
    return err;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: xenstored --socket PATH [--pid-file FILE] "
            "[--verbose]\n"
            "A xenstore daemon for xensim: serves xs_wire on PATH; clients "
            "find it\nthrough XENSTORED_PATH=PATH.  Stops on SIGTERM or "
            "SIGINT.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "socket", required_argument, NULL, 's' },
        { "pid-file", required_argument, NULL, 'p' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *sock_path = NULL, *pid_file = NULL;
    struct sigaction sa = { .sa_handler = on_signal };
    struct pollfd *pfds;
    int lfd, opt;

    while ((opt = getopt_long(argc, argv, "s:p:vh", opts, NULL)) != -1) {
        switch (opt) {
        case 's':
            sock_path = optarg;
            break;
        case 'p':
            pid_file = optarg;
            break;
        case 'v':
            verbose = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!sock_path || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (seed_store() != 0) {
        logmsg("out of memory");
        return 1;
    }
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    lfd = listen_on(sock_path);
    if (lfd < 0) {
        return 1;
    }
    if (pid_file) {
        FILE *f = fopen(pid_file, "w");

        if (!f) {
            logmsg("%s: %s", pid_file, strerror(errno));
            return 1;
        }
        fprintf(f, "%d\n", (int)getpid());
        fclose(f);
    }
    logmsg("listening on %s", sock_path);
    pfds = calloc(MAX_CONNS + 1, sizeof(*pfds));
    if (!pfds) {
        return 1;
    }
    while (!quit) {
        unsigned int i, n = nr_conns;

        pfds[0].fd = lfd;
        pfds[0].events = POLLIN;
        for (i = 0; i < n; i++) {
            pfds[i + 1].fd = conns[i]->fd;
            pfds[i + 1].events = POLLIN;
            if (conns[i]->out_len > conns[i]->out_off) {
                pfds[i + 1].events |= POLLOUT;
            }
        }
        if (poll(pfds, n + 1, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            logmsg("poll: %s", strerror(errno));
            break;
        }
        /* Clients are served before new ones are appended to conns[]. */
        for (i = 0; i < n; i++) {
            if (pfds[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) {
                conn_read(conns[i]);
            }
        }
        if (pfds[0].revents & POLLIN) {
            accept_conn(lfd);
        }
        for (i = 0; i < nr_conns; i++) {
            conn_flush(conns[i]);
        }
        reap_dead();
    }
    logmsg("exiting");
    unlink(sock_path);
    if (pid_file) {
        unlink(pid_file);
    }
    while (nr_conns) {
        conn_free(conns[--nr_conns]);
    }
    free(pfds);
    store_free(store);
    return 0;
}
