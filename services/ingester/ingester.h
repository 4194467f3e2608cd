/*
 * ingester.h - the ingester service: owns tokens on the ingester ring,
 * appends the series profiles distributors send into its head (RocksDB with
 * WAL), and answers the queriers' merge RPCs over what it holds.
 */
#ifndef FX_INGESTER_H
#define FX_INGESTER_H

#include <pthread.h>

#include "app/app.h"
#include "catchup/v1/catchup.pb-c.h"
#include "block/set.h"
#include "ring/lifecycler.h"
#include "storage/head.h"
#include "storage/rpcquery.h"

typedef struct ing_opts {
    bool wal_sync;              /* fsync the WAL before acknowledging a push */
    bool wal_compression;       /* zstd-compress WAL records */
    int64_t block_cache_bytes;
    int64_t max_block_duration_ns;     /* cut the head into blocks of this span; 0 = never */
    int64_t block_cut_delay_ns;        /* wait after a window ends before cutting it */
    int64_t local_block_retention_ns;  /* serve uploaded blocks locally this long */
    bool catch_up;                     /* fetch what was missed while down (catchup.c) */
    int64_t catch_up_margin_ns;        /* from the head's newest profile minus this */
    int64_t catch_up_rate_bytes;       /* fetched bytes per second; 0 = unlimited */
    int64_t catch_up_page_bytes;       /* stored bytes per page */
} ing_opts_t;

typedef struct ing {
    fx_app_t *app;
    ing_opts_t opts;
    fx_head_t *head;
    fx_ring_t *ring;
    fx_ring_lifecycler_t *lifecycler;
    /* What queries read: the head plus uploaded blocks still served here. */
    pthread_rwlock_t served_mu;
    fx_block_t **blocks;
    size_t nblocks, cap_blocks;
    fx_block_cache_t *cache;
    fx_rpcq_store_t queries;    /* what the query RPCs read (rpc.c) */
    /* The cutter thread (cutter.c). */
    pthread_t cut_thread;
    pthread_mutex_t cut_mu;
    pthread_cond_t cut_cv;
    int cut_stop, cut_running;
    pthread_once_t metrics_once;
    struct ing_catchup *catchup; /* catchup.c */
} ing_t;

extern const fx_module_t fx_ingester_module;

/* RPC handlers (rpc.c). */
int ing_register_rpcs(ing_t *ing, fx_err_t *err);

/* Catch-up after a restart (catchup.c): register serves peers' requests
 * (init); start runs it once in the background if enabled and the head has
 * data (after ACTIVE); stop interrupts it; free stops and frees. */
int ing_catchup_register(ing_t *ing, fx_err_t *err);
void ing_catchup_start(ing_t *ing);
void ing_catchup_stop(ing_t *ing);
void ing_catchup_free(ing_t *ing);
/* Decodes the page pprof of a catch-up answer from a peer (untrusted
 * bytes; pointing into *scratch and a). *page is always initialised:
 * fx_pprof_free it. */
int ing_catchup_page(const Catchup__V1__FetchResponse *r, fx_arena_t *a, fx_buf_t *scratch,
                     fx_pprof_t *page, fx_err_t *err);
/* Profile pp of a decoded page: id (32 hex digits), labels (sorted, unique
 * names, with __name__; strings borrowed from pp) and its pprof view
 * (fx_head_page_view: shares page's tables, not to be freed). FX_EINVAL
 * says what is wrong. */
int ing_catchup_profile(const fx_pprof_t *page, const Catchup__V1__PageProfile *pp, fx_arena_t *a,
                        uint8_t id[16], fx_labels_t *labels, fx_pprof_t *view, fx_err_t *err);

/* Blocks (cutter.c). Queries bracket their reads with acquire/release. */
void ing_sources_acquire(ing_t *ing, fx_source_set_t *s);
void ing_sources_release(ing_t *ing);
int ing_load_local_blocks(ing_t *ing, fx_err_t *err);
void ing_close_blocks(ing_t *ing);
void ing_cutter_start(ing_t *ing);
void ing_cutter_stop(ing_t *ing);
/* One cutting round (the cutter thread calls it; tests may too). */
void ing_cut_tick(ing_t *ing);

#endif
