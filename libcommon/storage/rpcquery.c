/* rpcquery.c - internal query RPC messages to head queries and back. */
#include "storage/rpcquery.h"
#include "core/mem.h"
#include "model/profile_type.h"

#include <stdlib.h>
#include <string.h>

void fx_rpcq_free(fx_rpcq_t *r)
{
    for (size_t i = 0; i < r->nsels; i++)
        fx_selector_free(&r->sels[i]);
    free(r->sels);
    r->sels = NULL;
    r->nsels = 0;
    if (r->has_only)
        fx_head_keyset_free(&r->only);
    r->has_only = 0;
}

int fx_rpcq_matchers(fx_rpcq_t *r, const char *tenant, char **matchers, size_t n, int64_t start,
                     int64_t end, fx_err_t *err)
{
    memset(r, 0, sizeof *r);
    r->sels = fx_calloc(n + 1, sizeof *r->sels);
    for (size_t i = 0; i < n; i++) {
        int rc = fx_selector_parse(matchers[i], &r->sels[i], err);
        if (rc < 0) {
            fx_rpcq_free(r);
            return rc;
        }
        r->nsels++;
    }
    r->q.tenant = tenant;
    r->q.selectors = r->sels;
    r->q.nselectors = r->nsels;
    r->q.start_ms = start;
    r->q.end_ms = end;
    return FX_OK;
}

int fx_rpcq_select(fx_rpcq_t *r, const char *tenant, const Ingester__V1__SelectRequest *req,
                   fx_err_t *err)
{
    char *one[1] = {req->label_selector};
    int rc = fx_rpcq_matchers(r, tenant, one, req->label_selector && *req->label_selector ? 1 : 0,
                              req->start, req->end, err);
    if (rc < 0)
        return rc;
    r->q.profile_type = req->profile_type_id;
    if (!req->only)
        return FX_OK;
    const Ingester__V1__ProfileKeys *k = req->only;
    if (k->n_time_ns != k->n_fingerprints || k->ids.len != k->n_fingerprints * 16) {
        fx_rpcq_free(r);
        return fx_err_set(err, FX_EINVAL, "malformed profile key list");
    }
    fx_head_keyset_init(&r->only);
    r->has_only = 1;
    for (size_t i = 0; i < k->n_fingerprints; i++) {
        fx_head_profile_key_t key;
        key.fingerprint = k->fingerprints[i];
        key.time_ns = k->time_ns[i];
        memcpy(key.id, k->ids.data + i * 16, 16);
        fx_head_keyset_add(&r->only, &key);
    }
    r->q.only = &r->only;
    return FX_OK;
}

fx_head_aggregation_t fx_rpcq_aggregation(const Ingester__V1__SelectSeriesRequest *r)
{
    if (r->count)
        return FX_AGG_COUNT;
    return r->aggregation == TYPES__V1__TIME_SERIES_AGGREGATION_TYPE__TIME_SERIES_AGGREGATION_TYPE_AVERAGE
               ? FX_AGG_AVERAGE
               : FX_AGG_SUM;
}

fx_labels_t fx_rpcq_labels(Types__V1__LabelPair **pairs, size_t n, fx_arena_t *a)
{
    fx_labels_t l = {fx_arena_alloc(a, (n + 1) * sizeof(fx_label_t)), n};
    for (size_t i = 0; i < n; i++) {
        l.v[i].name = pairs[i]->name;
        l.v[i].value = pairs[i]->value;
    }
    fx_labels_sort(&l);
    return l;
}

Types__V1__LabelPair **fx_rpcq_pairs(const fx_labels_t *l, fx_arena_t *a)
{
    Types__V1__LabelPair **v = fx_arena_alloc(a, (l->len + 1) * sizeof *v);
    Types__V1__LabelPair *p = fx_arena_alloc(a, (l->len + 1) * sizeof *p);
    for (size_t i = 0; i < l->len; i++) {
        types__v1__label_pair__init(&p[i]);
        p[i].name = (char *)l->v[i].name;
        p[i].value = (char *)l->v[i].value;
        v[i] = &p[i];
    }
    return v;
}

Querier__V1__SeriesResponse *fx_rpcq_series_response(const fx_head_label_sets_t *sets,
                                                      fx_arena_t *a)
{
    Querier__V1__SeriesResponse *resp = fx_arena_alloc(a, sizeof *resp);
    querier__v1__series_response__init(resp);
    resp->n_labels_set = sets->len;
    resp->labels_set = fx_arena_alloc(a, (sets->len + 1) * sizeof *resp->labels_set);
    Types__V1__Labels *ls = fx_arena_alloc(a, (sets->len + 1) * sizeof *ls);
    for (size_t i = 0; i < sets->len; i++) {
        types__v1__labels__init(&ls[i]);
        ls[i].n_labels = sets->v[i].len;
        ls[i].labels = fx_rpcq_pairs(&sets->v[i], a);
        resp->labels_set[i] = &ls[i];
    }
    return resp;
}

Querier__V1__SelectSeriesResponse *fx_rpcq_select_series_response(const fx_head_ts_list_t *list,
                                                                  fx_arena_t *a)
{
    Querier__V1__SelectSeriesResponse *resp = fx_arena_alloc(a, sizeof *resp);
    querier__v1__select_series_response__init(resp);
    resp->n_series = list->len;
    resp->series = fx_arena_alloc(a, (list->len + 1) * sizeof *resp->series);
    for (size_t i = 0; i < list->len; i++) {
        const fx_head_ts_t *t = &list->v[i];
        Types__V1__Series *s = fx_arena_alloc(a, sizeof *s);
        types__v1__series__init(s);
        s->n_labels = t->labels.len;
        s->labels = fx_rpcq_pairs(&t->labels, a);
        s->n_points = t->npoints;
        s->points = fx_arena_alloc(a, (s->n_points + 1) * sizeof *s->points);
        Types__V1__Point *pts = fx_arena_alloc(a, (s->n_points + 1) * sizeof *pts);
        for (size_t k = 0; k < s->n_points; k++) {
            types__v1__point__init(&pts[k]);
            pts[k].timestamp = t->points[k].ts_ms;
            pts[k].value = t->points[k].value;
            s->points[k] = &pts[k];
        }
        resp->series[i] = s;
    }
    return resp;
}

Querier__V1__ProfileTypesResponse *fx_rpcq_profile_types_response(const fx_head_strings_t *ids,
                                                                  fx_arena_t *a)
{
    Querier__V1__ProfileTypesResponse *resp = fx_arena_alloc(a, sizeof *resp);
    querier__v1__profile_types_response__init(resp);
    resp->profile_types = fx_arena_alloc(a, (ids->len + 1) * sizeof *resp->profile_types);
    for (size_t i = 0; i < ids->len; i++) {
        fx_profile_type_t t;
        if (fx_profile_type_parse(ids->v[i], a, &t, NULL) < 0)
            continue;
        Types__V1__ProfileType *pt = fx_arena_alloc(a, sizeof *pt);
        types__v1__profile_type__init(pt);
        pt->id = (char *)t.id;
        pt->name = (char *)t.name;
        pt->sample_type = (char *)t.sample_type;
        pt->sample_unit = (char *)t.sample_unit;
        pt->period_type = (char *)t.period_type;
        pt->period_unit = (char *)t.period_unit;
        resp->profile_types[resp->n_profile_types++] = pt;
    }
    return resp;
}

Ingester__V1__ProfileKeys *fx_rpcq_keys_response(const fx_head_keys_t *keys, fx_arena_t *a)
{
    Ingester__V1__ProfileKeys *resp = fx_arena_alloc(a, sizeof *resp);
    ingester__v1__profile_keys__init(resp);
    resp->n_fingerprints = resp->n_time_ns = keys->len;
    resp->fingerprints = fx_arena_alloc(a, (keys->len + 1) * sizeof *resp->fingerprints);
    resp->time_ns = fx_arena_alloc(a, (keys->len + 1) * sizeof *resp->time_ns);
    resp->ids.data = fx_arena_alloc(a, keys->len * 16 + 1);
    resp->ids.len = keys->len * 16;
    for (size_t i = 0; i < keys->len; i++) {
        resp->fingerprints[i] = keys->v[i].fingerprint;
        resp->time_ns[i] = keys->v[i].time_ns;
        memcpy(resp->ids.data + i * 16, keys->v[i].id, 16);
    }
    return resp;
}
