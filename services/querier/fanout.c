/* fanout.c - parallel calls to the ingesters of the ring. */
#include "querier.h"
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

int qr_fanout(qr_t *q, const char *tenant, const char *method, const ProtobufCMessage *req,
              const ProtobufCMessageDescriptor *resp_desc, qr_results_t *out, fx_err_t *err)
{
    fx_ring_snapshot_t *s = fx_ring_acquire(q->ingesters);
    int64_t now = fx_now_ms();
    size_t n = 0;
    int rc = FX_OK;

    out->v = fx_calloc(s->ninstances + 1, sizeof *out->v);
    out->n = 0;
    for (size_t i = 0; i < s->ninstances; i++) {
        if (!fx_ring_healthy(q->ingesters, &s->instances[i], FX_RING_OP_READ, now))
            continue;
        qr_result_t *r = &out->v[n++];
        r->addr = fx_strdup(s->instances[i].addr);
        fx_arena_init(&r->arena);
    }
    out->n = n;
    size_t unhealthy = s->ninstances - n;
    fx_ring_release(q->ingesters, s);
    if (unhealthy)
        /* With replication factor 1 an unhealthy ingester's data is simply
         * not there: say so instead of answering with partial data. */
        return fx_err_set(err, FX_EUNAVAIL, "%zu ingester(s) in the ring are unhealthy; the answer "
                          "would be incomplete", unhealthy);
    if (n == 0)
        return FX_OK; /* no ingesters: no data */
    job_t *jobs = fx_calloc(n, sizeof *jobs);
    for (size_t i = 0; i < n; i++) {
        jobs[i] = (job_t){q, tenant, method, req, resp_desc, &out->v[i], 0};
        if (n == 1)
            run_job(&jobs[i]);
        else
            pthread_create(&jobs[i].thread, NULL, run_job, &jobs[i]);
    }
    for (size_t i = 0; n > 1 && i < n; i++)
        pthread_join(jobs[i].thread, NULL);
    free(jobs);
    for (size_t i = 0; i < n && rc == FX_OK; i++)
        if (out->v[i].rc < 0) {
            rc = out->v[i].rc;
            *err = out->v[i].err;
        }
    return rc;
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
