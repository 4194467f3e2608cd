/*
 * engine_merge.c - merging selected profiles of a source (engine.h: the
 * head or a block) into a call tree or into one pprof.
 *
 * Both start the same way: sum each column's values per stack node into a
 * dense array (rows are decoded straight into it, no per-sample
 * allocation), then mark the ancestors of every touched node in one
 * descending sweep (a parent's id is always smaller than its child's).
 * The tree is then built by visiting marked nodes in id order - parents
 * first - expanding each node's location into frames under its parent's
 * tree node, with a per-query memo from symbols to tree names; finally the
 * sums become selfs. Symbols are read under the source's lock, rows without
 * it: the scan is begun before the node count is read, so every row it can
 * see references nodes below that count.
 */
#include "storage/engine.h"
#include "model/profile_type.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct acc {
    int64_t *v;       /* per stack node */
    uint8_t *touched; /* per stack node: a row had it (later: or a descendant) */
    uint32_t nnodes;
    uint64_t period;
    int64_t tmin, tmax;
    fx__target_t *tg;
    size_t ntg;
    const uint64_t *spans; /* span profile: only these spans' samples */
    size_t nspans;
} acc_t;

static int acc_row(void *arg, const fx__target_t *tg, int64_t ts, const uint8_t *id,
                   const fx_row_t *row, fx_err_t *err)
{
    acc_t *c = arg;
    (void)id;
    int rc = c->nspans ? fx_row_span_accumulate(row, tg->col, c->spans, c->nspans, c->nnodes,
                                                c->v, c->touched, err)
                       : fx_row_accumulate(row, tg->col, c->nnodes, c->v, c->touched, err);
    if (rc)
        return rc;
    c->tmin = FX_MIN(c->tmin, ts);
    c->tmax = FX_MAX(c->tmax, ts);
    c->period = FX_MAX(c->period, row->period);
    return FX_OK;
}

static void acc_free(acc_t *c)
{
    free(c->v);
    free(c->touched);
    free(c->tg);
}

static void lock(const fx__source_t *s)
{
    if (s->rdlock)
        s->rdlock(s->ctx);
}

static void unlock(const fx__source_t *s)
{
    if (s->unlock)
        s->unlock(s->ctx);
}

/* A keyset restriction around acc_row. */
typedef struct only {
    const fx_head_keyset_t *keys;
    acc_t *c;
} only_t;

static int only_row(void *arg, const fx__target_t *tg, int64_t ts, const uint8_t *id,
                    const fx_row_t *row, fx_err_t *err);

/* Reads the selected rows of src into c. The caller calls scan_end. */
static int accumulate(const fx__source_t *src, const fx_head_query_t *q, acc_t *c, fx_err_t *err)
{
    int64_t lo, hi;
    fx__symview_t sv;
    memset(c, 0, sizeof *c);
    c->tmin = INT64_MAX;
    c->tmax = INT64_MIN;
    fx__query_range(q, &lo, &hi);
    /* Scan first: see the comment at the top of the file. */
    int rc = src->scan_begin ? src->scan_begin(src->ctx, err) : FX_OK;
    if (rc)
        return rc;
    lock(src);
    c->tg = fx__targets(src->idx, q, &c->ntg);
    /* Only a source with something to merge needs its symbols (a block
     * loads them on demand). */
    if (c->ntg)
        rc = src->symbols(src->ctx, &sv, err);
    else
        sv.nnodes = 1;
    c->nnodes = (uint32_t)sv.nnodes;
    unlock(src);
    if (rc)
        return rc;
    c->v = fx_calloc(c->nnodes, sizeof *c->v);
    c->touched = fx_calloc(c->nnodes, 1);
    if (!c->ntg)
        return FX_OK;
    c->spans = q->spans;
    c->nspans = q->nspans;
    int need = q->nspans ? FX__NEED_SPANS : 1;
    if (q->only) {
        only_t oc = {q->only, c};
        return src->scan(src->ctx, c->tg, c->ntg, lo, hi, need, only_row, &oc, err);
    }
    return src->scan(src->ctx, c->tg, c->ntg, lo, hi, need, acc_row, c, err);
}

static int only_row(void *arg, const fx__target_t *tg, int64_t ts, const uint8_t *id,
                    const fx_row_t *row, fx_err_t *err)
{
    only_t *oc = arg;
    fx_head_profile_key_t key = {tg->fp, ts, {0}};
    memcpy(key.id, id, 16);
    if (!fx_head_keyset_has(oc->keys, &key))
        return FX_OK;
    return acc_row(oc->c, tg, ts, id, row, err);
}

/* Marks every ancestor of a touched node (read lock held). */
static void mark_ancestors(const fx__symview_t *s, acc_t *c)
{
    for (uint32_t i = c->nnodes; i-- > 1;)
        if (c->touched[i])
            c->touched[s->node_parent[i]] = 1;
}

/* --- tree ---------------------------------------------------------------------------------- */

typedef struct namer {
    fx_tree_t *tree;
    const fx__symview_t *s;
    fx_head_grouping_t grouping;
    uint32_t *by_fn;    /* function id -> tree name (FUNCTION, FILE, PACKAGE) */
    fx_map64_t by_line; /* fn << 32 | line -> tree name (FUNCTION_LINE) */
    fx_buf_t scratch;
} namer_t;

static const char *sym_str(const fx__symview_t *s, uint32_t id, size_t *len)
{
    *len = s->str_len[id];
    return s->str[id];
}

/* Go package of a function name: up to the first '.' after the last '/'. */
static size_t package_len(const char *n, size_t len)
{
    const char *slash = memrchr(n, '/', len);
    const char *from = slash ? slash + 1 : n;
    const char *dot = memchr(from, '.', len - (size_t)(from - n));
    return dot ? (size_t)(dot - n) : len;
}

static uint32_t frame_name(namer_t *nm, const fx__line_t *ln)
{
    const fx__fn_t *f = &nm->s->fns[ln->fn];
    const char *p;
    size_t n;
    if (nm->grouping == FX_GROUP_FUNCTION_LINE) {
        int inserted;
        uint64_t *slot = fx_map64_put(&nm->by_line, (uint64_t)ln->fn << 32 | (uint32_t)ln->line,
                                      &inserted);
        if (inserted) {
            p = sym_str(nm->s, f->name, &n);
            nm->scratch.len = 0;
            fx_buf_append(&nm->scratch, p, n);
            fx_buf_printf(&nm->scratch, ":%" PRId64, ln->line);
            *slot = fx_tree_name(nm->tree, (const char *)nm->scratch.data, nm->scratch.len);
        }
        return (uint32_t)*slot;
    }
    if (nm->by_fn[ln->fn] != UINT32_MAX)
        return nm->by_fn[ln->fn];
    if (nm->grouping == FX_GROUP_FILE) {
        p = sym_str(nm->s, f->filename, &n);
    } else {
        p = sym_str(nm->s, f->name, &n);
        if (nm->grouping == FX_GROUP_PACKAGE)
            n = package_len(p, n);
    }
    return nm->by_fn[ln->fn] = fx_tree_name(nm->tree, p, n);
}

/* The tree node for stack node i under tree node parent. */
static uint32_t location_frames(namer_t *nm, uint32_t parent, const fx__loc_t *l)
{
    if (l->nlines == 0) {
        char addr[32];
        int n = snprintf(addr, sizeof addr, "0x%" PRIx64, l->address);
        return fx_tree_child(nm->tree, parent, fx_tree_name(nm->tree, addr, (size_t)n));
    }
    /* lines[0] is the innermost (leaf side) frame. */
    for (uint32_t j = l->nlines; j-- > 0;)
        parent = fx_tree_child(nm->tree, parent, frame_name(nm, &nm->s->lines[l->line0 + j]));
    return parent;
}

int fx__q_merge_tree(const fx__source_t *src, const fx_head_query_t *q,
                     fx_head_grouping_t grouping, fx_tree_t *tree, fx_err_t *err)
{
    acc_t c;
    fx__symview_t sv;
    if (!src)
        return FX_OK;
    int rc = accumulate(src, q, &c, err);
    if (src->scan_end)
        src->scan_end(src->ctx);
    if (rc == FX_OK && c.ntg) {
        lock(src);
        rc = src->symbols(src->ctx, &sv, err);
        if (rc)
            unlock(src);
    }
    if (rc || !c.ntg) {
        if (rc == FX_OK)
            fx_tree_compute_totals(tree);
        acc_free(&c);
        return rc;
    }
    /* Locked from here on. */
    uint32_t *map = fx_malloc(((size_t)c.nnodes + 1) * sizeof *map);
    namer_t nm = {tree, &sv, grouping, NULL, {0}, FX_BUF_INIT};
    fx_map64_init(&nm.by_line);

    const fx__symview_t *s = &sv;
    nm.by_fn = fx_malloc((s->nfns + 1) * sizeof *nm.by_fn);
    memset(nm.by_fn, 0xff, (s->nfns + 1) * sizeof *nm.by_fn);
    mark_ancestors(s, &c);
    map[0] = FX_TREE_ROOT;
    for (uint32_t i = 1; i < c.nnodes; i++)
        if (c.touched[i])
            map[i] = location_frames(&nm, map[s->node_parent[i]], &s->locs[s->node_loc[i]]);
    unlock(src);

    for (uint32_t i = 0; i < c.nnodes; i++)
        if (c.v[i])
            tree->nodes[map[i]].self += c.v[i];
    fx_tree_compute_totals(tree);

    free(map);
    free(nm.by_fn);
    fx_map64_free(&nm.by_line);
    fx_buf_free(&nm.scratch);
    acc_free(&c);
    return FX_OK;
}

/* --- pprof ---------------------------------------------------------------------------------- */


int64_t fx__ppb_string(fx__ppb_t *b, const char *p, size_t n)
{
    FX_GROW(b->strs, b->capstrs, b->nstrs + 1);
    b->strs[b->nstrs].data = (const uint8_t *)p;
    b->strs[b->nstrs].len = n;
    return (int64_t)b->nstrs++;
}

static int64_t out_str(fx__ppb_t *b, uint32_t id)
{
    if (id == 0)
        return 0;
    if (!b->str_out[id]) {
        size_t n;
        const char *p = sym_str(b->s, id, &n);
        b->str_out[id] = (uint32_t)fx__ppb_string(b, p, n);
    }
    return b->str_out[id];
}

static uint64_t out_fn(fx__ppb_t *b, uint32_t id)
{
    if (!b->fn_out[id]) {
        const fx__fn_t *f = &b->s->fns[id];
        FX_GROW(b->fns, b->capfns, b->nfns + 1);
        fx_pprof_function_t *o = &b->fns[b->nfns];
        o->id = b->nfns + 1;
        o->name = out_str(b, f->name);
        o->system_name = out_str(b, f->system_name);
        o->filename = out_str(b, f->filename);
        o->start_line = f->start_line;
        b->fn_out[id] = (uint32_t)++b->nfns;
    }
    return b->fn_out[id];
}

static uint64_t out_map(fx__ppb_t *b, uint32_t mapping)
{
    if (!mapping)
        return 0;
    uint32_t id = mapping - 1;
    if (!b->map_out[id]) {
        const fx__mapping_t *m = &b->s->maps[id];
        FX_GROW(b->maps, b->capmaps, b->nmaps + 1);
        fx_pprof_mapping_t *o = &b->maps[b->nmaps];
        memset(o, 0, sizeof *o);
        o->id = b->nmaps + 1;
        o->memory_start = m->start;
        o->memory_limit = m->limit;
        o->file_offset = m->offset;
        o->filename = out_str(b, m->filename);
        o->build_id = out_str(b, m->build_id);
        o->has_functions = m->flags & 1;
        o->has_filenames = m->flags >> 1 & 1;
        o->has_line_numbers = m->flags >> 2 & 1;
        o->has_inline_frames = m->flags >> 3 & 1;
        b->map_out[id] = (uint32_t)++b->nmaps;
    }
    return b->map_out[id];
}

uint64_t fx__ppb_loc(fx__ppb_t *b, uint32_t id)
{
    if (!b->loc_out[id]) {
        const fx__loc_t *l = &b->s->locs[id];
        fx_pprof_line_t *lines = fx_arena_alloc(b->a, (l->nlines + 1) * sizeof *lines);
        for (uint32_t j = 0; j < l->nlines; j++) {
            lines[j].function_id = out_fn(b, b->s->lines[l->line0 + j].fn);
            lines[j].line = b->s->lines[l->line0 + j].line;
        }
        FX_GROW(b->locs, b->caplocs, b->nlocs + 1);
        fx_pprof_location_t *o = &b->locs[b->nlocs];
        memset(o, 0, sizeof *o);
        o->id = b->nlocs + 1;
        o->mapping_id = out_map(b, l->mapping);
        o->address = l->address;
        o->lines = lines;
        o->nlines = l->nlines;
        o->is_folded = l->folded;
        b->loc_out[id] = (uint32_t)++b->nlocs;
    }
    return b->loc_out[id];
}

/* Sample and period types: from the query's profile type if it names one,
 * else from the first selected series' labels. */
static void pp_types(fx__ppb_t *b, const fx__index_t *x, const fx_head_query_t *q,
                     const acc_t *c, fx_pprof_t *pp)
{
    const char *type = NULL, *unit = NULL, *pt = NULL, *pu = NULL;
    fx_profile_type_t ptype;
    fx_err_t e;
    if (q->profile_type && *q->profile_type &&
        fx_profile_type_parse(q->profile_type, b->a, &ptype, &e) == FX_OK) {
        type = ptype.sample_type;
        unit = ptype.sample_unit;
        pt = ptype.period_type;
        pu = ptype.period_unit;
    } else if (c->ntg) {
        const fx__series_t *s = &x->series[c->tg[0].series];
        type = fx__series_label(x, s, FX_LABEL_TYPE);
        unit = fx__series_label(x, s, FX_LABEL_UNIT);
        pt = fx__series_label(x, s, FX_LABEL_PERIOD_TYPE);
        pu = fx__series_label(x, s, FX_LABEL_PERIOD_UNIT);
    }
    if (type) {
        pp->sample_types = fx_arena_alloc(b->a, sizeof *pp->sample_types);
        pp->nsample_types = 1;
        pp->sample_types[0].type = fx__ppb_string(b, type, strlen(type));
        pp->sample_types[0].unit = fx__ppb_string(b, unit ? unit : "", unit ? strlen(unit) : 0);
    }
    if (pt && *pt) {
        pp->has_period_type = 1;
        pp->period_type.type = fx__ppb_string(b, pt, strlen(pt));
        pp->period_type.unit = fx__ppb_string(b, pu ? pu : "", pu ? strlen(pu) : 0);
    }
}

int fx__q_merge_pprof(const fx__source_t *src, const fx_head_query_t *q, fx_buf_t *out,
                      fx_err_t *err)
{
    fx_pprof_t pp;
    fx_arena_t a;
    fx__symview_t sv;
    acc_t c;
    int rc = FX_OK;

    memset(&pp, 0, sizeof pp);
    memset(&c, 0, sizeof c);
    fx_arena_init(&a);
    if (src) {
        rc = accumulate(src, q, &c, err);
        if (src->scan_end)
            src->scan_end(src->ctx);
        if (rc)
            goto out;
    }
    if (!src || !c.ntg) {
        /* Nothing stored: still a valid, empty profile of the asked type. */
        acc_free(&c);
        memset(&c, 0, sizeof c);
        fx__ppb_t b = {.a = &a};
        fx__ppb_string(&b, "", 0);
        pp_types(&b, NULL, q, &c, &pp);
        pp.strings = b.strs;
        pp.nstrings = b.nstrs;
        fx_pprof_encode(&pp, NULL, out);
        free(b.strs);
        goto out;
    }

    lock(src);
    if ((rc = src->symbols(src->ctx, &sv, err))) {
        unlock(src);
        goto out;
    }
    const fx__symview_t *s = &sv;
    fx__ppb_t b = {.s = s, .a = &a};
    b.str_out = fx_calloc(s->nstrs + 1, 4);
    b.fn_out = fx_calloc(s->nfns + 1, 4);
    b.map_out = fx_calloc(s->nmaps + 1, 4);
    b.loc_out = fx_calloc(s->nlocs + 1, 4);
    fx__ppb_string(&b, "", 0);
    pp_types(&b, src->idx, q, &c, &pp);

    size_t nsamples = 0;
    for (uint32_t i = 0; i < c.nnodes; i++)
        nsamples += c.v[i] != 0;
    pp.samples = fx_arena_alloc(&a, (nsamples + 1) * sizeof *pp.samples);
    for (uint32_t i = 0; i < c.nnodes; i++) {
        if (!c.v[i])
            continue;
        uint32_t depth = 0;
        for (uint32_t j = i; j; j = s->node_parent[j])
            depth++;
        uint64_t *locs = fx_arena_alloc(&a, (depth + 1) * sizeof *locs);
        int64_t *val = fx_arena_alloc(&a, sizeof *val);
        depth = 0;
        for (uint32_t j = i; j; j = s->node_parent[j]) /* leaf first, as pprof wants */
            locs[depth++] = fx__ppb_loc(&b, s->node_loc[j]);
        *val = c.v[i];
        fx_pprof_sample_t *smp = &pp.samples[pp.nsamples++];
        memset(smp, 0, sizeof *smp);
        smp->locs = locs;
        smp->nlocs = depth;
        smp->values = val;
        smp->nvalues = (uint32_t)pp.nsample_types;
    }
    pp.strings = b.strs;
    pp.nstrings = b.nstrs;
    pp.functions = b.fns;
    pp.nfunctions = b.nfns;
    pp.mappings = b.maps;
    pp.nmappings = b.nmaps;
    pp.locations = b.locs;
    pp.nlocations = b.nlocs;
    pp.period = (int64_t)FX_MIN(c.period, (uint64_t)INT64_MAX);
    if (c.tmin <= c.tmax) {
        pp.time_nanos = c.tmin;
        pp.duration_nanos = c.tmax - c.tmin;
    }
    if (pp.nsample_types == 0)
        pp.nsamples = 0; /* no series matched: no values to carry */
    /* Strings point into the source's string table: encode under the lock. */
    fx_pprof_encode(&pp, NULL, out);
    unlock(src);

    free(b.str_out);
    free(b.fn_out);
    free(b.map_out);
    free(b.loc_out);
    free(b.strs);
    free(b.fns);
    free(b.maps);
    free(b.locs);
out:
    acc_free(&c);
    fx_arena_free(&a);
    return rc;
}

void fx__symbols_view(const fx__symbols_t *s, fx__symview_t *v)
{
    v->str = s->strs.strs;
    v->str_len = s->strs.lens;
    v->nstrs = s->strs.len;
    v->fns = s->fns;
    v->nfns = s->nfns;
    v->maps = s->maps;
    v->nmaps = s->nmaps;
    v->locs = s->locs;
    v->nlocs = s->nlocs;
    v->lines = s->lines;
    v->nlines = s->nlines;
    v->node_parent = s->node_parent;
    v->node_loc = s->node_loc;
    v->nnodes = s->nnodes;
}
