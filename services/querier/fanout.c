/*
 * fanout.c - parallel calls to the ingesters of the ring, and the replica
 * deduplication that keeps answers exact with replication factor > 1.
 *
 * Two groups of stores answer the same RPCs: the ingesters (recent data,
 * the head plus blocks they still serve) and the store-gateways (blocks in
 * object storage). A query's time range is split at now -
 * -querier.query-store-after: newer data from the ingesters, older from the
 * store-gateways (with 0: both groups for the whole range).
 *
 * Every profile is written to RF ingesters, so asking all of them and
 * summing would count it RF times. With RF > 1 a select runs in two
 * phases: each ingester lists the keys (series fingerprint, time, profile
 * id) of the profiles it would use; the querier assigns every distinct key
 * to exactly one ingester that holds it (the least loaded), and each
 * ingester then merges only its assigned profiles. A profile that reached
 * only some replicas (quorum writes, an ingester that was down) is still
 * counted once, and an ingester that fails is tolerated as long as at most
 * RF - quorum of them do. Blocks in object storage overlap too (each
 * ingester uploads its replica; a gateway replication factor > 1 serves a
 * block twice), so store-gateway answers are always deduplicated the same
 * way, across gateways and together with the ingesters when both groups
 * cover the same time.
 */
#include "querier.h"
#include "core/hash.h"
#include "core/mem.h"
#include "core/time.h"
#include "log/log.h"
#include "model/profile_id.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct job {
    qr_t *q;
    const char *tenant;
    char method[160];
    const ProtobufCMessage *req;
    const ProtobufCMessageDescriptor *resp_desc;
    qr_result_t *res;
    pthread_t thread;
} job_t;

static void *run_job(void *arg)
{
    job_t *j = arg;
    j->res->rc = fx_rpc_invoke(fx_rpc_pool_get(fx_app_pool(j->q->app), j->res->addr), j->method,
                               j->tenant, j->req, j->resp_desc, &j->res->arena, &j->res->resp,
                               j->q->opts.query_timeout_ns / 1000000, &j->res->err);
    return NULL;
}

static const char *const group_service[QR_NGROUPS] = {"ingester.v1.IngesterService",
                                                      "storegateway.v1.StoreGatewayService"};
static const char *const group_what[QR_NGROUPS] = {"ingester", "store-gateway"};

/* Runs method on every result slot with rc == 0 (reqs[i] NULL = skip). */
static void run_all(qr_t *q, const char *tenant, const char *method, const ProtobufCMessage *const *reqs,
                    const ProtobufCMessageDescriptor *resp_desc, qr_results_t *out)
{
    job_t *jobs = fx_calloc(out->n + 1, sizeof *jobs);
    size_t active = 0;
    for (size_t i = 0; i < out->n; i++)
        if (reqs[i] && out->v[i].rc == FX_OK)
            active++;
    for (size_t i = 0; i < out->n; i++) {
        if (!reqs[i] || out->v[i].rc != FX_OK)
            continue;
        jobs[i] = (job_t){q, tenant, "", reqs[i], resp_desc, &out->v[i], 0};
        snprintf(jobs[i].method, sizeof jobs[i].method, "/%s/%s", group_service[out->v[i].group],
                 method);
        if (active == 1)
            run_job(&jobs[i]);
        else
            pthread_create(&jobs[i].thread, NULL, run_job, &jobs[i]);
    }
    for (size_t i = 0; active > 1 && i < out->n; i++)
        if (reqs[i] && jobs[i].thread)
            pthread_join(jobs[i].thread, NULL);
    free(jobs);
}

/* How many members of a group may fail before an answer could miss
 * profiles: with quorum writes every profile is on at least quorum
 * ingesters; a block is served by every gateway of its replication set. */
static size_t max_failures(qr_t *q, int group)
{
    if (group == QR_INGESTERS) {
        int rf = fx_app_replication_factor(q->app);
        return rf > 1 ? (size_t)(rf - (rf / 2 + 1)) : 0;
    }
    int rf = fx_app_store_gateway_rf(q->app);
    return rf > 1 ? (size_t)(rf - 1) : 0;
}

static fx_ring_t *group_ring(qr_t *q, int group)
{
    return group == QR_INGESTERS ? q->ingesters : q->gateways;
}

/* Appends one slot per member of group's ring; unhealthy ones are marked
 * failed. */
static void add_targets(qr_t *q, int group, int64_t start, int64_t end, qr_results_t *out)
{
    fx_ring_t *ring = group_ring(q, group);
    fx_ring_snapshot_t *s = fx_ring_acquire(ring);
    int64_t now = fx_now_ms();
    out->v = fx_realloc(out->v, (out->n + s->ninstances + 1) * sizeof *out->v);
    /* The slots may have moved: an arena's protobuf-c allocator points at
     * the arena itself. */
    for (size_t i = 0; i < out->n; i++)
        out->v[i].arena.pb.allocator_data = &out->v[i].arena;
    for (size_t i = 0; i < s->ninstances; i++) {
        qr_result_t *r = &out->v[out->n++];
        memset(r, 0, sizeof *r);
        r->addr = fx_strdup(s->instances[i].addr);
        r->group = group;
        r->start = start;
        r->end = end;
        fx_arena_init(&r->arena);
        if (!fx_ring_healthy(ring, &s->instances[i], FX_RING_OP_READ, now))
            r->rc = fx_err_set(&r->err, FX_EUNAVAIL, "%s %s is unhealthy in the ring",
                               group_what[group], s->instances[i].id);
        else /* back after a restart: dial it now rather than after the backoff */
            fx_rpc_client_revive(fx_rpc_pool_get(fx_app_pool(q->app), r->addr),
                                 s->instances[i].heartbeat_ms);
    }
    fx_ring_release(ring, s);
}

/* Which groups serve [start, end] and over which part of it. Both 0 means
 * "no time range": ingesters only (Pyroscope's rule). With align > 0 the
 * boundary falls on start + k * align: SelectSeries buckets are counted
 * from each store's start, so both groups must use the same grid. */
static void plan(qr_t *q, int64_t start, int64_t end, int64_t align, qr_results_t *out)
{
    memset(out, 0, sizeof *out);
    int64_t after = q->opts.query_store_after_ns / 1000000;
    int gateways = 0;
    if (q->gateways) {
        /* No store-gateway anywhere (blocks not in use): the ingesters are
         * the only store, for the whole range. */
        fx_ring_snapshot_t *s = fx_ring_acquire(q->gateways);
        gateways = s->ninstances > 0;
        fx_ring_release(q->gateways, s);
    }
    if ((start == 0 && end == 0) || !gateways) {
        add_targets(q, QR_INGESTERS, start, end, out);
        return;
    }
    if (after <= 0) {
        add_targets(q, QR_INGESTERS, start, end, out);
        add_targets(q, QR_GATEWAYS, start, end, out);
        return;
    }
    int64_t boundary = fx_now_ms() - after;
    if (align > 0 && boundary > start)
        boundary = start + (boundary - start) / align * align;
    if (end >= boundary)
        add_targets(q, QR_INGESTERS, start > boundary ? start : boundary, end, out);
    if (start < boundary)
        add_targets(q, QR_GATEWAYS, start, end < boundary ? end : boundary - 1, out);
}

/* Releases what result slot r holds. */
static void slot_free(qr_result_t *r)
{
    fx_arena_free(&r->arena);
    free((char *)r->addr);
}

/* Moves slot i of out down to slot k (k <= i). */
static void slot_move(qr_results_t *out, size_t k, size_t i)
{
    out->v[k] = out->v[i];
    out->v[k].arena.pb.allocator_data = &out->v[k].arena; /* see add_targets */
}

/* Fails if more members of a group failed than replication tolerates;
 * otherwise drops the failed slots so callers only see answers. */
static int settle(qr_t *q, qr_results_t *out, fx_err_t *err)
{
    for (int g = 0; g < QR_NGROUPS; g++) {
        size_t failed = 0, members = 0;
        const qr_result_t *first = NULL;
        for (size_t i = 0; i < out->n; i++) {
            if (out->v[i].group != g)
                continue;
            members++;
            if (out->v[i].rc < 0 && !failed++)
                first = &out->v[i];
        }
        if (failed > max_failures(q, g))
            return fx_err_set(err, failed > 1 ? FX_EUNAVAIL : first->rc,
                              "%zu of %zu %ss failed (their replication tolerates %zu): %s", failed,
                              members, group_what[g], max_failures(q, g), first->err.msg);
    }
    size_t k = 0;
    for (size_t i = 0; i < out->n; i++) {
        if (out->v[i].rc < 0) {
            fx_log_warn("query tolerates a failed store", "addr=%s err=%s", out->v[i].addr,
                        fx_q(out->v[i].err.msg));
            slot_free(&out->v[i]);
            continue;
        }
        slot_move(out, k++, i);
    }
    out->n = k;
    return FX_OK;
}

int qr_fanout(qr_t *q, const char *tenant, const char *method, int64_t start, int64_t end,
              const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
              qr_results_t *out, fx_err_t *err)
{
    plan(q, start, end, 0, out);
    const ProtobufCMessage **reqs = fx_calloc(out->n + 1, sizeof *reqs);
    for (size_t i = 0; i < out->n; i++)
        reqs[i] = req;
    run_all(q, tenant, method, reqs, resp_desc, out);
    free(reqs);
    return settle(q, out, err);
}

void qr_results_free(qr_results_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        slot_free(&r->v[i]);
    free(r->v);
    r->v = NULL;
    r->n = 0;
}

/* --- deduplication -------------------------------------------------------------- */

typedef struct key {
    uint64_t fingerprint;
    int64_t time_ns;
    uint8_t id[16];
} pkey_t;

/* Distinct keys with the set of ingesters holding each (bit i = slot i;
 * beyond 64 slots only the first 64 can be chosen). */
typedef struct keytab {
    pkey_t *keys;
    uint64_t *holders;
    uint32_t *slots; /* open addressing: index + 1, 0 = empty */
    size_t n, cap, nslots;
} keytab_t;

static uint64_t key_hash(const pkey_t *k)
{
    return fx_hash64(k, sizeof *k, 0x5eed);
}

static void keytab_grow(keytab_t *t)
{
    size_t ns = t->nslots ? t->nslots * 2 : 1024;
    uint32_t *slots = fx_calloc(ns, sizeof *slots);
    for (size_t i = 0; i < t->n; i++) {
        size_t j = key_hash(&t->keys[i]) & (ns - 1);
        while (slots[j])
            j = (j + 1) & (ns - 1);
        slots[j] = (uint32_t)i + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = ns;
}

static void keytab_add(keytab_t *t, const pkey_t *k, size_t holder)
{
    if ((t->n + 1) * 2 > t->nslots)
        keytab_grow(t);
    size_t j = key_hash(k) & (t->nslots - 1);
    while (t->slots[j]) {
        size_t i = t->slots[j] - 1;
        if (memcmp(&t->keys[i], k, sizeof *k) == 0) {
            if (holder < 64)
                t->holders[i] |= 1ULL << holder;
            return;
        }
        j = (j + 1) & (t->nslots - 1);
    }
    if (t->n == t->cap) {
        size_t cap = t->cap;
        FX_GROW(t->keys, cap, t->n + 1);
        t->holders = fx_realloc(t->holders, cap * sizeof *t->holders);
        t->cap = cap;
    }
    t->keys[t->n] = *k;
    t->holders[t->n] = holder < 64 ? 1ULL << holder : 0;
    t->slots[j] = (uint32_t)++t->n;
}

static void keytab_free(keytab_t *t)
{
    free(t->keys);
    free(t->holders);
    free(t->slots);
}

/* Copies of sel, one per target, with the target's time range. */
static void per_target(const Ingester__V1__SelectRequest *sel, const qr_results_t *t,
                       Ingester__V1__SelectRequest *sels)
{
    for (size_t i = 0; i < t->n; i++) {
        sels[i] = *sel;
        sels[i].start = t->v[i].start;
        sels[i].end = t->v[i].end;
    }
}

/* Deduplication is needed where copies of a profile can meet: replicated
 * ingesters, and any store-gateway (replica blocks). */
static int needs_dedup(qr_t *q, const qr_results_t *t)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].group == QR_GATEWAYS)
            return 1;
    return fx_app_replication_factor(q->app) > 1;
}

/* Adds the keys every store listed to t, each with the stores holding it;
 * with ids only the keys of those profiles. */
static void collect_keys(const qr_results_t *keys, const qr_ids_t *ids, keytab_t *t)
{
    for (size_t i = 0; i < keys->n; i++) {
        const Ingester__V1__ProfileKeys *k = (const Ingester__V1__ProfileKeys *)keys->v[i].resp;
        if (k->n_time_ns != k->n_fingerprints || k->ids.len != k->n_fingerprints * 16)
            continue; /* malformed answer: this store provides nothing */
        for (size_t j = 0; j < k->n_fingerprints; j++) {
            pkey_t key;
            memset(&key, 0, sizeof key);
            key.fingerprint = k->fingerprints[j];
            key.time_ns = k->time_ns[j];
            memcpy(key.id, k->ids.data + j * 16, 16);
            if (ids && !fx_profile_ids_has(ids->v, ids->n, key.id))
                continue;
            keytab_add(t, &key, i);
        }
    }
}

/* Assigns each key of t to its least-loaded holder among nstores:
 * owner[key] is the store, load[store] counts its keys. */
static void assign_keys(const keytab_t *t, size_t nstores, size_t *load, uint32_t *owner)
{
    for (size_t i = 0; i < t->n; i++) {
        size_t best = SIZE_MAX;
        for (size_t h = 0; h < nstores && h < 64; h++)
            if ((t->holders[i] >> h & 1) && (best == SIZE_MAX || load[h] < load[best]))
                best = h;
        if (best == SIZE_MAX)
            best = 0; /* unreachable: every key came from some holder */
        owner[i] = (uint32_t)best;
        load[best]++;
    }
}

/* The n keys of t assigned to store h, as an `only` list; its arrays are
 * the caller's (only_free). */
static void only_keys(const keytab_t *t, const uint32_t *owner, size_t h, size_t n,
                      Ingester__V1__ProfileKeys *o)
{
    ingester__v1__profile_keys__init(o);
    o->fingerprints = fx_malloc(n * sizeof *o->fingerprints);
    o->time_ns = fx_malloc(n * sizeof *o->time_ns);
    o->ids.data = fx_malloc(n * 16);
    for (size_t i = 0; i < t->n; i++) {
        if (owner[i] != h)
            continue;
        size_t k = o->n_fingerprints++;
        o->fingerprints[k] = t->keys[i].fingerprint;
        o->time_ns[k] = t->keys[i].time_ns;
        memcpy(o->ids.data + k * 16, t->keys[i].id, 16);
    }
    o->n_time_ns = o->n_fingerprints;
    o->ids.len = o->n_fingerprints * 16;
}

static void only_free(Ingester__V1__ProfileKeys *o)
{
    free(o->fingerprints);
    free(o->time_ns);
    free(o->ids.data);
}

/* After phase 2: keeps the answers of the stores that took part (reqs[h]
 * set). Any of them failing fails the select: it just listed its keys, so
 * failing now loses them. */
static int keep_merged(qr_results_t *out, const ProtobufCMessage *const *reqs, fx_err_t *err)
{
    size_t k = 0;
    int rc = FX_OK;
    for (size_t h = 0; h < out->n; h++) {
        if (!reqs[h]) {
            slot_free(&out->v[h]);
            continue;
        }
        if (out->v[h].rc < 0 && rc == FX_OK) {
            rc = out->v[h].rc;
            *err = out->v[h].err;
        }
        slot_move(out, k++, h);
    }
    out->n = k;
    return rc;
}

int qr_fanout_keys(qr_t *q, const char *tenant, Ingester__V1__SelectRequest *sel,
                   int64_t align_ms, qr_results_t *out, fx_err_t *err)
{
    plan(q, sel->start, sel->end, align_ms, out);
    Ingester__V1__SelectRequest *sels = fx_calloc(out->n + 1, sizeof *sels);
    const ProtobufCMessage **reqs = fx_calloc(out->n + 1, sizeof *reqs);
    per_target(sel, out, sels);
    for (size_t i = 0; i < out->n; i++)
        reqs[i] = &sels[i].base;
    run_all(q, tenant, "SelectProfileKeys", reqs, &ingester__v1__profile_keys__descriptor, out);
    free(sels);
    free(reqs);
    return settle(q, out, err);
}

int qr_fanout_select(qr_t *q, const char *tenant, const char *method,
                     Ingester__V1__SelectRequest *sel, const qr_ids_t *ids, int64_t align_ms,
                     qr_make_req_fn make_req, void *ctx,
                     const ProtobufCMessageDescriptor *resp_desc, qr_results_t *out, fx_err_t *err)
{
    qr_results_t keys;
    keytab_t t = {0};
    size_t *load = NULL, nonly = 0;
    uint32_t *owner = NULL;
    Ingester__V1__ProfileKeys *only = NULL;
    int rc;

    plan(q, sel->start, sel->end, align_ms, &keys);
    Ingester__V1__SelectRequest *sels = fx_calloc(keys.n + 1, sizeof *sels);
    const ProtobufCMessage **reqs = fx_calloc(keys.n + 1, sizeof *reqs);
    per_target(sel, &keys, sels);
    /* A tree a store truncates to max_nodes is exact only when it is the
     * whole answer: merging truncated parts is not truncating the merge (a
     * node cut into "other" on each store may be above the threshold once
     * summed). When several stores contribute they send whole trees and
     * the querier truncates once. */
    /* Selecting profiles by id goes through the key listing too: it is
     * where the ids are known. */
    if (ids && !ids->n)
        ids = NULL;
    if (!ids && !needs_dedup(q, &keys)) {
        for (size_t i = 0; i < keys.n; i++) {
            if (keys.n > 1)
                sels[i].max_nodes = 0;
            reqs[i] = make_req(ctx, &sels[i]);
        }
        run_all(q, tenant, method, reqs, resp_desc, &keys);
        *out = keys;
        memset(&keys, 0, sizeof keys); /* now out's */
        rc = settle(q, out, err);
        goto done;
    }
    /* Phase 1: every store lists the profiles it would use. */
    for (size_t i = 0; i < keys.n; i++)
        reqs[i] = &sels[i].base;
    run_all(q, tenant, "SelectProfileKeys", reqs, &ingester__v1__profile_keys__descriptor, &keys);
    if ((rc = settle(q, &keys, err)) < 0) {
        memset(out, 0, sizeof *out);
        goto done;
    }
    per_target(sel, &keys, sels); /* settle dropped failed slots */
    collect_keys(&keys, ids, &t);
    load = fx_calloc(keys.n + 1, sizeof *load);
    owner = fx_malloc((t.n + 1) * sizeof *owner);
    assign_keys(&t, keys.n, load, owner);

    /* Phase 2: each store merges exactly its assigned profiles. */
    out->n = keys.n;
    out->v = fx_calloc(keys.n + 1, sizeof *out->v);
    memset(reqs, 0, (keys.n + 1) * sizeof *reqs);
    only = fx_calloc(keys.n + 1, sizeof *only);
    nonly = keys.n;
    size_t merging = 0;
    for (size_t h = 0; h < keys.n; h++)
        merging += load[h] > 0;
    for (size_t h = 0; h < keys.n; h++) {
        out->v[h].addr = fx_strdup(keys.v[h].addr);
        out->v[h].group = keys.v[h].group;
        out->v[h].start = keys.v[h].start;
        out->v[h].end = keys.v[h].end;
        fx_arena_init(&out->v[h].arena);
        if (!load[h])
            continue; /* nothing assigned: takes no part */
        only_keys(&t, owner, h, load[h], &only[h]);
        sels[h].only = &only[h];
        if (merging > 1)
            sels[h].max_nodes = 0;
        reqs[h] = make_req(ctx, &sels[h]);
    }
    run_all(q, tenant, method, reqs, resp_desc, out);
    rc = keep_merged(out, reqs, err);
done:
    for (size_t h = 0; h < nonly; h++)
        only_free(&only[h]);
    free(only);
    free(sels);
    free(reqs);
    free(owner);
    free(load);
    keytab_free(&t);
    qr_results_free(&keys);
    return rc;
}
