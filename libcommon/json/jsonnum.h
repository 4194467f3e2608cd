/*
 * jsonnum.h - JSON number text: grammar check, exact conversion to 64-bit
 * integers, conversion to float/double, and the shortest round-trip output
 * protojson writes.
 *
 * The integer conversion works on the decimal digits, never through a
 * double, so uint64 values above 2^53 (or 2^63) survive exactly, and 1e3 or
 * 5.0 are accepted as integers while 1.5 is not.
 */
#ifndef FX_JSONNUM_H
#define FX_JSONNUM_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum {
    FX_JSONNUM_OK = 0,
    FX_JSONNUM_SYNTAX = -1,  /* not a JSON number */
    FX_JSONNUM_NOTINT = -2,  /* has a fractional part */
    FX_JSONNUM_RANGE = -3,   /* does not fit the target type */
};

/* Length of the JSON number at p[0..end), 0 if p does not start with one.
 * Does not look at what follows the number. */
size_t fx_json_scan_number(const char *p, const char *end);

/* Converts the JSON number s[0..n) (all of it) to an integer of the given
 * width (32 or 64) and signedness. *out holds the value (two's complement
 * for signed). Returns FX_JSONNUM_*. */
int fx_json_to_int(const char *s, size_t n, int is_signed, int bits, uint64_t *out);

/* Converts the JSON number s[0..n) (all of it) to a double, or to the
 * nearest float when is_float. Overflow to infinity is FX_JSONNUM_RANGE;
 * underflow gives 0 or a subnormal. Returns FX_JSONNUM_*. */
int fx_json_to_double(const char *s, size_t n, int is_float, double *out);

/* Appends v as protojson does: the shortest text that reads back as the same
 * double (or float when is_float), exponent form below 1e-6 and from 1e21
 * up, and the strings "NaN", "Infinity", "-Infinity" (quoted). */
void fx_json_put_double(fx_buf_t *b, double v, int is_float);

/* The shortest decimal digits that read back as v (as a double, or as a
 * float when is_float); v finite and non-zero, its sign ignored. Writes them
 * to dig (at most 17, not NUL-terminated), returns their count k and sets
 * *e10 so that |v| = d1.d2...dk x 10^e10. */
size_t fx_float_digits(double v, int is_float, char dig[24], int *e10);
/* Appends the number -?d1.d2...dk x 10^e10 (k <= 17 digits from
 * fx_float_digits): with sci as d1[.d2...dk]e(+|-)X, the exponent having at
 * least exp_digits digits; otherwise positionally (123.45, 0.00012), which
 * needs -7 < e10 < 21. */
void fx_float_put_digits(fx_buf_t *b, int neg, const char *dig, size_t k, int e10, int sci,
                         int exp_digits);

/* Writes the decimal digits of v at p (room for 20 bytes) and returns the end. */
char *fx_json_u64(char *p, uint64_t v);
/* Same for a signed value (room for 20 bytes). */
char *fx_json_i64(char *p, int64_t v);

#endif
