/*
 * fg_levels.h - internal: level arrays of querier.v1.FlameGraph(Diff) filled
 * in Pyroscope's visiting order.
 *
 * Pyroscope's walk pops the right-most sibling first, so on every level the
 * visiting order is right to left. The encoders count the nodes of each level
 * first, allocate every level at its final size in the arena, fill each level
 * from its end as the walk visits nodes, then delta-encode the x columns left
 * to right in place: no intermediate copy of the nodes.
 */
#ifndef FX_FG_LEVELS_H
#define FX_FG_LEVELS_H

#include <stddef.h>
#include <stdint.h>

#include "core/mem.h"
#include "querier/v1/querier.pb-c.h"

typedef struct fx__fg_out {
    Querier__V1__Level **levels;
    size_t nlevels;
    size_t width;     /* 4 (x, total, self, name) or 7 (xL, totalL, selfL, xR, ...) */
    size_t *cursor;   /* per level: values still unfilled, filled from the end */
} fx__fg_out_t;

/* Allocates levels for counts[l] nodes on level l from a. */
void fx__fg_out_init(fx__fg_out_t *o, const size_t *counts, size_t nlevels, size_t width,
                     fx_arena_t *a);

/* The next slot (right to left) of level l, for a node with absolute x. */
static inline int64_t *fx__fg_out_slot(fx__fg_out_t *o, size_t l)
{
    return o->levels[l]->values + (o->cursor[l] -= o->width);
}

/* Delta-encodes the x columns (absolute until now) and frees the scratch.
 * Every slot must have been filled. */
void fx__fg_out_finish(fx__fg_out_t *o);

/* A borrowed output name. */
typedef struct fx__fg_name {
    const char *s;
    uint32_t len;
} fx__fg_name_t;

/* Copies names into the arena as the message's names array; names[0] is
 * written as "total". */
char **fx__fg_names(const fx__fg_name_t *names, size_t n, fx_arena_t *a);

#endif
