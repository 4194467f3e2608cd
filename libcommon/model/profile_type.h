/*
 * profile_type.h - profile type ids: `name:sample_type:sample_unit:
 * period_type:period_unit`, e.g. process_cpu:cpu:nanoseconds:cpu:nanoseconds.
 * They name one stored series per pprof sample type (label __profile_type__).
 */
#ifndef FX_PROFILE_TYPE_H
#define FX_PROFILE_TYPE_H

#include "core/core.h"
#include "core/mem.h"

typedef struct fx_profile_type {
    const char *id; /* the first five parts joined with ':' */
    const char *name, *sample_type, *sample_unit, *period_type, *period_unit;
} fx_profile_type_t;

/* Parses id; strings are allocated from a. A sixth part is tolerated and
 * dropped (as Pyroscope does). Fails with FX_EINVAL on fewer than 5 parts or
 * an empty name/sample type. */
int fx_profile_type_parse(const char *id, fx_arena_t *a, fx_profile_type_t *out, fx_err_t *err);

#endif
