/* jsonnum.c - JSON number grammar, exact integer conversion, float output. */
#include "json/jsonnum.h"
#include "core/core.h"
#include "core/mem.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

size_t fx_json_scan_number(const char *p, const char *end)
{
    const char *s = p;
    if (s < end && *s == '-')
        s++;
    if (s >= end || !is_digit(*s))
        return 0;
    if (*s == '0') {
        s++;
    } else {
        while (s < end && is_digit(*s))
            s++;
    }
    if (s < end && *s == '.') {
        s++;
        if (s >= end || !is_digit(*s))
            return 0;
        while (s < end && is_digit(*s))
            s++;
    }
    if (s < end && (*s == 'e' || *s == 'E')) {
        s++;
        if (s < end && (*s == '+' || *s == '-'))
            s++;
        if (s >= end || !is_digit(*s))
            return 0;
        while (s < end && is_digit(*s))
            s++;
    }
    return (size_t)(s - p);
}

/* Applies sign and the target type's range to a magnitude. */
static int fit(int neg, uint64_t mag, int is_signed, int bits, uint64_t *out)
{
    if (is_signed) {
        uint64_t lim = bits == 32 ? (uint64_t)INT32_MAX : (uint64_t)INT64_MAX;
        if (mag > lim + neg)
            return FX_JSONNUM_RANGE;
        *out = neg ? (uint64_t)0 - mag : mag;
    } else {
        uint64_t lim = bits == 32 ? (uint64_t)UINT32_MAX : UINT64_MAX;
        if ((neg && mag) || mag > lim)
            return FX_JSONNUM_RANGE;
        *out = mag;
    }
    return FX_JSONNUM_OK;
}

int fx_json_to_int(const char *s, size_t n, int is_signed, int bits, uint64_t *out)
{
    const char *end = s + n;

    /* Fast path: plain integers of up to 19 digits (cannot overflow). */
    if (n && n <= 20) {
        int neg = *s == '-';
        const char *p = s + neg;
        uint64_t mag = 0;
        if (p < end && end - p <= 19 && (*p != '0' || end - p == 1)) {
            for (; p < end && *p >= '0' && *p <= '9'; p++)
                mag = mag * 10 + (uint64_t)(*p - '0');
            if (p == end && p > s + neg)
                return fit(neg, mag, is_signed, bits, out);
        }
    }

    if (n == 0 || fx_json_scan_number(s, end) != n)
        return FX_JSONNUM_SYNTAX;

    int neg = *s == '-';
    const char *p = s + neg;
    const char *ib = p;
    while (p < end && is_digit(*p))
        p++;
    const char *ie = p, *fb = p, *fe = p;
    if (p < end && *p == '.') {
        fb = ++p;
        while (p < end && is_digit(*p))
            p++;
        fe = p;
    }
    /* Exponent, clamped: a bigger one overflows or leaves a fraction anyway
     * (the digit strings are far shorter than the clamp). */
    int64_t exp = 0;
    if (p < end) {
        p++; /* e or E */
        int eneg = 0;
        if (*p == '+' || *p == '-')
            eneg = *p++ == '-';
        for (; p < end; p++)
            if (exp < 1000000000)
                exp = exp * 10 + (*p - '0');
        if (eneg)
            exp = -exp;
    }

    /* The significant digits are the integer part followed by the fraction:
     * value = digits * 10^(exp - fraction length). Drop leading zeros of the
     * integer part (a fraction-only number starts in the fraction) and
     * trailing zeros of the whole digit string. */
    size_t nint = (size_t)(ie - ib), nfrac = (size_t)(fe - fb);
    int64_t e10 = exp - (int64_t)nfrac;
    size_t lead = 0;
    while (lead < nint && ib[lead] == '0')
        lead++;
    /* digit i of the significand (0-based over int+frac without leading zeros) */
#define DIGIT(i) ((lead + (i)) < nint ? ib[lead + (i)] : fb[lead + (i) - nint])
    size_t k = nint - lead + nfrac;
    size_t skip = 0; /* leading zeros inside the fraction when int part is 0 */
    while (skip < k && DIGIT(skip) == '0')
        skip++;
    while (k > skip && DIGIT(k - 1) == '0') {
        k--;
        e10++;
    }
    uint64_t mag = 0;
    if (k > skip) {
        if (e10 < 0)
            return FX_JSONNUM_NOTINT;
        if ((int64_t)(k - skip) + e10 > 20)
            return FX_JSONNUM_RANGE;
        for (size_t i = skip; i < k; i++) {
            uint64_t d = (uint64_t)(DIGIT(i) - '0');
            if (mag > (UINT64_MAX - d) / 10)
                return FX_JSONNUM_RANGE;
            mag = mag * 10 + d;
        }
        for (int64_t i = 0; i < e10; i++) {
            if (mag > UINT64_MAX / 10)
                return FX_JSONNUM_RANGE;
            mag *= 10;
        }
    }
#undef DIGIT
    return fit(neg, mag, is_signed, bits, out);
}

int fx_json_to_double(const char *s, size_t n, int is_float, double *out)
{
    char small[64], *z = small;
    int rc = FX_JSONNUM_OK;

    if (n == 0 || fx_json_scan_number(s, s + n) != n)
        return FX_JSONNUM_SYNTAX;
    /* strtod needs a NUL; JSON number syntax is a subset of strtod's (and
     * the "C" locale's decimal point is '.', Fornax never calls setlocale). */
    if (n >= sizeof small)
        z = fx_malloc(n + 1);
    memcpy(z, s, n);
    z[n] = 0;
    if (is_float) {
        float f = strtof(z, NULL);
        if (isinf(f))
            rc = FX_JSONNUM_RANGE;
        *out = f;
    } else {
        double d = strtod(z, NULL);
        if (isinf(d))
            rc = FX_JSONNUM_RANGE;
        *out = d;
    }
    if (z != small)
        free(z);
    return rc;
}

static const char digits2[201] =
    "0001020304050607080910111213141516171819"
    "2021222324252627282930313233343536373839"
    "4041424344454647484950515253545556575859"
    "6061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

char *fx_json_u64(char *p, uint64_t v)
{
    char tmp[20];
    char *t = tmp + sizeof tmp;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        t -= 2;
        memcpy(t, digits2 + 2 * r, 2);
    }
    if (v >= 10) {
        t -= 2;
        memcpy(t, digits2 + 2 * v, 2);
    } else {
        *--t = (char)('0' + v);
    }
    size_t n = (size_t)(tmp + sizeof tmp - t);
    memcpy(p, t, n);
    return p + n;
}

char *fx_json_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return fx_json_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return fx_json_u64(p, (uint64_t)v);
}

size_t fx_float_digits(double v, int is_float, char dig[24], int *e10)
{
    /* Shortest round trip: with at most DBL_DIG (FLT_DIG) significant digits
     * the correctly rounded text is the shortest one when it reads back; past
     * that try one more digit at a time (17 and 9 always read back). */
    char tmp[40];
    int maxp = is_float ? 9 : 17, minp = is_float ? 6 : 15;
    /* Subnormals carry fewer digits, so the DBL_DIG shortcut does not hold. */
    if (is_float ? fabsf((float)v) < FLT_MIN : fabs(v) < DBL_MIN)
        minp = 1;
    for (int prec = minp;; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
        if (prec == maxp)
            break;
        if (is_float ? strtof(tmp, NULL) == (float)v : strtod(tmp, NULL) == v)
            break;
    }

    /* tmp is [-]d[.ddd]e(+|-)XX: split into digits and decimal exponent. */
    size_t k = 0;
    const char *p = tmp + (tmp[0] == '-');
    for (; *p != 'e'; p++)
        if (*p != '.')
            dig[k++] = *p;
    *e10 = atoi(p + 1);
    while (k > 1 && dig[k - 1] == '0')
        k--;
    return k;
}

void fx_json_put_double(fx_buf_t *b, double v, int is_float)
{
    if (isnan(v)) {
        fx_buf_append(b, "\"NaN\"", 5);
        return;
    }
    if (isinf(v)) {
        if (v > 0)
            fx_buf_append(b, "\"Infinity\"", 10);
        else
            fx_buf_append(b, "\"-Infinity\"", 11);
        return;
    }
    if (v == 0) {
        fx_buf_puts(b, signbit(v) ? "-0" : "0");
        return;
    }

    char dig[24];
    int e10;
    size_t k = fx_float_digits(v, is_float, dig, &e10);
    int neg = signbit(v) != 0;

    double a = fabs(v);
    int sci = is_float ? ((float)a < 1e-6f || (float)a >= 1e21f) : (a < 1e-6 || a >= 1e21);
    fx_float_put_digits(b, neg, dig, k, e10, sci, 1);
}

void fx_float_put_digits(fx_buf_t *b, int neg, const char *dig, size_t k, int e10, int sci,
                         int exp_digits)
{
    char o[64];
    size_t n = 0;
    FX_ASSERT(sci || (e10 > -7 && e10 < 21)); /* o's size */
    if (neg)
        o[n++] = '-';
    if (sci) {
        o[n++] = dig[0];
        if (k > 1) {
            o[n++] = '.';
            memcpy(o + n, dig + 1, k - 1);
            n += k - 1;
        }
        n += (size_t)snprintf(o + n, sizeof o - n, "e%c%0*d", e10 < 0 ? '-' : '+', exp_digits,
                              abs(e10));
    } else if (e10 >= 0) {
        for (int i = 0; i <= e10; i++)
            o[n++] = (size_t)i < k ? dig[i] : '0';
        if (k > (size_t)e10 + 1) {
            o[n++] = '.';
            memcpy(o + n, dig + e10 + 1, k - (size_t)e10 - 1);
            n += k - (size_t)e10 - 1;
        }
    } else {
        o[n++] = '0';
        o[n++] = '.';
        for (int i = -1; i > e10; i--)
            o[n++] = '0';
        memcpy(o + n, dig, k);
        n += k;
    }
    fx_buf_append(b, o, n);
}
