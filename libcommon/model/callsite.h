/*
 * callsite.h - the call-site filter of types.v1.StackTraceSelector: keep only
 * the samples whose stack begins, root first, with the given function names
 * (Pyroscope's relationSubtree in symdb's stack trace selection).
 *
 * The result keeps the prefix frames as its top: for call_site [a, b] and
 * samples a;b;c 5, a;b 2, a;x 3, b;c 1 it holds a;b;c 5 and a;b 2 only. An
 * empty call site selects everything.
 */
#ifndef FX_CALLSITE_H
#define FX_CALLSITE_H

#include <stddef.h>

#include "model/tree.h"

/* Copies into dst (initialised, empty, owned by the caller) the samples of
 * src under the call site names[0..n) (NUL-terminated strings, borrowed);
 * dst's totals are computed. A call site that matches nothing leaves dst
 * empty. src is not changed. */
void fx_tree_filter_call_site(const fx_tree_t *src, const char *const *names, size_t n,
                              fx_tree_t *dst);

/* Copies the subtree of src rooted at src_node (its node and descendants,
 * with their selfs) under dst_parent in dst, merging with what is there.
 * Totals of dst are not recomputed. Returns the copy of src_node. */
uint32_t fx_tree_copy_subtree(const fx_tree_t *src, uint32_t src_node, fx_tree_t *dst,
                              uint32_t dst_parent);

#endif
