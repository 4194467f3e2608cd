/*
 * symbols.c - a tenant's symbol store: deduplicated strings, mappings,
 * functions, locations and the parent-pointer stack tree, plus the chunk
 * format that persists what each append added (docs/storage.md).
 */
#include "storage/tables.h"

#include <stdlib.h>
#include <string.h>

/* --- id deduplication --------------------------------------------------------- */

void fx__idtab_free(fx__idtab_t *t)
{
    free(t->slots);
    memset(t, 0, sizeof *t);
}

uint32_t fx__idtab_find(const fx__idtab_t *t, uint64_t hash, fx__idtab_eq_fn eq, const void *ctx,
                        const void *key)
{
    if (!t->cap)
        return UINT32_MAX;
    uint32_t h = (uint32_t)(hash >> 32);
    size_t mask = t->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        uint64_t s = t->slots[i];
        if (!s)
            return UINT32_MAX;
        if ((uint32_t)(s >> 32) == h && eq(ctx, (uint32_t)s - 1, key))
            return (uint32_t)s - 1;
    }
}

static void idtab_put(uint64_t *slots, size_t cap, uint64_t s)
{
    size_t mask = cap - 1;
    size_t i = (uint32_t)(s >> 32) & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = s;
}

void fx__idtab_insert(fx__idtab_t *t, uint64_t hash, uint32_t id)
{
    if ((t->len + 1) * 4 > t->cap * 3) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        uint64_t *slots = fx_calloc(cap, sizeof *slots);
        for (size_t i = 0; i < t->cap; i++)
            if (t->slots[i])
                idtab_put(slots, cap, t->slots[i]);
        free(t->slots);
        t->slots = slots;
        t->cap = cap;
    }
    idtab_put(t->slots, t->cap, (hash >> 32) << 32 | ((uint64_t)id + 1));
    t->len++;
}

/* --- symbol tables --------------------------------------------------------------- */

void fx__symbols_init(fx__symbols_t *s)
{
    memset(s, 0, sizeof *s);
    fx_strtab_init(&s->strs);
    fx_strtab_intern(&s->strs, "", 0);
    fx_map64_init(&s->node_ix);
    FX_GROW(s->node_parent, s->capnodes, 1);
    s->node_loc = fx_realloc(s->node_loc, s->capnodes * sizeof *s->node_loc);
    s->node_parent[0] = 0;
    s->node_loc[0] = UINT32_MAX;
    s->nnodes = 1;
}

void fx__symbols_free(fx__symbols_t *s)
{
    fx_strtab_free(&s->strs);
    free(s->fns);
    fx__idtab_free(&s->fn_ix);
    free(s->maps);
    fx__idtab_free(&s->map_ix);
    free(s->locs);
    free(s->lines);
    fx__idtab_free(&s->loc_ix);
    free(s->node_parent);
    free(s->node_loc);
    fx_map64_free(&s->node_ix);
    memset(s, 0, sizeof *s);
}

void fx__symbols_counts(const fx__symbols_t *s, fx__symcounts_t *c)
{
    c->strs = s->strs.len;
    c->maps = s->nmaps;
    c->fns = s->nfns;
    c->locs = s->nlocs;
    c->nodes = s->nnodes;
}

uint32_t fx__sym_string(fx__symbols_t *s, const char *p, size_t n)
{
    return fx_strtab_intern(&s->strs, p, n);
}

static uint64_t fn_hash(const fx__fn_t *f)
{
    uint64_t k[4] = {f->name, f->system_name, f->filename, (uint64_t)f->start_line};
    return fx_hash64(k, sizeof k, 1);
}

static int fn_eq(const void *ctx, uint32_t id, const void *key)
{
    const fx__fn_t *a = &((const fx__symbols_t *)ctx)->fns[id], *b = key;
    return a->name == b->name && a->system_name == b->system_name &&
           a->filename == b->filename && a->start_line == b->start_line;
}

static void add_fn(fx__symbols_t *s, const fx__fn_t *f, uint64_t hash)
{
    FX_GROW(s->fns, s->capfns, s->nfns + 1);
    s->fns[s->nfns] = *f;
    fx__idtab_insert(&s->fn_ix, hash, (uint32_t)s->nfns);
    s->nfns++;
}

uint32_t fx__sym_function(fx__symbols_t *s, const fx__fn_t *f)
{
    uint64_t h = fn_hash(f);
    uint32_t id = fx__idtab_find(&s->fn_ix, h, fn_eq, s, f);
    if (id == UINT32_MAX) {
        id = (uint32_t)s->nfns;
        add_fn(s, f, h);
    }
    return id;
}

static uint64_t map_hash(const fx__mapping_t *m)
{
    uint64_t k[6] = {m->start, m->limit, m->offset, m->filename, m->build_id, m->flags};
    return fx_hash64(k, sizeof k, 2);
}

static int map_eq(const void *ctx, uint32_t id, const void *key)
{
    const fx__mapping_t *a = &((const fx__symbols_t *)ctx)->maps[id], *b = key;
    return a->start == b->start && a->limit == b->limit && a->offset == b->offset &&
           a->filename == b->filename && a->build_id == b->build_id && a->flags == b->flags;
}

static void add_map(fx__symbols_t *s, const fx__mapping_t *m, uint64_t hash)
{
    FX_GROW(s->maps, s->capmaps, s->nmaps + 1);
    s->maps[s->nmaps] = *m;
    fx__idtab_insert(&s->map_ix, hash, (uint32_t)s->nmaps);
    s->nmaps++;
}

uint32_t fx__sym_mapping(fx__symbols_t *s, const fx__mapping_t *m)
{
    uint64_t h = map_hash(m);
    uint32_t id = fx__idtab_find(&s->map_ix, h, map_eq, s, m);
    if (id == UINT32_MAX) {
        id = (uint32_t)s->nmaps;
        add_map(s, m, h);
    }
    return id;
}

/* A location key during lookup: the record plus its lines elsewhere. */
typedef struct loc_key {
    const fx__loc_t *loc;
    const fx__line_t *lines;
} loc_key_t;

static uint64_t loc_hash(const fx__loc_t *l, const fx__line_t *lines)
{
    uint64_t k[3] = {l->address, (uint64_t)l->mapping << 32 | l->nlines, l->folded};
    uint64_t h = fx_hash64(k, sizeof k, 3);
    for (uint32_t i = 0; i < l->nlines; i++) {
        uint64_t x[2] = {lines[i].fn, (uint64_t)lines[i].line};
        h = fx_hash64(x, sizeof x, h);
    }
    return h;
}

static int loc_eq(const void *ctx, uint32_t id, const void *key)
{
    const fx__symbols_t *s = ctx;
    const loc_key_t *k = key;
    const fx__loc_t *a = &s->locs[id];
    if (a->address != k->loc->address || a->mapping != k->loc->mapping ||
        a->nlines != k->loc->nlines || a->folded != k->loc->folded)
        return 0;
    for (uint32_t i = 0; i < a->nlines; i++)
        if (s->lines[a->line0 + i].fn != k->lines[i].fn ||
            s->lines[a->line0 + i].line != k->lines[i].line)
            return 0;
    return 1;
}

static void add_loc(fx__symbols_t *s, const fx__loc_t *l, const fx__line_t *lines, uint64_t hash)
{
    FX_GROW(s->locs, s->caplocs, s->nlocs + 1);
    FX_GROW(s->lines, s->caplines, s->nlines + l->nlines);
    fx__loc_t *d = &s->locs[s->nlocs];
    *d = *l;
    d->line0 = (uint32_t)s->nlines;
    if (l->nlines)
        memcpy(&s->lines[s->nlines], lines, l->nlines * sizeof *lines);
    s->nlines += l->nlines;
    fx__idtab_insert(&s->loc_ix, hash, (uint32_t)s->nlocs);
    s->nlocs++;
}

uint32_t fx__sym_location(fx__symbols_t *s, const fx__loc_t *l, const fx__line_t *lines)
{
    uint64_t h = loc_hash(l, lines);
    loc_key_t k = {l, lines};
    uint32_t id = fx__idtab_find(&s->loc_ix, h, loc_eq, s, &k);
    if (id == UINT32_MAX) {
        id = (uint32_t)s->nlocs;
        add_loc(s, l, lines, h);
    }
    return id;
}

static void add_node(fx__symbols_t *s, uint32_t parent, uint32_t loc, uint64_t *slot)
{
    if (s->nnodes == s->capnodes) {
        size_t cap = s->capnodes;
        FX_GROW(s->node_parent, cap, s->nnodes + 1);
        s->node_loc = fx_realloc(s->node_loc, cap * sizeof *s->node_loc);
        s->capnodes = cap;
    }
    s->node_parent[s->nnodes] = parent;
    s->node_loc[s->nnodes] = loc;
    *slot = s->nnodes++;
}

uint32_t fx__sym_node(fx__symbols_t *s, uint32_t parent, uint32_t loc)
{
    int inserted;
    uint64_t *slot = fx_map64_put(&s->node_ix, (uint64_t)parent << 32 | loc, &inserted);
    if (inserted)
        add_node(s, parent, loc, slot);
    return (uint32_t)*slot;
}

void fx__sym_nodes_find(const fx__symbols_t *s, const uint32_t *parents, const uint32_t *locs,
                        size_t n, uint32_t *out)
{
    enum { BATCH = 16 };
    const fx_map64_t *m = &s->node_ix;
    if (!m->cap) {
        for (size_t i = 0; i < n; i++)
            out[i] = UINT32_MAX;
        return;
    }
    for (size_t i = 0; i < n; i += BATCH) {
        size_t k = FX_MIN((size_t)BATCH, n - i);
        for (size_t j = 0; j < k; j++) {
            size_t slot = fx_mix64((uint64_t)parents[i + j] << 32 | locs[i + j]) & (m->cap - 1);
            __builtin_prefetch(&m->keys[slot]);
            __builtin_prefetch(&m->vals[slot]);
        }
        for (size_t j = 0; j < k; j++) {
            const uint64_t *v = parents[i + j] == UINT32_MAX
                                    ? NULL
                                    : fx_map64_get(m, (uint64_t)parents[i + j] << 32 | locs[i + j]);
            out[i + j] = v ? (uint32_t)*v : UINT32_MAX;
        }
    }
}

/* --- chunks -------------------------------------------------------------------------
 * Each chunk holds consecutive entries of one kind, varint coded:
 *   strings:   len, bytes
 *   mappings:  start, limit, offset, filename, build_id, flags
 *   functions: name, system_name, filename, svarint start_line
 *   locations: nlines << 1 | folded, mapping, address, nlines x (fn, svarint line)
 *   nodes:     id - parent (>= 1), loc
 */

void fx__sym_encode_chunk(const fx__symbols_t *s, int kind, size_t from, size_t to, fx_buf_t *out)
{
    for (size_t i = from; i < to; i++) {
        switch (kind) {
        case FX__K_STRINGS:
            fx_buf_uvarint(out, fx_strtab_len(&s->strs, (uint32_t)i));
            fx_buf_append(out, fx_strtab_get(&s->strs, (uint32_t)i),
                          fx_strtab_len(&s->strs, (uint32_t)i));
            break;
        case FX__K_MAPPINGS: {
            const fx__mapping_t *m = &s->maps[i];
            fx_buf_uvarint(out, m->start);
            fx_buf_uvarint(out, m->limit);
            fx_buf_uvarint(out, m->offset);
            fx_buf_uvarint(out, m->filename);
            fx_buf_uvarint(out, m->build_id);
            fx_buf_uvarint(out, m->flags);
            break;
        }
        case FX__K_FUNCTIONS: {
            const fx__fn_t *f = &s->fns[i];
            fx_buf_uvarint(out, f->name);
            fx_buf_uvarint(out, f->system_name);
            fx_buf_uvarint(out, f->filename);
            fx_buf_svarint(out, f->start_line);
            break;
        }
        case FX__K_LOCATIONS: {
            const fx__loc_t *l = &s->locs[i];
            fx_buf_uvarint(out, (uint64_t)l->nlines << 1 | l->folded);
            fx_buf_uvarint(out, l->mapping);
            fx_buf_uvarint(out, l->address);
            for (uint32_t j = 0; j < l->nlines; j++) {
                fx_buf_uvarint(out, s->lines[l->line0 + j].fn);
                fx_buf_svarint(out, s->lines[l->line0 + j].line);
            }
            break;
        }
        case FX__K_NODES:
            fx_buf_uvarint(out, i - s->node_parent[i]);
            fx_buf_uvarint(out, s->node_loc[i]);
            break;
        default:
            FX_PANIC("unknown symbol chunk kind");
        }
    }
}

#define CORRUPT(...) fx_err_set(err, FX_ECORRUPT, "stored symbols are corrupt: " __VA_ARGS__)

static int rd(const uint8_t **p, const uint8_t *end, uint64_t *v, uint64_t max)
{
    return fx_uvarint(p, end, v) == 0 && *v <= max ? 0 : -1;
}

int fx__sym_load_chunk(fx__symbols_t *s, int kind, uint32_t first, const uint8_t *p, size_t n,
                       fx_err_t *err)
{
    const uint8_t *end = p + n;
    uint64_t a, b, c, d, e, f;
    size_t expect;

    switch (kind) {
    case FX__K_STRINGS: expect = s->strs.len; break;
    case FX__K_MAPPINGS: expect = s->nmaps; break;
    case FX__K_FUNCTIONS: expect = s->nfns; break;
    case FX__K_LOCATIONS: expect = s->nlocs; break;
    case FX__K_NODES: expect = s->nnodes; break;
    default: return CORRUPT("unknown chunk kind %d", kind);
    }
    if (first != expect)
        return CORRUPT("chunk of kind %c starts at %u, expected %zu", kind, first, expect);
    const uint64_t nstr = s->strs.len;
    while (p < end) {
        switch (kind) {
        case FX__K_STRINGS: {
            if (fx_uvarint(&p, end, &a) || a > (uint64_t)(end - p))
                return CORRUPT("bad string");
            uint32_t before = (uint32_t)s->strs.len;
            /* Strings were unique when written; a duplicate would shift ids. */
            if (fx_strtab_intern(&s->strs, (const char *)p, a) != before)
                return CORRUPT("duplicate string %u", before);
            p += a;
            break;
        }
        case FX__K_MAPPINGS: {
            if (rd(&p, end, &a, UINT64_MAX) || rd(&p, end, &b, UINT64_MAX) ||
                rd(&p, end, &c, UINT64_MAX) || rd(&p, end, &d, nstr - 1) ||
                rd(&p, end, &e, nstr - 1) || rd(&p, end, &f, 255))
                return CORRUPT("bad mapping %zu", s->nmaps);
            fx__mapping_t m = {a, b, c, (uint32_t)d, (uint32_t)e, (uint8_t)f};
            add_map(s, &m, map_hash(&m));
            break;
        }
        case FX__K_FUNCTIONS: {
            if (rd(&p, end, &a, nstr - 1) || rd(&p, end, &b, nstr - 1) ||
                rd(&p, end, &c, nstr - 1) || fx_uvarint(&p, end, &d))
                return CORRUPT("bad function %zu", s->nfns);
            fx__fn_t fn = {(uint32_t)a, (uint32_t)b, (uint32_t)c, fx_unzigzag(d)};
            add_fn(s, &fn, fn_hash(&fn));
            break;
        }
        case FX__K_LOCATIONS: {
            if (rd(&p, end, &a, (uint64_t)(end - p) * 2 + 1) || rd(&p, end, &b, s->nmaps) ||
                rd(&p, end, &c, UINT64_MAX))
                return CORRUPT("bad location %zu", s->nlocs);
            fx__loc_t l = {.address = c, .mapping = (uint32_t)b, .nlines = (uint32_t)(a >> 1),
                           .folded = (uint8_t)(a & 1)};
            fx__line_t *lines = fx_malloc((l.nlines ? l.nlines : 1) * sizeof *lines);
            for (uint32_t j = 0; j < l.nlines; j++) {
                if (rd(&p, end, &d, s->nfns ? s->nfns - 1 : 0) || !s->nfns ||
                    fx_uvarint(&p, end, &e)) {
                    free(lines);
                    return CORRUPT("bad line in location %zu", s->nlocs);
                }
                lines[j].fn = (uint32_t)d;
                lines[j].line = fx_unzigzag(e);
            }
            add_loc(s, &l, lines, loc_hash(&l, lines));
            free(lines);
            break;
        }
        case FX__K_NODES: {
            size_t id = s->nnodes;
            if (rd(&p, end, &a, id) || a == 0 || rd(&p, end, &b, s->nlocs ? s->nlocs - 1 : 0) ||
                !s->nlocs)
                return CORRUPT("bad stack node %zu", id);
            int inserted;
            uint64_t *slot =
                fx_map64_put(&s->node_ix, (uint64_t)(id - a) << 32 | (uint32_t)b, &inserted);
            if (!inserted)
                return CORRUPT("duplicate stack node %zu", id);
            add_node(s, (uint32_t)(id - a), (uint32_t)b, slot);
            break;
        }
        }
        if (s->nnodes >= UINT32_MAX - 1 || s->nlocs >= UINT32_MAX - 1)
            return CORRUPT("too many entries");
    }
    return FX_OK;
}
