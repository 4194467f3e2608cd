/*
 * query.c - the head as a query source (engine.h): a tenant's tables under
 * its read lock, rows from a RocksDB iterator, and the public query entry
 * points of head.h, which all run the shared engine over that source.
 */
#include "storage/engine.h"
#include "storage/export.h"
#include "storage/head_int.h"

#include <stdlib.h>
#include <string.h>

/* One query's view of a tenant. The iterator is created by scan_begin,
 * before the tables are read: see engine.h. */
typedef struct hsrc {
    fx_head_t *h;
    fx__tenant_t *t;
    rocksdb_iterator_t *it;
} hsrc_t;

static void h_rdlock(void *ctx)
{
    pthread_rwlock_rdlock(&((hsrc_t *)ctx)->t->rw);
}

static void h_unlock(void *ctx)
{
    pthread_rwlock_unlock(&((hsrc_t *)ctx)->t->rw);
}

static int h_begin(void *ctx, fx_err_t *err)
{
    hsrc_t *s = ctx;
    (void)err;
    if (!s->it)
        s->it = rocksdb_create_iterator_cf(s->h->db, s->h->ro, s->h->cf[FX__CF_PROFILES]);
    return FX_OK;
}

static void h_end(void *ctx)
{
    hsrc_t *s = ctx;
    if (s->it)
        rocksdb_iter_destroy(s->it);
    s->it = NULL;
}

static int h_symbols(void *ctx, fx__symview_t *out, fx_err_t *err)
{
    (void)err;
    fx__symbols_view(&((hsrc_t *)ctx)->t->sym, out);
    return FX_OK;
}

/* Rows of each target group (one pseries) from (pseries, lo) up to hi. */
static int h_scan(void *ctx, const fx__target_t *tg, size_t ntg, int64_t lo, int64_t hi,
                  int need_samples, fx__row_fn fn, void *fnctx, fx_err_t *err)
{
    hsrc_t *s = ctx;
    (void)need_samples;
    rocksdb_iterator_t *it = s->it;
    int rc = FX_OK;
    char *e = NULL;
    for (size_t g = 0; g < ntg && rc == FX_OK;) {
        size_t ge = g + 1;
        while (ge < ntg && tg[ge].pseries == tg[g].pseries)
            ge++;
        uint8_t start[FX__ROW_KEY_LEN];
        fx__row_key(start, s->t->id, tg[g].pseries, lo, NULL);
        for (rocksdb_iter_seek(it, (const char *)start, 16); rocksdb_iter_valid(it);
             rocksdb_iter_next(it)) {
            size_t kl, vl;
            const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &kl);
            if (kl != FX__ROW_KEY_LEN || memcmp(k, start, FX__ROW_PREFIX_LEN) != 0)
                break;
            int64_t ts = fx__row_key_ts(k);
            if (ts > hi)
                break;
            const uint8_t *v = (const uint8_t *)rocksdb_iter_value(it, &vl);
            fx_row_t row;
            rc = fx_row_parse(v, vl, &row, err);
            for (size_t i = g; i < ge && rc == FX_OK; i++)
                rc = fn(fnctx, &tg[i], ts, k + 16, &row, err);
            if (rc)
                break;
        }
        g = ge;
    }
    rocksdb_iter_get_error(it, &e);
    if (e) {
        if (rc == FX_OK)
            rc = fx_err_set(err, FX_EIO, "reading profiles: %s", e);
        rocksdb_free(e);
    }
    return rc;
}

/* Fills src for q's tenant; NULL when the tenant has nothing stored. */
static const fx__source_t *head_source(fx_head_t *h, const char *tenant, hsrc_t *hs,
                                       fx__source_t *src)
{
    memset(hs, 0, sizeof *hs);
    hs->h = h;
    hs->t = fx__tenant_get(h, tenant, 0);
    if (!hs->t)
        return NULL;
    *src = (fx__source_t){hs, &hs->t->idx, h_rdlock, h_unlock, h_begin, h_end, h_scan, h_symbols};
    return src;
}

#define WITH_SOURCE(h, tenant, call)                                                       \
    do {                                                                                   \
        hsrc_t hs_;                                                                        \
        fx__source_t src_;                                                                 \
        const fx__source_t *src = head_source((h), (tenant), &hs_, &src_);                 \
        int rc_ = (call);                                                                  \
        h_end(&hs_);                                                                       \
        return rc_;                                                                        \
    } while (0)

int fx_head_label_names(fx_head_t *h, const fx_head_query_t *q, fx_arena_t *a,
                        fx_head_strings_t *out, fx_err_t *err)
{
    WITH_SOURCE(h, q->tenant, fx__q_label_names(src, q, a, out, err));
}

int fx_head_label_values(fx_head_t *h, const fx_head_query_t *q, const char *name,
                         fx_arena_t *a, fx_head_strings_t *out, fx_err_t *err)
{
    WITH_SOURCE(h, q->tenant, fx__q_label_values(src, q, name, a, out, err));
}

int fx_head_profile_types(fx_head_t *h, const fx_head_query_t *q, fx_arena_t *a,
                          fx_head_strings_t *out, fx_err_t *err)
{
    WITH_SOURCE(h, q->tenant, fx__q_profile_types(src, q, a, out, err));
}

int fx_head_series(fx_head_t *h, const fx_head_query_t *q, const char *const *names,
                   size_t nnames, fx_arena_t *a, fx_head_label_sets_t *out, fx_err_t *err)
{
    WITH_SOURCE(h, q->tenant, fx__q_series(src, q, names, nnames, a, out, err));
}

int fx_head_profile_stats(fx_head_t *h, const char *tenant, fx_head_profile_stats_t *out,
                          fx_err_t *err)
{
    (void)err;
    WITH_SOURCE(h, tenant, (fx__q_profile_stats(src, out), FX_OK));
}

int fx_head_profile_keys(fx_head_t *h, const fx_head_query_t *q, fx_arena_t *a,
                         fx_head_keys_t *out, fx_err_t *err)
{
    WITH_SOURCE(h, q->tenant, fx__q_profile_keys(src, q, a, out, err));
}

int fx_head_select_series(fx_head_t *h, const fx_head_query_t *q, const char *const *by,
                          size_t nby, int64_t step_ms, fx_head_aggregation_t agg, fx_arena_t *a,
                          fx_head_ts_list_t *out, fx_err_t *err)
{
    WITH_SOURCE(h, q->tenant, fx__q_select_series(src, q, by, nby, step_ms, agg, a, out, err));
}

int fx_head_merge_tree(fx_head_t *h, const fx_head_query_t *q, fx_head_grouping_t grouping,
                       fx_tree_t *tree, fx_err_t *err)
{
    WITH_SOURCE(h, q->tenant, fx__q_merge_tree(src, q, grouping, tree, err));
}

int fx_head_merge_pprof(fx_head_t *h, const fx_head_query_t *q, fx_buf_t *out, fx_err_t *err)
{
    WITH_SOURCE(h, q->tenant, fx__q_merge_pprof(src, q, out, err));
}

/* --- export (export.h) ------------------------------------------------------------------ */

typedef struct xrow {
    const fx_head_export_cb_t *cb;
    void *ctx;
} xrow_t;

static int export_row(void *arg, const fx__target_t *tg, int64_t ts, const uint8_t *id,
                      const fx_row_t *row, fx_err_t *err)
{
    xrow_t *x = arg;
    return x->cb->row(x->ctx, tg->pseries, ts, id, row, err);
}

int fx_head_export(fx_head_t *h, const char *tenant, int64_t lo_ns, int64_t hi_ns,
                   const fx_head_export_cb_t *cb, void *ctx, fx_err_t *err)
{
    hsrc_t hs;
    fx__source_t src;
    fx__target_t *tg = NULL;
    size_t ntg = 0, cap = 0;
    xrow_t xr = {cb, ctx};
    int rc;

    if (!head_source(h, tenant, &hs, &src))
        return FX_OK;
    if ((rc = h_begin(&hs, err)))
        goto out;
    h_rdlock(&hs);
    const fx__index_t *x = &hs.t->idx;
    rc = cb->index(ctx, x, (uint32_t)hs.t->sym.nnodes, err);
    /* One target per pseries: the row scan yields each row once. */
    for (size_t i = 0; i < x->nps && rc == FX_OK; i++) {
        const fx__pseries_t *p = &x->ps[i];
        if (!p->rows || p->min_ns > hi_ns || p->max_ns < lo_ns)
            continue;
        FX_GROW(tg, cap, ntg + 1);
        tg[ntg++] = (fx__target_t){(uint32_t)i, 0, x->pcols[p->col_off], 0};
    }
    h_unlock(&hs);
    if (rc == FX_OK)
        rc = h_scan(&hs, tg, ntg, lo_ns, hi_ns, 1, export_row, &xr, err);
    if (rc == FX_OK) {
        fx__symview_t sv;
        h_rdlock(&hs);
        fx__symbols_view(&hs.t->sym, &sv);
        rc = cb->symbols(ctx, &sv, err);
        h_unlock(&hs);
    }
out:
    h_end(&hs);
    free(tg);
    return rc;
}
