/*
 * render.c - the legacy HTTP query API (reference §6.2-6.4):
 * GET /pyroscope/render (flamebearer JSON with a timeline, or Graphviz DOT
 * with format=dot, which Grafana's Flame graph AI reads),
 * GET /pyroscope/render-diff, GET /pyroscope/label-values.
 */
#include "querier.h"
#include "core/mem.h"
#include "core/time.h"
#include "log/log.h"
#include "model/attime.h"
#include "model/dot.h"
#include "model/flamebearer.h"
#include "model/flamegraph.h"
#include "model/flamegraph_diff.h"
#include "model/selector.h"

#include <stdlib.h>
#include <string.h>

/* `type{selector}` -> profile type id + selector text (arena). */
static int split_query(const char *query, fx_arena_t *a, const char **type, const char **selector,
                       fx_err_t *err)
{
    fx_selector_t sel;
    int rc;
    if (!query || !*query)
        return fx_err_set(err, FX_EINVAL, "query is required, e.g. "
                          "process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name=\"app\"}");
    if ((rc = fx_selector_parse(query, &sel, err)) < 0)
        return rc;
    if (!sel.metric) {
        fx_selector_free(&sel);
        return fx_err_set(err, FX_EINVAL, "query must start with a profile type, e.g. "
                          "process_cpu:cpu:nanoseconds:cpu:nanoseconds{...}");
    }
    *type = fx_arena_strdup(a, sel.metric);
    fx_buf_t b = FX_BUF_INIT;
    fx_selector_format(&sel, &b);
    *selector = fx_arena_strndup(a, (const char *)b.data, b.len);
    fx_buf_free(&b);
    fx_selector_free(&sel);
    return FX_OK;
}

static int parse_range(fx_http_req_t *req, const char *from_name, const char *until_name,
                       int64_t *from_ms, int64_t *until_ms, fx_err_t *err)
{
    int64_t now = fx_now_ns(), f, u;
    const char *from = fx_http_req_query(req, from_name), *until = fx_http_req_query(req, until_name);
    if (fx_attime_parse(from && *from ? from : "now-1h", now, &f, err) < 0)
        return fx_err_prefix(err, "parameter %s", from_name);
    if (fx_attime_parse(until ? until : "", now, &u, err) < 0)
        return fx_err_prefix(err, "parameter %s", until_name);
    *from_ms = f / 1000000;
    *until_ms = u / 1000000;
    return FX_OK;
}

static int parse_max_nodes(fx_http_req_t *req, int *has, int64_t *v, fx_err_t *err)
{
    const char *s = fx_http_req_query(req, "max-nodes");
    if (!s || !*s)
        s = fx_http_req_query(req, "maxNodes");
    *has = 0;
    *v = 0;
    if (!s || !*s)
        return FX_OK;
    char *end;
    long long n = strtoll(s, &end, 10);
    if (*end || n < 0)
        return fx_err_set(err, FX_EINVAL, "max-nodes must be a non-negative integer");
    *has = 1;
    *v = n;
    return FX_OK;
}

/* Pyroscope's timeline step: range/1500, rounded up to a round interval,
 * at least 15 s. */
static int64_t timeline_step_s(int64_t from_ms, int64_t until_ms)
{
    static const int64_t steps[] = {15, 30, 60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
                                    43200, 86400, 172800, 604800};
    int64_t want = (until_ms - from_ms) / 1000 / 1500;
    for (size_t i = 0; i < FX_ARRAY_LEN(steps); i++)
        if (steps[i] >= want)
            return steps[i];
    return steps[FX_ARRAY_LEN(steps) - 1];
}

static void timeline_of(const Types__V1__Series *s, int64_t from_ms, int64_t until_ms, int64_t step_s,
                        fx_arena_t *a, fx_timeline_t *tl)
{
    size_t n = s ? s->n_points : 0;
    int64_t *ts = fx_arena_alloc(a, (n + 1) * sizeof *ts);
    double *vals = fx_arena_alloc(a, (n + 1) * sizeof *vals);
    for (size_t i = 0; i < n; i++) {
        ts[i] = s->points[i]->timestamp;
        vals[i] = s->points[i]->value;
    }
    fx_timeline_from_points(tl, ts, vals, n, from_ms, until_ms, step_s, a);
}

static void render(fx_http_req_t *req, void *ctx)
{
    qr_t *q = ctx;
    fx_err_t err = {0};
    const char *type, *selector;
    int64_t from, until, max_nodes;
    int has_max, rc;
    qr_select_t s;
    fx_tree_t tree;
    fx_buf_t out = FX_BUF_INIT;

    fx_tree_init(&tree);
    if ((rc = split_query(fx_http_req_query(req, "query"), req->arena, &type, &selector, &err)) < 0 ||
        (rc = parse_range(req, "from", "until", &from, &until, &err)) < 0 ||
        (rc = parse_max_nodes(req, &has_max, &max_nodes, &err)) < 0)
        goto out;
    const char *format = fx_http_req_query(req, "format");
    int dot = format && strcmp(format, "dot") == 0;
    if ((rc = qr_check_select(q, req->tenant, type, selector, from, until, dot ? 0 : has_max, max_nodes,
                              req->arena, &s, &err)) < 0 ||
        (rc = qr_merge_tree(q, req->tenant, &s, &tree, &err)) < 0)
        goto out;
    if (dot) {
        /* An empty profile is an empty body, as Grafana's AI code expects. */
        if (tree.nodes[FX_TREE_ROOT].total > 0) {
            fx_dot_opts_t o = {has_max ? max_nodes : 0, type, s.type.sample_type, s.type.sample_unit};
            fx_dot_write(&tree, &o, &out);
        }
        fx_http_reply_buf(req, 200, "text/plain; charset=utf-8", &out);
        goto out;
    }
    int64_t step_s = timeline_step_s(from, until);
    size_t ngroup = 0;
    const char **group_by = fx_http_req_query_all(req, "groupBy", &ngroup);
    const char *agg = fx_http_req_query(req, "aggregation");
    Querier__V1__SelectSeriesResponse *series;
    if ((rc = qr_select_series(q, req->tenant, &s, NULL, 0, step_s * 1000,
                               agg && !strcmp(agg, "avg"), 0, req->arena, &series, &err)) < 0)
        goto out;
    fx_timeline_t tl;
    timeline_of(series->n_series ? series->series[0] : NULL, from, until, step_s, req->arena, &tl);
    fx_timeline_group_t *groups = NULL;
    size_t ngroups = 0;
    if (ngroup > 0 && group_by[0] && *group_by[0]) {
        Querier__V1__SelectSeriesResponse *gs;
        char *by[1] = {(char *)group_by[0]};
        if ((rc = qr_select_series(q, req->tenant, &s, by, 1, step_s * 1000, agg && !strcmp(agg, "avg"),
                                   0, req->arena, &gs, &err)) < 0)
            goto out;
        groups = fx_arena_alloc(req->arena, (gs->n_series + 1) * sizeof *groups);
        for (size_t i = 0; i < gs->n_series; i++) {
            const char *v = "";
            for (size_t l = 0; l < gs->series[i]->n_labels; l++)
                if (!strcmp(gs->series[i]->labels[l]->name, group_by[0]))
                    v = gs->series[i]->labels[l]->value;
            groups[ngroups].name = v;
            timeline_of(gs->series[i], from, until, step_s, req->arena, &groups[ngroups].timeline);
            ngroups++;
        }
    }
    Querier__V1__FlameGraph *fg = fx_flamegraph_encode(&tree, s.max_nodes, req->arena);
    fx_flamebearer_meta_t meta = {s.type.sample_type, s.type.sample_unit, ""};
    fx_flamebearer_write(&out, fg, &meta, &tl, groups, ngroups);
    fx_http_reply_buf(req, 200, "application/json", &out);
out:
    fx_tree_free(&tree);
    fx_buf_free(&out);
    if (rc < 0)
        fx_http_reply_err(req, &err);
}

static void render_diff(fx_http_req_t *req, void *ctx)
{
    qr_t *q = ctx;
    fx_err_t err = {0};
    const char *lt, *lsel, *rt, *rsel;
    int64_t lf, lu, rf, ru, max_nodes;
    int has_max, rc;
    qr_select_t ls, rs;
    fx_tree_t ltree, rtree;
    fx_buf_t out = FX_BUF_INIT;

    fx_tree_init(&ltree);
    fx_tree_init(&rtree);
    if ((rc = split_query(fx_http_req_query(req, "leftQuery"), req->arena, &lt, &lsel, &err)) < 0 ||
        (rc = split_query(fx_http_req_query(req, "rightQuery"), req->arena, &rt, &rsel, &err)) < 0 ||
        (rc = parse_range(req, "leftFrom", "leftUntil", &lf, &lu, &err)) < 0 ||
        (rc = parse_range(req, "rightFrom", "rightUntil", &rf, &ru, &err)) < 0 ||
        (rc = parse_max_nodes(req, &has_max, &max_nodes, &err)) < 0)
        goto out;
    if (strcmp(lt, rt) != 0) {
        rc = fx_err_set(&err, FX_EINVAL, "left and right queries must have the same profile type");
        goto out;
    }
    if ((rc = qr_check_select(q, req->tenant, lt, lsel, lf, lu, has_max, max_nodes, req->arena, &ls,
                              &err)) < 0 ||
        (rc = qr_check_select(q, req->tenant, rt, rsel, rf, ru, has_max, max_nodes, req->arena, &rs,
                              &err)) < 0 ||
        (rc = qr_merge_tree(q, req->tenant, &ls, &ltree, &err)) < 0 ||
        (rc = qr_merge_tree(q, req->tenant, &rs, &rtree, &err)) < 0)
        goto out;
    Querier__V1__FlameGraphDiff *fg;
    if ((rc = fx_flamegraph_diff_encode(&ltree, &rtree, ls.max_nodes, req->arena, &fg, &err)) < 0)
        goto out;
    int64_t step_s = timeline_step_s(rf, ru);
    Querier__V1__SelectSeriesResponse *series;
    if ((rc = qr_select_series(q, req->tenant, &rs, NULL, 0, step_s * 1000, 0, 0, req->arena, &series,
                               &err)) < 0)
        goto out;
    fx_timeline_t tl;
    timeline_of(series->n_series ? series->series[0] : NULL, rf, ru, step_s, req->arena, &tl);
    fx_flamebearer_meta_t meta = {ls.type.sample_type, ls.type.sample_unit, ""};
    fx_flamebearer_write_diff(&out, fg, &meta, &tl);
    fx_http_reply_buf(req, 200, "application/json", &out);
out:
    fx_tree_free(&ltree);
    fx_tree_free(&rtree);
    fx_buf_free(&out);
    if (rc < 0)
        fx_http_reply_err(req, &err);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Pyroscope answers only label=__name__ here (its handler drops the label);
 * Fornax answers any label, optionally filtered by `query`. */
static void label_values(fx_http_req_t *req, void *ctx)
{
    qr_t *q = ctx;
    fx_err_t err = {0};
    const char *label = fx_http_req_query(req, "label");
    const char *query = fx_http_req_query(req, "query");
    fx_buf_t out = FX_BUF_INIT;
    qr_results_t res = {0};
    int rc;

    if (!label || !*label) {
        fx_http_reply_error(req, FX_EINVAL, "label is required");
        return;
    }
    int64_t from = 0, until = 0;
    if (fx_http_req_query(req, "from") &&
        (rc = parse_range(req, "from", "until", &from, &until, &err)) < 0)
        goto out;
    fx_buf_putc(&out, '[');
    {
        Types__V1__LabelValuesRequest r = TYPES__V1__LABEL_VALUES_REQUEST__INIT;
        char *m[1] = {(char *)query};
        r.name = strcmp(label, "__name__") == 0 ? "__profile_type__" : (char *)label;
        r.matchers = m;
        r.n_matchers = query && *query ? 1 : 0;
        r.start = from;
        r.end = until;
        if ((rc = qr_fanout(q, req->tenant, "LabelValues", r.start, r.end, &r.base,
                            &types__v1__label_values_response__descriptor, &res, &err)) < 0)
            goto out;
        /* Union (answers are sorted; sort the concatenation for simplicity). */
        size_t total = 0, k = 0;
        for (size_t i = 0; i < res.n; i++)
            total += ((Types__V1__LabelValuesResponse *)res.v[i].resp)->n_names;
        char **all = fx_arena_alloc(req->arena, (total + 1) * sizeof *all);
        for (size_t i = 0; i < res.n; i++) {
            const Types__V1__LabelValuesResponse *lv = (const Types__V1__LabelValuesResponse *)res.v[i].resp;
            for (size_t j = 0; j < lv->n_names; j++)
                all[k++] = lv->names[j];
        }
        if (k)
            qsort(all, k, sizeof *all, cmp_str);
        for (size_t i = 0, first = 1; i < k; i++) {
            if (i && !strcmp(all[i], all[i - 1]))
                continue;
            if (!first)
                fx_buf_putc(&out, ',');
            first = 0;
            fx_buf_json_str(&out, all[i], strlen(all[i]));
        }
    }
    fx_buf_putc(&out, ']');
    fx_http_reply_buf(req, 200, "application/json", &out);
out:
    qr_results_free(&res);
    fx_buf_free(&out);
    if (rc < 0)
        fx_http_reply_err(req, &err);
}

int qr_register_render(qr_t *q, fx_err_t *err)
{
    fx_http_server_t *h = fx_app_http(q->app);
    int rc;
    if ((rc = fx_http_route(h, "/pyroscope/render", FX_HTTP_GET, FX_HTTP_TENANT, render, q, err)) < 0 ||
        (rc = fx_http_route(h, "/pyroscope/render-diff", FX_HTTP_GET, FX_HTTP_TENANT, render_diff, q,
                            err)) < 0 ||
        (rc = fx_http_route(h, "/pyroscope/label-values", FX_HTTP_GET, FX_HTTP_TENANT, label_values,
                            q, err)) < 0)
        return rc;
    return FX_OK;
}
