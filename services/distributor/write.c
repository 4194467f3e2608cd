/* write.c - replication to ingesters with quorum. */
#include "write.h"
#include "core/mem.h"
#include "core/time.h"
#include "log/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

void write_batch_init(write_batch_t *b)
{
    memset(b, 0, sizeof *b);
}

void write_batch_add(write_batch_t *b, Ingester__V1__SeriesProfile *sp, uint32_t token,
                     uint8_t *owned)
{
    FX_GROW(b->items, b->cap, b->n + 1);
    b->items[b->n++] = (write_item_t){sp, token, owned};
}

void write_batch_free(write_batch_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->items[i].owned);
    free(b->items);
    memset(b, 0, sizeof *b);
}

/* One ingester's share of the batch and the outcome of its Push. */
typedef struct target {
    dist_t *d;
    const char *tenant;
    const char *addr;
    int64_t heartbeat_ms;
    Ingester__V1__SeriesProfile **profiles;
    size_t n, cap;
    int rc;
    fx_err_t err;
    pthread_t thread;
} target_t;

static void *push_one(void *arg)
{
    target_t *t = arg;
    fx_arena_t a;
    Ingester__V1__PushRequest req = INGESTER__V1__PUSH_REQUEST__INIT;
    ProtobufCMessage *resp;

    fx_rpc_client_t *c = fx_rpc_pool_get(fx_app_pool(t->d->app), t->addr);

    fx_arena_init(&a);
    req.n_profiles = t->n;
    req.profiles = t->profiles;
    /* A restarted ingester heartbeats before our channel's reconnect
     * backoff ends: dial it now, or it would miss writes for seconds. */
    fx_rpc_client_revive(c, t->heartbeat_ms);
    t->rc = fx_rpc_invoke(c, "/ingester.v1.IngesterService/Push", t->tenant, &req.base,
                          &ingester__v1__push_response__descriptor, &a, &resp,
                          t->d->opts.push_timeout_ns / 1000000, &t->err);
    fx_arena_free(&a);
    return NULL;
}

/* Errors a client can act on beat "an ingester is down". */
static int severity(int code)
{
    switch (code) {
    case FX_EINVAL: return 3;
    case FX_ELIMIT: case FX_ETOOBIG: return 2;
    case FX_OK: return 0;
    default: return 1;
    }
}

int write_batch_send(dist_t *d, const char *tenant, write_batch_t *b, fx_err_t *err)
{
    fx_ring_snapshot_t *s = fx_ring_acquire(d->ingesters);
    const fx_ring_opts_t *ro = fx_app_ring_opts(d->app);
    int rf = fx_app_replication_factor(d->app);
    int64_t now = fx_now_ms();
    target_t *targets = fx_calloc(s->ninstances + 1, sizeof *targets);
    /* For each item: which targets hold it (-1 = an unhealthy replica). */
    int32_t *placement = fx_malloc((b->n * (size_t)rf * 2 + 1) * sizeof *placement);
    uint8_t *nplaced = fx_calloc(b->n + 1, 1);
    uint32_t replicas[32];
    int rc = FX_OK;

    if (s->ninstances == 0) {
        rc = fx_err_set(err, FX_EUNAVAIL, "no ingesters in the ring: cannot accept profiles yet");
        goto out;
    }
    for (size_t i = 0; i < b->n; i++) {
        size_t nr = fx_ring_replicas(s, b->items[i].token, rf, ro->zone_awareness, FX_RING_OP_WRITE,
                                     replicas);
        for (size_t k = 0; k < nr; k++) {
            const fx_ring_instance_t *in = &s->instances[replicas[k]];
            int32_t where = -1;
            if (fx_ring_healthy(d->ingesters, in, FX_RING_OP_WRITE, now)) {
                target_t *t = &targets[replicas[k]];
                FX_GROW(t->profiles, t->cap, t->n + 1);
                t->profiles[t->n++] = b->items[i].sp;
                where = (int32_t)replicas[k];
            }
            placement[i * (size_t)rf * 2 + nplaced[i]++] = where;
        }
    }
    /* Run the Pushes: one on this thread, the others on their own. */
    size_t last = 0;
    for (size_t k = 0; k < s->ninstances; k++) {
        target_t *t = &targets[k];
        if (!t->n)
            continue;
        t->d = d;
        t->tenant = tenant;
        t->addr = s->instances[k].addr;
        t->heartbeat_ms = s->instances[k].heartbeat_ms;
        last = k;
    }
    uint8_t *threaded = fx_calloc(s->ninstances + 1, 1);
    for (size_t k = 0; k < s->ninstances; k++)
        if (targets[k].n && k != last)
            threaded[k] = pthread_create(&targets[k].thread, NULL, push_one, &targets[k]) == 0;
    for (size_t k = 0; k < s->ninstances; k++)
        if (targets[k].n && !threaded[k]) /* this thread's share, or no thread to be had */
            push_one(&targets[k]);
    for (size_t k = 0; k < s->ninstances; k++)
        if (threaded[k])
            pthread_join(targets[k].thread, NULL);
    free(threaded);
    /* Quorum per profile. */
    for (size_t i = 0; i < b->n && rc == FX_OK; i++) {
        size_t ok = 0, nr = nplaced[i];
        const target_t *worst = NULL;
        for (size_t k = 0; k < nr; k++) {
            int32_t where = placement[i * (size_t)rf * 2 + k];
            if (where >= 0 && targets[where].rc == FX_OK)
                ok++;
            else if (where >= 0 && (!worst || severity(targets[where].rc) > severity(worst->rc)))
                worst = &targets[where];
        }
        size_t quorum = nr / 2 + 1;
        if (ok >= quorum)
            continue;
        if (worst && severity(worst->rc) >= 2) {
            rc = worst->err.code;
            *err = worst->err;
        } else {
            rc = fx_err_set(err, FX_EUNAVAIL,
                            "only %zu of %zu ingesters acknowledged the profile, %zu needed%s%s", ok,
                            nr, quorum, worst ? ": " : "", worst ? worst->err.msg : "");
        }
    }
out:
    for (size_t k = 0; k < s->ninstances; k++)
        free(targets[k].profiles);
    free(targets);
    free(placement);
    free(nplaced);
    fx_ring_release(d->ingesters, s);
    return rc;
}

size_t dist_healthy_distributors(dist_t *d)
{
    if (!d->distributors)
        return 1;
    fx_ring_snapshot_t *s = fx_ring_acquire(d->distributors);
    int64_t now = fx_now_ms();
    size_t n = 0;
    for (size_t i = 0; i < s->ninstances; i++)
        n += fx_ring_healthy(d->distributors, &s->instances[i], FX_RING_OP_READ, now);
    fx_ring_release(d->distributors, s);
    return n ? n : 1;
}
