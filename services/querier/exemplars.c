/*
 * exemplars.c - queries over individual profiles rather than their sums:
 * exemplars on SelectSeries points and SelectHeatmap.
 *
 * Both need every selected profile's value, time, id and series labels.
 * The stores list them with SelectProfileKeys (key_values set): the same
 * key listing the replica deduplication uses, so a profile that several
 * replicas, blocks or store groups hold is recognised by its key
 * (fingerprint, time, id) and counted once, without a second phase. The
 * querier then picks exemplars and fills heatmap cells itself. Span
 * heatmaps ask for each profile's per-span totals too (key_spans) and count
 * each (profile, span) once; exemplars ask only for each series' top few
 * per step (top_k).
 */
#include "querier.h"
#include "core/hash.h"
#include "core/mem.h"
#include "model/heatmap.h"
#include "model/profile_id.h"
#include "storage/head.h"

#include <stdlib.h>
#include <string.h>

/* --- the individual profiles of a select ------------------------------------------- */

typedef struct prof {
    int64_t time_ns;
    int64_t value;
    uint8_t id[16];
    uint32_t set;  /* its series' labels: profs_t.sets[set] */
    int has_span;  /* a span of the profile rather than all of it */
    uint64_t span;
    uint64_t fp;   /* series fingerprint (span entries: to tell copies apart) */
} prof_t;

typedef struct labelset {
    Types__V1__LabelPair **v; /* in the query's arena */
    size_t n;
} labelset_t;

typedef struct profs {
    prof_t *v;
    size_t n, cap;
    prof_t *sp; /* with spans: one entry per span of a profile */
    size_t nsp, capsp;
    labelset_t *sets;
    size_t nsets, capsets;
} profs_t;

static void profs_free(profs_t *p)
{
    free(p->v);
    free(p->sp);
    free(p->sets);
}

/* The label set index of series labels l (fingerprint fp) in p, added
 * (copied into a) when new. */
static uint32_t set_of(profs_t *p, fx_map64_t *by_fp, uint64_t fp, const Types__V1__Labels *l,
                       fx_arena_t *a)
{
    int inserted;
    uint64_t *slot = fx_map64_put(by_fp, fp == FX_MAP64_EMPTY ? 0 : fp, &inserted);
    if (!inserted) {
        const labelset_t *s = &p->sets[*slot];
        if (qr_pairs_cmp(s->v, s->n, l->labels, l->n_labels) == 0)
            return (uint32_t)*slot;
        /* A fingerprint collision: an exact search. */
        for (size_t i = 0; i < p->nsets; i++)
            if (qr_pairs_cmp(p->sets[i].v, p->sets[i].n, l->labels, l->n_labels) == 0)
                return (uint32_t)i;
    }
    FX_GROW(p->sets, p->capsets, p->nsets + 1);
    p->sets[p->nsets] = (labelset_t){qr_pairs_copy(l->labels, l->n_labels, a), l->n_labels};
    if (inserted)
        *slot = p->nsets;
    return (uint32_t)p->nsets++;
}

static int cmp_span_entry(const void *a, const void *b)
{
    const prof_t *x = a, *y = b;
    if (x->time_ns != y->time_ns)
        return x->time_ns < y->time_ns ? -1 : 1;
    if (x->fp != y->fp)
        return x->fp < y->fp ? -1 : 1;
    int c = memcmp(x->id, y->id, 16);
    if (c)
        return c;
    return (x->span > y->span) - (x->span < y->span);
}

/* Adds the span entries of answer k to out->sp; each names its series by
 * fingerprint (the set the same fingerprint's profiles have). */
static int collect_spans(const Ingester__V1__ProfileKeys *k, const fx_map64_t *by_fp,
                         profs_t *out)
{
    size_t n = k->n_span_fingerprints;
    if (k->n_span_time_ns != n || k->n_span_ids != n || k->n_span_values != n ||
        k->span_profile_ids.len != n * 16)
        return FX_EINTERNAL;
    for (size_t j = 0; j < n; j++) {
        uint64_t fp = k->span_fingerprints[j];
        const uint64_t *set = fx_map64_get(by_fp, fp == FX_MAP64_EMPTY ? 0 : fp);
        if (!set)
            return FX_EINTERNAL; /* a span of a profile the answer did not list */
        FX_GROW(out->sp, out->capsp, out->nsp + 1);
        prof_t *p = &out->sp[out->nsp++];
        p->time_ns = k->span_time_ns[j];
        p->value = k->span_values[j];
        memcpy(p->id, k->span_profile_ids.data + 16 * j, 16);
        p->set = (uint32_t)*set;
        p->has_span = 1;
        p->span = k->span_ids[j];
        p->fp = fp;
    }
    return FX_OK;
}

/* Every profile s selects, once each, with its value and series labels;
 * with spans also every span of them (out->sp), once each. top_k > 0: only
 * the top_k highest-value profiles of each series per align_ms step. */
static int collect(qr_t *q, const char *tenant, const qr_select_t *s, int64_t align_ms,
                   int spans, uint32_t top_k, fx_arena_t *a, profs_t *out, fx_err_t *err)
{
    Ingester__V1__SelectRequest r;
    qr_results_t res = {0};
    fx_head_keyset_t seen;
    fx_map64_t by_fp;
    int rc;

    memset(out, 0, sizeof *out);
    if (s->empty)
        return FX_OK;
    qr_select_request(s, 0, &r);
    r.key_values = 1;
    r.key_spans = spans;
    /* Exemplars need only each series' top few per step (see the proto). */
    r.top_k = top_k;
    r.top_step_ms = top_k ? align_ms : 0;
    if ((rc = qr_fanout_keys(q, tenant, &r, align_ms, &res, err)) < 0)
        goto out;
    fx_head_keyset_init(&seen);
    fx_map64_init(&by_fp);
    for (size_t i = 0; i < res.n; i++) {
        const Ingester__V1__ProfileKeys *k = (const Ingester__V1__ProfileKeys *)res.v[i].resp;
        size_t n = k->n_fingerprints;
        if (k->n_time_ns != n || k->ids.len != n * 16 || k->n_values != n || k->n_series != n) {
            rc = fx_err_set(err, FX_EINTERNAL, "store %s answered a malformed profile list",
                            res.v[i].addr);
            break;
        }
        for (size_t j = 0; j < n; j++) {
            fx_head_profile_key_t key = {k->fingerprints[j], k->time_ns[j], {0}};
            memcpy(key.id, k->ids.data + 16 * j, 16);
            if (k->series[j] >= k->n_series_labels) {
                rc = fx_err_set(err, FX_EINTERNAL, "store %s answered a malformed profile list",
                                res.v[i].addr);
                break;
            }
            if (fx_head_keyset_has(&seen, &key))
                continue; /* a replica's copy */
            fx_head_keyset_add(&seen, &key);
            FX_GROW(out->v, out->cap, out->n + 1);
            prof_t *p = &out->v[out->n++];
            p->time_ns = key.time_ns;
            p->value = k->values[j];
            memcpy(p->id, key.id, 16);
            p->set = set_of(out, &by_fp, key.fingerprint, k->series_labels[k->series[j]], a);
            p->has_span = 0;
            p->span = 0;
            p->fp = key.fingerprint;
        }
        if (rc < 0)
            break;
        if (spans && collect_spans(k, &by_fp, out) < 0) {
            rc = fx_err_set(err, FX_EINTERNAL, "store %s answered a malformed span list",
                            res.v[i].addr);
            break;
        }
    }
    /* Replicas list the same spans: keep one of each (profile, span). */
    if (rc == FX_OK && out->nsp > 1) {
        qsort(out->sp, out->nsp, sizeof *out->sp, cmp_span_entry);
        size_t u = 1;
        for (size_t i = 1; i < out->nsp; i++)
            if (cmp_span_entry(&out->sp[u - 1], &out->sp[i]) != 0)
                out->sp[u++] = out->sp[i];
        out->nsp = u;
    }
    fx_map64_free(&by_fp);
    fx_head_keyset_free(&seen);
out:
    qr_results_free(&res);
    if (rc < 0) {
        profs_free(out);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

/* The labels of set restricted to the group_by names (a series lacking a
 * name omits it; no names: no labels), pointing into the set. */
static labelset_t group_of(const labelset_t *set, char **by, size_t nby, fx_arena_t *a)
{
    labelset_t g = {fx_arena_alloc(a, (set->n + 1) * sizeof *g.v), 0};
    for (size_t i = 0; i < set->n; i++)
        for (size_t j = 0; j < nby; j++)
            if (strcmp(set->v[i]->name, by[j]) == 0) {
                g.v[g.n++] = set->v[i];
                break;
            }
    return g;
}

typedef struct gref {
    labelset_t g;
    uint32_t set;
} gref_t;

static int cmp_gref(const void *a, const void *b)
{
    const gref_t *x = a, *y = b;
    return qr_pairs_cmp(x->g.v, x->g.n, y->g.v, y->g.n);
}

/* The group of every label set of ps (group_of_set[i]) and the distinct
 * groups, sorted by labels (*groups, heap; returns how many). Sorting
 * rather than comparing every set with every group: group_by on a label
 * with thousands of values stays n log n. */
static size_t group_sets(const profs_t *ps, char **by, size_t nby, fx_arena_t *a,
                         uint32_t *group_of_set, labelset_t **groups)
{
    gref_t *r = fx_malloc((ps->nsets + 1) * sizeof *r);
    for (size_t i = 0; i < ps->nsets; i++)
        r[i] = (gref_t){group_of(&ps->sets[i], by, nby, a), (uint32_t)i};
    if (ps->nsets > 1)
        qsort(r, ps->nsets, sizeof *r, cmp_gref);
    *groups = fx_malloc((ps->nsets + 1) * sizeof **groups);
    size_t ng = 0;
    for (size_t i = 0; i < ps->nsets; i++) {
        if (i == 0 || cmp_gref(&r[i - 1], &r[i]) != 0)
            (*groups)[ng++] = r[i].g;
        group_of_set[r[i].set] = (uint32_t)(ng - 1);
    }
    free(r);
    return ng;
}

/* Answer series in label order, with their positions. */
typedef struct sref {
    const Types__V1__Series *s;
    uint32_t at;
} sref_t;

static int cmp_sref(const void *a, const void *b)
{
    const Types__V1__Series *x = ((const sref_t *)a)->s, *y = ((const sref_t *)b)->s;
    return qr_pairs_cmp(x->labels, x->n_labels, y->labels, y->n_labels);
}

static int64_t time_ms(int64_t ns)
{
    int64_t q = ns / 1000000;
    return (ns % 1000000 != 0 && ns < 0) ? q - 1 : q;
}

/* An exemplar names its profile's series by its public labels: those
 * starting with "__" are Fornax's and Pyroscope's own (profile type parts,
 * __service_name__). */
static Types__V1__Exemplar *exemplar(const prof_t *p, const labelset_t *set, fx_arena_t *a)
{
    Types__V1__Exemplar *e = fx_arena_alloc(a, sizeof *e);
    types__v1__exemplar__init(e);
    e->timestamp = time_ms(p->time_ns);
    e->profile_id = fx_arena_alloc(a, FX_PROFILE_ID_LEN + 1);
    fx_profile_id_format(p->id, e->profile_id);
    if (p->has_span)
        e->span_id = fx_arena_printf(a, "%016llx", (unsigned long long)p->span);
    e->value = p->value;
    e->labels = fx_arena_alloc(a, (set->n + 1) * sizeof *e->labels);
    for (size_t i = 0; i < set->n; i++)
        if (strncmp(set->v[i]->name, "__", 2) != 0)
            e->labels[e->n_labels++] = set->v[i];
    return e;
}

/* Candidate order within a cell: highest value first, then earliest, then
 * by id and span, so answers do not depend on which replica answered first. */
typedef struct cand {
    uint32_t series;  /* answer series (or heatmap group) */
    uint32_t bucket;  /* heatmap bucket; 0 for points */
    int64_t slot;
    const prof_t *p;
} cand_t;

static int cmp_cand(const void *a, const void *b)
{
    const cand_t *x = a, *y = b;
    if (x->series != y->series)
        return x->series < y->series ? -1 : 1;
    if (x->slot != y->slot)
        return x->slot < y->slot ? -1 : 1;
    if (x->bucket != y->bucket)
        return x->bucket < y->bucket ? -1 : 1;
    if (x->p->value != y->p->value)
        return x->p->value > y->p->value ? -1 : 1;
    if (x->p->time_ns != y->p->time_ns)
        return x->p->time_ns < y->p->time_ns ? -1 : 1;
    int c = memcmp(x->p->id, y->p->id, 16);
    if (c)
        return c;
    return (x->p->span > y->p->span) - (x->p->span < y->p->span);
}

/* --- exemplars on SelectSeries ------------------------------------------------------ */

/* The point of series at time ts, or NULL. */
static Types__V1__Point *point_at(const Types__V1__Series *s, int64_t ts)
{
    size_t lo = 0, hi = s->n_points;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->points[mid]->timestamp < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n_points && s->points[lo]->timestamp == ts ? s->points[lo] : NULL;
}

int qr_attach_exemplars(qr_t *q, const char *tenant, const qr_select_t *s, char **group_by,
                        size_t ngroup_by, int64_t step_ms, fx_arena_t *a,
                        Querier__V1__SelectSeriesResponse *resp, fx_err_t *err)
{
    profs_t ps;
    int rc;
    if (resp->n_series == 0)
        return FX_OK;
    if ((rc = collect(q, tenant, s, step_ms, 0, QR_EXEMPLARS_PER_POINT, a, &ps, err)) < 0)
        return rc;
    /* Each label set's answer series (UINT32_MAX: cut by the limit). */
    uint32_t *series_of = fx_malloc((ps.nsets + 1) * sizeof *series_of);
    labelset_t *groups = NULL;
    size_t ng = group_sets(&ps, group_by, ngroup_by, a, series_of, &groups);
    sref_t *sorted = fx_malloc((resp->n_series + 1) * sizeof *sorted);
    for (size_t i = 0; i < resp->n_series; i++)
        sorted[i] = (sref_t){resp->series[i], (uint32_t)i};
    qsort(sorted, resp->n_series, sizeof *sorted, cmp_sref);
    uint32_t *series_of_group = fx_malloc((ng + 1) * sizeof *series_of_group);
    for (size_t i = 0; i < ng; i++) {
        Types__V1__Series key = TYPES__V1__SERIES__INIT;
        key.labels = groups[i].v;
        key.n_labels = groups[i].n;
        sref_t k = {&key, 0};
        const sref_t *hit = bsearch(&k, sorted, resp->n_series, sizeof *sorted, cmp_sref);
        series_of_group[i] = hit ? hit->at : UINT32_MAX;
    }
    for (size_t i = 0; i < ps.nsets; i++)
        series_of[i] = series_of_group[series_of[i]];
    free(series_of_group);
    free(sorted);
    free(groups);
    cand_t *c = fx_malloc((ps.n + 1) * sizeof *c);
    size_t nc = 0;
    for (size_t i = 0; i < ps.n; i++)
        if (series_of[ps.v[i].set] != UINT32_MAX)
            c[nc++] = (cand_t){series_of[ps.v[i].set], 0,
                               fx_heatmap_slot(time_ms(ps.v[i].time_ns), s->start_ms, step_ms),
                               &ps.v[i]};
    if (nc > 1)
        qsort(c, nc, sizeof *c, cmp_cand);
    for (size_t i = 0; i < nc;) {
        size_t j = i;
        while (j < nc && c[j].series == c[i].series && c[j].slot == c[i].slot)
            j++;
        Types__V1__Point *pt = point_at(resp->series[c[i].series],
                                         fx_heatmap_slot_time(s->start_ms, c[i].slot, step_ms));
        if (pt) {
            size_t n = j - i < QR_EXEMPLARS_PER_POINT ? j - i : QR_EXEMPLARS_PER_POINT;
            pt->exemplars = fx_arena_alloc(a, (n + 1) * sizeof *pt->exemplars);
            pt->n_exemplars = n;
            for (size_t k = 0; k < n; k++)
                pt->exemplars[k] = exemplar(c[i + k].p, &ps.sets[c[i + k].p->set], a);
        }
        i = j;
    }
    free(c);
    free(series_of);
    profs_free(&ps);
    return FX_OK;
}

/* --- SelectHeatmap ------------------------------------------------------------------- */

typedef struct hgroup {
    labelset_t labels;
    int64_t lo, hi;
    double total;
    fx_heatmap_scale_t scale;
    Types__V1__HeatmapSeries *out;
} hgroup_t;

static int cmp_hseries_labels(const void *a, const void *b)
{
    const Types__V1__HeatmapSeries *x = *(Types__V1__HeatmapSeries *const *)a;
    const Types__V1__HeatmapSeries *y = *(Types__V1__HeatmapSeries *const *)b;
    return qr_pairs_cmp(x->labels, x->n_labels, y->labels, y->n_labels);
}

typedef struct ranked {
    Types__V1__HeatmapSeries *s;
    double total;
} ranked_t;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked_t *x = a, *y = b;
    if (x->total != y->total)
        return x->total > y->total ? -1 : 1;
    return cmp_hseries_labels(&x->s, &y->s);
}

/* One slot of group g from its candidates c[0..n) (one slot, sorted). */
static Types__V1__HeatmapSlot *make_slot(const hgroup_t *g, const cand_t *c, size_t n,
                                         int64_t ts, int exemplars, const profs_t *ps,
                                         fx_arena_t *a)
{
    Types__V1__HeatmapSlot *sl = fx_arena_alloc(a, sizeof *sl);
    types__v1__heatmap_slot__init(sl);
    sl->timestamp = ts;
    sl->n_y_min = sl->n_counts = g->scale.n;
    sl->y_min = fx_arena_alloc(a, g->scale.n * sizeof *sl->y_min);
    sl->counts = fx_arena_calloc(a, g->scale.n * sizeof *sl->counts);
    memcpy(sl->y_min, g->scale.edge, g->scale.n * sizeof *sl->y_min);
    if (exemplars)
        sl->exemplars = fx_arena_alloc(a, (g->scale.n + 1) * sizeof *sl->exemplars);
    for (size_t i = 0; i < n; i++) {
        sl->counts[c[i].bucket]++;
        /* The first candidate of a bucket is its highest-value profile. */
        if (exemplars && (i == 0 || c[i - 1].bucket != c[i].bucket))
            sl->exemplars[sl->n_exemplars++] = exemplar(c[i].p, &ps->sets[c[i].p->set], a);
    }
    return sl;
}

int qr_select_heatmap(qr_t *q, const char *tenant, const qr_select_t *s, char **group_by,
                      size_t ngroup_by, int64_t step_ms, int spans, int64_t limit, int exemplars,
                      fx_arena_t *a, Querier__V1__SelectHeatmapResponse **out, fx_err_t *err)
{
    profs_t ps;
    int rc;
    Querier__V1__SelectHeatmapResponse *resp = fx_arena_alloc(a, sizeof *resp);
    querier__v1__select_heatmap_response__init(resp);
    *out = resp;
    if ((rc = collect(q, tenant, s, step_ms, spans, 0, a, &ps, err)) < 0)
        return rc;
    if (spans) {
        /* The cells count spans: the span entries take the profiles' place. */
        prof_t *t = ps.v;
        ps.v = ps.sp;
        ps.n = ps.nsp;
        ps.sp = t;
    }
    if (ps.n == 0)
        goto done;
    /* Groups of label sets, and each profile's group. */
    uint32_t *group_of_set = fx_malloc((ps.nsets + 1) * sizeof *group_of_set);
    labelset_t *groups = NULL;
    size_t ng = group_sets(&ps, group_by, ngroup_by, a, group_of_set, &groups);
    hgroup_t *g = fx_calloc(ng + 1, sizeof *g);
    for (size_t i = 0; i < ng; i++) {
        g[i].labels = groups[i];
        g[i].lo = INT64_MAX;
        g[i].hi = INT64_MIN;
    }
    free(groups);
    for (size_t i = 0; i < ps.n; i++) {
        hgroup_t *h = &g[group_of_set[ps.v[i].set]];
        h->lo = FX_MIN(h->lo, ps.v[i].value);
        h->hi = FX_MAX(h->hi, ps.v[i].value);
        h->total += (double)ps.v[i].value;
    }
    for (size_t i = 0; i < ng; i++)
        fx_heatmap_scale(g[i].lo, g[i].hi, &g[i].scale);
    cand_t *c = fx_malloc(ps.n * sizeof *c);
    for (size_t i = 0; i < ps.n; i++) {
        uint32_t gi = group_of_set[ps.v[i].set];
        c[i] = (cand_t){gi, (uint32_t)fx_heatmap_bucket(&g[gi].scale, ps.v[i].value),
                        fx_heatmap_slot(time_ms(ps.v[i].time_ns), s->start_ms, step_ms), &ps.v[i]};
    }
    if (ps.n > 1)
        qsort(c, ps.n, sizeof *c, cmp_cand);
    resp->series = fx_arena_alloc(a, (ng + 1) * sizeof *resp->series);
    for (size_t i = 0; i < ng; i++) {
        Types__V1__HeatmapSeries *hs = fx_arena_alloc(a, sizeof *hs);
        types__v1__heatmap_series__init(hs);
        hs->labels = g[i].labels.v;
        hs->n_labels = g[i].labels.n;
        g[i].out = hs;
        resp->series[resp->n_series++] = hs;
    }
    /* Candidates are sorted by (group, slot): count the slots, then fill. */
    for (size_t i = 0; i < ps.n;) {
        size_t j = i, nslots = 0;
        while (j < ps.n && c[j].series == c[i].series) {
            if (j == i || c[j].slot != c[j - 1].slot)
                nslots++;
            j++;
        }
        hgroup_t *h = &g[c[i].series];
        h->out->slots = fx_arena_alloc(a, (nslots + 1) * sizeof *h->out->slots);
        for (size_t k = i; k < j;) {
            size_t e = k;
            while (e < j && c[e].slot == c[k].slot)
                e++;
            h->out->slots[h->out->n_slots++] =
                make_slot(h, &c[k], e - k, fx_heatmap_slot_time(s->start_ms, c[k].slot, step_ms),
                          exemplars, &ps, a);
            k = e;
        }
        i = j;
    }
    if (limit > 0 && (size_t)limit < resp->n_series) {
        ranked_t *r = fx_malloc(ng * sizeof *r);
        for (size_t i = 0; i < ng; i++)
            r[i] = (ranked_t){g[i].out, g[i].total};
        qsort(r, ng, sizeof *r, cmp_ranked);
        for (size_t i = 0; i < (size_t)limit; i++)
            resp->series[i] = r[i].s;
        resp->n_series = (size_t)limit;
        free(r);
    } /* else: in label order already, as the groups are */
    free(c);
    free(group_of_set);
    free(g);
done:
    profs_free(&ps);
    return FX_OK;
}
