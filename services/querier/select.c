/* select.c - validated selects and their merges across ingesters. */
#include "querier.h"
#include "storage/row.h"
#include "core/mem.h"
#include "core/time.h"
#include "ingester/v1/ingester.pb-c.h"
#include "limits/limits.h"
#include "model/callsite.h"
#include "model/profile_id.h"
#include "model/selector.h"
#include "model/treebytes.h"
#include "pprof/merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fmt_duration(int64_t ms, char *buf, size_t n)
{
    if (ms % 3600000 == 0)
        snprintf(buf, n, "%lldh", (long long)(ms / 3600000));
    else if (ms % 60000 == 0)
        snprintf(buf, n, "%lldm", (long long)(ms / 60000));
    else
        snprintf(buf, n, "%.3fs", (double)ms / 1000.0);
}

int qr_check_select(qr_t *q, const char *tenant, const char *profile_type_id,
                    const char *label_selector, int64_t start, int64_t end, int has_max_nodes,
                    int64_t max_nodes, fx_arena_t *a, qr_select_t *out, fx_err_t *err)
{
    const fx_limits_t *lim = fx_limits_for(fx_app_limits(q->app), tenant);
    fx_selector_t sel;
    int rc;

    memset(out, 0, sizeof *out);
    if (!profile_type_id || !*profile_type_id)
        return fx_err_set(err, FX_EINVAL, "profile_typeID is required");
    if ((rc = fx_profile_type_parse(profile_type_id, a, &out->type, err)) < 0)
        return rc;
    out->selector = label_selector && *label_selector ? label_selector : "{}";
    if ((rc = fx_selector_parse(out->selector, &sel, err)) < 0)
        return rc;
    fx_selector_free(&sel);
    if (end < start)
        return fx_err_set(err, FX_EINVAL, "invalid time range: end (%lld) is before start (%lld)",
                          (long long)end, (long long)start);
    int64_t max_len = lim->max_query_length_ns / 1000000;
    if (max_len > 0 && end - start > max_len) {
        char l[32], m[32];
        fmt_duration(end - start, l, sizeof l);
        fmt_duration(max_len, m, sizeof m);
        return fx_err_set(err, FX_EINVAL,
                          "the query time range exceeds the limit (query length: %s, limit: %s "
                          "max_query_length)", l, m);
    }
    int64_t lookback = lim->max_query_lookback_ns / 1000000;
    if (lookback > 0) {
        int64_t min_start = fx_now_ms() - lookback;
        if (end < min_start)
            out->empty = 1;
        else if (start < min_start)
            start = min_start;
    }
    out->start_ms = start;
    out->end_ms = end;
    if (!has_max_nodes || max_nodes == 0)
        max_nodes = lim->max_flamegraph_nodes_default;
    if (max_nodes < 0 || (lim->max_flamegraph_nodes_max > 0 && max_nodes > lim->max_flamegraph_nodes_max))
        return fx_err_set(err, FX_EINVAL,
                          "max_nodes must be between 1 and %lld (max_flamegraph_nodes_max), got %lld",
                          (long long)lim->max_flamegraph_nodes_max, (long long)max_nodes);
    out->max_nodes = max_nodes;
    return FX_OK;
}

int qr_parse_spans(char **v, size_t n, fx_arena_t *a, qr_select_t *s, fx_err_t *err)
{
    uint64_t *ids = fx_arena_alloc(a, (n + 1) * sizeof *ids);
    for (size_t i = 0; i < n; i++) {
        const char *p = v[i] ? v[i] : "";
        if (fx_span_id_parse(p, strlen(p), &ids[i]))
            return fx_err_set(err, FX_EINVAL, "span_selector: invalid span id \"%.64s\" (a span "
                              "id is 16 hex digits)", p);
    }
    s->spans = ids;
    s->nspans = fx_span_ids_sort(ids, n);
    return FX_OK;
}

int qr_parse_profile_ids(char **v, size_t n, fx_arena_t *a, qr_select_t *s, fx_err_t *err)
{
    uint8_t *ids = fx_arena_alloc(a, (n + 1) * 16);
    for (size_t i = 0; i < n; i++) {
        const char *p = v[i] ? v[i] : "";
        if (fx_profile_id_parse(p, strlen(p), ids + 16 * i) < 0)
            return fx_err_set(err, FX_EINVAL, "profile_id_selector: invalid profile id \"%.64s\" "
                              "(a profile id is a UUID like 8-4-4-4-12 hex digits)", p);
    }
    s->ids.v = ids;
    s->ids.n = fx_profile_ids_sort(ids, n);
    return FX_OK;
}

void qr_select_request(const qr_select_t *s, int64_t max_nodes, Ingester__V1__SelectRequest *r)
{
    ingester__v1__select_request__init(r);
    r->n_span_ids = s->nspans;
    r->span_ids = (uint64_t *)s->spans;
    r->profile_type_id = (char *)s->type.id;
    r->label_selector = (char *)s->selector;
    r->start = s->start_ms;
    r->end = s->end_ms;
    r->max_nodes = max_nodes;
}

/* Keeps only what lies under the call_site prefix (model/callsite.h). */
static void call_site_filter(const fx_tree_t *src, const Types__V1__StackTraceSelector *sts,
                             fx_tree_t *dst)
{
    const char **names = fx_malloc((sts->n_call_site + 1) * sizeof *names);
    for (size_t i = 0; i < sts->n_call_site; i++)
        names[i] = sts->call_site[i]->name ? sts->call_site[i]->name : "";
    fx_tree_filter_call_site(src, names, sts->n_call_site, dst);
    free(names);
}

static const ProtobufCMessage *select_itself(void *ctx, Ingester__V1__SelectRequest *sel)
{
    (void)ctx;
    return &sel->base;
}

/* MergeSeries wraps the select: one wrapper per ingester, from ctx's arena. */
typedef struct series_ctx {
    fx_arena_t *arena;
    const Ingester__V1__SelectSeriesRequest *tmpl;
} series_ctx_t;

static const ProtobufCMessage *series_request(void *ctx, Ingester__V1__SelectRequest *sel)
{
    series_ctx_t *c = ctx;
    Ingester__V1__SelectSeriesRequest *r = fx_arena_alloc(c->arena, sizeof *r);
    *r = *c->tmpl;
    r->select = sel;
    return &r->base;
}

int qr_merge_tree(qr_t *q, const char *tenant, const qr_select_t *s, fx_tree_t *tree, fx_err_t *err)
{
    Ingester__V1__SelectRequest r;
    qr_results_t res;
    int rc = FX_OK;

    if (s->empty) {
        fx_tree_compute_totals(tree);
        return FX_OK;
    }
    /* With a call-site filter the ingesters must not truncate: "other"
     * would swallow the frames the filter looks for. */
    qr_select_request(s, s->stack_trace_selector ? 0 : s->max_nodes, &r);
    if ((rc = qr_fanout_select(q, tenant, "MergeStacktraces", &r, &s->ids, 0,
                               select_itself, NULL, &ingester__v1__merge_stacktraces_response__descriptor,
                               &res, err)) < 0)
        goto out;
    fx_tree_t merged, *target = tree;
    int filter = s->stack_trace_selector && s->stack_trace_selector->n_call_site > 0;
    if (filter) {
        fx_tree_init(&merged);
        target = &merged;
    }
    for (size_t i = 0; i < res.n && rc == FX_OK; i++) {
        const Ingester__V1__MergeStacktracesResponse *m =
            (const Ingester__V1__MergeStacktracesResponse *)res.v[i].resp;
        rc = fx_treebytes_merge(target, m->tree.data, m->tree.len, err);
    }
    if (filter) {
        if (rc == FX_OK)
            call_site_filter(&merged, s->stack_trace_selector, tree);
        fx_tree_free(&merged);
    }
    fx_tree_compute_totals(tree);
out:
    qr_results_free(&res);
    return rc;
}

/* Series identity for merging answers of several stores. */
static int same_labels(const Types__V1__Series *a, const Types__V1__Series *b)
{
    return qr_pairs_cmp(a->labels, a->n_labels, b->labels, b->n_labels) == 0;
}

static double series_total(const Types__V1__Series *s)
{
    double t = 0;
    for (size_t i = 0; i < s->n_points; i++)
        t += s->points[i]->value;
    return t;
}

static int cmp_total_desc(const void *a, const void *b)
{
    double x = series_total(*(Types__V1__Series *const *)a);
    double y = series_total(*(Types__V1__Series *const *)b);
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Adds src's points into dst (both sorted by timestamp), in arena a. */
static void add_points(Types__V1__Series *dst, const Types__V1__Series *src, fx_arena_t *a)
{
    Types__V1__Point **pts = fx_arena_alloc(a, (dst->n_points + src->n_points + 1) * sizeof *pts);
    size_t i = 0, j = 0, n = 0;
    while (i < dst->n_points || j < src->n_points) {
        if (j == src->n_points || (i < dst->n_points && dst->points[i]->timestamp < src->points[j]->timestamp)) {
            pts[n++] = dst->points[i++];
        } else if (i == dst->n_points || src->points[j]->timestamp < dst->points[i]->timestamp) {
            Types__V1__Point *p = fx_arena_alloc(a, sizeof *p);
            types__v1__point__init(p);
            p->timestamp = src->points[j]->timestamp;
            p->value = src->points[j++]->value;
            pts[n++] = p;
        } else {
            dst->points[i]->value += src->points[j++]->value;
            pts[n++] = dst->points[i++];
        }
    }
    dst->points = pts;
    dst->n_points = n;
}

static Types__V1__Series *copy_series(const Types__V1__Series *s, fx_arena_t *a)
{
    Types__V1__Series *c = fx_arena_alloc(a, sizeof *c);
    types__v1__series__init(c);
    c->n_labels = s->n_labels;
    c->labels = qr_pairs_copy(s->labels, s->n_labels, a);
    c->n_points = 0;
    c->points = NULL;
    add_points(c, s, a);
    return c;
}

/* One MergeSeries fan-out (sums, or with count the profiles per bucket),
 * every store's series merged by labels into resp (arena a). */
static int collect_series(qr_t *q, const char *tenant, Ingester__V1__SelectRequest sel,
                          Ingester__V1__SelectSeriesRequest r, bool count, fx_arena_t *a,
                          Querier__V1__SelectSeriesResponse *resp, fx_err_t *err)
{
    qr_results_t res = {0};
    int rc;
    r.select = &sel;
    r.count = count;
    series_ctx_t sc = {a, &r};
    if ((rc = qr_fanout_select(q, tenant, "MergeSeries", &sel, NULL, r.step_ms, series_request, &sc,
                               &querier__v1__select_series_response__descriptor, &res, err)) < 0)
        goto out;
    size_t cap = 0;
    for (size_t i = 0; i < res.n; i++)
        cap += ((Querier__V1__SelectSeriesResponse *)res.v[i].resp)->n_series;
    resp->series = fx_arena_alloc(a, (cap + 1) * sizeof *resp->series);
    for (size_t i = 0; i < res.n; i++) {
        const Querier__V1__SelectSeriesResponse *part = (const Querier__V1__SelectSeriesResponse *)res.v[i].resp;
        for (size_t k = 0; k < part->n_series; k++) {
            size_t j;
            for (j = 0; j < resp->n_series; j++)
                if (same_labels(resp->series[j], part->series[k]))
                    break;
            if (j < resp->n_series)
                add_points(resp->series[j], part->series[k], a);
            else
                resp->series[resp->n_series++] = copy_series(part->series[k], a);
        }
    }
out:
    qr_results_free(&res);
    return rc;
}

/* Series order of an answer: by labels, whichever store answered first. */
static int cmp_series_labels(const void *a, const void *b)
{
    const Types__V1__Series *x = *(Types__V1__Series *const *)a, *y = *(Types__V1__Series *const *)b;
    return qr_pairs_cmp(x->labels, x->n_labels, y->labels, y->n_labels);
}

/* Without group_by the answer is one series, summed over all. */
static void fold_all(Querier__V1__SelectSeriesResponse *resp, fx_arena_t *a)
{
    if (resp->n_series == 0)
        return;
    Types__V1__Series *all = resp->series[0];
    all->n_labels = 0;
    for (size_t i = 1; i < resp->n_series; i++)
        add_points(all, resp->series[i], a);
    resp->n_series = 1;
}

/* Divides every point of sums by the count of the same series and time. */
static void divide(Querier__V1__SelectSeriesResponse *sums, const Querier__V1__SelectSeriesResponse *counts)
{
    for (size_t i = 0; i < sums->n_series; i++) {
        Types__V1__Series *s = sums->series[i];
        const Types__V1__Series *c = NULL;
        for (size_t j = 0; j < counts->n_series && !c; j++)
            if (same_labels(s, counts->series[j]))
                c = counts->series[j];
        size_t k = 0;
        for (size_t p = 0; p < s->n_points; p++) {
            while (c && k < c->n_points && c->points[k]->timestamp < s->points[p]->timestamp)
                k++;
            /* A profile pushed between the two fan-outs can leave a sum
             * without its count: that point stays a sum of one. */
            if (c && k < c->n_points && c->points[k]->timestamp == s->points[p]->timestamp &&
                c->points[k]->value > 0)
                s->points[p]->value /= c->points[k]->value;
        }
    }
}

int qr_select_series(qr_t *q, const char *tenant, const qr_select_t *s, char **group_by,
                     size_t ngroup_by, int64_t step_ms, int avg, int64_t limit, fx_arena_t *a,
                     Querier__V1__SelectSeriesResponse **out, fx_err_t *err)
{
    Ingester__V1__SelectRequest sel;
    Ingester__V1__SelectSeriesRequest r = INGESTER__V1__SELECT_SERIES_REQUEST__INIT;
    int rc = FX_OK;

    Querier__V1__SelectSeriesResponse *resp = fx_arena_alloc(a, sizeof *resp);
    querier__v1__select_series_response__init(resp);
    *out = resp;
    if (s->empty)
        return FX_OK;
    qr_select_request(s, 0, &sel);
    /* Without group_by every series falls into one group. The head groups by
     * the listed names and omits names a series lacks, so grouping by a name
     * no label can have ("") puts all series in one group. */
    static char *no_name[1] = {""};
    r.group_by = ngroup_by ? group_by : no_name;
    r.n_group_by = ngroup_by ? ngroup_by : 1;
    r.step_ms = step_ms;
    /* Stores always sum: with replicas and store-gateways each store merges
     * only the profiles assigned to it, so an average is exact only as all
     * stores' sums over all stores' counts. */
    r.aggregation = TYPES__V1__TIME_SERIES_AGGREGATION_TYPE__TIME_SERIES_AGGREGATION_TYPE_SUM;
    if ((rc = collect_series(q, tenant, sel, r, false, a, resp, err)) < 0)
        return rc;
    if (ngroup_by == 0)
        fold_all(resp, a);
    if (avg) {
        Querier__V1__SelectSeriesResponse counts = QUERIER__V1__SELECT_SERIES_RESPONSE__INIT;
        if ((rc = collect_series(q, tenant, sel, r, true, a, &counts, err)) < 0)
            return rc;
        if (ngroup_by == 0)
            fold_all(&counts, a);
        divide(resp, &counts);
    }
    if (resp->n_series > 1)
        qsort(resp->series, resp->n_series, sizeof *resp->series, cmp_series_labels);
    if (limit > 0 && (size_t)limit < resp->n_series) {
        qsort(resp->series, resp->n_series, sizeof *resp->series, cmp_total_desc);
        resp->n_series = (size_t)limit;
    }
    return rc;
}

int qr_merge_pprof(qr_t *q, const char *tenant, const qr_select_t *s, fx_buf_t *out, fx_err_t *err)
{
    Ingester__V1__SelectRequest r;
    qr_results_t res = {0};
    int rc;
    if (s->empty)
        return FX_OK;
    qr_select_request(s, s->max_nodes, &r);
    if ((rc = qr_fanout_select(q, tenant, "MergePprof", &r, &s->ids, 0,
                               select_itself, NULL, &ingester__v1__merge_pprof_response__descriptor,
                               &res, err)) < 0)
        goto out;
    if (res.n > 1) {
        fx_slice_t *parts = fx_calloc(res.n, sizeof *parts);
        for (size_t i = 0; i < res.n; i++) {
            const Ingester__V1__MergePprofResponse *m = (const Ingester__V1__MergePprofResponse *)res.v[i].resp;
            parts[i].data = m->pprof.data;
            parts[i].len = m->pprof.len;
        }
        rc = fx_pprof_merge(parts, res.n, out, err);
        free(parts);
        goto out;
    }
    if (res.n == 1) {
        const Ingester__V1__MergePprofResponse *m = (const Ingester__V1__MergePprofResponse *)res.v[0].resp;
        fx_buf_append(out, m->pprof.data, m->pprof.len);
    }
out:
    qr_results_free(&res);
    return rc;
}
