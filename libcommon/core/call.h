/*
 * call.h - one unary method call, independent of its transport.
 *
 * The same handler type serves a Connect call on the public HTTP port
 * (libcommon/http/connect.h) and a gRPC call on the internal port
 * (libcommon/rpc/rpc.h). The transport decodes the request into the call's
 * arena, resolves the tenant, runs the handler, then encodes *resp (or the
 * error) and frees the arena. Handlers allocate their response (and anything
 * it points to) from call->arena, or point at memory that outlives the call.
 */
#ifndef FX_CALL_H
#define FX_CALL_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

#include "core/core.h"
#include "core/mem.h"

typedef struct fx_call fx_call_t;

struct fx_call {
    const char *method;     /* "/pkg.Service/Method" */
    const char *tenant;     /* resolved tenant id; never NULL */
    fx_arena_t *arena;      /* freed by the transport after the reply */
    void *ctx;              /* the ctx given at registration */
    int64_t deadline_ns;    /* fx_mono_ns() deadline, 0 = none */
    /* Returns a request header (case-insensitive name) or NULL. */
    const char *(*header)(const fx_call_t *call, const char *name);
    void *transport;        /* transport-private */
};

/* Returns FX_OK and sets *resp, or returns an FX_E* code with err filled. */
typedef int (*fx_method_fn)(fx_call_t *call, const ProtobufCMessage *req, ProtobufCMessage **resp,
                            fx_err_t *err);

static inline const char *fx_call_header(const fx_call_t *call, const char *name)
{
    return call->header ? call->header(call, name) : NULL;
}

#endif
