/* row.c - encoding and checked decoding of stored profile rows (row.h). */
#include "storage/row.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static uint64_t abs64(int64_t v)
{
    return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

void fx_row_encode(const uint32_t *stacks, const int64_t *values, uint32_t nstacks,
                   uint32_t ncols, uint64_t period, fx_buf_t *out)
{
    fx_row_encode_spans(stacks, values, nstacks, ncols, period, NULL, 0, out);
}

void fx_row_encode_spans(const uint32_t *stacks, const int64_t *values, uint32_t nstacks,
                         uint32_t ncols, uint64_t period, const uint8_t *spans,
                         size_t nspans_bytes, fx_buf_t *out)
{
    FX_ASSERT(ncols >= 1 && ncols <= FX_ROW_MAX_COLS);
    uint64_t gcd[FX_ROW_MAX_COLS];
    uint64_t total[FX_ROW_MAX_COLS];
    int is_signed[FX_ROW_MAX_COLS];
    size_t col_start[FX_ROW_MAX_COLS + 1];
    fx_buf_t body = FX_BUF_INIT;

    for (uint32_t c = 0; c < ncols; c++) {
        uint64_t g = 0, t = 0;
        int s = 0;
        for (uint32_t i = 0; i < nstacks; i++) {
            int64_t v = values[(size_t)i * ncols + c];
            g = gcd64(abs64(v), g);
            t += (uint64_t)v; /* wraps like Go's int64 sums, without UB */
            s |= v < 0;
        }
        gcd[c] = g ? g : 1;
        total[c] = t;
        is_signed[c] = s;
    }

    /* Sections first, into body, so their lengths are known for the header. */
    uint32_t prev = 0;
    for (uint32_t i = 0; i < nstacks; i++) {
        FX_ASSERT(i == 0 || stacks[i] > prev);
        fx_buf_uvarint(&body, stacks[i] - prev);
        prev = stacks[i];
    }
    size_t stack_bytes = body.len;
    for (uint32_t c = 0; c < ncols; c++) {
        col_start[c] = body.len;
        for (uint32_t i = 0; i < nstacks; i++) {
            int64_t v = values[(size_t)i * ncols + c];
            if (is_signed[c])
                fx_buf_svarint(&body, v / (int64_t)gcd[c]);
            else
                fx_buf_uvarint(&body, (uint64_t)v / gcd[c]);
        }
    }
    col_start[ncols] = body.len;

    fx_buf_putc(out, nspans_bytes ? FX_ROW_FORMAT_SPANS : FX_ROW_FORMAT);
    fx_buf_uvarint(out, ncols);
    fx_buf_uvarint(out, nstacks);
    fx_buf_uvarint(out, period);
    for (uint32_t c = 0; c < ncols; c++) {
        fx_buf_svarint(out, (int64_t)total[c]);
        fx_buf_uvarint(out, gcd[c] << 1 | (uint64_t)is_signed[c]);
        fx_buf_uvarint(out, col_start[c + 1] - col_start[c]);
    }
    fx_buf_uvarint(out, stack_bytes);
    fx_buf_append(out, body.data, body.len);
    if (nspans_bytes)
        fx_buf_append(out, spans, nspans_bytes);
    fx_buf_free(&body);
}

#define CORRUPT(...) fx_err_set(err, FX_ECORRUPT, "stored profile row is corrupt: " __VA_ARGS__)

int fx_row_parse(const uint8_t *p, size_t n, fx_row_t *row, fx_err_t *err)
{
    const uint8_t *end = p + n;
    uint64_t ncols, nstacks, len;

    if (n < 1 || (p[0] != FX_ROW_FORMAT && p[0] != FX_ROW_FORMAT_SPANS))
        return CORRUPT("unknown format byte");
    int has_spans = p[0] == FX_ROW_FORMAT_SPANS;
    p++;
    if (fx_uvarint(&p, end, &ncols) || fx_uvarint(&p, end, &nstacks) ||
        fx_uvarint(&p, end, &row->period))
        return CORRUPT("truncated header");
    if (ncols < 1 || ncols > FX_ROW_MAX_COLS)
        return CORRUPT("%llu columns", (unsigned long long)ncols);
    /* Every stack takes at least one byte in the stack section. */
    if (nstacks > n)
        return CORRUPT("%llu stacks in %zu bytes", (unsigned long long)nstacks, n);
    row->ncols = (uint32_t)ncols;
    row->nstacks = (uint32_t)nstacks;
    uint64_t sizes[FX_ROW_MAX_COLS];
    for (uint32_t c = 0; c < row->ncols; c++) {
        uint64_t total, g;
        if (fx_uvarint(&p, end, &total) || fx_uvarint(&p, end, &g) ||
            fx_uvarint(&p, end, &sizes[c]))
            return CORRUPT("truncated column header");
        row->cols[c].total = fx_unzigzag(total);
        row->cols[c].gcd = g >> 1;
        row->cols[c].is_signed = (int)(g & 1);
        if (row->cols[c].gcd == 0)
            return CORRUPT("column %u has divisor 0", c);
    }
    if (fx_uvarint(&p, end, &len) || len > (uint64_t)(end - p))
        return CORRUPT("stack section overruns the row");
    row->stacks = p;
    row->stacks_end = p + len;
    p += len;
    for (uint32_t c = 0; c < row->ncols; c++) {
        if (sizes[c] > (uint64_t)(end - p))
            return CORRUPT("column %u overruns the row", c);
        row->cols[c].p = p;
        row->cols[c].end = p + sizes[c];
        p += sizes[c];
    }
    row->spans = row->spans_end = NULL;
    if (has_spans) {
        /* Checked only by the readers that ask for spans. */
        if (p == end)
            return CORRUPT("empty span section");
        row->spans = p;
        row->spans_end = end;
    } else if (p != end) {
        return CORRUPT("%zu trailing bytes", (size_t)(end - p));
    }
    return FX_OK;
}

/* One-byte varints dominate; the slow path is the general decoder. */
static inline int next_uvarint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    if (FX_LIKELY(*p < end && !(**p & 0x80))) {
        *v = *(*p)++;
        return 0;
    }
    return fx_uvarint(p, end, v);
}

/* The shared loop of visit and accumulate: decodes stack ids and values in
 * step. `emit` is a macro argument so the hot path inlines. */
#define ROW_LOOP(EMIT)                                                                      \
    do {                                                                                    \
        const fx_row_col_t *C = &row->cols[col];                                            \
        const uint8_t *sp = row->stacks, *se = row->stacks_end, *vp = C->p, *ve = C->end;   \
        uint64_t id = 0, d, raw;                                                            \
        int64_t mul = (int64_t)C->gcd;                                                      \
        for (uint32_t i = 0; i < row->nstacks; i++) {                                       \
            if (next_uvarint(&sp, se, &d) || (i > 0 && d == 0))                             \
                return CORRUPT("bad stack id at %u", i);                                    \
            id += d;                                                                        \
            if (id >= max_stack)                                                            \
                return CORRUPT("stack id %llu out of range", (unsigned long long)id);       \
            if (next_uvarint(&vp, ve, &raw))                                                \
                return CORRUPT("bad value at %u", i);                                       \
            int64_t value = C->is_signed ? fx_unzigzag(raw) : (int64_t)raw;                 \
            value = (int64_t)((uint64_t)value * (uint64_t)mul);                             \
            uint32_t stack = (uint32_t)id;                                                  \
            EMIT;                                                                           \
        }                                                                                   \
        if (sp != se || vp != ve)                                                           \
            return CORRUPT("section lengths disagree with the stack count");                \
    } while (0)

int fx_row_visit(const fx_row_t *row, uint32_t col, uint32_t max_stack, fx_row_visit_fn fn,
                 void *ctx, fx_err_t *err)
{
    if (col >= row->ncols)
        return CORRUPT("no column %u", col);
    ROW_LOOP(fn(ctx, stack, value));
    return FX_OK;
}

int fx_row_accumulate(const fx_row_t *row, uint32_t col, uint32_t max_stack, int64_t *acc,
                      uint8_t *touched, fx_err_t *err)
{
    if (col >= row->ncols)
        return CORRUPT("no column %u", col);
    ROW_LOOP({
        acc[stack] = (int64_t)((uint64_t)acc[stack] + (uint64_t)value);
        touched[stack] = 1;
    });
    return FX_OK;
}

/* --- span sections ------------------------------------------------------------------ */

static int entry_cmp(const void *a, const void *b)
{
    const fx_row_span_entry_t *x = a, *y = b;
    if (x->span != y->span)
        return x->span < y->span ? -1 : 1;
    if (x->stack != y->stack)
        return x->stack < y->stack ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

void fx_row_spans_encode(fx_row_span_entry_t *e, size_t n, const int64_t *vals, uint32_t ncols,
                         fx_buf_t *out)
{
    if (n == 0)
        return;
    qsort(e, n, sizeof *e, entry_cmp);
    size_t nspans = 1;
    for (size_t i = 1; i < n; i++)
        nspans += e[i].span != e[i - 1].span;
    fx_buf_uvarint(out, nspans);
    int64_t sum[FX_ROW_MAX_COLS];
    uint64_t prev_span = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i, nent = 0;
        while (j < n && e[j].span == e[i].span) {
            nent += j == i || e[j].stack != e[j - 1].stack;
            j++;
        }
        fx_buf_uvarint(out, e[i].span - prev_span);
        prev_span = e[i].span;
        fx_buf_uvarint(out, nent);
        uint32_t prev_stack = 0;
        for (size_t k = i; k < j;) {
            memset(sum, 0, ncols * sizeof *sum);
            size_t m = k;
            for (; m < j && e[m].stack == e[k].stack; m++)
                for (uint32_t c = 0; c < ncols; c++)
                    sum[c] = (int64_t)((uint64_t)sum[c] +
                                       (uint64_t)vals[(size_t)e[m].idx * ncols + c]);
            fx_buf_uvarint(out, e[k].stack - prev_stack);
            prev_stack = e[k].stack;
            for (uint32_t c = 0; c < ncols; c++)
                fx_buf_svarint(out, sum[c]);
            k = m;
        }
        i = j;
    }
}

/* Walks the span section of row, checking all of it, and calls fn for
 * every entry with its span, stack and ncols values; a non-zero return of
 * fn stops the walk and is returned. */
typedef int (*span_fn)(void *ctx, uint64_t span, uint32_t stack, const int64_t *v);

static int span_walk(const fx_row_t *row, uint32_t max_stack, span_fn fn, void *ctx,
                     fx_err_t *err)
{
    const uint8_t *p = row->spans, *end = row->spans_end;
    uint64_t nspans, span = 0, d, nent, raw;
    int64_t v[FX_ROW_MAX_COLS];
    if (!p)
        return FX_OK;
    if (fx_uvarint(&p, end, &nspans) || nspans == 0 || nspans > (uint64_t)(end - p))
        return CORRUPT("bad span count");
    for (uint64_t i = 0; i < nspans; i++) {
        if (fx_uvarint(&p, end, &d) || (i > 0 && d == 0) || d > UINT64_MAX - span)
            return CORRUPT("bad span id");
        span += d;
        if (fx_uvarint(&p, end, &nent) || nent == 0 || nent > (uint64_t)(end - p))
            return CORRUPT("bad span entry count");
        uint64_t stack = 0;
        for (uint64_t k = 0; k < nent; k++) {
            if (next_uvarint(&p, end, &d) || (k > 0 && d == 0) || d >= max_stack ||
                (stack += d) >= max_stack)
                return CORRUPT("bad span stack id");
            for (uint32_t c = 0; c < row->ncols; c++) {
                if (next_uvarint(&p, end, &raw))
                    return CORRUPT("bad span value");
                v[c] = fx_unzigzag(raw);
            }
            int rc = fn(ctx, span, (uint32_t)stack, v);
            if (rc)
                return rc;
        }
    }
    if (p != end)
        return CORRUPT("%zu trailing bytes in the span section", (size_t)(end - p));
    return FX_OK;
}

int fx_row_span_visit(const fx_row_t *row, uint32_t max_stack, fx_row_span_fn fn, void *ctx,
                      fx_err_t *err)
{
    return span_walk(row, max_stack, fn, ctx, err);
}

typedef struct span_acc {
    const uint64_t *sel;
    size_t nsel, at;
    uint32_t col;
    int64_t *acc;
    uint8_t *touched;
} span_acc_t;

static int span_acc(void *ctx, uint64_t span, uint32_t stack, const int64_t *v)
{
    span_acc_t *a = ctx;
    /* Spans ascend, so the selection is walked once per row. */
    while (a->at < a->nsel && a->sel[a->at] < span)
        a->at++;
    if (a->at < a->nsel && a->sel[a->at] == span) {
        a->acc[stack] = (int64_t)((uint64_t)a->acc[stack] + (uint64_t)v[a->col]);
        a->touched[stack] = 1;
    }
    return FX_OK;
}

int fx_row_span_accumulate(const fx_row_t *row, uint32_t col, const uint64_t *sel, size_t nsel,
                           uint32_t max_stack, int64_t *acc, uint8_t *touched, fx_err_t *err)
{
    if (col >= row->ncols)
        return CORRUPT("no column %u", col);
    span_acc_t a = {sel, nsel, 0, col, acc, touched};
    return span_walk(row, max_stack, span_acc, &a, err);
}

typedef struct span_sum {
    uint32_t col;
    uint64_t span;
    int64_t sum;
    int any;
    fx_row_span_total_fn fn;
    void *ctx;
} span_sum_t;

static int span_sum(void *ctx, uint64_t span, uint32_t stack, const int64_t *v)
{
    span_sum_t *s = ctx;
    (void)stack;
    if (s->any && span != s->span) {
        int rc = s->fn(s->ctx, s->span, s->sum);
        if (rc)
            return rc;
        s->sum = 0;
    }
    s->any = 1;
    s->span = span;
    /* Wrapping: hostile stored values must not overflow (UB). */
    s->sum = (int64_t)((uint64_t)s->sum + (uint64_t)v[s->col]);
    return FX_OK;
}

int fx_row_span_totals(const fx_row_t *row, uint32_t col, fx_row_span_total_fn fn, void *ctx,
                       fx_err_t *err)
{
    if (col >= row->ncols)
        return CORRUPT("no column %u", col);
    span_sum_t s = {col, 0, 0, 0, fn, ctx};
    int rc = span_walk(row, UINT32_MAX, span_sum, &s, err);
    if (rc == FX_OK && s.any)
        rc = fn(ctx, s.span, s.sum);
    return rc;
}

typedef struct span_dec {
    const uint32_t *map;
    fx_row_span_entry_t *e;
    int64_t *vals;
    size_t n, cap;
    uint32_t ncols;
    int unmapped;
} span_dec_t;

static int span_dec(void *ctx, uint64_t span, uint32_t stack, const int64_t *v)
{
    span_dec_t *d = ctx;
    if (d->map[stack] == UINT32_MAX) {
        d->unmapped = 1;
        return FX_ECORRUPT;
    }
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 64;
        d->e = fx_realloc(d->e, d->cap * sizeof *d->e);
        d->vals = fx_realloc(d->vals, d->cap * d->ncols * sizeof *d->vals);
    }
    d->e[d->n] = (fx_row_span_entry_t){span, d->map[stack], (uint32_t)d->n};
    memcpy(&d->vals[d->n * d->ncols], v, d->ncols * sizeof *v);
    d->n++;
    return FX_OK;
}

int fx_row_spans_remap(const fx_row_t *row, uint32_t max_stack, const uint32_t *map,
                       fx_buf_t *out, fx_err_t *err)
{
    span_dec_t d = {map, NULL, NULL, 0, 0, row->ncols, 0};
    int rc = span_walk(row, max_stack, span_dec, &d, err);
    if (d.unmapped)
        rc = CORRUPT("span sample of a stack the row does not have");
    if (rc == FX_OK)
        fx_row_spans_encode(d.e, d.n, d.vals, row->ncols, out);
    free(d.e);
    free(d.vals);
    return rc;
}

int fx_span_id_parse(const char *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n != 16)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        unsigned d;
        if (ch >= '0' && ch <= '9')
            d = (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            d = (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F')
            d = (unsigned)(ch - 'A' + 10);
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

size_t fx_span_ids_sort(uint64_t *ids, size_t n)
{
    size_t m = 0;
    if (n == 0)
        return 0;
    qsort(ids, n, sizeof *ids, u64_cmp);
    for (size_t i = 0; i < n; i++)
        if (m == 0 || ids[i] != ids[m - 1])
            ids[m++] = ids[i];
    return m;
}
