/*
 * pipeline.c - from decoded profiles to series profiles on the ingesters:
 * limits, validation and repair, splitting by sample labels, label checks,
 * replication. Both push APIs end here.
 */
#include "distributor.h"
#include "core/gz.h"
#include "core/time.h"
#include "ingester/v1/ingester.pb-c.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "pprof/validate.h"
#include "split.h"
#include "write.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static fx_pprof_limits_t pprof_limits(const fx_limits_t *lim)
{
    return (fx_pprof_limits_t){
        (size_t)lim->max_profile_stacktrace_samples, (size_t)lim->max_profile_stacktrace_sample_labels,
        (size_t)lim->max_profile_stacktrace_depth,   (size_t)lim->max_profile_symbol_value_length,
        lim->reject_older_than_ns,                   lim->reject_newer_than_ns,
    };
}

/* fx_pprof_decode_each's callback: FX_OK while the profile can still go on
 * as received; anything else sends dist_decode to the full decode. */
static int sample_as_received(void *ctx, const fx_pprof_t *p, size_t i, fx_pprof_sample_t *s,
                              fx_err_t *err)
{
    int repaired = 0, rc = fx_pprof_validate_sample(p, ctx, i, s, &repaired, err);
    if (rc < 0)
        return rc;
    return repaired || split_sample_splits(p, s) ? 1 : FX_OK;
}

int dist_decode(dist_t *d, const char *tenant, const uint8_t *raw, size_t len, fx_arena_t *a,
                dist_profile_t *p, fx_err_t *err)
{
    const fx_limits_t *lim = fx_limits_for(fx_app_limits(d->app), tenant);
    size_t max = lim->max_profile_size_bytes > 0 ? (size_t)lim->max_profile_size_bytes : SIZE_MAX;
    fx_buf_t plain = FX_BUF_INIT;
    int rc;

    memset(p, 0, sizeof *p);
    if (len == 0)
        return fx_err_set(err, FX_EINVAL, "profile is empty");
    if (fx_gz_is_gzip(raw, len)) {
        rc = fx_gunzip(raw, len, max, &plain, err);
        if (rc == FX_ETOOBIG)
            return fx_err_set(err, FX_EINVAL,
                              "profile is larger than %zu bytes uncompressed (max_profile_size_bytes)",
                              max);
        if (rc < 0) {
            fx_buf_free(&plain);
            return fx_err_prefix(err, "profile");
        }
        /* Kept (not copied) until dist_profile_free. */
        p->plain = p->owned = plain.data;
        p->plain_len = plain.len;
    } else {
        if (len > max)
            return fx_err_set(err, FX_EINVAL,
                              "profile is %zu bytes, larger than %zu (max_profile_size_bytes)", len, max);
        p->plain = raw;
        p->plain_len = len;
    }
    /* The usual case first: valid, nothing to repair or split. Anything else
     * (including an invalid profile, so that the error is the one the full
     * validation gives) takes the full decode. */
    fx_pprof_limits_t plim = pprof_limits(lim);
    fx_err_t scan_err = {0};
    if (fx_pprof_decode_each(p->plain, p->plain_len, a, &p->pprof, sample_as_received, &plim,
                             &scan_err) == FX_OK) {
        p->lazy = 1;
        return FX_OK;
    }
    fx_pprof_free(&p->pprof);
    if ((rc = fx_pprof_decode(p->plain, p->plain_len, a, &p->pprof, err)) < 0)
        dist_profile_free(p);
    return rc;
}

void dist_profile_free(dist_profile_t *p)
{
    fx_pprof_free(&p->pprof);
    free(p->owned);
    p->owned = NULL;
}

/* Pyroscope's default ingestion relabeling (reference §7) plus the
 * service_name fallback, on a copy of the pushed labels. */
static fx_labels_t series_labels(const fx_labels_t *in, fx_arena_t *a)
{
    fx_labels_t l = fx_labels_copy(a, in, 4);
    const char *name = fx_labels_get(&l, FX_LABEL_NAME);
    if (!fx_labels_get(&l, FX_LABEL_SERVICE_NAME))
        fx_labels_set(&l, FX_LABEL_SERVICE_NAME, "unknown_service");
    if (name && strncmp(name, "godeltaprof_", 12) == 0) {
        fx_labels_set(&l, FX_LABEL_NAME, name + 12);
        fx_labels_set(&l, FX_LABEL_DELTA, "false");
    }
    return l;
}

static void new_uuid(fx_arena_t *a, char **out)
{
    uint8_t b[16];
    if (getrandom(b, sizeof b, 0) != sizeof b)
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (uint8_t)(fx_mono_ns() >> (i % 8));
    b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
    b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
    *out = fx_arena_printf(a, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                           b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
                           b[12], b[13], b[14], b[15]);
}

static Types__V1__LabelPair **to_pairs(const fx_labels_t *l, fx_arena_t *a)
{
    Types__V1__LabelPair **v = fx_arena_alloc(a, (l->len + 1) * sizeof *v);
    for (size_t i = 0; i < l->len; i++) {
        v[i] = fx_arena_alloc(a, sizeof *v[i]);
        types__v1__label_pair__init(v[i]);
        v[i]->name = (char *)l->v[i].name;
        v[i]->value = (char *)l->v[i].value;
    }
    return v;
}

/* Counters, registered once. Label values come from small fixed sets. */
static struct {
    fx_counter_t *profiles, *bytes, *series;
    fx_counter_vec_t *discarded;
} m;
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void metrics_init(void)
{
    fx_registry_t *r = fx_metrics_default();
    m.profiles = fx_counter(r, "fornax_distributor_received_profiles_total",
                            "Profiles accepted by the distributor (before splitting).");
    m.bytes = fx_counter(r, "fornax_distributor_received_bytes_total",
                         "Uncompressed pprof bytes accepted by the distributor.");
    m.series = fx_counter(r, "fornax_distributor_series_profiles_total",
                          "Series profiles written to ingesters (after splitting by sample labels).");
    m.discarded = fx_counter_vec(r, "fornax_distributor_discarded_profiles_total",
                                 "Profiles refused, by reason.", "reason");
}

static void discard(const char *reason, size_t n)
{
    fx_counter_add_u64(fx_counter_vec_get(m.discarded, reason), n);
}

int dist_push(dist_t *d, const char *tenant, dist_profile_t *profiles, size_t n, fx_arena_t *a,
              fx_err_t *err)
{
    const fx_limits_t *lim = fx_limits_for(fx_app_limits(d->app), tenant);
    double total_bytes = 0;
    int rc;

    pthread_once(&metrics_once, metrics_init);
    if (n == 0)
        return fx_err_set(err, FX_EINVAL, "no profiles received");
    for (size_t i = 0; i < n; i++)
        total_bytes += (double)profiles[i].plain_len;
    double rate = lim->ingestion_rate_mb * FX_LIMITS_MB;
    if (d->distributors) {
        /* The tenant's limit is global: each healthy distributor gets a share. */
        size_t healthy = dist_healthy_distributors(d);
        if (healthy > 1)
            rate /= (double)healthy;
    }
    if (!ratelimit_allow(&d->rl, tenant, total_bytes, rate, lim->ingestion_burst_size_mb * FX_LIMITS_MB,
                         fx_mono_ns())) {
        discard("rate_limited", n);
        return fx_err_set(err, FX_ELIMIT,
                          "push rate limit (ingestion_rate_mb=%g, ingestion_burst_size_mb=%g) reached "
                          "for tenant %s while pushing %.0f bytes: slow down or ask for a higher limit",
                          lim->ingestion_rate_mb, lim->ingestion_burst_size_mb, tenant, total_bytes);
    }

    fx_pprof_limits_t plim = pprof_limits(lim);
    fx_label_limits_t llim = {(size_t)lim->max_label_names_per_series,
                              (size_t)lim->max_label_name_length,
                              (size_t)lim->max_label_value_length, lim->disable_label_sanitization};
    write_batch_t batch;
    write_batch_init(&batch);
    int64_t now = fx_now_ns();
    for (size_t i = 0; i < n; i++) {
        dist_profile_t *p = &profiles[i];
        int repaired = 0, whole;
        split_group_t *groups, one;
        size_t ngroups;
        if (p->lazy) {
            /* The samples passed in dist_decode; the rest is checked here. */
            if ((rc = fx_pprof_validate_tables(&p->pprof, &plim, now, &repaired, err)) < 0)
                goto out;
            /* A repair or a change means re-encoding, which needs the samples. */
            if (repaired || p->changed) {
                if ((rc = fx_pprof_decode_samples(p->plain, p->plain_len, a, &p->pprof, err)) < 0)
                    goto out;
                p->lazy = 0;
            }
        } else if ((rc = fx_pprof_validate(&p->pprof, &plim, now, &repaired, err)) < 0) {
            goto out;
        }
        fx_labels_t base = series_labels(&p->labels, a);
        if (p->lazy) {
            /* No sample has a splitting label: one series, all samples. */
            one = (split_group_t){fx_labels_copy(a, &base, 4), NULL, p->pprof.nsamples};
            groups = &one;
            ngroups = 1;
            whole = 1;
        } else {
            split_by_sample_labels(&p->pprof, &base, a, &groups, &ngroups, &whole);
        }
        for (size_t g = 0; g < ngroups; g++) {
            fx_labels_t *l = &groups[g].labels;
            if ((rc = fx_labels_validate(l, &llim, a, err)) < 0)
                goto out;
            Ingester__V1__SeriesProfile *sp = fx_arena_alloc(a, sizeof *sp);
            uint8_t *owned = NULL;
            ingester__v1__series_profile__init(sp);
            sp->n_labels = l->len;
            sp->labels = to_pairs(l, a);
            if (whole && !repaired && !p->changed) {
                /* Nothing changed: forward the bytes as received (no re-encode). */
                sp->pprof.data = (uint8_t *)p->plain;
                sp->pprof.len = p->plain_len;
            } else {
                /* The batch takes the encoded bytes as they are (no copy). */
                fx_buf_t enc = FX_BUF_INIT;
                fx_pprof_encode_opts_t o = {groups[g].samples, groups[g].nsamples, split_keep_label, NULL};
                fx_pprof_encode(&p->pprof, whole ? NULL : &o, &enc);
                sp->pprof.data = owned = fx_buf_steal(&enc, &sp->pprof.len);
            }
            new_uuid(a, &sp->id);
            sp->time_nanos = p->pprof.time_nanos;
            write_batch_add(&batch, sp, fx_labels_token(tenant, l), owned);
        }
    }
    rc = write_batch_send(d, tenant, &batch, err);
    if (rc == FX_OK) {
        fx_counter_add_u64(m.profiles, n);
        fx_counter_add(m.bytes, total_bytes);
        fx_counter_add_u64(m.series, batch.n);
    }
out:
    if (rc < 0)
        discard(rc == FX_EINVAL ? "invalid" : rc == FX_ELIMIT ? "series_limit" : "write_failed", n);
    write_batch_free(&batch);
    return rc;
}
