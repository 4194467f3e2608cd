/* test_dot.c - DOT call graph: values, edges, truncation, and that Graphviz
 * itself accepts the output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "model/dot.h"
#include "tree_helpers.h"

static char *render(const char *folded, int64_t max_nodes, const char *unit, fx_buf_t *b)
{
    fx_tree_t t;
    th_tree_from_folded(&t, folded);
    fx_dot_opts_t o = {max_nodes, "process_cpu:cpu:nanoseconds:cpu:nanoseconds", "cpu", unit};
    b->len = 0;
    fx_dot_write(&t, &o, b);
    fx_tree_free(&t);
    return fx_buf_cstr(b);
}

static void assert_has(const char *s, const char *frag)
{
    if (!strstr(s, frag))
        fail_msg("missing %s in:\n%s", frag, s);
}

static void test_format_value(void **state)
{
    (void)state;
    char b[48];
    assert_string_equal(fx_dot_format_value(1500000000, "nanoseconds", b, sizeof b), "1.50s");
    assert_string_equal(fx_dot_format_value(10000000, "nanoseconds", b, sizeof b), "10ms");
    assert_string_equal(fx_dot_format_value(999, "nanoseconds", b, sizeof b), "999ns");
    assert_string_equal(fx_dot_format_value(0, "nanoseconds", b, sizeof b), "0");
    assert_string_equal(fx_dot_format_value(-2500, "microseconds", b, sizeof b), "-2.50ms");
    assert_string_equal(fx_dot_format_value(2 * 1024 * 1024, "bytes", b, sizeof b), "2MB");
    assert_string_equal(fx_dot_format_value(1536, "bytes", b, sizeof b), "1.50kB");
    assert_string_equal(fx_dot_format_value(12345, "count", b, sizeof b), "12345");
    assert_string_equal(fx_dot_format_value(7, NULL, b, sizeof b), "7");
}

static void test_simple_graph(void **state)
{
    (void)state;
    fx_buf_t b = FX_BUF_INIT;
    const char *s = render("main;foo;bar 3000000000\nmain;foo 1000000000\nmain;baz 2000000000\n",
                           0, "nanoseconds", &b);
    assert_true(strncmp(s, "digraph \"process_cpu:cpu:nanoseconds:cpu:nanoseconds\" {\n", 56) == 0);
    assert_has(s, "label=\"Type: cpu\\lShowing nodes accounting for 6s, 100% of 6s total\\l\\l"
                  "See https://git.io/JfYMW for how to read the graph\\l\"");
    /* Nodes in cum order: main, foo, bar, baz. */
    assert_has(s, "N1 [label=\"main\\n0 of 6s (100%)\" id=\"node1\" fontsize=8 shape=box "
                  "tooltip=\"main (6s)\"");
    assert_has(s, "N2 [label=\"foo\\n1s (16.67%)\\nof 4s (66.67%)\" id=\"node2\" fontsize=18");
    assert_has(s, "N3 [label=\"bar\\n3s (50.00%)\" id=\"node3\" fontsize=24");
    assert_has(s, "N4 [label=\"baz\\n2s (33.33%)\" id=\"node4\"");
    /* Edges heaviest first. */
    const char *e1 = strstr(s, "N1 -> N2 [label=\" 4s\" weight=67 penwidth=4");
    const char *e2 = strstr(s, "N2 -> N3 [label=\" 3s\" weight=51 penwidth=3");
    const char *e3 = strstr(s, "N1 -> N4 [label=\" 2s\" weight=34 penwidth=2");
    assert_true(e1 && e2 && e3 && e1 < e2 && e2 < e3);
    assert_has(s, "tooltip=\"main -> foo (4s)\" labeltooltip=\"main -> foo (4s)\"]");
    assert_null(strstr(s, "Showing top"));
    assert_null(strstr(s, "dotted"));
    fx_buf_free(&b);
}

/* Recursion: cum and edge weights count each stack once. */
static void test_recursion_counted_once(void **state)
{
    (void)state;
    fx_buf_t b = FX_BUF_INIT;
    const char *s = render("a;b;a;b 5\na 1\n", 0, "count", &b);
    assert_has(s, "N1 [label=\"a\\n1 (16.67%)\\nof 6 (100%)\"");
    assert_has(s, "N2 [label=\"b\\n5 (83.33%)\"");
    assert_has(s, "N1 -> N2 [label=\" 5\"");
    assert_has(s, "N2 -> N1 [label=\" 5\"");
    fx_buf_free(&b);
}

/* Dropped frames between kept functions give a dotted residual edge; a
 * residual edge another path already explains is removed. */
static void test_truncation_and_residual_edges(void **state)
{
    (void)state;
    fx_buf_t b = FX_BUF_INIT;
    /* cum a 11, c 10 (flat 10), b 10 (flat 0), d 1: top 2 = a, c */
    const char *s = render("a;b;c 10\na;d 1\n", 2, "count", &b);
    assert_has(s, "Showing top 2 nodes out of 4");
    assert_has(s, "Showing nodes accounting for 10, 90.91% of 11 total");
    assert_has(s, "N1 -> N2 [label=\" 10\"");
    assert_has(s, "tooltip=\"a ... c (10)\"");
    assert_has(s, "style=\"dotted\"");
    assert_null(strstr(s, "label=\"b\\n"));

    /* cum a 10, c 10, b 6, x 4: a -> b -> c kept; a -> (x) -> c is residual
     * and lighter than the real edge into c, and c is reachable from a
     * through b: removed, as pprof's RemoveRedundantEdges does. */
    s = render("a;b;c 6\na;x;c 4\n", 3, "count", &b);
    assert_has(s, "N1 [label=\"c\\n10 (100%)\"");
    assert_has(s, "N2 [label=\"a\\n0 of 10 (100%)\"");
    assert_has(s, "N3 [label=\"b\\n0 of 6 (60.00%)\"");
    assert_has(s, "N2 -> N3 [label=\" 6\"");
    assert_has(s, "N3 -> N1 [label=\" 6\"");
    assert_null(strstr(s, " ... "));

    /* With equal weights pprof stops at the non-residual edge: kept. */
    s = render("a;b;c 5\na;x;c 5\n", 3, "count", &b);
    assert_has(s, "tooltip=\"a ... c (5)\"");
    fx_buf_free(&b);
}

static void test_empty_writes_nothing(void **state)
{
    (void)state;
    fx_tree_t t;
    fx_tree_init(&t);
    fx_tree_compute_totals(&t);
    fx_buf_t b = FX_BUF_INIT;
    fx_dot_write(&t, NULL, &b);
    assert_int_equal(b.len, 0);
    fx_tree_free(&t);
}

/* Runs Graphviz on the text; returns its exit status, -1 if dot is absent. */
static int run_dot(const fx_buf_t *b, char *out, size_t outlen)
{
    if (system("command -v dot >/dev/null 2>&1") != 0)
        return -1;
    char path[] = "/tmp/fx_test_dot_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b->data, b->len), (ssize_t)b->len);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "timeout 120 dot -Tsvg %s -o /dev/null 2>&1", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = 0;
    int st = pclose(p);
    unlink(path);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void test_graphviz_accepts(void **state)
{
    (void)state;
    fx_tree_t t;
    /* Many distinct names keep the call graph sparse like a real profile's
     * (a dense random graph takes Graphviz minutes to lay out). */
    th_random_tree(&t, 3000, 3000, 12, 3);
    /* Names a DOT writer must escape: quotes, backslashes, newlines,
     * controls, invalid UTF-8, braces. */
    const char *odd[] = {"say \"hi\"", "C:\\path\\", "two\nlines", "ctl\x01\x7f",
                         "bad \xff\xfe utf8", "{N1 -> N2}", "caf\xc3\xa9 \xe2\x82\xac"};
    uint32_t stack[FX_ARRAY_LEN(odd)];
    for (size_t i = 0; i < FX_ARRAY_LEN(odd); i++)
        stack[i] = fx_tree_name(&t, odd[i], strlen(odd[i]));
    fx_tree_add_stack(&t, stack, FX_ARRAY_LEN(odd), 1000000);
    fx_tree_compute_totals(&t);
    const int64_t limits[] = {0, 10}; /* larger graphs take Graphviz long */
    for (size_t i = 0; i < FX_ARRAY_LEN(limits); i++) {
        fx_buf_t b = FX_BUF_INIT;
        fx_dot_opts_t o = {limits[i], "title \"quoted\"", "alloc_space", "bytes"};
        fx_dot_write(&t, &o, &b);
        char msg[4096];
        int rc = run_dot(&b, msg, sizeof msg);
        if (rc == -1) {
            fx_buf_free(&b);
            fx_tree_free(&t);
            skip();
        }
        if (rc != 0 || strstr(msg, "Error") || strstr(msg, "Warning"))
            fail_msg("dot rejected the graph (limit %lld): %s", (long long)limits[i], msg);
        fx_buf_free(&b);
    }
    fx_tree_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_value),
        cmocka_unit_test(test_simple_graph),
        cmocka_unit_test(test_recursion_counted_once),
        cmocka_unit_test(test_truncation_and_residual_edges),
        cmocka_unit_test(test_empty_writes_nothing),
        cmocka_unit_test(test_graphviz_accepts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
