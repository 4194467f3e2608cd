/*
 * rpc.c - storegateway.v1.StoreGatewayService: the ingesters' query RPCs
 * (same request and response messages as ingester.v1, see
 * services/ingester/rpc.c) answered over the gateway's blocks by query.c.
 */
#include "sg_int.h"
#include "ingester/v1/ingester.pb-c.h"
#include "model/profile_type.h"
#include "model/treebytes.h"
#include "querier/v1/querier.pb-c.h"
#include "rpc/rpc.h"
#include "storegateway/v1/storegateway.pb-c.h"
#include "types/v1/types.pb-c.h"

#include <stdlib.h>
#include <string.h>

/* --- helpers ------------------------------------------------------------------ */

static Types__V1__LabelPair **pairs_of(const fx_labels_t *l, fx_arena_t *a)
{
    Types__V1__LabelPair **v = fx_arena_alloc(a, (l->len + 1) * sizeof *v);
    for (size_t i = 0; i < l->len; i++) {
        v[i] = fx_arena_alloc(a, sizeof *v[i]);
        types__v1__label_pair__init(v[i]);
        v[i]->name = (char *)l->v[i].name;
        v[i]->value = (char *)l->v[i].value;
    }
    return v;
}

/* Parsed selectors of one query; freed by free_selectors. */
typedef struct selectors {
    fx_selector_t *v;
    size_t n;
    fx_head_keyset_t only; /* replica deduplication: the profiles to use */
    int has_only;
} selectors_t;

static void free_selectors(selectors_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        fx_selector_free(&s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
    if (s->has_only)
        fx_head_keyset_free(&s->only);
    s->has_only = 0;
}

static int parse_selectors(char **strs, size_t n, selectors_t *out, fx_err_t *err)
{
    out->v = fx_calloc(n + 1, sizeof *out->v);
    out->n = 0;
    out->has_only = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = fx_selector_parse(strs[i], &out->v[i], err);
        if (rc < 0) {
            free_selectors(out);
            return rc;
        }
        out->n++;
    }
    return FX_OK;
}

/* A query over selectors (label and series RPCs). */
static void plain_query(fx_call_t *call, const selectors_t *s, int64_t start, int64_t end,
                        fx_head_query_t *q)
{
    memset(q, 0, sizeof *q);
    q->tenant = call->tenant;
    q->selectors = s->v;
    q->nselectors = s->n;
    q->start_ms = start;
    q->end_ms = end;
}

/* Turns a SelectRequest into a query (selectors and `only` go into *sels). */
static int select_query(fx_call_t *call, const Ingester__V1__SelectRequest *r, selectors_t *sels,
                        fx_head_query_t *q, fx_err_t *err)
{
    int rc;
    char *one[1] = {r->label_selector};
    if ((rc = parse_selectors(one, r->label_selector && *r->label_selector ? 1 : 0, sels, err)) < 0)
        return rc;
    plain_query(call, sels, r->start, r->end, q);
    q->profile_type = r->profile_type_id;
    if (r->only) {
        const Ingester__V1__ProfileKeys *k = r->only;
        if (k->n_time_ns != k->n_fingerprints || k->ids.len != k->n_fingerprints * 16) {
            free_selectors(sels);
            return fx_err_set(err, FX_EINVAL, "malformed profile key list");
        }
        fx_head_keyset_init(&sels->only);
        sels->has_only = 1;
        for (size_t i = 0; i < k->n_fingerprints; i++) {
            fx_head_profile_key_t key;
            key.fingerprint = k->fingerprints[i];
            key.time_ns = k->time_ns[i];
            memcpy(key.id, k->ids.data + i * 16, 16);
            fx_head_keyset_add(&sels->only, &key);
        }
        q->only = &sels->only;
    }
    return FX_OK;
}

/* --- metadata queries ------------------------------------------------------------ */

static int label_names(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                       fx_err_t *err)
{
    const Types__V1__LabelNamesRequest *r = (const Types__V1__LabelNamesRequest *)in;
    selectors_t sels;
    fx_head_query_t q;
    fx_head_strings_t names;
    int rc;
    if ((rc = parse_selectors(r->matchers, r->n_matchers, &sels, err)) < 0)
        return rc;
    plain_query(call, &sels, r->start, r->end, &q);
    rc = sg_label_names(call->ctx, &q, call->arena, &names, err);
    free_selectors(&sels);
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
    const Types__V1__LabelValuesRequest *r = (const Types__V1__LabelValuesRequest *)in;
    selectors_t sels;
    fx_head_query_t q;
    fx_head_strings_t values;
    int rc;
    if (!r->name || !*r->name)
        return fx_err_set(err, FX_EINVAL, "name is required");
    if ((rc = parse_selectors(r->matchers, r->n_matchers, &sels, err)) < 0)
        return rc;
    plain_query(call, &sels, r->start, r->end, &q);
    rc = sg_label_values(call->ctx, &q, r->name, call->arena, &values, err);
    free_selectors(&sels);
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
    const Querier__V1__SeriesRequest *r = (const Querier__V1__SeriesRequest *)in;
    selectors_t sels;
    fx_head_query_t q;
    fx_head_label_sets_t sets;
    int rc;
    if ((rc = parse_selectors(r->matchers, r->n_matchers, &sels, err)) < 0)
        return rc;
    plain_query(call, &sels, r->start, r->end, &q);
    rc = sg_series(call->ctx, &q, (const char *const *)r->label_names, r->n_label_names,
                   call->arena, &sets, err);
    free_selectors(&sels);
    if (rc < 0)
        return rc;
    Querier__V1__SeriesResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
    querier__v1__series_response__init(resp);
    resp->n_labels_set = sets.len;
    resp->labels_set = fx_arena_alloc(call->arena, (sets.len + 1) * sizeof *resp->labels_set);
    for (size_t i = 0; i < sets.len; i++) {
        Types__V1__Labels *ls = fx_arena_alloc(call->arena, sizeof *ls);
        types__v1__labels__init(ls);
        ls->n_labels = sets.v[i].len;
        ls->labels = pairs_of(&sets.v[i], call->arena);
        resp->labels_set[i] = ls;
    }
    *out = &resp->base;
    return FX_OK;
}

static int profile_types(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                         fx_err_t *err)
{
    const Querier__V1__ProfileTypesRequest *r = (const Querier__V1__ProfileTypesRequest *)in;
    fx_head_query_t q = {0};
    fx_head_strings_t ids;
    int rc;
    q.tenant = call->tenant;
    q.start_ms = r->start;
    q.end_ms = r->end;
    if ((rc = sg_profile_types(call->ctx, &q, call->arena, &ids, err)) < 0)
        return rc;
    Querier__V1__ProfileTypesResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
    querier__v1__profile_types_response__init(resp);
    resp->profile_types = fx_arena_alloc(call->arena, (ids.len + 1) * sizeof *resp->profile_types);
    for (size_t i = 0; i < ids.len; i++) {
        fx_profile_type_t t;
        if (fx_profile_type_parse(ids.v[i], call->arena, &t, NULL) < 0)
            continue;
        Types__V1__ProfileType *pt = fx_arena_alloc(call->arena, sizeof *pt);
        types__v1__profile_type__init(pt);
        pt->id = (char *)t.id;
        pt->name = (char *)t.name;
        pt->sample_type = (char *)t.sample_type;
        pt->sample_unit = (char *)t.sample_unit;
        pt->period_type = (char *)t.period_type;
        pt->period_unit = (char *)t.period_unit;
        resp->profile_types[resp->n_profile_types++] = pt;
    }
    *out = &resp->base;
    return FX_OK;
}

static int profile_stats(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                         fx_err_t *err)
{
    fx_head_profile_stats_t st;
    int rc;
    (void)in;
    if ((rc = sg_profile_stats(call->ctx, call->tenant, &st, err)) < 0)
        return rc;
    Types__V1__GetProfileStatsResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
    types__v1__get_profile_stats_response__init(resp);
    resp->data_ingested = st.data_ingested;
    resp->oldest_profile_time = st.oldest_ms;
    resp->newest_profile_time = st.newest_ms;
    *out = &resp->base;
    return FX_OK;
}

/* --- selects ------------------------------------------------------------------------- */

/* Moves bytes into the call's arena (responses live there). */
static void arena_bytes(fx_call_t *call, fx_buf_t *b, ProtobufCBinaryData *out)
{
    out->data = fx_arena_alloc(call->arena, b->len + 1);
    if (b->len)
        memcpy(out->data, b->data, b->len);
    out->len = b->len;
    fx_buf_free(b);
}

static int merge_stacktraces(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                             fx_err_t *err)
{
    const Ingester__V1__SelectRequest *r = (const Ingester__V1__SelectRequest *)in;
    selectors_t sels;
    fx_head_query_t q;
    fx_tree_t tree;
    fx_buf_t bytes = FX_BUF_INIT;
    int rc;

    if ((rc = select_query(call, r, &sels, &q, err)) < 0)
        return rc;
    fx_tree_init(&tree);
    if ((rc = sg_merge_tree(call->ctx, &q, FX_GROUP_FUNCTION, &tree, err)) == FX_OK)
        rc = fx_treebytes_write(&tree, r->max_nodes, &bytes, err);
    fx_tree_free(&tree);
    free_selectors(&sels);
    if (rc < 0) {
        fx_buf_free(&bytes);
        return rc;
    }
    Ingester__V1__MergeStacktracesResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
    ingester__v1__merge_stacktraces_response__init(resp);
    arena_bytes(call, &bytes, &resp->tree);
    *out = &resp->base;
    return FX_OK;
}

static int merge_series(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                        fx_err_t *err)
{
    const Ingester__V1__SelectSeriesRequest *r = (const Ingester__V1__SelectSeriesRequest *)in;
    selectors_t sels;
    fx_head_query_t q;
    fx_head_ts_list_t list;
    int rc;

    if (!r->select)
        return fx_err_set(err, FX_EINVAL, "select is required");
    if (r->step_ms <= 0)
        return fx_err_set(err, FX_EINVAL, "step must be positive");
    if ((rc = select_query(call, r->select, &sels, &q, err)) < 0)
        return rc;
    rc = sg_select_series(call->ctx, &q, (const char *const *)r->group_by, r->n_group_by, r->step_ms,
                          r->aggregation == TYPES__V1__TIME_SERIES_AGGREGATION_TYPE__TIME_SERIES_AGGREGATION_TYPE_AVERAGE
                              ? FX_AGG_AVERAGE
                              : FX_AGG_SUM,
                          call->arena, &list, err);
    free_selectors(&sels);
    if (rc < 0)
        return rc;
    Querier__V1__SelectSeriesResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
    querier__v1__select_series_response__init(resp);
    resp->n_series = list.len;
    resp->series = fx_arena_alloc(call->arena, (list.len + 1) * sizeof *resp->series);
    for (size_t i = 0; i < list.len; i++) {
        Types__V1__Series *s = fx_arena_alloc(call->arena, sizeof *s);
        types__v1__series__init(s);
        s->n_labels = list.v[i].labels.len;
        s->labels = pairs_of(&list.v[i].labels, call->arena);
        s->n_points = list.v[i].npoints;
        s->points = fx_arena_alloc(call->arena, (s->n_points + 1) * sizeof *s->points);
        Types__V1__Point *pts = fx_arena_alloc(call->arena, (s->n_points + 1) * sizeof *pts);
        for (size_t k = 0; k < s->n_points; k++) {
            types__v1__point__init(&pts[k]);
            pts[k].timestamp = list.v[i].points[k].ts_ms;
            pts[k].value = list.v[i].points[k].value;
            s->points[k] = &pts[k];
        }
        resp->series[i] = s;
    }
    *out = &resp->base;
    return FX_OK;
}

static int merge_pprof(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                       fx_err_t *err)
{
    const Ingester__V1__SelectRequest *r = (const Ingester__V1__SelectRequest *)in;
    selectors_t sels;
    fx_head_query_t q;
    fx_buf_t bytes = FX_BUF_INIT;
    int rc;

    if ((rc = select_query(call, r, &sels, &q, err)) < 0)
        return rc;
    rc = sg_merge_pprof(call->ctx, &q, &bytes, err);
    free_selectors(&sels);
    if (rc < 0) {
        fx_buf_free(&bytes);
        return rc;
    }
    Ingester__V1__MergePprofResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
    ingester__v1__merge_pprof_response__init(resp);
    arena_bytes(call, &bytes, &resp->pprof);
    *out = &resp->base;
    return FX_OK;
}

static int select_profile_keys(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                               fx_err_t *err)
{
    const Ingester__V1__SelectRequest *r = (const Ingester__V1__SelectRequest *)in;
    selectors_t sels;
    fx_head_query_t q;
    fx_head_keys_t keys;
    int rc;

    if ((rc = select_query(call, r, &sels, &q, err)) < 0)
        return rc;
    rc = sg_profile_keys(call->ctx, &q, call->arena, &keys, err);
    free_selectors(&sels);
    if (rc < 0)
        return rc;
    Ingester__V1__ProfileKeys *resp = fx_arena_alloc(call->arena, sizeof *resp);
    ingester__v1__profile_keys__init(resp);
    resp->n_fingerprints = resp->n_time_ns = keys.len;
    resp->fingerprints = fx_arena_alloc(call->arena, (keys.len + 1) * sizeof *resp->fingerprints);
    resp->time_ns = fx_arena_alloc(call->arena, (keys.len + 1) * sizeof *resp->time_ns);
    resp->ids.data = fx_arena_alloc(call->arena, keys.len * 16 + 1);
    resp->ids.len = keys.len * 16;
    for (size_t i = 0; i < keys.len; i++) {
        resp->fingerprints[i] = keys.v[i].fingerprint;
        resp->time_ns[i] = keys.v[i].time_ns;
        memcpy(resp->ids.data + i * 16, keys.v[i].id, 16);
    }
    *out = &resp->base;
    return FX_OK;
}

/* --- registration --------------------------------------------------------------------- */

#define METHOD(name, fn) {"/storegateway.v1.StoreGatewayService/" name, name, fn}

int sg_register_rpcs(sg_t *g, fx_rpc_server_t *srv, fx_err_t *err)
{
    static const struct {
        const char *path, *name;
        fx_method_fn fn;
    } methods[] = {
        METHOD("ProfileTypes", profile_types),
        METHOD("LabelNames", label_names),
        METHOD("LabelValues", label_values),
        METHOD("Series", series),
        METHOD("MergeStacktraces", merge_stacktraces),
        METHOD("MergeSeries", merge_series),
        METHOD("MergePprof", merge_pprof),
        METHOD("ProfileStats", profile_stats),
        METHOD("SelectProfileKeys", select_profile_keys),
    };
    const ProtobufCServiceDescriptor *svc = &storegateway__v1__store_gateway_service__descriptor;
    FX_ASSERT(svc->n_methods == FX_ARRAY_LEN(methods));
    for (size_t i = 0; i < FX_ARRAY_LEN(methods); i++) {
        const ProtobufCMethodDescriptor *m =
            protobuf_c_service_descriptor_get_method_by_name(svc, methods[i].name);
        FX_ASSERT(m);
        int rc = fx_rpc_server_register(srv, methods[i].path, m->input, m->output, methods[i].fn,
                                        g, err);
        if (rc < 0)
            return rc;
    }
    return FX_OK;
}
