/*
 * rpcquery.h - the internal query RPCs (ingester.v1 / storegateway.v1, which
 * share their messages and method names) answered over a store: requests
 * checked and translated into head queries, results into response
 * messages. Ingesters and store-gateways answer the same RPCs over
 * different stores; this is the part they have in common.
 */
#ifndef FX_STORAGE_RPCQUERY_H
#define FX_STORAGE_RPCQUERY_H

#include "core/call.h"
#include "storage/head.h"
#include "types/v1/types.pb-c.h"

/* A store behind the query RPCs: the head's queries (storage/head.h) over
 * whatever the store holds, with the head's semantics and result ownership
 * (strings and arrays in the arena a, trees and buffers the caller's).
 * ctx is passed to every function. */
typedef struct fx_rpcq_store {
    void *ctx;
    int (*label_names)(void *ctx, const fx_head_query_t *q, fx_arena_t *a,
                       fx_head_strings_t *out, fx_err_t *err);
    int (*label_values)(void *ctx, const fx_head_query_t *q, const char *name, fx_arena_t *a,
                        fx_head_strings_t *out, fx_err_t *err);
    int (*profile_types)(void *ctx, const fx_head_query_t *q, fx_arena_t *a,
                         fx_head_strings_t *out, fx_err_t *err);
    int (*series)(void *ctx, const fx_head_query_t *q, const char *const *names, size_t nnames,
                  fx_arena_t *a, fx_head_label_sets_t *out, fx_err_t *err);
    int (*profile_stats)(void *ctx, const char *tenant, fx_head_profile_stats_t *out,
                         fx_err_t *err);
    int (*profile_keys)(void *ctx, const fx_head_query_t *q, fx_arena_t *a, fx_head_keys_t *out,
                        fx_err_t *err);
    int (*merge_tree)(void *ctx, const fx_head_query_t *q, fx_head_grouping_t grouping,
                      fx_tree_t *tree, fx_err_t *err);
    int (*merge_pprof)(void *ctx, const fx_head_query_t *q, fx_buf_t *out, fx_err_t *err);
    int (*select_series)(void *ctx, const fx_head_query_t *q, const char *const *by, size_t nby,
                         int64_t step_ms, fx_head_aggregation_t agg, fx_arena_t *a,
                         fx_head_ts_list_t *out, fx_err_t *err);
} fx_rpcq_store_t;

/* The handler of the query method called name ("LabelNames",
 * "MergeStacktraces", ...), or NULL if name is not one (Push). Register it
 * with an fx_rpcq_store_t (borrowed; it must outlive the server) as ctx.
 * Responses live in the call's arena. */
fx_method_fn fx_rpcq_method(const char *name);

/* Label pairs to sorted labels in arena a; names and values point into the
 * pairs. */
fx_labels_t fx_rpcq_labels(Types__V1__LabelPair **pairs, size_t n, fx_arena_t *a);

#endif
