/*
 * explain.c - the /api/v1/explain flow: request -> trees -> built-in findings -> (model) ->
 * JSON. Engine "auto" uses the model when one is configured; "llm" without one is a 400;
 * any model failure falls back to the built-in findings with a "fallback_reason".
 */
#include "explain/explain.h"
#include "explain/analyze.h"
#include "explain/response.h"

#include <string.h>

static const char *unit_of(const fx_explain_source_t *src)
{
    if (src->kind == FX_EXPLAIN_SRC_QUERY)
        return fx_explain_unit_for(src->query.profile_type_id);
    if (src->kind == FX_EXPLAIN_SRC_PPROF)
        return fx_explain_unit_for(src->sample_type);
    return "samples";
}

int fx_explain_handle(const char *body, size_t len, const fx_explain_resolver_t *r,
                      const fx_explain_llm_config_t *llm, fx_buf_t *out, fx_err_t *err)
{
    fx_explain_request_t req;
    fx_explain_findings_t f;
    fx_tree_t trees[2];
    fx_arena_t answer_arena;
    int ntrees = 0, rc;

    memset(&f, 0, sizeof f);
    fx_arena_init(&f.arena);
    fx_arena_init(&answer_arena);
    rc = fx_explain_request_parse(body, len, &req, err);
    if (rc != FX_OK)
        goto out;
    int use_llm = req.engine == FX_EXPLAIN_LLM ||
                  (req.engine == FX_EXPLAIN_AUTO && fx_explain_llm_enabled(llm));
    if (use_llm && !fx_explain_llm_enabled(llm)) {
        rc = fx_err_set(err, FX_EINVAL,
                        "engine \"llm\" needs a language model and none is configured on this "
                        "server (-explain.llm.base-url); use \"builtin\" or \"auto\"");
        goto out;
    }
    for (int i = 0; i < 1 + req.diff; i++) {
        fx_tree_init(&trees[i]);
        ntrees++;
        rc = fx_explain_resolve(&req, i, r, &trees[i], err);
        if (rc != FX_OK)
            goto out;
    }
    fx_explain_opts_t opts = {unit_of(&req.src[0])};
    fx_explain_findings_free(&f);
    rc = req.diff ? fx_explain_analyze_diff(&trees[0], &trees[1], &opts, &f, err)
                  : fx_explain_analyze(&trees[0], &opts, &f, err);
    if (rc != FX_OK)
        goto out;

    if (use_llm) {
        fx_explain_answer_t ans;
        fx_err_t why = {0};
        if (fx_explain_llm_ask(llm, &trees[0], req.diff ? &trees[1] : NULL, &f, &answer_arena,
                               &ans, &why) == FX_OK)
            fx_explain_write_response(out, &f, &ans, NULL);
        else
            fx_explain_write_response(out, &f, NULL, why.msg);
    } else {
        fx_explain_write_response(out, &f, NULL, NULL);
    }
out:
    for (int i = 0; i < ntrees; i++)
        fx_tree_free(&trees[i]);
    fx_explain_findings_free(&f);
    fx_arena_free(&answer_arena);
    fx_explain_request_free(&req);
    return rc;
}
