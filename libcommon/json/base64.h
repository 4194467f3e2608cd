/*
 * base64.h - RFC 4648 base64 for JSON bytes fields and Connect error details.
 *
 * Output is the standard alphabet with padding (what protojson writes).
 * Input is lenient the way protojson's is: standard or URL-safe alphabet,
 * padded or not, CR/LF ignored, non-zero trailing bits allowed.
 */
#ifndef FX_BASE64_H
#define FX_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Appends the base64 text of data[0..n) to out (no quotes). */
void fx_base64_encode(fx_buf_t *out, const uint8_t *data, size_t n);

/* Upper bound of the decoded size of n characters of base64. */
static inline size_t fx_base64_decoded_max(size_t n)
{
    return n / 4 * 3 + 3;
}

/* Decodes s[0..n) into out, which must hold fx_base64_decoded_max(n) bytes.
 * Returns the decoded length, or -1 if s is not base64. */
long fx_base64_decode(const char *s, size_t n, uint8_t *out);

#endif
