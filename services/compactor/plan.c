/*
 * plan.c - what to compact next and which blocks are redundant: pure
 * functions of the blocks' metas, upload times and "now", so every rule is
 * unit-tested without a bucket (the rules are in compactor.h and
 * docs/compactor.md).
 */
#include "compactor.h"
#include "config/config.h"
#include "core/mem.h"

#include <stdlib.h>
#include <string.h>

int cp_parse_ranges(const char *const *v, size_t n, cp_config_t *c, fx_err_t *err)
{
    if (n == 0 || n > CP_MAX_RANGES)
        return fx_err_set(err, FX_EINVAL,
                          "-compactor.block-ranges: give 1 to %d durations, e.g. 1h,2h,8h",
                          CP_MAX_RANGES);
    for (size_t i = 0; i < n; i++) {
        int64_t ns;
        if (fx_parse_duration(v[i], &ns) < 0 || ns < 1000000)
            return fx_err_set(err, FX_EINVAL,
                              "-compactor.block-ranges: \"%s\" is not a duration of at least 1ms",
                              v[i]);
        c->ranges_ms[i] = ns / 1000000;
        if (i > 0 && (c->ranges_ms[i] <= c->ranges_ms[i - 1] ||
                      c->ranges_ms[i] % c->ranges_ms[i - 1] != 0))
            return fx_err_set(err, FX_EINVAL,
                              "-compactor.block-ranges: %s is not a larger multiple of %s (each "
                              "range must hold a whole number of the one before, e.g. 1h,2h,8h)",
                              v[i], v[i - 1]);
    }
    c->nranges = n;
    return FX_OK;
}

void cp_job_free(cp_job_t *j)
{
    free(j->idx);
    memset(j, 0, sizeof *j);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int by_min_time(const void *x, const void *y, void *ctx)
{
    const cp_block_t *base = ctx;
    const fx_block_meta_t *a = base[*(const size_t *)x].meta;
    const fx_block_meta_t *b = base[*(const size_t *)y].meta;
    if (a->min_time_ms != b->min_time_ms)
        return a->min_time_ms < b->min_time_ms ? -1 : 1;
    return strcmp(a->id, b->id);
}

/* Decides on the candidates cand[0..m) of window [start, end) of range r;
 * fills job and returns 1 when they are to be compacted. */
static int decide(const cp_block_t *b, const size_t *cand, size_t m, const cp_config_t *c,
                  size_t r, int64_t start, int64_t end, int64_t newest_min, int64_t now_ms,
                  cp_job_t *job)
{
    if (m < 2)
        return 0;
    for (size_t k = 0; k < m; k++) {
        const cp_block_t *x = &b[cand[k]];
        /* Other ingesters may still be uploading their replicas. */
        if (x->meta->level <= 1 && now_ms - x->uploaded_ms < c->first_level_wait_ms)
            return 0;
    }
    /* A larger window still being filled would be compacted again and again
     * as each smaller range completes. */
    if (r > 0 && newest_min < end && now_ms < end + c->ranges_ms[0] + c->first_level_wait_ms)
        return 0;
    size_t take = 0, sources = 0;
    while (take < m && sources + b[cand[take]].meta->nsources <= FX_BLOCK_MAX_SOURCES)
        sources += b[cand[take++]].meta->nsources;
    if (take < 2)
        return 0;
    job->idx = fx_malloc(take * sizeof *job->idx);
    memcpy(job->idx, cand, take * sizeof *job->idx);
    job->n = take;
    job->range = r;
    job->start_ms = start;
    job->end_ms = end;
    return 1;
}

int cp_plan(const cp_block_t *b, size_t n, const cp_config_t *c, int64_t now_ms, cp_job_t *job)
{
    memset(job, 0, sizeof *job);
    if (n < 2)
        return 0;
    size_t *ord = fx_malloc(n * sizeof *ord), *cand = fx_malloc(n * sizeof *cand);
    int64_t newest_min = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        ord[i] = i;
        newest_min = FX_MAX(newest_min, b[i].meta->min_time_ms);
    }
    qsort_r(ord, n, sizeof *ord, by_min_time, (void *)b);
    int found = 0;
    for (size_t r = 0; r < c->nranges && !found; r++) {
        int64_t len = c->ranges_ms[r];
        /* Sorted by min time, the blocks starting in one window are
         * consecutive, and windows come in ascending order. */
        for (size_t i = 0; i < n && !found;) {
            int64_t w = floor_div(b[ord[i]].meta->min_time_ms, len);
            size_t m = 0, j = i;
            for (; j < n && floor_div(b[ord[j]].meta->min_time_ms, len) == w; j++) {
                const fx_block_meta_t *x = b[ord[j]].meta;
                if (floor_div(x->max_time_ms, len) == w && x->level < (int)r + 2)
                    cand[m++] = ord[j];
            }
            found = decide(b, cand, m, c, r, w * len, (w + 1) * len, newest_min, now_ms, job);
            i = j;
        }
    }
    free(ord);
    free(cand);
    return found;
}

/* 1 if the sorted, unique set a is a subset of the sorted, unique set b. */
static int subset(char (*a)[FX_BLOCK_ULID_LEN + 1], size_t na, char (*b)[FX_BLOCK_ULID_LEN + 1],
                  size_t nb)
{
    size_t j = 0;
    for (size_t i = 0; i < na; i++) {
        int cmp = 1;
        while (j < nb && (cmp = strcmp(b[j], a[i])) < 0)
            j++;
        if (cmp != 0)
            return 0;
        j++;
    }
    return 1;
}

void cp_covered(const cp_block_t *b, size_t n, unsigned char *covered)
{
    for (size_t x = 0; x < n; x++) {
        const fx_block_meta_t *mx = b[x].meta;
        covered[x] = 0;
        if (mx->nsources == 0)
            continue;
        for (size_t y = 0; y < n && !covered[x]; y++) {
            const fx_block_meta_t *my = b[y].meta;
            /* A block holding x's sources spans at least x's time range:
             * a cheap test before comparing the sets. */
            if (y == x || my->nsources < mx->nsources || my->min_time_ms > mx->min_time_ms ||
                my->max_time_ms < mx->max_time_ms)
                continue;
            if (my->nsources == mx->nsources && strcmp(my->id, mx->id) > 0)
                continue;
            covered[x] = (unsigned char)subset(mx->sources, mx->nsources, my->sources,
                                               my->nsources);
        }
    }
}
