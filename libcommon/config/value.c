/*
 * value.c - option values: parsing flag/YAML text into typed storage,
 * formatting it back (flag syntax and YAML), durations and sizes, and the
 * YAML walk that applies a map to a set of option keys.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/internal.h"

#define SLOT(o, base) ((char *)(base) + (o)->offset)

const char *fx_opt_type_name(fx_opt_type_t t)
{
    switch (t) {
    case FX_OPT_STRING: return "string";
    case FX_OPT_INT: return "int";
    case FX_OPT_BOOL: return "bool";
    case FX_OPT_DOUBLE: return "float";
    case FX_OPT_DURATION: return "duration";
    case FX_OPT_SIZE: return "size";
    case FX_OPT_LIST: return "list";
    }
    return "?";
}

const char *fx_opt_yaml_key(const fx_opt_t *o, char *buf, size_t n)
{
    snprintf(buf, n, "%s", o->yaml ? o->yaml : o->flag);
    if (!o->yaml)
        for (char *p = buf; *p; p++)
            if (*p == '-')
                *p = '_';
    return buf;
}

/* ---- durations ------------------------------------------------------------ */

static const struct {
    const char *name;
    int64_t ns;
} dur_units[] = {
    /* Longer names first so "ms" is not read as "m". */
    {"ns", 1},
    {"us", 1000},
    {"\xc2\xb5s", 1000}, /* µs (micro sign) */
    {"\xce\xbcs", 1000}, /* μs (Greek mu) */
    {"ms", 1000000},
    {"s", 1000000000LL},
    {"m", 60 * 1000000000LL},
    {"h", 3600 * 1000000000LL},
    {"d", 86400 * 1000000000LL},
    {"w", 7 * 86400 * 1000000000LL},
    {"y", 365 * 86400 * 1000000000LL},
};

/* Go's time.ParseDuration syntax plus Prometheus' d, w and y; no sign. */
int fx_parse_duration(const char *s, int64_t *ns)
{
    long double total = 0;

    if (!*s)
        return -1;
    if (strcmp(s, "0") == 0) {
        *ns = 0;
        return 0;
    }
    while (*s) {
        const char *start = s;
        long double v = 0, scale = 1;
        int digits = 0;
        while (isdigit((unsigned char)*s)) {
            v = v * 10 + (*s++ - '0');
            digits++;
        }
        if (*s == '.') {
            s++;
            while (isdigit((unsigned char)*s)) {
                scale /= 10;
                v += (*s++ - '0') * scale;
                digits++;
            }
        }
        if (!digits || s - start > 40)
            return -1;
        size_t best = 0;
        int64_t unit = 0;
        for (size_t i = 0; i < FX_ARRAY_LEN(dur_units); i++) {
            size_t l = strlen(dur_units[i].name);
            if (l > best && strncmp(s, dur_units[i].name, l) == 0) {
                best = l;
                unit = dur_units[i].ns;
            }
        }
        if (!best)
            return -1;
        s += best;
        total += v * unit;
        if (total > (long double)INT64_MAX)
            return -1;
    }
    *ns = (int64_t)(total + 0.5L);
    return 0;
}

void fx_format_duration(int64_t ns, fx_buf_t *out)
{
    static const struct {
        const char *name;
        int64_t ns;
    } parts[] = {{"d", 86400 * 1000000000LL}, {"h", 3600 * 1000000000LL},
                 {"m", 60 * 1000000000LL},    {"s", 1000000000LL}};
    if (ns == 0) {
        fx_buf_puts(out, "0s");
        return;
    }
    if (ns < 0) {
        fx_buf_putc(out, '-');
        ns = ns == INT64_MIN ? INT64_MAX : -ns;
    }
    for (size_t i = 0; i < FX_ARRAY_LEN(parts); i++)
        if (ns >= parts[i].ns) {
            fx_buf_printf(out, "%lld%s", (long long)(ns / parts[i].ns), parts[i].name);
            ns %= parts[i].ns;
        }
    if (!ns)
        return;
    if (ns % 1000000 == 0)
        fx_buf_printf(out, "%lldms", (long long)(ns / 1000000));
    else if (ns % 1000 == 0)
        fx_buf_printf(out, "%lldus", (long long)(ns / 1000));
    else
        fx_buf_printf(out, "%lldns", (long long)ns);
}

/* ---- sizes ---------------------------------------------------------------- */

/* A number with an optional unit. As in dskit/Prometheus (alecthomas/units
 * Base2Bytes) every unit is binary: KB = KiB = 1024. Units are
 * case-insensitive. */
int fx_parse_size(const char *s, int64_t *bytes)
{
    static const struct {
        const char *name;
        int shift;
    } units[] = {{"", 0},     {"b", 0},    {"k", 10},   {"kb", 10},  {"ki", 10},
                 {"kib", 10}, {"m", 20},   {"mb", 20},  {"mi", 20},  {"mib", 20},
                 {"g", 30},   {"gb", 30},  {"gi", 30},  {"gib", 30}, {"t", 40},
                 {"tb", 40},  {"ti", 40},  {"tib", 40}};
    char *end;

    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || !isfinite(v) || end == s)
        return -1;
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < FX_ARRAY_LEN(units); i++) {
        if (strcasecmp(end, units[i].name) == 0) {
            double b = v * (double)(1ULL << units[i].shift);
            if (b >= 9.2e18)
                return -1;
            *bytes = (int64_t)b;
            return 0;
        }
    }
    return -1;
}

void fx_format_size(int64_t b, fx_buf_t *out)
{
    static const struct {
        const char *name;
        int shift;
    } units[] = {{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}};
    for (size_t i = 0; i < FX_ARRAY_LEN(units); i++) {
        int64_t u = (int64_t)1 << units[i].shift;
        if (b > 0 && b % u == 0) {
            fx_buf_printf(out, "%lld%s", (long long)(b / u), units[i].name);
            return;
        }
    }
    fx_buf_printf(out, "%lld", (long long)b);
}

/* ---- parse ------------------------------------------------------------------ */

static int parse_bool(const char *s, bool *out)
{
    static const char *yes[] = {"true", "1", "yes", "on", "t", "y"};
    static const char *no[] = {"false", "0", "no", "off", "f", "n"};
    for (size_t i = 0; i < FX_ARRAY_LEN(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

static int parse_int(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || isspace((unsigned char)*s))
        return -1;
    *out = v;
    return 0;
}

static void list_free(fx_strlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static void list_push(fx_strlist_t *l, const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (!n)
        return;
    l->v = fx_realloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = fx_strndup(s, n);
}

static int choice_ok(const char *choices, const char *s)
{
    size_t n = strlen(s);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t l = bar ? (size_t)(bar - p) : strlen(p);
        if (l == n && strncmp(p, s, n) == 0)
            return 1;
        p += l + (bar ? 1 : 0);
    }
    return 0;
}

static int check_bounds(const fx_opt_t *o, int64_t v, fx_err_t *err)
{
    if (o->min < o->max && (v < o->min || v > o->max)) {
        fx_buf_t lo = FX_BUF_INIT, hi = FX_BUF_INIT;
        if (o->type == FX_OPT_DURATION) {
            fx_format_duration(o->min, &lo);
            fx_format_duration(o->max, &hi);
        } else {
            fx_buf_printf(&lo, "%lld", (long long)o->min);
            fx_buf_printf(&hi, "%lld", (long long)o->max);
        }
        fx_err_set(err, FX_EINVAL, "must be between %s and %s", fx_buf_cstr(&lo),
                   fx_buf_cstr(&hi));
        fx_buf_free(&lo);
        fx_buf_free(&hi);
        return FX_EINVAL;
    }
    return FX_OK;
}

int fx_opt_parse(const fx_opt_t *o, void *base, const char *text, fx_err_t *err)
{
    void *p = SLOT(o, base);
    int64_t i64;
    bool b;

    switch (o->type) {
    case FX_OPT_STRING:
        if (o->choices && !choice_ok(o->choices, text)) {
            fx_buf_t list = FX_BUF_INIT;
            for (const char *c = o->choices; *c; c++)
                fx_buf_puts(&list, *c == '|' ? ", " : (char[2]){*c, 0});
            fx_err_set(err, FX_EINVAL, "invalid value \"%.64s\": expected one of %s", text,
                       fx_buf_cstr(&list));
            fx_buf_free(&list);
            return FX_EINVAL;
        }
        free(*(char **)p);
        *(char **)p = fx_strdup(text);
        return FX_OK;
    case FX_OPT_INT:
        if (parse_int(text, &i64) != 0)
            return fx_err_set(err, FX_EINVAL, "invalid value \"%.64s\": expected an integer",
                              text);
        if (check_bounds(o, i64, err) != FX_OK)
            return FX_EINVAL;
        *(int64_t *)p = i64;
        return FX_OK;
    case FX_OPT_BOOL:
        if (parse_bool(text, &b) != 0)
            return fx_err_set(err, FX_EINVAL, "invalid value \"%.64s\": expected true or false",
                              text);
        *(bool *)p = b;
        return FX_OK;
    case FX_OPT_DOUBLE: {
        char *end;
        errno = 0;
        double d = strtod(text, &end);
        if (errno || end == text || *end || !isfinite(d) || isspace((unsigned char)*text))
            return fx_err_set(err, FX_EINVAL, "invalid value \"%.64s\": expected a number", text);
        if (o->min < o->max && (d < (double)o->min || d > (double)o->max))
            return fx_err_set(err, FX_EINVAL, "must be between %lld and %lld",
                              (long long)o->min, (long long)o->max);
        *(double *)p = d;
        return FX_OK;
    }
    case FX_OPT_DURATION:
        if (fx_parse_duration(text, &i64) != 0)
            return fx_err_set(err, FX_EINVAL,
                              "invalid value \"%.64s\": expected a duration like 10s, 500ms, "
                              "1h30m or 7d",
                              text);
        if (check_bounds(o, i64, err) != FX_OK)
            return FX_EINVAL;
        *(int64_t *)p = i64;
        return FX_OK;
    case FX_OPT_SIZE:
        if (fx_parse_size(text, &i64) != 0)
            return fx_err_set(err, FX_EINVAL,
                              "invalid value \"%.64s\": expected a size like 4MiB, 512KiB or "
                              "1048576",
                              text);
        if (check_bounds(o, i64, err) != FX_OK)
            return FX_EINVAL;
        *(int64_t *)p = i64;
        return FX_OK;
    case FX_OPT_LIST: {
        fx_strlist_t *l = p, nl = {0};
        for (const char *s = text;;) {
            const char *comma = strchr(s, ',');
            size_t n = comma ? (size_t)(comma - s) : strlen(s);
            list_push(&nl, s, n);
            if (!comma)
                break;
            s = comma + 1;
        }
        list_free(l);
        *l = nl;
        return FX_OK;
    }
    }
    FX_PANIC("bad option type");
}

int fx_opt_parse_node(const fx_opt_t *o, void *base, const fx_yaml_node_t *node, fx_err_t *err)
{
    switch (node->type) {
    case FX_YAML_NULL:
        return FX_OK; /* `key:` with no value keeps the current value */
    case FX_YAML_SCALAR:
        if (strlen(node->str) != node->len)
            return fx_err_set(err, FX_EINVAL, "the value contains a NUL byte");
        return fx_opt_parse(o, base, node->str, err);
    case FX_YAML_SEQ:
        if (o->type == FX_OPT_LIST) {
            fx_strlist_t *l = (fx_strlist_t *)SLOT(o, base), nl = {0};
            for (const fx_yaml_node_t *c = node->child; c; c = c->next) {
                if (c->type != FX_YAML_SCALAR) {
                    list_free(&nl);
                    return fx_err_set(err, FX_EINVAL, "line %d: list items must be plain values",
                                      c->line);
                }
                list_push(&nl, c->str, strlen(c->str));
            }
            list_free(l);
            *l = nl;
            return FX_OK;
        }
        /* fall through */
    case FX_YAML_MAP:
        return fx_err_set(err, FX_EINVAL, "expected a value of type %s, got a %s",
                          fx_opt_type_name(o->type), fx_yaml_type_name(node->type));
    }
    FX_PANIC("bad node type");
}

/* ---- format ------------------------------------------------------------------ */

static void format_double(double d, fx_buf_t *out)
{
    char s[64];
    snprintf(s, sizeof s, "%.15g", d);
    if (strtod(s, NULL) != d)
        snprintf(s, sizeof s, "%.17g", d);
    fx_buf_puts(out, s);
}

void fx_opt_format(const fx_opt_t *o, const void *base, fx_buf_t *out)
{
    const void *p = (const char *)base + o->offset;
    switch (o->type) {
    case FX_OPT_STRING: {
        const char *s = *(char *const *)p;
        fx_buf_puts(out, s ? s : "");
        return;
    }
    case FX_OPT_INT: fx_buf_printf(out, "%lld", (long long)*(const int64_t *)p); return;
    case FX_OPT_BOOL: fx_buf_puts(out, *(const bool *)p ? "true" : "false"); return;
    case FX_OPT_DOUBLE: format_double(*(const double *)p, out); return;
    case FX_OPT_DURATION: fx_format_duration(*(const int64_t *)p, out); return;
    case FX_OPT_SIZE: fx_format_size(*(const int64_t *)p, out); return;
    case FX_OPT_LIST: {
        const fx_strlist_t *l = p;
        for (size_t i = 0; i < l->n; i++) {
            if (i)
                fx_buf_putc(out, ',');
            fx_buf_puts(out, l->v[i]);
        }
        return;
    }
    }
}

/* Plain YAML scalars are read back as strings only if they look like
 * nothing else; quote anything that might be a number, bool, null or that
 * holds YAML syntax. */
static int needs_quotes(const char *s)
{
    static const char *words[] = {"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"};
    if (!*s || !(isalpha((unsigned char)*s) || *s == '/' || *s == '_'))
        return 1;
    for (size_t i = 0; i < FX_ARRAY_LEN(words); i++)
        if (strcasecmp(s, words[i]) == 0)
            return 1;
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr("_./-", *p)))
            return 1;
    return 0;
}

/* Length and code point of the UTF-8 sequence at p, or 0 if invalid. */
static int utf8_next(const unsigned char *p, uint32_t *cp)
{
    int n = p[0] < 0xc2 ? 0 : p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : p[0] < 0xf5 ? 4 : 0;
    if (!n)
        return 0;
    uint32_t c = p[0] & (0x7f >> n);
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (p[i] & 0x3f);
    }
    if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
        (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

void fx_config_yaml_str(const char *s, fx_buf_t *out)
{
    if (!needs_quotes(s)) {
        fx_buf_puts(out, s);
        return;
    }
    fx_buf_putc(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        uint32_t cp;
        int n;
        switch (*p) {
        case '"': fx_buf_puts(out, "\\\""); p++; continue;
        case '\\': fx_buf_puts(out, "\\\\"); p++; continue;
        case '\n': fx_buf_puts(out, "\\n"); p++; continue;
        case '\t': fx_buf_puts(out, "\\t"); p++; continue;
        case '\r': fx_buf_puts(out, "\\r"); p++; continue;
        default: break;
        }
        if (*p >= 0x20 && *p < 0x7f) {
            fx_buf_putc(out, *p++);
        } else if (*p < 0x80) {
            fx_buf_printf(out, "\\x%02x", *p++);
        } else if ((n = utf8_next(p, &cp)) == 0) {
            fx_buf_printf(out, "\\x%02x", *p++); /* not UTF-8: keep it visible */
        } else {
            /* YAML folds NEL, LS and PS as line breaks and refuses a few
             * code points raw; escape those, keep all other text as is. */
            if (cp == 0x85 || cp == 0x2028 || cp == 0x2029 || cp == 0xfeff || cp < 0xa0 ||
                cp > 0xfffd)
                fx_buf_printf(out, cp > 0xffff ? "\\U%08x" : "\\u%04x", (unsigned)cp);
            else
                fx_buf_append(out, p, (size_t)n);
            p += n;
        }
    }
    fx_buf_putc(out, '"');
}

void fx_opt_format_yaml(const fx_opt_t *o, const void *base, fx_buf_t *out)
{
    const void *p = (const char *)base + o->offset;
    if (o->type == FX_OPT_STRING) {
        const char *s = *(char *const *)p;
        fx_config_yaml_str(s ? s : "", out);
    } else if (o->type == FX_OPT_LIST) {
        const fx_strlist_t *l = p;
        fx_buf_putc(out, '[');
        for (size_t i = 0; i < l->n; i++) {
            if (i)
                fx_buf_puts(out, ", ");
            fx_config_yaml_str(l->v[i], out);
        }
        fx_buf_putc(out, ']');
    } else {
        fx_opt_format(o, base, out);
    }
}

/* ---- YAML walk ------------------------------------------------------------------ */

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 128 || lb > 128)
        return (size_t)-1;
    size_t row[129];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = FX_MIN(row[j] + 1, row[j - 1] + 1);
            row[j] = FX_MIN(best, diag + cost);
            diag = up;
        }
    }
    return row[lb];
}

const char *fx__config_suggest(const char *s, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t bd = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(s, cands[i]);
        if (d < bd) {
            bd = d;
            best = cands[i];
        }
    }
    /* A typo is a few edits, not a different word. */
    return best && bd <= 2 + strlen(s) / 8 ? best : NULL;
}

static const fx__cfgkey_t *find_key(const fx__cfgkey_t *keys, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i].path, path) == 0)
            return &keys[i];
    return NULL;
}

static int has_prefix(const fx__cfgkey_t *keys, size_t n, const char *path)
{
    size_t l = strlen(path);
    for (size_t i = 0; i < n; i++)
        if (strncmp(keys[i].path, path, l) == 0 && keys[i].path[l] == '.')
            return 1;
    return 0;
}

static int unknown_key(const fx__cfgkey_t *keys, size_t n, const char *path, const char *shown,
                       const char *file, int line, fx_err_t *err)
{
    const char **cands = fx_calloc(n ? n : 1, sizeof *cands);
    for (size_t i = 0; i < n; i++)
        cands[i] = keys[i].path;
    const char *s = fx__config_suggest(path, cands, n);
    int rc;
    if (s)
        rc = fx_err_set(err, FX_EINVAL, "%s:%d: unknown configuration key \"%s\" (did you mean "
                        "\"%s\"?)", file, line, shown, s);
    else
        rc = fx_err_set(err, FX_EINVAL, "%s:%d: unknown configuration key \"%s\"", file, line,
                        shown);
    free(cands);
    return rc;
}

int fx__config_walk(const fx__cfgkey_t *keys, size_t n, const fx_yaml_node_t *node,
                    const char *prefix, const char *where, const char *file, uint64_t *set,
                    fx_err_t *err)
{
    if (!where)
        where = prefix;
    if (node->type == FX_YAML_NULL)
        return FX_OK;
    if (node->type != FX_YAML_MAP)
        return fx_err_set(err, FX_EINVAL, "%s:%d: %s%sexpected a map, got a %s", file,
                          node->line, where ? where : "", where ? ": " : "",
                          fx_yaml_type_name(node->type));
    for (const fx_yaml_node_t *c = node->child; c; c = c->next) {
        char path[512], shown[512];
        fx_err_t e = {0};
        int rc;
        snprintf(path, sizeof path, "%s%s%s", prefix ? prefix : "", prefix ? "." : "", c->key);
        snprintf(shown, sizeof shown, "%s%s%s", where ? where : "", where ? "." : "", c->key);
        const fx__cfgkey_t *k = find_key(keys, n, path);
        if (k && k->sec) {
            if ((rc = k->sec->apply(k->sec->ctx, c, file, err)) != FX_OK)
                return rc;
        } else if (k) {
            if ((rc = fx_opt_parse_node(k->opt, k->base, c, &e)) != FX_OK)
                return fx_err_set(err, rc, "%s:%d: %s: %s", file, c->line, shown, e.msg);
            if (set)
                *set |= 1ULL << k->idx;
        } else if (has_prefix(keys, n, path)) {
            if ((rc = fx__config_walk(keys, n, c, path, shown, file, set, err)) != FX_OK)
                return rc;
        } else {
            return unknown_key(keys, n, path, shown, file, c->key_line, err);
        }
    }
    return FX_OK;
}

int fx_opt_apply_map(const fx_opt_table_t *t, void *base, const fx_yaml_node_t *map,
                     const char *file, const char *where, uint64_t *set, fx_err_t *err)
{
    fx__cfgkey_t *keys = fx_calloc(t->n ? t->n : 1, sizeof *keys);
    char buf[256];
    size_t n = 0;
    FX_ASSERT(!set || t->n <= 64);
    for (size_t i = 0; i < t->n; i++) {
        if (t->opts[i].flags & FX_OPT_FLAG_ONLY)
            continue;
        keys[n++] = (fx__cfgkey_t){fx_strdup(fx_opt_yaml_key(&t->opts[i], buf, sizeof buf)),
                                   &t->opts[i], base, NULL, i};
    }
    int rc = fx__config_walk(keys, n, map, NULL, where, file, set, err);
    for (size_t i = 0; i < n; i++)
        free(keys[i].path);
    free(keys);
    return rc;
}
