/* flamegraph_diff.c - the FlameGraphDiff encoder: align, threshold, walk. */
#include "model/flamegraph_diff.h"
#include "core/strtab.h"
#include "model/fg_levels.h"
#include "model/truncate.h"

#include <stdlib.h>
#include <string.h>

/* A node of the aligned tree: its node on each side (FX_TREE_NONE where that
 * side lacks it) and its children, contiguous and in name order. */
typedef struct pair {
    uint32_t l, r;
    uint32_t first, n;
    uint32_t level;
} pair_t;

typedef struct frame {
    uint32_t pair, level;  /* pair == FX_TREE_NONE: synthetic "other" */
    int64_t xl, xr, ol, or_;
} frame_t;

typedef struct diff {
    const fx_tree_t *left, *right;
    pair_t *pairs;
    size_t npairs, pairs_cap;
    fx_strtab_t names;       /* output names: ids are the names[] indexes */
    uint32_t *lcache, *rcache; /* side name id -> output index, UINT32_MAX unset */
} diff_t;

static inline int64_t tl(const diff_t *d, const pair_t *p)
{
    return p->l == FX_TREE_NONE ? 0 : d->left->nodes[p->l].total;
}

static inline int64_t tr(const diff_t *d, const pair_t *p)
{
    return p->r == FX_TREE_NONE ? 0 : d->right->nodes[p->r].total;
}

static int has_negative(const fx_tree_t *t)
{
    for (size_t i = 0; i < t->len; i++)
        if (t->nodes[i].self < 0)
            return 1;
    return 0;
}

/* Drops zero-total nodes from a sorted child list (they carry nothing and
 * Pyroscope's trees never hold them). */
static size_t nonzero(const fx_tree_t *t, uint32_t *v, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++)
        if (t->nodes[v[i]].total != 0)
            v[j++] = v[i];
    return j;
}

/* Breadth-first alignment: pairs[i]'s children are appended as one run, so
 * parents precede children and siblings stay contiguous and sorted.
 *
 * The truncation threshold is computed on the way: the max_nodes-th largest
 * max(totalL, totalR), root included (Pyroscope's combineMinValues iterates
 * from the synthetic root), kept in a bounded min-heap. Values never grow
 * from parent to child (no negatives here) and the heap minimum only rises,
 * so a pair already below the minimum, and all its descendants, can neither
 * enter the heap nor survive truncation: its children are not aligned at
 * all. Returns the threshold, 0 when nothing is cut. */
static int64_t align(diff_t *d, int64_t max_nodes)
{
    uint32_t *kl = NULL, *kr = NULL;
    size_t kl_cap = 0, kr_cap = 0, k = max_nodes > 0 ? (size_t)FX_MIN(max_nodes, 1 << 30) : 0;
    size_t hn = 0;
    int64_t *h = k ? fx_malloc(FX_MIN(k, 4096) * sizeof *h) : NULL;
    size_t hcap = k ? FX_MIN(k, 4096) : 0;
    FX_GROW(d->pairs, d->pairs_cap, 64);
    d->pairs[0] = (pair_t){FX_TREE_ROOT, FX_TREE_ROOT, 0, 0, 0};
    d->npairs = 1;
    for (size_t i = 0; i < d->npairs; i++) {
        pair_t p = d->pairs[i];
        int64_t v = FX_MAX(tl(d, &p), tr(d, &p));
        if (k) {
            if (hn < k) {
                /* Unordered until full, then heapified once: cheaper than
                 * sifting every value of a breadth-first (mostly falling)
                 * sequence up to the root. */
                FX_GROW(h, hcap, hn + 1);
                h[hn++] = v;
                if (hn == k)
                    for (size_t j = k / 2; j-- > 0;)
                        fx__min_heap_down(h, k, j);
            } else if (v > h[0]) {
                h[0] = v;
                fx__min_heap_down(h, hn, 0);
            } else if (v < h[0]) {
                continue; /* folded for sure, and so is everything below */
            }
        }
        size_t nl = 0, nr = 0;
        if (p.l != FX_TREE_NONE)
            nl = nonzero(d->left, kl, fx_tree_sorted_children(d->left, p.l, &kl, &kl_cap));
        if (p.r != FX_TREE_NONE)
            nr = nonzero(d->right, kr, fx_tree_sorted_children(d->right, p.r, &kr, &kr_cap));
        FX_GROW(d->pairs, d->pairs_cap, d->npairs + nl + nr);
        size_t first = d->npairs, a = 0, b = 0;
        while (a < nl || b < nr) {
            int c = a == nl ? 1
                    : b == nr ? -1
                              : fx_tree_name_cmp2(d->left, d->left->nodes[kl[a]].name, d->right,
                                                  d->right->nodes[kr[b]].name);
            uint32_t l = c <= 0 ? kl[a++] : FX_TREE_NONE;
            uint32_t r = c >= 0 ? kr[b++] : FX_TREE_NONE;
            d->pairs[d->npairs++] = (pair_t){l, r, 0, 0, p.level + 1};
        }
        d->pairs[i].first = (uint32_t)first;
        d->pairs[i].n = (uint32_t)(d->npairs - first);
    }
    /* A full heap means more than max_nodes pairs: its minimum is the cut. */
    int64_t min = k && hn == k && d->npairs > k ? h[0] : 0;
    free(h);
    free(kl);
    free(kr);
    return min;
}

/* Output index of a name, assigned on first visit; both sides share one
 * table so the same string gets one index whichever side brought it. */
static uint32_t name_index(diff_t *d, const fx_tree_t *t, uint32_t *cache, uint32_t id)
{
    if (cache[id] == UINT32_MAX)
        cache[id] = fx_strtab_intern(&d->names, fx_strtab_get(&t->names, id),
                                     fx_strtab_len(&t->names, id));
    return cache[id];
}

int fx_flamegraph_diff_encode(const fx_tree_t *left, const fx_tree_t *right, int64_t max_nodes,
                              fx_arena_t *a, Querier__V1__FlameGraphDiff **out, fx_err_t *err)
{
    int negl = has_negative(left), negr = has_negative(right);
    *out = NULL;
    if (negl || negr)
        return fx_err_set(err, FX_EINVAL,
                          "%s profile has negative sample values; a diff needs non-negative values",
                          negl && negr ? "the left and the right" : negl ? "the left" : "the right");

    diff_t d = {.left = left, .right = right};
    fx_strtab_init(&d.names);
    fx_strtab_intern(&d.names, "", 0); /* the root: index 0, shown as "total" */
    d.lcache = fx_malloc(left->names.len * sizeof *d.lcache);
    d.rcache = fx_malloc(right->names.len * sizeof *d.rcache);
    memset(d.lcache, 0xff, left->names.len * sizeof *d.lcache);
    memset(d.rcache, 0xff, right->names.len * sizeof *d.rcache);
    int64_t min = align(&d, max_nodes), max_self = 0;

    /* Nodes per level: kept pairs, plus one "other" under each kept pair
     * that folds at least one child. */
    uint8_t *kept = fx_calloc(d.npairs, 1);
    size_t nlevels = d.pairs[d.npairs - 1].level + 2;
    size_t *counts = fx_calloc(nlevels, sizeof *counts);
    kept[0] = 1;
    counts[0] = 1;
    for (size_t i = 0; i < d.npairs; i++) {
        if (!kept[i])
            continue;
        const pair_t *p = &d.pairs[i];
        int folded = 0;
        for (uint32_t c = p->first; c < p->first + p->n; c++) {
            if (tl(&d, &d.pairs[c]) >= min || tr(&d, &d.pairs[c]) >= min) {
                kept[c] = 1;
                counts[p->level + 1]++;
            } else {
                folded = 1;
            }
        }
        counts[p->level + 1] += folded;
    }
    while (nlevels > 1 && counts[nlevels - 1] == 0)
        nlevels--;
    fx__fg_out_t o;
    fx__fg_out_init(&o, counts, nlevels, 7, a);

    frame_t *stack = NULL;
    size_t sp = 0, stack_cap = 0;
    uint32_t other_index = UINT32_MAX;
    FX_GROW(stack, stack_cap, 64);
    stack[sp++] = (frame_t){0, 0, 0, 0, 0, 0};
    while (sp) {
        frame_t f = stack[--sp];
        int64_t *v = fx__fg_out_slot(&o, f.level);
        if (f.pair == FX_TREE_NONE) {
            if (other_index == UINT32_MAX)
                other_index = fx_strtab_intern(&d.names, FX_TREE_OTHER, sizeof FX_TREE_OTHER - 1);
            int64_t row[7] = {f.xl, f.ol, f.ol, f.xr, f.or_, f.or_, other_index};
            memcpy(v, row, sizeof row);
            max_self = FX_MAX(max_self, FX_MAX(f.ol, f.or_));
            continue;
        }
        const pair_t *p = &d.pairs[f.pair];
        int64_t sl = p->l == FX_TREE_NONE ? 0 : left->nodes[p->l].self;
        int64_t sr = p->r == FX_TREE_NONE ? 0 : right->nodes[p->r].self;
        uint32_t idx = p->l != FX_TREE_NONE
                           ? name_index(&d, left, d.lcache, left->nodes[p->l].name)
                           : name_index(&d, right, d.rcache, right->nodes[p->r].name);
        int64_t row[7] = {f.xl, tl(&d, p), sl, f.xr, tr(&d, p), sr, idx};
        memcpy(v, row, sizeof row);
        max_self = FX_MAX(max_self, FX_MAX(sl, sr));

        /* Same walk as the single flame graph: children after the parent's
         * self, pushed in name order so the last is visited first. */
        int64_t xl = (int64_t)((uint64_t)f.xl + (uint64_t)sl);
        int64_t xr = (int64_t)((uint64_t)f.xr + (uint64_t)sr);
        int64_t ol = 0, or_ = 0;
        int folded = 0;
        FX_GROW(stack, stack_cap, sp + p->n + 1);
        for (uint32_t c = p->first; c < p->first + p->n; c++) {
            const pair_t *q = &d.pairs[c];
            int64_t ql = tl(&d, q), qr = tr(&d, q);
            if (kept[c]) {
                stack[sp++] = (frame_t){c, f.level + 1, xl, xr, 0, 0};
                xl = (int64_t)((uint64_t)xl + (uint64_t)ql);
                xr = (int64_t)((uint64_t)xr + (uint64_t)qr);
            } else {
                ol = (int64_t)((uint64_t)ol + (uint64_t)ql);
                or_ = (int64_t)((uint64_t)or_ + (uint64_t)qr);
                folded = 1;
            }
        }
        if (folded)
            stack[sp++] = (frame_t){FX_TREE_NONE, f.level + 1, xl, xr, ol, or_};
    }
    fx__fg_out_finish(&o);

    Querier__V1__FlameGraphDiff *fg = fx_arena_alloc(a, sizeof *fg);
    querier__v1__flame_graph_diff__init(fg);
    fx__fg_name_t *names = fx_malloc(d.names.len * sizeof *names);
    for (size_t i = 0; i < d.names.len; i++)
        names[i] = (fx__fg_name_t){fx_strtab_get(&d.names, (uint32_t)i),
                                   fx_strtab_len(&d.names, (uint32_t)i)};
    fg->n_names = d.names.len;
    fg->names = fx__fg_names(names, d.names.len, a);
    fg->n_levels = o.nlevels;
    fg->levels = o.levels;
    fg->leftticks = left->nodes[FX_TREE_ROOT].total;
    fg->rightticks = right->nodes[FX_TREE_ROOT].total;
    fg->total = (int64_t)((uint64_t)fg->leftticks + (uint64_t)fg->rightticks);
    fg->max_self = max_self;
    *out = fg;

    free(names);
    free(stack);
    free(kept);
    free(counts);
    free(d.pairs);
    free(d.lcache);
    free(d.rcache);
    fx_strtab_free(&d.names);
    return FX_OK;
}
