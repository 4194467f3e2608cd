/* app.c - process life cycle shared by every Fornax executable. */
#include "app/app.h"
#include "core/fs.h"
#include "core/mem.h"
#include "core/time.h"
#include "kv/etcd.h"
#include "objstore/objstore.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "http/query.h"

#include <errno.h>
#include <ifaddrs.h>
#include <malloc.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_MODULES 16
#define MAX_RINGS 8
#define MAX_PATHS 16

/* A ring's admin page. */
typedef struct ring_page {
    fx_app_t *app;
    const char *ring;  /* "ingester", "distributor", "store-gateway", "compactor" */
    const char *title;
} ring_page_t;

struct fx_app {
    fx_config_t *cfg;
    fx_process_opts_t proc;
    fx_ring_opts_t ring;
    fx_limits_registry_t *limits;
    const fx_module_t *modules[MAX_MODULES];
    void *states[MAX_MODULES];
    size_t tables[MAX_MODULES + 1]; /* module i registered config tables [i, i+1) */
    bool active[MAX_MODULES];
    size_t nmodules;
    fx_http_server_t *http;
    fx_rpc_server_t *rpc;
    fx_admin_t *admin;
    fx_rpc_pool_t *pool;
    fx_kv_t *kv;
    fx_ring_t *rings[MAX_RINGS];
    size_t nrings;
    char instance_id[192];
    char grpc_addr[192];
    char http_addr[192];
    char *paths[MAX_PATHS];
    size_t npaths;
    ring_page_t ring_pages[MAX_RINGS];
    size_t nring_pages;
    fx_objstore_opts_t storage;
    fx_bucket_t *bucket;
    pthread_mutex_t bucket_mu;
};

static const fx_opt_t ring_opts[] = {
    {"ring.store", NULL, FX_OPT_STRING, offsetof(fx_ring_opts_t, store), "memory",
     "Where ring state lives: memory (one process) or etcd (a cluster).", 0, 0, "memory|etcd", 0},
    {"ring.etcd.endpoints", NULL, FX_OPT_LIST, offsetof(fx_ring_opts_t, etcd_endpoints),
     "127.0.0.1:2379", "etcd client endpoints (host:port, comma-separated).", 0, 0, NULL, 0},
    {"ring.etcd.dial-timeout", NULL, FX_OPT_DURATION, offsetof(fx_ring_opts_t, etcd_dial_timeout_ns),
     "5s", "Timeout of one etcd request.", 0, 0, NULL, 0},
    {"ring.prefix", NULL, FX_OPT_STRING, offsetof(fx_ring_opts_t, prefix), "fornax/rings",
     "Key prefix of the rings in the KV store.", 0, 0, NULL, 0},
    {"ring.heartbeat-period", NULL, FX_OPT_DURATION, offsetof(fx_ring_opts_t, heartbeat_period_ns),
     "5s", "How often an instance refreshes its ring entry.", 0, 0, NULL, 0},
    {"ring.heartbeat-timeout", NULL, FX_OPT_DURATION, offsetof(fx_ring_opts_t, heartbeat_timeout_ns),
     "1m", "An instance whose heartbeat is older is unhealthy (skipped).", 0, 0, NULL, 0},
    {"ring.num-tokens", NULL, FX_OPT_INT, offsetof(fx_ring_opts_t, num_tokens), "128",
     "Tokens per ring member.", 1, 4096, NULL, 0},
    {"ring.instance-id", NULL, FX_OPT_STRING, offsetof(fx_ring_opts_t, instance_id), "",
     "This instance's id in rings; empty = <hostname>-<grpc port>.", 0, 0, NULL, 0},
    {"ring.instance-addr", NULL, FX_OPT_STRING, offsetof(fx_ring_opts_t, instance_addr), "",
     "IP other instances use to reach this one; empty = loopback with the memory store, "
     "else the first non-loopback IPv4 address.", 0, 0, NULL, 0},
    {"ring.instance-zone", NULL, FX_OPT_STRING, offsetof(fx_ring_opts_t, instance_zone), "",
     "Availability zone of this instance (for zone-aware replication).", 0, 0, NULL, 0},
    {"ring.zone-awareness-enabled", NULL, FX_OPT_BOOL, offsetof(fx_ring_opts_t, zone_awareness),
     "false", "Place the replicas of a series in distinct zones.", 0, 0, NULL, 0},
    {"store-gateway.sharding-ring.replication-factor", NULL, FX_OPT_INT,
     offsetof(fx_ring_opts_t, store_gateway_rf), "1",
     "Store-gateways each block is served by (queriers tolerate one fewer failed gateways).", 1, 9,
     NULL, 0},
    {"distributor.replication-factor", NULL, FX_OPT_INT, offsetof(fx_ring_opts_t, replication_factor),
     "0", "Ingesters each profile is written to; 0 = 1 with the memory store, 3 with etcd.", 0, 9,
     NULL, 0},
};

const fx_opt_table_t fx_app_ring_table = {"Ring", NULL, ring_opts, FX_ARRAY_LEN(ring_opts)};

/* --- accessors --------------------------------------------------------------- */

fx_http_server_t *fx_app_http(fx_app_t *app) { return app->http; }
fx_rpc_server_t *fx_app_rpc(fx_app_t *app) { return app->rpc; }
fx_admin_t *fx_app_admin(fx_app_t *app) { return app->admin; }
fx_rpc_pool_t *fx_app_pool(fx_app_t *app) { return app->pool; }
const fx_limits_registry_t *fx_app_limits(fx_app_t *app) { return app->limits; }
const fx_ring_opts_t *fx_app_ring_opts(fx_app_t *app) { return &app->ring; }
const char *fx_app_instance_id(fx_app_t *app) { return app->instance_id; }
const char *fx_app_grpc_addr(fx_app_t *app) { return app->grpc_addr; }
const char *fx_app_http_addr(fx_app_t *app) { return app->http_addr; }
int64_t fx_app_grace_ms(fx_app_t *app) { return app->proc.graceful_shutdown_ns / 1000000; }

bool fx_app_runs(fx_app_t *app, const char *name)
{
    return fx_process_has_target(&app->proc, name);
}

int fx_app_store_gateway_rf(fx_app_t *app)
{
    return (int)app->ring.store_gateway_rf;
}

int fx_app_replication_factor(fx_app_t *app)
{
    if (app->ring.replication_factor > 0)
        return (int)app->ring.replication_factor;
    return strcmp(app->ring.store, "etcd") == 0 ? 3 : 1;
}

fx_ring_t *fx_app_ring(fx_app_t *app, const char *name)
{
    for (size_t i = 0; i < app->nrings; i++)
        if (strcmp(fx_ring_name(app->rings[i]), name) == 0)
            return app->rings[i];
    FX_ASSERT(app->nrings < MAX_RINGS);
    fx_ring_options_t o = {app->ring.prefix, app->ring.heartbeat_timeout_ns / 1000000};
    fx_err_t err;
    fx_ring_t *r = fx_ring_new(app->kv, name, &o, &err);
    app->rings[app->nrings++] = r;
    return r;
}

fx_ring_lifecycler_options_t fx_app_lifecycler_options(fx_app_t *app, const char *tokens_file)
{
    return (fx_ring_lifecycler_options_t){fx_app_instance_id(app), fx_app_grpc_addr(app),
                                          fx_app_http_addr(app), app->ring.instance_zone,
                                          (int)app->ring.num_tokens, tokens_file,
                                          app->ring.heartbeat_period_ns / 1000000,
                                          app->ring.prefix};
}

int fx_app_bucket(fx_app_t *app, fx_bucket_t **out, fx_err_t *err)
{
    int rc = FX_OK;
    pthread_mutex_lock(&app->bucket_mu);
    if (!app->bucket)
        rc = fx_objstore_open(&app->storage, app->proc.data_dir, &app->bucket, err);
    *out = app->bucket;
    pthread_mutex_unlock(&app->bucket_mu);
    return rc;
}

const char *fx_app_data_path(fx_app_t *app, const char *sub)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", app->proc.data_dir, sub);
    for (size_t i = 0; i < app->npaths; i++)
        if (strcmp(app->paths[i], buf) == 0)
            return app->paths[i];
    FX_ASSERT(app->npaths < MAX_PATHS);
    fx_mkdir_p(buf); /* a failure shows when the path is used */
    app->paths[app->npaths] = fx_strdup(buf);
    return app->paths[app->npaths++];
}

/* --- setup -------------------------------------------------------------------- */

static void dump_config(void *ctx, enum fx_config_view view, fx_buf_t *out)
{
    fx_app_t *app = ctx;
    fx_config_dump(app->cfg, view == FX_CONFIG_DIFF      ? FX_CONFIG_DUMP_DIFF
                             : view == FX_CONFIG_DEFAULT ? FX_CONFIG_DUMP_DEFAULTS
                                                         : FX_CONFIG_DUMP_ALL,
                   out);
}

static void first_ipv4(char *out, size_t n)
{
    struct ifaddrs *ifs, *i;
    snprintf(out, n, "127.0.0.1");
    if (getifaddrs(&ifs) < 0)
        return;
    for (i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
            continue;
        struct sockaddr_in *sin = (struct sockaddr_in *)i->ifa_addr;
        if ((ntohl(sin->sin_addr.s_addr) >> 24) == 127)
            continue;
        inet_ntop(AF_INET, &sin->sin_addr, out, (socklen_t)n);
        break;
    }
    freeifaddrs(ifs);
}

static void resolve_identity(fx_app_t *app)
{
    char ip[64];
    if (app->ring.instance_addr[0])
        snprintf(ip, sizeof ip, "%s", app->ring.instance_addr);
    else if (strcmp(app->ring.store, "memory") == 0)
        snprintf(ip, sizeof ip, "127.0.0.1");
    else
        first_ipv4(ip, sizeof ip);
    snprintf(app->grpc_addr, sizeof app->grpc_addr, "%s:%d", ip, fx_rpc_server_port(app->rpc));
    snprintf(app->http_addr, sizeof app->http_addr, "%s:%d", ip,
             (int)fx_http_server_port(app->http));
    if (app->ring.instance_id[0]) {
        snprintf(app->instance_id, sizeof app->instance_id, "%s", app->ring.instance_id);
    } else {
        char host[128] = "fornax";
        gethostname(host, sizeof host - 1);
        snprintf(app->instance_id, sizeof app->instance_id, "%s-%d", host,
                 fx_rpc_server_port(app->rpc));
    }
}

static int open_kv(fx_app_t *app, fx_err_t *err)
{
    if (strcmp(app->ring.store, "memory") == 0) {
        app->kv = fx_kv_memory_shared();
        return FX_OK;
    }
    app->kv = fx_kv_etcd_new((const char *const *)app->ring.etcd_endpoints.v,
                             app->ring.etcd_endpoints.n, app->ring.etcd_dial_timeout_ns / 1000000,
                             err);
    return app->kv ? FX_OK : FX_EUNAVAIL;
}

/* --- metrics ------------------------------------------------------------------- */

typedef struct http_metrics {
    fx_counter_vec_t *requests;
    fx_histogram_vec_t *duration;
} http_metrics_t;

static http_metrics_t http_metrics;

static void observe(const fx_http_observation_t *o, void *ctx)
{
    http_metrics_t *m = ctx;
    char status[8];
    snprintf(status, sizeof status, "%d", o->status);
    fx_counter_inc(fx_counter_vec_get(m->requests, o->route, o->method, status));
    fx_histogram_observe(fx_histogram_vec_get(m->duration, o->route), (double)o->duration_ns / 1e9);
}

static void serve_metrics(fx_http_req_t *req, void *ctx)
{
    fx_buf_t out = FX_BUF_INIT;
    (void)ctx;
    fx_metrics_write(fx_metrics_default(), &out);
    fx_http_reply_buf(req, 200, FX_METRICS_CONTENT_TYPE, &out);
}

static int mount_metrics(fx_app_t *app, fx_err_t *err)
{
    fx_registry_t *r = fx_metrics_default();
    http_metrics.requests = fx_counter_vec(r, "fornax_http_requests_total",
                                           "HTTP requests by route, method and status.",
                                           "route,method,status");
    http_metrics.duration = fx_histogram_vec(r, "fornax_http_request_duration_seconds",
                                             "Time from dispatch to reply by route.", NULL, 0, "route");
    const fx_buildinfo_t *bi = fx_buildinfo();
    fx_gauge_set(fx_gauge_vec_get(fx_gauge_vec(r, "fornax_build_info", "Build facts (value 1).",
                                               "version,revision,branch"),
                                  bi->version, bi->revision, bi->branch),
                 1);
    fx_http_server_set_observer(app->http, observe, &http_metrics);
    return fx_http_route(app->http, "/metrics", FX_HTTP_GET, 0, serve_metrics, app, err);
}

/* --- ring pages ---------------------------------------------------------------------- */

/* GET: HTML for people, JSON for tools (Accept: application/json).
 * POST forget=<id>: removes an (unhealthy) instance, then shows the page. */
static void serve_ring(fx_http_req_t *req, void *ctx)
{
    ring_page_t *p = ctx;
    fx_ring_t *r = fx_app_ring(p->app, p->ring);
    fx_buf_t out = FX_BUF_INIT;
    fx_err_t err = {0};

    if (req->method_bit == FX_HTTP_POST) {
        fx_query_t form;
        const char *id;
        if (fx_query_parse((const char *)req->body.data, req->body.len, req->arena, &form, &err) < 0 ||
            !(id = fx_query_get(&form, "forget")) || !*id) {
            fx_http_reply_error(req, FX_EINVAL, "expected a form field forget=<instance id>");
            return;
        }
        if (fx_ring_forget(r, id, &err) < 0) {
            fx_http_reply_err(req, &err);
            return;
        }
        fx_log_info("instance forgotten", "ring=%s instance=%s", p->ring, fx_q(id));
        fx_ring_refresh(r, NULL);
    }
    fx_ring_snapshot_t *s = fx_ring_acquire(r);
    const char *accept = fx_http_req_header(req, "Accept");
    if (accept && strstr(accept, "application/json")) {
        fx_ring_render_json(r, s, fx_now_ms(), &out);
        fx_http_reply_buf(req, 200, "application/json", &out);
    } else {
        fx_ring_render_html(r, s, fx_now_ms(), p->title, &out);
        fx_http_reply_buf(req, 200, "text/html; charset=utf-8", &out);
    }
    fx_ring_release(r, s);
}

int fx_app_mount_ring_page(fx_app_t *app, const char *ring, const char *path, const char *title,
                           fx_err_t *err)
{
    FX_ASSERT(app->nring_pages < MAX_RINGS);
    ring_page_t *p = &app->ring_pages[app->nring_pages++];
    *p = (ring_page_t){app, ring, title};
    return fx_http_route(app->http, path, FX_HTTP_GET | FX_HTTP_POST, 0, serve_ring, p, err);
}

static int mount_rings(fx_app_t *app, fx_err_t *err)
{
    static const struct {
        const char *ring, *path, *title;
    } pages[] = {
        {"ingester", "/ring", "Ingester ring"},
        {"distributor", "/distributor/ring", "Distributor ring"},
        {"store-gateway", "/store-gateway/ring", "Store-gateway ring"},
    };
    for (size_t i = 0; i < FX_ARRAY_LEN(pages); i++) {
        int rc = fx_app_mount_ring_page(app, pages[i].ring, pages[i].path, pages[i].title, err);
        if (rc < 0)
            return rc;
    }
    return FX_OK;
}

static int start_servers(fx_app_t *app, fx_err_t *err)
{
    char addr[512];
    int rc;
    fx_http_options_t ho = {0};
    ho.addr = app->proc.http_listen_address;
    ho.port = (uint16_t)app->proc.http_listen_port;
    ho.threads = fx_process_http_threads(&app->proc);
    ho.max_body_bytes = (size_t)(fx_limits_defaults(app->limits)->ingestion_body_limit_mb * FX_LIMITS_MB);
    ho.multitenancy = app->proc.multitenancy_enabled;
    app->http = fx_http_server_new(&ho);
    if (!(app->admin = fx_admin_mount(app->http, err)))
        return FX_EINTERNAL;
    fx_admin_set_config(app->admin, dump_config, app);
    if (mount_metrics(app, err) < 0 || mount_rings(app, err) < 0)
        return FX_EINTERNAL;
    snprintf(addr, sizeof addr, "%s:%d",
             app->proc.grpc_listen_address[0] ? app->proc.grpc_listen_address : "0.0.0.0",
             (int)app->proc.grpc_listen_port);
    if ((rc = fx_rpc_server_new(addr, fx_process_grpc_threads(&app->proc),
                                (size_t)app->proc.grpc_max_msg_size, &app->rpc, err)) < 0)
        return fx_err_prefix(err, "gRPC server");
    app->pool = fx_rpc_pool_new((size_t)app->proc.grpc_max_msg_size);
    return FX_OK;
}

/* Blocks SIGTERM/SIGINT in every thread so main can sigwait for them. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
}

int fx_app_main(int argc, char **argv, const char *prog, const fx_module_t *const *modules,
                size_t nmodules)
{
    fx_app_t *app = fx_calloc(1, sizeof *app);
    fx_err_t err = {0};
    sigset_t sigs;
    int status = 1, sig = 0;
    size_t started = 0;

    FX_ASSERT(nmodules <= MAX_MODULES);
    /* A push decodes MiBs into fresh arena chunks and frees them again.
     * glibc's dynamic thresholds give that memory back to the kernel after
     * nearly every request (munmap, or madvise in thread arenas) and fault
     * it in again on the next: ~15% of the CPU of ingesting heap profiles
     * (docs/performance.md). Keep up to 32 MiB free per malloc arena and
     * mmap only blocks of 16 MiB and more. */
    mallopt(M_MMAP_THRESHOLD, 16 << 20);
    mallopt(M_TRIM_THRESHOLD, 32 << 20);
    block_signals(&sigs);
    app->cfg = fx_config_new();
    fx_process_opts_register(app->cfg, &app->proc);
    app->limits = fx_limits_registry_new();
    fx_limits_register(app->cfg, app->limits);
    fx_config_add(app->cfg, &fx_app_ring_table, &app->ring);
    fx_objstore_register(app->cfg, &app->storage);
    pthread_mutex_init(&app->bucket_mu, NULL);
    for (size_t i = 0; i < nmodules; i++) {
        app->modules[i] = modules[i];
        app->tables[i] = fx_config_ntables(app->cfg);
        app->states[i] = modules[i]->configure(app->cfg);
        app->tables[i + 1] = fx_config_ntables(app->cfg);
    }
    app->nmodules = nmodules;
    if (fx_config_load(app->cfg, argc, argv, &err) < 0) {
        fprintf(stderr, "%s: %s\n", prog, err.msg);
        goto out;
    }
    if (fx_config_help_requested(app->cfg)) {
        fx_buf_t help = FX_BUF_INIT;
        fx_config_help(app->cfg, prog, &help);
        fwrite(help.data, 1, help.len, stdout);
        fx_buf_free(&help);
        status = 0;
        goto out;
    }
    fx_log_set_level(fx_log_parse_level(app->proc.log_level));
    for (size_t i = 0; i < app->proc.target.n; i++) {
        const char *t = app->proc.target.v[i];
        bool known = strcmp(t, "all") == 0;
        for (size_t k = 0; k < nmodules && !known; k++)
            known = strcmp(t, modules[k]->name) == 0;
        if (!known) {
            fprintf(stderr, "%s: -target: unknown module \"%s\"; this binary runs:", prog, t);
            for (size_t k = 0; k < nmodules; k++)
                fprintf(stderr, " %s", modules[k]->name);
            fprintf(stderr, " (or all)\n");
            goto out;
        }
    }
    for (size_t i = 0; i < nmodules; i++)
        app->active[i] = fx_app_runs(app, modules[i]->name);
    if (start_servers(app, &err) < 0 || open_kv(app, &err) < 0) {
        fx_log_error("cannot start", "err=%s", fx_q(err.msg));
        goto out;
    }
    for (size_t i = 0; i < nmodules; i++) {
        if (!app->active[i])
            continue;
        if (modules[i]->init(app, app->states[i], &err) < 0) {
            fx_log_error("module failed to initialise", "module=%s err=%s", modules[i]->name,
                         fx_q(err.msg));
            goto out;
        }
    }
    if (fx_rpc_server_start(app->rpc, &err) < 0 || fx_http_server_start(app->http, &err) < 0) {
        fx_log_error("cannot start servers", "err=%s", fx_q(err.msg));
        goto out;
    }
    /* After start: an ephemeral HTTP port is only known now. */
    resolve_identity(app);
    fx_log_info("fornax started", "http=%s grpc=%s instance=%s data_dir=%s ring_store=%s",
                app->http_addr, app->grpc_addr, fx_q(app->instance_id), fx_q(app->proc.data_dir),
                app->ring.store);
    for (started = 0; started < nmodules; started++) {
        size_t i = started;
        if (!app->active[i] || !modules[i]->run)
            continue;
        if (modules[i]->run(app, app->states[i], &err) < 0) {
            fx_log_error("module failed to start", "module=%s err=%s", modules[i]->name,
                         fx_q(err.msg));
            goto stop;
        }
    }
    sigwait(&sigs, &sig);
    fx_log_info("shutting down", "signal=%d", sig);
    status = 0;
stop:
    /* Reverse order: queriers and distributors stop sending before the
     * ingesters they call leave. */
    for (size_t i = started; i-- > 0;)
        if (app->active[i] && modules[i]->stop)
            modules[i]->stop(app, app->states[i]);
    fx_http_server_stop(app->http);
    fx_rpc_server_stop(app->rpc, fx_app_grace_ms(app));
out:
    for (size_t i = nmodules; i-- > 0;)
        if (app->modules[i] && app->modules[i]->destroy) {
            /* destroy frees the state the configuration wrote option
             * strings into: let it free them first. */
            fx_config_forget_tables(app->cfg, app->tables[i], app->tables[i + 1]);
            app->modules[i]->destroy(app->states[i]);
        }
    fx_http_server_free(app->http);
    fx_rpc_server_free(app->rpc);
    /* The KV first: closing it stops the watches that call into the rings. */
    fx_kv_close(app->kv);
    for (size_t i = 0; i < app->nrings; i++)
        fx_ring_free(app->rings[i]);
    if (app->pool)
        fx_rpc_pool_free(app->pool);
    if (app->bucket)
        fx_bucket_close(app->bucket);
    pthread_mutex_destroy(&app->bucket_mu);
    for (size_t i = 0; i < app->npaths; i++)
        free(app->paths[i]);
    fx_config_free(app->cfg);
    fx_limits_registry_free(app->limits);
    free(app);
    return status;
}
