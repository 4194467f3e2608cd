/*
 * top.h - per-function views of a call tree: the top table (the UI's
 * "Top Table", Pyroscope's function list), and small accessors the explain
 * analyzer uses to name hot code.
 *
 * A function's self is the sum of the selfs of every node with its name; its
 * total is the value of the samples it appears in, counting a recursive
 * function once per stack (a node adds its total only if no ancestor has the
 * same name), so no total ever exceeds the tree's.
 */
#ifndef FX_TOP_H
#define FX_TOP_H

#include <stddef.h>
#include <stdint.h>

#include "model/tree.h"

typedef struct fx_top_row {
    uint32_t name;   /* name id in the tree */
    int64_t self, total;
} fx_top_row_t;

typedef enum fx_top_order {
    FX_TOP_BY_SELF,   /* self desc, then total desc, then name */
    FX_TOP_BY_TOTAL,  /* total desc, then self desc, then name */
} fx_top_order_t;

/* Self and total of every name id of t (totals of t valid), as two arrays of
 * t->names.len values that the caller frees. Names that occur nowhere get 0. */
void fx_tree_function_values(const fx_tree_t *t, int64_t **self, int64_t **total);

/* The top table: one row per function that has a non-zero self or total,
 * sorted by order, at most limit rows (0: all). Returns a malloc'd array the
 * caller frees (NULL when empty) and its length in *n. */
fx_top_row_t *fx_tree_top(const fx_tree_t *t, fx_top_order_t order, size_t limit, size_t *n);

/* The hot path: from the root, repeatedly the child with the largest total
 * (name order on ties), stopping at a leaf or when the best child holds less
 * than min_permille thousandths of its parent. Stores up to max node ids in
 * path, root excluded, and returns how many. */
size_t fx_tree_hot_path(const fx_tree_t *t, unsigned min_permille, uint32_t *path, size_t max);

/* The frames from the root to node, root first, as name ids in names (at
 * most max; the outermost frames are kept if the stack is deeper). Returns
 * the number stored. */
size_t fx_tree_path(const fx_tree_t *t, uint32_t node, uint32_t *names, size_t max);

#endif
