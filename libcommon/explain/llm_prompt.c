/*
 * llm_prompt.c - the chat-completions request for the language-model engine: a system message
 * with the reply contract and the reading rules (the same rules Grafana's Flame graph AI gives
 * its model), and a user message with the evidence and the built-in findings.
 *
 * The evidence is text, not DOT: top self and total functions, the hottest stacks, and the
 * call graph of the FX_EXPLAIN_LLM_GRAPH_NODES heaviest nodes as "A -> B (share)" edges.
 */
#include "explain/llm.h"
#include "core/hash.h"

#include <stdlib.h>
#include <string.h>

static const char system_single[] =
    "You are a performance engineer who reads profiles of running programs. You get a summary "
    "of one flame graph: the frames with the most self time, the user functions with the most "
    "total time, the hottest stacks (root first), and the call graph of the heaviest nodes, "
    "where \"A -> B\" means A calls B. You also get the findings of a rule-based analyzer.\n"
    "Find the performance bottleneck, its root cause and a fix.\n";

static const char system_diff[] =
    "You are a performance engineer who reads profiles of running programs. You get summaries "
    "of two flame graphs of the same service, a baseline and a comparison, and the functions "
    "whose share of the total changed most. You also get the findings of a rule-based analyzer.\n"
    "Explain the change: the bottleneck is the function whose share grew the most, the root "
    "cause is why it grew, the fix is what to change back or do instead.\n";

static const char system_rules[] =
    "Rules: name functions with their full package-qualified names exactly as they appear in "
    "the profile. The bottleneck function must be the user's own code, not a runtime or "
    "standard-library frame: explain runtime and library frames through the user code that "
    "calls them. Prefer changes to the user's code over runtime tuning. Keep each markdown "
    "text short (at most four sentences or bullets; no headers above h5). Do not mention "
    "percentages you were not given, and do not describe this summary's format. You may "
    "disagree with the rule-based analyzer when the evidence supports it.\n"
    "Reply with exactly one JSON object and nothing else:\n"
    "{\"bottleneck\": {\"function\": \"<function>\", \"markdown\": \"<text>\"}, "
    "\"root_cause\": {\"category\": \"<category>\", \"markdown\": \"<text>\"}, "
    "\"recommended_fix\": {\"markdown\": \"<text>\"}}\n"
    "where <category> is one of: gc, regex, serialization, lock, syscall-io, crypto, "
    "compression, recursion, reflection, logging, idle, compute.";

static void pct(fx_buf_t *b, double share)
{
    fx_buf_printf(b, "%.1f%%", share * 100);
}

static void side_summary(fx_buf_t *b, const fx_explain_side_t *s)
{
    fx_buf_printf(b, "Total: %lld. Main runtime: %s. Idle (waiting) share: ", (long long)s->total,
                  fx_lang_name(s->lang));
    pct(b, s->idle_share);
    fx_buf_puts(b, ".\nTop self (frame: self share, kind, category, charged to):\n");
    for (size_t k = 0; k < s->n_top_self; k++) {
        const fx_explain_fn_t *fn = &s->top_self[k];
        fx_buf_printf(b, "- %s: ", fn->name);
        pct(b, fn->share);
        fx_buf_printf(b, ", %s, %s", fn->lib ? "runtime/library" : "user code",
                      fx_cat_name(fn->cat));
        if (fn->caller)
            fx_buf_printf(b, ", %s", fn->caller);
        fx_buf_putc(b, '\n');
    }
    fx_buf_puts(b, "Top total (user functions, inclusive share):\n");
    for (size_t k = 0; k < s->n_top_total; k++) {
        fx_buf_printf(b, "- %s: ", s->top_total[k].name);
        pct(b, s->top_total[k].share);
        fx_buf_putc(b, '\n');
    }
    fx_buf_puts(b, "Hottest stacks (self share, root first):\n");
    for (size_t k = 0; k < s->n_paths; k++) {
        const fx_explain_path_t *p = &s->paths[k];
        fx_buf_printf(b, "%zu. (", k + 1);
        pct(b, p->share);
        fx_buf_puts(b, ") ");
        if (p->truncated)
            fx_buf_puts(b, "...;");
        for (size_t i = 0; i < p->n; i++) {
            if (i)
                fx_buf_putc(b, ';');
            fx_buf_puts(b, p->frames[i]);
        }
        fx_buf_putc(b, '\n');
    }
}

typedef struct heavy {
    uint32_t node;
    int64_t total;
} heavy_t;

static int heavy_cmp(const void *pa, const void *pb)
{
    const heavy_t *a = pa, *b = pb;
    if (a->total != b->total)
        return a->total > b->total ? -1 : 1;
    return a->node < b->node ? -1 : a->node > b->node;
}

/* The call graph of the heaviest nodes: an edge per (caller, callee) name pair among them,
 * weighted by the callee's total, in order of weight. */
static void call_graph(fx_buf_t *b, const fx_tree_t *t)
{
    size_t n = t->len;
    int64_t *total = calloc(n ? n : 1, sizeof *total);
    for (size_t i = 0; i < n; i++)
        total[i] = t->nodes[i].self > 0 ? t->nodes[i].self : 0;
    for (size_t i = n; i-- > 1;)
        total[t->nodes[i].parent] += total[i];
    heavy_t *h = malloc((n ? n : 1) * sizeof *h);
    size_t nh = 0;
    for (size_t i = 1; i < n; i++)
        if (total[i] > 0)
            h[nh++] = (heavy_t){(uint32_t)i, total[i]};
    qsort(h, nh, sizeof *h, heavy_cmp);
    if (nh > FX_EXPLAIN_LLM_GRAPH_NODES)
        nh = FX_EXPLAIN_LLM_GRAPH_NODES;
    uint8_t *kept = calloc(n ? n : 1, 1);
    for (size_t k = 0; k < nh; k++)
        kept[h[k].node] = 1;

    fx_map64_t pairs;
    fx_map64_init(&pairs);
    heavy_t *edges = malloc((nh ? nh : 1) * sizeof *edges); /* node = first node of the pair */
    size_t ne = 0;
    for (size_t k = 0; k < nh; k++) {
        uint32_t c = h[k].node, p = t->nodes[c].parent;
        if (p == FX_TREE_ROOT || !kept[p])
            continue;
        int inserted;
        uint64_t *slot = fx_map64_put(
            &pairs, (uint64_t)t->nodes[p].name << 32 | t->nodes[c].name, &inserted);
        if (inserted) {
            edges[ne] = (heavy_t){c, 0};
            *slot = ne++;
        }
        edges[*slot].total += h[k].total;
    }
    qsort(edges, ne, sizeof *edges, heavy_cmp);
    double tot = total[FX_TREE_ROOT] > 0 ? (double)total[FX_TREE_ROOT] : 1;
    for (size_t k = 0; k < ne; k++) {
        uint32_t c = edges[k].node, p = t->nodes[c].parent;
        fx_buf_printf(b, "%s -> %s (", fx_tree_name_str(t, t->nodes[p].name),
                      fx_tree_name_str(t, t->nodes[c].name));
        pct(b, (double)edges[k].total / tot);
        fx_buf_puts(b, ")\n");
    }
    /* roots of the kept set, so the model sees where each tower starts */
    for (size_t k = 0; k < nh; k++) {
        uint32_t c = h[k].node;
        if (t->nodes[c].parent == FX_TREE_ROOT) {
            fx_buf_printf(b, "(root) -> %s (", fx_tree_name_str(t, t->nodes[c].name));
            pct(b, (double)total[c] / tot);
            fx_buf_puts(b, ")\n");
        }
    }
    fx_map64_free(&pairs);
    free(edges);
    free(kept);
    free(h);
    free(total);
}

static void findings(fx_buf_t *b, const fx_explain_findings_t *f)
{
    fx_buf_printf(b, "Rule-based analyzer findings: bottleneck %s (%s code), category %s, "
                     "share ",
                  f->function, f->user ? "user" : "runtime/library", fx_cat_name(f->cat));
    pct(b, f->share);
    if (f->diff) {
        fx_buf_puts(b, " (baseline ");
        pct(b, f->base_share);
        fx_buf_putc(b, ')');
    }
    fx_buf_puts(b, ".\n");
    if (f->n_via) {
        fx_buf_puts(b, "It spends its time in: ");
        for (size_t k = 0; k < f->n_via; k++) {
            fx_buf_printf(b, "%s%s (", k ? ", " : "", f->via[k].name);
            pct(b, f->via[k].share);
            fx_buf_printf(b, ", %s)", fx_cat_name(f->via[k].cat));
        }
        fx_buf_puts(b, ".\n");
    }
    fx_buf_printf(b, "Its analysis:\n%s\n%s\n", f->bottleneck_md, f->root_cause_md);
}

static void user_message(fx_buf_t *b, const fx_tree_t *t0, const fx_tree_t *t1,
                         const fx_explain_findings_t *f)
{
    fx_buf_printf(b, "Profile values measure: %s.\n\n", f->unit);
    if (!f->diff) {
        side_summary(b, &f->side[0]);
        fx_buf_printf(b, "Call graph of the %d heaviest nodes (callee's total share):\n",
                      FX_EXPLAIN_LLM_GRAPH_NODES);
        call_graph(b, t0);
    } else {
        fx_buf_puts(b, "== Baseline ==\n");
        side_summary(b, &f->side[0]);
        fx_buf_puts(b, "Call graph of the heaviest baseline nodes:\n");
        call_graph(b, t0);
        fx_buf_puts(b, "\n== Comparison ==\n");
        side_summary(b, &f->side[1]);
        if (t1) {
            fx_buf_puts(b, "Call graph of the heaviest comparison nodes:\n");
            call_graph(b, t1);
        }
        fx_buf_puts(b, "\nLargest changes (function: baseline share -> comparison share):\n");
        for (size_t k = 0; k < f->n_changes; k++) {
            const fx_explain_change_t *c = &f->changes[k];
            fx_buf_printf(b, "- %s: ", c->function);
            pct(b, c->baseline_share);
            fx_buf_puts(b, " -> ");
            pct(b, c->comparison_share);
            fx_buf_printf(b, " (%s, %s)\n", fx_explain_change_kind_name(c->kind),
                          fx_cat_name(c->cat));
        }
    }
    fx_buf_putc(b, '\n');
    findings(b, f);
}

void fx_explain_llm_build_request(const fx_explain_llm_config_t *c, const fx_tree_t *t0,
                                  const fx_tree_t *t1, const fx_explain_findings_t *f,
                                  fx_buf_t *out)
{
    fx_buf_t sys = FX_BUF_INIT, user = FX_BUF_INIT;
    fx_buf_puts(&sys, f->diff ? system_diff : system_single);
    fx_buf_puts(&sys, system_rules);
    user_message(&user, t0, t1, f);

    const char *model = c && c->model && *c->model ? c->model : FX_EXPLAIN_LLM_DEFAULT_MODEL;
    fx_buf_puts(out, "{\"model\":");
    fx_explain_json_str(out, model, strlen(model));
    fx_buf_puts(out, ",\"stream\":false,\"messages\":[{\"role\":\"system\",\"content\":");
    fx_explain_json_str(out, (const char *)sys.data, sys.len);
    fx_buf_puts(out, "},{\"role\":\"user\",\"content\":");
    fx_explain_json_str(out, (const char *)user.data, user.len);
    fx_buf_puts(out, "}]}");
    fx_buf_free(&sys);
    fx_buf_free(&user);
}
