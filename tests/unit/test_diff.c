/* test_diff.c - FlameGraphDiff encoder: alignment, 7-tuples, truncation. */
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
#include "model/flamegraph_diff.h"
#include "tree_helpers.h"

static void assert_level(const Querier__V1__FlameGraphDiff *fg, size_t d, const int64_t *want,
                         size_t n)
{
    assert_true(d < fg->n_levels);
    assert_int_equal(fg->levels[d]->n_values, n);
    for (size_t i = 0; i < n; i++)
        if (fg->levels[d]->values[i] != want[i])
            fail_msg("level %zu value %zu: got %lld want %lld", d, i,
                     (long long)fg->levels[d]->values[i], (long long)want[i]);
}

static Querier__V1__FlameGraphDiff *encode(const char *l, const char *r, int64_t max_nodes,
                                           fx_arena_t *a)
{
    fx_tree_t lt, rt;
    th_tree_from_folded(&lt, l);
    th_tree_from_folded(&rt, r);
    Querier__V1__FlameGraphDiff *fg = NULL;
    fx_err_t err = {0};
    assert_int_equal(fx_flamegraph_diff_encode(&lt, &rt, max_nodes, a, &fg, &err), FX_OK);
    fx_tree_free(&lt);
    fx_tree_free(&rt);
    return fg;
}

/* Reference pyroscope-api.md §3.3, diff example: every array compared. */
static void test_worked_example(void **state)
{
    (void)state;
    fx_arena_t a;
    fx_arena_init(&a);
    Querier__V1__FlameGraphDiff *fg = encode("main;foo 2\n", "main;foo 1\nmain;bar 1\n", 0, &a);
    assert_int_equal(fg->n_names, 4);
    const char *names[] = {"total", "main", "foo", "bar"};
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(fg->names[i], names[i]);
    assert_int_equal(fg->total, 4);
    assert_int_equal(fg->leftticks, 2);
    assert_int_equal(fg->rightticks, 2);
    assert_int_equal(fg->max_self, 2);
    assert_int_equal(fg->n_levels, 3);
    assert_level(fg, 0, (const int64_t[]){0, 2, 0, 0, 2, 0, 0}, 7);
    assert_level(fg, 1, (const int64_t[]){0, 2, 0, 0, 2, 0, 1}, 7);
    assert_level(fg, 2, (const int64_t[]){0, 0, 0, 0, 1, 1, 3, 0, 2, 2, 0, 1, 1, 2}, 14);

    size_t len = querier__v1__flame_graph_diff__get_packed_size(fg);
    uint8_t *buf = malloc(len);
    querier__v1__flame_graph_diff__pack(fg, buf);
    Querier__V1__FlameGraphDiff *u = querier__v1__flame_graph_diff__unpack(NULL, len, buf);
    assert_non_null(u);
    assert_int_equal(u->leftticks, 2);
    assert_int_equal(u->levels[2]->n_values, 14);
    querier__v1__flame_graph_diff__free_unpacked(u, NULL);
    free(buf);
    fx_arena_free(&a);
}

/* One side of a diff as a single flame graph: columns (x, total, self) of
 * that side plus the name; each side's x is delta-encoded on its own. */
static void side_to_tree(const Querier__V1__FlameGraphDiff *d, int right, fx_tree_t *t)
{
    Querier__V1__FlameGraph fg = QUERIER__V1__FLAME_GRAPH__INIT;
    fg.names = d->names;
    fg.n_names = d->n_names;
    fg.n_levels = d->n_levels;
    fg.levels = calloc(d->n_levels, sizeof *fg.levels);
    for (size_t l = 0; l < d->n_levels; l++) {
        Querier__V1__Level *lv = malloc(sizeof *lv);
        querier__v1__level__init(lv);
        size_t n = d->levels[l]->n_values / 7;
        lv->n_values = n * 4;
        lv->values = malloc(lv->n_values * sizeof(int64_t));
        for (size_t i = 0; i < n; i++) {
            const int64_t *v = d->levels[l]->values + 7 * i;
            int o = right ? 3 : 0;
            lv->values[4 * i] = v[o];
            lv->values[4 * i + 1] = v[o + 1];
            lv->values[4 * i + 2] = v[o + 2];
            lv->values[4 * i + 3] = v[6];
        }
        fg.levels[l] = lv;
    }
    fx_tree_init(t);
    fx_err_t err = {0};
    if (fx_flamegraph_to_tree(&fg, t, &err) != FX_OK)
        fail_msg("%s side does not decode: %s", right ? "right" : "left", err.msg);
    for (size_t l = 0; l < d->n_levels; l++) {
        free(fg.levels[l]->values);
        free(fg.levels[l]);
    }
    free(fg.levels);
}

/* Without a limit each side of the diff decodes back to its tree. */
static void test_sides_roundtrip(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 10; seed++) {
        fx_tree_t l, r;
        th_random_tree(&l, 1500, 200, 10, seed);
        th_random_tree(&r, 1500, 200, 10, seed * 7919);
        fx_arena_t a;
        fx_arena_init(&a);
        Querier__V1__FlameGraphDiff *fg = NULL;
        assert_int_equal(fx_flamegraph_diff_encode(&l, &r, 0, &a, &fg, NULL), FX_OK);
        assert_int_equal(fg->leftticks, l.nodes[0].total);
        assert_int_equal(fg->rightticks, r.nodes[0].total);
        assert_int_equal(fg->total, l.nodes[0].total + r.nodes[0].total);
        fx_tree_t bl, br;
        side_to_tree(fg, 0, &bl);
        side_to_tree(fg, 1, &br);
        assert_true(th_tree_equal(&bl, &l));
        assert_true(th_tree_equal(&br, &r));
        fx_tree_free(&bl);
        fx_tree_free(&br);

        /* With a limit both sides still decode and keep their totals. */
        assert_int_equal(fx_flamegraph_diff_encode(&l, &r, 300, &a, &fg, NULL), FX_OK);
        side_to_tree(fg, 0, &bl);
        side_to_tree(fg, 1, &br);
        assert_int_equal(bl.nodes[0].total, l.nodes[0].total);
        assert_int_equal(br.nodes[0].total, r.nodes[0].total);
        fx_tree_free(&bl);
        fx_tree_free(&br);
        fx_arena_free(&a);
        fx_tree_free(&l);
        fx_tree_free(&r);
    }
}

/* A node survives if either side reaches the threshold; the rest of both
 * sides folds into one "other" pair. */
static void test_truncation_either_side(void **state)
{
    (void)state;
    fx_arena_t a;
    fx_arena_init(&a);
    /* max(L,R): root 12, r 12, a 10, b 10, c 1, d 1 -> 4th largest = 10 */
    Querier__V1__FlameGraphDiff *fg =
        encode("r;a 10\nr;b 1\nr;c 1\n", "r;a 1\nr;b 10\nr;d 1\n", 4, &a);
    const char *names[] = {"total", "r", "other", "b", "a"};
    assert_int_equal(fg->n_names, 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(fg->names[i], names[i]);
    /* a (10|1), b (1|10), other (1|1) */
    assert_level(fg, 2,
                 (const int64_t[]){0, 10, 10, 0, 1, 1, 4, 0, 1, 1, 0, 10, 10, 3, 0, 1, 1, 0, 1,
                                   1, 2},
                 21);
    assert_int_equal(fg->max_self, 10);

    /* A limit at or above the aligned size cuts nothing. */
    fg = encode("r;a 10\nr;b 1\nr;c 1\n", "r;a 1\nr;b 10\nr;d 1\n", 6, &a);
    assert_int_equal(fg->levels[2]->n_values, 28);
    fx_arena_free(&a);
}

static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The threshold (computed with pruning during alignment) equals the brute
 * force one: the max_nodes-th largest max(totalL, totalR) over the whole
 * aligned tree, root included; exactly the nodes reaching it are kept. */
static void test_threshold_matches_brute_force(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        fx_tree_t l, r;
        th_random_tree(&l, 2500, 300, 12, seed);
        th_random_tree(&r, 2500, 300, 12, seed + 100);
        fx_arena_t a;
        fx_arena_init(&a);
        Querier__V1__FlameGraphDiff *all = NULL;
        assert_int_equal(fx_flamegraph_diff_encode(&l, &r, 0, &a, &all, NULL), FX_OK);
        size_t n = 0;
        for (size_t d = 0; d < all->n_levels; d++)
            n += all->levels[d]->n_values / 7;
        int64_t *v = malloc(n * sizeof *v);
        size_t j = 0;
        for (size_t d = 0; d < all->n_levels; d++)
            for (size_t i = 0; i < all->levels[d]->n_values; i += 7)
                v[j++] = FX_MAX(all->levels[d]->values[i + 1], all->levels[d]->values[i + 4]);
        qsort(v, n, sizeof *v, cmp_desc);
        const int64_t ks[] = {1, 10, 100, 1000, (int64_t)n - 1, (int64_t)n, (int64_t)n + 5};
        for (size_t q = 0; q < FX_ARRAY_LEN(ks); q++) {
            int64_t k = ks[q], min = (size_t)k < n ? v[k - 1] : 0;
            size_t want = 0;
            for (size_t i = 0; i < n; i++)
                want += v[i] >= min;
            Querier__V1__FlameGraphDiff *fg = NULL;
            assert_int_equal(fx_flamegraph_diff_encode(&l, &r, k, &a, &fg, NULL), FX_OK);
            size_t kept = 0;
            for (size_t d = 0; d < fg->n_levels; d++)
                for (size_t i = 0; i < fg->levels[d]->n_values; i += 7)
                    kept += strcmp(fg->names[fg->levels[d]->values[i + 6]], "other") != 0;
            assert_int_equal(kept, want);
            assert_int_equal(fg->leftticks, l.nodes[0].total);
            assert_int_equal(fg->rightticks, r.nodes[0].total);
        }
        free(v);
        fx_arena_free(&a);
        fx_tree_free(&l);
        fx_tree_free(&r);
    }
}

static void test_one_side_empty(void **state)
{
    (void)state;
    fx_arena_t a;
    fx_arena_init(&a);
    Querier__V1__FlameGraphDiff *fg = encode("", "x;y 5\n", 0, &a);
    assert_int_equal(fg->leftticks, 0);
    assert_int_equal(fg->rightticks, 5);
    assert_level(fg, 0, (const int64_t[]){0, 0, 0, 0, 5, 0, 0}, 7);
    assert_level(fg, 2, (const int64_t[]){0, 0, 0, 0, 5, 5, 2}, 7);
    fg = encode("", "", 10, &a);
    assert_int_equal(fg->n_levels, 1);
    assert_int_equal(fg->n_names, 1);
    fx_arena_free(&a);
}

static void test_negative_rejected(void **state)
{
    (void)state;
    fx_tree_t l, r;
    th_tree_from_folded(&l, "a;b 3\n");
    th_tree_from_folded(&r, "a;b 3\n");
    l.nodes[2].self = -1;
    fx_tree_compute_totals(&l);
    fx_arena_t a;
    fx_arena_init(&a);
    Querier__V1__FlameGraphDiff *fg = (void *)1;
    fx_err_t err = {0};
    assert_int_equal(fx_flamegraph_diff_encode(&l, &r, 0, &a, &fg, &err), FX_EINVAL);
    assert_null(fg);
    assert_non_null(strstr(err.msg, "left"));
    assert_int_equal(fx_flamegraph_diff_encode(&r, &l, 0, &a, &fg, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "right"));
    fx_arena_free(&a);
    fx_tree_free(&l);
    fx_tree_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worked_example),
        cmocka_unit_test(test_sides_roundtrip),
        cmocka_unit_test(test_truncation_either_side),
        cmocka_unit_test(test_threshold_matches_brute_force),
        cmocka_unit_test(test_one_side_empty),
        cmocka_unit_test(test_negative_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
