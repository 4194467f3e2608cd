/* test_flamegraph.c - FlameGraph encoder/decoder and max_nodes truncation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "model/flamegraph.h"
#include "model/truncate.h"
#include "tree_helpers.h"

static void assert_level(const Querier__V1__FlameGraph *fg, size_t d, const int64_t *want,
                         size_t n)
{
    assert_true(d < fg->n_levels);
    assert_int_equal(fg->levels[d]->n_values, n);
    for (size_t i = 0; i < n; i++) {
        if (fg->levels[d]->values[i] != want[i])
            fail_msg("level %zu value %zu: got %lld want %lld", d, i,
                     (long long)fg->levels[d]->values[i], (long long)want[i]);
    }
}

static void assert_names(const Querier__V1__FlameGraph *fg, const char *const *want, size_t n)
{
    assert_int_equal(fg->n_names, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(fg->names[i], want[i]);
}

/* Reference pyroscope-api.md §3.3, single example: every array compared. */
static void test_worked_example(void **state)
{
    (void)state;
    fx_tree_t t;
    th_tree_from_folded(&t, "main;foo;bar 3\nmain;foo 1\nmain;baz 2\n");
    fx_arena_t a;
    fx_arena_init(&a);
    Querier__V1__FlameGraph *fg = fx_flamegraph_encode(&t, 0, &a);
    static const char *const names[] = {"total", "main", "foo", "bar", "baz"};
    assert_names(fg, names, 5);
    assert_int_equal(fg->total, 6);
    assert_int_equal(fg->max_self, 3);
    assert_int_equal(fg->n_levels, 4);
    assert_level(fg, 0, (const int64_t[]){0, 6, 0, 0}, 4);
    assert_level(fg, 1, (const int64_t[]){0, 6, 0, 1}, 4);
    assert_level(fg, 2, (const int64_t[]){0, 2, 2, 4, 0, 4, 1, 2}, 8);
    assert_level(fg, 3, (const int64_t[]){3, 3, 3, 3}, 4);

    /* The same message packs to protobuf and unpacks unchanged. */
    size_t len = querier__v1__flame_graph__get_packed_size(fg);
    uint8_t *buf = malloc(len);
    assert_int_equal(querier__v1__flame_graph__pack(fg, buf), len);
    Querier__V1__FlameGraph *u = querier__v1__flame_graph__unpack(NULL, len, buf);
    assert_non_null(u);
    assert_names(u, names, 5);
    assert_level(u, 2, (const int64_t[]){0, 2, 2, 4, 0, 4, 1, 2}, 8);
    querier__v1__flame_graph__free_unpacked(u, NULL);
    free(buf);
    fx_arena_free(&a);
    fx_tree_free(&t);
}

static void test_empty_tree(void **state)
{
    (void)state;
    fx_tree_t t;
    fx_tree_init(&t);
    fx_tree_compute_totals(&t);
    fx_arena_t a;
    fx_arena_init(&a);
    Querier__V1__FlameGraph *fg = fx_flamegraph_encode(&t, 8192, &a);
    static const char *const names[] = {"total"};
    assert_names(fg, names, 1);
    assert_int_equal(fg->total, 0);
    assert_int_equal(fg->n_levels, 1);
    assert_level(fg, 0, (const int64_t[]){0, 0, 0, 0}, 4);
    fx_arena_free(&a);
    fx_tree_free(&t);
}

/* Names are numbered in Pyroscope's walk order (last sibling first), are
 * deduplicated across the tree, and a function named "total" shares index 0
 * with the root because Pyroscope keys its name cache by the shown name. */
static void test_name_order_and_dedup(void **state)
{
    (void)state;
    fx_tree_t t;
    th_tree_from_folded(&t, "a;x 1\nb;x 1\nc;total 1\n");
    fx_arena_t a;
    fx_arena_init(&a);
    Querier__V1__FlameGraph *fg = fx_flamegraph_encode(&t, 0, &a);
    static const char *const names[] = {"total", "c", "b", "x", "a"};
    assert_names(fg, names, 5);
    assert_level(fg, 1, (const int64_t[]){0, 1, 0, 4, 0, 1, 0, 2, 0, 1, 0, 1}, 12);
    assert_level(fg, 2, (const int64_t[]){0, 1, 1, 3, 0, 1, 1, 3, 0, 1, 1, 0}, 12);
    fx_arena_free(&a);
    fx_tree_free(&t);
}

/* Siblings are ordered bytewise, not by locale: "B" < "a" < "aa" < "\xc3". */
static void test_bytewise_order(void **state)
{
    (void)state;
    fx_tree_t t;
    th_tree_from_folded(&t, "r;\xc3\xa9 1\nr;aa 2\nr;a 3\nr;B 4\n");
    fx_arena_t a;
    fx_arena_init(&a);
    Querier__V1__FlameGraph *fg = fx_flamegraph_encode(&t, 0, &a);
    const Querier__V1__Level *l = fg->levels[2];
    assert_int_equal(l->n_values, 16);
    const char *want[] = {"B", "a", "aa", "\xc3\xa9"};
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(fg->names[l->values[4 * i + 3]], want[i]);
    fx_arena_free(&a);
    fx_tree_free(&t);
}

/* Brute force: the max_nodes-th largest non-zero total of a node not named
 * "other". */
static int64_t brute_min_total(const fx_tree_t *t, int64_t k)
{
    size_t n = 0;
    int64_t *v = malloc(t->len * sizeof *v);
    for (size_t i = 1; i < t->len; i++)
        if (t->nodes[i].total && strcmp(fx_tree_name_str(t, t->nodes[i].name), "other") != 0)
            v[n++] = t->nodes[i].total;
    int64_t r = 0;
    if ((int64_t)n > k && k > 0) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++)
                if (v[j] > v[i]) {
                    int64_t x = v[i];
                    v[i] = v[j];
                    v[j] = x;
                }
        r = v[k - 1];
    }
    free(v);
    return r;
}

static void test_min_total_matches_brute_force(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        fx_tree_t t;
        th_random_tree(&t, 300, 40, 8, seed);
        const int64_t ks[] = {0, 1, 2, 5, 17, 100, 299, 1000};
        for (size_t i = 0; i < FX_ARRAY_LEN(ks); i++)
            assert_int_equal(fx_tree_min_total(&t, ks[i]), brute_min_total(&t, ks[i]));
        fx_tree_free(&t);
    }
}

static void test_truncation_other(void **state)
{
    (void)state;
    fx_tree_t t;
    /* totals: main 100, big 60, mid 30, small1 6, small2 4 */
    th_tree_from_folded(&t, "main;big 60\nmain;mid 30\nmain;small1 6\nmain;small2 4\n");
    assert_int_equal(fx_tree_min_total(&t, 3), 30);
    fx_arena_t a;
    fx_arena_init(&a);
    Querier__V1__FlameGraph *fg = fx_flamegraph_encode(&t, 3, &a);
    static const char *const names[] = {"total", "main", "other", "mid", "big"};
    assert_names(fg, names, 5);
    /* big [0,60) mid [60,90) other [90,100) with self = total = 10 */
    assert_level(fg, 2, (const int64_t[]){0, 60, 60, 4, 0, 30, 30, 3, 0, 10, 10, 2}, 12);
    assert_int_equal(fg->total, 100);
    assert_int_equal(fg->max_self, 60);

    /* No limit and a generous limit leave the tree whole. */
    Querier__V1__FlameGraph *whole = fx_flamegraph_encode(&t, 5, &a);
    assert_int_equal(whole->n_names, 6);
    assert_int_equal(fx_tree_min_total(&t, 5), 0);
    fx_arena_free(&a);
    fx_tree_free(&t);
}

/* A real child named "other" is folded into the synthetic one, as Pyroscope's
 * NewFlameGraph does, and keeps x order: "other" comes after kept siblings. */
static void test_existing_other_is_folded(void **state)
{
    (void)state;
    fx_tree_t t;
    th_tree_from_folded(&t, "r;other;deep 5\nr;a 50\nr;z 40\nr;tiny 1\n");
    fx_arena_t a;
    fx_arena_init(&a);
    Querier__V1__FlameGraph *fg = fx_flamegraph_encode(&t, 3, &a);
    /* threshold = 3rd largest of {96, 50, 40, 5, 1} = 40 ("other" not counted) */
    static const char *const names[] = {"total", "r", "other", "z", "a"};
    assert_names(fg, names, 5);
    assert_level(fg, 2, (const int64_t[]){0, 50, 50, 4, 0, 40, 40, 3, 0, 6, 6, 2}, 12);
    const Querier__V1__Level *l = fg->levels[2];
    assert_string_equal(fg->names[l->values[3]], "a");
    assert_string_equal(fg->names[l->values[7]], "z");
    assert_string_equal(fg->names[l->values[11]], "other");
    assert_int_equal(fg->n_levels, 3);
    fx_arena_free(&a);
    fx_tree_free(&t);
}

/* Decoding what was encoded gives back the tree (no limit) or exactly the
 * truncated copy (with a limit), on random trees. */
static void test_roundtrip_random(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        fx_tree_t t;
        th_random_tree(&t, 2000, 300, 12, seed);
        fx_arena_t a;
        fx_arena_init(&a);
        const int64_t ks[] = {0, 1, 10, 100, 1024};
        for (size_t i = 0; i < FX_ARRAY_LEN(ks); i++) {
            Querier__V1__FlameGraph *fg = fx_flamegraph_encode(&t, ks[i], &a);
            assert_int_equal(fg->total, t.nodes[0].total);
            fx_tree_t back, want;
            fx_tree_init(&back);
            fx_tree_init(&want);
            fx_err_t err = {0};
            assert_int_equal(fx_flamegraph_to_tree(fg, &back, &err), FX_OK);
            fx_tree_truncate(&t, ks[i], &want);
            assert_true(th_tree_equal(&back, &want));
            if (ks[i] == 0)
                assert_true(th_tree_equal(&back, &t));
            /* Truncation keeps at most max_nodes real nodes plus "other"s,
             * and totals of the kept nodes stay exact. */
            assert_int_equal(back.nodes[0].total, t.nodes[0].total);
            fx_tree_free(&back);
            fx_tree_free(&want);
        }
        fx_arena_free(&a);
        fx_tree_free(&t);
    }
}

/* Truncating a truncated tree again changes nothing. A single-node query
 * truncates twice (the ingester, then the querier over what it got), a
 * cluster query once over the merged whole trees of several ingesters: both
 * must give the same answer. */
static void test_truncation_is_idempotent(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        fx_tree_t t;
        th_random_tree(&t, 3000, 300, 12, seed);
        const int64_t ks[] = {1, 3, 10, 50, 100, 700};
        for (size_t i = 0; i < FX_ARRAY_LEN(ks); i++) {
            fx_tree_t once, twice;
            fx_tree_init(&once);
            fx_tree_init(&twice);
            fx_tree_truncate(&t, ks[i], &once);
            fx_tree_truncate(&once, ks[i], &twice);
            if (!th_tree_equal(&once, &twice))
                fail_msg("seed %llu max_nodes %lld: truncating twice differs",
                         (unsigned long long)seed, (long long)ks[i]);
            fx_tree_free(&once);
            fx_tree_free(&twice);
        }
        fx_tree_free(&t);
    }
    /* The smallest case: the "other" (15) outweighs the kept "c" (10); if it
     * counted as a node the second pass would cut "c". */
    fx_tree_t t, once, twice;
    th_tree_from_folded(&t, "r;a 40\nr;b 30\nr;c 10\nr;d 8\nr;e 7\n");
    fx_tree_init(&once);
    fx_tree_init(&twice);
    fx_tree_truncate(&t, 4, &once);   /* threshold 10: keeps r a b c, other = 15 */
    fx_tree_truncate(&once, 4, &twice);
    assert_true(th_tree_equal(&once, &twice));
    fx_tree_free(&t);
    fx_tree_free(&once);
    fx_tree_free(&twice);
}

/* Every level is sorted by x, nodes do not overlap, and each node lies in a
 * node of the level above: what Grafana's levelsToTree relies on. */
static void test_levels_nest(void **state)
{
    (void)state;
    fx_tree_t t;
    th_random_tree(&t, 5000, 500, 20, 99);
    fx_arena_t a;
    fx_arena_init(&a);
    Querier__V1__FlameGraph *fg = fx_flamegraph_encode(&t, 700, &a);
    assert_true(fg->n_levels > 1); /* the checks below must see levels */
    for (size_t d = 0; d < fg->n_levels; d++) {
        const Querier__V1__Level *l = fg->levels[d];
        int64_t prev = 0;
        for (size_t i = 0; i < l->n_values; i += 4) {
            assert_true(l->values[i] >= 0);
            prev += l->values[i] + l->values[i + 1];
            assert_true(l->values[i + 2] <= l->values[i + 1]);
        }
        assert_true(prev <= fg->total);
    }
    fx_tree_t back;
    fx_tree_init(&back);
    assert_int_equal(fx_flamegraph_to_tree(fg, &back, NULL), FX_OK);
    fx_tree_free(&back);
    fx_arena_free(&a);
    fx_tree_free(&t);
}

static void test_decoder_rejects_malformed(void **state)
{
    (void)state;
    char *names[] = {"total", "a"};
    int64_t l0[] = {0, 10, 0, 0};
    int64_t bad_len[] = {0, 10, 0};
    int64_t bad_idx[] = {0, 5, 5, 7};
    int64_t outside[] = {8, 5, 5, 1};
    int64_t negative[] = {0, -1, 0, 1};
    int64_t overflow[] = {INT64_MAX, 5, 5, 1};
    struct {
        int64_t *v;
        size_t n;
    } cases[] = {{bad_len, 3}, {bad_idx, 4}, {outside, 4}, {negative, 4}, {overflow, 4}};
    for (size_t i = 0; i < FX_ARRAY_LEN(cases); i++) {
        Querier__V1__Level a = QUERIER__V1__LEVEL__INIT, b = QUERIER__V1__LEVEL__INIT;
        a.values = l0;
        a.n_values = 4;
        b.values = cases[i].v;
        b.n_values = cases[i].n;
        Querier__V1__Level *levels[] = {&a, &b};
        Querier__V1__FlameGraph fg = QUERIER__V1__FLAME_GRAPH__INIT;
        fg.names = names;
        fg.n_names = 2;
        fg.levels = levels;
        fg.n_levels = 2;
        fx_tree_t t;
        fx_tree_init(&t);
        fx_err_t err = {0};
        assert_int_equal(fx_flamegraph_to_tree(&fg, &t, &err), FX_EINVAL);
        assert_true(strlen(err.msg) > 0);
        fx_tree_free(&t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worked_example),
        cmocka_unit_test(test_empty_tree),
        cmocka_unit_test(test_name_order_and_dedup),
        cmocka_unit_test(test_bytewise_order),
        cmocka_unit_test(test_min_total_matches_brute_force),
        cmocka_unit_test(test_truncation_other),
        cmocka_unit_test(test_existing_other_is_folded),
        cmocka_unit_test(test_roundtrip_random),
        cmocka_unit_test(test_truncation_is_idempotent),
        cmocka_unit_test(test_levels_nest),
        cmocka_unit_test(test_decoder_rejects_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
