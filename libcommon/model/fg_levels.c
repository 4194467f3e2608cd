/* fg_levels.c - level arrays and name arrays shared by the FlameGraph and
 * FlameGraphDiff encoders. */
#include "model/fg_levels.h"
#include "core/core.h"

#include <stdlib.h>
#include <string.h>

void fx__fg_out_init(fx__fg_out_t *o, const size_t *counts, size_t nlevels, size_t width,
                     fx_arena_t *a)
{
    static const Querier__V1__Level init = QUERIER__V1__LEVEL__INIT;
    o->nlevels = nlevels;
    o->width = width;
    o->levels = fx_arena_alloc(a, nlevels * sizeof *o->levels);
    o->cursor = fx_malloc(nlevels * sizeof *o->cursor);
    Querier__V1__Level *lv = fx_arena_alloc(a, nlevels * sizeof *lv);
    for (size_t l = 0; l < nlevels; l++) {
        lv[l] = init;
        lv[l].n_values = counts[l] * width;
        lv[l].values = fx_arena_alloc(a, lv[l].n_values * sizeof(int64_t));
        o->cursor[l] = lv[l].n_values;
        o->levels[l] = &lv[l];
    }
}

/* x_delta = x - end of the previous node on the level, end = x + total.
 * Unsigned arithmetic: offsets of a tree with absurd values may wrap, which
 * must not be undefined behaviour (Pyroscope's Go wraps the same way). */
static void delta_encode(int64_t *v, size_t n, size_t width, size_t col)
{
    uint64_t prev = 0;
    for (size_t i = col; i < n; i += width) {
        uint64_t x = (uint64_t)v[i];
        v[i] = (int64_t)(x - prev);
        prev = x + (uint64_t)v[i + 1];
    }
}

void fx__fg_out_finish(fx__fg_out_t *o)
{
    for (size_t l = 0; l < o->nlevels; l++) {
        FX_ASSERT(o->cursor[l] == 0);
        Querier__V1__Level *lv = o->levels[l];
        delta_encode(lv->values, lv->n_values, o->width, 0);
        if (o->width == 7)
            delta_encode(lv->values, lv->n_values, o->width, 3);
    }
    free(o->cursor);
    o->cursor = NULL;
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
