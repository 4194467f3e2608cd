/*
 * metrics.c - the metrics registry: registration, series lookup, and the
 * lock-free updates of counters, gauges and histograms.
 *
 * Values are atomics. Doubles are kept as their bit patterns in a uint64 and
 * updated with compare-and-swap; counters keep whole increments in a plain
 * atomic integer (one fetch_add, the common case) and fractional ones apart,
 * as the Go client does.
 */
#include "metrics/metrics_int.h"
#include "core/core.h"
#include "core/hash.h"
#include "core/mem.h"
#include "core/utf8.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABELS 16

const double fx_metrics_default_buckets[11] = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};

/* --- doubles in atomics ----------------------------------------------------------- */

static inline double bits_to_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static inline uint64_t double_to_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static void atomic_add_double(_Atomic uint64_t *p, double v)
{
    uint64_t old = atomic_load_explicit(p, memory_order_relaxed), new;
    do {
        new = double_to_bits(bits_to_double(old) + v);
    } while (!atomic_compare_exchange_weak_explicit(p, &old, new, memory_order_relaxed,
                                                    memory_order_relaxed));
}

static double load_double(const _Atomic uint64_t *p)
{
    return bits_to_double(atomic_load_explicit((_Atomic uint64_t *)p, memory_order_relaxed));
}

/* --- names ------------------------------------------------------------------------- */

static int valid_name(const char *s, int metric)
{
    if (!s || !*s)
        return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (metric && c == ':') || (p > s && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

/* Splits "a,b" into label names, checking each. Returns the count. */
static size_t parse_labels(const char *csv, char ***out, int histogram)
{
    size_t n = 0;
    char **names = NULL;

    *out = NULL;
    if (!csv || !*csv)
        return 0;
    names = fx_calloc(MAX_LABELS, sizeof *names);
    for (const char *p = csv;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        FX_ASSERT(n < MAX_LABELS);
        names[n] = fx_strndup(p, len);
        if (!valid_name(names[n], 0) || strncmp(names[n], "__", 2) == 0 ||
            (histogram && strcmp(names[n], "le") == 0) || strcmp(names[n], "quantile") == 0)
            FX_PANIC("invalid metric label name");
        for (size_t i = 0; i < n; i++)
            if (strcmp(names[i], names[n]) == 0)
                FX_PANIC("duplicate metric label name");
        n++;
        if (!e)
            break;
        p = e + 1;
    }
    *out = names;
    return n;
}

/* --- UTF-8 ------------------------------------------------------------------------ */

/* A heap copy of s with each invalid byte replaced by U+FFFD: the text
 * format requires UTF-8 label values. */
static char *utf8_fix(const char *s)
{
    size_t n = strlen(s);
    char *o = fx_malloc(n * 3 + 1), *q = o;
    const uint8_t *p = (const uint8_t *)s, *end = p + n;
    while (p < end) {
        size_t l = fx_utf8_len(p, (size_t)(end - p));
        if (l) {
            memcpy(q, p, l);
            q += l;
            p += l;
        } else {
            memcpy(q, "\xef\xbf\xbd", 3);
            q += 3;
            p++;
        }
    }
    *q = 0;
    return o;
}

/* --- families ------------------------------------------------------------------------ */

static int same_labels(const fx_family_t *f, char **labels, size_t n)
{
    if (f->nlabels != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(f->labels[i], labels[i]) != 0)
            return 0;
    return 1;
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static fx_series_t *series_get(fx_family_t *f, const char *const *values);

/* Finds the family called name or creates it; a registration that
 * conflicts with the existing one is a bug. */
static fx_family_t *family(fx_registry_t *r, const char *name, const char *help,
                           enum fx_metric_type type, const char *labels_csv,
                           const double *bounds, size_t nbounds, fx_metric_fn fn, void *ctx)
{
    char **labels;
    size_t nlabels;
    fx_family_t *f = NULL;

    if (!valid_name(name, 1))
        FX_PANIC("invalid metric name");
    nlabels = parse_labels(labels_csv, &labels, type == FX_METRIC_HISTOGRAM);
    if (type == FX_METRIC_HISTOGRAM) {
        if (!bounds) {
            bounds = fx_metrics_default_buckets;
            nbounds = FX_ARRAY_LEN(fx_metrics_default_buckets);
        }
        for (size_t i = 0; i < nbounds; i++)
            FX_ASSERT(isfinite(bounds[i]) && (i == 0 || bounds[i] > bounds[i - 1]));
    }

    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->n; i++) {
        fx_family_t *g = r->fams[i];
        if (strcmp(g->name, name) != 0)
            continue;
        if (g->type != type || !same_labels(g, labels, nlabels) || g->fn || fn ||
            g->nbounds != nbounds ||
            (nbounds && memcmp(g->bounds, bounds, nbounds * sizeof *bounds) != 0))
            FX_PANIC("metric registered twice with different definitions");
        f = g;
        break;
    }
    if (!f) {
        f = fx_calloc(1, sizeof *f);
        f->name = fx_strdup(name);
        f->help = fx_strdup(help ? help : "");
        f->type = type;
        f->nlabels = nlabels;
        f->labels = labels;
        labels = NULL;
        if (nbounds) {
            f->bounds = fx_malloc(nbounds * sizeof *bounds);
            memcpy(f->bounds, bounds, nbounds * sizeof *bounds);
            f->nbounds = nbounds;
        }
        f->fn = fn;
        f->ctx = ctx;
        pthread_rwlock_init(&f->lock, NULL);
        FX_GROW(r->fams, r->cap, r->n + 1);
        r->fams[r->n++] = f;
    }
    pthread_mutex_unlock(&r->lock);
    free_strings(labels, nlabels);
    return f;
}

static void family_free(fx_family_t *f)
{
    for (size_t i = 0; i < f->cap; i++) {
        fx_series_t *s = f->table[i], *next;
        for (; s; s = next) {
            next = s->next;
            free_strings(s->values, f->nlabels);
            free(s->buckets);
            free(s);
        }
    }
    free(f->table);
    free_strings(f->labels, f->nlabels);
    free(f->bounds);
    free(f->name);
    free(f->help);
    pthread_rwlock_destroy(&f->lock);
    free(f);
}

/* --- series -------------------------------------------------------------------------- */

static uint64_t values_hash(const char *const *values, size_t n)
{
    uint64_t h = 0x6a09e667f3bcc908ULL;
    for (size_t i = 0; i < n; i++)
        h = fx_mix64(fx_hash64(values[i], strlen(values[i]), h) + i);
    return h;
}

static fx_series_t *find(const fx_family_t *f, const char *const *values, uint64_t h)
{
    if (!f->cap)
        return NULL;
    for (fx_series_t *s = f->table[h & (f->cap - 1)]; s; s = s->next) {
        if (s->hash != h)
            continue;
        size_t i = 0;
        while (i < f->nlabels && strcmp(s->values[i], values[i]) == 0)
            i++;
        if (i == f->nlabels)
            return s;
    }
    return NULL;
}

static void insert(fx_family_t *f, fx_series_t *s)
{
    if (f->len + 1 > f->cap / 2) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        fx_series_t **t = fx_calloc(cap, sizeof *t);
        for (size_t i = 0; i < f->cap; i++) {
            fx_series_t *e = f->table[i], *next;
            for (; e; e = next) {
                next = e->next;
                e->next = t[e->hash & (cap - 1)];
                t[e->hash & (cap - 1)] = e;
            }
        }
        free(f->table);
        f->table = t;
        f->cap = cap;
    }
    s->next = f->table[s->hash & (f->cap - 1)];
    f->table[s->hash & (f->cap - 1)] = s;
    f->len++;
}

/* The series for values (f->nlabels of them), created on first use. */
static fx_series_t *series_get(fx_family_t *f, const char *const *values)
{
    const char *fixed_vals[MAX_LABELS];
    char *fixed[MAX_LABELS] = {0};
    fx_series_t *s;

    for (size_t i = 0; i < f->nlabels; i++) {
        FX_ASSERT(values[i] != NULL);
        fixed_vals[i] = values[i];
        if (!fx_utf8_valid((const uint8_t *)values[i], strlen(values[i])))
            fixed_vals[i] = fixed[i] = utf8_fix(values[i]);
    }
    uint64_t h = values_hash(fixed_vals, f->nlabels);

    pthread_rwlock_rdlock(&f->lock);
    s = find(f, fixed_vals, h);
    pthread_rwlock_unlock(&f->lock);
    if (s)
        goto out;

    pthread_rwlock_wrlock(&f->lock);
    s = find(f, fixed_vals, h); /* another thread may have won */
    if (!s) {
        s = fx_calloc(1, sizeof *s);
        s->hash = h;
        s->fam = f;
        s->values = fx_calloc(f->nlabels ? f->nlabels : 1, sizeof *s->values);
        for (size_t i = 0; i < f->nlabels; i++)
            s->values[i] = fx_strdup(fixed_vals[i]);
        if (f->type == FX_METRIC_HISTOGRAM)
            s->buckets = fx_calloc(f->nbounds + 1, sizeof *s->buckets);
        insert(f, s);
    }
    pthread_rwlock_unlock(&f->lock);
out:
    for (size_t i = 0; i < f->nlabels; i++)
        free(fixed[i]);
    return s;
}

static fx_series_t *series_getva(fx_family_t *f, va_list ap)
{
    const char *values[MAX_LABELS];
    for (size_t i = 0; i < f->nlabels; i++)
        values[i] = va_arg(ap, const char *);
    return series_get(f, values);
}

static int cmp_series(const void *a, const void *b, void *nlabels)
{
    const fx_series_t *x = *(fx_series_t *const *)a, *y = *(fx_series_t *const *)b;
    for (size_t i = 0; i < *(size_t *)nlabels; i++) {
        int c = strcmp(x->values[i], y->values[i]);
        if (c)
            return c;
    }
    return 0;
}

fx_series_t **fx__metrics_series(fx_family_t *f, size_t *n)
{
    pthread_rwlock_rdlock(&f->lock);
    fx_series_t **v = fx_malloc((f->len ? f->len : 1) * sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < f->cap; i++)
        for (fx_series_t *s = f->table[i]; s; s = s->next)
            v[k++] = s;
    pthread_rwlock_unlock(&f->lock);
    qsort_r(v, k, sizeof *v, cmp_series, &f->nlabels);
    *n = k;
    return v;
}

/* --- registries ------------------------------------------------------------------------ */

fx_registry_t *fx_registry_new(void)
{
    fx_registry_t *r = fx_calloc(1, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

void fx_registry_free(fx_registry_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        family_free(r->fams[i]);
    free(r->fams);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

static fx_registry_t *default_registry;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void default_init(void)
{
    default_registry = fx_registry_new();
    fx_metrics_register_process(default_registry);
}

fx_registry_t *fx_metrics_default(void)
{
    pthread_once(&default_once, default_init);
    return default_registry;
}

/* --- counters ------------------------------------------------------------------------- */

fx_counter_t *fx_counter(fx_registry_t *r, const char *name, const char *help)
{
    fx_family_t *f = family(r, name, help, FX_METRIC_COUNTER, NULL, NULL, 0, NULL, NULL);
    return (fx_counter_t *)series_get(f, NULL);
}

void fx_counter_inc(fx_counter_t *c)
{
    atomic_fetch_add_explicit(&c->s.a, 1, memory_order_relaxed);
}

void fx_counter_add_u64(fx_counter_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(&c->s.a, n, memory_order_relaxed);
}

void fx_counter_add(fx_counter_t *c, double v)
{
    FX_ASSERT(v >= 0); /* also refuses NaN */
    if (v < 9007199254740992.0 && v == (double)(uint64_t)v)
        atomic_fetch_add_explicit(&c->s.a, (uint64_t)v, memory_order_relaxed);
    else
        atomic_add_double(&c->s.b, v);
}

double fx_counter_value(const fx_counter_t *c)
{
    uint64_t n = atomic_load_explicit((_Atomic uint64_t *)&c->s.a, memory_order_relaxed);
    return (double)n + load_double(&c->s.b);
}

fx_counter_vec_t *fx_counter_vec(fx_registry_t *r, const char *name, const char *help,
                                 const char *labels)
{
    return (fx_counter_vec_t *)family(r, name, help, FX_METRIC_COUNTER, labels, NULL, 0, NULL,
                                      NULL);
}

fx_counter_t *fx_counter_vec_getv(fx_counter_vec_t *v, const char *const *values)
{
    return (fx_counter_t *)series_get(&v->f, values);
}

fx_counter_t *fx_counter_vec_get(fx_counter_vec_t *v, ...)
{
    va_list ap;
    va_start(ap, v);
    fx_series_t *s = series_getva(&v->f, ap);
    va_end(ap);
    return (fx_counter_t *)s;
}

void fx_counter_func(fx_registry_t *r, const char *name, const char *help, fx_metric_fn fn,
                     void *ctx)
{
    FX_ASSERT(fn != NULL);
    family(r, name, help, FX_METRIC_COUNTER, NULL, NULL, 0, fn, ctx);
}

/* --- gauges --------------------------------------------------------------------------- */

fx_gauge_t *fx_gauge(fx_registry_t *r, const char *name, const char *help)
{
    fx_family_t *f = family(r, name, help, FX_METRIC_GAUGE, NULL, NULL, 0, NULL, NULL);
    return (fx_gauge_t *)series_get(f, NULL);
}

void fx_gauge_set(fx_gauge_t *g, double v)
{
    atomic_store_explicit(&g->s.a, double_to_bits(v), memory_order_relaxed);
}

void fx_gauge_add(fx_gauge_t *g, double v)
{
    atomic_add_double(&g->s.a, v);
}

double fx_gauge_value(const fx_gauge_t *g)
{
    return load_double(&g->s.a);
}

fx_gauge_vec_t *fx_gauge_vec(fx_registry_t *r, const char *name, const char *help,
                             const char *labels)
{
    return (fx_gauge_vec_t *)family(r, name, help, FX_METRIC_GAUGE, labels, NULL, 0, NULL, NULL);
}

fx_gauge_t *fx_gauge_vec_get(fx_gauge_vec_t *v, ...)
{
    va_list ap;
    va_start(ap, v);
    fx_series_t *s = series_getva(&v->f, ap);
    va_end(ap);
    return (fx_gauge_t *)s;
}

void fx_gauge_func(fx_registry_t *r, const char *name, const char *help, fx_metric_fn fn,
                   void *ctx)
{
    FX_ASSERT(fn != NULL);
    family(r, name, help, FX_METRIC_GAUGE, NULL, NULL, 0, fn, ctx);
}

/* --- histograms ----------------------------------------------------------------------- */

fx_histogram_t *fx_histogram(fx_registry_t *r, const char *name, const char *help,
                             const double *buckets, size_t n)
{
    fx_family_t *f = family(r, name, help, FX_METRIC_HISTOGRAM, NULL, buckets, n, NULL, NULL);
    return (fx_histogram_t *)series_get(f, NULL);
}

void fx_histogram_observe(fx_histogram_t *h, double v)
{
    const fx_family_t *f = h->s.fam;
    size_t lo = 0, hi = f->nbounds;
    /* first bound >= v (buckets are "le"); NaN lands in +Inf, as in Go */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (f->bounds[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (isnan(v))
        lo = f->nbounds;
    atomic_fetch_add_explicit(&h->s.buckets[lo], 1, memory_order_relaxed);
    atomic_add_double(&h->s.b, v);
}

fx_histogram_vec_t *fx_histogram_vec(fx_registry_t *r, const char *name, const char *help,
                                     const double *buckets, size_t n, const char *labels)
{
    return (fx_histogram_vec_t *)family(r, name, help, FX_METRIC_HISTOGRAM, labels, buckets, n,
                                        NULL, NULL);
}

fx_histogram_t *fx_histogram_vec_get(fx_histogram_vec_t *v, ...)
{
    va_list ap;
    va_start(ap, v);
    fx_series_t *s = series_getva(&v->f, ap);
    va_end(ap);
    return (fx_histogram_t *)s;
}

void fx_metrics_exp_buckets(double start, double factor, size_t n, double *out)
{
    FX_ASSERT(start > 0 && factor > 1);
    for (size_t i = 0; i < n; i++, start *= factor)
        out[i] = start;
}
