/* utf8.h - UTF-8 validation. */
#ifndef FX_UTF8_H
#define FX_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* 1 if s[0..n) is valid UTF-8: no overlong forms, no surrogates, nothing
 * above U+10FFFF. Fast on ASCII (8 bytes per step). */
int fx_utf8_valid(const uint8_t *s, size_t n);

#endif
