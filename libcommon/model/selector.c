/* selector.c - label selector parser and matcher. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "model/selector.h"
#include "core/hex.h"
#include "core/mem.h"
#include "core/utf8.h"
#include "core/utf8.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

/* Bounds backtracking on hostile patterns: a match that needs more steps
 * than this counts as "no match" rather than hanging a query thread. */
#define RE_MATCH_LIMIT 1000000

static int compile(fx_matcher_t *m, fx_err_t *err)
{
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)m->value, PCRE2_ZERO_TERMINATED,
                                   PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_UTF | PCRE2_DOTALL,
                                   &code, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[128];
        pcre2_get_error_message(code, msg, sizeof msg);
        return fx_err_set(err, FX_EINVAL, "invalid regular expression \"%s\" for label %s: %s",
                          m->value, m->name, (const char *)msg);
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* best effort; falls back to the interpreter */
    m->re = re;
    m->md = pcre2_match_data_create(1, NULL);
    return FX_OK;
}

int fx_selector_add(fx_selector_t *sel, const char *name, fx_match_op_t op, const char *value,
                    fx_err_t *err)
{
    FX_GROW(sel->m, sel->cap, sel->len + 1);
    fx_matcher_t *m = &sel->m[sel->len];
    memset(m, 0, sizeof *m);
    m->name = fx_strdup(name);
    m->value = fx_strdup(value);
    m->op = op;
    sel->len++;
    if (op == FX_MATCH_RE || op == FX_MATCH_NRE)
        return compile(m, err);
    return FX_OK;
}

void fx_selector_free(fx_selector_t *sel)
{
    for (size_t i = 0; i < sel->len; i++) {
        free(sel->m[i].name);
        free(sel->m[i].value);
        if (sel->m[i].re) {
            pcre2_code_free(sel->m[i].re);
            pcre2_match_data_free(sel->m[i].md);
        }
    }
    free(sel->m);
    free(sel->metric);
    memset(sel, 0, sizeof *sel);
}

int fx_matcher_match(const fx_matcher_t *m, const char *value)
{
    if (!value)
        value = "";
    switch (m->op) {
    case FX_MATCH_EQ: return strcmp(value, m->value) == 0;
    case FX_MATCH_NEQ: return strcmp(value, m->value) != 0;
    default: break;
    }
    pcre2_match_context *ctx = NULL;
    static _Thread_local pcre2_match_context *t_ctx;
    if (!t_ctx) {
        t_ctx = pcre2_match_context_create(NULL);
        pcre2_set_match_limit(t_ctx, RE_MATCH_LIMIT);
    }
    ctx = t_ctx;
    int rc = pcre2_match(m->re, (PCRE2_SPTR)value, strlen(value), 0, 0, m->md, ctx);
    int hit = rc >= 0;
    return m->op == FX_MATCH_RE ? hit : !hit;
}

int fx_selector_match(const fx_selector_t *sel, const fx_labels_t *l)
{
    for (size_t i = 0; i < sel->len; i++)
        if (!fx_matcher_match(&sel->m[i], fx_labels_get(l, sel->m[i].name)))
            return 0;
    return 1;
}

const fx_matcher_t *fx_selector_find_eq(const fx_selector_t *sel, const char *name)
{
    for (size_t i = 0; i < sel->len; i++)
        if (sel->m[i].op == FX_MATCH_EQ && strcmp(sel->m[i].name, name) == 0)
            return &sel->m[i];
    return NULL;
}

/* --- parser ------------------------------------------------------------- */

typedef struct parser {
    const char *s, *p;
    fx_err_t *err;
} parser_t;

static void skip_ws(parser_t *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
        ps->p++;
}

static int fail(parser_t *ps, const char *expected)
{
    return fx_err_set(ps->err, FX_EINVAL, "invalid label selector \"%.200s\": %s at position %d",
                      ps->s, expected, (int)(ps->p - ps->s) + 1);
}

static int is_name_start(char c, int colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}

static int is_name_char(char c, int colon)
{
    return is_name_start(c, colon) || (c >= '0' && c <= '9');
}

/* A "..." or '...' string with Go escapes, or a `raw` string, into out. */
static int parse_string(parser_t *ps, fx_buf_t *out)
{
    char q = *ps->p;
    if (q != '"' && q != '\'' && q != '`')
        return fail(ps, "expected a quoted string");
    ps->p++;
    while (*ps->p != q) {
        char c = *ps->p;
        if (!c || (c == '\n' && q != '`'))
            return fail(ps, "unterminated string");
        if (c != '\\' || q == '`') {
            fx_buf_putc(out, (uint8_t)c);
            ps->p++;
            continue;
        }
        ps->p++;
        c = *ps->p++;
        switch (c) {
        case 'n': fx_buf_putc(out, '\n'); break;
        case 't': fx_buf_putc(out, '\t'); break;
        case 'r': fx_buf_putc(out, '\r'); break;
        case 'a': fx_buf_putc(out, '\a'); break;
        case 'b': fx_buf_putc(out, '\b'); break;
        case 'f': fx_buf_putc(out, '\f'); break;
        case 'v': fx_buf_putc(out, '\v'); break;
        case '\\': case '"': case '\'': fx_buf_putc(out, (uint8_t)c); break;
        case 'x': {
            int h = fx_hex_val(ps->p[0]), l = h < 0 ? -1 : fx_hex_val(ps->p[1]);
            if (l < 0)
                return fail(ps, "invalid \\x escape");
            fx_buf_putc(out, (uint8_t)(h << 4 | l));
            ps->p += 2;
            break;
        }
        case 'u': case 'U': {
            int digits = c == 'u' ? 4 : 8;
            uint32_t cp = 0;
            uint8_t u[4];
            for (int i = 0; i < digits; i++) {
                int h = fx_hex_val(ps->p[i]);
                if (h < 0)
                    return fail(ps, "invalid unicode escape");
                cp = cp << 4 | (uint32_t)h;
            }
            if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return fail(ps, "invalid unicode code point");
            fx_buf_append(out, u, fx_utf8_put(cp, u));
            ps->p += digits;
            break;
        }
        default:
            ps->p--;
            return fail(ps, "unknown escape sequence");
        }
    }
    ps->p++;
    return FX_OK;
}

static int parse_matcher(parser_t *ps, fx_selector_t *sel)
{
    fx_buf_t name = FX_BUF_INIT, value = FX_BUF_INIT;
    fx_match_op_t op;
    int rc = FX_OK;

    if (*ps->p == '"' || *ps->p == '\'') {
        /* Quoted (UTF-8) label name, as newer Prometheus allows. */
        if ((rc = parse_string(ps, &name)) < 0)
            goto out;
        if (!name.len) {
            rc = fail(ps, "empty label name");
            goto out;
        }
    } else {
        if (!is_name_start(*ps->p, 0)) {
            rc = fail(ps, "expected a label name");
            goto out;
        }
        while (is_name_char(*ps->p, 0))
            fx_buf_putc(&name, (uint8_t)*ps->p++);
    }
    skip_ws(ps);
    if (ps->p[0] == '=' && ps->p[1] == '~')
        op = FX_MATCH_RE, ps->p += 2;
    else if (ps->p[0] == '!' && ps->p[1] == '~')
        op = FX_MATCH_NRE, ps->p += 2;
    else if (ps->p[0] == '!' && ps->p[1] == '=')
        op = FX_MATCH_NEQ, ps->p += 2;
    else if (ps->p[0] == '=')
        op = FX_MATCH_EQ, ps->p += 1;
    else {
        rc = fail(ps, "expected one of = != =~ !~");
        goto out;
    }
    skip_ws(ps);
    if ((rc = parse_string(ps, &value)) < 0)
        goto out;
    fx_buf_cstr(&value); /* allocates even for "", so data is never NULL */
    if (!fx_utf8_valid(value.data, value.len) || memchr(value.data, 0, value.len)) {
        rc = fx_err_set(ps->err, FX_EINVAL, "invalid label selector: value of %s is not valid UTF-8",
                        fx_buf_cstr(&name));
        goto out;
    }
    rc = fx_selector_add(sel, fx_buf_cstr(&name), op, fx_buf_cstr(&value), ps->err);
out:
    fx_buf_free(&name);
    fx_buf_free(&value);
    return rc;
}

int fx_selector_parse(const char *s, fx_selector_t *out, fx_err_t *err)
{
    parser_t ps = {s, s, err};
    int rc = FX_OK;

    memset(out, 0, sizeof *out);
    skip_ws(&ps);
    if (!*ps.p)
        return FX_OK;
    if (is_name_start(*ps.p, 1)) {
        const char *start = ps.p;
        while (is_name_char(*ps.p, 1))
            ps.p++;
        out->metric = fx_strndup(start, (size_t)(ps.p - start));
        skip_ws(&ps);
        if (!*ps.p)
            return FX_OK;
    }
    if (*ps.p != '{') {
        rc = fail(&ps, "expected '{'");
        goto out;
    }
    ps.p++;
    for (;;) {
        skip_ws(&ps);
        if (*ps.p == '}') {
            ps.p++;
            break;
        }
        if ((rc = parse_matcher(&ps, out)) < 0)
            goto out;
        skip_ws(&ps);
        if (*ps.p == ',') {
            ps.p++;
            continue;
        }
        if (*ps.p != '}') {
            rc = fail(&ps, "expected ',' or '}'");
            goto out;
        }
    }
    skip_ws(&ps);
    if (*ps.p)
        rc = fail(&ps, "unexpected text after '}'");
out:
    if (rc < 0)
        fx_selector_free(out);
    return rc;
}

void fx_selector_format(const fx_selector_t *sel, fx_buf_t *out)
{
    static const char *const ops[] = {"=", "!=", "=~", "!~"};
    fx_buf_putc(out, '{');
    for (size_t i = 0; i < sel->len; i++) {
        if (i)
            fx_buf_puts(out, ", ");
        fx_buf_puts(out, sel->m[i].name);
        fx_buf_puts(out, ops[sel->m[i].op]);
        fx_buf_json_str(out, sel->m[i].value, strlen(sel->m[i].value));
    }
    fx_buf_putc(out, '}');
}
