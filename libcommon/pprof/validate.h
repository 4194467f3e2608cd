/*
 * validate.h - the profile checks the distributor applies before anything is
 * stored (reference/pyroscope-api.md §7, ValidateProfile).
 *
 * Rejections fail with FX_EINVAL and a message naming the rule. Some rules
 * repair instead of rejecting, as Pyroscope does: a stack deeper than
 * max_depth keeps its root-side max_depth frames, an over-long string keeps
 * its tail, time_nanos 0 becomes now. Repairs edit *p in place (pointers
 * still into the same input and arena) and set *repaired to 1.
 */
#ifndef FX_PPROF_VALIDATE_H
#define FX_PPROF_VALIDATE_H

#include "core/utf8.h"
#include "pprof/pprof.h"

typedef struct fx_pprof_limits {
    size_t max_samples;        /* max_profile_stacktrace_samples; 0 = no limit */
    size_t max_sample_labels;  /* max_profile_stacktrace_sample_labels; 0 = no limit */
    size_t max_depth;          /* max_profile_stacktrace_depth; 0 = no limit */
    size_t max_symbol_len;     /* max_profile_symbol_value_length; 0 = no limit */
    int64_t reject_older_than_ns; /* 0 = accept any age */
    int64_t reject_newer_than_ns; /* 0 = accept any future time */
} fx_pprof_limits_t;

int fx_pprof_validate(fx_pprof_t *p, const fx_pprof_limits_t *lim, int64_t now_ns, int *repaired,
                      fx_err_t *err);

/* fx_pprof_validate in two parts, for a profile read with
 * fx_pprof_decode_each: fx_pprof_validate_sample checks (and may repair)
 * one sample against p's tables (decoded, not yet validated);
 * fx_pprof_validate_tables makes every other check and repair, in
 * fx_pprof_validate's order. A profile whose samples all pass the first
 * unrepaired gets from the second exactly fx_pprof_validate's verdict,
 * message and repairs. Each sets *repaired to 1 on a repair; only
 * fx_pprof_validate_tables resets it to 0 first. */
int fx_pprof_validate_sample(const fx_pprof_t *p, const fx_pprof_limits_t *lim, size_t i,
                             fx_pprof_sample_t *s, int *repaired, fx_err_t *err);
int fx_pprof_validate_tables(fx_pprof_t *p, const fx_pprof_limits_t *lim, int64_t now_ns,
                             int *repaired, fx_err_t *err);

#endif
