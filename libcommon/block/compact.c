/*
 * compact.c - merging N blocks of one tenant into one.
 *
 * Symbols: every input's symbols are re-interned into one table (strings,
 * functions, mappings, locations and stack nodes deduplicated by content),
 * giving a node map per input. Series: unified by labels, pseries by their
 * column series. Rows: for each output pseries, a k-way merge over the
 * inputs' matching pseries by (time, profile id); rows with equal keys are
 * replicas of one profile (the same push stored by several ingesters, or
 * overlapping blocks) and are kept once - the first input's copy. Stack ids
 * are mapped and re-sorted, values and totals carried exactly.
 */
#include "block/format.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One input pseries being merged: its chunks, read one at a time. */
typedef struct cursor {
    fx_block_t *b;
    const fx__bindex_t *ix;
    uint32_t input, ps, chunk, chunk_end, ncols;
    fx_buf_t buf;
    fx__cdec_t dec;
    int valid;
    int64_t ts;
    const uint8_t *id;
    fx_row_t row;
} cursor_t;

static int cur_next(cursor_t *c, fx_err_t *err)
{
    for (;;) {
        if (c->dec.nrows && c->dec.row <= c->dec.nrows) {
            int more = fx__cd_next(&c->dec, &c->ts, &c->id, &c->row, err);
            if (more < 0)
                return more;
            if (more) {
                c->valid = 1;
                return FX_OK;
            }
        }
        c->dec.nrows = 0;
        if (c->chunk == c->chunk_end) {
            c->valid = 0;
            return FX_OK;
        }
        const fx__bchunk_t *ch = &c->ix->chunks[c->chunk++];
        c->buf.len = 0;
        fx_buf_reserve(&c->buf, ch->len + 1);
        fx_block_range_t r = {FX_BLOCK_PROFILES, ch->off, ch->len, c->buf.data};
        int rc = fx__block_read(c->b, &r, 1, err);
        uint64_t want = c->ncols >= 64 ? UINT64_MAX : (1ULL << c->ncols) - 1;
        if (rc == FX_OK)
            rc = fx__cd_open(&c->dec, c->buf.data, ch->len, c->ncols, want, 1,
                             !c->b->o.no_checksums, err);
        if (rc == FX_OK && c->dec.nrows != ch->nrows)
            rc = fx_err_set(err, FX_ECORRUPT, "profiles section: chunk has %u rows, index says %u",
                            c->dec.nrows, ch->nrows);
        if (rc) {
            fx_err_prefix(err, "block %s", c->b->meta.id);
            return rc;
        }
    }
}

static int key_cmp(const cursor_t *a, const cursor_t *b)
{
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return memcmp(a->id, b->id, 16);
}

static int cmp_ulid(const void *a, const void *b)
{
    return strcmp(a, b);
}

int fx_block_compact(fx_block_t *const *in, size_t n, const char *parent_dir,
                     const fx_block_write_options_t *opts, fx_block_meta_t *meta,
                     fx_block_compact_stats_t *stats, fx_err_t *err)
{
    fx__bwriter_t w;
    fx_block_compact_stats_t st = {0, 0, 0};
    fx__centry_t **ix = NULL, **sy = NULL;
    uint32_t **node_map = NULL, **ps_map = NULL;
    cursor_t *cur = NULL;
    uint32_t *stacks = NULL;
    int64_t *values = NULL;
    fx_buf_t spans = FX_BUF_INIT; /* a row's span section, remapped */
    size_t cap = 0, ncur = 0;
    char (*sources)[27] = NULL;
    size_t nsources = 0;
    int level = 0, rc = FX_OK;
    fx_arena_t a;

    memset(&w, 0, sizeof w);
    w.prof_fd = -1;
    fx_arena_init(&a);
    if (n == 0)
        return fx_err_set(err, FX_EINVAL, "compaction needs at least one block");
    for (size_t i = 1; i < n; i++)
        if (strcmp(in[i]->meta.tenant, in[0]->meta.tenant) != 0)
            return fx_err_set(err, FX_EINVAL, "blocks %s and %s belong to different tenants",
                              in[0]->meta.id, in[i]->meta.id);
    ix = fx_calloc(n, sizeof *ix);
    sy = fx_calloc(n, sizeof *sy);
    node_map = fx_calloc(n, sizeof *node_map);
    ps_map = fx_calloc(n, sizeof *ps_map);
    cur = fx_calloc(n, sizeof *cur);
    for (size_t i = 0; i < n && rc == FX_OK; i++) {
        rc = fx__block_index(in[i], &ix[i], err);
        if (rc == FX_OK)
            rc = fx__block_symbols(in[i], &sy[i], err);
    }
    if (rc || (rc = fx__bw_begin(&w, parent_dir, opts, err)))
        goto out;

    /* Symbols and series of every input, in input order. */
    for (size_t i = 0; i < n; i++) {
        const fx__symview_t *v = &((fx__bsyms_t *)sy[i]->obj)->v;
        node_map[i] = fx_malloc((v->nnodes + 1) * sizeof **node_map);
        fx__remap_symbols(&w.sym, v, NULL, node_map[i]);
        const fx__index_t *x = &((fx__bindex_t *)ix[i]->obj)->x;
        ps_map[i] = fx_malloc((x->nps + 1) * sizeof **ps_map);
        for (size_t p = 0; p < x->nps; p++) {
            const fx__pseries_t *ps = &x->ps[p];
            fx_labels_t *cols = fx_arena_alloc(&a, ps->ncols * sizeof *cols);
            for (uint32_t c = 0; c < ps->ncols; c++)
                cols[c] = fx__series_labels(x, &x->series[x->pcols[ps->col_off + c]], &a);
            ps_map[i][p] = fx__bw_pseries(&w, cols, ps->ncols);
        }
        level = FX_MAX(level, in[i]->meta.level);
        st.rows_in += in[i]->meta.profiles;
        sources = fx_realloc(sources, (nsources + in[i]->meta.nsources + 1) * sizeof *sources);
        memcpy(sources + nsources, in[i]->meta.sources, in[i]->meta.nsources * sizeof *sources);
        nsources += in[i]->meta.nsources;
    }
    qsort(sources, nsources, sizeof *sources, cmp_ulid);
    size_t u = 0;
    for (size_t i = 0; i < nsources; i++)
        if (!u || strcmp(sources[u - 1], sources[i]) != 0)
            memcpy(sources[u++], sources[i], sizeof *sources);
    nsources = u;
    if (nsources > FX_BLOCK_MAX_SOURCES) {
        rc = fx_err_set(err, FX_ELIMIT, "compacted block would have %zu sources", nsources);
        goto out;
    }

    /* Rows, one output pseries at a time. */
    size_t nout = w.idx.nps;
    for (size_t i = 0; i < n; i++) {
        fx__cd_init(&cur[i].dec);
        cur[i].buf = (fx_buf_t)FX_BUF_INIT;
    }
    /* The input pseries of each output pseries, as (input, pseries) lists:
     * an input contributes at most one (its pseries have distinct column
     * series). */
    size_t *src_at = fx_malloc((nout + 1) * n * sizeof *src_at);
    for (size_t k = 0; k < (nout + 1) * n; k++)
        src_at[k] = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        const fx__bindex_t *bx = ix[i]->obj;
        for (uint32_t p = 0; p < bx->x.nps; p++)
            if (src_at[(size_t)ps_map[i][p] * n + i] == SIZE_MAX)
                src_at[(size_t)ps_map[i][p] * n + i] = p;
    }
    for (uint32_t op = 0; op < nout && rc == FX_OK; op++) {
        ncur = 0;
        for (size_t i = 0; i < n && rc == FX_OK; i++) {
            const fx__bindex_t *bx = ix[i]->obj;
            size_t p = src_at[(size_t)op * n + i];
            if (p != SIZE_MAX) {
                cursor_t *c = &cur[ncur++];
                c->b = in[i];
                c->ix = bx;
                c->input = (uint32_t)i;
                c->ps = (uint32_t)p;
                c->chunk = bx->ps_chunk0[p];
                c->chunk_end = bx->ps_chunk0[p + 1];
                c->ncols = bx->x.ps[p].ncols;
                c->dec.nrows = 0;
                rc = cur_next(c, err);
            }
        }
        while (rc == FX_OK) {
            cursor_t *m = NULL;
            for (size_t k = 0; k < ncur; k++)
                if (cur[k].valid && (!m || key_cmp(&cur[k], m) < 0))
                    m = &cur[k];
            if (!m)
                break;
            const fx__symview_t *v = &((fx__bsyms_t *)sy[m->input]->obj)->v;
            rc = fx__row_decode(&m->row, (uint32_t)v->nnodes, &stacks, &values, &cap, err);
            if (rc) {
                fx_err_prefix(err, "block %s", m->b->meta.id);
                break;
            }
            spans.len = 0;
            if (m->row.spans &&
                (rc = fx_row_spans_remap(&m->row, (uint32_t)v->nnodes, node_map[m->input], &spans,
                                         err))) {
                fx_err_prefix(err, "block %s", m->b->meta.id);
                break;
            }
            for (uint32_t j = 0; j < m->row.nstacks; j++)
                stacks[j] = node_map[m->input][stacks[j]];
            rc = fx__bw_row(&w, op, m->ts, m->id, stacks, values, m->row.nstacks, m->row.period,
                            spans.data, spans.len, err);
            st.rows_out++;
            /* Replicas of this row in the other inputs are skipped. */
            for (size_t k = 0; k < ncur && rc == FX_OK; k++) {
                cursor_t *c = &cur[k];
                if (c == m || !c->valid || key_cmp(c, m) != 0)
                    continue;
                st.duplicates++;
                rc = cur_next(c, err);
            }
            if (rc == FX_OK)
                rc = cur_next(m, err);
        }
    }
    free(src_at);
    if (rc == FX_OK)
        rc = fx__bw_finish(&w, in[0]->meta.tenant, level + 1, sources, nsources, meta, err);
out:
    fx__bw_free(&w);
    for (size_t i = 0; i < n; i++) {
        if (ix)
            fx__cache_unpin(in[i]->cache, ix[i]);
        if (sy)
            fx__cache_unpin(in[i]->cache, sy[i]);
        if (node_map)
            free(node_map[i]);
        if (ps_map)
            free(ps_map[i]);
        if (cur) {
            fx__cd_free(&cur[i].dec);
            fx_buf_free(&cur[i].buf);
        }
    }
    free(ix);
    free(sy);
    free(node_map);
    free(ps_map);
    free(cur);
    free(stacks);
    fx_buf_free(&spans);
    free(values);
    free(sources);
    fx_arena_free(&a);
    if (stats)
        *stats = st;
    return rc;
}
