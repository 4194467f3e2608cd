/* test_http_admin.c - /ready with checks, build info JSON, config routes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdatomic.h>

#include "http/admin.h"
#include "http_client.h"

static fx_http_server_t *srv;
static fx_admin_t *adm;
static unsigned port;
static atomic_int ring_ok, store_ok;

static int ring_check(void *ctx, fx_err_t *why)
{
    (void)ctx;
    if (atomic_load(&ring_ok))
        return FX_OK;
    return fx_err_set(why, FX_EUNAVAIL, "0 of 3 ingesters ACTIVE");
}

static int store_check(void *ctx, fx_err_t *why)
{
    (void)ctx;
    (void)why;
    return atomic_load(&store_ok) ? FX_OK : FX_EUNAVAIL; /* no message: the code name is used */
}

static void dump_config(void *ctx, enum fx_config_view view, fx_buf_t *out)
{
    fx_buf_printf(out, "# %s\nserver:\n  http_listen_port: %d\n",
                  view == FX_CONFIG_EFFECTIVE ? "effective"
                  : view == FX_CONFIG_DIFF    ? "diff"
                                              : "default",
                  *(int *)ctx);
}

static int setup(void **state)
{
    (void)state;
    fx_err_t err = {0};
    curl_global_init(CURL_GLOBAL_ALL);
    fx_http_options_t o = {.addr = "127.0.0.1", .threads = 2, .multitenancy = 1};
    srv = fx_http_server_new(&o);
    adm = fx_admin_mount(srv, &err);
    assert_non_null(adm);
    assert_null(fx_admin_mount(srv, &err)); /* routes taken */
    assert_non_null(strstr(err.msg, "/ready is already registered"));
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

static void get(const char *path, tresp_t *r)
{
    assert_int_equal(http_do(port, "GET", path, NULL, NULL, 0, r), 0);
}

static void test_ready(void **state)
{
    (void)state;
    tresp_t r;
    char h[64];

    /* No checks: ready (and no tenant needed even with multi-tenancy on). */
    get("/ready", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal((const char *)r.body.data, "ready");
    assert_non_null(tresp_header(&r, "Content-Type", h, sizeof h));
    assert_string_equal(h, "text/plain; charset=utf-8");
    tresp_free(&r);

    /* Checks added while the server runs. */
    fx_admin_add_ready(adm, "Ingester ring", ring_check, NULL);
    fx_admin_add_ready(adm, "Store", store_check, NULL);
    get("/ready", &r);
    assert_int_equal(r.status, 503);
    assert_string_equal((const char *)r.body.data,
                        "Ingester ring not ready: 0 of 3 ingesters ACTIVE\n"
                        "Store not ready: unavailable\n");
    tresp_free(&r);

    atomic_store(&ring_ok, 1);
    get("/ready", &r);
    assert_int_equal(r.status, 503);
    assert_string_equal((const char *)r.body.data, "Store not ready: unavailable\n");
    tresp_free(&r);

    atomic_store(&store_ok, 1);
    get("/ready", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal((const char *)r.body.data, "ready");
    tresp_free(&r);

    assert_int_equal(http_do(port, "POST", "/ready", NULL, "", 0, &r), 0);
    assert_int_equal(r.status, 405);
    tresp_free(&r);
}

static void test_buildinfo(void **state)
{
    (void)state;
    tresp_t r;
    json_error_t jerr;
    get("/api/v1/status/buildinfo", &r);
    assert_int_equal(r.status, 200);
    json_t *root = json_loads((const char *)r.body.data, 0, &jerr);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "status")), "success");
    json_t *data = json_object_get(root, "data");
    const fx_buildinfo_t *bi = fx_buildinfo();
    assert_string_equal(json_string_value(json_object_get(data, "version")), bi->version);
    assert_string_equal(json_string_value(json_object_get(data, "revision")), bi->revision);
    assert_string_equal(json_string_value(json_object_get(data, "branch")), bi->branch);
    assert_string_equal(json_string_value(json_object_get(data, "buildUser")), "");
    assert_string_equal(json_string_value(json_object_get(data, "buildDate")), "");
    assert_string_equal(json_string_value(json_object_get(data, "goVersion")), "");
    assert_int_equal(json_object_size(data), 6);
    /* The Makefile's -D flags reached buildinfo.c. */
    assert_string_not_equal(bi->version, "unknown");
    assert_int_equal(strncmp(bi->compiler, "gcc ", 4), 0);
    json_decref(root);
    tresp_free(&r);
}

static void test_config(void **state)
{
    (void)state;
    tresp_t r;
    static int port_cfg = 4040;

    get("/api/v1/status/config", &r);
    assert_int_equal(r.status, 501);
    assert_non_null(strstr((const char *)r.body.data, "no configuration provider"));
    tresp_free(&r);

    fx_admin_set_config(adm, dump_config, &port_cfg);
    get("/api/v1/status/config", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal((const char *)r.body.data,
                        "# effective\nserver:\n  http_listen_port: 4040\n");
    char h[64];
    assert_non_null(tresp_header(&r, "Content-Type", h, sizeof h));
    assert_string_equal(h, "text/plain; charset=utf-8");
    tresp_free(&r);
    get("/api/v1/status/config/diff", &r);
    assert_non_null(strstr((const char *)r.body.data, "# diff\n"));
    tresp_free(&r);
    get("/api/v1/status/config/default", &r);
    assert_non_null(strstr((const char *)r.body.data, "# default\n"));
    tresp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready),
        cmocka_unit_test(test_buildinfo),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
