/*
 * request.c - parses and validates POST /api/v1/explain bodies (jansson), and resolves each
 * SOURCE to a call tree. Every message names the field that was wrong, because it is shown
 * to the user as the 400 error.
 */
#include "explain/explain.h"
#include "core/gz.h"
#include "json/base64.h"
#include "model/folded.h"

#include <jansson.h>
#include <string.h>

static const char *const side_names[2][2] = {{"target", "target"}, {"baseline", "comparison"}};

static const char *where(const fx_explain_request_t *req, int i)
{
    return side_names[req->diff][i];
}

/* Rejects keys outside allowed (a NULL-terminated list): a typo must not be ignored. */
static int only_keys(json_t *obj, const char *const *allowed, const char *what, fx_err_t *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(k, *a) == 0;
        if (!ok) {
            char list[160] = "";
            for (const char *const *a = allowed; *a; a++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s\"%s\"",
                         a == allowed ? "" : ", ", *a);
            return fx_err_set(err, FX_EINVAL, "%s: unknown field \"%.64s\" (expected %s)", what,
                              k, list);
        }
    }
    return FX_OK;
}

static int ms_field(json_t *q, const char *name, const char *what, int64_t *out, fx_err_t *err)
{
    json_t *v = json_object_get(q, name);
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return FX_OK;
    }
    const char *s = json_string_value(v);
    if (s && *s && strlen(s) <= 18 && strspn(s, "0123456789") == strlen(s)) {
        *out = 0;
        for (const char *p = s; *p; p++)
            *out = *out * 10 + (*p - '0');
        return FX_OK;
    }
    return fx_err_set(err, FX_EINVAL,
                      "%s.query.%s is required: milliseconds since the Unix epoch (a number)",
                      what, name);
}

static const char *arena_str(fx_explain_request_t *req, json_t *v)
{
    return fx_arena_strndup(&req->arena, json_string_value(v), json_string_length(v));
}

static int parse_query(fx_explain_request_t *req, json_t *q, const char *what,
                       fx_explain_source_t *src, fx_err_t *err)
{
    static const char *const keys[] = {"profile_type_id", "label_selector", "start", "end", NULL};
    char ctx[32];
    snprintf(ctx, sizeof ctx, "%s.query", what);
    if (!json_is_object(q))
        return fx_err_set(err, FX_EINVAL, "%s must be an object", ctx);
    int rc = only_keys(q, keys, ctx, err);
    if (rc != FX_OK)
        return rc;
    json_t *pt = json_object_get(q, "profile_type_id");
    if (!json_is_string(pt) || json_string_length(pt) == 0)
        return fx_err_set(err, FX_EINVAL,
                          "%s.profile_type_id is required (e.g. "
                          "\"process_cpu:cpu:nanoseconds:cpu:nanoseconds\")",
                          ctx);
    json_t *sel = json_object_get(q, "label_selector");
    if (sel && !json_is_string(sel))
        return fx_err_set(err, FX_EINVAL, "%s.label_selector must be a string like "
                                          "'{service_name=\"api\"}'",
                          ctx);
    src->kind = FX_EXPLAIN_SRC_QUERY;
    src->query.profile_type_id = arena_str(req, pt);
    src->query.label_selector =
        sel && json_string_length(sel) ? arena_str(req, sel) : "{}";
    if ((rc = ms_field(q, "start", what, &src->query.start_ms, err)) != FX_OK ||
        (rc = ms_field(q, "end", what, &src->query.end_ms, err)) != FX_OK)
        return rc;
    if (src->query.start_ms >= src->query.end_ms)
        return fx_err_set(err, FX_EINVAL, "%s.start must be before %s.end", ctx, ctx);
    return FX_OK;
}

static int parse_pprof(fx_explain_request_t *req, json_t *obj, const char *what,
                       fx_explain_source_t *src, fx_err_t *err)
{
    json_t *b64 = json_object_get(obj, "pprof_base64"), *st = json_object_get(obj, "sample_type");
    if (!json_is_string(b64) || json_string_length(b64) == 0)
        return fx_err_set(err, FX_EINVAL, "%s.pprof_base64 must be a non-empty base64 string",
                          what);
    if (st && !json_is_string(st))
        return fx_err_set(err, FX_EINVAL, "%s.sample_type must be a string such as \"cpu\"",
                          what);
    if (json_string_length(b64) / 4 * 3 > FX_EXPLAIN_MAX_SOURCE)
        return fx_err_set(err, FX_ETOOBIG, "%s.pprof_base64 is larger than %u MiB", what,
                          FX_EXPLAIN_MAX_SOURCE >> 20);
    fx_buf_t raw = FX_BUF_INIT, plain = FX_BUF_INIT;
    int rc = FX_OK;
    /* Standard or URL-safe base64, padding optional, line breaks ignored. */
    size_t b64len = json_string_length(b64);
    fx_buf_reserve(&raw, fx_base64_decoded_max(b64len));
    long n = fx_base64_decode(json_string_value(b64), b64len, raw.data);
    raw.len = n > 0 ? (size_t)n : 0;
    if (n <= 0) {
        rc = fx_err_set(err, FX_EINVAL, "%s.pprof_base64 is not valid base64", what);
        goto out;
    }
    const fx_buf_t *use = &raw;
    if (fx_gz_is_gzip(raw.data, raw.len)) {
        rc = fx_gunzip(raw.data, raw.len, FX_EXPLAIN_MAX_PPROF_RAW, &plain, err);
        if (rc != FX_OK) {
            fx_err_prefix(err, "%s.pprof_base64", what);
            goto out;
        }
        use = &plain;
    }
    uint8_t *copy = fx_arena_alloc(&req->arena, use->len ? use->len : 1);
    memcpy(copy, use->data, use->len);
    src->kind = FX_EXPLAIN_SRC_PPROF;
    src->pprof = copy;
    src->pprof_len = use->len;
    src->sample_type = st && json_string_length(st) ? arena_str(req, st) : NULL;
out:
    fx_buf_free(&raw);
    fx_buf_free(&plain);
    return rc;
}

static int parse_source(fx_explain_request_t *req, json_t *obj, const char *what,
                        fx_explain_source_t *src, fx_err_t *err)
{
    static const char *const keys[] = {"query", "folded", "pprof_base64", "sample_type", NULL};
    if (!json_is_object(obj))
        return fx_err_set(err, FX_EINVAL,
                          "%s must be an object with one of \"query\", \"folded\" or "
                          "\"pprof_base64\"",
                          what);
    int rc = only_keys(obj, keys, what, err);
    if (rc != FX_OK)
        return rc;
    json_t *q = json_object_get(obj, "query"), *fo = json_object_get(obj, "folded"),
           *pp = json_object_get(obj, "pprof_base64");
    int kinds = (q != NULL) + (fo != NULL) + (pp != NULL);
    if (kinds != 1)
        return fx_err_set(err, FX_EINVAL,
                          "%s must have exactly one of \"query\", \"folded\" or \"pprof_base64\" "
                          "(it has %d)",
                          what, kinds);
    if (json_object_get(obj, "sample_type") && !pp)
        return fx_err_set(err, FX_EINVAL, "%s.sample_type only applies to \"pprof_base64\"",
                          what);
    if (q)
        return parse_query(req, q, what, src, err);
    if (pp)
        return parse_pprof(req, obj, what, src, err);
    if (!json_is_string(fo) || json_string_length(fo) == 0)
        return fx_err_set(err, FX_EINVAL,
                          "%s.folded must be a non-empty string of \"frame;frame;... count\" lines",
                          what);
    if (json_string_length(fo) > FX_EXPLAIN_MAX_SOURCE)
        return fx_err_set(err, FX_ETOOBIG, "%s.folded is larger than %u MiB", what,
                          FX_EXPLAIN_MAX_SOURCE >> 20);
    src->kind = FX_EXPLAIN_SRC_FOLDED;
    src->folded = arena_str(req, fo);
    src->folded_len = json_string_length(fo);
    return FX_OK;
}

int fx_explain_request_parse(const char *body, size_t len, fx_explain_request_t *req,
                             fx_err_t *err)
{
    static const char *const keys[] = {"target", "baseline", "comparison", "engine", NULL};
    memset(req, 0, sizeof *req);
    fx_arena_init(&req->arena);
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    int rc = FX_OK;
    if (!root) {
        rc = fx_err_set(err, FX_EINVAL, "request body is not valid JSON: %s (line %d, column %d)",
                        jerr.text, jerr.line, jerr.column);
        goto out;
    }
    if (!json_is_object(root)) {
        rc = fx_err_set(err, FX_EINVAL, "request body must be a JSON object");
        goto out;
    }
    if ((rc = only_keys(root, keys, "request", err)) != FX_OK)
        goto out;

    json_t *engine = json_object_get(root, "engine");
    const char *e = json_string_value(engine);
    if (!engine || (e && strcmp(e, "auto") == 0))
        req->engine = FX_EXPLAIN_AUTO;
    else if (e && strcmp(e, "builtin") == 0)
        req->engine = FX_EXPLAIN_BUILTIN;
    else if (e && strcmp(e, "llm") == 0)
        req->engine = FX_EXPLAIN_LLM;
    else {
        rc = fx_err_set(err, FX_EINVAL, "engine must be \"builtin\", \"llm\" or \"auto\"");
        goto out;
    }

    json_t *t = json_object_get(root, "target"), *b = json_object_get(root, "baseline"),
           *c = json_object_get(root, "comparison");
    if (t && (b || c)) {
        rc = fx_err_set(err, FX_EINVAL, "give either \"target\" or \"baseline\" and "
                                        "\"comparison\", not both");
        goto out;
    }
    if (!t && !(b && c)) {
        rc = fx_err_set(err, FX_EINVAL,
                        b || c ? "a diff needs both \"baseline\" and \"comparison\""
                               : "give \"target\" (one profile) or \"baseline\" and "
                                 "\"comparison\" (a diff)");
        goto out;
    }
    req->diff = t == NULL;
    if (t)
        rc = parse_source(req, t, "target", &req->src[0], err);
    else if ((rc = parse_source(req, b, "baseline", &req->src[0], err)) == FX_OK)
        rc = parse_source(req, c, "comparison", &req->src[1], err);
out:
    json_decref(root);
    return rc;
}

void fx_explain_request_free(fx_explain_request_t *req)
{
    fx_arena_free(&req->arena);
    memset(req, 0, sizeof *req);
}

int fx_explain_resolve(const fx_explain_request_t *req, int i, const fx_explain_resolver_t *r,
                       fx_tree_t *out, fx_err_t *err)
{
    const fx_explain_source_t *src = &req->src[i];
    const char *what = where(req, i);
    int rc;
    switch (src->kind) {
    case FX_EXPLAIN_SRC_FOLDED:
        rc = fx_folded_to_tree(src->folded, src->folded_len, out, err);
        if (rc != FX_OK)
            fx_err_prefix(err, "%s.folded", what);
        break;
    case FX_EXPLAIN_SRC_QUERY:
        if (!r || !r->query)
            return fx_err_set(err, FX_EUNIMPL, "%s: query sources are not available here", what);
        rc = r->query(r->ctx, &src->query, out, err);
        if (rc == FX_OK && fx_tree_total(out) <= 0)
            rc = fx_err_set(err, FX_EINVAL,
                            "%s: no samples of %s match %s between %lld and %lld (ms)", what,
                            src->query.profile_type_id, src->query.label_selector,
                            (long long)src->query.start_ms, (long long)src->query.end_ms);
        break;
    case FX_EXPLAIN_SRC_PPROF:
        if (!r || !r->pprof)
            return fx_err_set(err, FX_EUNIMPL, "%s: pprof sources are not available here", what);
        rc = r->pprof(r->ctx, src->pprof, src->pprof_len, src->sample_type, out, err);
        if (rc != FX_OK && err && err->code == rc)
            fx_err_prefix(err, "%s.pprof_base64", what);
        break;
    default:
        return fx_err_set(err, FX_EINTERNAL, "%s: unresolved source", what);
    }
    if (rc == FX_OK && fx_tree_total(out) <= 0)
        rc = fx_err_set(err, FX_EINVAL, "%s: the profile has no samples", what);
    return rc;
}
