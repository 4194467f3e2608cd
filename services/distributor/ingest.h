/*
 * ingest.h - the legacy `POST /ingest` protocol (reference/pyroscope-api.md
 * §6.1): query parameters, label derivation and the text formats.
 *
 * Everything here turns one /ingest request into the same thing the push
 * API yields: series labels plus a decoded pprof, which then go through the
 * common distributor pipeline (distributor.h).
 */
#ifndef FX_DIST_INGEST_H
#define FX_DIST_INGEST_H

#include <stdint.h>

#include "core/core.h"
#include "core/mem.h"
#include "model/labels.h"
#include "pprof/builder.h"
#include "pprof/pprof.h"

typedef enum ingest_format {
    INGEST_FORMAT_FOLDED,   /* "groups": `a;b;c 12` lines (default) */
    INGEST_FORMAT_LINES,    /* one stack per line, each counts 1 */
    INGEST_FORMAT_PPROF,    /* raw body is a pprof (gzipped or plain) */
    INGEST_FORMAT_MULTIPART /* multipart/form-data with a `profile` part */
} ingest_format_t;

typedef struct ingest_params {
    const char *app;         /* app name from `name`, without labels */
    fx_labels_t labels;      /* labels from `name` (arena) */
    int64_t from_ns, until_ns;
    int64_t sample_rate;     /* default 100 */
    const char *spy_name;    /* default "unknown" */
    ingest_format_t format;
} ingest_params_t;

/* Looks up a query parameter; supplied by the HTTP layer. */
typedef const char *(*ingest_query_fn)(void *req, const char *name);

/* Parses the query parameters of one /ingest request. content_type selects
 * multipart when there is no `format`. Strings come from a. Unsupported
 * formats (trie, tree, jfr, speedscope) fail with FX_EINVAL naming them. */
int ingest_parse_params(ingest_query_fn query, void *req, const char *content_type, int64_t now_ns,
                        fx_arena_t *a, ingest_params_t *out, fx_err_t *err);

/* Parses `app{k=v,k2=v2}` (braces optional). */
int ingest_parse_name(const char *name, fx_arena_t *a, const char **app, fx_labels_t *labels,
                      fx_err_t *err);

/* Series labels for a pprof pushed through /ingest: the `name` labels
 * (names starting "__" dropped except __session_id__), service_name (app
 * name, unless given), pyroscope_spy, __delta__=false, and __name__
 * inferred from the sample types. */
fx_labels_t ingest_pprof_labels(const ingest_params_t *params, const fx_pprof_t *p, fx_arena_t *a);

/* Converts a folded/lines body into a one-sample-type pprof (built in b) and
 * its series labels. The app name's last dotted suffix picks the profile
 * type (.cpu by default); cpu/wall values are scaled to nanoseconds by
 * 1e9/sampleRate. */
int ingest_text_to_pprof(const ingest_params_t *params, const char *body, size_t len,
                         fx_pprof_builder_t *b, fx_arena_t *a, fx_labels_t *labels,
                         fx_pprof_t **out, fx_err_t *err);

/* Applies a multipart `sample_type_config` JSON (sample type -> {units,
 * display-name, ...}) to p in place: display-name renames, units overrides
 * the unit. New strings are appended from a. *changed is set to 1 when a
 * sample type was changed (p no longer matches its encoded bytes). */
int ingest_apply_sample_type_config(fx_pprof_t *p, const char *json, size_t len, fx_arena_t *a,
                                    int *changed, fx_err_t *err);

#endif
