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
    fx_row_col_t cols[FX_ROW_MAX_COLS];
} fx_row_t;

/* Encodes a row. stacks[nstacks] must be ascending and unique; values is
 * row-major: values[i * ncols + c] belongs to stacks[i], column c. Appends to
 * out. */
void fx_row_encode(const uint32_t *stacks, const int64_t *values, uint32_t nstacks,
                   uint32_t ncols, uint64_t period, fx_buf_t *out);

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

#endif
