/* push_handler.c - POST /push.v1.PusherService/Push (Connect, proto/JSON). */
#include "distributor.h"
#include "http/connect.h"
#include "log/log.h"
#include "push/v1/push.pb-c.h"

static int push(fx_call_t *call, const ProtobufCMessage *in, ProtobufCMessage **out, fx_err_t *err)
{
    dist_t *d = call->ctx;
    const Push__V1__PushRequest *req = (const Push__V1__PushRequest *)in;
    size_t n = 0;
    int rc;

    for (size_t i = 0; i < req->n_series; i++)
        n += req->series[i]->n_samples;
    dist_profile_t *profiles = fx_arena_alloc(call->arena, (n + 1) * sizeof *profiles);
    size_t k = 0;
    for (size_t i = 0; i < req->n_series; i++) {
        const Push__V1__RawProfileSeries *s = req->series[i];
        fx_labels_t labels = {fx_arena_alloc(call->arena, (s->n_labels + 1) * sizeof(fx_label_t)),
                              s->n_labels};
        for (size_t j = 0; j < s->n_labels; j++) {
            labels.v[j].name = s->labels[j]->name;
            labels.v[j].value = s->labels[j]->value;
        }
        for (size_t j = 0; j < s->n_samples; j++, k++) {
            const ProtobufCBinaryData *raw = &s->samples[j]->raw_profile;
            if ((rc = dist_decode(d, call->tenant, raw->data, raw->len, call->arena, &profiles[k],
                                  err)) < 0) {
                fx_err_prefix(err, "series %zu sample %zu", i, j);
                goto out;
            }
            profiles[k].labels = labels;
        }
    }
    if ((rc = dist_push(d, call->tenant, profiles, n, call->arena, err)) < 0)
        goto out;
    Push__V1__PushResponse *resp = fx_arena_alloc(call->arena, sizeof *resp);
    push__v1__push_response__init(resp);
    *out = &resp->base;
out:
    for (size_t i = 0; i < k; i++)
        dist_profile_free(&profiles[i]);
    return rc;
}

int dist_register_push(dist_t *d, fx_err_t *err)
{
    if (fx_connect_register_method(fx_app_http(d->app), &push__v1__pusher_service__descriptor, "Push",
                                   push, d) < 0)
        return fx_err_set(err, FX_EINTERNAL, "cannot register the Push API");
    return FX_OK;
}
