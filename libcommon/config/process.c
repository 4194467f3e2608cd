/*
 * process.c - the process options table (see process.h). Flag names follow
 * Pyroscope/dskit where it has the same setting, so an operator's muscle
 * memory (and most of a Pyroscope command line) carries over; YAML keys
 * follow Pyroscope's config file where they differ from the flag name
 * (multitenancy_enabled, server.log_level).
 */
#include "config/process.h"

#include <stddef.h>
#include <string.h>
#include <unistd.h>

#define OFF(f) offsetof(fx_process_opts_t, f)

static const fx_opt_t process_opts[] = {
    {"target", NULL, FX_OPT_LIST, OFF(target), "all",
     "Comma-separated list of modules to run in this process: all, distributor, ingester, "
     "querier, store-gateway, compactor. \"all\" runs the single-process mode.",
     0, 0, NULL, 0},
    {"server.http-listen-address", NULL, FX_OPT_STRING, OFF(http_listen_address), "",
     "HTTP listen address (public API, UI, admin pages); empty means all interfaces.", 0, 0,
     NULL, 0},
    {"server.http-listen-port", NULL, FX_OPT_INT, OFF(http_listen_port), "4040",
     "HTTP listen port.", 0, 65535, NULL, 0},
    {"server.grpc-listen-address", NULL, FX_OPT_STRING, OFF(grpc_listen_address), "",
     "gRPC listen address for calls between Fornax services; empty means all interfaces.", 0,
     0, NULL, 0},
    {"server.grpc-listen-port", NULL, FX_OPT_INT, OFF(grpc_listen_port), "9095",
     "gRPC listen port for calls between Fornax services.", 0, 65535, NULL, 0},
    {"server.http-threads", NULL, FX_OPT_INT, OFF(http_threads), "0",
     "HTTP handler threads (one I/O thread per CPU reads requests and writes replies); 0 "
     "means four per CPU and at least 8 (handlers block on calls to other services, so more "
     "threads than CPUs keeps the CPUs busy).",
     0, 1024, NULL, 0},
    {"server.grpc-threads", NULL, FX_OPT_INT, OFF(grpc_threads), "0",
     "gRPC handler threads; 0 means four per CPU and at least 8 (handlers block on disk "
     "writes, so more threads than CPUs keeps the CPUs busy and lets appends share fsyncs).",
     0, 1024, NULL, 0},
    {"server.grpc-max-msg-size", NULL, FX_OPT_SIZE, OFF(grpc_max_msg_size), "256MiB",
     "Largest gRPC message sent or received between services.", 1024, (int64_t)1 << 31, NULL,
     0},
    {"server.graceful-shutdown-timeout", NULL, FX_OPT_DURATION, OFF(graceful_shutdown_ns),
     "30s", "On SIGTERM, how long requests in flight may take to finish before they are "
     "cancelled.", 0, 0, NULL, 0},
    {"data-dir", "data_dir", FX_OPT_STRING, OFF(data_dir), "./data",
     "Directory for local data (ingester head and WAL, local bucket, caches).", 0, 0, NULL, 0},
    {"auth.multitenancy-enabled", "multitenancy_enabled", FX_OPT_BOOL,
     OFF(multitenancy_enabled), "false",
     "Require the X-Scope-OrgID header on every request; when false every request belongs "
     "to the tenant \"anonymous\".",
     0, 0, NULL, 0},
    {"log.level", "server.log_level", FX_OPT_STRING, OFF(log_level), "info",
     "Lowest level of log lines written to stderr.", 0, 0, "debug|info|warn|error", 0},
};

static const fx_opt_table_t process_table = {"process", NULL, process_opts,
                                             FX_ARRAY_LEN(process_opts)};

void fx_process_opts_register(fx_config_t *cfg, fx_process_opts_t *o)
{
    fx_config_add(cfg, &process_table, o);
}

static int ncpu(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

/* Handlers block (on other services, on fsync): four per CPU, at least 8,
 * keep both cores of the ingest benchmark busy where two per CPU left a
 * quarter of them idle (docs/performance.md). */
static int blocking_threads(void)
{
    int n = 4 * ncpu();
    return n < 8 ? 8 : n;
}

int fx_process_http_threads(const fx_process_opts_t *o)
{
    return o->http_threads > 0 ? (int)o->http_threads : blocking_threads();
}

int fx_process_grpc_threads(const fx_process_opts_t *o)
{
    return o->grpc_threads > 0 ? (int)o->grpc_threads : blocking_threads();
}

bool fx_process_has_target(const fx_process_opts_t *o, const char *module)
{
    for (size_t i = 0; i < o->target.n; i++)
        if (strcmp(o->target.v[i], "all") == 0 || strcmp(o->target.v[i], module) == 0)
            return true;
    return false;
}
