/*
 * explain.h - POST /api/v1/explain, transport-independent: parse the request, resolve each
 * profile SOURCE to a call tree, run the built-in analyzer and (if asked and configured) the
 * language model, and write the JSON response (response.h).
 *
 * Request body:
 *   {"target": SOURCE}  or  {"baseline": SOURCE, "comparison": SOURCE},
 *   optional "engine": "builtin" | "llm" | "auto" (default auto: llm if configured).
 * SOURCE is exactly one of
 *   {"query": {"profile_type_id": "...", "label_selector": "{...}", "start": ms, "end": ms}}
 *   {"folded": "a;b;c 12\n..."}
 *   {"pprof_base64": "<base64 of a gzipped or plain pprof>", "sample_type": "cpu"}
 * "folded" is handled here; "query" and "pprof_base64" go through callbacks the querier
 * supplies (fx_explain_resolver_t), so this module needs no storage or pprof code.
 *
 * Errors: fx_explain_handle returns FX_EINVAL (400) with a message naming the field for a bad
 * request, FX_ETOOBIG (413) for oversized sources, and passes a resolver's code through.
 */
#ifndef FX_EXPLAIN_H
#define FX_EXPLAIN_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/core.h"
#include "core/mem.h"
#include "explain/llm.h"
#include "model/tree.h"

#define FX_EXPLAIN_MAX_SOURCE (32u << 20)  /* bytes of folded text or pprof (decoded) */
#define FX_EXPLAIN_MAX_PPROF_RAW (128u << 20) /* bytes of a pprof after gunzip */

typedef struct fx_explain_query {
    const char *profile_type_id; /* "process_cpu:cpu:nanoseconds:cpu:nanoseconds" */
    const char *label_selector;  /* "{}" when absent */
    int64_t start_ms, end_ms;
} fx_explain_query_t;

/* What the querier provides. Both callbacks fill out, an initialised empty tree the caller
 * owns; they return FX_OK or an FX_E* code with err set (passed through to the client). A
 * NULL callback makes that SOURCE kind answer FX_EUNIMPL. */
typedef struct fx_explain_resolver {
    void *ctx;
    /* The merged call tree of the series matching q in [start_ms, end_ms). */
    int (*query)(void *ctx, const fx_explain_query_t *q, fx_tree_t *out, fx_err_t *err);
    /* A pprof profile (plain protobuf: base64 and gzip are already undone) reduced to the
     * sample type named sample_type (NULL: the decoder's default, e.g. the first type). */
    int (*pprof)(void *ctx, const uint8_t *data, size_t len, const char *sample_type,
                 fx_tree_t *out, fx_err_t *err);
} fx_explain_resolver_t;

enum fx_explain_engine { FX_EXPLAIN_AUTO = 0, FX_EXPLAIN_BUILTIN, FX_EXPLAIN_LLM };
enum fx_explain_source_kind { FX_EXPLAIN_SRC_QUERY = 1, FX_EXPLAIN_SRC_FOLDED, FX_EXPLAIN_SRC_PPROF };

typedef struct fx_explain_source {
    int kind;                 /* enum fx_explain_source_kind */
    fx_explain_query_t query; /* kind QUERY */
    const char *folded;       /* kind FOLDED */
    size_t folded_len;
    const uint8_t *pprof;     /* kind PPROF: decoded and gunzipped */
    size_t pprof_len;
    const char *sample_type;  /* kind PPROF, may be NULL */
} fx_explain_source_t;

typedef struct fx_explain_request {
    fx_arena_t arena; /* owns every string and buffer of the request */
    int engine;       /* enum fx_explain_engine */
    int diff;         /* 1: src[0] is the baseline, src[1] the comparison */
    fx_explain_source_t src[2];
} fx_explain_request_t;

/* Parses and validates a request body. req is initialised here; free it with
 * fx_explain_request_free in every case. */
int fx_explain_request_parse(const char *body, size_t len, fx_explain_request_t *req,
                             fx_err_t *err);
void fx_explain_request_free(fx_explain_request_t *req);

/* Fills out (initialised and empty, owned by the caller) with the call tree of req->src[i]. */
int fx_explain_resolve(const fx_explain_request_t *req, int i, const fx_explain_resolver_t *r,
                       fx_tree_t *out, fx_err_t *err);

/* The endpoint: parses body, resolves, analyzes, asks the language model when the engine says
 * so, and appends the JSON response to out. Blocks for up to the model timeout when the model
 * is used: call it from a worker thread, not an event loop. llm may be NULL (no model). */
int fx_explain_handle(const char *body, size_t len, const fx_explain_resolver_t *r,
                      const fx_explain_llm_config_t *llm, fx_buf_t *out, fx_err_t *err);

#endif
