/*
 * row.h - the stored form of one profile: a "row" holding, for every stack
 * the profile touched, one value per column (pprof sample type).
 *
 * Layout (all integers LEB128 varints unless noted; see docs/storage.md):
 *
 *   u8      format (FX_ROW_FORMAT)
 *   uvarint ncols, nstacks, period
 *   ncols x { svarint total, uvarint gcd << 1 | signed, uvarint bytes }
 *   uvarint stack_bytes
 *   stacks: nstacks uvarints - stack node ids ascending, each as the delta
 *           from the previous id (the first from 0); deltas are >= 1 after
 *           the first, so ids are unique
 *   columns: per column `bytes` bytes holding nstacks values, each
 *           value / gcd, uvarint (or zigzag svarint when `signed`)
 *
 * Format 2 (FX_ROW_FORMAT_SPANS) is format 1 followed by a span section
 * taking the rest of the row: the samples that carried a span_id label,
 * per span (see fx_row_spans_encode). Readers that do not ask for spans
 * only note where it starts; format 1 rows are what profiles without span
 * labels store, byte for byte as before.
 *
 * Totals sit in the header so time-series queries never touch samples;
 * dividing by the column's GCD turns CPU values (multiples of the sampling
 * period) into small counts. Section byte lengths let a reader skip columns.
 *
 * Rows come back from disk, so the parser treats them as untrusted: any
 * inconsistency is FX_ECORRUPT, never a crash (tests/fuzz/fuzz_row.c).
 */
#ifndef FX_STORAGE_ROW_H
#define FX_STORAGE_ROW_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/core.h"

#define FX_ROW_FORMAT 1
#define FX_ROW_FORMAT_SPANS 2
#define FX_ROW_MAX_COLS 64

typedef struct fx_row_col {
    int64_t total;
    uint64_t gcd;
    int is_signed;
    const uint8_t *p, *end; /* the column's value bytes */
} fx_row_col_t;

/* A parsed row header; pointers borrow the row bytes. */
typedef struct fx_row {
    uint32_t ncols, nstacks;
    uint64_t period;
    const uint8_t *stacks, *stacks_end;
    const uint8_t *spans, *spans_end; /* span section; both NULL when the row has none */
    fx_row_col_t cols[FX_ROW_MAX_COLS];
} fx_row_t;

/* Encodes a row. stacks[nstacks] must be ascending and unique; values is
 * row-major: values[i * ncols + c] belongs to stacks[i], column c. Appends to
 * out. */
void fx_row_encode(const uint32_t *stacks, const int64_t *values, uint32_t nstacks,
                   uint32_t ncols, uint64_t period, fx_buf_t *out);

/* As fx_row_encode, plus the span section spans[0..nspans_bytes) (as
 * fx_row_spans_encode made it; none when nspans_bytes is 0: format 1). */
void fx_row_encode_spans(const uint32_t *stacks, const int64_t *values, uint32_t nstacks,
                         uint32_t ncols, uint64_t period, const uint8_t *spans,
                         size_t nspans_bytes, fx_buf_t *out);

/* Parses the header and checks that the sections fit the row exactly.
 * FX_ECORRUPT (with a message) otherwise. */
int fx_row_parse(const uint8_t *p, size_t n, fx_row_t *row, fx_err_t *err);

/* Calls fn(ctx, stack, value) for every stack of column col (values already
 * multiplied back by the GCD). Fails with FX_ECORRUPT on malformed varints,
 * a non-ascending stack id, an id >= max_stack, or a count mismatch. */
typedef void (*fx_row_visit_fn)(void *ctx, uint32_t stack, int64_t value);
int fx_row_visit(const fx_row_t *row, uint32_t col, uint32_t max_stack, fx_row_visit_fn fn,
                 void *ctx, fx_err_t *err);

/* The hot path of merges: acc[stack] += value for every stack of column col,
 * and touched[stack] = 1. Same checks as fx_row_visit. */
int fx_row_accumulate(const fx_row_t *row, uint32_t col, uint32_t max_stack, int64_t *acc,
                      uint8_t *touched, fx_err_t *err);

/* --- span sections ------------------------------------------------------------
 * uvarint nspans; per span, span ids ascending: uvarint span id delta (from
 * the previous span's id, the first from 0; >= 1 after the first), uvarint
 * nentries (>= 1), then per entry, stacks ascending: uvarint stack delta
 * (from the previous entry's stack in this span, the first from 0; >= 1
 * after the first) and ncols svarint values. */

/* One sample with a span: values are vals[idx * ncols ... + ncols). */
typedef struct fx_row_span_entry {
    uint64_t span;
    uint32_t stack, idx;
} fx_row_span_entry_t;

/* Sorts e[n] by (span, stack) (in place), sums the values of equal pairs
 * and appends the section to out. Nothing is appended when n is 0. */
void fx_row_spans_encode(fx_row_span_entry_t *e, size_t n, const int64_t *vals, uint32_t ncols,
                         fx_buf_t *out);

/* acc[stack] += value of column col, touched[stack] = 1, for every entry of
 * the spans in sel[nsel] (ascending, unique). The whole section is checked
 * as fx_row_visit checks a row: FX_ECORRUPT on any inconsistency. */
int fx_row_span_accumulate(const fx_row_t *row, uint32_t col, const uint64_t *sel, size_t nsel,
                           uint32_t max_stack, int64_t *acc, uint8_t *touched, fx_err_t *err);

/* Calls fn(ctx, span, stack, values[ncols]) for every entry of row's span
 * section (spans ascending, stacks ascending within a span), checking all
 * of it as fx_row_span_accumulate does; a non-zero return of fn stops the
 * walk and is returned. No section, no calls. */
typedef int (*fx_row_span_fn)(void *ctx, uint64_t span, uint32_t stack, const int64_t *values);
int fx_row_span_visit(const fx_row_t *row, uint32_t max_stack, fx_row_span_fn fn, void *ctx,
                      fx_err_t *err);

/* Calls fn(ctx, span, total) for every span of row's span section, in
 * ascending span order, with the sum of column col over its entries; a
 * non-zero return of fn stops the walk and is returned. The section is
 * checked as fx_row_span_accumulate checks it (stack ids unbounded). */
typedef int (*fx_row_span_total_fn)(void *ctx, uint64_t span, int64_t total);
int fx_row_span_totals(const fx_row_t *row, uint32_t col, fx_row_span_total_fn fn, void *ctx,
                       fx_err_t *err);

/* Re-encodes row's span section into out (appending) with every stack
 * id s mapped to map[s] (s < max_stack; UINT32_MAX = unmapped:
 * FX_ECORRUPT), entries re-sorted, equal ones summed. No section, nothing. */
int fx_row_spans_remap(const fx_row_t *row, uint32_t max_stack, const uint32_t *map,
                       fx_buf_t *out, fx_err_t *err);

/* Parses a span id as Pyroscope does: exactly 16 hex digits (either case).
 * Returns 0 and *out, or -1. */
int fx_span_id_parse(const char *p, size_t n, uint64_t *out);
/* Sorts ids[n] ascending and drops duplicates; returns the new count. */
size_t fx_span_ids_sort(uint64_t *ids, size_t n);

#endif
