/* set.c - queries over a head plus blocks, merged. */
#include "block/set.h"
#include "core/mem.h"
#include "pprof/merge.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int fx_set_block_overlaps(fx_block_t *b, const fx_head_query_t *q)
{
    const fx_block_meta_t *m = fx_block_meta(b);
    if (q->tenant && strcmp(m->tenant, q->tenant) != 0)
        return 0;
    if (q->start_ms == 0 && q->end_ms == 0)
        return 1;
    return m->max_time_ms >= q->start_ms && m->min_time_ms <= q->end_ms;
}

/* One source of a set: exactly one of head and blk is set. */
typedef struct src {
    fx_head_t *head;
    fx_block_t *blk;
} src_t;

/* Steps through the sources of s that q may read: the head (if any), then
 * every block overlapping q (every block when q is NULL). *i starts at 0;
 * false after the last source. */
static bool next_source(const fx_source_set_t *s, const fx_head_query_t *q, size_t *i, src_t *out)
{
    while (*i <= s->nblocks) {
        size_t k = (*i)++;
        if (k == 0 && s->head) {
            *out = (src_t){s->head, NULL};
            return true;
        }
        if (k > 0 && (!q || fx_set_block_overlaps(s->blocks[k - 1], q))) {
            *out = (src_t){NULL, s->blocks[k - 1]};
            return true;
        }
    }
    return false;
}

/* Appends n elements of size bytes at v to the heap array *all. */
static void append(void **all, size_t *len, size_t *cap, const void *v, size_t n, size_t size)
{
    if (!n)
        return;
    fx_grow(all, cap, *len + n, size);
    memcpy((char *)*all + *len * size, v, n * size);
    *len += n;
}

/* n elements of size bytes copied into a, with a spare one so that an
 * empty result is not NULL. */
static void *to_arena(fx_arena_t *a, const void *v, size_t n, size_t size)
{
    void *out = fx_arena_alloc(a, (n + 1) * size);
    if (n)
        memcpy(out, v, n * size);
    return out;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends src to dst and keeps dst sorted and unique. */
static void union_strings(fx_head_strings_t *dst, const fx_head_strings_t *src, fx_arena_t *a)
{
    if (!src->len)
        return;
    char **v = fx_arena_alloc(a, (dst->len + src->len) * sizeof *v);
    if (dst->len)
        memcpy(v, dst->v, dst->len * sizeof *v);
    memcpy(v + dst->len, src->v, src->len * sizeof *v);
    size_t n = dst->len + src->len, u = 0;
    qsort(v, n, sizeof *v, cmp_str);
    for (size_t i = 0; i < n; i++)
        if (!u || strcmp(v[u - 1], v[i]) != 0)
            v[u++] = v[i];
    dst->v = v;
    dst->len = u;
}

typedef int (*strings_fn)(src_t src, const fx_head_query_t *q, const void *arg, fx_arena_t *a,
                          fx_head_strings_t *out, fx_err_t *err);

static int each_strings(const fx_source_set_t *s, const fx_head_query_t *q, strings_fn fn,
                        const void *arg, fx_arena_t *a, fx_head_strings_t *out, fx_err_t *err)
{
    fx_head_strings_t part;
    src_t src;
    int rc;
    out->v = NULL;
    out->len = 0;
    for (size_t i = 0; next_source(s, q, &i, &src);) {
        if ((rc = fn(src, q, arg, a, &part, err)) < 0)
            return rc;
        union_strings(out, &part, a);
    }
    return FX_OK;
}

static int names_fn(src_t s, const fx_head_query_t *q, const void *arg, fx_arena_t *a,
                    fx_head_strings_t *out, fx_err_t *err)
{
    (void)arg;
    return s.head ? fx_head_label_names(s.head, q, a, out, err)
                  : fx_block_label_names(s.blk, q, a, out, err);
}

static int values_fn(src_t s, const fx_head_query_t *q, const void *arg, fx_arena_t *a,
                     fx_head_strings_t *out, fx_err_t *err)
{
    return s.head ? fx_head_label_values(s.head, q, arg, a, out, err)
                  : fx_block_label_values(s.blk, q, arg, a, out, err);
}

static int types_fn(src_t s, const fx_head_query_t *q, const void *arg, fx_arena_t *a,
                    fx_head_strings_t *out, fx_err_t *err)
{
    (void)arg;
    return s.head ? fx_head_profile_types(s.head, q, a, out, err)
                  : fx_block_profile_types(s.blk, q, a, out, err);
}

int fx_set_label_names(const fx_source_set_t *s, const fx_head_query_t *q, fx_arena_t *a,
                       fx_head_strings_t *out, fx_err_t *err)
{
    return each_strings(s, q, names_fn, NULL, a, out, err);
}

int fx_set_label_values(const fx_source_set_t *s, const fx_head_query_t *q, const char *name,
                        fx_arena_t *a, fx_head_strings_t *out, fx_err_t *err)
{
    return each_strings(s, q, values_fn, name, a, out, err);
}

int fx_set_profile_types(const fx_source_set_t *s, const fx_head_query_t *q, fx_arena_t *a,
                         fx_head_strings_t *out, fx_err_t *err)
{
    return each_strings(s, q, types_fn, NULL, a, out, err);
}

static int cmp_labels(const void *a, const void *b)
{
    return fx_labels_cmp(a, b);
}

int fx_set_series(const fx_source_set_t *s, const fx_head_query_t *q, const char *const *names,
                  size_t nnames, fx_arena_t *a, fx_head_label_sets_t *out, fx_err_t *err)
{
    fx_head_label_sets_t part;
    fx_labels_t *all = NULL;
    size_t n = 0, cap = 0;
    src_t src;
    int rc = FX_OK;

    for (size_t i = 0; rc == FX_OK && next_source(s, q, &i, &src);) {
        rc = src.head ? fx_head_series(src.head, q, names, nnames, a, &part, err)
                      : fx_block_series(src.blk, q, names, nnames, a, &part, err);
        if (rc == FX_OK)
            append((void **)&all, &n, &cap, part.v, part.len, sizeof *all);
    }
    if (rc == FX_OK) {
        if (n)
            qsort(all, n, sizeof *all, cmp_labels);
        size_t u = 0;
        for (size_t i = 0; i < n; i++)
            if (!u || fx_labels_cmp(&all[u - 1], &all[i]) != 0)
                all[u++] = all[i];
        out->v = to_arena(a, all, u, sizeof *all);
        out->len = u;
    }
    free(all);
    return rc;
}

int fx_set_profile_stats(const fx_source_set_t *s, const char *tenant, fx_head_profile_stats_t *out,
                         fx_err_t *err)
{
    fx_head_profile_stats_t part;
    src_t src;
    int rc;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; next_source(s, NULL, &i, &src);) {
        rc = src.head ? fx_head_profile_stats(src.head, tenant, &part, err)
                      : fx_block_profile_stats(src.blk, tenant, &part, err);
        if (rc < 0)
            return rc;
        if (!part.data_ingested)
            continue;
        if (!out->data_ingested || part.oldest_ms < out->oldest_ms)
            out->oldest_ms = part.oldest_ms;
        if (!out->data_ingested || part.newest_ms > out->newest_ms)
            out->newest_ms = part.newest_ms;
        out->data_ingested = 1;
    }
    return FX_OK;
}

int fx_set_profile_keys(const fx_source_set_t *s, const fx_head_query_t *q, fx_arena_t *a,
                        fx_head_keys_t *out, fx_err_t *err)
{
    fx_head_keys_t part;
    fx_head_profile_key_t *all = NULL;
    int64_t *values = NULL;
    fx_labels_t *labels = NULL;
    fx_head_span_value_t *spans = NULL;
    size_t n = 0, cap = 0, nv = 0, capv = 0, nl = 0, capl = 0, ns = 0, caps = 0;
    src_t src;
    int rc = FX_OK;
    for (size_t i = 0; rc == FX_OK && next_source(s, q, &i, &src);) {
        rc = src.head ? fx_head_profile_keys(src.head, q, a, &part, err)
                      : fx_block_profile_keys(src.blk, q, a, &part, err);
        if (rc != FX_OK)
            break;
        append((void **)&all, &n, &cap, part.v, part.len, sizeof *all);
        if (q->key_values) {
            append((void **)&values, &nv, &capv, part.values, part.len, sizeof *values);
            append((void **)&labels, &nl, &capl, part.labels, part.len, sizeof *labels);
            append((void **)&spans, &ns, &caps, part.spans, part.nspans, sizeof *spans);
        }
    }
    if (rc == FX_OK) {
        memset(out, 0, sizeof *out);
        out->v = to_arena(a, all, n, sizeof *all);
        out->len = n;
        if (q->key_values) {
            out->values = to_arena(a, values, n, sizeof *values);
            out->labels = to_arena(a, labels, n, sizeof *labels);
            out->spans = to_arena(a, spans, ns, sizeof *spans);
            out->nspans = ns;
        }
    }
    free(all);
    free(values);
    free(labels);
    free(spans);
    return rc;
}

int fx_set_merge_tree(const fx_source_set_t *s, const fx_head_query_t *q,
                      fx_head_grouping_t grouping, fx_tree_t *tree, fx_err_t *err)
{
    src_t src;
    int rc;
    /* Both the head's and a block's merge add into the tree. */
    for (size_t i = 0; next_source(s, q, &i, &src);) {
        rc = src.head ? fx_head_merge_tree(src.head, q, grouping, tree, err)
                      : fx_block_merge_tree(src.blk, q, grouping, tree, err);
        if (rc < 0)
            return rc;
    }
    fx_tree_compute_totals(tree);
    return FX_OK;
}

int fx_set_merge_pprof(const fx_source_set_t *s, const fx_head_query_t *q, fx_buf_t *out,
                       fx_err_t *err)
{
    fx_buf_t *parts = fx_calloc(s->nblocks + 2, sizeof *parts);
    fx_slice_t *slices = fx_calloc(s->nblocks + 2, sizeof *slices);
    size_t n = 0;
    src_t src;
    int rc = FX_OK;
    for (size_t i = 0; rc == FX_OK && next_source(s, q, &i, &src);) {
        rc = src.head ? fx_head_merge_pprof(src.head, q, &parts[n], err)
                      : fx_block_merge_pprof(src.blk, q, &parts[n], err);
        if (rc == FX_OK && parts[n].len)
            n++;
    }
    if (rc == FX_OK && n == 1) {
        fx_buf_append(out, parts[0].data, parts[0].len);
    } else if (rc == FX_OK && n > 1) {
        for (size_t i = 0; i < n; i++) {
            slices[i].data = parts[i].data;
            slices[i].len = parts[i].len;
        }
        rc = fx_pprof_merge(slices, n, out, err);
    }
    for (size_t i = 0; i < s->nblocks + 2; i++)
        fx_buf_free(&parts[i]);
    free(parts);
    free(slices);
    return rc;
}

/* Adds src's points into dst (both ascending), from arena a. */
static void add_points(fx_head_ts_t *dst, const fx_head_ts_t *src, fx_arena_t *a)
{
    fx_head_point_t *p = fx_arena_alloc(a, (dst->npoints + src->npoints + 1) * sizeof *p);
    size_t i = 0, j = 0, n = 0;
    while (i < dst->npoints || j < src->npoints) {
        if (j == src->npoints || (i < dst->npoints && dst->points[i].ts_ms < src->points[j].ts_ms))
            p[n++] = dst->points[i++];
        else if (i == dst->npoints || src->points[j].ts_ms < dst->points[i].ts_ms)
            p[n++] = src->points[j++];
        else {
            p[n] = dst->points[i++];
            p[n++].value += src->points[j++].value;
        }
    }
    dst->points = p;
    dst->npoints = n;
    dst->total += src->total;
}

/* Every source's series for agg, points of equal labels added; unsorted. */
static int collect_series(const fx_source_set_t *s, const fx_head_query_t *q, const char *const *by,
                          size_t nby, int64_t step_ms, fx_head_aggregation_t agg, fx_arena_t *a,
                          fx_head_ts_t **all, size_t *n, fx_err_t *err)
{
    fx_head_ts_list_t part;
    size_t cap = 0;
    src_t src;
    int rc = FX_OK;
    *all = NULL;
    *n = 0;
    for (size_t i = 0; rc == FX_OK && next_source(s, q, &i, &src);) {
        rc = src.head ? fx_head_select_series(src.head, q, by, nby, step_ms, agg, a, &part, err)
                      : fx_block_select_series(src.blk, q, by, nby, step_ms, agg, a, &part, err);
        for (size_t k = 0; rc == FX_OK && k < part.len; k++) {
            size_t j;
            for (j = 0; j < *n; j++)
                if (fx_labels_cmp(&(*all)[j].labels, &part.v[k].labels) == 0)
                    break;
            if (j < *n) {
                add_points(&(*all)[j], &part.v[k], a);
            } else {
                FX_GROW(*all, cap, *n + 1);
                (*all)[(*n)++] = part.v[k];
            }
        }
    }
    return rc;
}

/* Turns sums into averages with the counts of the same labels and time
 * (both come from the same profiles, so every sum point has its count). */
static void divide(fx_head_ts_t *sums, size_t n, const fx_head_ts_t *counts, size_t ncounts)
{
    for (size_t i = 0; i < n; i++) {
        const fx_head_ts_t *c = NULL;
        for (size_t j = 0; j < ncounts && !c; j++)
            if (fx_labels_cmp(&sums[i].labels, &counts[j].labels) == 0)
                c = &counts[j];
        sums[i].total = 0;
        for (size_t p = 0, k = 0; p < sums[i].npoints; p++) {
            while (c && k < c->npoints && c->points[k].ts_ms < sums[i].points[p].ts_ms)
                k++;
            if (c && k < c->npoints && c->points[k].ts_ms == sums[i].points[p].ts_ms &&
                c->points[k].value > 0)
                sums[i].points[p].value /= c->points[k].value;
            sums[i].total += sums[i].points[p].value;
        }
    }
}

int fx_set_select_series(const fx_source_set_t *s, const fx_head_query_t *q, const char *const *by,
                         size_t nby, int64_t step_ms, fx_head_aggregation_t agg, fx_arena_t *a,
                         fx_head_ts_list_t *out, fx_err_t *err)
{
    fx_head_ts_t *all = NULL, *counts = NULL;
    size_t n = 0, ncounts = 0, nsources = 0;
    src_t src;
    int rc;
    for (size_t i = 0; next_source(s, q, &i, &src);)
        nsources++;
    /* A bucket can hold profiles of several sources (the head and blocks,
     * blocks of neighbouring windows): the average is all sums over all
     * counts, not a sum of averages. One source averages by itself. */
    bool average = agg == FX_AGG_AVERAGE && nsources > 1;
    rc = collect_series(s, q, by, nby, step_ms, average ? FX_AGG_SUM : agg, a, &all, &n, err);
    if (rc == FX_OK && average &&
        (rc = collect_series(s, q, by, nby, step_ms, FX_AGG_COUNT, a, &counts, &ncounts, err)) == FX_OK)
        divide(all, n, counts, ncounts);
    if (rc == FX_OK) {
        if (n)
            qsort(all, n, sizeof *all, cmp_labels); /* labels is the first member */
        out->v = to_arena(a, all, n, sizeof *all);
        out->len = n;
    }
    free(all);
    free(counts);
    return rc;
}
