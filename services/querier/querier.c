/* querier.c - the querier module: options, routes, the web UI. */
#include "querier.h"
#include "core/mem.h"
#include "http/static.h"
#include "log/log.h"

#include <stdlib.h>

static const fx_opt_t opts[] = {
    {"querier.query-timeout", NULL, FX_OPT_DURATION, offsetof(qr_opts_t, query_timeout_ns), "2m",
     "Timeout of one query to an ingester.", 0, 0, NULL, 0},
};

static const fx_opt_table_t table = {"Querier", NULL, opts, FX_ARRAY_LEN(opts)};

static void *configure(fx_config_t *cfg)
{
    qr_t *q = fx_calloc(1, sizeof *q);
    fx_config_add(cfg, &table, &q->opts);
    return q;
}

static int init(fx_app_t *app, void *state, fx_err_t *err)
{
    qr_t *q = state;
    int rc;
    q->app = app;
    q->ingesters = fx_app_ring(app, "ingester");
    if ((rc = qr_register_api(q, err)) < 0 || (rc = qr_register_render(q, err)) < 0)
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
