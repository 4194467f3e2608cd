/* base64.c - base64 encode (standard) and lenient decode (both alphabets). */
#include "json/base64.h"

#include <string.h>

static const char enc_tab[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 0..63 = value, 64 = '=', 65 = CR/LF (skipped), 255 = invalid. */
static const uint8_t dec_tab[256] = {
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255,  65, 255, 255,  65, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,  62, 255,  62, 255,  63,
     52,  53,  54,  55,  56,  57,  58,  59,  60,  61, 255, 255, 255,  64, 255, 255,
    255,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
     15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25, 255, 255, 255, 255,  63,
    255,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
     41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
};

void fx_base64_encode(fx_buf_t *out, const uint8_t *data, size_t n)
{
    fx_buf_reserve(out, (n + 2) / 3 * 4);
    char *p = (char *)out->data + out->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        p[0] = enc_tab[v >> 18];
        p[1] = enc_tab[(v >> 12) & 63];
        p[2] = enc_tab[(v >> 6) & 63];
        p[3] = enc_tab[v & 63];
        p += 4;
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)data[i] << 16;
        p[0] = enc_tab[v >> 18];
        p[1] = enc_tab[(v >> 12) & 63];
        p[2] = p[3] = '=';
        p += 4;
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8;
        p[0] = enc_tab[v >> 18];
        p[1] = enc_tab[(v >> 12) & 63];
        p[2] = enc_tab[(v >> 6) & 63];
        p[3] = '=';
        p += 4;
    }
    out->len = (size_t)(p - (char *)out->data);
}

long fx_base64_decode(const char *s, size_t n, uint8_t *out)
{
    uint8_t *o = out;
    uint32_t acc = 0;
    size_t quads = 0, ndata = 0, npad = 0;
    const uint8_t *p = (const uint8_t *)s, *end = p + n;

    /* Fast path: whole groups of four data characters. */
    while (end - p >= 4) {
        uint8_t a = dec_tab[p[0]], b = dec_tab[p[1]], c = dec_tab[p[2]], d = dec_tab[p[3]];
        if ((a | b | c | d) >= 64)
            break;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | d;
        o[0] = (uint8_t)(v >> 16);
        o[1] = (uint8_t)(v >> 8);
        o[2] = (uint8_t)v;
        o += 3;
        p += 4;
        ndata += 4;
    }
    /* Slow path: line breaks, padding and the tail. */
    for (; p < end; p++) {
        uint8_t v = dec_tab[*p];
        if (v == 65)
            continue;
        if (v == 255)
            return -1;
        if (v == 64) {
            npad++;
            continue;
        }
        if (npad) /* data after padding */
            return -1;
        acc = acc << 6 | v;
        ndata++;
        if (++quads == 4) {
            o[0] = (uint8_t)(acc >> 16);
            o[1] = (uint8_t)(acc >> 8);
            o[2] = (uint8_t)acc;
            o += 3;
            quads = 0;
            acc = 0;
        }
    }
    if (quads == 1 || npad > 2 || (npad && (ndata + npad) % 4 != 0))
        return -1;
    if (quads == 2) {
        *o++ = (uint8_t)(acc >> 4);
    } else if (quads == 3) {
        *o++ = (uint8_t)(acc >> 10);
        *o++ = (uint8_t)(acc >> 2);
    }
    return (long)(o - out);
}
