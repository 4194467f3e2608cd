/*
 * test_block.c - blocks against the head they were cut from: every query
 * (label names/values, profile types, series, stats, profile keys, keyset
 * restriction, SelectSeries, merge to tree under each grouping, merge to
 * pprof) answers byte for byte as the head did; reopening; the io_uring and
 * pread read paths (both run, and FX_BLOCK_IO=pread honoured); byte-range
 * sources; bounded caches; one flipped byte anywhere in any section is
 * reported as FX_ECORRUPT naming the section while other blocks stay
 * readable; compaction of replicas and overlapping blocks keeps totals
 * exact and drops duplicates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/block.h"
#include "block/set.h"
#include "core/gz.h"
#include "pprof/pprof.h"
#include "storage/head.h"
#include "pprof_fixture.h"

#define FIXTURES "../shared/fixtures/"
#define T0 1795000000000000000LL
#define SEC 1000000000LL
#define T0MS (T0 / 1000000)

typedef struct fixture {
    const char *path, *name;
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
static fx_block_io_t io_mode = FX_BLOCK_IO_URING;

static int setup(void **state)
{
    (void)state;
    io_mode = FX_BLOCK_IO_URING;
    strcpy(dir, "/tmp/fx-block-XXXXXX");
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

static fx_head_t *open_head(const char *sub)
{
    char path[128];
    fx_head_t *h = NULL;
    fx_err_t err = {0};
    fx_head_options_t o;
    fx_head_options_default(&o);
    o.sync = 0;
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    if (fx_head_open(path, &o, &h, &err))
        fail_msg("open head: %s", err.msg);
    return h;
}

static void append(fx_head_t *h, const char *tenant, size_t f, const char *svc, const char *env,
                   int64_t ts, uint64_t idn)
{
    fx_label_t lv[3] = {{"__name__", fx[f].name}, {"env", env}, {"service_name", svc}};
    fx_labels_t l = {lv, 3};
    uint8_t id[16] = {0};
    fx_err_t err = {0};
    memcpy(id, &idn, 8);
    if (fx_head_append(h, tenant, &l, &fx[f].p, id, ts, NULL, &err))
        fail_msg("append: %s", err.msg);
}

/* Every fixture under its own service, twice (10 s apart), plus another
 * tenant. */
static void fill(fx_head_t *h)
{
    load_fixtures();
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < NFX; i++) {
            char svc[32];
            snprintf(svc, sizeof svc, "svc-%zu", i);
            append(h, "t1", i, svc, i % 2 ? "dev" : "prod", T0 + (int64_t)(k * 10 + i) * SEC,
                   100 * (uint64_t)k + i + 1);
        }
    append(h, "t2", 0, "other", "prod", T0, 7);
}

/* --- one dump of every query's answers, for head and block alike --------------------------- */

typedef struct target {
    fx_head_t *h;
    fx_block_t *b;
} target_t;

static int q_label_names(target_t *t, const fx_head_query_t *q, fx_arena_t *a,
                         fx_head_strings_t *o, fx_err_t *e)
{
    return t->h ? fx_head_label_names(t->h, q, a, o, e) : fx_block_label_names(t->b, q, a, o, e);
}

static int q_label_values(target_t *t, const fx_head_query_t *q, const char *n, fx_arena_t *a,
                          fx_head_strings_t *o, fx_err_t *e)
{
    return t->h ? fx_head_label_values(t->h, q, n, a, o, e)
                : fx_block_label_values(t->b, q, n, a, o, e);
}

static int q_types(target_t *t, const fx_head_query_t *q, fx_arena_t *a, fx_head_strings_t *o,
                   fx_err_t *e)
{
    return t->h ? fx_head_profile_types(t->h, q, a, o, e) : fx_block_profile_types(t->b, q, a, o, e);
}

static int q_series(target_t *t, const fx_head_query_t *q, const char *const *n, size_t nn,
                    fx_arena_t *a, fx_head_label_sets_t *o, fx_err_t *e)
{
    return t->h ? fx_head_series(t->h, q, n, nn, a, o, e) : fx_block_series(t->b, q, n, nn, a, o, e);
}

static int q_keys(target_t *t, const fx_head_query_t *q, fx_arena_t *a, fx_head_keys_t *o,
                  fx_err_t *e)
{
    return t->h ? fx_head_profile_keys(t->h, q, a, o, e) : fx_block_profile_keys(t->b, q, a, o, e);
}

static int q_tree(target_t *t, const fx_head_query_t *q, fx_head_grouping_t g, fx_tree_t *o,
                  fx_err_t *e)
{
    return t->h ? fx_head_merge_tree(t->h, q, g, o, e) : fx_block_merge_tree(t->b, q, g, o, e);
}

static int q_pprof(target_t *t, const fx_head_query_t *q, fx_buf_t *o, fx_err_t *e)
{
    return t->h ? fx_head_merge_pprof(t->h, q, o, e) : fx_block_merge_pprof(t->b, q, o, e);
}

static int q_ts(target_t *t, const fx_head_query_t *q, const char *const *by, size_t nby,
                int64_t step, fx_head_aggregation_t agg, fx_arena_t *a, fx_head_ts_list_t *o,
                fx_err_t *e)
{
    return t->h ? fx_head_select_series(t->h, q, by, nby, step, agg, a, o, e)
                : fx_block_select_series(t->b, q, by, nby, step, agg, a, o, e);
}

static int q_stats(target_t *t, const char *tenant, fx_head_profile_stats_t *o, fx_err_t *e)
{
    return t->h ? fx_head_profile_stats(t->h, tenant, o, e) : fx_block_profile_stats(t->b, tenant, o, e);
}

static void put_strings(fx_buf_t *d, const fx_head_strings_t *s)
{
    for (size_t i = 0; i < s->len; i++)
        fx_buf_printf(d, "%s|", s->v[i]);
    fx_buf_putc(d, '\n');
}

static void put_labels(fx_buf_t *d, const fx_labels_t *l)
{
    fx_labels_format(l, d);
}

/* Tree as sorted lines "path value". */
static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void put_tree(fx_buf_t *d, const fx_tree_t *t)
{
    char **lines = calloc(t->len + 1, sizeof *lines);
    size_t n = 0;
    for (size_t i = 1; i < t->len; i++) {
        fx_buf_t p = FX_BUF_INIT;
        uint32_t path[4096];
        size_t depth = 0;
        for (uint32_t j = (uint32_t)i; j != FX_TREE_ROOT && depth < 4096; j = t->nodes[j].parent)
            path[depth++] = j;
        while (depth--)
            fx_buf_printf(&p, "%s;", fx_tree_name_str(t, t->nodes[path[depth]].name));
        fx_buf_printf(&p, " %lld %lld", (long long)t->nodes[i].self, (long long)t->nodes[i].total);
        lines[n++] = fx_strdup(fx_buf_cstr(&p));
        fx_buf_free(&p);
    }
    qsort(lines, n, sizeof *lines, cmp_line);
    fx_buf_printf(d, "tree %zu nodes total %lld\n", t->len, (long long)fx_tree_total(t));
    for (size_t i = 0; i < n; i++) {
        fx_buf_printf(d, "%s\n", lines[i]);
        free(lines[i]);
    }
    free(lines);
}

/* Runs query q through every kind of query and appends the answers to d.
 * Returns the first error (err set), FX_OK otherwise. */
static int dump_query(target_t *t, const fx_head_query_t *q, fx_buf_t *d, fx_err_t *err)
{
    fx_arena_t a;
    fx_head_strings_t s;
    fx_head_label_sets_t ls;
    fx_head_keys_t keys;
    fx_head_ts_list_t ts;
    int rc;
    fx_arena_init(&a);
#define TRY(x)                                                                             \
    do {                                                                                   \
        if ((rc = (x)))                                                                    \
            goto out;                                                                      \
    } while (0)
    TRY(q_label_names(t, q, &a, &s, err));
    put_strings(d, &s);
    static const char *const lnames[] = {"service_name", "__name__", "env", "__profile_type__",
                                         "nope"};
    for (size_t i = 0; i < FX_ARRAY_LEN(lnames); i++) {
        TRY(q_label_values(t, q, lnames[i], &a, &s, err));
        put_strings(d, &s);
    }
    TRY(q_types(t, q, &a, &s, err));
    put_strings(d, &s);
    const char *names[] = {"__name__", "env"};
    TRY(q_series(t, q, names, 2, &a, &ls, err));
    for (size_t i = 0; i < ls.len; i++)
        put_labels(d, &ls.v[i]);
    TRY(q_series(t, q, NULL, 0, &a, &ls, err));
    for (size_t i = 0; i < ls.len; i++)
        put_labels(d, &ls.v[i]);
    fx_buf_putc(d, '\n');
    TRY(q_keys(t, q, &a, &keys, err));
    for (size_t i = 0; i < keys.len; i++)
        fx_buf_printf(d, "%016llx %lld %02x%02x\n", (unsigned long long)keys.v[i].fingerprint,
                      (long long)keys.v[i].time_ns, keys.v[i].id[0], keys.v[i].id[1]);
    const char *by[] = {"service_name"};
    for (int g = 0; g < 2; g++)
        for (int agg = 0; agg < 2; agg++) {
            TRY(q_ts(t, q, by, (size_t)g, 4000, (fx_head_aggregation_t)agg, &a, &ts, err));
            fx_head_ts_top(&ts, 3);
            for (size_t i = 0; i < ts.len; i++) {
                put_labels(d, &ts.v[i].labels);
                for (size_t k = 0; k < ts.v[i].npoints; k++)
                    fx_buf_printf(d, " %lld=%.17g", (long long)ts.v[i].points[k].ts_ms,
                                  ts.v[i].points[k].value);
                fx_buf_putc(d, '\n');
            }
        }
    for (int g = FX_GROUP_FUNCTION; g <= FX_GROUP_PACKAGE; g++) {
        fx_tree_t tree;
        fx_tree_init(&tree);
        rc = q_tree(t, q, (fx_head_grouping_t)g, &tree, err);
        if (rc == FX_OK)
            put_tree(d, &tree);
        fx_tree_free(&tree);
        if (rc)
            goto out;
    }
    fx_buf_t pp = FX_BUF_INIT;
    rc = q_pprof(t, q, &pp, err);
    fx_buf_printf(d, "pprof %zu\n", pp.len);
    fx_buf_append(d, pp.data, pp.len);
    fx_buf_free(&pp);
    /* The same merge restricted to every other key (replica dedup). */
    if (rc == FX_OK && keys.len) {
        fx_head_keyset_t ks;
        fx_head_keyset_init(&ks);
        for (size_t i = 0; i < keys.len; i += 2)
            fx_head_keyset_add(&ks, &keys.v[i]);
        fx_head_query_t q2 = *q;
        q2.only = &ks;
        fx_tree_t tree;
        fx_tree_init(&tree);
        rc = q_tree(t, &q2, FX_GROUP_FUNCTION, &tree, err);
        if (rc == FX_OK) {
            put_tree(d, &tree);
            rc = q_ts(t, &q2, NULL, 0, 1000, FX_AGG_SUM, &a, &ts, err);
            for (size_t i = 0; rc == FX_OK && i < ts.len; i++)
                fx_buf_printf(d, "only %zu %.17g\n", ts.v[i].npoints, ts.v[i].total);
        }
        fx_tree_free(&tree);
        fx_head_keyset_free(&ks);
    }
out:
#undef TRY
    fx_arena_free(&a);
    return rc;
}

/* The queries every comparison runs (time ranges in ms; 0/0 = all). */
static const struct {
    const char *sel, *ptype;
    int64_t start, end;
} queries[] = {
    {"{}", NULL, 0, 0},
    {"{}", "process_cpu:cpu:nanoseconds:cpu:nanoseconds", 0, 0},
    {"{}", "process_cpu:samples:count:cpu:nanoseconds", 0, 0},
    {"{}", "memory:inuse_space:bytes:space:bytes", 0, 0},
    {"{}", "memory:alloc_objects:count:space:bytes", 0, 0},
    {"{}", "wall:wall:nanoseconds:wall:nanoseconds", 0, 0},
    {"{service_name=\"svc-1\"}", NULL, 0, 0},
    {"{service_name=~\"svc-[0-3]\", env!=\"dev\"}", NULL, T0MS, T0MS + 12000},
    {"{env=\"dev\"}", "memory:inuse_space:bytes:inuse_space:bytes", 0, 0},
    {"{missing!=\"x\", service_name!~\"svc-2\"}", NULL, T0MS + 3000, T0MS + 14000},
    {"{}", NULL, T0MS + 10000, T0MS + 10000},
    {"{}", NULL, T0MS + 100000, T0MS + 200000},
};

static int dump_all(target_t *t, const char *tenant, fx_buf_t *d, fx_err_t *err)
{
    int rc = FX_OK;
    for (size_t i = 0; i < FX_ARRAY_LEN(queries) && rc == FX_OK; i++) {
        fx_selector_t sel;
        assert_int_equal(fx_selector_parse(queries[i].sel, &sel, err), FX_OK);
        fx_head_query_t q = {tenant, &sel, 1, queries[i].ptype, queries[i].start, queries[i].end,
                             NULL, NULL, 0, 0};
        fx_buf_printf(d, "== query %zu\n", i);
        rc = dump_query(t, &q, d, err);
        fx_selector_free(&sel);
    }
    if (rc == FX_OK) {
        fx_head_profile_stats_t st;
        rc = q_stats(t, tenant, &st, err);
        fx_buf_printf(d, "stats %d %lld %lld\n", st.data_ingested, (long long)st.oldest_ms,
                      (long long)st.newest_ms);
    }
    return rc;
}

static void dump_ok(target_t *t, const char *tenant, fx_buf_t *d)
{
    fx_err_t err = {0};
    int rc = dump_all(t, tenant, d, &err);
    if (rc)
        fail_msg("query: %s", err.msg);
}

static void assert_same(const fx_buf_t *a, const fx_buf_t *b)
{
    if (a->len == b->len && memcmp(a->data, b->data, a->len) == 0)
        return;
    size_t i = 0;
    while (i < a->len && i < b->len && a->data[i] == b->data[i])
        i++;
    size_t from = i > 200 ? i - 200 : 0;
    fail_msg("answers differ at byte %zu of %zu/%zu:\n--- head\n%.*s\n--- block\n%.*s", i, a->len,
             b->len, (int)FX_MIN(a->len - from, 400), a->data + from,
             (int)FX_MIN(b->len - from, 400), b->data + from);
}

static char *block_path(const fx_block_meta_t *m)
{
    char *p = NULL;
    assert_true(asprintf(&p, "%s/blocks/%s", dir, m->id) > 0);
    return p;
}

static fx_block_t *open_block(const fx_block_meta_t *m, fx_block_cache_t *cache)
{
    fx_block_options_t o = {io_mode, cache, 0, 0};
    fx_block_t *b = NULL;
    fx_err_t err = {0};
    char *p = block_path(m);
    if (fx_block_open_dir(p, &o, &b, &err))
        fail_msg("open block: %s", err.msg);
    free(p);
    assert_int_equal(fx_block_uses_uring(b), io_mode != FX_BLOCK_IO_PREAD);
    return b;
}

static void cut(fx_head_t *h, const char *tenant, int64_t lo, int64_t hi, fx_block_meta_t *m)
{
    fx_err_t err = {0};
    char parent[128];
    fx_block_write_options_t o;
    fx_block_write_options_default(&o);
    o.fsync = 0;
    o.chunk_bytes = 4096; /* several chunks per series */
    snprintf(parent, sizeof parent, "%s/blocks", dir);
    if (fx_block_write_head(h, tenant, lo, hi, parent, &o, m, &err))
        fail_msg("cut: %s", err.msg);
}

/* --- tests ------------------------------------------------------------------------------------- */

static void check_equal_after_cut(void)
{
    fx_head_t *h = open_head("head");
    fx_block_meta_t m;
    fill(h);
    cut(h, "t1", INT64_MIN, INT64_MAX, &m);
    assert_int_equal(m.level, 1);
    assert_int_equal(m.nsources, 1);
    assert_string_equal(m.sources[0], m.id);
    assert_int_equal(m.profiles, 2 * NFX);
    assert_int_equal(m.series, 16);
    assert_true(m.min_time_ms == T0MS && m.max_time_ms == T0MS + 15000);

    target_t th = {h, NULL};
    fx_buf_t want = FX_BUF_INIT, got = FX_BUF_INIT;
    dump_ok(&th, "t1", &want);
    assert_true(want.len > 10000);

    fx_block_t *b = open_block(&m, NULL);
    target_t tb = {NULL, b};
    dump_ok(&tb, "t1", &got);
    assert_same(&want, &got);
    fx_block_io_stats_t ios;
    fx_block_io_stats(b, &ios);
    if (io_mode == FX_BLOCK_IO_PREAD)
        assert_true(ios.pread_reads > 0 && ios.uring_reads == 0);
    else
        assert_true(ios.uring_reads > 0 && ios.pread_reads == 0);
    /* Another tenant's query finds nothing in this block. */
    fx_buf_t other = FX_BUF_INIT, none = FX_BUF_INIT;
    dump_ok(&tb, "t2", &other);
    dump_ok(&th, "nobody", &none);
    assert_same(&none, &other);
    fx_block_close(b);

    /* Reopen: the same answers. */
    got.len = 0;
    b = open_block(&m, NULL);
    tb.b = b;
    dump_ok(&tb, "t1", &got);
    assert_same(&want, &got);
    assert_int_equal(strcmp(fx_block_meta(b)->tenant, "t1"), 0);
    fx_err_t err = {0};
    assert_int_equal(fx_block_verify(b, &err), FX_OK);
    fx_block_close(b);

    fx_buf_free(&want);
    fx_buf_free(&got);
    fx_buf_free(&other);
    fx_buf_free(&none);
    fx_block_meta_free(&m);
    fx_head_close(h);
}

static void test_cut_same_answers_uring(void **state)
{
    (void)state;
    io_mode = FX_BLOCK_IO_URING;
    check_equal_after_cut();
}

static void test_cut_same_answers_pread(void **state)
{
    (void)state;
    io_mode = FX_BLOCK_IO_PREAD;
    check_equal_after_cut();
    io_mode = FX_BLOCK_IO_URING;
}

/* FX_BLOCK_IO=pread forces pread for blocks opened with FX_BLOCK_IO_AUTO. */
static void test_io_env(void **state)
{
    (void)state;
    fx_head_t *h = open_head("head");
    fx_block_meta_t m;
    fill(h);
    cut(h, "t1", INT64_MIN, INT64_MAX, &m);
    fx_head_close(h);
    setenv("FX_BLOCK_IO", "pread", 1);
    io_mode = FX_BLOCK_IO_AUTO;
    fx_block_options_t o = {FX_BLOCK_IO_AUTO, NULL, 1, 0};
    fx_block_t *b = NULL;
    fx_err_t err = {0};
    char *p = block_path(&m);
    assert_int_equal(fx_block_open_dir(p, &o, &b, &err), FX_OK);
    assert_false(fx_block_uses_uring(b));
    fx_block_close(b);
    unsetenv("FX_BLOCK_IO");
    assert_int_equal(fx_block_open_dir(p, &o, &b, &err), FX_OK);
    assert_true(fx_block_uses_uring(b));
    fx_block_close(b);
    io_mode = FX_BLOCK_IO_URING;
    free(p);
    fx_block_meta_free(&m);
}

/* A block cut from part of the head answers as the head does for that
 * range. */
static void test_partial_range(void **state)
{
    (void)state;
    fx_head_t *h = open_head("head");
    fx_block_meta_t m;
    fill(h);
    cut(h, "t1", T0 + 2 * SEC, T0 + 12 * SEC, &m); /* fixtures 2..5 at k=0, 0..2 at k=1 */
    assert_int_equal(m.profiles, 7);
    fx_block_t *b = open_block(&m, NULL);
    target_t th = {h, NULL}, tb = {NULL, b};
    fx_selector_t sel;
    fx_err_t err = {0};
    assert_int_equal(fx_selector_parse("{}", &sel, &err), FX_OK);
    fx_head_query_t q = {"t1", &sel, 1, NULL, T0MS + 2000, T0MS + 12000, NULL, NULL, 0, 0};
    fx_buf_t want = FX_BUF_INIT, got = FX_BUF_INIT;
    assert_int_equal(dump_query(&th, &q, &want, &err), FX_OK);
    assert_int_equal(dump_query(&tb, &q, &got, &err), FX_OK);
    assert_same(&want, &got);
    /* Nothing outside the cut. */
    fx_tree_t tree;
    fx_tree_init(&tree);
    q.start_ms = T0MS;
    q.end_ms = T0MS + 1999;
    assert_int_equal(fx_block_merge_tree(b, &q, FX_GROUP_FUNCTION, &tree, &err), FX_OK);
    assert_true(fx_tree_total(&tree) == 0);
    fx_tree_free(&tree);
    fx_selector_free(&sel);
    fx_buf_free(&want);
    fx_buf_free(&got);
    fx_block_close(b);
    fx_block_meta_free(&m);
    /* An empty range writes nothing. */
    char parent[128];
    snprintf(parent, sizeof parent, "%s/blocks", dir);
    assert_int_equal(fx_block_write_head(h, "t1", T0 + 100 * SEC, T0 + 200 * SEC, parent, NULL,
                                         NULL, &err), FX_ENOTFOUND);
    assert_int_equal(fx_block_write_head(h, "nobody", INT64_MIN, INT64_MAX, parent, NULL, NULL,
                                         &err), FX_ENOTFOUND);
    DIR *d = opendir(parent);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.' || strncmp(e->d_name, ".tmp", 4) == 0;
    closedir(d);
    assert_int_equal(n, 1); /* the first block only, no temporary directories left */
    fx_head_close(h);
}

/* --- byte-range source -------------------------------------------------------------------- */

typedef struct memsrc {
    fx_buf_t files[FX_BLOCK_NFILES];
    int reads;
} memsrc_t;

static int mem_read(void *ctx, fx_block_range_t *r, size_t n, fx_err_t *err)
{
    memsrc_t *m = ctx;
    for (size_t i = 0; i < n; i++) {
        const fx_buf_t *f = &m->files[r[i].file];
        if (r[i].off > f->len || r[i].len > f->len - r[i].off)
            return fx_err_set(err, FX_EIO, "read past the end of %s",
                              fx_block_file_name(r[i].file));
        memcpy(r[i].buf, f->data + r[i].off, r[i].len);
        m->reads++;
    }
    return FX_OK;
}

static int mem_size(void *ctx, fx_block_file_t f, uint64_t *size, fx_err_t *err)
{
    (void)err;
    *size = ((memsrc_t *)ctx)->files[f].len;
    return FX_OK;
}

/* The whole file at path into out (replacing what it held). */
static void read_file(const char *path, fx_buf_t *out)
{
    out->len = 0;
    assert_int_equal(fx_read_file(path, out), 0);
}

static void test_range_source(void **state)
{
    (void)state;
    fx_head_t *h = open_head("head");
    fx_block_meta_t m;
    fill(h);
    cut(h, "t1", INT64_MIN, INT64_MAX, &m);
    memsrc_t ms;
    memset(&ms, 0, sizeof ms);
    char *bp = block_path(&m);
    for (int f = 0; f < FX_BLOCK_NFILES; f++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", bp, fx_block_file_name((fx_block_file_t)f));
        read_file(path, &ms.files[f]);
    }
    free(bp);
    fx_block_source_t src = {mem_read, mem_size, NULL, &ms};
    fx_block_t *b = NULL;
    fx_err_t err = {0};
    assert_int_equal(fx_block_open_source(&src, NULL, &b, &err), FX_OK);
    target_t th = {h, NULL}, tb = {NULL, b};
    fx_buf_t want = FX_BUF_INIT, got = FX_BUF_INIT;
    dump_ok(&th, "t1", &want);
    dump_ok(&tb, "t1", &got);
    assert_same(&want, &got);
    assert_true(ms.reads > 2);
    fx_block_close(b);
    for (int f = 0; f < FX_BLOCK_NFILES; f++)
        fx_buf_free(&ms.files[f]);
    fx_buf_free(&want);
    fx_buf_free(&got);
    fx_block_meta_free(&m);
    fx_head_close(h);
}

/* --- caches ------------------------------------------------------------------------------------ */

static void test_cache_bounds(void **state)
{
    (void)state;
    fx_head_t *h = open_head("head");
    fx_block_meta_t m;
    fill(h);
    cut(h, "t1", INT64_MIN, INT64_MAX, &m);
    target_t th = {h, NULL};
    fx_buf_t want = FX_BUF_INIT, got = FX_BUF_INIT;
    dump_ok(&th, "t1", &want);

    /* A cache too small for anything: queries still answer, nothing stays. */
    fx_block_cache_t *tiny = fx_block_cache_new(1, 1);
    fx_block_t *b = open_block(&m, tiny);
    target_t tb = {NULL, b};
    dump_ok(&tb, "t1", &got);
    assert_same(&want, &got);
    fx_block_cache_stats_t cs;
    fx_block_cache_stats(tiny, &cs);
    assert_true(cs.index_bytes == 0 && cs.symbols_bytes == 0);
    assert_true(cs.evictions > 10 && cs.hits == 0);
    fx_block_close(b);
    fx_block_cache_free(tiny);

    /* A roomy one keeps both sections and hits. */
    fx_block_cache_t *big = fx_block_cache_new(1 << 20, 8 << 20);
    b = open_block(&m, big);
    tb.b = b;
    got.len = 0;
    dump_ok(&tb, "t1", &got);
    assert_same(&want, &got);
    fx_block_cache_stats(big, &cs);
    assert_true(cs.index_bytes > 0 && cs.symbols_bytes > 0 && cs.evictions == 0);
    assert_int_equal(cs.misses, 2);
    assert_true(cs.hits > 10);
    /* Index budget for one block only: opening a second evicts the first. */
    fx_block_close(b);
    fx_block_cache_stats(big, &cs);
    assert_true(cs.index_bytes == 0 && cs.symbols_bytes == 0);
    fx_block_cache_free(big);

    fx_buf_free(&want);
    fx_buf_free(&got);
    fx_block_meta_free(&m);
    fx_head_close(h);
}

/* --- corruption -------------------------------------------------------------------------------- */

static void copy_block(const char *from, const char *to)
{
    mkdir(to, 0755);
    for (int f = 0; f < FX_BLOCK_NFILES; f++) {
        char a[600], b[600];
        fx_buf_t buf = FX_BUF_INIT;
        snprintf(a, sizeof a, "%s/%s", from, fx_block_file_name((fx_block_file_t)f));
        snprintf(b, sizeof b, "%s/%s", to, fx_block_file_name((fx_block_file_t)f));
        read_file(a, &buf);
        FILE *o = fopen(b, "wb");
        assert_non_null(o);
        assert_int_equal(fwrite(buf.data, 1, buf.len, o), buf.len);
        fclose(o);
        fx_buf_free(&buf);
    }
}

static void flip(const char *blk, fx_block_file_t f, size_t pos, uint8_t mask)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", blk, fx_block_file_name(f));
    int fd = open(p, O_RDWR);
    uint8_t c;
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &c, 1, (off_t)pos), 1);
    c ^= mask;
    assert_int_equal(pwrite(fd, &c, 1, (off_t)pos), 1);
    close(fd);
}

static size_t file_size(const char *blk, fx_block_file_t f)
{
    char p[600];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", blk, fx_block_file_name(f));
    assert_int_equal(stat(p, &st), 0);
    return (size_t)st.st_size;
}

/* Opens the damaged block and runs every query, then verify(); the damage
 * must surface as FX_ECORRUPT naming the section. */
static void expect_detected(const char *blk, fx_block_file_t f, size_t pos, int verify_at_open,
                            fx_block_cache_t *cache)
{
    fx_block_options_t o = {io_mode, cache, verify_at_open, 0};
    fx_block_t *b = NULL;
    fx_err_t err = {0};
    int rc = fx_block_open_dir(blk, &o, &b, &err);
    if (rc == FX_OK) {
        target_t tb = {NULL, b};
        fx_buf_t d = FX_BUF_INIT;
        rc = dump_all(&tb, "t1", &d, &err);
        fx_buf_free(&d);
        if (rc == FX_OK)
            rc = fx_block_verify(b, &err);
        fx_block_close(b);
    }
    const char *want = f == FX_BLOCK_META ? "meta.json" : fx_block_file_name(f);
    char sect[32];
    snprintf(sect, sizeof sect, "%.*s", (int)(strchr(want, '.') - want), want);
    if (rc != FX_ECORRUPT || !strstr(err.msg, sect))
        fail_msg("flipped byte %zu of %s (verify at open %d): rc %d, message \"%s\"", pos, want,
                 verify_at_open, rc, err.msg);
}

static void test_corruption(void **state)
{
    (void)state;
    fx_head_t *h = open_head("head");
    fx_block_meta_t m, m2;
    fill(h);
    cut(h, "t1", INT64_MIN, INT64_MAX, &m);
    cut(h, "t2", INT64_MIN, INT64_MAX, &m2);
    fx_head_close(h);
    char *good = block_path(&m), bad[256];
    snprintf(bad, sizeof bad, "%s/bad", dir);
    fx_block_cache_t *cache = fx_block_cache_new(1 << 20, 8 << 20);
    fx_block_t *other = open_block(&m2, cache);
    target_t to = {NULL, other};
    fx_buf_t want = FX_BUF_INIT;
    dump_ok(&to, "t2", &want);

    uint64_t seed = 12345;
    int checked = 0;
    for (int f = 0; f < FX_BLOCK_NFILES; f++) {
        size_t size = file_size(good, (fx_block_file_t)f);
        /* meta.json: every byte; sections: the ends and random bytes. */
        size_t npos = f == FX_BLOCK_META ? size : 24;
        for (size_t k = 0; k < npos; k++) {
            size_t pos;
            if (f == FX_BLOCK_META)
                pos = k;
            else if (k < 10)
                pos = k;
            else if (k < 18)
                pos = size - 1 - (k - 10);
            else {
                seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
                pos = (size_t)(seed >> 33) % size;
            }
            uint8_t mask = (uint8_t)(1u << (k % 8));
            copy_block(good, bad);
            flip(bad, (fx_block_file_t)f, pos, mask);
            expect_detected(bad, (fx_block_file_t)f, pos, (int)(k & 1), cache);
            checked++;
            /* The healthy block sharing the cache still answers. */
            if (k % 8 == 0) {
                fx_buf_t got = FX_BUF_INIT;
                dump_ok(&to, "t2", &got);
                assert_same(&want, &got);
                fx_buf_free(&got);
            }
        }
    }
    assert_true(checked > 100);
    /* A missing section file is a clear error too. */
    copy_block(good, bad);
    char p[700];
    snprintf(p, sizeof p, "%s/symbols.fxb", bad);
    unlink(p);
    fx_block_t *b = NULL;
    fx_err_t err = {0};
    assert_int_equal(fx_block_open_dir(bad, NULL, &b, &err), FX_ENOTFOUND);
    /* A truncated profiles section: sizes disagree with meta.json. */
    copy_block(good, bad);
    snprintf(p, sizeof p, "%s/profiles.fxb", bad);
    assert_int_equal(truncate(p, (off_t)file_size(bad, FX_BLOCK_PROFILES) - 3), 0);
    assert_int_equal(fx_block_open_dir(bad, NULL, &b, &err), FX_ECORRUPT);
    assert_non_null(strstr(err.msg, "profiles"));

    fx_block_close(other);
    fx_block_cache_free(cache);
    fx_buf_free(&want);
    free(good);
    fx_block_meta_free(&m);
    fx_block_meta_free(&m2);
}

/* --- compaction -------------------------------------------------------------------------------- */

static void test_compaction(void **state)
{
    (void)state;
    load_fixtures();
    /* A and B are replicas (the same pushes); C overlaps them in time with
     * other profiles; U is what a single store of A + C holds. */
    fx_head_t *a = open_head("a"), *b = open_head("b"), *c = open_head("c"), *u = open_head("u");
    for (size_t i = 0; i < NFX; i++) {
        char svc[32];
        snprintf(svc, sizeof svc, "svc-%zu", i);
        for (int k = 0; k < 3; k++) {
            int64_t ts = T0 + (int64_t)(k * 10 + i) * SEC;
            append(a, "t1", i, svc, "prod", ts, 10 * i + (uint64_t)k);
            append(b, "t1", i, svc, "prod", ts, 10 * i + (uint64_t)k);
            append(u, "t1", i, svc, "prod", ts, 10 * i + (uint64_t)k);
        }
        /* C: same series and times, different profile ids (not replicas),
         * and a new series. */
        int64_t ts = T0 + (int64_t)(10 + i) * SEC;
        append(c, "t1", i, svc, "prod", ts, 1000 + i);
        append(u, "t1", i, svc, "prod", ts, 1000 + i);
        append(c, "t1", (i + 1) % NFX, "new", "dev", ts + 1, 2000 + i);
        append(u, "t1", (i + 1) % NFX, "new", "dev", ts + 1, 2000 + i);
    }
    fx_block_meta_t ma, mb, mc, mm, mm2;
    cut(a, "t1", INT64_MIN, INT64_MAX, &ma);
    cut(b, "t1", INT64_MIN, INT64_MAX, &mb);
    cut(c, "t1", INT64_MIN, INT64_MAX, &mc);
    fx_block_t *in[3] = {open_block(&ma, NULL), open_block(&mb, NULL), open_block(&mc, NULL)};
    char parent[128];
    snprintf(parent, sizeof parent, "%s/blocks", dir);
    fx_block_write_options_t o;
    fx_block_write_options_default(&o);
    o.fsync = 0;
    o.chunk_bytes = 2048;
    fx_block_compact_stats_t st;
    fx_err_t err = {0};
    if (fx_block_compact(in, 3, parent, &o, &mm, &st, &err))
        fail_msg("compact: %s", err.msg);
    assert_int_equal(st.rows_in, ma.profiles + mb.profiles + mc.profiles);
    assert_int_equal(st.duplicates, mb.profiles);
    assert_int_equal(st.rows_out, ma.profiles + mc.profiles);
    assert_int_equal(mm.profiles, ma.profiles + mc.profiles);
    assert_int_equal(mm.level, 2);
    assert_int_equal(mm.nsources, 3);
    for (size_t i = 1; i < mm.nsources; i++)
        assert_true(strcmp(mm.sources[i - 1], mm.sources[i]) < 0);

    /* The compacted block answers exactly as one store of the unique
     * profiles: totals, series, keys, pprof - nothing double counted. */
    fx_block_t *merged = open_block(&mm, NULL);
    target_t tu = {u, NULL}, tm = {NULL, merged};
    fx_buf_t want = FX_BUF_INIT, got = FX_BUF_INIT;
    dump_ok(&tu, "t1", &want);
    dump_ok(&tm, "t1", &got);
    assert_same(&want, &got);

    /* Again with a level-2 input: level 3, sources the union. */
    fx_block_t *in2[2] = {merged, in[2]};
    if (fx_block_compact(in2, 2, parent, &o, &mm2, &st, &err))
        fail_msg("compact: %s", err.msg);
    assert_int_equal(mm2.level, 3);
    assert_int_equal(mm2.nsources, 3);
    assert_int_equal(st.duplicates, mc.profiles);
    fx_block_t *m2 = open_block(&mm2, NULL);
    tm.b = m2;
    got.len = 0;
    dump_ok(&tm, "t1", &got);
    assert_same(&want, &got);
    assert_int_equal(fx_block_verify(m2, &err), FX_OK);

    /* Blocks of different tenants do not mix. */
    fx_block_meta_t mt2;
    append(a, "t2", 0, "x", "prod", T0, 1);
    cut(a, "t2", INT64_MIN, INT64_MAX, &mt2);
    fx_block_t *bt2 = open_block(&mt2, NULL);
    fx_block_t *mix[2] = {in[0], bt2};
    assert_int_equal(fx_block_compact(mix, 2, parent, &o, NULL, NULL, &err), FX_EINVAL);
    assert_int_equal(fx_block_compact(mix, 0, parent, &o, NULL, NULL, &err), FX_EINVAL);

    fx_block_close(bt2);
    fx_block_close(m2);
    fx_block_close(merged);
    for (int i = 0; i < 3; i++)
        fx_block_close(in[i]);
    fx_block_meta_free(&ma);
    fx_block_meta_free(&mb);
    fx_block_meta_free(&mc);
    fx_block_meta_free(&mm);
    fx_block_meta_free(&mm2);
    fx_block_meta_free(&mt2);
    fx_buf_free(&want);
    fx_buf_free(&got);
    fx_head_close(a);
    fx_head_close(b);
    fx_head_close(c);
    fx_head_close(u);
}

/* --- meta.json and ULIDs ------------------------------------------------------------------------ */

static void test_meta(void **state)
{
    (void)state;
    char id[27], id2[27];
    fx_block_ulid(1700000000000, id);
    fx_block_ulid(1700000000001, id2);
    assert_true(fx_block_ulid_valid(id));
    assert_true(strcmp(id, id2) < 0); /* time-ordered */
    assert_int_equal(strncmp(id, "01HF7YAT00", 10), 0);
    assert_false(fx_block_ulid_valid("01HF4"));
    assert_false(fx_block_ulid_valid("81HF4ZZZZZZZZZZZZZZZZZZZZZ"));
    assert_false(fx_block_ulid_valid("01HF4IZZZZZZZZZZZZZZZZZZZZ")); /* no I in Crockford */

    fx_block_meta_t m, p;
    memset(&m, 0, sizeof m);
    strcpy(m.id, id);
    m.version = 1;
    m.tenant = fx_strdup("tenant \"quoted\"");
    m.min_time_ms = -5;
    m.max_time_ms = 1700000000000;
    m.series = 3;
    m.profiles = 4;
    m.samples = 5;
    m.stack_nodes = 6;
    m.level = 2;
    m.nsources = 2;
    m.sources = fx_malloc(2 * sizeof *m.sources);
    strcpy(m.sources[0], id);
    strcpy(m.sources[1], id2);
    m.files[FX_BLOCK_INDEX].size = 10;
    m.files[FX_BLOCK_INDEX].crc32 = 0xdeadbeef;
    fx_buf_t j = FX_BUF_INIT;
    fx_err_t err = {0};
    fx_block_meta_encode(&m, &j);
    assert_int_equal(fx_block_meta_parse(j.data, j.len, &p, &err), FX_OK);
    assert_string_equal(p.tenant, m.tenant);
    assert_true(p.min_time_ms == -5 && p.max_time_ms == 1700000000000);
    assert_int_equal(p.level, 2);
    assert_int_equal(p.nsources, 2);
    assert_string_equal(p.sources[1], id2);
    assert_int_equal(p.files[FX_BLOCK_INDEX].crc32, 0xdeadbeef);
    fx_block_meta_free(&p);
    /* An edited value is caught by the checksum. */
    char *s = strstr((char *)j.data, "\"level\": 2");
    s[9] = '3';
    assert_int_equal(fx_block_meta_parse(j.data, j.len, &p, &err), FX_ECORRUPT);
    assert_non_null(strstr(err.msg, "checksum"));
    fx_block_meta_free(&p);
    fx_buf_free(&j);
    fx_block_meta_free(&m);
}

/* Writes fuzz seeds (block files framed as the fuzz target reads them)
 * when FX_BLOCK_SEED_DIR is set. */
static void write_seed(const fx_block_meta_t *m, const char *out, const char *name)
{
    char *bp = block_path(m), path[1400];
    fx_buf_t all = FX_BUF_INIT, f = FX_BUF_INIT;
    for (int k = 0; k < FX_BLOCK_NFILES; k++) {
        snprintf(path, sizeof path, "%s/%s", bp, fx_block_file_name((fx_block_file_t)k));
        read_file(path, &f);
        uint8_t len[4] = {(uint8_t)f.len, (uint8_t)(f.len >> 8), (uint8_t)(f.len >> 16),
                          (uint8_t)(f.len >> 24)};
        fx_buf_append(&all, len, 4);
        fx_buf_append(&all, f.data, f.len);
    }
    snprintf(path, sizeof path, "%s/%s", out, name);
    FILE *o = fopen(path, "wb");
    assert_non_null(o);
    fwrite(all.data, 1, all.len, o);
    fclose(o);
    fx_buf_free(&all);
    fx_buf_free(&f);
    free(bp);
}

/* One block per fixture, framed for the fuzz target (into
 * $FX_BLOCK_SEED_DIR when set, which is how tests/fuzz/corpus/block was
 * made); each frame must open as a block again through a byte-range
 * source. */
static void test_fuzz_seeds(void **state)
{
    (void)state;
    char tmp[600];
    const char *out = getenv("FX_BLOCK_SEED_DIR");
    if (!out) {
        snprintf(tmp, sizeof tmp, "%s/seeds", dir);
        mkdir(tmp, 0755);
        out = tmp;
    }
    load_fixtures();
    for (size_t i = 0; i < NFX; i++) {
        char sub[32], name[48];
        snprintf(sub, sizeof sub, "s%zu", i);
        fx_head_t *h = open_head(sub);
        append(h, "t1", i, "svc", "prod", T0, 1);
        append(h, "t1", i, "svc", "prod", T0 + SEC, 2);
        fx_block_meta_t m;
        cut(h, "t1", INT64_MIN, INT64_MAX, &m);
        snprintf(name, sizeof name, "fixture-%zu", i);
        write_seed(&m, out, name);
        fx_block_meta_free(&m);
        fx_head_close(h);

        char path[1400];
        fx_buf_t seed = FX_BUF_INIT;
        memsrc_t ms;
        memset(&ms, 0, sizeof ms);
        snprintf(path, sizeof path, "%s/%s", out, name);
        read_file(path, &seed);
        size_t off = 0;
        for (int k = 0; k < FX_BLOCK_NFILES; k++) {
            assert_true(off + 4 <= seed.len);
            size_t n = (size_t)seed.data[off] | (size_t)seed.data[off + 1] << 8 |
                       (size_t)seed.data[off + 2] << 16 | (size_t)seed.data[off + 3] << 24;
            assert_true(off + 4 + n <= seed.len);
            fx_buf_append(&ms.files[k], seed.data + off + 4, n);
            off += 4 + n;
        }
        fx_block_source_t src = {mem_read, mem_size, NULL, &ms};
        fx_block_options_t o = {FX_BLOCK_IO_AUTO, NULL, 1, 0};
        fx_block_t *b = NULL;
        fx_err_t err = {0};
        assert_int_equal(fx_block_open_source(&src, &o, &b, &err), FX_OK);
        assert_int_equal(fx_block_meta(b)->profiles, 2);
        fx_block_close(b);
        for (int k = 0; k < FX_BLOCK_NFILES; k++)
            fx_buf_free(&ms.files[k]);
        fx_buf_free(&seed);
    }
}

/* --- a head plus blocks (block/set.h) ---------------------------------------------------- */

/* SelectSeries points as "ts=value" text, series by series. */
static void ts_text(const fx_head_ts_list_t *l, fx_buf_t *out)
{
    for (size_t i = 0; i < l->len; i++) {
        fx_buf_printf(out, "{");
        for (size_t j = 0; j < l->v[i].labels.len; j++)
            fx_buf_printf(out, "%s=%s,", l->v[i].labels.v[j].name, l->v[i].labels.v[j].value);
        fx_buf_printf(out, "} total=%.17g:", l->v[i].total);
        for (size_t k = 0; k < l->v[i].npoints; k++)
            fx_buf_printf(out, " %lld=%.17g", (long long)l->v[i].points[k].ts_ms,
                          l->v[i].points[k].value);
        fx_buf_printf(out, "\n");
    }
}

/* The ingester's state: rows moved from the head into two blocks (windows
 * [0, 4 s) and [4 s, 12 s)), the rest still in the head. SelectSeries over
 * the set must equal the head that still holds everything, sums and
 * averages alike, for steps whose buckets hold profiles of the head and a
 * block or of both blocks (5 s, 20 s) - an average over several sources is
 * their sums over their counts, not a sum of their averages. */
static void test_set_average(void **state)
{
    (void)state;
    fx_head_t *all = open_head("all"), *h = open_head("head");
    fx_block_meta_t m1, m2;
    fx_err_t err = {0};
    fill(all);
    fill(h);
    cut(h, "t1", T0, T0 + 4 * SEC - 1, &m1);
    cut(h, "t1", T0 + 4 * SEC, T0 + 12 * SEC - 1, &m2);
    uint64_t deleted = 0;
    assert_int_equal(fx_head_delete_range(h, "t1", T0, T0 + 12 * SEC - 1, &deleted, &err), FX_OK);
    assert_int_equal(deleted, m1.profiles + m2.profiles);
    fx_block_t *blocks[2] = {open_block(&m1, NULL), open_block(&m2, NULL)};
    fx_source_set_t set = {h, blocks, 2};

    fx_selector_t sel;
    assert_int_equal(fx_selector_parse("{}", &sel, &err), FX_OK);
    static const char *const by_env[] = {"env"}, *const by_none[] = {""};
    const char *const *bys[] = {by_env, by_none};
    const int64_t steps[] = {5000, 20000};
    for (size_t g = 0; g < 2; g++)
        for (size_t st = 0; st < 2; st++)
            for (int agg = FX_AGG_SUM; agg <= FX_AGG_COUNT; agg++) {
                fx_head_query_t q = {"t1", &sel, 1, NULL, T0MS - 1000, T0MS + 30000, NULL, NULL, 0, 0};
                fx_head_ts_list_t want, got;
                fx_arena_t a;
                fx_buf_t tw = FX_BUF_INIT, tg = FX_BUF_INIT;
                fx_arena_init(&a);
                assert_int_equal(fx_head_select_series(all, &q, bys[g], 1, steps[st], agg, &a,
                                                       &want, &err), FX_OK);
                assert_int_equal(fx_set_select_series(&set, &q, bys[g], 1, steps[st], agg, &a,
                                                      &got, &err), FX_OK);
                ts_text(&want, &tw);
                ts_text(&got, &tg);
                assert_true(want.len > 0);
                if (tw.len != tg.len || memcmp(tw.data, tg.data, tw.len))
                    fail_msg("agg %d step %lld by %s:\nhead:\n%.*s\nset:\n%.*s", agg,
                             (long long)steps[st], bys[g][0], (int)tw.len, tw.data, (int)tg.len,
                             tg.data);
                fx_buf_free(&tw);
                fx_buf_free(&tg);
                fx_arena_free(&a);
            }
    fx_selector_free(&sel);
    fx_block_close(blocks[0]);
    fx_block_close(blocks[1]);
    fx_block_meta_free(&m1);
    fx_block_meta_free(&m2);
    fx_head_close(h);
    fx_head_close(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meta),
        cmocka_unit_test_setup_teardown(test_cut_same_answers_uring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cut_same_answers_pread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_io_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_range_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corruption, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fuzz_seeds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_average, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    for (size_t i = 0; i < NFX; i++) {
        fx_pprof_free(&fx[i].p);
        fx_arena_free(&fx[i].arena);
        fx_buf_free(&fx[i].plain);
    }
    return rc;
}
