/*
 * lifecycler.h - one instance's membership in a ring: register with tokens
 * (JOINING), become ACTIVE when ready, heartbeat, leave (LEAVING, then
 * removed) on shutdown.
 *
 * Tokens survive restarts: they are kept in tokens_file (and reused from
 * the ring when the instance is still registered), so a restarted ingester
 * owns the same series it owned before.
 *
 * Ownership: fx_ring_lifecycler_start returns an object the caller stops
 * with fx_ring_lifecycler_stop (which frees it). The ring must outlive it.
 */
#ifndef FX_RING_LIFECYCLER_H
#define FX_RING_LIFECYCLER_H

#include "ring/ring.h"

typedef struct fx_ring_lifecycler_options {
    const char *id;          /* unique instance id, e.g. hostname-port */
    const char *addr;        /* gRPC host:port others call */
    const char *http;        /* HTTP host:port (admin), may be "" */
    const char *zone;        /* may be "" */
    int ntokens;             /* default 128 */
    const char *tokens_file; /* may be NULL */
    int64_t heartbeat_period_ms; /* default 5000 */
    const char *prefix;      /* KV prefix, default "fornax/rings" */
} fx_ring_lifecycler_options_t;

typedef struct fx_ring_lifecycler fx_ring_lifecycler_t;

/* Registers the instance as JOINING and starts heartbeating. If the KV is
 * unreachable it keeps retrying in the background and returns success. */
fx_ring_lifecycler_t *fx_ring_lifecycler_start(fx_ring_t *ring, const fx_ring_lifecycler_options_t *o,
                                               fx_err_t *err);
/* Changes the state and writes it at once. */
int fx_ring_lifecycler_set_state(fx_ring_lifecycler_t *lc, fx_ring_state_t state, fx_err_t *err);
fx_ring_state_t fx_ring_lifecycler_state(fx_ring_lifecycler_t *lc);
/* 1 once the instance's current state has been written to the KV. */
int fx_ring_lifecycler_registered(fx_ring_lifecycler_t *lc);
/* Stops heartbeating; with remove=1 deletes the instance from the ring
 * (after the caller has moved it to LEAVING and drained). Frees lc. */
void fx_ring_lifecycler_stop(fx_ring_lifecycler_t *lc, int remove);

#endif
