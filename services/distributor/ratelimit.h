/*
 * ratelimit.h - per-tenant ingestion rate limits (token buckets on the
 * uncompressed profile bytes, like Pyroscope's ingestion_rate_mb /
 * ingestion_burst_size_mb).
 *
 * The caller passes the tenant's current rate and burst on every call, so
 * limit changes (per-tenant overrides, or the global limit divided by the
 * number of healthy distributors) apply at once. Thread-safe.
 */
#ifndef FX_DIST_RATELIMIT_H
#define FX_DIST_RATELIMIT_H

#include <pthread.h>
#include <stdint.h>

#include "core/hash.h"

typedef struct ratelimit {
    pthread_mutex_t mu;
    fx_map64_t by_tenant;  /* tenant hash -> bucket index */
    struct bucket *buckets;
    size_t nbuckets, cap;
} ratelimit_t;

void ratelimit_init(ratelimit_t *rl);
void ratelimit_free(ratelimit_t *rl);
/* Takes n bytes from the tenant's bucket. Returns 1 if allowed, 0 if the
 * tenant is over its limit (nothing is taken then). rate <= 0 = unlimited. */
int ratelimit_allow(ratelimit_t *rl, const char *tenant, double n, double rate_per_s, double burst,
                    int64_t now_ns);

#endif
