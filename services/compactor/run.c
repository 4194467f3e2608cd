/*
 * run.c - the compactor's core: one run over a tenant (delete what is due,
 * retention, redundant blocks, then compactions until the planner has
 * nothing left), one run over every owned tenant, and the metrics.
 */
#include "internal.h"
#include "core/fs.h"
#include "core/time.h"
#include "log/log.h"
#include "tenant/tenant.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void cp_metrics_init(cp_metrics_t *m, fx_registry_t *r)
{
    static const double secs[] = {0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600};
    m->runs_started = fx_counter(r, "fornax_compactor_runs_started_total",
                                 "Compaction runs started (one per interval).");
    m->runs_completed = fx_counter(r, "fornax_compactor_runs_completed_total",
                                   "Compaction runs in which every owned tenant succeeded.");
    m->runs_failed = fx_counter(r, "fornax_compactor_runs_failed_total",
                                "Compaction runs in which some tenant failed.");
    m->last_success = fx_gauge(r, "fornax_compactor_last_successful_run_timestamp_seconds",
                               "Unix time of the last run that completed without failures.");
    m->compactions = fx_counter(r, "fornax_compactor_compactions_total",
                                "Compactions that uploaded a new block.");
    m->compactions_failed = fx_counter(r, "fornax_compactor_compactions_failed_total",
                                       "Compactions that failed (retried next run).");
    m->blocks_compacted = fx_counter(r, "fornax_compactor_blocks_compacted_total",
                                     "Blocks merged into compacted blocks.");
    m->duplicates = fx_counter(r, "fornax_compactor_duplicate_profiles_removed_total",
                               "Replica duplicate profiles dropped by compaction.");
    fx_counter_vec_t *marked =
        fx_counter_vec(r, "fornax_compactor_blocks_marked_for_deletion_total",
                       "Deletion marks written, by reason.", "reason");
    m->marked_compacted = fx_counter_vec_get(marked, "compacted");
    m->marked_retention = fx_counter_vec_get(marked, "retention");
    m->blocks_deleted = fx_counter(r, "fornax_compactor_blocks_deleted_total",
                                   "Marked blocks deleted after the deletion delay.");
    m->partial_deleted = fx_counter(r, "fornax_compactor_partial_blocks_deleted_total",
                                    "Block prefixes without meta.json deleted after the "
                                    "partial-block delay.");
    m->corrupted = fx_counter(r, "fornax_compactor_corrupted_blocks_total",
                              "Blocks found failing their checksums (marked corrupted.json).");
    m->bytes_read = fx_counter(r, "fornax_compactor_read_bytes_total",
                               "Block bytes downloaded for compaction.");
    m->bytes_written = fx_counter(r, "fornax_compactor_written_bytes_total",
                                  "Compacted block bytes uploaded.");
    m->bytes_deleted = fx_counter(r, "fornax_compactor_deleted_bytes_total",
                                  "Bytes deleted from the bucket.");
    m->duration = fx_histogram(r, "fornax_compactor_compaction_duration_seconds",
                               "Time of one compaction, download to marks.", secs,
                               FX_ARRAY_LEN(secs));
}

cp_t *cp_new(fx_bucket_t *b, const cp_config_t *cfg, const fx_limits_registry_t *lim,
             const cp_metrics_t *m, const atomic_bool *stop)
{
    cp_t *c = fx_calloc(1, sizeof *c);
    c->bkt = b;
    c->cfg = *cfg;
    c->work_dir = fx_strdup(cfg->work_dir);
    c->cfg.work_dir = c->work_dir;
    c->lim = lim;
    c->m = m;
    c->stop = stop;
    c->epoch = 1;
    return c;
}

void cp_free(cp_t *c)
{
    if (!c)
        return;
    cp__cache_prune(c, UINT64_MAX);
    free(c->cache);
    fx_rm_rf(c->work_dir);
    free(c->work_dir);
    free(c);
}

static bool stopping(const cp_t *c)
{
    return c->stop && atomic_load(c->stop);
}

/* --- tenants --------------------------------------------------------------------------- */

typedef struct tenants {
    char **v;
    size_t n, cap;
} tenants_t;

static int on_top(const fx_obj_entry_t *e, void *ctx)
{
    tenants_t *t = ctx;
    size_t len = strlen(e->key);
    /* Tenants are the top-level "directories" whose names are tenant IDs
     * (which also leaves out the backend's own "@..." names). */
    if (!e->is_prefix || len < 2 || fx_tenant_validate(e->key, len - 1, NULL) != FX_OK)
        return FX_OK;
    fx_grow((void **)&t->v, &t->cap, t->n + 1, sizeof *t->v);
    t->v[t->n++] = fx_strndup(e->key, len - 1);
    return FX_OK;
}

int cp_list_tenants(cp_t *c, char ***out, size_t *n, fx_err_t *err)
{
    tenants_t t = {NULL, 0, 0};
    int rc = fx_bucket_list(c->bkt, "", "/", on_top, &t, err);
    if (rc < 0) {
        for (size_t i = 0; i < t.n; i++)
            free(t.v[i]);
        free(t.v);
        t.v = NULL;
        t.n = 0;
    }
    *out = t.v;
    *n = t.n;
    return rc;
}

/* --- one tenant ----------------------------------------------------------------------------- */

/* Loads the metas of the blocks that have one and no deletion mark; a
 * meta.json that does not parse marks the block corrupted. */
static int load_metas(cp_t *c, cp__tenant_t *t, int64_t now_ms, fx_err_t *err)
{
    int rc = FX_OK;
    for (size_t i = 0; i < t->n && rc == FX_OK; i++) {
        cp__bstate_t *s = &t->v[i];
        fx_err_t merr = {0};
        if (s->gone || !s->has_meta || s->has_mark)
            continue;
        rc = cp__load_meta(c, t->id, s, &merr);
        if (rc == FX_ENOTFOUND) {
            s->gone = true; /* deleted since the listing */
            rc = FX_OK;
        } else if (rc == FX_ECORRUPT) {
            /* A block already marked stays skipped; its meta only served
             * retention. */
            rc = s->has_corrupt ? FX_OK : cp__corrupted(c, t->id, s, now_ms, merr.msg, err);
        } else if (rc < 0) {
            *err = merr;
        }
    }
    return rc;
}

static int compact_all(cp_t *c, cp__tenant_t *t, int64_t now_ms, fx_err_t *err)
{
    int rc = FX_OK;
    while (rc >= 0 && !stopping(c)) {
        cp_block_t *vis = fx_malloc((t->n + 1) * sizeof *vis);
        cp__bstate_t **st = fx_malloc((t->n + 1) * sizeof *st);
        size_t n = 0;
        cp_job_t job;
        for (size_t i = 0; i < t->n; i++) {
            cp__bstate_t *s = &t->v[i];
            if (!s->gone && !s->has_mark && !s->has_corrupt && s->meta) {
                vis[n] = (cp_block_t){s->meta, s->meta_mtime};
                st[n++] = s;
            }
        }
        int found = cp_plan(vis, n, &c->cfg, now_ms, &job);
        if (found) {
            rc = cp__compact(c, t, st, vis, &job, now_ms, err);
            if (rc < 0) {
                fx_counter_inc(c->m->compactions_failed);
                fx_err_prefix(err, "compacting %zu blocks of [%lld, %lld) ms", job.n,
                              (long long)job.start_ms, (long long)job.end_ms);
            }
            cp_job_free(&job);
        }
        free(st);
        free(vis);
        if (!found)
            break;
    }
    return rc < 0 ? rc : FX_OK;
}

int cp_run_tenant(cp_t *c, const char *tenant, int64_t now_ms, fx_err_t *err)
{
    cp__tenant_t t;
    int rc = cp__scan(c, tenant, &t, err);
    if (rc == FX_OK)
        rc = cp__delete_due(c, &t, now_ms, err);
    if (rc == FX_OK)
        rc = load_metas(c, &t, now_ms, err);
    if (rc == FX_OK)
        rc = cp__retention(c, &t, now_ms, err);
    if (rc == FX_OK)
        rc = cp__mark_covered(c, &t, now_ms, err);
    if (rc == FX_OK)
        rc = compact_all(c, &t, now_ms, err);
    cp__tenant_free(&t);
    return rc;
}

int cp_run(cp_t *c, int64_t now_ms, cp_owner_fn owns, void *ctx, fx_err_t *err)
{
    char **tenants = NULL;
    size_t n = 0, owned = 0;
    int first = FX_OK;
    fx_err_t terr;

    fx_counter_inc(c->m->runs_started);
    c->epoch++;
    first = cp_list_tenants(c, &tenants, &n, err);
    if (first < 0)
        fx_log_error("compaction run: cannot list tenants", "err=%s", fx_q(err->msg));
    for (size_t i = 0; i < n && !stopping(c); i++) {
        if (owns && !owns(ctx, tenants[i]))
            continue;
        owned++;
        memset(&terr, 0, sizeof terr);
        int rc = cp_run_tenant(c, tenants[i], now_ms, &terr);
        if (rc < 0) {
            fx_log_error("compaction run failed for tenant; retried next run", "tenant=%s err=%s",
                         fx_q(tenants[i]), fx_q(terr.msg));
            if (first == FX_OK) {
                first = rc;
                *err = terr;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        free(tenants[i]);
    free(tenants);
    /* Only a complete run may forget metas: a skipped tenant's blocks were
     * not listed. */
    if (!stopping(c))
        cp__cache_prune(c, c->epoch);
    if (first < 0) {
        fx_counter_inc(c->m->runs_failed);
    } else {
        fx_counter_inc(c->m->runs_completed);
        fx_gauge_set(c->m->last_success, (double)now_ms / 1000.0);
    }
    fx_log_debug("compaction run done", "tenants=%zu owned=%zu ok=%d", n, owned, first == FX_OK);
    return first;
}
