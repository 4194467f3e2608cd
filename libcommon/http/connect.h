/*
 * connect.h - the Connect protocol's unary calls on the public HTTP server.
 *
 * POST /<pkg>.<Service>/<Method> with Content-Type application/proto or
 * application/json (a charset parameter is allowed; anything else gets 415),
 * an optional Content-Encoding: gzip body and an optional Connect-Timeout-Ms.
 * The layer decodes the request with protobuf-c (or the proto3 JSON codec of
 * json/pbjson.h) into the call's arena, resolves the tenant, runs the
 * transport-independent handler (core/call.h), and answers 200 with the
 * response in the request's codec (gzipped when the client accepts it), or a
 * Connect error: JSON {"code","message"} with the HTTP status of
 * http/status.h. Other methods get 405 with Allow: POST.
 * Reference: pyroscope-api.md §11.
 */
#ifndef FX_HTTP_CONNECT_H
#define FX_HTTP_CONNECT_H

#include <protobuf-c/protobuf-c.h>

#include "core/call.h"
#include "http/server.h"

/*
 * Registers fn for the procedure at path ("/querier.v1.QuerierService/
 * SelectSeries"), taking messages of type in and answering messages of type
 * out; ctx reaches fn as call->ctx. Only before the server starts. FX_OK, or
 * FX_EEXIST (logged) when the path is already registered.
 */
int fx_connect_register(fx_http_server_t *srv, const char *path,
                        const ProtobufCMessageDescriptor *in,
                        const ProtobufCMessageDescriptor *out, fx_method_fn fn, void *ctx);

/* The same, with path and message types taken from a generated service
 * descriptor (e.g. querier__v1__querier_service__descriptor) and a method
 * name ("SelectSeries"), so they cannot disagree. FX_ENOTFOUND when the
 * service has no such method. */
int fx_connect_register_method(fx_http_server_t *srv, const ProtobufCServiceDescriptor *svc,
                               const char *method, fx_method_fn fn, void *ctx);

#endif
