/*
 * compactor.c - the compactor module: its flags (Pyroscope's names), the
 * "compactor" ring membership that shards tenants over instances, the thread
 * that runs the core (run.c) every -compactor.compaction-interval, /ready and
 * /compactor/ring.
 */
#include "compactor.h"
#include "core/hash.h"
#include "core/mem.h"
#include "core/time.h"
#include "log/log.h"
#include "ring/lifecycler.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct cp_opts {
    int64_t interval_ns;
    fx_strlist_t block_ranges;
    int64_t first_level_wait_ns;
    int64_t deletion_delay_ns;
    int64_t partial_delay_ns;
    char *data_dir;
    int64_t stability_min_ns, stability_max_ns;
} cp_opts_t;

#define O(f) offsetof(cp_opts_t, f)
#define DMAX 1000000, INT64_MAX
static const fx_opt_t opts[] = {
    {"compactor.compaction-interval", NULL, FX_OPT_DURATION, O(interval_ns), "30m",
     "How often the compactor looks at every tenant it owns.", DMAX, NULL, 0},
    {"compactor.block-ranges", NULL, FX_OPT_LIST, O(block_ranges), "1h,2h,8h",
     "Aligned time ranges blocks are merged into, ascending; each a multiple of the one "
     "before. The first is the ingesters' block duration.", 0, 0, NULL, 0},
    {"compactor.first-level-compaction-wait-period", NULL, FX_OPT_DURATION,
     O(first_level_wait_ns), "25m",
     "Level-1 blocks (as uploaded by ingesters) younger than this are not compacted yet, so "
     "every replica of a range is there first.", 0, INT64_MAX, NULL, 0},
    {"compactor.deletion-delay", NULL, FX_OPT_DURATION, O(deletion_delay_ns), "12h",
     "Blocks marked for deletion are deleted this long after the mark, so queries that "
     "already listed them can finish.", 0, INT64_MAX, NULL, 0},
    {"compactor.partial-block-deletion-delay", NULL, FX_OPT_DURATION, O(partial_delay_ns), "24h",
     "A block prefix without meta.json (an upload that died) is deleted once nothing was "
     "written to it for this long.", DMAX, NULL, 0},
    {"compactor.data-dir", NULL, FX_OPT_STRING, O(data_dir), "",
     "Scratch directory for blocks being compacted; empty = <data-dir>/compactor.", 0, 0, NULL,
     0},
    {"compactor.ring.wait-stability-min-duration", NULL, FX_OPT_DURATION, O(stability_min_ns),
     "1m", "Before its first run, wait until the compactor ring has not changed for this long "
     "(etcd rings only), so compactors starting together do not all take every tenant; 0 = "
     "do not wait.", 0, INT64_MAX, NULL, 0},
    {"compactor.ring.wait-stability-max-duration", NULL, FX_OPT_DURATION, O(stability_max_ns),
     "5m", "Run anyway after waiting this long for the ring to settle.", 0, INT64_MAX, NULL, 0},
};
static const fx_opt_table_t table = {"Compactor", NULL, opts, FX_ARRAY_LEN(opts)};

typedef struct cpm {
    fx_app_t *app;
    cp_opts_t opts;
    cp_config_t cfg;
    cp_metrics_t metrics;
    cp_t *core;
    fx_ring_t *ring;
    fx_ring_lifecycler_t *lc;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_bool stop;
} cpm_t;

static void *configure(fx_config_t *cfg)
{
    cpm_t *m = fx_calloc(1, sizeof *m);
    fx_config_add(cfg, &table, &m->opts);
    pthread_mutex_init(&m->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->cv, &ca);
    pthread_condattr_destroy(&ca);
    return m;
}

/* mkdir -p */
static int make_dirs(const char *dir, fx_err_t *err)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p)
            continue;
        char c = *p;
        *p = 0;
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return fx_err_set(err, FX_EIO, "-compactor.data-dir: cannot create %s: %m", buf);
        *p = c;
        if (!c)
            return FX_OK;
    }
}

/* --- ring ----------------------------------------------------------------------------- */

static int owns(void *ctx, const char *tenant)
{
    cpm_t *m = ctx;
    fx_ring_snapshot_t *s = fx_ring_acquire(m->ring);
    int yes = cp_ring_owns(m->ring, s, fx_app_instance_id(m->app), tenant, fx_now_ms());
    fx_ring_release(m->ring, s);
    return yes;
}

/* 1 once this instance is ACTIVE in its own view of the ring: before that
 * it would own nothing, and a run would be wasted. */
static int in_ring(cpm_t *m)
{
    fx_ring_snapshot_t *s = fx_ring_acquire(m->ring);
    int yes = 0;
    for (size_t i = 0; i < s->ninstances && !yes; i++)
        yes = strcmp(s->instances[i].id, fx_app_instance_id(m->app)) == 0 &&
              fx_ring_healthy(m->ring, &s->instances[i], FX_RING_OP_WRITE, fx_now_ms());
    fx_ring_release(m->ring, s);
    return yes;
}

static bool wait_for(cpm_t *m, int64_t ns);

/* What changes when compactors join or leave: ids, states, token counts. */
static uint64_t ring_signature(cpm_t *m)
{
    fx_ring_snapshot_t *s = fx_ring_acquire(m->ring);
    uint64_t h = s->ninstances;
    for (size_t i = 0; i < s->ninstances; i++) {
        const fx_ring_instance_t *in = &s->instances[i];
        h = fx_hash64(in->id, strlen(in->id), h);
        h = fx_mix64(h ^ ((uint64_t)in->state << 32 | in->ntokens));
    }
    fx_ring_release(m->ring, s);
    return h;
}

/* As Cortex's compactor: several compactors starting together would each
 * see only itself and take every tenant; wait until the ring has settled.
 * Returns true when stopping. */
static bool wait_stable(cpm_t *m)
{
    int64_t min = m->opts.stability_min_ns, max = m->opts.stability_max_ns;
    if (min <= 0 || strcmp(fx_app_ring_opts(m->app)->store, "memory") == 0)
        return false; /* one process, one compactor: nothing to agree on */
    int64_t start = fx_mono_ns(), since = start;
    uint64_t sig = ring_signature(m);
    for (;;) {
        int64_t now = fx_mono_ns();
        uint64_t cur = ring_signature(m);
        if (cur != sig) {
            sig = cur;
            since = now;
        }
        if (now - since >= min && in_ring(m))
            return false;
        if (now - start >= max) {
            fx_log_warn("compactor ring still changing; starting anyway", "waited_s=%lld",
                        (long long)((now - start) / 1000000000));
            return false;
        }
        if (wait_for(m, 100000000))
            return true;
    }
}

static int ready(void *ctx, fx_err_t *why)
{
    cpm_t *m = ctx;
    if (!m->lc || !fx_ring_lifecycler_registered(m->lc) ||
        fx_ring_lifecycler_state(m->lc) != FX_RING_ACTIVE)
        return fx_err_set(why, FX_EUNAVAIL, "compactor: not ACTIVE in the compactor ring yet");
    return FX_OK;
}

/* --- the periodic thread ------------------------------------------------------------------- */

/* Waits up to ns or until stop; returns true when stopping. */
static bool wait_for(cpm_t *m, int64_t ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t at = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + ns;
    ts.tv_sec = at / 1000000000;
    ts.tv_nsec = at % 1000000000;
    pthread_mutex_lock(&m->mu);
    while (!atomic_load(&m->stop))
        if (pthread_cond_timedwait(&m->cv, &m->mu, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&m->mu);
    return atomic_load(&m->stop);
}

static void *loop(void *arg)
{
    cpm_t *m = arg;
    /* First run as soon as we are in a settled ring, then every interval. */
    while (!in_ring(m))
        if (wait_for(m, 100000000))
            return NULL;
    if (wait_stable(m))
        return NULL;
    do {
        fx_err_t err = {0};
        int64_t t0 = fx_mono_ns();
        int rc = cp_run(m->core, fx_now_ms(), owns, m, &err);
        fx_log_info("compaction run finished", "ok=%s seconds=%.3f", rc == FX_OK ? "true" : "false",
                    (double)(fx_mono_ns() - t0) / 1e9);
    } while (!wait_for(m, m->opts.interval_ns));
    return NULL;
}

/* --- life cycle ------------------------------------------------------------------------------ */

static int init(fx_app_t *app, void *state, fx_err_t *err)
{
    cpm_t *m = state;
    fx_bucket_t *bkt;
    char work[4096];
    int rc;

    m->app = app;
    if ((rc = cp_parse_ranges((const char *const *)m->opts.block_ranges.v,
                              m->opts.block_ranges.n, &m->cfg, err)) < 0)
        return rc;
    m->cfg.first_level_wait_ms = m->opts.first_level_wait_ns / 1000000;
    m->cfg.deletion_delay_ms = m->opts.deletion_delay_ns / 1000000;
    m->cfg.partial_delay_ms = m->opts.partial_delay_ns / 1000000;
    if (m->opts.data_dir[0]) {
        if ((rc = make_dirs(m->opts.data_dir, err)) < 0)
            return rc;
        snprintf(work, sizeof work, "%s/work", m->opts.data_dir);
    } else {
        snprintf(work, sizeof work, "%s/work", fx_app_data_path(app, "compactor"));
    }
    m->cfg.work_dir = work;
    if ((rc = fx_app_bucket(app, &bkt, err)) < 0)
        return fx_err_prefix(err, "compactor");
    cp_metrics_init(&m->metrics, fx_metrics_default());
    m->core = cp_new(bkt, &m->cfg, fx_app_limits(app), &m->metrics, &m->stop);
    m->ring = fx_app_ring(app, "compactor");
    fx_admin_add_ready(fx_app_admin(app), "compactor", ready, m);
    /* POST forget=<id> removes a dead instance (its tenants move to the others). */
    return fx_app_mount_ring_page(app, "compactor", "/compactor/ring", "Compactor ring", err);
}

static int run(fx_app_t *app, void *state, fx_err_t *err)
{
    cpm_t *m = state;
    char tokens[4096];
    snprintf(tokens, sizeof tokens, "%s/compactor-tokens", fx_app_data_path(app, "ring"));
    fx_ring_lifecycler_options_t o = fx_app_lifecycler_options(app, tokens);
    if (!(m->lc = fx_ring_lifecycler_start(m->ring, &o, err)))
        return fx_err_prefix(err, "compactor ring");
    /* Nothing to load first: a compactor is ready at once. */
    if (fx_ring_lifecycler_set_state(m->lc, FX_RING_ACTIVE, err) < 0)
        fx_log_warn("could not become ACTIVE yet; the heartbeat will retry", "err=%s", fx_q(err->msg));
    if (pthread_create(&m->thread, NULL, loop, m) != 0)
        return fx_err_set(err, FX_EINTERNAL, "compactor: cannot start its thread");
    m->started = true;
    fx_log_info("compactor started", "interval_s=%lld ranges=%zu deletion_delay_s=%lld",
                (long long)(m->opts.interval_ns / 1000000000), m->cfg.nranges,
                (long long)(m->cfg.deletion_delay_ms / 1000));
    return FX_OK;
}

static void stop(fx_app_t *app, void *state)
{
    cpm_t *m = state;
    fx_err_t err;
    (void)app;
    /* A compaction in progress finishes (or the next run redoes it): the
     * core checks the flag between steps. */
    pthread_mutex_lock(&m->mu);
    atomic_store(&m->stop, true);
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    if (m->started) {
        pthread_join(m->thread, NULL);
        m->started = false;
    }
    if (m->lc && fx_ring_lifecycler_set_state(m->lc, FX_RING_LEAVING, &err) < 0)
        fx_log_warn("could not mark the compactor LEAVING", "err=%s", fx_q(err.msg));
}

static void destroy(void *state)
{
    cpm_t *m = state;
    if (m->started) {
        atomic_store(&m->stop, true);
        pthread_cond_broadcast(&m->cv);
        pthread_join(m->thread, NULL);
    }
    if (m->lc)
        fx_ring_lifecycler_stop(m->lc, 1);
    cp_free(m->core);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

const fx_module_t fx_compactor_module = {"compactor", configure, init, run, stop, destroy};
