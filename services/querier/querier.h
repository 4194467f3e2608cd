/*
 * querier.h - the querier service: the public query API (Connect
 * querier.v1.QuerierService, legacy /pyroscope/render*, label-values), the
 * web UI and the explain API. It fans each query out to the ingesters of the
 * ring over gRPC, merges their answers, truncates and encodes.
 */
#ifndef FX_QUERIER_H
#define FX_QUERIER_H

#include "app/app.h"
#include "core/call.h"
#include "ingester/v1/ingester.pb-c.h"
#include "model/profile_type.h"
#include "model/tree.h"
#include "querier/v1/querier.pb-c.h"

typedef struct qr_opts {
    int64_t query_timeout_ns;  /* one ingester call */
    int64_t query_store_after_ns; /* older data comes from store-gateways; 0 = both always */
    char *llm_base_url;        /* explain: OpenAI-compatible endpoint ("" = off) */
    char *llm_model;
    char *llm_api_key_file;
    int64_t llm_timeout_ns;
} qr_opts_t;

typedef struct qr {
    fx_app_t *app;
    qr_opts_t opts;
    fx_ring_t *ingesters;
    fx_ring_t *gateways;       /* store-gateway ring; NULL when none is used */
} qr_t;

extern const fx_module_t fx_querier_module;

/* ---- fan-out (fanout.c) ----------------------------------------------------- */

/* One ingester's answer. resp lives in arena (freed by qr_results_free). */
/* The groups of stores a query reads from. */
enum { QR_INGESTERS = 0, QR_GATEWAYS = 1, QR_NGROUPS = 2 };

typedef struct qr_result {
    const char *addr;
    int group;                 /* QR_INGESTERS or QR_GATEWAYS */
    int64_t start, end;        /* the part of the query's range it serves (ms) */
    fx_arena_t arena;
    ProtobufCMessage *resp;
    int rc;
    fx_err_t err;
} qr_result_t;

typedef struct qr_results {
    qr_result_t *v;
    size_t n;
} qr_results_t;

/* Calls the RPC named method ("LabelNames") on every store that may hold
 * the tenant's data in [start, end] ms (both 0: ingesters only), in
 * parallel. Fails if more stores of a group failed than its replication
 * tolerates. req goes unchanged to all. */
int qr_fanout(qr_t *q, const char *tenant, const char *method, int64_t start, int64_t end,
              const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
              qr_results_t *out, fx_err_t *err);
void qr_results_free(qr_results_t *r);

/* Builds the request of a select RPC around sel (which the callee may
 * modify per ingester: sel->only). The returned message must stay valid
 * until qr_fanout_select returns; it may point into ctx. */
typedef const ProtobufCMessage *(*qr_make_req_fn)(void *ctx, Ingester__V1__SelectRequest *sel);

/* Profile ids (16 bytes each, packed, sorted and unique: model/profile_id.h). */
typedef struct qr_ids {
    const uint8_t *v;
    size_t n;
} qr_ids_t;

/* A select across ingesters and store-gateways, deduplicated across
 * replicas and blocks (see fanout.c). align_ms > 0 puts the time boundary
 * between the two groups on sel->start + k * align_ms (SelectSeries: the
 * step, so both groups' buckets fall on one grid); 0 = anywhere. ids (NULL
 * or empty = all) restricts the merge to the profiles with those ids. */
int qr_fanout_select(qr_t *q, const char *tenant, const char *method,
                     Ingester__V1__SelectRequest *sel, const qr_ids_t *ids, int64_t align_ms,
                     qr_make_req_fn make_req, void *ctx,
                     const ProtobufCMessageDescriptor *resp_desc, qr_results_t *out, fx_err_t *err);

/* SelectProfileKeys on every store that serves part of sel's range (each
 * asked for its part, as qr_fanout_select plans it), failures settled as
 * qr_fanout does. Answers (Ingester__V1__ProfileKeys) overlap where
 * replicas do: the caller deduplicates by key. */
int qr_fanout_keys(qr_t *q, const char *tenant, Ingester__V1__SelectRequest *sel,
                   int64_t align_ms, qr_results_t *out, fx_err_t *err);

/* ---- shared request checks (select.c) ---------------------------------------- */

typedef struct qr_select {
    fx_profile_type_t type;
    const char *selector;      /* validated; "{}" when empty */
    int64_t start_ms, end_ms;
    int64_t max_nodes;
    const Types__V1__StackTraceSelector *stack_trace_selector;
    const uint64_t *spans;     /* span selector: sorted, unique; nspans 0 = none */
    size_t nspans;
    qr_ids_t ids;              /* profile_id_selector; n 0 = all profiles */
    int empty;                 /* nothing can match (range before the lookback) */
} qr_select_t;

/* Validates a select request against the tenant's limits: profile type,
 * selector syntax, time range (max_query_length, max_query_lookback),
 * max_nodes (0/absent = max_flamegraph_nodes_default). */
int qr_check_select(qr_t *q, const char *tenant, const char *profile_type_id,
                    const char *label_selector, int64_t start, int64_t end, int has_max_nodes,
                    int64_t max_nodes, fx_arena_t *a, qr_select_t *out, fx_err_t *err);

/* Parses a span selector (n span ids of 16 hex digits each) into s->spans
 * (arena a). FX_EINVAL naming the first malformed entry. */
int qr_parse_spans(char **v, size_t n, fx_arena_t *a, qr_select_t *s, fx_err_t *err);

/* Parses a profile_id_selector (n UUIDs) into s->ids (arena a).
 * FX_EINVAL naming the first malformed entry. */
int qr_parse_profile_ids(char **v, size_t n, fx_arena_t *a, qr_select_t *s, fx_err_t *err);

/* The request every store gets for s (strings point into s). */
void qr_select_request(const qr_select_t *s, int64_t max_nodes, Ingester__V1__SelectRequest *r);

/* Merged call tree of a select across ingesters (tree initialised by the
 * caller), with the stack trace selector applied. */
int qr_merge_tree(qr_t *q, const char *tenant, const qr_select_t *s, fx_tree_t *tree, fx_err_t *err);

/* Series points of a select (SelectSeries semantics), merged across
 * ingesters and limited to the top `limit` (0 = all) series. */
int qr_select_series(qr_t *q, const char *tenant, const qr_select_t *s, char **group_by,
                     size_t ngroup_by, int64_t step_ms, int avg, int64_t limit, fx_arena_t *a,
                     Querier__V1__SelectSeriesResponse **out, fx_err_t *err);

/* Merged pprof bytes of a select (uncompressed), in *out (caller's). */
int qr_merge_pprof(qr_t *q, const char *tenant, const qr_select_t *s, fx_buf_t *out, fx_err_t *err);

/* ---- individual profiles (exemplars.c) ------------------------------------------ */

/* Exemplars per SelectSeries point: the highest-value profiles. */
#define QR_EXEMPLARS_PER_POINT 3

/* Attaches to every point of resp (SelectSeries over s with group_by and
 * step_ms) the QR_EXEMPLARS_PER_POINT highest-value individual profiles it
 * summed (ties: earlier first), each deduplicated across replicas. */
int qr_attach_exemplars(qr_t *q, const char *tenant, const qr_select_t *s, char **group_by,
                        size_t ngroup_by, int64_t step_ms, fx_arena_t *a,
                        Querier__V1__SelectSeriesResponse *resp, fx_err_t *err);

/* SelectHeatmap: per group a heatmap of individual profile values
 * (INDIVIDUAL), or with spans of individual span values (SPAN: per
 * profile and span_id, the sum of the samples that carried it), see
 * model/heatmap.h; the `limit` (0 = all) series with the largest value
 * totals, with exemplars (one per non-empty cell: its highest value) if
 * asked. Result in arena a. */
int qr_select_heatmap(qr_t *q, const char *tenant, const qr_select_t *s, char **group_by,
                      size_t ngroup_by, int64_t step_ms, int spans, int64_t limit, int exemplars,
                      fx_arena_t *a, Querier__V1__SelectHeatmapResponse **out, fx_err_t *err);

/* ---- label pairs of answers (labels.c) ------------------------------------------- */

/* Order of two label pair lists: pair by pair, by name then value; a prefix
 * first. 0 = the same labels. */
int qr_pairs_cmp(Types__V1__LabelPair *const *x, size_t nx, Types__V1__LabelPair *const *y,
                 size_t ny);
/* A deep copy of n pairs (strings included) in arena a. */
Types__V1__LabelPair **qr_pairs_copy(Types__V1__LabelPair *const *v, size_t n, fx_arena_t *a);

/* ---- registration ---------------------------------------------------------------- */
int qr_register_api(qr_t *q, fx_err_t *err);     /* api.c: Connect QuerierService */
int qr_register_render(qr_t *q, fx_err_t *err);  /* render.c: legacy HTTP */
int qr_register_explain(qr_t *q, fx_err_t *err); /* explain.c: /api/v1/explain */

#endif
