/*
 * rpcquery.c - the internal query RPCs over a store: request messages to
 * head queries, the store's results to response messages.
 */
#include "storage/rpcquery.h"
#include "storage/row.h"
#include "core/hash.h"
#include "core/mem.h"
#include "ingester/v1/ingester.pb-c.h"
#include "model/heatmap.h"
#include "model/profile_type.h"
#include "model/treebytes.h"
#include "querier/v1/querier.pb-c.h"

#include <stdlib.h>
#include <string.h>

/* --- requests ------------------------------------------------------------------------ */

/* One request as a head query. q points into the struct itself (parsed
 * selectors, the `only` key set), so it must not be copied or moved;
 * rq_free releases what the struct owns. Strings in q (tenant, profile
 * type) point into the caller's request. */
typedef struct rq {
    fx_head_query_t q;
    fx_selector_t *sels;
    size_t nsels;
    fx_head_keyset_t only; /* replica deduplication: the profiles to use */
    int has_only;
    uint64_t *spans; /* span selector, sorted and unique */
} rq_t;

static void rq_free(rq_t *r)
{
    for (size_t i = 0; i < r->nsels; i++)
        fx_selector_free(&r->sels[i]);
    free(r->sels);
    r->sels = NULL;
    r->nsels = 0;
    free(r->spans);
    r->spans = NULL;
    if (r->has_only)
        fx_head_keyset_free(&r->only);
    r->has_only = 0;
}

/* Label and series RPCs: n matcher strings over [start, end] ms. On error
 * nothing is left to free; the message names the bad selector. */
static int rq_matchers(rq_t *r, const char *tenant, char **matchers, size_t n, int64_t start,
                       int64_t end, fx_err_t *err)
{
    memset(r, 0, sizeof *r);
    r->sels = fx_calloc(n + 1, sizeof *r->sels);
    for (size_t i = 0; i < n; i++) {
        int rc = fx_selector_parse(matchers[i], &r->sels[i], err);
        if (rc < 0) {
            rq_free(r);
            return rc;
        }
        r->nsels++;
    }
    r->q.tenant = tenant;
    r->q.selectors = r->sels;
    r->q.nselectors = r->nsels;
    r->q.start_ms = start;
    r->q.end_ms = end;
    return FX_OK;
}

/* Selects: the label selector, profile type, range and `only` keys of req
 * (a malformed key list is FX_EINVAL). */
static int rq_select(rq_t *r, const char *tenant, const Ingester__V1__SelectRequest *req,
                     fx_err_t *err)
{
    char *one[1] = {req->label_selector};
    int rc = rq_matchers(r, tenant, one, req->label_selector && *req->label_selector ? 1 : 0,
                         req->start, req->end, err);
    if (rc < 0)
        return rc;
    r->q.profile_type = req->profile_type_id;
    r->q.key_values = (req->key_values ? FX_KEY_VALUES : 0) |
                      (req->key_spans ? FX_KEY_VALUES | FX_KEY_SPANS : 0);
    if (req->n_span_ids) {
        r->spans = fx_malloc(req->n_span_ids * sizeof *r->spans);
        memcpy(r->spans, req->span_ids, req->n_span_ids * sizeof *r->spans);
        r->q.spans = r->spans;
        r->q.nspans = fx_span_ids_sort(r->spans, req->n_span_ids);
    }
    if (!req->only)
        return FX_OK;
    const Ingester__V1__ProfileKeys *k = req->only;
    if (k->n_time_ns != k->n_fingerprints || k->ids.len != k->n_fingerprints * 16) {
        rq_free(r);
        return fx_err_set(err, FX_EINVAL, "malformed profile key list");
    }
    fx_head_keyset_init(&r->only);
    r->has_only = 1;
    for (size_t i = 0; i < k->n_fingerprints; i++) {
        fx_head_profile_key_t key;
        key.fingerprint = k->fingerprints[i];
        key.time_ns = k->time_ns[i];
        memcpy(key.id, k->ids.data + i * 16, 16);
        fx_head_keyset_add(&r->only, &key);
    }
    r->q.only = &r->only;
    return FX_OK;
}

/* MergeSeries' aggregation: count (profiles per bucket, so the querier can
 * average exactly over several stores), average or sum. */
static fx_head_aggregation_t rq_aggregation(const Ingester__V1__SelectSeriesRequest *r)
{
    if (r->count)
        return FX_AGG_COUNT;
    return r->aggregation == TYPES__V1__TIME_SERIES_AGGREGATION_TYPE__TIME_SERIES_AGGREGATION_TYPE_AVERAGE
               ? FX_AGG_AVERAGE
               : FX_AGG_SUM;
}

fx_labels_t fx_rpcq_labels(Types__V1__LabelPair **pairs, size_t n, fx_arena_t *a)
{
    fx_labels_t l = {fx_arena_alloc(a, (n + 1) * sizeof(fx_label_t)), n};
    for (size_t i = 0; i < n; i++) {
        l.v[i].name = pairs[i]->name;
        l.v[i].value = pairs[i]->value;
    }
    fx_labels_sort(&l);
    return l;
}

/* --- responses: allocated in a, pointing into the results ----------------------------- */

/* Labels to label pairs pointing at the labels' strings. */
static Types__V1__LabelPair **pairs_of(const fx_labels_t *l, fx_arena_t *a)
{
    Types__V1__LabelPair **v = fx_arena_alloc(a, (l->len + 1) * sizeof *v);
    Types__V1__LabelPair *p = fx_arena_alloc(a, (l->len + 1) * sizeof *p);
    for (size_t i = 0; i < l->len; i++) {
        types__v1__label_pair__init(&p[i]);
        p[i].name = (char *)l->v[i].name;
        p[i].value = (char *)l->v[i].value;
        v[i] = &p[i];
    }
    return v;
}

static Querier__V1__SeriesResponse *series_response(const fx_head_label_sets_t *sets, fx_arena_t *a)
{
    Querier__V1__SeriesResponse *resp = fx_arena_alloc(a, sizeof *resp);
    querier__v1__series_response__init(resp);
    resp->n_labels_set = sets->len;
    resp->labels_set = fx_arena_alloc(a, (sets->len + 1) * sizeof *resp->labels_set);
    Types__V1__Labels *ls = fx_arena_alloc(a, (sets->len + 1) * sizeof *ls);
    for (size_t i = 0; i < sets->len; i++) {
        types__v1__labels__init(&ls[i]);
        ls[i].n_labels = sets->v[i].len;
        ls[i].labels = pairs_of(&sets->v[i], a);
        resp->labels_set[i] = &ls[i];
    }
    return resp;
}

static Querier__V1__SelectSeriesResponse *select_series_response(const fx_head_ts_list_t *list,
                                                                 fx_arena_t *a)
{
    Querier__V1__SelectSeriesResponse *resp = fx_arena_alloc(a, sizeof *resp);
    querier__v1__select_series_response__init(resp);
    resp->n_series = list->len;
    resp->series = fx_arena_alloc(a, (list->len + 1) * sizeof *resp->series);
    for (size_t i = 0; i < list->len; i++) {
        const fx_head_ts_t *t = &list->v[i];
        Types__V1__Series *s = fx_arena_alloc(a, sizeof *s);
        types__v1__series__init(s);
        s->n_labels = t->labels.len;
        s->labels = pairs_of(&t->labels, a);
        s->n_points = t->npoints;
        s->points = fx_arena_alloc(a, (s->n_points + 1) * sizeof *s->points);
        Types__V1__Point *pts = fx_arena_alloc(a, (s->n_points + 1) * sizeof *pts);
        for (size_t k = 0; k < s->n_points; k++) {
            types__v1__point__init(&pts[k]);
            pts[k].timestamp = t->points[k].ts_ms;
            pts[k].value = t->points[k].value;
            s->points[k] = &pts[k];
        }
        resp->series[i] = s;
    }
    return resp;
}

/* Profile type ids; ids that do not parse are left out. */
static Querier__V1__ProfileTypesResponse *profile_types_response(const fx_head_strings_t *ids,
                                                                 fx_arena_t *a)
{
    Querier__V1__ProfileTypesResponse *resp = fx_arena_alloc(a, sizeof *resp);
    querier__v1__profile_types_response__init(resp);
    resp->profile_types = fx_arena_alloc(a, (ids->len + 1) * sizeof *resp->profile_types);
    for (size_t i = 0; i < ids->len; i++) {
        fx_profile_type_t t;
        if (fx_profile_type_parse(ids->v[i], a, &t, NULL) < 0)
            continue;
        Types__V1__ProfileType *pt = fx_arena_alloc(a, sizeof *pt);
        types__v1__profile_type__init(pt);
        pt->id = (char *)t.id;
        pt->name = (char *)t.name;
        pt->sample_type = (char *)t.sample_type;
        pt->sample_unit = (char *)t.sample_unit;
        pt->period_type = (char *)t.period_type;
        pt->period_unit = (char *)t.period_unit;
        resp->profile_types[resp->n_profile_types++] = pt;
    }
    return resp;
}

/* With values: each distinct series' labels once, keys pointing at them
 * by index. Keys of a series share its fingerprint, so a map from
 * fingerprint to entry finds it; labels are compared to be exact. */
static void keys_values(const fx_head_keys_t *keys, fx_arena_t *a, Ingester__V1__ProfileKeys *resp)
{
    fx_map64_t seen;
    size_t *first = fx_malloc((keys->len + 1) * sizeof *first); /* entry -> a key of it */
    fx_map64_init(&seen);
    resp->n_values = resp->n_series = keys->len;
    resp->values = fx_arena_alloc(a, (keys->len + 1) * sizeof *resp->values);
    resp->series = fx_arena_alloc(a, (keys->len + 1) * sizeof *resp->series);
    resp->series_labels = fx_arena_alloc(a, (keys->len + 1) * sizeof *resp->series_labels);
    for (size_t i = 0; i < keys->len; i++) {
        int inserted;
        uint64_t fp = keys->v[i].fingerprint == FX_MAP64_EMPTY ? 0 : keys->v[i].fingerprint;
        uint64_t *slot = fx_map64_put(&seen, fp, &inserted);
        size_t e = inserted ? resp->n_series_labels : (size_t)*slot;
        if (!inserted && fx_labels_cmp(&keys->labels[i], &keys->labels[first[e]]) != 0) {
            /* A fingerprint collision (or a folded FX_MAP64_EMPTY): search. */
            for (e = 0; e < resp->n_series_labels; e++)
                if (fx_labels_cmp(&keys->labels[i], &keys->labels[first[e]]) == 0)
                    break;
        }
        if (e == resp->n_series_labels) {
            Types__V1__Labels *l = fx_arena_alloc(a, sizeof *l);
            types__v1__labels__init(l);
            l->n_labels = keys->labels[i].len;
            l->labels = pairs_of(&keys->labels[i], a);
            first[e] = i;
            resp->series_labels[resp->n_series_labels++] = l;
            if (inserted)
                *slot = e;
        }
        resp->values[i] = keys->values[i];
        resp->series[i] = (uint32_t)e;
    }
    fx_map64_free(&seen);
    free(first);
}

static Ingester__V1__ProfileKeys *keys_response(const fx_head_keys_t *keys, fx_arena_t *a)
{
    Ingester__V1__ProfileKeys *resp = fx_arena_alloc(a, sizeof *resp);
    ingester__v1__profile_keys__init(resp);
    resp->n_fingerprints = resp->n_time_ns = keys->len;
    resp->fingerprints = fx_arena_alloc(a, (keys->len + 1) * sizeof *resp->fingerprints);
    resp->time_ns = fx_arena_alloc(a, (keys->len + 1) * sizeof *resp->time_ns);
    resp->ids.data = fx_arena_alloc(a, keys->len * 16 + 1);
    resp->ids.len = keys->len * 16;
    for (size_t i = 0; i < keys->len; i++) {
        resp->fingerprints[i] = keys->v[i].fingerprint;
        resp->time_ns[i] = keys->v[i].time_ns;
        memcpy(resp->ids.data + i * 16, keys->v[i].id, 16);
    }
    if (keys->values)
        keys_values(keys, a, resp);
    if (keys->nspans) {
        size_t n = keys->nspans;
        resp->n_span_fingerprints = resp->n_span_time_ns = resp->n_span_ids = resp->n_span_values = n;
        resp->span_fingerprints = fx_arena_alloc(a, n * sizeof *resp->span_fingerprints);
        resp->span_time_ns = fx_arena_alloc(a, n * sizeof *resp->span_time_ns);
        resp->span_ids = fx_arena_alloc(a, n * sizeof *resp->span_ids);
        resp->span_values = fx_arena_alloc(a, n * sizeof *resp->span_values);
        resp->span_profile_ids.data = fx_arena_alloc(a, n * 16);
        resp->span_profile_ids.len = n * 16;
        for (size_t i = 0; i < n; i++) {
            const fx_head_span_value_t *sv = &keys->spans[i];
            resp->span_fingerprints[i] = sv->key.fingerprint;
            resp->span_time_ns[i] = sv->key.time_ns;
            memcpy(resp->span_profile_ids.data + 16 * i, sv->key.id, 16);
            resp->span_ids[i] = sv->span;
            resp->span_values[i] = sv->value;
        }
    }
    return resp;
}

/* Moves bytes into the arena (responses live there). */
static void arena_bytes(fx_arena_t *a, fx_buf_t *b, ProtobufCBinaryData *out)
{
    out->data = fx_arena_alloc(a, b->len + 1);
    if (b->len)
        memcpy(out->data, b->data, b->len);
    out->len = b->len;
    fx_buf_free(b);
}

/* --- metadata queries --------------------------------------------------------------- */

static int label_names(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                       fx_err_t *err)
{
    const fx_rpcq_store_t *st = call->ctx;
    const Types__V1__LabelNamesRequest *r = (const Types__V1__LabelNamesRequest *)in;
    rq_t rq;
    fx_head_strings_t names;
    int rc;
    if ((rc = rq_matchers(&rq, call->tenant, r->matchers, r->n_matchers, r->start, r->end, err)) < 0)
        return rc;
    rc = st->label_names(st->ctx, &rq.q, call->arena, &names, err);
    rq_free(&rq);
    if (rc < 0)
        return rc;
    Types__V1__LabelNamesResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
    types__v1__label_names_response__init(resp);
    resp->names = names.v;
    resp->n_names = names.len;
    *out = &resp->base;
    return FX_OK;
}

static int label_values(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                        fx_err_t *err)
{
    const fx_rpcq_store_t *st = call->ctx;
    const Types__V1__LabelValuesRequest *r = (const Types__V1__LabelValuesRequest *)in;
    rq_t rq;
    fx_head_strings_t values;
    int rc;
    if (!r->name || !*r->name)
        return fx_err_set(err, FX_EINVAL, "name is required");
    if ((rc = rq_matchers(&rq, call->tenant, r->matchers, r->n_matchers, r->start, r->end, err)) < 0)
        return rc;
    rc = st->label_values(st->ctx, &rq.q, r->name, call->arena, &values, err);
    rq_free(&rq);
    if (rc < 0)
        return rc;
    Types__V1__LabelValuesResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
    types__v1__label_values_response__init(resp);
    resp->names = values.v;
    resp->n_names = values.len;
    *out = &resp->base;
    return FX_OK;
}

static int series(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out, fx_err_t *err)
{
    const fx_rpcq_store_t *st = call->ctx;
    const Querier__V1__SeriesRequest *r = (const Querier__V1__SeriesRequest *)in;
    rq_t rq;
    fx_head_label_sets_t sets;
    int rc;
    if ((rc = rq_matchers(&rq, call->tenant, r->matchers, r->n_matchers, r->start, r->end, err)) < 0)
        return rc;
    rc = st->series(st->ctx, &rq.q, (const char *const *)r->label_names, r->n_label_names,
                    call->arena, &sets, err);
    rq_free(&rq);
    if (rc < 0)
        return rc;
    *out = &series_response(&sets, call->arena)->base;
    return FX_OK;
}

static int profile_types(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                         fx_err_t *err)
{
    const fx_rpcq_store_t *st = call->ctx;
    const Querier__V1__ProfileTypesRequest *r = (const Querier__V1__ProfileTypesRequest *)in;
    fx_head_query_t q = {.tenant = call->tenant, .start_ms = r->start, .end_ms = r->end};
    fx_head_strings_t ids;
    int rc;
    if ((rc = st->profile_types(st->ctx, &q, call->arena, &ids, err)) < 0)
        return rc;
    *out = &profile_types_response(&ids, call->arena)->base;
    return FX_OK;
}

static int profile_stats(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                         fx_err_t *err)
{
    const fx_rpcq_store_t *st = call->ctx;
    fx_head_profile_stats_t stats;
    int rc;
    (void)in;
    if ((rc = st->profile_stats(st->ctx, call->tenant, &stats, err)) < 0)
        return rc;
    Types__V1__GetProfileStatsResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
    types__v1__get_profile_stats_response__init(resp);
    resp->data_ingested = stats.data_ingested;
    resp->oldest_profile_time = stats.oldest_ms;
    resp->newest_profile_time = stats.newest_ms;
    *out = &resp->base;
    return FX_OK;
}

/* --- selects ------------------------------------------------------------------------- */

static int merge_stacktraces(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                             fx_err_t *err)
{
    const fx_rpcq_store_t *st = call->ctx;
    const Ingester__V1__SelectRequest *r = (const Ingester__V1__SelectRequest *)in;
    rq_t rq;
    fx_tree_t tree;
    fx_buf_t bytes = FX_BUF_INIT;
    int rc;

    if ((rc = rq_select(&rq, call->tenant, r, err)) < 0)
        return rc;
    fx_tree_init(&tree);
    if ((rc = st->merge_tree(st->ctx, &rq.q, FX_GROUP_FUNCTION, &tree, err)) == FX_OK)
        rc = fx_treebytes_write(&tree, r->max_nodes, &bytes, err);
    fx_tree_free(&tree);
    rq_free(&rq);
    if (rc < 0) {
        fx_buf_free(&bytes);
        return rc;
    }
    Ingester__V1__MergeStacktracesResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
    ingester__v1__merge_stacktraces_response__init(resp);
    arena_bytes(call->arena, &bytes, &resp->tree);
    *out = &resp->base;
    return FX_OK;
}

static int merge_series(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                        fx_err_t *err)
{
    const fx_rpcq_store_t *st = call->ctx;
    const Ingester__V1__SelectSeriesRequest *r = (const Ingester__V1__SelectSeriesRequest *)in;
    rq_t rq;
    fx_head_ts_list_t list;
    int rc;

    if (!r->select)
        return fx_err_set(err, FX_EINVAL, "select is required");
    if (r->step_ms <= 0)
        return fx_err_set(err, FX_EINVAL, "step must be positive");
    if ((rc = rq_select(&rq, call->tenant, r->select, err)) < 0)
        return rc;
    rc = st->select_series(st->ctx, &rq.q, (const char *const *)r->group_by, r->n_group_by,
                           r->step_ms, rq_aggregation(r), call->arena, &list, err);
    rq_free(&rq);
    if (rc < 0)
        return rc;
    *out = &select_series_response(&list, call->arena)->base;
    return FX_OK;
}

static int merge_pprof(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                       fx_err_t *err)
{
    const fx_rpcq_store_t *st = call->ctx;
    rq_t rq;
    fx_buf_t bytes = FX_BUF_INIT;
    int rc;

    if ((rc = rq_select(&rq, call->tenant, (const Ingester__V1__SelectRequest *)in, err)) < 0)
        return rc;
    rc = st->merge_pprof(st->ctx, &rq.q, &bytes, err);
    rq_free(&rq);
    if (rc < 0) {
        fx_buf_free(&bytes);
        return rc;
    }
    Ingester__V1__MergePprofResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
    ingester__v1__merge_pprof_response__init(resp);
    arena_bytes(call->arena, &bytes, &resp->pprof);
    *out = &resp->base;
    return FX_OK;
}

/* A key's rank within its (series, time bucket): for keeping the top k. */
typedef struct ranked_key {
    uint64_t fp;
    int64_t bucket, value, time_ns;
    const uint8_t *id;
    size_t at;
} ranked_key_t;

static int cmp_ranked_key(const void *a, const void *b)
{
    const ranked_key_t *x = a, *y = b;
    if (x->fp != y->fp)
        return x->fp < y->fp ? -1 : 1;
    if (x->bucket != y->bucket)
        return x->bucket < y->bucket ? -1 : 1;
    if (x->value != y->value)
        return x->value > y->value ? -1 : 1;
    if (x->time_ns != y->time_ns)
        return x->time_ns < y->time_ns ? -1 : 1;
    return memcmp(x->id, y->id, 16);
}

static int64_t ns_to_ms(int64_t ns)
{
    int64_t q = ns / 1000000;
    return (ns % 1000000 != 0 && ns < 0) ? q - 1 : q;
}

/* Keeps (in place, in order) only the k highest-value keys of each series
 * per bucket of step_ms from start_ms (ties: earlier, then smaller id, as
 * the querier picks exemplars). */
static void keep_top(fx_head_keys_t *keys, uint32_t k, int64_t start_ms, int64_t step_ms)
{
    ranked_key_t *r = fx_malloc((keys->len + 1) * sizeof *r);
    uint8_t *keep = fx_calloc(keys->len + 1, 1);
    for (size_t i = 0; i < keys->len; i++)
        r[i] = (ranked_key_t){keys->v[i].fingerprint,
                              fx_heatmap_slot(ns_to_ms(keys->v[i].time_ns), start_ms, step_ms),
                              keys->values[i], keys->v[i].time_ns, keys->v[i].id, i};
    if (keys->len > 1)
        qsort(r, keys->len, sizeof *r, cmp_ranked_key);
    for (size_t i = 0, run = 0; i < keys->len; i++) {
        run = i > 0 && r[i].fp == r[i - 1].fp && r[i].bucket == r[i - 1].bucket ? run + 1 : 0;
        if (run < k)
            keep[r[i].at] = 1;
    }
    size_t n = 0;
    for (size_t i = 0; i < keys->len; i++) {
        if (!keep[i])
            continue;
        keys->v[n] = keys->v[i];
        keys->values[n] = keys->values[i];
        keys->labels[n] = keys->labels[i];
        n++;
    }
    keys->len = n;
    free(keep);
    free(r);
}

static int select_profile_keys(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                               fx_err_t *err)
{
    const fx_rpcq_store_t *st = call->ctx;
    rq_t rq;
    fx_head_keys_t keys;
    int rc;

    if ((rc = rq_select(&rq, call->tenant, (const Ingester__V1__SelectRequest *)in, err)) < 0)
        return rc;
    rc = st->profile_keys(st->ctx, &rq.q, call->arena, &keys, err);
    rq_free(&rq);
    if (rc < 0)
        return rc;
    const Ingester__V1__SelectRequest *r = (const Ingester__V1__SelectRequest *)in;
    if (r->top_k && r->top_step_ms > 0 && keys.values)
        keep_top(&keys, r->top_k, r->start, r->top_step_ms);
    *out = &keys_response(&keys, call->arena)->base;
    return FX_OK;
}

fx_method_fn fx_rpcq_method(const char *name)
{
    static const struct {
        const char *name;
        fx_method_fn fn;
    } methods[] = {
        {"ProfileTypes", profile_types},
        {"LabelNames", label_names},
        {"LabelValues", label_values},
        {"Series", series},
        {"MergeStacktraces", merge_stacktraces},
        {"MergeSeries", merge_series},
        {"MergePprof", merge_pprof},
        {"ProfileStats", profile_stats},
        {"SelectProfileKeys", select_profile_keys},
    };
    for (size_t i = 0; i < FX_ARRAY_LEN(methods); i++)
        if (strcmp(methods[i].name, name) == 0)
            return methods[i].fn;
    return NULL;
}
