/*
 * ingester.h - the ingester service: owns tokens on the ingester ring,
 * appends the series profiles distributors send into its head (RocksDB with
 * WAL), and answers the queriers' merge RPCs over what it holds.
 */
#ifndef FX_INGESTER_H
#define FX_INGESTER_H

#include "app/app.h"
#include "ring/lifecycler.h"
#include "storage/head.h"

typedef struct ing_opts {
    bool wal_sync;              /* fsync the WAL before acknowledging a push */
    int64_t block_cache_bytes;
} ing_opts_t;

typedef struct ing {
    fx_app_t *app;
    ing_opts_t opts;
    fx_head_t *head;
    fx_ring_t *ring;
    fx_ring_lifecycler_t *lifecycler;
} ing_t;

extern const fx_module_t fx_ingester_module;

/* RPC handlers (rpc.c). */
int ing_register_rpcs(ing_t *ing, fx_err_t *err);

#endif
