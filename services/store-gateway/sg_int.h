/*
 * sg_int.h - the store-gateway's internals shared by its files: the gateway
 * object, the blocks it has open, and what the last bucket listing saw.
 */
#ifndef FX_SG_INT_H
#define FX_SG_INT_H

#include <pthread.h>

#include "storage/rpcquery.h"
#include "store_gateway.h"

/* A block the last listing found visible (meta.json, no deletion or
 * corruption mark, not replaced by a compacted block). */
typedef struct sg_listed {
    char id[FX_BLOCK_ULID_LEN + 1];
    char *tenant;           /* owned */
    fx_block_meta_t *meta;  /* owned */
    uint32_t token;         /* ring token: FNV-1 32 over tenant and ULID */
} sg_listed_t;

/* A block open for queries. Queries pin it (refs); the last release closes
 * it and removes its local copy if it was dropped. */
typedef struct sg_block {
    char id[FX_BLOCK_ULID_LEN + 1];
    char *tenant;
    int64_t min_ms, max_ms;
    int level;
    fx_block_t *blk;
    _Atomic int refs;
    _Atomic int corrupt;    /* a query found a checksum failure: skip it */
    char *dir;              /* local copy (cache source), else NULL */
    bool remove_dir;        /* dropped: delete dir when closed */
} sg_block_t;

/* The blocks of one query, pinned. */
typedef struct sg_view {
    sg_block_t **v;
    size_t n;
} sg_view_t;

struct sg {
    sg_config_t c;
    char *id, *sync_dir;    /* id: the ring instance id ("" until started) */
    fx_ring_lifecycler_options_t lco;
    char *lc_strs[5];       /* owned copies of the lifecycler strings */
    fx_block_cache_t *cache;
    fx_rpcq_store_t queries; /* what the query RPCs read (rpc.c) */

    pthread_mutex_t mu;     /* blocks */
    sg_block_t **blocks;    /* sorted by (tenant, id) */
    size_t nblocks, cap;

    pthread_mutex_t sync_mu; /* one sync or reconcile at a time; guards what follows */
    sg_listed_t *listed;    /* sorted by (tenant, id) */
    size_t nlisted;
    char (*bad)[FX_BLOCK_ULID_LEN + 1]; /* confirmed corrupt: never retried */
    size_t nbad, badcap;
    char (*suspect)[FX_BLOCK_ULID_LEN + 1]; /* a query saw corruption: re-read fresh */
    size_t nsuspect, suspcap;
    _Atomic uint64_t ring_sig; /* membership ownership was last computed for */

    fx_ring_lifecycler_t *lc;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t wmu;
    pthread_cond_t wcv;
    _Atomic int stopping;
    _Atomic int initial_done;
    _Atomic size_t nvisible;

    fx_counter_t *m_corrupted, *m_syncs, *m_sync_failures, *m_loads, *m_load_failures, *m_drops;
    fx_gauge_t *m_loaded, *m_visible;
};

/* blocks.c */
/* Pins the non-corrupt blocks of tenant overlapping [start_ms, end_ms]
 * (both 0 = all), sorted by (min time, level desc, id). */
void sg__view(sg_t *g, const char *tenant, int64_t start_ms, int64_t end_ms, sg_view_t *out);
void sg__view_release(sg_t *g, sg_view_t *v);
/* A query found b corrupted: log, count, skip it until the next sync
 * re-reads it. */
void sg__block_corrupt(sg_t *g, sg_block_t *b, const fx_err_t *err);
void sg__block_unref(sg_t *g, sg_block_t *b);
void sg__blocks_close_all(sg_t *g);

/* sync.c */
/* Replaces g->listed with a fresh listing (caller holds sync_mu). */
int sg__list(sg_t *g, fx_err_t *err);
void sg__listed_free(sg_listed_t *v, size_t n);
/* Opens/drops blocks to match ownership (caller holds sync_mu). */
int sg__reconcile(sg_t *g, fx_err_t *err);
/* Removes local copies no loaded block uses (after the initial sync). */
void sg__clean_sync_dir(sg_t *g);

/* owner.c */
/* The ring token of a block. */
uint32_t sg__token(const char *tenant, const char *id);
/* Marks in owned[i] (for each of n listed blocks) whether instance self
 * must load it: self is among the first rf ACTIVE healthy gateways
 * clockwise from the block's token, or among the JOINING/LEAVING healthy
 * ones met before them (they load it too, so a joining gateway is warm
 * before it serves and a leaving one is replaced before it goes). Unhealthy
 * gateways (heartbeat timed out) are skipped: survivors take their blocks.
 * Returns -1 when self is not in the ring (ownership unknown), else the
 * number owned. *sig receives a signature of the ring's membership. */
long sg__owned(sg_t *g, const sg_listed_t *v, size_t n, uint8_t *owned, uint64_t *sig);
/* Signature of the ring now (membership, states, health). */
uint64_t sg__ring_signature(sg_t *g);

/* source.c */
/* A byte-range source over the bucket objects of tenant/id. */
void sg__bucket_source(fx_bucket_t *b, const char *tenant, const char *id, fx_block_source_t *out);


#endif
