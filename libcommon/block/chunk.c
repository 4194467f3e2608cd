/*
 * chunk.c - the profile chunk codec (format.h, docs/block-format.md): rows
 * of one pseries split into column streams - row headers, profile ids,
 * stack ids, one value stream per sample type - each zstd-compressed on its
 * own, so a time-series query decompresses only the headers and a merge
 * only the stacks and the one value column it needs. The decoder hands out
 * fx_row_t views into the decompressed streams, which is exactly what the
 * head's rows decode to, so the shared query engine reads both alike.
 */
#include "block/format.h"

#include <stdio.h>
#include <string.h>

enum { S_ROWS = 0, S_IDS = 1, S_STACKS = 2, S_VALS = 3 };

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

void fx__cb_init(fx__cbuild_t *b, uint32_t ncols)
{
    memset(b, 0, sizeof *b);
    FX_ASSERT(ncols >= 1 && ncols <= FX_ROW_MAX_COLS);
    b->ncols = ncols;
}

void fx__cb_free(fx__cbuild_t *b)
{
    fx_buf_free(&b->rows);
    fx_buf_free(&b->ids);
    fx_buf_free(&b->stacks);
    fx_buf_free(&b->spans);
    for (uint32_t c = 0; c < FX_ROW_MAX_COLS; c++) {
        fx_buf_free(&b->vals[c]);
        fx_buf_free(&b->tmp[c]);
    }
}

/*
 * Row header: svarint time delta (from the previous row; the first from 0),
 * uvarint nstacks, period, stack bytes; per column svarint total, uvarint
 * gcd << 1 | signed, and uvarint bytes << 1 - or, when the column's divided
 * values are byte-identical to an earlier column's in this row (cpu =
 * samples x period), j << 1 | 1 naming that column instead of repeating it.
 */
void fx__cb_add(fx__cbuild_t *b, int64_t ts, const uint8_t *id, const uint32_t *stacks,
                const int64_t *values, uint32_t nstacks, uint64_t period, const uint8_t *spans,
                size_t nspans_bytes)
{
    uint32_t nc = b->ncols;
    if (b->nrows == 0) {
        b->min_ns = ts;
        b->prev_ts = 0;
    }
    b->max_ns = ts;
    fx_buf_svarint(&b->rows, (int64_t)((uint64_t)ts - (uint64_t)b->prev_ts));
    b->prev_ts = ts;
    fx_buf_uvarint(&b->rows, nstacks);
    fx_buf_uvarint(&b->rows, period);
    size_t s0 = b->stacks.len;
    uint32_t prev = 0;
    for (uint32_t i = 0; i < nstacks; i++) {
        fx_buf_uvarint(&b->stacks, stacks[i] - prev);
        prev = stacks[i];
    }
    fx_buf_uvarint(&b->rows, b->stacks.len - s0);
    fx_buf_append(&b->ids, id, 16);
    for (uint32_t c = 0; c < nc; c++) {
        uint64_t g = 0, t = 0;
        int sgn = 0;
        for (uint32_t i = 0; i < nstacks; i++) {
            int64_t v = values[(size_t)i * nc + c];
            g = gcd64(v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, g);
            t += (uint64_t)v;
            sgn |= v < 0;
        }
        if (!g)
            g = 1;
        fx_buf_t *tb = &b->tmp[c];
        tb->len = 0;
        for (uint32_t i = 0; i < nstacks; i++) {
            int64_t v = values[(size_t)i * nc + c];
            if (sgn)
                fx_buf_svarint(tb, v / (int64_t)g);
            else
                fx_buf_uvarint(tb, (uint64_t)v / g);
        }
        fx_buf_svarint(&b->rows, (int64_t)t);
        fx_buf_uvarint(&b->rows, g << 1 | (uint64_t)sgn);
        uint32_t alias = UINT32_MAX;
        for (uint32_t j = 0; j < c && alias == UINT32_MAX; j++)
            if (b->tmp[j].len == tb->len && memcmp(b->tmp[j].data, tb->data, tb->len) == 0)
                alias = j;
        if (alias != UINT32_MAX && tb->len) {
            fx_buf_uvarint(&b->rows, (uint64_t)alias << 1 | 1);
        } else {
            fx_buf_uvarint(&b->rows, (uint64_t)tb->len << 1);
            fx_buf_append(&b->vals[c], tb->data, tb->len);
        }
    }
    fx_buf_uvarint(&b->spans, nspans_bytes);
    if (nspans_bytes) {
        fx_buf_append(&b->spans, spans, nspans_bytes);
        b->has_spans = 1;
    }
    b->nrows++;
    b->samples += nstacks;
}

size_t fx__cb_raw_bytes(const fx__cbuild_t *b)
{
    size_t n = b->rows.len + b->ids.len + b->stacks.len + (b->has_spans ? b->spans.len : 0);
    for (uint32_t c = 0; c < b->ncols; c++)
        n += b->vals[c].len;
    return n;
}

/* Chunk: u8 format | uvarint nrows, ncols | per stream u8 codec, uvarint
 * stored, raw | streams | u32 LE crc32 of everything before it. */
void fx__cb_flush(fx__cbuild_t *b, int level, fx_buf_t *out)
{
    size_t start = out->len;
    uint32_t ns = S_VALS + b->ncols + (b->has_spans ? 1 : 0);
    fx_buf_t *src[FX__MAX_STREAMS];
    fx_buf_t z[FX__MAX_STREAMS];
    int codec[FX__MAX_STREAMS];
    src[S_ROWS] = &b->rows;
    src[S_IDS] = &b->ids;
    src[S_STACKS] = &b->stacks;
    for (uint32_t c = 0; c < b->ncols; c++)
        src[S_VALS + c] = &b->vals[c];
    if (b->has_spans)
        src[S_VALS + b->ncols] = &b->spans;
    for (uint32_t s = 0; s < ns; s++) {
        z[s] = (fx_buf_t)FX_BUF_INIT;
        codec[s] = fx__compress(src[s]->data, src[s]->len, level, &z[s]);
    }
    fx_buf_putc(out, b->has_spans ? FX__CHUNK_FORMAT_SPANS : FX__CHUNK_FORMAT);
    fx_buf_uvarint(out, b->nrows);
    fx_buf_uvarint(out, b->ncols);
    for (uint32_t s = 0; s < ns; s++) {
        fx_buf_putc(out, (uint8_t)codec[s]);
        fx_buf_uvarint(out, z[s].len);
        fx_buf_uvarint(out, src[s]->len);
    }
    for (uint32_t s = 0; s < ns; s++) {
        fx_buf_append(out, z[s].data, z[s].len);
        fx_buf_free(&z[s]);
    }
    uint32_t crc = fx__crc32(out->data + start, out->len - start);
    uint8_t t[4] = {(uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16), (uint8_t)(crc >> 24)};
    fx_buf_append(out, t, 4);

    b->rows.len = b->ids.len = b->stacks.len = b->spans.len = 0;
    b->has_spans = 0;
    for (uint32_t c = 0; c < b->ncols; c++)
        b->vals[c].len = 0;
    b->nrows = 0;
    b->samples = 0;
}

/* --- decoding ---------------------------------------------------------------------------- */

#define CORRUPT(...) fx_err_set(err, FX_ECORRUPT, "profiles section: " __VA_ARGS__)

void fx__cd_init(fx__cdec_t *d)
{
    memset(d, 0, sizeof *d);
}

void fx__cd_free(fx__cdec_t *d)
{
    for (size_t i = 0; i < FX_ARRAY_LEN(d->buf); i++)
        fx_buf_free(&d->buf[i]);
}

static int ensure(fx__cdec_t *d, uint32_t s, fx_err_t *err)
{
    if (d->ready[s])
        return FX_OK;
    char what[48];
    snprintf(what, sizeof what, "profiles section chunk stream %u", s);
    int rc = fx__decompress(d->scodec[s], d->sp[s], d->slen[s], d->sraw[s], &d->buf[s], what, err);
    if (rc)
        return rc;
    d->ready[s] = 1;
    const uint8_t *p = d->buf[s].data, *e = p + d->buf[s].len;
    if (s == S_ROWS) {
        d->rp = p;
        d->rend = e;
    } else if (s == S_IDS) {
        d->ip = p;
    } else if (s == S_STACKS) {
        d->stp = p;
        d->stend = e;
    } else if (d->has_spans && s == S_VALS + d->ncols) {
        d->spp = p;
        d->spend = e;
    }
    return FX_OK;
}

int fx__cd_open(fx__cdec_t *d, const uint8_t *p, size_t n, uint32_t ncols, uint64_t want,
                int want_spans, int verify, fx_err_t *err)
{
    int need_samples = want != 0;
    const uint8_t *end = p + n;
    uint64_t nrows, nc;
    memset(d->ready, 0, sizeof d->ready);
    d->row = 0;
    d->ts = 0;
    d->need_samples = need_samples;
    d->want = want;
    memset(d->off, 0, sizeof d->off);
    if (n < 5)
        return CORRUPT("chunk of %zu bytes", n);
    end -= 4;
    uint32_t crc = (uint32_t)end[0] | (uint32_t)end[1] << 8 | (uint32_t)end[2] << 16 |
                   (uint32_t)end[3] << 24;
    if (verify && fx__crc32(p, n - 4) != crc)
        return CORRUPT("chunk checksum mismatch");
    if (*p != FX__CHUNK_FORMAT && *p != FX__CHUNK_FORMAT_SPANS)
        return CORRUPT("unknown chunk format");
    d->has_spans = *p++ == FX__CHUNK_FORMAT_SPANS;
    d->want_spans = want_spans && d->has_spans;
    if (fx_uvarint(&p, end, &nrows) || fx_uvarint(&p, end, &nc) || nc != ncols ||
        nrows > (uint64_t)n)
        return CORRUPT("bad chunk header");
    d->nrows = (uint32_t)nrows;
    d->ncols = ncols;
    uint32_t ns = S_VALS + ncols + (uint32_t)d->has_spans;
    uint64_t total = 0;
    for (uint32_t s = 0; s < ns; s++) {
        if (p >= end)
            return CORRUPT("truncated chunk header");
        d->scodec[s] = *p++;
        if (fx_uvarint(&p, end, &d->slen[s]) || fx_uvarint(&p, end, &d->sraw[s]) ||
            d->slen[s] > (uint64_t)n || d->sraw[s] > FX__MAX_PART)
            return CORRUPT("bad chunk stream header");
        total += d->slen[s];
    }
    if (total != (uint64_t)(end - p))
        return CORRUPT("chunk streams do not fill the chunk");
    for (uint32_t s = 0; s < ns; s++) {
        d->sp[s] = p;
        p += d->slen[s];
    }
    if (d->sraw[S_IDS] != nrows * 16)
        return CORRUPT("chunk has %llu id bytes for %llu rows",
                       (unsigned long long)d->sraw[S_IDS], (unsigned long long)nrows);
    int rc = ensure(d, S_ROWS, err);
    if (rc == FX_OK)
        rc = ensure(d, S_IDS, err);
    if (rc == FX_OK && need_samples)
        rc = ensure(d, S_STACKS, err);
    if (rc == FX_OK && d->want_spans)
        rc = ensure(d, S_VALS + ncols, err);
    return rc;
}

int fx__cd_next(fx__cdec_t *d, int64_t *ts, const uint8_t **id, fx_row_t *row, fx_err_t *err)
{
    if (d->row == d->nrows) {
        if (d->rp != d->rend)
            return CORRUPT("chunk has trailing row headers");
        if (d->need_samples) {
            if (d->stp != d->stend)
                return CORRUPT("chunk has trailing stack ids");
            for (uint32_t c = 0; c < d->ncols; c++)
                if (d->off[c] != d->sraw[S_VALS + c])
                    return CORRUPT("chunk has trailing values in column %u", c);
        }
        if (d->want_spans && d->spp != d->spend)
            return CORRUPT("chunk has trailing span sections");
        return 0;
    }
    uint64_t dt, nstacks, period, sbytes;
    const uint8_t **p = &d->rp, *e = d->rend;
    if (fx_uvarint(p, e, &dt) || fx_uvarint(p, e, &nstacks) || fx_uvarint(p, e, &period) ||
        fx_uvarint(p, e, &sbytes) || nstacks > UINT32_MAX)
        return CORRUPT("bad row header %u", d->row);
    d->ts = (int64_t)((uint64_t)d->ts + (uint64_t)fx_unzigzag(dt));
    *ts = d->ts;
    *id = d->ip + (size_t)d->row * 16;
    row->ncols = d->ncols;
    row->nstacks = (uint32_t)nstacks;
    row->period = period;
    row->stacks = row->stacks_end = NULL;
    if (d->need_samples) {
        if (sbytes > (uint64_t)(d->stend - d->stp))
            return CORRUPT("row %u overruns the stack stream", d->row);
        row->stacks = d->stp;
        row->stacks_end = d->stp + sbytes;
        d->stp += sbytes;
    }
    row->spans = row->spans_end = NULL;
    if (d->want_spans) {
        uint64_t sl;
        if (fx_uvarint(&d->spp, d->spend, &sl) || sl > (uint64_t)(d->spend - d->spp))
            return CORRUPT("row %u overruns the span stream", d->row);
        if (sl) {
            row->spans = d->spp;
            row->spans_end = d->spp + sl;
            d->spp += sl;
        }
    }
    /* Headers first (value offsets advance without decompressing), then
     * pointers for the wanted columns, following repeats to their source. */
    uint64_t start[FX_ROW_MAX_COLS], len[FX_ROW_MAX_COLS];
    uint32_t from[FX_ROW_MAX_COLS];
    for (uint32_t c = 0; c < d->ncols; c++) {
        uint64_t total, g, l;
        fx_row_col_t *C = &row->cols[c];
        if (fx_uvarint(p, e, &total) || fx_uvarint(p, e, &g) || fx_uvarint(p, e, &l) ||
            (g >> 1) == 0)
            return CORRUPT("bad column %u header in row %u", c, d->row);
        C->total = fx_unzigzag(total);
        C->gcd = g >> 1;
        C->is_signed = (int)(g & 1);
        C->p = C->end = NULL;
        if (l & 1) {
            uint64_t j = l >> 1;
            if (j >= c)
                return CORRUPT("column %u of row %u repeats column %llu", c, d->row,
                               (unsigned long long)j);
            from[c] = from[j];
            continue;
        }
        from[c] = c;
        start[c] = d->off[c];
        len[c] = l >> 1;
        if (len[c] > d->sraw[S_VALS + c] - d->off[c])
            return CORRUPT("row %u overruns value column %u", d->row, c);
        d->off[c] += len[c];
    }
    for (uint32_t c = 0; c < d->ncols && d->need_samples; c++) {
        if (!(d->want >> c & 1))
            continue;
        uint32_t f = from[c];
        int rc = ensure(d, S_VALS + f, err);
        if (rc)
            return rc;
        row->cols[c].p = d->buf[S_VALS + f].data + start[f];
        row->cols[c].end = row->cols[c].p + len[f];
    }
    d->row++;
    return 1;
}
