/* folded.c - folded stack text parser and writer. */
#include "model/folded.h"
#include "core/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_value(const char *s, size_t n, int64_t *out)
{
    int64_t v = 0;
    if (n == 0 || n > 18)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int fx_folded_each(const char *text, size_t n, int with_values, fx_folded_fn fn, void *ctx,
                   fx_err_t *err)
{
    fx_slice_t *frames = fx_malloc(FX_FOLDED_MAX_DEPTH * sizeof *frames);
    size_t lineno = 0, pos = 0;
    int rc = FX_OK;

    while (pos < n && rc == FX_OK) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', n - pos);
        size_t len = nl ? (size_t)(nl - line) : n - pos;
        pos += len + (nl ? 1 : 0);
        lineno++;
        if (len && line[len - 1] == '\r')
            len--;
        while (len && (line[len - 1] == ' ' || line[len - 1] == '\t'))
            len--;
        if (len == 0)
            continue;
        int64_t value = 1;
        size_t stack_len = len;
        if (with_values) {
            size_t sp = len;
            while (sp && line[sp - 1] != ' ')
                sp--;
            if (sp == 0 || parse_value(line + sp, len - sp, &value) < 0) {
                rc = fx_err_set(err, FX_EINVAL,
                                "folded line %zu: expected \"frame;frame;... <count>\"", lineno);
                break;
            }
            stack_len = sp - 1;
            while (stack_len && line[stack_len - 1] == ' ')
                stack_len--;
        }
        if (stack_len == 0) {
            rc = fx_err_set(err, FX_EINVAL, "folded line %zu: empty stack", lineno);
            break;
        }
        size_t nf = 0, start = 0;
        for (size_t i = 0; i <= stack_len; i++) {
            if (i == stack_len || line[i] == ';') {
                if (nf == FX_FOLDED_MAX_DEPTH) {
                    rc = fx_err_set(err, FX_EINVAL, "folded line %zu: deeper than %d frames",
                                    lineno, FX_FOLDED_MAX_DEPTH);
                    break;
                }
                if (i > start) {
                    frames[nf].data = (const uint8_t *)line + start;
                    frames[nf].len = i - start;
                    nf++;
                }
                start = i + 1;
            }
        }
        if (rc == FX_OK && nf)
            rc = fn(frames, nf, value, ctx);
    }
    free(frames);
    return rc;
}

typedef struct tree_ctx {
    fx_tree_t *tree;
    uint32_t names[FX_FOLDED_MAX_DEPTH];
} tree_ctx_t;

static int add_to_tree(const fx_slice_t *frames, size_t nframes, int64_t value, void *ctx)
{
    tree_ctx_t *c = ctx;
    for (size_t i = 0; i < nframes; i++)
        c->names[i] = fx_tree_name(c->tree, (const char *)frames[i].data, frames[i].len);
    fx_tree_add_stack(c->tree, c->names, nframes, value);
    return FX_OK;
}

int fx_folded_to_tree(const char *text, size_t n, fx_tree_t *tree, fx_err_t *err)
{
    tree_ctx_t *c = fx_malloc(sizeof *c);
    c->tree = tree;
    int rc = fx_folded_each(text, n, 1, add_to_tree, c, err);
    free(c);
    return rc;
}

typedef struct wframe {
    uint32_t node;
    size_t prefix;  /* bytes of the path buffer before this node's name */
} wframe_t;

void fx_folded_write(const fx_tree_t *t, fx_buf_t *out)
{
    fx_buf_t path = FX_BUF_INIT;
    wframe_t *st = NULL;
    uint32_t *kids = NULL;
    size_t sp = 0, cap = 0, kids_cap = 0;
    char num[24];

    /* Children pushed in reverse name order pop in name order. */
    size_t nk = fx_tree_sorted_children(t, FX_TREE_ROOT, &kids, &kids_cap);
    FX_GROW(st, cap, nk + 1);
    for (size_t i = nk; i-- > 0;)
        st[sp++] = (wframe_t){kids[i], 0};
    while (sp) {
        wframe_t f = st[--sp];
        const fx_tree_node_t *n = &t->nodes[f.node];
        if (n->total == 0 && n->self == 0)
            continue;
        path.len = f.prefix;
        if (f.prefix)
            fx_buf_putc(&path, ';');
        fx_buf_append(&path, fx_strtab_get(&t->names, n->name), fx_strtab_len(&t->names, n->name));
        if (n->self != 0) {
            int w = snprintf(num, sizeof num, " %lld\n", (long long)n->self);
            fx_buf_append(out, path.data, path.len);
            fx_buf_append(out, num, (size_t)w);
        }
        size_t prefix = path.len;
        nk = fx_tree_sorted_children(t, f.node, &kids, &kids_cap);
        FX_GROW(st, cap, sp + nk);
        for (size_t i = nk; i-- > 0;)
            st[sp++] = (wframe_t){kids[i], prefix};
    }
    free(st);
    free(kids);
    fx_buf_free(&path);
}
