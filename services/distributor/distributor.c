/* distributor.c - the distributor module: options, life cycle. */
#include "distributor.h"
#include "core/mem.h"
#include "log/log.h"
#include "ring/lifecycler.h"

#include <stdlib.h>
#include <string.h>

static const fx_opt_t opts[] = {
    {"distributor.push-timeout", NULL, FX_OPT_DURATION, offsetof(dist_opts_t, push_timeout_ns), "5s",
     "Timeout of one push to an ingester.", 0, 0, NULL, 0},
    {"distributor.ring-global-limits", NULL, FX_OPT_BOOL, offsetof(dist_opts_t, ring_global_limits),
     "true",
     "Treat ingestion_rate_mb as a global limit shared by the healthy distributors of the "
     "distributor ring (cluster mode); off = every distributor allows the full rate.", 0, 0, NULL, 0},
};

static const fx_opt_table_t table = {"Distributor", NULL, opts, FX_ARRAY_LEN(opts)};

static void *configure(fx_config_t *cfg)
{
    dist_t *d = fx_calloc(1, sizeof *d);
    fx_config_add(cfg, &table, &d->opts);
    ratelimit_init(&d->rl);
    return d;
}

/* In a cluster the distributor is a member of the distributor ring (which
 * shares the tenants' global rate limits): not ready until ACTIVE there. */
static int ready(void *ctx, fx_err_t *why)
{
    dist_t *d = ctx;
    if (!d->lifecycler)
        return FX_OK;
    if (fx_ring_lifecycler_state(d->lifecycler) != FX_RING_ACTIVE ||
        !fx_ring_lifecycler_registered(d->lifecycler))
        return fx_err_set(why, FX_EUNAVAIL, "distributor: not ACTIVE in the distributor ring yet");
    return FX_OK;
}

static int init(fx_app_t *app, void *state, fx_err_t *err)
{
    dist_t *d = state;
    int rc;
    d->app = app;
    d->ingesters = fx_app_ring(app, "ingester");
    fx_admin_add_ready(fx_app_admin(app), "distributor", ready, d);
    if ((rc = dist_register_push(d, err)) < 0 || (rc = dist_register_ingest(d, err)) < 0)
        return rc;
    return FX_OK;
}

static int run(fx_app_t *app, void *state, fx_err_t *err)
{
    dist_t *d = state;
    (void)err;
    /* A distributor ring only matters when limits are shared by several
     * distributors; one process needs none. */
    if (d->opts.ring_global_limits && strcmp(fx_app_ring_opts(app)->store, "memory") != 0) {
        d->distributors = fx_app_ring(app, "distributor");
        fx_ring_lifecycler_options_t o = fx_app_lifecycler_options(app, NULL);
        o.ntokens = 1; /* membership only: nothing is sharded by this ring */
        d->lifecycler = fx_ring_lifecycler_start(d->distributors, &o, NULL);
        fx_ring_lifecycler_set_state(d->lifecycler, FX_RING_ACTIVE, NULL);
    }
    return FX_OK;
}

static void stop(fx_app_t *app, void *state)
{
    dist_t *d = state;
    (void)app;
    if (d->lifecycler) {
        fx_ring_lifecycler_stop(d->lifecycler, 1);
        d->lifecycler = NULL;
    }
}

static void destroy(void *state)
{
    dist_t *d = state;
    ratelimit_free(&d->rl);
    free(d);
}

const fx_module_t fx_distributor_module = {"distributor", configure, init, run, stop, destroy};
