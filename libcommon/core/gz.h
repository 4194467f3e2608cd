/*
 * gz.h - gzip in and out (libdeflate: 2-3x faster than zlib at inflate).
 *
 * Ownership: output buffers are fx_buf_t the caller owns and frees.
 */
#ifndef FX_GZ_H
#define FX_GZ_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/core.h"

static inline int fx_gz_is_gzip(const uint8_t *p, size_t n)
{
    return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

/* Decompresses a gzip stream (one or more members) into out (appended).
 * Fails with FX_ETOOBIG if the output would exceed max_out bytes and with
 * FX_EINVAL if the data is not valid gzip; err says which. */
int fx_gunzip(const uint8_t *in, size_t n, size_t max_out, fx_buf_t *out, fx_err_t *err);

/* Compresses in as one gzip member at level (1-12) into out (appended). */
void fx_gzip(const uint8_t *in, size_t n, int level, fx_buf_t *out);

#endif
