/* dot.c - function-level call graph in Graphviz DOT, pprof style. */
#include "model/dot.h"
#include "model/top.h"
#include "core/core.h"
#include "core/hash.h"
#include "core/mem.h"
#include "core/utf8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- value formatting (pprof measurement) ------------------------------- */

typedef struct unit {
    const char *name;
    double factor;
} unit_t;

static const unit_t time_units[] = {{"ns", 1e-9}, {"us", 1e-6}, {"ms", 1e-3}, {"s", 1},
                                    {"hrs", 3600}};
static const unit_t byte_units[] = {{"B", 1},
                                    {"kB", 1024.0},
                                    {"MB", 1024.0 * 1024},
                                    {"GB", 1024.0 * 1024 * 1024},
                                    {"TB", 1024.0 * 1024 * 1024 * 1024},
                                    {"PB", 1024.0 * 1024 * 1024 * 1024 * 1024}};

/* Factor of one sample unit in the base unit of its family, 0 if unknown. */
static double unit_factor(const char *unit, const unit_t **family, size_t *n)
{
    static const struct {
        const char *alias;
        int family;
        double factor;
    } aliases[] = {
        {"nanoseconds", 0, 1e-9}, {"nanosecond", 0, 1e-9}, {"ns", 0, 1e-9},
        {"microseconds", 0, 1e-6}, {"microsecond", 0, 1e-6}, {"us", 0, 1e-6},
        {"milliseconds", 0, 1e-3}, {"millisecond", 0, 1e-3}, {"ms", 0, 1e-3},
        {"seconds", 0, 1}, {"second", 0, 1}, {"s", 0, 1},
        {"bytes", 1, 1}, {"byte", 1, 1}, {"b", 1, 1},
        {"kilobytes", 1, 1024.0}, {"kb", 1, 1024.0},
        {"megabytes", 1, 1024.0 * 1024}, {"mb", 1, 1024.0 * 1024},
    };
    if (!unit)
        return 0;
    for (size_t i = 0; i < FX_ARRAY_LEN(aliases); i++) {
        if (strcasecmp(unit, aliases[i].alias) == 0) {
            *family = aliases[i].family ? byte_units : time_units;
            *n = aliases[i].family ? FX_ARRAY_LEN(byte_units) : FX_ARRAY_LEN(time_units);
            return aliases[i].factor;
        }
    }
    return 0;
}

char *fx_dot_format_value(int64_t v, const char *unit, char *buf, size_t len)
{
    const unit_t *family = NULL;
    size_t n = 0;
    double factor = unit_factor(unit, &family, &n);
    if (factor == 0) {
        snprintf(buf, len, "%lld", (long long)v);
        return buf;
    }
    double x = fabs((double)v) * factor, f = 0;
    const char *name = family[0].name;
    /* The largest unit the value reaches at least once; the family's first
     * (smallest) for zero, as pprof's autoScale falls back to. */
    for (size_t i = 0; i < n; i++) {
        if (family[i].factor >= f && x / family[i].factor >= 1.0) {
            f = family[i].factor;
            name = family[i].name;
        }
    }
    if (f == 0) {
        snprintf(buf, len, "0");
        return buf;
    }
    int w = snprintf(buf, len, "%s%.2f", v < 0 ? "-" : "", x / f);
    if (w >= 3 && (size_t)w < len && strcmp(buf + w - 3, ".00") == 0)
        w -= 3;
    snprintf(buf + w, len - (size_t)w, "%s", name);
    return buf;
}

/* pprof's measurement.Percentage, trimmed. */
static char *percentage(int64_t v, int64_t total, char *buf, size_t len)
{
    double r = total ? fabs((double)v / (double)total) * 100 : 0;
    if (r >= 99.95 && r <= 100.05)
        snprintf(buf, len, "100%%");
    else if (r >= 1.0)
        snprintf(buf, len, "%.2f%%", r);
    else
        snprintf(buf, len, "%.2g%%", r);
    return buf;
}

/* pprof's dotColor: score in [-1, 1], grey at 0, red towards 1. */
static char *dot_color(double score, int background, char *buf, size_t len)
{
    const double shift = 0.7;
    double sat = background ? 0.1 : 1.0, val = background ? 0.93 : 0.7;
    if (!(score >= -1.0))
        score = -1.0;
    if (score > 1.0)
        score = 1.0;
    if (fabs(score) < 0.2)
        sat *= fabs(score) / 0.2;
    if (score > 0.0)
        score = pow(score, 1.0 - shift);
    if (score < 0.0)
        score = -pow(-score, 1.0 - shift);
    double r, g, b;
    if (score < 0.0) {
        g = val;
        r = val * (1 + sat * score);
    } else {
        r = val;
        g = val * (1 - sat * score);
    }
    b = val * (1 - sat);
    snprintf(buf, len, "#%02x%02x%02x", (unsigned)(uint8_t)(r * 255.0),
             (unsigned)(uint8_t)(g * 255.0), (unsigned)(uint8_t)(b * 255.0));
    return buf;
}

/* Appends s as the inside of a DOT quoted string: \ and " escaped, newlines
 * as left-justified breaks (pprof's escapeForDot), other control characters
 * and invalid UTF-8 as '?'. */
static void put_escaped(fx_buf_t *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c == '\\' || c == '"') {
            fx_buf_putc(b, '\\');
            fx_buf_putc(b, c);
            i++;
        } else if (c == '\n') {
            fx_buf_puts(b, "\\l");
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            fx_buf_putc(b, '?');
            i++;
        } else {
            size_t l = fx_utf8_len(s + i, n - i);
            if (l == 0) {
                fx_buf_putc(b, '?');
                i++;
            } else {
                fx_buf_append(b, s + i, l);
                i += l;
            }
        }
    }
}

/* ---- graph ------------------------------------------------------------- */

typedef struct func {
    uint32_t name;
    int64_t flat, cum;
} func_t;

typedef struct edge {
    uint32_t src, dst;   /* indexes into the kept functions */
    int64_t weight;
    int residual, removed;
} edge_t;

typedef struct walk {
    uint32_t node, child;  /* child: next child to visit */
    uint32_t anc;          /* nearest kept ancestor function (UINT32_MAX: none) */
    int skipped;           /* frames dropped since anc */
    uint64_t edge_key;     /* edge this node opened (UINT64_MAX: none) */
} walk_t;

typedef struct graph {
    const fx_tree_t *t;
    int64_t *flat, *cum;   /* by tree name id */
    uint32_t *kept_index;  /* name id -> kept function index or UINT32_MAX */
    func_t *funcs;         /* kept functions, cum order */
    size_t nfuncs, nall;
    edge_t *edges;
    size_t nedges, edges_cap;
} graph_t;

static int cmp_funcs(const void *a, const void *b, void *ctx)
{
    const func_t *x = a, *y = b;
    if (x->cum != y->cum)
        return x->cum > y->cum ? -1 : 1;
    if (x->flat != y->flat)
        return x->flat > y->flat ? -1 : 1;
    return fx_tree_name_cmp(ctx, x->name, y->name);
}

static void select_funcs(graph_t *g, int64_t max_nodes)
{
    const fx_tree_t *t = g->t;
    g->funcs = fx_malloc((t->names.len + 1) * sizeof *g->funcs);
    for (uint32_t i = 0; i < t->names.len; i++)
        if (g->cum[i] != 0 || g->flat[i] != 0)
            g->funcs[g->nall++] = (func_t){i, g->flat[i], g->cum[i]};
    qsort_r(g->funcs, g->nall, sizeof *g->funcs, cmp_funcs, (void *)t);
    g->nfuncs = (uint64_t)max_nodes < g->nall ? (size_t)max_nodes : g->nall;
    g->kept_index = fx_malloc(t->names.len * sizeof *g->kept_index);
    memset(g->kept_index, 0xff, t->names.len * sizeof *g->kept_index);
    for (size_t i = 0; i < g->nfuncs; i++)
        g->kept_index[g->funcs[i].name] = (uint32_t)i;
}

/* Edges between kept functions, weighted once per stack; a path through
 * dropped frames gives a residual edge. */
static void build_edges(graph_t *g)
{
    const fx_tree_t *t = g->t;
    fx_map64_t index, onpath;  /* (src << 32 | dst) -> edge; -> times open */
    fx_map64_init(&index);
    fx_map64_init(&onpath);
    walk_t *st = NULL;
    size_t sp = 0, cap = 0;
    FX_GROW(st, cap, 64);
    st[sp++] = (walk_t){FX_TREE_ROOT, t->nodes[FX_TREE_ROOT].first_child, UINT32_MAX, 0,
                        UINT64_MAX};
    while (sp) {
        walk_t *w = &st[sp - 1];
        if (w->child == FX_TREE_NONE) {
            if (w->edge_key != UINT64_MAX)
                (*fx_map64_get(&onpath, w->edge_key))--;
            sp--;
            continue;
        }
        uint32_t c = w->child;
        const fx_tree_node_t *n = &t->nodes[c];
        w->child = n->next_sibling;
        if (n->total == 0 && n->self == 0)
            continue;
        uint32_t anc = w->anc, f = g->kept_index[n->name];
        int skipped = w->skipped;
        walk_t next = {c, n->first_child, anc, anc != UINT32_MAX, UINT64_MAX};
        if (f != UINT32_MAX) {
            if (anc != UINT32_MAX) {
                uint64_t key = (uint64_t)anc << 32 | f;
                int inserted;
                uint64_t *slot = fx_map64_put(&index, key, &inserted);
                if (inserted) {
                    FX_GROW(g->edges, g->edges_cap, g->nedges + 1);
                    g->edges[g->nedges] = (edge_t){anc, f, 0, 0, 0};
                    *slot = g->nedges++;
                }
                edge_t *e = &g->edges[*slot];
                e->residual |= skipped;
                uint64_t *open = fx_map64_put(&onpath, key, &inserted);
                if ((*open)++ == 0)
                    e->weight += n->total;
                next.edge_key = key;
            }
            next.anc = f;
            next.skipped = 0;
        }
        FX_GROW(st, cap, sp + 1);
        st[sp++] = next;
    }
    free(st);
    fx_map64_free(&index);
    fx_map64_free(&onpath);
}

static int cmp_edges(const void *a, const void *b, void *ctx)
{
    const graph_t *g = ctx;
    const edge_t *x = a, *y = b;
    int64_t wx = llabs(x->weight), wy = llabs(y->weight);
    if (wx != wy)
        return wx > wy ? -1 : 1;
    int c = fx_tree_name_cmp(g->t, g->funcs[x->src].name, g->funcs[y->src].name);
    return c ? c : fx_tree_name_cmp(g->t, g->funcs[x->dst].name, g->funcs[y->dst].name);
}

/* pprof's RemoveRedundantEdges: drop a residual edge A -> B when B is still
 * reachable from A without it, lightest edges first, never past a
 * non-residual one. Edges are sorted heaviest first. Each check is a
 * search over the graph, so the work is capped: past the budget the
 * remaining residual edges stay (more edges, never a wrong one). */
static void remove_redundant_edges(graph_t *g)
{
    size_t n = g->nfuncs, ne = g->nedges;
    uint64_t budget = 20u * 1000 * 1000; /* edge visits, ~tens of ms */
    if (ne == 0)
        return;
    /* In-edges per node, heaviest first (edges are already in that order). */
    size_t *start = fx_calloc(n + 1, sizeof *start);
    uint32_t *in = fx_malloc(ne * sizeof *in), *queue = fx_malloc(n * sizeof *queue);
    uint8_t *seen = fx_malloc(n);
    for (size_t i = 0; i < ne; i++)
        start[g->edges[i].dst + 1]++;
    for (size_t i = 0; i < n; i++)
        start[i + 1] += start[i];
    size_t *fill = fx_malloc((n + 1) * sizeof *fill);
    memcpy(fill, start, (n + 1) * sizeof *fill);
    for (size_t i = 0; i < ne; i++)
        in[fill[g->edges[i].dst]++] = (uint32_t)i;
    for (size_t v = n; v-- > 0;) {
        for (size_t j = start[v + 1]; j-- > start[v];) {
            edge_t *e = &g->edges[in[j]];
            if (!e->residual)
                break;
            /* Backwards breadth-first search from v for e->src. */
            budget = budget > n ? budget - n : 0;
            memset(seen, 0, n);
            size_t qh = 0, qt = 0;
            int redundant = 0;
            seen[v] = 1;
            queue[qt++] = (uint32_t)v;
            while (qh < qt && !redundant && budget) {
                uint32_t u = queue[qh++];
                for (size_t k = start[u]; k < start[u + 1] && budget; k++, budget--) {
                    const edge_t *ie = &g->edges[in[k]];
                    if (ie == e || ie->removed || seen[ie->src])
                        continue;
                    if (ie->src == e->src) {
                        redundant = 1;
                        break;
                    }
                    seen[ie->src] = 1;
                    queue[qt++] = ie->src;
                }
            }
            if (redundant)
                e->removed = 1;
            if (!budget)
                goto out;
        }
    }
out:
    free(start);
    free(fill);
    free(in);
    free(queue);
    free(seen);
}

static void write_graph(const graph_t *g, const fx_dot_opts_t *o, int64_t total, fx_buf_t *b)
{
    const fx_tree_t *t = g->t;
    const char *unit = o ? o->sample_unit : NULL;
    const char *title = o && o->title && o->title[0] ? o->title : "unnamed";
    char v1[48], v2[48], v3[48], p1[32], p2[32], c1[16], c2[16];
    int64_t flat_sum = 0, max_flat = 0;
    for (size_t i = 0; i < g->nfuncs; i++) {
        flat_sum += g->funcs[i].flat;
        max_flat = FX_MAX(max_flat, llabs(g->funcs[i].flat));
    }

    fx_buf_puts(b, "digraph \"");
    put_escaped(b, title, strlen(title));
    fx_buf_puts(b, "\" {\nnode [style=filled fillcolor=\"#f8f8f8\"]\n");

    /* Legend: first label is the legend node's name, all of them its text. */
    fx_buf_t legend = FX_BUF_INIT;
    if (o && o->sample_type && o->sample_type[0])
        fx_buf_printf(&legend, "Type: %s\n", o->sample_type);
    fx_buf_printf(&legend, "Showing nodes accounting for %s, %s of %s total\n",
                  fx_dot_format_value(flat_sum, unit, v1, sizeof v1),
                  percentage(flat_sum, total, p1, sizeof p1),
                  fx_dot_format_value(total, unit, v2, sizeof v2));
    if (g->nfuncs < g->nall)
        fx_buf_printf(&legend, "Showing top %zu nodes out of %zu\n", g->nfuncs, g->nall);
    fx_buf_puts(&legend, "\nSee https://git.io/JfYMW for how to read the graph\n");
    const char *first_end = memchr(legend.data, '\n', legend.len);
    fx_buf_puts(b, "subgraph cluster_L { \"");
    put_escaped(b, (const char *)legend.data, (size_t)(first_end - (const char *)legend.data));
    fx_buf_puts(b, "\" [shape=box fontsize=16 label=\"");
    put_escaped(b, (const char *)legend.data, legend.len);
    fx_buf_puts(b, "\" tooltip=\"");
    put_escaped(b, title, strlen(title));
    fx_buf_puts(b, "\"] }\n");
    fx_buf_free(&legend);

    for (size_t i = 0; i < g->nfuncs; i++) {
        const func_t *f = &g->funcs[i];
        const char *name = fx_strtab_get(&t->names, f->name);
        size_t len = fx_strtab_len(&t->names, f->name);
        fx_dot_format_value(f->flat, unit, v1, sizeof v1);
        fx_dot_format_value(f->cum, unit, v2, sizeof v2);
        fx_buf_printf(b, "N%zu [label=\"", i + 1);
        put_escaped(b, name, len);
        fx_buf_puts(b, "\\n");
        if (f->flat != 0)
            fx_buf_printf(b, "%s (%s)", v1, percentage(f->flat, total, p1, sizeof p1));
        else
            fx_buf_puts(b, "0");
        if (f->cum != f->flat)
            fx_buf_printf(b, "%sof %s (%s)", f->flat != 0 ? "\\n" : " ", v2,
                          percentage(f->cum, total, p2, sizeof p2));
        int font = 8;
        if (max_flat != 0 && f->flat != 0)
            font += (int)ceil(16.0 * sqrt((double)llabs(f->flat) / (double)max_flat));
        double score = total ? (double)f->cum / (double)llabs(total) : 0;
        fx_buf_printf(b, "\" id=\"node%zu\" fontsize=%d shape=box tooltip=\"", i + 1, font);
        put_escaped(b, name, len);
        fx_buf_printf(b, " (%s)\" color=\"%s\" fillcolor=\"%s\"]\n",
                      f->cum != f->flat ? v2 : v1, dot_color(score, 0, c1, sizeof c1),
                      dot_color(score, 1, c2, sizeof c2));
    }

    for (size_t i = 0; i < g->nedges; i++) {
        const edge_t *e = &g->edges[i];
        if (e->removed)
            continue;
        fx_dot_format_value(e->weight, unit, v3, sizeof v3);
        fx_buf_printf(b, "N%u -> N%u [label=\" %s\"", e->src + 1, e->dst + 1, v3);
        if (total != 0) {
            int64_t w = llabs(e->weight);
            int weight = 1 + (int)FX_MIN(w / (double)llabs(total) * 100, 100);
            int width = 1 + (int)FX_MIN(w / (double)llabs(total) * 5, 5);
            if (weight > 1)
                fx_buf_printf(b, " weight=%d", weight);
            if (width > 1)
                fx_buf_printf(b, " penwidth=%d", width);
            fx_buf_printf(b, " color=\"%s\"",
                          dot_color((double)e->weight / (double)llabs(total), 0, c1, sizeof c1));
        }
        for (int k = 0; k < 2; k++) {
            fx_buf_puts(b, k ? " labeltooltip=\"" : " tooltip=\"");
            uint32_t sn = g->funcs[e->src].name, dn = g->funcs[e->dst].name;
            put_escaped(b, fx_strtab_get(&t->names, sn), fx_strtab_len(&t->names, sn));
            fx_buf_puts(b, e->residual ? " ... " : " -> ");
            put_escaped(b, fx_strtab_get(&t->names, dn), fx_strtab_len(&t->names, dn));
            fx_buf_printf(b, " (%s)\"", v3);
        }
        if (e->residual)
            fx_buf_puts(b, " style=\"dotted\"");
        fx_buf_puts(b, "]\n");
    }
    fx_buf_puts(b, "}\n");
}

void fx_dot_write(const fx_tree_t *t, const fx_dot_opts_t *opts, fx_buf_t *out)
{
    int64_t total = t->nodes[FX_TREE_ROOT].total;
    int64_t max_nodes = opts && opts->max_nodes > 0 ? opts->max_nodes : FX_DOT_DEFAULT_NODES;
    graph_t g = {.t = t};
    if (total == 0)
        return;
    fx_tree_function_values(t, &g.flat, &g.cum);
    select_funcs(&g, max_nodes);
    build_edges(&g);
    if (g.nedges)
        qsort_r(g.edges, g.nedges, sizeof *g.edges, cmp_edges, &g);
    remove_redundant_edges(&g);
    write_graph(&g, opts, total, out);
    free(g.flat);
    free(g.cum);
    free(g.kept_index);
    free(g.funcs);
    free(g.edges);
}
