/*
 * attime.h - Pyroscope's "attime" time parameters (`from`, `until` of
 * /ingest and /pyroscope/render; reference/pyroscope-api.md §6.1): all-digit
 * values by length (8 = YYYYMMDD, 13 = ms, 16 = µs, 19 = ns, otherwise
 * seconds), "now", or "now-<n><unit>" / "now+<n><unit>" with units s, m/min,
 * h, d, w, M/mon, y. An empty string means now.
 */
#ifndef FX_ATTIME_H
#define FX_ATTIME_H

#include <stdint.h>

#include "core/core.h"

/* Parses s into ns since epoch; FX_EINVAL with a message on bad input. */
int fx_attime_parse(const char *s, int64_t now_ns, int64_t *out_ns, fx_err_t *err);

#endif
