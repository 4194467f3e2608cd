/* tree.c - the call tree core: interning, child lookup, totals, merge. */
#include "model/tree.h"
#include "core/core.h"
#include "core/mem.h"

#include <stdlib.h>
#include <string.h>

static uint32_t new_node(fx_tree_t *t, uint32_t parent, uint32_t name)
{
    FX_GROW(t->nodes, t->cap, t->len + 1);
    uint32_t id = (uint32_t)t->len++;
    fx_tree_node_t *n = &t->nodes[id];
    n->parent = parent;
    n->name = name;
    n->first_child = FX_TREE_NONE;
    n->next_sibling = FX_TREE_NONE;
    n->self = 0;
    n->total = 0;
    if (parent != FX_TREE_NONE) {
        n->next_sibling = t->nodes[parent].first_child;
        t->nodes[parent].first_child = id;
    }
    return id;
}

void fx_tree_init(fx_tree_t *t)
{
    memset(t, 0, sizeof *t);
    fx_strtab_init(&t->names);
    fx_map64_init(&t->index);
    fx_strtab_intern(&t->names, "", 0);
    new_node(t, FX_TREE_NONE, 0);
}

void fx_tree_free(fx_tree_t *t)
{
    fx_strtab_free(&t->names);
    fx_map64_free(&t->index);
    free(t->nodes);
    memset(t, 0, sizeof *t);
}

uint32_t fx_tree_name(fx_tree_t *t, const char *s, size_t n)
{
    return fx_strtab_intern(&t->names, s, n);
}

uint32_t fx_tree_child(fx_tree_t *t, uint32_t parent, uint32_t name)
{
    int inserted;
    uint64_t *slot = fx_map64_put(&t->index, (uint64_t)parent << 32 | name, &inserted);
    if (inserted) {
        /* new_node may grow nodes but not the map, so slot stays valid. */
        *slot = new_node(t, parent, name);
    }
    return (uint32_t)*slot;
}

uint32_t fx_tree_find_child(const fx_tree_t *t, uint32_t parent, uint32_t name)
{
    uint64_t *slot = fx_map64_get(&t->index, (uint64_t)parent << 32 | name);
    return slot ? (uint32_t)*slot : FX_TREE_NONE;
}

void fx_tree_add_stack(fx_tree_t *t, const uint32_t *names, size_t n, int64_t value)
{
    uint32_t node = FX_TREE_ROOT;
    for (size_t i = 0; i < n; i++)
        node = fx_tree_child(t, node, names[i]);
    t->nodes[node].self += value;
}

void fx_tree_compute_totals(fx_tree_t *t)
{
    for (size_t i = 0; i < t->len; i++)
        t->nodes[i].total = t->nodes[i].self;
    /* Wrapping (unsigned) sums: a tree decoded from hostile input may hold
     * values whose sum exceeds int64, and that must not be undefined
     * behaviour. Decoders reject such input; this is the backstop. */
    for (size_t i = t->len; i-- > 1;) {
        fx_tree_node_t *p = &t->nodes[t->nodes[i].parent];
        p->total = (int64_t)((uint64_t)p->total + (uint64_t)t->nodes[i].total);
    }
}

void fx_tree_merge(fx_tree_t *dst, const fx_tree_t *src)
{
    uint32_t *map = fx_malloc(src->len * sizeof *map);
    map[0] = FX_TREE_ROOT;
    dst->nodes[FX_TREE_ROOT].self += src->nodes[0].self;
    /* Parents precede children, so map[parent] is set when a child is seen. */
    for (size_t i = 1; i < src->len; i++) {
        const fx_tree_node_t *n = &src->nodes[i];
        uint32_t name = fx_tree_name(dst, fx_strtab_get(&src->names, n->name),
                                     fx_strtab_len(&src->names, n->name));
        map[i] = fx_tree_child(dst, map[n->parent], name);
        dst->nodes[map[i]].self += n->self;
    }
    free(map);
}

int64_t fx_tree_total(const fx_tree_t *t)
{
    int64_t sum = 0;
    for (size_t i = 0; i < t->len; i++)
        sum += t->nodes[i].self;
    return sum;
}

int fx_tree_name_cmp2(const fx_tree_t *ta, uint32_t a, const fx_tree_t *tb, uint32_t b)
{
    uint32_t la = fx_strtab_len(&ta->names, a), lb = fx_strtab_len(&tb->names, b);
    int c = memcmp(fx_strtab_get(&ta->names, a), fx_strtab_get(&tb->names, b), FX_MIN(la, lb));
    if (c)
        return c;
    return la < lb ? -1 : la > lb;
}

int fx_tree_name_cmp(const fx_tree_t *t, uint32_t a, uint32_t b)
{
    return a == b ? 0 : fx_tree_name_cmp2(t, a, t, b);
}

static int cmp_children(const void *x, const void *y, void *ctx)
{
    const fx_tree_t *t = ctx;
    return fx_tree_name_cmp(t, t->nodes[*(const uint32_t *)x].name,
                            t->nodes[*(const uint32_t *)y].name);
}

size_t fx_tree_sorted_children(const fx_tree_t *t, uint32_t node, uint32_t **buf, size_t *cap)
{
    size_t n = 0;
    for (uint32_t c = t->nodes[node].first_child; c != FX_TREE_NONE; c = t->nodes[c].next_sibling) {
        FX_GROW(*buf, *cap, n + 1);
        (*buf)[n++] = c;
    }
    uint32_t *v = *buf;
    /* Most nodes have one or two children: insertion sort wins there and
     * keeps qsort's call overhead for the wide nodes. */
    if (n <= 12) {
        for (size_t i = 1; i < n; i++) {
            uint32_t x = v[i];
            size_t j = i;
            while (j > 0 && fx_tree_name_cmp(t, t->nodes[v[j - 1]].name, t->nodes[x].name) > 0) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = x;
        }
    } else {
        qsort_r(v, n, sizeof *v, cmp_children, (void *)t);
    }
    return n;
}

size_t fx_tree_depth(const fx_tree_t *t, uint32_t node)
{
    size_t d = 0;
    while (node != FX_TREE_ROOT) {
        node = t->nodes[node].parent;
        d++;
    }
    return d;
}
