/* treebytes.c - Pyroscope tree bytes writer and strict reader. */
#include "model/treebytes.h"
#include "core/mem.h"
#include "model/truncate.h"

#include <stdlib.h>
#include <string.h>

/* ---- writer ------------------------------------------------------------ */

/* A node to write: node == FX_TREE_NONE is a synthetic "other" leaf whose
 * self is extra; otherwise extra is added to the node's self (the folded
 * siblings merged into an existing "other"). */
typedef struct wframe {
    uint32_t node;
    int64_t extra;
} wframe_t;

static int cmp_other(const fx_tree_t *t, uint32_t name)
{
    static const char other[] = FX_TREE_OTHER;
    uint32_t len = fx_strtab_len(&t->names, name), n = sizeof other - 1;
    int c = memcmp(fx_strtab_get(&t->names, name), other, FX_MIN(len, n));
    return c ? c : (len > n) - (len < n);
}

static void put_name(fx_buf_t *out, const char *s, size_t n)
{
    fx_buf_uvarint(out, n);
    fx_buf_append(out, s, n);
}

int fx_treebytes_write(const fx_tree_t *t, int64_t max_nodes, fx_buf_t *out, fx_err_t *err)
{
    for (size_t i = 0; i < t->len; i++)
        if (t->nodes[i].self < 0)
            return fx_err_set(err, FX_EINVAL,
                              "tree has a negative value (%lld at \"%s\"); tree bytes hold "
                              "unsigned values", (long long)t->nodes[i].self,
                              fx_tree_name_str(t, t->nodes[i].name));
    int empty = t->nodes[FX_TREE_ROOT].self == 0;
    for (uint32_t c = t->nodes[FX_TREE_ROOT].first_child; empty && c != FX_TREE_NONE;
         c = t->nodes[c].next_sibling)
        empty = t->nodes[c].total == 0;
    if (empty)
        return FX_OK;

    int64_t min = fx_tree_min_total(t, max_nodes);
    uint32_t other_id = fx_tree_other_name(t);
    wframe_t *stack = NULL, *kids = NULL;
    uint32_t *sorted = NULL;
    size_t sp = 0, stack_cap = 0, kids_cap = 0, sorted_cap = 0;
    FX_GROW(stack, stack_cap, 64);
    stack[sp++] = (wframe_t){FX_TREE_ROOT, 0};
    while (sp) {
        wframe_t f = stack[--sp];
        if (f.node == FX_TREE_NONE) {
            put_name(out, FX_TREE_OTHER, sizeof FX_TREE_OTHER - 1);
            fx_buf_uvarint(out, (uint64_t)f.extra);
            fx_buf_uvarint(out, 0);
            continue;
        }
        const fx_tree_node_t *n = &t->nodes[f.node];
        if (f.node == FX_TREE_ROOT)
            put_name(out, "", 0);
        else
            put_name(out, fx_strtab_get(&t->names, n->name), fx_strtab_len(&t->names, n->name));
        fx_buf_uvarint(out, (uint64_t)n->self + (uint64_t)f.extra);

        /* Kept children in name order; cut ones summed into folded. */
        size_t ns = fx_tree_sorted_children(t, f.node, &sorted, &sorted_cap), nk = 0;
        uint64_t folded = 0;
        int has_other = 0;
        FX_GROW(kids, kids_cap, ns + 1);
        for (size_t i = 0; i < ns; i++) {
            const fx_tree_node_t *c = &t->nodes[sorted[i]];
            if (c->total == 0)
                continue;
            if (c->total >= min || c->name == other_id) {
                has_other |= c->name == other_id;
                kids[nk++] = (wframe_t){sorted[i], 0};
            } else {
                folded += (uint64_t)c->total;
            }
        }
        if (folded) {
            /* Into the existing "other", or a new one at its sorted place,
             * as Pyroscope's node.insert does. */
            size_t i = 0;
            while (i < nk && cmp_other(t, t->nodes[kids[i].node].name) < 0)
                i++;
            if (has_other) {
                kids[i].extra = (int64_t)folded;
            } else {
                memmove(kids + i + 1, kids + i, (nk - i) * sizeof *kids);
                kids[i] = (wframe_t){FX_TREE_NONE, (int64_t)folded};
                nk++;
            }
        }
        fx_buf_uvarint(out, nk);
        /* Pushed in name order, written last-first: Pyroscope's order. */
        FX_GROW(stack, stack_cap, sp + nk);
        memcpy(stack + sp, kids, nk * sizeof *kids);
        sp += nk;
    }
    free(stack);
    free(kids);
    free(sorted);
    return FX_OK;
}

/* ---- reader ------------------------------------------------------------ */

typedef struct rframe {
    uint32_t node;
    uint64_t left;  /* children still to read */
} rframe_t;

typedef struct reader {
    const uint8_t *p, *start, *end;
    fx_err_t *err;
} reader_t;

static int fail(reader_t *r, const char *what)
{
    return fx_err_set(r->err, FX_EINVAL, "tree bytes: %s at byte offset %zu of %zu", what,
                      (size_t)(r->p - r->start), (size_t)(r->end - r->start));
}

static int read_uvarint(reader_t *r, uint64_t *v, const char *what)
{
    if (fx_uvarint(&r->p, r->end, v) < 0)
        return fail(r, what);
    return FX_OK;
}

/* One node header: name, self, child count, each bounds-checked. */
static int read_node(reader_t *r, const char **name, size_t *len, uint64_t *self,
                     uint64_t *nchild)
{
    uint64_t n;
    int rc;
    if ((rc = read_uvarint(r, &n, "truncated or over-long name length")))
        return rc;
    if (n > (uint64_t)(r->end - r->p))
        return fail(r, "name length runs past the end");
    *name = (const char *)r->p;
    *len = (size_t)n;
    r->p += n;
    if ((rc = read_uvarint(r, self, "truncated or over-long self value")))
        return rc;
    if (*self > INT64_MAX)
        return fail(r, "self value exceeds int64");
    if ((rc = read_uvarint(r, nchild, "truncated or over-long child count")))
        return rc;
    /* Every child takes at least three bytes. */
    if (*nchild > (uint64_t)(r->end - r->p) / 3)
        return fail(r, "child count larger than the remaining bytes can hold");
    return FX_OK;
}

int fx_treebytes_merge(fx_tree_t *t, const uint8_t *data, size_t n, fx_err_t *err)
{
    reader_t r = {data, data, data + n, err};
    rframe_t *stack = NULL;
    size_t sp = 0, cap = 0;
    uint64_t sum = 0, self, nchild;
    const char *name;
    size_t len;
    int rc = FX_OK;

    if (n == 0)
        return FX_OK;
    /* The virtual root: its name is ignored, its self is the root's. */
    if ((rc = read_node(&r, &name, &len, &self, &nchild)))
        goto out;
    sum = self;
    t->nodes[FX_TREE_ROOT].self = (int64_t)((uint64_t)t->nodes[FX_TREE_ROOT].self + self);
    FX_GROW(stack, cap, 64);
    if (nchild)
        stack[sp++] = (rframe_t){FX_TREE_ROOT, nchild};
    while (sp) {
        rframe_t *f = &stack[sp - 1];
        if (f->left == 0) {
            sp--;
            continue;
        }
        f->left--;
        uint32_t parent = f->node;
        if ((rc = read_node(&r, &name, &len, &self, &nchild)))
            goto out;
        sum += self;
        if (sum > INT64_MAX) {
            rc = fail(&r, "values add up to more than int64");
            goto out;
        }
        uint32_t id = fx_tree_child(t, parent, fx_tree_name(t, name, len));
        t->nodes[id].self = (int64_t)((uint64_t)t->nodes[id].self + self);
        if (nchild) {
            if (sp >= FX_TREEBYTES_MAX_DEPTH) {
                rc = fx_err_set(err, FX_EINVAL,
                                "tree bytes: nesting deeper than %d frames at byte offset %zu",
                                FX_TREEBYTES_MAX_DEPTH, (size_t)(r.p - r.start));
                goto out;
            }
            FX_GROW(stack, cap, sp + 1);
            stack[sp++] = (rframe_t){id, nchild};
        }
    }
    if (r.p != r.end)
        rc = fail(&r, "trailing bytes after the tree");
out:
    free(stack);
    return rc;
}

int fx_treebytes_parse(fx_tree_t *t, const uint8_t *data, size_t n, fx_err_t *err)
{
    int rc = fx_treebytes_merge(t, data, n, err);
    fx_tree_compute_totals(t);
    return rc;
}
