/*
 * client.c - synchronous unary gRPC calls over one shared channel per
 * target.
 *
 * Each invoke runs the whole call as one batch (send metadata, message and
 * half-close; receive metadata, message and status) on a pluck completion
 * queue of its own, the same shape as gRPC C++'s BlockingUnaryCall, so any
 * number of threads can call through one channel at once.
 *
 * Failing fast matters more than waiting here: a distributor that writes to
 * a dead ingester must learn it in time to succeed at quorum with the other
 * replicas. Calls therefore never set wait-for-ready (a channel in transient
 * failure fails the call at once), reconnect backoff is capped at 2 s so a
 * restarted peer is found again quickly, and a connect attempt gives up after
 * 2 s. Retries are off: callers decide what to retry, and the retry layer
 * would otherwise buffer outgoing messages.
 */
#include <grpc/support/alloc.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "core/time.h"
#include "rpc/internal.h"
#include "rpc/rpc.h"

/* How long a revive waits for the new connection. */
#define FX__RPC_REVIVE_WAIT_MS 250

struct fx_rpc_client {
    char *target;
    grpc_channel *ch;
    _Atomic int64_t unavailable_ms; /* wall clock of the first UNAVAILABLE since the last revive, 0 = none */
};

fx_rpc_client_t *fx_rpc_client_new_opts(const char *target, size_t max_msg_bytes)
{
    size_t max = max_msg_bytes ? max_msg_bytes : FX_RPC_MAX_MSG_DEFAULT;
    int lim = max > INT_MAX ? INT_MAX : (int)max;
    grpc_arg a[] = {
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, {.integer = lim}},
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, {.integer = lim}},
        {GRPC_ARG_INTEGER, GRPC_ARG_ENABLE_RETRIES, {.integer = 0}},
        /* Internal traffic never goes through an HTTP proxy from env. */
        {GRPC_ARG_INTEGER, GRPC_ARG_ENABLE_HTTP_PROXY, {.integer = 0}},
        {GRPC_ARG_INTEGER, GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, {.integer = 100}},
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, {.integer = 2000}},
        /* gRPC uses this as the minimum connect timeout. */
        {GRPC_ARG_INTEGER, GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, {.integer = 2000}},
        /* Detects a peer that vanished mid-call (node lost, no RST). The
         * server side accepts pings this often (server.c). */
        {GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIME_MS, {.integer = 30000}},
        {GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIMEOUT_MS, {.integer = 10000}},
    };
    grpc_channel_args args = {FX_ARRAY_LEN(a), a};
    fx_rpc_client_t *c = fx_calloc(1, sizeof *c);

    fx__rpc_lib_ref();
    c->target = fx_strdup(target);
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    c->ch = grpc_channel_create(target, creds, &args);
    grpc_channel_credentials_release(creds);
    return c;
}

fx_rpc_client_t *fx_rpc_client_new(const char *target)
{
    return fx_rpc_client_new_opts(target, 0);
}

const char *fx_rpc_client_target(const fx_rpc_client_t *c)
{
    return c->target;
}

void fx_rpc_client_free(fx_rpc_client_t *c)
{
    if (!c)
        return;
    grpc_channel_destroy(c->ch);
    free(c->target);
    free(c);
    fx__rpc_lib_unref();
}

void fx_rpc_client_revive(fx_rpc_client_t *c, int64_t alive_ms)
{
    int64_t down = atomic_load(&c->unavailable_ms);
    if (!down || alive_ms <= down)
        return;
    /* Calls fail fast while the channel is not connected: dial now and give
     * the dial a moment, so this call and those racing it reach the peer.
     * Bounded, because the peer may be alive for the ring yet unreachable
     * from here; then only a newer sign of life tries again. */
    grpc_channel_reset_connect_backoff(c->ch);
    int64_t t0 = fx_mono_ns();
    grpc_connectivity_state st;
    while ((st = grpc_channel_check_connectivity_state(c->ch, 1)) != GRPC_CHANNEL_READY &&
           fx_mono_ns() - t0 < FX__RPC_REVIVE_WAIT_MS * 1000000LL)
        usleep(2000);
    atomic_compare_exchange_strong(&c->unavailable_ms, &down, st == GRPC_CHANNEL_READY ? 0 : fx_now_ms());
}

/* The exact FX code from the server's trailer, if it is present and agrees
 * with the gRPC status; otherwise the status mapped to an FX code. */
static int error_code(grpc_status_code status, const grpc_metadata_array *trailers)
{
    for (size_t i = 0; i < trailers->count; i++) {
        const grpc_metadata *m = &trailers->metadata[i];
        if (!grpc_slice_str_cmp(m->key, FX__RPC_CODE_KEY)) {
            char buf[16];
            size_t n = GRPC_SLICE_LENGTH(m->value);
            if (n == 0 || n >= sizeof buf)
                break;
            memcpy(buf, GRPC_SLICE_START_PTR(m->value), n);
            buf[n] = 0;
            char *end;
            long code = strtol(buf, &end, 10);
            if (*end == 0 && code < 0 && code >= INT_MIN &&
                strcmp(fx_status_name((int)code), "unknown") != 0 &&
                fx_rpc_status_from_fx((int)code) == (int)status)
                return (int)code;
            break;
        }
    }
    return fx_rpc_status_to_fx((int)status);
}

int fx_rpc_invoke(fx_rpc_client_t *c, const char *method, const char *tenant,
                  const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                  fx_arena_t *arena, ProtobufCMessage **resp, int64_t timeout_ms, fx_err_t *err)
{
    grpc_metadata_array init_md, trailers;
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();
    grpc_byte_buffer *out_bb = NULL, *in_bb = NULL;
    grpc_metadata tmd;
    grpc_op ops[6];
    int rc = FX_OK;

    *resp = NULL;
    grpc_metadata_array_init(&init_md);
    grpc_metadata_array_init(&trailers);
    gpr_timespec deadline =
        timeout_ms > 0 ? gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                      gpr_time_from_millis(timeout_ms, GPR_TIMESPAN))
                       : gpr_inf_future(GPR_CLOCK_MONOTONIC);
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    /* Copied, not static: HPACK may keep the path after the call ends. */
    grpc_slice path = grpc_slice_from_copied_string(method);
    grpc_call *call =
        grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, path, NULL, deadline,
                                 NULL);
    grpc_slice_unref(path);

    out_bb = fx__rpc_pack(req);
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (tenant) {
        tmd.key = grpc_slice_from_static_string(FX_RPC_TENANT_KEY);
        tmd.value = grpc_slice_from_copied_string(tenant);
        ops[0].data.send_initial_metadata.count = 1;
        ops[0].data.send_initial_metadata.metadata = &tmd;
    }
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = out_bb;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &init_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &in_bb;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &trailers;
    ops[5].data.recv_status_on_client.status = &status;
    ops[5].data.recv_status_on_client.status_details = &details;

    grpc_call_error e = grpc_call_start_batch(call, ops, FX_ARRAY_LEN(ops), ops, NULL);
    if (e != GRPC_CALL_OK) {
        rc = fx_err_set(err, FX_EINTERNAL, "%s: cannot start gRPC call %s (error %d)", c->target,
                        method, (int)e);
        goto out;
    }
    grpc_event ev = grpc_completion_queue_pluck(cq, ops, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    FX_ASSERT(ev.type == GRPC_OP_COMPLETE);

    if (status != GRPC_STATUS_OK) {
        if (status == GRPC_STATUS_UNAVAILABLE) {
            /* The start of the outage: calls failing later may only be
             * waiting out the backoff of a peer that is back already. */
            int64_t none = 0;
            atomic_compare_exchange_strong(&c->unavailable_ms, &none, fx_now_ms());
        }
        rc = error_code(status, &trailers);
        size_t n = GRPC_SLICE_LENGTH(details);
        if (n)
            fx_err_set(err, rc, "%s: %.*s", c->target, (int)FX_MIN(n, (size_t)FX_ERR_MSG_MAX),
                       (const char *)GRPC_SLICE_START_PTR(details));
        else
            fx_err_set(err, rc, "%s: %s", c->target, fx_status_name(rc));
        goto out;
    }
    if (!in_bb) {
        rc = fx_err_set(err, FX_EINTERNAL, "%s: %s returned no response message", c->target,
                        method);
        goto out;
    }
    *resp = fx__rpc_unpack(in_bb, resp_desc, arena);
    if (!*resp)
        rc = fx_err_set(err, FX_EINTERNAL, "%s: %s returned a response that is not a valid %s",
                        c->target, method, resp_desc->name);

out:
    if (tenant)
        grpc_slice_unref(tmd.value);
    if (in_bb)
        grpc_byte_buffer_destroy(in_bb);
    grpc_byte_buffer_destroy(out_bb);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&init_md);
    grpc_metadata_array_destroy(&trailers);
    grpc_call_unref(call);
    grpc_completion_queue_destroy(cq);
    return rc;
}
