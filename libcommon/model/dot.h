/*
 * dot.h - Graphviz DOT call graph of a call tree, the text behind
 * /pyroscope/render?format=dot that Grafana's "Explain flame graph" (Flame
 * graph AI) sends to a language model (reference grafana-client.md §4).
 *
 * Same model and layout as `go tool pprof -dot` (Pyroscope ports pprof's
 * report code for this endpoint):
 *   - a node per function: flat = value of samples whose leaf it is, cum =
 *     value of samples it appears in (a recursive function once per stack);
 *   - an edge caller -> callee weighted by the samples on that call (once per
 *     stack); when frames between two shown functions were dropped the edge is
 *     "residual" (dotted), and residual edges already implied by another path
 *     are removed, as pprof's RemoveRedundantEdges does;
 *   - the max_nodes functions with the largest cum are kept (pprof's visual
 *     mode orders by an entropy score instead; cum order is what the tree
 *     gives directly and keeps the hottest paths);
 *   - a legend with the sample type, the share the shown nodes account for
 *     and "Showing top N nodes out of M";
 *   - labels "name\nflat (x%)\nof cum (y%)", pprof's font sizes and colours,
 *     values auto-scaled like pprof's default output unit (10ms, 1.50s, 2MB).
 * Unlike pprof, node labels keep the full package-qualified function name on
 * one line: the AI prompt asks the model to name functions exactly.
 */
#ifndef FX_DOT_H
#define FX_DOT_H

#include <stdint.h>

#include "core/buf.h"
#include "model/tree.h"

#define FX_DOT_DEFAULT_NODES 100

typedef struct fx_dot_opts {
    int64_t max_nodes;        /* <= 0: FX_DOT_DEFAULT_NODES */
    const char *title;        /* graph name; NULL: "unnamed" (pprof's default) */
    const char *sample_type;  /* legend "Type: ..." line; NULL: omitted */
    const char *sample_unit;  /* "nanoseconds", "bytes", ...: value scaling */
} fx_dot_opts_t;

/* Appends the DOT text of t (totals valid; not changed) to out. A tree with
 * no samples writes nothing, as Pyroscope answers an empty profile with an
 * empty body. Strings are escaped for DOT and invalid UTF-8 bytes replaced
 * by '?', so the output always parses. */
void fx_dot_write(const fx_tree_t *t, const fx_dot_opts_t *opts, fx_buf_t *out);

/* Formats v in unit like pprof's "minimum" output unit ("1.50s", "10ms",
 * "2MB", plain integer for counts) into buf (>= 32 bytes); returns buf. */
char *fx_dot_format_value(int64_t v, const char *unit, char *buf, size_t len);

#endif
