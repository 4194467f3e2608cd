/* test_http_connect.c - Connect unary calls over a real server: a captured
 * buf-curl PushRequest, querier messages, content types, gzip, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/time.h"
#include "http/connect.h"
#include "http_client.h"
#include "json/pbjson.h"
#include "push/v1/push.pb-c.h"
#include "querier/v1/querier.pb-c.h"
#include "types/v1/types.pb-c.h"


static fx_http_server_t *srv, *mt_srv;
static unsigned port, mt_port;
static fx_buf_t push_body, raw_profile;

/* What the push handler saw, checked by the test after the call. */
static struct {
    int calls;
    char tenant[64], method[128], user_agent[128];
    int64_t deadline_left_ms;
} seen;

static int push_handler(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                        fx_err_t *err)
{
    const Push__V1__PushRequest *req = (const Push__V1__PushRequest *)in;
    seen.calls++;
    snprintf(seen.tenant, sizeof seen.tenant, "%s", call->tenant);
    snprintf(seen.method, sizeof seen.method, "%s", call->method);
    const char *ua = fx_call_header(call, "user-agent");
    snprintf(seen.user_agent, sizeof seen.user_agent, "%s", ua ? ua : "");
    seen.deadline_left_ms = call->deadline_ns ? (call->deadline_ns - fx_mono_ns()) / 1000000 : -1;

    if (req->n_series != 1 || req->series[0]->n_labels != 2 || req->series[0]->n_samples != 1)
        return fx_err_set(err, FX_EINVAL, "unexpected shape");
    const Types__V1__LabelPair *l0 = req->series[0]->labels[0], *l1 = req->series[0]->labels[1];
    const Push__V1__RawSample *s = req->series[0]->samples[0];
    if (strcmp(l0->name, "__name__") || strcmp(l0->value, "process_cpu") ||
        strcmp(l1->name, "service_name") || strcmp(l1->value, "buf-curl-test"))
        return fx_err_set(err, FX_EINVAL, "unexpected labels");
    if (strcmp(s->id, "00000000-0000-0000-0000-000000000001") ||
        s->raw_profile.len != raw_profile.len ||
        memcmp(s->raw_profile.data, raw_profile.data, raw_profile.len) != 0)
        return fx_err_set(err, FX_EINVAL, "unexpected sample");

    Push__V1__PushResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
    push__v1__push_response__init(resp);
    *out = &resp->base;
    return FX_OK;
}

/* LabelValues: name "err:<code>" fails with that code, "wrongtype" answers
 * the wrong message, "bare:<code>" fails without a message; otherwise it
 * answers 200 names "<name>-<i>" for i < start. */
static int label_values(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out,
                        fx_err_t *err)
{
    const Types__V1__LabelValuesRequest *req = (const Types__V1__LabelValuesRequest *)in;
    if (strncmp(req->name, "err:", 4) == 0)
        return fx_err_set(err, atoi(req->name + 4), "label %s failed", req->name);
    if (strncmp(req->name, "bare:", 5) == 0)
        return atoi(req->name + 5);
    if (strcmp(req->name, "wrongtype") == 0) {
        Types__V1__LabelNamesResponse *w = fx_arena_alloc(call->arena, sizeof *w);
        types__v1__label_names_response__init(w);
        *out = &w->base;
        return FX_OK;
    }
    Types__V1__LabelValuesResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
    types__v1__label_values_response__init(resp);
    resp->n_names = (size_t)req->start;
    resp->names = fx_arena_alloc(call->arena, (resp->n_names + 1) * sizeof *resp->names);
    for (size_t i = 0; i < resp->n_names; i++)
        resp->names[i] = fx_arena_printf(call->arena, "%s-%zu", req->name, i);
    *out = &resp->base;
    return FX_OK;
}

static int setup(void **state)
{
    (void)state;
    char path[512];
    fx_err_t err = {0};
    curl_global_init(CURL_GLOBAL_ALL);
    read_file_or_die(fixture_path("connect-push/buf-curl-push.body.bin", path, sizeof path),
                     &push_body);
    read_file_or_die(fixture_path("pprof/node-cpu-wall.pb.gz", path, sizeof path), &raw_profile);

    fx_http_options_t o = {.addr = "127.0.0.1", .threads = 2};
    srv = fx_http_server_new(&o);
    assert_int_equal(fx_connect_register(srv, "/push.v1.PusherService/Push",
                                         &push__v1__push_request__descriptor,
                                         &push__v1__push_response__descriptor, push_handler, NULL),
                     FX_OK);
    assert_int_equal(fx_connect_register_method(srv, &querier__v1__querier_service__descriptor,
                                                "LabelValues", label_values, NULL),
                     FX_OK);
    /* Registration errors. */
    assert_int_equal(fx_connect_register_method(srv, &querier__v1__querier_service__descriptor,
                                                "LabelValues", label_values, NULL),
                     FX_EEXIST);
    assert_int_equal(fx_connect_register_method(srv, &querier__v1__querier_service__descriptor,
                                                "NoSuchMethod", label_values, NULL),
                     FX_ENOTFOUND);
    assert_int_equal(fx_http_server_start(srv, &err), FX_OK);
    port = fx_http_server_port(srv);

    fx_http_options_t mo = {.addr = "127.0.0.1", .threads = 1, .multitenancy = 1};
    mt_srv = fx_http_server_new(&mo);
    assert_int_equal(fx_connect_register(mt_srv, "/push.v1.PusherService/Push",
                                         &push__v1__push_request__descriptor,
                                         &push__v1__push_response__descriptor, push_handler, NULL),
                     FX_OK);
    assert_int_equal(fx_http_server_start(mt_srv, &err), FX_OK);
    mt_port = fx_http_server_port(mt_srv);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fx_http_server_free(srv);
    fx_http_server_free(mt_srv);
    fx_buf_free(&push_body);
    fx_buf_free(&raw_profile);
    curl_global_cleanup();
    return 0;
}

static void assert_has(const tresp_t *r, const char *needle)
{
    if (!strstr((const char *)r->body.data, needle)) {
        fprintf(stderr, "body lacks \"%s\":\n%s\n", needle, (const char *)r->body.data);
        fail();
    }
}

static void assert_header(const tresp_t *r, const char *name, const char *want)
{
    char h[256];
    assert_non_null(tresp_header(r, name, h, sizeof h));
    assert_string_equal(h, want);
}

/* POSTs a LabelValuesRequest as proto and returns the reply. */
static void label_values_call(const char *name, int64_t start, const char *const *extra,
                              tresp_t *r)
{
    Types__V1__LabelValuesRequest req = TYPES__V1__LABEL_VALUES_REQUEST__INIT;
    uint8_t buf[512];
    const char *hdrs[8] = {"Content-Type: application/proto", "Connect-Protocol-Version: 1"};
    size_t nh = 2;
    for (size_t i = 0; extra && extra[i] && nh < 7; i++)
        hdrs[nh++] = extra[i];
    hdrs[nh] = NULL;
    req.name = (char *)name;
    req.start = start;
    size_t n = types__v1__label_values_request__pack(&req, buf);
    assert_int_equal(http_do(port, "POST", "/querier.v1.QuerierService/LabelValues", hdrs, buf, n,
                             r),
                     0);
}

static void test_push_fixture_round_trip(void **state)
{
    (void)state;
    tresp_t r;
    /* The headers buf curl sent (fixtures/connect-push/buf-curl-push.request.json). */
    const char *hdrs[] = {"User-Agent: connect-go/2.0.2 (go1.27.3) buf/1.75.0",
                          "Accept-Encoding: gzip", "Connect-Protocol-Version: 1",
                          "Content-Type: application/proto", "Connect-Timeout-Ms: 15000", NULL};
    memset(&seen, 0, sizeof seen);
    assert_int_equal(push_body.len, 2318);
    assert_int_equal(http_do(port, "POST", "/push.v1.PusherService/Push", hdrs, push_body.data,
                             push_body.len, &r),
                     0);
    assert_int_equal(r.status, 200);
    assert_header(&r, "Content-Type", "application/proto");
    assert_int_equal(r.body.len, 0); /* an empty PushResponse */
    assert_int_equal(seen.calls, 1);
    assert_string_equal(seen.tenant, "anonymous");
    assert_string_equal(seen.method, "/push.v1.PusherService/Push");
    assert_string_equal(seen.user_agent, "connect-go/2.0.2 (go1.27.3) buf/1.75.0");
    assert_true(seen.deadline_left_ms > 14000 && seen.deadline_left_ms <= 15000);
    tresp_free(&r);

    /* The same request gzipped, with a charset parameter. */
    fx_buf_t gz = FX_BUF_INIT;
    fx_gzip(push_body.data, push_body.len, 6, &gz);
    const char *gzh[] = {"Content-Type: application/proto; charset=utf-8",
                         "Content-Encoding: gzip", NULL};
    assert_int_equal(
        http_do(port, "POST", "/push.v1.PusherService/Push", gzh, gz.data, gz.len, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(seen.calls, 2);
    assert_int_equal(seen.deadline_left_ms, -1); /* no Connect-Timeout-Ms */
    tresp_free(&r);
    fx_buf_free(&gz);
}

static void test_response_decoded_and_gzipped(void **state)
{
    (void)state;
    tresp_t r;
    fx_buf_t plain = FX_BUF_INIT;
    const char *acc[] = {"Accept-Encoding: gzip", NULL};

    label_values_call("service_name", 200, acc, &r);
    assert_int_equal(r.status, 200);
    assert_header(&r, "Content-Type", "application/proto");
    assert_header(&r, "Content-Encoding", "gzip");
    tresp_plain_body(&r, &plain);
    Types__V1__LabelValuesResponse *resp =
        types__v1__label_values_response__unpack(NULL, plain.len, plain.data);
    assert_non_null(resp);
    assert_int_equal(resp->n_names, 200);
    assert_string_equal(resp->names[0], "service_name-0");
    assert_string_equal(resp->names[199], "service_name-199");
    types__v1__label_values_response__free_unpacked(resp, NULL);
    fx_buf_free(&plain);
    tresp_free(&r);

    /* Small answers are not compressed. */
    label_values_call("x", 2, acc, &r);
    assert_int_equal(r.status, 200);
    char h[32];
    assert_null(tresp_header(&r, "Content-Encoding", h, sizeof h));
    resp = types__v1__label_values_response__unpack(NULL, r.body.len, r.body.data);
    assert_non_null(resp);
    assert_int_equal(resp->n_names, 2);
    types__v1__label_values_response__free_unpacked(resp, NULL);
    tresp_free(&r);
}

static void test_method_and_content_type(void **state)
{
    (void)state;
    tresp_t r;

    assert_int_equal(http_do(port, "GET", "/querier.v1.QuerierService/LabelValues", NULL, NULL, 0,
                             &r),
                     0);
    assert_int_equal(r.status, 405);
    assert_header(&r, "Allow", "POST");
    tresp_free(&r);

    const char *text[] = {"Content-Type: text/plain", NULL};
    assert_int_equal(http_do(port, "POST", "/push.v1.PusherService/Push", text, "x", 1, &r), 0);
    assert_int_equal(r.status, 415);
    assert_header(&r, "Content-Type", "application/json");
    assert_header(&r, "Accept-Post", "application/json, application/proto");
    assert_has(&r, "unsupported Content-Type \\\"text/plain\\\"");
    tresp_free(&r);

    const char *none[] = {"Content-Type:", NULL}; /* curl: remove its default */
    assert_int_equal(http_do(port, "POST", "/push.v1.PusherService/Push", none, "x", 1, &r), 0);
    assert_int_equal(r.status, 415);
    tresp_free(&r);

    const char *grpc[] = {"Content-Type: application/grpc", NULL};
    assert_int_equal(http_do(port, "POST", "/push.v1.PusherService/Push", grpc, "x", 1, &r), 0);
    assert_int_equal(r.status, 415);
    tresp_free(&r);
}

static void test_malformed_bodies(void **state)
{
    (void)state;
    tresp_t r;
    const char *proto[] = {"Content-Type: application/proto", NULL};

    /* Truncated protobuf. */
    assert_int_equal(http_do(port, "POST", "/push.v1.PusherService/Push", proto, push_body.data,
                             push_body.len - 100, &r),
                     0);
    assert_int_equal(r.status, 400);
    assert_has(&r, "\"code\":\"invalid_argument\"");
    assert_has(&r, "malformed request body: 2218 bytes are not a valid protobuf push.v1.PushRequest");
    tresp_free(&r);

    /* A string field that is not UTF-8. */
    uint8_t bad[] = {0x0a, 0x03, 'a', 0xff, 'b'}; /* LabelValuesRequest.name = "a\xffb" */
    assert_int_equal(http_do(port, "POST", "/querier.v1.QuerierService/LabelValues", proto, bad,
                             sizeof bad, &r),
                     0);
    assert_int_equal(r.status, 400);
    assert_has(&r, "string field \\\"name\\\" of types.v1.LabelValuesRequest is not valid UTF-8");
    tresp_free(&r);

    /* Nested: a label value inside PushRequest.series[].labels[]. */
    Types__V1__LabelPair lp = TYPES__V1__LABEL_PAIR__INIT;
    Types__V1__LabelPair *lps[] = {&lp};
    Push__V1__RawProfileSeries ser = PUSH__V1__RAW_PROFILE_SERIES__INIT;
    Push__V1__RawProfileSeries *sers[] = {&ser};
    Push__V1__PushRequest pr = PUSH__V1__PUSH_REQUEST__INIT;
    lp.name = "service_name";
    lp.value = "caf\xc3";
    ser.n_labels = 1;
    ser.labels = lps;
    pr.n_series = 1;
    pr.series = sers;
    uint8_t buf[128];
    size_t n = push__v1__push_request__pack(&pr, buf);
    assert_int_equal(http_do(port, "POST", "/push.v1.PusherService/Push", proto, buf, n, &r), 0);
    assert_int_equal(r.status, 400);
    assert_has(&r, "string field \\\"value\\\"");
    tresp_free(&r);

    const char *tmo[] = {"Connect-Timeout-Ms: 12345678901", NULL};
    label_values_call("x", 1, tmo, &r);
    assert_int_equal(r.status, 400);
    assert_has(&r, "invalid Connect-Timeout-Ms");
    tresp_free(&r);
}

static void test_handler_errors(void **state)
{
    (void)state;
    static const struct {
        int code, http;
        const char *name;
    } t[] = {
        {FX_EINVAL, 400, "invalid_argument"},   {FX_ENOTFOUND, 404, "not_found"},
        {FX_ELIMIT, 429, "resource_exhausted"}, {FX_EUNAVAIL, 503, "unavailable"},
        {FX_EDEADLINE, 504, "deadline_exceeded"}, {FX_EUNIMPL, 501, "unimplemented"},
        {FX_EPRECOND, 400, "failed_precondition"}, {FX_ECANCELED, 499, "canceled"},
    };
    for (size_t i = 0; i < FX_ARRAY_LEN(t); i++) {
        tresp_t r;
        char name[32], want[160];
        snprintf(name, sizeof name, "err:%d", t[i].code);
        label_values_call(name, 0, NULL, &r);
        assert_int_equal(r.status, t[i].http);
        assert_header(&r, "Content-Type", "application/json");
        snprintf(want, sizeof want, "{\"code\":\"%s\",\"message\":\"label %s failed\"}", t[i].name,
                 name);
        assert_string_equal((const char *)r.body.data, want);
        tresp_free(&r);
    }

    tresp_t r;
    label_values_call("bare:-5", 0, NULL, &r);
    assert_int_equal(r.status, 503);
    assert_string_equal((const char *)r.body.data,
                        "{\"code\":\"unavailable\",\"message\":\"unavailable\"}");
    tresp_free(&r);

    label_values_call("wrongtype", 0, NULL, &r);
    assert_int_equal(r.status, 500);
    assert_has(&r, "returned types.v1.LabelNamesResponse, expected types.v1.LabelValuesResponse");
    tresp_free(&r);
}

static void test_tenant_required(void **state)
{
    (void)state;
    tresp_t r;
    const char *proto[] = {"Content-Type: application/proto", NULL};
    assert_int_equal(http_do(mt_port, "POST", "/push.v1.PusherService/Push", proto,
                             push_body.data, push_body.len, &r),
                     0);
    assert_int_equal(r.status, 401);
    assert_has(&r, "\"code\":\"unauthenticated\"");
    tresp_free(&r);

    const char *with[] = {"Content-Type: application/proto", "X-Scope-OrgID: tenant-a", NULL};
    memset(&seen, 0, sizeof seen);
    assert_int_equal(http_do(mt_port, "POST", "/push.v1.PusherService/Push", with, push_body.data,
                             push_body.len, &r),
                     0);
    assert_int_equal(r.status, 200);
    assert_string_equal(seen.tenant, "tenant-a");
    tresp_free(&r);
}

static void test_json_round_trip(void **state)
{
    (void)state;
    tresp_t r;
    const char *json[] = {"Content-Type: application/json; charset=utf-8", NULL};
    const char *body = "{\"name\":\"service_name\",\"start\":\"3\"}";
    assert_int_equal(http_do(port, "POST", "/querier.v1.QuerierService/LabelValues", json, body,
                             strlen(body), &r),
                     0);
    assert_int_equal(r.status, 200);
    assert_header(&r, "Content-Type", "application/json");
    assert_string_equal((const char *)r.body.data,
                        "{\"names\":[\"service_name-0\",\"service_name-1\",\"service_name-2\"]}");
    tresp_free(&r);

    assert_int_equal(http_do(port, "POST", "/querier.v1.QuerierService/LabelValues", json,
                             "{\"name\":", 8, &r),
                     0);
    assert_int_equal(r.status, 400);
    assert_has(&r, "malformed JSON request body for types.v1.LabelValuesRequest");
    tresp_free(&r);

    const char *ejson[] = {"Content-Type: application/json", NULL};
    body = "{\"name\":\"err:-2\"}";
    assert_int_equal(http_do(port, "POST", "/querier.v1.QuerierService/LabelValues", ejson, body,
                             strlen(body), &r),
                     0);
    assert_int_equal(r.status, 404);
    assert_string_equal((const char *)r.body.data,
                        "{\"code\":\"not_found\",\"message\":\"label err:-2 failed\"}");
    tresp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_fixture_round_trip),
        cmocka_unit_test(test_response_decoded_and_gzipped),
        cmocka_unit_test(test_method_and_content_type),
        cmocka_unit_test(test_malformed_bodies),
        cmocka_unit_test(test_handler_errors),
        cmocka_unit_test(test_tenant_required),
        cmocka_unit_test(test_json_round_trip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
