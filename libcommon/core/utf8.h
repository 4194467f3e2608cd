/* utf8.h - UTF-8 validation and encoding. */
#ifndef FX_UTF8_H
#define FX_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* 1 if s[0..n) is valid UTF-8: no overlong forms, no surrogates, nothing
 * above U+10FFFF. Fast on ASCII (8 bytes per step). */
int fx_utf8_valid(const uint8_t *s, size_t n);

/* Length (1 to 4) of the valid UTF-8 sequence at s, which has n >= 1 bytes
 * left; 0 if it is invalid in the sense of fx_utf8_valid or cut off.
 * Inline: the JSON and DOT writers call it per non-ASCII character. */
static inline size_t fx_utf8_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        uint8_t lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        return n >= 3 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        uint8_t lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        return n >= 4 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
                       (s[3] & 0xc0) == 0x80
                   ? 4
                   : 0;
    }
    return 0;
}

/* Writes code point cp (at most U+10FFFF) as UTF-8 into out; returns the
 * number of bytes (1 to 4). */
size_t fx_utf8_put(uint32_t cp, uint8_t out[4]);

#endif
