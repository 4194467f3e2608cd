/* labels.c - label sets: sort, lookup, format, hashing, validation. */
#include "model/labels.h"
#include "core/hash.h"
#include "core/utf8.h"

#include <stdlib.h>
#include <string.h>

static int cmp_label(const void *a, const void *b)
{
    const fx_label_t *x = a, *y = b;
    return strcmp(x->name, y->name);
}

void fx_labels_sort(fx_labels_t *l)
{
    /* Insertion sort: label sets are small and usually almost sorted, and
     * it is stable, unlike qsort. */
    for (size_t i = 1; i < l->len; i++) {
        fx_label_t x = l->v[i];
        size_t j = i;
        while (j > 0 && cmp_label(&l->v[j - 1], &x) > 0) {
            l->v[j] = l->v[j - 1];
            j--;
        }
        l->v[j] = x;
    }
}

const char *fx_labels_get(const fx_labels_t *l, const char *name)
{
    for (size_t i = 0; i < l->len; i++)
        if (strcmp(l->v[i].name, name) == 0)
            return l->v[i].value;
    return NULL;
}

int fx_labels_cmp(const fx_labels_t *a, const fx_labels_t *b)
{
    for (size_t i = 0; i < a->len && i < b->len; i++) {
        int c = strcmp(a->v[i].name, b->v[i].name);
        if (!c)
            c = strcmp(a->v[i].value, b->v[i].value);
        if (c)
            return c;
    }
    return (a->len > b->len) - (a->len < b->len);
}

fx_labels_t fx_labels_copy(fx_arena_t *a, const fx_labels_t *l, size_t extra)
{
    fx_labels_t c;
    c.v = fx_arena_alloc(a, (l->len + extra) * sizeof *c.v);
    if (l->len)
        memcpy(c.v, l->v, l->len * sizeof *c.v);
    c.len = l->len;
    return c;
}

void fx_labels_set(fx_labels_t *l, const char *name, const char *value)
{
    for (size_t i = 0; i < l->len; i++)
        if (strcmp(l->v[i].name, name) == 0) {
            l->v[i].value = value;
            return;
        }
    l->v[l->len].name = name;
    l->v[l->len].value = value;
    l->len++;
}

void fx_labels_del(fx_labels_t *l, const char *name)
{
    for (size_t i = 0; i < l->len; i++)
        if (strcmp(l->v[i].name, name) == 0) {
            memmove(&l->v[i], &l->v[i + 1], (l->len - i - 1) * sizeof *l->v);
            l->len--;
            return;
        }
}

/* Go's strconv.Quote for the ASCII cases that matter; other bytes >= 0x80
 * are copied (Go keeps printable UTF-8 as is). */
static void go_quote(fx_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    fx_buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fx_buf_puts(b, "\\\""); break;
        case '\\': fx_buf_puts(b, "\\\\"); break;
        case '\n': fx_buf_puts(b, "\\n"); break;
        case '\r': fx_buf_puts(b, "\\r"); break;
        case '\t': fx_buf_puts(b, "\\t"); break;
        case '\a': fx_buf_puts(b, "\\a"); break;
        case '\b': fx_buf_puts(b, "\\b"); break;
        case '\f': fx_buf_puts(b, "\\f"); break;
        case '\v': fx_buf_puts(b, "\\v"); break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                char e[4] = {'\\', 'x', hex[*p >> 4], hex[*p & 15]};
                fx_buf_append(b, e, 4);
            } else {
                fx_buf_putc(b, *p);
            }
        }
    }
    fx_buf_putc(b, '"');
}

void fx_labels_format(const fx_labels_t *l, fx_buf_t *out)
{
    fx_buf_putc(out, '{');
    for (size_t i = 0; i < l->len; i++) {
        if (i)
            fx_buf_puts(out, ", ");
        fx_buf_puts(out, l->v[i].name);
        fx_buf_putc(out, '=');
        go_quote(out, l->v[i].value);
    }
    fx_buf_putc(out, '}');
}

uint64_t fx_labels_fingerprint(const fx_labels_t *l)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < l->len; i++) {
        for (const unsigned char *p = (const unsigned char *)l->v[i].name; *p; p++)
            h = (h ^ *p) * 1099511628211ULL;
        h = (h ^ 0xff) * 1099511628211ULL;
        for (const unsigned char *p = (const unsigned char *)l->v[i].value; *p; p++)
            h = (h ^ *p) * 1099511628211ULL;
        h = (h ^ 0xfe) * 1099511628211ULL;
    }
    return h;
}

uint32_t fx_labels_token(const char *tenant, const fx_labels_t *l)
{
    fx_buf_t s = FX_BUF_INIT;
    uint32_t h = fx_fnv1_32(FX_FNV32_OFFSET, tenant, strlen(tenant));
    fx_labels_format(l, &s);
    h = fx_fnv1_32(h, s.data, s.len);
    fx_buf_free(&s);
    return h;
}

/* [A-Za-z_][A-Za-z0-9_]*, and with dots, [A-Za-z_.][A-Za-z0-9_.]*. */
static int name_ok(const char *s, int dots)
{
    if (!*s || (*s >= '0' && *s <= '9'))
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || (dots && *s == '.')))
            return 0;
    return 1;
}

int fx_label_name_is_legacy(const char *s)
{
    return name_ok(s, 0);
}

int fx_labels_validate(fx_labels_t *l, const fx_label_limits_t *lim, fx_arena_t *a, fx_err_t *err)
{
    if (l->len == 0)
        return fx_err_set(err, FX_EINVAL, "series has no labels");
    if (lim->max_names && l->len > lim->max_names)
        return fx_err_set(err, FX_EINVAL,
                          "series has %zu labels, over the limit of %zu (max_label_names_per_series)",
                          l->len, lim->max_names);
    for (size_t i = 0; i < l->len; i++) {
        const char *n = l->v[i].name, *v = l->v[i].value;
        size_t nl = strlen(n), vl = strlen(v);
        if (lim->max_name_len && nl > lim->max_name_len)
            return fx_err_set(err, FX_EINVAL,
                              "label name \"%.64s...\" is %zu bytes, over the limit of %zu "
                              "(max_label_name_length)", n, nl, lim->max_name_len);
        if (lim->max_value_len && vl > lim->max_value_len)
            return fx_err_set(err, FX_EINVAL,
                              "value of label \"%.64s\" is %zu bytes, over the limit of %zu "
                              "(max_label_value_length)", n, vl, lim->max_value_len);
        if (!fx_utf8_valid((const uint8_t *)n, nl))
            return fx_err_set(err, FX_EINVAL, "label name is not valid UTF-8");
        if (!fx_utf8_valid((const uint8_t *)v, vl))
            return fx_err_set(err, FX_EINVAL, "value of label \"%.64s\" is not valid UTF-8", n);
        if (nl == 0)
            return fx_err_set(err, FX_EINVAL, "series has a label with an empty name");
        if (!lim->allow_utf8_names) {
            /* Pyroscope accepts dots and rewrites them. */
            if (!name_ok(n, 1))
                return fx_err_set(err, FX_EINVAL,
                                  "label name \"%.64s\" is invalid: names must match "
                                  "[A-Za-z_.][A-Za-z0-9_.]*", n);
            if (strchr(n, '.')) {
                char *c = fx_arena_strndup(a, n, nl);
                for (char *p = c; *p; p++)
                    if (*p == '.')
                        *p = '_';
                l->v[i].name = c;
            }
        }
    }
    fx_labels_sort(l);
    for (size_t i = 1; i < l->len; i++)
        if (strcmp(l->v[i - 1].name, l->v[i].name) == 0)
            return fx_err_set(err, FX_EINVAL, "series has the label \"%.64s\" more than once",
                              l->v[i].name);
    const char *name = fx_labels_get(l, FX_LABEL_NAME);
    if (!name || !*name)
        return fx_err_set(err, FX_EINVAL, "series has no profile name (label __name__)");
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == ':' ||
              (p != name && *p >= '0' && *p <= '9')))
            return fx_err_set(err, FX_EINVAL,
                              "profile name (__name__) \"%.64s\" is not a valid metric name", name);
    const char *svc = fx_labels_get(l, FX_LABEL_SERVICE_NAME);
    if (svc && !*svc)
        return fx_err_set(err, FX_EINVAL, "label service_name must not be empty");
    return FX_OK;
}
