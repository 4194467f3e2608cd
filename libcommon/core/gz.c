/* gz.c - gzip via libdeflate. Decompressor/compressor objects are cached per
 * thread: allocating them costs more than inflating a small profile. A
 * thread-exit destructor frees them, since worker threads come and go. */
#include "core/gz.h"

#include <libdeflate.h>
#include <pthread.h>
#include <stdlib.h>

static _Thread_local struct libdeflate_decompressor *t_dec;
static _Thread_local struct libdeflate_compressor *t_comp[13];
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_free(void *unused)
{
    (void)unused;
    if (t_dec)
        libdeflate_free_decompressor(t_dec);
    t_dec = NULL;
    for (int i = 0; i < 13; i++) {
        if (t_comp[i])
            libdeflate_free_compressor(t_comp[i]);
        t_comp[i] = NULL;
    }
}

static void cache_key_init(void)
{
    FX_ASSERT(pthread_key_create(&cache_key, cache_free) == 0);
}

/* Arms the destructor for this thread (a non-NULL value makes it run). */
static void cache_arm(void)
{
    pthread_once(&cache_once, cache_key_init);
    pthread_setspecific(cache_key, (void *)1);
}

static struct libdeflate_decompressor *decompressor(void)
{
    if (!t_dec) {
        t_dec = libdeflate_alloc_decompressor();
        FX_ASSERT(t_dec);
        cache_arm();
    }
    return t_dec;
}

int fx_gunzip(const uint8_t *in, size_t n, size_t max_out, fx_buf_t *out, fx_err_t *err)
{
    struct libdeflate_decompressor *d = decompressor();
    size_t pos = 0;

    if (!fx_gz_is_gzip(in, n))
        return fx_err_set(err, FX_EINVAL, "not gzip data (bad magic)");
    while (pos < n) {
        const uint8_t *m = in + pos;
        size_t mlen = n - pos;
        if (mlen < 18 || !fx_gz_is_gzip(m, mlen))
            return fx_err_set(err, FX_EINVAL, "truncated or corrupt gzip data");
        /* ISIZE (last 4 bytes, little-endian) is the size mod 2^32 of the
         * last member; use it as a first guess and grow if it is wrong. */
        const uint8_t *t = in + n - 4;
        size_t guess = (size_t)t[0] | (size_t)t[1] << 8 | (size_t)t[2] << 16 | (size_t)t[3] << 24;
        if (guess < mlen)
            guess = mlen * 4;
        for (;;) {
            size_t cap = guess > max_out - out->len ? max_out - out->len : guess;
            size_t in_used = 0, got = 0;
            fx_buf_reserve(out, cap);
            enum libdeflate_result r = libdeflate_gzip_decompress_ex(
                d, m, mlen, out->data + out->len, cap, &in_used, &got);
            if (r == LIBDEFLATE_SUCCESS) {
                out->len += got;
                pos += in_used;
                break;
            }
            if (r != LIBDEFLATE_INSUFFICIENT_SPACE)
                return fx_err_set(err, FX_EINVAL, "corrupt or truncated gzip data");
            if (out->len + cap >= max_out)
                return fx_err_set(err, FX_ETOOBIG,
                                  "decompressed size exceeds the limit of %zu bytes", max_out);
            guess = cap * 2;
        }
    }
    return FX_OK;
}

void fx_gzip(const uint8_t *in, size_t n, int level, fx_buf_t *out)
{
    if (level < 1 || level > 12)
        level = 6;
    if (!t_comp[level]) {
        t_comp[level] = libdeflate_alloc_compressor(level);
        FX_ASSERT(t_comp[level]);
        cache_arm();
    }
    size_t bound = libdeflate_gzip_compress_bound(t_comp[level], n);
    fx_buf_reserve(out, bound);
    size_t got = libdeflate_gzip_compress(t_comp[level], in, n, out->data + out->len, bound);
    FX_ASSERT(got > 0);
    out->len += got;
}
