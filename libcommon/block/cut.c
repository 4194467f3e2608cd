/*
 * cut.c - cutting a head's tenant and time range into a level-1 block.
 *
 * fx_head_export gives the index, then the rows, then the symbols. Rows
 * are kept (in the head's row encoding, with the head's stack node ids)
 * while the nodes they touch are marked; once the symbols arrive, only the
 * touched nodes and their ancestors are re-interned into the block's own
 * dense symbol tables, and the kept rows are written with the new ids.
 * Nodes are re-interned in ascending head id, so the new ids keep the old
 * order and every row's stacks stay sorted.
 */
#include "block/format.h"
#include "storage/export.h"

#include <stdlib.h>
#include <string.h>

typedef struct kept {
    uint32_t ps; /* block pseries */
    int64_t ts;
    uint8_t id[16];
    size_t off, len; /* in cut_t.rows */
} kept_t;

typedef struct cut {
    fx__bwriter_t *w;
    fx_arena_t arena;
    fx_labels_t **cols; /* head pseries -> column labels (NULL if not in range) */
    uint32_t *ncols, *ps_map;
    size_t nps;
    uint32_t nnodes;
    uint8_t *touched;
    uint32_t *node_map;
    fx_buf_t rows;
    kept_t *kept;
    size_t nkept, capkept;
    uint32_t *stacks;
    int64_t *values;
    size_t cap;
} cut_t;

static int x_index(void *ctx, const fx__index_t *x, uint32_t nnodes, fx_err_t *err)
{
    cut_t *c = ctx;
    (void)err;
    c->nps = x->nps;
    c->cols = fx_calloc(x->nps + 1, sizeof *c->cols);
    c->ncols = fx_calloc(x->nps + 1, sizeof *c->ncols);
    c->ps_map = fx_malloc((x->nps + 1) * sizeof *c->ps_map);
    memset(c->ps_map, 0xff, (x->nps + 1) * sizeof *c->ps_map);
    for (size_t i = 0; i < x->nps; i++) {
        const fx__pseries_t *p = &x->ps[i];
        if (!p->rows)
            continue;
        c->cols[i] = fx_arena_alloc(&c->arena, p->ncols * sizeof **c->cols);
        c->ncols[i] = p->ncols;
        for (uint32_t k = 0; k < p->ncols; k++)
            c->cols[i][k] = fx__series_labels(x, &x->series[x->pcols[p->col_off + k]], &c->arena);
    }
    c->nnodes = nnodes;
    c->touched = fx_calloc(nnodes + 1, 1);
    return FX_OK;
}

/* Decodes every column of row into c->stacks / c->values. */
static int decode_row(cut_t *c, const fx_row_t *row, uint32_t max_stack, fx_err_t *err)
{
    return fx__row_decode(row, max_stack, &c->stacks, &c->values, &c->cap, err);
}

static int x_row(void *ctx, uint32_t pseries, int64_t ts, const uint8_t *id, const fx_row_t *row,
                 fx_err_t *err)
{
    cut_t *c = ctx;
    if (pseries >= c->nps || !c->cols[pseries] || row->ncols != c->ncols[pseries])
        return fx_err_set(err, FX_EINTERNAL, "head export: row of unexpected series %u", pseries);
    if (c->ps_map[pseries] == UINT32_MAX)
        c->ps_map[pseries] = fx__bw_pseries(c->w, c->cols[pseries], c->ncols[pseries]);
    int rc = decode_row(c, row, c->nnodes, err);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < row->nstacks; i++)
        c->touched[c->stacks[i]] = 1;
    FX_GROW(c->kept, c->capkept, c->nkept + 1);
    kept_t *k = &c->kept[c->nkept++];
    k->ps = c->ps_map[pseries];
    k->ts = ts;
    memcpy(k->id, id, 16);
    k->off = c->rows.len;
    /* The span section is kept as it is (head ids) until node_map exists. */
    fx_row_encode_spans(c->stacks, c->values, row->nstacks, row->ncols, row->period, row->spans,
                        (size_t)(row->spans_end - row->spans), &c->rows);
    k->len = c->rows.len - k->off;
    return FX_OK;
}

static int x_symbols(void *ctx, const fx__symview_t *s, fx_err_t *err)
{
    cut_t *c = ctx;
    (void)err;
    /* Ancestors of touched nodes (parents have smaller ids). */
    for (uint32_t i = c->nnodes; i-- > 1;)
        if (c->touched[i])
            c->touched[s->node_parent[i]] = 1;
    c->node_map = fx_malloc(((size_t)c->nnodes + 1) * sizeof *c->node_map);
    fx__symview_t v = *s;
    v.nnodes = c->nnodes; /* rows reference only nodes below the count export gave */
    fx__remap_symbols(&c->w->sym, &v, c->touched, c->node_map);
    return FX_OK;
}

int fx_block_write_head(fx_head_t *h, const char *tenant, int64_t start_ns, int64_t end_ns,
                        const char *parent_dir, const fx_block_write_options_t *opts,
                        fx_block_meta_t *meta, fx_err_t *err)
{
    fx__bwriter_t w;
    fx_buf_t spans = FX_BUF_INIT;
    cut_t c;
    memset(&c, 0, sizeof c);
    c.w = &w;
    fx_arena_init(&c.arena);
    static const fx_head_export_cb_t cb = {x_index, x_row, x_symbols};

    int rc = fx__bw_begin(&w, parent_dir, opts, err);
    if (rc == FX_OK)
        rc = fx_head_export(h, tenant, start_ns, end_ns, &cb, &c, err);
    for (size_t i = 0; i < c.nkept && rc == FX_OK; i++) {
        const kept_t *k = &c.kept[i];
        fx_row_t row;
        rc = fx_row_parse(c.rows.data + k->off, k->len, &row, err);
        if (rc == FX_OK)
            rc = decode_row(&c, &row, c.nnodes, err);
        spans.len = 0;
        if (rc == FX_OK && row.spans)
            rc = fx_row_spans_remap(&row, c.nnodes, c.node_map, &spans, err);
        for (uint32_t j = 0; j < row.nstacks && rc == FX_OK; j++)
            c.stacks[j] = c.node_map[c.stacks[j]];
        if (rc == FX_OK)
            rc = fx__bw_row(&w, k->ps, k->ts, k->id, c.stacks, c.values, row.nstacks, row.period,
                            spans.data, spans.len, err);
    }
    if (rc == FX_OK)
        rc = fx__bw_finish(&w, tenant, 1, NULL, 0, meta, err);
    fx__bw_free(&w);
    fx_arena_free(&c.arena);
    free(c.cols);
    free(c.ncols);
    free(c.ps_map);
    free(c.touched);
    free(c.node_map);
    fx_buf_free(&c.rows);
    fx_buf_free(&spans);
    free(c.kept);
    free(c.stacks);
    free(c.values);
    return rc;
}
