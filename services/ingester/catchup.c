/*
 * catchup.c - a restarted ingester fetches the profiles it missed while it
 * was down from the other ACTIVE ingesters (catchup.v1.CatchUpService), and
 * every ingester answers such requests out of its head (storage/handoff.h).
 *
 * Why: with quorum writes, pushes acknowledged while an ingester was down
 * live only on the other replicas; until catch-up they have one replica
 * fewer. When: once, in the background, after WAL replay and after the
 * instance turned ACTIVE (it takes live writes meanwhile). Only a head
 * that already has data catches up: a new ingester holds nothing it could
 * be behind on, and the data of the ranges it takes over stays on the
 * instances that have it. What: per tenant, profiles newer than this
 * head's newest minus -ingester.catch-up-margin of the series whose
 * replication set includes this instance, peer by peer, skipping what a
 * finished peer already covered and any (time, id) the head already holds.
 * An append is atomic and re-appending a (series, time, id) replaces the
 * row, so a crash or rerun of catch-up never double counts. Design and
 * limits: docs/cluster.md "Catch-up".
 */
#include "ingester.h"
#include "catchup/v1/catchup.pb-c.h"
#include "core/gz.h"
#include "core/time.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "rpc/rpc.h"
#include "storage/handoff.h"
#include "storage/row.h"

#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#define M_TENANTS "/catchup.v1.CatchUpService/Tenants"
#define M_FETCH "/catchup.v1.CatchUpService/Fetch"
#define PAGE_MIN (64u << 10)
#define PAGE_MAX (64u << 20)
#define CALL_TIMEOUT_MS 60000

struct ing_catchup {
    pthread_t thread;
    int running;
    int needed;        /* the head had data at open (or a catch-up was pending) */
    int64_t since_ns;  /* the window's start, fixed before any write arrives */
    char marker[4200]; /* <data>/catchup/pending: the window of an unfinished catch-up */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
};

static struct {
    fx_counter_t *profiles, *bytes, *skipped, *errors;
    fx_gauge_t *duration, *done, *running;
} m;

static void metrics_init(void)
{
    fx_registry_t *r = fx_metrics_default();
    m.profiles = fx_counter(r, "fornax_ingester_catchup_profiles_total",
                            "Profiles a restarted ingester fetched from its peers and appended.");
    m.bytes = fx_counter(r, "fornax_ingester_catchup_bytes_total",
                         "Bytes of (gzipped) profiles fetched by catch-up.");
    m.skipped = fx_counter(r, "fornax_ingester_catchup_skipped_total",
                           "Profiles catch-up received that the head already held.");
    m.errors = fx_counter(r, "fornax_ingester_catchup_errors_total",
                          "Failed catch-up calls to a peer and profiles that could not be appended.");
    m.duration = fx_gauge(r, "fornax_ingester_catchup_duration_seconds",
                          "How long the last catch-up took (0 until it finished).");
    m.done = fx_gauge(r, "fornax_ingester_catchup_done",
                      "1 once catch-up finished (or was not needed), 0 while it runs.");
    m.running = fx_gauge(r, "fornax_ingester_catchup_running", "1 while catch-up runs.");
}

static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

/* --- answering: Tenants, Fetch ---------------------------------------------------------- */

static int tenants(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out, fx_err_t *err)
{
    ing_t *ing = call->ctx;
    (void)in;
    (void)err;
    Catchup__V1__TenantsResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
    catchup__v1__tenants_response__init(resp);
    resp->n_tenants = fx_head_tenants(ing->head, call->arena, &resp->tenants);
    *out = &resp->base;
    return FX_OK;
}

typedef struct fetch_ctx {
    fx_app_t *app;
    const char *tenant;
    fx_ring_snapshot_t *snap;
    const Catchup__V1__FetchRequest *req;
    int rf, zone_aware;
} fetch_ctx_t;

/* The requester is in the series' replication set and no finished peer is.
 * The push labels are known up to a few candidates (handoff.h); one whose
 * set does not hold this instance cannot be the real one (we got the push),
 * the others decide. When several remain and disagree, the series is sent:
 * an extra copy on an instance outside the set is harmless (queries
 * deduplicate), a missing one is what catch-up is for. */
static int wanted(void *ctx, const fx_labels_t *cands, size_t ncands)
{
    fetch_ctx_t *f = ctx;
    uint32_t set[64];
    const char *self = fx_app_instance_id(f->app);
    for (size_t c = 0; c < ncands; c++) {
        size_t n = fx_ring_replicas(f->snap, fx_labels_token(f->tenant, &cands[c]), f->rf,
                                    f->zone_aware, FX_RING_OP_WRITE, set);
        int mine = 0, covered = 0, held = 0;
        for (size_t i = 0; i < n; i++) {
            const char *id = f->snap->instances[set[i]].id;
            mine |= strcmp(id, f->req->instance_id) == 0;
            held |= strcmp(id, self) == 0;
            for (size_t k = 0; k < f->req->n_skip_instances; k++)
                covered |= strcmp(id, f->req->skip_instances[k]) == 0;
        }
        if (held && mine && !covered)
            return 1;
    }
    return 0;
}

/* One page profile as the wire message (arena). */
static Catchup__V1__PageProfile *page_profile(const fx_head_page_profile_t *pp, fx_arena_t *a)
{
    Catchup__V1__PageProfile *o = fx_arena_alloc(a, sizeof *o);
    catchup__v1__page_profile__init(o);
    o->n_labels = pp->labels.len;
    o->labels = fx_arena_alloc(a, (pp->labels.len + 1) * sizeof *o->labels);
    for (size_t i = 0; i < pp->labels.len; i++) {
        Types__V1__LabelPair *lp = fx_arena_alloc(a, sizeof *lp);
        types__v1__label_pair__init(lp);
        lp->name = (char *)pp->labels.v[i].name;
        lp->value = (char *)pp->labels.v[i].value;
        o->labels[i] = lp;
    }
    o->id = fx_arena_alloc(a, 37);
    fx_head_id_format(pp->id, o->id);
    o->time_nanos = pp->ts_ns;
    o->period = pp->period;
    o->n_sample_types = 2 * (size_t)pp->ntypes;
    o->sample_types = pp->types;
    o->has_period_type = pp->has_period_type;
    o->period_type = pp->period_type;
    o->period_unit = pp->period_unit;
    o->first_sample = pp->first_sample;
    o->nsamples = pp->nsamples;
    return o;
}

static int fetch(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out, fx_err_t *err)
{
    ing_t *ing = call->ctx;
    const Catchup__V1__FetchRequest *req = (const Catchup__V1__FetchRequest *)in;
    fx_head_cursor_t cur;
    fx_head_page_t page = {NULL, 0, FX_BUF_INIT};
    int rc, done = 0;

    if (!req->instance_id || !*req->instance_id)
        return fx_err_set(err, FX_EINVAL, "catch-up fetch: instance_id is required");
    if ((rc = fx_head_cursor_decode(req->cursor.data, req->cursor.len, &cur, err)) < 0)
        return rc;
    size_t max = req->max_bytes <= 0 ? (1u << 20) : (size_t)req->max_bytes;
    max = FX_MAX(PAGE_MIN, FX_MIN(max, PAGE_MAX));
    fetch_ctx_t f = {ing->app, call->tenant, fx_ring_acquire(ing->ring), req,
                     fx_app_replication_factor(ing->app), fx_app_ring_opts(ing->app)->zone_awareness};
    if (f.rf > 32)
        f.rf = 32; /* the replica buffer holds 2 * rf */
    rc = fx_head_read_page(ing->head, call->tenant, req->start, req->end, max, wanted, &f, &cur,
                           &done, call->arena, &page, err);
    fx_ring_release(ing->ring, f.snap);
    if (rc < 0)
        goto out;
    Catchup__V1__FetchResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
    catchup__v1__fetch_response__init(resp);
    if (page.len) {
        fx_buf_t gz = FX_BUF_INIT;
        fx_gzip(page.pprof.data, page.pprof.len, 1, &gz);
        uint8_t *data = fx_arena_alloc(call->arena, gz.len + 1);
        memcpy(data, gz.data, gz.len);
        resp->pprof.data = data;
        resp->pprof.len = gz.len;
        fx_buf_free(&gz);
        resp->profiles = fx_arena_alloc(call->arena, page.len * sizeof *resp->profiles);
        resp->n_profiles = page.len;
        for (size_t i = 0; i < page.len; i++)
            resp->profiles[i] = page_profile(&page.v[i], call->arena);
    }
    resp->done = done;
    if (!done) {
        uint8_t *c = fx_arena_alloc(call->arena, FX_HEAD_CURSOR_LEN);
        fx_head_cursor_encode(&cur, c);
        resp->next_cursor.data = c;
        resp->next_cursor.len = FX_HEAD_CURSOR_LEN;
    }
    *out = &resp->base;
out:
    fx_buf_free(&page.pprof);
    return rc;
}

/* The head's newest profile time; 0 (and *any = 0) when it is empty. */
static int64_t head_newest(fx_head_t *h, int *any)
{
    fx_arena_t a;
    char **names;
    int64_t newest = 0;
    *any = 0;
    fx_arena_init(&a);
    size_t n = fx_head_tenants(h, &a, &names);
    for (size_t i = 0; i < n; i++) {
        int64_t lo, hi;
        if (fx_head_tenant_range(h, names[i], &lo, &hi) == FX_OK && (!*any || hi > newest)) {
            newest = hi;
            *any = 1;
        }
    }
    fx_arena_free(&a);
    return newest;
}

/* The window of an unfinished catch-up (a crash or stop during it), so the
 * next run starts no later than that one did even though its appends moved
 * the head's newest profile forward. */
static int read_marker(const char *path, int64_t *since)
{
    FILE *f = fopen(path, "r");
    long long v;
    int ok = f && fscanf(f, "%lld", &v) == 1;
    if (f)
        fclose(f);
    if (ok)
        *since = v;
    return ok;
}

static void write_marker(const char *path, int64_t since)
{
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%lld\n", (long long)since) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        fx_log_warn("catch-up: could not record its window", "path=%s", fx_q(path));
        if (f)
            fclose(f);
        return;
    }
    fclose(f);
    if (rename(tmp, path) != 0)
        fx_log_warn("catch-up: could not record its window", "path=%s", fx_q(path));
}

int ing_catchup_register(ing_t *ing, fx_err_t *err)
{
    int rc, any;
    struct ing_catchup *cu;
    pthread_once(&metrics_once, metrics_init);
    cu = ing->catchup = fx_calloc(1, sizeof *ing->catchup);
    pthread_mutex_init(&cu->mu, NULL);
    pthread_cond_init(&cu->cv, NULL);
    /* Before the servers start: live writes must not move the window. */
    snprintf(cu->marker, sizeof cu->marker, "%s/pending", fx_app_data_path(ing->app, "catchup"));
    int64_t newest = head_newest(ing->head, &any), pending;
    if (any) {
        cu->needed = 1;
        cu->since_ns = newest - ing->opts.catch_up_margin_ns;
    }
    if (read_marker(cu->marker, &pending) && (!cu->needed || pending < cu->since_ns)) {
        cu->needed = 1;
        cu->since_ns = pending;
    }
    if ((rc = fx_rpc_server_register(fx_app_rpc(ing->app), M_TENANTS,
                                     &catchup__v1__tenants_request__descriptor,
                                     &catchup__v1__tenants_response__descriptor, tenants, ing, err)) < 0)
        return rc;
    return fx_rpc_server_register(fx_app_rpc(ing->app), M_FETCH,
                                  &catchup__v1__fetch_request__descriptor,
                                  &catchup__v1__fetch_response__descriptor, fetch, ing, err);
}

/* --- catching up ------------------------------------------------------------------------ */

/* Sleeps up to ns; returns 1 if asked to stop. */
static int nap(struct ing_catchup *cu, int64_t ns)
{
    struct timespec ts;
    int stop;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t t = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + (ns > 0 ? ns : 0);
    ts.tv_sec = t / 1000000000;
    ts.tv_nsec = t % 1000000000;
    pthread_mutex_lock(&cu->mu);
    while (!cu->stop && ns > 0 && pthread_cond_timedwait(&cu->cv, &cu->mu, &ts) == 0)
        ;
    stop = cu->stop;
    pthread_mutex_unlock(&cu->mu);
    return stop;
}

static int stopping(struct ing_catchup *cu)
{
    pthread_mutex_lock(&cu->mu);
    int s = cu->stop;
    pthread_mutex_unlock(&cu->mu);
    return s;
}

typedef struct peer {
    char id[128], addr[128];
} peer_t;

typedef struct run {
    ing_t *ing;
    int64_t since_ns;
    peer_t *peers;
    size_t npeers;
    uint64_t profiles, skipped, bytes, errors;
} run_t;

int ing_catchup_page(const Catchup__V1__FetchResponse *r, fx_arena_t *a, fx_buf_t *scratch,
                     fx_pprof_t *page, fx_err_t *err)
{
    memset(page, 0, sizeof *page);
    if (r->n_profiles == 0)
        return FX_OK;
    return fx_pprof_decode_maybe_gzip(r->pprof.data, r->pprof.len, FX_RPC_MAX_MSG_DEFAULT, scratch,
                                      a, page, err);
}

int ing_catchup_profile(const fx_pprof_t *page, const Catchup__V1__PageProfile *pp, fx_arena_t *a,
                        uint8_t id[16], fx_labels_t *labels, fx_pprof_t *view, fx_err_t *err)
{
    int rc;
    if ((rc = fx_head_id_parse(pp->id ? pp->id : "", id, err)) < 0)
        return rc;
    *labels = fx_rpcq_labels(pp->labels, pp->n_labels, a);
    for (size_t i = 0; i < labels->len; i++) {
        if (!labels->v[i].name || !labels->v[i].name[0] || !labels->v[i].value)
            return fx_err_set(err, FX_EINVAL, "a fetched profile has a label without a name");
        if (i > 0 && strcmp(labels->v[i - 1].name, labels->v[i].name) == 0)
            return fx_err_set(err, FX_EINVAL, "a fetched profile has label %s twice",
                              labels->v[i].name);
    }
    if (!fx_labels_get(labels, FX_LABEL_NAME))
        return fx_err_set(err, FX_EINVAL, "a fetched profile has no __name__ label");
    if (pp->n_sample_types % 2 || pp->n_sample_types / 2 > FX_ROW_MAX_COLS)
        return fx_err_set(err, FX_EINVAL, "a fetched profile has %zu sample type indices",
                          pp->n_sample_types);
    fx_head_page_profile_t hp = {
        .ts_ns = pp->time_nanos, .period = pp->period, .ntypes = (uint32_t)(pp->n_sample_types / 2),
        .types = pp->sample_types, .has_period_type = pp->has_period_type,
        .period_type = pp->period_type, .period_unit = pp->period_unit,
        .first_sample = pp->first_sample, .nsamples = pp->nsamples};
    return fx_head_page_view(page, &hp, a, view, err);
}

/* Appends one profile of a page unless the head has its (time, id). */
static void take(run_t *r, const char *tenant, fx_head_keyset_t *have, const fx_pprof_t *page,
                 const Catchup__V1__PageProfile *pp)
{
    fx_head_profile_key_t k = {0};
    fx_arena_t a;
    fx_labels_t l;
    fx_pprof_t view;
    fx_err_t err;

    fx_arena_init(&a);
    k.time_ns = pp->time_nanos;
    if (ing_catchup_profile(page, pp, &a, k.id, &l, &view, &err) < 0)
        goto bad;
    if (fx_head_keyset_has(have, &k)) {
        r->skipped++;
        fx_counter_inc(m.skipped);
        goto out;
    }
    if (fx_head_append(r->ing->head, tenant, &l, &view, k.id, pp->time_nanos, NULL, &err) < 0)
        goto bad;
    fx_head_keyset_add(have, &k);
    r->profiles++;
    fx_counter_inc(m.profiles);
    goto out;
bad:
    r->errors++;
    fx_counter_inc(m.errors);
    fx_log_warn("catch-up: a fetched profile was not appended", "tenant=%s err=%s", fx_q(tenant),
                fx_q(err.msg));
out:
    fx_arena_free(&a);
}

/* Every page of tenant from peer p. FX_OK once the peer said done. */
static int from_peer(run_t *r, const char *tenant, fx_head_keyset_t *have, const peer_t *p,
                     char **skip, size_t nskip, fx_err_t *err)
{
    ing_t *ing = r->ing;
    fx_rpc_client_t *c = fx_rpc_pool_get(fx_app_pool(ing->app), p->addr);
    uint8_t cursor[FX_HEAD_CURSOR_LEN];
    size_t cursor_len = 0;
    double rate = (double)ing->opts.catch_up_rate_bytes;
    int rc = FX_OK;

    for (;;) {
        if (stopping(ing->catchup))
            return fx_err_set(err, FX_ECANCELED, "stopping");
        Catchup__V1__FetchRequest req;
        catchup__v1__fetch_request__init(&req);
        req.instance_id = (char *)fx_app_instance_id(ing->app);
        req.start = r->since_ns;
        req.end = INT64_MAX;
        req.cursor.data = cursor;
        req.cursor.len = cursor_len;
        req.max_bytes = ing->opts.catch_up_page_bytes;
        req.skip_instances = skip;
        req.n_skip_instances = nskip;
        fx_arena_t a;
        ProtobufCMessage *out = NULL;
        int64_t t0 = fx_mono_ns();
        fx_arena_init(&a);
        rc = fx_rpc_invoke(c, M_FETCH, tenant, &req.base, &catchup__v1__fetch_response__descriptor,
                           &a, &out, CALL_TIMEOUT_MS, err);
        if (rc == FX_OK) {
            const Catchup__V1__FetchResponse *resp = (const Catchup__V1__FetchResponse *)out;
            size_t got = resp->pprof.len;
            fx_buf_t scratch = FX_BUF_INIT;
            fx_pprof_t page;
            if ((rc = ing_catchup_page(resp, &a, &scratch, &page, err)) == FX_OK) {
                for (size_t i = 0; i < resp->n_profiles; i++)
                    take(r, tenant, have, &page, resp->profiles[i]);
            } else {
                fx_err_prefix(err, "a page from %s", p->addr);
            }
            fx_pprof_free(&page);
            fx_buf_free(&scratch);
            r->bytes += got;
            fx_counter_add_u64(m.bytes, got);
            if (rc) {
                fx_arena_free(&a);
                return rc;
            }
            if (resp->done) {
                fx_arena_free(&a);
                return FX_OK;
            }
            if (resp->next_cursor.len != FX_HEAD_CURSOR_LEN || resp->n_profiles == 0) {
                rc = fx_err_set(err, FX_EINVAL, "%s: a page without profiles or a cursor", p->addr);
            } else {
                memcpy(cursor, resp->next_cursor.data, FX_HEAD_CURSOR_LEN);
                cursor_len = FX_HEAD_CURSOR_LEN;
            }
            /* The rate limit: the page's bytes take got / rate seconds. */
            if (rc == FX_OK && rate > 0) {
                int64_t due = (int64_t)((double)got / rate * 1e9) - (fx_mono_ns() - t0);
                if (nap(ing->catchup, due))
                    rc = fx_err_set(err, FX_ECANCELED, "stopping");
            }
        }
        fx_arena_free(&a);
        if (rc)
            return rc;
    }
}

static void catch_up_tenant(run_t *r, const char *tenant)
{
    ing_t *ing = r->ing;
    fx_head_keyset_t have;
    fx_head_keys_t keys;
    fx_arena_t a;
    fx_err_t err;
    char **done = fx_calloc(r->npeers + 1, sizeof *done);
    size_t ndone = 0;

    fx_arena_init(&a);
    fx_head_keyset_init(&have);
    /* What the head holds in the window, as (time, id): bounded by the
     * margin's worth of profiles plus the live writes since the restart. */
    fx_head_query_t q = {.tenant = tenant, .start_ms = r->since_ns / 1000000,
                         .end_ms = INT64_MAX / 1000000};
    if (fx_head_profile_keys(ing->head, &q, &a, &keys, &err) == FX_OK) {
        for (size_t i = 0; i < keys.len; i++) {
            fx_head_profile_key_t k = keys.v[i];
            k.fingerprint = 0;
            fx_head_keyset_add(&have, &k);
        }
    }
    fx_arena_free(&a);
    for (size_t i = 0; i < r->npeers && !stopping(ing->catchup); i++) {
        if (from_peer(r, tenant, &have, &r->peers[i], done, ndone, &err) == FX_OK) {
            done[ndone++] = r->peers[i].id;
        } else if (!stopping(ing->catchup)) {
            r->errors++;
            fx_counter_inc(m.errors);
            fx_log_warn("catch-up: fetching from a peer failed; trying the others", "tenant=%s peer=%s err=%s",
                        fx_q(tenant), fx_q(r->peers[i].id), fx_q(err.msg));
        }
    }
    fx_head_keyset_free(&have);
    free(done);
}

/* The ACTIVE, healthy peers (not this instance). */
static size_t list_peers(ing_t *ing, peer_t **out)
{
    fx_ring_snapshot_t *s = fx_ring_acquire(ing->ring);
    peer_t *v = fx_calloc(s->ninstances + 1, sizeof *v);
    size_t n = 0;
    int64_t now = fx_now_ns() / 1000000;
    for (size_t i = 0; i < s->ninstances; i++) {
        const fx_ring_instance_t *in = &s->instances[i];
        if (strcmp(in->id, fx_app_instance_id(ing->app)) == 0 || in->state != FX_RING_ACTIVE ||
            !fx_ring_healthy(ing->ring, in, FX_RING_OP_READ, now))
            continue;
        snprintf(v[n].id, sizeof v[n].id, "%s", in->id);
        snprintf(v[n].addr, sizeof v[n].addr, "%s", in->addr);
        n++;
    }
    fx_ring_release(ing->ring, s);
    *out = v;
    return n;
}

/* Own tenants plus every peer's. */
static size_t list_tenants(run_t *r, fx_arena_t *a, char ***out)
{
    char **own;
    size_t n = fx_head_tenants(r->ing->head, a, &own), cap = n + 16;
    char **v = fx_arena_alloc(a, cap * sizeof *v);
    memcpy(v, own, n * sizeof *v);
    for (size_t i = 0; i < r->npeers; i++) {
        Catchup__V1__TenantsRequest req;
        ProtobufCMessage *resp;
        fx_err_t err;
        catchup__v1__tenants_request__init(&req);
        fx_rpc_client_t *c = fx_rpc_pool_get(fx_app_pool(r->ing->app), r->peers[i].addr);
        if (fx_rpc_invoke(c, M_TENANTS, NULL, &req.base, &catchup__v1__tenants_response__descriptor,
                          a, &resp, CALL_TIMEOUT_MS, &err) < 0) {
            r->errors++;
            fx_counter_inc(m.errors);
            fx_log_warn("catch-up: listing a peer's tenants failed", "peer=%s err=%s",
                        fx_q(r->peers[i].id), fx_q(err.msg));
            continue;
        }
        const Catchup__V1__TenantsResponse *tr = (const Catchup__V1__TenantsResponse *)resp;
        for (size_t k = 0; k < tr->n_tenants; k++) {
            size_t j = 0;
            while (j < n && strcmp(v[j], tr->tenants[k]) != 0)
                j++;
            if (j < n)
                continue;
            if (n == cap) {
                char **w = fx_arena_alloc(a, 2 * cap * sizeof *w);
                memcpy(w, v, n * sizeof *w);
                v = w;
                cap *= 2;
            }
            v[n++] = tr->tenants[k];
        }
    }
    *out = v;
    return n;
}

static void *catch_up_main(void *arg)
{
    ing_t *ing = arg;
    run_t r = {.ing = ing};
    fx_arena_t a;
    char **names;
    int64_t t0 = fx_mono_ns();
    size_t n;

    /* Our own registration must be visible to the peers' rings first: they
     * decide which series are ours from their view. */
    for (int i = 0; i < 100 && !fx_ring_lifecycler_registered(ing->lifecycler); i++)
        if (nap(ing->catchup, 100 * 1000000))
            goto out;
    if (nap(ing->catchup, FX_MIN(fx_app_ring_opts(ing->app)->heartbeat_period_ns, 5000000000LL)))
        goto out;
    r.since_ns = ing->catchup->since_ns;
    r.npeers = list_peers(ing, &r.peers);
    fx_log_info("catch-up: starting", "since_ns=%lld peers=%zu",
                (long long)r.since_ns, r.npeers);
    fx_arena_init(&a);
    n = list_tenants(&r, &a, &names);
    for (size_t i = 0; i < n && !stopping(ing->catchup); i++)
        catch_up_tenant(&r, names[i]);
    fx_arena_free(&a);
    free(r.peers);
    /* Finished without a failure: the next start need not look back here.
     * Otherwise the marker stays and the next start retries this window. */
    if (r.npeers == 0) {
        r.errors++;
        fx_counter_inc(m.errors);
        fx_log_warn("catch-up: no ACTIVE peer to fetch from; the next start tries again", "since_ns=%lld",
                    (long long)r.since_ns);
    }
    if (!r.errors && !stopping(ing->catchup))
        unlink(ing->catchup->marker);
    fx_gauge_set(m.duration, (double)(fx_mono_ns() - t0) / 1e9);
    fx_log_info("catch-up: finished", "tenants=%zu profiles=%llu skipped=%llu bytes=%llu errors=%llu seconds=%.3f",
                n, (unsigned long long)r.profiles, (unsigned long long)r.skipped,
                (unsigned long long)r.bytes, (unsigned long long)r.errors,
                (double)(fx_mono_ns() - t0) / 1e9);
out:
    fx_gauge_set(m.running, 0);
    fx_gauge_set(m.done, 1);
    return NULL;
}

void ing_catchup_start(ing_t *ing)
{
    struct ing_catchup *cu = ing->catchup;
    if (!ing->opts.catch_up) {
        fx_gauge_set(m.done, 1);
        return;
    }
    if (fx_app_replication_factor(ing->app) <= 1) {
        fx_gauge_set(m.done, 1); /* every series has one replica: nobody else holds ours */
        return;
    }
    if (!cu->needed) {
        fx_log_info("catch-up: not needed", "reason=%s", fx_q("the head is empty (a new instance)"));
        fx_gauge_set(m.done, 1);
        return;
    }
    write_marker(cu->marker, cu->since_ns);
    fx_gauge_set(m.done, 0);
    fx_gauge_set(m.running, 1);
    if (pthread_create(&cu->thread, NULL, catch_up_main, ing) == 0) {
        cu->running = 1;
    } else {
        fx_log_warn("catch-up: could not start its thread", "reason=%s", fx_q("pthread_create"));
        fx_gauge_set(m.running, 0);
    }
}

void ing_catchup_stop(ing_t *ing)
{
    struct ing_catchup *cu = ing->catchup;
    if (!cu)
        return;
    pthread_mutex_lock(&cu->mu);
    cu->stop = 1;
    pthread_cond_broadcast(&cu->cv);
    pthread_mutex_unlock(&cu->mu);
    if (cu->running)
        pthread_join(cu->thread, NULL);
    cu->running = 0;
}

void ing_catchup_free(ing_t *ing)
{
    if (!ing->catchup)
        return;
    ing_catchup_stop(ing);
    pthread_mutex_destroy(&ing->catchup->mu);
    pthread_cond_destroy(&ing->catchup->cv);
    free(ing->catchup);
    ing->catchup = NULL;
}
