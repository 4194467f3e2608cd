/*
 * labels.c - label pairs of the stores' answers: compared to merge answers
 * of several stores, and copied out of an answer's arena (freed before the
 * reply is encoded).
 */
#include "querier.h"
#include "core/mem.h"

#include <string.h>

int qr_pairs_cmp(Types__V1__LabelPair *const *x, size_t nx, Types__V1__LabelPair *const *y,
                 size_t ny)
{
    for (size_t i = 0; i < nx && i < ny; i++) {
        int c = strcmp(x[i]->name, y[i]->name);
        if (!c)
            c = strcmp(x[i]->value, y[i]->value);
        if (c)
            return c;
    }
    return (nx > ny) - (nx < ny);
}

Types__V1__LabelPair **qr_pairs_copy(Types__V1__LabelPair *const *v, size_t n, fx_arena_t *a)
{
    Types__V1__LabelPair **c = fx_arena_alloc(a, (n + 1) * sizeof *c);
    for (size_t i = 0; i < n; i++) {
        Types__V1__LabelPair *p = fx_arena_alloc(a, sizeof *p);
        types__v1__label_pair__init(p);
        p->name = fx_arena_strdup(a, v[i]->name);
        p->value = fx_arena_strdup(a, v[i]->value);
        c[i] = p;
    }
    return c;
}
