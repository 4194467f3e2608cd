/* test_flamebearer.c - flamebearer JSON for /pyroscope/render(-diff) and the
 * timeline filler. Set FX_FLAMEBEARER_DUMP=<dir> to also write the documents
 * there for tests/tools/check_flamebearer.mjs (@pyroscope/models schema). */
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
#include "model/flamebearer.h"
#include "model/flamegraph.h"
#include "model/flamegraph_diff.h"
#include "tree_helpers.h"

static void dump(const char *name, const fx_buf_t *b)
{
    const char *dir = getenv("FX_FLAMEBEARER_DUMP");
    if (!dir)
        return;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(b->data, 1, b->len, f);
    fclose(f);
}

static void test_single_exact(void **state)
{
    (void)state;
    fx_tree_t t;
    th_tree_from_folded(&t, "main;foo;bar 3\nmain;foo 1\nmain;baz 2\n");
    fx_arena_t a;
    fx_arena_init(&a);
    Querier__V1__FlameGraph *fg = fx_flamegraph_encode(&t, 0, &a);
    const uint64_t samples[] = {0, 4, 2};
    fx_timeline_t tl = {1700000000, samples, 3, 10};
    fx_flamebearer_meta_t meta = {"cpu", "nanoseconds", NULL};
    fx_buf_t b = FX_BUF_INIT;
    fx_flamebearer_write(&b, fg, &meta, &tl, NULL, 0);
    static const char want[] =
        "{\"version\":1,\"flamebearer\":{\"names\":[\"total\",\"main\",\"foo\",\"bar\",\"baz\"],"
        "\"levels\":[[0,6,0,0],[0,6,0,1],[0,2,2,4,0,4,1,2],[3,3,3,3]],\"numTicks\":6,"
        "\"maxSelf\":3},\"metadata\":{\"format\":\"single\",\"spyName\":\"\","
        "\"sampleRate\":1000000000,\"units\":\"samples\",\"name\":\"cpu\"},"
        "\"timeline\":{\"startTime\":1700000000,\"samples\":[0,4,2],\"durationDelta\":10,"
        "\"watermarks\":null},\"groups\":null,\"heatmap\":null}\n";
    assert_string_equal(fx_buf_cstr(&b), want);
    dump("single", &b);

    /* Groups, and no timeline. */
    b.len = 0;
    fx_timeline_group_t groups[] = {{"eu", {60, samples, 2, 15}}, {"us\"1", {60, samples, 1, 15}}};
    fx_flamebearer_meta_t mem = {"inuse_space", "bytes", "gospy"};
    fx_flamebearer_write(&b, fg, &mem, NULL, groups, 2);
    const char *s = fx_buf_cstr(&b);
    assert_non_null(strstr(s, "\"metadata\":{\"format\":\"single\",\"spyName\":\"gospy\","
                              "\"sampleRate\":100,\"units\":\"bytes\",\"name\":\"inuse_space\"}"));
    assert_non_null(strstr(s, "\"timeline\":null,\"groups\":{\"eu\":{\"startTime\":60,"
                              "\"samples\":[0,4],\"durationDelta\":15,\"watermarks\":null},"
                              "\"us\\\"1\":{"));
    dump("groups", &b);
    fx_buf_free(&b);
    fx_arena_free(&a);
    fx_tree_free(&t);
}

static void test_diff_exact(void **state)
{
    (void)state;
    fx_tree_t l, r;
    th_tree_from_folded(&l, "main;foo 2\n");
    th_tree_from_folded(&r, "main;foo 1\nmain;bar 1\n");
    fx_arena_t a;
    fx_arena_init(&a);
    Querier__V1__FlameGraphDiff *fg = NULL;
    assert_int_equal(fx_flamegraph_diff_encode(&l, &r, 0, &a, &fg, NULL), FX_OK);
    fx_flamebearer_meta_t meta = {"alloc_objects", "count", ""};
    fx_buf_t b = FX_BUF_INIT;
    fx_flamebearer_write_diff(&b, fg, &meta, NULL);
    static const char want[] =
        "{\"version\":1,\"flamebearer\":{\"names\":[\"total\",\"main\",\"foo\",\"bar\"],"
        "\"levels\":[[0,2,0,0,2,0,0],[0,2,0,0,2,0,1],[0,0,0,0,1,1,3,0,2,2,0,1,1,2]],"
        "\"numTicks\":4,\"maxSelf\":2},\"metadata\":{\"format\":\"double\",\"spyName\":\"\","
        "\"sampleRate\":100,\"units\":\"objects\",\"name\":\"alloc_objects\"},"
        "\"timeline\":null,\"groups\":null,\"heatmap\":null,\"leftTicks\":2,\"rightTicks\":2}\n";
    assert_string_equal(fx_buf_cstr(&b), want);
    dump("diff", &b);

    /* Empty sides: zero ticks are omitted, as Go's omitempty does. */
    b.len = 0;
    fx_flamebearer_write_diff(&b, NULL, NULL, NULL);
    assert_null(strstr(fx_buf_cstr(&b), "leftTicks"));
    assert_null(strstr(fx_buf_cstr(&b), "rightTicks"));
    fx_buf_free(&b);
    fx_arena_free(&a);
    fx_tree_free(&l);
    fx_tree_free(&r);
}

static void test_units(void **state)
{
    (void)state;
    static const struct {
        const char *type, *unit, *want_units;
        uint32_t want_rate;
    } cases[] = {
        {"cpu", "nanoseconds", "samples", 1000000000u},
        {"inuse_objects", "count", "objects", 100},
        {"alloc_objects", "count", "objects", 100},
        {"goroutine", "count", "objects", 100},
        {"samples", "count", "objects", 100},
        {"alloc_space", "bytes", "bytes", 100},
        {"wall", "nanoseconds", "nanoseconds", 100},
        {NULL, NULL, "", 100},
    };
    for (size_t i = 0; i < FX_ARRAY_LEN(cases); i++) {
        const char *u;
        uint32_t rate;
        fx_flamebearer_units(cases[i].type, cases[i].unit, &u, &rate);
        assert_string_equal(u, cases[i].want_units);
        assert_int_equal(rate, cases[i].want_rate);
    }
}

/* A big graph (names with quotes, controls, UTF-8) is valid JSON whose
 * arrays equal the FlameGraph's. */
static void test_large_valid_json(void **state)
{
    (void)state;
    fx_tree_t t;
    th_random_tree(&t, 20000, 2000, 30, 5);
    uint32_t odd = fx_tree_name(&t, "weird \"name\"\\\n\t\x01 \xc3\xa9", 16);
    uint32_t stack[] = {odd, odd};
    fx_tree_add_stack(&t, stack, 2, 77);
    fx_tree_compute_totals(&t);
    fx_arena_t a;
    fx_arena_init(&a);
    Querier__V1__FlameGraph *fg = fx_flamegraph_encode(&t, 8192, &a);
    fx_buf_t b = FX_BUF_INIT;
    fx_flamebearer_write(&b, fg, &(fx_flamebearer_meta_t){"cpu", "nanoseconds", "gospy"}, NULL,
                         NULL, 0);
    dump("large", &b);
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)b.data, b.len, 0, &jerr);
    if (!doc)
        fail_msg("invalid JSON: %s at %d", jerr.text, jerr.position);
    json_t *fb = json_object_get(doc, "flamebearer");
    json_t *names = json_object_get(fb, "names"), *levels = json_object_get(fb, "levels");
    assert_int_equal(json_array_size(names), fg->n_names);
    for (size_t i = 0; i < fg->n_names; i++)
        assert_string_equal(json_string_value(json_array_get(names, i)), fg->names[i]);
    assert_int_equal(json_array_size(levels), fg->n_levels);
    for (size_t l = 0; l < fg->n_levels; l++) {
        json_t *lv = json_array_get(levels, l);
        assert_int_equal(json_array_size(lv), fg->levels[l]->n_values);
        for (size_t i = 0; i < fg->levels[l]->n_values; i++)
            assert_true(json_integer_value(json_array_get(lv, i)) == fg->levels[l]->values[i]);
    }
    assert_true(json_integer_value(json_object_get(fb, "numTicks")) == t.nodes[0].total);
    json_decref(doc);
    fx_buf_free(&b);
    fx_arena_free(&a);
    fx_tree_free(&t);
}

/* Strings are escaped as Go's encoding/json does (Pyroscope's encoder), and
 * invalid UTF-8 becomes U+FFFD so the document is always valid. */
static void test_string_escaping(void **state)
{
    (void)state;
    fx_tree_t t;
    fx_tree_init(&t);
    const char odd[] = "a<b>&\"\\\n\x01\x7f\xff\xe2\x80\xa8\xc3\xa9";
    uint32_t id = fx_tree_name(&t, odd, sizeof odd - 1);
    fx_tree_add_stack(&t, &id, 1, 1);
    fx_tree_compute_totals(&t);
    fx_arena_t a;
    fx_arena_init(&a);
    fx_buf_t b = FX_BUF_INIT;
    fx_flamebearer_write(&b, fx_flamegraph_encode(&t, 0, &a), NULL, NULL, NULL, 0);
    assert_non_null(strstr(fx_buf_cstr(&b), "[\"total\",\"a\\u003cb\\u003e\\u0026\\\"\\\\\\n"
                                             "\\u0001\x7f\\ufffd\\u2028\xc3\xa9\"]"));
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)b.data, b.len, 0, &jerr);
    assert_non_null(doc);
    json_decref(doc);
    fx_buf_free(&b);
    fx_arena_free(&a);
    fx_tree_free(&t);
}

static void test_timeline_from_points(void **state)
{
    (void)state;
    fx_arena_t a;
    fx_arena_init(&a);
    fx_timeline_t tl;
    /* [1000 s, 1060 s) in 10 s steps: 6 slots; points at 1010, 1030, 1031
     * (same slot: replaces), 1075 (outside) and 990 (before). */
    const int64_t ts[] = {990000, 1010000, 1030000, 1031000, 1075000};
    const double v[] = {5, 7.9, 3, 4, 9};
    fx_timeline_from_points(&tl, ts, v, 5, 1000000, 1060000, 10, &a);
    assert_int_equal(tl.start_time, 1000);
    assert_int_equal(tl.duration_delta, 10);
    assert_int_equal(tl.n_samples, 6);
    const uint64_t want[] = {0, 7, 0, 4, 0, 0};
    for (size_t i = 0; i < 6; i++)
        assert_true(tl.samples[i] == want[i]);

    /* Empty and inverted windows give no samples; a zero step is 1 s. */
    fx_timeline_from_points(&tl, ts, v, 5, 5000, 5000, 10, &a);
    assert_int_equal(tl.n_samples, 0);
    fx_timeline_from_points(&tl, NULL, NULL, 0, 0, 3000, 0, &a);
    assert_int_equal(tl.n_samples, 3);
    assert_int_equal(tl.duration_delta, 1);
    const double bad[] = {-4, 0.0 / 0.0};
    const int64_t bts[] = {0, 1000};
    fx_timeline_from_points(&tl, bts, bad, 2, 0, 3000, 1, &a);
    assert_true(tl.samples[0] == 0 && tl.samples[1] == 0);
    fx_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_exact),
        cmocka_unit_test(test_diff_exact),
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_large_valid_json),
        cmocka_unit_test(test_string_escaping),
        cmocka_unit_test(test_timeline_from_points),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
