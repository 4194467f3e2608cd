/* test_pbjson.c - unit tests for the proto3 JSON codec (libcommon/json). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "json/base64.h"
#include "json/jsonnum.h"
#include "json/pbjson.h"
#include "push/v1/push.pb-c.h"
#include "querier/v1/querier.pb-c.h"
#include "types/v1/types.pb-c.h"

/* A test-only message with every field shape (see pbjson/pbjson_test.proto). */
#include "pbjson/pbjson_test.pb-c.c"

#define FIXTURES "tests/unit/pbjson/"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s (run the tests from the repository root)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = fx_malloc((size_t)n + 1);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    p[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* Decodes json (NUL-terminated) into the arena; fails the test on error. */
static ProtobufCMessage *dec(fx_arena_t *a, const ProtobufCMessageDescriptor *d, const char *json)
{
    ProtobufCMessage *m = NULL;
    fx_err_t err = {0};
    int rc = fx_pbjson_decode(d, json, strlen(json), fx_arena_pb(a), &m, &err);
    if (rc != FX_OK)
        fail_msg("decode of %s failed: %s", json, err.msg);
    assert_non_null(m);
    return m;
}

/* Decoding must fail with a message containing want, with both an arena and
 * the heap allocator (LeakSanitizer checks the heap error path frees all). */
static void dec_err(const ProtobufCMessageDescriptor *d, const char *json, size_t len,
                    const char *want)
{
    fx_arena_t a;
    fx_arena_init(&a);
    for (int heap = 0; heap < 2; heap++) {
        ProtobufCMessage *m = (ProtobufCMessage *)1;
        fx_err_t err = {0};
        int rc = fx_pbjson_decode(d, json, len, heap ? NULL : fx_arena_pb(&a), &m, &err);
        if (rc != FX_EINVAL)
            fail_msg("decode of %.*s: rc %d, want FX_EINVAL", (int)len, json, rc);
        assert_null(m);
        if (!strstr(err.msg, want))
            fail_msg("decode of %.*s: error \"%s\" lacks \"%s\"", (int)len, json, err.msg, want);
    }
    fx_arena_free(&a);
}
#define DEC_ERR(d, json, want) dec_err(d, json, strlen(json), want)

/* Encodes m into a NUL-terminated string owned by *b. */
static const char *enc(fx_buf_t *b, const void *m)
{
    b->len = 0;
    fx_pbjson_encode(m, b);
    return fx_buf_cstr(b);
}

static void pack(const void *m, fx_buf_t *out)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    out->len = 0;
    fx_buf_reserve(out, n);
    out->len = protobuf_c_message_pack(m, out->data);
    assert_int_equal(out->len, n);
}

/* encode -> decode must give a message with the same protobuf bytes and the
 * same JSON; returns the JSON in *json. */
static void roundtrip(const ProtobufCMessage *m, fx_buf_t *json)
{
    fx_arena_t a;
    fx_buf_t j2 = FX_BUF_INIT, p1 = FX_BUF_INIT, p2 = FX_BUF_INIT;
    fx_arena_init(&a);
    enc(json, m);
    ProtobufCMessage *back = dec(&a, m->descriptor, (const char *)json->data);
    pack(m, &p1);
    pack(back, &p2);
    assert_int_equal(p1.len, p2.len);
    assert_memory_equal(p1.data, p2.data, p1.len);
    assert_string_equal(enc(&j2, back), (const char *)json->data);
    fx_buf_free(&j2);
    fx_buf_free(&p1);
    fx_buf_free(&p2);
    fx_arena_free(&a);
}

/* --- the captured Connect push ------------------------------------------------ */

static void test_push_fixture_matches_proto_bytes(void **state)
{
    (void)state;
    size_t jlen, blen;
    char *json = slurp(FIXTURES "buf-curl-push.input.json", &jlen);
    char *bin = slurp(FIXTURES "buf-curl-push.body.bin", &blen);
    fx_buf_t packed = FX_BUF_INIT;

    /* arena allocator */
    fx_arena_t a;
    fx_arena_init(&a);
    ProtobufCMessage *m = NULL;
    fx_err_t err = {0};
    assert_int_equal(fx_pbjson_decode(&push__v1__push_request__descriptor, json, jlen,
                                      fx_arena_pb(&a), &m, &err), FX_OK);
    pack(m, &packed);
    assert_int_equal(packed.len, blen);
    assert_memory_equal(packed.data, bin, blen);
    Push__V1__PushRequest *req = (Push__V1__PushRequest *)m;
    assert_int_equal(req->n_series, 1);
    assert_string_equal(req->series[0]->samples[0]->id, "00000000-0000-0000-0000-000000000001");
    fx_arena_free(&a);

    /* heap allocator: the message is released with free_unpacked (ASan
     * checks nothing leaks and nothing is freed twice) */
    m = NULL;
    assert_int_equal(fx_pbjson_decode(&push__v1__push_request__descriptor, json, jlen, NULL, &m,
                                      &err), FX_OK);
    pack(m, &packed);
    assert_memory_equal(packed.data, bin, blen);
    protobuf_c_message_free_unpacked(m, NULL);

    /* and the proto bytes, unpacked and encoded, give JSON that decodes to
     * the same bytes again */
    ProtobufCMessage *u = protobuf_c_message_unpack(&push__v1__push_request__descriptor, NULL,
                                                   blen, (const uint8_t *)bin);
    assert_non_null(u);
    fx_buf_t j = FX_BUF_INIT;
    roundtrip(u, &j);
    assert_non_null(strstr((char *)j.data, "\"rawProfile\":\"H4sI"));
    assert_non_null(strstr((char *)j.data, "\"ID\":\"00000000-0000-0000-0000-000000000001\""));
    protobuf_c_message_free_unpacked(u, NULL);

    fx_buf_free(&j);
    fx_buf_free(&packed);
    free(json);
    free(bin);
}

/* --- querier.v1 shapes ------------------------------------------------------ */

static void test_flamegraph_int64_strings(void **state)
{
    (void)state;
    int64_t v0[] = {0, 6, 0, 0}, v1[] = {0, 4, 4, 1, 0, 2, 2, 2};
    Querier__V1__Level l0 = QUERIER__V1__LEVEL__INIT, l1 = QUERIER__V1__LEVEL__INIT;
    l0.n_values = 4;
    l0.values = v0;
    l1.n_values = 8;
    l1.values = v1;
    Querier__V1__Level *levels[] = {&l0, &l1};
    char *names[] = {"total", "a", "b"};
    Querier__V1__FlameGraph fg = QUERIER__V1__FLAME_GRAPH__INIT;
    fg.n_names = 3;
    fg.names = names;
    fg.n_levels = 2;
    fg.levels = levels;
    fg.total = 6;
    fg.max_self = 4;

    fx_buf_t j = FX_BUF_INIT;
    roundtrip(&fg.base, &j);
    assert_string_equal((char *)j.data,
                        "{\"names\":[\"total\",\"a\",\"b\"],"
                        "\"levels\":[{\"values\":[\"0\",\"6\",\"0\",\"0\"]},"
                        "{\"values\":[\"0\",\"4\",\"4\",\"1\",\"0\",\"2\",\"2\",\"2\"]}],"
                        "\"total\":\"6\",\"maxSelf\":\"4\"}");

    /* numbers are accepted for int64 too, and the proto names */
    fx_arena_t a;
    fx_arena_init(&a);
    Querier__V1__FlameGraph *g = (Querier__V1__FlameGraph *)dec(
        &a, &querier__v1__flame_graph__descriptor,
        "{\"levels\":[{\"values\":[0, \"-9223372036854775808\", 9223372036854775807, 1e3]}],"
        "\"max_self\":5}");
    assert_int_equal(g->n_levels, 1);
    assert_int_equal(g->levels[0]->n_values, 4);
    assert_true(g->levels[0]->values[1] == INT64_MIN);
    assert_true(g->levels[0]->values[2] == INT64_MAX);
    assert_int_equal(g->levels[0]->values[3], 1000);
    assert_int_equal(g->max_self, 5);
    fx_arena_free(&a);
    fx_buf_free(&j);
}

static void test_json_names(void **state)
{
    (void)state;
    fx_buf_t j = FX_BUF_INIT;

    Querier__V1__FlameGraphDiff d = QUERIER__V1__FLAME_GRAPH_DIFF__INIT;
    d.max_self = 1;
    d.leftticks = 5;
    d.rightticks = 7;
    roundtrip(&d.base, &j);
    assert_string_equal((char *)j.data, "{\"maxSelf\":\"1\",\"leftTicks\":\"5\",\"rightTicks\":\"7\"}");

    Types__V1__ProfileType pt = TYPES__V1__PROFILE_TYPE__INIT;
    pt.id = "cpu";
    pt.sample_type = "samples";
    roundtrip(&pt.base, &j);
    assert_string_equal((char *)j.data, "{\"ID\":\"cpu\",\"sampleType\":\"samples\"}");

    Querier__V1__SelectMergeStacktracesRequest r =
        QUERIER__V1__SELECT_MERGE_STACKTRACES_REQUEST__INIT;
    r.profile_typeid = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
    r.label_selector = "{service_name=\"x\"}";
    roundtrip(&r.base, &j);
    assert_string_equal((char *)j.data,
                        "{\"profileTypeID\":\"process_cpu:cpu:nanoseconds:cpu:nanoseconds\","
                        "\"labelSelector\":\"{service_name=\\\"x\\\"}\"}");

    /* both spellings are accepted on input */
    fx_arena_t a;
    fx_arena_init(&a);
    Querier__V1__SelectMergeStacktracesRequest *q = (void *)dec(
        &a, &querier__v1__select_merge_stacktraces_request__descriptor,
        "{\"profile_typeID\":\"a\",\"label_selector\":\"b\",\"stackTraceSelector\":"
        "{\"call_site\":[{\"name\":\"main\"}],\"goPgo\":{\"keepLocations\":3}}}");
    assert_string_equal(q->profile_typeid, "a");
    assert_string_equal(q->label_selector, "b");
    assert_int_equal(q->stack_trace_selector->n_call_site, 1);
    assert_string_equal(q->stack_trace_selector->call_site[0]->name, "main");
    assert_int_equal(q->stack_trace_selector->go_pgo->keep_locations, 3);
    fx_arena_free(&a);
    fx_buf_free(&j);
}

static void test_oneof_optional(void **state)
{
    (void)state;
    fx_buf_t j = FX_BUF_INIT;
    fx_arena_t a;
    fx_arena_init(&a);

    Querier__V1__SelectMergeStacktracesRequest r =
        QUERIER__V1__SELECT_MERGE_STACKTRACES_REQUEST__INIT;
    r.start = 1700000000000;
    roundtrip(&r.base, &j);
    assert_string_equal((char *)j.data, "{\"start\":\"1700000000000\"}");

    /* a set oneof member is written even when it is zero */
    r.optional_max_nodes_case =
        QUERIER__V1__SELECT_MERGE_STACKTRACES_REQUEST__OPTIONAL_MAX_NODES_MAX_NODES;
    r.max_nodes = 0;
    roundtrip(&r.base, &j);
    assert_string_equal((char *)j.data, "{\"start\":\"1700000000000\",\"maxNodes\":\"0\"}");

    const ProtobufCMessageDescriptor *D = &querier__v1__select_merge_stacktraces_request__descriptor;
    Querier__V1__SelectMergeStacktracesRequest *q = (void *)dec(&a, D, "{\"maxNodes\":\"0\"}");
    assert_int_equal(q->optional_max_nodes_case,
                     QUERIER__V1__SELECT_MERGE_STACKTRACES_REQUEST__OPTIONAL_MAX_NODES_MAX_NODES);
    assert_int_equal(q->max_nodes, 0);
    q = (void *)dec(&a, D, "{\"max_nodes\":8192}");
    assert_int_equal(q->optional_max_nodes_case,
                     QUERIER__V1__SELECT_MERGE_STACKTRACES_REQUEST__OPTIONAL_MAX_NODES_MAX_NODES);
    assert_int_equal(q->max_nodes, 8192);
    q = (void *)dec(&a, D, "{}");
    assert_int_equal(q->optional_max_nodes_case,
                     QUERIER__V1__SELECT_MERGE_STACKTRACES_REQUEST__OPTIONAL_MAX_NODES__NOT_SET);
    q = (void *)dec(&a, D, "{\"maxNodes\":null}");
    assert_int_equal(q->optional_max_nodes_case,
                     QUERIER__V1__SELECT_MERGE_STACKTRACES_REQUEST__OPTIONAL_MAX_NODES__NOT_SET);

    /* oneofs with string and message members */
    const ProtobufCMessageDescriptor *A = &fxtest__v1__all__descriptor;
    Fxtest__V1__All *m = (void *)dec(&a, A, "{\"oStr\":\"\"}");
    assert_int_equal(m->choice_case, FXTEST__V1__ALL__CHOICE_O_STR);
    assert_string_equal(m->o_str, "");
    assert_string_equal(enc(&j, m), "{\"oStr\":\"\"}");
    m = (void *)dec(&a, A, "{\"o_msg\":{}}");
    assert_int_equal(m->choice_case, FXTEST__V1__ALL__CHOICE_O_MSG);
    assert_string_equal(enc(&j, m), "{\"oMsg\":{}}");
    m = (void *)dec(&a, A, "{\"oInt\":null,\"oMsg\":{\"i32\":1}}");
    assert_int_equal(m->o_msg->i32, 1);
    DEC_ERR(A, "{\"oStr\":\"x\",\"oMsg\":{\"i32\":1}}", "field \"oMsg\": oneof already set by field \"o_str\"");
    DEC_ERR(A, "{\"oMsg\":{\"child\":{}},\"oStr\":\"x\"}", "oneof already set");

    fx_arena_free(&a);
    fx_buf_free(&j);
}

static void test_enums(void **state)
{
    (void)state;
    fx_buf_t j = FX_BUF_INIT;
    fx_arena_t a;
    fx_arena_init(&a);
    const ProtobufCMessageDescriptor *D = &querier__v1__select_merge_stacktraces_request__descriptor;

    Querier__V1__SelectMergeStacktracesRequest r =
        QUERIER__V1__SELECT_MERGE_STACKTRACES_REQUEST__INIT;
    r.format = QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_TREE;
    roundtrip(&r.base, &j);
    assert_string_equal((char *)j.data, "{\"format\":\"PROFILE_FORMAT_TREE\"}");
    r.format = 99; /* no name: written as a number */
    roundtrip(&r.base, &j);
    assert_string_equal((char *)j.data, "{\"format\":99}");

    Querier__V1__SelectMergeStacktracesRequest *q;
    q = (void *)dec(&a, D, "{\"format\":\"PROFILE_FORMAT_DOT\"}");
    assert_int_equal(q->format, QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_DOT);
    q = (void *)dec(&a, D, "{\"format\":4}");
    assert_int_equal(q->format, QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_PPROF);
    q = (void *)dec(&a, D, "{\"format\":-7}");
    assert_true((int)q->format == -7);
    /* an unknown name leaves the field unset, as connect-go's DiscardUnknown */
    q = (void *)dec(&a, D, "{\"format\":\"FLAMEGRAPH\",\"start\":\"3\"}");
    assert_int_equal(q->format, 0);
    assert_int_equal(q->start, 3);
    DEC_ERR(D, "{\"format\":1.5}", "field \"format\": 1.5 is not an integer");
    DEC_ERR(D, "{\"format\":4294967296}", "out of range for an enum");
    DEC_ERR(D, "{\"format\":true}", "field \"format\": expected an enum name or number, got a boolean");

    /* repeated enums: unknown names are dropped from the list */
    Fxtest__V1__All *m = (void *)dec(&a, &fxtest__v1__all__descriptor,
                                     "{\"rColor\":[\"COLOR_BLUE\",\"PURPLE\",1,7]}");
    assert_int_equal(m->n_r_color, 3);
    assert_int_equal(m->r_color[0], FXTEST__V1__COLOR__COLOR_BLUE);
    assert_int_equal(m->r_color[1], FXTEST__V1__COLOR__COLOR_RED);
    assert_int_equal(m->r_color[2], 7);
    assert_string_equal(enc(&j, m), "{\"rColor\":[\"COLOR_BLUE\",\"COLOR_RED\",7]}");

    fx_arena_free(&a);
    fx_buf_free(&j);
}

static void test_select_series_double(void **state)
{
    (void)state;
    fx_buf_t j = FX_BUF_INIT;
    fx_arena_t a;
    fx_arena_init(&a);
    const ProtobufCMessageDescriptor *D = &querier__v1__select_series_request__descriptor;

    Querier__V1__SelectSeriesRequest r = QUERIER__V1__SELECT_SERIES_REQUEST__INIT;
    char *group_by[] = {"service_name", "pod"};
    r.profile_typeid = "memory:inuse_space:bytes:space:bytes";
    r.start = 1;
    r.end = 2;
    r.n_group_by = 2;
    r.group_by = group_by;
    r.step = 15.5;
    r.aggregation = TYPES__V1__TIME_SERIES_AGGREGATION_TYPE__TIME_SERIES_AGGREGATION_TYPE_AVERAGE;
    r.optional_limit_case = QUERIER__V1__SELECT_SERIES_REQUEST__OPTIONAL_LIMIT_LIMIT;
    r.limit = 10;
    roundtrip(&r.base, &j);
    assert_string_equal((char *)j.data,
                        "{\"profileTypeID\":\"memory:inuse_space:bytes:space:bytes\","
                        "\"start\":\"1\",\"end\":\"2\",\"groupBy\":[\"service_name\",\"pod\"],"
                        "\"step\":15.5,\"aggregation\":\"TIME_SERIES_AGGREGATION_TYPE_AVERAGE\","
                        "\"limit\":\"10\"}");

    Querier__V1__SelectSeriesRequest *q;
    q = (void *)dec(&a, D, "{\"step\":60}");
    assert_true(q->step == 60.0);
    q = (void *)dec(&a, D, "{\"step\":\"0.25\"}");
    assert_true(q->step == 0.25);
    q = (void *)dec(&a, D, "{\"step\":1e-3}");
    assert_true(q->step == 0.001);
    q = (void *)dec(&a, D, "{\"step\":\"NaN\"}");
    assert_true(isnan(q->step));
    assert_string_equal(enc(&j, q), "{\"step\":\"NaN\"}");
    q = (void *)dec(&a, D, "{\"step\":\"-Infinity\"}");
    assert_true(isinf(q->step) && q->step < 0);
    assert_string_equal(enc(&j, q), "{\"step\":\"-Infinity\"}");
    q = (void *)dec(&a, D, "{\"step\":\"Infinity\"}");
    assert_string_equal(enc(&j, q), "{\"step\":\"Infinity\"}");
    q = (void *)dec(&a, D, "{\"step\":-0.0}");
    assert_string_equal(enc(&j, q), "{\"step\":-0}"); /* -0 is not the default */
    DEC_ERR(D, "{\"step\":1e400}", "field \"step\": 1e400 is out of range for a double");
    DEC_ERR(D, "{\"step\":\"fast\"}", "field \"step\": \"fast\" is not a number");
    DEC_ERR(D, "{\"step\":\" 1\"}", "is not a number");
    DEC_ERR(D, "{\"step\":\"nan\"}", "is not a number");
    DEC_ERR(D, "{\"step\":[]}", "expected a double");

    /* SelectSeriesResponse: doubles inside nested repeated messages */
    Types__V1__Point p1 = TYPES__V1__POINT__INIT, p2 = TYPES__V1__POINT__INIT;
    p1.value = 0.1;
    p1.timestamp = 1700000000000;
    p2.value = 123456789.125;
    p2.timestamp = 1700000015000;
    Types__V1__Point *pts[] = {&p1, &p2};
    Types__V1__LabelPair lp = TYPES__V1__LABEL_PAIR__INIT;
    lp.name = "service_name";
    lp.value = "ü → \"quoted\"\n";
    Types__V1__LabelPair *lps[] = {&lp};
    Types__V1__Series s = TYPES__V1__SERIES__INIT;
    s.n_labels = 1;
    s.labels = lps;
    s.n_points = 2;
    s.points = pts;
    Types__V1__Series *ss[] = {&s};
    Querier__V1__SelectSeriesResponse resp = QUERIER__V1__SELECT_SERIES_RESPONSE__INIT;
    resp.n_series = 1;
    resp.series = ss;
    roundtrip(&resp.base, &j);
    assert_string_equal((char *)j.data,
                        "{\"series\":[{\"labels\":[{\"name\":\"service_name\",\"value\":"
                        "\"ü → \\\"quoted\\\"\\n\"}],\"points\":[{\"value\":0.1,"
                        "\"timestamp\":\"1700000000000\"},{\"value\":123456789.125,"
                        "\"timestamp\":\"1700000015000\"}]}]}");
    fx_arena_free(&a);
    fx_buf_free(&j);
}

static void test_bytes(void **state)
{
    (void)state;
    fx_buf_t j = FX_BUF_INIT;
    fx_arena_t a;
    fx_arena_init(&a);
    const ProtobufCMessageDescriptor *D = &querier__v1__select_merge_stacktraces_response__descriptor;

    uint8_t tree[] = {0xfb, 0xff, 0xfe, 0x00, 0x01};
    Querier__V1__SelectMergeStacktracesResponse r =
        QUERIER__V1__SELECT_MERGE_STACKTRACES_RESPONSE__INIT;
    r.tree.data = tree;
    r.tree.len = sizeof tree;
    roundtrip(&r.base, &j);
    assert_string_equal((char *)j.data, "{\"tree\":\"+//+AAE=\"}");

    const char *forms[] = {
        "{\"tree\":\"+//+AAE=\"}", /* standard, padded */
        "{\"tree\":\"+//+AAE\"}",  /* standard, unpadded */
        "{\"tree\":\"-__-AAE=\"}", /* URL-safe, padded */
        "{\"tree\":\"-__-AAE\"}",  /* URL-safe, unpadded */
        "{\"tree\":\"+\\/\\/+AAE=\"}", /* JSON-escaped slashes */
        "{\"tree\":\"+//+\\r\\nAAE=\"}", /* MIME line break */
    };
    for (size_t i = 0; i < FX_ARRAY_LEN(forms); i++) {
        Querier__V1__SelectMergeStacktracesResponse *q = (void *)dec(&a, D, forms[i]);
        assert_int_equal(q->tree.len, sizeof tree);
        assert_memory_equal(q->tree.data, tree, sizeof tree);
    }
    Querier__V1__SelectMergeStacktracesResponse *q = (void *)dec(&a, D, "{\"tree\":\"\"}");
    assert_int_equal(q->tree.len, 0);
    assert_string_equal(enc(&j, q), "{}");

    DEC_ERR(D, "{\"tree\":\"+//+A\"}", "field \"tree\": invalid base64");
    DEC_ERR(D, "{\"tree\":\"+//+AA=E\"}", "invalid base64");
    DEC_ERR(D, "{\"tree\":\"+//+AA===\"}", "invalid base64");
    DEC_ERR(D, "{\"tree\":\"+//+AAE==\"}", "invalid base64");
    DEC_ERR(D, "{\"tree\":\"+//+ AAE=\"}", "invalid base64");
    DEC_ERR(D, "{\"tree\":12}", "field \"tree\": expected a base64 string, got a number");

    /* the path names every step down to the bad value */
    DEC_ERR(&push__v1__push_request__descriptor,
            "{\"series\":[{},{\"samples\":[{\"rawProfile\":\"AAAA\"},{\"ID\":\"x\",\"rawProfile\":\"!!\"}]}]}",
            "field \"series[1].samples[1].rawProfile\": invalid base64");

    /* repeated bytes */
    Fxtest__V1__All *m = (void *)dec(&a, &fxtest__v1__all__descriptor,
                                     "{\"rBytes\":[\"\",\"AQ\",\"AQI=\"]}");
    assert_int_equal(m->n_r_bytes, 3);
    assert_int_equal(m->r_bytes[0].len, 0);
    assert_int_equal(m->r_bytes[1].len, 1);
    assert_int_equal(m->r_bytes[2].len, 2);
    assert_string_equal(enc(&j, m), "{\"rBytes\":[\"\",\"AQ==\",\"AQI=\"]}");

    fx_arena_free(&a);
    fx_buf_free(&j);
}

static void test_empty_and_unknown(void **state)
{
    (void)state;
    fx_buf_t j = FX_BUF_INIT;
    fx_arena_t a;
    fx_arena_init(&a);

    Types__V1__GetProfileStatsRequest e = TYPES__V1__GET_PROFILE_STATS_REQUEST__INIT;
    roundtrip(&e.base, &j);
    assert_string_equal((char *)j.data, "{}");
    Fxtest__V1__All all = FXTEST__V1__ALL__INIT;
    assert_string_equal(enc(&j, &all), "{}");

    dec(&a, &types__v1__get_profile_stats_request__descriptor, " \t\r\n{ } \n");
    dec(&a, &types__v1__get_profile_stats_request__descriptor, "{\"x\":1}");

    /* unknown fields of any shape are skipped (connect-go discards them) */
    Querier__V1__SelectMergeStacktracesRequest *q = (void *)dec(
        &a, &querier__v1__select_merge_stacktraces_request__descriptor,
        "{\"future\":{\"a\":[1,-2.5e3,true,false,null,\"s\\u00e9\",{\"b\":[]}],\"c\":{}},"
        "\"start\":\"5\",\"alsoNew\":[]}");
    assert_int_equal(q->start, 5);

    /* null means unset for every kind of field */
    Fxtest__V1__All *m = (void *)dec(
        &a, &fxtest__v1__all__descriptor,
        "{\"i32\":null,\"str\":null,\"byt\":null,\"color\":null,\"child\":null,\"rI64\":null,"
        "\"labels\":null,\"b\":null,\"dbl\":null,\"oStr\":null}");
    assert_string_equal(enc(&j, m), "{}");
    assert_int_equal(m->choice_case, FXTEST__V1__ALL__CHOICE__NOT_SET);

    fx_arena_free(&a);
    fx_buf_free(&j);
}

/* Every scalar type at its limits, maps, nested and repeated messages. */
static void test_all_types(void **state)
{
    (void)state;
    fx_buf_t j = FX_BUF_INIT;
    fx_arena_t a;
    fx_arena_init(&a);
    const ProtobufCMessageDescriptor *A = &fxtest__v1__all__descriptor;

    const char *in =
        "{\"i32\":-2147483648,\"i64\":\"-9223372036854775808\",\"u32\":4294967295,"
        "\"u64\":18446744073709551615,\"s32\":\"2147483647\",\"s64\":-1,\"f32\":\"7\","
        "\"f64\":\"18446744073709551615\",\"sf32\":-3,\"sf64\":\"9223372036854775807\","
        "\"flt\":0.1,\"dbl\":1e21,\"b\":true,\"str\":\"h\\u00e9llo \\ud83d\\ude00\",\"byt\":\"AP8=\","
        "\"color\":\"COLOR_BLUE\",\"child\":{\"i32\":1,\"child\":{\"str\":\"deep\"}},"
        "\"rI64\":[\"1\",-2,3e2],\"rStr\":[\"\",\"x\"],\"rDbl\":[0,-1.5,\"Infinity\"],"
        "\"labels\":{\"a\":\"1\",\"b\":\"\"},\"byId\":{\"18446744073709551615\":{\"b\":true},\"0\":{}},"
        "\"flags\":{\"true\":1,\"false\":-1},\"children\":[{},{\"u32\":1}],"
        "\"rU32\":[0,4294967295],\"rBool\":[true,false],\"rFlt\":[1.5,\"NaN\",3.4028235e38]}";
    Fxtest__V1__All *m = (void *)dec(&a, A, in);
    assert_int_equal(m->i32, INT32_MIN);
    assert_true(m->i64 == INT64_MIN);
    assert_true(m->u32 == UINT32_MAX);
    assert_true(m->u64 == UINT64_MAX);
    assert_int_equal(m->s32, INT32_MAX);
    assert_int_equal(m->s64, -1);
    assert_int_equal(m->f32, 7);
    assert_true(m->f64 == UINT64_MAX);
    assert_int_equal(m->sf32, -3);
    assert_true(m->sf64 == INT64_MAX);
    assert_true(m->flt == 0.1f);
    assert_true(m->dbl == 1e21);
    assert_true(m->b);
    assert_string_equal(m->str, "h\xc3\xa9llo \xf0\x9f\x98\x80");
    assert_int_equal(m->byt.len, 2);
    assert_int_equal(m->color, FXTEST__V1__COLOR__COLOR_BLUE);
    assert_string_equal(m->child->child->str, "deep");
    assert_int_equal(m->n_r_i64, 3);
    assert_int_equal(m->r_i64[2], 300);
    assert_int_equal(m->n_labels, 2);
    assert_string_equal(m->labels[1]->key, "b");
    assert_string_equal(m->labels[1]->value, "");
    assert_int_equal(m->n_by_id, 2);
    assert_true(m->by_id[0]->key == UINT64_MAX);
    assert_true(m->by_id[0]->value->b);
    assert_int_equal(m->n_flags, 2);
    assert_true(m->flags[0]->key);
    assert_int_equal(m->flags[1]->value, -1);
    assert_int_equal(m->n_children, 2);
    assert_int_equal(m->children[1]->u32, 1);
    assert_true(isnan(m->r_flt[1]));

    const char *want =
        "{\"i32\":-2147483648,\"i64\":\"-9223372036854775808\",\"u32\":4294967295,"
        "\"u64\":\"18446744073709551615\",\"s32\":2147483647,\"s64\":\"-1\",\"f32\":7,"
        "\"f64\":\"18446744073709551615\",\"sf32\":-3,\"sf64\":\"9223372036854775807\","
        "\"flt\":0.1,\"dbl\":1e+21,\"b\":true,\"str\":\"h\xc3\xa9llo \xf0\x9f\x98\x80\",\"byt\":\"AP8=\","
        "\"color\":\"COLOR_BLUE\",\"child\":{\"i32\":1,\"child\":{\"str\":\"deep\"}},"
        "\"rI64\":[\"1\",\"-2\",\"300\"],\"rStr\":[\"\",\"x\"],\"rDbl\":[0,-1.5,\"Infinity\"],"
        "\"labels\":{\"a\":\"1\",\"b\":\"\"},\"byId\":{\"18446744073709551615\":{\"b\":true},\"0\":{}},"
        "\"flags\":{\"true\":1,\"false\":-1},\"children\":[{},{\"u32\":1}],"
        "\"rU32\":[0,4294967295],\"rBool\":[true,false],\"rFlt\":[1.5,\"NaN\",3.4028235e+38]}";
    assert_string_equal(enc(&j, m), want);

    /* encode -> decode -> identical protobuf bytes (NaN compares by bits) */
    roundtrip(&m->base, &j);

    /* the same message with the heap allocator, freed by protobuf-c */
    ProtobufCMessage *h = NULL;
    fx_err_t err = {0};
    assert_int_equal(fx_pbjson_decode(A, in, strlen(in), NULL, &h, &err), FX_OK);
    fx_buf_t p1 = FX_BUF_INIT, p2 = FX_BUF_INIT;
    pack(m, &p1);
    pack(h, &p2);
    assert_int_equal(p1.len, p2.len);
    assert_memory_equal(p1.data, p2.data, p1.len);
    protobuf_c_message_free_unpacked(h, NULL);

    /* integer forms protojson accepts */
    m = (void *)dec(&a, A, "{\"i32\":\"1e2\",\"i64\":1.0,\"u32\":0.5e1,\"u64\":\"1e19\","
                           "\"s32\":-0,\"s64\":\"100e-2\",\"f32\":0.00001e5}");
    assert_int_equal(m->i32, 100);
    assert_int_equal(m->i64, 1);
    assert_int_equal(m->u32, 5);
    assert_true(m->u64 == 10000000000000000000ull);
    assert_int_equal(m->s32, 0);
    assert_int_equal(m->s64, 1);
    assert_int_equal(m->f32, 1);

    fx_buf_free(&p1);
    fx_buf_free(&p2);
    fx_arena_free(&a);
    fx_buf_free(&j);
}

static void test_string_output_escapes(void **state)
{
    (void)state;
    fx_buf_t j = FX_BUF_INIT;
    Types__V1__LabelPair lp = TYPES__V1__LABEL_PAIR__INIT;
    lp.name = "ctl\x01\x1f\b\f\t\\/";
    lp.value = "bad\xff\xc0\xafutf8\xe2\x82"; /* invalid UTF-8 becomes U+FFFD */
    assert_string_equal(enc(&j, &lp),
                        "{\"name\":\"ctl\\u0001\\u001f\\b\\f\\t\\\\/\","
                        "\"value\":\"bad\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdutf8"
                        "\xef\xbf\xbd\xef\xbf\xbd\"}");
    fx_buf_free(&j);
}

static void test_errors(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *D = &querier__v1__select_merge_stacktraces_request__descriptor;
    const ProtobufCMessageDescriptor *A = &fxtest__v1__all__descriptor;
    const ProtobufCMessageDescriptor *P = &push__v1__push_request__descriptor;
    fx_arena_t a;
    fx_arena_init(&a);

    /* not an object / empty / trailing garbage */
    DEC_ERR(D, "", "empty body");
    DEC_ERR(D, "  ", "empty body");
    DEC_ERR(D, "[]", "expected a JSON object, got an array");
    DEC_ERR(D, "null", "expected a JSON object, got null");
    DEC_ERR(D, "{} x", "invalid JSON at byte 3: unexpected data after the object");
    DEC_ERR(D, "{}{}", "unexpected data after the object");
    DEC_ERR(D, "\xef\xbb\xbf{}", "expected a JSON object");

    /* syntax */
    DEC_ERR(D, "{", "unexpected end of input");
    DEC_ERR(D, "{\"start\"", "expected ':'");
    DEC_ERR(D, "{\"start\":", "field \"start\": invalid JSON: unexpected end of input");
    DEC_ERR(D, "{\"spanSelector\":", "field \"spanSelector\": invalid JSON: unexpected end of input");
    DEC_ERR(A, "{\"labels\":", "unexpected end of input");
    DEC_ERR(A, "{\"labels\":{\"a\":", "field \"labels[a]\": invalid JSON: unexpected end of input");
    DEC_ERR(D, "{\"start\":1,}", "expected a string key");
    DEC_ERR(D, "{\"start\":1 \"end\":2}", "expected ',' or '}'");
    DEC_ERR(D, "{start:1}", "expected a string key");
    DEC_ERR(D, "{\"start\":01}", "expected ',' or '}'");
    DEC_ERR(D, "{\"start\":+1}", "field \"start\": expected int64 (a number or a numeric string), got invalid JSON");
    DEC_ERR(D, "{\"labelSelector\":\"abc", "unterminated string");
    DEC_ERR(D, "{\"labelSelector\":\"abc\\", "unterminated string");
    DEC_ERR(D, "{\"labelSelector\":\"a\\x\"}", "bad escape \\x");
    DEC_ERR(D, "{\"labelSelector\":\"a\\u12\"}", "bad \\u escape");
    DEC_ERR(D, "{\"labelSelector\":\"a\tb\"}", "control character in string");
    DEC_ERR(D, "{\"x\":[1,2}", "expected ',' or ']'");
    DEC_ERR(D, "{\"x\":tru}", "expected a value");
    DEC_ERR(D, "{\"spanSelector\":[\"a\",]}", "field \"spanSelector[1]\": expected a string");

    /* wrong types */
    DEC_ERR(D, "{\"start\":true}", "field \"start\": expected int64 (a number or a numeric string), got a boolean");
    DEC_ERR(D, "{\"start\":{}}", "got an object");
    DEC_ERR(D, "{\"labelSelector\":1}", "field \"labelSelector\": expected a string, got a number");
    DEC_ERR(D, "{\"spanSelector\":\"a\"}", "field \"spanSelector\": expected an array, got a string");
    DEC_ERR(D, "{\"spanSelector\":[null]}", "field \"spanSelector[0]\": null is not a valid array element");
    DEC_ERR(D, "{\"stackTraceSelector\":[]}", "field \"stackTraceSelector\": expected an object, got an array");
    DEC_ERR(D, "{\"stackTraceSelector\":{\"goPgo\":{\"aggregateCallees\":1}}}",
            "field \"stackTraceSelector.goPgo.aggregateCallees\": expected true or false, got a number");
    DEC_ERR(A, "{\"b\":\"true\"}", "expected true or false, got a string");
    DEC_ERR(A, "{\"labels\":[]}", "field \"labels\": expected an object (a map), got an array");
    DEC_ERR(A, "{\"labels\":{\"k\":1}}", "field \"labels[k]\": expected a string, got a number");
    DEC_ERR(A, "{\"labels\":{\"k\":null}}", "null is not a valid map value");
    DEC_ERR(A, "{\"byId\":{\"-1\":{}}}", "field \"byId[-1]\": -1 is out of range for uint64");
    DEC_ERR(A, "{\"byId\":{\"x\":{}}}", "\"x\" is not a number");
    DEC_ERR(A, "{\"flags\":{\"yes\":1}}", "map key must be \"true\" or \"false\"");

    /* integer range and form */
    DEC_ERR(D, "{\"start\":1.5}", "field \"start\": 1.5 is not an integer");
    DEC_ERR(D, "{\"start\":\"1.5\"}", "1.5 is not an integer");
    DEC_ERR(D, "{\"start\":\"9223372036854775808\"}", "9223372036854775808 is out of range for int64");
    DEC_ERR(D, "{\"start\":-9223372036854775809}", "out of range for int64");
    DEC_ERR(D, "{\"start\":1e19}", "out of range for int64");
    DEC_ERR(D, "{\"start\":\"\"}", "\"\" is not a number");
    DEC_ERR(D, "{\"start\":\" 1\"}", "is not a number");
    DEC_ERR(D, "{\"start\":\"0x10\"}", "is not a number");
    DEC_ERR(A, "{\"i32\":2147483648}", "field \"i32\": 2147483648 is out of range for int32");
    DEC_ERR(A, "{\"i32\":-2147483649}", "out of range for int32");
    DEC_ERR(A, "{\"u32\":-1}", "out of range for uint32");
    DEC_ERR(A, "{\"u32\":4294967296}", "out of range for uint32");
    DEC_ERR(A, "{\"u64\":18446744073709551616}", "out of range for uint64");
    DEC_ERR(A, "{\"u64\":\"-1\"}", "out of range for uint64");
    DEC_ERR(A, "{\"u64\":1e20}", "out of range for uint64");
    DEC_ERR(A, "{\"u64\":123456789012345678901234567890}", "out of range for uint64");
    DEC_ERR(A, "{\"flt\":1e39}", "out of range for a float");
    DEC_ERR(A, "{\"rI64\":[1,2,\"x\"]}", "field \"rI64[2]\": \"x\" is not a number");

    /* UTF-8 */
    DEC_ERR(D, "{\"labelSelector\":\"\xff\"}", "field \"labelSelector\": invalid UTF-8 in string at byte 18");
    DEC_ERR(D, "{\"labelSelector\":\"\xc0\xaf\"}", "invalid UTF-8"); /* overlong '/' */
    DEC_ERR(D, "{\"labelSelector\":\"\xed\xa0\x80\"}", "invalid UTF-8"); /* surrogate */
    DEC_ERR(D, "{\"labelSelector\":\"\xf4\x90\x80\x80\"}", "invalid UTF-8"); /* > U+10FFFF */
    DEC_ERR(D, "{\"labelSelector\":\"\xe2\x82\"}", "invalid UTF-8"); /* truncated */
    DEC_ERR(D, "{\"\xfe\":1}", "invalid UTF-8"); /* in a key */
    DEC_ERR(D, "{\"x\":[\"\xfe\"]}", "invalid UTF-8"); /* in an unknown field */
    DEC_ERR(D, "{\"labelSelector\":\"\\ud800\"}", "lone UTF-16 surrogate");
    DEC_ERR(D, "{\"labelSelector\":\"\\udc00\\ud800\"}", "lone UTF-16 surrogate");
    DEC_ERR(D, "{\"labelSelector\":\"\\ud800\\u0041\"}", "lone UTF-16 surrogate");
    dec(&a, D, "{\"start\\u0000\":\"x\",\"format\":\"PROFILE_FORMAT_DOT\\u0000x\"}"); /* unknown key, unknown name */
    DEC_ERR(D, "{\"labelSelector\":\"a\\u0000b\"}", "field \"labelSelector\": strings with U+0000 are not supported");
    dec_err(D, "{\"labelSelector\":\"a\0b\"}", 22, "control character in string");

    /* duplicates, as protojson */
    DEC_ERR(D, "{\"start\":\"1\",\"start\":\"2\"}", "field \"start\": duplicate field");
    DEC_ERR(D, "{\"profileTypeID\":\"a\",\"profile_typeID\":\"b\"}", "duplicate field");
    DEC_ERR(P, "{\"series\":[],\"series\":[]}", "duplicate field");

    /* errors deep inside repeated messages free what was built so far */
    DEC_ERR(P, "{\"series\":[{\"labels\":[{\"name\":\"a\",\"value\":\"b\"}],\"samples\":[{\"rawProfile\":"
               "\"AAAA\",\"ID\":\"1\"},{\"ID\":\"2\",\"rawProfile\":\"AAAA\"}]},{\"labels\":[{\"name\":7}]}]}",
            "field \"series[1].labels[0].name\": expected a string, got a number");
    DEC_ERR(A, "{\"oStr\":\"abc\",\"children\":[{\"rStr\":[\"a\",\"b\",3]}]}", "field \"children[0].rStr[2]\"");
    DEC_ERR(A, "{\"labels\":{\"a\":\"b\",\"c\":\"d\"},\"byId\":{\"1\":{\"str\":\"x\"},\"2\":{\"i32\":\"y\"}}}",
            "field \"byId[2].i32\": \"y\" is not a number");
    DEC_ERR(A, "{\"oMsg\":{\"str\":\"x\",\"rBytes\":[\"AA\",\"!\"]}}", "field \"oMsg.rBytes[1]\": invalid base64");
    fx_arena_free(&a);
}

static void test_depth_limit(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *A = &fxtest__v1__all__descriptor;
    fx_buf_t b = FX_BUF_INIT;
    fx_arena_t a;
    fx_arena_init(&a);

    /* FX_PBJSON_MAX_DEPTH nested objects decode */
    for (int i = 0; i < FX_PBJSON_MAX_DEPTH - 1; i++)
        fx_buf_puts(&b, "{\"child\":");
    fx_buf_puts(&b, "{\"i32\":7}");
    for (int i = 0; i < FX_PBJSON_MAX_DEPTH - 1; i++)
        fx_buf_putc(&b, '}');
    Fxtest__V1__All *m = (void *)dec(&a, A, fx_buf_cstr(&b));
    for (int i = 0; i < FX_PBJSON_MAX_DEPTH - 1; i++)
        m = m->child;
    assert_int_equal(m->i32, 7);

    /* one more is refused, known field or not */
    b.len = 0;
    for (int i = 0; i < FX_PBJSON_MAX_DEPTH; i++)
        fx_buf_puts(&b, "{\"child\":");
    fx_buf_puts(&b, "{}");
    for (int i = 0; i < FX_PBJSON_MAX_DEPTH; i++)
        fx_buf_putc(&b, '}');
    dec_err(A, (char *)b.data, b.len, "nested deeper than 100 levels");

    b.len = 0;
    fx_buf_puts(&b, "{\"unknown\":");
    for (int i = 0; i < 100000; i++)
        fx_buf_putc(&b, '[');
    dec_err(A, (char *)b.data, b.len, "nested deeper than 100 levels");

    b.len = 0;
    fx_buf_puts(&b, "{\"children\":");
    for (int i = 0; i < 100000; i++)
        fx_buf_puts(&b, "[{\"children\":");
    dec_err(A, (char *)b.data, b.len, "nested deeper than 100 levels");

    fx_buf_free(&b);
    fx_arena_free(&a);
}

/* --- helpers ------------------------------------------------------------------ */

static void test_double_format(void **state)
{
    (void)state;
    static const struct {
        double v;
        int is_float;
        const char *want; /* as Go's protojson writes it */
    } cases[] = {
        {0.1, 0, "0.1"},
        {0.3, 0, "0.3"},
        {1.0, 0, "1"},
        {100, 0, "100"},
        {2.0 / 3.0, 0, "0.6666666666666666"},
        {123456789.125, 0, "123456789.125"},
        {1e20, 0, "100000000000000000000"},
        {1e21, 0, "1e+21"},
        {1.5e-6, 0, "0.0000015"},
        {1e-6, 0, "0.000001"},
        {1e-7, 0, "1e-7"},
        {-2.5e-10, 0, "-2.5e-10"},
        {5e-324, 0, "5e-324"},
        {1.7976931348623157e308, 0, "1.7976931348623157e+308"},
        {9007199254740993.0, 0, "9007199254740992"},
        {0.1f, 1, "0.1"},
        {16777216.0f, 1, "16777216"},
        {3.4028234663852886e38, 1, "3.4028235e+38"},
        {1.0f / 3.0f, 1, "0.33333334"},
    };
    fx_buf_t b = FX_BUF_INIT;
    for (size_t i = 0; i < FX_ARRAY_LEN(cases); i++) {
        b.len = 0;
        fx_json_put_double(&b, cases[i].v, cases[i].is_float);
        assert_string_equal(fx_buf_cstr(&b), cases[i].want);
        double back;
        assert_int_equal(fx_json_to_double((char *)b.data, b.len, cases[i].is_float, &back), 0);
        assert_true(back == (cases[i].is_float ? (double)(float)cases[i].v : cases[i].v));
    }
    fx_buf_free(&b);
}

static void test_int_text(void **state)
{
    (void)state;
    uint64_t v;
#define TO(s, sg, bits) fx_json_to_int(s, strlen(s), sg, bits, &v)
    assert_int_equal(TO("0", 1, 64), 0);
    assert_true(v == 0);
    assert_int_equal(TO("-0.0e-5", 0, 64), 0);
    assert_true(v == 0);
    assert_int_equal(TO("0.000e99999999999", 1, 32), 0);
    assert_int_equal(TO("12345678901234567890", 0, 64), 0);
    assert_true(v == 12345678901234567890ull);
    assert_int_equal(TO("1234567890123456789.0e1", 0, 64), 0);
    assert_true(v == 12345678901234567890ull);
    assert_int_equal(TO("0.000000000000000000000000000001e30", 1, 64), 0);
    assert_true(v == 1);
    assert_int_equal(TO("1e-1", 1, 64), FX_JSONNUM_NOTINT);
    assert_int_equal(TO("1e99999999999999999999", 1, 64), FX_JSONNUM_RANGE);
    assert_int_equal(TO("-9223372036854775808", 1, 64), 0);
    assert_true((int64_t)v == INT64_MIN);
    assert_int_equal(TO("-2147483648", 1, 32), 0);
    assert_true((int32_t)(uint32_t)v == INT32_MIN);
    assert_int_equal(TO("1.", 1, 64), FX_JSONNUM_SYNTAX);
    assert_int_equal(TO(".5", 1, 64), FX_JSONNUM_SYNTAX);
    assert_int_equal(TO("1e", 1, 64), FX_JSONNUM_SYNTAX);
    assert_int_equal(TO("--1", 1, 64), FX_JSONNUM_SYNTAX);
    assert_int_equal(TO("1 ", 1, 64), FX_JSONNUM_SYNTAX);
#undef TO
}

static void test_base64(void **state)
{
    (void)state;
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    fx_buf_t b = FX_BUF_INIT;
    uint8_t dec_buf[16];
    for (size_t i = 0; i < FX_ARRAY_LEN(in); i++) {
        b.len = 0;
        fx_base64_encode(&b, (const uint8_t *)in[i], strlen(in[i]));
        assert_string_equal(fx_buf_cstr(&b), out[i]);
        long n = fx_base64_decode(out[i], strlen(out[i]), dec_buf);
        assert_int_equal(n, (long)strlen(in[i]));
        assert_memory_equal(dec_buf, in[i], (size_t)n);
        /* and without padding */
        size_t l = strlen(out[i]);
        while (l && out[i][l - 1] == '=')
            l--;
        assert_int_equal(fx_base64_decode(out[i], l, dec_buf), (long)strlen(in[i]));
    }
    assert_int_equal(fx_base64_decode("Z", 1, dec_buf), -1);
    assert_int_equal(fx_base64_decode("Zg=", 3, dec_buf), -1);
    assert_int_equal(fx_base64_decode("=", 1, dec_buf), -1);
    assert_int_equal(fx_base64_decode("Zm9v=", 5, dec_buf), -1);
    assert_int_equal(fx_base64_decode("Zm9\x80", 4, dec_buf), -1);
    fx_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_fixture_matches_proto_bytes),
        cmocka_unit_test(test_flamegraph_int64_strings),
        cmocka_unit_test(test_json_names),
        cmocka_unit_test(test_oneof_optional),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_select_series_double),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_empty_and_unknown),
        cmocka_unit_test(test_all_types),
        cmocka_unit_test(test_string_output_escapes),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_double_format),
        cmocka_unit_test(test_int_text),
        cmocka_unit_test(test_base64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
