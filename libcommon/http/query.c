/* query.c - strict form-urlencoded decoding of query strings and paths. */
#include "http/query.h"
#include "core/hex.h"

#include <string.h>

int fx_url_decode(const char *s, size_t len, int plus_is_space, char *out, size_t *out_len,
                  fx_err_t *err)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            if (len - i < 3)
                return fx_err_set(err, FX_EINVAL, "truncated percent-escape at offset %zu", i);
            int h = fx_hex_val((unsigned char)s[i + 1]), l = fx_hex_val((unsigned char)s[i + 2]);
            if (h < 0 || l < 0)
                return fx_err_set(err, FX_EINVAL,
                                  "invalid percent-escape \"%%%c%c\" at offset %zu",
                                  s[i + 1] >= 0x20 && s[i + 1] < 0x7f ? s[i + 1] : '?',
                                  s[i + 2] >= 0x20 && s[i + 2] < 0x7f ? s[i + 2] : '?', i);
            c = (char)(h << 4 | l);
            if (c == 0)
                return fx_err_set(err, FX_EINVAL, "escaped NUL byte (%%00) at offset %zu", i);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        } else if (c == 0) {
            return fx_err_set(err, FX_EINVAL, "NUL byte at offset %zu", i);
        }
        out[o++] = c;
    }
    out[o] = 0;
    *out_len = o;
    return FX_OK;
}

static int decode_part(const char *s, size_t len, fx_arena_t *arena, const char **out,
                       size_t *out_len, fx_err_t *err)
{
    char *d = fx_arena_alloc(arena, len + 1);
    size_t n;
    /* Fast path: most names and values need no decoding. */
    if (!memchr(s, '%', len) && !memchr(s, '+', len) && !memchr(s, 0, len)) {
        memcpy(d, s, len);
        d[len] = 0;
        n = len;
    } else if (fx_url_decode(s, len, 1, d, &n, err) != FX_OK) {
        return err ? err->code : FX_EINVAL;
    }
    *out = d;
    if (out_len)
        *out_len = n;
    return FX_OK;
}

int fx_query_parse(const char *s, size_t len, fx_arena_t *arena, fx_query_t *q, fx_err_t *err)
{
    size_t cap = 1;
    for (size_t i = 0; i < len; i++)
        cap += s[i] == '&';
    q->params = NULL;
    q->n = 0;
    if (len == 0)
        return FX_OK;
    q->params = fx_arena_alloc(arena, cap * sizeof *q->params);

    const char *p = s, *end = s + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        if (pe > p) {
            const char *eq = memchr(p, '=', (size_t)(pe - p));
            const char *ne = eq ? eq : pe;
            fx_query_param_t *qp = &q->params[q->n];
            if (decode_part(p, (size_t)(ne - p), arena, &qp->name, NULL, err) != FX_OK)
                return fx_err_prefix(err, "query parameter #%zu name", q->n + 1);
            if (eq) {
                if (decode_part(eq + 1, (size_t)(pe - eq - 1), arena, &qp->value, &qp->value_len,
                                err) != FX_OK)
                    return fx_err_prefix(err, "query parameter \"%s\" value", qp->name);
            } else {
                qp->value = "";
                qp->value_len = 0;
            }
            q->n++;
        }
        p = pe + 1;
    }
    return FX_OK;
}

const char *fx_query_get(const fx_query_t *q, const char *name)
{
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->params[i].name, name) == 0)
            return q->params[i].value;
    return NULL;
}

const char **fx_query_get_all(const fx_query_t *q, const char *name, fx_arena_t *arena, size_t *n)
{
    size_t count = 0;
    for (size_t i = 0; i < q->n; i++)
        count += strcmp(q->params[i].name, name) == 0;
    *n = count;
    if (!count)
        return NULL;
    const char **vals = fx_arena_alloc(arena, count * sizeof *vals);
    for (size_t i = 0, j = 0; i < q->n; i++)
        if (strcmp(q->params[i].name, name) == 0)
            vals[j++] = q->params[i].value;
    return vals;
}
