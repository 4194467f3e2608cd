/*
 * ring.h - consistent hashing with tokens (design.md §3).
 *
 * Each instance (ingester, store-gateway, distributor) owns a set of random
 * 32-bit tokens; a series with token t is owned by the first RF distinct
 * instances found walking the ring clockwise from t. Instance descriptions
 * live in a KV store (kv/kv.h), one key per instance
 * (`<prefix>/<ring>/<instance id>`), JSON-encoded; fx_ring_t watches them and
 * keeps an immutable snapshot that lookups use without locks beyond a
 * reference count.
 *
 * Ownership: fx_ring_new/fx_ring_free; snapshots from fx_ring_acquire must
 * be released with fx_ring_release.
 */
#ifndef FX_RING_H
#define FX_RING_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/core.h"
#include "kv/kv.h"

typedef enum fx_ring_state {
    FX_RING_JOINING = 0,
    FX_RING_ACTIVE = 1,
    FX_RING_LEAVING = 2,
} fx_ring_state_t;

const char *fx_ring_state_name(fx_ring_state_t s);

typedef struct fx_ring_instance {
    char id[128];
    char addr[128];   /* host:port of its gRPC server */
    char http[128];   /* host:port of its HTTP server (admin pages) */
    char zone[64];
    fx_ring_state_t state;
    int64_t heartbeat_ms;
    int64_t registered_ms;
    uint32_t *tokens; /* sorted */
    size_t ntokens;
} fx_ring_instance_t;

typedef struct fx_ring_token {
    uint32_t token;
    uint32_t instance; /* index into instances */
} fx_ring_token_t;

typedef struct fx_ring_snapshot {
    int refs;
    fx_ring_instance_t *instances; /* sorted by id */
    size_t ninstances;
    fx_ring_token_t *tokens;       /* sorted by token */
    size_t ntokens;
} fx_ring_snapshot_t;

typedef struct fx_ring_options {
    const char *prefix;          /* KV key prefix, default "fornax/rings" */
    int64_t heartbeat_timeout_ms; /* an instance is unhealthy after this; default 60000 */
} fx_ring_options_t;

typedef struct fx_ring fx_ring_t;

/* Starts watching ring `name` in kv. */
fx_ring_t *fx_ring_new(fx_kv_t *kv, const char *name, const fx_ring_options_t *opt, fx_err_t *err);
void fx_ring_free(fx_ring_t *r);
const char *fx_ring_name(const fx_ring_t *r);
fx_kv_t *fx_ring_kv(const fx_ring_t *r);
/* Re-reads every instance from the KV (watch events already do this; use
 * after the KV was unreachable, or in tests). */
int fx_ring_refresh(fx_ring_t *r, fx_err_t *err);

fx_ring_snapshot_t *fx_ring_acquire(fx_ring_t *r);
void fx_ring_release(fx_ring_t *r, fx_ring_snapshot_t *s);

typedef enum fx_ring_op { FX_RING_OP_WRITE, FX_RING_OP_READ } fx_ring_op_t;

/* 1 if instance i may serve op now: ACTIVE (reads also accept LEAVING)
 * with a heartbeat younger than the timeout, not counting the time the KV
 * store was unreachable (now, or in its last outage). */
int fx_ring_healthy(const fx_ring_t *r, const fx_ring_instance_t *in, fx_ring_op_t op, int64_t now_ms);

/* Where a walk clockwise from token starts: the index of the first of
 * s->tokens >= token, or ntokens past the last one (the walk visits
 * s->tokens[(i + k) % ntokens], so it wraps to the first). */
size_t fx_ring_token_index(const fx_ring_snapshot_t *s, uint32_t token);

/* The replication set of token: up to rf distinct instances clockwise from
 * it (distinct zones when zone_aware). For writes, an instance that is
 * JOINING or LEAVING extends the set by one, so rollouts keep rf healthy
 * writers. Writes to unhealthy members count as failures. out (capacity
 * at least 2*rf) receives instance indices into s->instances. Returns how
 * many. */
size_t fx_ring_replicas(const fx_ring_snapshot_t *s, uint32_t token, int rf, int zone_aware,
                        fx_ring_op_t op, uint32_t *out);

/* Admin: JSON ({"instances":[...]}) and HTML views of the snapshot. */
void fx_ring_render_json(const fx_ring_t *r, const fx_ring_snapshot_t *s, int64_t now_ms, fx_buf_t *out);
void fx_ring_render_html(const fx_ring_t *r, const fx_ring_snapshot_t *s, int64_t now_ms,
                         const char *title, fx_buf_t *out);
/* Removes an instance from the ring (the admin "forget" action). */
int fx_ring_forget(fx_ring_t *r, const char *id, fx_err_t *err);

/* Instance (de)serialization, shared by the ring and its lifecycler. */
void fx_ring_instance_encode(const fx_ring_instance_t *in, fx_buf_t *out);
int fx_ring_instance_decode(const uint8_t *data, size_t len, fx_ring_instance_t *in, fx_err_t *err);
void fx_ring_instance_free(fx_ring_instance_t *in);
/* The KV key of an instance. */
void fx_ring_key(const char *prefix, const char *ring, const char *id, fx_buf_t *out);

#endif
