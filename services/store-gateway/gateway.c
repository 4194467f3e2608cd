/*
 * gateway.c - a store-gateway's life: ring membership through the
 * lifecycler, and the sync thread that keeps its blocks current.
 *
 * Start: register JOINING, wait until the ring shows this instance, sync
 * (retrying until the bucket can be listed), drop stale local copies, turn
 * ACTIVE - only then is it ready. Then every ring_check_ms the ring's
 * membership is compared with the one ownership was computed from (a
 * gateway joined, left, or its heartbeat timed out) and blocks are
 * re-assigned at once; every sync_interval_ms the bucket is listed again.
 */
#include "sg_int.h"
#include "core/mem.h"
#include "core/time.h"
#include "log/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static char *dup_or_empty(const char *s)
{
    return fx_strdup(s ? s : "");
}

static int cache_stat(void *ctx, double *v, int which)
{
    fx_block_cache_stats_t st;
    fx_block_cache_stats(((sg_t *)ctx)->cache, &st);
    *v = which == 0   ? (double)st.index_bytes
         : which == 1 ? (double)st.symbols_bytes
         : which == 2 ? (double)st.hits
         : which == 3 ? (double)st.misses
                      : (double)st.evictions;
    return 0;
}
static int cs_index(void *c, double *v) { return cache_stat(c, v, 0); }
static int cs_symbols(void *c, double *v) { return cache_stat(c, v, 1); }
static int cs_hits(void *c, double *v) { return cache_stat(c, v, 2); }
static int cs_misses(void *c, double *v) { return cache_stat(c, v, 3); }
static int cs_evictions(void *c, double *v) { return cache_stat(c, v, 4); }

static void register_metrics(sg_t *g, fx_registry_t *r)
{
    g->m_corrupted = fx_counter(r, "fornax_store_gateway_corrupted_blocks_total",
                                "Times a block failed a checksum (at open or in a query) and was "
                                "taken out of service.");
    g->m_syncs = fx_counter(r, "fornax_store_gateway_block_syncs_total", "Bucket listings done.");
    g->m_sync_failures = fx_counter(r, "fornax_store_gateway_block_sync_failures_total",
                                    "Bucket listings that failed (the previous state is kept).");
    g->m_loads = fx_counter(r, "fornax_store_gateway_block_loads_total", "Blocks opened.");
    g->m_load_failures = fx_counter(r, "fornax_store_gateway_block_load_failures_total",
                                    "Blocks that could not be opened (retried at the next sync).");
    g->m_drops = fx_counter(r, "fornax_store_gateway_block_drops_total",
                            "Blocks closed because they are no longer owned, gone or corrupted.");
    g->m_loaded = fx_gauge(r, "fornax_store_gateway_blocks_loaded", "Blocks open for queries.");
    g->m_visible = fx_gauge(r, "fornax_store_gateway_blocks_visible",
                            "Blocks visible in the bucket at the last sync (all gateways).");
    fx_gauge_func(r, "fornax_store_gateway_index_cache_bytes", "Decoded block indexes held.",
                  cs_index, g);
    fx_gauge_func(r, "fornax_store_gateway_symbols_cache_bytes", "Decoded symbol tables held.",
                  cs_symbols, g);
    fx_counter_func(r, "fornax_store_gateway_cache_hits_total", "Index/symbols cache hits.",
                    cs_hits, g);
    fx_counter_func(r, "fornax_store_gateway_cache_misses_total",
                    "Index/symbols cache misses (sections read and decoded).", cs_misses, g);
    fx_counter_func(r, "fornax_store_gateway_cache_evictions_total",
                    "Index/symbols cache entries evicted to stay within budget.", cs_evictions, g);
}

sg_t *sg_new(const sg_config_t *c, fx_err_t *err)
{
    if (mkdir(c->sync_dir, 0755) < 0 && errno != EEXIST) {
        fx_err_set(err, FX_EIO, "store-gateway sync directory %s: %s", c->sync_dir, strerror(errno));
        return NULL;
    }
    sg_t *g = fx_calloc(1, sizeof *g);
    g->c = *c;
    g->sync_dir = fx_strdup(c->sync_dir);
    g->c.sync_dir = g->sync_dir;
    g->id = g->lc_strs[0] = fx_strdup("");
    if (g->c.replication_factor < 1)
        g->c.replication_factor = 1;
    if (g->c.ring_check_ms <= 0)
        g->c.ring_check_ms = 1000;
    if (g->c.sync_interval_ms <= 0)
        g->c.sync_interval_ms = 60000;
    g->cache = fx_block_cache_new(c->index_cache_bytes, c->symbols_cache_bytes);
    pthread_mutex_init(&g->mu, NULL);
    pthread_mutex_init(&g->sync_mu, NULL);
    pthread_mutex_init(&g->wmu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->wcv, &ca);
    pthread_condattr_destroy(&ca);
    register_metrics(g, c->metrics ? c->metrics : fx_metrics_default());
    return g;
}

int sg_sync(sg_t *g, fx_err_t *err)
{
    pthread_mutex_lock(&g->sync_mu);
    int rc = sg__list(g, err);
    if (rc == FX_OK)
        rc = sg__reconcile(g, err);
    pthread_mutex_unlock(&g->sync_mu);
    fx_counter_inc(rc == FX_OK ? g->m_syncs : g->m_sync_failures);
    return rc;
}

int sg_reconcile(sg_t *g, fx_err_t *err)
{
    pthread_mutex_lock(&g->sync_mu);
    int rc = sg__reconcile(g, err);
    pthread_mutex_unlock(&g->sync_mu);
    return rc;
}

/* Sleeps up to ms unless stopping; returns 1 if stopping. */
static int nap(sg_t *g, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = ts.tv_nsec + (ms % 1000) * 1000000;
    ts.tv_sec += ms / 1000 + ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    pthread_mutex_lock(&g->wmu);
    while (!atomic_load(&g->stopping) &&
           pthread_cond_timedwait(&g->wcv, &g->wmu, &ts) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&g->wmu);
    return atomic_load(&g->stopping);
}

static int self_in_ring(sg_t *g)
{
    fx_ring_snapshot_t *s = fx_ring_acquire(g->c.ring);
    int found = 0;
    for (size_t i = 0; i < s->ninstances && !found; i++)
        found = strcmp(s->instances[i].id, g->id) == 0;
    fx_ring_release(g->c.ring, s);
    return found;
}

static void *sync_loop(void *arg)
{
    sg_t *g = arg;
    fx_err_t err = {0};
    int64_t retry_ms = FX_MIN(g->c.sync_interval_ms, 1000);

    /* Ownership needs our own tokens in the ring. */
    while (!self_in_ring(g))
        if (nap(g, 50))
            return NULL;
    while (sg_sync(g, &err) < 0) {
        fx_log_warn("initial block sync failed; retrying", "err=%s", fx_q(err.msg));
        if (nap(g, retry_ms))
            return NULL;
    }
    sg__clean_sync_dir(g);
    atomic_store(&g->initial_done, 1);
    if (fx_ring_lifecycler_set_state(g->lc, FX_RING_ACTIVE, &err) < 0)
        fx_log_warn("could not become ACTIVE yet; the heartbeat will retry", "err=%s", fx_q(err.msg));
    sg_stats_t st;
    sg_get_stats(g, &st);
    fx_log_info("store-gateway synced", "instance=%s visible=%zu loaded=%zu", fx_q(g->id),
                st.visible, st.loaded);

    int64_t next = fx_mono_ns() / 1000000 + g->c.sync_interval_ms;
    while (!nap(g, FX_MIN(g->c.ring_check_ms, g->c.sync_interval_ms))) {
        int64_t now = fx_mono_ns() / 1000000;
        if (now >= next) {
            if (sg_sync(g, &err) < 0)
                fx_log_warn("block sync failed; keeping the current blocks", "err=%s", fx_q(err.msg));
            next = now + g->c.sync_interval_ms;
            continue;
        }
        if (sg__ring_signature(g) != atomic_load(&g->ring_sig)) {
            fx_log_info("store-gateway ring changed; re-assigning blocks", "instance=%s", fx_q(g->id));
            sg_reconcile(g, &err);
        }
    }
    return NULL;
}

int sg_start(sg_t *g, const fx_ring_lifecycler_options_t *lc, fx_err_t *err)
{
    for (size_t i = 0; i < FX_ARRAY_LEN(g->lc_strs); i++)
        free(g->lc_strs[i]);
    g->lco = *lc;
    g->lco.id = g->id = g->lc_strs[0] = dup_or_empty(lc->id);
    g->lco.addr = g->lc_strs[1] = dup_or_empty(lc->addr);
    g->lco.http = g->lc_strs[2] = dup_or_empty(lc->http);
    g->lco.zone = g->lc_strs[3] = dup_or_empty(lc->zone);
    g->lco.tokens_file = g->lc_strs[4] = lc->tokens_file ? fx_strdup(lc->tokens_file) : NULL;
    g->lc = fx_ring_lifecycler_start(g->c.ring, &g->lco, err);
    if (!g->lc)
        return err->code ? err->code : FX_EUNAVAIL;
    atomic_store(&g->stopping, 0);
    if (pthread_create(&g->thread, NULL, sync_loop, g) != 0) {
        fx_ring_lifecycler_stop(g->lc, 1);
        g->lc = NULL;
        return fx_err_set(err, FX_EINTERNAL, "cannot start the store-gateway sync thread");
    }
    g->thread_started = true;
    return FX_OK;
}

int sg_ready(sg_t *g, fx_err_t *why)
{
    if (!g->lc)
        return fx_err_set(why, FX_EUNAVAIL, "store-gateway: not in the ring yet");
    if (!atomic_load(&g->initial_done))
        return fx_err_set(why, FX_EUNAVAIL, "store-gateway: initial block sync not done");
    fx_ring_state_t st = fx_ring_lifecycler_state(g->lc);
    if (st != FX_RING_ACTIVE || !fx_ring_lifecycler_registered(g->lc))
        return fx_err_set(why, FX_EUNAVAIL, "store-gateway: %s in the ring", fx_ring_state_name(st));
    return FX_OK;
}

void sg_leave(sg_t *g)
{
    fx_err_t err;
    if (g->lc && fx_ring_lifecycler_set_state(g->lc, FX_RING_LEAVING, &err) < 0)
        fx_log_warn("could not mark the store-gateway LEAVING", "err=%s", fx_q(err.msg));
}

void sg_stop(sg_t *g, int remove)
{
    if (g->thread_started) {
        pthread_mutex_lock(&g->wmu);
        atomic_store(&g->stopping, 1);
        pthread_cond_broadcast(&g->wcv);
        pthread_mutex_unlock(&g->wmu);
        pthread_join(g->thread, NULL);
        g->thread_started = false;
    }
    if (g->lc) {
        fx_ring_lifecycler_stop(g->lc, remove);
        g->lc = NULL;
    }
}

void sg_free(sg_t *g)
{
    if (!g)
        return;
    sg_stop(g, 1);
    sg__blocks_close_all(g);
    sg__listed_free(g->listed, g->nlisted);
    free(g->bad);
    free(g->suspect);
    fx_block_cache_free(g->cache);
    pthread_mutex_destroy(&g->mu);
    pthread_mutex_destroy(&g->sync_mu);
    pthread_mutex_destroy(&g->wmu);
    pthread_cond_destroy(&g->wcv);
    for (size_t i = 0; i < FX_ARRAY_LEN(g->lc_strs); i++)
        free(g->lc_strs[i]);
    free(g->sync_dir);
    free(g);
}

void sg_get_stats(sg_t *g, sg_stats_t *out)
{
    memset(out, 0, sizeof *out);
    out->visible = atomic_load(&g->nvisible);
    pthread_mutex_lock(&g->mu);
    out->loaded = g->nblocks;
    for (size_t i = 0; i < g->nblocks; i++) {
        fx_block_io_stats_t io;
        fx_block_io_stats(g->blocks[i]->blk, &io);
        out->io.uring_reads += io.uring_reads;
        out->io.pread_reads += io.pread_reads;
        out->io.bytes += io.bytes;
    }
    pthread_mutex_unlock(&g->mu);
    out->corrupted = (uint64_t)fx_counter_value(g->m_corrupted);
    out->syncs = (uint64_t)fx_counter_value(g->m_syncs);
    out->sync_failures = (uint64_t)fx_counter_value(g->m_sync_failures);
}

int sg_has_block(sg_t *g, const char *id)
{
    int found = 0;
    pthread_mutex_lock(&g->mu);
    for (size_t i = 0; i < g->nblocks && !found; i++)
        found = strcmp(g->blocks[i]->id, id) == 0;
    pthread_mutex_unlock(&g->mu);
    return found;
}
