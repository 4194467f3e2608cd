/*
 * set.h - one query over several sources: an optional head plus blocks,
 * with the results merged as if they were one store.
 *
 * The sources must hold disjoint profiles (an ingester moves rows from its
 * head into a block under a lock; a store-gateway assigns every profile key
 * to one block first). Blocks whose time range misses the query are not
 * touched. Result types and ownership are those of storage/head.h: strings
 * and arrays in the caller's arena, trees and buffers the caller's.
 */
#ifndef FX_BLOCK_SET_H
#define FX_BLOCK_SET_H

#include "block/block.h"

typedef struct fx_source_set {
    fx_head_t *head;        /* may be NULL */
    fx_block_t *const *blocks;
    size_t nblocks;
} fx_source_set_t;

int fx_set_label_names(const fx_source_set_t *s, const fx_head_query_t *q, fx_arena_t *a,
                       fx_head_strings_t *out, fx_err_t *err);
int fx_set_label_values(const fx_source_set_t *s, const fx_head_query_t *q, const char *name,
                        fx_arena_t *a, fx_head_strings_t *out, fx_err_t *err);
int fx_set_profile_types(const fx_source_set_t *s, const fx_head_query_t *q, fx_arena_t *a,
                         fx_head_strings_t *out, fx_err_t *err);
int fx_set_series(const fx_source_set_t *s, const fx_head_query_t *q, const char *const *names,
                  size_t nnames, fx_arena_t *a, fx_head_label_sets_t *out, fx_err_t *err);
int fx_set_profile_stats(const fx_source_set_t *s, const char *tenant,
                         fx_head_profile_stats_t *out, fx_err_t *err);
int fx_set_profile_keys(const fx_source_set_t *s, const fx_head_query_t *q, fx_arena_t *a,
                        fx_head_keys_t *out, fx_err_t *err);
int fx_set_merge_tree(const fx_source_set_t *s, const fx_head_query_t *q,
                      fx_head_grouping_t grouping, fx_tree_t *tree, fx_err_t *err);
int fx_set_merge_pprof(const fx_source_set_t *s, const fx_head_query_t *q, fx_buf_t *out,
                       fx_err_t *err);
/* Points of series with equal labels are summed per timestamp; with
 * FX_AGG_AVERAGE over several sources each bucket is the sum over all
 * sources divided by their profile count (FX_AGG_COUNT), so a bucket that
 * spans the head and a block, or two blocks, is averaged exactly. */
int fx_set_select_series(const fx_source_set_t *s, const fx_head_query_t *q, const char *const *by,
                         size_t nby, int64_t step_ms, fx_head_aggregation_t agg, fx_arena_t *a,
                         fx_head_ts_list_t *out, fx_err_t *err);

/* 1 if block b may hold profiles of q (tenant and time range). */
int fx_set_block_overlaps(fx_block_t *b, const fx_head_query_t *q);

#endif
