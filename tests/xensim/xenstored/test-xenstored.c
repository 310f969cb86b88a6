/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests for xensim's xenstored, driven through Debian's real
 * libxenstore (the library QEMU and libxl use) plus a raw socket for the
 * malformed input no library would send.  Prints TAP.
 *
 * Usage: xenstored-test PATH-TO-XENSTORED
 *
 * It starts its own daemon on a socket in a private temporary directory
 * and stops it at the end.  Every wait is bounded (a deadlock guard, not a
 * timing assertion): a missing reply or event fails the test instead of
 * hanging it.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xenstore.h>
#include <xen/io/xs_wire.h>

#define GUARD_MS 10000

static int test_no;
static int failures;
static char sock_path[100];

static void ok(bool cond, const char *fmt, ...)
{
    va_list ap;

    printf("%s %d - ", cond ? "ok" : "not ok", ++test_no);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    if (!cond) {
        failures++;
    }
}

static char *read_str(struct xs_handle *h, xs_transaction_t t,
                      const char *path)
{
    unsigned int len;

    return xs_read(h, t, path, &len);
}

static bool read_is(struct xs_handle *h, xs_transaction_t t,
                    const char *path, const char *want)
{
    char *v = read_str(h, t, path);
    bool same = v && strcmp(v, want) == 0;

    free(v);
    return same;
}

static bool write_str(struct xs_handle *h, xs_transaction_t t,
                      const char *path, const char *value)
{
    return xs_write(h, t, path, value, strlen(value));
}

/* Wait (bounded) for the next watch event; NULL if none arrives. */
static char **next_event(struct xs_handle *h)
{
    struct pollfd pfd = { .fd = xs_fileno(h), .events = POLLIN };
    char **ev = xs_check_watch(h);

    if (ev) {
        return ev;
    }
    if (poll(&pfd, 1, GUARD_MS) <= 0) {
        return NULL;
    }
    return xs_check_watch(h);
}

static bool event_is(struct xs_handle *h, const char *path,
                     const char *token)
{
    char **ev = next_event(h);
    bool match = ev && strcmp(ev[XS_WATCH_PATH], path) == 0 &&
                 strcmp(ev[XS_WATCH_TOKEN], token) == 0;

    if (ev && !match) {
        fprintf(stderr, "# got event %s %s\n", ev[XS_WATCH_PATH],
                ev[XS_WATCH_TOKEN]);
    }
    free(ev);
    return match;
}

/*
 * True if no event is queued.  Replies and events share one ordered
 * stream, so after a round trip any earlier event has been received.
 */
static bool no_event(struct xs_handle *h)
{
    char **ev;

    free(read_str(h, XBT_NULL, "/local/domain/0/domid"));
    ev = xs_check_watch(h);
    if (ev) {
        fprintf(stderr, "# unexpected event %s %s\n", ev[XS_WATCH_PATH],
                ev[XS_WATCH_TOKEN]);
        free(ev);
        return false;
    }
    return true;
}

/* ---- raw protocol access -------------------------------------------- */

static int raw_connect(void)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock_path);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool raw_send(int fd, uint32_t type, uint32_t tx_id, uint32_t len,
                     const void *data, size_t data_len)
{
    struct xsd_sockmsg hdr = {
        .type = type, .req_id = 77, .tx_id = tx_id, .len = len,
    };

    return send(fd, &hdr, sizeof(hdr), MSG_NOSIGNAL) == sizeof(hdr) &&
           (data_len == 0 ||
            send(fd, data, data_len, MSG_NOSIGNAL) == (ssize_t)data_len);
}

static bool read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        ssize_t n;

        if (poll(&pfd, 1, GUARD_MS) <= 0) {
            return false;
        }
        n = recv(fd, (char *)buf + got, len - got, 0);
        if (n <= 0) {
            return false;
        }
        got += n;
    }
    return true;
}

/* Receive one reply; its payload NUL-terminated in @buf. */
static bool raw_recv(int fd, struct xsd_sockmsg *hdr, char *buf,
                     size_t size)
{
    if (!read_full(fd, hdr, sizeof(*hdr)) || hdr->len >= size) {
        return false;
    }
    if (!read_full(fd, buf, hdr->len)) {
        return false;
    }
    buf[hdr->len] = '\0';
    return true;
}

/* Send a request and check the reply is XS_ERROR carrying @err. */
static bool raw_expect_error(int fd, uint32_t type, uint32_t tx_id,
                             const void *data, size_t len, const char *err)
{
    struct xsd_sockmsg hdr;
    char buf[XENSTORE_PAYLOAD_MAX + 1];

    if (!raw_send(fd, type, tx_id, len, data, len) ||
        !raw_recv(fd, &hdr, buf, sizeof(buf))) {
        return false;
    }
    if (hdr.type != XS_ERROR || strcmp(buf, err) != 0 || hdr.req_id != 77) {
        fprintf(stderr, "# type %u payload '%s'\n", hdr.type, buf);
        return false;
    }
    return true;
}

/* True once the peer has closed the connection. */
static bool raw_closed(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    char c;

    return poll(&pfd, 1, GUARD_MS) == 1 && recv(fd, &c, 1, 0) == 0;
}

/* Read and discard until EOF (true) or the guard expires (false). */
static bool raw_closed_after_drain(int fd)
{
    char buf[65536];

    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        ssize_t n;

        if (poll(&pfd, 1, GUARD_MS) != 1) {
            return false;
        }
        n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0) {
            return true;
        }
        if (n < 0) {
            return errno == ECONNRESET;
        }
    }
}

/* ---- the tests ------------------------------------------------------- */

static void test_basic(struct xs_handle *h)
{
    char **dir;
    unsigned int num = 0, len;
    char *v;

    ok(write_str(h, XBT_NULL, "/test/a", "hello") &&
       read_is(h, XBT_NULL, "/test/a", "hello"),
       "write then read an absolute path");
    ok(xs_write(h, XBT_NULL, "/test/bin", "x\0y", 3) &&
       (v = xs_read(h, XBT_NULL, "/test/bin", &len)) &&
       len == 3 && memcmp(v, "x\0y", 3) == 0, "values are binary-safe");
    ok(write_str(h, XBT_NULL, "device-model/5/state", "running") &&
       read_is(h, XBT_NULL, "/local/domain/0/device-model/5/state",
               "running"),
       "a relative path resolves under /local/domain/0");
    ok(read_is(h, XBT_NULL, "/test", ""),
       "write creates missing parents with empty values");
    errno = 0;
    ok(!read_str(h, XBT_NULL, "/test/missing") && errno == ENOENT,
       "reading a missing node fails with ENOENT");
    ok(write_str(h, XBT_NULL, "/test/a", "") &&
       read_is(h, XBT_NULL, "/test/a", ""), "an empty value can be written");

    write_str(h, XBT_NULL, "/test/dir/one", "1");
    write_str(h, XBT_NULL, "/test/dir/two", "2");
    dir = xs_directory(h, XBT_NULL, "/test/dir", &num);
    ok(dir && num == 2 &&
       ((!strcmp(dir[0], "one") && !strcmp(dir[1], "two")) ||
        (!strcmp(dir[0], "two") && !strcmp(dir[1], "one"))),
       "directory lists the leaf names of the children");
    free(dir);
    dir = xs_directory(h, XBT_NULL, "/test/dir/one", &num);
    ok(dir && num == 0, "directory of a leaf is empty");
    free(dir);
    errno = 0;
    ok(!xs_directory(h, XBT_NULL, "/test/nowhere", &num) && errno == ENOENT,
       "directory of a missing node fails with ENOENT");

    ok(xs_mkdir(h, XBT_NULL, "/test/made/deep") &&
       read_is(h, XBT_NULL, "/test/made/deep", ""), "mkdir creates a path");
    ok(xs_mkdir(h, XBT_NULL, "/test/dir/one") &&
       read_is(h, XBT_NULL, "/test/dir/one", "1"),
       "mkdir of an existing node keeps its value");

    ok(xs_rm(h, XBT_NULL, "/test/dir") &&
       !read_str(h, XBT_NULL, "/test/dir/one") &&
       !read_str(h, XBT_NULL, "/test/dir"), "rm removes a whole subtree");
    ok(xs_rm(h, XBT_NULL, "/test/dir"),
       "rm of a missing node under an existing parent succeeds");
    errno = 0;
    ok(!xs_rm(h, XBT_NULL, "/test/dir/x/y") && errno == ENOENT,
       "rm under a missing parent fails with ENOENT");
    errno = 0;
    ok(!xs_rm(h, XBT_NULL, "/") && errno == EINVAL, "rm of / is refused");

    v = xs_get_domain_path(h, 7);
    ok(v && strcmp(v, "/local/domain/7") == 0, "get_domain_path(7)");
    free(v);
    ok(xs_is_domain_introduced(h, 0), "dom0 counts as introduced");
}

static void test_big_directory(struct xs_handle *h)
{
    char path[128];
    char **dir;
    unsigned int i, num = 0;
    bool all = true;
    const unsigned int n = 300;

    for (i = 0; i < n && all; i++) {
        snprintf(path, sizeof(path),
                 "/big/child-with-a-long-name-number-%04u", i);
        all = xs_mkdir(h, XBT_NULL, path);
    }
    dir = xs_directory(h, XBT_NULL, "/big", &num);
    ok(all && dir && num == n,
       "a directory larger than one frame is read via DIRECTORY_PART "
       "(%u of %u names)", num, n);
    free(dir);
    xs_rm(h, XBT_NULL, "/big");
}

static void test_perms(struct xs_handle *h)
{
    struct xs_permissions set[2] = {
        { .id = 0, .perms = XS_PERM_NONE },
        { .id = 5, .perms = XS_PERM_READ },
    };
    struct xs_permissions *got;
    unsigned int num = 0;

    write_str(h, XBT_NULL, "/perm/node", "v");
    got = xs_get_permissions(h, XBT_NULL, "/perm/node", &num);
    ok(got && num == 1 && got[0].id == 0 && got[0].perms == XS_PERM_NONE,
       "a new node is owned by dom0 with no default access");
    free(got);
    ok(xs_set_permissions(h, XBT_NULL, "/perm/node", set, 2),
       "set_permissions succeeds");
    got = xs_get_permissions(h, XBT_NULL, "/perm/node", &num);
    ok(got && num == 2 && got[0].id == 0 && got[0].perms == XS_PERM_NONE &&
       got[1].id == 5 && got[1].perms == XS_PERM_READ,
       "get_permissions returns what was set");
    free(got);
    write_str(h, XBT_NULL, "/perm/node/child", "c");
    got = xs_get_permissions(h, XBT_NULL, "/perm/node/child", &num);
    ok(got && num == 2 && got[1].id == 5,
       "a new child inherits its parent's permissions");
    free(got);
    errno = 0;
    ok(!xs_set_permissions(h, XBT_NULL, "/perm/absent", set, 2) &&
       errno == ENOENT, "set_permissions on a missing node: ENOENT");
}

static void test_watches(struct xs_handle *h, struct xs_handle *other)
{
    ok(xs_watch(h, "/w", "tok1") && event_is(h, "/w", "tok1"),
       "a new watch fires once at once, with its own path");
    ok(no_event(h), "and only once");
    write_str(other, XBT_NULL, "/w/a/b", "1");
    ok(event_is(h, "/w/a/b", "tok1"),
       "another client's write below the watch fires with the written path");
    ok(no_event(h), "creating parents does not fire extra events");
    write_str(other, XBT_NULL, "/wx", "1");
    ok(no_event(h), "a sibling whose name extends the path does not fire");

    ok(xs_watch(h, "device-model/9", "rel") &&
       event_is(h, "device-model/9", "rel"),
       "a relative watch fires with its relative path");
    write_str(other, XBT_NULL, "/local/domain/0/device-model/9/state",
              "running");
    ok(event_is(h, "device-model/9/state", "rel"),
       "events of a relative watch carry relative paths");

    xs_watch(h, "/w/a/b/c", "deep");
    ok(event_is(h, "/w/a/b/c", "deep"), "a watch on a missing node fires");
    xs_rm(other, XBT_NULL, "/w/a");
    {
        /* Order between the two watches is not specified. */
        char **e1 = next_event(h), **e2 = next_event(h);
        bool got_parent = false, got_deep = false;
        char **e[2] = { e1, e2 };
        int i;

        for (i = 0; i < 2; i++) {
            if (!e[i]) {
                continue;
            }
            got_parent |= !strcmp(e[i][0], "/w/a") &&
                          !strcmp(e[i][1], "tok1");
            got_deep |= !strcmp(e[i][0], "/w/a/b/c") &&
                        !strcmp(e[i][1], "deep");
        }
        ok(got_parent && got_deep,
           "rm fires watches above with the removed path and watches "
           "below with their own path");
        free(e1);
        free(e2);
    }
    ok(xs_mkdir(other, XBT_NULL, "/w") && no_event(h),
       "mkdir of an existing node does not fire");

    ok(xs_unwatch(h, "/w/a/b/c", "deep") && xs_unwatch(h, "/w", "tok1"),
       "unwatch succeeds");
    write_str(other, XBT_NULL, "/w/again", "1");
    ok(no_event(h), "no events after unwatch");
    errno = 0;
    ok(!xs_unwatch(h, "/w", "tok1") && errno == ENOENT,
       "unwatch of an unknown watch fails with ENOENT");

    ok(xs_watch(h, "@introduceDomain", "intro") &&
       event_is(h, "@introduceDomain", "intro"),
       "special watches are accepted and fire initially");
    ok(xs_introduce_domain(other, 3, 0xfeff0, 1) &&
       event_is(h, "@introduceDomain", "intro") &&
       xs_is_domain_introduced(other, 3) &&
       !xs_is_domain_introduced(other, 4),
       "introduce fires @introduceDomain and is remembered");
    xs_unwatch(h, "@introduceDomain", "intro");
    xs_unwatch(h, "device-model/9", "rel");
}

static void test_transactions(struct xs_handle *h, struct xs_handle *other)
{
    xs_transaction_t t;

    write_str(h, XBT_NULL, "/tx/base", "0");
    xs_watch(other, "/tx", "txw");
    event_is(other, "/tx", "txw");

    t = xs_transaction_start(h);
    ok(t != XBT_NULL, "transaction_start returns an id");
    ok(write_str(h, t, "/tx/new", "1") && read_is(h, t, "/tx/new", "1"),
       "a transaction sees its own writes");
    ok(!read_str(other, XBT_NULL, "/tx/new") && no_event(other),
       "others do not see them before commit, nor get events");
    ok(xs_transaction_end(h, t, false) &&
       read_is(other, XBT_NULL, "/tx/new", "1") &&
       event_is(other, "/tx/new", "txw"),
       "commit publishes the write and fires the watch");

    t = xs_transaction_start(h);
    write_str(h, t, "/tx/discarded", "1");
    ok(xs_transaction_end(h, t, true) &&
       !read_str(h, XBT_NULL, "/tx/discarded"), "abort discards the write");

    t = xs_transaction_start(h);
    free(read_str(h, t, "/tx/base"));
    write_str(h, t, "/tx/derived", "from-base");
    write_str(other, XBT_NULL, "/tx/base", "changed");
    errno = 0;
    ok(!xs_transaction_end(h, t, false) && errno == EAGAIN &&
       !read_str(h, XBT_NULL, "/tx/derived"),
       "a conflicting commit fails with EAGAIN and changes nothing");

    write_str(h, XBT_NULL, "/tx/unrelated", "0");
    t = xs_transaction_start(h);
    free(read_str(h, t, "/tx/base"));
    write_str(h, t, "/tx/independent", "1");
    write_str(other, XBT_NULL, "/tx/unrelated", "1");
    ok(xs_transaction_end(h, t, false) &&
       read_is(h, XBT_NULL, "/tx/independent", "1"),
       "an unrelated concurrent write does not abort a commit");

    /* libxl__domain_make() for a migration's destination: the /vm/UUID
     * subtree of the source is removed and made again in one
     * transaction, its children written anew. */
    write_str(h, XBT_NULL, "/tx/vm/name", "source");
    t = xs_transaction_start(h);
    xs_rm(h, t, "/tx/vm");
    xs_mkdir(h, t, "/tx/vm");
    write_str(h, t, "/tx/vm/name", "dest");
    ok(xs_transaction_end(h, t, false) &&
       read_is(h, XBT_NULL, "/tx/vm/name", "dest"),
       "a transaction that removes a subtree and writes it again commits");
    t = xs_transaction_start(h);
    xs_rm(h, t, "/tx/vm");
    write_str(other, XBT_NULL, "/tx/vm/name", "changed");
    errno = 0;
    ok(!xs_transaction_end(h, t, false) && errno == EAGAIN &&
       read_is(h, XBT_NULL, "/tx/vm/name", "changed"),
       "a removal conflicts with a concurrent write below it");
    xs_unwatch(other, "/tx", "txw");
}

static void test_bad_input(struct xs_handle *h)
{
    int fd = raw_connect();
    int fd2;
    struct xsd_sockmsg hdr;
    char buf[XENSTORE_PAYLOAD_MAX + 1];
    char big[XENSTORE_PAYLOAD_MAX];

    ok(fd >= 0, "raw connection");
    ok(raw_expect_error(fd, 9999, 0, "x", 2, "EINVAL"),
       "an unknown message type gets EINVAL");
    ok(raw_expect_error(fd, XS_READ, 0, "/test", 5, "EINVAL"),
       "a path without its NUL gets EINVAL");
    ok(raw_expect_error(fd, XS_READ, 0, NULL, 0, "EINVAL"),
       "an empty READ gets EINVAL");
    ok(raw_expect_error(fd, XS_WRITE, 0, "//bad", 6, "EINVAL") &&
       raw_expect_error(fd, XS_WRITE, 0, "/bad/\0v", 7, "EINVAL") &&
       raw_expect_error(fd, XS_WRITE, 0, "/b a d\0v", 8, "EINVAL"),
       "malformed paths get EINVAL");
    ok(raw_expect_error(fd, XS_READ, 4242, "/test", 6, "ENOENT"),
       "an unknown transaction id gets ENOENT");
    ok(raw_expect_error(fd, XS_TRANSACTION_END, 0, "T", 2, "ENOENT"),
       "ending no transaction gets ENOENT");
    ok(raw_expect_error(fd, XS_SET_PERMS, 0, "/test\0q7", 9, "EINVAL") &&
       raw_expect_error(fd, XS_SET_PERMS, 0, "/test\0r99999", 13,
                        "EINVAL") &&
       raw_expect_error(fd, XS_SET_PERMS, 0, "/test", 6, "EINVAL"),
       "malformed permissions get EINVAL");
    ok(raw_expect_error(fd, XS_WATCH, 0, "/w", 3, "EINVAL"),
       "a watch without token gets EINVAL");
    ok(raw_expect_error(fd, XS_GET_DOMAIN_PATH, 0, "x1", 3, "EINVAL") &&
       raw_expect_error(fd, XS_GET_DOMAIN_PATH, 0, "70000", 6, "EINVAL"),
       "a bad domid gets EINVAL");
    ok(raw_expect_error(fd, XS_DIRECTORY_PART, 0, "/test\0zz", 9,
                        "EINVAL") &&
       raw_expect_error(fd, XS_DIRECTORY_PART, 0, "/test\0" "1", 8,
                        "EINVAL"),
       "a bad DIRECTORY_PART offset gets EINVAL");
    memset(big, 'a', sizeof(big));
    big[0] = '/';
    big[sizeof(big) - 1] = '\0';
    ok(raw_expect_error(fd, XS_READ, 0, big, sizeof(big), "EINVAL"),
       "a path over 3072 bytes gets EINVAL");
    ok(raw_send(fd, XS_READ, 0, 6, "/test", 6) &&
       raw_recv(fd, &hdr, buf, sizeof(buf)) && hdr.type == XS_READ &&
       hdr.req_id == 77, "the connection still works after errors");

    ok(raw_send(fd, XS_WRITE, 0, XENSTORE_PAYLOAD_MAX + 1, NULL, 0) &&
       raw_closed(fd), "an oversized frame gets the client dropped");
    close(fd);

    fd2 = raw_connect();
    ok(fd2 >= 0 && raw_send(fd2, XS_WRITE, 0, 100, "/half", 5),
       "a client can vanish in the middle of a frame");
    close(fd2);
    fd2 = raw_connect();
    ok(fd2 >= 0 && write(fd2, "abc", 3) == 3, "or of a header");
    close(fd2);

    ok(read_is(h, XBT_NULL, "/local/domain/0/domid", "0"),
       "the daemon keeps serving other clients");
}

static void test_reset_watches(void)
{
    int fd = raw_connect();
    struct xsd_sockmsg hdr;
    char buf[XENSTORE_PAYLOAD_MAX + 1];
    bool good;

    /* WATCH, then its OK reply and the initial event. */
    good = raw_send(fd, XS_WATCH, 0, 9, "/r\0tokn\0", 9) &&
           raw_recv(fd, &hdr, buf, sizeof(buf)) && hdr.type == XS_WATCH &&
           raw_recv(fd, &hdr, buf, sizeof(buf)) &&
           hdr.type == XS_WATCH_EVENT && hdr.req_id == 0;
    ok(good, "raw WATCH: reply then initial WATCH_EVENT");
    good = raw_send(fd, XS_RESET_WATCHES, 0, 1, "", 1) &&
           raw_recv(fd, &hdr, buf, sizeof(buf)) &&
           hdr.type == XS_RESET_WATCHES && !strcmp(buf, "OK");
    ok(good, "RESET_WATCHES answers OK");
    ok(raw_expect_error(fd, XS_UNWATCH, 0, "/r\0tokn\0", 9, "ENOENT"),
       "and the watch is gone");
    close(fd);
}

/* A client that sets a watch and never reads must not hold the daemon. */
static void test_slow_reader(struct xs_handle *h)
{
    int fd = raw_connect();
    char req[1100];
    char value[64];
    size_t len;
    int i;
    bool writes_ok = true;

    len = snprintf(req, sizeof(req), "/flood") + 1;
    memset(req + len, 't', 1000);
    req[len + 1000] = '\0';
    len += 1001;
    ok(fd >= 0 && raw_send(fd, XS_WATCH, 0, len, req, len),
       "a client watches with a 1000-byte token and stops reading");
    for (i = 0; i < 6000 && writes_ok; i++) {
        snprintf(value, sizeof(value), "%d", i);
        writes_ok = write_str(h, XBT_NULL, "/flood/x", value);
    }
    ok(writes_ok && read_is(h, XBT_NULL, "/flood/x", "5999"),
       "6000 writes that each queue it an event are all served");
    ok(raw_closed_after_drain(fd), "the non-reading client was dropped");
    close(fd);
}

/* Deterministic pseudo-random numbers for the garbage test. */
static uint32_t lcg_next(uint32_t *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 8;
}

/* Drain whatever the daemon has sent, without waiting. */
static void raw_drain(int fd)
{
    char buf[65536];

    while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
        continue;
    }
}

/*
 * Well-framed garbage: random types (valid and not), transaction ids and
 * payloads, some built from plausible pieces ("/", "@", digits, NULs).
 */
static void test_garbage(struct xs_handle *h)
{
    static const char pieces[] = "/a@0T9F-_\0\0rwbn/";
    uint32_t seed = 20261125;
    char payload[600];
    int fd = raw_connect();
    int i, reconnects = 0;
    bool sent_all = fd >= 0;

    for (i = 0; i < 3000 && sent_all; i++) {
        uint32_t type = lcg_next(&seed) % 26;
        uint32_t tx = lcg_next(&seed) % 4;
        size_t len = lcg_next(&seed) % sizeof(payload);
        size_t j;

        if (lcg_next(&seed) % 16 == 0) {
            type = lcg_next(&seed);
        }
        for (j = 0; j < len; j++) {
            uint32_t r = lcg_next(&seed);

            payload[j] = r % 2 ? pieces[r / 2 % (sizeof(pieces) - 1)]
                               : (char)(r >> 8);
        }
        if (!raw_send(fd, type, tx, len, payload, len)) {
            /* Dropped (e.g. too many watch events unread): go on. */
            close(fd);
            fd = raw_connect();
            sent_all = fd >= 0 && ++reconnects < 100;
            continue;
        }
        raw_drain(fd);
    }
    ok(sent_all, "3000 random well-framed requests sent (%d reconnects)",
       reconnects);
    if (fd >= 0) {
        close(fd);
    }
    ok(write_str(h, XBT_NULL, "/after/garbage", "fine") &&
       read_is(h, XBT_NULL, "/after/garbage", "fine"),
       "the daemon still serves libxenstore afterwards");
}

static pid_t start_daemon(const char *bin, const char *dir)
{
    pid_t pid;
    int i;

    snprintf(sock_path, sizeof(sock_path), "%s/socket", dir);
    pid = fork();
    if (pid == 0) {
        execl(bin, bin, "--socket", sock_path, (char *)NULL);
        _exit(127);
    }
    for (i = 0; i < 1000; i++) {
        int fd = raw_connect();

        if (fd >= 0) {
            close(fd);
            return pid;
        }
        usleep(10000);
    }
    return -1;
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/xensim-xs-test.XXXXXX";
    struct xs_handle *h, *other;
    pid_t pid;
    int status = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH-TO-XENSTORED\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    pid = start_daemon(argv[1], dir);
    ok(pid > 0, "xenstored starts and listens");
    if (pid <= 0) {
        return 1;
    }
    setenv("XENSTORED_PATH", sock_path, 1);
    h = xs_open(0);
    other = xs_open(0);
    ok(h && other, "libxenstore connects through XENSTORED_PATH");
    if (h && other) {
        test_basic(h);
        test_big_directory(h);
        test_perms(h);
        test_watches(h, other);
        test_transactions(h, other);
        test_bad_input(h);
        test_reset_watches();
        test_slow_reader(h);
        test_garbage(h);
        xs_close(h);
        xs_close(other);
    }
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
       "xenstored exits cleanly on SIGTERM");
    ok(access(sock_path, F_OK) != 0, "and removes its socket");
    rmdir(dir);
    printf("1..%d\n", test_no);
    return failures ? 1 : 0;
}
