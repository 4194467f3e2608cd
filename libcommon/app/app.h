/*
 * app.h - the process runtime every Fornax executable shares.
 *
 * A service is a module (fx_module_t): it registers its options, then
 * registers its HTTP routes and gRPC methods, then runs, then stops. The
 * runtime owns what modules share - the configuration, the per-tenant
 * limits, the HTTP server (public API, admin pages), the gRPC server
 * (service-to-service), the ring KV store and ring views, and a pool of
 * gRPC clients - and drives the life cycle:
 *
 *   load config (-config.file, flags) -> bind HTTP and gRPC ports ->
 *   modules' init (routes, methods) -> start servers -> modules' run
 *   (join rings, become ready) -> wait for SIGTERM/SIGINT -> modules' stop
 *   in reverse order (leave rings, drain) -> stop servers -> free.
 *
 * `fornax -target=all` passes every module; `fornax-ingester` passes one.
 * Modules never call each other directly: even in one process they talk
 * through gRPC on loopback (design.md §2).
 */
#ifndef FX_APP_H
#define FX_APP_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "config/process.h"
#include "core/core.h"
#include "http/admin.h"
#include "http/server.h"
#include "kv/kv.h"
#include "limits/limits.h"
#include "ring/lifecycler.h"
#include "ring/ring.h"
#include "rpc/rpc.h"

typedef struct fx_app fx_app_t;

typedef struct fx_module {
    const char *name; /* the -target name: "ingester", "distributor", ... */
    /* Allocates the module's state and registers its option tables. */
    void *(*configure)(fx_config_t *cfg);
    /* Registers routes and gRPC methods; servers are bound, not started. */
    int (*init)(fx_app_t *app, void *state, fx_err_t *err);
    /* Servers are serving: join rings, replay WALs, become ready. May be NULL. */
    int (*run)(fx_app_t *app, void *state, fx_err_t *err);
    /* Graceful stop while servers still serve (leave rings, drain). May be NULL. */
    void (*stop)(fx_app_t *app, void *state);
    /* Frees the state after servers stopped. */
    void (*destroy)(void *state);
} fx_module_t;

/* Runs the process: returns the exit status for main(). modules lists every
 * module this executable can run; -target picks among them ("all" = every
 * one). */
int fx_app_main(int argc, char **argv, const char *prog, const fx_module_t *const *modules,
                size_t nmodules);

/* Shared facilities (valid from init until destroy). */
fx_http_server_t *fx_app_http(fx_app_t *app);
fx_rpc_server_t *fx_app_rpc(fx_app_t *app);
fx_admin_t *fx_app_admin(fx_app_t *app);
fx_rpc_pool_t *fx_app_pool(fx_app_t *app);
const fx_limits_registry_t *fx_app_limits(fx_app_t *app);
/* True when -target includes name. */
bool fx_app_runs(fx_app_t *app, const char *name);
/* The shared view of ring `name` ("ingester", "distributor", ...), created on
 * first use and freed with the app. */
fx_ring_t *fx_app_ring(fx_app_t *app, const char *name);
/* Ring options (-ring.*). */
typedef struct fx_ring_opts {
    char *store;             /* memory | etcd */
    fx_strlist_t etcd_endpoints;
    int64_t etcd_dial_timeout_ns;
    char *prefix;
    int64_t heartbeat_period_ns;
    int64_t heartbeat_timeout_ns;
    int64_t num_tokens;
    char *instance_id;       /* "" = hostname-grpcport */
    char *instance_addr;     /* "" = auto (loopback with the memory store) */
    char *instance_zone;
    bool zone_awareness;
    int64_t replication_factor; /* 0 = 1 with the memory store, 3 with etcd */
    int64_t store_gateway_rf;   /* store-gateways serving each block */
} fx_ring_opts_t;
const fx_ring_opts_t *fx_app_ring_opts(fx_app_t *app);
/* The -ring.* options table (over an fx_ring_opts_t), for the generated
 * configuration reference. */
extern const fx_opt_table_t fx_app_ring_table;
/* Store-gateways serving each block (-store-gateway.sharding-ring.replication-factor). */
int fx_app_store_gateway_rf(fx_app_t *app);
/* Effective replication factor. */
int fx_app_replication_factor(fx_app_t *app);
/* This instance in a ring as -ring.* describes it (id, addresses, zone,
 * token count, heartbeat period, KV prefix), its tokens kept in tokens_file
 * (borrowed; NULL = not kept). */
fx_ring_lifecycler_options_t fx_app_lifecycler_options(fx_app_t *app, const char *tokens_file);
/* Serves the admin page of ring `ring` at path: HTML, or JSON with Accept:
 * application/json; POST forget=<id> removes a (dead) instance. Strings are
 * borrowed and must outlive the app (literals). Call from a module's init. */
int fx_app_mount_ring_page(fx_app_t *app, const char *ring, const char *path, const char *title,
                           fx_err_t *err);
/* This instance's id and advertised addresses ("host:port"). */
const char *fx_app_instance_id(fx_app_t *app);
const char *fx_app_grpc_addr(fx_app_t *app);
const char *fx_app_http_addr(fx_app_t *app);
/* Path under the data directory (created if missing): data_dir/sub. */
const char *fx_app_data_path(fx_app_t *app, const char *sub);
/* The object-storage bucket chosen by -storage.* (opened on first use,
 * shared by the process, closed with the app). */
typedef struct fx_bucket fx_bucket_t;
int fx_app_bucket(fx_app_t *app, fx_bucket_t **out, fx_err_t *err);
/* Graceful shutdown budget in ms. */
int64_t fx_app_grace_ms(fx_app_t *app);

#endif
