/*
 * server_int.h - the HTTP server's private types, shared by its own files
 * (server.c: life cycle and dispatch; route.c: the route table; reply.c:
 * replies). Nothing outside libcommon/http includes this.
 */
#ifndef FX_HTTP_SERVER_INT_H
#define FX_HTTP_SERVER_INT_H

#include <pthread.h>

#include "core/buf.h"
#include "core/mem.h"
#include "http/query.h"
#include "http/server.h"

struct evhttp_request;

typedef struct fx__http_route {
    char *path;
    size_t len;
    unsigned methods; /* 0 = any */
    unsigned flags;
    fx_http_handler_fn fn;
    void *ctx;
} fx__http_route_t;

/* The table: exact routes sorted by path, then prefix routes, longest first. */
typedef struct fx__http_routes {
    fx__http_route_t *v;
    size_t n, cap;
    size_t nexact; /* v[0..nexact) exact, v[nexact..n) prefix (after fx__http_routes_seal) */
} fx__http_routes_t;

/* Result of a lookup: a route, or why there is none. */
typedef struct fx__http_match {
    const fx__http_route_t *route; /* NULL: see allow */
    unsigned allow;                /* path known but method not allowed: the allowed set; 0 = 404 */
} fx__http_match_t;

int fx__http_routes_add(fx__http_routes_t *t, const char *path, unsigned methods, unsigned flags,
                        fx_http_handler_fn fn, void *ctx, fx_err_t *err);
void fx__http_routes_seal(fx__http_routes_t *t);
fx__http_match_t fx__http_routes_find(const fx__http_routes_t *t, const char *path,
                                      unsigned method_bit);
void fx__http_routes_free(fx__http_routes_t *t);
/* Formats a method set as an Allow header value ("GET, HEAD, POST") into buf. */
void fx__http_allow_str(unsigned methods, char *buf, size_t len);

/* Server-side state of one request; the public part comes first. */
typedef struct fx__http_req {
    fx_http_req_t pub;
    struct evhttp_request *ev;
    fx_http_server_t *srv;
    fx_query_t query;
    fx_arena_t arena;
    fx_buf_t body_buf;   /* gunzipped body, when there was one */
    int status;          /* 0 until the handler replies */
    size_t resp_bytes;
    int accepts_gzip;    /* -1 until asked */
} fx__http_req_t;

static inline fx__http_req_t *fx__req(const fx_http_req_t *req)
{
    return (fx__http_req_t *)req;
}

#endif
