/* test_http_static.c - embedded files: types, ETag/304, gzip, HEAD, the UI
 * at "/" not shadowing API routes, SPA fallback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/static.h"
#include "http_client.h"

static fx_http_server_t *srv;
static unsigned port;
static char html[4000], js[20000];
static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13};
static fx_static_file_t files[5];

static void api(fx_http_req_t *req, void *ctx)
{
    (void)ctx;
    fx_http_reply_text(req, 200, "api %s", req->path);
}

static int setup(void **state)
{
    (void)state;
    fx_err_t err = {0};
    curl_global_init(CURL_GLOBAL_ALL);
    memset(html, 0, sizeof html);
    strcpy(html, "<!doctype html><title>Fornax</title>");
    for (size_t i = strlen(html); i < sizeof html - 1; i++)
        html[i] = "<p>flame</p>"[i % 12];
    for (size_t i = 0; i < sizeof js - 1; i++)
        js[i] = "function f(){return 1;}\n"[i % 24];
    files[0] = (fx_static_file_t){"/index.html", (const unsigned char *)html, strlen(html)};
    files[1] = (fx_static_file_t){"/assets/app.js", (const unsigned char *)js, strlen(js)};
    files[2] = (fx_static_file_t){"/img/logo.png", png, sizeof png};
    files[3] = (fx_static_file_t){"/data.json", (const unsigned char *)"{\"a\":1}", 7};
    files[4] = (fx_static_file_t){NULL, NULL, 0};

    fx_http_options_t o = {.addr = "127.0.0.1", .threads = 2};
    srv = fx_http_server_new(&o);
    assert_int_equal(fx_static_mount(srv, "/", files, 0, &err), FX_OK);
    assert_int_equal(fx_static_mount(srv, "/ui/", files, FX_STATIC_SPA_FALLBACK, &err), FX_OK);
    assert_int_equal(fx_static_mount(srv, "/", files, 0, &err), FX_EEXIST);
    assert_int_equal(fx_static_mount(srv, "ui", files, 0, &err), FX_EINVAL);
    assert_int_equal(fx_static_mount(srv, "/ui", files, 0, &err), FX_EINVAL);
    assert_int_equal(fx_http_route(srv, "/api/labels", FX_HTTP_GET, 0, api, NULL, &err), FX_OK);
    assert_int_equal(fx_http_route(srv, "/index.json", FX_HTTP_GET, 0, api, NULL, &err), FX_OK);
    assert_int_equal(fx_http_server_start(srv, &err), FX_OK);
    port = fx_http_server_port(srv);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fx_http_server_free(srv);
    curl_global_cleanup();
    return 0;
}

static void assert_header(const tresp_t *r, const char *name, const char *want)
{
    char h[256];
    if (!tresp_header(r, name, h, sizeof h)) {
        fprintf(stderr, "no %s header in\n%s", name, (const char *)r->headers.data);
        fail();
    }
    assert_string_equal(h, want);
}

static void test_content_types(void **state)
{
    (void)state;
    assert_string_equal(fx_static_content_type("/index.html"), "text/html; charset=utf-8");
    assert_string_equal(fx_static_content_type("/a/b.JS"), "text/javascript; charset=utf-8");
    assert_string_equal(fx_static_content_type("/a.css"), "text/css; charset=utf-8");
    assert_string_equal(fx_static_content_type("/a.svg"), "image/svg+xml");
    assert_string_equal(fx_static_content_type("/a.woff2"), "font/woff2");
    assert_string_equal(fx_static_content_type("/a.v1/README"), "application/octet-stream");
    assert_string_equal(fx_static_content_type("/noext"), "application/octet-stream");
}

static void test_ui_bundle_is_terminated(void **state)
{
    (void)state;
    size_t n = 0;
    while (fx_ui_files[n].path) {
        assert_int_equal(fx_ui_files[n].path[0], '/');
        n++;
    }
    assert_null(fx_ui_files[n].data);
}

static void test_index_and_cache_headers(void **state)
{
    (void)state;
    tresp_t r, r2;
    char etag[64];

    assert_int_equal(http_do(port, "GET", "/", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    assert_header(&r, "Content-Type", "text/html; charset=utf-8");
    assert_header(&r, "Cache-Control", "no-cache");
    assert_null(tresp_header(&r, "Content-Encoding", etag, sizeof etag));
    assert_int_equal(r.body.len, strlen(html));
    assert_memory_equal(r.body.data, html, r.body.len);
    assert_non_null(tresp_header(&r, "ETag", etag, sizeof etag));
    assert_int_equal(strlen(etag), 18);
    assert_int_equal(etag[0], '"');

    assert_int_equal(http_do(port, "GET", "/index.html", NULL, NULL, 0, &r2), 0);
    assert_int_equal(r2.status, 200);
    assert_header(&r2, "ETag", etag);
    tresp_free(&r2);

    /* Revalidation: the same ETag gives 304 without a body. */
    char inm[96];
    snprintf(inm, sizeof inm, "If-None-Match: \"nope\", %s", etag);
    const char *h[] = {inm, NULL};
    assert_int_equal(http_do(port, "GET", "/", h, NULL, 0, &r2), 0);
    assert_int_equal(r2.status, 304);
    assert_int_equal(r2.body.len, 0);
    tresp_free(&r2);
    const char *other[] = {"If-None-Match: \"0000000000000000\"", NULL};
    assert_int_equal(http_do(port, "GET", "/", other, NULL, 0, &r2), 0);
    assert_int_equal(r2.status, 200);
    tresp_free(&r2);
    tresp_free(&r);
}

static void test_gzip_and_head(void **state)
{
    (void)state;
    tresp_t r;
    fx_buf_t plain = FX_BUF_INIT;
    char h[64];
    const char *gz[] = {"Accept-Encoding: gzip", NULL};

    assert_int_equal(http_do(port, "GET", "/assets/app.js", gz, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    assert_header(&r, "Content-Type", "text/javascript; charset=utf-8");
    assert_header(&r, "Content-Encoding", "gzip");
    assert_header(&r, "Cache-Control", "public, max-age=3600");
    assert_header(&r, "Vary", "Accept-Encoding");
    assert_true(r.body.len < strlen(js) / 10);
    tresp_plain_body(&r, &plain);
    assert_int_equal(plain.len, strlen(js));
    assert_memory_equal(plain.data, js, plain.len);
    fx_buf_free(&plain);
    tresp_free(&r);

    /* Binary and small files are never compressed. */
    assert_int_equal(http_do(port, "GET", "/img/logo.png", gz, NULL, 0, &r), 0);
    assert_header(&r, "Content-Type", "image/png");
    assert_null(tresp_header(&r, "Content-Encoding", h, sizeof h));
    assert_int_equal(r.body.len, sizeof png);
    assert_memory_equal(r.body.data, png, sizeof png);
    tresp_free(&r);

    assert_int_equal(http_do(port, "HEAD", "/assets/app.js", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    snprintf(h, sizeof h, "%zu", strlen(js));
    assert_header(&r, "Content-Length", h);
    tresp_free(&r);
}

static void test_api_routes_not_shadowed(void **state)
{
    (void)state;
    tresp_t r;
    assert_int_equal(http_do(port, "GET", "/api/labels", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal((const char *)r.body.data, "api /api/labels");
    tresp_free(&r);
    assert_int_equal(http_do(port, "GET", "/index.json", NULL, NULL, 0, &r), 0);
    assert_string_equal((const char *)r.body.data, "api /index.json");
    tresp_free(&r);

    assert_int_equal(http_do(port, "GET", "/missing.js", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 404);
    assert_string_equal((const char *)r.body.data,
                        "{\"code\":\"not_found\",\"message\":\"no such file: /missing.js\"}");
    tresp_free(&r);
    assert_int_equal(http_do(port, "GET", "/explore", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 404); /* no SPA fallback on this mount */
    tresp_free(&r);
    assert_int_equal(http_do(port, "POST", "/index.html", NULL, "x", 1, &r), 0);
    assert_int_equal(r.status, 405);
    assert_header(&r, "Allow", "GET, HEAD");
    tresp_free(&r);
}

static void test_prefix_mount_with_spa_fallback(void **state)
{
    (void)state;
    tresp_t r;
    assert_int_equal(http_do(port, "GET", "/ui/", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, strlen(html));
    tresp_free(&r);
    assert_int_equal(http_do(port, "GET", "/ui/data.json", NULL, NULL, 0, &r), 0);
    assert_header(&r, "Content-Type", "application/json");
    assert_string_equal((const char *)r.body.data, "{\"a\":1}");
    tresp_free(&r);
    assert_int_equal(http_do(port, "GET", "/ui/explore/flamegraph", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    assert_header(&r, "Content-Type", "text/html; charset=utf-8");
    tresp_free(&r);
    assert_int_equal(http_do(port, "GET", "/ui/assets/missing.css", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 404);
    tresp_free(&r);
    assert_int_equal(http_do(port, "GET", "/ui/../index.html", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200); /* curl normalises the dot segments */
    tresp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_types),
        cmocka_unit_test(test_ui_bundle_is_terminated),
        cmocka_unit_test(test_index_and_cache_headers),
        cmocka_unit_test(test_gzip_and_head),
        cmocka_unit_test(test_api_routes_not_shadowed),
        cmocka_unit_test(test_prefix_mount_with_spa_fallback),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
