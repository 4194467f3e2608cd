/*
 * pbjson_dec.c - proto3 JSON -> protobuf-c message.
 *
 * A hand-written recursive-descent parser that fills the message while it
 * reads, with no intermediate tree: integers are converted from their digits
 * (exact for all of uint64, no double detour as with jansson), strings are
 * validated as UTF-8 once, and an error names the field path.
 *
 * Memory: everything comes from the caller's allocator. The message under
 * construction is kept valid for protobuf_c_message_free_unpacked at every
 * step (strings and sub-messages are attached as soon as they exist,
 * repeated fields are collected in a temporary vector that is freed element
 * by element on error), so an error path only has to free the root.
 */
#include "json/pbjson.h"
#include "json/base64.h"
#include "json/jsonnum.h"
#include "json/pbjson_int.h"
#include "core/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMBER_P(m, off) ((void *)((char *)(m) + (off)))

/* One step of the field path, rendered only when an error is reported. */
typedef struct path_step {
    const char *name;  /* proto field name, or NULL for an index step */
    size_t index;      /* array index */
    char key[24];      /* map key (truncated), when is_key */
    int is_key;
} path_step_t;

typedef struct dec {
    const char *start, *p, *end;
    ProtobufCAllocator *alloc;
    fx_err_t *err;
    fx_buf_t scratch;  /* unescaped string text */
    int depth;
    int npath;
    path_step_t path[2 * FX_PBJSON_MAX_DEPTH + 8];
} dec_t;

enum { SET = 0, SKIPPED = 1 }; /* besides FX_EINVAL */

/* --- errors ----------------------------------------------------------------- */

static void render_path(dec_t *d, char *out, size_t cap)
{
    fx_buf_t b = FX_BUF_INIT;
    for (int i = 0; i < d->npath; i++) {
        const path_step_t *s = &d->path[i];
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

static int fail(dec_t *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(dec_t *d, const char *fmt, ...)
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

static int syntax(dec_t *d, const char *what)
{
    if (d->p >= d->end)
        return fail(d, "invalid JSON: unexpected end of input, expected %s", what);
    return fail(d, "invalid JSON at byte %zu: expected %s", (size_t)(d->p - d->start), what);
}

/* What the value at d->p is, for "expected X, got Y" messages. */
static const char *kind(const dec_t *d)
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

static void push_field(dec_t *d, const ProtobufCFieldDescriptor *f)
{
    path_step_t *s = &d->path[d->npath++];
    s->name = f->name;
}

static void push_index(dec_t *d, size_t i)
{
    path_step_t *s = &d->path[d->npath++];
    s->name = NULL;
    s->is_key = 0;
    s->index = i;
}

static void push_key(dec_t *d, const char *k, size_t n)
{
    path_step_t *s = &d->path[d->npath++];
    s->name = NULL;
    s->is_key = 1;
    snprintf(s->key, sizeof s->key, "%.*s%s", (int)FX_MIN(n, 16), k, n > 16 ? "..." : "");
}

/* --- allocation -------------------------------------------------------------- */

static void *xalloc(dec_t *d, size_t n)
{
    void *p = d->alloc->alloc(d->alloc->allocator_data, n ? n : 1);
    if (!p)
        FX_PANIC("out of memory in the protobuf allocator");
    return p;
}

static void xfree(dec_t *d, void *p)
{
    if (p)
        d->alloc->free(d->alloc->allocator_data, p);
}

static void *heap_alloc(void *ctx, size_t n)
{
    (void)ctx;
    return fx_malloc(n);
}

static void heap_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

/* Same malloc/free as protobuf-c's default, so free_unpacked(msg, NULL) works. */
static ProtobufCAllocator heap_allocator = {heap_alloc, heap_free, NULL};

/* --- lexical ----------------------------------------------------------------- */

static inline void ws(dec_t *d)
{
    while (d->p < d->end && (*d->p == ' ' || *d->p == '\n' || *d->p == '\r' || *d->p == '\t'))
        d->p++;
}

static inline int peek(dec_t *d, char c)
{
    ws(d);
    return d->p < d->end && *d->p == c;
}

static int literal(dec_t *d, const char *lit, size_t n)
{
    if ((size_t)(d->end - d->p) < n || memcmp(d->p, lit, n) != 0)
        return 0;
    d->p += n;
    return 1;
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

static void put_utf8(fx_buf_t *b, unsigned cp)
{
    uint8_t o[4];
    size_t n;
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        o[0] = (uint8_t)(0xc0 | cp >> 6);
        o[1] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        o[0] = (uint8_t)(0xe0 | cp >> 12);
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        o[0] = (uint8_t)(0xf0 | cp >> 18);
        o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        o[3] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 4;
    }
    fx_buf_append(b, o, n);
}

/* Length of the valid UTF-8 sequence at p (p[0] >= 0x80), 0 if invalid:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_len(const uint8_t *p, const uint8_t *end)
{
    uint8_t c = p[0];
    if (c >= 0xc2 && c <= 0xdf) {
        if (end - p >= 2 && (p[1] & 0xc0) == 0x80)
            return 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        uint8_t lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        if (end - p >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80)
            return 3;
    } else if (c >= 0xf0 && c <= 0xf4) {
        uint8_t lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        if (end - p >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 &&
            (p[3] & 0xc0) == 0x80)
            return 4;
    }
    return 0;
}

/*
 * Reads the string at d->p (which is '"'). *s and *n get its decoded text: a
 * range of the input when it has no escapes, else d->scratch (valid until
 * the next string is read). *has_nul is set if it contains U+0000.
 */
static int read_string(dec_t *d, const char **s, size_t *n, int *has_nul)
{
    const uint8_t *p = (const uint8_t *)d->p + 1, *end = (const uint8_t *)d->end, *run = p;
    int copy = 0;

    *has_nul = 0;
    for (;;) {
        if (p >= end) {
            d->p = d->end;
            return fail(d, "invalid JSON: unterminated string");
        }
        uint8_t c = *p;
        if (c == '"')
            break;
        if (FX_LIKELY(c >= 0x20 && c < 0x80 && c != '\\')) {
            p++;
            continue;
        }
        if (c >= 0x80) {
            size_t l = utf8_len(p, end);
            if (!l)
                return fail(d, "invalid UTF-8 in string at byte %zu",
                            (size_t)((const char *)p - d->start));
            p += l;
            continue;
        }
        if (c < 0x20)
            return fail(d, "invalid JSON at byte %zu: control character in string",
                        (size_t)((const char *)p - d->start));
        /* a backslash escape */
        if (!copy) {
            copy = 1;
            d->scratch.len = 0;
        }
        fx_buf_append(&d->scratch, run, (size_t)(p - run));
        if (end - p < 2) {
            d->p = d->end;
            return fail(d, "invalid JSON: unterminated string");
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
                return fail(d, "invalid JSON at byte %zu: bad \\u escape",
                            (size_t)((const char *)p - d->start) - 2);
            p += 4;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return fail(d, "invalid JSON at byte %zu: lone UTF-16 surrogate in \\u escape",
                            (size_t)((const char *)p - d->start) - 6);
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
                    hex4((const char *)p + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                    return fail(d, "invalid JSON at byte %zu: lone UTF-16 surrogate in \\u escape",
                                (size_t)((const char *)p - d->start) - 6);
                p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            if (cp == 0)
                *has_nul = 1;
            put_utf8(&d->scratch, cp);
            break;
        }
        default:
            return fail(d, "invalid JSON at byte %zu: bad escape \\%c",
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

static int enter(dec_t *d)
{
    if (++d->depth > FX_PBJSON_MAX_DEPTH)
        return fail(d, "JSON nested deeper than %d levels", FX_PBJSON_MAX_DEPTH);
    return FX_OK;
}

/* Skips one value of an unknown field, still checking its syntax. */
static int skip_value(dec_t *d)
{
    const char *s;
    size_t n;
    int nul, rc;

    ws(d);
    if (d->p >= d->end)
        return syntax(d, "a value");
    switch (*d->p) {
    case '"':
        return read_string(d, &s, &n, &nul);
    case 't':
        return literal(d, "true", 4) ? FX_OK : syntax(d, "a value");
    case 'f':
        return literal(d, "false", 5) ? FX_OK : syntax(d, "a value");
    case 'n':
        return literal(d, "null", 4) ? FX_OK : syntax(d, "a value");
    case '[':
        if ((rc = enter(d)))
            return rc;
        d->p++;
        if (peek(d, ']')) {
            d->p++;
            d->depth--;
            return FX_OK;
        }
        for (;;) {
            if ((rc = skip_value(d)))
                return rc;
            ws(d);
            if (d->p < d->end && *d->p == ',') {
                d->p++;
                continue;
            }
            if (d->p < d->end && *d->p == ']') {
                d->p++;
                d->depth--;
                return FX_OK;
            }
            return syntax(d, "',' or ']'");
        }
    case '{':
        if ((rc = enter(d)))
            return rc;
        d->p++;
        if (peek(d, '}')) {
            d->p++;
            d->depth--;
            return FX_OK;
        }
        for (;;) {
            if (!peek(d, '"'))
                return syntax(d, "a string key");
            if ((rc = read_string(d, &s, &n, &nul)))
                return rc;
            if (!peek(d, ':'))
                return syntax(d, "':'");
            d->p++;
            if ((rc = skip_value(d)))
                return rc;
            ws(d);
            if (d->p < d->end && *d->p == ',') {
                d->p++;
                continue;
            }
            if (d->p < d->end && *d->p == '}') {
                d->p++;
                d->depth--;
                return FX_OK;
            }
            return syntax(d, "',' or '}'");
        }
    default: {
        size_t l = fx_json_scan_number(d->p, d->end);
        if (!l)
            return syntax(d, "a value");
        d->p += l;
        return FX_OK;
    }
    }
}

/* --- scalar values --------------------------------------------------------------- */

static const char *int_type_name(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32: return "int32";
    case PROTOBUF_C_TYPE_SINT32: return "sint32";
    case PROTOBUF_C_TYPE_SFIXED32: return "sfixed32";
    case PROTOBUF_C_TYPE_UINT32: return "uint32";
    case PROTOBUF_C_TYPE_FIXED32: return "fixed32";
    case PROTOBUF_C_TYPE_INT64: return "int64";
    case PROTOBUF_C_TYPE_SINT64: return "sint64";
    case PROTOBUF_C_TYPE_SFIXED64: return "sfixed64";
    case PROTOBUF_C_TYPE_UINT64: return "uint64";
    case PROTOBUF_C_TYPE_FIXED64: return "fixed64";
    default: return "integer";
    }
}

/* Converts integer text (a JSON number, or the content of a JSON string)
 * for field type t and stores it at member. */
static int store_int(dec_t *d, ProtobufCType t, const char *s, size_t n, void *member)
{
    int is_signed = 1, bits = 64;
    uint64_t v;

    switch (t) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        bits = 32;
        break;
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
        bits = 32;
        is_signed = 0;
        break;
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
        is_signed = 0;
        break;
    default:
        break;
    }
    switch (fx_json_to_int(s, n, is_signed, bits, &v)) {
    case FX_JSONNUM_OK:
        break;
    case FX_JSONNUM_NOTINT:
        return fail(d, "%.*s is not an integer", (int)FX_MIN(n, 64), s);
    case FX_JSONNUM_RANGE:
        return fail(d, "%.*s is out of range for %s", (int)FX_MIN(n, 64), s,
                    t == PROTOBUF_C_TYPE_ENUM ? "an enum" : int_type_name(t));
    default:
        return fail(d, "\"%.*s\" is not a number", (int)FX_MIN(n, 64), s);
    }
    if (bits == 32) {
        uint32_t v32 = (uint32_t)v;
        memcpy(member, &v32, 4);
    } else {
        memcpy(member, &v, 8);
    }
    return SET;
}

static int read_int(dec_t *d, ProtobufCType t, void *member)
{
    const char *s;
    size_t n;
    int nul, rc;

    if (*d->p == '"') {
        if ((rc = read_string(d, &s, &n, &nul)))
            return rc;
        return store_int(d, t, s, n, member);
    }
    n = fx_json_scan_number(d->p, d->end);
    if (!n)
        return fail(d, "expected %s (a number or a numeric string), got %s", int_type_name(t),
                    kind(d));
    s = d->p;
    d->p += n;
    return store_int(d, t, s, n, member);
}

static int read_float(dec_t *d, ProtobufCType t, void *member)
{
    int is_float = t == PROTOBUF_C_TYPE_FLOAT, nul, rc;
    const char *s;
    size_t n;
    double v;

    if (*d->p == '"') {
        if ((rc = read_string(d, &s, &n, &nul)))
            return rc;
        if (n == 3 && memcmp(s, "NaN", 3) == 0) {
            v = __builtin_nan("");
            goto store;
        }
        if (n == 8 && memcmp(s, "Infinity", 8) == 0) {
            v = __builtin_inf();
            goto store;
        }
        if (n == 9 && memcmp(s, "-Infinity", 9) == 0) {
            v = -__builtin_inf();
            goto store;
        }
    } else {
        n = fx_json_scan_number(d->p, d->end);
        if (!n)
            return fail(d, "expected a %s (a number, \"NaN\", \"Infinity\" or \"-Infinity\"), got %s",
                        is_float ? "float" : "double", kind(d));
        s = d->p;
        d->p += n;
    }
    switch (fx_json_to_double(s, n, is_float, &v)) {
    case FX_JSONNUM_OK:
        break;
    case FX_JSONNUM_RANGE:
        return fail(d, "%.*s is out of range for a %s", (int)FX_MIN(n, 64), s,
                    is_float ? "float" : "double");
    default:
        return fail(d, "\"%.*s\" is not a number", (int)FX_MIN(n, 64), s);
    }
store:
    if (is_float) {
        float f = (float)v;
        memcpy(member, &f, 4);
    } else {
        memcpy(member, &v, 8);
    }
    return SET;
}

static int read_enum(dec_t *d, const ProtobufCFieldDescriptor *f, void *member)
{
    const ProtobufCEnumDescriptor *ed = f->descriptor;
    const char *s;
    size_t n;
    int nul, rc;

    if (*d->p != '"') {
        if (fx_json_scan_number(d->p, d->end) == 0)
            return fail(d, "expected an enum name or number, got %s", kind(d));
        return read_int(d, PROTOBUF_C_TYPE_ENUM, member);
    }
    if ((rc = read_string(d, &s, &n, &nul)))
        return rc;
    for (unsigned i = 0; ed && i < ed->n_values; i++) {
        const char *name = ed->values[i].name;
        if (strlen(name) == n && memcmp(name, s, n) == 0) {
            int v = ed->values[i].value;
            memcpy(member, &v, sizeof v);
            return SET;
        }
    }
    /* connect-go decodes with DiscardUnknown: an unknown name leaves the
     * field unset instead of failing the request. */
    return SKIPPED;
}

/* Copies text into a NUL-terminated string from the allocator. */
static char *dup_text(dec_t *d, const char *s, size_t n)
{
    char *p = xalloc(d, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

static int read_string_field(dec_t *d, char **member)
{
    const char *s;
    size_t n;
    int nul, rc;

    if (*d->p != '"')
        return fail(d, "expected a string, got %s", kind(d));
    if ((rc = read_string(d, &s, &n, &nul)))
        return rc;
    if (nul)
        return fail(d, "strings with U+0000 are not supported");
    *member = dup_text(d, s, n);
    return SET;
}

static int read_bytes(dec_t *d, ProtobufCBinaryData *member)
{
    const char *s;
    size_t n;
    int nul, rc;

    if (*d->p != '"')
        return fail(d, "expected a base64 string, got %s", kind(d));
    if ((rc = read_string(d, &s, &n, &nul)))
        return rc;
    uint8_t *buf = xalloc(d, fx_base64_decoded_max(n));
    long len = fx_base64_decode(s, n, buf);
    if (len < 0) {
        xfree(d, buf);
        return fail(d, "invalid base64");
    }
    if (len == 0) {
        xfree(d, buf);
        buf = NULL;
    }
    member->data = buf;
    member->len = (size_t)len;
    return SET;
}

static int read_message(dec_t *d, const ProtobufCMessageDescriptor *desc, ProtobufCMessage *m);

/*
 * Reads one value of field f into member (the field itself, an element slot
 * of a repeated field, or a map entry's value). Returns SET, SKIPPED (an
 * unknown enum name) or FX_EINVAL. A sub-message is stored in *member before
 * it is filled, so a failure leaves it reachable for freeing.
 */
static int read_value(dec_t *d, const ProtobufCFieldDescriptor *f, void *member)
{
    ws(d);
    if (d->p >= d->end)
        return syntax(d, "a value");
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
        return read_int(d, f->type, member);
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
        return read_float(d, f->type, member);
    case PROTOBUF_C_TYPE_BOOL:
        if (literal(d, "true", 4))
            *(protobuf_c_boolean *)member = 1;
        else if (literal(d, "false", 5))
            *(protobuf_c_boolean *)member = 0;
        else
            return fail(d, "expected true or false, got %s", kind(d));
        return SET;
    case PROTOBUF_C_TYPE_ENUM:
        return read_enum(d, f, member);
    case PROTOBUF_C_TYPE_STRING:
        return read_string_field(d, member);
    case PROTOBUF_C_TYPE_BYTES:
        return read_bytes(d, member);
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessageDescriptor *sd = f->descriptor;
        if (*d->p != '{')
            return fail(d, "expected an object, got %s", kind(d));
        ProtobufCMessage *sub = xalloc(d, sd->sizeof_message);
        protobuf_c_message_init(sd, sub);
        *(ProtobufCMessage **)member = sub;
        int rc = read_message(d, sd, sub);
        return rc ? rc : SET;
    }
    }
    return fail(d, "unsupported field type %d", (int)f->type);
}

/* --- repeated fields and maps ------------------------------------------------ */

static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return sizeof(void *);
    }
}

/* Elements collected before the array's final size is known: a small
 * inline buffer first, the heap past it. */
typedef struct vec {
    uint8_t *data;
    size_t n, cap; /* elements */
    size_t size;   /* element size */
    _Alignas(16) uint8_t inline_buf[256];
} vec_t;

static void *vec_push(vec_t *v)
{
    if (v->n == v->cap) {
        size_t cap = v->cap * 2;
        if (v->data == v->inline_buf) {
            uint8_t *p = fx_malloc(cap * v->size);
            memcpy(p, v->data, v->n * v->size);
            v->data = p;
        } else {
            v->data = fx_realloc(v->data, cap * v->size);
        }
        v->cap = cap;
    }
    void *slot = v->data + v->n++ * v->size;
    memset(slot, 0, v->size);
    return slot;
}

/* Frees what the elements own (the error path) and the vector itself. */
static void vec_free(dec_t *d, vec_t *v, ProtobufCType t, int owned)
{
    for (size_t i = 0; owned && i < v->n; i++) {
        void *slot = v->data + i * v->size;
        if (t == PROTOBUF_C_TYPE_STRING)
            xfree(d, *(char **)slot);
        else if (t == PROTOBUF_C_TYPE_BYTES)
            xfree(d, ((ProtobufCBinaryData *)slot)->data);
        else if (t == PROTOBUF_C_TYPE_MESSAGE && *(ProtobufCMessage **)slot)
            protobuf_c_message_free_unpacked(*(ProtobufCMessage **)slot, d->alloc);
    }
    if (v->data != v->inline_buf)
        free(v->data);
}

/* Moves the elements into an exact-size array from the allocator. */
static void vec_store(dec_t *d, vec_t *v, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    void *arr = NULL;
    if (v->n) {
        arr = xalloc(d, v->n * v->size);
        memcpy(arr, v->data, v->n * v->size);
    }
    *(void **)MEMBER_P(m, f->offset) = arr;
    *(size_t *)MEMBER_P(m, f->quantifier_offset) = v->n;
}

static int read_map_key(dec_t *d, const ProtobufCFieldDescriptor *kf, void *member)
{
    const char *s;
    size_t n;
    int nul, rc;

    if ((rc = read_string(d, &s, &n, &nul)))
        return rc;
    push_key(d, s, n);
    switch (kf->type) {
    case PROTOBUF_C_TYPE_STRING:
        if (nul)
            return fail(d, "strings with U+0000 are not supported");
        *(char **)member = dup_text(d, s, n);
        return SET;
    case PROTOBUF_C_TYPE_BOOL:
        if (n == 4 && memcmp(s, "true", 4) == 0)
            *(protobuf_c_boolean *)member = 1;
        else if (n == 5 && memcmp(s, "false", 5) == 0)
            *(protobuf_c_boolean *)member = 0;
        else
            return fail(d, "map key must be \"true\" or \"false\"");
        return SET;
    default:
        return store_int(d, kf->type, s, n, member);
    }
}

/* A map field: a JSON object whose members become *Entry messages. */
static int read_map(dec_t *d, const ProtobufCFieldDescriptor *f, ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
    vec_t v = {.size = sizeof(void *), .cap = 256 / sizeof(void *)};
    int rc;

    v.data = v.inline_buf;
    if (*d->p != '{') {
        rc = fail(d, "expected an object (a map), got %s", kind(d));
        goto out;
    }
    if ((rc = enter(d)))
        goto out;
    d->p++;
    if (peek(d, '}')) {
        d->p++;
        goto done;
    }
    for (;;) {
        if (!peek(d, '"')) {
            rc = syntax(d, "a string key");
            goto out;
        }
        ProtobufCMessage *e = xalloc(d, ed->sizeof_message);
        protobuf_c_message_init(ed, e);
        *(ProtobufCMessage **)vec_push(&v) = e;
        int np = d->npath;
        if ((rc = read_map_key(d, kf, (char *)e + kf->offset)) < 0)
            goto out;
        if (!peek(d, ':')) {
            rc = syntax(d, "':'");
            goto out;
        }
        d->p++;
        ws(d);
        if (d->p < d->end && *d->p == 'n') {
            rc = fail(d, "null is not a valid map value");
            goto out;
        }
        if ((rc = read_value(d, vf, (char *)e + vf->offset)) < 0)
            goto out;
        d->npath = np;
        ws(d);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
            continue;
        }
        if (d->p < d->end && *d->p == '}') {
            d->p++;
            break;
        }
        rc = syntax(d, "',' or '}'");
        goto out;
    }
done:
    d->depth--;
    vec_store(d, &v, m, f);
    vec_free(d, &v, f->type, 0);
    return SET;
out:
    vec_free(d, &v, f->type, 1);
    return rc;
}

static int read_repeated(dec_t *d, const ProtobufCFieldDescriptor *f, ProtobufCMessage *m)
{
    vec_t v = {.size = elem_size(f->type)};
    int rc;

    v.data = v.inline_buf;
    v.cap = sizeof v.inline_buf / v.size;
    if (*d->p != '[') {
        rc = fail(d, "expected an array, got %s", kind(d));
        goto out;
    }
    if ((rc = enter(d)))
        goto out;
    d->p++;
    if (peek(d, ']')) {
        d->p++;
        goto done;
    }
    for (size_t i = 0;; i++) {
        push_index(d, i);
        ws(d);
        if (d->p < d->end && *d->p == 'n') {
            rc = fail(d, "null is not a valid array element");
            goto out;
        }
        void *slot = vec_push(&v);
        if ((rc = read_value(d, f, slot)) < 0)
            goto out;
        if (rc == SKIPPED)
            v.n--;
        d->npath--;
        ws(d);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
            continue;
        }
        if (d->p < d->end && *d->p == ']') {
            d->p++;
            break;
        }
        rc = syntax(d, "',' or ']'");
        goto out;
    }
done:
    d->depth--;
    vec_store(d, &v, m, f);
    vec_free(d, &v, f->type, 0);
    return SET;
out:
    vec_free(d, &v, f->type, 1);
    return rc;
}

/* --- messages ---------------------------------------------------------------- */

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *desc,
                                                  const char *key, size_t n)
{
    for (unsigned i = 0; i < desc->n_fields; i++)
        if (fx__pbjson_name_is(desc->fields[i].name, key, n))
            return &desc->fields[i];
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const char *name = desc->fields[i].name;
        if (strlen(name) == n && memcmp(name, key, n) == 0)
            return &desc->fields[i];
    }
    return NULL;
}

/* Reads one field's value (d->p after the ':'). */
static int read_field(dec_t *d, const ProtobufCMessageDescriptor *desc,
                      const ProtobufCFieldDescriptor *f, ProtobufCMessage *m)
{
    int rc;
    void *member = MEMBER_P(m, f->offset);

    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return fx__pbjson_is_map(desc, f) ? read_map(d, f, m) : read_repeated(d, f, m);

    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *which = MEMBER_P(m, f->quantifier_offset);
        if (*which) {
            const ProtobufCFieldDescriptor *o = protobuf_c_message_descriptor_get_field(desc, *which);
            return fail(d, "oneof already set by field \"%s\"", o ? o->name : "?");
        }
        /* A string or message member is attached (and freeable) only once the
         * case says so, hence the case first; an unknown enum name undoes it. */
        *which = f->id;
        rc = read_value(d, f, member);
        if (rc == SKIPPED)
            *which = 0;
        return rc;
    }
    rc = read_value(d, f, member);
    if (rc == SET && f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
        f->type != PROTOBUF_C_TYPE_MESSAGE)
        *(protobuf_c_boolean *)MEMBER_P(m, f->quantifier_offset) = 1;
    return rc;
}

static int read_message(dec_t *d, const ProtobufCMessageDescriptor *desc, ProtobufCMessage *m)
{
    uint64_t seen_small[4] = {0}, *seen = seen_small;
    const char *key;
    size_t klen;
    int nul, rc;

    if (desc->n_fields > 64 * FX_ARRAY_LEN(seen_small))
        seen = fx_calloc((desc->n_fields + 63) / 64, sizeof *seen);
    if ((rc = enter(d)))
        goto out;
    d->p++; /* '{' */
    if (peek(d, '}')) {
        d->p++;
        goto done;
    }
    for (;;) {
        if (!peek(d, '"')) {
            rc = syntax(d, "a string key");
            goto out;
        }
        if ((rc = read_string(d, &key, &klen, &nul)))
            goto out;
        const ProtobufCFieldDescriptor *f = find_field(desc, key, klen);
        if (!peek(d, ':')) {
            rc = syntax(d, "':'");
            goto out;
        }
        d->p++;
        if (!f) {
            /* connect-go discards unknown fields; so do we. */
            if ((rc = skip_value(d)))
                goto out;
        } else {
            size_t idx = (size_t)(f - desc->fields);
            push_field(d, f);
            if (seen[idx / 64] & (1ull << (idx % 64))) {
                rc = fail(d, "duplicate field");
                goto out;
            }
            seen[idx / 64] |= 1ull << (idx % 64);
            ws(d);
            if (d->p >= d->end) {
                rc = syntax(d, "a value");
                goto out;
            }
            if (literal(d, "null", 4)) {
                rc = FX_OK; /* null = unset, for every field kind */
            } else if ((rc = read_field(d, desc, f, m)) < 0) {
                goto out;
            }
            d->npath--;
        }
        ws(d);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
            continue;
        }
        if (d->p < d->end && *d->p == '}') {
            d->p++;
            break;
        }
        rc = syntax(d, "',' or '}'");
        goto out;
    }
done:
    d->depth--;
    rc = FX_OK;
out:
    if (seen != seen_small)
        free(seen);
    return rc;
}

int fx_pbjson_decode(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
                     ProtobufCAllocator *alloc, ProtobufCMessage **out, fx_err_t *err)
{
    dec_t *d = fx_malloc(sizeof *d);
    ProtobufCMessage *m = NULL;
    int rc;

    d->start = d->p = json;
    d->end = json + len;
    d->alloc = alloc ? alloc : &heap_allocator;
    d->err = err;
    d->scratch = (fx_buf_t)FX_BUF_INIT;
    d->depth = 0;
    d->npath = 0;
    *out = NULL;

    ws(d);
    if (d->p >= d->end) {
        rc = fx_err_set(err, FX_EINVAL, "empty body: expected a JSON object");
        goto out;
    }
    if (*d->p != '{') {
        rc = fail(d, "expected a JSON object, got %s", kind(d));
        goto out;
    }
    m = xalloc(d, desc->sizeof_message);
    protobuf_c_message_init(desc, m);
    if ((rc = read_message(d, desc, m)))
        goto out;
    ws(d);
    if (d->p < d->end) {
        rc = fail(d, "invalid JSON at byte %zu: unexpected data after the object",
                  (size_t)(d->p - d->start));
        goto out;
    }
    *out = m;
    m = NULL;
out:
    if (m)
        protobuf_c_message_free_unpacked(m, d->alloc);
    fx_buf_free(&d->scratch);
    free(d);
    return rc;
}
