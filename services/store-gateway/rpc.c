/*
 * rpc.c - storegateway.v1.StoreGatewayService: the ingesters' query RPCs
 * (same request and response messages as ingester.v1, translated by
 * storage/rpcquery.h as the ingester's are) answered over the gateway's
 * blocks by query.c.
 */
#include "sg_int.h"
#include "ingester/v1/ingester.pb-c.h"
#include "model/treebytes.h"
#include "querier/v1/querier.pb-c.h"
#include "rpc/rpc.h"
#include "storage/rpcquery.h"
#include "storegateway/v1/storegateway.pb-c.h"
#include "types/v1/types.pb-c.h"

#include <stdlib.h>
#include <string.h>

/* --- metadata queries ------------------------------------------------------------ */

static int label_names(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                       fx_err_t *err)
{
    const Types__V1__LabelNamesRequest *r = (const Types__V1__LabelNamesRequest *)in;
    fx_rpcq_t rq;
    fx_head_strings_t names;
    int rc;
    if ((rc = fx_rpcq_matchers(&rq, call->tenant, r->matchers, r->n_matchers, r->start, r->end,
                               err)) < 0)
        return rc;
    rc = sg_label_names(call->ctx, &rq.q, call->arena, &names, err);
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
    const Types__V1__LabelValuesRequest *r = (const Types__V1__LabelValuesRequest *)in;
    fx_rpcq_t rq;
    fx_head_strings_t values;
    int rc;
    if (!r->name || !*r->name)
        return fx_err_set(err, FX_EINVAL, "name is required");
    if ((rc = fx_rpcq_matchers(&rq, call->tenant, r->matchers, r->n_matchers, r->start, r->end,
                               err)) < 0)
        return rc;
    rc = sg_label_values(call->ctx, &rq.q, r->name, call->arena, &values, err);
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
    const Querier__V1__SeriesRequest *r = (const Querier__V1__SeriesRequest *)in;
    fx_rpcq_t rq;
    fx_head_label_sets_t sets;
    int rc;
    if ((rc = fx_rpcq_matchers(&rq, call->tenant, r->matchers, r->n_matchers, r->start, r->end,
                               err)) < 0)
        return rc;
    rc = sg_series(call->ctx, &rq.q, (const char *const *)r->label_names, r->n_label_names,
                   call->arena, &sets, err);
    fx_rpcq_free(&rq);
    if (rc < 0)
        return rc;
    *out = &fx_rpcq_series_response(&sets, call->arena)->base;
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
    *out = &fx_rpcq_profile_types_response(&ids, call->arena)->base;
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
    fx_rpcq_t rq;
    fx_tree_t tree;
    fx_buf_t bytes = FX_BUF_INIT;
    int rc;

    if ((rc = fx_rpcq_select(&rq, call->tenant, r, err)) < 0)
        return rc;
    fx_tree_init(&tree);
    if ((rc = sg_merge_tree(call->ctx, &rq.q, FX_GROUP_FUNCTION, &tree, err)) == FX_OK)
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
    const Ingester__V1__SelectSeriesRequest *r = (const Ingester__V1__SelectSeriesRequest *)in;
    fx_rpcq_t rq;
    fx_head_ts_list_t list;
    int rc;

    if (!r->select)
        return fx_err_set(err, FX_EINVAL, "select is required");
    if (r->step_ms <= 0)
        return fx_err_set(err, FX_EINVAL, "step must be positive");
    if ((rc = fx_rpcq_select(&rq, call->tenant, r->select, err)) < 0)
        return rc;
    rc = sg_select_series(call->ctx, &rq.q, (const char *const *)r->group_by, r->n_group_by,
                          r->step_ms, fx_rpcq_aggregation(r), call->arena, &list, err);
    fx_rpcq_free(&rq);
    if (rc < 0)
        return rc;
    *out = &fx_rpcq_select_series_response(&list, call->arena)->base;
    return FX_OK;
}

static int merge_pprof(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                       fx_err_t *err)
{
    const Ingester__V1__SelectRequest *r = (const Ingester__V1__SelectRequest *)in;
    fx_rpcq_t rq;
    fx_buf_t bytes = FX_BUF_INIT;
    int rc;

    if ((rc = fx_rpcq_select(&rq, call->tenant, r, err)) < 0)
        return rc;
    rc = sg_merge_pprof(call->ctx, &rq.q, &bytes, err);
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
    const Ingester__V1__SelectRequest *r = (const Ingester__V1__SelectRequest *)in;
    fx_rpcq_t rq;
    fx_head_keys_t keys;
    int rc;

    if ((rc = fx_rpcq_select(&rq, call->tenant, r, err)) < 0)
        return rc;
    rc = sg_profile_keys(call->ctx, &rq.q, call->arena, &keys, err);
    fx_rpcq_free(&rq);
    if (rc < 0)
        return rc;
    *out = &fx_rpcq_keys_response(&keys, call->arena)->base;
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
