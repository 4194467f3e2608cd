/* response.c - writes the Explain response JSON (shape in response.h). */
#include "explain/response.h"
#include "core/utf8.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void fx_explain_json_str(fx_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    fx_buf_reserve(b, n + 2);
    fx_buf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c >= 0x80) {
            size_t len = fx_utf8_len(p + i, n - i);
            if (len == 0) {
                fx_buf_append(b, "\xef\xbf\xbd", 3);
                i++;
            } else {
                fx_buf_append(b, p + i, len);
                i += len;
            }
            continue;
        }
        switch (c) {
        case '"': fx_buf_append(b, "\\\"", 2); break;
        case '\\': fx_buf_append(b, "\\\\", 2); break;
        case '\n': fx_buf_append(b, "\\n", 2); break;
        case '\r': fx_buf_append(b, "\\r", 2); break;
        case '\t': fx_buf_append(b, "\\t", 2); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                fx_buf_append(b, e, 6);
            } else {
                fx_buf_putc(b, c);
            }
        }
        i++;
    }
    fx_buf_putc(b, '"');
}

static void str(fx_buf_t *b, const char *s)
{
    if (!s)
        fx_buf_puts(b, "null");
    else
        fx_explain_json_str(b, s, strlen(s));
}

void fx_explain_json_share(fx_buf_t *b, double share)
{
    if (!isfinite(share) || share < 0)
        share = 0;
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%.4f", share);
    while (n > 1 && tmp[n - 1] == '0')
        n--;
    if (n > 0 && tmp[n - 1] == '.')
        n--;
    fx_buf_append(b, tmp, (size_t)n);
}

static void key(fx_buf_t *b, const char *k)
{
    fx_buf_printf(b, "\"%s\":", k);
}

static void cat_shares(fx_buf_t *b, const double *shares)
{
    fx_buf_putc(b, '{');
    int first = 1;
    for (int c = 1; c < FX_CAT__COUNT; c++) {
        if (shares[c] < 0.00005)
            continue;
        if (!first)
            fx_buf_putc(b, ',');
        first = 0;
        key(b, fx_cat_name(c));
        fx_explain_json_share(b, shares[c]);
    }
    fx_buf_putc(b, '}');
}

static void evidence_bottleneck(fx_buf_t *b, const fx_explain_findings_t *f)
{
    fx_buf_puts(b, "{\"kind\":\"bottleneck\",\"function\":");
    str(b, f->function);
    fx_buf_printf(b, ",\"user_code\":%s,\"share\":", f->user ? "true" : "false");
    fx_explain_json_share(b, f->share);
    if (f->diff) {
        fx_buf_puts(b, ",\"baseline_share\":");
        fx_explain_json_share(b, f->base_share);
    }
    fx_buf_puts(b, ",\"categories\":");
    cat_shares(b, f->cat_share);
    if (f->bg_gc_share > 0) {
        fx_buf_puts(b, ",\"background_gc_share\":");
        fx_explain_json_share(b, f->bg_gc_share);
        fx_buf_puts(b, ",\"background_gc_frame\":");
        str(b, f->bg_gc_frame);
    }
    if (f->adopted_share > 0) {
        fx_buf_puts(b, ",\"framework_share\":");
        fx_explain_json_share(b, f->adopted_share);
        fx_buf_puts(b, ",\"framework_frame\":");
        str(b, f->adopted_frame);
    }
    fx_buf_puts(b, ",\"via\":[");
    for (size_t k = 0; k < f->n_via; k++) {
        if (k)
            fx_buf_putc(b, ',');
        fx_buf_puts(b, "{\"function\":");
        str(b, f->via[k].name);
        fx_buf_puts(b, ",\"share\":");
        fx_explain_json_share(b, f->via[k].share);
        if (f->diff) {
            fx_buf_puts(b, ",\"baseline_share\":");
            fx_explain_json_share(b, f->via[k].base_share);
        }
        fx_buf_printf(b, ",\"category\":\"%s\"}", fx_cat_name(f->via[k].cat));
    }
    fx_buf_puts(b, "]}");
}

static void evidence_side(fx_buf_t *b, const fx_explain_side_t *s, const char *profile)
{
    fx_buf_printf(b, ",{\"kind\":\"top_self\",\"profile\":\"%s\",\"total\":%lld,\"functions\":[",
                  profile, (long long)s->total);
    for (size_t k = 0; k < s->n_top_self; k++) {
        const fx_explain_fn_t *fn = &s->top_self[k];
        if (k)
            fx_buf_putc(b, ',');
        fx_buf_puts(b, "{\"function\":");
        str(b, fn->name);
        fx_buf_puts(b, ",\"share\":");
        fx_explain_json_share(b, fn->share);
        fx_buf_printf(b, ",\"runtime\":%s,\"category\":\"%s\"", fn->lib ? "true" : "false",
                      fx_cat_name(fn->cat));
        if (fn->caller) {
            fx_buf_puts(b, ",\"caller\":");
            str(b, fn->caller);
        }
        fx_buf_putc(b, '}');
    }
    fx_buf_printf(b, "]},{\"kind\":\"top_total\",\"profile\":\"%s\",\"functions\":[", profile);
    for (size_t k = 0; k < s->n_top_total; k++) {
        const fx_explain_fn_t *fn = &s->top_total[k];
        if (k)
            fx_buf_putc(b, ',');
        fx_buf_puts(b, "{\"function\":");
        str(b, fn->name);
        fx_buf_puts(b, ",\"share\":");
        fx_explain_json_share(b, fn->share);
        fx_buf_printf(b, ",\"category\":\"%s\"}", fx_cat_name(fn->cat));
    }
    fx_buf_printf(b, "]},{\"kind\":\"hottest_paths\",\"profile\":\"%s\",\"paths\":[", profile);
    for (size_t k = 0; k < s->n_paths; k++) {
        const fx_explain_path_t *p = &s->paths[k];
        if (k)
            fx_buf_putc(b, ',');
        fx_buf_puts(b, "{\"share\":");
        fx_explain_json_share(b, p->share);
        if (p->truncated)
            fx_buf_puts(b, ",\"truncated\":true");
        fx_buf_puts(b, ",\"frames\":[");
        for (size_t i = 0; i < p->n; i++) {
            if (i)
                fx_buf_putc(b, ',');
            str(b, p->frames[i]);
        }
        fx_buf_puts(b, "]}");
    }
    fx_buf_printf(b, "]},{\"kind\":\"categories\",\"profile\":\"%s\",\"language\":\"%s\","
                     "\"idle_share\":",
                  profile, fx_lang_name(s->lang));
    fx_explain_json_share(b, s->idle_share);
    fx_buf_puts(b, ",\"shares\":");
    cat_shares(b, s->cat_share);
    fx_buf_putc(b, '}');
}

void fx_explain_write_response(fx_buf_t *out, const fx_explain_findings_t *f,
                               const fx_explain_answer_t *llm, const char *fallback_reason)
{
    fx_buf_printf(out, "{\"engine\":\"%s\"", llm ? "llm" : "builtin");
    if (!llm && fallback_reason) {
        fx_buf_puts(out, ",\"fallback_reason\":");
        str(out, fallback_reason);
    }
    if (llm && llm->model) {
        fx_buf_puts(out, ",\"model\":");
        str(out, llm->model);
    }
    fx_buf_puts(out, ",\"bottleneck\":{\"function\":");
    str(out, llm ? llm->function : f->function);
    fx_buf_puts(out, ",\"markdown\":");
    str(out, llm ? llm->bottleneck_md : f->bottleneck_md);
    fx_buf_puts(out, "},\"root_cause\":{\"category\":");
    str(out, fx_cat_name(llm ? llm->cat : f->cat));
    fx_buf_puts(out, ",\"markdown\":");
    str(out, llm ? llm->root_cause_md : f->root_cause_md);
    fx_buf_puts(out, "},\"recommended_fix\":{\"markdown\":");
    str(out, llm ? llm->fix_md : f->fix_md);
    fx_buf_puts(out, "},\"evidence\":[");
    evidence_bottleneck(out, f);
    if (f->diff) {
        evidence_side(out, &f->side[0], "baseline");
        evidence_side(out, &f->side[1], "comparison");
    } else {
        evidence_side(out, &f->side[0], "target");
    }
    fx_buf_putc(out, ']');
    if (f->diff) {
        fx_buf_puts(out, ",\"changes\":[");
        for (size_t k = 0; k < f->n_changes; k++) {
            const fx_explain_change_t *c = &f->changes[k];
            if (k)
                fx_buf_putc(out, ',');
            fx_buf_puts(out, "{\"function\":");
            str(out, c->function);
            fx_buf_puts(out, ",\"baseline_share\":");
            fx_explain_json_share(out, c->baseline_share);
            fx_buf_puts(out, ",\"comparison_share\":");
            fx_explain_json_share(out, c->comparison_share);
            fx_buf_printf(out, ",\"change\":\"%s\",\"category\":\"%s\",\"user_code\":%s}",
                          fx_explain_change_kind_name(c->kind), fx_cat_name(c->cat),
                          c->lib ? "false" : "true");
        }
        fx_buf_putc(out, ']');
    }
    fx_buf_putc(out, '}');
}
