/*
 * rpc.c - ingester.v1.IngesterService: Push into the head, and the query
 * RPCs the querier fans out (storage/rpcquery.h) over the head plus the
 * blocks still served here.
 */
#include "ingester.h"
#include "model/profile_id.h"
#include "core/hash.h"
#include "ingester/v1/ingester.pb-c.h"
#include "limits/limits.h"
#include "rpc/rpc.h"
#include "storage/rpcquery.h"
#include "types/v1/types.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- helpers ------------------------------------------------------------------ */

/* A UUID string to 16 bytes; anything else is hashed, so any id the
 * distributor sent is stable across replicas. */
static void parse_id(const char *s, uint8_t out[16])
{
    if (fx_profile_id_parse_hex(s, out) == 0)
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

/* --- queries: the head and the blocks still served here, as one store ------------------ */

/* Each query reads the sources pinned for its duration (cutter.c). */

static int q_label_names(void *ctx, const fx_head_query_t *q, fx_arena_t *a,
                         fx_head_strings_t *out, fx_err_t *err)
{
    fx_source_set_t src;
    ing_sources_acquire(ctx, &src);
    int rc = fx_set_label_names(&src, q, a, out, err);
    ing_sources_release(ctx);
    return rc;
}

static int q_label_values(void *ctx, const fx_head_query_t *q, const char *name, fx_arena_t *a,
                          fx_head_strings_t *out, fx_err_t *err)
{
    fx_source_set_t src;
    ing_sources_acquire(ctx, &src);
    int rc = fx_set_label_values(&src, q, name, a, out, err);
    ing_sources_release(ctx);
    return rc;
}

static int q_profile_types(void *ctx, const fx_head_query_t *q, fx_arena_t *a,
                           fx_head_strings_t *out, fx_err_t *err)
{
    fx_source_set_t src;
    ing_sources_acquire(ctx, &src);
    int rc = fx_set_profile_types(&src, q, a, out, err);
    ing_sources_release(ctx);
    return rc;
}

static int q_series(void *ctx, const fx_head_query_t *q, const char *const *names, size_t nnames,
                    fx_arena_t *a, fx_head_label_sets_t *out, fx_err_t *err)
{
    fx_source_set_t src;
    ing_sources_acquire(ctx, &src);
    int rc = fx_set_series(&src, q, names, nnames, a, out, err);
    ing_sources_release(ctx);
    return rc;
}

static int q_profile_stats(void *ctx, const char *tenant, fx_head_profile_stats_t *out,
                           fx_err_t *err)
{
    fx_source_set_t src;
    ing_sources_acquire(ctx, &src);
    int rc = fx_set_profile_stats(&src, tenant, out, err);
    ing_sources_release(ctx);
    return rc;
}

static int q_profile_keys(void *ctx, const fx_head_query_t *q, fx_arena_t *a, fx_head_keys_t *out,
                          fx_err_t *err)
{
    fx_source_set_t src;
    ing_sources_acquire(ctx, &src);
    int rc = fx_set_profile_keys(&src, q, a, out, err);
    ing_sources_release(ctx);
    return rc;
}

static int q_merge_tree(void *ctx, const fx_head_query_t *q, fx_head_grouping_t grouping,
                        fx_tree_t *tree, fx_err_t *err)
{
    fx_source_set_t src;
    ing_sources_acquire(ctx, &src);
    int rc = fx_set_merge_tree(&src, q, grouping, tree, err);
    ing_sources_release(ctx);
    return rc;
}

static int q_merge_pprof(void *ctx, const fx_head_query_t *q, fx_buf_t *out, fx_err_t *err)
{
    fx_source_set_t src;
    ing_sources_acquire(ctx, &src);
    int rc = fx_set_merge_pprof(&src, q, out, err);
    ing_sources_release(ctx);
    return rc;
}

static int q_select_series(void *ctx, const fx_head_query_t *q, const char *const *by, size_t nby,
                           int64_t step_ms, fx_head_aggregation_t agg, fx_arena_t *a,
                           fx_head_ts_list_t *out, fx_err_t *err)
{
    fx_source_set_t src;
    ing_sources_acquire(ctx, &src);
    int rc = fx_set_select_series(&src, q, by, nby, step_ms, agg, a, out, err);
    ing_sources_release(ctx);
    return rc;
}

/* --- registration --------------------------------------------------------------------- */

/* Push is the ingester's own; the query methods are storage/rpcquery.h's
 * over the store above. */
int ing_register_rpcs(ing_t *ing, fx_err_t *err)
{
    const ProtobufCServiceDescriptor *svc = &ingester__v1__ingester_service__descriptor;
    ing->queries = (fx_rpcq_store_t){
        .ctx = ing,
        .label_names = q_label_names,
        .label_values = q_label_values,
        .profile_types = q_profile_types,
        .series = q_series,
        .profile_stats = q_profile_stats,
        .profile_keys = q_profile_keys,
        .merge_tree = q_merge_tree,
        .merge_pprof = q_merge_pprof,
        .select_series = q_select_series,
    };
    for (size_t i = 0; i < svc->n_methods; i++) {
        const ProtobufCMethodDescriptor *m = &svc->methods[i];
        bool is_push = strcmp(m->name, "Push") == 0;
        fx_method_fn fn = is_push ? push : fx_rpcq_method(m->name);
        char path[128];
        FX_ASSERT(fn);
        snprintf(path, sizeof path, "/%s/%s", svc->name, m->name);
        int rc = fx_rpc_server_register(fx_app_rpc(ing->app), path, m->input, m->output, fn,
                                        is_push ? (void *)ing : &ing->queries, err);
        if (rc < 0)
            return rc;
    }
    return FX_OK;
}
