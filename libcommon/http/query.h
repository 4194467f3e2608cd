/*
 * query.h - percent-decoding and query-string parsing.
 *
 * Query strings are split on '&', each pair on its first '=', and names and
 * values are decoded as application/x-www-form-urlencoded ('+' is a space,
 * %XX a byte), as Go's url.ParseQuery does. Unlike Go, which silently drops
 * a pair with a bad escape, a malformed escape ("%", "%4", "%zz") or an
 * escaped NUL ("%00") is an error, so the user learns why a parameter seems
 * ignored. Empty pairs ("a=1&&b=2") are skipped; "a" alone is a = "".
 */
#ifndef FX_HTTP_QUERY_H
#define FX_HTTP_QUERY_H

#include <stddef.h>

#include "core/core.h"
#include "core/mem.h"

typedef struct fx_query_param {
    const char *name;   /* decoded, NUL-terminated, in the arena */
    const char *value;  /* decoded, NUL-terminated, in the arena */
    size_t value_len;
} fx_query_param_t;

/* Parameters in the order they appear; all memory in the arena. */
typedef struct fx_query {
    fx_query_param_t *params;
    size_t n;
} fx_query_t;

/*
 * Decodes len bytes of s into out (which needs len + 1 bytes; the result is
 * NUL-terminated and never longer than the input) and stores the decoded
 * length in *out_len. plus_is_space: 1 for query strings, 0 for paths.
 * FX_OK, or FX_EINVAL with err naming the offset of the bad escape.
 */
int fx_url_decode(const char *s, size_t len, int plus_is_space, char *out, size_t *out_len,
                  fx_err_t *err);

/* Parses a raw query string (without the '?') of len bytes into q; arena
 * holds the result. FX_OK or FX_EINVAL with err saying which parameter is
 * malformed. */
int fx_query_parse(const char *s, size_t len, fx_arena_t *arena, fx_query_t *q, fx_err_t *err);

/* First value of name, or NULL when absent. */
const char *fx_query_get(const fx_query_t *q, const char *name);

/* Every value of name in order; *n gets the count. The array is allocated
 * in arena (NULL when n == 0). */
const char **fx_query_get_all(const fx_query_t *q, const char *name, fx_arena_t *arena, size_t *n);

#endif
