/*
 * internal.h - what the compactor's files share: the core's state, one
 * tenant's blocks as listed from the bucket, and the steps of a tenant run.
 */
#ifndef FX_COMPACTOR_INTERNAL_H
#define FX_COMPACTOR_INTERNAL_H

#include "compactor.h"
#include "core/mem.h"

/* A parsed meta.json kept across runs: blocks are immutable, so each is
 * downloaded once. */
typedef struct cp__cached {
    char *key;            /* "<tenant>/<ULID>" */
    fx_block_meta_t meta;
    uint64_t seen;        /* run epoch it was last listed in */
} cp__cached_t;

struct cp {
    fx_bucket_t *bkt;
    cp_config_t cfg;      /* work_dir points at our copy */
    char *work_dir;
    const fx_limits_registry_t *lim;
    const cp_metrics_t *m;
    const atomic_bool *stop;
    cp__cached_t **cache; /* sorted by key */
    size_t ncache, capcache;
    uint64_t epoch;
};

/* One object under a block prefix. */
typedef struct cp__obj {
    const char *name;     /* after "<tenant>/<ULID>/" */
    int64_t size, mtime_ms;
} cp__obj_t;

/* One block prefix of the tenant, as listed. */
typedef struct cp__bstate {
    char id[FX_BLOCK_ULID_LEN + 1];
    cp__obj_t *objs;      /* owned (names in the tenant's arena) */
    size_t nobjs, capobjs;
    bool has_meta, has_mark, has_corrupt;
    bool gone;            /* deleted during this run */
    int64_t meta_mtime, mark_mtime, newest_mtime, bytes;
    const fx_block_meta_t *meta; /* from the cache once loaded */
} cp__bstate_t;

typedef struct cp__tenant {
    const char *id;
    cp__bstate_t *v;
    size_t n, cap;
    fx_arena_t arena;
} cp__tenant_t;

/* scan.c: lists every object of the tenant into t (blocks in ULID order;
 * objects outside "<tenant>/<ULID>/..." are ignored). Free with
 * cp__tenant_free. */
int cp__scan(cp_t *c, const char *tenant, cp__tenant_t *t, fx_err_t *err);
void cp__tenant_free(cp__tenant_t *t);
/* The block's meta.json, from the cache or the bucket (then cached).
 * FX_ECORRUPT: unparseable, or naming another block or tenant; FX_ENOTFOUND:
 * it vanished since the listing. */
int cp__load_meta(cp_t *c, const char *tenant, cp__bstate_t *s, fx_err_t *err);
/* Caches a meta we wrote ourselves (takes ownership of *m's contents). */
const fx_block_meta_t *cp__cache_put(cp_t *c, const char *tenant, fx_block_meta_t *m);
/* Drops cache entries not listed since epoch. */
void cp__cache_prune(cp_t *c, uint64_t epoch);
/* Adds a block state for id (its objects none yet); returns it. */
cp__bstate_t *cp__tenant_add(cp__tenant_t *t, const char *id);

/* clean.c */
int cp__delete_due(cp_t *c, cp__tenant_t *t, int64_t now_ms, fx_err_t *err);
int cp__retention(cp_t *c, cp__tenant_t *t, int64_t now_ms, fx_err_t *err);
int cp__mark_covered(cp_t *c, cp__tenant_t *t, int64_t now_ms, fx_err_t *err);
/* Marks block s corrupted (logs, counts). */
int cp__corrupted(cp_t *c, const char *tenant, cp__bstate_t *s, int64_t now_ms,
                  const char *why, fx_err_t *err);

/* job.c: runs one planned compaction over the visible blocks vis (states
 * st[i] behind vis[i]). FX_OK: the new block is uploaded and the inputs are
 * marked (states updated, the new block's state added to t). CP__REPLAN: an
 * input failed its checksums and is now marked corrupted; plan again. */
#define CP__REPLAN 1
int cp__compact(cp_t *c, cp__tenant_t *t, cp__bstate_t **st, const cp_block_t *vis,
                const cp_job_t *job, int64_t now_ms, fx_err_t *err);


#endif
