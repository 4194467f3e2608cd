/*
 * flamegraph_diff.h - two call trees -> querier.v1.FlameGraphDiff, as
 * Pyroscope's NewFlamegraphDiff lays it out (reference pyroscope-api.md §3.2):
 *
 *   the trees are aligned under one root (at every node the children of both
 *   sides are merged by name; a side that lacks a child contributes zeros);
 *   levels hold 7-tuples [xL, totalL, selfL, xR, totalR, selfR, name_index]
 *   with xL delta-encoded along the left totals and xR independently along
 *   the right totals; total = leftTicks + rightTicks; max_self is the largest
 *   self of either side; names[0] = "total".
 *
 * Truncation: one threshold for both sides, the max_nodes-th largest of
 * max(totalL, totalR) over the aligned tree including its root; a node is
 * kept if either side's total reaches it, else it folds into an "other"
 * child holding both sides' sums. Pyroscope computes the same threshold with
 * a capped sorted array (cappedarr) that counts a node whose larger total is
 * 0 as taken; Fornax skips nodes that are zero on both sides and computes the
 * exact order statistic, so results differ only for trees with such nodes.
 * As in Pyroscope, real children named "other" are treated like any name, and
 * a function called "" shares index 0 with the root.
 */
#ifndef FX_FLAMEGRAPH_DIFF_H
#define FX_FLAMEGRAPH_DIFF_H

#include <stdint.h>

#include "core/core.h"
#include "core/mem.h"
#include "model/tree.h"
#include "querier/v1/querier.pb-c.h"

/* Encodes the diff of left (baseline) and right (comparison); totals of both
 * must be valid. The message lives in a until fx_arena_free(a); the trees are
 * only read. Fails with FX_EINVAL (message says which side) if either tree has
 * a negative self, as Pyroscope does. */
int fx_flamegraph_diff_encode(const fx_tree_t *left, const fx_tree_t *right, int64_t max_nodes,
                              fx_arena_t *a, Querier__V1__FlameGraphDiff **out, fx_err_t *err);

#endif
