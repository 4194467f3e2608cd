/*
 * rpc.c - storegateway.v1.StoreGatewayService: the ingesters' query RPCs
 * (same messages and method names as ingester.v1, answered by
 * storage/rpcquery.h as the ingester's are) over the gateway's blocks
 * (query.c).
 */
#include "sg_int.h"
#include "rpc/rpc.h"
#include "storegateway/v1/storegateway.pb-c.h"

#include <stdio.h>

/* --- the gateway as a store: query.c's queries ---------------------------------------- */

static int q_label_names(void *ctx, const fx_head_query_t *q, fx_arena_t *a,
                         fx_head_strings_t *out, fx_err_t *err)
{
    return sg_label_names(ctx, q, a, out, err);
}

static int q_label_values(void *ctx, const fx_head_query_t *q, const char *name, fx_arena_t *a,
                          fx_head_strings_t *out, fx_err_t *err)
{
    return sg_label_values(ctx, q, name, a, out, err);
}

static int q_profile_types(void *ctx, const fx_head_query_t *q, fx_arena_t *a,
                           fx_head_strings_t *out, fx_err_t *err)
{
    return sg_profile_types(ctx, q, a, out, err);
}

static int q_series(void *ctx, const fx_head_query_t *q, const char *const *names, size_t nnames,
                    fx_arena_t *a, fx_head_label_sets_t *out, fx_err_t *err)
{
    return sg_series(ctx, q, names, nnames, a, out, err);
}

static int q_profile_stats(void *ctx, const char *tenant, fx_head_profile_stats_t *out,
                           fx_err_t *err)
{
    return sg_profile_stats(ctx, tenant, out, err);
}

static int q_profile_keys(void *ctx, const fx_head_query_t *q, fx_arena_t *a, fx_head_keys_t *out,
                          fx_err_t *err)
{
    return sg_profile_keys(ctx, q, a, out, err);
}

static int q_merge_tree(void *ctx, const fx_head_query_t *q, fx_head_grouping_t grouping,
                        fx_tree_t *tree, fx_err_t *err)
{
    return sg_merge_tree(ctx, q, grouping, tree, err);
}

static int q_merge_pprof(void *ctx, const fx_head_query_t *q, fx_buf_t *out, fx_err_t *err)
{
    return sg_merge_pprof(ctx, q, out, err);
}

static int q_select_series(void *ctx, const fx_head_query_t *q, const char *const *by, size_t nby,
                           int64_t step_ms, fx_head_aggregation_t agg, fx_arena_t *a,
                           fx_head_ts_list_t *out, fx_err_t *err)
{
    return sg_select_series(ctx, q, by, nby, step_ms, agg, a, out, err);
}

/* --- registration --------------------------------------------------------------------- */

int sg_register_rpcs(sg_t *g, fx_rpc_server_t *srv, fx_err_t *err)
{
    const ProtobufCServiceDescriptor *svc = &storegateway__v1__store_gateway_service__descriptor;
    g->queries = (fx_rpcq_store_t){
        .ctx = g,
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
        fx_method_fn fn = fx_rpcq_method(m->name);
        char path[128];
        FX_ASSERT(fn);
        snprintf(path, sizeof path, "/%s/%s", svc->name, m->name);
        int rc = fx_rpc_server_register(srv, path, m->input, m->output, fn, &g->queries, err);
        if (rc < 0)
            return rc;
    }
    return FX_OK;
}
