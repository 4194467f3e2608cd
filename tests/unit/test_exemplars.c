/*
 * test_exemplars.c - the pieces of exemplars and heatmaps that do not need
 * a cluster: profile id text <-> bytes (model/profile_id.h), heatmap bucket
 * edges, bucket and slot lookup (model/heatmap.h), and the store side of
 * SelectProfileKeys with values (a head query with key_values). The query
 * path end to end is tests/integration/test_exemplars.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gz.h"
#include "ingester/v1/ingester.pb-c.h"
#include "model/heatmap.h"
#include "model/profile_id.h"
#include "pprof/pprof.h"
#include "storage/head.h"
#include "storage/row.h"
#include "storage/rpcquery.h"
#include "pprof_fixture.h"

static void test_profile_id_roundtrip(void **state)
{
    (void)state;
    uint8_t id[16], back[16];
    char buf[FX_PROFILE_ID_LEN + 1];
    const char *s = "9bd10f87-fc9a-4097-9036-52d2d17d562a";
    assert_int_equal(fx_profile_id_parse(s, strlen(s), id), 0);
    assert_int_equal(id[0], 0x9b);
    assert_int_equal(id[15], 0x2a);
    fx_profile_id_format(id, buf);
    assert_string_equal(buf, s);
    /* Upper case parses to the same bytes; the text form is lower case. */
    const char *up = "9BD10F87-FC9A-4097-9036-52D2D17D562A";
    assert_int_equal(fx_profile_id_parse(up, strlen(up), back), 0);
    assert_memory_equal(id, back, 16);
}

static void test_profile_id_rejects(void **state)
{
    (void)state;
    uint8_t id[16];
    const char *bad[] = {
        "",
        "xyz",
        "9bd10f87fc9a4097903652d2d17d562a",      /* no dashes */
        "9bd10f87-fc9a-4097-9036-52d2d17d562",   /* short */
        "9bd10f87-fc9a-4097-9036-52d2d17d562a0", /* long */
        "9bd10f87-fc9a-4097-9036_52d2d17d562a",  /* dash misplaced */
        "9bd10f87-fc9a-4097-9036-52d2d17d562g",  /* not hex */
        "9bd10f8-7fc9a-4097-9036-52d2d17d562a",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(fx_profile_id_parse(bad[i], strlen(bad[i]), id), -1);
    /* A NUL inside the length is not a digit. */
    assert_int_equal(fx_profile_id_parse("9bd10f87-fc9a-4097-9036-52d2d17d562\0", 36, id), -1);
}

static void test_profile_ids_sort(void **state)
{
    (void)state;
    uint8_t ids[4 * 16];
    memset(ids, 0, sizeof ids);
    ids[0] = 3;
    ids[16] = 1;
    ids[32] = 3;
    ids[48] = 2;
    size_t n = fx_profile_ids_sort(ids, 4);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[16], 2);
    assert_int_equal(ids[32], 3);
    uint8_t k[16] = {2};
    assert_true(fx_profile_ids_has(ids, n, k));
    k[0] = 4;
    assert_false(fx_profile_ids_has(ids, n, k));
    assert_false(fx_profile_ids_has(ids, 0, k));
}

static void test_heatmap_scale_log(void **state)
{
    (void)state;
    fx_heatmap_scale_t s;
    fx_heatmap_scale(10, 10000, &s);
    assert_int_equal(s.n, FX_HEATMAP_BUCKETS);
    assert_true(s.edge[0] == 10.0);
    for (size_t i = 0; i < s.n; i++) {
        double want = 10.0 * pow(1000.0, (double)i / FX_HEATMAP_BUCKETS);
        assert_true(fabs(s.edge[i] - want) < 1e-6 * want);
        if (i)
            assert_true(s.edge[i] > s.edge[i - 1]);
    }
    /* Every value lands in the bucket whose edges surround it. */
    for (int64_t v = 10; v <= 10000; v += 7) {
        size_t b = fx_heatmap_bucket(&s, v);
        assert_true(s.edge[b] <= (double)v);
        if (b + 1 < s.n)
            assert_true((double)v < s.edge[b + 1]);
    }
    assert_int_equal(fx_heatmap_bucket(&s, 10), 0);
    assert_int_equal(fx_heatmap_bucket(&s, 10000), s.n - 1);
    /* A value exactly on an edge starts that bucket. */
    fx_heatmap_scale(1, 1LL << 20, &s);
    assert_int_equal(fx_heatmap_bucket(&s, 2), 1);  /* 2^(20/20) */
    assert_int_equal(fx_heatmap_bucket(&s, 1024), 10);
}

static void test_heatmap_scale_linear_and_single(void **state)
{
    (void)state;
    fx_heatmap_scale_t s;
    fx_heatmap_scale(42, 42, &s);
    assert_int_equal(s.n, 1);
    assert_true(s.edge[0] == 42.0);
    assert_int_equal(fx_heatmap_bucket(&s, 42), 0);
    /* lo <= 0: evenly spaced. */
    fx_heatmap_scale(-100, 100, &s);
    assert_int_equal(s.n, FX_HEATMAP_BUCKETS);
    for (size_t i = 0; i < s.n; i++)
        assert_true(fabs(s.edge[i] - (-100.0 + 10.0 * (double)i)) < 1e-9);
    assert_int_equal(fx_heatmap_bucket(&s, -100), 0);
    assert_int_equal(fx_heatmap_bucket(&s, 0), 10);
    assert_int_equal(fx_heatmap_bucket(&s, 9), 10);
    assert_int_equal(fx_heatmap_bucket(&s, 100), 19);
    /* Extremes do not overflow or reorder. */
    fx_heatmap_scale(INT64_MIN, INT64_MAX, &s);
    for (size_t i = 1; i < s.n; i++)
        assert_true(s.edge[i] >= s.edge[i - 1]);
    assert_int_equal(fx_heatmap_bucket(&s, INT64_MIN), 0);
    assert_int_equal(fx_heatmap_bucket(&s, INT64_MAX), s.n - 1);
    fx_heatmap_scale(1, INT64_MAX, &s);
    assert_int_equal(fx_heatmap_bucket(&s, INT64_MAX), s.n - 1);
}

static void test_heatmap_slot(void **state)
{
    (void)state;
    /* The slot at start + k*step holds start + (k-1)*step < t <= start + k*step. */
    assert_int_equal(fx_heatmap_slot(1000, 1000, 30), 0);
    assert_int_equal(fx_heatmap_slot(999, 1000, 30), 0);
    assert_int_equal(fx_heatmap_slot(1001, 1000, 30), 1);
    assert_int_equal(fx_heatmap_slot(1030, 1000, 30), 1);
    assert_int_equal(fx_heatmap_slot(1031, 1000, 30), 2);
    assert_int_equal(fx_heatmap_slot(INT64_MAX, INT64_MIN, 1), INT64_MAX);
}

/* --- span totals of a row (span heatmaps) -------------------------------------------- */

typedef struct got_totals {
    uint64_t span[8];
    int64_t total[8];
    size_t n;
} got_totals_t;

static int on_total(void *ctx, uint64_t span, int64_t total)
{
    got_totals_t *g = ctx;
    if (g->n == 8)
        return FX_ELIMIT;
    g->span[g->n] = span;
    g->total[g->n++] = total;
    return FX_OK;
}

static void test_row_span_totals(void **state)
{
    (void)state;
    /* Two columns; span 7 has three entries (one a duplicate pair). */
    uint32_t stacks[] = {2, 4, 9};
    int64_t values[] = {1, 10, 6, 60, 8, 80};
    fx_row_span_entry_t e[] = {{7, 9, 0}, {7, 4, 1}, {UINT64_MAX, 2, 2}, {7, 4, 3}, {3, 4, 4}};
    int64_t vals[] = {8, 80, 2, 20, 1, 10, 3, 30, 1, 10};
    fx_buf_t spans = FX_BUF_INIT, b = FX_BUF_INIT;
    fx_err_t err = {0};
    fx_row_t row;
    fx_row_spans_encode(e, 5, vals, 2, &spans);
    fx_row_encode_spans(stacks, values, 3, 2, 10, spans.data, spans.len, &b);
    assert_int_equal(fx_row_parse(b.data, b.len, &row, &err), FX_OK);
    got_totals_t g = {{0}, {0}, 0};
    assert_int_equal(fx_row_span_totals(&row, 1, on_total, &g, &err), FX_OK);
    assert_int_equal(g.n, 3);
    assert_true(g.span[0] == 3 && g.total[0] == 10);
    assert_true(g.span[1] == 7 && g.total[1] == 130);
    assert_true(g.span[2] == UINT64_MAX && g.total[2] == 10);
    g.n = 0;
    assert_int_equal(fx_row_span_totals(&row, 0, on_total, &g, &err), FX_OK);
    assert_true(g.n == 3 && g.total[0] == 1 && g.total[1] == 13 && g.total[2] == 1);
    /* A missing column is corruption; a callback's error stops the walk. */
    assert_int_equal(fx_row_span_totals(&row, 2, on_total, &g, &err), FX_ECORRUPT);
    g.n = 8;
    assert_int_equal(fx_row_span_totals(&row, 0, on_total, &g, &err), FX_ELIMIT);
    /* A row without spans: no calls. */
    fx_buf_t plain = FX_BUF_INIT;
    fx_row_encode(stacks, values, 3, 2, 10, &plain);
    assert_int_equal(fx_row_parse(plain.data, plain.len, &row, &err), FX_OK);
    g.n = 0;
    assert_int_equal(fx_row_span_totals(&row, 0, on_total, &g, &err), FX_OK);
    assert_int_equal(g.n, 0);
    fx_buf_free(&plain);
    fx_buf_free(&spans);
    fx_buf_free(&b);
}

/* --- the store side: SelectProfileKeys with key_values ------------------------------- */

#define CPU "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
#define T0 1795000000000000000LL
#define SEC 1000000000LL

static int q_keys(void *ctx, const fx_head_query_t *q, fx_arena_t *a, fx_head_keys_t *out,
                  fx_err_t *err)
{
    return fx_head_profile_keys(ctx, q, a, out, err);
}

/* The cpu column total of p (sample type 1 of a Go CPU profile). */
static int64_t cpu_total(const fx_pprof_t *p)
{
    int64_t s = 0;
    for (size_t i = 0; i < p->nsamples; i++)
        s += p->samples[i].values[1];
    return s;
}

static void test_store_key_values(void **state)
{
    (void)state;
    char dir[] = "/tmp/fx-exemplars-XXXXXX";
    assert_non_null(mkdtemp(dir));
    fx_err_t err = {0};
    fx_buf_t plain = FX_BUF_INIT;
    fx_arena_t pa;
    fx_pprof_t p;
    fx_test_load_pprof("../shared/fixtures/pprof/go-cpu.pb.gz", &plain, &pa, &p);
    int64_t full = cpu_total(&p);
    assert_true(full > 0);

    fx_head_t *h = NULL;
    assert_int_equal(fx_head_open(dir, NULL, &h, &err), FX_OK);
    /* Three profiles in two series; the second one with half its samples. */
    const char *svc[3] = {"a", "b", "a"};
    for (int i = 0; i < 3; i++) {
        fx_label_t lv[2] = {{"__name__", "process_cpu"}, {"service_name", svc[i]}};
        fx_labels_t l = {lv, 2};
        uint8_t id[16] = {(uint8_t)(i + 1)};
        size_t keep = p.nsamples;
        if (i == 1)
            p.nsamples = keep / 2;
        assert_int_equal(fx_head_append(h, "t", &l, &p, id, T0 + i * SEC, NULL, &err), FX_OK);
        p.nsamples = keep;
    }
    int64_t half = 0;
    for (size_t i = 0; i < p.nsamples / 2; i++)
        half += p.samples[i].values[1];

    /* The RPC over the head: keys sorted by time, values, series labels once each. */
    fx_rpcq_store_t st = {.ctx = h, .profile_keys = q_keys};
    fx_method_fn fn = fx_rpcq_method("SelectProfileKeys");
    assert_non_null(fn);
    fx_arena_t a;
    fx_arena_init(&a);
    fx_call_t call = {"/ingester.v1.IngesterService/SelectProfileKeys", "t", &a, &st, 0, NULL, NULL};
    Ingester__V1__SelectRequest req = INGESTER__V1__SELECT_REQUEST__INIT;
    req.profile_type_id = CPU;
    req.label_selector = "{}";
    req.key_values = 1;
    ProtobufCMessage *out = NULL;
    assert_int_equal(fn(&call, &req.base, &out, &err), FX_OK);
    const Ingester__V1__ProfileKeys *k = (const Ingester__V1__ProfileKeys *)out;
    assert_int_equal(k->n_fingerprints, 3);
    assert_int_equal(k->n_values, 3);
    assert_int_equal(k->n_series, 3);
    assert_int_equal(k->n_series_labels, 2);
    int64_t want[3] = {full, half, full};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(k->time_ns[i], T0 + (int64_t)i * SEC);
        assert_int_equal(k->ids.data[16 * i], i + 1);
        assert_int_equal(k->values[i], want[i]);
        const Types__V1__Labels *l = k->series_labels[k->series[i]];
        const char *got = NULL;
        for (size_t j = 0; j < l->n_labels; j++)
            if (strcmp(l->labels[j]->name, "service_name") == 0)
                got = l->labels[j]->value;
        assert_non_null(got);
        assert_string_equal(got, svc[i]);
    }
    assert_int_equal(k->series[0], k->series[2]);
    assert_int_not_equal(k->series[0], k->series[1]);

    /* top_k: per series and step only the highest values (ties: earlier). */
    req.start = T0 / 1000000 - 1;
    req.end = T0 / 1000000 + 10000;
    req.top_k = 1;
    req.top_step_ms = 10000;
    assert_int_equal(fn(&call, &req.base, &out, &err), FX_OK);
    k = (const Ingester__V1__ProfileKeys *)out;
    assert_int_equal(k->n_fingerprints, 2);
    assert_int_equal(k->n_values, 2);
    assert_int_equal(k->ids.data[0], 1); /* series a: profiles 1 and 3 tie, 1 is earlier */
    assert_int_equal(k->ids.data[16], 2);
    req.top_k = 2;
    assert_int_equal(fn(&call, &req.base, &out, &err), FX_OK);
    assert_int_equal(((const Ingester__V1__ProfileKeys *)out)->n_fingerprints, 3);
    req.top_step_ms = 1000; /* each in its own step */
    req.top_k = 1;
    assert_int_equal(fn(&call, &req.base, &out, &err), FX_OK);
    assert_int_equal(((const Ingester__V1__ProfileKeys *)out)->n_fingerprints, 3);
    req.top_k = 0;
    req.top_step_ms = 0;
    req.start = req.end = 0;

    /* key_spans implies values; these profiles carried no span ids. */
    req.key_values = 0;
    req.key_spans = 1;
    assert_int_equal(fn(&call, &req.base, &out, &err), FX_OK);
    k = (const Ingester__V1__ProfileKeys *)out;
    assert_int_equal(k->n_values, 3);
    assert_int_equal(k->n_span_ids, 0);
    req.key_spans = 0;

    /* Without key_values: keys only, as the replica deduplication asks. */
    req.key_values = 0;
    assert_int_equal(fn(&call, &req.base, &out, &err), FX_OK);
    k = (const Ingester__V1__ProfileKeys *)out;
    assert_int_equal(k->n_fingerprints, 3);
    assert_int_equal(k->n_values, 0);
    assert_int_equal(k->n_series_labels, 0);

    /* A tenant with nothing: an empty, well-formed answer. */
    call.tenant = "nobody";
    req.key_values = 1;
    assert_int_equal(fn(&call, &req.base, &out, &err), FX_OK);
    k = (const Ingester__V1__ProfileKeys *)out;
    assert_int_equal(k->n_fingerprints, 0);
    assert_int_equal(k->n_values, 0);

    fx_arena_free(&a);
    fx_head_close(h);
    fx_pprof_free(&p);
    fx_arena_free(&pa);
    fx_buf_free(&plain);
    fx_rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profile_id_roundtrip),
        cmocka_unit_test(test_profile_id_rejects),
        cmocka_unit_test(test_profile_ids_sort),
        cmocka_unit_test(test_heatmap_scale_log),
        cmocka_unit_test(test_heatmap_scale_linear_and_single),
        cmocka_unit_test(test_heatmap_slot),
        cmocka_unit_test(test_row_span_totals),
        cmocka_unit_test(test_store_key_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
