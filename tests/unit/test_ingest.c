/* test_ingest.c - legacy /ingest parsing, label derivation, text formats,
 * and splitting by sample labels, on the real Node SDK captures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/gz.h"
#include "model/attime.h"
#include "services/distributor/ingest.h"
#include "services/distributor/split.h"

#define FIXTURES "../shared/fixtures/"

static void read_file(const char *path, fx_buf_t *out)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        fx_buf_append(out, tmp, n);
    fclose(f);
}

static void test_name_parsing(void **state)
{
    (void)state;
    fx_arena_t a;
    fx_err_t err = {0};
    const char *app;
    fx_labels_t l;
    fx_arena_init(&a);
    assert_int_equal(ingest_parse_name(
                         "nodejs-fixture-app{otel.scope.name=com.grafana.pyroscope/nodejs,"
                         "otel.scope.version=0.6.4,region=us-east-1, env = test }",
                         &a, &app, &l, &err), FX_OK);
    assert_string_equal(app, "nodejs-fixture-app");
    assert_int_equal(l.len, 4);
    assert_string_equal(fx_labels_get(&l, "otel.scope.name"), "com.grafana.pyroscope/nodejs");
    assert_string_equal(fx_labels_get(&l, "env"), "test");
    assert_int_equal(ingest_parse_name("app.cpu", &a, &app, &l, &err), FX_OK);
    assert_int_equal(l.len, 0);
    assert_int_equal(ingest_parse_name("app{}", &a, &app, &l, &err), FX_OK);
    assert_int_equal(ingest_parse_name("", &a, &app, &l, &err), FX_EINVAL);
    assert_int_equal(ingest_parse_name("bad app", &a, &app, &l, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "invalid character"));
    assert_int_equal(ingest_parse_name("app{a=1", &a, &app, &l, &err), FX_EINVAL);
    assert_int_equal(ingest_parse_name("app{__name__=x}", &a, &app, &l, &err), FX_EINVAL);
    assert_int_equal(ingest_parse_name("app{a b=1}", &a, &app, &l, &err), FX_EINVAL);
    fx_arena_free(&a);
}

static void test_attime(void **state)
{
    (void)state;
    fx_err_t err = {0};
    int64_t t, now = 1795238511LL * 1000000000;
    assert_int_equal(fx_attime_parse("1795238506", now, &t, &err), FX_OK);
    assert_true(t == 1795238506LL * 1000000000);
    assert_int_equal(fx_attime_parse("1795238506123", now, &t, &err), FX_OK);
    assert_true(t == 1795238506123LL * 1000000);
    assert_int_equal(fx_attime_parse("20261121", now, &t, &err), FX_OK);
    assert_true(t == 1795219200LL * 1000000000);
    assert_int_equal(fx_attime_parse("now-1h", now, &t, &err), FX_OK);
    assert_true(t == now - 3600LL * 1000000000);
    assert_int_equal(fx_attime_parse("now", now, &t, &err), FX_OK);
    assert_true(t == now);
    assert_int_equal(fx_attime_parse("yesterday", now, &t, &err), FX_EINVAL);
    assert_int_equal(fx_attime_parse("now-5q", now, &t, &err), FX_EINVAL);
}

static const char *fake_query(void *req, const char *name)
{
    const char **kv = req;
    for (; *kv; kv += 2)
        if (!strcmp(kv[0], name))
            return kv[1];
    return NULL;
}

static void test_params_and_formats(void **state)
{
    (void)state;
    fx_arena_t a;
    fx_err_t err = {0};
    ingest_params_t p;
    fx_arena_init(&a);
    const char *q1[] = {"name", "app{version=0.4.13}", "from", "1795238538", "until", "1795238543",
                        "spyName", "nodespy", "sampleRate", "17", NULL};
    assert_int_equal(ingest_parse_params(fake_query, q1, "multipart/form-data; boundary=x", 0, &a, &p,
                                         &err), FX_OK);
    assert_int_equal(p.format, INGEST_FORMAT_MULTIPART);
    assert_int_equal(p.sample_rate, 17);
    assert_string_equal(p.spy_name, "nodespy");
    const char *q2[] = {"name", "app", "format", "pprof", NULL};
    assert_int_equal(ingest_parse_params(fake_query, q2, "multipart/form-data", 0, &a, &p, &err), FX_OK);
    assert_int_equal(p.format, INGEST_FORMAT_PPROF); /* format=pprof wins, as in Pyroscope */
    const char *q3[] = {"name", "app", "format", "jfr", NULL};
    assert_int_equal(ingest_parse_params(fake_query, q3, NULL, 0, &a, &p, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "not supported"));
    const char *q4[] = {"from", "1", NULL};
    assert_int_equal(ingest_parse_params(fake_query, q4, NULL, 0, &a, &p, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "name"));
    fx_arena_free(&a);
}

static void test_text_formats(void **state)
{
    (void)state;
    fx_arena_t a;
    fx_err_t err = {0};
    fx_buf_t body = FX_BUF_INIT;
    fx_pprof_builder_t b;
    fx_pprof_t *p;
    fx_labels_t l;
    ingest_params_t params = {0};

    fx_arena_init(&a);
    read_file(FIXTURES "folded/perf-c-framepointer.folded", &body);
    params.app = "work.cpu";
    params.sample_rate = 499;
    params.spy_name = "perf";
    params.from_ns = 1000000000;
    params.format = INGEST_FORMAT_FOLDED;
    fx_pprof_builder_init(&b);
    assert_int_equal(ingest_text_to_pprof(&params, (const char *)body.data, body.len, &b, &a, &l, &p,
                                          &err), FX_OK);
    assert_string_equal(fx_labels_get(&l, "service_name"), "work");
    assert_string_equal(fx_labels_get(&l, "__name__"), "process_cpu");
    int64_t total = 0;
    for (size_t i = 0; i < p->nsamples; i++)
        total += p->samples[i].values[0];
    /* 1497 samples at 499 Hz, scaled to nanoseconds. */
    assert_true(total > 1497LL * 2003000 && total < 1497LL * 2005000);
    assert_true(fx_pprof_str_eq(p, p->sample_types[0].type, "cpu"));
    /* Encode and decode: the result is a valid pprof. */
    fx_buf_t enc = FX_BUF_INIT;
    fx_pprof_t q;
    fx_pprof_encode(p, NULL, &enc);
    assert_int_equal(fx_pprof_decode(enc.data, enc.len, &a, &q, &err), FX_OK);
    assert_int_equal(q.nsamples, 14);
    fx_pprof_free(&q);
    fx_buf_free(&enc);
    fx_pprof_builder_free(&b);

    params.app = "work.bogus";
    fx_pprof_builder_init(&b);
    assert_int_equal(ingest_text_to_pprof(&params, "a;b 1\n", 6, &b, &a, &l, &p, &err), FX_EINVAL);
    fx_pprof_builder_free(&b);
    params.app = "work";
    params.format = INGEST_FORMAT_FOLDED;
    fx_pprof_builder_init(&b);
    assert_int_equal(ingest_text_to_pprof(&params, "a;b x\n", 6, &b, &a, &l, &p, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "line 1"));
    fx_pprof_builder_free(&b);
    fx_buf_free(&body);
    fx_arena_free(&a);
}

static void test_split_node_wall_profile(void **state)
{
    (void)state;
    fx_arena_t a;
    fx_err_t err = {0};
    fx_buf_t gz = FX_BUF_INIT, plain = FX_BUF_INIT;
    fx_pprof_t p;
    split_group_t *groups;
    size_t n;
    int whole;

    fx_arena_init(&a);
    read_file(FIXTURES "nodejs-sdk/sdk-0.6.4-wall-cpu.body.pb.gz", &gz);
    assert_int_equal(fx_pprof_decode_maybe_gzip(gz.data, gz.len, 1 << 22, &plain, &a, &p, &err), FX_OK);
    fx_label_t sv[] = {{"__name__", "wall"}, {"handler", "series-wins"}, {"service_name", "x"}};
    fx_labels_t series = {sv, 1};
    split_by_sample_labels(&p, &series, &a, &groups, &n, &whole);
    assert_false(whole);
    assert_true(n >= 2);
    size_t total = 0, burnA = 0;
    for (size_t g = 0; g < n; g++) {
        total += groups[g].nsamples;
        const char *h = fx_labels_get(&groups[g].labels, "handler");
        if (h && !strcmp(h, "burnA"))
            burnA += groups[g].nsamples;
    }
    assert_int_equal(total, p.nsamples);
    assert_true(burnA > 0);
    /* A series label with the same name wins over the sample label. */
    series.len = 3;
    split_by_sample_labels(&p, &series, &a, &groups, &n, &whole);
    for (size_t g = 0; g < n; g++)
        assert_string_equal(fx_labels_get(&groups[g].labels, "handler"), "series-wins");

    /* The heap profile has no labels: one whole group. */
    fx_pprof_free(&p);
    gz.len = 0;
    read_file(FIXTURES "nodejs-sdk/sdk-0.6.4-heap.body.pb.gz", &gz);
    assert_int_equal(fx_pprof_decode_maybe_gzip(gz.data, gz.len, 1 << 22, &plain, &a, &p, &err), FX_OK);
    series.len = 1;
    split_by_sample_labels(&p, &series, &a, &groups, &n, &whole);
    assert_true(whole);
    assert_int_equal(n, 1);
    assert_int_equal(groups[0].nsamples, p.nsamples);
    fx_pprof_free(&p);
    fx_buf_free(&gz);
    fx_buf_free(&plain);
    fx_arena_free(&a);
}

static void test_pprof_labels_and_type_config(void **state)
{
    (void)state;
    fx_arena_t a;
    fx_err_t err = {0};
    fx_buf_t gz = FX_BUF_INIT, plain = FX_BUF_INIT;
    fx_pprof_t p;
    ingest_params_t params = {0};
    fx_arena_init(&a);
    read_file(FIXTURES "pprof/go-heap.pb.gz", &gz);
    assert_int_equal(fx_pprof_decode_maybe_gzip(gz.data, gz.len, 1 << 22, &plain, &a, &p, &err), FX_OK);
    params.app = "goapp";
    params.spy_name = "gospy";
    fx_label_t lv[] = {{"__session_id__", "s"}, {"__hidden", "h"}, {"env", "e"}};
    params.labels.v = lv;
    params.labels.len = 3;
    fx_labels_t l = ingest_pprof_labels(&params, &p, &a);
    assert_string_equal(fx_labels_get(&l, "__name__"), "memory");
    assert_string_equal(fx_labels_get(&l, "service_name"), "goapp");
    assert_string_equal(fx_labels_get(&l, "__delta__"), "false");
    assert_non_null(fx_labels_get(&l, "__session_id__"));
    assert_null(fx_labels_get(&l, "__hidden"));
    const char cfg[] = "{\"alloc_space\":{\"units\":\"bytes\",\"display-name\":\"alloc_bytes\"}}";
    int changed = 0;
    assert_int_equal(ingest_apply_sample_type_config(&p, "{\"nope\":{\"units\":\"x\"}}", 22, &a,
                                                     &changed, &err), FX_OK);
    assert_int_equal(changed, 0); /* no such sample type: nothing to re-encode */
    assert_int_equal(ingest_apply_sample_type_config(&p, cfg, sizeof cfg - 1, &a, &changed, &err),
                     FX_OK);
    assert_int_equal(changed, 1);
    int found = 0;
    for (size_t i = 0; i < p.nsample_types; i++)
        found |= fx_pprof_str_eq(&p, p.sample_types[i].type, "alloc_bytes");
    assert_true(found);
    assert_int_equal(ingest_apply_sample_type_config(&p, "[1]", 3, &a, &changed, &err), FX_EINVAL);
    fx_pprof_free(&p);
    fx_buf_free(&gz);
    fx_buf_free(&plain);
    fx_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_parsing),
        cmocka_unit_test(test_attime),
        cmocka_unit_test(test_params_and_formats),
        cmocka_unit_test(test_text_formats),
        cmocka_unit_test(test_split_node_wall_profile),
        cmocka_unit_test(test_pprof_labels_and_type_config),
    };
    return cmocka_run_group_tests_name("ingest", tests, NULL, NULL);
}
