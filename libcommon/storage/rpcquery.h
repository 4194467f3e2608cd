/*
 * rpcquery.h - the internal query RPCs (ingester.v1 / storegateway.v1, which
 * share their messages) translated to head queries and back: selector
 * strings and the `only` key list into an fx_head_query_t, query results
 * into response messages. Ingesters and store-gateways answer the same
 * RPCs over different stores; this is the part they have in common.
 */
#ifndef FX_STORAGE_RPCQUERY_H
#define FX_STORAGE_RPCQUERY_H

#include "ingester/v1/ingester.pb-c.h"
#include "querier/v1/querier.pb-c.h"
#include "storage/head.h"
#include "types/v1/types.pb-c.h"

/* One request as a head query. q points into the struct itself (parsed
 * selectors, the `only` key set), so it must not be copied or moved;
 * fx_rpcq_free releases what the struct owns. Strings in q (tenant, profile
 * type) point into the caller's request. */
typedef struct fx_rpcq {
    fx_head_query_t q;
    fx_selector_t *sels;
    size_t nsels;
    fx_head_keyset_t only; /* replica deduplication: the profiles to use */
    int has_only;
} fx_rpcq_t;

/* Label and series RPCs: n matcher strings over [start, end] ms. On error
 * nothing is left to free; the message names the bad selector. */
int fx_rpcq_matchers(fx_rpcq_t *r, const char *tenant, char **matchers, size_t n, int64_t start,
                     int64_t end, fx_err_t *err);
/* Selects: the label selector, profile type, range and `only` keys of req
 * (a malformed key list is FX_EINVAL). */
int fx_rpcq_select(fx_rpcq_t *r, const char *tenant, const Ingester__V1__SelectRequest *req,
                   fx_err_t *err);
void fx_rpcq_free(fx_rpcq_t *r);

/* MergeSeries' aggregation: count (profiles per bucket, so the querier can
 * average exactly over several stores), average or sum. */
fx_head_aggregation_t fx_rpcq_aggregation(const Ingester__V1__SelectSeriesRequest *r);

/* Label pairs to sorted labels; names and values point into the pairs. */
fx_labels_t fx_rpcq_labels(Types__V1__LabelPair **pairs, size_t n, fx_arena_t *a);
/* Labels to label pairs pointing at the labels' strings. */
Types__V1__LabelPair **fx_rpcq_pairs(const fx_labels_t *l, fx_arena_t *a);

/* Responses, allocated in a; they point into the results (which must live
 * as long, e.g. in the same arena). */
Querier__V1__SeriesResponse *fx_rpcq_series_response(const fx_head_label_sets_t *sets,
                                                      fx_arena_t *a);
Querier__V1__SelectSeriesResponse *fx_rpcq_select_series_response(const fx_head_ts_list_t *list,
                                                                  fx_arena_t *a);
/* Profile type ids; ids that do not parse are left out. */
Querier__V1__ProfileTypesResponse *fx_rpcq_profile_types_response(const fx_head_strings_t *ids,
                                                                  fx_arena_t *a);
Ingester__V1__ProfileKeys *fx_rpcq_keys_response(const fx_head_keys_t *keys, fx_arena_t *a);

#endif
