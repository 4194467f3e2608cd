/*
 * module.c - the store-gateway as a process module: its flags, the bucket
 * and ring it gets from the runtime, readiness, and life cycle (JOINING
 * until the first sync, ACTIVE, LEAVING on stop, removed from the ring
 * once the servers have drained).
 */
#include "sg_int.h"
#include "core/mem.h"
#include "log/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

typedef struct sg_opts {
    int64_t sync_interval_ns;
    int64_t index_cache_bytes, symbols_cache_bytes;
    char *block_source;
    char *io_engine;
    char *sync_dir;
} sg_opts_t;

typedef struct sg_module {
    sg_opts_t opts;
    fx_app_t *app;
    sg_t *g;
} sg_module_t;

/* -store-gateway.sharding-ring.replication-factor is a ring option of the
 * runtime (fx_app_store_gateway_rf): queriers need it too. */
static const fx_opt_t opts[] = {
    {"store-gateway.sync-interval", NULL, FX_OPT_DURATION, offsetof(sg_opts_t, sync_interval_ns), "1m",
     "How often the bucket is listed for new and deleted blocks (ring changes are acted on within "
     "a second).", 1000000, 604800000000000LL, NULL, 0},
    {"store-gateway.index-cache-size", NULL, FX_OPT_SIZE, offsetof(sg_opts_t, index_cache_bytes),
     "64MiB", "Memory for decoded block indexes, shared by all blocks (least recently used out).",
     0, 0, NULL, 0},
    {"store-gateway.symbols-cache-size", NULL, FX_OPT_SIZE, offsetof(sg_opts_t, symbols_cache_bytes),
     "256MiB", "Memory for decoded block symbol tables, shared by all blocks.", 0, 0, NULL, 0},
    {"store-gateway.block-source", NULL, FX_OPT_STRING, offsetof(sg_opts_t, block_source), "cache",
     "cache: download owned blocks into -store-gateway.sync-dir and read them with io_uring; "
     "bucket: read byte ranges straight from the bucket (no local disk).", 0, 0, "cache|bucket", 0},
    {"store-gateway.io-engine", NULL, FX_OPT_STRING, offsetof(sg_opts_t, io_engine), "auto",
     "Local block reads: auto (io_uring, pread if the kernel refuses it), io_uring, or pread.", 0,
     0, "auto|io_uring|pread", 0},
    {"store-gateway.sync-dir", NULL, FX_OPT_STRING, offsetof(sg_opts_t, sync_dir), "",
     "Local copies of owned blocks; empty = <data-dir>/store-gateway/blocks.", 0, 0, NULL, 0},
};

static const fx_opt_table_t table = {"Store-gateway", NULL, opts, FX_ARRAY_LEN(opts)};

static void *configure(fx_config_t *cfg)
{
    sg_module_t *m = fx_calloc(1, sizeof *m);
    fx_config_add(cfg, &table, &m->opts);
    return m;
}

static int ready(void *ctx, fx_err_t *why)
{
    sg_module_t *m = ctx;
    if (!m->g)
        return fx_err_set(why, FX_EUNAVAIL, "store-gateway: not started");
    return sg_ready(m->g, why);
}

/* Every local block holds a few descriptors (files, io_uring rings): take
 * the whole hard limit rather than fail opening blocks at 1024. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int init(fx_app_t *app, void *state, fx_err_t *err)
{
    sg_module_t *m = state;
    fx_bucket_t *bucket;
    char dir[4096];
    int rc;

    m->app = app;
    if ((rc = fx_app_bucket(app, &bucket, err)) < 0)
        return fx_err_prefix(err, "store-gateway bucket");
    if (m->opts.sync_dir[0])
        snprintf(dir, sizeof dir, "%s", m->opts.sync_dir);
    else
        snprintf(dir, sizeof dir, "%s/blocks", fx_app_data_path(app, "store-gateway"));
    raise_fd_limit();
    sg_config_t c = {0};
    c.bucket = bucket;
    c.ring = fx_app_ring(app, SG_RING);
    c.replication_factor = fx_app_store_gateway_rf(app);
    c.sync_dir = dir;
    c.source = strcmp(m->opts.block_source, "bucket") == 0 ? SG_SOURCE_BUCKET : SG_SOURCE_CACHE;
    c.io = strcmp(m->opts.io_engine, "pread") == 0      ? FX_BLOCK_IO_PREAD
           : strcmp(m->opts.io_engine, "io_uring") == 0 ? FX_BLOCK_IO_URING
                                                        : FX_BLOCK_IO_AUTO;
    c.index_cache_bytes = (size_t)m->opts.index_cache_bytes;
    c.symbols_cache_bytes = (size_t)m->opts.symbols_cache_bytes;
    c.sync_interval_ms = m->opts.sync_interval_ns / 1000000;
    if (!(m->g = sg_new(&c, err)))
        return FX_EIO;
    fx_admin_add_ready(fx_app_admin(app), "store-gateway", ready, m);
    return sg_register_rpcs(m->g, fx_app_rpc(app), err);
}

static int run(fx_app_t *app, void *state, fx_err_t *err)
{
    sg_module_t *m = state;
    char tokens[4096];
    /* Its own file: in -target=all the ingester keeps ring/tokens. */
    snprintf(tokens, sizeof tokens, "%s/tokens", fx_app_data_path(app, "store-gateway"));
    fx_ring_lifecycler_options_t o = fx_app_lifecycler_options(app, tokens);
    fx_log_info("store-gateway starting", "bucket=%s source=%s replication_factor=%d",
                fx_q(m->g->c.bucket->where), m->opts.block_source, m->g->c.replication_factor);
    return sg_start(m->g, &o, err);
}

static void stop(fx_app_t *app, void *state)
{
    sg_module_t *m = state;
    (void)app;
    /* LEAVING: the next gateways clockwise load our blocks while we still
     * answer the queries in flight; we leave the ring in destroy. */
    if (m->g)
        sg_leave(m->g);
}

static void destroy(void *state)
{
    sg_module_t *m = state;
    sg_free(m->g);
    free(m);
}

const fx_module_t fx_store_gateway_module = {"store-gateway", configure, init, run, stop, destroy};
