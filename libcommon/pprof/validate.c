/* validate.c - profile validation and repair before ingestion. */
#include "pprof/validate.h"

#include <string.h>

static int str_ok(const fx_pprof_t *p, int64_t i)
{
    return i >= 0 && (uint64_t)i < p->nstrings;
}

#define CHECK_STR(idx, what)                                                                  \
    do {                                                                                      \
        if (!str_ok(p, (idx)))                                                                \
            return fx_err_set(err, FX_EINVAL, "profile %s refers to string %lld, but the "    \
                              "string table has %zu entries", what, (long long)(idx),         \
                              p->nstrings);                                                   \
    } while (0)

static int check_strings(fx_pprof_t *p, const fx_pprof_limits_t *lim, int *repaired, fx_err_t *err)
{
    if (p->nstrings == 0 || p->strings[0].len != 0)
        return fx_err_set(err, FX_EINVAL, "profile string table must start with an empty string");
    for (size_t i = 0; i < p->nstrings; i++) {
        fx_slice_t *s = &p->strings[i];
        if (lim->max_symbol_len && s->len > lim->max_symbol_len) {
            /* Keep the tail: it holds the most specific part of a symbol. */
            s->data += s->len - lim->max_symbol_len;
            s->len = lim->max_symbol_len;
            *repaired = 1;
            /* The cut may land inside a UTF-8 sequence; skip continuation bytes. */
            while (s->len && (s->data[0] & 0xc0) == 0x80) {
                s->data++;
                s->len--;
            }
        }
        if (!fx_utf8_valid(s->data, s->len))
            return fx_err_set(err, FX_EINVAL, "profile string %zu is not valid UTF-8", i);
    }
    return FX_OK;
}

static int check_sample_types(fx_pprof_t *p, fx_err_t *err)
{
    if (p->nsample_types == 0)
        return fx_err_set(err, FX_EINVAL, "profile has no sample types");
    for (size_t i = 0; i < p->nsample_types; i++) {
        CHECK_STR(p->sample_types[i].type, "sample type");
        CHECK_STR(p->sample_types[i].unit, "sample unit");
        fx_slice_t t = p->strings[p->sample_types[i].type];
        if (t.len == 0)
            return fx_err_set(err, FX_EINVAL, "profile sample type %zu has an empty name", i);
        if (memchr(t.data, '-', t.len))
            return fx_err_set(err, FX_EINVAL, "profile sample type \"%.*s\" contains '-'",
                              (int)t.len, (const char *)t.data);
    }
    if (p->has_period_type) {
        CHECK_STR(p->period_type.type, "period type");
        CHECK_STR(p->period_type.unit, "period unit");
    }
    return FX_OK;
}

static int check_symbols(fx_pprof_t *p, fx_err_t *err)
{
    for (size_t i = 0; i < p->nfunctions; i++) {
        const fx_pprof_function_t *f = &p->functions[i];
        if (f->id == 0)
            return fx_err_set(err, FX_EINVAL, "profile has a function with id 0");
        CHECK_STR(f->name, "function name");
        CHECK_STR(f->system_name, "function system name");
        CHECK_STR(f->filename, "function file name");
    }
    for (size_t i = 0; i < p->nmappings; i++) {
        CHECK_STR(p->mappings[i].filename, "mapping file name");
        CHECK_STR(p->mappings[i].build_id, "mapping build id");
    }
    for (size_t i = 0; i < p->nlocations; i++) {
        const fx_pprof_location_t *l = &p->locations[i];
        if (l->id == 0)
            return fx_err_set(err, FX_EINVAL, "profile has a location with id 0");
        if (l->mapping_id && !fx_pprof_mapping(p, l->mapping_id))
            return fx_err_set(err, FX_EINVAL, "profile location %llu refers to unknown mapping %llu",
                              (unsigned long long)l->id, (unsigned long long)l->mapping_id);
        for (uint32_t j = 0; j < l->nlines; j++)
            if (!fx_pprof_function(p, l->lines[j].function_id))
                return fx_err_set(err, FX_EINVAL,
                                  "profile location %llu refers to unknown function %llu",
                                  (unsigned long long)l->id,
                                  (unsigned long long)l->lines[j].function_id);
    }
    CHECK_STR(p->drop_frames, "drop_frames");
    CHECK_STR(p->keep_frames, "keep_frames");
    CHECK_STR(p->default_sample_type, "default_sample_type");
    for (size_t i = 0; i < p->ncomments; i++)
        CHECK_STR(p->comments[i], "comment");
    return FX_OK;
}

/* Sample i's rules; a too deep stack is cut (in *s) and marks *repaired. */
int fx_pprof_validate_sample(const fx_pprof_t *p, const fx_pprof_limits_t *lim, size_t i,
                             fx_pprof_sample_t *s, int *repaired, fx_err_t *err)
{
    if (s->nvalues != p->nsample_types)
        return fx_err_set(err, FX_EINVAL,
                          "profile sample %zu has %u values but the profile has %zu sample types",
                          i, s->nvalues, p->nsample_types);
    if (lim->max_sample_labels && s->nlabels > lim->max_sample_labels)
        return fx_err_set(err, FX_EINVAL,
                          "profile sample %zu has %u labels, over the limit of %zu "
                          "(max_profile_stacktrace_sample_labels)",
                          i, s->nlabels, lim->max_sample_labels);
    for (uint32_t j = 0; j < s->nlabels; j++) {
        CHECK_STR(s->labels[j].key, "sample label key");
        CHECK_STR(s->labels[j].str, "sample label value");
        CHECK_STR(s->labels[j].num_unit, "sample label unit");
    }
    /* Ids 1..n (the usual case) need only a range check per frame. */
    uint32_t j = 0;
    if (p->loc_index.dense) {
        uint64_t n = p->nlocations;
        while (j < s->nlocs && s->locs[j] - 1 < n)
            j++;
    } else {
        while (j < s->nlocs && fx_pprof_location(p, s->locs[j]))
            j++;
    }
    if (j < s->nlocs)
        return fx_err_set(err, FX_EINVAL, "profile sample %zu refers to unknown location %llu", i,
                          (unsigned long long)s->locs[j]);
    if (lim->max_depth && s->nlocs > lim->max_depth) {
        /* Leaf first: dropping the first frames keeps the root side. */
        s->locs += s->nlocs - lim->max_depth;
        s->nlocs = (uint32_t)lim->max_depth;
        *repaired = 1;
    }
    return FX_OK;
}

static int check_time(fx_pprof_t *p, const fx_pprof_limits_t *lim, int64_t now_ns, int *repaired,
                      fx_err_t *err)
{
    if (p->time_nanos == 0) {
        p->time_nanos = now_ns;
        *repaired = 1;
    } else if (lim->reject_older_than_ns && p->time_nanos < now_ns - lim->reject_older_than_ns) {
        return fx_err_set(err, FX_EINVAL,
                          "profile timestamp is %lld s in the past, older than the limit of %lld s "
                          "(reject_older_than)",
                          (long long)((now_ns - p->time_nanos) / 1000000000),
                          (long long)(lim->reject_older_than_ns / 1000000000));
    } else if (lim->reject_newer_than_ns && p->time_nanos > now_ns + lim->reject_newer_than_ns) {
        return fx_err_set(err, FX_EINVAL,
                          "profile timestamp is %lld s in the future, beyond the limit of %lld s "
                          "(reject_newer_than)",
                          (long long)((p->time_nanos - now_ns) / 1000000000),
                          (long long)(lim->reject_newer_than_ns / 1000000000));
    }
    return FX_OK;
}

static int check_sample_count(const fx_pprof_t *p, const fx_pprof_limits_t *lim, fx_err_t *err)
{
    if (lim->max_samples && p->nsamples > lim->max_samples)
        return fx_err_set(err, FX_EINVAL,
                          "profile has %zu samples, over the limit of %zu (max_profile_stacktrace_samples)",
                          p->nsamples, lim->max_samples);
    return FX_OK;
}

int fx_pprof_validate(fx_pprof_t *p, const fx_pprof_limits_t *lim, int64_t now_ns, int *repaired,
                      fx_err_t *err)
{
    int rc;
    *repaired = 0;
    if ((rc = check_strings(p, lim, repaired, err)) < 0 ||
        (rc = check_sample_types(p, err)) < 0 || (rc = check_symbols(p, err)) < 0 ||
        (rc = check_sample_count(p, lim, err)) < 0)
        return rc;
    for (size_t i = 0; i < p->nsamples; i++)
        if ((rc = fx_pprof_validate_sample(p, lim, i, &p->samples[i], repaired, err)) < 0)
            return rc;
    return check_time(p, lim, now_ns, repaired, err);
}

int fx_pprof_validate_tables(fx_pprof_t *p, const fx_pprof_limits_t *lim, int64_t now_ns,
                             int *repaired, fx_err_t *err)
{
    int rc;
    *repaired = 0;
    if ((rc = check_strings(p, lim, repaired, err)) < 0 ||
        (rc = check_sample_types(p, err)) < 0 || (rc = check_symbols(p, err)) < 0 ||
        (rc = check_sample_count(p, lim, err)) < 0)
        return rc;
    return check_time(p, lim, now_ns, repaired, err);
}
