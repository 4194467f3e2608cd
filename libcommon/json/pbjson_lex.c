/*
 * pbjson_lex.c - the JSON decoder's lexer: strings (escapes, UTF-8
 * validation), skipping unknown values, nesting depth, and error messages
 * that carry the field path.
 */
#include "json/jsonnum.h"
#include "json/pbjson_int.h"
#include "core/utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void render_path(fx_pbdec_t *d, char *out, size_t cap)
{
    fx_buf_t b = FX_BUF_INIT;
    for (int i = 0; i < d->npath; i++) {
        const fx_pbdec_step_t *s = &d->path[i];
        if (s->name) {
            if (b.len)
                fx_buf_putc(&b, '.');
            fx__pbjson_put_name(&b, s->name);
        } else if (s->is_key) {
            fx_buf_printf(&b, "[%s]", s->key);
        } else {
            fx_buf_printf(&b, "[%zu]", s->index);
        }
    }
    snprintf(out, cap, "%.*s", (int)b.len, b.len ? (const char *)b.data : "");
    fx_buf_free(&b);
}

int fx__dec_fail(fx_pbdec_t *d, const char *fmt, ...)
{
    char msg[FX_ERR_MSG_MAX], path[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    render_path(d, path, sizeof path);
    if (path[0])
        return fx_err_set(d->err, FX_EINVAL, "field \"%s\": %s", path, msg);
    return fx_err_set(d->err, FX_EINVAL, "%s", msg);
}

int fx__dec_syntax(fx_pbdec_t *d, const char *what)
{
    if (d->p >= d->end)
        return fx__dec_fail(d, "invalid JSON: unexpected end of input, expected %s", what);
    return fx__dec_fail(d, "invalid JSON at byte %zu: expected %s", (size_t)(d->p - d->start), what);
}

/* What the value at d->p is, for "expected X, got Y" messages. */
const char *fx__dec_kind(const fx_pbdec_t *d)
{
    if (d->p >= d->end)
        return "end of input";
    switch (*d->p) {
    case '{': return "an object";
    case '[': return "an array";
    case '"': return "a string";
    case 't': case 'f': return "a boolean";
    case 'n': return "null";
    default: return (*d->p == '-' || (*d->p >= '0' && *d->p <= '9')) ? "a number" : "invalid JSON";
    }
}

void fx__dec_push_field(fx_pbdec_t *d, const ProtobufCFieldDescriptor *f)
{
    fx_pbdec_step_t *s = &d->path[d->npath++];
    s->name = f->name;
}

void fx__dec_push_index(fx_pbdec_t *d, size_t i)
{
    fx_pbdec_step_t *s = &d->path[d->npath++];
    s->name = NULL;
    s->is_key = 0;
    s->index = i;
}

void fx__dec_push_key(fx_pbdec_t *d, const char *k, size_t n)
{
    fx_pbdec_step_t *s = &d->path[d->npath++];
    s->name = NULL;
    s->is_key = 1;
    snprintf(s->key, sizeof s->key, "%.*s%s", (int)FX_MIN(n, 16), k, n > 16 ? "..." : "");
}

void *fx__dec_alloc(fx_pbdec_t *d, size_t n)
{
    void *p = d->alloc->alloc(d->alloc->allocator_data, n ? n : 1);
    if (!p)
        FX_PANIC("out of memory in the protobuf allocator");
    return p;
}

void fx__dec_free(fx_pbdec_t *d, void *p)
{
    if (p)
        d->alloc->free(d->alloc->allocator_data, p);
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/*
 * Reads the string at d->p (which is '"'). *s and *n get its decoded text: a
 * range of the input when it has no escapes, else d->scratch (valid until
 * the next string is read). *has_nul is set if it contains U+0000.
 */
int fx__dec_read_string(fx_pbdec_t *d, const char **s, size_t *n, int *has_nul)
{
    const uint8_t *p = (const uint8_t *)d->p + 1, *end = (const uint8_t *)d->end, *run = p;
    int copy = 0;

    *has_nul = 0;
    for (;;) {
        if (p >= end) {
            d->p = d->end;
            return fx__dec_fail(d, "invalid JSON: unterminated string");
        }
        uint8_t c = *p;
        if (c == '"')
            break;
        if (FX_LIKELY(c >= 0x20 && c < 0x80 && c != '\\')) {
            p++;
            continue;
        }
        if (c >= 0x80) {
            size_t l = fx_utf8_len(p, (size_t)(end - p));
            if (!l)
                return fx__dec_fail(d, "invalid UTF-8 in string at byte %zu",
                            (size_t)((const char *)p - d->start));
            p += l;
            continue;
        }
        if (c < 0x20)
            return fx__dec_fail(d, "invalid JSON at byte %zu: control character in string",
                        (size_t)((const char *)p - d->start));
        /* a backslash escape */
        if (!copy) {
            copy = 1;
            d->scratch.len = 0;
        }
        fx_buf_append(&d->scratch, run, (size_t)(p - run));
        if (end - p < 2) {
            d->p = d->end;
            return fx__dec_fail(d, "invalid JSON: unterminated string");
        }
        char e = (char)p[1];
        p += 2;
        switch (e) {
        case '"': fx_buf_putc(&d->scratch, '"'); break;
        case '\\': fx_buf_putc(&d->scratch, '\\'); break;
        case '/': fx_buf_putc(&d->scratch, '/'); break;
        case 'b': fx_buf_putc(&d->scratch, '\b'); break;
        case 'f': fx_buf_putc(&d->scratch, '\f'); break;
        case 'n': fx_buf_putc(&d->scratch, '\n'); break;
        case 'r': fx_buf_putc(&d->scratch, '\r'); break;
        case 't': fx_buf_putc(&d->scratch, '\t'); break;
        case 'u': {
            unsigned cp, lo;
            if (end - p < 4 || hex4((const char *)p, &cp) < 0)
                return fx__dec_fail(d, "invalid JSON at byte %zu: bad \\u escape",
                            (size_t)((const char *)p - d->start) - 2);
            p += 4;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return fx__dec_fail(d, "invalid JSON at byte %zu: lone UTF-16 surrogate in \\u escape",
                            (size_t)((const char *)p - d->start) - 6);
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
                    hex4((const char *)p + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                    return fx__dec_fail(d, "invalid JSON at byte %zu: lone UTF-16 surrogate in \\u escape",
                                (size_t)((const char *)p - d->start) - 6);
                p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            if (cp == 0)
                *has_nul = 1;
            uint8_t u[4];
            fx_buf_append(&d->scratch, u, fx_utf8_put(cp, u));
            break;
        }
        default:
            return fx__dec_fail(d, "invalid JSON at byte %zu: bad escape \\%c",
                        (size_t)((const char *)p - d->start) - 2, e >= 0x20 && e < 0x7f ? e : '?');
        }
        run = p;
    }
    if (copy) {
        fx_buf_append(&d->scratch, run, (size_t)(p - run));
        fx_buf_reserve(&d->scratch, 1); /* keep data non-NULL for empty text */
        *s = (const char *)d->scratch.data;
        *n = d->scratch.len;
    } else {
        *s = d->p + 1;
        *n = (size_t)((const char *)p - (d->p + 1));
    }
    d->p = (const char *)p + 1;
    return FX_OK;
}

int fx__dec_enter(fx_pbdec_t *d)
{
    if (++d->depth > FX_PBJSON_MAX_DEPTH)
        return fx__dec_fail(d, "JSON nested deeper than %d levels", FX_PBJSON_MAX_DEPTH);
    return FX_OK;
}

/* Skips one value of an unknown field, still checking its syntax. */
int fx__dec_skip_value(fx_pbdec_t *d)
{
    const char *s;
    size_t n;
    int nul, rc;

    fx__dec_ws(d);
    if (d->p >= d->end)
        return fx__dec_syntax(d, "a value");
    switch (*d->p) {
    case '"':
        return fx__dec_read_string(d, &s, &n, &nul);
    case 't':
        return fx__dec_literal(d, "true", 4) ? FX_OK : fx__dec_syntax(d, "a value");
    case 'f':
        return fx__dec_literal(d, "false", 5) ? FX_OK : fx__dec_syntax(d, "a value");
    case 'n':
        return fx__dec_literal(d, "null", 4) ? FX_OK : fx__dec_syntax(d, "a value");
    case '[':
        if ((rc = fx__dec_enter(d)))
            return rc;
        d->p++;
        if (fx__dec_peek(d, ']')) {
            d->p++;
            d->depth--;
            return FX_OK;
        }
        for (;;) {
            if ((rc = fx__dec_skip_value(d)))
                return rc;
            fx__dec_ws(d);
            if (d->p < d->end && *d->p == ',') {
                d->p++;
                continue;
            }
            if (d->p < d->end && *d->p == ']') {
                d->p++;
                d->depth--;
                return FX_OK;
            }
            return fx__dec_syntax(d, "',' or ']'");
        }
    case '{':
        if ((rc = fx__dec_enter(d)))
            return rc;
        d->p++;
        if (fx__dec_peek(d, '}')) {
            d->p++;
            d->depth--;
            return FX_OK;
        }
        for (;;) {
            if (!fx__dec_peek(d, '"'))
                return fx__dec_syntax(d, "a string key");
            if ((rc = fx__dec_read_string(d, &s, &n, &nul)))
                return rc;
            if (!fx__dec_peek(d, ':'))
                return fx__dec_syntax(d, "':'");
            d->p++;
            if ((rc = fx__dec_skip_value(d)))
                return rc;
            fx__dec_ws(d);
            if (d->p < d->end && *d->p == ',') {
                d->p++;
                continue;
            }
            if (d->p < d->end && *d->p == '}') {
                d->p++;
                d->depth--;
                return FX_OK;
            }
            return fx__dec_syntax(d, "',' or '}'");
        }
    default: {
        size_t l = fx_json_scan_number(d->p, d->end);
        if (!l)
            return fx__dec_syntax(d, "a value");
        d->p += l;
        return FX_OK;
    }
    }
}
