/*
 * engine.c - the queries shared by the head and blocks (engine.h): target
 * selection, label names and values, series, profile types, stats, profile
 * keys, SelectSeries from row totals, and replica keysets. Merges are in
 * engine_merge.c.
 */
#include "storage/engine.h"

#include <stdlib.h>
#include <string.h>

/* --- targets ------------------------------------------------------------------------ */

static int cmp_target(const void *a, const void *b)
{
    const fx__target_t *x = a, *y = b;
    if (x->pseries != y->pseries)
        return x->pseries < y->pseries ? -1 : 1;
    return x->col < y->col ? -1 : x->col > y->col;
}

typedef struct targets_ctx {
    const fx__index_t *x;
    fx__target_t *v;
    size_t n, cap;
    int64_t lo, hi;
} targets_ctx_t;

static bool add_targets(uint32_t id, void *arg)
{
    targets_ctx_t *c = arg;
    const fx__series_t *s = &c->x->series[id];
    for (uint32_t i = 0; i < s->nrefs; i++) {
        const fx__pseries_t *p = &c->x->ps[s->refs[i].pseries];
        if (!p->rows || p->min_ns > c->hi || p->max_ns < c->lo)
            continue;
        FX_GROW(c->v, c->cap, c->n + 1);
        c->v[c->n].pseries = s->refs[i].pseries;
        c->v[c->n].col = s->refs[i].col;
        c->v[c->n].series = id;
        c->v[c->n].fp = s->fp;
        c->n++;
    }
    return true;
}

fx__target_t *fx__targets(const fx__index_t *x, const fx_head_query_t *q, size_t *n)
{
    targets_ctx_t c = {x, NULL, 0, 0, 0, 0};
    fx__query_range(q, &c.lo, &c.hi);
    roaring_bitmap_t *sel = fx__index_select(x, q);
    roaring_iterate(sel, add_targets, &c);
    roaring_bitmap_free(sel);
    if (c.n > 1)
        qsort(c.v, c.n, sizeof *c.v, cmp_target);
    *n = c.n;
    return c.v;
}

/* --- keysets ---------------------------------------------------------------------------- */

static uint64_t key_hash(const fx_head_profile_key_t *k)
{
    uint64_t x[4];
    x[0] = k->fingerprint;
    x[1] = (uint64_t)k->time_ns;
    memcpy(&x[2], k->id, 16);
    return fx_hash64(x, sizeof x, 7);
}

static int key_eq(const fx_head_profile_key_t *a, const fx_head_profile_key_t *b)
{
    return a->fingerprint == b->fingerprint && a->time_ns == b->time_ns &&
           memcmp(a->id, b->id, 16) == 0;
}

int fx_head_key_cmp(const void *a, const void *b)
{
    const fx_head_profile_key_t *x = a, *y = b;
    if (x->time_ns != y->time_ns)
        return x->time_ns < y->time_ns ? -1 : 1;
    if (x->fingerprint != y->fingerprint)
        return x->fingerprint < y->fingerprint ? -1 : 1;
    return memcmp(x->id, y->id, 16);
}

void fx_head_keyset_init(fx_head_keyset_t *s)
{
    memset(s, 0, sizeof *s);
}

void fx_head_keyset_free(fx_head_keyset_t *s)
{
    free(s->keys);
    free(s->used);
    memset(s, 0, sizeof *s);
}

static void keyset_put(fx_head_profile_key_t *keys, uint8_t *used, size_t cap,
                       const fx_head_profile_key_t *k)
{
    size_t i = key_hash(k) & (cap - 1);
    while (used[i]) {
        if (key_eq(&keys[i], k))
            return;
        i = (i + 1) & (cap - 1);
    }
    used[i] = 1;
    keys[i] = *k;
}

void fx_head_keyset_add(fx_head_keyset_t *s, const fx_head_profile_key_t *k)
{
    if (fx_head_keyset_has(s, k))
        return;
    if ((s->len + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        fx_head_profile_key_t *keys = fx_malloc(cap * sizeof *keys);
        uint8_t *used = fx_calloc(cap, 1);
        for (size_t i = 0; i < s->cap; i++)
            if (s->used[i])
                keyset_put(keys, used, cap, &s->keys[i]);
        free(s->keys);
        free(s->used);
        s->keys = keys;
        s->used = used;
        s->cap = cap;
    }
    keyset_put(s->keys, s->used, s->cap, k);
    s->len++;
}

int fx_head_keyset_has(const fx_head_keyset_t *s, const fx_head_profile_key_t *k)
{
    if (!s->cap)
        return 0;
    for (size_t i = key_hash(k) & (s->cap - 1); s->used[i]; i = (i + 1) & (s->cap - 1))
        if (key_eq(&s->keys[i], k))
            return 1;
    return 0;
}

/* --- sources ------------------------------------------------------------------------- */

static void src_lock(const fx__source_t *s)
{
    if (s->rdlock)
        s->rdlock(s->ctx);
}

static void src_unlock(const fx__source_t *s)
{
    if (s->unlock)
        s->unlock(s->ctx);
}

static int src_begin(const fx__source_t *s, fx_err_t *err)
{
    return s->scan_begin ? s->scan_begin(s->ctx, err) : FX_OK;
}

static void src_end(const fx__source_t *s)
{
    if (s->scan_end)
        s->scan_end(s->ctx);
}

/* A scan restricted to a keyset: wraps the caller's row function. */
typedef struct only_ctx {
    const fx_head_keyset_t *only;
    fx__row_fn fn;
    void *ctx;
} only_ctx_t;

static int only_row(void *arg, const fx__target_t *tg, int64_t ts, const uint8_t *id,
                    const fx_row_t *row, fx_err_t *err)
{
    only_ctx_t *c = arg;
    fx_head_profile_key_t key = {tg->fp, ts, {0}};
    memcpy(key.id, id, 16);
    if (!fx_head_keyset_has(c->only, &key))
        return FX_OK;
    return c->fn(c->ctx, tg, ts, id, row, err);
}

/* Scans the targets' rows in q's range (and keyset). */
static int src_scan(const fx__source_t *s, const fx_head_query_t *q, const fx__target_t *tg,
                    size_t ntg, int need, fx__row_fn fn, void *ctx, fx_err_t *err)
{
    int64_t lo, hi;
    fx__query_range(q, &lo, &hi);
    if (!ntg)
        return FX_OK;
    if (q->only) {
        only_ctx_t oc = {q->only, fn, ctx};
        return s->scan(s->ctx, tg, ntg, lo, hi, need, only_row, &oc, err);
    }
    return s->scan(s->ctx, tg, ntg, lo, hi, need, fn, ctx, err);
}

/* --- index queries ------------------------------------------------------------------------ */

/* Collects distinct label-string ids; then sorted copies in the arena. */
typedef struct idset {
    fx_map64_t seen;
    uint32_t *v;
    size_t n, cap;
} idset_t;

static void idset_add(idset_t *s, uint32_t id)
{
    int inserted;
    fx_map64_put(&s->seen, id, &inserted);
    if (inserted) {
        FX_GROW(s->v, s->cap, s->n + 1);
        s->v[s->n++] = id;
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void idset_out(idset_t *s, const fx__index_t *x, fx_arena_t *a, fx_head_strings_t *out)
{
    out->len = s->n;
    out->v = fx_arena_alloc(a, (s->n + 1) * sizeof *out->v);
    for (size_t i = 0; i < s->n; i++)
        out->v[i] = fx_arena_strndup(a, fx_strtab_get(&x->lstr, s->v[i]),
                                     fx_strtab_len(&x->lstr, s->v[i]));
    qsort(out->v, out->len, sizeof *out->v, cmp_str);
    fx_map64_free(&s->seen);
    free(s->v);
}

typedef enum { Q_NAMES, Q_VALUES, Q_TYPES } strq_t;

typedef struct strq_ctx {
    const fx__index_t *x;
    idset_t set;
    strq_t what;
    int64_t name, lo, hi;
} strq_ctx_t;

static bool strq_visit(uint32_t id, void *arg)
{
    strq_ctx_t *c = arg;
    const fx__series_t *s = &c->x->series[id];
    if (!fx__series_in_range(c->x, s, c->lo, c->hi))
        return true;
    const uint32_t *l = &c->x->lbl[s->lbl_off];
    switch (c->what) {
    case Q_NAMES:
        for (uint32_t i = 0; i < s->nlbl; i++)
            idset_add(&c->set, l[2 * i]);
        break;
    case Q_VALUES:
        for (uint32_t i = 0; i < s->nlbl; i++)
            if (l[2 * i] == (uint32_t)c->name)
                idset_add(&c->set, l[2 * i + 1]);
        break;
    case Q_TYPES:
        if (s->ptype != UINT32_MAX)
            idset_add(&c->set, s->ptype);
        break;
    }
    return true;
}

static int string_query(const fx__source_t *src, const fx_head_query_t *q, strq_t what,
                        const char *name, fx_arena_t *a, fx_head_strings_t *out)
{
    out->v = NULL;
    out->len = 0;
    if (!src)
        return FX_OK;
    const fx__index_t *x = src->idx;
    strq_ctx_t c = {x, {{0}, NULL, 0, 0}, what, -1, 0, 0};
    fx_map64_init(&c.set.seen);
    fx__query_range(q, &c.lo, &c.hi);
    src_lock(src);
    if (what == Q_VALUES)
        c.name = fx_strtab_find(&x->lstr, name, strlen(name));
    if (what != Q_VALUES || c.name >= 0) {
        roaring_bitmap_t *sel = fx__index_select(x, q);
        roaring_iterate(sel, strq_visit, &c);
        roaring_bitmap_free(sel);
    }
    idset_out(&c.set, x, a, out);
    src_unlock(src);
    return FX_OK;
}

int fx__q_label_names(const fx__source_t *src, const fx_head_query_t *q, fx_arena_t *a,
                      fx_head_strings_t *out, fx_err_t *err)
{
    (void)err;
    return string_query(src, q, Q_NAMES, NULL, a, out);
}

int fx__q_label_values(const fx__source_t *src, const fx_head_query_t *q, const char *name,
                       fx_arena_t *a, fx_head_strings_t *out, fx_err_t *err)
{
    if (!name || !*name)
        return fx_err_set(err, FX_EINVAL, "label values need a label name");
    return string_query(src, q, Q_VALUES, name, a, out);
}

int fx__q_profile_types(const fx__source_t *src, const fx_head_query_t *q, fx_arena_t *a,
                        fx_head_strings_t *out, fx_err_t *err)
{
    (void)err;
    return string_query(src, q, Q_TYPES, NULL, a, out);
}

static int cmp_labels_q(const void *a, const void *b)
{
    return fx_labels_cmp(a, b);
}

/* Groups series by their labels restricted to names (all labels when
 * nnames is 0): returns the group id, assigning new ids in order. key is a
 * scratch buffer; groups interns the binary (name, value) id pairs. */
static uint32_t group_of(const fx__index_t *x, const fx__series_t *s, const char *const *names,
                         size_t nnames, const int64_t *name_ids, fx_strtab_t *groups, fx_buf_t *key)
{
    const uint32_t *l = &x->lbl[s->lbl_off];
    key->len = 0;
    for (uint32_t i = 0; i < s->nlbl; i++) {
        int keep = nnames == 0;
        for (size_t j = 0; j < nnames && !keep; j++)
            keep = name_ids[j] == (int64_t)l[2 * i];
        if (keep)
            fx_buf_append(key, &l[2 * i], 8);
    }
    (void)names;
    return fx_strtab_intern(groups, (const char *)key->data, key->len);
}

/* The labels of a group key made by group_of. */
static fx_labels_t group_labels(const fx__index_t *x, const fx_strtab_t *groups, uint32_t g,
                                fx_arena_t *a)
{
    const char *k = fx_strtab_get(groups, g);
    size_t n = fx_strtab_len(groups, g) / 8;
    fx_labels_t l = {fx_arena_alloc(a, (n + 1) * sizeof(fx_label_t)), n};
    for (size_t i = 0; i < n; i++) {
        uint32_t ids[2];
        memcpy(ids, k + 8 * i, 8);
        l.v[i].name = fx_arena_strdup(a, fx_strtab_get(&x->lstr, ids[0]));
        l.v[i].value = fx_arena_strdup(a, fx_strtab_get(&x->lstr, ids[1]));
    }
    return l;
}

typedef struct series_ctx {
    const fx__index_t *x;
    const char *const *names;
    size_t nnames;
    int64_t *name_ids;
    fx_strtab_t groups;
    fx_buf_t key;
    int64_t lo, hi;
} series_ctx_t;

static bool series_visit(uint32_t id, void *arg)
{
    series_ctx_t *c = arg;
    const fx__series_t *s = &c->x->series[id];
    if (fx__series_in_range(c->x, s, c->lo, c->hi))
        group_of(c->x, s, c->names, c->nnames, c->name_ids, &c->groups, &c->key);
    return true;
}

int fx__q_series(const fx__source_t *src, const fx_head_query_t *q, const char *const *names,
                 size_t nnames, fx_arena_t *a, fx_head_label_sets_t *out, fx_err_t *err)
{
    (void)err;
    out->v = NULL;
    out->len = 0;
    if (!src)
        return FX_OK;
    const fx__index_t *x = src->idx;
    series_ctx_t c = {x, names, nnames, NULL, {0}, FX_BUF_INIT, 0, 0};
    fx__query_range(q, &c.lo, &c.hi);
    fx_strtab_init(&c.groups);
    c.name_ids = fx_malloc((nnames + 1) * sizeof *c.name_ids);
    src_lock(src);
    for (size_t i = 0; i < nnames; i++)
        c.name_ids[i] = fx_strtab_find(&x->lstr, names[i], strlen(names[i]));
    roaring_bitmap_t *sel = fx__index_select(x, q);
    roaring_iterate(sel, series_visit, &c);
    roaring_bitmap_free(sel);
    out->len = c.groups.len;
    out->v = fx_arena_alloc(a, (out->len + 1) * sizeof *out->v);
    for (size_t g = 0; g < c.groups.len; g++)
        out->v[g] = group_labels(x, &c.groups, (uint32_t)g, a);
    src_unlock(src);
    qsort(out->v, out->len, sizeof *out->v, cmp_labels_q);
    fx_strtab_free(&c.groups);
    fx_buf_free(&c.key);
    free(c.name_ids);
    return FX_OK;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

void fx__q_profile_stats(const fx__source_t *src, fx_head_profile_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (!src)
        return;
    const fx__index_t *x = src->idx;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    src_lock(src);
    for (size_t i = 0; i < x->nps; i++)
        if (x->ps[i].rows) {
            lo = FX_MIN(lo, x->ps[i].min_ns);
            hi = FX_MAX(hi, x->ps[i].max_ns);
        }
    src_unlock(src);
    if (lo <= hi) {
        out->data_ingested = 1;
        out->oldest_ms = floor_div(lo, 1000000);
        out->newest_ms = floor_div(hi, 1000000);
    }
}

/* --- profile keys ---------------------------------------------------------------------- */

typedef struct keys_ctx {
    fx_head_profile_key_t *v;
    int64_t *values;      /* with q->key_values, parallel to v */
    uint32_t *target;     /* with q->key_values: position of the key's target */
    const fx__target_t *tg0;
    int with_values;
    size_t n, cap, capv;
    fx_head_span_value_t *spans; /* FX_KEY_SPANS */
    size_t nspans, capspans;
} keys_ctx_t;

static int keys_span(void *arg, uint64_t span, int64_t total)
{
    keys_ctx_t *c = arg;
    FX_GROW(c->spans, c->capspans, c->nspans + 1);
    c->spans[c->nspans++] = (fx_head_span_value_t){c->v[c->n], span, total};
    return FX_OK;
}

static int keys_row(void *arg, const fx__target_t *tg, int64_t ts, const uint8_t *id,
                    const fx_row_t *row, fx_err_t *err)
{
    keys_ctx_t *c = arg;
    if (c->with_values) {
        if (tg->col >= row->ncols)
            return fx_err_set(err, FX_ECORRUPT, "stored profile row has %u columns, expected > %u",
                              row->ncols, tg->col);
        size_t cap = c->capv;
        FX_GROW(c->values, cap, c->n + 1);
        c->target = fx_realloc(c->target, cap * sizeof *c->target);
        c->capv = cap;
        c->values[c->n] = row->cols[tg->col].total;
        c->target[c->n] = (uint32_t)(tg - c->tg0);
    }
    FX_GROW(c->v, c->cap, c->n + 1);
    c->v[c->n].fingerprint = tg->fp;
    c->v[c->n].time_ns = ts;
    memcpy(c->v[c->n].id, id, 16);
    if (c->with_values & FX_KEY_SPANS) {
        int rc = fx_row_span_totals(row, tg->col, keys_span, c, err);
        if (rc)
            return rc;
    }
    c->n++;
    return FX_OK;
}

/* The full labels of series s, copied into a. */
static fx_labels_t series_labels(const fx__index_t *x, const fx__series_t *s, fx_arena_t *a)
{
    const uint32_t *l = &x->lbl[s->lbl_off];
    fx_labels_t out = {fx_arena_alloc(a, (s->nlbl + 1) * sizeof(fx_label_t)), s->nlbl};
    for (uint32_t i = 0; i < s->nlbl; i++) {
        out.v[i].name = fx_arena_strdup(a, fx_strtab_get(&x->lstr, l[2 * i]));
        out.v[i].value = fx_arena_strdup(a, fx_strtab_get(&x->lstr, l[2 * i + 1]));
    }
    return out;
}

/* A key with what travels with it, for sorting the columns together. */
typedef struct keyval {
    fx_head_profile_key_t key;
    int64_t value;
    uint32_t target;
} keyval_t;

static int cmp_keyval(const void *a, const void *b)
{
    return fx_head_key_cmp(&((const keyval_t *)a)->key, &((const keyval_t *)b)->key);
}

/* Fills out's values and labels from c (keys sorted along with them). */
static void keys_with_values(const fx__source_t *src, const fx__target_t *tg, size_t ntg,
                             keys_ctx_t *c, fx_arena_t *a, fx_head_keys_t *out)
{
    keyval_t *kv = fx_malloc((c->n + 1) * sizeof *kv);
    for (size_t i = 0; i < c->n; i++)
        kv[i] = (keyval_t){c->v[i], c->values[i], c->target[i]};
    if (c->n > 1)
        qsort(kv, c->n, sizeof *kv, cmp_keyval);
    /* One labels array per series, shared by its keys. */
    fx_labels_t *tl = fx_calloc(ntg + 1, sizeof *tl);
    uint8_t *have = fx_calloc(ntg + 1, 1);
    src_lock(src);
    for (size_t i = 0; i < c->n; i++) {
        uint32_t t = kv[i].target;
        if (!have[t]) {
            tl[t] = series_labels(src->idx, &src->idx->series[tg[t].series], a);
            have[t] = 1;
        }
    }
    src_unlock(src);
    out->v = fx_arena_alloc(a, (c->n + 1) * sizeof *out->v);
    out->values = fx_arena_alloc(a, (c->n + 1) * sizeof *out->values);
    out->labels = fx_arena_alloc(a, (c->n + 1) * sizeof *out->labels);
    for (size_t i = 0; i < c->n; i++) {
        out->v[i] = kv[i].key;
        out->values[i] = kv[i].value;
        out->labels[i] = tl[kv[i].target];
    }
    out->len = c->n;
    free(have);
    free(tl);
    free(kv);
}

int fx__q_profile_keys(const fx__source_t *src, const fx_head_query_t *q, fx_arena_t *a,
                       fx_head_keys_t *out, fx_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (!src) {
        if (q->key_values) {
            out->values = fx_arena_alloc(a, sizeof *out->values);
            out->labels = fx_arena_alloc(a, sizeof *out->labels);
        }
        return FX_OK;
    }
    size_t ntg = 0;
    keys_ctx_t c = {NULL, NULL, NULL, NULL, q->key_values, 0, 0, 0, NULL, 0, 0};
    fx__target_t *tg = NULL;
    int rc = src_begin(src, err);
    if (rc == FX_OK) {
        src_lock(src);
        tg = fx__targets(src->idx, q, &ntg);
        src_unlock(src);
        c.tg0 = tg;
        rc = src_scan(src, q, tg, ntg, q->key_values & FX_KEY_SPANS ? FX__NEED_SPANS : 0,
                      keys_row, &c, err);
    }
    if (rc == FX_OK && q->key_values) {
        keys_with_values(src, tg, ntg, &c, a, out);
        out->spans = fx_arena_alloc(a, (c.nspans + 1) * sizeof *out->spans);
        if (c.nspans)
            memcpy(out->spans, c.spans, c.nspans * sizeof *c.spans);
        out->nspans = c.nspans;
    } else if (rc == FX_OK) {
        if (c.n > 1)
            qsort(c.v, c.n, sizeof *c.v, fx_head_key_cmp);
        out->v = fx_arena_alloc(a, (c.n + 1) * sizeof *out->v);
        if (c.n)
            memcpy(out->v, c.v, c.n * sizeof *c.v);
        out->len = c.n;
    }
    src_end(src);
    free(tg);
    free(c.v);
    free(c.values);
    free(c.target);
    free(c.spans);
    return rc;
}

/* --- SelectSeries --------------------------------------------------------------------------- */

typedef struct tsent {
    uint32_t group;
    int64_t bucket;
    int64_t value;
} tsent_t;

typedef struct ts_ctx {
    const uint32_t *group_of_target; /* indexed by target position */
    const fx__target_t *tg0;
    tsent_t *v;
    size_t n, cap;
    int64_t start_ms, step_ms;
} ts_ctx_t;

static int ts_row(void *arg, const fx__target_t *tg, int64_t ts, const uint8_t *id,
                  const fx_row_t *row, fx_err_t *err)
{
    ts_ctx_t *c = arg;
    (void)id;
    if (tg->col >= row->ncols)
        return fx_err_set(err, FX_ECORRUPT, "stored profile row has %u columns, expected > %u",
                          row->ncols, tg->col);
    int64_t ts_ms = floor_div(ts, 1000000);
    /* Pyroscope's rangeSeries: the first step t >= ts collects it. */
    __int128 d = (__int128)ts_ms - c->start_ms;
    int64_t k = d <= 0 ? 0 : (int64_t)((d + c->step_ms - 1) / c->step_ms);
    FX_GROW(c->v, c->cap, c->n + 1);
    c->v[c->n].group = c->group_of_target[tg - c->tg0];
    c->v[c->n].bucket = k;
    c->v[c->n].value = row->cols[tg->col].total;
    c->n++;
    return FX_OK;
}

static int cmp_ts_labels(const void *a, const void *b)
{
    return fx_labels_cmp(&((const fx_head_ts_t *)a)->labels, &((const fx_head_ts_t *)b)->labels);
}

static int cmp_tsent(const void *a, const void *b)
{
    const tsent_t *x = a, *y = b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    return (x->bucket > y->bucket) - (x->bucket < y->bucket);
}

int fx__q_select_series(const fx__source_t *src, const fx_head_query_t *q, const char *const *by,
                        size_t nby, int64_t step_ms, fx_head_aggregation_t agg, fx_arena_t *a,
                        fx_head_ts_list_t *out, fx_err_t *err)
{
    out->v = NULL;
    out->len = 0;
    if (step_ms < 1)
        return fx_err_set(err, FX_EINVAL, "step must be at least 1 ms");
    if (!src)
        return FX_OK;
    size_t ntg = 0;
    fx_strtab_t groups;
    fx_buf_t key = FX_BUF_INIT;
    int64_t *name_ids = fx_malloc((nby + 1) * sizeof *name_ids);
    ts_ctx_t c = {NULL, NULL, NULL, 0, 0, q->start_ms, step_ms};
    fx__target_t *tg = NULL;
    uint32_t *gt = NULL;
    const fx__index_t *x = src->idx;
    fx_strtab_init(&groups);

    int rc = src_begin(src, err);
    if (rc)
        goto out;
    src_lock(src);
    tg = fx__targets(x, q, &ntg);
    gt = fx_malloc((ntg + 1) * sizeof *gt);
    for (size_t i = 0; i < nby; i++)
        name_ids[i] = fx_strtab_find(&x->lstr, by[i], strlen(by[i]));
    for (size_t i = 0; i < ntg; i++)
        gt[i] = group_of(x, &x->series[tg[i].series], by, nby, name_ids, &groups, &key);
    src_unlock(src);

    c.group_of_target = gt;
    c.tg0 = tg;
    rc = src_scan(src, q, tg, ntg, 0, ts_row, &c, err);
    if (rc)
        goto out;

    if (c.n > 1)
        qsort(c.v, c.n, sizeof *c.v, cmp_tsent);
    out->v = fx_arena_calloc(a, (groups.len + 1) * sizeof *out->v);
    src_lock(src);
    for (size_t g = 0; g < groups.len; g++)
        out->v[g].labels = group_labels(x, &groups, (uint32_t)g, a);
    src_unlock(src);
    /* Entries are sorted by (group, bucket): one pass folds them into points. */
    for (size_t i = 0; i < c.n;) {
        size_t j = i;
        while (j < c.n && c.v[j].group == c.v[i].group)
            j++;
        fx_head_ts_t *s = &out->v[c.v[i].group];
        s->points = fx_arena_alloc(a, (j - i) * sizeof *s->points);
        for (size_t b = i; b < j;) {
            size_t e = b;
            double sum = 0;
            while (e < j && c.v[e].bucket == c.v[b].bucket)
                sum += (double)c.v[e++].value;
            if (agg == FX_AGG_AVERAGE)
                sum /= (double)(e - b);
            else if (agg == FX_AGG_COUNT)
                sum = (double)(e - b);
            __int128 pt = (__int128)q->start_ms + (__int128)c.v[b].bucket * step_ms;
            s->points[s->npoints].ts_ms = pt > INT64_MAX ? INT64_MAX : (int64_t)pt;
            s->points[s->npoints].value = sum;
            s->npoints++;
            s->total += sum;
            b = e;
        }
        i = j;
    }
    /* Drop groups whose targets had no rows in range. */
    for (size_t g = 0; g < groups.len; g++)
        if (out->v[g].npoints)
            out->v[out->len++] = out->v[g];
    qsort(out->v, out->len, sizeof *out->v, cmp_ts_labels);
out:
    src_end(src);
    free(tg);
    free(gt);
    free(c.v);
    free(name_ids);
    fx_buf_free(&key);
    fx_strtab_free(&groups);
    return rc;
}

static int cmp_ts_total(const void *a, const void *b)
{
    const fx_head_ts_t *x = a, *y = b;
    if (x->total != y->total)
        return x->total > y->total ? -1 : 1;
    return fx_labels_cmp(&x->labels, &y->labels);
}

void fx_head_ts_top(fx_head_ts_list_t *l, size_t limit)
{
    if (l->len > 1)
        qsort(l->v, l->len, sizeof *l->v, cmp_ts_total);
    if (limit && l->len > limit)
        l->len = limit;
}
