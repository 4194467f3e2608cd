/*
 * treebytes.h - Pyroscope's "tree" bytes (reference pyroscope-api.md §3.4),
 * carried by SelectMergeStacktracesResponse.tree and the internal merge
 * results between queriers, ingesters and store-gateways.
 *
 * Pre-order from a virtual root (empty name, self 0); each node is
 *
 *     uvarint(len(name)) name uvarint(self) uvarint(child_count)
 *
 * followed by its children's subtrees. The writer emits children in reverse
 * name order and truncates like Pyroscope's MarshalTruncate (cut siblings
 * become one "other", merged into an existing "other" child, which is always
 * kept), so for the same tree its bytes equal Pyroscope's. The reader accepts
 * children in any order and merges duplicate siblings.
 */
#ifndef FX_TREEBYTES_H
#define FX_TREEBYTES_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/core.h"
#include "model/tree.h"

/* Deepest nesting the reader accepts: deeper input is rejected, not
 * truncated. Matches the folded reader's limit. */
#define FX_TREEBYTES_MAX_DEPTH 4096

/* Appends t (totals valid) truncated to max_nodes (<= 0: no limit) to out.
 * An empty tree writes nothing, as Pyroscope does. The root's self (samples
 * with no frames) is written on the virtual root. Fails with FX_EINVAL if a
 * node has a negative self (the format has no sign). */
int fx_treebytes_write(const fx_tree_t *t, int64_t max_nodes, fx_buf_t *out, fx_err_t *err);

/* Adds every node of the serialized tree data[0..n) into t (owned by the
 * caller; may already hold samples, so results from several sources merge
 * without an intermediate tree). Totals are NOT recomputed: call
 * fx_tree_compute_totals after the last merge. Strict: a truncated or
 * over-long varint, a length past the end, a child count the remaining bytes
 * cannot hold, nesting deeper than FX_TREEBYTES_MAX_DEPTH, values whose sum
 * exceeds int64, or trailing bytes fail with FX_EINVAL and a message giving
 * the byte offset. On failure t holds the nodes read before the error. Empty
 * input is an empty tree. */
int fx_treebytes_merge(fx_tree_t *t, const uint8_t *data, size_t n, fx_err_t *err);

/* fx_treebytes_merge, then fx_tree_compute_totals. */
int fx_treebytes_parse(fx_tree_t *t, const uint8_t *data, size_t n, fx_err_t *err);

#endif
