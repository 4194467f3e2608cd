/*
 * process.h - options every Fornax process has: what to run, where to
 * listen, where to keep data, tenancy and logging. services/fornax/main.c
 * (and each service's main) registers them first, so they head -help.
 */
#ifndef FX_CONFIG_PROCESS_H
#define FX_CONFIG_PROCESS_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"

typedef struct fx_process_opts {
    fx_strlist_t target;          /* -target: modules to run ("all") */
    char *http_listen_address;    /* "" = all interfaces */
    int64_t http_listen_port;     /* 4040 */
    char *grpc_listen_address;    /* "" = all interfaces */
    int64_t grpc_listen_port;     /* 9095 */
    int64_t http_threads;         /* 0 = one per CPU */
    int64_t grpc_threads;         /* 0 = max(4, 2 per CPU) */
    int64_t grpc_max_msg_size;    /* bytes, both directions */
    int64_t graceful_shutdown_ns; /* drain time on SIGTERM */
    char *data_dir;               /* "./data" */
    bool multitenancy_enabled;    /* false: every request is tenant "anonymous" */
    char *log_level;              /* debug|info|warn|error */
} fx_process_opts_t;

/* Registers the process table with storage in *o (which must outlive cfg;
 * its strings are owned by cfg). */
void fx_process_opts_register(fx_config_t *cfg, fx_process_opts_t *o);

/* Resolves the 0 = automatic thread counts against the CPU count. */
int fx_process_http_threads(const fx_process_opts_t *o);
int fx_process_grpc_threads(const fx_process_opts_t *o);

/* True if -target names module (or "all"). */
bool fx_process_has_target(const fx_process_opts_t *o, const char *module);

#endif
