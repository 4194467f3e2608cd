/*
 * index.c - a tenant's series: label sets with ids, row series (pseries),
 * the inverted index from label name/value to series ids (CRoaring
 * bitmaps), and selector evaluation over it: `=` is one postings lookup,
 * `!=`, `=~` and `!~` scan the values known for the name. As in Prometheus
 * a missing label counts as "", so a matcher that accepts "" also selects
 * series without the label.
 */
#include "storage/tables.h"

#include <stdlib.h>
#include <string.h>

void fx__index_init(fx__index_t *x)
{
    memset(x, 0, sizeof *x);
    fx_strtab_init(&x->lstr);
    fx_map64_init(&x->post_ix);
    fx_map64_init(&x->name_ix);
    x->all = roaring_bitmap_create();
}

void fx__index_free(fx__index_t *x)
{
    fx_strtab_free(&x->lstr);
    free(x->lbl);
    for (size_t i = 0; i < x->nseries; i++)
        free(x->series[i].refs);
    free(x->series);
    fx__idtab_free(&x->series_ix);
    free(x->pcols);
    free(x->ps);
    fx__idtab_free(&x->ps_ix);
    fx_map64_free(&x->post_ix);
    for (size_t i = 0; i < x->npost; i++)
        roaring_bitmap_free(x->post[i]);
    free(x->post);
    fx_map64_free(&x->name_ix);
    for (size_t i = 0; i < x->nnames; i++)
        free(x->names[i].values);
    free(x->names);
    roaring_bitmap_free(x->all);
    memset(x, 0, sizeof *x);
}

static const char *lstr(const fx__index_t *x, uint32_t id)
{
    return fx_strtab_get(&x->lstr, id);
}

static int series_eq(const void *ctx, uint32_t id, const void *key)
{
    const fx__index_t *x = ctx;
    const fx_labels_t *l = key;
    const fx__series_t *s = &x->series[id];
    if (s->nlbl != l->len)
        return 0;
    for (uint32_t i = 0; i < s->nlbl; i++)
        if (strcmp(lstr(x, x->lbl[s->lbl_off + 2 * i]), l->v[i].name) != 0 ||
            strcmp(lstr(x, x->lbl[s->lbl_off + 2 * i + 1]), l->v[i].value) != 0)
            return 0;
    return 1;
}

uint32_t fx__index_find_series(const fx__index_t *x, const fx_labels_t *l, uint64_t fp)
{
    return fx__idtab_find(&x->series_ix, fx_mix64(fp), series_eq, x, l);
}

static roaring_bitmap_t *postings(const fx__index_t *x, uint32_t name, uint32_t value)
{
    uint64_t *i = fx_map64_get(&x->post_ix, (uint64_t)name << 32 | value);
    return i ? x->post[*i] : NULL;
}

static void post_add(fx__index_t *x, uint32_t name, uint32_t value, uint32_t series)
{
    const uint64_t *slot = fx_map64_get(&x->post_ix, (uint64_t)name << 32 | value);
    roaring_bitmap_t *b;
    if (slot) {
        b = x->post[*slot];
    } else {
        b = roaring_bitmap_create();
        fx__index_put_postings(x, name, value, b);
    }
    roaring_bitmap_add(b, series);
}

uint32_t fx__index_add_series(fx__index_t *x, const fx_labels_t *l, uint64_t fp)
{
    uint32_t id = (uint32_t)x->nseries;
    FX_GROW(x->series, x->capseries, x->nseries + 1);
    FX_GROW(x->lbl, x->caplbl, x->nlbl + 2 * l->len);
    fx__series_t *s = &x->series[id];
    memset(s, 0, sizeof *s);
    s->lbl_off = (uint32_t)x->nlbl;
    s->nlbl = (uint32_t)l->len;
    s->fp = fp;
    s->ptype = UINT32_MAX;
    for (size_t i = 0; i < l->len; i++) {
        uint32_t n = fx_strtab_intern(&x->lstr, l->v[i].name, strlen(l->v[i].name));
        uint32_t v = fx_strtab_intern(&x->lstr, l->v[i].value, strlen(l->v[i].value));
        x->lbl[x->nlbl++] = n;
        x->lbl[x->nlbl++] = v;
        if (strcmp(l->v[i].name, FX_LABEL_PROFILE_TYPE) == 0)
            s->ptype = v;
        post_add(x, n, v, id);
    }
    roaring_bitmap_add(x->all, id);
    fx__idtab_insert(&x->series_ix, fx_mix64(fp), id);
    x->nseries++;
    return id;
}

uint32_t fx__index_add_series_ids(fx__index_t *x, const uint32_t *pairs, uint32_t nlbl,
                                  uint64_t fp)
{
    uint32_t id = (uint32_t)x->nseries;
    int64_t pt = fx_strtab_find(&x->lstr, FX_LABEL_PROFILE_TYPE, strlen(FX_LABEL_PROFILE_TYPE));
    FX_GROW(x->series, x->capseries, x->nseries + 1);
    FX_GROW(x->lbl, x->caplbl, x->nlbl + 2 * (size_t)nlbl);
    fx__series_t *s = &x->series[id];
    memset(s, 0, sizeof *s);
    s->lbl_off = (uint32_t)x->nlbl;
    s->nlbl = nlbl;
    s->fp = fp;
    s->ptype = UINT32_MAX;
    for (uint32_t i = 0; i < nlbl; i++) {
        x->lbl[x->nlbl++] = pairs[2 * i];
        x->lbl[x->nlbl++] = pairs[2 * i + 1];
        if ((int64_t)pairs[2 * i] == pt)
            s->ptype = pairs[2 * i + 1];
    }
    roaring_bitmap_add(x->all, id);
    fx__idtab_insert(&x->series_ix, fx_mix64(fp), id);
    x->nseries++;
    return id;
}

int fx__index_put_postings(fx__index_t *x, uint32_t name, uint32_t value, roaring_bitmap_t *b)
{
    int inserted;
    uint64_t *slot = fx_map64_put(&x->post_ix, (uint64_t)name << 32 | value, &inserted);
    if (!inserted)
        return -1;
    FX_GROW(x->post, x->cappost, x->npost + 1);
    x->post[x->npost] = b;
    *slot = x->npost++;
    uint64_t *ni = fx_map64_put(&x->name_ix, name, &inserted);
    if (inserted) {
        FX_GROW(x->names, x->capnames, x->nnames + 1);
        memset(&x->names[x->nnames], 0, sizeof x->names[0]);
        x->names[x->nnames].name = name;
        *ni = x->nnames++;
    }
    fx__lname_t *ln = &x->names[*ni];
    FX_GROW(ln->values, ln->cap, ln->nvalues + 1);
    ln->values[ln->nvalues++] = value;
    return 0;
}

typedef struct pkey {
    const uint32_t *cols;
    uint32_t ncols;
} pkey_t;

static int ps_eq(const void *ctx, uint32_t id, const void *key)
{
    const fx__index_t *x = ctx;
    const pkey_t *k = key;
    const fx__pseries_t *p = &x->ps[id];
    return p->ncols == k->ncols && memcmp(&x->pcols[p->col_off], k->cols, k->ncols * 4) == 0;
}

uint32_t fx__index_find_pseries(const fx__index_t *x, const uint32_t *cols, uint32_t ncols)
{
    pkey_t k = {cols, ncols};
    return fx__idtab_find(&x->ps_ix, fx_hash64(cols, ncols * 4, 5), ps_eq, x, &k);
}

uint32_t fx__index_add_pseries(fx__index_t *x, const uint32_t *cols, uint32_t ncols)
{
    uint32_t id = (uint32_t)x->nps;
    FX_GROW(x->ps, x->capps, x->nps + 1);
    FX_GROW(x->pcols, x->cappcols, x->npcols + ncols);
    fx__pseries_t *p = &x->ps[id];
    p->ncols = ncols;
    p->col_off = (uint32_t)x->npcols;
    p->min_ns = INT64_MAX;
    p->max_ns = INT64_MIN;
    p->rows = 0;
    memcpy(&x->pcols[x->npcols], cols, ncols * 4);
    x->npcols += ncols;
    for (uint32_t c = 0; c < ncols; c++) {
        fx__series_t *s = &x->series[cols[c]];
        if (s->nrefs == s->caprefs) {
            s->caprefs = s->caprefs ? s->caprefs * 2 : 1;
            s->refs = fx_realloc(s->refs, s->caprefs * sizeof *s->refs);
        }
        s->refs[s->nrefs].pseries = id;
        s->refs[s->nrefs].col = c;
        s->nrefs++;
    }
    fx__idtab_insert(&x->ps_ix, fx_hash64(cols, ncols * 4, 5), id);
    x->nps++;
    return id;
}

/* Series chunk: per series nlabels, then (len, name, len, value) pairs.
 * Pseries chunk: per pseries ncols, then the series id of each column. */
void fx__index_encode_chunk(const fx__index_t *x, int kind, size_t from, size_t to, fx_buf_t *out)
{
    for (size_t i = from; i < to; i++) {
        if (kind == FX__K_SERIES) {
            const fx__series_t *s = &x->series[i];
            fx_buf_uvarint(out, s->nlbl);
            for (uint32_t j = 0; j < 2 * s->nlbl; j++) {
                uint32_t id = x->lbl[s->lbl_off + j];
                fx_buf_uvarint(out, fx_strtab_len(&x->lstr, id));
                fx_buf_append(out, lstr(x, id), fx_strtab_len(&x->lstr, id));
            }
        } else {
            FX_ASSERT(kind == FX__K_PSERIES);
            const fx__pseries_t *p = &x->ps[i];
            fx_buf_uvarint(out, p->ncols);
            for (uint32_t c = 0; c < p->ncols; c++)
                fx_buf_uvarint(out, x->pcols[p->col_off + c]);
        }
    }
}

#define CORRUPT(...) fx_err_set(err, FX_ECORRUPT, "stored series index is corrupt: " __VA_ARGS__)

int fx__index_load_chunk(fx__index_t *x, int kind, uint32_t first, const uint8_t *p, size_t n,
                         fx_err_t *err)
{
    const uint8_t *end = p + n;
    uint64_t a, b;
    int rc = FX_OK;
    fx_arena_t arena;

    if (first != (kind == FX__K_SERIES ? x->nseries : x->nps))
        return CORRUPT("chunk of kind %c starts at %u", kind, first);
    fx_arena_init(&arena);
    while (p < end) {
        if (fx_uvarint(&p, end, &a) || a == 0 || a > (uint64_t)(end - p)) {
            rc = CORRUPT("bad count");
            goto out;
        }
        if (kind == FX__K_SERIES) {
            fx_labels_t l = {fx_arena_alloc(&arena, a * sizeof(fx_label_t)), 0};
            for (uint64_t j = 0; j < 2 * a; j++) {
                if (fx_uvarint(&p, end, &b) || b > (uint64_t)(end - p)) {
                    rc = CORRUPT("bad label in series %zu", x->nseries);
                    goto out;
                }
                char *s = fx_arena_strndup(&arena, (const char *)p, b);
                if (strlen(s) != b) {
                    rc = CORRUPT("NUL in a label of series %zu", x->nseries);
                    goto out;
                }
                if (j & 1)
                    l.v[l.len++].value = s;
                else
                    l.v[l.len].name = s;
                p += b;
            }
            uint64_t fp = fx_labels_fingerprint(&l);
            if (fx__index_find_series(x, &l, fp) != UINT32_MAX) {
                rc = CORRUPT("duplicate series %zu", x->nseries);
                goto out;
            }
            fx__index_add_series(x, &l, fp);
        } else {
            uint32_t cols[FX_ROW_MAX_COLS];
            if (a > FX_ROW_MAX_COLS) {
                rc = CORRUPT("pseries %zu has %llu columns", x->nps, (unsigned long long)a);
                goto out;
            }
            for (uint64_t c = 0; c < a; c++) {
                if (fx_uvarint(&p, end, &b) || b >= x->nseries) {
                    rc = CORRUPT("pseries %zu names an unknown series", x->nps);
                    goto out;
                }
                cols[c] = (uint32_t)b;
            }
            fx__index_add_pseries(x, cols, (uint32_t)a);
        }
        fx_arena_free(&arena);
        fx_arena_init(&arena);
    }
out:
    fx_arena_free(&arena);
    return rc;
}

const char *fx__series_label(const fx__index_t *x, const fx__series_t *s, const char *name)
{
    for (uint32_t i = 0; i < s->nlbl; i++)
        if (strcmp(lstr(x, x->lbl[s->lbl_off + 2 * i]), name) == 0)
            return lstr(x, x->lbl[s->lbl_off + 2 * i + 1]);
    return NULL;
}

fx_labels_t fx__series_labels(const fx__index_t *x, const fx__series_t *s, fx_arena_t *a)
{
    fx_labels_t l = {fx_arena_alloc(a, (s->nlbl ? s->nlbl : 1) * sizeof(fx_label_t)), s->nlbl};
    for (uint32_t i = 0; i < s->nlbl; i++) {
        uint32_t n = x->lbl[s->lbl_off + 2 * i], v = x->lbl[s->lbl_off + 2 * i + 1];
        l.v[i].name = fx_arena_strndup(a, lstr(x, n), fx_strtab_len(&x->lstr, n));
        l.v[i].value = fx_arena_strndup(a, lstr(x, v), fx_strtab_len(&x->lstr, v));
    }
    return l;
}

/* The series one matcher selects (a new bitmap). */
static roaring_bitmap_t *matcher_set(const fx__index_t *x, const fx_matcher_t *m)
{
    int64_t name = fx_strtab_find(&x->lstr, m->name, strlen(m->name));
    int64_t value;
    roaring_bitmap_t *r, *p;

    if ((m->op == FX_MATCH_EQ || m->op == FX_MATCH_NEQ) && m->value[0]) {
        value = name < 0 ? -1 : fx_strtab_find(&x->lstr, m->value, strlen(m->value));
        p = value < 0 ? NULL : postings(x, (uint32_t)name, (uint32_t)value);
        if (m->op == FX_MATCH_EQ)
            return p ? roaring_bitmap_copy(p) : roaring_bitmap_create();
        r = roaring_bitmap_copy(x->all);
        if (p)
            roaring_bitmap_andnot_inplace(r, p);
        return r;
    }
    int matches_empty = fx_matcher_match(m, "");
    uint64_t *ni = name < 0 ? NULL : fx_map64_get(&x->name_ix, (uint64_t)name);
    if (!ni)
        return matches_empty ? roaring_bitmap_copy(x->all) : roaring_bitmap_create();
    const fx__lname_t *ln = &x->names[*ni];
    r = matches_empty ? roaring_bitmap_copy(x->all) : roaring_bitmap_create();
    for (size_t i = 0; i < ln->nvalues; i++) {
        int match = fx_matcher_match(m, lstr(x, ln->values[i]));
        if (match == matches_empty)
            continue;
        p = postings(x, (uint32_t)name, ln->values[i]);
        if (matches_empty)
            roaring_bitmap_andnot_inplace(r, p);
        else
            roaring_bitmap_or_inplace(r, p);
    }
    return r;
}

static roaring_bitmap_t *selector_set(const fx__index_t *x, const fx_selector_t *sel)
{
    roaring_bitmap_t *r = NULL;
    for (size_t i = 0; i < sel->len; i++) {
        roaring_bitmap_t *s = matcher_set(x, &sel->m[i]);
        if (!r) {
            r = s;
        } else {
            roaring_bitmap_and_inplace(r, s);
            roaring_bitmap_free(s);
        }
        if (roaring_bitmap_is_empty(r))
            break;
    }
    return r ? r : roaring_bitmap_copy(x->all);
}

roaring_bitmap_t *fx__index_select(const fx__index_t *x, const fx_head_query_t *q)
{
    roaring_bitmap_t *r;
    if (q->nselectors == 0) {
        r = roaring_bitmap_copy(x->all);
    } else {
        r = selector_set(x, &q->selectors[0]);
        for (size_t i = 1; i < q->nselectors; i++) {
            roaring_bitmap_t *s = selector_set(x, &q->selectors[i]);
            roaring_bitmap_or_inplace(r, s);
            roaring_bitmap_free(s);
        }
    }
    if (q->profile_type && *q->profile_type) {
        int64_t n = fx_strtab_find(&x->lstr, FX_LABEL_PROFILE_TYPE, strlen(FX_LABEL_PROFILE_TYPE));
        int64_t v = fx_strtab_find(&x->lstr, q->profile_type, strlen(q->profile_type));
        roaring_bitmap_t *p = n < 0 || v < 0 ? NULL : postings(x, (uint32_t)n, (uint32_t)v);
        if (p) {
            roaring_bitmap_and_inplace(r, p);
        } else {
            roaring_bitmap_free(r);
            r = roaring_bitmap_create();
        }
    }
    return r;
}

void fx__query_range(const fx_head_query_t *q, int64_t *lo, int64_t *hi)
{
    const int64_t lim = INT64_MAX / 1000000 - 1;
    if (q->start_ms == 0 && q->end_ms == 0) {
        *lo = INT64_MIN;
        *hi = INT64_MAX;
        return;
    }
    *lo = q->start_ms < -lim ? INT64_MIN : q->start_ms > lim ? INT64_MAX : q->start_ms * 1000000;
    *hi = q->end_ms > lim ? INT64_MAX : q->end_ms < -lim ? INT64_MIN : q->end_ms * 1000000 + 999999;
}

int fx__series_in_range(const fx__index_t *x, const fx__series_t *s, int64_t lo, int64_t hi)
{
    for (uint32_t i = 0; i < s->nrefs; i++) {
        const fx__pseries_t *p = &x->ps[s->refs[i].pseries];
        if (p->rows && p->min_ns <= hi && p->max_ns >= lo)
            return 1;
    }
    return 0;
}

