/* heatmap.c - heatmap bucket edges and slot/bucket lookup (heatmap.h). */
#include "model/heatmap.h"

#include <math.h>

void fx_heatmap_scale(int64_t lo, int64_t hi, fx_heatmap_scale_t *s)
{
    s->edge[0] = (double)lo;
    s->n = 1;
    if (hi <= lo)
        return;
    s->n = FX_HEATMAP_BUCKETS;
    double span = (double)hi - (double)lo;
    double ratio = lo > 0 ? log((double)hi / (double)lo) : 0;
    for (size_t i = 1; i < s->n; i++) {
        double f = (double)i / (double)s->n;
        s->edge[i] = lo > 0 ? (double)lo * exp(ratio * f) : (double)lo + span * f;
    }
    /* Rounding must not reorder edges: a value then has exactly one bucket. */
    for (size_t i = 1; i < s->n; i++)
        if (s->edge[i] < s->edge[i - 1])
            s->edge[i] = s->edge[i - 1];
}

size_t fx_heatmap_bucket(const fx_heatmap_scale_t *s, int64_t v)
{
    double x = (double)v;
    size_t lo = 0, hi = s->n; /* answer in [lo, hi) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->edge[mid] <= x)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

int64_t fx_heatmap_slot(int64_t ts_ms, int64_t start_ms, int64_t step_ms)
{
    __int128 d = (__int128)ts_ms - start_ms;
    __int128 k = d <= 0 ? 0 : (d + step_ms - 1) / step_ms;
    return k > INT64_MAX ? INT64_MAX : (int64_t)k;
}

int64_t fx_heatmap_slot_time(int64_t start_ms, int64_t k, int64_t step_ms)
{
    __int128 t = (__int128)start_ms + (__int128)k * step_ms;
    return t > INT64_MAX ? INT64_MAX : t < INT64_MIN ? INT64_MIN : (int64_t)t;
}
