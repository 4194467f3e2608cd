/*
 * builder.h - build a pprof profile from scratch (folded text ingestion,
 * merged query results).
 *
 * Functions are named frames: each distinct name gets one function and one
 * location with the same id, so a stack of names becomes a list of location
 * ids. The builder owns its working memory; fx_pprof_builder_finish fills
 * an fx_pprof_t whose arrays point into the builder (valid until
 * fx_pprof_builder_free) and into `arena` for strings.
 */
#ifndef FX_PPROF_BUILDER_H
#define FX_PPROF_BUILDER_H

#include "core/strtab.h"
#include "pprof/pprof.h"

typedef struct fx_pprof_builder {
    fx_strtab_t strings;
    fx_map64_t fn_by_name;          /* string id -> function/location id */
    fx_pprof_function_t *functions;
    fx_pprof_location_t *locations;
    fx_pprof_line_t *lines;
    size_t nfunctions, cap_functions, cap_locations, cap_lines;
    fx_pprof_sample_t *samples;
    size_t nsamples, cap_samples;
    fx_pprof_value_type_t sample_types[8];
    size_t nsample_types;
    fx_arena_t arena;               /* sample arrays and strings */
    fx_pprof_t out;
} fx_pprof_builder_t;

void fx_pprof_builder_init(fx_pprof_builder_t *b);
void fx_pprof_builder_free(fx_pprof_builder_t *b);
int64_t fx_pprof_builder_string(fx_pprof_builder_t *b, const char *s, size_t n);
/* Adds a sample type (at most 8). */
void fx_pprof_builder_sample_type(fx_pprof_builder_t *b, const char *type, const char *unit);
/* Location id of the frame named s (created on first use). */
uint64_t fx_pprof_builder_frame(fx_pprof_builder_t *b, const char *s, size_t n);
/* Adds a sample; locs leaf first; values has one entry per sample type.
 * Both are copied. */
void fx_pprof_builder_sample(fx_pprof_builder_t *b, const uint64_t *locs, size_t nlocs,
                             const int64_t *values);
/* Finishes and returns the profile (owned by b). Set time/period fields on
 * the result before encoding. */
fx_pprof_t *fx_pprof_builder_finish(fx_pprof_builder_t *b);

#endif
