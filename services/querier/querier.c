/* querier.c - the querier module: options, routes, the web UI. */
#include "querier.h"
#include "core/mem.h"
#include "http/static.h"
#include "core/time.h"
#include "log/log.h"

#include <stdlib.h>
#include <string.h>

static const fx_opt_t opts[] = {
    {"querier.query-timeout", NULL, FX_OPT_DURATION, offsetof(qr_opts_t, query_timeout_ns), "2m",
     "Timeout of one query to an ingester.", 0, 0, NULL, 0},
    {"querier.query-store-after", NULL, FX_OPT_DURATION, offsetof(qr_opts_t, query_store_after_ns),
     "4h", "Data older than this comes from the store-gateways (object storage), newer from the "
     "ingesters; 0 asks both for every query (answers are deduplicated either way). Keep it "
     "below the ingesters' -ingester.local-block-retention.", 0, 0, NULL, 0},
    {"explain.llm.base-url", NULL, FX_OPT_STRING, offsetof(qr_opts_t, llm_base_url), "",
     "OpenAI-compatible endpoint for /api/v1/explain (e.g. https://api.openai.com); empty = "
     "built-in analyzer only, nothing is sent anywhere.", 0, 0, NULL, 0},
    {"explain.llm.model", NULL, FX_OPT_STRING, offsetof(qr_opts_t, llm_model), "gpt-4o-mini",
     "Model name sent to the endpoint.", 0, 0, NULL, 0},
    {"explain.llm.api-key-file", NULL, FX_OPT_STRING, offsetof(qr_opts_t, llm_api_key_file), "",
     "File holding the API key (read at each use, never logged); empty = no key.", 0, 0, NULL, 0},
    {"explain.llm.timeout", NULL, FX_OPT_DURATION, offsetof(qr_opts_t, llm_timeout_ns), "30s",
     "Timeout of one model request; on timeout the built-in answer is returned.", 0, 0, NULL, 0},
};

static const fx_opt_table_t table = {"Querier", NULL, opts, FX_ARRAY_LEN(opts)};

static void *configure(fx_config_t *cfg)
{
    qr_t *q = fx_calloc(1, sizeof *q);
    fx_config_add(cfg, &table, &q->opts);
    return q;
}

/* Ready once the querier sees an ingester it could ask: right after a
 * restart its ring view may still be filling in from the KV store. */
static int ready(void *ctx, fx_err_t *why)
{
    qr_t *q = ctx;
    fx_ring_snapshot_t *s = fx_ring_acquire(q->ingesters);
    int64_t now = fx_now_ms();
    int ok = 0;
    for (size_t i = 0; i < s->ninstances && !ok; i++)
        ok = fx_ring_healthy(q->ingesters, &s->instances[i], FX_RING_OP_READ, now);
    fx_ring_release(q->ingesters, s);
    return ok ? FX_OK : fx_err_set(why, FX_EUNAVAIL, "querier: no healthy ingester in the ring yet");
}

static int init(fx_app_t *app, void *state, fx_err_t *err)
{
    qr_t *q = state;
    int rc;
    q->app = app;
    q->ingesters = fx_app_ring(app, "ingester");
    q->gateways = fx_app_ring(app, "store-gateway");
    /* With the memory store there is no ring to wait for (the ingesters, if
     * any, are in this process). */
    if (strcmp(fx_app_ring_opts(app)->store, "memory") != 0)
        fx_admin_add_ready(fx_app_admin(app), "querier", ready, q);
    if ((rc = qr_register_api(q, err)) < 0 || (rc = qr_register_render(q, err)) < 0 ||
        (rc = qr_register_explain(q, err)) < 0)
        return rc;
    /* The UI is compiled into the binary (mk/embed.sh); API routes are
     * exact paths and win over this prefix mount. */
    return fx_static_mount(fx_app_http(app), "/", fx_ui_files, FX_STATIC_SPA_FALLBACK, err);
}

static void destroy(void *state)
{
    free(state);
}

const fx_module_t fx_querier_module = {"querier", configure, init, NULL, NULL, destroy};
