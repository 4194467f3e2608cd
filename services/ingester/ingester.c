/* ingester.c - the ingester module: head, ring membership, life cycle. */
#include "ingester.h"
#include "core/mem.h"
#include "log/log.h"
#include "metrics/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const fx_opt_t opts[] = {
    {"ingester.wal-sync", NULL, FX_OPT_BOOL, offsetof(ing_opts_t, wal_sync), "true",
     "Acknowledge a push only after its WAL record is fsynced (off: after it is written to "
     "the OS, which survives a process crash but not a machine crash).", 0, 0, NULL, 0},
    {"ingester.wal-compression", NULL, FX_OPT_BOOL, offsetof(ing_opts_t, wal_compression), "true",
     "Compress WAL records with zstd: the head takes about half the disk between memtable "
     "flushes for a few percent more CPU.", 0, 0, NULL, 0},
    {"ingester.block-cache-size", NULL, FX_OPT_SIZE, offsetof(ing_opts_t, block_cache_bytes),
     "64MiB", "RocksDB block cache of the head.", 0, 0, NULL, 0},
    {"ingester.max-block-duration", NULL, FX_OPT_DURATION, offsetof(ing_opts_t, max_block_duration_ns),
     "1h", "Cut the head into blocks of this time span and upload them to object storage "
     "(-storage.*); 0 keeps everything in the head.", 0, 0, NULL, 0},
    {"ingester.block-cut-delay", NULL, FX_OPT_DURATION, offsetof(ing_opts_t, block_cut_delay_ns),
     "0s", "Wait this long after a block's time window ends before cutting it, for late "
     "profiles; 0 = a quarter of the block duration, at most 5m.", 0, 0, NULL, 0},
    {"ingester.local-block-retention", NULL, FX_OPT_DURATION,
     offsetof(ing_opts_t, local_block_retention_ns), "5h",
     "Keep serving uploaded blocks from the ingester this long after their end; must exceed "
     "the queriers' -querier.query-store-after.", 0, 0, NULL, 0},
    {"ingester.catch-up", NULL, FX_OPT_BOOL, offsetof(ing_opts_t, catch_up), "true",
     "After a restart on a head that has data, fetch from the other ACTIVE ingesters the "
     "profiles of the series this instance replicates that it missed while down "
     "(docs/cluster.md, section Catch-up).", 0, 0, NULL, 0},
    {"ingester.catch-up-margin", NULL, FX_OPT_DURATION, offsetof(ing_opts_t, catch_up_margin_ns),
     "5m", "Catch-up fetches profiles newer than the head's newest profile minus this (pushes "
     "in flight at a crash carry somewhat older timestamps).", 0, 0, NULL, 0},
    {"ingester.catch-up-rate-limit", NULL, FX_OPT_SIZE, offsetof(ing_opts_t, catch_up_rate_bytes),
     "16MiB", "Bytes of (gzipped) profiles catch-up fetches per second, so live pushes keep "
     "the CPU and disk; 0 = unlimited.", 0, 0, NULL, 0},
    {"ingester.catch-up-page-size", NULL, FX_OPT_SIZE, offsetof(ing_opts_t, catch_up_page_bytes),
     "1MiB", "Stored bytes a peer reads per catch-up page (64KiB to 64MiB): bounds the memory "
     "of a page on both sides.", 0, 0, NULL, 0},
};

static const fx_opt_table_t table = {"Ingester", NULL, opts, FX_ARRAY_LEN(opts)};

static void *configure(fx_config_t *cfg)
{
    ing_t *ing = fx_calloc(1, sizeof *ing);
    fx_config_add(cfg, &table, &ing->opts);
    pthread_rwlock_init(&ing->served_mu, NULL);
    pthread_mutex_init(&ing->cut_mu, NULL);
    pthread_cond_init(&ing->cut_cv, NULL);
    ing->metrics_once = (pthread_once_t)PTHREAD_ONCE_INIT;
    return ing;
}

/* Ready once ACTIVE in the ring: until then distributors cannot route to us
 * and queriers would miss our data. */
static int ready(void *ctx, fx_err_t *why)
{
    ing_t *ing = ctx;
    if (!ing->lifecycler)
        return fx_err_set(why, FX_EUNAVAIL, "ingester: not in the ring yet");
    if (fx_ring_lifecycler_state(ing->lifecycler) != FX_RING_ACTIVE ||
        !fx_ring_lifecycler_registered(ing->lifecycler))
        return fx_err_set(why, FX_EUNAVAIL, "ingester: %s in the ring",
                          fx_ring_state_name(fx_ring_lifecycler_state(ing->lifecycler)));
    return FX_OK;
}

/* Scrape-time gauges over the head's counters. */
#define HEAD_STAT(field)                                                                     \
    static int stat_##field(void *ctx, double *v)                                           \
    {                                                                                        \
        fx_head_stats_t st;                                                                  \
        fx_head_stats(((ing_t *)ctx)->head, &st);                                            \
        *v = (double)st.field;                                                               \
        return 0;                                                                            \
    }
HEAD_STAT(profiles)
HEAD_STAT(samples)
HEAD_STAT(series)
HEAD_STAT(stack_nodes)
HEAD_STAT(bytes_written)

static void register_metrics(ing_t *ing)
{
    fx_registry_t *r = fx_metrics_default();
    fx_counter_func(r, "fornax_ingester_appended_profiles_total",
                    "Profiles appended to the head since start.", stat_profiles, ing);
    fx_counter_func(r, "fornax_ingester_appended_samples_total",
                    "Samples appended to the head since start.", stat_samples, ing);
    fx_counter_func(r, "fornax_ingester_head_bytes_written_total",
                    "Bytes written to RocksDB by appends since start.", stat_bytes_written, ing);
    fx_gauge_func(r, "fornax_ingester_head_series", "Series created in the head since start.",
                  stat_series, ing);
    fx_gauge_func(r, "fornax_ingester_head_stack_nodes", "Stack tree nodes created since start.",
                  stat_stack_nodes, ing);
}

static int init(fx_app_t *app, void *state, fx_err_t *err)
{
    ing_t *ing = state;
    fx_head_options_t ho;
    int rc;

    ing->app = app;
    fx_head_options_default(&ho);
    ho.sync = ing->opts.wal_sync;
    ho.wal_compression = ing->opts.wal_compression;
    ho.block_cache_bytes = (size_t)ing->opts.block_cache_bytes;
    /* Opening the head replays its WAL: every acknowledged push is back
     * before the instance registers in the ring. */
    if ((rc = fx_head_open(fx_app_data_path(app, "head"), &ho, &ing->head, err)) < 0)
        return fx_err_prefix(err, "ingester head");
    ing->ring = fx_app_ring(app, "ingester");
    register_metrics(ing);
    ing->cache = fx_block_cache_new(16u << 20, 64u << 20);
    /* Blocks promoted before a restart are served again and their rows
     * leave the head again (a no-op unless a crash came in between). */
    if ((rc = ing_load_local_blocks(ing, err)) < 0)
        return fx_err_prefix(err, "local blocks");
    fx_admin_add_ready(fx_app_admin(app), "ingester", ready, ing);
    if ((rc = ing_catchup_register(ing, err)) < 0)
        return rc;
    return ing_register_rpcs(ing, err);
}

static int run(fx_app_t *app, void *state, fx_err_t *err)
{
    ing_t *ing = state;
    char tokens[4096];
    snprintf(tokens, sizeof tokens, "%s/tokens", fx_app_data_path(app, "ring"));
    fx_ring_lifecycler_options_t o = fx_app_lifecycler_options(app, tokens);
    ing->lifecycler = fx_ring_lifecycler_start(ing->ring, &o, err);
    /* The head is open and the RPC server serves: nothing left to wait for. */
    if (fx_ring_lifecycler_set_state(ing->lifecycler, FX_RING_ACTIVE, err) < 0)
        fx_log_warn("could not become ACTIVE yet; the heartbeat will retry", "err=%s", fx_q(err->msg));
    ing_cutter_start(ing);
    ing_catchup_start(ing);
    return FX_OK;
}

static void stop(fx_app_t *app, void *state)
{
    ing_t *ing = state;
    fx_err_t err;
    (void)app;
    ing_catchup_stop(ing);
    ing_cutter_stop(ing);
    /* LEAVING: distributors add another replica for our tokens while the
     * servers drain the writes in flight; we leave the ring in destroy. */
    if (ing->lifecycler && fx_ring_lifecycler_set_state(ing->lifecycler, FX_RING_LEAVING, &err) < 0)
        fx_log_warn("could not mark the ingester LEAVING", "err=%s", fx_q(err.msg));
}

static void destroy(void *state)
{
    ing_t *ing = state;
    ing_catchup_free(ing); /* its thread reads the lifecycler */
    if (ing->lifecycler)
        fx_ring_lifecycler_stop(ing->lifecycler, 1);
    ing_cutter_stop(ing);
    ing_close_blocks(ing);
    if (ing->cache)
        fx_block_cache_free(ing->cache);
    if (ing->head)
        fx_head_close(ing->head);
    pthread_rwlock_destroy(&ing->served_mu);
    pthread_mutex_destroy(&ing->cut_mu);
    pthread_cond_destroy(&ing->cut_cv);
    free(ing);
}

const fx_module_t fx_ingester_module = {"ingester", configure, init, run, stop, destroy};
