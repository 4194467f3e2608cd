/*
 * server.h - Fornax's public HTTP/1.1 server (libevent evhttp).
 *
 * I/O threads (one per CPU) each run their own event_base and evhttp, all
 * accepting from ONE listening socket; they read requests and write replies.
 * `threads` handler threads take the read requests from one queue and run
 * them (routing, body decoding, the handler). Handlers may therefore block
 * (synchronous gRPC calls to other services): a blocked handler holds only
 * its own request, never a connection's neighbours.
 *
 * Life cycle: fx_http_server_new, register routes (fx_http_route,
 * fx_connect_register, fx_static_mount, fx_admin_mount) and the observer,
 * fx_http_server_start, ..., fx_http_server_stop, fx_http_server_free.
 * Routes are fixed once the server has started, so workers read the table
 * without locks.
 *
 * Routing: an exact-path route wins over any prefix route; among prefix
 * routes the longest prefix wins, so a UI mounted with prefix "/" never
 * shadows an API route. Several routes may share a path with disjoint method
 * sets. No route for the path -> 404; a route but not for this method -> 405
 * with an Allow header. Error bodies are Connect error JSON
 * {"code":"...","message":"..."} (see fx_http_reply_error).
 *
 * Before a handler runs, the server has: parsed and percent-decoded the path
 * and the query string (malformed -> 400), resolved the tenant when the
 * route asks for one (tenant/tenant.h: 401 / 400), read the body (over
 * max_body_bytes -> 413) and gunzipped it when Content-Encoding is gzip
 * (corrupt -> 400, decompressed size over max_body_bytes -> 413; any other
 * encoding -> 415). One exception to the JSON error bodies: a body over
 * max_body_bytes on the wire (413) or a request line + headers over 1 MiB
 * (400) is refused by evhttp itself, with a short HTML body and the
 * connection closed, because libevent 2.1 calls no user code before the
 * body has been read.
 */
#ifndef FX_HTTP_SERVER_H
#define FX_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/core.h"
#include "core/mem.h"

typedef struct fx_http_server fx_http_server_t;
typedef struct fx_http_req fx_http_req_t;

/* Method bits; a route's method set is an OR of these (0 = any method).
 * A route that allows GET also answers HEAD (without a body). */
enum fx_http_method {
    FX_HTTP_GET = 1 << 0,
    FX_HTTP_POST = 1 << 1,
    FX_HTTP_HEAD = 1 << 2,
    FX_HTTP_PUT = 1 << 3,
    FX_HTTP_DELETE = 1 << 4,
    FX_HTTP_OPTIONS = 1 << 5,
    FX_HTTP_PATCH = 1 << 8,
};

#define FX_HTTP_DEFAULT_MAX_BODY ((size_t)256 << 20) /* Pyroscope's ingestion_body_limit_mb */
#define FX_HTTP_GZIP_MIN_BYTES 1024                  /* smaller replies are sent as is */

typedef struct fx_http_options {
    const char *addr;       /* listen address; NULL or "" = all interfaces */
    uint16_t port;          /* 0 = ephemeral (see fx_http_server_port) */
    int threads;            /* handler threads; 0 = default: 2 x online CPUs, at least 4 */
    size_t max_body_bytes;  /* 0 = FX_HTTP_DEFAULT_MAX_BODY; applies before and after gunzip */
    int multitenancy;       /* 1: X-Scope-OrgID required on tenant routes */
    int idle_timeout_s;     /* read/write timeout of a connection; 0 = 120 s */
    int shutdown_grace_ms;  /* how long stop lets replies in flight drain; 0 = 200 ms */
} fx_http_options_t;

/* Route flags. */
enum {
    FX_HTTP_PREFIX = 1 << 0, /* path is a prefix ("/debug/pprof/"), not an exact path */
    FX_HTTP_TENANT = 1 << 1, /* resolve the tenant first; refuse the request if that fails */
};

/*
 * A request, valid only during the handler call. Fields are read-only for
 * handlers. Strings and the arena are freed after the reply is sent.
 */
struct fx_http_req {
    const char *method;     /* "GET", "POST", ... */
    unsigned method_bit;    /* FX_HTTP_GET, ... */
    const char *path;       /* percent-decoded path, without the query */
    const char *raw_query;  /* query as sent, without '?'; "" when none */
    const char *route;      /* the pattern of the matched route */
    /* Tenant: on FX_HTTP_TENANT routes always set. On other routes it is
     * "anonymous" with multitenancy off, else the header's tenant when valid
     * and NULL when it is missing or invalid. */
    const char *tenant;
    fx_slice_t body;        /* decompressed body; data NULL when empty */
    size_t wire_body_len;   /* body bytes as received (before gunzip) */
    fx_arena_t *arena;      /* per-request memory, freed after the reply */
};

typedef void (*fx_http_handler_fn)(fx_http_req_t *req, void *ctx);

/* What the observer sees after each reply (metrics, access logs). */
typedef struct fx_http_observation {
    const char *route;      /* matched pattern, or "notfound" */
    const char *method;
    int status;
    int64_t duration_ns;    /* from dispatch to reply queued */
    size_t req_bytes;       /* body bytes as received */
    size_t resp_bytes;      /* body bytes as sent (after gzip) */
    const char *tenant;     /* may be NULL */
} fx_http_observation_t;

/* Called on the worker thread after every reply, concurrently from all
 * workers: it must be thread-safe and should not block. */
typedef void (*fx_http_observer_fn)(const fx_http_observation_t *obs, void *ctx);

/* --- server life cycle ---------------------------------------------------- */

/* Creates a server; nothing listens until start. opts may be NULL (all
 * defaults); it is copied (addr too). Free with fx_http_server_free. */
fx_http_server_t *fx_http_server_new(const fx_http_options_t *opts);

/* Binds, listens and starts the workers. FX_OK, or FX_EIO with err saying
 * what failed (e.g. "listen on 0.0.0.0:4040: Address already in use").
 * Sets SIGPIPE to ignored for the process: a client that hangs up must not
 * kill the server in the middle of a write. */
int fx_http_server_start(fx_http_server_t *srv, fx_err_t *err);

/* The bound port (useful with port 0); 0 before start. */
uint16_t fx_http_server_port(const fx_http_server_t *srv);

/* Stops accepting, lets replies in flight drain for shutdown_grace_ms, and
 * joins the workers. A handler still running is waited for. Idempotent. */
void fx_http_server_stop(fx_http_server_t *srv);

/* Stops if needed and frees the server and everything attached to it. */
void fx_http_server_free(fx_http_server_t *srv);

/* Effective options (defaults filled in). */
const fx_http_options_t *fx_http_server_options(const fx_http_server_t *srv);

/* --- registration (before start) ------------------------------------------ */

/*
 * Registers handler fn(req, ctx) for path (exact, or a prefix with
 * FX_HTTP_PREFIX), methods (FX_HTTP_* bits, 0 = any), flags (FX_HTTP_*).
 * path is copied. FX_EEXIST with err when a route with the same path, kind
 * and an overlapping method set exists. Only before start.
 */
int fx_http_route(fx_http_server_t *srv, const char *path, unsigned methods, unsigned flags,
                  fx_http_handler_fn fn, void *ctx, fx_err_t *err);

/* Sets the observer (one per server; a later call replaces it). Only before start. */
void fx_http_server_set_observer(fx_http_server_t *srv, fx_http_observer_fn fn, void *ctx);

/* Hands obj to the server: free_fn(obj) runs in fx_http_server_free, after
 * the workers are gone. For state that route handlers use as ctx. */
void fx_http_server_attach(fx_http_server_t *srv, void *obj, void (*free_fn)(void *));

/* --- request accessors (handler thread only) ------------------------------- */

/* Request header by case-insensitive name, or NULL. Borrowed from the request. */
const char *fx_http_req_header(const fx_http_req_t *req, const char *name);

/* First value of query parameter name (decoded), or NULL when absent. */
const char *fx_http_req_query(const fx_http_req_t *req, const char *name);

/* All values of query parameter name in order; array in req->arena. */
const char **fx_http_req_query_all(const fx_http_req_t *req, const char *name, size_t *n);

/* 1 when the client accepts a gzip-encoded reply (Accept-Encoding). */
int fx_http_req_accepts_gzip(const fx_http_req_t *req);

/* --- replies ----------------------------------------------------------------
 * A handler replies exactly once; a handler that returns without replying
 * gets a 500 sent for it. Headers must be added before the reply call.
 * Bodies over FX_HTTP_GZIP_MIN_BYTES are gzipped when the client accepts it
 * and no Content-Encoding header was set.
 */

/* Adds a response header (copied). */
void fx_http_add_header(fx_http_req_t *req, const char *name, const char *value);

/* Replies with status and a copy of body (len bytes). content_type may be
 * NULL for no Content-Type (empty bodies). */
void fx_http_reply(fx_http_req_t *req, int status, const char *content_type, const void *body,
                   size_t len);

/* Like fx_http_reply, but takes over body's memory (no copy); *body is reset. */
void fx_http_reply_buf(fx_http_req_t *req, int status, const char *content_type, fx_buf_t *body);

/* Like fx_http_reply for memory that outlives the server (static data): sent
 * by reference, never copied, never compressed on the fly. */
void fx_http_reply_static(fx_http_req_t *req, int status, const char *content_type,
                          const void *body, size_t len);

/* text/plain; charset=utf-8 reply from a printf format. */
void fx_http_reply_text(fx_http_req_t *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Connect error JSON {"code":"<fx_status_name(code)>","message":"..."} with
 * the HTTP status of fx_http_status(code). */
void fx_http_reply_error(fx_http_req_t *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* fx_http_reply_error from an fx_err_t (code FX_OK counts as internal). */
void fx_http_reply_err(fx_http_req_t *req, const fx_err_t *err);

/* Connect error JSON with an explicit HTTP status (405, 415, ...) and code name. */
void fx_http_reply_error_status(fx_http_req_t *req, int status, const char *code_name,
                                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
