/*
 * internal.h - shared by the files of libcommon/config only.
 */
#ifndef FX_CONFIG_INTERNAL_H
#define FX_CONFIG_INTERNAL_H

#include "config/config.h"

/* One YAML key a walk may meet: an option (opt, base) or a section (sec). */
typedef struct fx__cfgkey {
    char *path;                     /* full dotted YAML path */
    const fx_opt_t *opt;
    void *base;
    const fx_config_section_t *sec;
    size_t idx;                     /* bit in the *set mask */
} fx__cfgkey_t;

/* Applies map node (found at YAML path prefix, NULL = root) against keys.
 * where is the displayed prefix for messages (NULL = prefix). */
int fx__config_walk(const fx__cfgkey_t *keys, size_t n, const fx_yaml_node_t *node,
                    const char *prefix, const char *where, const char *file, uint64_t *set,
                    fx_err_t *err);

/* The candidate closest to s by edit distance if it is close enough to be a
 * likely typo, else NULL. */
const char *fx__config_suggest(const char *s, const char *const *cands, size_t n);

#endif
