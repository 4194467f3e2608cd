/* ingest.c - legacy /ingest: parameters, label derivation, text formats. */
#include "ingest.h"
#include "model/attime.h"
#include "model/folded.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --- name ---------------------------------------------------------------- */

static int app_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '/' || c == '-';
}

static int label_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.';
}

static const char *trim(fx_arena_t *a, const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return fx_arena_strndup(a, s, n);
}

int ingest_parse_name(const char *name, fx_arena_t *a, const char **app, fx_labels_t *labels,
                      fx_err_t *err)
{
    const char *brace = strchr(name, '{');
    size_t applen = brace ? (size_t)(brace - name) : strlen(name);
    const char *t = trim(a, name, applen);

    labels->v = NULL;
    labels->len = 0;
    if (!*t)
        return fx_err_set(err, FX_EINVAL, "parameter name: the application name is empty");
    for (const char *p = t; *p; p++)
        if (!app_char(*p))
            return fx_err_set(err, FX_EINVAL,
                              "parameter name: invalid character '%c' in application name \"%.100s\" "
                              "(allowed: A-Z a-z 0-9 _ . / -)", *p, t);
    *app = t;
    if (!brace)
        return FX_OK;
    const char *end = strrchr(brace, '}');
    if (!end || end[1])
        return fx_err_set(err, FX_EINVAL, "parameter name: missing closing '}' in \"%.200s\"", name);
    /* Count pairs to size the array, then fill it. */
    size_t cap = 1;
    for (const char *p = brace; p < end; p++)
        cap += *p == ',';
    labels->v = fx_arena_alloc(a, cap * sizeof *labels->v);
    const char *p = brace + 1;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        const char *k = trim(a, p, eq ? (size_t)(eq - p) : (size_t)(stop - p));
        if (!eq) {
            if (*k) /* "{a}" is an error; "{}" and "{a=1,}" are fine */
                return fx_err_set(err, FX_EINVAL, "parameter name: label \"%.100s\" has no value", k);
        } else {
            if (!*k)
                return fx_err_set(err, FX_EINVAL, "parameter name: empty label name");
            for (const char *q = k; *q; q++)
                if (!label_char(*q))
                    return fx_err_set(err, FX_EINVAL,
                                      "parameter name: invalid character '%c' in label name \"%.100s\"",
                                      *q, k);
            if (strcmp(k, FX_LABEL_NAME) == 0)
                return fx_err_set(err, FX_EINVAL, "parameter name: label __name__ is reserved");
            fx_labels_set(labels, k, trim(a, eq + 1, (size_t)(stop - eq - 1)));
        }
        p = stop + 1;
    }
    return FX_OK;
}

/* --- parameters ---------------------------------------------------------- */

int ingest_parse_params(ingest_query_fn query, void *req, const char *content_type, int64_t now_ns,
                        fx_arena_t *a, ingest_params_t *out, fx_err_t *err)
{
    const char *v;
    int rc;

    memset(out, 0, sizeof *out);
    if (!(v = query(req, "name")) || !*v)
        return fx_err_set(err, FX_EINVAL, "parameter name is required (e.g. name=myapp.cpu{env=prod})");
    if ((rc = ingest_parse_name(v, a, &out->app, &out->labels, err)) < 0)
        return rc;
    if ((rc = fx_attime_parse((v = query(req, "from")) ? v : "", now_ns, &out->from_ns, err)) < 0)
        return fx_err_prefix(err, "parameter from");
    if ((rc = fx_attime_parse((v = query(req, "until")) ? v : "", now_ns, &out->until_ns, err)) < 0)
        return fx_err_prefix(err, "parameter until");
    out->sample_rate = 100;
    if ((v = query(req, "sampleRate")) && *v) {
        long long r = strtoll(v, NULL, 10);
        if (r > 0)
            out->sample_rate = r;
    }
    out->spy_name = (v = query(req, "spyName")) && *v ? v : "unknown";
    v = query(req, "format");
    if (!v || !*v) {
        out->format = content_type && strstr(content_type, "multipart/form-data")
                          ? INGEST_FORMAT_MULTIPART
                          : INGEST_FORMAT_FOLDED;
        if (content_type && strstr(content_type, "binary/octet-stream+trie"))
            return fx_err_set(err, FX_EINVAL, "format trie is not supported by Fornax; "
                              "send pprof, folded or lines");
    } else if (!strcmp(v, "pprof")) {
        out->format = INGEST_FORMAT_PPROF;
    } else if (!strcmp(v, "lines")) {
        out->format = INGEST_FORMAT_LINES;
    } else if (!strcmp(v, "trie") || !strcmp(v, "tree") || !strcmp(v, "jfr") ||
               !strcmp(v, "speedscope")) {
        return fx_err_set(err, FX_EINVAL, "format %s is not supported by Fornax; "
                          "send pprof, folded or lines", v);
    } else {
        out->format = INGEST_FORMAT_FOLDED; /* "folded", "collapsed", "groups", anything else */
    }
    return FX_OK;
}

/* --- labels -------------------------------------------------------------- */

/* __name__ from the first sample type that says what the profile is. */
static const char *infer_name(const fx_pprof_t *p)
{
    for (size_t i = 0; i < p->nsample_types; i++) {
        fx_slice_t t = fx_pprof_str(p, p->sample_types[i].type);
        char buf[128];
        size_t n = t.len < sizeof buf - 1 ? t.len : sizeof buf - 1;
        memcpy(buf, t.data, n);
        buf[n] = 0;
        if (!strcmp(buf, "wall"))
            return "wall";
        if (strstr(buf, "cpu"))
            return "process_cpu";
        if (!strncmp(buf, "alloc_", 6) || !strncmp(buf, "inuse_", 6) || strstr(buf, "space") ||
            strstr(buf, "objects"))
            return "memory";
        if (!strncmp(buf, "mutex_", 6))
            return "mutex";
        if (!strncmp(buf, "block_", 6))
            return "block";
        if (!strncmp(buf, "goroutine", 9))
            return "goroutines";
    }
    return "process_cpu";
}

/* Labels from `name`, minus reserved ones, with room for `extra` more. */
static fx_labels_t base_labels(const ingest_params_t *params, fx_arena_t *a, size_t extra)
{
    fx_labels_t l = fx_labels_copy(a, &params->labels, extra);
    size_t o = 0;
    for (size_t i = 0; i < l.len; i++)
        if (strncmp(l.v[i].name, "__", 2) != 0 || !strcmp(l.v[i].name, "__session_id__"))
            l.v[o++] = l.v[i];
    l.len = o;
    return l;
}

fx_labels_t ingest_pprof_labels(const ingest_params_t *params, const fx_pprof_t *p, fx_arena_t *a)
{
    fx_labels_t l = base_labels(params, a, 4);
    if (!fx_labels_get(&l, FX_LABEL_SERVICE_NAME))
        fx_labels_set(&l, FX_LABEL_SERVICE_NAME, params->app);
    fx_labels_set(&l, "pyroscope_spy", params->spy_name);
    fx_labels_set(&l, FX_LABEL_DELTA, "false");
    fx_labels_set(&l, FX_LABEL_NAME, infer_name(p));
    return l;
}

/* --- text formats -------------------------------------------------------- */

typedef struct text_type {
    const char *suffix, *name, *type, *unit, *period_type, *period_unit;
    int scale; /* values are sample counts at sampleRate Hz: scale to ns */
} text_type_t;

/* App-name suffix -> profile type for folded/lines uploads. */
static const text_type_t text_types[] = {
    {"cpu", "process_cpu", "cpu", "nanoseconds", "cpu", "nanoseconds", 1},
    {"itimer", "process_cpu", "cpu", "nanoseconds", "cpu", "nanoseconds", 1},
    {"wall", "wall", "wall", "nanoseconds", "wall", "nanoseconds", 1},
    {"alloc_objects", "memory", "alloc_objects", "count", "space", "bytes", 0},
    {"alloc_space", "memory", "alloc_space", "bytes", "space", "bytes", 0},
    {"inuse_objects", "memory", "inuse_objects", "count", "space", "bytes", 0},
    {"inuse_space", "memory", "inuse_space", "bytes", "space", "bytes", 0},
    {"goroutines", "goroutine", "goroutine", "count", "goroutine", "count", 0},
    {"mutex_count", "mutex", "contentions", "count", "mutex", "count", 0},
    {"mutex_duration", "mutex", "delay", "nanoseconds", "mutex", "count", 0},
    {"block_count", "block", "contentions", "count", "block", "count", 0},
    {"block_duration", "block", "delay", "nanoseconds", "block", "count", 0},
    {"lock_count", "mutex", "contentions", "count", "mutex", "count", 0},
    {"lock_duration", "mutex", "delay", "nanoseconds", "mutex", "count", 0},
    {"alloc_in_new_tlab_objects", "memory", "alloc_in_new_tlab_objects", "count", "space", "bytes", 0},
    {"alloc_in_new_tlab_bytes", "memory", "alloc_in_new_tlab_bytes", "bytes", "space", "bytes", 0},
    {"alloc_outside_tlab_objects", "memory", "alloc_outside_tlab_objects", "count", "space", "bytes", 0},
    {"alloc_outside_tlab_bytes", "memory", "alloc_outside_tlab_bytes", "bytes", "space", "bytes", 0},
    {"live", "memory", "live", "count", "objects", "count", 0},
    {"exceptions", "exceptions", "exceptions", "count", "exceptions", "count", 0},
};

typedef struct text_ctx {
    fx_pprof_builder_t *b;
    int64_t scale;
    fx_err_t *err;
    uint64_t locs[FX_FOLDED_MAX_DEPTH];
} text_ctx_t;

static int add_text_stack(const fx_slice_t *frames, size_t n, int64_t value, void *ctx)
{
    text_ctx_t *c = ctx;
    for (size_t i = 0; i < n; i++) /* folded is root first; pprof is leaf first */
        c->locs[n - 1 - i] = fx_pprof_builder_frame(c->b, (const char *)frames[i].data, frames[i].len);
    if (value > INT64_MAX / c->scale)
        return fx_err_set(c->err, FX_EINVAL, "folded value %lld is too large", (long long)value);
    int64_t v = value * c->scale;
    fx_pprof_builder_sample(c->b, c->locs, n, &v);
    return FX_OK;
}

int ingest_text_to_pprof(const ingest_params_t *params, const char *body, size_t len,
                         fx_pprof_builder_t *b, fx_arena_t *a, fx_labels_t *labels,
                         fx_pprof_t **out, fx_err_t *err)
{
    const text_type_t *tt = &text_types[0];
    const char *service = params->app;
    const char *dot = strrchr(params->app, '.');
    int rc;

    if (dot) {
        size_t i;
        for (i = 0; i < FX_ARRAY_LEN(text_types); i++)
            if (!strcmp(dot + 1, text_types[i].suffix))
                break;
        if (i == FX_ARRAY_LEN(text_types))
            return fx_err_set(err, FX_EINVAL,
                              "parameter name: unknown profile type suffix \".%.64s\" in \"%.100s\" "
                              "(use e.g. myapp.cpu, myapp.wall, myapp.inuse_space)", dot + 1,
                              params->app);
        tt = &text_types[i];
        service = fx_arena_strndup(a, params->app, (size_t)(dot - params->app));
    }
    fx_pprof_builder_sample_type(b, tt->type, tt->unit);
    /* Intern every string before finish(): it snapshots the table. */
    int64_t period_type = fx_pprof_builder_string(b, tt->period_type, strlen(tt->period_type));
    int64_t period_unit = fx_pprof_builder_string(b, tt->period_unit, strlen(tt->period_unit));
    text_ctx_t *c = fx_malloc(sizeof *c);
    c->b = b;
    c->err = err;
    /* Each sample is one period of 1e9/sampleRate ns (integer, as Pyroscope
     * computes it, so every value is a multiple of the period). */
    c->scale = tt->scale ? 1000000000 / params->sample_rate : 1;
    rc = fx_folded_each(body, len, params->format != INGEST_FORMAT_LINES, add_text_stack, c, err);
    free(c);
    if (rc < 0)
        return rc;
    fx_pprof_t *p = fx_pprof_builder_finish(b);
    p->time_nanos = params->from_ns;
    p->duration_nanos = params->until_ns > params->from_ns ? params->until_ns - params->from_ns : 0;
    p->period_type.type = period_type;
    p->period_type.unit = period_unit;
    p->has_period_type = 1;
    p->period = tt->scale ? 1000000000 / params->sample_rate : 0;

    fx_labels_t l = base_labels(params, a, 4);
    fx_labels_del(&l, "profile_id"); /* span links make no sense for aggregated text */
    if (fx_labels_get(&l, FX_LABEL_SERVICE_NAME))
        fx_labels_set(&l, "app_name", service);
    else
        fx_labels_set(&l, FX_LABEL_SERVICE_NAME, service);
    fx_labels_set(&l, "pyroscope_spy", params->spy_name);
    fx_labels_set(&l, FX_LABEL_NAME, tt->name);
    *labels = l;
    *out = p;
    return FX_OK;
}

/* --- multipart sample_type_config ----------------------------------------- */

/* Returns the string index of s in p, appending it (from a) if absent. */
static int64_t intern_string(fx_pprof_t *p, const char *s, fx_arena_t *a)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < p->nstrings; i++)
        if (p->strings[i].len == n && memcmp(p->strings[i].data, s, n) == 0)
            return (int64_t)i;
    fx_slice_t *ns = fx_arena_alloc(a, (p->nstrings + 1) * sizeof *ns);
    memcpy(ns, p->strings, p->nstrings * sizeof *ns);
    ns[p->nstrings].data = (const uint8_t *)fx_arena_strdup(a, s);
    ns[p->nstrings].len = n;
    p->strings = ns;
    return (int64_t)p->nstrings++;
}

int ingest_apply_sample_type_config(fx_pprof_t *p, const char *json, size_t len, fx_arena_t *a,
                                    int *changed, fx_err_t *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    int rc = FX_OK;

    if (!root || !json_is_object(root)) {
        rc = fx_err_set(err, FX_EINVAL, "sample_type_config is not a JSON object: %s",
                        root ? "wrong type" : jerr.text);
        goto out;
    }
    for (size_t i = 0; i < p->nsample_types; i++) {
        fx_slice_t t = fx_pprof_str(p, p->sample_types[i].type);
        char *name = fx_arena_strndup(a, (const char *)t.data, t.len);
        json_t *cfg = json_object_get(root, name);
        if (!cfg)
            continue;
        if (!json_is_object(cfg)) {
            rc = fx_err_set(err, FX_EINVAL, "sample_type_config[%s] is not an object", name);
            goto out;
        }
        json_t *units = json_object_get(cfg, "units");
        json_t *display = json_object_get(cfg, "display-name");
        if (json_is_string(units) && json_string_length(units)) {
            p->sample_types[i].unit = intern_string(p, json_string_value(units), a);
            *changed = 1;
        }
        if (json_is_string(display) && json_string_length(display)) {
            p->sample_types[i].type = intern_string(p, json_string_value(display), a);
            *changed = 1;
        }
    }
out:
    json_decref(root);
    return rc;
}
