/*
 * admin.h - operational endpoints every Fornax service serves on its HTTP
 * port (reference pyroscope-api.md §10):
 *
 *   GET /ready                        200 "ready" when every readiness check
 *                                     passes, else 503 listing what is not
 *   GET /api/v1/status/buildinfo      {"status":"success","data":{...}}
 *   GET /api/v1/status/config         YAML from the config provider
 *   GET /api/v1/status/config/diff    ... only values that differ from defaults
 *   GET /api/v1/status/config/default ... the defaults
 *
 * No tenant is needed for these. The config module registers its provider
 * with fx_admin_set_config; until one is set the config routes answer 501.
 */
#ifndef FX_HTTP_ADMIN_H
#define FX_HTTP_ADMIN_H

#include "core/buf.h"
#include "core/core.h"
#include "http/server.h"

typedef struct fx_admin fx_admin_t;

/* A readiness check: FX_OK when ready, else an FX_E* code with why->msg
 * saying what is missing ("ring: 0 of 3 ingesters ACTIVE"). Called from HTTP
 * worker threads, possibly concurrently; must be thread-safe and quick. */
typedef int (*fx_ready_fn)(void *ctx, fx_err_t *why);

enum fx_config_view {
    FX_CONFIG_EFFECTIVE, /* /api/v1/status/config */
    FX_CONFIG_DIFF,      /* /api/v1/status/config/diff */
    FX_CONFIG_DEFAULT,   /* /api/v1/status/config/default */
};

/* Appends the configuration as YAML to out. Called from HTTP worker threads. */
typedef void (*fx_config_dump_fn)(void *ctx, enum fx_config_view view, fx_buf_t *out);

/* Registers the admin routes on srv (before start) and returns their state,
 * which the server owns and frees. NULL with err when a route is taken. */
fx_admin_t *fx_admin_mount(fx_http_server_t *srv, fx_err_t *err);

/* Adds a readiness check called name; allowed at any time (services become
 * ready after the server starts). name is copied. */
void fx_admin_add_ready(fx_admin_t *adm, const char *name, fx_ready_fn fn, void *ctx);

/* Sets the config provider (at any time; a later call replaces it). */
void fx_admin_set_config(fx_admin_t *adm, fx_config_dump_fn fn, void *ctx);

/* Build facts, from the Makefile (-DFX_VERSION ... on http/buildinfo.c). */
typedef struct fx_buildinfo {
    const char *version;  /* VERSION file, e.g. "0.1.0" */
    const char *revision; /* git short hash */
    const char *branch;
    const char *compiler; /* e.g. "gcc 12.2.0" */
} fx_buildinfo_t;

const fx_buildinfo_t *fx_buildinfo(void);

/* Appends the /api/v1/status/buildinfo JSON document to out. */
void fx_buildinfo_json(fx_buf_t *out);

#endif
