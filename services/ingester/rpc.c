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
#include "model/treebytes.h"
#include "querier/v1/querier.pb-c.h"
#include "rpc/rpc.h"
#include "storage/rpcquery.h"
#include "types/v1/types.pb-c.h"

#include <stdlib.h>
#include <string.h>

/* --- helpers ------------------------------------------------------------------ */

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
            fx_labels_t l = fx_rpcq_labels(sp->labels, sp->n_labels, call->arena);
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

static int label_names(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                       fx_err_t *err)
{
    ing_t *ing = call->ctx;
    const Types__V1__LabelNamesRequest *r = (const Types__V1__LabelNamesRequest *)in;
    fx_rpcq_t rq;
    fx_head_strings_t names;
    fx_source_set_t src;
    int rc;
    if ((rc = fx_rpcq_matchers(&rq, call->tenant, r->matchers, r->n_matchers, r->start, r->end,
                               err)) < 0)
        return rc;
    ing_sources_acquire(ing, &src);
    rc = fx_set_label_names(&src, &rq.q, call->arena, &names, err);
    ing_sources_release(ing);
    fx_rpcq_free(&rq);
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
    ing_t *ing = call->ctx;
    const Types__V1__LabelValuesRequest *r = (const Types__V1__LabelValuesRequest *)in;
    fx_rpcq_t rq;
    fx_head_strings_t values;
    fx_source_set_t src;
    int rc;
    if (!r->name || !*r->name)
        return fx_err_set(err, FX_EINVAL, "name is required");
    if ((rc = fx_rpcq_matchers(&rq, call->tenant, r->matchers, r->n_matchers, r->start, r->end,
                               err)) < 0)
        return rc;
    ing_sources_acquire(ing, &src);
    rc = fx_set_label_values(&src, &rq.q, r->name, call->arena, &values, err);
    ing_sources_release(ing);
    fx_rpcq_free(&rq);
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
    ing_t *ing = call->ctx;
    const Querier__V1__SeriesRequest *r = (const Querier__V1__SeriesRequest *)in;
    fx_rpcq_t rq;
    fx_head_label_sets_t sets;
    fx_source_set_t src;
    int rc;
    if ((rc = fx_rpcq_matchers(&rq, call->tenant, r->matchers, r->n_matchers, r->start, r->end,
                               err)) < 0)
        return rc;
    ing_sources_acquire(ing, &src);
    rc = fx_set_series(&src, &rq.q, (const char *const *)r->label_names, r->n_label_names,
                       call->arena, &sets, err);
    ing_sources_release(ing);
    fx_rpcq_free(&rq);
    if (rc < 0)
        return rc;
    *out = &fx_rpcq_series_response(&sets, call->arena)->base;
    return FX_OK;
}

static int profile_types(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                         fx_err_t *err)
{
    ing_t *ing = call->ctx;
    const Querier__V1__ProfileTypesRequest *r = (const Querier__V1__ProfileTypesRequest *)in;
    fx_head_query_t q = {0};
    fx_head_strings_t ids;
    fx_source_set_t src;
    int rc;
    q.tenant = call->tenant;
    q.start_ms = r->start;
    q.end_ms = r->end;
    ing_sources_acquire(ing, &src);
    rc = fx_set_profile_types(&src, &q, call->arena, &ids, err);
    ing_sources_release(ing);
    if (rc < 0)
        return rc;
    *out = &fx_rpcq_profile_types_response(&ids, call->arena)->base;
    return FX_OK;
}

static int profile_stats(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                         fx_err_t *err)
{
    ing_t *ing = call->ctx;
    fx_head_profile_stats_t st;
    fx_source_set_t src;
    int rc;
    (void)in;
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
    ing_t *ing = call->ctx;
    const Ingester__V1__SelectRequest *r = (const Ingester__V1__SelectRequest *)in;
    fx_rpcq_t rq;
    fx_tree_t tree;
    fx_buf_t bytes = FX_BUF_INIT;
    fx_source_set_t src;
    int rc;

    if ((rc = fx_rpcq_select(&rq, call->tenant, r, err)) < 0)
        return rc;
    fx_tree_init(&tree);
    ing_sources_acquire(ing, &src);
    rc = fx_set_merge_tree(&src, &rq.q, FX_GROUP_FUNCTION, &tree, err);
    ing_sources_release(ing);
    if (rc == FX_OK)
        rc = fx_treebytes_write(&tree, r->max_nodes, &bytes, err);
    fx_tree_free(&tree);
    fx_rpcq_free(&rq);
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
    ing_t *ing = call->ctx;
    const Ingester__V1__SelectSeriesRequest *r = (const Ingester__V1__SelectSeriesRequest *)in;
    fx_rpcq_t rq;
    fx_head_ts_list_t list;
    fx_source_set_t src;
    int rc;

    if (!r->select)
        return fx_err_set(err, FX_EINVAL, "select is required");
    if (r->step_ms <= 0)
        return fx_err_set(err, FX_EINVAL, "step must be positive");
    if ((rc = fx_rpcq_select(&rq, call->tenant, r->select, err)) < 0)
        return rc;
    ing_sources_acquire(ing, &src);
    rc = fx_set_select_series(&src, &rq.q, (const char *const *)r->group_by, r->n_group_by,
                              r->step_ms, fx_rpcq_aggregation(r), call->arena, &list, err);
    ing_sources_release(ing);
    fx_rpcq_free(&rq);
    if (rc < 0)
        return rc;
    *out = &fx_rpcq_select_series_response(&list, call->arena)->base;
    return FX_OK;
}

static int merge_pprof(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                       fx_err_t *err)
{
    ing_t *ing = call->ctx;
    const Ingester__V1__SelectRequest *r = (const Ingester__V1__SelectRequest *)in;
    fx_rpcq_t rq;
    fx_buf_t bytes = FX_BUF_INIT;
    fx_source_set_t src;
    int rc;

    if ((rc = fx_rpcq_select(&rq, call->tenant, r, err)) < 0)
        return rc;
    ing_sources_acquire(ing, &src);
    rc = fx_set_merge_pprof(&src, &rq.q, &bytes, err);
    ing_sources_release(ing);
    fx_rpcq_free(&rq);
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
    ing_t *ing = call->ctx;
    const Ingester__V1__SelectRequest *r = (const Ingester__V1__SelectRequest *)in;
    fx_rpcq_t rq;
    fx_head_keys_t keys;
    fx_source_set_t src;
    int rc;

    if ((rc = fx_rpcq_select(&rq, call->tenant, r, err)) < 0)
        return rc;
    ing_sources_acquire(ing, &src);
    rc = fx_set_profile_keys(&src, &rq.q, call->arena, &keys, err);
    ing_sources_release(ing);
    fx_rpcq_free(&rq);
    if (rc < 0)
        return rc;
    *out = &fx_rpcq_keys_response(&keys, call->arena)->base;
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
