/*
 * metrics_int.h - the registry's data structures, shared by metrics.c
 * (registration and updates), expo.c (text exposition) and process.c.
 * Internal to libcommon/metrics.
 */
#ifndef FX_METRICS_INT_H
#define FX_METRICS_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "metrics/metrics.h"

enum fx_metric_type { FX_METRIC_COUNTER, FX_METRIC_GAUGE, FX_METRIC_HISTOGRAM };

/* One series: a family's value for one tuple of label values. */
typedef struct fx_series {
    struct fx_series *next;   /* hash chain */
    const struct fx_family *fam; /* its family (bounds are immutable) */
    uint64_t hash;
    char **values;            /* the family's nlabels label values */
    /* counter: integer increments; gauge: the value's double bits */
    _Atomic uint64_t a;
    /* counter: fractional increments (double bits); histogram: the sum */
    _Atomic uint64_t b;
    /* histogram: per-bucket (not cumulative) counts, nbounds + 1 (+Inf) */
    _Atomic uint64_t *buckets;
} fx_series_t;

/* The public series types are a series; these wrappers keep counters,
 * gauges and histograms apart for the compiler. */
struct fx_counter { fx_series_t s; };
struct fx_gauge { fx_series_t s; };
struct fx_histogram { fx_series_t s; };

/* A metric family: one name, help, type and label names. */
typedef struct fx_family {
    char *name, *help;
    enum fx_metric_type type;
    size_t nlabels;
    char **labels;
    double *bounds;           /* histogram upper bounds, +Inf implicit */
    size_t nbounds;
    fx_metric_fn fn;          /* scrape-time value, or NULL */
    void *ctx;
    pthread_rwlock_t lock;    /* guards the series table */
    fx_series_t **table;      /* hash chains, cap a power of two */
    size_t cap, len;
} fx_family_t;

struct fx_counter_vec { fx_family_t f; };
struct fx_gauge_vec { fx_family_t f; };
struct fx_histogram_vec { fx_family_t f; };

struct fx_registry {
    pthread_mutex_t lock;     /* guards fams */
    fx_family_t **fams;
    size_t n, cap;
};

/* Snapshot of a family's series, sorted by label values; the caller frees
 * the array (not the series). */
fx_series_t **fx__metrics_series(fx_family_t *f, size_t *n);

#endif
