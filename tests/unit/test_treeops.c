/* test_treeops.c - tree-level operations: folded export, top table, hot
 * path, call-site filter, sandwich, truncated copy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "model/callsite.h"
#include "model/folded.h"
#include "model/sandwich.h"
#include "model/top.h"
#include "model/truncate.h"
#include "tree_helpers.h"

static void test_folded_export(void **state)
{
    (void)state;
    fx_tree_t t;
    th_tree_from_folded(&t, "main;foo;bar 3\nmain;foo 1\nmain;baz 2\nb 7\n");
    fx_buf_t b = FX_BUF_INIT;
    fx_folded_write(&t, &b);
    assert_string_equal(fx_buf_cstr(&b), "b 7\nmain;baz 2\nmain;foo 1\nmain;foo;bar 3\n");
    fx_buf_free(&b);
    fx_tree_free(&t);

    /* Random trees survive export and re-import. */
    for (uint64_t seed = 1; seed <= 5; seed++) {
        th_random_tree(&t, 2000, 300, 15, seed);
        fx_folded_write(&t, &b);
        fx_tree_t back;
        th_tree_from_folded(&back, fx_buf_cstr(&b));
        assert_true(th_tree_equal(&t, &back));
        fx_tree_free(&back);
        fx_buf_free(&b);
        fx_tree_free(&t);
    }
}

static void test_top_table(void **state)
{
    (void)state;
    fx_tree_t t;
    /* f is recursive: its total counts the a;f;g;f stack once. */
    th_tree_from_folded(&t, "a;f;g;f 10\na;f 5\na;h 20\nb;f 1\n");
    size_t n;
    fx_top_row_t *rows = fx_tree_top(&t, FX_TOP_BY_SELF, 0, &n);
    assert_int_equal(n, 5);
    const struct {
        const char *name;
        int64_t self, total;
    } want[] = {{"h", 20, 20}, {"f", 16, 16}, {"a", 0, 35}, {"g", 0, 10}, {"b", 0, 1}};
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(fx_tree_name_str(&t, rows[i].name), want[i].name);
        assert_int_equal(rows[i].self, want[i].self);
        assert_int_equal(rows[i].total, want[i].total);
    }
    free(rows);
    rows = fx_tree_top(&t, FX_TOP_BY_TOTAL, 2, &n);
    assert_int_equal(n, 2);
    assert_string_equal(fx_tree_name_str(&t, rows[0].name), "a");
    assert_string_equal(fx_tree_name_str(&t, rows[1].name), "h");
    free(rows);
    fx_tree_free(&t);

    fx_tree_init(&t);
    fx_tree_compute_totals(&t);
    assert_null(fx_tree_top(&t, FX_TOP_BY_SELF, 0, &n));
    assert_int_equal(n, 0);
    fx_tree_free(&t);
}

/* No function's total exceeds the whole, recursion or not. */
static void test_top_totals_bounded(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        fx_tree_t t;
        th_random_tree(&t, 3000, 30, 20, seed); /* few names: lots of recursion */
        size_t n;
        fx_top_row_t *rows = fx_tree_top(&t, FX_TOP_BY_TOTAL, 0, &n);
        int64_t self_sum = 0;
        for (size_t i = 0; i < n; i++) {
            assert_true(rows[i].total <= t.nodes[0].total);
            assert_true(rows[i].self <= rows[i].total);
            self_sum += rows[i].self;
        }
        assert_int_equal(self_sum, t.nodes[0].total);
        free(rows);
        fx_tree_free(&t);
    }
}

static void test_hot_path_and_path(void **state)
{
    (void)state;
    fx_tree_t t;
    th_tree_from_folded(&t, "main;serve;json 60\nmain;serve;db 30\nmain;gc 10\n");
    uint32_t path[8], names[8];
    size_t n = fx_tree_hot_path(&t, 0, path, 8);
    assert_int_equal(n, 3);
    assert_string_equal(fx_tree_name_str(&t, t.nodes[path[2]].name), "json");
    /* Stop where the best child is under 70% of its parent (json 60/90). */
    assert_int_equal(fx_tree_hot_path(&t, 700, path, 8), 2);
    assert_int_equal(fx_tree_hot_path(&t, 0, path, 1), 1);
    n = fx_tree_path(&t, path[0], names, 8);
    assert_int_equal(n, 1);
    n = fx_tree_hot_path(&t, 0, path, 8);
    assert_int_equal(fx_tree_path(&t, path[2], names, 8), 3);
    assert_string_equal(fx_tree_name_str(&t, names[0]), "main");
    assert_string_equal(fx_tree_name_str(&t, names[2]), "json");
    /* Too small a buffer keeps the outermost frames. */
    assert_int_equal(fx_tree_path(&t, path[2], names, 2), 2);
    assert_string_equal(fx_tree_name_str(&t, names[1]), "serve");
    fx_tree_free(&t);
}

static void test_call_site_filter(void **state)
{
    (void)state;
    fx_tree_t t, got, want;
    th_tree_from_folded(&t, "a;b;c 5\na;b 2\na;x 3\nb;c 1\na 4\n");
    const char *site[] = {"a", "b"};
    fx_tree_init(&got);
    fx_tree_filter_call_site(&t, site, 2, &got);
    th_tree_from_folded(&want, "a;b;c 5\na;b 2\n");
    assert_true(th_tree_equal(&got, &want));
    assert_int_equal(got.nodes[0].total, 7);
    fx_tree_free(&got);
    fx_tree_free(&want);

    /* Unknown frame: nothing; empty call site: everything. */
    const char *none[] = {"a", "nope"};
    fx_tree_init(&got);
    fx_tree_filter_call_site(&t, none, 2, &got);
    assert_int_equal(got.nodes[0].total, 0);
    assert_int_equal(got.len, 1);
    fx_tree_free(&got);
    fx_tree_init(&got);
    fx_tree_filter_call_site(&t, NULL, 0, &got);
    assert_true(th_tree_equal(&got, &t));
    fx_tree_free(&got);
    /* Not a prefix from the root: "b" alone selects the b;c stack only. */
    const char *b[] = {"b"};
    fx_tree_init(&got);
    fx_tree_filter_call_site(&t, b, 1, &got);
    assert_int_equal(got.nodes[0].total, 1);
    fx_tree_free(&got);
    fx_tree_free(&t);
}

static void test_sandwich(void **state)
{
    (void)state;
    fx_tree_t t, want;
    th_tree_from_folded(&t, "main;a;f;x 4\nmain;b;f 2\nmain;b;f;y 1\nmain;f;f;z 3\nother 9\n");
    fx_sandwich_t s;
    fx_sandwich_build(&t, "f", 1, &s);
    assert_int_equal(s.self, 2);
    assert_int_equal(s.total, 10); /* 4 + 3 + 3: main;f;f;z once */
    /* Callers: every occurrence credits its chain with its total. */
    th_tree_from_folded(&want, "f;a;main 4\nf;b;main 3\nf;main 3\nf;f;main 3\n");
    assert_true(th_tree_equal(&s.callers, &want));
    fx_tree_free(&want);
    /* Callees: subtrees of every occurrence merged under f. */
    th_tree_from_folded(&want, "f;x 4\nf 2\nf;y 1\nf;f;z 3\nf;z 3\n");
    assert_true(th_tree_equal(&s.callees, &want));
    fx_tree_free(&want);
    fx_sandwich_free(&s);

    fx_sandwich_build(&t, "absent", 6, &s);
    assert_int_equal(s.total, 0);
    assert_int_equal(s.callers.len, 1);
    assert_int_equal(s.callees.nodes[0].total, 0);
    fx_sandwich_free(&s);
    fx_tree_free(&t);
}

/* The truncated copy keeps every kept total exact, and keeps exactly the
 * nodes at or above the threshold (so max_nodes plus ties at the threshold,
 * Pyroscope's >= rule) beside the "other" stand-ins. */
static void test_truncated_copy(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        fx_tree_t t;
        th_random_tree(&t, 4000, 500, 14, seed);
        fx_tree_t c;
        fx_tree_init(&c);
        fx_tree_truncate(&t, 300, &c);
        assert_int_equal(c.nodes[0].total, t.nodes[0].total);
        uint32_t other = fx_tree_other_name(&c);
        int64_t min = fx_tree_min_total(&t, 300);
        size_t real = 0, above = 0, strictly = 0;
        for (uint32_t i = 1; i < t.len; i++) {
            above += t.nodes[i].total >= min && t.nodes[i].total != 0;
            strictly += t.nodes[i].total > min;
        }
        for (uint32_t i = 1; i < c.len; i++) {
            if (c.nodes[i].name == other)
                continue;
            real++;
            uint32_t j = th_find_same(&c, i, &t);
            assert_true(j != FX_TREE_NONE);
            assert_int_equal(c.nodes[i].total, t.nodes[j].total);
            assert_true(c.nodes[i].total >= min);
        }
        assert_int_equal(real, above);
        assert_true(strictly < 300 && above >= 300);
        fx_tree_free(&c);
        fx_tree_free(&t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_folded_export),
        cmocka_unit_test(test_top_table),
        cmocka_unit_test(test_top_totals_bounded),
        cmocka_unit_test(test_hot_path_and_path),
        cmocka_unit_test(test_call_site_filter),
        cmocka_unit_test(test_sandwich),
        cmocka_unit_test(test_truncated_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
