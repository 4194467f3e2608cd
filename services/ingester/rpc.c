/*
 * rpc.c - ingester.v1.IngesterService handlers: Push into the head, and
 * the query RPCs the querier fans out (label names/values, series, profile
 * types, merged trees, series points, merged pprof, stats).
 */
#include "ingester.h"
#include "core/hash.h"
#include "ingester/v1/ingester.pb-c.h"
#include "limits/limits.h"
#include "log/log.h"
#include "model/profile_type.h"
#include "model/treebytes.h"
#include "querier/v1/querier.pb-c.h"
#include "rpc/rpc.h"
#include "types/v1/types.pb-c.h"

#include <stdlib.h>
#include <string.h>

/* --- helpers ------------------------------------------------------------------ */

static fx_labels_t labels_of(Types__V1__LabelPair **pairs, size_t n, fx_arena_t *a)
{
    fx_labels_t l = {fx_arena_alloc(a, (n + 1) * sizeof(fx_label_t)), n};
    for (size_t i = 0; i < n; i++) {
        l.v[i].name = pairs[i]->name;
        l.v[i].value = pairs[i]->value;
    }
    fx_labels_sort(&l);
    return l;
}

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

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A UUID string to 16 bytes; anything else is hashed, so any id the
 * distributor sent is stable across replicas. */
static void parse_id(const char *s, uint8_t out[16])
{
    size_t n = 0;
    for (const char *p = s; *p && n < 32; p++) {
        if (*p == '-')
            continue;
        int v = hexval(*p);
        if (v < 0)
            break;
        if (n % 2 == 0)
            out[n / 2] = (uint8_t)(v << 4);
        else
            out[n / 2] |= (uint8_t)v;
        n++;
    }
    if (n == 32)
        return;
    uint64_t a = fx_hash64(s, strlen(s), 1), b = fx_hash64(s, strlen(s), 2);
    memcpy(out, &a, 8);
    memcpy(out + 8, &b, 8);
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

/* Turns a SelectRequest into a head query (selectors go into *sels). */
static int select_query(fx_call_t *call, const Ingester__V1__SelectRequest *r, selectors_t *sels,
                        fx_head_query_t *q, fx_err_t *err)
{
    int rc;
    char *one[1] = {r->label_selector};
    memset(q, 0, sizeof *q);
    if ((rc = parse_selectors(one, r->label_selector && *r->label_selector ? 1 : 0, sels, err)) < 0)
        return rc;
    q->tenant = call->tenant;
    q->selectors = sels->v;
    q->nselectors = sels->n;
    q->profile_type = r->profile_type_id;
    q->start_ms = r->start;
    q->end_ms = r->end;
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

/* --- Push ------------------------------------------------------------------------ */

static size_t series_limit(ing_t *ing, const fx_limits_t *lim)
{
    /* Pyroscope's limiter: the global limit spread over the ingesters,
     * each series being held by RF of them. */
    size_t local = lim->max_local_series_per_tenant > 0 ? (size_t)lim->max_local_series_per_tenant : 0;
    if (lim->max_global_series_per_tenant > 0) {
        fx_ring_snapshot_t *s = fx_ring_acquire(ing->ring);
        size_t n = s->ninstances ? s->ninstances : 1;
        fx_ring_release(ing->ring, s);
        size_t rf = (size_t)fx_app_replication_factor(ing->app);
        if (rf > n)
            rf = n;
        size_t g = ((size_t)lim->max_global_series_per_tenant * rf + n - 1) / n;
        if (!local || g < local)
            local = g;
    }
    return local;
}

static int push(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out, fx_err_t *err)
{
    ing_t *ing = call->ctx;
    const Ingester__V1__PushRequest *req = (const Ingester__V1__PushRequest *)in;
    const fx_limits_t *lim = fx_limits_for(fx_app_limits(ing->app), call->tenant);
    fx_head_limits_t hl = {series_limit(ing, lim)};
    int rc = FX_OK;

    for (size_t i = 0; i < req->n_profiles && rc == FX_OK; i++) {
        const Ingester__V1__SeriesProfile *sp = req->profiles[i];
        fx_pprof_t p;
        uint8_t id[16];
        if ((rc = fx_pprof_decode(sp->pprof.data, sp->pprof.len, call->arena, &p, err)) == FX_OK) {
            fx_labels_t l = labels_of(sp->labels, sp->n_labels, call->arena);
            parse_id(sp->id ? sp->id : "", id);
            rc = fx_head_append(ing->head, call->tenant, &l, &p, id,
                                sp->time_nanos ? sp->time_nanos : p.time_nanos, &hl, err);
        }
        fx_pprof_free(&p);
    }
    if (rc < 0)
        return rc;
    Ingester__V1__PushResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
    ingester__v1__push_response__init(resp);
    *out = &resp->base;
    return FX_OK;
}

/* --- metadata queries -------------------------------------------------------------- */

static char **strings_of(const fx_head_strings_t *s)
{
    return s->v;
}

static int label_names(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                       fx_err_t *err)
{
    ing_t *ing = call->ctx;
    const Types__V1__LabelNamesRequest *r = (const Types__V1__LabelNamesRequest *)in;
    selectors_t sels;
    fx_head_query_t q = {0};
    fx_head_strings_t names;
    int rc;
    if ((rc = parse_selectors(r->matchers, r->n_matchers, &sels, err)) < 0)
        return rc;
    q.tenant = call->tenant;
    q.selectors = sels.v;
    q.nselectors = sels.n;
    q.start_ms = r->start;
    q.end_ms = r->end;
    fx_source_set_t src;
    ing_sources_acquire(ing, &src);
    rc = fx_set_label_names(&src, &q, call->arena, &names, err);
    ing_sources_release(ing);
    free_selectors(&sels);
    if (rc < 0)
        return rc;
    Types__V1__LabelNamesResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
    types__v1__label_names_response__init(resp);
    resp->names = strings_of(&names);
    resp->n_names = names.len;
    *out = &resp->base;
    return FX_OK;
}

static int label_values(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                        fx_err_t *err)
{
    ing_t *ing = call->ctx;
    const Types__V1__LabelValuesRequest *r = (const Types__V1__LabelValuesRequest *)in;
    selectors_t sels;
    fx_head_query_t q = {0};
    fx_head_strings_t values;
    int rc;
    if (!r->name || !*r->name)
        return fx_err_set(err, FX_EINVAL, "name is required");
    if ((rc = parse_selectors(r->matchers, r->n_matchers, &sels, err)) < 0)
        return rc;
    q.tenant = call->tenant;
    q.selectors = sels.v;
    q.nselectors = sels.n;
    q.start_ms = r->start;
    q.end_ms = r->end;
    fx_source_set_t src;
    ing_sources_acquire(ing, &src);
    rc = fx_set_label_values(&src, &q, r->name, call->arena, &values, err);
    ing_sources_release(ing);
    free_selectors(&sels);
    if (rc < 0)
        return rc;
    Types__V1__LabelValuesResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
    types__v1__label_values_response__init(resp);
    resp->names = strings_of(&values);
    resp->n_names = values.len;
    *out = &resp->base;
    return FX_OK;
}

static int series(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out, fx_err_t *err)
{
    ing_t *ing = call->ctx;
    const Querier__V1__SeriesRequest *r = (const Querier__V1__SeriesRequest *)in;
    selectors_t sels;
    fx_head_query_t q = {0};
    fx_head_label_sets_t sets;
    int rc;
    if ((rc = parse_selectors(r->matchers, r->n_matchers, &sels, err)) < 0)
        return rc;
    q.tenant = call->tenant;
    q.selectors = sels.v;
    q.nselectors = sels.n;
    q.start_ms = r->start;
    q.end_ms = r->end;
    fx_source_set_t src;
    ing_sources_acquire(ing, &src);
    rc = fx_set_series(&src, &q, (const char *const *)r->label_names, r->n_label_names, call->arena,
                       &sets, err);
    ing_sources_release(ing);
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
    ing_t *ing = call->ctx;
    const Querier__V1__ProfileTypesRequest *r = (const Querier__V1__ProfileTypesRequest *)in;
    fx_head_query_t q = {0};
    fx_head_strings_t ids;
    int rc;
    q.tenant = call->tenant;
    q.start_ms = r->start;
    q.end_ms = r->end;
    fx_source_set_t src;
    ing_sources_acquire(ing, &src);
    rc = fx_set_profile_types(&src, &q, call->arena, &ids, err);
    ing_sources_release(ing);
    if (rc < 0)
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
    ing_t *ing = call->ctx;
    fx_head_profile_stats_t st;
    int rc;
    (void)in;
    fx_source_set_t src;
    ing_sources_acquire(ing, &src);
    rc = fx_set_profile_stats(&src, call->tenant, &st, err);
    ing_sources_release(ing);
    if (rc < 0)
        return rc;
    Types__V1__GetProfileStatsResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
    types__v1__get_profile_stats_response__init(resp);
    resp->data_ingested = st.data_ingested;
    resp->oldest_profile_time = st.oldest_ms;
    resp->newest_profile_time = st.newest_ms;
    *out = &resp->base;
    return FX_OK;
}

/* --- merges --------------------------------------------------------------------------- */

static int merge_stacktraces(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                             fx_err_t *err)
{
    ing_t *ing = call->ctx;
    const Ingester__V1__SelectRequest *r = (const Ingester__V1__SelectRequest *)in;
    selectors_t sels;
    fx_head_query_t q;
    fx_tree_t tree;
    fx_buf_t bytes = FX_BUF_INIT;
    int rc;

    if ((rc = select_query(call, r, &sels, &q, err)) < 0)
        return rc;
    fx_tree_init(&tree);
    fx_source_set_t src;
    ing_sources_acquire(ing, &src);
    rc = fx_set_merge_tree(&src, &q, FX_GROUP_FUNCTION, &tree, err);
    ing_sources_release(ing);
    if (rc == FX_OK)
        rc = fx_treebytes_write(&tree, r->max_nodes, &bytes, err);
    fx_tree_free(&tree);
    free_selectors(&sels);
    if (rc < 0) {
        fx_buf_free(&bytes);
        return rc;
    }
    Ingester__V1__MergeStacktracesResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
    ingester__v1__merge_stacktraces_response__init(resp);
    resp->tree.data = fx_arena_alloc(call->arena, bytes.len + 1);
    memcpy(resp->tree.data, bytes.data, bytes.len);
    resp->tree.len = bytes.len;
    fx_buf_free(&bytes);
    *out = &resp->base;
    return FX_OK;
}

static int merge_series(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                        fx_err_t *err)
{
    ing_t *ing = call->ctx;
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
    fx_source_set_t src;
    ing_sources_acquire(ing, &src);
    rc = fx_set_select_series(&src, &q, (const char *const *)r->group_by, r->n_group_by,
                               r->step_ms,
                               r->aggregation == TYPES__V1__TIME_SERIES_AGGREGATION_TYPE__TIME_SERIES_AGGREGATION_TYPE_AVERAGE
                                   ? FX_AGG_AVERAGE
                                   : FX_AGG_SUM,
                               call->arena, &list, err);
    ing_sources_release(ing);
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
    ing_t *ing = call->ctx;
    const Ingester__V1__SelectRequest *r = (const Ingester__V1__SelectRequest *)in;
    selectors_t sels;
    fx_head_query_t q;
    fx_buf_t bytes = FX_BUF_INIT;
    int rc;

    if ((rc = select_query(call, r, &sels, &q, err)) < 0)
        return rc;
    fx_source_set_t src;
    ing_sources_acquire(ing, &src);
    rc = fx_set_merge_pprof(&src, &q, &bytes, err);
    ing_sources_release(ing);
    free_selectors(&sels);
    if (rc < 0) {
        fx_buf_free(&bytes);
        return rc;
    }
    Ingester__V1__MergePprofResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
    ingester__v1__merge_pprof_response__init(resp);
    resp->pprof.data = fx_arena_alloc(call->arena, bytes.len + 1);
    memcpy(resp->pprof.data, bytes.data, bytes.len);
    resp->pprof.len = bytes.len;
    fx_buf_free(&bytes);
    *out = &resp->base;
    return FX_OK;
}

static int select_profile_keys(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                               fx_err_t *err)
{
    ing_t *ing = call->ctx;
    const Ingester__V1__SelectRequest *r = (const Ingester__V1__SelectRequest *)in;
    selectors_t sels;
    fx_head_query_t q;
    fx_head_keys_t keys;
    int rc;

    if ((rc = select_query(call, r, &sels, &q, err)) < 0)
        return rc;
    fx_source_set_t src;
    ing_sources_acquire(ing, &src);
    rc = fx_set_profile_keys(&src, &q, call->arena, &keys, err);
    ing_sources_release(ing);
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

#define METHOD(name, fn) {"/ingester.v1.IngesterService/" name, name, fn}

int ing_register_rpcs(ing_t *ing, fx_err_t *err)
{
    static const struct {
        const char *path, *name;
        fx_method_fn fn;
    } methods[] = {
        METHOD("Push", push),
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
    const ProtobufCServiceDescriptor *svc = &ingester__v1__ingester_service__descriptor;
    for (size_t i = 0; i < FX_ARRAY_LEN(methods); i++) {
        const ProtobufCMethodDescriptor *m =
            protobuf_c_service_descriptor_get_method_by_name(svc, methods[i].name);
        FX_ASSERT(m);
        int rc = fx_rpc_server_register(fx_app_rpc(ing->app), methods[i].path, m->input, m->output,
                                        methods[i].fn, ing, err);
        if (rc < 0)
            return rc;
    }
    return FX_OK;
}
