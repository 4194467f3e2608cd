/* profile_id.c - UUID text <-> the 16 bytes a profile key holds. */
#include "model/profile_id.h"
#include "core/hex.h"

#include <stdlib.h>
#include <string.h>

int fx_profile_id_parse(const char *s, size_t n, uint8_t out[16])
{
    if (n != FX_PROFILE_ID_LEN)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return -1;
            continue;
        }
        int v = fx_hex_val(s[i]);
        if (v < 0)
            return -1;
        if (k % 2 == 0)
            out[k / 2] = (uint8_t)(v << 4);
        else
            out[k / 2] |= (uint8_t)v;
        k++;
    }
    return 0;
}

int fx_profile_id_parse_hex(const char *s, uint8_t out[16])
{
    size_t n = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '-')
            continue;
        int v = fx_hex_val(*p);
        if (v < 0 || n == 32)
            return -1;
        if (n % 2 == 0)
            out[n / 2] = (uint8_t)(v << 4);
        else
            out[n / 2] |= (uint8_t)v;
        n++;
    }
    return n == 32 ? 0 : -1;
}

void fx_profile_id_format(const uint8_t id[16], char buf[FX_PROFILE_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    char *p = buf;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[id[i] >> 4];
        *p++ = hex[id[i] & 15];
    }
    *p = '\0';
}

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

size_t fx_profile_ids_sort(uint8_t *ids, size_t n)
{
    if (n < 2)
        return n;
    qsort(ids, n, 16, cmp_id);
    size_t u = 1;
    for (size_t i = 1; i < n; i++)
        if (memcmp(ids + 16 * (u - 1), ids + 16 * i, 16) != 0)
            memmove(ids + 16 * u++, ids + 16 * i, 16);
    return u;
}

int fx_profile_ids_has(const uint8_t *ids, size_t n, const uint8_t id[16])
{
    return n && bsearch(id, ids, n, 16, cmp_id) != NULL;
}
