/*
 * flamebearer.h - the legacy flamebearer JSON of /pyroscope/render and
 * /pyroscope/render-diff (reference pyroscope-api.md §6.2, §6.3), which the
 * OG Pyroscope UI, @pyroscope/flamegraph and Profiles Drilldown's older
 * paths read:
 *
 *   {"version":1,
 *    "flamebearer":{"names":[...],"levels":[[...],...],"numTicks":N,"maxSelf":N},
 *    "metadata":{"format":"single","spyName":"","sampleRate":N,"units":"..","name":".."},
 *    "timeline":{"startTime":s,"samples":[...],"durationDelta":s,"watermarks":null}|null,
 *    "groups":null|{"<value>":<timeline>,...},"heatmap":null}
 *
 * The diff variant has "format":"double", 7-value levels, and "leftTicks" and
 * "rightTicks" after "heatmap" (omitted when 0, as Go's omitempty does).
 * Levels are copied from the FlameGraph unchanged (delta-encoded x) as plain
 * JSON numbers. Field order and layout follow Pyroscope's Go encoder.
 */
#ifndef FX_FLAMEBEARER_H
#define FX_FLAMEBEARER_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/mem.h"
#include "querier/v1/querier.pb-c.h"

/* What metadata needs from the profile type; strings borrowed, NULL = "". */
typedef struct fx_flamebearer_meta {
    const char *sample_type;  /* e.g. "cpu": becomes metadata.name */
    const char *sample_unit;  /* e.g. "nanoseconds" */
    const char *spy_name;     /* usually "" */
} fx_flamebearer_meta_t;

/* A timeline: samples[i] is the value of [start_time + i*duration_delta,
 * + duration_delta). Times in Unix seconds. samples borrowed. */
typedef struct fx_timeline {
    int64_t start_time;
    const uint64_t *samples;
    size_t n_samples;
    int64_t duration_delta;
} fx_timeline_t;

/* One entry of "groups": the timeline of one value of the groupBy label. */
typedef struct fx_timeline_group {
    const char *name;
    fx_timeline_t timeline;
} fx_timeline_group_t;

/* Pyroscope's units/sampleRate rule: sample type cpu -> "samples" at 1e9;
 * inuse_objects, alloc_objects, goroutine, samples -> "objects" at 100;
 * anything else -> the sample unit at 100. *units is static or sample_unit. */
void fx_flamebearer_units(const char *sample_type, const char *sample_unit, const char **units,
                          uint32_t *sample_rate);

/* Fills tl from series points (ts_ms[i], values[i], ascending) over
 * [start_ms, end_ms) with step_s-second slots: n = (end_s - start_s) / step_s
 * slots, slot k covering start_s + k*step_s; a point lands in the slot of its
 * second (a later point in the same slot replaces an earlier one), missing
 * slots are 0, points outside the window are ignored, values are truncated
 * to integers (negative -> 0) as Pyroscope's uint64 cast. start_s =
 * start_ms / 1000: align start_ms to the step first if the samples should
 * line up with wall-clock steps. The samples live in a. */
void fx_timeline_from_points(fx_timeline_t *tl, const int64_t *ts_ms, const double *values,
                             size_t n, int64_t start_ms, int64_t end_ms, int64_t step_s,
                             fx_arena_t *a);

/* Appends the single-profile document for fg (NULL = empty graph) to out.
 * timeline NULL writes null; groups NULL writes null, else an object with
 * ngroups timelines. A trailing newline ends the document, as Go's
 * json.Encoder writes it. */
void fx_flamebearer_write(fx_buf_t *out, const Querier__V1__FlameGraph *fg,
                          const fx_flamebearer_meta_t *meta, const fx_timeline_t *timeline,
                          const fx_timeline_group_t *groups, size_t ngroups);

/* Appends the diff document for fg (NULL = empty diff); Pyroscope's
 * render-diff has no timeline, pass NULL to match it. */
void fx_flamebearer_write_diff(fx_buf_t *out, const Querier__V1__FlameGraphDiff *fg,
                               const fx_flamebearer_meta_t *meta, const fx_timeline_t *timeline);

#endif
