/*
 * source.c - a block read straight from the bucket (-store-gateway.block-source
 * =bucket): every range the block reader asks for is one ranged GET of the
 * section object. Nothing is kept on local disk; the reader's bounded caches
 * hold the decoded index and symbols, chunks are fetched per query.
 */
#include "sg_int.h"
#include "core/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bsrc {
    fx_bucket_t *bucket;
    char *keys[FX_BLOCK_NFILES];
} bsrc_t;

static int bs_read(void *ctx, fx_block_range_t *r, size_t n, fx_err_t *err)
{
    bsrc_t *s = ctx;
    fx_buf_t buf = FX_BUF_INIT;
    int rc = FX_OK;
    for (size_t i = 0; i < n && rc == FX_OK; i++) {
        if ((unsigned)r[i].file >= FX_BLOCK_NFILES) {
            rc = fx_err_set(err, FX_EINVAL, "no such block file %d", (int)r[i].file);
            break;
        }
        if (!r[i].len)
            continue;
        buf.len = 0;
        rc = fx_bucket_get_range(s->bucket, s->keys[r[i].file], (int64_t)r[i].off,
                                 (int64_t)r[i].len, &buf, err);
        if (rc == FX_OK && buf.len != r[i].len)
            rc = fx_err_set(err, FX_EIO, "%s: short read at %llu: %zu of %zu bytes",
                            s->keys[r[i].file], (unsigned long long)r[i].off, buf.len, r[i].len);
        if (rc == FX_OK)
            memcpy(r[i].buf, buf.data, r[i].len);
    }
    fx_buf_free(&buf);
    /* The reader treats any read failure as I/O, never as corruption. */
    return rc == FX_OK ? FX_OK : rc == FX_EUNAVAIL ? FX_EUNAVAIL : FX_EIO;
}

static int bs_size(void *ctx, fx_block_file_t f, uint64_t *size, fx_err_t *err)
{
    bsrc_t *s = ctx;
    fx_obj_attrs_t a;
    int rc = fx_bucket_head(s->bucket, s->keys[f], &a, err);
    if (rc == FX_OK)
        *size = (uint64_t)a.size;
    return rc;
}

static void bs_close(void *ctx)
{
    bsrc_t *s = ctx;
    for (int f = 0; f < FX_BLOCK_NFILES; f++)
        free(s->keys[f]);
    free(s);
}

void sg__bucket_source(fx_bucket_t *b, const char *tenant, const char *id, fx_block_source_t *out)
{
    bsrc_t *s = fx_calloc(1, sizeof *s);
    s->bucket = b;
    for (int f = 0; f < FX_BLOCK_NFILES; f++) {
        char key[FX_BUCKET_KEY_MAX + 1];
        snprintf(key, sizeof key, "%s/%s/%s", tenant, id, fx_block_file_name((fx_block_file_t)f));
        s->keys[f] = fx_strdup(key);
    }
    *out = (fx_block_source_t){bs_read, bs_size, bs_close, s};
}
