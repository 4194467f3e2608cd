/*
 * distributor.h - the distributor service: receives pushes (Connect Push
 * and legacy /ingest), validates and limits them, splits each profile into
 * series, and writes every series to its replication set on the ingester
 * ring, succeeding at quorum.
 */
#ifndef FX_DISTRIBUTOR_H
#define FX_DISTRIBUTOR_H

#include "app/app.h"
#include "model/labels.h"
#include "pprof/pprof.h"
#include "ratelimit.h"

typedef struct dist_opts {
    int64_t push_timeout_ns;   /* per ingester call */
    bool ring_global_limits;   /* divide ingestion_rate_mb by healthy distributors */
} dist_opts_t;

typedef struct dist {
    fx_app_t *app;
    dist_opts_t opts;
    fx_ring_t *ingesters;
    fx_ring_t *distributors;   /* for global rate limits; NULL when not shared */
    void *lifecycler;          /* fx_ring_lifecycler_t in the distributor ring */
    ratelimit_t rl;
} dist_t;

extern const fx_module_t fx_distributor_module;

/* One decoded profile of one push, before splitting. Memory in the arena. */
typedef struct dist_profile {
    fx_labels_t labels;        /* as pushed (validated later, per split series) */
    fx_pprof_t pprof;
    const uint8_t *plain;      /* uncompressed pprof bytes (owned, arena or request) */
    size_t plain_len;
    uint8_t *owned;            /* plain when it was gunzipped here (malloc) */
    /* 1: pprof.samples was not kept (NULL). Every sample passed its
     * validation rules unrepaired and none has a splitting label, so unless
     * the rest of the profile needs a repair the bytes go on as received. */
    int lazy;
    /* 1: p->pprof was changed after decoding (a sample_type_config), so it
     * is re-encoded instead of forwarded as received. */
    int changed;
} dist_profile_t;

/* Decodes raw (gzipped or plain) into p, within the tenant's size limit.
 * Most profiles are only sent on as received: their samples are checked one
 * at a time and not kept (p->lazy); the others are decoded fully. The caller
 * frees p with dist_profile_free after dist_push. */
int dist_decode(dist_t *d, const char *tenant, const uint8_t *raw, size_t len, fx_arena_t *a,
                dist_profile_t *p, fx_err_t *err);
/* Frees what dist_decode allocated outside the arena (it does so itself on
 * failure). p may be all zeroes. */
void dist_profile_free(dist_profile_t *p);

/* Runs the pipeline over n decoded profiles of one request: rate limit,
 * validation, splitting, label checks, then the quorum write. */
int dist_push(dist_t *d, const char *tenant, dist_profile_t *profiles, size_t n, fx_arena_t *a,
              fx_err_t *err);

/* Route and method registration (push_handler.c, ingest_handler.c). */
int dist_register_push(dist_t *d, fx_err_t *err);
int dist_register_ingest(dist_t *d, fx_err_t *err);

#endif
