/* top.c - per-function values, the top table, hot path and node paths. */
#include "model/top.h"
#include "core/core.h"
#include "core/mem.h"

#include <stdlib.h>
#include <string.h>

typedef struct walk {
    uint32_t node, child;
} walk_t;

void fx_tree_function_values(const fx_tree_t *t, int64_t **self_out, int64_t **total_out)
{
    int64_t *self = fx_calloc(t->names.len, sizeof *self);
    int64_t *total = fx_calloc(t->names.len, sizeof *total);
    uint32_t *onpath = fx_calloc(t->names.len, sizeof *onpath);
    walk_t *st = NULL;
    size_t sp = 0, cap = 0;
    FX_GROW(st, cap, 64);
    st[sp++] = (walk_t){FX_TREE_ROOT, t->nodes[FX_TREE_ROOT].first_child};
    while (sp) {
        walk_t *w = &st[sp - 1];
        if (w->child == FX_TREE_NONE) {
            if (w->node != FX_TREE_ROOT)
                onpath[t->nodes[w->node].name]--;
            sp--;
            continue;
        }
        uint32_t c = w->child;
        const fx_tree_node_t *n = &t->nodes[c];
        w->child = n->next_sibling;
        self[n->name] += n->self;
        /* Only the outermost occurrence on a path counts its subtree. */
        if (onpath[n->name]++ == 0)
            total[n->name] += n->total;
        FX_GROW(st, cap, sp + 1);
        st[sp++] = (walk_t){c, n->first_child};
    }
    free(st);
    free(onpath);
    *self_out = self;
    *total_out = total;
}

typedef struct order_ctx {
    const fx_tree_t *t;
    fx_top_order_t order;
} order_ctx_t;

static int cmp_rows(const void *a, const void *b, void *ctx)
{
    const order_ctx_t *o = ctx;
    const fx_top_row_t *x = a, *y = b;
    int64_t x1 = o->order == FX_TOP_BY_SELF ? x->self : x->total;
    int64_t y1 = o->order == FX_TOP_BY_SELF ? y->self : y->total;
    int64_t x2 = o->order == FX_TOP_BY_SELF ? x->total : x->self;
    int64_t y2 = o->order == FX_TOP_BY_SELF ? y->total : y->self;
    if (x1 != y1)
        return x1 > y1 ? -1 : 1;
    if (x2 != y2)
        return x2 > y2 ? -1 : 1;
    return fx_tree_name_cmp(o->t, x->name, y->name);
}

fx_top_row_t *fx_tree_top(const fx_tree_t *t, fx_top_order_t order, size_t limit, size_t *n)
{
    int64_t *self, *total;
    fx_tree_function_values(t, &self, &total);
    fx_top_row_t *rows = NULL;
    size_t nrows = 0, cap = 0;
    for (uint32_t i = 0; i < t->names.len; i++) {
        if (self[i] == 0 && total[i] == 0)
            continue;
        FX_GROW(rows, cap, nrows + 1);
        rows[nrows++] = (fx_top_row_t){i, self[i], total[i]};
    }
    order_ctx_t ctx = {t, order};
    if (nrows)
        qsort_r(rows, nrows, sizeof *rows, cmp_rows, &ctx);
    if (limit && nrows > limit)
        nrows = limit;
    free(self);
    free(total);
    *n = nrows;
    return rows;
}

size_t fx_tree_hot_path(const fx_tree_t *t, unsigned min_permille, uint32_t *path, size_t max)
{
    size_t n = 0;
    uint32_t node = FX_TREE_ROOT;
    while (n < max) {
        uint32_t best = FX_TREE_NONE;
        for (uint32_t c = t->nodes[node].first_child; c != FX_TREE_NONE;
             c = t->nodes[c].next_sibling) {
            if (best == FX_TREE_NONE || t->nodes[c].total > t->nodes[best].total ||
                (t->nodes[c].total == t->nodes[best].total &&
                 fx_tree_name_cmp(t, t->nodes[c].name, t->nodes[best].name) < 0))
                best = c;
        }
        if (best == FX_TREE_NONE || t->nodes[best].total <= 0)
            break;
        /* Compare in 128-bit-free form: best * 1000 < parent * permille. */
        if ((double)t->nodes[best].total * 1000.0 <
            (double)t->nodes[node].total * (double)min_permille)
            break;
        path[n++] = best;
        node = best;
    }
    return n;
}

size_t fx_tree_path(const fx_tree_t *t, uint32_t node, uint32_t *names, size_t max)
{
    size_t depth = fx_tree_depth(t, node), n = FX_MIN(depth, max);
    /* Walk up past the frames that do not fit, then fill from the back. */
    for (size_t skip = depth - n; skip > 0; skip--)
        node = t->nodes[node].parent;
    for (size_t i = n; i-- > 0;) {
        names[i] = t->nodes[node].name;
        node = t->nodes[node].parent;
    }
    return n;
}
