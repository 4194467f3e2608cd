/*
 * folded.h - the "folded"/"collapsed" stack text format:
 *
 *     main;handle_request;parse_json 42
 *
 * one stack per line, root first, frames separated by ';', a space and an
 * integer value last. The "lines" variant has no value: each line counts 1.
 * Blank lines are skipped; a trailing '\r' is ignored.
 */
#ifndef FX_FOLDED_H
#define FX_FOLDED_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/core.h"
#include "model/tree.h"

#define FX_FOLDED_MAX_DEPTH 4096

/* Called once per stack. frames[i] borrow from the input text. Returns FX_OK
 * to continue or an error code to stop. */
typedef int (*fx_folded_fn)(const fx_slice_t *frames, size_t nframes, int64_t value, void *ctx);

/* Parses text; with_values=0 selects the "lines" variant. On a malformed line
 * fails with FX_EINVAL and a message naming the line number. */
int fx_folded_each(const char *text, size_t n, int with_values, fx_folded_fn fn, void *ctx,
                   fx_err_t *err);

/* Adds every stack of text to tree (which the caller owns). */
int fx_folded_to_tree(const char *text, size_t n, fx_tree_t *tree, fx_err_t *err);

/* Appends tree as folded text (the UI's export): one line per node with a
 * non-zero self, its path from the root joined by ';', a space and the self;
 * siblings in name order, so equal trees give equal text. The root's self
 * (samples without frames) has no line. Frame names are written as they are:
 * a name containing ';' or a newline cannot round-trip, as in every folded
 * writer. */
void fx_folded_write(const fx_tree_t *tree, fx_buf_t *out);

#endif
