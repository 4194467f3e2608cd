/*
 * tree.h - the call tree every query result passes through.
 *
 * Nodes are frames named by function (or by whatever grouping the query
 * asked for); a node's self is the value of samples whose leaf it is, and its
 * total includes all descendants. Node 0 is the synthetic root (name id 0,
 * the empty string). A child always has a larger index than its parent, so
 * walking nodes from last to first visits children before parents: that is
 * how fx_tree_compute_totals works in one pass.
 *
 * Names are interned in the tree's own string table. The tree owns all its
 * memory; fx_tree_free releases it. Not thread-safe.
 */
#ifndef FX_TREE_H
#define FX_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "core/hash.h"
#include "core/strtab.h"

#define FX_TREE_ROOT 0u
#define FX_TREE_NONE UINT32_MAX

typedef struct fx_tree_node {
    uint32_t parent;        /* FX_TREE_NONE for the root */
    uint32_t name;          /* id in fx_tree_t.names */
    uint32_t first_child;   /* FX_TREE_NONE if a leaf; children unordered */
    uint32_t next_sibling;  /* FX_TREE_NONE at the end of the list */
    int64_t self;
    int64_t total;          /* valid after fx_tree_compute_totals */
} fx_tree_node_t;

typedef struct fx_tree {
    fx_strtab_t names;
    fx_tree_node_t *nodes;
    size_t len, cap;
    fx_map64_t index;       /* (parent << 32 | name) -> node */
} fx_tree_t;

void fx_tree_init(fx_tree_t *t);
void fx_tree_free(fx_tree_t *t);
/* Interns a frame name; returns its id. */
uint32_t fx_tree_name(fx_tree_t *t, const char *s, size_t n);
static inline const char *fx_tree_name_str(const fx_tree_t *t, uint32_t name)
{
    return fx_strtab_get(&t->names, name);
}
/* Returns the child of parent named name, creating it if absent. Invalidates
 * pointers into t->nodes (indices stay valid). */
uint32_t fx_tree_child(fx_tree_t *t, uint32_t parent, uint32_t name);
/* Returns the child or FX_TREE_NONE without creating it. */
uint32_t fx_tree_find_child(const fx_tree_t *t, uint32_t parent, uint32_t name);
/* Adds a sample: names[0] is the outermost frame (root side). */
void fx_tree_add_stack(fx_tree_t *t, const uint32_t *names, size_t n, int64_t value);
/* Recomputes every node's total from the selfs. */
void fx_tree_compute_totals(fx_tree_t *t);
/* Adds every sample of src into dst (names are re-interned). src unchanged. */
void fx_tree_merge(fx_tree_t *dst, const fx_tree_t *src);
/* Sum of all selfs. */
int64_t fx_tree_total(const fx_tree_t *t);

/* Compares names a and b of t bytewise (memcmp order; a proper prefix sorts
 * first): the order Pyroscope keeps siblings in. */
int fx_tree_name_cmp(const fx_tree_t *t, uint32_t a, uint32_t b);
/* Compares name a of ta with name b of tb (two trees, two string tables). */
int fx_tree_name_cmp2(const fx_tree_t *ta, uint32_t a, const fx_tree_t *tb, uint32_t b);
/* Stores the children of node, sorted by name, in *buf (grown as needed with
 * fx_grow; the caller owns and frees it) and returns how many there are. */
size_t fx_tree_sorted_children(const fx_tree_t *t, uint32_t node, uint32_t **buf, size_t *cap);
/* Number of frames from the root to node (the root is depth 0). */
size_t fx_tree_depth(const fx_tree_t *t, uint32_t node);

#endif
