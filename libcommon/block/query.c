/*
 * query.c - a block as a query source (storage/engine.h): the pinned index
 * is the series tables, symbols are pinned on first use, rows come from the
 * profiles section's chunks. Blocks are immutable, so no locks. Every
 * fx_block_* query is the shared engine over this source, hence the same
 * semantics and results as the head's.
 */
#include "block/format.h"

#include <string.h>

typedef struct bsrc {
    fx_block_t *b;
    fx__centry_t *ix, *sy;
    fx__cdec_t dec;
} bsrc_t;

static int b_symbols(void *ctx, fx__symview_t *out, fx_err_t *err)
{
    bsrc_t *s = ctx;
    if (!s->sy) {
        int rc = fx__block_symbols(s->b, &s->sy, err);
        if (rc)
            return rc;
    }
    *out = ((fx__bsyms_t *)s->sy->obj)->v;
    return FX_OK;
}

static int b_scan(void *ctx, const fx__target_t *tg, size_t ntg, int64_t lo, int64_t hi,
                  int need_samples, fx__row_fn fn, void *fnctx, fx_err_t *err)
{
    bsrc_t *s = ctx;
    return fx__block_scan_ps(s->b, s->ix->obj, tg, ntg, lo, hi, need_samples, fn, fnctx, &s->dec,
                             err);
}

/* Pins the index; *src is NULL when the block is another tenant's. */
static int begin(fx_block_t *b, const char *tenant, bsrc_t *bs, fx__source_t *s,
                 const fx__source_t **src, fx_err_t *err)
{
    memset(bs, 0, sizeof *bs);
    bs->b = b;
    fx__cd_init(&bs->dec);
    *src = NULL;
    if (!tenant || strcmp(tenant, b->meta.tenant) != 0)
        return FX_OK;
    int rc = fx__block_index(b, &bs->ix, err);
    if (rc)
        return rc;
    *s = (fx__source_t){bs, &((fx__bindex_t *)bs->ix->obj)->x, NULL, NULL, NULL, NULL, b_scan,
                        b_symbols};
    *src = s;
    return FX_OK;
}

static void end(bsrc_t *bs)
{
    fx__cache_unpin(bs->b->cache, bs->ix);
    fx__cache_unpin(bs->b->cache, bs->sy);
    fx__cd_free(&bs->dec);
}

#define WITH_SOURCE(b, tenant, call)                                                       \
    do {                                                                                   \
        bsrc_t bs_;                                                                        \
        fx__source_t s_;                                                                   \
        const fx__source_t *src;                                                           \
        int rc_ = begin((b), (tenant), &bs_, &s_, &src, err);                              \
        if (rc_ == FX_OK)                                                                  \
            rc_ = (call);                                                                  \
        end(&bs_);                                                                         \
        return rc_;                                                                        \
    } while (0)

int fx_block_label_names(fx_block_t *b, const fx_head_query_t *q, fx_arena_t *a,
                         fx_head_strings_t *out, fx_err_t *err)
{
    out->v = NULL;
    out->len = 0;
    WITH_SOURCE(b, q->tenant, fx__q_label_names(src, q, a, out, err));
}

int fx_block_label_values(fx_block_t *b, const fx_head_query_t *q, const char *name,
                          fx_arena_t *a, fx_head_strings_t *out, fx_err_t *err)
{
    out->v = NULL;
    out->len = 0;
    WITH_SOURCE(b, q->tenant, fx__q_label_values(src, q, name, a, out, err));
}

int fx_block_profile_types(fx_block_t *b, const fx_head_query_t *q, fx_arena_t *a,
                           fx_head_strings_t *out, fx_err_t *err)
{
    out->v = NULL;
    out->len = 0;
    WITH_SOURCE(b, q->tenant, fx__q_profile_types(src, q, a, out, err));
}

int fx_block_series(fx_block_t *b, const fx_head_query_t *q, const char *const *names,
                    size_t nnames, fx_arena_t *a, fx_head_label_sets_t *out, fx_err_t *err)
{
    out->v = NULL;
    out->len = 0;
    WITH_SOURCE(b, q->tenant, fx__q_series(src, q, names, nnames, a, out, err));
}

int fx_block_profile_stats(fx_block_t *b, const char *tenant, fx_head_profile_stats_t *out,
                           fx_err_t *err)
{
    memset(out, 0, sizeof *out);
    WITH_SOURCE(b, tenant, (fx__q_profile_stats(src, out), FX_OK));
}

int fx_block_profile_keys(fx_block_t *b, const fx_head_query_t *q, fx_arena_t *a,
                          fx_head_keys_t *out, fx_err_t *err)
{
    out->v = NULL;
    out->len = 0;
    WITH_SOURCE(b, q->tenant, fx__q_profile_keys(src, q, a, out, err));
}

int fx_block_merge_tree(fx_block_t *b, const fx_head_query_t *q, fx_head_grouping_t grouping,
                        fx_tree_t *tree, fx_err_t *err)
{
    WITH_SOURCE(b, q->tenant, fx__q_merge_tree(src, q, grouping, tree, err));
}

int fx_block_merge_pprof(fx_block_t *b, const fx_head_query_t *q, fx_buf_t *out, fx_err_t *err)
{
    WITH_SOURCE(b, q->tenant, fx__q_merge_pprof(src, q, out, err));
}

int fx_block_select_series(fx_block_t *b, const fx_head_query_t *q, const char *const *by,
                           size_t nby, int64_t step_ms, fx_head_aggregation_t agg, fx_arena_t *a,
                           fx_head_ts_list_t *out, fx_err_t *err)
{
    out->v = NULL;
    out->len = 0;
    WITH_SOURCE(b, q->tenant, fx__q_select_series(src, q, by, nby, step_ms, agg, a, out, err));
}
