/* buf.c - growable byte buffer. */
#include "core/buf.h"
#include "core/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fx_buf_free(fx_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void fx_buf_reserve(fx_buf_t *b, size_t extra)
{
    size_t need = b->len + extra + 1; /* room for a NUL from fx_buf_cstr */
    if (need > b->cap) {
        size_t c = b->cap ? b->cap : 64;
        while (c < need)
            c *= 2;
        b->data = fx_realloc(b->data, c);
        b->cap = c;
    }
}

void fx_buf_append(fx_buf_t *b, const void *p, size_t n)
{
    if (!n)
        return;
    fx_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void fx_buf_putc(fx_buf_t *b, uint8_t c)
{
    fx_buf_reserve(b, 1);
    b->data[b->len++] = c;
}

void fx_buf_puts(fx_buf_t *b, const char *s)
{
    fx_buf_append(b, s, strlen(s));
}

void fx_buf_printf(fx_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        fx_buf_append(b, small, (size_t)n);
        return;
    }
    fx_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void fx_buf_uvarint(fx_buf_t *b, uint64_t v)
{
    fx_buf_reserve(b, 10);
    uint8_t *p = b->data + b->len;
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    b->len = (size_t)(p - b->data);
}

void fx_buf_svarint(fx_buf_t *b, int64_t v)
{
    fx_buf_uvarint(b, fx_zigzag(v));
}

void fx_buf_json_str(fx_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    fx_buf_reserve(b, n + 2);
    fx_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': fx_buf_append(b, "\\\"", 2); break;
        case '\\': fx_buf_append(b, "\\\\", 2); break;
        case '\n': fx_buf_append(b, "\\n", 2); break;
        case '\r': fx_buf_append(b, "\\r", 2); break;
        case '\t': fx_buf_append(b, "\\t", 2); break;
        default:
            if (c < 0x20) {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                fx_buf_append(b, e, 6);
            } else {
                fx_buf_putc(b, c);
            }
        }
    }
    fx_buf_putc(b, '"');
}

char *fx_buf_cstr(fx_buf_t *b)
{
    fx_buf_reserve(b, 0);
    b->data[b->len] = 0;
    return (char *)b->data;
}

uint8_t *fx_buf_steal(fx_buf_t *b, size_t *len)
{
    uint8_t *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
