/*
 * rpc.h - unary gRPC between Fornax services (server, client, client pool).
 *
 * This module is the only code in Fornax that touches gRPC core types: the
 * rest of the tree sees protobuf-c messages, fx_call_t handlers and FX_E*
 * codes. Every cross-service call goes through here, also inside one
 * `fornax -target=all` process (over loopback), so one code path is tested
 * everywhere. Transport is cleartext HTTP/2 (gRPC core, insecure creds).
 *
 * Server: methods are registered up front; a pool of worker threads serves
 * calls synchronously (the handler runs on the worker), with the request
 * already unpacked into the call's arena. Replies are sent asynchronously so
 * a slow reader never pins a worker.
 *
 * Errors cross the wire as a gRPC status (FX_E* <-> grpc_status_code, see
 * status.c) whose details string is the fx_err_t message; the exact FX code
 * also travels in the `fx-code` trailer so e.g. FX_ETOOBIG and FX_ELIMIT
 * (both RESOURCE_EXHAUSTED) survive the round trip. The tenant travels in
 * the `x-scope-orgid` metadata.
 *
 * Thread-safety: a server is set up and torn down from one thread; a client
 * and a pool may be used from any number of threads at once.
 */
#ifndef FX_RPC_H
#define FX_RPC_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "core/call.h"
#include "core/core.h"
#include "core/mem.h"

/* Default and ceiling for messages in either direction. Profiles pushed to an
 * ingester are at most max_profile_size_bytes each, but a batched push or a
 * merged pprof answer can be far bigger; 256 MiB matches the public push
 * body limit (ingestion_body_limit_mb). */
#define FX_RPC_MAX_MSG_DEFAULT (256u << 20)

/* Metadata key of the tenant (gRPC keys are lower case). */
#define FX_RPC_TENANT_KEY "x-scope-orgid"
#define FX_RPC_DEFAULT_TENANT "anonymous"

/* ---- server ---------------------------------------------------------- */

typedef struct fx_rpc_server fx_rpc_server_t;

/* Creates a server listening on addr ("host:port"; ":port" means all IPv4
 * interfaces; port 0 picks a free port, see fx_rpc_server_port). The port is
 * bound here, so a taken port fails now with FX_EUNAVAIL, not at start.
 * threads: handler threads (>= 1); max_msg_bytes: receive/send limit (0 =
 * FX_RPC_MAX_MSG_DEFAULT). On success *out is the caller's, freed with
 * fx_rpc_server_free. */
int fx_rpc_server_new(const char *addr, int threads, size_t max_msg_bytes,
                      fx_rpc_server_t **out, fx_err_t *err);

/* The bound TCP port. */
int fx_rpc_server_port(const fx_rpc_server_t *srv);

/* Registers a unary method before fx_rpc_server_start. method is the full
 * path "/pkg.Service/Method"; in/out describe the request and response
 * messages; fn runs on a worker thread with ctx as call->ctx. The strings and
 * descriptors must outlive the server. Returns FX_EEXIST for a duplicate
 * path. A call to any path not registered gets UNIMPLEMENTED. */
int fx_rpc_server_register(fx_rpc_server_t *srv, const char *method,
                           const ProtobufCMessageDescriptor *in,
                           const ProtobufCMessageDescriptor *out, fx_method_fn fn, void *ctx,
                           fx_err_t *err);

/* Starts the listener and the worker threads. */
int fx_rpc_server_start(fx_rpc_server_t *srv, fx_err_t *err);

/* Graceful stop: refuses new calls, lets calls in flight finish for up to
 * grace_ms, then cancels the rest (their handlers still run to the end, but
 * their replies are dropped) and joins the workers. Idempotent. */
void fx_rpc_server_stop(fx_rpc_server_t *srv, int64_t grace_ms);

/* Stops (with no grace) if still running, then frees srv. NULL is a no-op. */
void fx_rpc_server_free(fx_rpc_server_t *srv);

/* ---- client ---------------------------------------------------------- */

typedef struct fx_rpc_client fx_rpc_client_t;

/* Creates a client for target ("host:port", or any gRPC target URI). One
 * HTTP/2 channel, connected lazily and reconnected with a short backoff
 * (100 ms doubling to 2 s), shared by all threads. Never fails; a bad or dead
 * target shows up as FX_EUNAVAIL from fx_rpc_invoke. Free with
 * fx_rpc_client_free once no invoke is running on it. */
fx_rpc_client_t *fx_rpc_client_new(const char *target);
/* As above with an explicit message limit (0 = FX_RPC_MAX_MSG_DEFAULT). */
fx_rpc_client_t *fx_rpc_client_new_opts(const char *target, size_t max_msg_bytes);
const char *fx_rpc_client_target(const fx_rpc_client_t *c);
void fx_rpc_client_free(fx_rpc_client_t *c);
/* The peer showed a sign of life at alive_ms (wall clock ms, e.g. a fresh
 * ring heartbeat): if calls have failed UNAVAILABLE since before that (the
 * first such failure counts), the channel
 * dials again at once instead of waiting out gRPC's reconnect backoff (and
 * waits up to 250 ms for the connection), so a restarted ingester gets
 * writes as soon as the ring says it is back. Cheap when nothing failed. */
void fx_rpc_client_revive(fx_rpc_client_t *c, int64_t alive_ms);

/* Synchronous unary call of method ("/pkg.Service/Method") with tenant (NULL
 * = none sent; the server then uses "anonymous"). The response, of type
 * resp_desc, is unpacked into arena and returned in *resp (it and everything
 * it points to live until fx_arena_free(arena)). timeout_ms <= 0 means no
 * deadline. Fails fast: a target that refuses connections gives FX_EUNAVAIL
 * at once rather than waiting for the deadline. On failure err->msg is
 * "<target>: <remote or local message>" and the code is the remote FX code
 * (or FX_EUNAVAIL, FX_EDEADLINE, FX_ECANCELED for transport failures). */
int fx_rpc_invoke(fx_rpc_client_t *c, const char *method, const char *tenant,
                  const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                  fx_arena_t *arena, ProtobufCMessage **resp, int64_t timeout_ms, fx_err_t *err);

/* ---- client pool ----------------------------------------------------- */

/* Clients keyed by address, for ring members. Thread-safe. */
typedef struct fx_rpc_pool fx_rpc_pool_t;

/* max_msg_bytes applies to every client made by the pool (0 = default). */
fx_rpc_pool_t *fx_rpc_pool_new(size_t max_msg_bytes);
/* Returns the client for addr, creating it on first use. The client is owned
 * by the pool and stays valid until fx_rpc_pool_free (clients are never
 * evicted: an idle gRPC channel holds no connection after its idle timeout,
 * so a departed ring member costs only a little memory). */
fx_rpc_client_t *fx_rpc_pool_get(fx_rpc_pool_t *pool, const char *addr);
size_t fx_rpc_pool_size(fx_rpc_pool_t *pool);
/* Frees the pool and all its clients; no call may be running on them. */
void fx_rpc_pool_free(fx_rpc_pool_t *pool);

/* ---- status mapping (exposed for tests and for transports) ------------ */

/* FX_E* code -> gRPC status code number (0..16). */
int fx_rpc_status_from_fx(int fx_code);
/* gRPC status code number -> FX_E* code. */
int fx_rpc_status_to_fx(int grpc_code);

#endif
