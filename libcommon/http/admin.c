/* admin.c - /ready, build info and config routes. */
#include "http/admin.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct check {
    char *name;
    fx_ready_fn fn;
    void *ctx;
} check_t;

struct fx_admin {
    pthread_mutex_t mu; /* guards checks and the config provider */
    check_t *checks;
    size_t n, cap;
    fx_config_dump_fn config_fn;
    void *config_ctx;
};

static void admin_free(void *p)
{
    fx_admin_t *adm = p;
    for (size_t i = 0; i < adm->n; i++)
        free(adm->checks[i].name);
    free(adm->checks);
    pthread_mutex_destroy(&adm->mu);
    free(adm);
}

static void ready(fx_http_req_t *req, void *ctx)
{
    fx_admin_t *adm = ctx;
    /* Run the checks on a snapshot, outside the lock: they may be slow-ish. */
    pthread_mutex_lock(&adm->mu);
    size_t n = adm->n;
    check_t *snap = fx_arena_alloc(req->arena, (n ? n : 1) * sizeof *snap);
    if (n)
        memcpy(snap, adm->checks, n * sizeof *snap);
    for (size_t i = 0; i < n; i++)
        snap[i].name = fx_arena_strdup(req->arena, snap[i].name);
    pthread_mutex_unlock(&adm->mu);

    fx_buf_t out = FX_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        fx_err_t why = {0};
        int rc = snap[i].fn(snap[i].ctx, &why);
        if (rc != FX_OK)
            fx_buf_printf(&out, "%s not ready: %s\n", snap[i].name,
                          why.msg[0] ? why.msg : fx_status_name(rc));
    }
    if (out.len) {
        fx_http_reply_buf(req, 503, "text/plain; charset=utf-8", &out);
        return;
    }
    fx_buf_free(&out);
    fx_http_reply(req, 200, "text/plain; charset=utf-8", "ready", 5);
}

static void buildinfo(fx_http_req_t *req, void *ctx)
{
    (void)ctx;
    fx_buf_t out = FX_BUF_INIT;
    fx_buildinfo_json(&out);
    fx_http_reply_buf(req, 200, "application/json", &out);
}

static void config(fx_http_req_t *req, fx_admin_t *adm, enum fx_config_view view)
{
    pthread_mutex_lock(&adm->mu);
    fx_config_dump_fn fn = adm->config_fn;
    void *fctx = adm->config_ctx;
    pthread_mutex_unlock(&adm->mu);
    if (!fn) {
        fx_http_reply_error(req, FX_EUNIMPL, "no configuration provider is registered");
        return;
    }
    fx_buf_t out = FX_BUF_INIT;
    fn(fctx, view, &out);
    fx_http_reply_buf(req, 200, "text/plain; charset=utf-8", &out);
}

static void config_effective(fx_http_req_t *req, void *ctx)
{
    config(req, ctx, FX_CONFIG_EFFECTIVE);
}

static void config_diff(fx_http_req_t *req, void *ctx)
{
    config(req, ctx, FX_CONFIG_DIFF);
}

static void config_default(fx_http_req_t *req, void *ctx)
{
    config(req, ctx, FX_CONFIG_DEFAULT);
}

fx_admin_t *fx_admin_mount(fx_http_server_t *srv, fx_err_t *err)
{
    static const struct {
        const char *path;
        fx_http_handler_fn fn;
    } routes[] = {
        {"/ready", ready},
        {"/api/v1/status/buildinfo", buildinfo},
        {"/api/v1/status/config", config_effective},
        {"/api/v1/status/config/diff", config_diff},
        {"/api/v1/status/config/default", config_default},
    };
    fx_admin_t *adm = fx_calloc(1, sizeof *adm);
    pthread_mutex_init(&adm->mu, NULL);
    for (size_t i = 0; i < FX_ARRAY_LEN(routes); i++) {
        if (fx_http_route(srv, routes[i].path, FX_HTTP_GET, 0, routes[i].fn, adm, err) != FX_OK) {
            /* Routes already added point at adm: keep it alive with the server. */
            fx_http_server_attach(srv, adm, admin_free);
            return NULL;
        }
    }
    fx_http_server_attach(srv, adm, admin_free);
    return adm;
}

void fx_admin_add_ready(fx_admin_t *adm, const char *name, fx_ready_fn fn, void *ctx)
{
    pthread_mutex_lock(&adm->mu);
    FX_GROW(adm->checks, adm->cap, adm->n + 1);
    adm->checks[adm->n].name = fx_strdup(name);
    adm->checks[adm->n].fn = fn;
    adm->checks[adm->n].ctx = ctx;
    adm->n++;
    pthread_mutex_unlock(&adm->mu);
}

void fx_admin_set_config(fx_admin_t *adm, fx_config_dump_fn fn, void *ctx)
{
    pthread_mutex_lock(&adm->mu);
    adm->config_fn = fn;
    adm->config_ctx = ctx;
    pthread_mutex_unlock(&adm->mu);
}
