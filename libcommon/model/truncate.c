/* truncate.c - the max_nodes threshold and the truncated tree copy. */
#include "model/truncate.h"
#include "core/core.h"
#include "core/mem.h"

#include <stdlib.h>
#include <string.h>

void fx__min_heap_down(int64_t *h, size_t n, size_t i)
{
    int64_t v = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && h[c + 1] < h[c])
            c++;
        if (h[c] >= v)
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = v;
}

static void sift_up(int64_t *h, size_t i)
{
    int64_t v = h[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p] <= v)
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = v;
}

int64_t fx_tree_min_total(const fx_tree_t *t, int64_t max_nodes)
{
    if (max_nodes < 1)
        return 0;
    /* "other" nodes are always kept and not counted: that makes truncating
     * a truncated tree a no-op (see truncate.h). */
    uint32_t other = fx_tree_other_name(t);
    size_t counted = 0;
    for (size_t i = 1; i < t->len; i++)
        counted += t->nodes[i].total != 0 && t->nodes[i].name != other;
    if ((uint64_t)counted <= (uint64_t)max_nodes)
        return 0;

    /* counted > max_nodes, so the heap size fits in size_t. */
    size_t k = (size_t)max_nodes, n = 0;
    int64_t *h = fx_malloc(k * sizeof *h);
    for (size_t i = 1; i < t->len; i++) {
        int64_t v = t->nodes[i].total;
        if (v == 0 || t->nodes[i].name == other)
            continue;
        if (n < k) {
            h[n] = v;
            sift_up(h, n++);
        } else if (v > h[0]) {
            h[0] = v;
            fx__min_heap_down(h, n, 0);
        }
    }
    int64_t min = h[0];
    free(h);
    return min;
}

uint32_t fx_tree_other_name(const fx_tree_t *t)
{
    int64_t id = fx_strtab_find(&t->names, FX_TREE_OTHER, sizeof FX_TREE_OTHER - 1);
    return id < 0 ? FX_TREE_NONE : (uint32_t)id;
}

void fx_tree_truncate(const fx_tree_t *src, int64_t max_nodes, fx_tree_t *dst)
{
    int64_t min = fx_tree_min_total(src, max_nodes);
    uint32_t other_src = fx_tree_other_name(src);
    uint32_t other_dst = fx_tree_name(dst, FX_TREE_OTHER, sizeof FX_TREE_OTHER - 1);
    /* map[i] = the copy of src node i in dst, FX_TREE_NONE if cut. Parents
     * precede children in src, so one forward pass sees every parent first. */
    uint32_t *map = fx_malloc(src->len * sizeof *map);
    map[0] = FX_TREE_ROOT;
    dst->nodes[FX_TREE_ROOT].self += src->nodes[0].self;
    for (size_t i = 1; i < src->len; i++) {
        const fx_tree_node_t *n = &src->nodes[i];
        uint32_t parent = map[n->parent];
        map[i] = FX_TREE_NONE;
        if (parent == FX_TREE_NONE || n->total == 0)
            continue;
        if (n->total >= min || n->name == other_src) {
            uint32_t name = fx_tree_name(dst, fx_strtab_get(&src->names, n->name),
                                         fx_strtab_len(&src->names, n->name));
            map[i] = fx_tree_child(dst, parent, name);
            dst->nodes[map[i]].self += n->self;
        } else {
            /* fx_tree_child may move dst->nodes: index after the call. */
            uint32_t o = fx_tree_child(dst, parent, other_dst);
            dst->nodes[o].self += n->total;
        }
    }
    free(map);
    fx_tree_compute_totals(dst);
}
