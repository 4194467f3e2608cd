/*
 * multipart.h - a strict multipart/form-data parser (RFC 7578 / RFC 2046).
 *
 * Used by the legacy POST /ingest (pyroscope-go and old Node SDKs send the
 * pprof as a "profile" file part). Strict means: the boundary comes from the
 * Content-Type and must be 1-70 valid characters; lines end in CRLF; the
 * first delimiter comes first (a preamble is allowed, as RFC 2046 says);
 * every part has a Content-Disposition: form-data with a name; headers have
 * no folding; the closing delimiter "--boundary--" must be present (anything
 * after it, the epilogue, is ignored). Anything else is an FX_EINVAL with a
 * message that says where the body went wrong.
 */
#ifndef FX_HTTP_MULTIPART_H
#define FX_HTTP_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "core/mem.h"

#define FX_MULTIPART_MAX_PARTS 1000
#define FX_MULTIPART_MAX_HEADERS 32 /* per part */

typedef struct fx_mp_part {
    const char *name;          /* form field name (arena) */
    const char *filename;      /* file name (arena), NULL when not a file part */
    const char *content_type;  /* part's Content-Type (arena), NULL when absent */
    fx_slice_t body;           /* borrowed from the parsed input */
} fx_mp_part_t;

typedef struct fx_multipart {
    fx_mp_part_t *parts;       /* arena */
    size_t n;
} fx_multipart_t;

/* Extracts the boundary parameter of a multipart/form-data Content-Type
 * value into *boundary (arena, unquoted). FX_EINVAL when the type is not
 * multipart/form-data or the boundary is missing or invalid. */
int fx_multipart_boundary(const char *content_type, fx_arena_t *arena, const char **boundary,
                          fx_err_t *err);

/* Parses len bytes of body with the given Content-Type. Names and headers go
 * to arena; part bodies point into body, which must outlive *out. */
int fx_multipart_parse(const char *content_type, const uint8_t *body, size_t len,
                       fx_arena_t *arena, fx_multipart_t *out, fx_err_t *err);

/* First part named name, or NULL. */
const fx_mp_part_t *fx_multipart_get(const fx_multipart_t *mp, const char *name);

#endif
