/*
 * test_explain_cases.c - runs the built-in Explain analyzer over the labelled cases of
 * tests/explain/cases.txt and prints, per case, what it answered and whether that matches
 * the label; then the accuracy. Fails when fewer than 24 cases are labelled, when accuracy
 * (function AND category right) is below 90%, or when fewer than a third of the cases are
 * ones where the widest self frame is not the answer (so the suite cannot pass by reporting
 * the top leaf). Each answer's JSON response is also parsed back to check its shape.
 *
 * A second set, tests/explain/heldout/cases.txt, was written without reading the analyzer or
 * the original cases; it is run the same way and its accuracy printed on its own line, so the
 * figure tuned on the original cases is never the only one reported. It must hold at least 24
 * cases, at least half of them ones where the widest frame is not the answer. Sets B and C
 * (heldout/cases-b.txt and cases-c.txt, each written after the fixes the previous set led to)
 * are reported on lines of their own. Set D (heldout/cases-d.txt) is a measurement only: its
 * accuracy is printed and is part of no threshold, so it can keep measuring generalisation.
 *
 * Run from the repository root (make test-unit does); FX_EXPLAIN_CASES, FX_EXPLAIN_HELDOUT,
 * FX_EXPLAIN_HELDOUT_B, FX_EXPLAIN_HELDOUT_C and FX_EXPLAIN_HELDOUT_D override the paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "explain/analyze.h"
#include "explain/response.h"
#include "model/folded.h"

#define MAX_CASES 128

typedef struct ecase {
    char name[96];
    char profile[160], baseline[160], comparison[160];
    char function[512];
    char category[32];
} ecase_t;

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    fx_buf_t b = FX_BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        fx_buf_append(&b, chunk, n);
    fclose(fp);
    *len = b.len;
    fx_buf_cstr(&b);
    return (char *)fx_buf_steal(&b, &n);
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = 0;
    size_t i = 0;
    while (s[i] == ' ' || s[i] == '\t')
        i++;
    memmove(s, s + i, n - i + 1);
}

static size_t load_cases(const char *path, ecase_t *cases)
{
    size_t len, n = 0;
    char *text = slurp(path, &len);
    if (!text)
        fail_msg("cannot read %s (run from the repository root)", path);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        trim(line);
        if (!*line || *line == '#')
            continue;
        if (*line == '[') {
            assert_true(n < MAX_CASES);
            memset(&cases[n], 0, sizeof cases[n]);
            char *end = strchr(line, ']');
            assert_non_null(end);
            *end = 0;
            snprintf(cases[n].name, sizeof cases[n].name, "%s", line + 1);
            n++;
            continue;
        }
        char *eq = strchr(line, '=');
        assert_non_null(eq);
        assert_true(n > 0);
        *eq = 0;
        char *key = line, *val = eq + 1;
        trim(key);
        trim(val);
        ecase_t *c = &cases[n - 1];
        if (!strcmp(key, "profile"))
            snprintf(c->profile, sizeof c->profile, "%s", val);
        else if (!strcmp(key, "baseline"))
            snprintf(c->baseline, sizeof c->baseline, "%s", val);
        else if (!strcmp(key, "comparison"))
            snprintf(c->comparison, sizeof c->comparison, "%s", val);
        else if (!strcmp(key, "function"))
            snprintf(c->function, sizeof c->function, "%s", val);
        else if (!strcmp(key, "category"))
            snprintf(c->category, sizeof c->category, "%s", val);
        else if (strcmp(key, "note") != 0)
            fail_msg("%s: unknown key %s", c->name, key);
    }
    free(text);
    return n;
}

static void load_tree(const char *dir, const char *file, fx_tree_t *t)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    size_t len;
    char *text = slurp(path, &len);
    if (!text)
        fail_msg("cannot read %s", path);
    fx_err_t err = {0};
    fx_tree_init(t);
    if (fx_folded_to_tree(text, len, t, &err) != FX_OK)
        fail_msg("%s: %s", path, err.msg);
    free(text);
}

/* Is name one of the " || "-separated alternatives? */
static int matches(const char *expected, const char *name)
{
    const char *p = expected;
    size_t n = strlen(name);
    for (;;) {
        const char *sep = strstr(p, " || ");
        size_t len = sep ? (size_t)(sep - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0)
            return 1;
        if (!sep)
            return 0;
        p = sep + 4;
    }
}

/* The frame with the most self value (single profile). */
static const char *widest_self(const fx_tree_t *t)
{
    int64_t *self = calloc(t->names.len, sizeof *self);
    for (size_t i = 1; i < t->len; i++)
        self[t->nodes[i].name] += t->nodes[i].self;
    uint32_t best = 0;
    for (uint32_t k = 1; k < t->names.len; k++)
        if (self[k] > self[best] ||
            (self[k] == self[best] &&
             strcmp(fx_tree_name_str(t, k), fx_tree_name_str(t, best)) < 0))
            best = k;
    free(self);
    return fx_tree_name_str(t, best);
}

/* The frame whose self share grew most from base to cmp. */
static const char *widest_growth(const fx_tree_t *b, const fx_tree_t *c)
{
    double tb = (double)fx_tree_total(b), tc = (double)fx_tree_total(c);
    double *grow = calloc(c->names.len, sizeof *grow);
    for (size_t i = 1; i < c->len; i++)
        grow[c->nodes[i].name] += (double)c->nodes[i].self / tc;
    for (size_t i = 1; i < b->len; i++) {
        const char *name = fx_tree_name_str(b, b->nodes[i].name);
        int64_t id = fx_strtab_find(&c->names, name, strlen(name));
        if (id >= 0)
            grow[id] -= (double)b->nodes[i].self / tb;
    }
    uint32_t best = 1;
    for (uint32_t k = 1; k < c->names.len; k++)
        if (grow[k] > grow[best])
            best = k;
    free(grow);
    return fx_tree_name_str(c, best);
}

static void check_json(const ecase_t *c, const fx_explain_findings_t *f)
{
    fx_buf_t out = FX_BUF_INIT;
    fx_explain_write_response(&out, f, NULL, NULL);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)out.data, out.len, 0, &jerr);
    if (!root)
        fail_msg("%s: response is not JSON: %s", c->name, jerr.text);
    const char *engine = json_string_value(json_object_get(root, "engine"));
    const char *fn = json_string_value(
        json_object_get(json_object_get(root, "bottleneck"), "function"));
    const char *cat = json_string_value(
        json_object_get(json_object_get(root, "root_cause"), "category"));
    const char *fix = json_string_value(
        json_object_get(json_object_get(root, "recommended_fix"), "markdown"));
    const char *md = json_string_value(
        json_object_get(json_object_get(root, "bottleneck"), "markdown"));
    assert_non_null(engine);
    assert_string_equal(engine, "builtin");
    assert_non_null(fn);
    assert_string_equal(fn, f->function);
    assert_non_null(cat);
    assert_string_equal(cat, fx_cat_name(f->cat));
    assert_non_null(fix);
    assert_true(strlen(fix) > 40);
    /* the bottleneck text names the function */
    assert_non_null(md);
    assert_non_null(strstr(md, f->function));
    assert_true(json_is_array(json_object_get(root, "evidence")));
    assert_true(json_array_size(json_object_get(root, "evidence")) >= 3);
    assert_int_equal(json_is_array(json_object_get(root, "changes")), f->diff);
    json_decref(root);
    fx_buf_free(&out);
}

typedef struct suite_result {
    size_t n, ok_both, not_top;
} suite_result_t;

/* Runs every case of the cases file at path (folded files in the "cases" directory beside it)
 * and prints per-case answers and the accuracy line, prefixed with label. */
static suite_result_t run_suite(const char *path, const char *label)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    snprintf(slash ? slash + 1 : dir, sizeof dir - (size_t)(slash ? slash + 1 - dir : 0),
             "cases");

    ecase_t *cases = calloc(MAX_CASES, sizeof *cases);
    size_t n = load_cases(path, cases);
    size_t ok_fn = 0, ok_cat = 0, ok_both = 0, not_top = 0;
    printf("explain %s cases (%s):\n", label, path);
    for (size_t i = 0; i < n; i++) {
        const ecase_t *c = &cases[i];
        fx_tree_t a, b;
        fx_explain_findings_t f;
        fx_err_t err = {0};
        const char *top;
        int rc;
        if (c->profile[0]) {
            load_tree(dir, c->profile, &a);
            rc = fx_explain_analyze(&a, NULL, &f, &err);
            top = widest_self(&a);
        } else {
            load_tree(dir, c->baseline, &a);
            load_tree(dir, c->comparison, &b);
            rc = fx_explain_analyze_diff(&a, &b, NULL, &f, &err);
            top = widest_growth(&a, &b);
        }
        if (rc != FX_OK)
            fail_msg("%s: analysis failed: %s", c->name, err.msg);
        int fn_ok = matches(c->function, f.function);
        int cat_ok = strcmp(c->category, fx_cat_name(f.cat)) == 0;
        int top_is_answer = matches(c->function, top);
        ok_fn += fn_ok;
        ok_cat += cat_ok;
        ok_both += fn_ok && cat_ok;
        not_top += !top_is_answer;
        printf("  %-4s %-22s %s [%s]%s%s%s\n", fn_ok && cat_ok ? "ok" : "MISS", c->name,
               f.function, fx_cat_name(f.cat), fn_ok ? "" : "  expected function: ",
               fn_ok ? "" : c->function, cat_ok ? "" : "  (wrong category)");
        if (!fn_ok || !cat_ok)
            printf("         expected category %s\n", c->category);
        printf("         widest %s frame: %s%s\n", c->profile[0] ? "self" : "growing", top,
               top_is_answer ? " (is the answer)" : "");
        check_json(c, &f);
        fx_explain_findings_free(&f);
        fx_tree_free(&a);
        if (!c->profile[0])
            fx_tree_free(&b);
    }
    double acc = n ? (double)ok_both / (double)n : 0;
    printf("explain %s accuracy: function %zu/%zu, category %zu/%zu, both %zu/%zu = %.1f%%; "
           "%zu/%zu cases where the widest frame is not the answer\n",
           label, ok_fn, n, ok_cat, n, ok_both, n, acc * 100, not_top, n);
    free(cases);
    return (suite_result_t){n, ok_both, not_top};
}

static void test_labelled_cases(void **state)
{
    (void)state;
    const char *path = getenv("FX_EXPLAIN_CASES");
    suite_result_t r = run_suite(path ? path : "tests/explain/cases.txt", "original");
    assert_true(r.n >= 24);
    assert_true(r.not_top * 3 >= r.n);
    assert_true((double)r.ok_both >= 0.9 * (double)r.n);
}

/* The held-out sets are reported one by one; each must be large and hard enough. */
static void test_heldout_cases(void **state)
{
    (void)state;
    const char *path = getenv("FX_EXPLAIN_HELDOUT");
    suite_result_t a = run_suite(path ? path : "tests/explain/heldout/cases.txt", "held-out");
    assert_true(a.n >= 24);
    assert_true(a.not_top * 2 >= a.n);
    /* sets B and C: written after the fixes the previous set led to (see their headers) */
    path = getenv("FX_EXPLAIN_HELDOUT_B");
    suite_result_t b = run_suite(path ? path : "tests/explain/heldout/cases-b.txt", "held-out B");
    assert_true(b.n >= 16);
    assert_true(b.not_top * 2 >= b.n);
    path = getenv("FX_EXPLAIN_HELDOUT_C");
    suite_result_t c = run_suite(path ? path : "tests/explain/heldout/cases-c.txt", "held-out C");
    assert_true(c.n >= 12);
    assert_true(c.not_top * 2 >= c.n);
    /* Each set has since driven fixes, so together they now guard against regressions: their
     * first-run figures are in docs/explain.md. A new held-out set belongs in a file of its own,
     * run before any change it leads to. */
    size_t n = a.n + b.n + c.n, ok = a.ok_both + b.ok_both + c.ok_both;
    printf("explain held-out A+B+C accuracy: %zu/%zu = %.1f%%\n", ok, n,
           100.0 * (double)ok / (double)n);
    assert_true((double)ok >= 0.9 * (double)n);
}

/* Set D measures generalisation: written blind (see its header), it only has to be large and
 * hard enough; its accuracy is printed, never asserted, so a miss there is a finding to read in
 * the output rather than a failure to tune away. */
static void test_heldout_d_cases(void **state)
{
    (void)state;
    const char *path = getenv("FX_EXPLAIN_HELDOUT_D");
    suite_result_t d = run_suite(path ? path : "tests/explain/heldout/cases-d.txt", "held-out D");
    assert_true(d.n >= 30);
    assert_true(d.not_top * 3 >= d.n * 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_labelled_cases),
        cmocka_unit_test(test_heldout_cases),
        cmocka_unit_test(test_heldout_d_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
