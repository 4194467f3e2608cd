/*
 * server.c - the unary gRPC server: registered methods, worker threads,
 * graceful shutdown.
 *
 * Design. All calls arrive on one completion queue shared by the workers.
 * For every registered method the server keeps `threads` outstanding
 * grpc_server_request_registered_call slots (with the request payload read
 * up front), plus `threads` catch-all slots for unknown paths, which get
 * UNIMPLEMENTED (gRPC would otherwise park such calls until their deadline).
 * A slot is a small state machine whose queue tag is the slot itself:
 *
 *   waiting --(call matched)--> handler runs on the worker that dequeued it,
 *                               reply batch started, --> sending
 *   sending --(batch done)----> call released, slot re-armed --> waiting
 *
 * Because the queue is shared, a worker busy in a long handler never holds
 * back a call another worker could take, and replies go out asynchronously.
 *
 * Shutdown (grpc ruby rb_server.c idiom): set `stopping` so no slot re-arms,
 * grpc_server_shutdown_and_notify, wait for the notification with a deadline,
 * then grpc_server_cancel_all_calls and wait again; once every slot has been
 * retired the queue is shut down, which ends the workers.
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/time.h"
#include "log/log.h"
#include "rpc/internal.h"
#include "rpc/rpc.h"

typedef struct method {
    char *path;
    const ProtobufCMessageDescriptor *in, *out;
    fx_method_fn fn;
    void *ctx;
    void *handle; /* from grpc_server_register_method */
} method_t;

enum { TAG_SLOT = 1, TAG_SHUTDOWN = 2 };

typedef struct slot {
    int kind; /* TAG_SLOT; first member, the queue tag points here */
    fx_rpc_server_t *srv;
    size_t method; /* index into srv->methods, or SIZE_MAX for catch-all */
    int sending;
    grpc_call *call;
    gpr_timespec deadline;
    grpc_call_details details; /* catch-all slots only */
    grpc_metadata_array md;
    grpc_byte_buffer *payload;
    grpc_byte_buffer *reply;
    grpc_slice status_details;
    grpc_metadata trailer;
    int has_trailer;
    int cancelled;
    fx_arena_t arena;
} slot_t;

#define CATCH_ALL SIZE_MAX

struct fx_rpc_server {
    grpc_server *server;
    grpc_completion_queue *cq;
    int port;
    int nthreads;
    size_t max_msg;
    char *addr;
    method_t *methods;
    size_t nmethods, methods_cap;
    slot_t *slots;
    size_t nslots;
    pthread_t *threads;
    int started, stopped;
    atomic_int stopping;
    int shutdown_tag; /* TAG_SHUTDOWN; its address is the shutdown tag */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int shutdown_done; /* under mu */
    size_t live;       /* under mu: slots with an operation outstanding */
};

/* ---- helpers ----------------------------------------------------------- */

static const char *md_get(const grpc_metadata_array *md, const char *key, fx_arena_t *arena)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < md->count; i++) {
        const grpc_slice *k = &md->metadata[i].key;
        if (GRPC_SLICE_LENGTH(*k) == kl &&
            strncasecmp((const char *)GRPC_SLICE_START_PTR(*k), key, kl) == 0) {
            const grpc_slice *v = &md->metadata[i].value;
            return fx_arena_strndup(arena, (const char *)GRPC_SLICE_START_PTR(*v),
                                    GRPC_SLICE_LENGTH(*v));
        }
    }
    return NULL;
}

static const char *call_header(const fx_call_t *call, const char *name)
{
    slot_t *s = call->transport;
    return md_get(&s->md, name, &s->arena);
}

/* gRPC deadline -> fx_mono_ns() deadline; 0 when there is none. */
static int64_t mono_deadline(gpr_timespec d)
{
    if (gpr_time_cmp(d, gpr_inf_future(d.clock_type)) == 0)
        return 0;
    gpr_timespec left = gpr_time_sub(d, gpr_now(d.clock_type));
    int64_t ns = fx_mono_ns() + (int64_t)left.tv_sec * 1000000000 + left.tv_nsec;
    return ns ? ns : 1;
}

static void server_args(size_t max_msg, grpc_arg *a, size_t cap)
{
    FX_ASSERT(cap >= 4);
    int lim = max_msg > INT_MAX ? INT_MAX : (int)max_msg;
    a[0].type = GRPC_ARG_INTEGER;
    a[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    a[0].value.integer = lim;
    a[1].type = GRPC_ARG_INTEGER;
    a[1].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    a[1].value.integer = lim;
    /* gRPC sets SO_REUSEPORT by default, which would let a second server
     * silently share a taken port; a port clash must be an error. */
    a[2].type = GRPC_ARG_INTEGER;
    a[2].key = GRPC_ARG_ALLOW_REUSEPORT;
    a[2].value.integer = 0;
    /* Our clients ping every 30 s during long calls (client.c); accept that
     * instead of answering with GOAWAY too_many_pings. */
    a[3].type = GRPC_ARG_INTEGER;
    a[3].key = GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS;
    a[3].value.integer = 10000;
}

/* ---- slot state machine ------------------------------------------------ */

static void retire(slot_t *s)
{
    fx_rpc_server_t *srv = s->srv;
    pthread_mutex_lock(&srv->mu);
    FX_ASSERT(srv->live > 0);
    if (--srv->live == 0)
        pthread_cond_broadcast(&srv->cond);
    pthread_mutex_unlock(&srv->mu);
}

/* Asks gRPC for the next call for this slot, or retires the slot when the
 * server is stopping. A request made just as shutdown begins is failed by
 * gRPC through the queue, so it is retired on that path instead. */
static void arm(slot_t *s)
{
    fx_rpc_server_t *srv = s->srv;
    grpc_call_error e;

    if (atomic_load(&srv->stopping)) {
        retire(s);
        return;
    }
    if (s->method == CATCH_ALL)
        e = grpc_server_request_call(srv->server, &s->call, &s->details, &s->md, srv->cq, srv->cq,
                                     s);
    else
        e = grpc_server_request_registered_call(srv->server, srv->methods[s->method].handle,
                                                &s->call, &s->deadline, &s->md, &s->payload,
                                                srv->cq, srv->cq, s);
    if (e != GRPC_CALL_OK) {
        fx_log_error("rpc request_call failed", "addr=%s code=%d", fx_q(srv->addr), (int)e);
        retire(s);
    }
}

/* Releases everything the finished call held and re-arms the slot. */
static void finish(slot_t *s)
{
    if (s->call)
        grpc_call_unref(s->call);
    s->call = NULL;
    if (s->payload)
        grpc_byte_buffer_destroy(s->payload);
    s->payload = NULL;
    if (s->reply)
        grpc_byte_buffer_destroy(s->reply);
    s->reply = NULL;
    grpc_slice_unref(s->status_details);
    s->status_details = grpc_empty_slice();
    if (s->has_trailer)
        grpc_slice_unref(s->trailer.value);
    s->has_trailer = 0;
    grpc_metadata_array_destroy(&s->md);
    grpc_metadata_array_init(&s->md);
    if (s->method == CATCH_ALL) {
        grpc_call_details_destroy(&s->details);
        grpc_call_details_init(&s->details);
    }
    fx_arena_free(&s->arena);
    s->cancelled = 0;
    s->sending = 0;
    arm(s);
}

/* Runs the handler for a matched call and starts the reply batch. */
static void serve(slot_t *s)
{
    fx_rpc_server_t *srv = s->srv;
    ProtobufCMessage *req, *resp = NULL;
    fx_err_t err = {0};
    grpc_op ops[4];
    size_t n = 0;
    int rc;

    if (s->method == CATCH_ALL) {
        rc = fx_err_set(&err, FX_EUNIMPL, "unknown method %.*s",
                        (int)GRPC_SLICE_LENGTH(s->details.method),
                        (const char *)GRPC_SLICE_START_PTR(s->details.method));
        goto reply;
    }
    const method_t *m = &srv->methods[s->method];
    if (!s->payload) {
        rc = fx_err_set(&err, FX_EINVAL, "%s: the call carried no request message", m->path);
        goto reply;
    }
    req = fx__rpc_unpack(s->payload, m->in, &s->arena);
    if (!req) {
        rc = fx_err_set(&err, FX_EINVAL, "%s: the request is not a valid %s message", m->path,
                        m->in->name);
        goto reply;
    }
    const char *tenant = md_get(&s->md, FX_RPC_TENANT_KEY, &s->arena);
    fx_call_t call = {
        .method = m->path,
        .tenant = tenant && *tenant ? tenant : FX_RPC_DEFAULT_TENANT,
        .arena = &s->arena,
        .ctx = m->ctx,
        .deadline_ns = mono_deadline(s->deadline),
        .header = call_header,
        .transport = s,
    };
    rc = m->fn(&call, req, &resp, &err);
    if (rc == FX_OK) {
        FX_ASSERT(resp && resp->descriptor == m->out);
        s->reply = fx__rpc_pack(resp);
        size_t len = grpc_byte_buffer_length(s->reply);
        if (len > srv->max_msg) {
            grpc_byte_buffer_destroy(s->reply);
            s->reply = NULL;
            rc = fx_err_set(&err, FX_ETOOBIG,
                            "%s: the response of %zu bytes exceeds the message limit of %zu bytes",
                            m->path, len, srv->max_msg);
        }
    }

reply:
    memset(ops, 0, sizeof ops);
    ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[n++].data.send_initial_metadata.count = 0;
    if (rc == FX_OK) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = s->reply;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = (grpc_status_code)fx_rpc_status_from_fx(rc);
    if (rc != FX_OK) {
        char code[16];
        if (!err.msg[0])
            snprintf(err.msg, sizeof err.msg, "%s", fx_status_name(rc));
        s->status_details = grpc_slice_from_copied_string(err.msg);
        ops[n].data.send_status_from_server.status_details = &s->status_details;
        snprintf(code, sizeof code, "%d", rc);
        s->trailer.key = grpc_slice_from_static_string(FX__RPC_CODE_KEY);
        s->trailer.value = grpc_slice_from_copied_string(code);
        s->has_trailer = 1;
        ops[n].data.send_status_from_server.trailing_metadata_count = 1;
        ops[n].data.send_status_from_server.trailing_metadata = &s->trailer;
    }
    n++;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &s->cancelled;

    s->sending = 1;
    grpc_call_error e = grpc_call_start_batch(s->call, ops, n, s, NULL);
    if (e != GRPC_CALL_OK) {
        fx_log_error("rpc reply failed", "addr=%s code=%d", fx_q(srv->addr), (int)e);
        finish(s);
    }
}

static void *worker(void *arg)
{
    fx_rpc_server_t *srv = arg;
    for (;;) {
        grpc_event ev =
            grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        FX_ASSERT(ev.type == GRPC_OP_COMPLETE);
        if (*(int *)ev.tag == TAG_SHUTDOWN) {
            pthread_mutex_lock(&srv->mu);
            srv->shutdown_done = 1;
            pthread_cond_broadcast(&srv->cond);
            pthread_mutex_unlock(&srv->mu);
            continue;
        }
        slot_t *s = ev.tag;
        if (s->sending)
            finish(s); /* success or not (peer gone), the call is over */
        else if (!ev.success)
            retire(s); /* the server is shutting down; no call attached */
        else
            serve(s);
    }
    return NULL;
}

/* ---- public API ---------------------------------------------------------- */

int fx_rpc_server_new(const char *addr, int threads, size_t max_msg_bytes,
                      fx_rpc_server_t **out, fx_err_t *err)
{
    grpc_arg a[4];
    grpc_channel_args args = {FX_ARRAY_LEN(a), a};
    fx_rpc_server_t *srv = fx_calloc(1, sizeof *srv);

    *out = NULL;
    fx__rpc_lib_ref();
    srv->nthreads = threads < 1 ? 1 : threads;
    srv->max_msg = max_msg_bytes ? max_msg_bytes : FX_RPC_MAX_MSG_DEFAULT;
    /* ":9095" (empty host) means every IPv4 interface, as in Go. */
    if (addr[0] == ':') {
        size_t n = strlen(addr) + 8;
        srv->addr = fx_malloc(n);
        snprintf(srv->addr, n, "0.0.0.0%s", addr);
    } else {
        srv->addr = fx_strdup(addr);
    }
    srv->shutdown_tag = TAG_SHUTDOWN;
    pthread_mutex_init(&srv->mu, NULL);
    pthread_cond_init(&srv->cond, NULL);
    server_args(srv->max_msg, a, FX_ARRAY_LEN(a));
    srv->server = grpc_server_create(&args, NULL);
    srv->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(srv->server, srv->cq, NULL);

    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    srv->port = grpc_server_add_http2_port(srv->server, srv->addr, creds);
    grpc_server_credentials_release(creds);
    if (srv->port == 0) {
        int rc = fx_err_set(err, FX_EUNAVAIL,
                            "cannot listen for gRPC on %s: the address is invalid or the port "
                            "is already in use",
                            srv->addr);
        fx_rpc_server_free(srv);
        return rc;
    }
    *out = srv;
    return FX_OK;
}

int fx_rpc_server_port(const fx_rpc_server_t *srv)
{
    return srv->port;
}

int fx_rpc_server_register(fx_rpc_server_t *srv, const char *method,
                           const ProtobufCMessageDescriptor *in,
                           const ProtobufCMessageDescriptor *out, fx_method_fn fn, void *ctx,
                           fx_err_t *err)
{
    FX_ASSERT(!srv->started && method && in && out && fn);
    for (size_t i = 0; i < srv->nmethods; i++)
        if (strcmp(srv->methods[i].path, method) == 0)
            return fx_err_set(err, FX_EEXIST, "gRPC method %s registered twice", method);
    void *h = grpc_server_register_method(srv->server, method, NULL,
                                          GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    if (!h)
        return fx_err_set(err, FX_EINVAL, "gRPC refused to register method %s", method);
    FX_GROW(srv->methods, srv->methods_cap, srv->nmethods + 1);
    srv->methods[srv->nmethods++] = (method_t){fx_strdup(method), in, out, fn, ctx, h};
    return FX_OK;
}

int fx_rpc_server_start(fx_rpc_server_t *srv, fx_err_t *err)
{
    FX_ASSERT(!srv->started);
    (void)err;
    grpc_server_start(srv->server);
    srv->started = 1;

    size_t per = (size_t)srv->nthreads;
    srv->nslots = per * (srv->nmethods + 1);
    srv->slots = fx_calloc(srv->nslots, sizeof *srv->slots);
    srv->live = srv->nslots;
    for (size_t i = 0; i < srv->nslots; i++) {
        slot_t *s = &srv->slots[i];
        s->kind = TAG_SLOT;
        s->srv = srv;
        s->method = i / per < srv->nmethods ? i / per : CATCH_ALL;
        s->status_details = grpc_empty_slice();
        grpc_metadata_array_init(&s->md);
        grpc_call_details_init(&s->details);
        fx_arena_init(&s->arena);
        arm(s);
    }
    srv->threads = fx_calloc((size_t)srv->nthreads, sizeof *srv->threads);
    for (int i = 0; i < srv->nthreads; i++) {
        int rc = pthread_create(&srv->threads[i], NULL, worker, srv);
        FX_ASSERT(rc == 0);
    }
    fx_log_info("gRPC server listening", "addr=%s port=%d threads=%d methods=%zu",
                fx_q(srv->addr), srv->port, srv->nthreads, srv->nmethods);
    return FX_OK;
}

/* Waits on srv->cond until ready(srv) (evaluated under mu) holds or the
 * CLOCK_REALTIME deadline passes (NULL = forever). Returns ready(srv). */
static int wait_flag(fx_rpc_server_t *srv, int (*ready)(fx_rpc_server_t *),
                     const struct timespec *deadline)
{
    int ok;
    pthread_mutex_lock(&srv->mu);
    while (!(ok = ready(srv))) {
        if (deadline) {
            if (pthread_cond_timedwait(&srv->cond, &srv->mu, deadline) != 0) {
                ok = ready(srv);
                break;
            }
        } else {
            pthread_cond_wait(&srv->cond, &srv->mu);
        }
    }
    pthread_mutex_unlock(&srv->mu);
    return ok;
}

static int is_shut(fx_rpc_server_t *srv)
{
    return srv->shutdown_done;
}

static int is_idle(fx_rpc_server_t *srv)
{
    return srv->live == 0;
}

void fx_rpc_server_stop(fx_rpc_server_t *srv, int64_t grace_ms)
{
    struct timespec dl;

    if (!srv->started || srv->stopped)
        return;
    atomic_store(&srv->stopping, 1);
    grpc_server_shutdown_and_notify(srv->server, srv->cq, &srv->shutdown_tag);
    clock_gettime(CLOCK_REALTIME, &dl);
    if (grace_ms < 0)
        grace_ms = 0;
    dl.tv_sec += grace_ms / 1000;
    dl.tv_nsec += (grace_ms % 1000) * 1000000;
    if (dl.tv_nsec >= 1000000000) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000;
    }
    if (!wait_flag(srv, is_shut, &dl)) {
        /* With no grace (fx_rpc_server_free) this is the normal path. */
        if (grace_ms > 0)
            fx_log_warn("gRPC server stop: cancelling calls still running after the grace "
                        "period",
                        "addr=%s port=%d grace_ms=%lld", fx_q(srv->addr), srv->port,
                        (long long)grace_ms);
        grpc_server_cancel_all_calls(srv->server);
        wait_flag(srv, is_shut, NULL);
    }
    wait_flag(srv, is_idle, NULL);
    grpc_completion_queue_shutdown(srv->cq);
    for (int i = 0; i < srv->nthreads; i++)
        pthread_join(srv->threads[i], NULL);
    srv->stopped = 1;
    fx_log_info("gRPC server stopped", "addr=%s port=%d", fx_q(srv->addr), srv->port);
}

void fx_rpc_server_free(fx_rpc_server_t *srv)
{
    if (!srv)
        return;
    if (srv->started) {
        fx_rpc_server_stop(srv, 0);
    } else {
        /* Never started: no workers, so drain the notification here. */
        grpc_server_shutdown_and_notify(srv->server, srv->cq, &srv->shutdown_tag);
        for (;;) {
            grpc_event ev = grpc_completion_queue_next(srv->cq,
                                                       gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
            if (ev.type == GRPC_OP_COMPLETE && ev.tag == &srv->shutdown_tag)
                break;
        }
        grpc_completion_queue_shutdown(srv->cq);
        while (grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
                   .type != GRPC_QUEUE_SHUTDOWN)
            ;
    }
    grpc_server_destroy(srv->server);
    grpc_completion_queue_destroy(srv->cq);
    for (size_t i = 0; i < srv->nslots; i++) {
        slot_t *s = &srv->slots[i];
        grpc_metadata_array_destroy(&s->md);
        grpc_call_details_destroy(&s->details);
        fx_arena_free(&s->arena);
    }
    free(srv->slots);
    for (size_t i = 0; i < srv->nmethods; i++)
        free(srv->methods[i].path);
    free(srv->methods);
    free(srv->threads);
    free(srv->addr);
    pthread_mutex_destroy(&srv->mu);
    pthread_cond_destroy(&srv->cond);
    free(srv);
    fx__rpc_lib_unref();
}
