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
    uint32_t *name_index;     /* tree name id (+1 slot for "other") -> names[] index */
    fx__fg_name_t *names;     /* output names, by index */
    size_t nnames, names_cap;
    fx__fg_rec_t *recs;
    size_t nrecs, recs_cap;
    frame_t *stack;
    size_t sp, stack_cap;
    uint32_t *kids;
    size_t kids_cap;
} enc_t;

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
    enc_t e = {.t = t};
    int64_t min = fx_tree_min_total(t, max_nodes), max_self = 0;
    size_t nlevels = 0;
    /* The synthetic "other" gets the id "other" has in t, or one past the
     * last id if t never interned it. */
    uint32_t other_id = fx_tree_other_name(t);
    uint32_t other_slot = other_id == FX_TREE_NONE ? (uint32_t)t->names.len : other_id;

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
        int64_t self, total;
        uint32_t idx;
        if (f.node == FX_TREE_NONE) {
            self = total = f.other;
            idx = name_index(&e, other_slot, FX_TREE_OTHER, sizeof FX_TREE_OTHER - 1);
        } else {
            const fx_tree_node_t *n = &t->nodes[f.node];
            self = n->self;
            total = n->total;
            idx = f.node == FX_TREE_ROOT
                      ? 0
                      : name_index(&e, n->name, fx_strtab_get(&t->names, n->name),
                                   fx_strtab_len(&t->names, n->name));
        }
        if (self > max_self)
            max_self = self;
        FX_GROW(e.recs, e.recs_cap, e.nrecs + 1);
        e.recs[e.nrecs++] = (fx__fg_rec_t){{f.x, total, self, idx}, f.level};
        if (f.level + 1 > nlevels)
            nlevels = f.level + 1;
        if (f.node == FX_TREE_NONE)
            continue;

        /* Children start after the parent's self; pushing them in name order
         * makes the walk pop the last one first, as Pyroscope's does. */
        int64_t x = (int64_t)((uint64_t)f.x + (uint64_t)self), other = 0;
        size_t nk = fx_tree_sorted_children(t, f.node, &e.kids, &e.kids_cap);
        for (size_t i = 0; i < nk; i++) {
            const fx_tree_node_t *c = &t->nodes[e.kids[i]];
            if (c->total == 0)
                continue;
            if (c->total >= min && c->name != other_id) {
                push(&e, e.kids[i], f.level + 1, x, 0);
                x = (int64_t)((uint64_t)x + (uint64_t)c->total);
            } else {
                other = (int64_t)((uint64_t)other + (uint64_t)c->total);
            }
        }
        if (other != 0)
            push(&e, FX_TREE_NONE, f.level + 1, x, other);
    }

    Querier__V1__FlameGraph *fg = fx_arena_alloc(a, sizeof *fg);
    querier__v1__flame_graph__init(fg);
    fg->n_names = e.nnames;
    fg->names = fx__fg_names(e.names, e.nnames, a);
    fg->n_levels = nlevels;
    fg->levels = fx__fg_levels(e.recs, e.nrecs, 4, nlevels, a);
    fg->total = t->nodes[FX_TREE_ROOT].total;
    fg->max_self = max_self;

    free(e.name_index);
    free(e.names);
    free(e.recs);
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
