/* row.c - encoding and checked decoding of stored profile rows (row.h). */
#include "storage/row.h"

#include <string.h>

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

    fx_buf_putc(out, FX_ROW_FORMAT);
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
    fx_buf_free(&body);
}

#define CORRUPT(...) fx_err_set(err, FX_ECORRUPT, "stored profile row is corrupt: " __VA_ARGS__)

int fx_row_parse(const uint8_t *p, size_t n, fx_row_t *row, fx_err_t *err)
{
    const uint8_t *end = p + n;
    uint64_t ncols, nstacks, len;

    if (n < 1 || p[0] != FX_ROW_FORMAT)
        return CORRUPT("unknown format byte");
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
    if (p != end)
        return CORRUPT("%zu trailing bytes", (size_t)(end - p));
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
