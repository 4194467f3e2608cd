/* fg_levels.c - level arrays and name arrays shared by the FlameGraph and
 * FlameGraphDiff encoders. */
#include "model/fg_levels.h"
#include "core/core.h"

#include <stdlib.h>
#include <string.h>

Querier__V1__Level **fx__fg_levels(const fx__fg_rec_t *recs, size_t n, size_t width,
                                   size_t nlevels, fx_arena_t *a)
{
    Querier__V1__Level **levels = fx_arena_alloc(a, nlevels * sizeof *levels);
    Querier__V1__Level *lv = fx_arena_alloc(a, nlevels * sizeof *lv);
    /* Scratch per level: fill cursor and the previous end of each x column. */
    size_t *fill = fx_calloc(nlevels, sizeof *fill);
    int64_t *prev = fx_calloc(nlevels * 2, sizeof *prev);
    static const Querier__V1__Level init = QUERIER__V1__LEVEL__INIT;

    for (size_t i = 0; i < nlevels; i++)
        lv[i] = init;
    for (size_t i = 0; i < n; i++)
        lv[recs[i].level].n_values += width;
    for (size_t i = 0; i < nlevels; i++) {
        lv[i].values = fx_arena_alloc(a, lv[i].n_values * sizeof(int64_t));
        levels[i] = &lv[i];
    }
    for (size_t i = n; i-- > 0;) {
        const fx__fg_rec_t *r = &recs[i];
        uint32_t l = r->level;
        int64_t *v = lv[l].values + fill[l];
        fill[l] += width;
        memcpy(v, r->v, width * sizeof *v);
        /* Unsigned arithmetic: offsets of a tree with absurd values may wrap,
         * which must not be undefined behaviour; Pyroscope's Go wraps too. */
        v[0] = (int64_t)((uint64_t)r->v[0] - (uint64_t)prev[2 * l]);
        prev[2 * l] = (int64_t)((uint64_t)r->v[0] + (uint64_t)r->v[1]);
        if (width == 7) {
            v[3] = (int64_t)((uint64_t)r->v[3] - (uint64_t)prev[2 * l + 1]);
            prev[2 * l + 1] = (int64_t)((uint64_t)r->v[3] + (uint64_t)r->v[4]);
        }
    }
    free(fill);
    free(prev);
    return levels;
}

char **fx__fg_names(const fx__fg_name_t *names, size_t n, fx_arena_t *a)
{
    char **out = fx_arena_alloc(a, n * sizeof *out);
    /* One block for all strings: thousands of tiny arena calls cost more. */
    size_t bytes = sizeof "total";
    for (size_t i = 1; i < n; i++)
        bytes += names[i].len + 1;
    char *p = fx_arena_alloc(a, bytes);
    memcpy(p, "total", sizeof "total");
    out[0] = p;
    p += sizeof "total";
    for (size_t i = 1; i < n; i++) {
        memcpy(p, names[i].s, names[i].len);
        p[names[i].len] = 0;
        out[i] = p;
        p += names[i].len + 1;
    }
    return out;
}
