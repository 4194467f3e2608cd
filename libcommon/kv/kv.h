/*
 * kv.h - the small key-value interface the ring lives in (design.md §3).
 *
 * Backends: `memory` (one process: every module shares one store) and
 * `etcd` (a real coordination engine for clusters). Values are opaque
 * bytes. Every key carries a version that changes on each write; writes
 * are compare-and-swap on it, so concurrent writers never lose an update.
 *
 * Ownership: fx_kv_t is created by a backend constructor and released
 * with fx_kv_close. Values returned through fx_buf_t belong to the
 * caller. Watch callbacks run on a backend thread; they must not call
 * back into the same kv synchronously for long.
 */
#ifndef FX_KV_H
#define FX_KV_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/core.h"

/* Expected versions for fx_kv_cas. */
#define FX_KV_ABSENT 0   /* the key must not exist */
#define FX_KV_ANY (-1)   /* unconditional write */

typedef struct fx_kv fx_kv_t;

/* One key as seen by list/watch. deleted = 1 for a removal event. */
typedef struct fx_kv_entry {
    const char *key;
    const uint8_t *value;
    size_t len;
    int64_t version;
    int deleted;
} fx_kv_entry_t;

typedef void (*fx_kv_list_fn)(const fx_kv_entry_t *e, void *ctx);

typedef struct fx_kv_ops {
    int (*get)(fx_kv_t *kv, const char *key, fx_buf_t *value, int64_t *version, fx_err_t *err);
    int (*list)(fx_kv_t *kv, const char *prefix, fx_kv_list_fn fn, void *ctx, fx_err_t *err);
    int (*cas)(fx_kv_t *kv, const char *key, const void *value, size_t len, int64_t expected,
               int64_t *new_version, fx_err_t *err);
    int (*del)(fx_kv_t *kv, const char *key, int64_t expected, fx_err_t *err);
    /* Calls fn for every change under prefix until fx_kv_close. Changes made
     * while the backend is unreachable are delivered (as a fresh list) once
     * it is back. */
    int (*watch)(fx_kv_t *kv, const char *prefix, fx_kv_list_fn fn, void *ctx, fx_err_t *err);
    void (*close)(fx_kv_t *kv);
    /* 0 while the backend answers; else when it stopped answering (ms since
     * epoch). Lets rings judge heartbeats against the last moment the store
     * was seen, so an outage of the store does not make every instance look
     * dead. */
    int64_t (*unreachable_since)(fx_kv_t *kv);
    /* The last outage that ended: [*start_ms, *end_ms), both 0 if none. An
     * instance could not heartbeat then either, so rings do not count that
     * time against it (its next heartbeat may take a period to arrive). */
    void (*last_outage)(fx_kv_t *kv, int64_t *start_ms, int64_t *end_ms);
} fx_kv_ops_t;

struct fx_kv {
    const fx_kv_ops_t *ops;
    const char *name; /* "memory", "etcd" */
};

/* get: FX_ENOTFOUND if absent. cas: FX_EPRECOND if the version differs
 * (someone else wrote first: re-read and retry). */
static inline int fx_kv_get(fx_kv_t *kv, const char *key, fx_buf_t *value, int64_t *version,
                            fx_err_t *err)
{
    return kv->ops->get(kv, key, value, version, err);
}
static inline int fx_kv_list(fx_kv_t *kv, const char *prefix, fx_kv_list_fn fn, void *ctx,
                             fx_err_t *err)
{
    return kv->ops->list(kv, prefix, fn, ctx, err);
}
static inline int fx_kv_cas(fx_kv_t *kv, const char *key, const void *value, size_t len,
                            int64_t expected, int64_t *new_version, fx_err_t *err)
{
    return kv->ops->cas(kv, key, value, len, expected, new_version, err);
}
static inline int fx_kv_del(fx_kv_t *kv, const char *key, int64_t expected, fx_err_t *err)
{
    return kv->ops->del(kv, key, expected, err);
}
static inline int fx_kv_watch(fx_kv_t *kv, const char *prefix, fx_kv_list_fn fn, void *ctx,
                              fx_err_t *err)
{
    return kv->ops->watch(kv, prefix, fn, ctx, err);
}
static inline int64_t fx_kv_unreachable_since(fx_kv_t *kv)
{
    return kv->ops->unreachable_since ? kv->ops->unreachable_since(kv) : 0;
}
static inline void fx_kv_last_outage(fx_kv_t *kv, int64_t *start_ms, int64_t *end_ms)
{
    *start_ms = *end_ms = 0;
    if (kv->ops->last_outage)
        kv->ops->last_outage(kv, start_ms, end_ms);
}
static inline void fx_kv_close(fx_kv_t *kv)
{
    if (kv)
        kv->ops->close(kv);
}

/* The process-wide in-memory store (created on first use, shared by all
 * modules of one process; fx_kv_close on it is a no-op). */
fx_kv_t *fx_kv_memory_shared(void);
/* A private in-memory store (tests); release with fx_kv_close. */
fx_kv_t *fx_kv_memory_new(void);

#endif
