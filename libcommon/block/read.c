/*
 * read.c - opening a block (meta.json checked, section sizes checked),
 * loading its index and symbols through the cache (each whole section read
 * at once and checked against meta.json's crc32), reading profile chunks in
 * batches, and verifying everything on demand.
 */
#include "block/format.h"
#include "log/log.h"

#include <stdlib.h>
#include <string.h>

int fx__block_read(fx_block_t *b, fx_block_range_t *r, size_t n, fx_err_t *err)
{
    if (b->io)
        return fx__bio_read(b->io, r, n, err);
    return b->src.read(b->src.ctx, r, n, err);
}

/* Reads a whole section into out and checks its crc32 against meta.json. */
static int read_section(fx_block_t *b, fx_block_file_t f, fx_buf_t *out, fx_err_t *err)
{
    uint64_t size = b->meta.files[f].size;
    if (size > FX__MAX_PART)
        return fx_err_set(err, FX_ECORRUPT, "%s section: %llu bytes is too large",
                          fx_block_file_name(f), (unsigned long long)size);
    out->len = 0;
    fx_buf_reserve(out, size + 1);
    fx_block_range_t r = {f, 0, size, out->data};
    int rc = fx__block_read(b, &r, 1, err);
    if (rc)
        return rc;
    out->len = size;
    if (!b->o.no_checksums && fx__crc32(out->data, size) != b->meta.files[f].crc32)
        return fx_err_set(err, FX_ECORRUPT, "%s section: checksum mismatch (block %s)",
                          fx_block_file_name(f), b->meta.id);
    return FX_OK;
}

static int load(fx_block_t *b, int kind, void **obj, size_t *bytes, fx_err_t *err)
{
    fx_buf_t buf = FX_BUF_INIT;
    int rc = read_section(b, kind == FX__C_INDEX ? FX_BLOCK_INDEX : FX_BLOCK_SYMBOLS, &buf, err);
    int verify = !b->o.no_checksums;
    if (rc == FX_OK && kind == FX__C_INDEX) {
        fx__bindex_t *ix = fx_calloc(1, sizeof *ix);
        rc = fx__bindex_load(ix, buf.data, buf.len, b->meta.files[FX_BLOCK_PROFILES].size, verify,
                             err);
        if (rc == FX_OK && (strcmp(ix->tenant, b->meta.tenant) != 0 ||
                            strcmp(ix->id, b->meta.id) != 0 || ix->profiles != b->meta.profiles)) {
            fx__bindex_free(ix);
            rc = fx_err_set(err, FX_ECORRUPT, "index section: does not match meta.json");
        }
        if (rc)
            free(ix);
        else {
            *obj = ix;
            *bytes = ix->bytes;
        }
    } else if (rc == FX_OK) {
        fx__bsyms_t *s = fx_calloc(1, sizeof *s);
        rc = fx__bsyms_load(s, buf.data, buf.len, verify, err);
        if (rc)
            free(s);
        else {
            *obj = s;
            *bytes = s->bytes;
        }
    }
    fx_buf_free(&buf);
    if (rc)
        fx_err_prefix(err, "block %s", b->meta.id);
    return rc;
}

int fx__block_index(fx_block_t *b, fx__centry_t **e, fx_err_t *err)
{
    return fx__cache_pin(b->cache, b, FX__C_INDEX, &b->slot[FX__C_INDEX], load, e, err);
}

int fx__block_symbols(fx_block_t *b, fx__centry_t **e, fx_err_t *err)
{
    return fx__cache_pin(b->cache, b, FX__C_SYMBOLS, &b->slot[FX__C_SYMBOLS], load, e, err);
}

/* --- open / close ------------------------------------------------------------------------ */

static int open_common(fx_block_t *b, const fx_block_options_t *opts, fx_err_t *err)
{
    uint64_t size;
    fx_buf_t mj = FX_BUF_INIT;
    int rc;
    if (opts)
        b->o = *opts;
    if (b->o.cache) {
        b->cache = b->o.cache;
    } else {
        b->own_cache = b->cache = fx_block_cache_new(64u << 20, 256u << 20);
    }
    rc = b->io ? fx__bio_size(b->io, FX_BLOCK_META, &size, err)
               : b->src.size(b->src.ctx, FX_BLOCK_META, &size, err);
    if (rc)
        return rc;
    if (size > (16u << 20))
        return fx_err_set(err, FX_ECORRUPT, "meta.json: %llu bytes is too large",
                          (unsigned long long)size);
    fx_buf_reserve(&mj, size + 1);
    fx_block_range_t r = {FX_BLOCK_META, 0, size, mj.data};
    if ((rc = fx__block_read(b, &r, 1, err)))
        goto out;
    mj.len = size;
    if ((rc = fx_block_meta_parse(mj.data, mj.len, &b->meta, err)))
        goto out;
    {
        /* The files must have the sizes meta.json records. */
        for (int f = FX_BLOCK_INDEX; f < FX_BLOCK_NFILES; f++) {
            rc = b->io ? fx__bio_size(b->io, (fx_block_file_t)f, &size, err)
                       : b->src.size(b->src.ctx, (fx_block_file_t)f, &size, err);
            if (rc)
                goto out;
            if (size != b->meta.files[f].size) {
                rc = fx_err_set(err, FX_ECORRUPT, "%s section: %llu bytes, meta.json says %llu",
                                fx_block_file_name((fx_block_file_t)f), (unsigned long long)size,
                                (unsigned long long)b->meta.files[f].size);
                goto out;
            }
        }
    }
    if (b->o.verify)
        rc = fx_block_verify(b, err);
out:
    fx_buf_free(&mj);
    return rc;
}

int fx_block_open_dir(const char *dir, const fx_block_options_t *opts, fx_block_t **out,
                      fx_err_t *err)
{
    fx_block_t *b = fx_calloc(1, sizeof *b);
    int rc = fx__bio_open_dir(dir, opts ? opts->io : FX_BLOCK_IO_AUTO, &b->io, err);
    if (rc == FX_OK)
        rc = open_common(b, opts, err);
    if (rc) {
        fx_err_prefix(err, "block %s", dir);
        fx_block_close(b);
        b = NULL;
    }
    *out = b;
    return rc;
}

int fx_block_open_source(const fx_block_source_t *src, const fx_block_options_t *opts,
                         fx_block_t **out, fx_err_t *err)
{
    fx_block_t *b = fx_calloc(1, sizeof *b);
    b->src = *src;
    int rc = open_common(b, opts, err);
    if (rc) {
        fx_block_close(b);
        b = NULL;
    }
    *out = b;
    return rc;
}

void fx_block_close(fx_block_t *b)
{
    if (!b)
        return;
    if (b->cache)
        fx__cache_drop(b->cache, b->slot);
    fx_block_cache_free(b->own_cache);
    if (b->io)
        fx__bio_close(b->io);
    else if (b->src.close)
        b->src.close(b->src.ctx);
    fx_block_meta_free(&b->meta);
    free(b);
}

const fx_block_meta_t *fx_block_meta(const fx_block_t *b)
{
    return &b->meta;
}

void fx_block_io_stats(fx_block_t *b, fx_block_io_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (b->io)
        fx__bio_stats(b->io, out);
}

int fx_block_uses_uring(const fx_block_t *b)
{
    return b->io && fx__bio_uring(b->io);
}

int fx_block_verify(fx_block_t *b, fx_err_t *err)
{
    fx_buf_t buf = FX_BUF_INIT;
    int rc = FX_OK;
    for (int f = FX_BLOCK_INDEX; f < FX_BLOCK_NFILES && rc == FX_OK; f++) {
        /* In pieces: the profiles section can be large. */
        uint64_t size = b->meta.files[f].size, off = 0;
        uint32_t crc = 0;
        fx_buf_reserve(&buf, 8u << 20);
        while (off < size && rc == FX_OK) {
            size_t n = (size_t)FX_MIN(size - off, (uint64_t)(8u << 20));
            fx_block_range_t r = {(fx_block_file_t)f, off, n, buf.data};
            rc = fx__block_read(b, &r, 1, err);
            if (rc == FX_OK)
                crc = fx__crc32_update(crc, buf.data, n);
            off += n;
        }
        if (rc == FX_OK && crc != b->meta.files[f].crc32)
            rc = fx_err_set(err, FX_ECORRUPT, "%s section: checksum mismatch (block %s)",
                            fx_block_file_name((fx_block_file_t)f), b->meta.id);
    }
    fx_buf_free(&buf);
    fx__centry_t *e = NULL;
    if (rc == FX_OK && (rc = fx__block_index(b, &e, err)) == FX_OK)
        fx__cache_unpin(b->cache, e);
    if (rc == FX_OK && (rc = fx__block_symbols(b, &e, err)) == FX_OK)
        fx__cache_unpin(b->cache, e);
    return rc;
}

/* --- profile chunks ------------------------------------------------------------------------ */

typedef struct want {
    uint32_t chunk, g0, g1; /* chunk index; targets [g0, g1) */
} want_t;

#define BATCH_BYTES (32u << 20)
#define BATCH_CHUNKS 256

static int scan_batch(fx_block_t *b, const fx__bindex_t *ix, const fx__target_t *tg,
                      const want_t *w, size_t n, int64_t lo, int64_t hi, int need,
                      fx__row_fn fn, void *ctx, fx__cdec_t *dec, fx_err_t *err)
{
    fx_block_range_t *r = fx_malloc((n + 1) * sizeof *r);
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += ix->chunks[w[i].chunk].len;
    uint8_t *buf = fx_malloc(total + 1);
    total = 0;
    for (size_t i = 0; i < n; i++) {
        const fx__bchunk_t *c = &ix->chunks[w[i].chunk];
        r[i] = (fx_block_range_t){FX_BLOCK_PROFILES, c->off, c->len, buf + total};
        total += c->len;
    }
    int rc = fx__block_read(b, r, n, err);
    for (size_t i = 0; i < n && rc == FX_OK; i++) {
        const fx__bchunk_t *c = &ix->chunks[w[i].chunk];
        uint32_t ps = tg[w[i].g0].pseries;
        uint32_t ncols = ix->x.ps[ps].ncols;
        uint64_t want = 0;
        if (need && need != FX__NEED_SPANS)
            for (uint32_t g = w[i].g0; g < w[i].g1; g++)
                want |= 1ULL << tg[g].col;
        rc = fx__cd_open(dec, r[i].buf, c->len, ncols, want, need == FX__NEED_SPANS,
                         !b->o.no_checksums, err);
        if (rc == FX_OK && dec->nrows != c->nrows)
            rc = fx_err_set(err, FX_ECORRUPT, "profiles section: chunk has %u rows, index says %u",
                            dec->nrows, c->nrows);
        int64_t ts;
        const uint8_t *id;
        fx_row_t row;
        while (rc == FX_OK) {
            int more = fx__cd_next(dec, &ts, &id, &row, err);
            if (more <= 0) {
                rc = more;
                break;
            }
            if (ts < lo || ts > hi)
                continue;
            for (uint32_t g = w[i].g0; g < w[i].g1 && rc == FX_OK; g++)
                rc = fn(ctx, &tg[g], ts, id, &row, err);
        }
    }
    if (rc == FX_ECORRUPT || rc == FX_EIO)
        fx_err_prefix(err, "block %s", b->meta.id);
    free(buf);
    free(r);
    return rc;
}

int fx__block_scan_ps(fx_block_t *b, const fx__bindex_t *ix, const fx__target_t *tg, size_t ntg,
                      int64_t lo, int64_t hi, int need_samples, fx__row_fn fn, void *ctx,
                      fx__cdec_t *dec, fx_err_t *err)
{
    want_t *w = NULL;
    size_t nw = 0, cap = 0, bytes = 0, first = 0;
    int rc = FX_OK;
    for (size_t g = 0; g < ntg && rc == FX_OK;) {
        size_t ge = g + 1;
        while (ge < ntg && tg[ge].pseries == tg[g].pseries)
            ge++;
        uint32_t ps = tg[g].pseries;
        for (uint32_t k = ix->ps_chunk0[ps]; k < ix->ps_chunk0[ps + 1] && rc == FX_OK; k++) {
            const fx__bchunk_t *c = &ix->chunks[k];
            if (c->max_ns < lo || c->min_ns > hi)
                continue;
            /* Flush the batch before it gets too big. */
            if (nw - first >= BATCH_CHUNKS || (bytes + c->len > BATCH_BYTES && nw > first)) {
                rc = scan_batch(b, ix, tg, w + first, nw - first, lo, hi, need_samples, fn, ctx,
                                dec, err);
                first = nw;
                bytes = 0;
            }
            FX_GROW(w, cap, nw + 1);
            w[nw++] = (want_t){k, (uint32_t)g, (uint32_t)ge};
            bytes += c->len;
        }
        g = ge;
    }
    if (rc == FX_OK && nw > first)
        rc = scan_batch(b, ix, tg, w + first, nw - first, lo, hi, need_samples, fn, ctx, dec, err);
    free(w);
    return rc;
}
