/*
 * ingest_handler.c - POST /ingest and /pyroscope/ingest, the legacy push
 * API most Pyroscope SDKs still use (reference §6.1): raw pprof, multipart
 * pprof, and folded/lines text.
 */
#include "distributor.h"
#include "core/time.h"
#include "http/multipart.h"
#include "ingest.h"
#include "log/log.h"

#include <string.h>

static const char *query(void *req, const char *name)
{
    return fx_http_req_query(req, name);
}

/* Decodes a pprof body or part and derives its series labels. */
static int from_pprof(dist_t *d, fx_http_req_t *req, const ingest_params_t *params,
                      const uint8_t *data, size_t len, const fx_slice_t *type_config,
                      dist_profile_t *p, fx_err_t *err)
{
    int rc = dist_decode(d, req->tenant, data, len, req->arena, p, err);
    if (rc < 0)
        return rc;
    if (type_config && type_config->len &&
        (rc = ingest_apply_sample_type_config(&p->pprof, (const char *)type_config->data,
                                              type_config->len, req->arena, &p->changed, err)) < 0)
        return rc;
    if (p->pprof.time_nanos == 0)
        p->pprof.time_nanos = params->from_ns;
    p->labels = ingest_pprof_labels(params, &p->pprof, req->arena);
    return FX_OK;
}

static void ingest(fx_http_req_t *req, void *ctx)
{
    dist_t *d = ctx;
    fx_err_t err = {0};
    ingest_params_t params;
    dist_profile_t p;
    fx_pprof_builder_t builder;
    int rc;

    memset(&p, 0, sizeof p);
    fx_pprof_builder_init(&builder);
    const char *ctype = fx_http_req_header(req, "Content-Type");
    if ((rc = ingest_parse_params(query, req, ctype, fx_now_ns(), req->arena, &params, &err)) < 0)
        goto out;
    switch (params.format) {
    case INGEST_FORMAT_PPROF:
        rc = from_pprof(d, req, &params, req->body.data, req->body.len, NULL, &p, &err);
        break;
    case INGEST_FORMAT_MULTIPART: {
        fx_multipart_t mp;
        if ((rc = fx_multipart_parse(ctype, req->body.data, req->body.len, req->arena, &mp, &err)) < 0)
            break;
        if (fx_multipart_get(&mp, "prev_profile")) {
            rc = fx_err_set(&err, FX_EINVAL, "unsupported client version: multipart uploads with "
                            "prev_profile are not supported; upgrade the agent");
            break;
        }
        const fx_mp_part_t *prof = fx_multipart_get(&mp, "profile");
        const fx_mp_part_t *cfg = fx_multipart_get(&mp, "sample_type_config");
        if (!prof) {
            rc = fx_err_set(&err, FX_EINVAL, "multipart body has no \"profile\" part");
            break;
        }
        rc = from_pprof(d, req, &params, prof->body.data, prof->body.len, cfg ? &cfg->body : NULL,
                        &p, &err);
        break;
    }
    case INGEST_FORMAT_FOLDED:
    case INGEST_FORMAT_LINES: {
        fx_pprof_t *built;
        if ((rc = ingest_text_to_pprof(&params, (const char *)req->body.data, req->body.len,
                                       &builder, req->arena, &p.labels, &built, &err)) < 0)
            break;
        p.pprof = *built;
        memset(&built->loc_index, 0, sizeof built->loc_index); /* now owned by p.pprof */
        memset(&built->fn_index, 0, sizeof built->fn_index);
        memset(&built->map_index, 0, sizeof built->map_index);
        /* Encode so the ingester receives pprof bytes like any other push. */
        fx_buf_t enc = FX_BUF_INIT;
        fx_pprof_encode(&p.pprof, NULL, &enc);
        uint8_t *copy = fx_arena_alloc(req->arena, enc.len + 1);
        memcpy(copy, enc.data, enc.len);
        p.plain = copy;
        p.plain_len = enc.len;
        fx_buf_free(&enc);
        break;
    }
    }
    if (rc == FX_OK)
        rc = dist_push(d, req->tenant, &p, 1, req->arena, &err);
out:
    dist_profile_free(&p);
    fx_pprof_builder_free(&builder);
    if (rc < 0) {
        fx_log_debug("ingest rejected", "tenant=%s err=%s", fx_q(req->tenant), fx_q(err.msg));
        fx_http_reply_err(req, &err);
        return;
    }
    fx_http_reply(req, 200, "text/plain", "", 0);
}

int dist_register_ingest(dist_t *d, fx_err_t *err)
{
    int rc;
    if ((rc = fx_http_route(fx_app_http(d->app), "/ingest", FX_HTTP_POST, FX_HTTP_TENANT, ingest, d,
                            err)) < 0)
        return rc;
    return fx_http_route(fx_app_http(d->app), "/pyroscope/ingest", FX_HTTP_POST, FX_HTTP_TENANT,
                         ingest, d, err);
}
