/*
 * explain.c - POST /api/v1/explain: plain-language findings for a flame
 * graph or a diff (libcommon/explain), with sources resolved by this
 * querier (queries over the ingesters, uploaded pprof) and an optional
 * OpenAI-compatible model configured by the operator.
 */
#include "querier.h"
#include "core/mem.h"
#include "explain/explain.h"
#include "log/log.h"
#include "pprof/pprof.h"

#include <stdlib.h>
#include <string.h>

typedef struct resolve_ctx {
    qr_t *q;
    const char *tenant;
    fx_arena_t *arena;
} resolve_ctx_t;

static int resolve_query(void *ctx, const fx_explain_query_t *eq, fx_tree_t *out, fx_err_t *err)
{
    resolve_ctx_t *c = ctx;
    qr_select_t s;
    int rc = qr_check_select(c->q, c->tenant, eq->profile_type_id, eq->label_selector, eq->start_ms,
                             eq->end_ms, 0, 0, c->arena, &s, err);
    if (rc < 0)
        return rc;
    s.max_nodes = 0; /* the analyzer wants the whole tree, not "other" */
    return qr_merge_tree(c->q, c->tenant, &s, out, err);
}

/* A pprof reduced to one sample type as a call tree of function names;
 * inlined frames expanded, root first. */
static int resolve_pprof(void *ctx, const uint8_t *data, size_t len, const char *sample_type,
                         fx_tree_t *out, fx_err_t *err)
{
    resolve_ctx_t *c = ctx;
    fx_pprof_t p;
    int rc;
    if ((rc = fx_pprof_decode(data, len, c->arena, &p, err)) < 0)
        goto out;
    size_t col = 0;
    if (sample_type && *sample_type) {
        for (col = 0; col < p.nsample_types; col++)
            if (fx_pprof_str_eq(&p, p.sample_types[col].type, sample_type))
                break;
        if (col == p.nsample_types) {
            rc = fx_err_set(err, FX_EINVAL, "the profile has no sample type \"%s\"", sample_type);
            goto out;
        }
    } else if (p.default_sample_type) {
        for (size_t i = 0; i < p.nsample_types; i++)
            if (p.sample_types[i].type == p.default_sample_type)
                col = i;
    } else if (p.nsample_types) {
        col = p.nsample_types - 1; /* pprof's convention: the last type is the default */
    }
    uint32_t *names = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < p.nsamples; i++) {
        const fx_pprof_sample_t *s = &p.samples[i];
        if (col >= s->nvalues || s->values[col] == 0)
            continue;
        size_t n = 0;
        for (uint32_t j = s->nlocs; j-- > 0;) { /* leaf first -> walk from the root */
            const fx_pprof_location_t *l = fx_pprof_location(&p, s->locs[j]);
            for (uint32_t k = l ? l->nlines : 0; k-- > 0;) { /* last line = caller */
                const fx_pprof_function_t *f = fx_pprof_function(&p, l->lines[k].function_id);
                fx_slice_t nm = f ? fx_pprof_str(&p, f->name) : (fx_slice_t){(const uint8_t *)"?", 1};
                FX_GROW(names, cap, n + 1);
                names[n++] = fx_tree_name(out, (const char *)nm.data, nm.len);
            }
        }
        fx_tree_add_stack(out, names, n, s->values[col]);
    }
    free(names);
    fx_tree_compute_totals(out);
out:
    fx_pprof_free(&p);
    return rc;
}

static void explain(fx_http_req_t *req, void *ctx)
{
    qr_t *q = ctx;
    fx_err_t err = {0};
    fx_buf_t out = FX_BUF_INIT;
    resolve_ctx_t rc_ctx = {q, req->tenant, req->arena};
    fx_explain_resolver_t r = {&rc_ctx, resolve_query, resolve_pprof};
    fx_explain_llm_config_t llm = {q->opts.llm_base_url, q->opts.llm_model, q->opts.llm_api_key_file,
                                   q->opts.llm_timeout_ns / 1000000};
    if (!llm.api_key_file || !*llm.api_key_file)
        llm.api_key_file = NULL;
    if (fx_explain_handle((const char *)req->body.data, req->body.len, &r, &llm, &out, &err) < 0) {
        fx_buf_free(&out);
        fx_http_reply_err(req, &err);
        return;
    }
    fx_http_reply_buf(req, 200, "application/json", &out);
}

int qr_register_explain(qr_t *q, fx_err_t *err)
{
    fx_explain_llm_config_t llm = {q->opts.llm_base_url, q->opts.llm_model, q->opts.llm_api_key_file,
                                   q->opts.llm_timeout_ns / 1000000};
    int rc;
    if (fx_explain_llm_enabled(&llm) && (rc = fx_explain_llm_config_check(&llm, err)) < 0)
        return fx_err_prefix(err, "explain.llm");
    return fx_http_route(fx_app_http(q->app), "/api/v1/explain", FX_HTTP_POST, FX_HTTP_TENANT, explain,
                         q, err);
}
