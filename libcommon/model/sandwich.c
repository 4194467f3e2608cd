/* sandwich.c - callers and callees of one function. */
#include "model/sandwich.h"
#include "core/core.h"
#include "core/mem.h"
#include "model/callsite.h"

#include <stdlib.h>

typedef struct walk {
    uint32_t node, child;
} walk_t;

void fx_sandwich_build(const fx_tree_t *t, const char *name, size_t len, fx_sandwich_t *s)
{
    fx_tree_init(&s->callers);
    fx_tree_init(&s->callees);
    s->total = s->self = 0;
    int64_t found = fx_strtab_find(&t->names, name, len);
    if (found < 0) {
        fx_tree_compute_totals(&s->callers);
        fx_tree_compute_totals(&s->callees);
        return;
    }
    uint32_t fn = (uint32_t)found;
    uint32_t top_callers = fx_tree_child(&s->callers, FX_TREE_ROOT, fx_tree_name(&s->callers, name, len));
    uint32_t top_callees = fx_tree_child(&s->callees, FX_TREE_ROOT, fx_tree_name(&s->callees, name, len));

    /* Depth-first with the number of open occurrences, so that the total
     * counted once per sample only takes the outermost occurrence. */
    walk_t *st = NULL;
    size_t sp = 0, cap = 0;
    unsigned open = 0;
    FX_GROW(st, cap, 64);
    st[sp++] = (walk_t){FX_TREE_ROOT, t->nodes[FX_TREE_ROOT].first_child};
    while (sp) {
        walk_t *w = &st[sp - 1];
        if (w->child == FX_TREE_NONE) {
            if (w->node != FX_TREE_ROOT && t->nodes[w->node].name == fn)
                open--;
            sp--;
            continue;
        }
        uint32_t c = w->child;
        const fx_tree_node_t *n = &t->nodes[c];
        w->child = n->next_sibling;
        if (n->name == fn && (n->total != 0 || n->self != 0)) {
            s->self += n->self;
            if (open == 0)
                s->total += n->total;
            /* Callers: the chain above this occurrence, each credited with
             * the occurrence's total, the value the function got via it. */
            uint32_t at = top_callers;
            for (uint32_t p = n->parent; p != FX_TREE_ROOT; p = t->nodes[p].parent) {
                const char *pn = fx_strtab_get(&t->names, t->nodes[p].name);
                at = fx_tree_child(&s->callers, at,
                                   fx_tree_name(&s->callers, pn,
                                                fx_strtab_len(&t->names, t->nodes[p].name)));
            }
            s->callers.nodes[at].self += n->total;
            /* Callees: this occurrence's subtree merged under the top. */
            s->callees.nodes[top_callees].self += n->self;
            for (uint32_t k = n->first_child; k != FX_TREE_NONE; k = t->nodes[k].next_sibling)
                fx_tree_copy_subtree(t, k, &s->callees, top_callees);
        }
        if (n->name == fn)
            open++;
        FX_GROW(st, cap, sp + 1);
        st[sp++] = (walk_t){c, n->first_child};
    }
    free(st);
    fx_tree_compute_totals(&s->callers);
    fx_tree_compute_totals(&s->callees);
}

void fx_sandwich_free(fx_sandwich_t *s)
{
    fx_tree_free(&s->callers);
    fx_tree_free(&s->callees);
}
