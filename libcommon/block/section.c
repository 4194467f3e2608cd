/*
 * section.c - the section container every block file uses (format.h):
 * header, zstd-compressed parts, a checksummed table of contents and a
 * fixed footer; plus the crc32 and zstd helpers the chunk codec shares.
 */
#include "block/format.h"

#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

uint32_t fx__crc32(const void *p, size_t n)
{
    return libdeflate_crc32(0, p, n);
}

uint32_t fx__crc32_update(uint32_t crc, const void *p, size_t n)
{
    return libdeflate_crc32(crc, p, n);
}

int fx__compress(const uint8_t *raw, size_t n, int level, fx_buf_t *out)
{
    if (n < 64) {
        fx_buf_append(out, raw, n);
        return FX__CODEC_RAW;
    }
    size_t bound = ZSTD_compressBound(n);
    fx_buf_reserve(out, bound);
    size_t z = ZSTD_compress(out->data + out->len, bound, raw, n, level);
    FX_ASSERT(!ZSTD_isError(z));
    if (z >= n) {
        fx_buf_append(out, raw, n);
        return FX__CODEC_RAW;
    }
    out->len += z;
    return FX__CODEC_ZSTD;
}

int fx__decompress(int codec, const uint8_t *p, size_t n, uint64_t raw_len, fx_buf_t *out,
                   const char *what, fx_err_t *err)
{
    out->len = 0;
    if (raw_len > FX__MAX_PART)
        return fx_err_set(err, FX_ECORRUPT, "%s: %llu bytes declared", what,
                          (unsigned long long)raw_len);
    if (codec == FX__CODEC_RAW) {
        if (n != raw_len)
            return fx_err_set(err, FX_ECORRUPT, "%s: length mismatch", what);
        fx_buf_append(out, p, n);
        return FX_OK;
    }
    if (codec != FX__CODEC_ZSTD)
        return fx_err_set(err, FX_ECORRUPT, "%s: unknown codec %d", what, codec);
    /* A frame must declare exactly the size the toc says: no bombs. */
    /* And no more than the frame could hold: a zstd block of >= 4 bytes
     * (an RLE block) expands to at most 128 KiB. */
    unsigned long long fs = ZSTD_getFrameContentSize(p, n);
    if (fs != raw_len || raw_len > ((uint64_t)n / 4 + 1) * (128u << 10))
        return fx_err_set(err, FX_ECORRUPT, "%s: compressed frame size mismatch", what);
    fx_buf_reserve(out, raw_len + 1);
    size_t got = ZSTD_decompress(out->data, raw_len, p, n);
    if (ZSTD_isError(got) || got != raw_len)
        return fx_err_set(err, FX_ECORRUPT, "%s: bad compressed data", what);
    out->len = raw_len;
    return FX_OK;
}

/* --- writer ---------------------------------------------------------------------------- */

static void put_u32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64le(const uint8_t *p)
{
    return (uint64_t)get_u32le(p) | (uint64_t)get_u32le(p + 4) << 32;
}

void fx__secw_init(fx__secw_t *w, fx_block_file_t kind, int level)
{
    memset(w, 0, sizeof *w);
    w->level = level;
    uint8_t h[FX__HEADER_LEN] = {'F', 'X', 'B', 'K', FX_BLOCK_VERSION, (uint8_t)kind, 0, 0};
    fx_buf_append(&w->out, h, sizeof h);
}

void fx__secw_part(fx__secw_t *w, uint32_t id, const uint8_t *raw, size_t n)
{
    size_t off = w->out.len;
    int codec = fx__compress(raw, n, w->level, &w->out);
    fx_buf_uvarint(&w->toc, id);
    fx_buf_uvarint(&w->toc, (uint64_t)codec);
    fx_buf_uvarint(&w->toc, off);
    fx_buf_uvarint(&w->toc, w->out.len - off);
    fx_buf_uvarint(&w->toc, n);
    fx_buf_uvarint(&w->toc, fx__crc32(w->out.data + off, w->out.len - off));
    w->nparts++;
}

void fx__secw_finish(fx__secw_t *w)
{
    uint64_t toc_off = w->out.len;
    fx_buf_uvarint(&w->tmp, w->nparts);
    fx_buf_append(&w->tmp, w->toc.data, w->toc.len);
    fx_buf_append(&w->out, w->tmp.data, w->tmp.len);
    uint8_t f[FX__FOOTER_LEN];
    put_u32le(f, (uint32_t)toc_off);
    put_u32le(f + 4, (uint32_t)(toc_off >> 32));
    put_u32le(f + 8, (uint32_t)w->tmp.len);
    put_u32le(f + 12, fx__crc32(w->tmp.data, w->tmp.len));
    fx_buf_append(&w->out, f, sizeof f);
}

void fx__secw_free(fx__secw_t *w)
{
    fx_buf_free(&w->out);
    fx_buf_free(&w->toc);
    fx_buf_free(&w->tmp);
}

/* --- reader ---------------------------------------------------------------------------- */

#define CORRUPT(...) fx_err_set(err, FX_ECORRUPT, __VA_ARGS__)

int fx__secr_open(fx__secr_t *r, fx_block_file_t kind, const uint8_t *p, size_t n, int verify,
                  fx_err_t *err)
{
    memset(r, 0, sizeof *r);
    r->p = p;
    r->n = n;
    r->verify = verify;
    r->name = fx_block_file_name(kind);
    if (n < FX__HEADER_LEN + FX__FOOTER_LEN || memcmp(p, FX__MAGIC, 4) != 0 || p[5] != kind)
        return CORRUPT("%s section: not a Fornax block section", r->name);
    if (p[4] != FX_BLOCK_VERSION)
        return CORRUPT("%s section: unsupported version %u", r->name, p[4]);
    const uint8_t *f = p + n - FX__FOOTER_LEN;
    uint64_t toc_off = get_u64le(f);
    uint32_t toc_len = get_u32le(f + 8), toc_crc = get_u32le(f + 12);
    if (toc_off < FX__HEADER_LEN || toc_off > n - FX__FOOTER_LEN ||
        toc_len != n - FX__FOOTER_LEN - toc_off)
        return CORRUPT("%s section: bad footer", r->name);
    const uint8_t *t = p + toc_off, *te = t + toc_len;
    if (verify && fx__crc32(t, toc_len) != toc_crc)
        return CORRUPT("%s section: table of contents checksum mismatch", r->name);
    r->toc_off = toc_off;
    uint64_t np;
    if (fx_uvarint(&t, te, &np) || np > toc_len)
        return CORRUPT("%s section: bad table of contents", r->name);
    r->parts = fx_calloc(np + 1, sizeof *r->parts);
    for (uint64_t i = 0; i < np; i++) {
        uint64_t v[6];
        for (int j = 0; j < 6; j++)
            if (fx_uvarint(&t, te, &v[j]))
                return CORRUPT("%s section: bad table of contents", r->name);
        fx__part_t *pt = &r->parts[i];
        if (v[0] > UINT32_MAX || v[1] > 1 || v[5] > UINT32_MAX || v[2] < FX__HEADER_LEN ||
            v[2] > toc_off || v[3] > toc_off - v[2] || v[4] > FX__MAX_PART)
            return CORRUPT("%s section: part %llu is out of bounds", r->name,
                           (unsigned long long)i);
        *pt = (fx__part_t){(uint32_t)v[0], (uint32_t)v[1], (uint32_t)v[5], v[2], v[3], v[4]};
        r->nparts++;
    }
    if (t != te)
        return CORRUPT("%s section: trailing bytes in the table of contents", r->name);
    return FX_OK;
}

int fx__secr_part(const fx__secr_t *r, uint32_t id, fx_buf_t *out, fx_err_t *err)
{
    for (size_t i = 0; i < r->nparts; i++) {
        const fx__part_t *pt = &r->parts[i];
        if (pt->id != id)
            continue;
        if (r->verify && fx__crc32(r->p + pt->off, pt->len) != pt->crc)
            return CORRUPT("%s section: part %u checksum mismatch", r->name, id);
        char what[64];
        snprintf(what, sizeof what, "%s section part %u", r->name, id);
        return fx__decompress((int)pt->codec, r->p + pt->off, pt->len, pt->raw, out, what, err);
    }
    return CORRUPT("%s section: part %u is missing", r->name, id);
}

void fx__secr_free(fx__secr_t *r)
{
    free(r->parts);
    memset(r, 0, sizeof *r);
}
