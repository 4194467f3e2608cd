/*
 * heatmap.h - the bucketing of SelectHeatmap (docs/api.md, "Heatmaps").
 *
 * A heatmap series is a grid: time slots along x, value buckets along y,
 * each cell counting the individual profiles whose time falls into the slot
 * and whose value falls into the bucket.
 *
 * Slots follow SelectSeries' points (Pyroscope's rangeSeries): the slot at
 * t = start + k*step holds the profiles with t - step < time <= t.
 *
 * Buckets are shared by every slot of a series, so a cell's height means
 * the same everywhere in it: FX_HEATMAP_BUCKETS buckets between the
 * smallest (lo) and largest (hi) value of the series, log-spaced when lo > 0
 * (profile values span orders of magnitude: a 10 ms and a 10 s CPU profile
 * both deserve resolution), evenly spaced otherwise; one bucket when lo ==
 * hi. Bucket i holds edge[i] <= v < edge[i+1]; the last one goes up to and
 * includes hi. edge[0] == lo exactly.
 */
#ifndef FX_HEATMAP_H
#define FX_HEATMAP_H

#include <stddef.h>
#include <stdint.h>

#define FX_HEATMAP_BUCKETS 20

typedef struct fx_heatmap_scale {
    double edge[FX_HEATMAP_BUCKETS]; /* lower bound of each bucket, ascending */
    size_t n;                        /* buckets in use, 1..FX_HEATMAP_BUCKETS */
} fx_heatmap_scale_t;

/* The buckets for values lo..hi (lo <= hi). */
void fx_heatmap_scale(int64_t lo, int64_t hi, fx_heatmap_scale_t *s);

/* The bucket of v: the last i with edge[i] <= v (0 for v below lo). */
size_t fx_heatmap_bucket(const fx_heatmap_scale_t *s, int64_t v);

/* The slot index k of a profile at ts_ms (slot time start_ms + k*step_ms);
 * times at or before start fall into slot 0. step_ms >= 1. */
int64_t fx_heatmap_slot(int64_t ts_ms, int64_t start_ms, int64_t step_ms);
/* The time of slot k: start_ms + k*step_ms, saturated to int64. */
int64_t fx_heatmap_slot_time(int64_t start_ms, int64_t k, int64_t step_ms);

#endif
