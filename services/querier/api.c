/*
 * api.c - the Connect querier.v1.QuerierService on the public HTTP port:
 * what Grafana's Pyroscope data source, Profiles Drilldown and the UI call.
 */
#include "querier.h"
#include "core/mem.h"
#include "google/v1/profile.pb-c.h"
#include "http/connect.h"
#include "ingester/v1/ingester.pb-c.h"
#include "log/log.h"
#include "model/dot.h"
#include "model/flamegraph.h"
#include "model/flamegraph_diff.h"
#include "model/labels.h"
#include "model/selector.h"
#include "model/treebytes.h"

#include <stdlib.h>
#include <string.h>

/* --- string set helpers ------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted, unique union of the `names` of every response (LabelNames and
 * LabelValues answers share the shape), copied into a. */
static char **union_names(const qr_results_t *res, size_t *n, fx_arena_t *a)
{
    size_t cap = 0, k = 0;
    for (size_t i = 0; i < res->n; i++)
        cap += ((Types__V1__LabelNamesResponse *)res->v[i].resp)->n_names;
    char **v = fx_arena_alloc(a, (cap + 1) * sizeof *v);
    for (size_t i = 0; i < res->n; i++) {
        const Types__V1__LabelNamesResponse *r = (const Types__V1__LabelNamesResponse *)res->v[i].resp;
        for (size_t j = 0; j < r->n_names; j++)
            v[k++] = fx_arena_strdup(a, r->names[j]);
    }
    if (k)
        qsort(v, k, sizeof *v, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < k; i++)
        if (u == 0 || strcmp(v[u - 1], v[i]) != 0)
            v[u++] = v[i];
    *n = u;
    return v;
}

/* --- metadata RPCs ---------------------------------------------------------------- */

static int profile_types(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                         fx_err_t *err)
{
    qr_t *q = call->ctx;
    qr_results_t res;
    const Querier__V1__ProfileTypesRequest *r = (const Querier__V1__ProfileTypesRequest *)in;
    int rc = qr_fanout(q, call->tenant, "ProfileTypes", r->start, r->end, in,
                       &querier__v1__profile_types_response__descriptor, &res, err);
    if (rc == FX_OK) {
        Querier__V1__ProfileTypesResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
        querier__v1__profile_types_response__init(resp);
        size_t cap = 0;
        for (size_t i = 0; i < res.n; i++)
            cap += ((Querier__V1__ProfileTypesResponse *)res.v[i].resp)->n_profile_types;
        resp->profile_types = fx_arena_alloc(call->arena, (cap + 1) * sizeof *resp->profile_types);
        for (size_t i = 0; i < res.n; i++) {
            const Querier__V1__ProfileTypesResponse *r = (const Querier__V1__ProfileTypesResponse *)res.v[i].resp;
            for (size_t j = 0; j < r->n_profile_types; j++) {
                const Types__V1__ProfileType *t = r->profile_types[j];
                size_t k;
                for (k = 0; k < resp->n_profile_types; k++)
                    if (strcmp(resp->profile_types[k]->id, t->id) == 0)
                        break;
                if (k < resp->n_profile_types)
                    continue;
                Types__V1__ProfileType *c = fx_arena_alloc(call->arena, sizeof *c);
                types__v1__profile_type__init(c);
                c->id = fx_arena_strdup(call->arena, t->id);
                c->name = fx_arena_strdup(call->arena, t->name);
                c->sample_type = fx_arena_strdup(call->arena, t->sample_type);
                c->sample_unit = fx_arena_strdup(call->arena, t->sample_unit);
                c->period_type = fx_arena_strdup(call->arena, t->period_type);
                c->period_unit = fx_arena_strdup(call->arena, t->period_unit);
                /* Insertion keeps them sorted by ID, as Pyroscope answers. */
                size_t at = resp->n_profile_types;
                while (at > 0 && strcmp(resp->profile_types[at - 1]->id, c->id) > 0) {
                    resp->profile_types[at] = resp->profile_types[at - 1];
                    at--;
                }
                resp->profile_types[at] = c;
                resp->n_profile_types++;
            }
        }
        *out = &resp->base;
    }
    qr_results_free(&res);
    return rc;
}

/* Label names that only UTF-8-aware clients may see are dropped unless the
 * client says it copes (Accept: ...; allow-utf8-labelnames=true). */
static int allow_utf8(fx_call_t *call)
{
    const char *accept = fx_call_header(call, "Accept");
    return accept && strstr(accept, "allow-utf8-labelnames=true");
}

static int check_matchers(char **m, size_t n, fx_err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        fx_selector_t s;
        int rc = fx_selector_parse(m[i], &s, err);
        if (rc < 0)
            return rc;
        fx_selector_free(&s);
    }
    return FX_OK;
}

static int label_names(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                       fx_err_t *err)
{
    qr_t *q = call->ctx;
    const Types__V1__LabelNamesRequest *r = (const Types__V1__LabelNamesRequest *)in;
    qr_results_t res;
    int rc;
    if ((rc = check_matchers(r->matchers, r->n_matchers, err)) < 0)
        return rc;
    rc = qr_fanout(q, call->tenant, "LabelNames", r->start, r->end, in,
                   &types__v1__label_names_response__descriptor, &res, err);
    if (rc == FX_OK) {
        Types__V1__LabelNamesResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
        types__v1__label_names_response__init(resp);
        resp->names = union_names(&res, &resp->n_names, call->arena);
        if (!allow_utf8(call)) {
            size_t k = 0;
            for (size_t i = 0; i < resp->n_names; i++)
                if (fx_label_name_is_legacy(resp->names[i]))
                    resp->names[k++] = resp->names[i];
            resp->n_names = k;
        }
        *out = &resp->base;
    }
    qr_results_free(&res);
    return rc;
}

static int label_values(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                        fx_err_t *err)
{
    qr_t *q = call->ctx;
    const Types__V1__LabelValuesRequest *r = (const Types__V1__LabelValuesRequest *)in;
    qr_results_t res;
    int rc;
    if (!r->name || !*r->name)
        return fx_err_set(err, FX_EINVAL, "name is required");
    if ((rc = check_matchers(r->matchers, r->n_matchers, err)) < 0)
        return rc;
    rc = qr_fanout(q, call->tenant, "LabelValues", r->start, r->end, in,
                   &types__v1__label_values_response__descriptor, &res, err);
    if (rc == FX_OK) {
        Types__V1__LabelValuesResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
        types__v1__label_values_response__init(resp);
        resp->names = union_names(&res, &resp->n_names, call->arena);
        *out = &resp->base;
    }
    qr_results_free(&res);
    return rc;
}

static int series(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out, fx_err_t *err)
{
    qr_t *q = call->ctx;
    const Querier__V1__SeriesRequest *r = (const Querier__V1__SeriesRequest *)in;
    qr_results_t res;
    int rc;
    if ((rc = check_matchers(r->matchers, r->n_matchers, err)) < 0)
        return rc;
    rc = qr_fanout(q, call->tenant, "Series", r->start, r->end, in,
                   &querier__v1__series_response__descriptor, &res, err);
    if (rc == FX_OK) {
        Querier__V1__SeriesResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
        querier__v1__series_response__init(resp);
        size_t cap = 0;
        for (size_t i = 0; i < res.n; i++)
            cap += ((Querier__V1__SeriesResponse *)res.v[i].resp)->n_labels_set;
        resp->labels_set = fx_arena_alloc(call->arena, (cap + 1) * sizeof *resp->labels_set);
        for (size_t i = 0; i < res.n; i++) {
            const Querier__V1__SeriesResponse *part = (const Querier__V1__SeriesResponse *)res.v[i].resp;
            for (size_t j = 0; j < part->n_labels_set; j++) {
                size_t k;
                const Types__V1__Labels *src = part->labels_set[j];
                for (k = 0; k < resp->n_labels_set; k++)
                    if (qr_pairs_cmp(resp->labels_set[k]->labels, resp->labels_set[k]->n_labels,
                                     src->labels, src->n_labels) == 0)
                        break;
                if (k == resp->n_labels_set) {
                    /* Copy: the part's arena is freed before the reply. */
                    Types__V1__Labels *c = fx_arena_alloc(call->arena, sizeof *c);
                    types__v1__labels__init(c);
                    c->n_labels = src->n_labels;
                    c->labels = qr_pairs_copy(src->labels, src->n_labels, call->arena);
                    resp->labels_set[resp->n_labels_set++] = c;
                }
            }
        }
        *out = &resp->base;
    }
    qr_results_free(&res);
    return rc;
}

static int profile_stats(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                         fx_err_t *err)
{
    qr_t *q = call->ctx;
    qr_results_t res;
    /* Stats cover all time: ask every group. */
    int rc = qr_fanout(q, call->tenant, "ProfileStats", 1, INT64_MAX, in,
                       &types__v1__get_profile_stats_response__descriptor, &res, err);
    if (rc == FX_OK) {
        Types__V1__GetProfileStatsResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
        types__v1__get_profile_stats_response__init(resp);
        for (size_t i = 0; i < res.n; i++) {
            const Types__V1__GetProfileStatsResponse *r = (const Types__V1__GetProfileStatsResponse *)res.v[i].resp;
            if (!r->data_ingested)
                continue;
            if (!resp->data_ingested || r->oldest_profile_time < resp->oldest_profile_time)
                resp->oldest_profile_time = r->oldest_profile_time;
            if (!resp->data_ingested || r->newest_profile_time > resp->newest_profile_time)
                resp->newest_profile_time = r->newest_profile_time;
            resp->data_ingested = 1;
        }
        *out = &resp->base;
    }
    qr_results_free(&res);
    return rc;
}

/* --- selects --------------------------------------------------------------------------- */

static int check_smst(qr_t *q, fx_call_t *call, const Querier__V1__SelectMergeStacktracesRequest *r,
                      qr_select_t *s, fx_err_t *err)
{
    int rc = qr_check_select(
        q, call->tenant, r->profile_typeid, r->label_selector, r->start, r->end,
        r->optional_max_nodes_case == QUERIER__V1__SELECT_MERGE_STACKTRACES_REQUEST__OPTIONAL_MAX_NODES_MAX_NODES,
        r->max_nodes, call->arena, s, err);
    s->stack_trace_selector = r->stack_trace_selector;
    if (rc == FX_OK && r->n_span_selector)
        rc = qr_parse_spans(r->span_selector, r->n_span_selector, call->arena, s, err);
    if (rc == FX_OK && r->n_profile_id_selector)
        rc = qr_parse_profile_ids(r->profile_id_selector, r->n_profile_id_selector, call->arena,
                                  s, err);
    return rc;
}

/* The "tree" answer format: tree bytes of tree cut to max_nodes, copied into
 * the call's arena (*out points there). */
static int tree_bytes(const fx_tree_t *tree, int64_t max_nodes, fx_arena_t *a,
                      ProtobufCBinaryData *out, fx_err_t *err)
{
    fx_buf_t b = FX_BUF_INIT;
    int rc = fx_treebytes_write(tree, max_nodes, &b, err);
    if (rc == FX_OK) {
        out->data = fx_arena_alloc(a, b.len + 1);
        if (b.len) /* an empty tree writes nothing: b.data is NULL */
            memcpy(out->data, b.data, b.len);
        out->len = b.len;
    }
    fx_buf_free(&b);
    return rc;
}

/* The flame graph of tree in a's memory; NULL for an empty tree, which
 * Grafana reads as "no data". */
static Querier__V1__FlameGraph *flamegraph_or_null(const fx_tree_t *tree, int64_t max_nodes,
                                                   fx_arena_t *a)
{
    return tree->nodes[FX_TREE_ROOT].total > 0 ? fx_flamegraph_encode(tree, max_nodes, a) : NULL;
}

/* Profiles of trace spans (Grafana's "profiles for this span"): the merge
 * of only the samples that carried one of the selected span ids. */
static int select_merge_span_profile(fx_call_t *call, const ProtobufCMessage *in,
                                     ProtobufCMessage **out, fx_err_t *err)
{
    qr_t *q = call->ctx;
    const Querier__V1__SelectMergeSpanProfileRequest *r =
        (const Querier__V1__SelectMergeSpanProfileRequest *)in;
    qr_select_t s;
    fx_tree_t tree;
    int rc = qr_check_select(
        q, call->tenant, r->profile_typeid, r->label_selector, r->start, r->end,
        r->optional_max_nodes_case == QUERIER__V1__SELECT_MERGE_SPAN_PROFILE_REQUEST__OPTIONAL_MAX_NODES_MAX_NODES,
        r->max_nodes, call->arena, &s, err);
    if (rc < 0)
        return rc;
    if (r->n_span_selector == 0)
        return fx_err_set(err, FX_EINVAL, "span_selector is required (one or more span ids)");
    if ((rc = qr_parse_spans(r->span_selector, r->n_span_selector, call->arena, &s, err)) < 0)
        return rc;
    Querier__V1__SelectMergeSpanProfileResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
    querier__v1__select_merge_span_profile_response__init(resp);
    fx_tree_init(&tree);
    if ((rc = qr_merge_tree(q, call->tenant, &s, &tree, err)) < 0)
        goto out;
    if (r->format == QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_TREE)
        rc = tree_bytes(&tree, s.max_nodes, call->arena, &resp->tree, err);
    else
        resp->flamegraph = flamegraph_or_null(&tree, s.max_nodes, call->arena);
out:
    fx_tree_free(&tree);
    if (rc == FX_OK)
        *out = &resp->base;
    return rc;
}

static int select_merge_stacktraces(fx_call_t *call, const ProtobufCMessage *in,
                                    ProtobufCMessage **out, fx_err_t *err)
{
    qr_t *q = call->ctx;
    const Querier__V1__SelectMergeStacktracesRequest *r =
        (const Querier__V1__SelectMergeStacktracesRequest *)in;
    qr_select_t s;
    fx_tree_t tree;
    int rc;

    if ((rc = check_smst(q, call, r, &s, err)) < 0)
        return rc;
    Querier__V1__SelectMergeStacktracesResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
    querier__v1__select_merge_stacktraces_response__init(resp);
    if (r->format == QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_PPROF) {
        fx_buf_t pprof = FX_BUF_INIT;
        if ((rc = qr_merge_pprof(q, call->tenant, &s, &pprof, err)) == FX_OK) {
            Querier__V1__PprofProfile *pp = fx_arena_alloc(call->arena, sizeof *pp);
            querier__v1__pprof_profile__init(pp);
            pp->profile = google__v1__profile__unpack(fx_arena_pb(call->arena), pprof.len, pprof.data);
            if (!pp->profile)
                rc = fx_err_set(err, FX_EINTERNAL, "merged profile could not be decoded");
            resp->pprof = pp;
        }
        fx_buf_free(&pprof);
        *out = &resp->base;
        return rc;
    }
    fx_tree_init(&tree);
    if ((rc = qr_merge_tree(q, call->tenant, &s, &tree, err)) < 0)
        goto out;
    switch (r->format) {
    case QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_TREE:
        rc = tree_bytes(&tree, s.max_nodes, call->arena, &resp->tree, err);
        break;
    case QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_DOT: {
        fx_buf_t b = FX_BUF_INIT;
        fx_dot_opts_t o = {r->optional_max_nodes_case ? r->max_nodes : 0, s.type.id,
                           s.type.sample_type, s.type.sample_unit};
        fx_dot_write(&tree, &o, &b);
        resp->dot = fx_arena_strndup(call->arena, (const char *)b.data, b.len);
        fx_buf_free(&b);
        break;
    }
    default:
        resp->flamegraph = flamegraph_or_null(&tree, s.max_nodes, call->arena);
    }
out:
    fx_tree_free(&tree);
    if (rc == FX_OK)
        *out = &resp->base;
    return rc;
}

static int diff(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out, fx_err_t *err)
{
    qr_t *q = call->ctx;
    const Querier__V1__DiffRequest *r = (const Querier__V1__DiffRequest *)in;
    qr_select_t ls, rs;
    fx_tree_t lt, rt;
    int rc;

    if (!r->left || !r->right)
        return fx_err_set(err, FX_EINVAL, "left and right are required");
    if ((rc = check_smst(q, call, r->left, &ls, err)) < 0)
        return fx_err_prefix(err, "left");
    if ((rc = check_smst(q, call, r->right, &rs, err)) < 0)
        return fx_err_prefix(err, "right");
    if (strcmp(ls.type.id, rs.type.id) != 0)
        return fx_err_set(err, FX_EINVAL, "left and right queries must have the same profile type "
                          "(%s vs %s)", ls.type.id, rs.type.id);
    fx_tree_init(&lt);
    fx_tree_init(&rt);
    if ((rc = qr_merge_tree(q, call->tenant, &ls, &lt, err)) == FX_OK &&
        (rc = qr_merge_tree(q, call->tenant, &rs, &rt, err)) == FX_OK) {
        Querier__V1__DiffResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
        querier__v1__diff_response__init(resp);
        int64_t max_nodes = ls.max_nodes > rs.max_nodes ? ls.max_nodes : rs.max_nodes;
        if ((rc = fx_flamegraph_diff_encode(&lt, &rt, max_nodes, call->arena, &resp->flamegraph,
                                            err)) == FX_OK)
            *out = &resp->base;
    }
    fx_tree_free(&lt);
    fx_tree_free(&rt);
    return rc;
}

static int select_merge_profile(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                                fx_err_t *err)
{
    qr_t *q = call->ctx;
    const Querier__V1__SelectMergeProfileRequest *r = (const Querier__V1__SelectMergeProfileRequest *)in;
    qr_select_t s;
    fx_buf_t pprof = FX_BUF_INIT;
    int rc = qr_check_select(
        q, call->tenant, r->profile_typeid, r->label_selector, r->start, r->end,
        r->optional_max_nodes_case == QUERIER__V1__SELECT_MERGE_PROFILE_REQUEST__OPTIONAL_MAX_NODES_MAX_NODES,
        r->max_nodes, call->arena, &s, err);
    if (rc < 0)
        return rc;
    if (r->n_profile_id_selector &&
        (rc = qr_parse_profile_ids(r->profile_id_selector, r->n_profile_id_selector, call->arena,
                                   &s, err)) < 0)
        return rc;
    if ((rc = qr_merge_pprof(q, call->tenant, &s, &pprof, err)) == FX_OK) {
        Google__V1__Profile *p = google__v1__profile__unpack(fx_arena_pb(call->arena), pprof.len,
                                                             pprof.data);
        if (!p) {
            rc = fx_err_set(err, FX_EINTERNAL, "merged profile could not be decoded");
        } else {
            *out = &p->base;
        }
    }
    fx_buf_free(&pprof);
    return rc;
}

static int select_series(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                         fx_err_t *err)
{
    qr_t *q = call->ctx;
    const Querier__V1__SelectSeriesRequest *r = (const Querier__V1__SelectSeriesRequest *)in;
    qr_select_t s;
    Querier__V1__SelectSeriesResponse *resp;
    int rc;

    if (r->exemplar_type == TYPES__V1__EXEMPLAR_TYPE__EXEMPLAR_TYPE_SPAN)
        return fx_err_set(err, FX_EUNIMPL, "span exemplars are not supported (exemplar_type "
                          "EXEMPLAR_TYPE_INDIVIDUAL is)");
    if (!(r->step >= 0.001))
        return fx_err_set(err, FX_EINVAL, "step must be at least 0.001 seconds, got %g", r->step);
    if ((rc = qr_check_select(q, call->tenant, r->profile_typeid, r->label_selector, r->start, r->end,
                              1, 1, call->arena, &s, err)) < 0)
        return rc;
    s.stack_trace_selector = r->stack_trace_selector;
    if (r->stack_trace_selector && r->stack_trace_selector->n_call_site)
        return fx_err_set(err, FX_EUNIMPL, "stack_trace_selector is not supported by SelectSeries");
    int64_t step_ms = (int64_t)(r->step * 1000.0);
    if (step_ms < 1)
        step_ms = 1;
    if ((rc = qr_select_series(q, call->tenant, &s, r->group_by, r->n_group_by, step_ms,
                               r->aggregation == TYPES__V1__TIME_SERIES_AGGREGATION_TYPE__TIME_SERIES_AGGREGATION_TYPE_AVERAGE,
                               r->optional_limit_case ? r->limit : 0, call->arena, &resp, err)) < 0)
        return rc;
    if (r->exemplar_type == TYPES__V1__EXEMPLAR_TYPE__EXEMPLAR_TYPE_INDIVIDUAL &&
        (rc = qr_attach_exemplars(q, call->tenant, &s, r->group_by, r->n_group_by, step_ms,
                                  call->arena, resp, err)) < 0)
        return rc;
    *out = &resp->base;
    return FX_OK;
}

static int select_heatmap(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                          fx_err_t *err)
{
    qr_t *q = call->ctx;
    const Querier__V1__SelectHeatmapRequest *r = (const Querier__V1__SelectHeatmapRequest *)in;
    qr_select_t s;
    Querier__V1__SelectHeatmapResponse *resp;
    int rc;

    int spans = r->query_type == QUERIER__V1__HEATMAP_QUERY_TYPE__HEATMAP_QUERY_TYPE_SPAN;
    if (!spans && r->query_type != QUERIER__V1__HEATMAP_QUERY_TYPE__HEATMAP_QUERY_TYPE_INDIVIDUAL)
        return fx_err_set(err, FX_EINVAL, "query_type must be HEATMAP_QUERY_TYPE_INDIVIDUAL "
                          "or HEATMAP_QUERY_TYPE_SPAN, got %d", (int)r->query_type);
    if (!(r->step >= 0.001))
        return fx_err_set(err, FX_EINVAL, "step must be at least 0.001 seconds, got %g", r->step);
    if (r->optional_limit_case && r->limit < 0)
        return fx_err_set(err, FX_EINVAL, "limit must not be negative, got %lld",
                          (long long)r->limit);
    if ((rc = qr_check_select(q, call->tenant, r->profile_typeid, r->label_selector, r->start, r->end,
                              1, 1, call->arena, &s, err)) < 0)
        return rc;
    int64_t step_ms = (int64_t)(r->step * 1000.0);
    if (step_ms < 1)
        step_ms = 1;
    /* Exemplars of a span heatmap name their span too, whichever type is asked. */
    int exemplars = r->exemplar_type == TYPES__V1__EXEMPLAR_TYPE__EXEMPLAR_TYPE_INDIVIDUAL ||
                    r->exemplar_type == TYPES__V1__EXEMPLAR_TYPE__EXEMPLAR_TYPE_SPAN;
    if ((rc = qr_select_heatmap(q, call->tenant, &s, r->group_by, r->n_group_by, step_ms, spans,
                                r->optional_limit_case ? r->limit : 0, exemplars, call->arena,
                                &resp, err)) < 0)
        return rc;
    *out = &resp->base;
    return FX_OK;
}

static int unimplemented(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                         fx_err_t *err)
{
    (void)in;
    (void)out;
    return fx_err_set(err, FX_EUNIMPL, "%s is not implemented by Fornax", call->method);
}

int qr_register_api(qr_t *q, fx_err_t *err)
{
    static const struct {
        const char *name;
        fx_method_fn fn;
    } methods[] = {
        {"ProfileTypes", profile_types},
        {"LabelNames", label_names},
        {"LabelValues", label_values},
        {"Series", series},
        {"SelectMergeStacktraces", select_merge_stacktraces},
        {"SelectMergeSpanProfile", select_merge_span_profile},
        {"SelectMergeProfile", select_merge_profile},
        {"SelectSeries", select_series},
        {"Diff", diff},
        {"GetProfileStats", profile_stats},
        {"SelectHeatmap", select_heatmap},
        /* Query analysis is not built yet: 501. */
        {"AnalyzeQuery", unimplemented},
    };
    for (size_t i = 0; i < FX_ARRAY_LEN(methods); i++)
        if (fx_connect_register_method(fx_app_http(q->app), &querier__v1__querier_service__descriptor,
                                       methods[i].name, methods[i].fn, q) < 0)
            return fx_err_set(err, FX_EINTERNAL, "cannot register %s", methods[i].name);
    return FX_OK;
}
