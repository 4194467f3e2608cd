/*
 * memory.c - the in-process KV backend. A sorted array of keys under one
 * mutex; watchers are called synchronously after each change, outside the
 * lock, in the writer's thread. Enough for the ring of one process.
 */
#include "kv/kv.h"
#include "core/mem.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct mem_item {
    char *key;
    fx_buf_t value;
    int64_t version;
} mem_item_t;

typedef struct mem_watch {
    char *prefix;
    fx_kv_list_fn fn;
    void *ctx;
} mem_watch_t;

typedef struct mem_kv {
    fx_kv_t base;
    pthread_mutex_t mu;
    mem_item_t *items;
    size_t len, cap;
    mem_watch_t *watches;
    size_t nwatches, wcap;
    int64_t next_version;
    int shared;
} mem_kv_t;

static int cmp_item(const void *key, const void *item)
{
    return strcmp(key, ((const mem_item_t *)item)->key);
}

/* Index of key in the sorted items, or where it would go (*found 0). */
static size_t find(mem_kv_t *m, const char *key, int *found)
{
    return fx_lower_bound(key, m->items, m->len, sizeof *m->items, cmp_item, found);
}

static int mem_get(fx_kv_t *kv, const char *key, fx_buf_t *value, int64_t *version, fx_err_t *err)
{
    mem_kv_t *m = (mem_kv_t *)kv;
    int found;
    pthread_mutex_lock(&m->mu);
    size_t i = find(m, key, &found);
    if (found) {
        value->len = 0;
        fx_buf_append(value, m->items[i].value.data, m->items[i].value.len);
        if (version)
            *version = m->items[i].version;
    }
    pthread_mutex_unlock(&m->mu);
    return found ? FX_OK : fx_err_set(err, FX_ENOTFOUND, "key %s not found", key);
}

static int mem_list(fx_kv_t *kv, const char *prefix, fx_kv_list_fn fn, void *ctx, fx_err_t *err)
{
    mem_kv_t *m = (mem_kv_t *)kv;
    size_t plen = strlen(prefix);
    int found;
    (void)err;
    pthread_mutex_lock(&m->mu);
    for (size_t i = find(m, prefix, &found); i < m->len; i++) {
        mem_item_t *it = &m->items[i];
        if (strncmp(it->key, prefix, plen) != 0)
            break;
        fx_kv_entry_t e = {it->key, it->value.data, it->value.len, it->version, 0};
        fn(&e, ctx);
    }
    pthread_mutex_unlock(&m->mu);
    return FX_OK;
}

/* Calls the watchers of key; the lock is not held (watchers may read). */
static void notify(mem_kv_t *m, const fx_kv_entry_t *e)
{
    pthread_mutex_lock(&m->mu);
    size_t n = m->nwatches;
    mem_watch_t *w = fx_malloc(n * sizeof *w + 1);
    if (n)
        memcpy(w, m->watches, n * sizeof *w);
    pthread_mutex_unlock(&m->mu);
    for (size_t i = 0; i < n; i++)
        if (strncmp(e->key, w[i].prefix, strlen(w[i].prefix)) == 0)
            w[i].fn(e, w[i].ctx);
    free(w);
}

static int mem_cas(fx_kv_t *kv, const char *key, const void *value, size_t len, int64_t expected,
                   int64_t *new_version, fx_err_t *err)
{
    mem_kv_t *m = (mem_kv_t *)kv;
    int found;
    pthread_mutex_lock(&m->mu);
    size_t i = find(m, key, &found);
    int64_t cur = found ? m->items[i].version : 0;
    if (expected != FX_KV_ANY && expected != cur) {
        pthread_mutex_unlock(&m->mu);
        return fx_err_set(err, FX_EPRECOND, "key %s changed concurrently", key);
    }
    if (!found) {
        FX_GROW(m->items, m->cap, m->len + 1);
        memmove(&m->items[i + 1], &m->items[i], (m->len - i) * sizeof *m->items);
        m->len++;
        m->items[i].key = fx_strdup(key);
        m->items[i].value = (fx_buf_t)FX_BUF_INIT;
    }
    mem_item_t *it = &m->items[i];
    it->value.len = 0;
    fx_buf_append(&it->value, value, len);
    it->version = ++m->next_version;
    if (new_version)
        *new_version = it->version;
    /* Copy what watchers need before dropping the lock. */
    fx_buf_t copy = FX_BUF_INIT;
    fx_buf_append(&copy, value, len);
    fx_kv_entry_t e = {key, copy.data, copy.len, it->version, 0};
    pthread_mutex_unlock(&m->mu);
    notify(m, &e);
    fx_buf_free(&copy);
    return FX_OK;
}

static int mem_del(fx_kv_t *kv, const char *key, int64_t expected, fx_err_t *err)
{
    mem_kv_t *m = (mem_kv_t *)kv;
    int found;
    pthread_mutex_lock(&m->mu);
    size_t i = find(m, key, &found);
    if (!found) {
        pthread_mutex_unlock(&m->mu);
        return fx_err_set(err, FX_ENOTFOUND, "key %s not found", key);
    }
    if (expected != FX_KV_ANY && expected != m->items[i].version) {
        pthread_mutex_unlock(&m->mu);
        return fx_err_set(err, FX_EPRECOND, "key %s changed concurrently", key);
    }
    free(m->items[i].key);
    fx_buf_free(&m->items[i].value);
    memmove(&m->items[i], &m->items[i + 1], (m->len - i - 1) * sizeof *m->items);
    m->len--;
    int64_t v = ++m->next_version;
    pthread_mutex_unlock(&m->mu);
    fx_kv_entry_t e = {key, NULL, 0, v, 1};
    notify(m, &e);
    return FX_OK;
}

static int mem_watch(fx_kv_t *kv, const char *prefix, fx_kv_list_fn fn, void *ctx, fx_err_t *err)
{
    mem_kv_t *m = (mem_kv_t *)kv;
    (void)err;
    pthread_mutex_lock(&m->mu);
    FX_GROW(m->watches, m->wcap, m->nwatches + 1);
    m->watches[m->nwatches].prefix = fx_strdup(prefix);
    m->watches[m->nwatches].fn = fn;
    m->watches[m->nwatches].ctx = ctx;
    m->nwatches++;
    pthread_mutex_unlock(&m->mu);
    return FX_OK;
}

static void destroy(mem_kv_t *m)
{
    for (size_t i = 0; i < m->len; i++) {
        free(m->items[i].key);
        fx_buf_free(&m->items[i].value);
    }
    for (size_t i = 0; i < m->nwatches; i++)
        free(m->watches[i].prefix);
    free(m->items);
    free(m->watches);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static void mem_close(fx_kv_t *kv)
{
    mem_kv_t *m = (mem_kv_t *)kv;
    if (!m->shared)
        destroy(m);
}

static const fx_kv_ops_t mem_ops = {mem_get, mem_list, mem_cas, mem_del, mem_watch, mem_close, NULL, NULL};

fx_kv_t *fx_kv_memory_new(void)
{
    mem_kv_t *m = fx_calloc(1, sizeof *m);
    m->base.ops = &mem_ops;
    m->base.name = "memory";
    pthread_mutex_init(&m->mu, NULL);
    return &m->base;
}

static pthread_once_t shared_once = PTHREAD_ONCE_INIT;
static fx_kv_t *shared_kv;

static void make_shared(void)
{
    shared_kv = fx_kv_memory_new();
    ((mem_kv_t *)shared_kv)->shared = 1;
}

fx_kv_t *fx_kv_memory_shared(void)
{
    pthread_once(&shared_once, make_shared);
    return shared_kv;
}
