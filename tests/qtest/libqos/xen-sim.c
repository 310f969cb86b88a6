/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * libqos helpers for qtests of the Xen device model under the xensim
 * qtest bridge (see xen-sim.h).
 *
 * The sockets are looked for under the directory xen_sim_init() made:
 * the bridge makes its xensim-bridge.XXXXXX there for the QEMU it runs
 * and removes it when QEMU quits, so with one QEMU at a time (as these
 * tests run) exactly one matches.
 */

#include "qemu/osdep.h"
#include <glob.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "xen-sim.h"

#define PCI_CONFIG_ADDR     0xcf8
#define PCI_CONFIG_DATA     0xcfc

#define XS_WRITE            11

static char *run_parent;

/* ---- PCI config space through CF8/CFC -------------------------------- */

static void cfg_select(QTestState *qts, int devfn, int reg)
{
    qtest_outl(qts, PCI_CONFIG_ADDR,
               0x80000000u | (devfn << 8) | (reg & 0xfc));
}

uint32_t xen_sim_cfg_readl(QTestState *qts, int devfn, int reg)
{
    cfg_select(qts, devfn, reg);
    return qtest_inl(qts, PCI_CONFIG_DATA);
}

void xen_sim_cfg_writel(QTestState *qts, int devfn, int reg, uint32_t val)
{
    cfg_select(qts, devfn, reg);
    qtest_outl(qts, PCI_CONFIG_DATA, val);
}

void xen_sim_cfg_writew(QTestState *qts, int devfn, int reg, uint16_t val)
{
    cfg_select(qts, devfn, reg);
    qtest_outw(qts, PCI_CONFIG_DATA + (reg & 2), val);
}

/* ---- the simulator: its run directory and sockets -------------------- */

const char *xen_sim_init(const char *name)
{
    g_autofree char *tmpl = g_strdup_printf("/tmp/%s.XXXXXX", name);

    g_assert_null(run_parent);
    g_assert_nonnull(mkdtemp(tmpl));
    run_parent = g_steal_pointer(&tmpl);
    g_setenv("TMPDIR", run_parent, true);
    return run_parent;
}

bool xen_sim_bridged(void)
{
    const char *qemu = getenv("QTEST_QEMU_BINARY");
    g_autofree char *dir = qemu ? g_path_get_dirname(qemu) : NULL;
    g_autofree char *hv = dir ? g_build_filename(dir, "xensim-hv", NULL)
                              : NULL;

    return hv && access(hv, X_OK) == 0;
}

int xen_sim_connect(const char *name)
{
    g_autofree char *pattern = NULL;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    glob_t g;
    int fd;

    g_assert_nonnull(run_parent);
    pattern = g_strdup_printf("%s/xensim-bridge.*/%s", run_parent, name);
    g_assert_cmpint(glob(pattern, 0, NULL, &g), ==, 0);
    g_assert_cmpint(g.gl_pathc, ==, 1);
    g_assert_cmpint(strlen(g.gl_pathv[0]), <, sizeof(sa.sun_path));
    strcpy(sa.sun_path, g.gl_pathv[0]);
    globfree(&g);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    g_assert(fd >= 0);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    return fd;
}

void xen_sim_control(const char *line, GString *out)
{
    int fd = xen_sim_connect("control");
    GString *reply = g_string_new(NULL);
    char buf[4096];
    const char *last;
    ssize_t r;
    size_t n = strlen(line);

    g_assert(write(fd, line, n) == n && write(fd, "\n", 1) == 1);
    for (;;) {
        r = read(fd, buf, sizeof(buf));
        g_assert(r > 0);
        g_string_append_len(reply, buf, r);
        if (reply->str[reply->len - 1] != '\n') {
            continue;
        }
        /* the last complete line decides */
        last = reply->len > 1 ?
               g_strrstr_len(reply->str, reply->len - 1, "\n") : NULL;
        last = last ? last + 1 : reply->str;
        if (g_str_has_prefix(last, "ok") || g_str_has_prefix(last, "err")) {
            break;
        }
    }
    close(fd);
    if (!g_str_has_prefix(last, "ok")) {
        g_error("hv control '%s': %s", line, last);
    }
    if (out) {
        g_string_append_len(out, reply->str, reply->len);
    }
    g_string_free(reply, true);
}

uint64_t xen_sim_counter(const char *name)
{
    GString *s = g_string_new(NULL);
    g_auto(GStrv) lines = NULL;
    uint64_t v = UINT64_MAX;
    size_t n = strlen(name);
    int i;

    xen_sim_control("counters", s);
    lines = g_strsplit(s->str, "\n", -1);
    for (i = 0; lines[i]; i++) {
        if (!strncmp(lines[i], name, n) && lines[i][n] == ' ') {
            v = g_ascii_strtoull(lines[i] + n + 1, NULL, 0);
        }
    }
    g_string_free(s, true);
    g_assert_cmpuint(v, !=, UINT64_MAX);
    return v;
}

uint64_t xen_sim_msi(uint64_t *addr, uint32_t *data)
{
    GString *reply = g_string_new(NULL);
    unsigned long long n, a;
    unsigned int d;

    xen_sim_control("msi", reply);
    g_assert_cmpint(sscanf(reply->str, "ok %llu %llx %x", &n, &a, &d), ==,
                    3);
    g_string_free(reply, true);
    *addr = a;
    *data = d;
    return n;
}

void xen_sim_xenstore_write(const char *path, const char *val)
{
    int fd = xen_sim_connect("xenstored");
    uint32_t hdr[4], plen = strlen(path) + 1, vlen = strlen(val);
    char reply[64];

    hdr[0] = XS_WRITE;
    hdr[1] = 1;         /* req_id */
    hdr[2] = 0;         /* tx_id */
    hdr[3] = plen + vlen;
    g_assert(write(fd, hdr, sizeof(hdr)) == sizeof(hdr));
    g_assert(write(fd, path, plen) == plen);
    g_assert(write(fd, val, vlen) == vlen);
    g_assert(read(fd, hdr, sizeof(hdr)) == sizeof(hdr));
    g_assert_cmpint(hdr[0], ==, XS_WRITE);
    g_assert_cmpint(hdr[3], <, sizeof(reply));
    g_assert(read(fd, reply, hdr[3]) == hdr[3]);
    close(fd);
}
