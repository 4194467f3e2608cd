/*
 * cutter.c - moving the head into immutable blocks in object storage.
 *
 * Every tick, each tenant's complete time windows (aligned to
 * -ingester.max-block-duration, ended at least the cut delay ago) are cut
 * into a block under <data>/blocks/pending, uploaded to the bucket
 * (sections first, meta.json last, docs/bucket-layout.md), and then
 * promoted: under the served-set write lock the block joins the blocks this
 * ingester answers from and exactly its rows (by time and profile id) leave
 * the head, so queries never see a profile twice or miss it. The head keeps
 * everything until the upload is confirmed: a failed upload stays pending
 * and is retried, and nothing newer of that tenant is cut meanwhile.
 * Promoted blocks live in <data>/blocks/local and are served until they are
 * older than -ingester.local-block-retention (queriers read older data from
 * the store-gateways, -querier.query-store-after).
 *
 * Crash safety: a pending block is uploaded again after a restart (same
 * ULID, same bytes); a local block's rows are deleted from the head again at
 * startup (a no-op if that already happened).
 */
#include "ingester.h"
#include "block/block.h"
#include "core/fs.h"
#include "core/mem.h"
#include "core/time.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "objstore/objstore.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct {
    fx_counter_t *cut, *uploaded, *failed, *retired;
} m;

static void metrics_init(void)
{
    fx_registry_t *r = fx_metrics_default();
    m.cut = fx_counter(r, "fornax_ingester_blocks_cut_total", "Blocks cut from the head.");
    m.uploaded = fx_counter(r, "fornax_ingester_blocks_uploaded_total",
                            "Blocks uploaded to object storage.");
    m.failed = fx_counter(r, "fornax_ingester_block_upload_failures_total",
                          "Block uploads that failed (and will be retried).");
    m.retired = fx_counter(r, "fornax_ingester_local_blocks_retired_total",
                           "Uploaded blocks no longer served locally.");
}

/* --- served blocks ------------------------------------------------------------------ */

void ing_sources_acquire(ing_t *ing, fx_source_set_t *s)
{
    pthread_rwlock_rdlock(&ing->served_mu);
    s->head = ing->head;
    s->blocks = ing->blocks;
    s->nblocks = ing->nblocks;
}

void ing_sources_release(ing_t *ing)
{
    pthread_rwlock_unlock(&ing->served_mu);
}

/* Serves block b (local dir) and removes its rows from the head, in one
 * step as far as queries can tell. Takes ownership of b. */
static int promote(ing_t *ing, fx_block_t *b, fx_err_t *err)
{
    const fx_block_meta_t *meta = fx_block_meta(b);
    fx_head_query_t q = {0};
    fx_head_keys_t keys;
    fx_head_keyset_t set;
    fx_arena_t a;
    int rc;

    fx_arena_init(&a);
    q.tenant = meta->tenant;
    if ((rc = fx_block_profile_keys(b, &q, &a, &keys, err)) < 0) {
        fx_arena_free(&a);
        fx_block_close(b);
        return rc;
    }
    fx_head_keyset_init(&set);
    for (size_t i = 0; i < keys.len; i++) {
        fx_head_profile_key_t k = keys.v[i];
        k.fingerprint = 0; /* a head row is one (time, id), whatever its series */
        fx_head_keyset_add(&set, &k);
    }
    pthread_rwlock_wrlock(&ing->served_mu);
    FX_GROW(ing->blocks, ing->cap_blocks, ing->nblocks + 1);
    ing->blocks[ing->nblocks++] = b;
    uint64_t deleted = 0;
    rc = fx_head_delete_profiles(ing->head, meta->tenant, meta->min_time_ms * 1000000,
                                 meta->max_time_ms * 1000000 + 999999, &set, &deleted, err);
    pthread_rwlock_unlock(&ing->served_mu);
    fx_head_keyset_free(&set);
    fx_arena_free(&a);
    if (rc == FX_OK)
        fx_log_info("block now served from the bucket copy", "tenant=%s block=%s rows_moved=%llu",
                    fx_q(meta->tenant), meta->id, (unsigned long long)deleted);
    return rc;
}

static int open_block(ing_t *ing, const char *dir, fx_block_t **out, fx_err_t *err)
{
    fx_block_options_t o = {0};
    o.cache = ing->cache;
    return fx_block_open_dir(dir, &o, out, err);
}

/* Opens every local block at startup and takes its rows out of the head
 * again (a crash may have come between promotion and deletion). */
int ing_load_local_blocks(ing_t *ing, fx_err_t *err)
{
    char root[4096], tdir[4096 + 256], bdir[8192];
    snprintf(root, sizeof root, "%s", fx_app_data_path(ing->app, "blocks/local"));
    DIR *d = opendir(root), *td;
    struct dirent *t, *e;
    int rc = FX_OK;
    pthread_once(&ing->metrics_once, metrics_init);
    if (!d)
        return FX_OK;
    while (rc == FX_OK && (t = readdir(d))) {
        if (t->d_name[0] == '.')
            continue;
        snprintf(tdir, sizeof tdir, "%s/%s", root, t->d_name);
        if (!(td = opendir(tdir)))
            continue;
        while (rc == FX_OK && (e = readdir(td))) {
            if (!fx_block_ulid_valid(e->d_name))
                continue;
            snprintf(bdir, sizeof bdir, "%s/%s", tdir, e->d_name);
            fx_block_t *b;
            if (open_block(ing, bdir, &b, err) < 0) {
                /* The bucket has it (it was uploaded before promotion). */
                fx_log_warn("dropping an unreadable local block", "dir=%s err=%s", fx_q(bdir),
                            fx_q(err->msg));
                fx_rm_rf(bdir);
                continue;
            }
            rc = promote(ing, b, err);
        }
        closedir(td);
    }
    closedir(d);
    return rc;
}

void ing_close_blocks(ing_t *ing)
{
    for (size_t i = 0; i < ing->nblocks; i++)
        fx_block_close(ing->blocks[i]);
    free(ing->blocks);
    ing->blocks = NULL;
    ing->nblocks = ing->cap_blocks = 0;
}

/* --- upload --------------------------------------------------------------------------- */

static int upload(ing_t *ing, const char *dir, const char *tenant, const char *ulid, fx_err_t *err)
{
    fx_bucket_t *bkt;
    char key[1024], path[8192 + 64];
    int rc;
    if ((rc = fx_app_bucket(ing->app, &bkt, err)) < 0)
        return rc;
    /* meta.json last: a block without it is incomplete to every reader. */
    static const fx_block_file_t order[] = {FX_BLOCK_INDEX, FX_BLOCK_SYMBOLS,
                                            FX_BLOCK_PROFILES, FX_BLOCK_META};
    for (size_t i = 0; i < FX_ARRAY_LEN(order); i++) {
        const char *name = fx_block_file_name(order[i]);
        snprintf(key, sizeof key, "%s/%s/%s", tenant, ulid, name);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        if ((rc = fx_bucket_put_file(bkt, key, path, err)) < 0)
            return fx_err_prefix(err, "uploading %s", key);
    }
    return FX_OK;
}

/* Uploads and promotes one pending block; on failure it stays pending. */
static int ship(ing_t *ing, const char *tenant, const char *ulid, fx_err_t *err)
{
    char pending[8192], local[8192];
    fx_block_t *b;
    int rc;
    snprintf(pending, sizeof pending, "%s/%s/%s", fx_app_data_path(ing->app, "blocks/pending"),
             tenant, ulid);
    snprintf(local, sizeof local, "%s/%s", fx_app_data_path(ing->app, "blocks/local"), tenant);
    if ((rc = upload(ing, pending, tenant, ulid, err)) < 0) {
        fx_counter_inc(m.failed);
        return rc;
    }
    fx_counter_inc(m.uploaded);
    fx_mkdir_p(local);
    snprintf(local + strlen(local), sizeof local - strlen(local), "/%s", ulid);
    if (rename(pending, local) < 0)
        return fx_err_set(err, FX_EIO, "moving block %s: %s", ulid, strerror(errno));
    if ((rc = open_block(ing, local, &b, err)) < 0)
        return rc;
    return promote(ing, b, err);
}

/* Retries every pending upload; returns 1 if tenant still has one. */
static int retry_pending(ing_t *ing, const char *tenant)
{
    char dir[8192];
    snprintf(dir, sizeof dir, "%s/%s", fx_app_data_path(ing->app, "blocks/pending"), tenant);
    DIR *d = opendir(dir);
    struct dirent *e;
    int left = 0;
    if (!d)
        return 0;
    while ((e = readdir(d))) {
        if (!fx_block_ulid_valid(e->d_name))
            continue;
        fx_err_t err;
        if (ship(ing, tenant, e->d_name, &err) < 0) {
            fx_log_warn("block upload failed; the head keeps the data and it will be retried",
                        "tenant=%s block=%s err=%s", fx_q(tenant), e->d_name, fx_q(err.msg));
            left = 1;
        }
    }
    closedir(d);
    return left;
}

/* --- cutting ----------------------------------------------------------------------------- */

static int64_t cut_delay_ns(const ing_t *ing)
{
    if (ing->opts.block_cut_delay_ns > 0)
        return ing->opts.block_cut_delay_ns;
    int64_t d = ing->opts.max_block_duration_ns / 4;
    return d > 300 * 1000000000LL ? 300 * 1000000000LL : d;
}

static void cut_tenant(ing_t *ing, const char *tenant, int64_t now_ns)
{
    int64_t lo, hi, D = ing->opts.max_block_duration_ns;
    char pending[8192];
    if (retry_pending(ing, tenant))
        return; /* cutting more would pile blocks on a failing upload */
    if (fx_head_tenant_range(ing->head, tenant, &lo, &hi) < 0)
        return;
    snprintf(pending, sizeof pending, "%s/%s", fx_app_data_path(ing->app, "blocks/pending"), tenant);
    for (int64_t ws = lo - (((lo % D) + D) % D); ws + D <= now_ns - cut_delay_ns(ing) && ws <= hi;
         ws += D) {
        fx_block_meta_t meta;
        fx_err_t err;
        int rc = fx_block_write_head(ing->head, tenant, ws, ws + D - 1, pending, NULL, &meta, &err);
        if (rc == FX_ENOTFOUND)
            continue;
        if (rc < 0) {
            fx_log_error("cutting a block failed", "tenant=%s err=%s", fx_q(tenant), fx_q(err.msg));
            return;
        }
        fx_counter_inc(m.cut);
        fx_log_info("block cut", "tenant=%s block=%s profiles=%llu samples=%llu", fx_q(tenant),
                    meta.id, (unsigned long long)meta.profiles, (unsigned long long)meta.samples);
        char id[FX_BLOCK_ULID_LEN + 1];
        snprintf(id, sizeof id, "%s", meta.id);
        fx_block_meta_free(&meta);
        if (ship(ing, tenant, id, &err) < 0) {
            fx_log_warn("block upload failed; the head keeps the data and it will be retried",
                        "tenant=%s block=%s err=%s", fx_q(tenant), id, fx_q(err.msg));
            return;
        }
    }
}

/* Stops serving local blocks older than the retention. */
static void retire(ing_t *ing, int64_t now_ms)
{
    int64_t keep = ing->opts.local_block_retention_ns / 1000000;
    pthread_rwlock_wrlock(&ing->served_mu);
    size_t k = 0;
    for (size_t i = 0; i < ing->nblocks; i++) {
        fx_block_t *b = ing->blocks[i];
        const fx_block_meta_t *meta = fx_block_meta(b);
        if (meta->max_time_ms >= now_ms - keep) {
            ing->blocks[k++] = b;
            continue;
        }
        char dir[8192];
        snprintf(dir, sizeof dir, "%s/%s/%s", fx_app_data_path(ing->app, "blocks/local"),
                 meta->tenant, meta->id);
        fx_block_close(b);
        fx_rm_rf(dir);
        fx_counter_inc(m.retired);
    }
    ing->nblocks = k;
    pthread_rwlock_unlock(&ing->served_mu);
}

void ing_cut_tick(ing_t *ing)
{
    fx_arena_t a;
    char **tenants;
    pthread_once(&ing->metrics_once, metrics_init);
    fx_arena_init(&a);
    size_t n = fx_head_tenants(ing->head, &a, &tenants);
    int64_t now = fx_now_ns();
    for (size_t i = 0; i < n; i++)
        cut_tenant(ing, tenants[i], now);
    retire(ing, now / 1000000);
    fx_arena_free(&a);
}

static void *cut_loop(void *arg)
{
    ing_t *ing = arg;
    int64_t tick = ing->opts.max_block_duration_ns / 8;
    if (tick > 30 * 1000000000LL)
        tick = 30 * 1000000000LL;
    if (tick < 100000000)
        tick = 100000000;
    pthread_mutex_lock(&ing->cut_mu);
    while (!ing->cut_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + tick;
        ts.tv_sec += ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&ing->cut_cv, &ing->cut_mu, &ts);
        if (ing->cut_stop)
            break;
        pthread_mutex_unlock(&ing->cut_mu);
        ing_cut_tick(ing);
        pthread_mutex_lock(&ing->cut_mu);
    }
    pthread_mutex_unlock(&ing->cut_mu);
    return NULL;
}

void ing_cutter_start(ing_t *ing)
{
    if (ing->opts.max_block_duration_ns <= 0)
        return;
    ing->cut_stop = 0;
    pthread_create(&ing->cut_thread, NULL, cut_loop, ing);
    ing->cut_running = 1;
}

void ing_cutter_stop(ing_t *ing)
{
    if (!ing->cut_running)
        return;
    pthread_mutex_lock(&ing->cut_mu);
    ing->cut_stop = 1;
    pthread_cond_signal(&ing->cut_cv);
    pthread_mutex_unlock(&ing->cut_mu);
    pthread_join(ing->cut_thread, NULL);
    ing->cut_running = 0;
}
