/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim xenstored: the in-memory node tree (see store.h for the
 * invariants).  Mutators either complete or leave the tree untouched:
 * new nodes are built as a detached chain and linked in last.
 */
#include "store.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t gen_counter;

static uint64_t next_gen(void)
{
    return ++gen_counter;
}

bool store_path_valid(const char *path)
{
    size_t len = strlen(path);
    size_t i;

    if (path[0] != '/' || len > STORE_ABS_PATH_MAX) {
        return false;
    }
    if (len == 1) {
        return true;
    }
    if (path[len - 1] == '/') {
        return false;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = path[i];

        if (c == '/' && path[i + 1] == '/') {
            return false;
        }
        if (!isalnum(c) && !strchr("-/_@", c)) {
            return false;
        }
    }
    return true;
}

bool store_path_is_child(const char *child, const char *parent)
{
    size_t plen = strlen(parent);

    if (strcmp(parent, "/") == 0) {
        return child[0] == '/';
    }
    if (strncmp(child, parent, plen) != 0) {
        return false;
    }
    return child[plen] == '\0' || child[plen] == '/';
}

bool store_parse_perm(const char *str, struct xs_perm *perm)
{
    char *end;
    unsigned long domid;

    if (str[0] == '\0' || !strchr("nrwb", str[0]) ||
        !isdigit((unsigned char)str[1])) {
        return false;
    }
    errno = 0;
    domid = strtoul(str + 1, &end, 10);
    if (*end != '\0' || errno || domid > 0xffff) {
        return false;
    }
    perm->mode = str[0];
    perm->domid = domid;
    return true;
}

static void node_free(struct xs_node *n)
{
    unsigned int i;

    if (!n) {
        return;
    }
    for (i = 0; i < n->nr_children; i++) {
        node_free(n->children[i]);
    }
    free(n->children);
    free(n->name);
    free(n->value);
    free(n->perms);
    free(n);
}

static unsigned int node_count(const struct xs_node *n)
{
    unsigned int i, count = 1;

    for (i = 0; i < n->nr_children; i++) {
        count += node_count(n->children[i]);
    }
    return count;
}

static struct xs_node *node_new(const char *name, size_t name_len,
                                const struct xs_perm *perms,
                                unsigned int nr_perms)
{
    struct xs_node *n = calloc(1, sizeof(*n));

    if (!n) {
        return NULL;
    }
    n->name = strndup(name, name_len);
    n->perms = malloc(nr_perms * sizeof(*perms));
    if (!n->name || !n->perms) {
        node_free(n);
        return NULL;
    }
    memcpy(n->perms, perms, nr_perms * sizeof(*perms));
    n->nr_perms = nr_perms;
    n->gen = next_gen();
    return n;
}

static int node_add_child(struct xs_node *parent, struct xs_node *child)
{
    if (parent->nr_children == parent->children_cap) {
        unsigned int cap = parent->children_cap ? parent->children_cap * 2
                                                : 4;
        struct xs_node **c = realloc(parent->children, cap * sizeof(*c));

        if (!c) {
            return -ENOMEM;
        }
        parent->children = c;
        parent->children_cap = cap;
    }
    parent->children[parent->nr_children++] = child;
    child->parent = parent;
    parent->gen = next_gen();
    return 0;
}

static struct xs_node *node_find_child(const struct xs_node *n,
                                       const char *name, size_t len)
{
    unsigned int i;

    for (i = 0; i < n->nr_children; i++) {
        const char *cn = n->children[i]->name;

        if (strncmp(cn, name, len) == 0 && cn[len] == '\0') {
            return n->children[i];
        }
    }
    return NULL;
}

/*
 * Walk @path as far as it exists.  Returns the deepest existing node and
 * sets *rest to the first component that does not exist ("" if the whole
 * path exists).
 */
static struct xs_node *walk(const struct store *s, const char *path,
                            const char **rest)
{
    struct xs_node *n = s->root;
    const char *p = path + 1;

    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        struct xs_node *c = node_find_child(n, p, len);

        if (!c) {
            break;
        }
        n = c;
        p += len;
        if (*p == '/') {
            p++;
        }
    }
    *rest = p;
    return n;
}

struct xs_node *store_lookup(const struct store *s, const char *path)
{
    const char *rest;
    struct xs_node *n = walk(s, path, &rest);

    return *rest ? NULL : n;
}

/*
 * Find or create @path.  New nodes inherit their parent's permissions
 * (xenstored does the same for dom0 clients).
 */
static int ensure_node(struct store *s, const char *path,
                       struct xs_node **out)
{
    const char *rest;
    struct xs_node *base = walk(s, path, &rest);
    struct xs_node *head = NULL, *tail = NULL;
    unsigned int nr_new = 0;
    const char *p;
    int err;

    if (!*rest) {
        *out = base;
        return 0;
    }
    for (p = rest; p; p = strchr(p + 1, '/')) {
        nr_new++;
    }
    if (s->nr_nodes + nr_new > STORE_MAX_NODES) {
        return -ENOSPC;
    }
    for (p = rest; *p;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        struct xs_node *n = node_new(p, len, base->perms, base->nr_perms);

        if (!n || (tail && node_add_child(tail, n) != 0)) {
            node_free(n);
            node_free(head);
            return -ENOMEM;
        }
        if (!head) {
            head = n;
        }
        tail = n;
        p += len;
        if (*p == '/') {
            p++;
        }
    }
    err = node_add_child(base, head);
    if (err) {
        node_free(head);
        return err;
    }
    s->nr_nodes += nr_new;
    *out = tail;
    return 0;
}

struct store *store_new(void)
{
    static const struct xs_perm root_perm = { 'n', 0 };
    struct store *s = calloc(1, sizeof(*s));

    if (!s) {
        return NULL;
    }
    s->root = node_new("", 0, &root_perm, 1);
    if (!s->root) {
        free(s);
        return NULL;
    }
    s->nr_nodes = 1;
    return s;
}

void store_free(struct store *s)
{
    if (s) {
        node_free(s->root);
        free(s);
    }
}

static struct xs_node *node_clone(const struct xs_node *src)
{
    struct xs_node *n = node_new(src->name, strlen(src->name),
                                 src->perms, src->nr_perms);
    unsigned int i;

    if (!n) {
        return NULL;
    }
    n->gen = src->gen;
    if (src->value_len) {
        n->value = malloc(src->value_len);
        if (!n->value) {
            node_free(n);
            return NULL;
        }
        memcpy(n->value, src->value, src->value_len);
        n->value_len = src->value_len;
    }
    if (src->nr_children) {
        n->children = calloc(src->nr_children, sizeof(*n->children));
        if (!n->children) {
            node_free(n);
            return NULL;
        }
        n->children_cap = src->nr_children;
        for (i = 0; i < src->nr_children; i++) {
            struct xs_node *c = node_clone(src->children[i]);

            if (!c) {
                node_free(n);
                return NULL;
            }
            c->parent = n;
            n->children[n->nr_children++] = c;
        }
    }
    return n;
}

struct store *store_clone(const struct store *src)
{
    struct store *s = calloc(1, sizeof(*s));

    if (!s) {
        return NULL;
    }
    s->root = node_clone(src->root);
    if (!s->root) {
        free(s);
        return NULL;
    }
    s->nr_nodes = src->nr_nodes;
    return s;
}

int store_write(struct store *s, const char *path,
                const char *value, unsigned int len)
{
    struct xs_node *n;
    char *copy = NULL;
    int err;

    if (len) {
        copy = malloc(len);
        if (!copy) {
            return -ENOMEM;
        }
        memcpy(copy, value, len);
    }
    err = ensure_node(s, path, &n);
    if (err) {
        free(copy);
        return err;
    }
    free(n->value);
    n->value = copy;
    n->value_len = len;
    n->gen = next_gen();
    return 0;
}

int store_mkdir(struct store *s, const char *path)
{
    struct xs_node *n;

    return ensure_node(s, path, &n);
}

int store_rm(struct store *s, const char *path)
{
    const char *rest;
    struct xs_node *n = walk(s, path, &rest);
    struct xs_node *parent;
    unsigned int i;

    if (n == s->root && !*rest) {
        return -EINVAL;
    }
    if (*rest) {
        /* Absent is fine as long as the immediate parent exists. */
        return strchr(rest, '/') ? -ENOENT : 0;
    }
    parent = n->parent;
    for (i = 0; parent->children[i] != n; i++) {
        continue;
    }
    memmove(&parent->children[i], &parent->children[i + 1],
            (parent->nr_children - i - 1) * sizeof(*parent->children));
    parent->nr_children--;
    parent->gen = next_gen();
    s->nr_nodes -= node_count(n);
    node_free(n);
    return 0;
}

int store_set_perms(struct store *s, const char *path,
                    const struct xs_perm *perms, unsigned int nr)
{
    struct xs_node *n = store_lookup(s, path);
    struct xs_perm *copy;

    if (!n) {
        return -ENOENT;
    }
    if (nr == 0 || nr > STORE_MAX_PERMS) {
        return -EINVAL;
    }
    copy = malloc(nr * sizeof(*copy));
    if (!copy) {
        return -ENOMEM;
    }
    memcpy(copy, perms, nr * sizeof(*copy));
    free(n->perms);
    n->perms = copy;
    n->nr_perms = nr;
    n->gen = next_gen();
    return 0;
}
