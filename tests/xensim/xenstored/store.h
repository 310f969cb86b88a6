/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim xenstored: the in-memory node tree.
 *
 * A store is a tree of nodes rooted at "/".  Every node has a value
 * (octets, possibly empty), an ordered list of children and a permission
 * list whose first entry names the owner and the default access.
 *
 * Invariants:
 *  - every existing node's parent exists (the tree has no holes);
 *  - a node's generation is the value of a process-wide counter taken at
 *    its last change (value, permissions or child list), so two equal
 *    generations of the same path mean "unchanged"; generation 0 is never
 *    used and stands for "absent" in transaction bookkeeping;
 *  - paths handed to store_* are absolute and valid (store_path_valid).
 */
#ifndef XENSIM_XS_STORE_H
#define XENSIM_XS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits on what a client may build up; beyond them requests fail. */
#define STORE_MAX_NODES     65536
#define STORE_MAX_PERMS     64
#define STORE_ABS_PATH_MAX  3072

struct xs_perm {
    char mode;               /* 'n' none, 'r' read, 'w' write, 'b' both */
    unsigned int domid;
};

struct xs_node {
    char *name;              /* leaf name, "" for the root */
    struct xs_node *parent;
    struct xs_node **children;
    unsigned int nr_children;
    unsigned int children_cap;
    char *value;
    unsigned int value_len;
    struct xs_perm *perms;
    unsigned int nr_perms;
    uint64_t gen;
};

struct store {
    struct xs_node *root;
    unsigned int nr_nodes;
};

/* Create a store holding only "/" owned by dom0 with no default access. */
struct store *store_new(void);
void store_free(struct store *s);
/* A deep copy (used as a transaction's private view); NULL on ENOMEM. */
struct store *store_clone(const struct store *s);

/* True if @path is an absolute, well-formed node path. */
bool store_path_valid(const char *path);
/* True if @child equals @parent or lies below it. */
bool store_path_is_child(const char *child, const char *parent);

struct xs_node *store_lookup(const struct store *s, const char *path);

/*
 * The mutators return 0 or a negative errno value (-ENOENT, -EINVAL,
 * -ENOSPC, -ENOMEM, ...), leaving the store unchanged on error.
 */
int store_write(struct store *s, const char *path,
                const char *value, unsigned int len);
int store_mkdir(struct store *s, const char *path);
int store_rm(struct store *s, const char *path);
int store_set_perms(struct store *s, const char *path,
                    const struct xs_perm *perms, unsigned int nr);

/* Parse a "<mode><domid>" permission string; false if malformed. */
bool store_parse_perm(const char *str, struct xs_perm *perm);

#endif
