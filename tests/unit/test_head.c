/*
 * test_head.c - the ingester head on real profiles: appends, merge totals
 * per profile type checked against sums computed here from the decoded
 * pprof, label/series/profile-type queries with selectors, time ranges,
 * SelectSeries buckets, pprof merge round trip, reopen, crash safety with a
 * SIGKILLed writer, concurrency, the series limit and hostile input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/gz.h"
#include "pprof/pprof.h"
#include "storage/head.h"
#include "storage/row.h"
#include "pprof_fixture.h"

#define FIXTURES "../shared/fixtures/"
#define T0 1795000000000000000LL /* ns; a 2026 timestamp */
#define SEC 1000000000LL

typedef struct fixture {
    const char *path, *name; /* file, __name__ */
    fx_buf_t plain;
    fx_arena_t arena;
    fx_pprof_t p;
} fixture_t;

static fixture_t fx[] = {
    {FIXTURES "pprof/go-cpu.pb.gz", "process_cpu", FX_BUF_INIT, {0}, {0}},
    {FIXTURES "pprof/go-heap.pb.gz", "memory", FX_BUF_INIT, {0}, {0}},
    {FIXTURES "pprof/node-cpu-wall.pb.gz", "wall", FX_BUF_INIT, {0}, {0}},
    {FIXTURES "pprof/node-heap.pb.gz", "memory", FX_BUF_INIT, {0}, {0}},
    {FIXTURES "nodejs-sdk/sdk-0.6.4-heap.body.pb.gz", "memory", FX_BUF_INIT, {0}, {0}},
    {FIXTURES "nodejs-sdk/sdk-0.6.4-wall-cpu.body.pb.gz", "wall", FX_BUF_INIT, {0}, {0}},
};
#define NFX FX_ARRAY_LEN(fx)

static char dir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/fx-head-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fx_rm_rf(dir);
    return 0;
}

static void load_fixtures(void)
{
    for (size_t i = 0; i < NFX; i++) {
        if (fx[i].plain.len)
            continue;
        fx_test_load_pprof(fx[i].path, &fx[i].plain, &fx[i].arena, &fx[i].p);
    }
}

static void free_fixtures(void)
{
    for (size_t i = 0; i < NFX; i++) {
        fx_pprof_free(&fx[i].p);
        fx_arena_free(&fx[i].arena);
        fx_buf_free(&fx[i].plain);
    }
}

static fx_head_t *open_head(void)
{
    fx_head_t *h = NULL;
    fx_err_t err = {0};
    int rc = fx_head_open(dir, NULL, &h, &err);
    if (rc)
        fail_msg("open: %s", err.msg);
    return h;
}

/* Labels {__name__=name, service_name=svc, env=env} (sorted). */
typedef struct lbls {
    fx_label_t v[3];
    fx_labels_t l;
} lbls_t;

static void mk_labels(lbls_t *b, const char *name, const char *svc, const char *env)
{
    b->v[0] = (fx_label_t){"__name__", name};
    b->v[1] = (fx_label_t){"env", env};
    b->v[2] = (fx_label_t){"service_name", svc};
    b->l.v = b->v;
    b->l.len = 3;
}

static void id_of(uint8_t id[16], uint64_t n)
{
    memset(id, 0, 16);
    memcpy(id, &n, 8);
}

static void append_ok(fx_head_t *h, const char *tenant, const char *name, const char *svc,
                      const char *env, const fx_pprof_t *p, int64_t ts, uint64_t n)
{
    lbls_t b;
    uint8_t id[16];
    fx_err_t err = {0};
    mk_labels(&b, name, svc, env);
    id_of(id, n);
    int rc = fx_head_append(h, tenant, &b.l, p, id, ts, NULL, &err);
    if (rc)
        fail_msg("append: %s", err.msg);
}

static int64_t pprof_sum(const fx_pprof_t *p, size_t col)
{
    uint64_t s = 0;
    for (size_t i = 0; i < p->nsamples; i++)
        s += (uint64_t)p->samples[i].values[col];
    return (int64_t)s;
}

static char *ptype_of(const fx_pprof_t *p, const char *name, size_t col)
{
    fx_slice_t t = fx_pprof_str(p, p->sample_types[col].type);
    fx_slice_t u = fx_pprof_str(p, p->sample_types[col].unit);
    fx_slice_t pt = {(const uint8_t *)"", 0}, pu = pt;
    if (p->has_period_type) {
        pt = fx_pprof_str(p, p->period_type.type);
        pu = fx_pprof_str(p, p->period_type.unit);
    }
    char *s = NULL;
    /* Pyroscope's relabel rule: the cpu column of a wall profile is process_cpu. */
    if (strcmp(name, "wall") == 0 && t.len == 3 && memcmp(t.data, "cpu", 3) == 0)
        name = "process_cpu";
    assert_true(asprintf(&s, "%s:%.*s:%.*s:%.*s:%.*s", name, (int)t.len, t.data, (int)u.len,
                         u.data, (int)pt.len, pt.data, (int)pu.len,
                         pu.data) > 0);
    return s;
}

static void parse_sel(fx_selector_t *sel, const char *s)
{
    fx_err_t err = {0};
    assert_int_equal(fx_selector_parse(s, sel, &err), FX_OK);
}

static int64_t merge_total(fx_head_t *h, const char *tenant, const char *selector,
                           const char *ptype, int64_t start_ms, int64_t end_ms)
{
    fx_selector_t sel;
    fx_tree_t tree;
    fx_err_t err = {0};
    parse_sel(&sel, selector);
    fx_head_query_t q = {tenant, &sel, 1, ptype, start_ms, end_ms, NULL, NULL, 0, 0};
    fx_tree_init(&tree);
    int rc = fx_head_merge_tree(h, &q, FX_GROUP_FUNCTION, &tree, &err);
    if (rc)
        fail_msg("merge: %s", err.msg);
    int64_t total = fx_tree_total(&tree);
    assert_true(tree.nodes[0].total == total);
    fx_tree_free(&tree);
    fx_selector_free(&sel);
    return total;
}

/* Merges into a pprof, decodes it, and returns the sum of its values; also
 * checks every id in it resolves. */
static int64_t merge_pprof_total(fx_head_t *h, const char *tenant, const char *selector,
                                 const char *ptype, size_t *nlocs)
{
    fx_selector_t sel;
    fx_buf_t out = FX_BUF_INIT;
    fx_err_t err = {0};
    fx_arena_t a;
    fx_pprof_t p;
    parse_sel(&sel, selector);
    fx_head_query_t q = {tenant, &sel, 1, ptype, 0, 0, NULL, NULL, 0, 0};
    assert_int_equal(fx_head_merge_pprof(h, &q, &out, &err), FX_OK);
    fx_arena_init(&a);
    assert_int_equal(fx_pprof_decode(out.data, out.len, &a, &p, &err), FX_OK);
    assert_int_equal(p.nsample_types, 1);
    uint64_t sum = 0;
    for (size_t i = 0; i < p.nsamples; i++) {
        sum += (uint64_t)p.samples[i].values[0];
        for (uint32_t j = 0; j < p.samples[i].nlocs; j++) {
            const fx_pprof_location_t *l = fx_pprof_location(&p, p.samples[i].locs[j]);
            assert_non_null(l);
            for (uint32_t k = 0; k < l->nlines; k++)
                assert_non_null(fx_pprof_function(&p, l->lines[k].function_id));
        }
    }
    if (nlocs)
        *nlocs = p.nlocations;
    fx_pprof_free(&p);
    fx_arena_free(&a);
    fx_buf_free(&out);
    fx_selector_free(&sel);
    return (int64_t)sum;
}

/* Appends every fixture under its own service; merge totals per type. */
static void append_all(fx_head_t *h)
{
    load_fixtures();
    for (size_t i = 0; i < NFX; i++) {
        char svc[32];
        snprintf(svc, sizeof svc, "svc-%zu", i);
        append_ok(h, "t1", fx[i].name, svc, i % 2 ? "dev" : "prod", &fx[i].p, T0 + (int64_t)i * SEC,
                  i + 1);
    }
}

static void check_all_totals(fx_head_t *h)
{
    for (size_t i = 0; i < NFX; i++) {
        char sel[64];
        snprintf(sel, sizeof sel, "{service_name=\"svc-%zu\"}", i);
        for (size_t c = 0; c < fx[i].p.nsample_types; c++) {
            char *pt = ptype_of(&fx[i].p, fx[i].name, c);
            int64_t want = pprof_sum(&fx[i].p, c);
            int64_t got = merge_total(h, "t1", sel, pt, 0, 0);
            if (got != want)
                fail_msg("%s type %s: tree total %lld, pprof sum %lld", fx[i].path, pt,
                         (long long)got, (long long)want);
            size_t nlocs = 0;
            assert_true(merge_pprof_total(h, "t1", sel, pt, &nlocs) == want);
            assert_true(nlocs > 0);
            free(pt);
        }
    }
}

static void test_append_and_merge_totals(void **state)
{
    (void)state;
    fx_head_t *h = open_head();
    append_all(h);
    check_all_totals(h);
    /* The profile type can also be folded into the selector. */
    char *pt = ptype_of(&fx[0].p, "process_cpu", 1);
    char sel[200];
    snprintf(sel, sizeof sel, "{__profile_type__=\"%s\", service_name=\"svc-0\"}", pt);
    assert_true(merge_total(h, "t1", sel, NULL, 0, 0) == pprof_sum(&fx[0].p, 1));
    free(pt);
    /* Other tenants see nothing. */
    assert_true(merge_total(h, "t2", "{}", NULL, 0, 0) == 0);
    fx_head_stats_t st;
    fx_head_stats(h, &st);
    assert_int_equal(st.profiles, NFX);
    assert_int_equal(st.series, 16); /* one per sample type */
    fx_head_close(h);
}

static int has(const fx_head_strings_t *s, const char *v)
{
    for (size_t i = 0; i < s->len; i++)
        if (strcmp(s->v[i], v) == 0)
            return 1;
    return 0;
}

static void check_label_queries(fx_head_t *h)
{
    fx_arena_t a;
    fx_err_t err = {0};
    fx_head_strings_t s;
    fx_selector_t sel[2];
    fx_arena_init(&a);

    fx_head_query_t q = {"t1", NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0};
    assert_int_equal(fx_head_label_names(h, &q, &a, &s, &err), FX_OK);
    assert_true(has(&s, "__name__") && has(&s, "__profile_type__") && has(&s, "__type__") &&
                has(&s, "__unit__") && has(&s, "__service_name__") && has(&s, "env") &&
                has(&s, "service_name") && has(&s, "__period_type__"));
    for (size_t i = 1; i < s.len; i++)
        assert_true(strcmp(s.v[i - 1], s.v[i]) < 0);

    assert_int_equal(fx_head_profile_types(h, &q, &a, &s, &err), FX_OK);
    assert_true(has(&s, "process_cpu:cpu:nanoseconds:cpu:nanoseconds"));
    assert_true(has(&s, "process_cpu:samples:count:cpu:nanoseconds"));
    assert_true(has(&s, "memory:inuse_space:bytes:space:bytes"));
    assert_true(has(&s, "memory:alloc_objects:count:space:bytes"));

    /* Regex selectors, union over two selectors. */
    parse_sel(&sel[0], "{service_name=~\"svc-[01]\"}");
    parse_sel(&sel[1], "{env=\"dev\", service_name!~\"svc-[13]\"}");
    q.selectors = sel;
    q.nselectors = 1;
    assert_int_equal(fx_head_label_values(h, &q, "service_name", &a, &s, &err), FX_OK);
    assert_int_equal(s.len, 2);
    assert_string_equal(s.v[0], "svc-0");
    assert_string_equal(s.v[1], "svc-1");
    q.nselectors = 2;
    assert_int_equal(fx_head_label_values(h, &q, "service_name", &a, &s, &err), FX_OK);
    assert_int_equal(s.len, 3); /* svc-0, svc-1, svc-5 */
    assert_string_equal(s.v[2], "svc-5");
    fx_selector_free(&sel[0]);
    fx_selector_free(&sel[1]);

    /* Absent labels match as "" (Prometheus semantics). */
    parse_sel(&sel[0], "{missing!=\"x\", service_name=\"svc-2\"}");
    q.nselectors = 1;
    assert_int_equal(fx_head_label_values(h, &q, "__name__", &a, &s, &err), FX_OK);
    assert_int_equal(s.len, 2); /* the cpu column of a wall profile is process_cpu */
    assert_string_equal(s.v[0], "process_cpu");
    assert_string_equal(s.v[1], "wall");
    fx_selector_free(&sel[0]);
    parse_sel(&sel[0], "{missing=~\".+\"}");
    assert_int_equal(fx_head_label_values(h, &q, "__name__", &a, &s, &err), FX_OK);
    assert_int_equal(s.len, 0);
    fx_selector_free(&sel[0]);

    /* Profile type restricts; series restricted to names, deduplicated. */
    parse_sel(&sel[0], "{}");
    q.profile_type = "memory:inuse_space:bytes:inuse_space:bytes"; /* Node's period type */
    assert_int_equal(fx_head_label_values(h, &q, "service_name", &a, &s, &err), FX_OK);
    assert_int_equal(s.len, 2); /* svc-3, svc-4 */
    assert_string_equal(s.v[0], "svc-3");
    const char *names[] = {"__name__", "env"};
    fx_head_label_sets_t ls;
    q.profile_type = NULL;
    assert_int_equal(fx_head_series(h, &q, names, 2, &a, &ls, &err), FX_OK);
    /* {process_cpu,prod} {memory,dev} {wall,prod} {memory,prod} {wall,dev} and
     * {process_cpu,dev}: the cpu column of the dev wall profile */
    assert_int_equal(ls.len, 6);
    for (size_t i = 0; i < ls.len; i++)
        assert_int_equal(ls.v[i].len, 2);
    assert_int_equal(fx_head_series(h, &q, NULL, 0, &a, &ls, &err), FX_OK);
    assert_int_equal(ls.len, 16); /* one per sample type of the six fixtures */
    fx_selector_free(&sel[0]);

    /* Time range: series with data only. */
    q.start_ms = (T0 + 100 * SEC) / 1000000;
    q.end_ms = q.start_ms + 1000;
    assert_int_equal(fx_head_label_names(h, &q, &a, &s, &err), FX_OK);
    assert_int_equal(s.len, 0);
    q.start_ms = T0 / 1000000;
    q.end_ms = q.start_ms + 500; /* only svc-0 at T0 */
    assert_int_equal(fx_head_label_values(h, &q, "service_name", &a, &s, &err), FX_OK);
    assert_int_equal(s.len, 1);

    fx_head_profile_stats_t ps;
    assert_int_equal(fx_head_profile_stats(h, "t1", &ps, &err), FX_OK);
    assert_true(ps.data_ingested);
    assert_true(ps.oldest_ms == T0 / 1000000);
    assert_true(ps.newest_ms == (T0 + 5 * SEC) / 1000000);
    assert_int_equal(fx_head_profile_stats(h, "nobody", &ps, &err), FX_OK);
    assert_false(ps.data_ingested);
    fx_arena_free(&a);
}

static void test_label_queries(void **state)
{
    (void)state;
    fx_head_t *h = open_head();
    append_all(h);
    check_label_queries(h);
    fx_head_close(h);
}

static void test_reopen_same_answers(void **state)
{
    (void)state;
    fx_head_t *h = open_head();
    append_all(h);
    fx_head_close(h);
    h = open_head();
    check_all_totals(h);
    check_label_queries(h);
    /* Appending after reopen reuses symbols and series. */
    fx_head_stats_t a, b;
    fx_head_stats(h, &a);
    append_ok(h, "t1", fx[0].name, "svc-0", "prod", &fx[0].p, T0 + 60 * SEC, 99);
    fx_head_stats(h, &b);
    assert_int_equal(a.series, b.series);
    assert_int_equal(a.stack_nodes, b.stack_nodes);
    assert_true(merge_total(h, "t1", "{service_name=\"svc-0\"}",
                            "process_cpu:cpu:nanoseconds:cpu:nanoseconds", 0, 0) ==
                2 * pprof_sum(&fx[0].p, 1));
    fx_head_close(h);
    h = open_head();
    assert_true(merge_total(h, "t1", "{service_name=\"svc-0\"}",
                            "process_cpu:cpu:nanoseconds:cpu:nanoseconds", 0, 0) ==
                2 * pprof_sum(&fx[0].p, 1));
    fx_head_close(h);
}

static void test_time_range_and_series(void **state)
{
    (void)state;
    load_fixtures();
    fx_head_t *h = open_head();
    const fx_pprof_t *p = &fx[0].p;
    const char *cpu = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
    int64_t one = pprof_sum(p, 1);
    /* svc a: profiles at 0, 10, 20, 30 s; svc b at 5 and 15 s. */
    for (int i = 0; i < 4; i++)
        append_ok(h, "t", "process_cpu", "a", "prod", p, T0 + i * 10 * SEC, (uint64_t)i);
    for (int i = 0; i < 2; i++)
        append_ok(h, "t", "process_cpu", "b", "dev", p, T0 + 5 * SEC + i * 10 * SEC,
                  (uint64_t)(10 + i));
    int64_t t0 = T0 / 1000000;
    assert_true(merge_total(h, "t", "{}", cpu, 0, 0) == 6 * one);
    assert_true(merge_total(h, "t", "{service_name=\"a\"}", cpu, t0 + 5000, t0 + 25000) == 2 * one);
    assert_true(merge_total(h, "t", "{}", cpu, t0 + 10000, t0 + 10000) == one); /* inclusive */
    assert_true(merge_total(h, "t", "{}", cpu, t0 + 31000, t0 + 90000) == 0);

    fx_arena_t a;
    fx_err_t err = {0};
    fx_head_ts_list_t ts;
    fx_arena_init(&a);
    fx_head_query_t q = {"t", NULL, 0, cpu, t0, t0 + 40000, NULL, NULL, 0, 0};
    assert_int_equal(fx_head_select_series(h, &q, NULL, 0, 10000, FX_AGG_SUM, &a, &ts, &err), FX_OK);
    assert_int_equal(ts.len, 2); /* sorted by labels: __service_name__ a, then b */
    assert_string_equal(fx_labels_get(&ts.v[1].labels, "service_name"), "b");
    /* b at 5 s and 15 s: the points at 10 s and 20 s (first step >= time). */
    assert_int_equal(ts.v[1].npoints, 2);
    assert_true(ts.v[1].points[0].ts_ms == t0 + 10000);
    assert_true(ts.v[1].points[1].ts_ms == t0 + 20000);
    assert_true(ts.v[1].points[0].value == (double)one);
    /* a at 0, 10, 20, 30 s: exactly on the steps. */
    assert_int_equal(ts.v[0].npoints, 4);
    assert_true(ts.v[0].points[3].ts_ms == t0 + 30000);
    assert_true(ts.v[0].total == 4.0 * (double)one);

    /* group by env... and a 20 s step: buckets 0, 20, 40 */
    const char *by[] = {"env"};
    q.selectors = NULL;
    assert_int_equal(fx_head_select_series(h, &q, by, 1, 20000, FX_AGG_SUM, &a, &ts, &err), FX_OK);
    assert_int_equal(ts.len, 2);
    assert_int_equal(ts.v[1].labels.len, 1);
    assert_string_equal(ts.v[1].labels.v[0].value, "prod");
    assert_int_equal(ts.v[1].npoints, 3); /* 0 -> t0, 10,20 -> t0+20, 30 -> t0+40 */
    assert_true(ts.v[1].points[1].value == 2.0 * (double)one);
    assert_int_equal(fx_head_select_series(h, &q, by, 1, 20000, FX_AGG_AVERAGE, &a, &ts, &err),
                     FX_OK);
    assert_true(ts.v[1].points[1].value == (double)one);
    /* group by nothing in common: one series of everything */
    const char *by2[] = {"__name__"};
    assert_int_equal(fx_head_select_series(h, &q, by2, 1, 40000, FX_AGG_SUM, &a, &ts, &err), FX_OK);
    assert_int_equal(ts.len, 1);
    assert_true(ts.v[0].total == 6.0 * (double)one);
    /* top-N by total */
    assert_int_equal(fx_head_select_series(h, &q, NULL, 0, 10000, FX_AGG_SUM, &a, &ts, &err), FX_OK);
    fx_head_ts_top(&ts, 1);
    assert_int_equal(ts.len, 1);
    assert_string_equal(fx_labels_get(&ts.v[0].labels, "service_name"), "a");
    assert_int_equal(fx_head_select_series(h, &q, NULL, 0, 0, FX_AGG_SUM, &a, &ts, &err), FX_EINVAL);

    /* Profile keys and merges restricted to a subset of them. */
    fx_head_keys_t keys;
    assert_int_equal(fx_head_profile_keys(h, &q, &a, &keys, &err), FX_OK);
    assert_int_equal(keys.len, 6);
    for (size_t i = 1; i < keys.len; i++)
        assert_true(keys.v[i - 1].time_ns <= keys.v[i].time_ns);
    fx_head_keyset_t ks;
    fx_head_keyset_init(&ks);
    for (size_t i = 0; i < keys.len; i += 2)
        fx_head_keyset_add(&ks, &keys.v[i]);
    fx_head_keyset_add(&ks, &keys.v[0]); /* duplicates are ignored */
    assert_int_equal(ks.len, 3);
    fx_tree_t tree;
    fx_tree_init(&tree);
    q.only = &ks;
    assert_int_equal(fx_head_merge_tree(h, &q, FX_GROUP_FUNCTION, &tree, &err), FX_OK);
    assert_true(fx_tree_total(&tree) == 3 * one);
    fx_tree_free(&tree);
    fx_head_keyset_free(&ks);
    fx_arena_free(&a);
    fx_head_close(h);
}

/* Other groupings keep totals; inlined frames are expanded. */
static void test_groupings(void **state)
{
    (void)state;
    load_fixtures();
    fx_head_t *h = open_head();
    append_ok(h, "t", "process_cpu", "a", "prod", &fx[0].p, T0, 1);
    fx_head_query_t q = {"t", NULL, 0, "process_cpu:cpu:nanoseconds:cpu:nanoseconds", 0, 0, NULL, NULL, 0, 0};
    fx_err_t err = {0};
    size_t max_depth = 0, lines = 0;
    for (size_t i = 0; i < fx[0].p.nlocations; i++)
        lines += fx[0].p.locations[i].nlines;
    for (int g = FX_GROUP_FUNCTION; g <= FX_GROUP_PACKAGE; g++) {
        fx_tree_t tree;
        fx_tree_init(&tree);
        assert_int_equal(fx_head_merge_tree(h, &q, (fx_head_grouping_t)g, &tree, &err), FX_OK);
        assert_true(fx_tree_total(&tree) == pprof_sum(&fx[0].p, 1));
        if (g == FX_GROUP_FUNCTION) {
            /* depth of the deepest frame = lines of the deepest stack */
            for (size_t i = 0; i < tree.len; i++) {
                size_t d = 0;
                for (uint32_t n = (uint32_t)i; n != FX_TREE_ROOT; n = tree.nodes[n].parent)
                    d++;
                max_depth = FX_MAX(max_depth, d);
            }
            size_t want = 0;
            for (size_t i = 0; i < fx[0].p.nsamples; i++) {
                size_t d = 0;
                for (uint32_t j = 0; j < fx[0].p.samples[i].nlocs; j++)
                    d += fx_pprof_location(&fx[0].p, fx[0].p.samples[i].locs[j])->nlines;
                want = FX_MAX(want, d);
            }
            assert_int_equal(max_depth, want);
            assert_true(fx_tree_find_child(&tree, FX_TREE_ROOT,
                                           fx_tree_name(&tree, "runtime.main", 12)) !=
                        FX_TREE_NONE);
        }
        if (g == FX_GROUP_PACKAGE)
            assert_true(fx_tree_find_child(&tree, FX_TREE_ROOT, fx_tree_name(&tree, "runtime", 7)) !=
                        FX_TREE_NONE);
        fx_tree_free(&tree);
    }
    fx_head_close(h);
}

static void test_series_limit(void **state)
{
    (void)state;
    load_fixtures();
    fx_head_t *h = open_head();
    lbls_t b;
    uint8_t id[16] = {1};
    fx_err_t err = {0};
    fx_head_limits_t lim = {3};
    mk_labels(&b, "process_cpu", "a", "prod");
    assert_int_equal(fx_head_append(h, "t", &b.l, &fx[0].p, id, T0, &lim, &err), FX_OK);
    mk_labels(&b, "process_cpu", "b", "prod");
    assert_int_equal(fx_head_append(h, "t", &b.l, &fx[0].p, id, T0, &lim, &err), FX_ELIMIT);
    assert_non_null(strstr(err.msg, "max_global_series_per_tenant"));
    mk_labels(&b, "process_cpu", "a", "prod");
    assert_int_equal(fx_head_append(h, "t", &b.l, &fx[0].p, id, T0 + SEC, &lim, &err), FX_OK);
    /* other tenants have their own budget */
    mk_labels(&b, "process_cpu", "b", "prod");
    assert_int_equal(fx_head_append(h, "u", &b.l, &fx[0].p, id, T0, &lim, &err), FX_OK);
    fx_head_stats_t st;
    fx_head_stats(h, &st);
    assert_int_equal(st.series, 4);
    assert_true(merge_total(h, "t", "{}", "process_cpu:cpu:nanoseconds:cpu:nanoseconds", 0, 0) ==
                2 * pprof_sum(&fx[0].p, 1));
    fx_head_close(h);
}

/* A profile whose ids dangle is refused whole, and the head stays sound. */
static void test_bad_input(void **state)
{
    (void)state;
    load_fixtures();
    fx_head_t *h = open_head();
    fx_err_t err = {0};
    uint8_t id[16] = {0};
    lbls_t b;
    mk_labels(&b, "process_cpu", "a", "prod");
    fx_pprof_t p = fx[0].p;
    fx_pprof_sample_t *smp = malloc(p.nsamples * sizeof *smp);
    memcpy(smp, p.samples, p.nsamples * sizeof *smp);
    uint64_t bogus[2] = {1, 999999};
    smp[p.nsamples - 1].locs = bogus;
    smp[p.nsamples - 1].nlocs = 2;
    p.samples = smp;
    assert_int_equal(fx_head_append(h, "t", &b.l, &p, id, T0, NULL, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "999999"));
    int64_t vals[1] = {5};
    smp[p.nsamples - 1] = fx[0].p.samples[0];
    smp[p.nsamples - 1].values = vals;
    smp[p.nsamples - 1].nvalues = 1;
    assert_int_equal(fx_head_append(h, "t", &b.l, &p, id, T0, NULL, &err), FX_EINVAL);
    fx_pprof_t none = fx[0].p;
    none.nsample_types = 0;
    assert_int_equal(fx_head_append(h, "t", &b.l, &none, id, T0, NULL, &err), FX_EINVAL);
    fx_label_t nl[1] = {{"service_name", "x"}};
    fx_labels_t nolabels = {nl, 1};
    assert_int_equal(fx_head_append(h, "t", &nolabels, &fx[0].p, id, T0, NULL, &err), FX_EINVAL);
    free(smp);
    fx_head_stats_t st;
    fx_head_stats(h, &st);
    assert_int_equal(st.series, 0);
    assert_true(st.stack_nodes <= 1); /* nothing but a root, if the tenant exists at all */
    append_ok(h, "t", "process_cpu", "a", "prod", &fx[0].p, T0, 1);
    fx_head_close(h);
    h = open_head();
    assert_true(merge_total(h, "t", "{}", "process_cpu:cpu:nanoseconds:cpu:nanoseconds", 0, 0) ==
                pprof_sum(&fx[0].p, 1));
    fx_head_close(h);
}

/* --- crash safety ------------------------------------------------------------------------ */

/* The child appends until killed, reporting each acknowledged append's
 * number through the pipe only after fx_head_append returned FX_OK. */
static void child_writer(int fd)
{
    fx_head_t *h = NULL;
    fx_err_t err = {0};
    if (fx_head_open(dir, NULL, &h, &err))
        _exit(2);
    for (uint32_t i = 0;; i++) {
        const fixture_t *f = &fx[i % NFX];
        lbls_t b;
        uint8_t id[16];
        char svc[16];
        snprintf(svc, sizeof svc, "c%u", i % 7);
        mk_labels(&b, f->name, svc, "prod");
        id_of(id, i);
        if (fx_head_append(h, "crash", &b.l, &f->p, id, T0 + (int64_t)i * SEC, NULL, &err))
            _exit(3);
        if (write(fd, &i, sizeof i) != sizeof i)
            _exit(4);
    }
}

static void test_crash_safety(void **state)
{
    (void)state;
    load_fixtures();
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child_writer(fds[1]);
    }
    close(fds[1]);
    uint32_t n, last = 0, acked = 0;
    uint8_t *seen = calloc(1 << 20, 1);
    while (acked < 60 && read(fds[0], &n, sizeof n) == sizeof n) {
        seen[n] = 1;
        last = n;
        acked++;
    }
    kill(pid, SIGKILL);
    /* Acks written before the kill are still in the pipe. */
    while (read(fds[0], &n, sizeof n) == sizeof n) {
        seen[n] = 1;
        last = FX_MAX(last, n);
        acked++;
    }
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status));
    assert_true(acked >= 60);

    fx_head_t *h = open_head();
    fx_arena_t a;
    fx_err_t err = {0};
    fx_head_keys_t keys;
    fx_arena_init(&a);
    fx_head_query_t q = {"crash", NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0};
    assert_int_equal(fx_head_profile_keys(h, &q, &a, &keys, &err), FX_OK);
    uint8_t *found = calloc(1 << 20, 1);
    for (size_t i = 0; i < keys.len; i++) {
        uint32_t k;
        memcpy(&k, keys.v[i].id, 4);
        assert_true(keys.v[i].time_ns == T0 + (int64_t)k * SEC);
        found[k] = 1;
    }
    for (uint32_t i = 0; i <= last; i++)
        if (seen[i] && !found[i])
            fail_msg("acknowledged append %u lost after kill -9", i);
    /* Everything that is there decodes: merge all types of every series. */
    fx_head_strings_t types;
    assert_int_equal(fx_head_profile_types(h, &q, &a, &types, &err), FX_OK);
    assert_true(types.len > 0);
    for (size_t i = 0; i < types.len; i++) {
        fx_tree_t tree;
        fx_tree_init(&tree);
        q.profile_type = types.v[i];
        assert_int_equal(fx_head_merge_tree(h, &q, FX_GROUP_FUNCTION, &tree, &err), FX_OK);
        fx_tree_free(&tree);
    }
    /* The reopened head takes appends again. */
    append_ok(h, "crash", "process_cpu", "c0", "prod", &fx[0].p, T0 - SEC, 1 << 30);
    free(seen);
    free(found);
    fx_arena_free(&a);
    fx_head_close(h);
}

/* --- concurrency ------------------------------------------------------------------------------ */

#define NWRITERS 3
#define PER_WRITER 40
static fx_head_t *shared_head;
static _Atomic int writers_done;

static void *writer(void *arg)
{
    intptr_t w = (intptr_t)arg;
    for (int i = 0; i < PER_WRITER; i++) {
        const fixture_t *f = &fx[(size_t)(w + i) % NFX];
        lbls_t b;
        uint8_t id[16];
        fx_err_t err = {0};
        char svc[16];
        snprintf(svc, sizeof svc, "w%d", i % 4); /* writers share series */
        mk_labels(&b, f->name, svc, "prod");
        id_of(id, (uint64_t)w << 32 | (uint64_t)i);
        int rc = fx_head_append(shared_head, "conc", &b.l, &f->p, id, T0 + i * SEC, NULL, &err);
        if (rc)
            fail_msg("append: %s", err.msg);
    }
    atomic_fetch_add(&writers_done, 1);
    return NULL;
}

static void *reader(void *arg)
{
    (void)arg;
    int rounds = 0;
    while (atomic_load(&writers_done) < NWRITERS || rounds < 3) {
        fx_arena_t a;
        fx_err_t err = {0};
        fx_head_strings_t s;
        fx_tree_t tree;
        fx_head_ts_list_t ts;
        fx_buf_t out = FX_BUF_INIT;
        fx_arena_init(&a);
        fx_head_query_t q = {"conc", NULL, 0, "process_cpu:cpu:nanoseconds:cpu:nanoseconds", 0, 0,
                             NULL, NULL, 0, 0};
        assert_int_equal(fx_head_label_values(shared_head, &q, "service_name", &a, &s, &err), FX_OK);
        fx_tree_init(&tree);
        assert_int_equal(fx_head_merge_tree(shared_head, &q, FX_GROUP_FUNCTION, &tree, &err), FX_OK);
        fx_tree_free(&tree);
        assert_int_equal(fx_head_merge_pprof(shared_head, &q, &out, &err), FX_OK);
        q.start_ms = T0 / 1000000;
        q.end_ms = q.start_ms + 100000;
        assert_int_equal(fx_head_select_series(shared_head, &q, NULL, 0, 1000, FX_AGG_SUM, &a, &ts,
                                               &err), FX_OK);
        fx_buf_free(&out);
        fx_arena_free(&a);
        rounds++;
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    load_fixtures();
    shared_head = open_head();
    pthread_t th[NWRITERS + 1];
    writers_done = 0;
    for (intptr_t w = 0; w < NWRITERS; w++)
        pthread_create(&th[w], NULL, writer, (void *)w);
    pthread_create(&th[NWRITERS], NULL, reader, NULL);
    for (int i = 0; i <= NWRITERS; i++)
        pthread_join(th[i], NULL);
    /* Every append is there: compare each type's total with the sums. */
    int64_t want_cpu = 0;
    for (intptr_t w = 0; w < NWRITERS; w++)
        for (int i = 0; i < PER_WRITER; i++)
            if ((size_t)(w + i) % NFX == 0)
                want_cpu += pprof_sum(&fx[0].p, 1);
    assert_true(merge_total(shared_head, "conc", "{}", "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
                            0, 0) == want_cpu);
    fx_head_stats_t st;
    fx_head_stats(shared_head, &st);
    assert_int_equal(st.profiles, NWRITERS * PER_WRITER);
    fx_head_close(shared_head);
    shared_head = open_head();
    assert_true(merge_total(shared_head, "conc", "{}", "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
                            0, 0) == want_cpu);
    fx_head_close(shared_head);
}

/* --- rows -------------------------------------------------------------------------------------- */

static void sum_visit(void *ctx, uint32_t stack, int64_t value)
{
    ((int64_t *)ctx)[stack] += value;
}

static void test_row_encoding(void **state)
{
    (void)state;
    uint32_t stacks[] = {1, 5, 6, 300, 70000};
    int64_t values[] = {10, 30000000, 20, 60000000, 0, 0, -7, 90000000, 1, 10000000};
    fx_buf_t b = FX_BUF_INIT;
    fx_row_t row;
    fx_err_t err = {0};
    fx_row_encode(stacks, values, 5, 2, 10000000, &b);
    assert_int_equal(fx_row_parse(b.data, b.len, &row, &err), FX_OK);
    assert_int_equal(row.ncols, 2);
    assert_int_equal(row.nstacks, 5);
    assert_true(row.period == 10000000);
    assert_true(row.cols[0].total == 24 && row.cols[0].is_signed);
    assert_true(row.cols[1].total == 190000000 && row.cols[1].gcd == 10000000);
    /* 5 stacks, GCD-divided CPU values: a byte each */
    assert_true(row.cols[1].end - row.cols[1].p == 5);
    int64_t *acc = calloc(70001, sizeof *acc);
    uint8_t *touched = calloc(70001, 1);
    assert_int_equal(fx_row_accumulate(&row, 1, 70001, acc, touched, &err), FX_OK);
    assert_true(acc[300] == 90000000 && acc[70000] == 10000000 && touched[6] && !touched[7]);
    assert_int_equal(fx_row_accumulate(&row, 1, 70000, acc, touched, &err), FX_ECORRUPT);
    memset(acc, 0, 70001 * sizeof *acc);
    assert_int_equal(fx_row_visit(&row, 0, 70001, sum_visit, acc, &err), FX_OK);
    assert_true(acc[300] == -7 && acc[1] == 10);
    assert_int_equal(fx_row_visit(&row, 2, 70001, sum_visit, acc, &err), FX_ECORRUPT);
    /* every truncation is rejected */
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(fx_row_parse(b.data, n, &row, &err), FX_ECORRUPT);
    free(acc);
    free(touched);
    fx_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_row_encoding),
        /* First: fork before any RocksDB background thread exists here. */
        cmocka_unit_test_setup_teardown(test_crash_safety, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_and_merge_totals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_label_queries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_same_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_range_and_series, setup, teardown),
        cmocka_unit_test_setup_teardown(test_groupings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_series_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
    };
    int rc = cmocka_run_group_tests_name("head", tests, NULL, NULL);
    free_fixtures();
    return rc;
}
