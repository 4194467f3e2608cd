/*
 * metrics.h - Prometheus metrics: counters, gauges and histograms, with or
 * without labels, exposed in the text format 0.0.4 for GET /metrics.
 *
 *   static fx_counter_vec_t *reqs;
 *   reqs = fx_counter_vec(fx_metrics_default(), "fornax_http_requests_total",
 *                         "HTTP requests by route and status code.", "route,code");
 *   fx_counter_inc(fx_counter_vec_get(reqs, "push", "200"));
 *
 * Names follow `fornax_<subsystem>_<name>_<unit>` (counters end in
 * `_total`, base units: seconds, bytes). Metric names match
 * [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* without a
 * leading "__" and never "le"/"quantile"; a bad name is a bug and aborts.
 *
 * Cost: updating a series is one or two atomic operations and never takes
 * a lock; looking up a labelled series takes a read lock, so hot paths look
 * it up once and keep the pointer (series live as long as the registry).
 * Label values must come from a bounded set (routes, codes, tenants), since
 * every distinct tuple is a series kept until the registry is freed.
 *
 * Registering the same name twice with the same type, help and labels
 * returns the existing metric, so services linked into one binary can each
 * register what they use; a conflicting registration aborts.
 */
#ifndef FX_METRICS_H
#define FX_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define FX_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct fx_registry fx_registry_t;
typedef struct fx_counter fx_counter_t;          /* one counter series */
typedef struct fx_gauge fx_gauge_t;              /* one gauge series */
typedef struct fx_histogram fx_histogram_t;      /* one histogram series */
typedef struct fx_counter_vec fx_counter_vec_t;  /* a labelled counter family */
typedef struct fx_gauge_vec fx_gauge_vec_t;
typedef struct fx_histogram_vec fx_histogram_vec_t;

/* --- registries --------------------------------------------------------------- */

/* The process-wide registry /metrics serves; created on first use with the
 * process_* metrics in it. Never freed. Thread-safe. */
fx_registry_t *fx_metrics_default(void);

/* A separate registry (tests, or a component with its own endpoint); the
 * caller frees it with fx_registry_free, which invalidates every series
 * pointer obtained from it. */
fx_registry_t *fx_registry_new(void);
void fx_registry_free(fx_registry_t *r);

/* Registers the process_* metrics (CPU, memory, file descriptors, start
 * time), read from /proc at scrape time. */
void fx_metrics_register_process(fx_registry_t *r);

/* Appends the exposition of every metric in r to out (owned by the caller):
 * families sorted by name, series sorted by label values, so the output is
 * stable. Serve it with Content-Type FX_METRICS_CONTENT_TYPE. */
void fx_metrics_write(fx_registry_t *r, fx_buf_t *out);

/* --- counters: only go up --------------------------------------------------- */

fx_counter_t *fx_counter(fx_registry_t *r, const char *name, const char *help);
void fx_counter_inc(fx_counter_t *c);
void fx_counter_add_u64(fx_counter_t *c, uint64_t n);
/* v must be >= 0 (a negative or NaN increment is a bug and aborts). */
void fx_counter_add(fx_counter_t *c, double v);
double fx_counter_value(const fx_counter_t *c);

/* labels: comma-separated label names, e.g. "route,code". */
fx_counter_vec_t *fx_counter_vec(fx_registry_t *r, const char *name, const char *help,
                                 const char *labels);
/* The series for the given label values, one const char * per label name in
 * order; created on first use. The pointer stays valid for the registry's
 * life. Values are copied; invalid UTF-8 in them is replaced by U+FFFD. */
fx_counter_t *fx_counter_vec_get(fx_counter_vec_t *v, ...);
fx_counter_t *fx_counter_vec_getv(fx_counter_vec_t *v, const char *const *values);

/* --- gauges: go up and down --------------------------------------------------- */

fx_gauge_t *fx_gauge(fx_registry_t *r, const char *name, const char *help);
void fx_gauge_set(fx_gauge_t *g, double v);
void fx_gauge_add(fx_gauge_t *g, double v);
double fx_gauge_value(const fx_gauge_t *g);

fx_gauge_vec_t *fx_gauge_vec(fx_registry_t *r, const char *name, const char *help,
                             const char *labels);
fx_gauge_t *fx_gauge_vec_get(fx_gauge_vec_t *v, ...);

/* Value computed at scrape time: fn(ctx, &value) returns 0 to report value,
 * non-zero to leave the metric out of this scrape. fn runs on the scraping
 * thread without registry locks held; it must not register metrics. ctx
 * must outlive the registry. */
typedef int (*fx_metric_fn)(void *ctx, double *value);
void fx_gauge_func(fx_registry_t *r, const char *name, const char *help, fx_metric_fn fn,
                   void *ctx);
/* The same for a monotonically increasing value (exposed as a counter). */
void fx_counter_func(fx_registry_t *r, const char *name, const char *help, fx_metric_fn fn,
                     void *ctx);

/* --- histograms --------------------------------------------------------------- */

/* Prometheus' default buckets (5 ms .. 10 s), for durations in seconds. */
extern const double fx_metrics_default_buckets[11];
#define FX_METRICS_DEFAULT_BUCKETS fx_metrics_default_buckets, 11

/* buckets: n strictly increasing finite upper bounds (copied); +Inf is
 * implicit. NULL/0 means the default buckets. */
fx_histogram_t *fx_histogram(fx_registry_t *r, const char *name, const char *help,
                             const double *buckets, size_t n);
void fx_histogram_observe(fx_histogram_t *h, double v);

fx_histogram_vec_t *fx_histogram_vec(fx_registry_t *r, const char *name, const char *help,
                                     const double *buckets, size_t n, const char *labels);
fx_histogram_t *fx_histogram_vec_get(fx_histogram_vec_t *v, ...);

/* Fills out[0..n) with start * factor^i (start > 0, factor > 1). */
void fx_metrics_exp_buckets(double start, double factor, size_t n, double *out);

#endif
