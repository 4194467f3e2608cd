/* test_http_server.c - the HTTP server over real sockets: routing, query and
 * path decoding, bodies and gzip, errors, tenants, observer, concurrency. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/time.h"
#include "http/server.h"
#include "http/status.h"
#include "http_client.h"

#define MAX_BODY (64 * 1024)

static fx_http_server_t *srv, *mt_srv;
static unsigned port, mt_port;

/* --- handlers ------------------------------------------------------------- */

/* Describes the request as text lines. */
static void echo(fx_http_req_t *req, void *ctx)
{
    fx_buf_t b = FX_BUF_INIT;
    const char *xt = fx_http_req_header(req, "x-TEST");
    size_t nv = 0;
    const char **vals = fx_http_req_query_all(req, "v", &nv);
    fx_buf_printf(&b, "tag=%s\nmethod=%s\npath=%s\nroute=%s\nraw_query=%s\n", (const char *)ctx,
                  req->method, req->path, req->route, req->raw_query);
    fx_buf_printf(&b, "a=%s\n", fx_http_req_query(req, "a") ? fx_http_req_query(req, "a") : "(null)");
    for (size_t i = 0; i < nv; i++)
        fx_buf_printf(&b, "v[%zu]=%s\n", i, vals[i]);
    fx_buf_printf(&b, "x-test=%s\ntenant=%s\nbody=%zu wire=%zu hash=%016llx\n", xt ? xt : "(null)",
                  req->tenant ? req->tenant : "(null)", req->body.len, req->wire_body_len,
                  (unsigned long long)fx_hash64(req->body.data, req->body.len, 1));
    fx_http_reply_buf(req, 200, "text/plain", &b);
}

/* Replies with ?n= bytes of a compressible pattern. */
static void big(fx_http_req_t *req, void *ctx)
{
    (void)ctx;
    const char *ns = fx_http_req_query(req, "n");
    size_t n = ns ? strtoul(ns, NULL, 10) : 0;
    char *p = fx_arena_alloc(req->arena, n + 1);
    for (size_t i = 0; i < n; i++)
        p[i] = "flamegraph;"[i % 11];
    fx_http_reply(req, 200, "text/plain", p, n);
}

static void error_code(fx_http_req_t *req, void *ctx)
{
    (void)ctx;
    int code = atoi(fx_http_req_query(req, "code"));
    fx_http_reply_error(req, code, "failed with \"%s\"\n\xff", fx_status_name(code));
}

static void no_reply(fx_http_req_t *req, void *ctx)
{
    (void)req;
    (void)ctx;
}

static pthread_mutex_t block_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t block_cv = PTHREAD_COND_INITIALIZER;
static int block_entered, block_release;

/* Blocks until the test releases it (at most 10 s), like a slow gRPC call. */
static void blocking(fx_http_req_t *req, void *ctx)
{
    (void)ctx;
    int64_t until = fx_mono_ns() + 10 * 1000000000LL;
    pthread_mutex_lock(&block_mu);
    block_entered = 1;
    pthread_cond_broadcast(&block_cv);
    while (!block_release && fx_mono_ns() < until) {
        pthread_mutex_unlock(&block_mu);
        usleep(1000);
        pthread_mutex_lock(&block_mu);
    }
    int released = block_release;
    pthread_mutex_unlock(&block_mu);
    fx_http_reply_text(req, 200, "released=%d", released);
}

static atomic_int obs_count;
static char obs_last_route[64];
static int obs_last_status;
static pthread_mutex_t obs_mu = PTHREAD_MUTEX_INITIALIZER;

static void observer(const fx_http_observation_t *o, void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&obs_mu);
    snprintf(obs_last_route, sizeof obs_last_route, "%s", o->route);
    obs_last_status = o->status;
    pthread_mutex_unlock(&obs_mu);
    atomic_fetch_add(&obs_count, 1);
}

static void add(fx_http_server_t *s, const char *path, unsigned methods, unsigned flags,
                fx_http_handler_fn fn, const char *tag)
{
    fx_err_t err = {0};
    assert_int_equal(fx_http_route(s, path, methods, flags, fn, (void *)tag, &err), FX_OK);
}

static int setup(void **state)
{
    (void)state;
    fx_err_t err = {0};
    curl_global_init(CURL_GLOBAL_ALL);

    fx_http_options_t o = {.addr = "127.0.0.1", .threads = 4, .max_body_bytes = MAX_BODY};
    srv = fx_http_server_new(&o);
    add(srv, "/exact", FX_HTTP_GET, 0, echo, "exact");
    add(srv, "/exact", FX_HTTP_POST | FX_HTTP_PUT, 0, echo, "exact-post");
    add(srv, "/p/", 0, FX_HTTP_PREFIX, echo, "prefix-p");
    add(srv, "/p/deeper/", 0, FX_HTTP_PREFIX, echo, "prefix-deeper");
    add(srv, "/p/exact", FX_HTTP_GET, 0, echo, "exact-in-prefix");
    add(srv, "/post-only", FX_HTTP_POST, 0, echo, "post-only");
    add(srv, "/tenant", 0, FX_HTTP_TENANT, echo, "tenant");
    add(srv, "/big", FX_HTTP_GET, 0, big, "big");
    add(srv, "/error", FX_HTTP_GET, 0, error_code, "error");
    add(srv, "/noreply", FX_HTTP_GET, 0, no_reply, "noreply");
    add(srv, "/block", FX_HTTP_GET, 0, blocking, "block");
    assert_int_equal(fx_http_route(srv, "/exact", FX_HTTP_GET, 0, echo, NULL, &err), FX_EEXIST);
    assert_non_null(strstr(err.msg, "already registered"));
    assert_int_equal(fx_http_route(srv, "nope", 0, 0, echo, NULL, &err), FX_EINVAL);
    fx_http_server_set_observer(srv, observer, NULL);
    assert_int_equal(fx_http_server_start(srv, &err), FX_OK);
    port = fx_http_server_port(srv);
    assert_true(port > 0);

    fx_http_options_t mo = {.addr = "127.0.0.1", .threads = 1, .multitenancy = 1};
    mt_srv = fx_http_server_new(&mo);
    assert_int_equal(fx_http_server_options(mt_srv)->threads, 1);
    add(mt_srv, "/tenant", 0, FX_HTTP_TENANT, echo, "tenant");
    add(mt_srv, "/open", 0, 0, echo, "open");
    assert_int_equal(fx_http_server_start(mt_srv, &err), FX_OK);
    mt_port = fx_http_server_port(mt_srv);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fx_http_server_free(srv);
    fx_http_server_free(mt_srv);
    curl_global_cleanup();
    return 0;
}

static void get(const char *path, const char *const *hdrs, tresp_t *r)
{
    assert_int_equal(http_do(port, "GET", path, hdrs, NULL, 0, r), 0);
}

static void assert_has(const tresp_t *r, const char *needle)
{
    if (!strstr((const char *)r->body.data, needle)) {
        fprintf(stderr, "body lacks \"%s\":\n%s\n", needle, (const char *)r->body.data);
        fail();
    }
}

/* --- tests ------------------------------------------------------------------ */

static void test_defaults(void **state)
{
    (void)state;
    fx_http_server_t *s = fx_http_server_new(NULL);
    const fx_http_options_t *o = fx_http_server_options(s);
    assert_true(o->threads >= 4);
    assert_true(o->threads >= 2 * sysconf(_SC_NPROCESSORS_ONLN));
    assert_int_equal(o->max_body_bytes, 256u << 20);
    assert_int_equal(o->multitenancy, 0);
    assert_int_equal(fx_http_server_port(s), 0);
    fx_http_server_stop(s); /* never started: no-op */
    fx_http_server_free(s);
}

static void test_status_table(void **state)
{
    (void)state;
    static const struct {
        int code, http;
        const char *name;
    } t[] = {
        {FX_EINVAL, 400, "invalid_argument"},    {FX_ENOTFOUND, 404, "not_found"},
        {FX_EEXIST, 409, "already_exists"},      {FX_ELIMIT, 429, "resource_exhausted"},
        {FX_EUNAVAIL, 503, "unavailable"},       {FX_EINTERNAL, 500, "internal"},
        {FX_ETOOBIG, 413, "resource_exhausted"}, {FX_EUNAUTH, 401, "unauthenticated"},
        {FX_EUNIMPL, 501, "unimplemented"},      {FX_EIO, 500, "internal"},
        {FX_ECORRUPT, 500, "data_loss"},         {FX_EDEADLINE, 504, "deadline_exceeded"},
        {FX_ECANCELED, 499, "canceled"},         {FX_EPRECOND, 400, "failed_precondition"},
        {FX_EPERM, 403, "permission_denied"},
    };
    for (size_t i = 0; i < FX_ARRAY_LEN(t); i++) {
        assert_int_equal(fx_http_status(t[i].code), t[i].http);
        assert_string_equal(fx_status_name(t[i].code), t[i].name);
    }
    assert_int_equal(fx_http_status(FX_OK), 200);
    assert_int_equal(fx_http_status(-999), 500);
}

static void test_routing(void **state)
{
    (void)state;
    tresp_t r;
    char h[128];

    get("/exact", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_has(&r, "tag=exact\n");
    tresp_free(&r);

    assert_int_equal(http_do(port, "PUT", "/exact", NULL, "x", 1, &r), 0);
    assert_int_equal(r.status, 200);
    assert_has(&r, "tag=exact-post\nmethod=PUT\n");
    tresp_free(&r);

    /* HEAD is served by the GET route, without a body. */
    assert_int_equal(http_do(port, "HEAD", "/exact", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    tresp_free(&r);

    /* Longest prefix wins; an exact route beats every prefix. */
    get("/p/a/b", NULL, &r);
    assert_has(&r, "tag=prefix-p\n");
    assert_has(&r, "route=/p/\n");
    tresp_free(&r);
    get("/p/deeper/x", NULL, &r);
    assert_has(&r, "tag=prefix-deeper\n");
    tresp_free(&r);
    get("/p/exact", NULL, &r);
    assert_has(&r, "tag=exact-in-prefix\n");
    tresp_free(&r);
    get("/p/exactly", NULL, &r);
    assert_has(&r, "tag=prefix-p\n");
    tresp_free(&r);

    /* Unknown path: 404 Connect JSON. */
    get("/nope", NULL, &r);
    assert_int_equal(r.status, 404);
    assert_non_null(tresp_header(&r, "Content-Type", h, sizeof h));
    assert_string_equal(h, "application/json");
    assert_string_equal((const char *)r.body.data,
                        "{\"code\":\"not_found\",\"message\":\"no route for GET /nope\"}");
    tresp_free(&r);

    /* Known path, wrong method: 405 with Allow. */
    get("/post-only", NULL, &r);
    assert_int_equal(r.status, 405);
    assert_non_null(tresp_header(&r, "Allow", h, sizeof h));
    assert_string_equal(h, "POST");
    assert_has(&r, "method GET is not allowed");
    tresp_free(&r);
    assert_int_equal(http_do(port, "DELETE", "/exact", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 405);
    assert_non_null(tresp_header(&r, "Allow", h, sizeof h));
    assert_string_equal(h, "GET, HEAD, POST, PUT");
    tresp_free(&r);
}

static void test_query_and_path(void **state)
{
    (void)state;
    tresp_t r;

    get("/p/sp%20ace%2Fx?a=1%2B1+%3D+2&v=x&v=&v=%E2%9C%93&flag&&a=second", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_has(&r, "path=/p/sp ace/x\n");
    assert_has(&r, "raw_query=a=1%2B1+%3D+2&v=x&v=&v=%E2%9C%93&flag&&a=second\n");
    assert_has(&r, "a=1+1 = 2\n"); /* first of the repeated key */
    assert_has(&r, "v[0]=x\nv[1]=\nv[2]=\xE2\x9C\x93\n");
    tresp_free(&r);

    get("/p/x?name=app%zz", NULL, &r);
    assert_int_equal(r.status, 400);
    assert_has(&r, "\"code\":\"invalid_argument\"");
    assert_has(&r, "invalid query string");
    assert_has(&r, "query parameter \\\"name\\\" value: invalid percent-escape");
    tresp_free(&r);

    get("/p/x?a=%00", NULL, &r);
    assert_int_equal(r.status, 400);
    assert_has(&r, "NUL");
    tresp_free(&r);

    get("/p/bad%2", NULL, &r);
    assert_int_equal(r.status, 400);
    assert_has(&r, "invalid request path");
    tresp_free(&r);
}

static void test_headers_case_insensitive(void **state)
{
    (void)state;
    tresp_t r;
    const char *h[] = {"X-Test: hello", NULL};
    get("/exact", h, &r);
    assert_has(&r, "x-test=hello\n");
    tresp_free(&r);
}

static void test_request_bodies(void **state)
{
    (void)state;
    tresp_t r;
    char want[64];
    uint8_t body[5000];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (uint8_t)(i * 7);
    snprintf(want, sizeof want, "body=%zu wire=%zu hash=%016llx\n", sizeof body, sizeof body,
             (unsigned long long)fx_hash64(body, sizeof body, 1));

    /* Plain. */
    assert_int_equal(http_do(port, "POST", "/exact", NULL, body, sizeof body, &r), 0);
    assert_int_equal(r.status, 200);
    assert_has(&r, want);
    tresp_free(&r);

    /* Gzip: the handler sees the decompressed bytes. */
    fx_buf_t gz = FX_BUF_INIT;
    fx_gzip(body, sizeof body, 6, &gz);
    const char *gzh[] = {"Content-Encoding: gzip", NULL};
    assert_int_equal(http_do(port, "POST", "/exact", gzh, gz.data, gz.len, &r), 0);
    assert_int_equal(r.status, 200);
    snprintf(want, sizeof want, "body=%zu wire=%zu hash=%016llx\n", sizeof body, gz.len,
             (unsigned long long)fx_hash64(body, sizeof body, 1));
    assert_has(&r, want);
    tresp_free(&r);

    /* Truncated gzip: 400 that says so. */
    assert_int_equal(http_do(port, "POST", "/exact", gzh, gz.data, gz.len - 9, &r), 0);
    assert_int_equal(r.status, 400);
    assert_has(&r, "\"code\":\"invalid_argument\"");
    assert_has(&r, "not valid gzip");
    tresp_free(&r);
    fx_buf_free(&gz);

    /* Not gzip at all. */
    assert_int_equal(http_do(port, "POST", "/exact", gzh, "hello", 5, &r), 0);
    assert_int_equal(r.status, 400);
    assert_has(&r, "not valid gzip");
    tresp_free(&r);

    /* Gzip bomb: small on the wire, over the limit once decompressed. */
    uint8_t *zeros = calloc(1, 4 * MAX_BODY);
    fx_gzip(zeros, 4 * MAX_BODY, 6, &gz);
    assert_true(gz.len < MAX_BODY);
    assert_int_equal(http_do(port, "POST", "/exact", gzh, gz.data, gz.len, &r), 0);
    assert_int_equal(r.status, 413);
    assert_has(&r, "\"code\":\"resource_exhausted\"");
    assert_has(&r, "after gzip decompression");
    tresp_free(&r);
    fx_buf_free(&gz);

    /* Exactly at the limit is fine; above it evhttp answers 413. */
    assert_int_equal(http_do(port, "POST", "/exact", NULL, zeros, MAX_BODY, &r), 0);
    assert_int_equal(r.status, 200);
    tresp_free(&r);
    assert_int_equal(http_do(port, "POST", "/exact", NULL, zeros, MAX_BODY + 1, &r), 0);
    assert_int_equal(r.status, 413);
    tresp_free(&r);
    free(zeros);

    /* Unknown content coding. */
    const char *br[] = {"Content-Encoding: br", NULL};
    assert_int_equal(http_do(port, "POST", "/exact", br, "x", 1, &r), 0);
    assert_int_equal(r.status, 415);
    assert_has(&r, "unsupported Content-Encoding \\\"br\\\"");
    tresp_free(&r);
}

static void test_gzip_responses(void **state)
{
    (void)state;
    tresp_t r;
    char h[64];
    fx_buf_t plain = FX_BUF_INIT;
    const char *acc[] = {"Accept-Encoding: deflate, gzip;q=0.5", NULL};

    get("/big?n=100000", acc, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(tresp_header(&r, "Content-Encoding", h, sizeof h));
    assert_string_equal(h, "gzip");
    assert_non_null(tresp_header(&r, "Vary", h, sizeof h));
    assert_true(r.body.len < 100000 / 10);
    tresp_plain_body(&r, &plain);
    assert_int_equal(plain.len, 100000);
    assert_memory_equal(plain.data, "flamegraph;flamegraph;", 22);
    fx_buf_free(&plain);
    tresp_free(&r);

    /* Small replies, clients without gzip and q=0 refusals stay plain. */
    get("/big?n=1000", acc, &r);
    assert_null(tresp_header(&r, "Content-Encoding", h, sizeof h));
    assert_int_equal(r.body.len, 1000);
    tresp_free(&r);
    get("/big?n=100000", NULL, &r);
    assert_null(tresp_header(&r, "Content-Encoding", h, sizeof h));
    assert_int_equal(r.body.len, 100000);
    tresp_free(&r);
    const char *q0[] = {"Accept-Encoding: gzip;q=0, identity", NULL};
    get("/big?n=100000", q0, &r);
    assert_null(tresp_header(&r, "Content-Encoding", h, sizeof h));
    tresp_free(&r);
    const char *q0star[] = {"Accept-Encoding: gzip;q=0.000, *", NULL};
    get("/big?n=100000", q0star, &r);
    assert_null(tresp_header(&r, "Content-Encoding", h, sizeof h));
    tresp_free(&r);
    const char *xgz[] = {"Accept-Encoding: x-gzip", NULL};
    get("/big?n=100000", xgz, &r);
    assert_non_null(tresp_header(&r, "Content-Encoding", h, sizeof h));
    tresp_free(&r);
    const char *star[] = {"Accept-Encoding: *", NULL};
    get("/big?n=100000", star, &r);
    assert_non_null(tresp_header(&r, "Content-Encoding", h, sizeof h));
    tresp_free(&r);
}

static void test_error_json(void **state)
{
    (void)state;
    static const struct {
        int code, http;
        const char *name;
    } t[] = {
        {FX_EINVAL, 400, "invalid_argument"}, {FX_ENOTFOUND, 404, "not_found"},
        {FX_ELIMIT, 429, "resource_exhausted"}, {FX_EUNAVAIL, 503, "unavailable"},
        {FX_EUNAUTH, 401, "unauthenticated"}, {FX_EDEADLINE, 504, "deadline_exceeded"},
        {FX_EPERM, 403, "permission_denied"}, {FX_ECORRUPT, 500, "data_loss"},
    };
    for (size_t i = 0; i < FX_ARRAY_LEN(t); i++) {
        tresp_t r;
        char path[64], want[256];
        snprintf(path, sizeof path, "/error?code=%d", t[i].code);
        get(path, NULL, &r);
        assert_int_equal(r.status, t[i].http);
        /* Quotes and newlines escaped; the stray 0xff byte became U+FFFD. */
        snprintf(want, sizeof want,
                 "{\"code\":\"%s\",\"message\":\"failed with \\\"%s\\\"\\n\xef\xbf\xbd\"}",
                 t[i].name, t[i].name);
        assert_string_equal((const char *)r.body.data, want);
        tresp_free(&r);
    }
}

static void test_no_reply_is_500(void **state)
{
    (void)state;
    tresp_t r;
    get("/noreply", NULL, &r);
    assert_int_equal(r.status, 500);
    assert_has(&r, "sent no reply");
    tresp_free(&r);
}

static void test_observer(void **state)
{
    (void)state;
    tresp_t r;
    int before = atomic_load(&obs_count);
    get("/post-only", NULL, &r);
    tresp_free(&r);
    /* The observer runs before the reply is sent, so it has run by now. */
    assert_int_equal(atomic_load(&obs_count), before + 1);
    pthread_mutex_lock(&obs_mu);
    assert_string_equal(obs_last_route, "notfound");
    assert_int_equal(obs_last_status, 405);
    pthread_mutex_unlock(&obs_mu);
    get("/p/q", NULL, &r);
    tresp_free(&r);
    pthread_mutex_lock(&obs_mu);
    assert_string_equal(obs_last_route, "/p/");
    assert_int_equal(obs_last_status, 200);
    pthread_mutex_unlock(&obs_mu);
}

static void test_tenants(void **state)
{
    (void)state;
    tresp_t r;
    const char *acme[] = {"X-Scope-OrgID: acme", NULL};

    /* Multi-tenancy off: header ignored, everyone is anonymous. */
    get("/tenant", acme, &r);
    assert_has(&r, "tenant=anonymous\n");
    tresp_free(&r);

    /* On: required on tenant routes ... */
    assert_int_equal(http_do(mt_port, "GET", "/tenant", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 401);
    assert_has(&r, "\"code\":\"unauthenticated\"");
    assert_has(&r, "X-Scope-OrgID");
    tresp_free(&r);
    assert_int_equal(http_do(mt_port, "GET", "/tenant", acme, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    assert_has(&r, "tenant=acme\n");
    tresp_free(&r);
    const char *bad[] = {"X-Scope-OrgID: ac/me", NULL};
    assert_int_equal(http_do(mt_port, "GET", "/tenant", bad, NULL, 0, &r), 0);
    assert_int_equal(r.status, 400);
    assert_has(&r, "unsupported character '/'");
    tresp_free(&r);
    const char *two[] = {"X-Scope-OrgID: a|b", NULL};
    assert_int_equal(http_do(mt_port, "GET", "/tenant", two, NULL, 0, &r), 0);
    assert_int_equal(r.status, 400);
    assert_has(&r, "more than one tenant");
    tresp_free(&r);

    /* ... while other routes run without one. */
    assert_int_equal(http_do(mt_port, "GET", "/open", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    assert_has(&r, "tenant=(null)\n");
    tresp_free(&r);
    assert_int_equal(http_do(mt_port, "GET", "/open", acme, NULL, 0, &r), 0);
    assert_has(&r, "tenant=acme\n");
    tresp_free(&r);
}

static void test_keep_alive(void **state)
{
    (void)state;
    char url[128];
    long connects = -1;
    fx_buf_t sink = FX_BUF_INIT;
    CURL *c = curl_easy_init();
    snprintf(url, sizeof url, "http://127.0.0.1:%u/exact", port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tc_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(curl_easy_perform(c), CURLE_OK);
        curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
        assert_int_equal(connects, i == 0 ? 1 : 0); /* reused after the first */
    }
    curl_easy_cleanup(c);
    fx_buf_free(&sink);
}

/* HEAD keeps keep-alive framing intact: pipelined HEAD, GET, bad request. */
static void test_pipelined_head_and_get(void **state)
{
    (void)state;
    fx_buf_t out = FX_BUF_INIT;
    raw_exchange(port,
                 "HEAD /big?n=5000 HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /big?n=3 HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /exact?a=%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                 &out);
    const char *s = (const char *)out.data;
    const char *second = strstr(s, "\r\n\r\nHTTP/1.1 200 OK\r\n");
    assert_non_null(strstr(s, "Content-Length: 5000\r\n"));
    assert_non_null(second);
    assert_null(strstr(s, "flamegraph;flamegraph")); /* no HEAD body leaked */
    assert_non_null(strstr(second, "\r\n\r\nfla"));
    assert_non_null(strstr(second, "fla" "HTTP/1.1 400 Bad Request\r\n"));
    assert_non_null(strstr(second, "invalid query string"));
    fx_buf_free(&out);
}

static void test_header_limit(void **state)
{
    (void)state;
    fx_buf_t req = FX_BUF_INIT, out = FX_BUF_INIT;
    fx_buf_puts(&req, "GET /exact HTTP/1.1\r\nHost: x\r\nX-Big: ");
    for (int i = 0; i < (1 << 20) / 64 + 1; i++)
        fx_buf_puts(&req, "0123456789012345678901234567890123456789012345678901234567890123");
    fx_buf_puts(&req, "\r\nConnection: close\r\n\r\n");
    raw_exchange(port, fx_buf_cstr(&req), &out);
    /* Refused by evhttp (or the connection reset while we were still
     * sending); never a 200. */
    assert_null(strstr((const char *)out.data, "200 OK"));
    if (out.len)
        assert_non_null(strstr((const char *)out.data, "HTTP/1.1 400 Bad Request"));
    fx_buf_free(&req);
    fx_buf_free(&out);
}

typedef struct client_arg {
    int ok;
    int64_t done_ns;
} client_arg_t;

static void *fast_client(void *p)
{
    client_arg_t *a = p;
    for (int i = 0; i < 5; i++) {
        tresp_t r;
        if (http_do(port, "GET", "/exact", NULL, NULL, 0, &r) == 0 && r.status == 200)
            a->ok++;
        tresp_free(&r);
    }
    a->done_ns = fx_mono_ns();
    return NULL;
}

static void *block_client(void *p)
{
    tresp_t *r = p;
    http_do(port, "GET", "/block", NULL, NULL, 0, r);
    return NULL;
}

static void test_blocking_handler_does_not_stall_others(void **state)
{
    (void)state;
    pthread_t bt, ft[6];
    client_arg_t fa[6];
    tresp_t br;

    pthread_create(&bt, NULL, block_client, &br);
    pthread_mutex_lock(&block_mu);
    while (!block_entered)
        pthread_cond_wait(&block_cv, &block_mu);
    pthread_mutex_unlock(&block_mu);

    /* One worker is stuck; six clients still get 30 answers from the others. */
    memset(fa, 0, sizeof fa);
    for (int i = 0; i < 6; i++)
        pthread_create(&ft[i], NULL, fast_client, &fa[i]);
    for (int i = 0; i < 6; i++)
        pthread_join(ft[i], NULL);
    int64_t released_at = fx_mono_ns();
    pthread_mutex_lock(&block_mu);
    block_release = 1;
    pthread_mutex_unlock(&block_mu);
    pthread_join(bt, NULL);

    for (int i = 0; i < 6; i++) {
        assert_int_equal(fa[i].ok, 5);
        assert_true(fa[i].done_ns < released_at);
    }
    assert_int_equal(br.status, 200);
    assert_string_equal((const char *)br.body.data, "released=1");
    tresp_free(&br);
}

/* A client that gives up while its handler still runs: the late reply goes
 * nowhere, and the worker carries on. */
static void test_client_gone_before_reply(void **state)
{
    (void)state;
    char url[128];
    fx_buf_t sink = FX_BUF_INIT;
    pthread_mutex_lock(&block_mu);
    block_entered = 0;
    block_release = 0;
    pthread_mutex_unlock(&block_mu);

    CURL *c = curl_easy_init();
    snprintf(url, sizeof url, "http://127.0.0.1:%u/block", port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tc_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 300L);
    assert_int_equal(curl_easy_perform(c), CURLE_OPERATION_TIMEDOUT);
    curl_easy_cleanup(c); /* closes the connection */
    fx_buf_free(&sink);

    pthread_mutex_lock(&block_mu);
    assert_int_equal(block_entered, 1);
    block_release = 1;
    pthread_mutex_unlock(&block_mu);
    for (int i = 0; i < 8; i++) { /* every worker still answers */
        tresp_t r;
        assert_int_equal(http_do(port, "GET", "/exact", NULL, NULL, 0, &r), 0);
        assert_int_equal(r.status, 200);
        tresp_free(&r);
    }
}

static void test_listen_errors(void **state)
{
    (void)state;
    fx_err_t err = {0};
    fx_http_options_t o = {.addr = "127.0.0.1", .port = (uint16_t)port, .threads = 1};
    fx_http_server_t *s = fx_http_server_new(&o);
    assert_int_equal(fx_http_server_start(s, &err), FX_EIO);
    assert_non_null(strstr(err.msg, "Address already in use"));
    fx_http_server_free(s);

    fx_http_options_t bad = {.addr = "not an address", .threads = 1};
    s = fx_http_server_new(&bad);
    assert_int_equal(fx_http_server_start(s, &err), FX_EIO);
    assert_non_null(strstr(err.msg, "not an address"));
    fx_http_server_free(s);
}

static void test_stop_then_refused(void **state)
{
    (void)state;
    fx_err_t err = {0};
    fx_http_options_t o = {.addr = "127.0.0.1", .threads = 2};
    fx_http_server_t *s = fx_http_server_new(&o);
    add(s, "/x", 0, 0, echo, "x");
    assert_int_equal(fx_http_server_start(s, &err), FX_OK);
    unsigned p = fx_http_server_port(s);
    tresp_t r;
    assert_int_equal(http_do(p, "GET", "/x", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    tresp_free(&r);
    fx_http_server_stop(s);
    fx_http_server_stop(s);
    assert_int_not_equal(http_do(p, "GET", "/x", NULL, NULL, 0, &r), 0);
    tresp_free(&r);
    fx_http_server_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_status_table),
        cmocka_unit_test(test_routing),
        cmocka_unit_test(test_query_and_path),
        cmocka_unit_test(test_headers_case_insensitive),
        cmocka_unit_test(test_request_bodies),
        cmocka_unit_test(test_gzip_responses),
        cmocka_unit_test(test_error_json),
        cmocka_unit_test(test_no_reply_is_500),
        cmocka_unit_test(test_observer),
        cmocka_unit_test(test_tenants),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_pipelined_head_and_get),
        cmocka_unit_test(test_header_limit),
        cmocka_unit_test(test_blocking_handler_does_not_stall_others),
        cmocka_unit_test(test_client_gone_before_reply),
        cmocka_unit_test(test_listen_errors),
        cmocka_unit_test(test_stop_then_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
