/*
 * merge.h - merging several pprof profiles into one (the querier combines
 * the ingesters' SelectMergeProfile answers this way).
 *
 * Functions, mappings, locations and stacks are deduplicated by content, so
 * the same frame from two inputs becomes one; sample values of identical
 * stacks are summed. Every input must have the same sample types (in the
 * same order); period and period type come from the first input. Sample
 * labels are dropped (a merged profile's samples are aggregates).
 */
#ifndef FX_PPROF_MERGE_H
#define FX_PPROF_MERGE_H

#include "core/buf.h"
#include "core/core.h"

/* Merges n plain (not gzipped) pprof inputs; appends the result to out. */
int fx_pprof_merge(const fx_slice_t *inputs, size_t n, fx_buf_t *out, fx_err_t *err);

#endif
