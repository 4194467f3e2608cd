/* flamegraph.c - the FlameGraph encoder and its inverse. */
#include "model/flamegraph.h"
#include "model/fg_levels.h"
#include "model/truncate.h"

#include <stdlib.h>
#include <string.h>

/* A node waiting on the walk stack; node == FX_TREE_NONE is a synthetic
 * "other" whose value is in other. */
typedef struct frame {
    uint32_t node, level;
    int64_t x, other;
} frame_t;

typedef struct enc {
    const fx_tree_t *t;
    int64_t min;              /* truncation threshold */
    uint32_t other_id;        /* id of "other" in t or FX_TREE_NONE */
    uint32_t *name_index;     /* tree name id (+1 slot for "other") -> names[] index */
    fx__fg_name_t *names;     /* output names, by index */
    size_t nnames, names_cap;
    frame_t *stack;
    size_t sp, stack_cap;
    uint32_t *kids;
    size_t kids_cap;
} enc_t;

/* Whether child c of a node on the walk is emitted itself (1), folded into
 * "other" (0), or skipped because it carries nothing (-1). */
static inline int keep(const enc_t *e, const fx_tree_node_t *c)
{
    if (c->total == 0)
        return -1;
    return c->total >= e->min && c->name != e->other_id;
}

/* Nodes per level of the output, found in one pass over the node array
 * (parents precede children) so that levels can be allocated at their final
 * size before the walk. Returns the number of levels. */
static size_t count_levels(const enc_t *e, size_t **counts)
{
    const fx_tree_t *t = e->t;
    enum { KEPT = 1, FOLDED = 2 };
    uint32_t *depth = fx_malloc(t->len * sizeof *depth);
    uint8_t *st = fx_calloc(t->len, 1);
    size_t cap = 0, nlevels = 1;
    FX_GROW(*counts, cap, 64);
    memset(*counts, 0, cap * sizeof **counts);
    depth[0] = 0;
    st[0] = KEPT;
    (*counts)[0] = 1;
    for (size_t i = 1; i < t->len; i++) {
        const fx_tree_node_t *n = &t->nodes[i];
        uint32_t p = n->parent;
        if (!(st[p] & KEPT))
            continue;
        int k = keep(e, n);
        if (k < 0 || (k == 0 && (st[p] & FOLDED)))
            continue;
        st[k ? i : p] |= k ? KEPT : FOLDED;
        size_t d = depth[p] + 1u;
        if (k)
            depth[i] = (uint32_t)d;
        if (d + 1 > cap) {
            size_t old = cap;
            FX_GROW(*counts, cap, d + 1);
            memset(*counts + old, 0, (cap - old) * sizeof **counts);
        }
        (*counts)[d]++;
        if (d + 1 > nlevels)
            nlevels = d + 1;
    }
    free(depth);
    free(st);
    return nlevels;
}

static uint32_t name_index(enc_t *e, uint32_t id, const char *s, uint32_t len)
{
    if (e->name_index[id] == UINT32_MAX) {
        FX_GROW(e->names, e->names_cap, e->nnames + 1);
        e->names[e->nnames] = (fx__fg_name_t){s, len};
        e->name_index[id] = (uint32_t)e->nnames++;
    }
    return e->name_index[id];
}

static void push(enc_t *e, uint32_t node, uint32_t level, int64_t x, int64_t other)
{
    FX_GROW(e->stack, e->stack_cap, e->sp + 1);
    e->stack[e->sp++] = (frame_t){node, level, x, other};
}

Querier__V1__FlameGraph *fx_flamegraph_encode(const fx_tree_t *t, int64_t max_nodes,
                                              fx_arena_t *a)
{
    enc_t e = {.t = t, .min = fx_tree_min_total(t, max_nodes), .other_id = fx_tree_other_name(t)};
    int64_t max_self = 0;
    /* The synthetic "other" gets the id "other" has in t, or one past the
     * last id if t never interned it. */
    uint32_t other_slot = e.other_id == FX_TREE_NONE ? (uint32_t)t->names.len : e.other_id;
    size_t *counts = NULL;
    fx__fg_out_t out;
    size_t nlevels = count_levels(&e, &counts);
    fx__fg_out_init(&out, counts, nlevels, 4, a);

    e.name_index = fx_malloc((t->names.len + 1) * sizeof *e.name_index);
    memset(e.name_index, 0xff, (t->names.len + 1) * sizeof *e.name_index);
    /* Index 0 is the root, shown as "total"; Pyroscope keys it by that name,
     * so a function called "total" lands on index 0 as well. */
    FX_GROW(e.names, e.names_cap, 64);
    e.names[0] = (fx__fg_name_t){"total", 5};
    e.nnames = 1;
    int64_t total_id = fx_strtab_find(&t->names, "total", 5);
    if (total_id >= 0)
        e.name_index[total_id] = 0;

    push(&e, FX_TREE_ROOT, 0, 0, 0);
    while (e.sp) {
        frame_t f = e.stack[--e.sp];
        int64_t *v = fx__fg_out_slot(&out, f.level);
        if (f.node == FX_TREE_NONE) {
            v[0] = f.x;
            v[1] = v[2] = f.other;
            v[3] = name_index(&e, other_slot, FX_TREE_OTHER, sizeof FX_TREE_OTHER - 1);
            if (f.other > max_self)
                max_self = f.other;
            continue;
        }
        const fx_tree_node_t *n = &t->nodes[f.node];
        v[0] = f.x;
        v[1] = n->total;
        v[2] = n->self;
        v[3] = f.node == FX_TREE_ROOT ? 0
                                      : name_index(&e, n->name, fx_strtab_get(&t->names, n->name),
                                                   fx_strtab_len(&t->names, n->name));
        if (n->self > max_self)
            max_self = n->self;

        /* Children start after the parent's self; pushing them in name order
         * makes the walk pop the last one first, as Pyroscope's does. */
        int64_t x = (int64_t)((uint64_t)f.x + (uint64_t)n->self), other = 0;
        int folded = 0;
        size_t nk = fx_tree_sorted_children(t, f.node, &e.kids, &e.kids_cap);
        for (size_t i = 0; i < nk; i++) {
            const fx_tree_node_t *c = &t->nodes[e.kids[i]];
            int k = keep(&e, c);
            if (k > 0) {
                push(&e, e.kids[i], f.level + 1, x, 0);
                x = (int64_t)((uint64_t)x + (uint64_t)c->total);
            } else if (k == 0) {
                other = (int64_t)((uint64_t)other + (uint64_t)c->total);
                folded = 1;
            }
        }
        if (folded)
            push(&e, FX_TREE_NONE, f.level + 1, x, other);
    }
    fx__fg_out_finish(&out);

    Querier__V1__FlameGraph *fg = fx_arena_alloc(a, sizeof *fg);
    querier__v1__flame_graph__init(fg);
    fg->n_names = e.nnames;
    fg->names = fx__fg_names(e.names, e.nnames, a);
    fg->n_levels = out.nlevels;
    fg->levels = out.levels;
    fg->total = t->nodes[FX_TREE_ROOT].total;
    fg->max_self = max_self;

    free(counts);
    free(e.name_index);
    free(e.names);
    free(e.stack);
    free(e.kids);
    return fg;
}

/* A decoded node of the previous level: its span and its node in t. */
typedef struct span {
    int64_t x, end;
    uint32_t node;
} span_t;

int fx_flamegraph_to_tree(const Querier__V1__FlameGraph *fg, fx_tree_t *t, fx_err_t *err)
{
    int rc = FX_OK;
    span_t *prev = NULL, *cur = NULL;
    size_t nprev = 0, ncur = 0, prev_cap = 0, cur_cap = 0;
    uint32_t *ids = fx_malloc((fg->n_names + 1) * sizeof *ids);
    memset(ids, 0xff, (fg->n_names + 1) * sizeof *ids);

    for (size_t d = 0; d < fg->n_levels; d++) {
        const Querier__V1__Level *l = fg->levels[d];
        if (!l || l->n_values % 4) {
            rc = fx_err_set(err, FX_EINVAL, "flame graph level %zu: %zu values is not a multiple of 4",
                            d, l ? l->n_values : 0);
            goto out;
        }
        int64_t end_prev = 0;
        size_t pi = 0;
        ncur = 0;
        for (size_t i = 0; i < l->n_values; i += 4) {
            int64_t delta = l->values[i], total = l->values[i + 1], self = l->values[i + 2];
            int64_t idx = l->values[i + 3], x, end;
            if (delta < 0 || total < 0 || self < 0 || self > total) {
                rc = fx_err_set(err, FX_EINVAL,
                                "flame graph level %zu node %zu: offset, total and self must be "
                                "non-negative with self <= total", d, i / 4);
                goto out;
            }
            if (idx < 0 || (uint64_t)idx >= fg->n_names || !fg->names[idx]) {
                rc = fx_err_set(err, FX_EINVAL, "flame graph level %zu node %zu: name index %lld "
                                "is outside names[%zu]", d, i / 4, (long long)idx, fg->n_names);
                goto out;
            }
            if (__builtin_add_overflow(end_prev, delta, &x) ||
                __builtin_add_overflow(x, total, &end)) {
                rc = fx_err_set(err, FX_EINVAL, "flame graph level %zu: offsets overflow", d);
                goto out;
            }
            end_prev = end;
            if (total == 0)
                continue;
            uint32_t node;
            if (d == 0) {
                if (ncur) {
                    rc = fx_err_set(err, FX_EINVAL, "flame graph level 0 has more than one root");
                    goto out;
                }
                node = FX_TREE_ROOT;
            } else {
                /* Parents are sorted by offset and disjoint: the first one
                 * ending at or after this node's end is the only candidate. */
                while (pi < nprev && prev[pi].end < end)
                    pi++;
                if (pi == nprev || prev[pi].x > x) {
                    rc = fx_err_set(err, FX_EINVAL, "flame graph level %zu node %zu does not lie "
                                    "inside a node of level %zu", d, i / 4, d - 1);
                    goto out;
                }
                if (ids[idx] == UINT32_MAX)
                    ids[idx] = fx_tree_name(t, fg->names[idx], strlen(fg->names[idx]));
                node = fx_tree_child(t, prev[pi].node, ids[idx]);
            }
            t->nodes[node].self = (int64_t)((uint64_t)t->nodes[node].self + (uint64_t)self);
            FX_GROW(cur, cur_cap, ncur + 1);
            cur[ncur++] = (span_t){x, end, node};
        }
        span_t *tmp = prev;
        size_t tmp_cap = prev_cap;
        prev = cur;
        prev_cap = cur_cap;
        nprev = ncur;
        cur = tmp;
        cur_cap = tmp_cap;
    }
out:
    fx_tree_compute_totals(t);
    free(prev);
    free(cur);
    free(ids);
    return rc;
}
