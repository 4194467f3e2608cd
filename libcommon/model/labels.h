/*
 * labels.h - label sets: the identity of a series.
 *
 * fx_labels_t is a borrowed view: an array of name/value pointers whose
 * memory belongs to whoever built it (usually a request arena). Functions
 * here never free. A "sorted" set is ordered by name, bytewise, with unique
 * names - the canonical form every series key, hash and token is built from.
 */
#ifndef FX_LABELS_H
#define FX_LABELS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/core.h"
#include "core/mem.h"

typedef struct fx_label {
    const char *name;
    const char *value;
} fx_label_t;

typedef struct fx_labels {
    fx_label_t *v;
    size_t len;
} fx_labels_t;

/* Reserved names (reference/pyroscope-api.md §7). */
#define FX_LABEL_NAME "__name__"
#define FX_LABEL_PROFILE_TYPE "__profile_type__"
#define FX_LABEL_TYPE "__type__"
#define FX_LABEL_UNIT "__unit__"
#define FX_LABEL_PERIOD_TYPE "__period_type__"
#define FX_LABEL_PERIOD_UNIT "__period_unit__"
#define FX_LABEL_DELTA "__delta__"
#define FX_LABEL_SERVICE_NAME_PRIVATE "__service_name__"
#define FX_LABEL_SERVICE_NAME "service_name"

/* Sorts by name (stable for equal names, so callers can detect duplicates). */
void fx_labels_sort(fx_labels_t *l);
/* Order of label sets: pair by pair, by name then value; a prefix first.
 * 0 = the same labels. */
int fx_labels_cmp(const fx_labels_t *a, const fx_labels_t *b);
/* Value of name or NULL. Linear scan; sets are small. */
const char *fx_labels_get(const fx_labels_t *l, const char *name);
/* Copies l into a with room for `extra` more labels (a->len unchanged). */
fx_labels_t fx_labels_copy(fx_arena_t *a, const fx_labels_t *l, size_t extra);
/* Sets name=value (replacing or appending; the array must have room, see
 * fx_labels_copy). Strings are borrowed. */
void fx_labels_set(fx_labels_t *l, const char *name, const char *value);
/* Removes name if present. */
void fx_labels_del(fx_labels_t *l, const char *name);

/* Appends `{a="x", b="y"}` with Go-style quoted values (Pyroscope's
 * LabelPairsString) to out. */
void fx_labels_format(const fx_labels_t *l, fx_buf_t *out);
/* Stable 64-bit fingerprint of a sorted set (FNV-1a over names and values
 * with separators). Stable across versions: it may be persisted. */
uint64_t fx_labels_fingerprint(const fx_labels_t *l);
/* Ring token: FNV-1 32 over the tenant bytes, then over fx_labels_format of
 * the sorted set (Pyroscope's TokenFor). */
uint32_t fx_labels_token(const char *tenant, const fx_labels_t *l);

/* Validation limits (reference §7 ValidateLabels). */
typedef struct fx_label_limits {
    size_t max_names;        /* max_label_names_per_series */
    size_t max_name_len;     /* max_label_name_length */
    size_t max_value_len;    /* max_label_value_length */
    int allow_utf8_names;    /* disable_label_sanitization */
} fx_label_limits_t;

/* Validates a series label set and sorts it. Unless utf8 names are allowed,
 * names must match [A-Za-z_.][A-Za-z0-9_.]* and dots become '_' (rewritten
 * copies come from a). Fails with FX_EINVAL naming the label and rule. */
int fx_labels_validate(fx_labels_t *l, const fx_label_limits_t *lim, fx_arena_t *a, fx_err_t *err);

/* 1 if s is a legacy Prometheus label name [a-zA-Z_][a-zA-Z0-9_]*. */
int fx_label_name_is_legacy(const char *s);

#endif
