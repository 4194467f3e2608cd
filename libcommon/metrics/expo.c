/*
 * expo.c - Prometheus text exposition format 0.0.4.
 *
 *   # HELP fornax_x_total What it counts.
 *   # TYPE fornax_x_total counter
 *   fornax_x_total{route="push",code="200"} 42
 *
 * Families are sorted by name and series by label values, so two scrapes of
 * the same state give the same bytes. Numbers are written like the Go client
 * (strconv 'g', shortest): 42, 0.25, 1.5e+06, +Inf, NaN.
 */
#include "metrics/metrics_int.h"
#include "core/mem.h"
#include "json/jsonnum.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Go's strconv.FormatFloat(v, 'g', -1, 64): shortest digits, exponent form
 * when the decimal exponent is < -4 or >= 6 (at least two exponent digits). */
static void put_float(fx_buf_t *b, double v)
{
    if (isnan(v)) {
        fx_buf_puts(b, "NaN");
        return;
    }
    if (isinf(v)) {
        fx_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == 0) {
        fx_buf_putc(b, '0');
        return;
    }

    char dig[24];
    int e10;
    size_t k = fx_float_digits(v, 0, dig, &e10);
    fx_float_put_digits(b, v < 0, dig, k, e10, e10 < -4 || e10 >= 6, 2);
}

/* HELP text escapes '\' and newline; label values also '"'. */
static void put_escaped(fx_buf_t *b, const char *s, int quote)
{
    const char *run = s;
    for (; *s; s++) {
        const char *e = NULL;
        if (*s == '\\')
            e = "\\\\";
        else if (*s == '\n')
            e = "\\n";
        else if (quote && *s == '"')
            e = "\\\"";
        if (!e)
            continue;
        fx_buf_append(b, run, (size_t)(s - run));
        fx_buf_puts(b, e);
        run = s + 1;
    }
    fx_buf_append(b, run, (size_t)(s - run));
}

/* name{l1="v1",...[,le="bound"]} value */
static void put_sample(fx_buf_t *b, const fx_family_t *f, const char *suffix,
                       const fx_series_t *s, const double *le, double value)
{
    fx_buf_puts(b, f->name);
    fx_buf_puts(b, suffix);
    if (f->nlabels || le) {
        fx_buf_putc(b, '{');
        for (size_t i = 0; i < f->nlabels; i++) {
            if (i)
                fx_buf_putc(b, ',');
            fx_buf_puts(b, f->labels[i]);
            fx_buf_append(b, "=\"", 2);
            put_escaped(b, s->values[i], 1);
            fx_buf_putc(b, '"');
        }
        if (le) {
            fx_buf_puts(b, f->nlabels ? ",le=\"" : "le=\"");
            put_float(b, *le);
            fx_buf_putc(b, '"');
        }
        fx_buf_putc(b, '}');
    }
    fx_buf_putc(b, ' ');
    put_float(b, value);
    fx_buf_putc(b, '\n');
}

static void put_header(fx_buf_t *b, const fx_family_t *f)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    fx_buf_puts(b, "# HELP ");
    fx_buf_puts(b, f->name);
    fx_buf_putc(b, ' ');
    put_escaped(b, f->help, 0);
    fx_buf_puts(b, "\n# TYPE ");
    fx_buf_puts(b, f->name);
    fx_buf_putc(b, ' ');
    fx_buf_puts(b, types[f->type]);
    fx_buf_putc(b, '\n');
}

static void put_histogram(fx_buf_t *b, const fx_family_t *f, const fx_series_t *s)
{
    uint64_t cum = 0;
    double inf = INFINITY;
    for (size_t i = 0; i <= f->nbounds; i++) {
        cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        put_sample(b, f, "_bucket", s, i < f->nbounds ? &f->bounds[i] : &inf, (double)cum);
    }
    uint64_t bits = atomic_load_explicit((_Atomic uint64_t *)&s->b, memory_order_relaxed);
    double sum;
    memcpy(&sum, &bits, sizeof sum);
    put_sample(b, f, "_sum", s, NULL, sum);
    /* _count is the +Inf bucket by definition; deriving it keeps the two
     * equal even while observations race with the scrape. */
    put_sample(b, f, "_count", s, NULL, (double)cum);
}

static void put_family(fx_buf_t *b, fx_family_t *f)
{
    if (f->fn) {
        double v;
        if (f->fn(f->ctx, &v) != 0)
            return;
        put_header(b, f);
        fx_series_t none = {0};
        put_sample(b, f, "", &none, NULL, v);
        return;
    }

    size_t n;
    fx_series_t **ss = fx__metrics_series(f, &n);
    if (n) /* a labelled family with no series yet shows nothing, as in Go */
        put_header(b, f);
    for (size_t i = 0; i < n; i++) {
        const fx_series_t *s = ss[i];
        switch (f->type) {
        case FX_METRIC_COUNTER: {
            uint64_t whole = atomic_load_explicit((_Atomic uint64_t *)&s->a, memory_order_relaxed);
            uint64_t bits = atomic_load_explicit((_Atomic uint64_t *)&s->b, memory_order_relaxed);
            double frac;
            memcpy(&frac, &bits, sizeof frac);
            put_sample(b, f, "", s, NULL, (double)whole + frac);
            break;
        }
        case FX_METRIC_GAUGE: {
            uint64_t bits = atomic_load_explicit((_Atomic uint64_t *)&s->a, memory_order_relaxed);
            double v;
            memcpy(&v, &bits, sizeof v);
            put_sample(b, f, "", s, NULL, v);
            break;
        }
        case FX_METRIC_HISTOGRAM:
            put_histogram(b, f, s);
            break;
        }
    }
    free(ss);
}

static int cmp_family(const void *a, const void *b)
{
    return strcmp((*(fx_family_t *const *)a)->name, (*(fx_family_t *const *)b)->name);
}

void fx_metrics_write(fx_registry_t *r, fx_buf_t *out)
{
    /* Families are never removed while the registry lives, so a snapshot of
     * the pointers is enough; scrape-time callbacks then run unlocked. */
    pthread_mutex_lock(&r->lock);
    size_t n = r->n;
    fx_family_t **fams = fx_malloc((n ? n : 1) * sizeof *fams);
    if (n)
        memcpy(fams, r->fams, n * sizeof *fams);
    pthread_mutex_unlock(&r->lock);

    qsort(fams, n, sizeof *fams, cmp_family);
    for (size_t i = 0; i < n; i++)
        put_family(out, fams[i]);
    free(fams);
}
