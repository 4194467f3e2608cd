/* attime.c - Pyroscope's "attime" time parameters. */
#include "model/attime.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

int fx_attime_parse(const char *s, int64_t now_ns, int64_t *out_ns, fx_err_t *err)
{
    size_t n = strlen(s);
    if (n == 0 || strcmp(s, "now") == 0) {
        *out_ns = now_ns;
        return FX_OK;
    }
    if (all_digits(s)) {
        if (n > 19)
            goto bad;
        int64_t v = strtoll(s, NULL, 10);
        if (n == 8) {
            struct tm tm = {0};
            if (v / 10000 < 1970 || v / 100 % 100 < 1 || v / 100 % 100 > 12 || v % 100 < 1 ||
                v % 100 > 31)
                goto bad;
            tm.tm_year = (int)(v / 10000) - 1900;
            tm.tm_mon = (int)(v / 100 % 100) - 1;
            tm.tm_mday = (int)(v % 100);
            time_t secs = timegm(&tm);
            if (secs < 0 || (int64_t)secs > INT64_MAX / 1000000000)
                goto bad;
            *out_ns = (int64_t)secs * 1000000000;
        } else if (n == 13) {
            if (v > INT64_MAX / 1000000)
                goto bad;
            *out_ns = v * 1000000;
        } else if (n == 16) {
            if (v > INT64_MAX / 1000)
                goto bad;
            *out_ns = v * 1000;
        } else if (n == 19) {
            *out_ns = v;
        } else {
            if (v > INT64_MAX / 1000000000)
                goto bad;
            *out_ns = v * 1000000000;
        }
        return FX_OK;
    }
    if (strncmp(s, "now-", 4) == 0 || strncmp(s, "now+", 4) == 0) {
        char *unit;
        long long k = strtoll(s + 4, &unit, 10);
        int64_t mult;
        if (unit == s + 4 || k < 0 || k > 1000000)
            goto bad;
        if (!strcmp(unit, "s")) mult = 1;
        else if (!strcmp(unit, "m") || !strcmp(unit, "min")) mult = 60;
        else if (!strcmp(unit, "h")) mult = 3600;
        else if (!strcmp(unit, "d")) mult = 86400;
        else if (!strcmp(unit, "w")) mult = 7 * 86400;
        else if (!strcmp(unit, "M") || !strcmp(unit, "mon")) mult = 30 * 86400;
        else if (!strcmp(unit, "y")) mult = 365 * 86400;
        else goto bad;
        if ((int64_t)k * mult > INT64_MAX / 1000000000 / 2)
            goto bad;
        int64_t d = (int64_t)k * mult * 1000000000;
        *out_ns = s[3] == '-' ? now_ns - d : now_ns + d;
        return FX_OK;
    }
bad:
    return fx_err_set(err, FX_EINVAL,
                      "invalid time \"%.64s\": expected unix seconds, ms (13 digits), µs (16), ns (19), "
                      "YYYYMMDD, now or now-<n><s|m|h|d|w|M|y>", s);
}
