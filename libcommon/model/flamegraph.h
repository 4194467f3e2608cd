/*
 * flamegraph.h - call tree -> querier.v1.FlameGraph, exactly as Pyroscope's
 * NewFlameGraph lays it out (reference pyroscope-api.md §3.1):
 *
 *   names[0] = "total"; other names deduplicated, numbered in the order
 *   Pyroscope's stack walk first meets them (it pops the last sibling first);
 *   levels[d] = the nodes at depth d as [x_delta, total, self, name_index],
 *   left to right: a parent's self first, then its children sorted by name
 *   bytewise, then the "other" child holding the cut siblings; x_delta is the
 *   gap to the end of the previous node on the same level.
 *
 * The synthetic root carries the tree root's self (0 unless samples with an
 * empty stack were added). Children named "other" are always folded into the
 * synthetic "other", and a real function named "total" shares index 0, both as
 * in Pyroscope. Zero-total nodes are skipped (Pyroscope's tree has none).
 */
#ifndef FX_FLAMEGRAPH_H
#define FX_FLAMEGRAPH_H

#include <stdint.h>

#include "core/core.h"
#include "core/mem.h"
#include "model/tree.h"
#include "querier/v1/querier.pb-c.h"

/* Encodes t (totals must be valid) truncated to max_nodes (<= 0: no limit).
 * The message, its names and levels are allocated from a and live until
 * fx_arena_free(a); t is only read and may be freed afterwards. Never fails. */
Querier__V1__FlameGraph *fx_flamegraph_encode(const fx_tree_t *t, int64_t max_nodes,
                                              fx_arena_t *a);

/* Rebuilds a tree from a FlameGraph (the inverse of the encoder, as Pyroscope's
 * FlameGraphMerger does): each node's self is added under its path. Adds into
 * t (owned by the caller) and recomputes its totals. Fails with FX_EINVAL on a
 * malformed message (bad tuple size, name index, or nesting). */
int fx_flamegraph_to_tree(const Querier__V1__FlameGraph *fg, fx_tree_t *t, fx_err_t *err);

#endif
