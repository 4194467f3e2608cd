/*
 * merge.c - merging selected profiles into a call tree or into one pprof.
 *
 * Both start the same way: sum each column's values per stack node into a
 * dense array (rows are decoded straight into it, no per-sample
 * allocation), then mark the ancestors of every touched node in one
 * descending sweep (a parent's id is always smaller than its child's).
 * The tree is then built by visiting marked nodes in id order - parents
 * first - expanding each node's location into frames under its parent's
 * tree node, with a per-query memo from symbols to tree names; finally the
 * sums become selfs. Symbols are read under the tenant's read lock, rows
 * without it: the RocksDB iterator is created before the node count is
 * read, so every row it can see references nodes below that count.
 */
#include "storage/head_int.h"
#include "storage/row.h"
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
} acc_t;

static int acc_row(void *arg, const fx__target_t *tg, const uint8_t *key, const uint8_t *val,
                   size_t vlen, fx_err_t *err)
{
    acc_t *c = arg;
    fx_row_t row;
    int rc = fx_row_parse(val, vlen, &row, err);
    if (rc == FX_OK)
        rc = fx_row_accumulate(&row, tg->col, c->nnodes, c->v, c->touched, err);
    if (rc)
        return rc;
    int64_t ts = fx__row_key_ts(key);
    c->tmin = FX_MIN(c->tmin, ts);
    c->tmax = FX_MAX(c->tmax, ts);
    c->period = FX_MAX(c->period, row.period);
    return FX_OK;
}

static void acc_free(acc_t *c)
{
    free(c->v);
    free(c->touched);
    free(c->tg);
}

/* Reads the selected rows of tenant t into c. */
static int accumulate(fx_head_t *h, fx__tenant_t *t, const fx_head_query_t *q, acc_t *c,
                      fx_err_t *err)
{
    int64_t lo, hi;
    memset(c, 0, sizeof *c);
    c->tmin = INT64_MAX;
    c->tmax = INT64_MIN;
    fx__query_range(q, &lo, &hi);
    /* Iterator first: see the comment at the top of the file. */
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(h->db, h->ro, h->cf[FX__CF_PROFILES]);
    pthread_rwlock_rdlock(&t->rw);
    c->tg = fx__targets(t, q, &c->ntg);
    c->nnodes = (uint32_t)t->sym.nnodes;
    pthread_rwlock_unlock(&t->rw);
    c->v = fx_calloc(c->nnodes, sizeof *c->v);
    c->touched = fx_calloc(c->nnodes, 1);
    int rc = fx__scan_rows(h, it, t->id, c->tg, c->ntg, lo, hi, q->only, acc_row, c, err);
    rocksdb_iter_destroy(it);
    return rc;
}

/* Marks every ancestor of a touched node (read lock held). */
static void mark_ancestors(const fx__symbols_t *s, acc_t *c)
{
    for (uint32_t i = c->nnodes; i-- > 1;)
        if (c->touched[i])
            c->touched[s->node_parent[i]] = 1;
}

/* --- tree ---------------------------------------------------------------------------------- */

typedef struct namer {
    fx_tree_t *tree;
    const fx__symbols_t *s;
    fx_head_grouping_t grouping;
    uint32_t *by_fn;    /* function id -> tree name (FUNCTION, FILE, PACKAGE) */
    fx_map64_t by_line; /* fn << 32 | line -> tree name (FUNCTION_LINE) */
    fx_buf_t scratch;
} namer_t;

static const char *sym_str(const fx__symbols_t *s, uint32_t id, size_t *len)
{
    *len = fx_strtab_len(&s->strs, id);
    return fx_strtab_get(&s->strs, id);
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

int fx_head_merge_tree(fx_head_t *h, const fx_head_query_t *q, fx_head_grouping_t grouping,
                       fx_tree_t *tree, fx_err_t *err)
{
    fx__tenant_t *t = fx__tenant_get(h, q->tenant, 0);
    acc_t c;
    if (!t)
        return FX_OK;
    int rc = accumulate(h, t, q, &c, err);
    if (rc) {
        acc_free(&c);
        return rc;
    }
    uint32_t *map = fx_malloc(((size_t)c.nnodes + 1) * sizeof *map);
    namer_t nm = {tree, &t->sym, grouping, NULL, {0}, FX_BUF_INIT};
    fx_map64_init(&nm.by_line);

    pthread_rwlock_rdlock(&t->rw);
    const fx__symbols_t *s = &t->sym;
    nm.by_fn = fx_malloc((s->nfns + 1) * sizeof *nm.by_fn);
    memset(nm.by_fn, 0xff, (s->nfns + 1) * sizeof *nm.by_fn);
    mark_ancestors(s, &c);
    map[0] = FX_TREE_ROOT;
    for (uint32_t i = 1; i < c.nnodes; i++)
        if (c.touched[i])
            map[i] = location_frames(&nm, map[s->node_parent[i]], &s->locs[s->node_loc[i]]);
    pthread_rwlock_unlock(&t->rw);

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

/* Output tables: tenant ids -> 1-based output ids (0 = not yet used). */
typedef struct pp_build {
    const fx__symbols_t *s;
    fx_arena_t *a;
    uint32_t *str_out, *fn_out, *map_out, *loc_out;
    fx_slice_t *strs;
    size_t nstrs, capstrs;
    fx_pprof_function_t *fns;
    size_t nfns, capfns;
    fx_pprof_mapping_t *maps;
    size_t nmaps, capmaps;
    fx_pprof_location_t *locs;
    size_t nlocs, caplocs;
} pp_build_t;

static int64_t add_string(pp_build_t *b, const char *p, size_t n)
{
    FX_GROW(b->strs, b->capstrs, b->nstrs + 1);
    b->strs[b->nstrs].data = (const uint8_t *)p;
    b->strs[b->nstrs].len = n;
    return (int64_t)b->nstrs++;
}

static int64_t out_str(pp_build_t *b, uint32_t id)
{
    if (id == 0)
        return 0;
    if (!b->str_out[id]) {
        size_t n;
        const char *p = sym_str(b->s, id, &n);
        b->str_out[id] = (uint32_t)add_string(b, p, n);
    }
    return b->str_out[id];
}

static uint64_t out_fn(pp_build_t *b, uint32_t id)
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

static uint64_t out_map(pp_build_t *b, uint32_t mapping)
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

static uint64_t out_loc(pp_build_t *b, uint32_t id)
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
static void pp_types(pp_build_t *b, fx__tenant_t *t, const fx_head_query_t *q, const acc_t *c,
                     fx_pprof_t *pp)
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
        const fx__series_t *s = &t->idx.series[c->tg[0].series];
        type = fx__series_label(&t->idx, s, FX_LABEL_TYPE);
        unit = fx__series_label(&t->idx, s, FX_LABEL_UNIT);
        pt = fx__series_label(&t->idx, s, FX_LABEL_PERIOD_TYPE);
        pu = fx__series_label(&t->idx, s, FX_LABEL_PERIOD_UNIT);
    }
    if (type) {
        pp->sample_types = fx_arena_alloc(b->a, sizeof *pp->sample_types);
        pp->nsample_types = 1;
        pp->sample_types[0].type = add_string(b, type, strlen(type));
        pp->sample_types[0].unit = add_string(b, unit ? unit : "", unit ? strlen(unit) : 0);
    }
    if (pt && *pt) {
        pp->has_period_type = 1;
        pp->period_type.type = add_string(b, pt, strlen(pt));
        pp->period_type.unit = add_string(b, pu ? pu : "", pu ? strlen(pu) : 0);
    }
}

int fx_head_merge_pprof(fx_head_t *h, const fx_head_query_t *q, fx_buf_t *out, fx_err_t *err)
{
    fx__tenant_t *t = fx__tenant_get(h, q->tenant, 0);
    fx_pprof_t pp;
    fx_arena_t a;
    acc_t c;
    int rc = FX_OK;

    memset(&pp, 0, sizeof pp);
    fx_arena_init(&a);
    if (!t) {
        /* Nothing stored: still a valid, empty profile of the asked type. */
        memset(&c, 0, sizeof c);
        pp_build_t b = {.a = &a};
        add_string(&b, "", 0);
        pp_types(&b, NULL, q, &c, &pp);
        pp.strings = b.strs;
        pp.nstrings = b.nstrs;
        fx_pprof_encode(&pp, NULL, out);
        free(b.strs);
        fx_arena_free(&a);
        return FX_OK;
    }
    if ((rc = accumulate(h, t, q, &c, err)))
        goto out;

    pthread_rwlock_rdlock(&t->rw);
    const fx__symbols_t *s = &t->sym;
    pp_build_t b = {.s = s, .a = &a};
    b.str_out = fx_calloc(s->strs.len + 1, 4);
    b.fn_out = fx_calloc(s->nfns + 1, 4);
    b.map_out = fx_calloc(s->nmaps + 1, 4);
    b.loc_out = fx_calloc(s->nlocs + 1, 4);
    add_string(&b, "", 0);
    pp_types(&b, t, q, &c, &pp);

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
            locs[depth++] = out_loc(&b, s->node_loc[j]);
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
    /* Strings point into the tenant's string table: encode under the lock. */
    fx_pprof_encode(&pp, NULL, out);
    pthread_rwlock_unlock(&t->rw);

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
