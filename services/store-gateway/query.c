/*
 * query.c - the head's queries over many blocks, each profile counted once.
 *
 * With ingester replication factor 3 the bucket holds three blocks of the
 * same data (one per ingester), and blocks of neighbouring ranges may
 * overlap: the same profile key (series fingerprint, time, profile id) is
 * then in several blocks. Only blocks whose [minTime, maxTime] ranges
 * overlap can share a key, so the blocks of a query are split into runs of
 * overlapping ranges. A run of one block is queried as it is. In a longer
 * run every block lists its keys (honouring the request's `only`), each key
 * is assigned to the first block that has it (compacted blocks first), and
 * each block then merges exactly its assigned keys through the block
 * queries' keyset restriction. Label queries are unions and need no keys.
 *
 * A block failing a checksum is taken out of service (blocks.c) and the
 * query continues without it. If that happens after keys were assigned, a
 * replica of its keys may be elsewhere: the query is planned again without
 * it, so the answer stays exact.
 */
#include "sg_int.h"
#include "core/mem.h"
#include "core/strtab.h"
#include "log/log.h"
#include "pprof/merge.h"
#include "pprof/pprof.h"
#include "storage/engine.h"

#include <stdlib.h>
#include <string.h>

#define REPLAN 1     /* internal: a block vanished mid-query, plan again */
#define MAX_PLANS 4

/* FX_OK after a checksum failure (the block is taken out, *skipped set);
 * other codes pass through. */
static int settle(sg_t *g, sg_block_t *b, int rc, const fx_err_t *err, bool *skipped)
{
    *skipped = rc == FX_ECORRUPT;
    if (*skipped) {
        sg__block_corrupt(g, b, err);
        return FX_OK;
    }
    return rc;
}

/* --- unions -------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

enum { NAMES, VALUES, TYPES };

static int strings(sg_t *g, const fx_head_query_t *q, int kind, const char *name, fx_arena_t *a,
                   fx_head_strings_t *out, fx_err_t *err)
{
    sg_view_t v;
    char **all = NULL;
    size_t n = 0, cap = 0;
    int rc = FX_OK;
    out->v = NULL;
    out->len = 0;
    sg__view(g, q->tenant, q->start_ms, q->end_ms, &v);
    for (size_t i = 0; i < v.n && rc == FX_OK; i++) {
        fx_head_strings_t s = {0};
        fx_block_t *b = v.v[i]->blk;
        bool skipped;
        rc = kind == NAMES    ? fx_block_label_names(b, q, a, &s, err)
             : kind == VALUES ? fx_block_label_values(b, q, name, a, &s, err)
                              : fx_block_profile_types(b, q, a, &s, err);
        if ((rc = settle(g, v.v[i], rc, err, &skipped)) < 0 || skipped)
            continue;
        if (v.n == 1) {
            *out = s; /* one block: already sorted and unique */
            break;
        }
        if (!s.len)
            continue;
        FX_GROW(all, cap, n + s.len);
        memcpy(all + n, s.v, s.len * sizeof *all);
        n += s.len;
    }
    sg__view_release(g, &v);
    if (rc == FX_OK && all) {
        qsort(all, n, sizeof *all, cmp_str);
        out->v = fx_arena_alloc(a, (n + 1) * sizeof *out->v);
        for (size_t i = 0; i < n; i++)
            if (!out->len || strcmp(out->v[out->len - 1], all[i]))
                out->v[out->len++] = all[i];
    }
    if (rc == FX_OK && !out->v)
        out->v = fx_arena_alloc(a, sizeof *out->v);
    free(all);
    return rc;
}

int sg_label_names(sg_t *g, const fx_head_query_t *q, fx_arena_t *a, fx_head_strings_t *out,
                   fx_err_t *err)
{
    return strings(g, q, NAMES, NULL, a, out, err);
}

int sg_label_values(sg_t *g, const fx_head_query_t *q, const char *name, fx_arena_t *a,
                    fx_head_strings_t *out, fx_err_t *err)
{
    return strings(g, q, VALUES, name, a, out, err);
}

int sg_profile_types(sg_t *g, const fx_head_query_t *q, fx_arena_t *a, fx_head_strings_t *out,
                     fx_err_t *err)
{
    return strings(g, q, TYPES, NULL, a, out, err);
}

/* The head's order of label sets. */
static int cmp_labels_q(const void *a, const void *b)
{
    return fx_labels_cmp(a, b);
}

int sg_series(sg_t *g, const fx_head_query_t *q, const char *const *names, size_t nnames,
              fx_arena_t *a, fx_head_label_sets_t *out, fx_err_t *err)
{
    sg_view_t v;
    fx_labels_t *all = NULL;
    size_t n = 0, cap = 0;
    int rc = FX_OK;
    out->v = NULL;
    out->len = 0;
    sg__view(g, q->tenant, q->start_ms, q->end_ms, &v);
    for (size_t i = 0; i < v.n && rc == FX_OK; i++) {
        fx_head_label_sets_t s = {0};
        bool skipped;
        rc = fx_block_series(v.v[i]->blk, q, names, nnames, a, &s, err);
        if ((rc = settle(g, v.v[i], rc, err, &skipped)) < 0 || skipped)
            continue;
        if (v.n == 1) {
            *out = s;
            break;
        }
        if (!s.len)
            continue;
        FX_GROW(all, cap, n + s.len);
        memcpy(all + n, s.v, s.len * sizeof *all);
        n += s.len;
    }
    sg__view_release(g, &v);
    if (rc == FX_OK && all) {
        qsort(all, n, sizeof *all, cmp_labels_q);
        out->v = fx_arena_alloc(a, (n + 1) * sizeof *out->v);
        for (size_t i = 0; i < n; i++)
            if (!out->len || fx_labels_cmp(&out->v[out->len - 1], &all[i]))
                out->v[out->len++] = all[i];
    }
    if (rc == FX_OK && !out->v)
        out->v = fx_arena_alloc(a, sizeof *out->v);
    free(all);
    return rc;
}

int sg_profile_stats(sg_t *g, const char *tenant, fx_head_profile_stats_t *out, fx_err_t *err)
{
    sg_view_t v;
    (void)err;
    memset(out, 0, sizeof *out);
    /* meta.json's times are the floor of the first and last profile's ns,
     * in ms: exactly what the head reports. */
    sg__view(g, tenant, 0, 0, &v);
    for (size_t i = 0; i < v.n; i++) {
        const fx_block_meta_t *m = fx_block_meta(v.v[i]->blk);
        if (!m->profiles)
            continue;
        if (!out->data_ingested || m->min_time_ms < out->oldest_ms)
            out->oldest_ms = m->min_time_ms;
        if (!out->data_ingested || m->max_time_ms > out->newest_ms)
            out->newest_ms = m->max_time_ms;
        out->data_ingested = 1;
    }
    sg__view_release(g, &v);
    return FX_OK;
}

/* --- keys ------------------------------------------------------------------------------ */

/* A key and where it came from, to sort keys with their values. */
typedef struct key_ord {
    fx_head_profile_key_t key; /* first: fx_head_key_cmp reads it */
    size_t at;
} key_ord_t;

static int cmp_key_ord(const void *a, const void *b)
{
    return fx_head_key_cmp(&((const key_ord_t *)a)->key, &((const key_ord_t *)b)->key);
}

/* ord[i] = the position in v of the i-th key in key order. */
static void sort_keys_order(const fx_head_profile_key_t *v, size_t *ord, size_t n)
{
    key_ord_t *k = fx_malloc((n + 1) * sizeof *k);
    for (size_t i = 0; i < n; i++)
        k[i] = (key_ord_t){v[i], i};
    if (n > 1)
        qsort(k, n, sizeof *k, cmp_key_ord);
    for (size_t i = 0; i < n; i++)
        ord[i] = k[i].at;
    free(k);
}

int sg_profile_keys(sg_t *g, const fx_head_query_t *q, fx_arena_t *a, fx_head_keys_t *out,
                    fx_err_t *err)
{
    sg_view_t v;
    fx_head_keyset_t seen;
    fx_head_profile_key_t *all = NULL;
    int64_t *values = NULL;        /* with q->key_values, parallel to all */
    fx_labels_t *labels = NULL;
    fx_head_span_value_t *spans = NULL; /* of the keys a block was first to list */
    size_t n = 0, cap = 0, capv = 0, nspans = 0, capspans = 0;
    int rc = FX_OK;
    memset(out, 0, sizeof *out);
    fx_head_keyset_init(&seen);
    sg__view(g, q->tenant, q->start_ms, q->end_ms, &v);
    size_t nblocks = v.n;
    for (size_t i = 0; i < v.n && rc == FX_OK; i++) {
        fx_head_keys_t k = {0};
        bool skipped;
        rc = fx_block_profile_keys(v.v[i]->blk, q, a, &k, err);
        if ((rc = settle(g, v.v[i], rc, err, &skipped)) < 0 || skipped)
            continue;
        if (v.n == 1) {
            *out = k;
            break;
        }
        fx_head_keyset_t fresh;
        fx_head_keyset_init(&fresh);
        for (size_t j = 0; j < k.len; j++) {
            if (fx_head_keyset_has(&seen, &k.v[j]))
                continue;
            fx_head_keyset_add(&seen, &k.v[j]);
            if (k.nspans)
                fx_head_keyset_add(&fresh, &k.v[j]);
            FX_GROW(all, cap, n + 1);
            if (q->key_values) {
                size_t c = capv;
                FX_GROW(values, c, n + 1);
                labels = fx_realloc(labels, c * sizeof *labels);
                capv = c;
                values[n] = k.values[j];
                labels[n] = k.labels[j];
            }
            all[n++] = k.v[j];
        }
        /* A profile's spans come from the block that gave its key. */
        for (size_t j = 0; j < k.nspans; j++) {
            if (!fx_head_keyset_has(&fresh, &k.spans[j].key))
                continue;
            FX_GROW(spans, capspans, nspans + 1);
            spans[nspans++] = k.spans[j];
        }
        fx_head_keyset_free(&fresh);
    }
    sg__view_release(g, &v);
    fx_head_keyset_free(&seen);
    if (rc == FX_OK && nblocks != 1) {
        /* Keys of several blocks: back to (time, fingerprint) order, with
         * values and labels moving along. */
        size_t *ord = fx_malloc((n + 1) * sizeof *ord);
        for (size_t i = 0; i < n; i++)
            ord[i] = i;
        sort_keys_order(all, ord, n);
        out->v = fx_arena_alloc(a, (n + 1) * sizeof *out->v);
        if (q->key_values) {
            out->values = fx_arena_alloc(a, (n + 1) * sizeof *out->values);
            out->labels = fx_arena_alloc(a, (n + 1) * sizeof *out->labels);
        }
        for (size_t i = 0; i < n; i++) {
            out->v[i] = all[ord[i]];
            if (q->key_values) {
                out->values[i] = values[ord[i]];
                out->labels[i] = labels[ord[i]];
            }
        }
        out->len = n;
        out->spans = fx_arena_alloc(a, (nspans + 1) * sizeof *out->spans);
        if (nspans)
            memcpy(out->spans, spans, nspans * sizeof *spans);
        out->nspans = nspans;
        free(ord);
    }
    if (rc == FX_OK && !out->v)
        out->v = fx_arena_alloc(a, sizeof *out->v);
    if (rc == FX_OK && q->key_values && !out->values) {
        out->values = fx_arena_alloc(a, sizeof *out->values);
        out->labels = fx_arena_alloc(a, sizeof *out->labels);
    }
    free(all);
    free(values);
    free(labels);
    free(spans);
    return rc;
}

/* --- planning selects -------------------------------------------------------------------- */

typedef struct plan {
    sg_view_t v;
    fx_head_keyset_t *only; /* per block, valid where assigned[i] */
    uint8_t *assigned;      /* the block merges only[i] (it shares a run) */
    uint8_t *skip;          /* nothing to do (no keys assigned, or corrupted) */
    size_t active;          /* blocks not skipped */
} plan_t;

static void plan_free(sg_t *g, plan_t *p)
{
    for (size_t i = 0; i < p->v.n; i++)
        if (p->assigned[i])
            fx_head_keyset_free(&p->only[i]);
    free(p->only);
    free(p->assigned);
    free(p->skip);
    sg__view_release(g, &p->v);
}

/* Assigns every key of the blocks [from, to) (one run) to the first block
 * listing it. */
static int assign(sg_t *g, const fx_head_query_t *q, plan_t *p, size_t from, size_t to,
                  fx_err_t *err)
{
    fx_head_keyset_t seen;
    int rc = FX_OK;
    fx_head_keyset_init(&seen);
    for (size_t i = from; i < to && rc == FX_OK; i++) {
        fx_arena_t a;
        fx_head_keys_t k = {0};
        bool skipped;
        fx_arena_init(&a);
        rc = fx_block_profile_keys(p->v.v[i]->blk, q, &a, &k, err);
        rc = settle(g, p->v.v[i], rc, err, &skipped);
        if (rc == FX_OK && !skipped) {
            p->assigned[i] = 1;
            fx_head_keyset_init(&p->only[i]);
            for (size_t j = 0; j < k.len; j++) {
                if (fx_head_keyset_has(&seen, &k.v[j]))
                    continue;
                fx_head_keyset_add(&seen, &k.v[j]);
                fx_head_keyset_add(&p->only[i], &k.v[j]);
            }
        }
        if (skipped || (p->assigned[i] && !p->only[i].len))
            p->skip[i] = 1;
        fx_arena_free(&a);
    }
    fx_head_keyset_free(&seen);
    return rc;
}

static int plan(sg_t *g, const fx_head_query_t *q, plan_t *p, fx_err_t *err)
{
    int rc = FX_OK;
    sg__view(g, q->tenant, q->start_ms, q->end_ms, &p->v);
    size_t n = p->v.n;
    p->only = fx_calloc(n + 1, sizeof *p->only);
    p->assigned = fx_calloc(n + 1, 1);
    p->skip = fx_calloc(n + 1, 1);
    /* The view is sorted by min time: sweep it into runs of overlap. */
    for (size_t i = 0; i < n && rc == FX_OK;) {
        size_t j = i + 1;
        int64_t hi = p->v.v[i]->max_ms;
        while (j < n && p->v.v[j]->min_ms <= hi) {
            hi = FX_MAX(hi, p->v.v[j]->max_ms);
            j++;
        }
        if (j - i > 1)
            rc = assign(g, q, p, i, j, err);
        i = j;
    }
    p->active = 0;
    for (size_t i = 0; i < n; i++)
        p->active += !p->skip[i];
    return rc;
}

/* The query block i of the plan runs. */
static fx_head_query_t block_query(const plan_t *p, size_t i, const fx_head_query_t *q)
{
    fx_head_query_t bq = *q;
    if (p->assigned[i])
        bq.only = &p->only[i];
    return bq;
}

/* After a block of the plan was found corrupted: plan again if its keys
 * may be held by another block of its run. */
static int after_skip(const plan_t *p, size_t i)
{
    return p->assigned[i] ? REPLAN : FX_OK;
}

/* --- merges ------------------------------------------------------------------------------ */

static bool tree_empty(const fx_tree_t *t)
{
    return t->len <= 1 && (!t->len || t->nodes[0].self == 0);
}

/* dst += src; src is consumed (moved when dst is empty). */
static void tree_take(fx_tree_t *dst, fx_tree_t *src)
{
    if (tree_empty(dst)) {
        fx_tree_free(dst);
        *dst = *src;
        fx_tree_init(src);
        return;
    }
    fx_tree_merge(dst, src);
}

static int merge_tree_once(sg_t *g, const fx_head_query_t *q, fx_head_grouping_t grouping,
                           fx_tree_t *acc, fx_err_t *err)
{
    plan_t p;
    int rc = plan(g, q, &p, err);
    for (size_t i = 0; i < p.v.n && rc == FX_OK; i++) {
        if (p.skip[i])
            continue;
        fx_head_query_t bq = block_query(&p, i, q);
        fx_tree_t t;
        bool skipped;
        fx_tree_init(&t);
        rc = fx_block_merge_tree(p.v.v[i]->blk, &bq, grouping, &t, err);
        rc = settle(g, p.v.v[i], rc, err, &skipped);
        if (rc == FX_OK && skipped)
            rc = after_skip(&p, i);
        else if (rc == FX_OK)
            tree_take(acc, &t);
        fx_tree_free(&t);
    }
    plan_free(g, &p);
    return rc;
}

int sg_merge_tree(sg_t *g, const fx_head_query_t *q, fx_head_grouping_t grouping, fx_tree_t *tree,
                  fx_err_t *err)
{
    int rc = REPLAN;
    for (int attempt = 0; attempt < MAX_PLANS && rc == REPLAN; attempt++) {
        fx_tree_t acc;
        fx_tree_init(&acc);
        if ((rc = merge_tree_once(g, q, grouping, &acc, err)) == FX_OK)
            tree_take(tree, &acc);
        fx_tree_free(&acc);
    }
    if (rc == REPLAN)
        rc = fx_err_set(err, FX_EUNAVAIL, "blocks kept failing their checksums during the query");
    if (rc == FX_OK)
        fx_tree_compute_totals(tree);
    return rc;
}

/* 1 if a pprof has samples (a block with nothing selected still answers
 * an empty profile of the asked type). */
static int pprof_has_samples(const fx_buf_t *b)
{
    fx_arena_t a;
    fx_pprof_t p;
    fx_err_t err;
    fx_arena_init(&a);
    int has = fx_pprof_decode(b->data, b->len, &a, &p, &err) == FX_OK && p.nsamples > 0;
    fx_pprof_free(&p);
    fx_arena_free(&a);
    return has;
}

static int merge_pprof_once(sg_t *g, const fx_head_query_t *q, fx_buf_t *out, fx_err_t *err)
{
    plan_t p;
    fx_buf_t *parts;
    size_t nparts = 0;
    int rc = plan(g, q, &p, err);
    parts = fx_calloc(p.v.n + 1, sizeof *parts);
    for (size_t i = 0; i < p.v.n && rc == FX_OK; i++) {
        if (p.skip[i])
            continue;
        fx_head_query_t bq = block_query(&p, i, q);
        bool skipped;
        fx_buf_t *b = &parts[nparts];
        rc = fx_block_merge_pprof(p.v.v[i]->blk, &bq, b, err);
        rc = settle(g, p.v.v[i], rc, err, &skipped);
        if (rc == FX_OK && skipped)
            rc = after_skip(&p, i);
        else if (rc == FX_OK)
            nparts++;
        if (rc != FX_OK || skipped)
            fx_buf_free(b);
    }
    plan_free(g, &p);
    if (rc == FX_OK) {
        /* Only profiles with samples take part, so an empty one of another
         * block does not have to match the others' types. */
        size_t k = 0;
        for (size_t i = 0; i < nparts; i++) {
            if (nparts > 1 && !pprof_has_samples(&parts[i]) && (k || i + 1 < nparts)) {
                fx_buf_free(&parts[i]);
                continue;
            }
            parts[k++] = parts[i];
        }
        nparts = k;
        if (nparts == 0) {
            rc = fx__q_merge_pprof(NULL, q, out, err); /* the head's empty answer */
        } else if (nparts == 1) {
            fx_buf_append(out, parts[0].data, parts[0].len);
        } else {
            fx_slice_t *in = fx_malloc(nparts * sizeof *in);
            for (size_t i = 0; i < nparts; i++)
                in[i] = (fx_slice_t){parts[i].data, parts[i].len};
            rc = fx_pprof_merge(in, nparts, out, err);
            free(in);
        }
    }
    for (size_t i = 0; i < nparts; i++)
        fx_buf_free(&parts[i]);
    free(parts);
    return rc;
}

int sg_merge_pprof(sg_t *g, const fx_head_query_t *q, fx_buf_t *out, fx_err_t *err)
{
    int rc = REPLAN;
    for (int attempt = 0; attempt < MAX_PLANS && rc == REPLAN; attempt++)
        rc = merge_pprof_once(g, q, out, err);
    if (rc == REPLAN)
        rc = fx_err_set(err, FX_EUNAVAIL, "blocks kept failing their checksums during the query");
    return rc;
}

/* --- series ---------------------------------------------------------------------------- */

typedef struct point {
    uint32_t group;
    int64_t ts;
    double sum, count;
} point_t;

typedef struct series_acc {
    fx_strtab_t groups;     /* formatted labels -> group id */
    fx_labels_t *labels;    /* per group (strings in the scratch arena) */
    size_t nlabels, lcap;
    point_t *pts;
    size_t n, cap;
    fx_buf_t key;
} series_acc_t;

static void acc_add(series_acc_t *s, const fx_head_ts_list_t *l, bool counts)
{
    for (size_t i = 0; i < l->len; i++) {
        const fx_head_ts_t *t = &l->v[i];
        s->key.len = 0;
        fx_labels_format(&t->labels, &s->key);
        uint32_t gid = fx_strtab_intern(&s->groups, (const char *)s->key.data, s->key.len);
        if (gid == s->nlabels) {
            FX_GROW(s->labels, s->lcap, s->nlabels + 1);
            s->labels[s->nlabels++] = t->labels;
        }
        FX_GROW(s->pts, s->cap, s->n + t->npoints);
        for (size_t k = 0; k < t->npoints; k++)
            s->pts[s->n++] = (point_t){gid, t->points[k].ts_ms, counts ? 0 : t->points[k].value,
                                       counts ? t->points[k].value : 0};
    }
}

static int cmp_point(const void *x, const void *y)
{
    const point_t *a = x, *b = y;
    if (a->group != b->group)
        return a->group < b->group ? -1 : 1;
    return (a->ts > b->ts) - (a->ts < b->ts);
}

static int cmp_ts_labels(const void *a, const void *b)
{
    return fx_labels_cmp(&((const fx_head_ts_t *)a)->labels, &((const fx_head_ts_t *)b)->labels);
}

/* Folds the accumulated points into the result (sums per timestamp per
 * label set; with counts, sum / count). */
static void acc_finish(series_acc_t *s, bool average, fx_arena_t *a, fx_head_ts_list_t *out)
{
    if (s->n > 1)
        qsort(s->pts, s->n, sizeof *s->pts, cmp_point);
    out->v = fx_arena_calloc(a, (s->nlabels + 1) * sizeof *out->v);
    out->len = 0;
    for (size_t i = 0; i < s->n;) {
        size_t j = i;
        while (j < s->n && s->pts[j].group == s->pts[i].group)
            j++;
        fx_head_ts_t *t = &out->v[out->len++];
        const fx_labels_t *l = &s->labels[s->pts[i].group];
        t->labels.len = l->len;
        t->labels.v = fx_arena_alloc(a, (l->len + 1) * sizeof *t->labels.v);
        for (size_t k = 0; k < l->len; k++) {
            t->labels.v[k].name = fx_arena_strdup(a, l->v[k].name);
            t->labels.v[k].value = fx_arena_strdup(a, l->v[k].value);
        }
        t->points = fx_arena_alloc(a, (j - i) * sizeof *t->points);
        for (size_t b = i; b < j;) {
            size_t e = b;
            double sum = 0, count = 0;
            for (; e < j && s->pts[e].ts == s->pts[b].ts; e++) {
                sum += s->pts[e].sum;
                count += s->pts[e].count;
            }
            double v = average ? (count > 0 ? sum / count : 0) : sum;
            t->points[t->npoints++] = (fx_head_point_t){s->pts[b].ts, v};
            t->total += v;
            b = e;
        }
        i = j;
    }
    if (out->len > 1)
        qsort(out->v, out->len, sizeof *out->v, cmp_ts_labels);
}

static int select_series_once(sg_t *g, const fx_head_query_t *q, const char *const *by, size_t nby,
                              int64_t step_ms, fx_head_aggregation_t agg, fx_arena_t *a,
                              fx_head_ts_list_t *out, fx_err_t *err)
{
    plan_t p;
    fx_arena_t scratch;
    series_acc_t s;
    bool average = agg == FX_AGG_AVERAGE;
    int rc = plan(g, q, &p, err);
    memset(&s, 0, sizeof s);
    fx_strtab_init(&s.groups);
    fx_arena_init(&scratch);
    for (size_t i = 0; i < p.v.n && rc == FX_OK; i++) {
        if (p.skip[i])
            continue;
        fx_head_query_t bq = block_query(&p, i, q);
        fx_head_ts_list_t l = {0};
        bool skipped;
        if (p.active == 1) {
            /* One block answers alone, with the head's own aggregation. */
            rc = fx_block_select_series(p.v.v[i]->blk, &bq, by, nby, step_ms, agg, a, out, err);
            if ((rc = settle(g, p.v.v[i], rc, err, &skipped)) == FX_OK && skipped)
                rc = after_skip(&p, i);
            goto out;
        }
        /* Averages over several blocks: sums and counts, divided at the end. */
        fx_head_ts_list_t c = {0};
        rc = fx_block_select_series(p.v.v[i]->blk, &bq, by, nby, step_ms,
                                    average ? FX_AGG_SUM : agg, &scratch, &l, err);
        if (rc == FX_OK && average)
            rc = fx_block_select_series(p.v.v[i]->blk, &bq, by, nby, step_ms, FX_AGG_COUNT,
                                        &scratch, &c, err);
        rc = settle(g, p.v.v[i], rc, err, &skipped);
        if (rc == FX_OK && skipped) {
            rc = after_skip(&p, i);
        } else if (rc == FX_OK) {
            acc_add(&s, &l, false);
            if (average)
                acc_add(&s, &c, true);
        }
    }
    if (rc == FX_OK)
        acc_finish(&s, average, a, out);
out:
    plan_free(g, &p);
    fx_strtab_free(&s.groups);
    free(s.labels);
    free(s.pts);
    fx_buf_free(&s.key);
    fx_arena_free(&scratch);
    return rc;
}

int sg_select_series(sg_t *g, const fx_head_query_t *q, const char *const *by, size_t nby,
                     int64_t step_ms, fx_head_aggregation_t agg, fx_arena_t *a,
                     fx_head_ts_list_t *out, fx_err_t *err)
{
    int rc = REPLAN;
    if (step_ms < 1)
        return fx_err_set(err, FX_EINVAL, "step must be at least 1 ms");
    for (int attempt = 0; attempt < MAX_PLANS && rc == REPLAN; attempt++) {
        out->v = NULL;
        out->len = 0;
        rc = select_series_once(g, q, by, nby, step_ms, agg, a, out, err);
    }
    if (rc == REPLAN)
        rc = fx_err_set(err, FX_EUNAVAIL, "blocks kept failing their checksums during the query");
    if (rc == FX_OK && !out->v)
        out->v = fx_arena_alloc(a, sizeof *out->v);
    return rc;
}
