/* fuzz_spans.c - the span section of stored rows (storage/row.h) on hostile
 * input: it comes back from disk (head rows, block chunks), so a damaged one
 * must give FX_ECORRUPT, never a crash. Input: u8 nsel (mod 5), nsel x 8
 * bytes of selected span ids, then one row; the row is parsed and, if it
 * has a span section, every column is accumulated for the selection and
 * summed per span (span heatmaps), and the section is re-mapped (as cutting
 * and compaction do). */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "storage/row.h"

#define MAX_STACK 4096

/* fx_row_span_totals must give spans in strictly ascending order. */
typedef struct totals {
    uint64_t last;
    int any;
} totals_t;

static int on_total(void *ctx, uint64_t span, int64_t total)
{
    totals_t *t = ctx;
    (void)total;
    FX_ASSERT(!t->any || span > t->last);
    t->any = 1;
    t->last = span;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t nraw = data[0] % 5;
    if (size < 1 + nraw * 8)
        return 0;
    uint64_t sel[4];
    memcpy(sel, data + 1, nraw * 8);
    size_t nsel = fx_span_ids_sort(sel, nraw);
    const uint8_t *p = data + 1 + nraw * 8;
    size_t n = size - 1 - nraw * 8;
    int64_t *acc = calloc(MAX_STACK, sizeof *acc);
    uint8_t *touched = calloc(MAX_STACK, 1);
    uint32_t *map = malloc(MAX_STACK * sizeof *map);
    for (uint32_t i = 0; i < MAX_STACK; i++)
        map[i] = i % 7 == 3 ? UINT32_MAX : MAX_STACK - 1 - i;
    fx_err_t err;
    fx_row_t row;
    fx_buf_t out = FX_BUF_INIT;
    if (fx_row_parse(p, n, &row, &err) == FX_OK && row.spans) {
        for (uint32_t c = 0; c < row.ncols; c++) {
            if (fx_row_span_accumulate(&row, c, sel, nsel, MAX_STACK, acc, touched, &err))
                FX_ASSERT(err.code == FX_ECORRUPT);
            totals_t t = {0, 0};
            if (fx_row_span_totals(&row, c, on_total, &t, &err))
                FX_ASSERT(err.code == FX_ECORRUPT);
        }
        if (fx_row_spans_remap(&row, MAX_STACK, map, &out, &err) == FX_OK && out.len) {
            /* What remap wrote must read back. */
            fx_row_t r2 = row;
            r2.spans = out.data;
            r2.spans_end = out.data + out.len;
            FX_ASSERT(fx_row_span_accumulate(&r2, 0, sel, nsel, MAX_STACK, acc, touched, &err) ==
                      FX_OK);
        }
    }
    fx_buf_free(&out);
    free(acc);
    free(touched);
    free(map);
    return 0;
}
