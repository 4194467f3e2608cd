/*
 * fanout.c - parallel calls to the ingesters of the ring, and the replica
 * deduplication that keeps answers exact with replication factor > 1.
 *
 * Every profile is written to RF ingesters, so asking all of them and
 * summing would count it RF times. With RF > 1 a select runs in two
 * phases: each ingester lists the keys (series fingerprint, time, profile
 * id) of the profiles it would use; the querier assigns every distinct key
 * to exactly one ingester that holds it (the least loaded), and each
 * ingester then merges only its assigned profiles. A profile that reached
 * only some replicas (quorum writes, an ingester that was down) is still
 * counted once, and an ingester that fails is tolerated as long as at most
 * RF - quorum of them do.
 */
#include "querier.h"
#include "core/hash.h"
#include "core/mem.h"
#include "core/time.h"
#include "log/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct job {
    qr_t *q;
    const char *tenant, *method;
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
        jobs[i] = (job_t){q, tenant, method, reqs[i], resp_desc, &out->v[i], 0};
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

/* How many ingesters may fail before an answer could miss profiles: with
 * quorum writes every profile is on at least quorum replicas. */
static size_t max_failures(qr_t *q)
{
    int rf = fx_app_replication_factor(q->app);
    return rf > 1 ? (size_t)(rf - (rf / 2 + 1)) : 0;
}

/* Fills out with one slot per ingester of the ring; unhealthy ones are
 * marked failed. */
static void targets(qr_t *q, qr_results_t *out)
{
    fx_ring_snapshot_t *s = fx_ring_acquire(q->ingesters);
    int64_t now = fx_now_ms();
    out->v = fx_calloc(s->ninstances + 1, sizeof *out->v);
    out->n = s->ninstances;
    for (size_t i = 0; i < s->ninstances; i++) {
        qr_result_t *r = &out->v[i];
        r->addr = fx_strdup(s->instances[i].addr);
        fx_arena_init(&r->arena);
        if (!fx_ring_healthy(q->ingesters, &s->instances[i], FX_RING_OP_READ, now))
            r->rc = fx_err_set(&r->err, FX_EUNAVAIL, "ingester %s is unhealthy in the ring",
                               s->instances[i].id);
        else /* back after a restart: dial it now rather than after the backoff */
            fx_rpc_client_revive(fx_rpc_pool_get(fx_app_pool(q->app), r->addr),
                                 s->instances[i].heartbeat_ms);
    }
    fx_ring_release(q->ingesters, s);
}

/* Fails if more ingesters failed than replication tolerates; otherwise
 * drops the failed slots so callers only see answers. */
static int settle(qr_t *q, qr_results_t *out, fx_err_t *err)
{
    size_t failed = 0, k = 0;
    const qr_result_t *first = NULL;
    for (size_t i = 0; i < out->n; i++)
        if (out->v[i].rc < 0) {
            failed++;
            if (!first)
                first = &out->v[i];
        }
    if (failed > max_failures(q)) {
        int rf = fx_app_replication_factor(q->app);
        return fx_err_set(err, first->rc == FX_EUNAVAIL || failed > 1 ? FX_EUNAVAIL : first->rc,
                          "%zu of %zu ingesters failed (replication factor %d tolerates %zu): %s",
                          failed, out->n, rf, max_failures(q), first->err.msg);
    }
    for (size_t i = 0; i < out->n; i++) {
        if (out->v[i].rc < 0) {
            if (failed)
                fx_log_warn("query tolerates a failed ingester", "addr=%s err=%s", out->v[i].addr,
                            fx_q(out->v[i].err.msg));
            fx_arena_free(&out->v[i].arena);
            free((char *)out->v[i].addr);
            continue;
        }
        out->v[k++] = out->v[i];
    }
    out->n = k;
    return FX_OK;
}

int qr_fanout(qr_t *q, const char *tenant, const char *method, const ProtobufCMessage *req,
              const ProtobufCMessageDescriptor *resp_desc, qr_results_t *out, fx_err_t *err)
{
    targets(q, out);
    const ProtobufCMessage **reqs = fx_calloc(out->n + 1, sizeof *reqs);
    for (size_t i = 0; i < out->n; i++)
        reqs[i] = req;
    run_all(q, tenant, method, reqs, resp_desc, out);
    free(reqs);
    return settle(q, out, err);
}

void qr_results_free(qr_results_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        fx_arena_free(&r->v[i].arena);
        free((char *)r->v[i].addr);
    }
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

/* Ingesters in the ring (healthy or not). */
static size_t ring_size(qr_t *q)
{
    fx_ring_snapshot_t *s = fx_ring_acquire(q->ingesters);
    size_t n = s->ninstances;
    fx_ring_release(q->ingesters, s);
    return n;
}

int qr_fanout_select(qr_t *q, const char *tenant, const char *method,
                     Ingester__V1__SelectRequest *sel, qr_make_req_fn make_req, void *ctx,
                     const ProtobufCMessageDescriptor *resp_desc, qr_results_t *out, fx_err_t *err)
{
    int rc;
    /* A tree an ingester truncates to max_nodes is exact only when it is
     * the whole answer: merging truncated parts is not truncating the
     * merge (a node cut into "other" on each ingester may be above the
     * threshold once summed). When several ingesters contribute they send
     * whole trees and the querier truncates once. */
    if (fx_app_replication_factor(q->app) <= 1) {
        /* One copy of every profile: nothing to deduplicate. */
        if (ring_size(q) > 1)
            sel->max_nodes = 0;
        return qr_fanout(q, tenant, method, make_req(ctx, sel), resp_desc, out, err);
    }
    qr_results_t keys;
    if ((rc = qr_fanout(q, tenant, "/ingester.v1.IngesterService/SelectProfileKeys", &sel->base,
                        &ingester__v1__profile_keys__descriptor, &keys, err)) < 0) {
        qr_results_free(&keys);
        memset(out, 0, sizeof *out);
        return rc;
    }
    keytab_t t = {0};
    for (size_t i = 0; i < keys.n; i++) {
        const Ingester__V1__ProfileKeys *k = (const Ingester__V1__ProfileKeys *)keys.v[i].resp;
        if (k->n_time_ns != k->n_fingerprints || k->ids.len != k->n_fingerprints * 16)
            continue; /* malformed answer: this ingester provides nothing */
        for (size_t j = 0; j < k->n_fingerprints; j++) {
            pkey_t key;
            memset(&key, 0, sizeof key);
            key.fingerprint = k->fingerprints[j];
            key.time_ns = k->time_ns[j];
            memcpy(key.id, k->ids.data + j * 16, 16);
            keytab_add(&t, &key, i);
        }
    }
    /* Assign each key to its least-loaded holder. */
    size_t *load = fx_calloc(keys.n + 1, sizeof *load);
    uint32_t *owner = fx_malloc((t.n + 1) * sizeof *owner);
    for (size_t i = 0; i < t.n; i++) {
        size_t best = SIZE_MAX;
        for (size_t h = 0; h < keys.n && h < 64; h++)
            if ((t.holders[i] >> h & 1) && (best == SIZE_MAX || load[h] < load[best]))
                best = h;
        if (best == SIZE_MAX)
            best = 0; /* unreachable: every key came from some holder */
        owner[i] = (uint32_t)best;
        load[best]++;
    }
    /* Phase 2: each ingester merges exactly its assigned profiles. */
    out->n = keys.n;
    out->v = fx_calloc(keys.n + 1, sizeof *out->v);
    const ProtobufCMessage **reqs = fx_calloc(keys.n + 1, sizeof *reqs);
    Ingester__V1__SelectRequest *sels = fx_calloc(keys.n + 1, sizeof *sels);
    Ingester__V1__ProfileKeys *only = fx_calloc(keys.n + 1, sizeof *only);
    size_t merging = 0;
    for (size_t h = 0; h < keys.n; h++)
        merging += load[h] > 0;
    for (size_t h = 0; h < keys.n; h++) {
        out->v[h].addr = fx_strdup(keys.v[h].addr);
        fx_arena_init(&out->v[h].arena);
        if (!load[h])
            continue;
        Ingester__V1__ProfileKeys *o = &only[h];
        ingester__v1__profile_keys__init(o);
        o->fingerprints = fx_malloc(load[h] * sizeof *o->fingerprints);
        o->time_ns = fx_malloc(load[h] * sizeof *o->time_ns);
        o->ids.data = fx_malloc(load[h] * 16);
        for (size_t i = 0; i < t.n; i++) {
            if (owner[i] != h)
                continue;
            size_t n = o->n_fingerprints++;
            o->fingerprints[n] = t.keys[i].fingerprint;
            o->time_ns[n] = t.keys[i].time_ns;
            memcpy(o->ids.data + n * 16, t.keys[i].id, 16);
        }
        o->n_time_ns = o->n_fingerprints;
        o->ids.len = o->n_fingerprints * 16;
        sels[h] = *sel;
        sels[h].only = o;
        if (merging > 1)
            sels[h].max_nodes = 0;
        reqs[h] = make_req(ctx, &sels[h]);
    }
    run_all(q, tenant, method, reqs, resp_desc, out);
    /* Ingesters with nothing assigned took no part. */
    size_t k = 0;
    rc = FX_OK;
    for (size_t h = 0; h < out->n; h++) {
        if (!reqs[h]) {
            fx_arena_free(&out->v[h].arena);
            free((char *)out->v[h].addr);
            continue;
        }
        if (out->v[h].rc < 0 && rc == FX_OK) {
            /* It just listed its keys: failing now loses them; report it. */
            rc = out->v[h].rc;
            *err = out->v[h].err;
        }
        out->v[k++] = out->v[h];
    }
    out->n = k;
    for (size_t h = 0; h < keys.n; h++) {
        free(only[h].fingerprints);
        free(only[h].time_ns);
        free(only[h].ids.data);
    }
    free(only);
    free(sels);
    free(reqs);
    free(owner);
    free(load);
    keytab_free(&t);
    qr_results_free(&keys);
    return rc;
}
