/*
 * selector.h - Prometheus-style label selectors: `{a="x", b!="y", c=~"z.*",
 * d!~"w"}`, optionally preceded by a metric name (`process_cpu:cpu:...{...}`
 * in /pyroscope/render queries).
 *
 * Regexes are fully anchored as in Prometheus (`=~"a|b"` means ^(?:a|b)$),
 * compiled with PCRE2 (JIT when available) with a match limit so a hostile
 * pattern cannot spin forever. A label that is absent matches as the empty
 * string, so `{x!="a"}` and `{x=~".*"}` match series without x.
 *
 * Ownership: fx_selector_parse allocates; fx_selector_free releases. A
 * parsed selector is used by one thread at a time (it holds PCRE2 match
 * data); parse one per request.
 */
#ifndef FX_SELECTOR_H
#define FX_SELECTOR_H

#include <stddef.h>

#include "core/core.h"
#include "model/labels.h"

typedef enum fx_match_op {
    FX_MATCH_EQ,
    FX_MATCH_NEQ,
    FX_MATCH_RE,
    FX_MATCH_NRE,
} fx_match_op_t;

typedef struct fx_matcher {
    char *name;
    char *value;
    fx_match_op_t op;
    void *re; /* pcre2_code_8 for RE/NRE */
    void *md; /* pcre2_match_data_8 */
} fx_matcher_t;

typedef struct fx_selector {
    fx_matcher_t *m;
    size_t len, cap;
    char *metric; /* name before '{', or NULL */
} fx_selector_t;

/* Parses s (NUL-terminated). An empty string or "{}" matches everything.
 * On error err names the position and what was expected. */
int fx_selector_parse(const char *s, fx_selector_t *out, fx_err_t *err);
void fx_selector_free(fx_selector_t *sel);
/* Appends a matcher (value copied; regexes compiled). */
int fx_selector_add(fx_selector_t *sel, const char *name, fx_match_op_t op, const char *value,
                    fx_err_t *err);
/* 1 if value (NULL = label absent, treated as "") satisfies m. */
int fx_matcher_match(const fx_matcher_t *m, const char *value);
/* 1 if every matcher is satisfied by l. */
int fx_selector_match(const fx_selector_t *sel, const fx_labels_t *l);
/* The matcher for name with op EQ, or NULL (lets stores use an exact
 * lookup for `__profile_type__="..."`). */
const fx_matcher_t *fx_selector_find_eq(const fx_selector_t *sel, const char *name);
/* Appends the canonical text form ({a="x", b=~"y"}) to out. */
void fx_selector_format(const fx_selector_t *sel, fx_buf_t *out);

#endif
