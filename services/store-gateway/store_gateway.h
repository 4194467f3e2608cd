/*
 * store_gateway.h - the store-gateway service: discovers the blocks in
 * object storage (docs/bucket-layout.md), owns a shard of them through its
 * own ring ("store-gateway"), and answers the ingesters' query RPCs
 * (storegateway.v1.StoreGatewayService) over the blocks it owns, counting
 * every profile once even when replica blocks hold it several times.
 * Design and flags: docs/store-gateway.md.
 *
 * The service is a core object (sg_t) that needs only a bucket and a ring,
 * plus the process module (fx_store_gateway_module) that wires it into the
 * runtime. Tests drive the core directly: several gateways in one process
 * share a memory KV ring.
 *
 * Threads: one sync thread per gateway (bucket listing, ring checks, block
 * downloads); queries run on the callers' threads (gRPC workers) and pin
 * the blocks they read, so a block dropped meanwhile is closed only when
 * the last query using it is done.
 */
#ifndef FX_STORE_GATEWAY_H
#define FX_STORE_GATEWAY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "app/app.h"
#include "block/block.h"
#include "metrics/metrics.h"
#include "objstore/bucket.h"
#include "ring/lifecycler.h"
#include "ring/ring.h"
#include "storage/head.h"

#define SG_RING "store-gateway"

/* Where an owned block's bytes are read from. */
typedef enum sg_source {
    SG_SOURCE_CACHE = 0, /* downloaded into sync_dir, read with io_uring/pread */
    SG_SOURCE_BUCKET,    /* ranged GETs straight from the bucket */
} sg_source_t;

typedef struct sg_config {
    fx_bucket_t *bucket;  /* borrowed; outlives the gateway */
    fx_ring_t *ring;      /* the store-gateway ring, borrowed */
    int replication_factor;          /* gateways that load each block (>= 1) */
    const char *sync_dir;            /* local block copies (created); copied */
    sg_source_t source;
    fx_block_io_t io;
    size_t index_cache_bytes, symbols_cache_bytes;
    int64_t sync_interval_ms;        /* full bucket listing */
    int64_t ring_check_ms;           /* ownership re-check on ring changes (0 = 1000) */
    fx_registry_t *metrics;          /* NULL = the process registry */
} sg_config_t;

typedef struct sg sg_t;

/* Creates a gateway (nothing runs yet). NULL with err set if sync_dir cannot
 * be created. Free with sg_free. */
sg_t *sg_new(const sg_config_t *c, fx_err_t *err);
/* Joins the ring as lc describes (lc->id is this gateway's id; strings are
 * copied; lc->prefix must outlive g) in state JOINING and starts the sync
 * thread: it waits until the instance is visible in the ring, syncs once,
 * then turns ACTIVE. */
int sg_start(sg_t *g, const fx_ring_lifecycler_options_t *lc, fx_err_t *err);
/* FX_OK once ACTIVE after the initial sync; FX_EUNAVAIL saying why not. */
int sg_ready(sg_t *g, fx_err_t *why);
/* Marks the instance LEAVING (others start loading its blocks; this one
 * keeps answering). */
void sg_leave(sg_t *g);
/* Stops the sync thread and heartbeats; remove = 1 deletes the instance
 * from the ring (graceful), 0 leaves it to time out (a crash, in tests). */
void sg_stop(sg_t *g, int remove);
/* Stops (removing itself from the ring) if still running, closes every
 * block and frees g. */
void sg_free(sg_t *g);

/* One full sync now: list the bucket, then reconcile. Serialised with the
 * sync thread. Fails only if the listing fails (blocks that cannot be
 * opened are logged and retried at the next sync). */
int sg_sync(sg_t *g, fx_err_t *err);
/* Re-evaluates ownership against the current ring over the last listing
 * (no bucket listing; blocks newly owned are opened). */
int sg_reconcile(sg_t *g, fx_err_t *err);

typedef struct sg_stats {
    size_t visible;        /* blocks visible in the bucket at the last sync */
    size_t loaded;         /* blocks open for queries */
    uint64_t corrupted;    /* corruption events (open or query) since start */
    uint64_t syncs, sync_failures;
    fx_block_io_stats_t io; /* reads of the loaded blocks so far (local copies) */
} sg_stats_t;
void sg_get_stats(sg_t *g, sg_stats_t *out);
/* 1 if block id (ULID) is loaded. */
int sg_has_block(sg_t *g, const char *id);

/* --- queries: the head's queries (storage/head.h) over the owned blocks of
 * q->tenant that overlap the range, with the same semantics and result
 * types. A profile held by several blocks (replicas, overlaps) counts once;
 * q->only restricts as in the head. A corrupted block is skipped (logged,
 * counted) and the answer comes from the others. ------------------------- */
int sg_label_names(sg_t *g, const fx_head_query_t *q, fx_arena_t *a, fx_head_strings_t *out,
                   fx_err_t *err);
int sg_label_values(sg_t *g, const fx_head_query_t *q, const char *name, fx_arena_t *a,
                    fx_head_strings_t *out, fx_err_t *err);
int sg_profile_types(sg_t *g, const fx_head_query_t *q, fx_arena_t *a, fx_head_strings_t *out,
                     fx_err_t *err);
int sg_series(sg_t *g, const fx_head_query_t *q, const char *const *names, size_t nnames,
              fx_arena_t *a, fx_head_label_sets_t *out, fx_err_t *err);
int sg_profile_stats(sg_t *g, const char *tenant, fx_head_profile_stats_t *out, fx_err_t *err);
int sg_profile_keys(sg_t *g, const fx_head_query_t *q, fx_arena_t *a, fx_head_keys_t *out,
                    fx_err_t *err);
int sg_merge_tree(sg_t *g, const fx_head_query_t *q, fx_head_grouping_t grouping, fx_tree_t *tree,
                  fx_err_t *err);
int sg_merge_pprof(sg_t *g, const fx_head_query_t *q, fx_buf_t *out, fx_err_t *err);
int sg_select_series(sg_t *g, const fx_head_query_t *q, const char *const *by, size_t nby,
                     int64_t step_ms, fx_head_aggregation_t agg, fx_arena_t *a,
                     fx_head_ts_list_t *out, fx_err_t *err);

/* Registers the StoreGatewayService methods on srv (before it starts). */
int sg_register_rpcs(sg_t *g, fx_rpc_server_t *srv, fx_err_t *err);

/* The -target=store-gateway module. */
extern const fx_module_t fx_store_gateway_module;

#endif
