/* ratelimit.c - token buckets keyed by tenant. */
#include "ratelimit.h"
#include "core/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bucket {
    char tenant[160];
    double tokens;
    int64_t last_ns;
};

void ratelimit_init(ratelimit_t *rl)
{
    memset(rl, 0, sizeof *rl);
    pthread_mutex_init(&rl->mu, NULL);
    fx_map64_init(&rl->by_tenant);
}

void ratelimit_free(ratelimit_t *rl)
{
    fx_map64_free(&rl->by_tenant);
    free(rl->buckets);
    pthread_mutex_destroy(&rl->mu);
}

static struct bucket *find(ratelimit_t *rl, const char *tenant, double burst, int64_t now_ns)
{
    /* Clearing the top bit keeps keys away from FX_MAP64_EMPTY. */
    uint64_t h = fx_hash64(tenant, strlen(tenant), 7) & ~(1ULL << 63);
    for (;;) {
        int inserted;
        uint64_t *slot = fx_map64_put(&rl->by_tenant, h, &inserted);
        if (inserted) {
            FX_GROW(rl->buckets, rl->cap, rl->nbuckets + 1);
            struct bucket *b = &rl->buckets[rl->nbuckets];
            snprintf(b->tenant, sizeof b->tenant, "%s", tenant);
            b->tokens = burst; /* a new tenant starts with a full burst */
            b->last_ns = now_ns;
            *slot = rl->nbuckets++;
        }
        struct bucket *b = &rl->buckets[*slot];
        if (strcmp(b->tenant, tenant) == 0)
            return b;
        h = (h + 1) & ~(1ULL << 63); /* hash collision: probe on */
    }
}

int ratelimit_allow(ratelimit_t *rl, const char *tenant, double n, double rate_per_s, double burst,
                    int64_t now_ns)
{
    int ok;
    if (rate_per_s <= 0)
        return 1;
    if (burst <= 0)
        burst = rate_per_s;
    pthread_mutex_lock(&rl->mu);
    struct bucket *b = find(rl, tenant, burst, now_ns);
    double elapsed = (double)(now_ns - b->last_ns) / 1e9;
    if (elapsed > 0) {
        b->tokens += elapsed * rate_per_s;
        b->last_ns = now_ns;
    }
    if (b->tokens > burst)
        b->tokens = burst;
    ok = b->tokens >= n;
    if (ok)
        b->tokens -= n;
    pthread_mutex_unlock(&rl->mu);
    return ok;
}
