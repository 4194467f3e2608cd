/*
 * cache.c - the bounded cache of loaded block indexes and symbol tables.
 * One LRU list per kind with its own byte budget; entries in use (pinned
 * by a query) are never freed, so the budget can be exceeded only by what
 * running queries hold. Loading happens outside the lock; if two queries
 * load the same section at once, the second copy is dropped.
 */
#include "block/format.h"

#include <stdlib.h>
#include <string.h>

struct fx_block_cache {
    pthread_mutex_t mu;
    size_t limit[2], bytes[2];
    fx__centry_t *head[2], *tail[2];
    uint64_t hits, misses, evictions;
};

fx_block_cache_t *fx_block_cache_new(size_t index_bytes, size_t symbols_bytes)
{
    fx_block_cache_t *c = fx_calloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    c->limit[FX__C_INDEX] = index_bytes;
    c->limit[FX__C_SYMBOLS] = symbols_bytes;
    return c;
}

static void free_obj(int kind, void *obj)
{
    if (kind == FX__C_INDEX)
        fx__bindex_free(obj);
    else
        fx__bsyms_free(obj);
    free(obj);
}

static void unlink_entry(fx_block_cache_t *c, fx__centry_t *e)
{
    int k = e->kind;
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head[k] = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail[k] = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(fx_block_cache_t *c, fx__centry_t *e)
{
    int k = e->kind;
    e->prev = NULL;
    e->next = c->head[k];
    if (c->head[k])
        c->head[k]->prev = e;
    c->head[k] = e;
    if (!c->tail[k])
        c->tail[k] = e;
}

/* Frees unpinned entries from the cold end until kind is within budget
 * (lock held). Returns entries to free after unlocking via *dead. */
static void evict(fx_block_cache_t *c, int k, fx__centry_t **dead)
{
    fx__centry_t *e = c->tail[k];
    while (e && c->bytes[k] > c->limit[k]) {
        fx__centry_t *prev = e->prev;
        if (!e->refs) {
            unlink_entry(c, e);
            c->bytes[k] -= e->bytes;
            e->owner->slot[k] = NULL;
            e->next = *dead;
            *dead = e;
            c->evictions++;
        }
        e = prev;
    }
}

static void free_dead(fx__centry_t *dead)
{
    while (dead) {
        fx__centry_t *n = dead->next;
        free_obj(dead->kind, dead->obj);
        free(dead);
        dead = n;
    }
}

int fx__cache_pin(fx_block_cache_t *c, fx_block_t *b, int kind, fx__centry_t **slot,
                  fx__cache_load_fn load, fx__centry_t **out, fx_err_t *err)
{
    fx__centry_t *dead = NULL;
    pthread_mutex_lock(&c->mu);
    fx__centry_t *e = *slot;
    if (e) {
        e->refs++;
        unlink_entry(c, e);
        push_front(c, e);
        c->hits++;
        pthread_mutex_unlock(&c->mu);
        *out = e;
        return FX_OK;
    }
    c->misses++;
    pthread_mutex_unlock(&c->mu);

    void *obj = NULL;
    size_t bytes = 0;
    int rc = load(b, kind, &obj, &bytes, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&c->mu);
    if (*slot) { /* someone else loaded it meanwhile */
        e = *slot;
        e->refs++;
        pthread_mutex_unlock(&c->mu);
        free_obj(kind, obj);
        *out = e;
        return FX_OK;
    }
    e = fx_calloc(1, sizeof *e);
    e->owner = b;
    e->kind = kind;
    e->obj = obj;
    e->bytes = bytes;
    e->refs = 1;
    push_front(c, e);
    c->bytes[kind] += bytes;
    *slot = e;
    evict(c, kind, &dead);
    pthread_mutex_unlock(&c->mu);
    free_dead(dead);
    *out = e;
    return FX_OK;
}

void fx__cache_unpin(fx_block_cache_t *c, fx__centry_t *e)
{
    fx__centry_t *dead = NULL;
    if (!e)
        return;
    pthread_mutex_lock(&c->mu);
    FX_ASSERT(e->refs > 0);
    e->refs--;
    evict(c, e->kind, &dead);
    pthread_mutex_unlock(&c->mu);
    free_dead(dead);
}

void fx__cache_drop(fx_block_cache_t *c, fx__centry_t **slot)
{
    fx__centry_t *dead = NULL;
    pthread_mutex_lock(&c->mu);
    for (int k = 0; k < 2; k++) {
        fx__centry_t *e = slot[k];
        if (!e)
            continue;
        FX_ASSERT(e->refs == 0);
        unlink_entry(c, e);
        c->bytes[k] -= e->bytes;
        slot[k] = NULL;
        e->next = dead;
        dead = e;
    }
    pthread_mutex_unlock(&c->mu);
    free_dead(dead);
}

void fx_block_cache_free(fx_block_cache_t *c)
{
    if (!c)
        return;
    for (int k = 0; k < 2; k++)
        FX_ASSERT(c->head[k] == NULL);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void fx_block_cache_stats(fx_block_cache_t *c, fx_block_cache_stats_t *out)
{
    pthread_mutex_lock(&c->mu);
    out->index_bytes = c->bytes[FX__C_INDEX];
    out->symbols_bytes = c->bytes[FX__C_SYMBOLS];
    out->hits = c->hits;
    out->misses = c->misses;
    out->evictions = c->evictions;
    pthread_mutex_unlock(&c->mu);
}
