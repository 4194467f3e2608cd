/*
 * pprof.h - a zero-copy decoder and an encoder for pprof profiles
 * (perftools.profiles / google.v1.Profile, field numbers in
 * reference/pyroscope-api.md §2).
 *
 * Why not protobuf-c: its unpack mallocs once per message (one per sample,
 * location, line, function...), which makes it the ingest bottleneck. This
 * decoder makes two passes over the top-level fields, reads each message
 * once (a sample or location onto the stack first), sizes every array
 * exactly, takes all memory from one arena, and leaves strings pointing
 * into the input.
 *
 * Ownership: fx_pprof_decode fills *out with pointers into `data` (strings)
 * and into `arena` (everything else). Both must outlive *out; nothing in
 * *out is freed individually. The decoder checks wire structure only;
 * semantic checks (string indices in range, ids non-zero, value counts,
 * UTF-8, limits) are fx_pprof_validate's job.
 */
#ifndef FX_PPROF_H
#define FX_PPROF_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/core.h"
#include "core/hash.h"
#include "core/mem.h"

typedef struct fx_pprof_value_type {
    int64_t type; /* string index */
    int64_t unit; /* string index */
} fx_pprof_value_type_t;

typedef struct fx_pprof_label {
    int64_t key, str, num, num_unit; /* key/str/num_unit are string indices */
} fx_pprof_label_t;

typedef struct fx_pprof_sample {
    const uint64_t *locs; /* location ids, leaf first */
    const int64_t *values; /* one per sample type */
    const fx_pprof_label_t *labels;
    uint32_t nlocs, nvalues, nlabels;
} fx_pprof_sample_t;

typedef struct fx_pprof_line {
    uint64_t function_id;
    int64_t line;
} fx_pprof_line_t;

typedef struct fx_pprof_location {
    uint64_t id, mapping_id, address;
    const fx_pprof_line_t *lines; /* first = innermost inlined frame */
    uint32_t nlines;
    uint8_t is_folded;
} fx_pprof_location_t;

typedef struct fx_pprof_function {
    uint64_t id;
    int64_t name, system_name, filename, start_line; /* names are string indices */
} fx_pprof_function_t;

typedef struct fx_pprof_mapping {
    uint64_t id, memory_start, memory_limit, file_offset;
    int64_t filename, build_id;
    uint8_t has_functions, has_filenames, has_line_numbers, has_inline_frames;
} fx_pprof_mapping_t;

/* id -> array index. Profiles usually number ids 1..n in order; then no
 * table is built and lookups are a subtraction. */
typedef struct fx_pprof_idmap {
    int dense;      /* ids are exactly 1..n in array order */
    fx_map64_t map; /* otherwise id -> index (owned, see fx_pprof_free) */
} fx_pprof_idmap_t;

typedef struct fx_pprof {
    fx_slice_t *strings;
    fx_pprof_value_type_t *sample_types;
    fx_pprof_sample_t *samples;
    fx_pprof_mapping_t *mappings;
    fx_pprof_location_t *locations;
    fx_pprof_function_t *functions;
    int64_t *comments;
    size_t nstrings, nsample_types, nsamples, nmappings, nlocations, nfunctions, ncomments;
    int64_t drop_frames, keep_frames, time_nanos, duration_nanos, period, default_sample_type;
    fx_pprof_value_type_t period_type;
    int has_period_type;
    fx_pprof_idmap_t loc_index, fn_index, map_index;
} fx_pprof_t;

/* Decodes a plain (not gzipped) pprof. See the ownership note above. On
 * FX_EINVAL err says what is malformed. Call fx_pprof_free afterwards (it
 * releases the id maps; the arena holds the rest). */
int fx_pprof_decode(const uint8_t *data, size_t len, fx_arena_t *arena, fx_pprof_t *out,
                    fx_err_t *err);
void fx_pprof_free(fx_pprof_t *p);

/* Called by fx_pprof_decode_each with sample i. *s and what it points to are
 * scratch memory, valid until fn returns (fn may edit them). Returns FX_OK to
 * go on; anything else stops the walk and is returned. */
typedef int (*fx_pprof_sample_fn)(void *ctx, const fx_pprof_t *p, size_t i, fx_pprof_sample_t *s,
                                  fx_err_t *err);
/* Like fx_pprof_decode, except that the samples are not kept: out gets
 * everything else (nsamples is their count, samples is NULL), then each
 * sample is decoded in turn and given to fn. Same ownership and structure
 * checks as fx_pprof_decode (a malformed message is FX_EINVAL, though the
 * first one reported may differ). For a reader that needs each sample once:
 * no arena memory per sample, one pass over each. Call fx_pprof_free after. */
int fx_pprof_decode_each(const uint8_t *data, size_t len, fx_arena_t *arena, fx_pprof_t *out,
                         fx_pprof_sample_fn fn, void *ctx, fx_err_t *err);
/* Then, if the samples are wanted after all: decodes them into p->samples
 * (arena), leaving the rest of p (which may have been edited) as it is.
 * data and len must be what fx_pprof_decode_each read into p. */
int fx_pprof_decode_samples(const uint8_t *data, size_t len, fx_arena_t *arena, fx_pprof_t *p,
                            fx_err_t *err);

/* Builds the id -> index maps (fx_pprof_decode does it; call again after
 * editing the tables). Fails with FX_EINVAL on a zero or duplicate id. */
int fx_pprof_index(fx_pprof_t *p, fx_err_t *err);
/* Returns the array index for an id, or -1 if there is no such id. Inline
 * because validation and the head call it once per stack frame. */
int64_t fx__pprof_idmap_find_sparse(const fx_pprof_idmap_t *m, uint64_t id);
static inline int64_t fx_pprof_idmap_find(const fx_pprof_idmap_t *m, uint64_t id, size_t n)
{
    if (m->dense)
        return id >= 1 && id <= n ? (int64_t)(id - 1) : -1;
    return fx__pprof_idmap_find_sparse(m, id);
}
static inline const fx_pprof_location_t *fx_pprof_location(const fx_pprof_t *p, uint64_t id)
{
    int64_t i = fx_pprof_idmap_find(&p->loc_index, id, p->nlocations);
    return i < 0 ? NULL : &p->locations[i];
}
static inline const fx_pprof_function_t *fx_pprof_function(const fx_pprof_t *p, uint64_t id)
{
    int64_t i = fx_pprof_idmap_find(&p->fn_index, id, p->nfunctions);
    return i < 0 ? NULL : &p->functions[i];
}
static inline const fx_pprof_mapping_t *fx_pprof_mapping(const fx_pprof_t *p, uint64_t id)
{
    int64_t i = fx_pprof_idmap_find(&p->map_index, id, p->nmappings);
    return i < 0 ? NULL : &p->mappings[i];
}
/* String by index; "" when out of range (validated profiles never are). */
static inline fx_slice_t fx_pprof_str(const fx_pprof_t *p, int64_t i)
{
    if (i < 0 || (uint64_t)i >= p->nstrings) {
        fx_slice_t empty = {(const uint8_t *)"", 0};
        return empty;
    }
    return p->strings[i];
}
/* 1 if string index i equals s. */
int fx_pprof_str_eq(const fx_pprof_t *p, int64_t i, const char *s);

/* Gunzips data if it is gzip (into *scratch, the caller's buffer, capped at
 * max_size) and decodes it. *scratch must outlive *out. */
int fx_pprof_decode_maybe_gzip(const uint8_t *data, size_t len, size_t max_size,
                               fx_buf_t *scratch, fx_arena_t *arena, fx_pprof_t *out,
                               fx_err_t *err);

/* Encoding. keep_label (may be NULL = keep all) decides per sample label;
 * samples (may be NULL = all) selects which samples to write, in order. */
typedef struct fx_pprof_encode_opts {
    const uint32_t *samples;
    size_t nsamples;
    int (*keep_label)(const fx_pprof_t *p, const fx_pprof_label_t *l, void *ctx);
    void *ctx;
} fx_pprof_encode_opts_t;

/* Appends the serialized profile to out. */
void fx_pprof_encode(const fx_pprof_t *p, const fx_pprof_encode_opts_t *opts, fx_buf_t *out);

#endif
