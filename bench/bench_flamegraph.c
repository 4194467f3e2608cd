/*
 * bench_flamegraph.c - times of the flame graph encodings and tree operations
 * on random call trees of 8,192 / 65,536 / 1,048,576 nodes (best of N runs,
 * after one warm-up). Prints figures only; no thresholds (docs/encodings.md
 * explains them).
 *
 *   make bench   or   build/bench/bench_flamegraph [reps]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "core/time.h"
#include "model/dot.h"
#include "model/flamebearer.h"
#include "model/flamegraph.h"
#include "model/flamegraph_diff.h"
#include "model/folded.h"
#include "model/top.h"
#include "model/tree.h"
#include "model/treebytes.h"

static uint64_t rng = 88172645463325252ULL;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* A tree of exactly n nodes below the root, shaped like merged profiles:
 * half of the new nodes extend a recent node (long call chains, up to 128
 * frames deep), half hang under a random node (branching); names come from a
 * pool of n/4 package-qualified function names; every node gets a self. */
static void random_tree(fx_tree_t *t, size_t n)
{
    fx_tree_init(t);
    size_t nnames = n / 4 + 16;
    uint32_t *ids = fx_malloc(nnames * sizeof *ids);
    uint8_t *depth = fx_calloc(n + 1, 1);
    char buf[96];
    for (size_t i = 0; i < nnames; i++) {
        int len = snprintf(buf, sizeof buf, "github.com/acme/svc/pkg%zu.(*Type%zu).Method%zu",
                           i % 97, i % 13, i);
        ids[i] = fx_tree_name(t, buf, (size_t)len);
    }
    while (t->len < n + 1) {
        uint64_t r = next();
        size_t len = t->len;
        uint32_t parent = (r & 1) ? (uint32_t)(len - 1 - (r >> 8) % FX_MIN(len, 8))
                                  : (uint32_t)((r >> 8) % len);
        if (depth[parent] >= 128)
            continue;
        uint32_t id = fx_tree_child(t, parent, ids[(r >> 32) % nnames]);
        depth[id] = depth[parent] + 1;
        t->nodes[id].self += (int64_t)(next() % 10000);
    }
    free(depth);
    free(ids);
    fx_tree_compute_totals(t);
}

typedef void (*bench_fn)(const fx_tree_t *t, const fx_tree_t *t2, int64_t max_nodes);

static void run_flamegraph(const fx_tree_t *t, const fx_tree_t *t2, int64_t max_nodes)
{
    (void)t2;
    fx_arena_t a;
    fx_arena_init(&a);
    Querier__V1__FlameGraph *fg = fx_flamegraph_encode(t, max_nodes, &a);
    FX_ASSERT(fg->n_levels > 0);
    fx_arena_free(&a);
}

static void run_flamegraph_pb(const fx_tree_t *t, const fx_tree_t *t2, int64_t max_nodes)
{
    (void)t2;
    fx_arena_t a;
    fx_arena_init(&a);
    Querier__V1__FlameGraph *fg = fx_flamegraph_encode(t, max_nodes, &a);
    size_t n = querier__v1__flame_graph__get_packed_size(fg);
    uint8_t *buf = fx_malloc(n);
    FX_ASSERT(querier__v1__flame_graph__pack(fg, buf) == n);
    free(buf);
    fx_arena_free(&a);
}

static void run_flamebearer(const fx_tree_t *t, const fx_tree_t *t2, int64_t max_nodes)
{
    (void)t2;
    fx_arena_t a;
    fx_arena_init(&a);
    Querier__V1__FlameGraph *fg = fx_flamegraph_encode(t, max_nodes, &a);
    fx_buf_t b = FX_BUF_INIT;
    fx_flamebearer_write(&b, fg, &(fx_flamebearer_meta_t){"cpu", "nanoseconds", ""}, NULL, NULL,
                         0);
    fx_buf_free(&b);
    fx_arena_free(&a);
}

static void run_diff(const fx_tree_t *t, const fx_tree_t *t2, int64_t max_nodes)
{
    fx_arena_t a;
    fx_arena_init(&a);
    Querier__V1__FlameGraphDiff *fg = NULL;
    FX_ASSERT(fx_flamegraph_diff_encode(t, t2, max_nodes, &a, &fg, NULL) == FX_OK);
    fx_arena_free(&a);
}

static void run_treebytes(const fx_tree_t *t, const fx_tree_t *t2, int64_t max_nodes)
{
    (void)t2;
    fx_buf_t b = FX_BUF_INIT;
    FX_ASSERT(fx_treebytes_write(t, max_nodes, &b, NULL) == FX_OK);
    fx_buf_free(&b);
}

static void run_treebytes_parse(const fx_tree_t *t, const fx_tree_t *t2, int64_t max_nodes)
{
    (void)t2;
    static fx_buf_t b = FX_BUF_INIT;
    static size_t last_len;
    if (last_len != t->len) {  /* bytes made once per tree, in the warm-up run */
        b.len = 0;
        FX_ASSERT(fx_treebytes_write(t, max_nodes, &b, NULL) == FX_OK);
        last_len = t->len;
    }
    fx_tree_t back;
    fx_tree_init(&back);
    FX_ASSERT(fx_treebytes_parse(&back, b.data, b.len, NULL) == FX_OK);
    fx_tree_free(&back);
}

static void run_dot(const fx_tree_t *t, const fx_tree_t *t2, int64_t max_nodes)
{
    (void)t2;
    (void)max_nodes;
    fx_buf_t b = FX_BUF_INIT;
    fx_dot_write(t, &(fx_dot_opts_t){100, "bench", "cpu", "nanoseconds"}, &b);
    fx_buf_free(&b);
}

static void run_folded(const fx_tree_t *t, const fx_tree_t *t2, int64_t max_nodes)
{
    (void)t2;
    (void)max_nodes;
    fx_buf_t b = FX_BUF_INIT;
    fx_folded_write(t, &b);
    fx_buf_free(&b);
}

static void run_top(const fx_tree_t *t, const fx_tree_t *t2, int64_t max_nodes)
{
    (void)t2;
    (void)max_nodes;
    size_t n;
    free(fx_tree_top(t, FX_TOP_BY_SELF, 100, &n));
}

static double time_it(bench_fn fn, const fx_tree_t *t, const fx_tree_t *t2, int64_t max_nodes,
                      int reps)
{
    double best = 1e30;
    fn(t, t2, max_nodes); /* warm-up: page faults of first use are not the encoder's */
    for (int i = 0; i < reps; i++) {
        int64_t t0 = fx_mono_ns();
        fn(t, t2, max_nodes);
        double ms = (double)(fx_mono_ns() - t0) / 1e6;
        if (ms < best)
            best = ms;
    }
    return best;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    static const size_t sizes[] = {8192, 65536, 1 << 20};
    static const struct {
        const char *name;
        bench_fn fn;
        int64_t max_nodes;
    } cases[] = {
        {"flamegraph (no limit)", run_flamegraph, 0},
        {"flamegraph (max_nodes 8192)", run_flamegraph, 8192},
        {"flamegraph + protobuf pack (8192)", run_flamegraph_pb, 8192},
        {"flamebearer JSON (8192)", run_flamebearer, 8192},
        {"diff (max_nodes 8192)", run_diff, 8192},
        {"tree bytes write (no limit)", run_treebytes, 0},
        {"tree bytes parse (no limit)", run_treebytes_parse, 0},
        {"dot (100 nodes)", run_dot, 0},
        {"folded export", run_folded, 0},
        {"top table (100 rows)", run_top, 0},
    };
    printf("%-36s %10s %12s\n", "operation", "nodes", "best ms");
    for (size_t s = 0; s < FX_ARRAY_LEN(sizes); s++) {
        fx_tree_t t, t2;
        random_tree(&t, sizes[s]);
        random_tree(&t2, sizes[s]);
        for (size_t c = 0; c < FX_ARRAY_LEN(cases); c++) {
            int r = sizes[s] > 100000 ? FX_MAX(1, reps / 2) : reps;
            printf("%-36s %10zu %12.3f\n", cases[c].name, sizes[s],
                   time_it(cases[c].fn, &t, &t2, cases[c].max_nodes, r));
            fflush(stdout);
        }
        fx_tree_free(&t);
        fx_tree_free(&t2);
    }
    return 0;
}
