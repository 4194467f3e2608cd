/*
 * handoff.c - a tenant's stored rows back out as profiles with their push
 * labels, a page at a time (handoff.h): the answering side of an ingester's
 * catch-up. Rows are copied out of a RocksDB iterator per row series (the
 * read lock is held only to look at the index), then turned into samples of
 * the page's one pprof a few at a time under the read lock; the pprof is
 * encoded after it is dropped.
 */
#include "storage/handoff.h"
#include "model/profile_id.h"
#include "storage/head_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- cursor ----------------------------------------------------------------------------- */

void fx_head_cursor_encode(const fx_head_cursor_t *c, uint8_t out[FX_HEAD_CURSOR_LEN])
{
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(c->pseries >> (24 - 8 * i));
    for (int i = 0; i < 8; i++)
        out[4 + i] = (uint8_t)((uint64_t)c->ts_ns >> (56 - 8 * i));
    memcpy(out + 12, c->id, 16);
}

int fx_head_cursor_decode(const uint8_t *p, size_t n, fx_head_cursor_t *c, fx_err_t *err)
{
    memset(c, 0, sizeof *c);
    if (n == 0)
        return FX_OK;
    if (n != FX_HEAD_CURSOR_LEN)
        return fx_err_set(err, FX_EINVAL, "catch-up cursor has %zu bytes, want 0 or %d", n,
                          FX_HEAD_CURSOR_LEN);
    c->set = 1;
    c->pseries = fx_get_u32be(p);
    c->ts_ns = (int64_t)fx_get_u64be(p + 4);
    memcpy(c->id, p + 12, 16);
    return FX_OK;
}

void fx_head_id_format(const uint8_t id[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[id[i] >> 4];
        out[o++] = hex[id[i] & 15];
    }
    out[o] = 0;
}

int fx_head_id_parse(const char *s, uint8_t out[16], fx_err_t *err)
{
    if (fx_profile_id_parse_hex(s, out) < 0)
        return fx_err_set(err, FX_EINVAL, "profile id is not 32 hex digits");
    return FX_OK;
}

/* --- push labels ------------------------------------------------------------------------ */

static int is_relabeled_cpu(const fx_labels_t *l)
{
    const char *name = fx_labels_get(l, FX_LABEL_NAME), *type = fx_labels_get(l, FX_LABEL_TYPE);
    return name && type && strcmp(name, "process_cpu") == 0 && strcmp(type, "cpu") == 0;
}

static fx_labels_t variant(fx_arena_t *a, const fx_labels_t *base, const char *name,
                           const char *value)
{
    fx_labels_t l = fx_labels_copy(a, base, 1);
    fx_labels_set(&l, name, value);
    fx_labels_sort(&l);
    return l;
}

size_t fx_head_push_labels(const fx_labels_t *cols, size_t ncols, fx_arena_t *a,
                           fx_labels_t out[FX_HEAD_PUSH_CANDIDATES])
{
    static const char *const derived[] = {FX_LABEL_TYPE,        FX_LABEL_UNIT,
                                          FX_LABEL_PERIOD_TYPE, FX_LABEL_PERIOD_UNIT,
                                          FX_LABEL_PROFILE_TYPE, FX_LABEL_SERVICE_NAME_PRIVATE};
    size_t pick = 0, n = 0;
    FX_ASSERT(ncols > 0);
    while (pick < ncols && is_relabeled_cpu(&cols[pick]))
        pick++;
    int lone_cpu = pick == ncols;
    if (lone_cpu)
        pick = 0;
    fx_labels_t base = fx_labels_copy(a, &cols[pick], 0);
    for (size_t i = 0; i < FX_ARRAY_LEN(derived); i++)
        fx_labels_del(&base, derived[i]);
    out[n++] = base;
    if (lone_cpu)
        out[n++] = variant(a, &base, FX_LABEL_NAME, "wall");
    /* /ingest of a pprof and godeltaprof names add __delta__="false". */
    for (size_t i = 0, m = n; i < m; i++)
        out[n++] = variant(a, &out[i], FX_LABEL_DELTA, "false");
    return n;
}

/* Rows turned into samples per read lock (a few ms for real profiles). */
#define ROWS_PER_LOCK 8

/* --- reading a page ---------------------------------------------------------------------- */

/* A wanted row series: what its profiles need besides the rows. */
typedef struct want_ps {
    uint32_t ncols;
    fx_labels_t labels;         /* push labels */
    const char **type, **unit;  /* per column */
    const char *ptype, *punit;  /* NULL = no period type */
    int64_t *types;             /* their page string indices, once added (2 * ncols) */
    int64_t ptype_ix, punit_ix;
} want_ps_t;

typedef struct prow {
    want_ps_t *ps;
    uint32_t pseries;
    int64_t ts;
    uint8_t id[16];
    const uint8_t *v; /* a copy of the stored row */
    size_t n;
} prow_t;

/* Under the read lock: the push labels and column types of pseries p, or
 * NULL when unwanted. */
static want_ps_t *want_pseries(const fx__index_t *x, uint32_t p, fx_head_want_fn want, void *wctx,
                               fx_arena_t *a)
{
    const fx__pseries_t *ps = &x->ps[p];
    if (ps->ncols == 0 || ps->ncols > FX_ROW_MAX_COLS)
        return NULL;
    fx_labels_t *cols = fx_arena_alloc(a, ps->ncols * sizeof *cols);
    for (uint32_t c = 0; c < ps->ncols; c++)
        cols[c] = fx__series_labels(x, &x->series[x->pcols[ps->col_off + c]], a);
    fx_labels_t cands[FX_HEAD_PUSH_CANDIDATES];
    size_t nc = fx_head_push_labels(cols, ps->ncols, a, cands);
    if (!want(wctx, cands, nc))
        return NULL;
    want_ps_t *w = fx_arena_calloc(a, sizeof *w);
    w->ncols = ps->ncols;
    w->labels = cands[0];
    w->type = fx_arena_alloc(a, ps->ncols * sizeof *w->type);
    w->unit = fx_arena_alloc(a, ps->ncols * sizeof *w->unit);
    for (uint32_t c = 0; c < ps->ncols; c++) {
        const char *t = fx_labels_get(&cols[c], FX_LABEL_TYPE), *u = fx_labels_get(&cols[c], FX_LABEL_UNIT);
        w->type[c] = t ? t : "";
        w->unit[c] = u ? u : "";
    }
    w->ptype = fx_labels_get(&cols[0], FX_LABEL_PERIOD_TYPE);
    w->punit = fx_labels_get(&cols[0], FX_LABEL_PERIOD_UNIT);
    return w;
}

/* The page's pprof: one symbol table for all its profiles, their samples
 * one after the other. */
typedef struct build {
    const fx__symview_t *s;
    fx__ppb_t b;
    fx_arena_t *a;       /* the page's: samples live until the page is encoded */
    uint32_t ncols;
    uint32_t *stacks;    /* the current row's stacks, ascending */
    int64_t *vals;       /* nstacks x ncols, later the part without a span */
    uint32_t n, at, col;
    fx_pprof_sample_t *samples;
    size_t nsamples, cap;
    int64_t span_key;    /* string index of "span_id", 0 = not added yet */
} build_t;

static void visit_col(void *ctx, uint32_t stack, int64_t value)
{
    build_t *b = ctx;
    b->stacks[b->at] = stack;
    b->vals[(size_t)b->at * b->ncols + b->col] = value;
    b->at++;
}

static const uint64_t *stack_locs(build_t *b, uint32_t leaf, uint32_t *depth)
{
    uint32_t d = 0;
    for (uint32_t j = leaf; j; j = b->s->node_parent[j])
        d++;
    uint64_t *locs = fx_arena_alloc(b->a, (d + 1) * sizeof *locs);
    d = 0;
    for (uint32_t j = leaf; j; j = b->s->node_parent[j]) /* leaf first, as pprof wants */
        locs[d++] = fx__ppb_loc(&b->b, b->s->node_loc[j]);
    *depth = d;
    return locs;
}

static fx_pprof_sample_t *add_sample(build_t *b, uint32_t stack, const int64_t *v)
{
    FX_GROW(b->samples, b->cap, b->nsamples + 1);
    fx_pprof_sample_t *smp = &b->samples[b->nsamples++];
    memset(smp, 0, sizeof *smp);
    smp->locs = stack_locs(b, stack, &smp->nlocs);
    int64_t *vals = fx_arena_alloc(b->a, b->ncols * sizeof *vals);
    memcpy(vals, v, b->ncols * sizeof *vals);
    smp->values = vals;
    smp->nvalues = b->ncols;
    return smp;
}

static int cmp_u32(const void *k, const void *e)
{
    uint32_t a = *(const uint32_t *)k, b = *(const uint32_t *)e;
    return a < b ? -1 : a > b;
}

/* A sample per span entry, its values taken out of the stack's own sample. */
static int visit_span(void *ctx, uint64_t span, uint32_t stack, const int64_t *v)
{
    build_t *b = ctx;
    const uint32_t *at = bsearch(&stack, b->stacks, b->n, sizeof *b->stacks, cmp_u32);
    if (!at)
        return FX_ECORRUPT;
    int64_t *rest = &b->vals[(size_t)(at - b->stacks) * b->ncols];
    for (uint32_t c = 0; c < b->ncols; c++)
        rest[c] = (int64_t)((uint64_t)rest[c] - (uint64_t)v[c]);
    fx_pprof_sample_t *smp = add_sample(b, stack, v);
    fx_pprof_label_t *l = fx_arena_calloc(b->a, sizeof *l);
    char *hex = fx_arena_printf(b->a, "%016llx", (unsigned long long)span);
    if (!b->span_key)
        b->span_key = fx__ppb_string(&b->b, "span_id", 7);
    l->key = b->span_key;
    l->str = fx__ppb_string(&b->b, hex, 16);
    smp->labels = l;
    smp->nlabels = 1;
    return FX_OK;
}

static int64_t page_string(build_t *b, const char *s)
{
    return fx__ppb_string(&b->b, s ? s : "", s ? strlen(s) : 0);
}

/* Appends row r's samples to the page and describes it in *out (under the
 * read lock: the view's arrays may move once it is dropped). */
static int add_row(build_t *b, const prow_t *r, fx_head_page_profile_t *out, fx_err_t *err)
{
    want_ps_t *w = r->ps;
    const fx__symview_t *s = b->s;
    fx_row_t row;
    int rc;

    if ((rc = fx_row_parse(r->v, r->n, &row, err)))
        return rc;
    if (row.ncols != w->ncols)
        return fx_err_set(err, FX_ECORRUPT, "row has %u columns, its series %u", row.ncols, w->ncols);
    if (!w->types) {
        w->types = fx_arena_alloc(b->a, 2 * w->ncols * sizeof *w->types);
        for (uint32_t c = 0; c < w->ncols; c++) {
            w->types[2 * c] = page_string(b, w->type[c]);
            w->types[2 * c + 1] = page_string(b, w->unit[c]);
        }
        if (w->ptype && *w->ptype) {
            w->ptype_ix = page_string(b, w->ptype);
            w->punit_ix = page_string(b, w->punit);
        }
    }
    fx_arena_t tmp;
    fx_arena_init(&tmp);
    b->ncols = w->ncols;
    b->n = row.nstacks;
    b->stacks = fx_arena_alloc(&tmp, ((size_t)b->n + 1) * sizeof *b->stacks);
    b->vals = fx_arena_alloc(&tmp, ((size_t)b->n * b->ncols + 1) * sizeof *b->vals);
    size_t first = b->nsamples;
    for (b->col = 0; b->col < b->ncols && rc == FX_OK; b->col++) {
        b->at = 0;
        rc = fx_row_visit(&row, b->col, (uint32_t)s->nnodes, visit_col, b, err);
    }
    if (rc == FX_OK && row.spans) {
        rc = fx_row_span_visit(&row, (uint32_t)s->nnodes, visit_span, b, err);
        if (rc == FX_ECORRUPT && !err->msg[0])
            rc = fx_err_set(err, FX_ECORRUPT, "span entry of a stack the row does not have");
    }
    for (uint32_t i = 0; i < b->n && rc == FX_OK; i++) {
        const int64_t *v = &b->vals[(size_t)i * b->ncols];
        int any = 0;
        for (uint32_t c = 0; c < b->ncols; c++)
            any |= v[c] != 0;
        if (any)
            add_sample(b, b->stacks[i], v);
    }
    fx_arena_free(&tmp);
    if (rc) {
        b->nsamples = first;
        return rc;
    }
    memset(out, 0, sizeof *out);
    out->labels = w->labels;
    out->ts_ns = r->ts;
    memcpy(out->id, r->id, 16);
    out->period = (int64_t)FX_MIN(row.period, (uint64_t)INT64_MAX);
    out->ntypes = w->ncols;
    out->types = w->types;
    out->has_period_type = w->ptype && *w->ptype;
    out->period_type = w->ptype_ix;
    out->period_unit = w->punit_ix;
    out->first_sample = (uint32_t)first;
    out->nsamples = (uint32_t)(b->nsamples - first);
    return FX_OK;
}

/* Copies the rows of pseries p after *cur into rows until budget is spent.
 * Returns 1 when the budget ran out inside this pseries. */
static int read_rows(rocksdb_iterator_t *it, uint32_t tenant, uint32_t p, want_ps_t *w, int64_t lo,
                     int64_t hi, const fx_head_cursor_t *cur, size_t max_bytes, size_t *used,
                     fx_arena_t *a, prow_t **rows, size_t *n, size_t *cap)
{
    uint8_t start[FX__ROW_KEY_LEN];
    int resume = cur->set && cur->pseries == p;
    fx__row_key(start, tenant, p, resume && cur->ts_ns > lo ? cur->ts_ns : lo, NULL);
    for (rocksdb_iter_seek(it, (const char *)start, 16); rocksdb_iter_valid(it);
         rocksdb_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &kl);
        if (kl != FX__ROW_KEY_LEN || memcmp(k, start, FX__ROW_PREFIX_LEN) != 0)
            break;
        int64_t ts = fx__row_key_ts(k);
        if (ts > hi)
            break;
        if (resume && (ts < cur->ts_ns || (ts == cur->ts_ns && memcmp(k + 16, cur->id, 16) <= 0)))
            continue;
        if (*n > 0 && *used >= max_bytes)
            return 1;
        const uint8_t *v = (const uint8_t *)rocksdb_iter_value(it, &vl);
        FX_GROW(*rows, *cap, *n + 1);
        prow_t *r = &(*rows)[(*n)++];
        memset(r, 0, sizeof *r);
        r->ps = w;
        r->pseries = p;
        r->ts = ts;
        memcpy(r->id, k + 16, 16);
        uint8_t *copy = fx_arena_alloc(a, vl + 1);
        memcpy(copy, v, vl);
        r->v = copy;
        r->n = vl;
        *used += vl;
    }
    return 0;
}

int fx_head_read_page(fx_head_t *h, const char *tenant, int64_t lo_ns, int64_t hi_ns,
                      size_t max_bytes, fx_head_want_fn want, void *wctx, fx_head_cursor_t *cur,
                      int *done, fx_arena_t *a, fx_head_page_t *out, fx_err_t *err)
{
    fx__tenant_t *t = fx__tenant_get(h, tenant, 0);
    rocksdb_iterator_t *it = NULL;
    prow_t *rows = NULL;
    size_t nrows = 0, caprows = 0, used = 0;
    build_t b;
    char *e = NULL;
    int rc = FX_OK, full = 0;
    uint32_t p;
    size_t max_nodes = 0;

    *done = 0;
    memset(&b, 0, sizeof b);
    out->v = NULL;
    out->len = 0;
    if (!t) {
        *done = 1;
        goto out;
    }
    /* Created before the index is read: every row it yields references
     * stack nodes below the count the symbol view shows later (engine.h). */
    it = rocksdb_create_iterator_cf(h->db, h->ro, h->cf[FX__CF_PROFILES]);
    for (p = cur->set ? cur->pseries : 0; !full; p++) {
        want_ps_t *w = NULL;
        int last;
        pthread_rwlock_rdlock(&t->rw);
        last = p >= t->idx.nps;
        if (!last) {
            const fx__pseries_t *ps = &t->idx.ps[p];
            if (ps->rows > 0 && ps->min_ns <= hi_ns && ps->max_ns >= lo_ns)
                w = want_pseries(&t->idx, p, want, wctx, a);
        }
        pthread_rwlock_unlock(&t->rw);
        if (last) {
            *done = 1;
            break;
        }
        if (w)
            full = read_rows(it, t->id, p, w, lo_ns, hi_ns, cur, max_bytes, &used, a, &rows,
                             &nrows, &caprows);
    }
    rocksdb_iter_get_error(it, &e);
    if (e) {
        rc = fx_err_set(err, FX_EIO, "reading profiles: %s", e);
        rocksdb_free(e);
        goto out;
    }
    if (!nrows)
        goto out;
    out->v = fx_arena_alloc(a, nrows * sizeof *out->v);
    b.a = a;
    b.b.a = a;
    fx__ppb_string(&b.b, "", 0);
    /* A few rows per read lock: appends of the tenant wait for it. The view
     * is taken again each time (appends may move the arrays); every row
     * references symbols that existed in the first view, which sized the
     * maps, and strings never move (strtab.h), so the page is encoded after
     * the lock is dropped. */
    for (size_t i = 0; i < nrows && rc == FX_OK;) {
        fx__symview_t sv;
        pthread_rwlock_rdlock(&t->rw);
        fx__symbols_view(&t->sym, &sv);
        if (!b.b.str_out) {
            b.b.str_out = fx_calloc(sv.nstrs + 1, 4);
            b.b.fn_out = fx_calloc(sv.nfns + 1, 4);
            b.b.map_out = fx_calloc(sv.nmaps + 1, 4);
            b.b.loc_out = fx_calloc(sv.nlocs + 1, 4);
            max_nodes = sv.nnodes;
        }
        sv.nnodes = max_nodes; /* rows may reference nothing newer than the maps */
        b.s = b.b.s = &sv;
        for (size_t end = FX_MIN(nrows, i + ROWS_PER_LOCK); i < end && rc == FX_OK; i++)
            rc = add_row(&b, &rows[i], &out->v[out->len++], err);
        b.s = b.b.s = NULL;
        pthread_rwlock_unlock(&t->rw);
    }
    if (rc)
        goto out;
    const prow_t *last = &rows[nrows - 1];
    cur->set = 1;
    cur->pseries = last->pseries;
    cur->ts_ns = last->ts;
    memcpy(cur->id, last->id, 16);
    fx_pprof_t pp;
    memset(&pp, 0, sizeof pp);
    pp.samples = b.samples;
    pp.nsamples = b.nsamples;
    pp.strings = b.b.strs;
    pp.nstrings = b.b.nstrs;
    pp.functions = b.b.fns;
    pp.nfunctions = b.b.nfns;
    pp.mappings = b.b.maps;
    pp.nmappings = b.b.nmaps;
    pp.locations = b.b.locs;
    pp.nlocations = b.b.nlocs;
    fx_pprof_encode(&pp, NULL, &out->pprof);
out:
    if (rc) {
        out->len = 0;
        *done = 0;
    }
    if (it)
        rocksdb_iter_destroy(it);
    free(rows);
    free(b.samples);
    free(b.b.str_out);
    free(b.b.fn_out);
    free(b.b.map_out);
    free(b.b.loc_out);
    free(b.b.strs);
    free(b.b.fns);
    free(b.b.maps);
    free(b.b.locs);
    return rc;
}

int fx_head_page_view(const fx_pprof_t *page, const fx_head_page_profile_t *pp, fx_arena_t *a,
                      fx_pprof_t *out, fx_err_t *err)
{
    if (pp->ntypes == 0 || pp->ntypes > FX_ROW_MAX_COLS)
        return fx_err_set(err, FX_EINVAL, "a profile of the page has %u sample types", pp->ntypes);
    if (pp->first_sample > page->nsamples || pp->nsamples > page->nsamples - pp->first_sample)
        return fx_err_set(err, FX_EINVAL, "a profile's samples [%u, +%u) are not in the page's %zu",
                          pp->first_sample, pp->nsamples, page->nsamples);
    *out = *page;
    out->samples = page->samples + pp->first_sample;
    out->nsamples = pp->nsamples;
    out->sample_types = fx_arena_alloc(a, pp->ntypes * sizeof *out->sample_types);
    out->nsample_types = pp->ntypes;
    for (uint32_t c = 0; c < pp->ntypes; c++) {
        out->sample_types[c].type = pp->types[2 * c];
        out->sample_types[c].unit = pp->types[2 * c + 1];
    }
    out->has_period_type = pp->has_period_type;
    out->period_type.type = pp->period_type;
    out->period_type.unit = pp->period_unit;
    out->period = pp->period;
    out->time_nanos = pp->ts_ns;
    out->duration_nanos = 0;
    return FX_OK;
}
