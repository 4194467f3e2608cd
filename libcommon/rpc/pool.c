/*
 * pool.c - one fx_rpc_client_t per peer address, shared by all threads.
 *
 * Lookups dominate (every push and query fans out to ring members) and the
 * set of members changes rarely, so a read-write lock guards a hash index
 * over an append-only array: readers never block each other.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "rpc/rpc.h"

struct fx_rpc_pool {
    pthread_rwlock_t lock;
    size_t max_msg;
    fx_rpc_client_t **clients;
    size_t n, cap;
    fx_map64_t index; /* hash of address -> position in clients */
};

static uint64_t addr_hash(const char *addr)
{
    uint64_t h = fx_hash64(addr, strlen(addr), 0);
    return h == FX_MAP64_EMPTY ? 0 : h;
}

/* Caller holds the lock (either mode). */
static fx_rpc_client_t *find(fx_rpc_pool_t *p, const char *addr, uint64_t h)
{
    const uint64_t *v = fx_map64_get(&p->index, h);
    if (!v)
        return NULL;
    if (strcmp(fx_rpc_client_target(p->clients[*v]), addr) == 0)
        return p->clients[*v];
    /* A 64-bit hash collision: fall back to a scan. */
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(fx_rpc_client_target(p->clients[i]), addr) == 0)
            return p->clients[i];
    return NULL;
}

fx_rpc_pool_t *fx_rpc_pool_new(size_t max_msg_bytes)
{
    fx_rpc_pool_t *p = fx_calloc(1, sizeof *p);
    pthread_rwlock_init(&p->lock, NULL);
    p->max_msg = max_msg_bytes;
    fx_map64_init(&p->index);
    return p;
}

fx_rpc_client_t *fx_rpc_pool_get(fx_rpc_pool_t *p, const char *addr)
{
    uint64_t h = addr_hash(addr);
    fx_rpc_client_t *c;

    pthread_rwlock_rdlock(&p->lock);
    c = find(p, addr, h);
    pthread_rwlock_unlock(&p->lock);
    if (c)
        return c;

    pthread_rwlock_wrlock(&p->lock);
    c = find(p, addr, h); /* another thread may have won the race */
    if (!c) {
        c = fx_rpc_client_new_opts(addr, p->max_msg);
        FX_GROW(p->clients, p->cap, p->n + 1);
        int inserted;
        uint64_t *slot = fx_map64_put(&p->index, h, &inserted);
        if (inserted)
            *slot = p->n;
        p->clients[p->n++] = c;
    }
    pthread_rwlock_unlock(&p->lock);
    return c;
}

size_t fx_rpc_pool_size(fx_rpc_pool_t *p)
{
    pthread_rwlock_rdlock(&p->lock);
    size_t n = p->n;
    pthread_rwlock_unlock(&p->lock);
    return n;
}

void fx_rpc_pool_free(fx_rpc_pool_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        fx_rpc_client_free(p->clients[i]);
    free(p->clients);
    fx_map64_free(&p->index);
    pthread_rwlock_destroy(&p->lock);
    free(p);
}
