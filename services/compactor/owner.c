/*
 * owner.c - which compactor owns a tenant: the first ACTIVE, healthy
 * instance of the "compactor" ring clockwise from the tenant's token, as
 * Cortex/Mimir/Pyroscope shard tenants over their compactor ring. One owner
 * per tenant, so two compactors never merge the same blocks at once (except
 * for the moment a ring change takes to reach every instance; docs/compactor.md
 * says why that is safe).
 */
#include "compactor.h"
#include "core/hash.h"
#include "ring/ring.h"

#include <string.h>

int cp_ring_owns(const fx_ring_t *r, const fx_ring_snapshot_t *s, const char *id,
                 const char *tenant, int64_t now_ms)
{
    if (!s->ntokens)
        return 0;
    uint32_t token = fx_fnv1_32(FX_FNV32_OFFSET, tenant, strlen(tenant));
    size_t lo = fx_ring_token_index(s, token);
    for (size_t k = 0; k < s->ntokens; k++) {
        const fx_ring_instance_t *in = &s->instances[s->tokens[(lo + k) % s->ntokens].instance];
        if (fx_ring_healthy(r, in, FX_RING_OP_WRITE, now_ms))
            return strcmp(in->id, id) == 0;
    }
    return 0;
}
