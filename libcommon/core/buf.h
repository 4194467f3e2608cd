/*
 * buf.h - a growable byte buffer and LEB128 varints.
 *
 * fx_buf_t owns its memory (heap); release with fx_buf_free. Readers of
 * varints take a cursor and an end pointer and never read past end.
 */
#ifndef FX_BUF_H
#define FX_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct fx_buf {
    uint8_t *data;
    size_t len, cap;
} fx_buf_t;

#define FX_BUF_INIT {NULL, 0, 0}

void fx_buf_free(fx_buf_t *b);
void fx_buf_reserve(fx_buf_t *b, size_t extra);
void fx_buf_append(fx_buf_t *b, const void *p, size_t n);
void fx_buf_putc(fx_buf_t *b, uint8_t c);
void fx_buf_puts(fx_buf_t *b, const char *s);
void fx_buf_printf(fx_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fx_buf_uvarint(fx_buf_t *b, uint64_t v);
void fx_buf_svarint(fx_buf_t *b, int64_t v); /* zigzag */
/* Appends s as a JSON string literal (with quotes, escaped). */
void fx_buf_json_str(fx_buf_t *b, const char *s, size_t n);
/* NUL-terminates without changing len; returns data as a C string. */
char *fx_buf_cstr(fx_buf_t *b);
/* Hands the memory to the caller (who frees it) and resets b. */
uint8_t *fx_buf_steal(fx_buf_t *b, size_t *len);

/* Decodes an unsigned varint at *p; advances *p. Returns 0 on success, -1 on
 * truncated or over-long input. */
static inline int fx_uvarint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    const uint8_t *s = *p;
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (s >= end)
            return -1;
        uint8_t c = *s++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *p = s;
            *out = v;
            return 0;
        }
    }
    return -1;
}

static inline int64_t fx_unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static inline uint64_t fx_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline uint32_t fx_get_u32be(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t fx_get_u64be(const uint8_t *p)
{
    return (uint64_t)fx_get_u32be(p) << 32 | fx_get_u32be(p + 4);
}

#endif
