/*
 * fg_levels.h - internal: turns the nodes an encoder emitted, in Pyroscope's
 * visiting order, into delta-encoded querier.v1.Level arrays.
 *
 * Pyroscope's walk pops the right-most sibling first, so on every level the
 * visiting order is right to left; reading the records backwards gives each
 * level left to right, which is the order the wire wants.
 */
#ifndef FX_FG_LEVELS_H
#define FX_FG_LEVELS_H

#include <stddef.h>
#include <stdint.h>

#include "core/mem.h"
#include "querier/v1/querier.pb-c.h"

/* One emitted node; width is 4 (x, total, self, name) or 7 (xL, totalL,
 * selfL, xR, totalR, selfR, name). x columns hold absolute offsets. */
typedef struct fx__fg_rec {
    int64_t v[7];
    uint32_t level;
} fx__fg_rec_t;

/* Builds the levels from recs[0..n) (visiting order) into arena memory:
 * counts nodes per level, then fills each level backwards while delta
 * encoding the x columns (0, and 3 when width is 7). */
Querier__V1__Level **fx__fg_levels(const fx__fg_rec_t *recs, size_t n, size_t width,
                                   size_t nlevels, fx_arena_t *a);

/* A borrowed output name. */
typedef struct fx__fg_name {
    const char *s;
    uint32_t len;
} fx__fg_name_t;

/* Copies names into the arena as the message's names array; names[0] is
 * written as "total". */
char **fx__fg_names(const fx__fg_name_t *names, size_t n, fx_arena_t *a);

#endif
