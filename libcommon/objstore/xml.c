/*
 * xml.c - the strict S3-response XML parser (see xml.h). Recursive descent
 * over the input, one element per call, bounded by MAX_DEPTH.
 */
#include "objstore/xml.h"

#include <stdbool.h>
#include <string.h>

#include "core/buf.h"
#include "core/utf8.h"
#include "core/utf8.h"

#define MAX_DEPTH 64
#define MAX_NAME 256

typedef struct xp {
    const char *s, *p, *end;
    fx_arena_t *a;
    fx_err_t *err;
} xp_t;

static int fail(xp_t *x, const char *what)
{
    return fx_err_set(x->err, FX_EINVAL, "malformed XML at byte %zu: %s", (size_t)(x->p - x->s),
                      what);
}

static bool starts(const xp_t *x, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(x->end - x->p) >= n && memcmp(x->p, lit, n) == 0;
}

static void skip_ws(xp_t *x)
{
    while (x->p < x->end && (*x->p == ' ' || *x->p == '\t' || *x->p == '\n' || *x->p == '\r'))
        x->p++;
}

/* Skips up to and including the terminator; FX_EINVAL if it never comes. */
static int skip_past(xp_t *x, const char *term, const char *what)
{
    size_t tl = strlen(term);
    for (; (size_t)(x->end - x->p) >= tl; x->p++)
        if (memcmp(x->p, term, tl) == 0) {
            x->p += tl;
            return FX_OK;
        }
    x->p = x->end;
    return fail(x, what);
}

static bool name_start(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':' || c >= 0x80;
}

static bool name_char(unsigned char c)
{
    return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static int read_name(xp_t *x, const char **name, size_t *len)
{
    const char *b = x->p;
    if (x->p >= x->end || !name_start((unsigned char)*x->p))
        return fail(x, "expected a name");
    while (x->p < x->end && name_char((unsigned char)*x->p))
        x->p++;
    *name = b;
    *len = (size_t)(x->p - b);
    if (*len > MAX_NAME)
        return fail(x, "name too long");
    return FX_OK;
}

/* Decodes the reference at x->p ('&') into b. */
static int entity(xp_t *x, fx_buf_t *b)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
    const char *semi = memchr(x->p, ';', (size_t)FX_MIN(x->end - x->p, 12));
    if (!semi)
        return fail(x, "unterminated character reference");
    const char *r = x->p + 1;
    size_t rl = (size_t)(semi - r);
    if (rl >= 2 && r[0] == '#') {
        unsigned long cp = 0;
        uint8_t u[4];
        bool hexa = r[1] == 'x';
        size_t i = hexa ? 2 : 1;
        if (i == rl)
            return fail(x, "empty character reference");
        for (; i < rl; i++) {
            char c = r[i];
            int d = c >= '0' && c <= '9'                 ? c - '0'
                    : hexa && c >= 'a' && c <= 'f'       ? c - 'a' + 10
                    : hexa && c >= 'A' && c <= 'F'       ? c - 'A' + 10
                                                         : -1;
            if (d < 0)
                return fail(x, "bad digit in character reference");
            cp = cp * (hexa ? 16 : 10) + (unsigned long)d;
            if (cp > 0x10ffff)
                return fail(x, "character reference out of range");
        }
        if (!(cp == 0x9 || cp == 0xa || cp == 0xd || (cp >= 0x20 && cp <= 0xd7ff) ||
              (cp >= 0xe000 && cp <= 0xfffd) || cp >= 0x10000))
            return fail(x, "character reference to a character XML forbids");
        fx_buf_append(b, u, fx_utf8_put((uint32_t)cp, u));
    } else {
        size_t k = 0;
        while (k < FX_ARRAY_LEN(named) &&
               !(strlen(named[k].name) == rl && memcmp(named[k].name, r, rl) == 0))
            k++;
        if (k == FX_ARRAY_LEN(named))
            return fail(x, "unknown entity (only &lt; &gt; &amp; &quot; &apos; and &#...; are "
                           "defined)");
        fx_buf_putc(b, (uint8_t)named[k].c);
    }
    x->p = semi + 1;
    return FX_OK;
}

static int attributes(xp_t *x)
{
    for (;;) {
        const char *before = x->p;
        skip_ws(x);
        if (x->p >= x->end)
            return fail(x, "unterminated start tag");
        if (*x->p == '>' || *x->p == '/')
            return FX_OK;
        if (x->p == before)
            return fail(x, "expected whitespace before an attribute");
        const char *name;
        size_t len;
        int rc = read_name(x, &name, &len);
        if (rc)
            return rc;
        skip_ws(x);
        if (x->p >= x->end || *x->p != '=')
            return fail(x, "expected '=' after an attribute name");
        x->p++;
        skip_ws(x);
        if (x->p >= x->end || (*x->p != '"' && *x->p != '\''))
            return fail(x, "expected a quoted attribute value");
        char q = *x->p++;
        const char *close = memchr(x->p, q, (size_t)(x->end - x->p));
        if (!close)
            return fail(x, "unterminated attribute value");
        if (memchr(x->p, '<', (size_t)(close - x->p)))
            return fail(x, "'<' in an attribute value");
        x->p = close + 1;
    }
}

static int element(xp_t *x, int depth, fx_xml_node_t **out)
{
    if (depth > MAX_DEPTH)
        return fail(x, "elements nested deeper than 64");
    x->p++; /* '<' */
    const char *name;
    size_t nlen;
    int rc = read_name(x, &name, &nlen);
    if (rc || (rc = attributes(x)))
        return rc;
    fx_xml_node_t *n = fx_arena_calloc(x->a, sizeof *n), *last = NULL;
    const char *colon = memchr(name, ':', nlen);
    const char *local = colon ? colon + 1 : name;
    n->name = fx_arena_strndup(x->a, local, nlen - (size_t)(local - name));
    n->text = "";
    *out = n;
    if (*x->p == '/') {
        if (!starts(x, "/>"))
            return fail(x, "expected '/>'");
        x->p += 2;
        return FX_OK;
    }
    x->p++; /* '>' */

    fx_buf_t text = FX_BUF_INIT;
    for (;;) {
        if (x->p >= x->end) {
            rc = fail(x, "unclosed element");
            break;
        }
        if (*x->p != '<') {
            const char *b = x->p;
            while (x->p < x->end && *x->p != '<' && *x->p != '&')
                x->p++;
            fx_buf_append(&text, b, (size_t)(x->p - b));
            if (x->p < x->end && *x->p == '&' && (rc = entity(x, &text)))
                break;
            continue;
        }
        if (starts(x, "</")) {
            const char *cn;
            size_t cl;
            x->p += 2;
            if ((rc = read_name(x, &cn, &cl)))
                break;
            if (cl != nlen || memcmp(cn, name, nlen) != 0) {
                rc = fail(x, "end tag does not match its start tag");
                break;
            }
            skip_ws(x);
            if (x->p >= x->end || *x->p != '>') {
                rc = fail(x, "expected '>' to end an end tag");
                break;
            }
            x->p++;
            break;
        }
        if (starts(x, "<!--")) {
            if ((rc = skip_past(x, "-->", "unterminated comment")))
                break;
        } else if (starts(x, "<![CDATA[")) {
            x->p += 9;
            const char *b = x->p;
            if ((rc = skip_past(x, "]]>", "unterminated CDATA section")))
                break;
            fx_buf_append(&text, b, (size_t)(x->p - 3 - b));
        } else if (starts(x, "<?")) {
            if ((rc = skip_past(x, "?>", "unterminated processing instruction")))
                break;
        } else if (starts(x, "<!")) {
            rc = fail(x, "DTDs and declarations are not accepted");
            break;
        } else {
            fx_xml_node_t *c;
            if ((rc = element(x, depth + 1, &c)))
                break;
            if (last)
                last->next = c;
            else
                n->child = c;
            last = c;
        }
    }
    if (rc == FX_OK && text.len) {
        n->text = fx_arena_strndup(x->a, (const char *)text.data, text.len);
        n->text_len = text.len;
    }
    fx_buf_free(&text);
    return rc;
}

/* Whitespace, comments and processing instructions around the root. */
static int misc(xp_t *x)
{
    for (;;) {
        skip_ws(x);
        int rc = FX_OK;
        if (starts(x, "<?"))
            rc = skip_past(x, "?>", "unterminated processing instruction");
        else if (starts(x, "<!--"))
            rc = skip_past(x, "-->", "unterminated comment");
        else if (starts(x, "<!"))
            return fail(x, "DTDs and declarations are not accepted");
        else
            return FX_OK;
        if (rc)
            return rc;
    }
}

int fx_xml_parse(const char *p, size_t n, fx_arena_t *a, fx_xml_node_t **root, fx_err_t *err)
{
    xp_t x = {p, p, p + n, a, err};
    *root = NULL;
    if (n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
        x.p += 3;
    if (memchr(p, 0, n))
        return fx_err_set(err, FX_EINVAL, "malformed XML: NUL byte");
    if (!fx_utf8_valid((const uint8_t *)p, n))
        return fx_err_set(err, FX_EINVAL, "malformed XML: not valid UTF-8");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
            return fx_err_set(err, FX_EINVAL, "malformed XML: control byte 0x%02x at byte %zu",
                              c, i);
    }
    int rc = misc(&x);
    if (rc)
        return rc;
    if (x.p >= x.end || *x.p != '<')
        return fail(&x, "expected the root element");
    if ((rc = element(&x, 1, root)))
        return rc;
    if ((rc = misc(&x)))
        return rc;
    if (x.p != x.end)
        return fail(&x, "content after the root element");
    return FX_OK;
}

const fx_xml_node_t *fx_xml_child(const fx_xml_node_t *n, const char *name)
{
    for (const fx_xml_node_t *c = n ? n->child : NULL; c; c = c->next)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

const char *fx_xml_child_text(const fx_xml_node_t *n, const char *name)
{
    const fx_xml_node_t *c = fx_xml_child(n, name);
    return c ? c->text : NULL;
}

void fx_xml_escape(const char *s, fx_buf_t *out)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fx_buf_puts(out, "&amp;"); break;
        case '<': fx_buf_puts(out, "&lt;"); break;
        case '>': fx_buf_puts(out, "&gt;"); break;
        case '"': fx_buf_puts(out, "&quot;"); break;
        case '\'': fx_buf_puts(out, "&apos;"); break;
        default: fx_buf_putc(out, (uint8_t)*s);
        }
    }
}
