/*
 * tree_helpers.h - test-only helpers shared by the model unit tests: build a
 * tree from folded text, compare two trees structurally, make random trees.
 * Header-only so every test binary stays one .c file.
 */
#ifndef FX_TEST_TREE_HELPERS_H
#define FX_TEST_TREE_HELPERS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "model/folded.h"
#include "model/tree.h"

/* Initialises t from folded text ("a;b;c 3\n...") and computes totals. */
static inline void th_tree_from_folded(fx_tree_t *t, const char *text)
{
    fx_err_t err = {0};
    fx_tree_init(t);
    int rc = fx_folded_to_tree(text, strlen(text), t, &err);
    if (rc != FX_OK)
        FX_PANIC(err.msg);
    fx_tree_compute_totals(t);
}

/* Node of b matching node na of a (same name path), or FX_TREE_NONE. */
static inline uint32_t th_find_same(const fx_tree_t *a, uint32_t na, const fx_tree_t *b)
{
    if (na == FX_TREE_ROOT)
        return FX_TREE_ROOT;
    uint32_t pb = th_find_same(a, a->nodes[na].parent, b);
    if (pb == FX_TREE_NONE)
        return FX_TREE_NONE;
    const char *s = fx_tree_name_str(a, a->nodes[na].name);
    int64_t id = fx_strtab_find(&b->names, s, fx_strtab_len(&a->names, a->nodes[na].name));
    if (id < 0)
        return FX_TREE_NONE;
    return fx_tree_find_child(b, pb, (uint32_t)id);
}

/* 1 if every non-zero node of a exists in b with equal self and total and
 * vice versa. */
static inline int th_tree_equal(const fx_tree_t *a, const fx_tree_t *b)
{
    for (int pass = 0; pass < 2; pass++) {
        const fx_tree_t *x = pass ? b : a, *y = pass ? a : b;
        for (uint32_t i = 0; i < x->len; i++) {
            if (x->nodes[i].total == 0 && x->nodes[i].self == 0)
                continue;
            uint32_t j = th_find_same(x, i, y);
            if (j == FX_TREE_NONE || y->nodes[j].self != x->nodes[i].self ||
                y->nodes[j].total != x->nodes[i].total)
                return 0;
        }
    }
    return 1;
}

/* xorshift64*: deterministic randomness for reproducible tests. */
static inline uint64_t th_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

/* Initialises t with about n random nodes: names drawn from nnames function
 * names, depth up to maxdepth, selfs 1..1000. Totals computed. */
static inline void th_random_tree(fx_tree_t *t, size_t n, uint32_t nnames, size_t maxdepth,
                                  uint64_t seed)
{
    uint64_t s = seed ? seed : 1;
    fx_tree_init(t);
    uint32_t *ids = malloc(nnames * sizeof *ids);
    char buf[64];
    for (uint32_t i = 0; i < nnames; i++) {
        int len = snprintf(buf, sizeof buf, "pkg%u.func%u", i % 37, i);
        ids[i] = fx_tree_name(t, buf, (size_t)len);
    }
    uint32_t *stack = malloc(maxdepth * sizeof *stack);
    while (t->len < n + 1) {
        size_t depth = 1 + th_rand(&s) % maxdepth;
        for (size_t d = 0; d < depth; d++) {
            /* Skewed choice so that siblings repeat and the tree branches. */
            uint64_t r = th_rand(&s);
            stack[d] = ids[(r % 4 == 0) ? r % nnames : (r >> 8) % (d + 4) % nnames];
        }
        fx_tree_add_stack(t, stack, depth, (int64_t)(1 + th_rand(&s) % 1000));
    }
    free(stack);
    free(ids);
    fx_tree_compute_totals(t);
}

#endif
