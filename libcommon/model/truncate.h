/*
 * truncate.h - limiting a call tree to max_nodes the way Pyroscope does.
 *
 * The threshold is the smallest total among the max_nodes largest node totals
 * (the synthetic root and zero-total nodes are not counted, as Pyroscope's
 * tree holds neither; nor are nodes named "other", which are always kept). A
 * node whose total is below it is folded, together with its below-threshold
 * siblings, into one child of their parent named "other" (self = total =
 * their sum), so every total above the cut stays exact. max_nodes <= 0 means
 * no limit.
 *
 * Not counting "other" makes truncation idempotent: truncating a truncated
 * tree again changes nothing. A query served by one ingester is truncated
 * twice (by the ingester, then by the querier), one served by several is
 * truncated once over their merged whole trees; both give the same answer.
 * (Counting them, a big "other" could push a kept sibling below the
 * threshold on the second pass.)
 *
 * Each encoder applies the rule while it walks (flamegraph.h, treebytes.h,
 * flamegraph_diff.h); fx_tree_truncate makes a truncated copy for consumers
 * that want a tree.
 */
#ifndef FX_TRUNCATE_H
#define FX_TRUNCATE_H

#include <stdint.h>

#include "model/tree.h"

#define FX_TREE_OTHER "other"

/* The minimum total a node needs to survive truncation to max_nodes; 0 when
 * nothing is cut. Totals of t must be valid (fx_tree_compute_totals). Runs in
 * O(nodes * log(max_nodes)) time with a bounded min-heap, O(max_nodes) memory. */
int64_t fx_tree_min_total(const fx_tree_t *t, int64_t max_nodes);

/* Id of the name "other" in t, or FX_TREE_NONE if t never interned it. */
uint32_t fx_tree_other_name(const fx_tree_t *t);

/* Copies src into dst (initialised and empty, owned by the caller) keeping
 * only nodes at or above the threshold; cut siblings become one "other" child
 * (merged into an existing "other", which is always kept, as Pyroscope's
 * MarshalTruncate does). dst's totals are computed; src is not changed. */
void fx_tree_truncate(const fx_tree_t *src, int64_t max_nodes, fx_tree_t *dst);

/* Internal (threshold heaps here and in flamegraph_diff.c): restores the
 * order of the min-heap h[0..n) below index i. */
void fx__min_heap_down(int64_t *h, size_t n, size_t i);

#endif
