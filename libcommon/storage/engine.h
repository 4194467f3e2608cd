/*
 * engine.h - the query engine shared by the head and by blocks
 * (libcommon/block): every query of head.h written once over a "source",
 * i.e. a series index (tables.h), a symbol view and a row scanner. The head
 * is a source whose tables are guarded by a tenant lock and whose rows come
 * from RocksDB; a block is a source whose tables were loaded from its index
 * and symbols sections and whose rows come from its profiles section. Both
 * therefore answer with exactly the same semantics and result types.
 *
 * No RocksDB here. Not thread-safe by itself: a source's lock hooks say how
 * its tables are guarded.
 */
#ifndef FX_STORAGE_ENGINE_H
#define FX_STORAGE_ENGINE_H

#include "storage/tables.h"

/* A read-only view of a symbol store (plain arrays, borrowed): the head's
 * fx__symbols_t (valid while its lock is held) or a block's decoded symbols
 * section. Node 0 is the root; node_parent[i] < i for i > 0. */
typedef struct fx__symview {
    const char *const *str;   /* string id -> bytes (not necessarily NUL-terminated) */
    const uint32_t *str_len;
    size_t nstrs;
    const fx__fn_t *fns;
    size_t nfns;
    const fx__mapping_t *maps;
    size_t nmaps;
    const fx__loc_t *locs;
    size_t nlocs;
    const fx__line_t *lines;
    size_t nlines;
    const uint32_t *node_parent, *node_loc;
    size_t nnodes;
} fx__symview_t;

/* The view of s (borrowed; valid until s changes). */
void fx__symbols_view(const fx__symbols_t *s, fx__symview_t *v);

/* One column of one pseries that a query must read, with the series it
 * belongs to (for replica keys). */
typedef struct fx__target {
    uint32_t pseries, col, series;
    uint64_t fp;
} fx__target_t;

/* Selected (pseries, col) targets with rows overlapping the query's range,
 * sorted by pseries then column. Caller frees. */
fx__target_t *fx__targets(const fx__index_t *x, const fx_head_query_t *q, size_t *n);

/* Called for every stored row of a target in range. id: 16 bytes. The row
 * (and what it points to) is valid only during the call. */
typedef int (*fx__row_fn)(void *ctx, const fx__target_t *tg, int64_t ts_ns, const uint8_t *id,
                          const fx_row_t *row, fx_err_t *err);

/*
 * A source. idx (and what symbols() returns) may only be used between
 * rdlock and unlock. scan_begin is called before the first lock of a data
 * query and fixes what the scan will see: every row the scan then yields
 * references stack nodes below the count symbols() reports afterwards.
 * scan calls fn for every row of each target (grouped by pseries: tg[] is
 * sorted so) with lo <= time <= hi, in time order per pseries, and stops at
 * the first error. need_samples 0 says fn reads only the row header (ncols,
 * period, column totals): a source may then leave stacks and values out;
 * FX__NEED_SPANS says fn reads only the header and the span section, so
 * stacks and values may be left out but the span section must be there.
 * Hooks may be NULL when they have nothing to do.
 */
#define FX__NEED_SPANS 2

typedef struct fx__source {
    void *ctx;
    const fx__index_t *idx;
    void (*rdlock)(void *ctx);
    void (*unlock)(void *ctx);
    int (*scan_begin)(void *ctx, fx_err_t *err);
    void (*scan_end)(void *ctx);
    int (*scan)(void *ctx, const fx__target_t *tg, size_t ntg, int64_t lo, int64_t hi,
                int need_samples, fx__row_fn fn, void *fnctx, fx_err_t *err);
    int (*symbols)(void *ctx, fx__symview_t *out, fx_err_t *err);
} fx__source_t;

/* The queries of head.h over a source (same contracts; src NULL = nothing
 * stored). */
int fx__q_label_names(const fx__source_t *src, const fx_head_query_t *q, fx_arena_t *a,
                      fx_head_strings_t *out, fx_err_t *err);
int fx__q_label_values(const fx__source_t *src, const fx_head_query_t *q, const char *name,
                       fx_arena_t *a, fx_head_strings_t *out, fx_err_t *err);
int fx__q_profile_types(const fx__source_t *src, const fx_head_query_t *q, fx_arena_t *a,
                        fx_head_strings_t *out, fx_err_t *err);
int fx__q_series(const fx__source_t *src, const fx_head_query_t *q, const char *const *names,
                 size_t nnames, fx_arena_t *a, fx_head_label_sets_t *out, fx_err_t *err);
void fx__q_profile_stats(const fx__source_t *src, fx_head_profile_stats_t *out);
int fx__q_profile_keys(const fx__source_t *src, const fx_head_query_t *q, fx_arena_t *a,
                       fx_head_keys_t *out, fx_err_t *err);
int fx__q_select_series(const fx__source_t *src, const fx_head_query_t *q, const char *const *by,
                        size_t nby, int64_t step_ms, fx_head_aggregation_t agg, fx_arena_t *a,
                        fx_head_ts_list_t *out, fx_err_t *err);
int fx__q_merge_tree(const fx__source_t *src, const fx_head_query_t *q,
                     fx_head_grouping_t grouping, fx_tree_t *tree, fx_err_t *err);
int fx__q_merge_pprof(const fx__source_t *src, const fx_head_query_t *q, fx_buf_t *out,
                      fx_err_t *err);

/* Building a pprof out of a symbol view (merges, catch-up): tenant ids ->
 * 1-based output ids (0 = not yet used); the caller callocs the four maps
 * (nstrs/nfns/nmaps/nlocs + 1 entries), adds "" as string 0 and frees the
 * maps and the output arrays (strs, fns, maps, locs) afterwards. Strings
 * point into the view: encode while it is valid. */
typedef struct fx__ppb {
    const fx__symview_t *s;
    fx_arena_t *a; /* location lines */
    uint32_t *str_out, *fn_out, *map_out, *loc_out;
    fx_slice_t *strs;
    size_t nstrs, capstrs;
    fx_pprof_function_t *fns;
    size_t nfns, capfns;
    fx_pprof_mapping_t *maps;
    size_t nmaps, capmaps;
    fx_pprof_location_t *locs;
    size_t nlocs, caplocs;
} fx__ppb_t;

/* Adds a string (borrowed) to the output; returns its index. */
int64_t fx__ppb_string(fx__ppb_t *b, const char *p, size_t n);
/* The output location id of view location id (adding it, its functions,
 * mapping and strings on first use). */
uint64_t fx__ppb_loc(fx__ppb_t *b, uint32_t id);

#endif
