/*
 * split.h - split one profile into series by its string sample labels
 * (Pyroscope's pprofsplit, reference/pyroscope-api.md §1 and §7).
 *
 * Samples with the same set of string labels form one group; the group's
 * labels are merged into the series labels (series labels win on
 * conflict). span_id, trace_id and profile_id stay per sample and never
 * split. Numeric labels never split either.
 */
#ifndef FX_DIST_SPLIT_H
#define FX_DIST_SPLIT_H

#include "model/labels.h"
#include "pprof/pprof.h"

typedef struct split_group {
    fx_labels_t labels;   /* series labels merged with the group's labels (arena) */
    uint32_t *samples;    /* sample indices (arena) */
    size_t nsamples;
} split_group_t;

/* Splits p. *groups (arena) gets one entry per distinct label set; when no
 * sample has a splitting label there is exactly one group holding every
 * sample and *whole is set to 1. Each group's labels have room for 4 more. */
void split_by_sample_labels(const fx_pprof_t *p, const fx_labels_t *series, fx_arena_t *a,
                            split_group_t **groups, size_t *ngroups, int *whole);

/* 1 if sample s of p has a label that splits (a string label other than
 * span_id, trace_id and profile_id): then p is not sent whole. */
int split_sample_splits(const fx_pprof_t *p, const fx_pprof_sample_t *s);

/* Encoder label filter: keeps the labels that stay per sample (span/trace
 * ids and numeric labels), drops the ones the split moved to the series. */
int split_keep_label(const fx_pprof_t *p, const fx_pprof_label_t *l, void *ctx);

#endif
