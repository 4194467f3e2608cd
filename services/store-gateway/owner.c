/*
 * owner.c - which blocks this gateway loads: each block hashes to a token
 * on the store-gateway ring; the gateways found clockwise from it own it.
 *
 * The walk is Cortex's BlocksOwnerSync: count ACTIVE gateways up to the
 * replication factor, and include the JOINING and LEAVING ones met on the
 * way without counting them. A joining gateway therefore loads its future
 * blocks while their current owner still serves them, and a leaving one
 * keeps serving while its successor loads. Gateways whose heartbeat timed
 * out are skipped, so when one dies the next one clockwise takes its blocks
 * as soon as the ring shows it unhealthy. This instance always counts itself
 * healthy: a slow heartbeat write must not make it drop everything.
 */
#include "sg_int.h"
#include "core/hash.h"
#include "core/mem.h"
#include "core/time.h"

#include <stdlib.h>
#include <string.h>

uint32_t sg__token(const char *tenant, const char *id)
{
    uint32_t h = fx_fnv1_32(FX_FNV32_OFFSET, tenant, strlen(tenant));
    return fx_fnv1_32(h, id, strlen(id));
}

/* Health of every instance of s (heartbeat within the timeout, whatever the
 * state); returns self's index or -1. */
static long health(sg_t *g, const fx_ring_snapshot_t *s, uint8_t *ok)
{
    int64_t now = fx_now_ms();
    long self = -1;
    for (size_t i = 0; i < s->ninstances; i++) {
        fx_ring_instance_t in = s->instances[i];
        in.state = FX_RING_ACTIVE; /* judge the heartbeat only */
        ok[i] = (uint8_t)fx_ring_healthy(g->c.ring, &in, FX_RING_OP_READ, now);
        if (strcmp(s->instances[i].id, g->id) == 0) {
            self = (long)i;
            ok[i] = 1;
        }
    }
    return self;
}

/* Our own state is left out: whether the walk reaches us before rf ACTIVE
 * others does not depend on it, so turning ACTIVE changes nothing. */
static uint64_t signature(const fx_ring_snapshot_t *s, const uint8_t *ok, long self)
{
    uint64_t h = 0x243f6a8885a308d3ULL;
    for (size_t i = 0; i < s->ninstances; i++) {
        const fx_ring_instance_t *in = &s->instances[i];
        uint64_t x = fx_hash64(in->id, strlen(in->id), in->ntokens);
        x ^= (uint64_t)((long)i == self ? 0 : in->state) << 1 | ok[i];
        x ^= in->ntokens ? (uint64_t)in->tokens[0] << 8 : 0;
        h = fx_mix64(h ^ x);
    }
    return h;
}

uint64_t sg__ring_signature(sg_t *g)
{
    fx_ring_snapshot_t *s = fx_ring_acquire(g->c.ring);
    uint8_t *ok = fx_malloc(s->ninstances + 1);
    long self = health(g, s, ok);
    uint64_t sig = signature(s, ok, self);
    free(ok);
    fx_ring_release(g->c.ring, s);
    return sig;
}

/* 1 if self is in the owner set of token. seen: scratch of ninstances. */
static int owns(const fx_ring_snapshot_t *s, const uint8_t *ok, uint32_t token, int rf, size_t self,
                uint8_t *seen)
{
    size_t lo = fx_ring_token_index(s, token);
    int active = 0, mine = 0;
    if (!s->ntokens)
        return 0;
    memset(seen, 0, s->ninstances);
    for (size_t k = 0; k < s->ntokens && active < rf; k++) {
        uint32_t i = s->tokens[(lo + k) % s->ntokens].instance;
        if (seen[i])
            continue;
        seen[i] = 1;
        if (!ok[i])
            continue;
        if (i == self)
            mine = 1;
        if (s->instances[i].state == FX_RING_ACTIVE)
            active++;
    }
    return mine;
}

long sg__owned(sg_t *g, const sg_listed_t *v, size_t n, uint8_t *owned, uint64_t *sig)
{
    fx_ring_snapshot_t *s = fx_ring_acquire(g->c.ring);
    uint8_t *ok = fx_malloc(s->ninstances + 1), *seen = fx_malloc(s->ninstances + 1);
    long self = health(g, s, ok), count = -1;
    *sig = signature(s, ok, self);
    if (self >= 0) {
        count = 0;
        for (size_t i = 0; i < n; i++) {
            owned[i] = (uint8_t)owns(s, ok, v[i].token, g->c.replication_factor, (size_t)self, seen);
            count += owned[i];
        }
    }
    free(ok);
    free(seen);
    fx_ring_release(g->c.ring, s);
    return count;
}
