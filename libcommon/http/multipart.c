/* multipart.c - strict multipart/form-data parsing; part bodies are not copied. */
#include "http/multipart.h"

#include <string.h>
#include <strings.h>

#define BOUNDARY_MAX 70

static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int is_bchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("'()+_,-./:=? ", c) != NULL;
}

/*
 * Reads one "; name=value" parameter at *pp (up to end). Value is a token or
 * a quoted-string (backslash escapes removed). Returns 1 with *key (klen
 * bytes, borrowed) and *val (arena) set, 0 at the end of input, or FX_EINVAL
 * when malformed (err set).
 */
static int next_param(const char **pp, const char *end, fx_arena_t *a, const char **key,
                      size_t *klen, const char **val, const char *what, fx_err_t *err)
{
    const char *p = *pp;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p == end)
        return 0;
    if (*p != ';')
        return fx_err_set(err, FX_EINVAL, "%s: expected ';' before parameter, found '%c'", what,
                          *p >= 0x20 && *p < 0x7f ? *p : '?');
    p++;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p == end) { /* a trailing ';' is common and harmless */
        *pp = p;
        return 0;
    }
    const char *k = p;
    while (p < end && is_tchar((unsigned char)*p))
        p++;
    if (p == k || p == end || *p != '=')
        return fx_err_set(err, FX_EINVAL, "%s: malformed parameter (want name=value)", what);
    *key = k;
    *klen = (size_t)(p - k);
    p++;
    if (p < end && *p == '"') {
        char *v = fx_arena_alloc(a, (size_t)(end - p) + 1);
        size_t n = 0;
        for (p++;; p++) {
            if (p == end)
                return fx_err_set(err, FX_EINVAL, "%s: unterminated quoted string", what);
            if (*p == '"')
                break;
            if (*p == '\\') {
                if (++p == end)
                    return fx_err_set(err, FX_EINVAL, "%s: unterminated quoted string", what);
            }
            if (*p == 0)
                return fx_err_set(err, FX_EINVAL, "%s: NUL byte in quoted string", what);
            v[n++] = *p;
        }
        v[n] = 0;
        *val = v;
        p++;
    } else {
        const char *v = p;
        while (p < end && is_tchar((unsigned char)*p))
            p++;
        if (p == v)
            return fx_err_set(err, FX_EINVAL, "%s: parameter %.*s has an empty value", what,
                              (int)*klen, *key);
        *val = fx_arena_strndup(a, v, (size_t)(p - v));
    }
    *pp = p;
    return 1;
}

/* Matches the media type at the start of s (len n); returns the position after it or NULL. */
static const char *media_type(const char *s, const char *end, const char *want)
{
    size_t wl = strlen(want);
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    if ((size_t)(end - s) < wl || strncasecmp(s, want, wl) != 0)
        return NULL;
    s += wl;
    if (s < end && *s != ';' && *s != ' ' && *s != '\t')
        return NULL;
    return s;
}

int fx_multipart_boundary(const char *content_type, fx_arena_t *arena, const char **boundary,
                          fx_err_t *err)
{
    const char *ct = content_type ? content_type : "";
    const char *end = ct + strlen(ct);
    const char *p = media_type(ct, end, "multipart/form-data");
    const char *key, *val, *b = NULL;
    size_t klen;
    int r;

    if (!p)
        return fx_err_set(err, FX_EINVAL, "Content-Type \"%s\" is not multipart/form-data", ct);
    while ((r = next_param(&p, end, arena, &key, &klen, &val, "Content-Type", err)) == 1) {
        if (klen == 8 && strncasecmp(key, "boundary", 8) == 0) {
            if (b)
                return fx_err_set(err, FX_EINVAL, "Content-Type has two boundary parameters");
            b = val;
        }
    }
    if (r < 0)
        return FX_EINVAL;
    if (!b)
        return fx_err_set(err, FX_EINVAL, "multipart Content-Type has no boundary parameter");
    size_t bl = strlen(b);
    if (bl == 0 || bl > BOUNDARY_MAX || b[bl - 1] == ' ')
        return fx_err_set(err, FX_EINVAL,
                          "multipart boundary must be 1 to %d characters and not end in a space",
                          BOUNDARY_MAX);
    for (size_t i = 0; i < bl; i++)
        if (!is_bchar((unsigned char)b[i]))
            return fx_err_set(err, FX_EINVAL, "multipart boundary has an invalid character at %zu",
                              i);
    *boundary = b;
    return FX_OK;
}

/* If a delimiter line "--B" starts at p, returns the position after it (after
 * its CRLF, or after "--B--" with *close set). NULL when p holds none. */
static const uint8_t *delimiter_line(const uint8_t *p, const uint8_t *end, const char *b,
                                     size_t bl, int *close)
{
    if ((size_t)(end - p) < bl + 2 || p[0] != '-' || p[1] != '-' || memcmp(p + 2, b, bl) != 0)
        return NULL;
    p += bl + 2;
    if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
        *close = 1;
        return p + 2;
    }
    while (p < end && (*p == ' ' || *p == '\t')) /* transport padding */
        p++;
    if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
        *close = 0;
        return p + 2;
    }
    return NULL;
}

/* Finds the next "\r\n--B" that is a real delimiter line, at or after p. */
static const uint8_t *find_delimiter(const uint8_t *p, const uint8_t *end, const char *b,
                                     size_t bl, const uint8_t **after, int *close)
{
    char pat[BOUNDARY_MAX + 4];
    pat[0] = '\r';
    pat[1] = '\n';
    pat[2] = '-';
    pat[3] = '-';
    memcpy(pat + 4, b, bl);
    while (p < end) {
        const uint8_t *at = memmem(p, (size_t)(end - p), pat, bl + 4);
        if (!at)
            return NULL;
        const uint8_t *a = delimiter_line(at + 2, end, b, bl, close);
        if (a) {
            *after = a;
            return at;
        }
        p = at + 1;
    }
    return NULL;
}

/* Parses the header block of part #idx at *pp into part; *pp moves past the blank line. */
static int part_headers(const uint8_t **pp, const uint8_t *end, size_t idx, fx_arena_t *a,
                        fx_mp_part_t *part, fx_err_t *err)
{
    const uint8_t *p = *pp;
    int have_cd = 0;
    for (int nh = 0;; nh++) {
        const uint8_t *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol)
            return fx_err_set(err, FX_EINVAL, "part #%zu: headers are truncated", idx);
        if (eol == p) {
            p += 2;
            break;
        }
        if (nh >= FX_MULTIPART_MAX_HEADERS)
            return fx_err_set(err, FX_EINVAL, "part #%zu: more than %d headers", idx,
                              FX_MULTIPART_MAX_HEADERS);
        if (*p == ' ' || *p == '\t')
            return fx_err_set(err, FX_EINVAL, "part #%zu: folded header lines are not allowed",
                              idx);
        const uint8_t *colon = p;
        while (colon < eol && is_tchar(*colon))
            colon++;
        if (colon == p || colon == eol || *colon != ':')
            return fx_err_set(err, FX_EINVAL, "part #%zu: malformed header line (want Name: value)",
                              idx);
        if (memchr(p, 0, (size_t)(eol - p)))
            return fx_err_set(err, FX_EINVAL, "part #%zu: NUL byte in a header", idx);
        size_t nlen = (size_t)(colon - p);
        const char *v = (const char *)colon + 1, *ve = (const char *)eol;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;

        if (nlen == 19 && strncasecmp((const char *)p, "Content-Disposition", 19) == 0) {
            if (have_cd++)
                return fx_err_set(err, FX_EINVAL, "part #%zu: two Content-Disposition headers",
                                  idx);
            const char *q = media_type(v, ve, "form-data");
            const char *key, *val;
            size_t klen;
            int r;
            if (!q)
                return fx_err_set(err, FX_EINVAL,
                                  "part #%zu: Content-Disposition is not form-data", idx);
            while ((r = next_param(&q, ve, a, &key, &klen, &val, "Content-Disposition", err)) ==
                   1) {
                const char **slot = NULL;
                if (klen == 4 && strncasecmp(key, "name", 4) == 0)
                    slot = &part->name;
                else if (klen == 8 && strncasecmp(key, "filename", 8) == 0)
                    slot = &part->filename;
                if (slot && *slot)
                    return fx_err_set(err, FX_EINVAL,
                                      "part #%zu: Content-Disposition repeats %.*s", idx,
                                      (int)klen, key);
                if (slot)
                    *slot = val;
            }
            if (r < 0)
                return fx_err_prefix(err, "part #%zu", idx);
        } else if (nlen == 12 && strncasecmp((const char *)p, "Content-Type", 12) == 0) {
            if (part->content_type)
                return fx_err_set(err, FX_EINVAL, "part #%zu: two Content-Type headers", idx);
            part->content_type = fx_arena_strndup(a, v, (size_t)(ve - v));
        }
        p = eol + 2;
    }
    if (!have_cd)
        return fx_err_set(err, FX_EINVAL, "part #%zu has no Content-Disposition header", idx);
    if (!part->name)
        return fx_err_set(err, FX_EINVAL, "part #%zu has no name in its Content-Disposition",
                          idx);
    *pp = p;
    return FX_OK;
}

int fx_multipart_parse(const char *content_type, const uint8_t *body, size_t len,
                       fx_arena_t *arena, fx_multipart_t *out, fx_err_t *err)
{
    const char *b;
    const uint8_t *end = body + len, *p;
    size_t cap = 0;
    int close = 0;

    out->parts = NULL;
    out->n = 0;
    if (fx_multipart_boundary(content_type, arena, &b, err) != FX_OK)
        return FX_EINVAL;
    size_t bl = strlen(b);

    /* The first delimiter, possibly after a preamble. */
    p = delimiter_line(body, end, b, bl, &close);
    if (!p) {
        const uint8_t *after;
        if (!find_delimiter(body, end, b, bl, &after, &close))
            return fx_err_set(err, FX_EINVAL,
                              "multipart body does not contain the boundary \"%s\"", b);
        p = after;
    }
    while (!close) {
        if (out->n == FX_MULTIPART_MAX_PARTS)
            return fx_err_set(err, FX_EINVAL, "multipart body has more than %d parts",
                              FX_MULTIPART_MAX_PARTS);
        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            fx_mp_part_t *np = fx_arena_alloc(arena, ncap * sizeof *np);
            if (out->n)
                memcpy(np, out->parts, out->n * sizeof *np);
            out->parts = np;
            cap = ncap;
        }
        fx_mp_part_t *part = &out->parts[out->n];
        memset(part, 0, sizeof *part);
        if (part_headers(&p, end, out->n + 1, arena, part, err) != FX_OK)
            return FX_EINVAL;
        const uint8_t *after;
        /* From p - 2: a part may have no body section at all, and then the
         * header block's final CRLF is also the delimiter's. */
        const uint8_t *at = find_delimiter(p - 2, end, b, bl, &after, &close);
        if (!at)
            return fx_err_set(err, FX_EINVAL,
                              "multipart body is truncated: part #%zu (\"%s\") has no closing "
                              "boundary",
                              out->n + 1, part->name);
        if (at > p) {
            part->body.data = p;
            part->body.len = (size_t)(at - p);
        }
        out->n++;
        p = after;
    }
    return FX_OK;
}

const fx_mp_part_t *fx_multipart_get(const fx_multipart_t *mp, const char *name)
{
    for (size_t i = 0; i < mp->n; i++)
        if (strcmp(mp->parts[i].name, name) == 0)
            return &mp->parts[i];
    return NULL;
}
