/* callsite.c - call-site (stack prefix) filter and subtree copy. */
#include "model/callsite.h"
#include "core/core.h"
#include "core/mem.h"

#include <stdlib.h>
#include <string.h>

typedef struct pair {
    uint32_t src, dst;
} pair_t;

static uint32_t copy_name(const fx_tree_t *src, uint32_t name, fx_tree_t *dst)
{
    return fx_tree_name(dst, fx_strtab_get(&src->names, name), fx_strtab_len(&src->names, name));
}

uint32_t fx_tree_copy_subtree(const fx_tree_t *src, uint32_t src_node, fx_tree_t *dst,
                              uint32_t dst_parent)
{
    uint32_t top = src_node == FX_TREE_ROOT
                       ? dst_parent
                       : fx_tree_child(dst, dst_parent, copy_name(src, src->nodes[src_node].name, dst));
    pair_t *st = NULL;
    size_t sp = 0, cap = 0;
    FX_GROW(st, cap, 64);
    st[sp++] = (pair_t){src_node, top};
    while (sp) {
        pair_t p = st[--sp];
        dst->nodes[p.dst].self += src->nodes[p.src].self;
        for (uint32_t c = src->nodes[p.src].first_child; c != FX_TREE_NONE;
             c = src->nodes[c].next_sibling) {
            uint32_t d = fx_tree_child(dst, p.dst, copy_name(src, src->nodes[c].name, dst));
            FX_GROW(st, cap, sp + 1);
            st[sp++] = (pair_t){c, d};
        }
    }
    free(st);
    return top;
}

void fx_tree_filter_call_site(const fx_tree_t *src, const char *const *names, size_t n,
                              fx_tree_t *dst)
{
    uint32_t node = FX_TREE_ROOT, at = FX_TREE_ROOT;
    for (size_t i = 0; i < n && node != FX_TREE_NONE; i++) {
        int64_t id = fx_strtab_find(&src->names, names[i], strlen(names[i]));
        node = id < 0 ? FX_TREE_NONE : fx_tree_find_child(src, node, (uint32_t)id);
    }
    if (node != FX_TREE_NONE) {
        /* The prefix frames above the call site carry none of their own
         * samples: only stacks reaching the call site are selected. */
        for (size_t i = 0; i + 1 < n; i++)
            at = fx_tree_child(dst, at, fx_tree_name(dst, names[i], strlen(names[i])));
        fx_tree_copy_subtree(src, node, dst, at);
    }
    fx_tree_compute_totals(dst);
}
