/*
 * blocks.c - the set of open blocks as queries see it: pinning the blocks
 * of a query, releasing them (the last release of a dropped block closes it
 * and deletes its local copy), and taking a block that failed a checksum out
 * of service.
 */
#include "sg_int.h"
#include "core/fs.h"
#include "core/mem.h"
#include "log/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sg__block_unref(sg_t *g, sg_block_t *b)
{
    (void)g;
    if (atomic_fetch_sub(&b->refs, 1) != 1)
        return;
    fx_block_close(b->blk);
    if (b->remove_dir && b->dir)
        fx_rm_rf(b->dir);
    free(b->dir);
    free(b->tenant);
    free(b);
}

static int cmp_view(const void *x, const void *y)
{
    const sg_block_t *a = *(sg_block_t *const *)x, *b = *(sg_block_t *const *)y;
    if (a->min_ms != b->min_ms)
        return a->min_ms < b->min_ms ? -1 : 1;
    if (a->level != b->level)
        return a->level > b->level ? -1 : 1; /* compacted first: they hold the most */
    return strcmp(a->id, b->id);
}

void sg__view(sg_t *g, const char *tenant, int64_t start_ms, int64_t end_ms, sg_view_t *out)
{
    bool all = start_ms == 0 && end_ms == 0;
    out->v = NULL;
    out->n = 0;
    pthread_mutex_lock(&g->mu);
    /* blocks are sorted by tenant first: find the tenant's run. */
    size_t lo = 0, hi = g->nblocks;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(g->blocks[mid]->tenant, tenant) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < g->nblocks && strcmp(g->blocks[end]->tenant, tenant) == 0)
        end++;
    if (end > lo)
        out->v = fx_malloc((end - lo) * sizeof *out->v);
    for (size_t i = lo; i < end; i++) {
        sg_block_t *b = g->blocks[i];
        if (atomic_load(&b->corrupt))
            continue;
        if (!all && (b->max_ms < start_ms || b->min_ms > end_ms))
            continue;
        atomic_fetch_add(&b->refs, 1);
        out->v[out->n++] = b;
    }
    pthread_mutex_unlock(&g->mu);
    if (out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, cmp_view);
}

void sg__view_release(sg_t *g, sg_view_t *v)
{
    for (size_t i = 0; i < v->n; i++)
        sg__block_unref(g, v->v[i]);
    free(v->v);
    v->v = NULL;
    v->n = 0;
}

void sg__block_corrupt(sg_t *g, sg_block_t *b, const fx_err_t *err)
{
    /* Count and log once per block: concurrent queries may all trip on it. */
    if (atomic_exchange(&b->corrupt, 1))
        return;
    fx_counter_inc(g->m_corrupted);
    fx_log_error("corrupted block skipped by queries; it is re-read at the next sync",
                 "tenant=%s block=%s err=%s", fx_q(b->tenant), b->id, fx_q(err->msg));
}

void sg__blocks_close_all(sg_t *g)
{
    pthread_mutex_lock(&g->mu);
    sg_block_t **v = g->blocks;
    size_t n = g->nblocks;
    g->blocks = NULL;
    g->nblocks = g->cap = 0;
    pthread_mutex_unlock(&g->mu);
    /* Local copies stay: a restarted gateway reuses them. */
    for (size_t i = 0; i < n; i++)
        sg__block_unref(g, v[i]);
    free(v);
}
