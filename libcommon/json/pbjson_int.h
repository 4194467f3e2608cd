/*
 * pbjson_int.h - internals shared by the pbjson files: JSON field names,
 * map-entry recognition, UTF-8 checks, and the decoder's state with its
 * lexer (pbjson_lex.c) and scalar readers (pbjson_scalar.c). Internal to
 * libcommon/json.
 */
#ifndef FX_PBJSON_INT_H
#define FX_PBJSON_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <protobuf-c/protobuf-c.h>

#include "core/buf.h"
#include "core/core.h"
#include "json/pbjson.h"

/* Appends the JSON name of a proto field name (protoc's ToJsonName: drop
 * each '_' and upper-case the character after it; nothing else changes). */
void fx__pbjson_put_name(fx_buf_t *b, const char *proto_name);

/* Whether key[0..n) is the JSON name of proto_name. */
int fx__pbjson_name_is(const char *proto_name, const char *key, size_t n);

/* Whether field (of message desc) is a map field. protobuf-c has no map
 * flag: a map is a repeated field of a nested message that protoc generated
 * as `<desc>.<FieldName>Entry` with exactly `key = 1` and `value = 2`, the
 * key of an integral, bool or string type. */
int fx__pbjson_is_map(const ProtobufCMessageDescriptor *desc, const ProtobufCFieldDescriptor *field);

/* --- decoder state ------------------------------------------------------------ */

/* One step of the field path, rendered only when an error is reported. */
typedef struct fx_pbdec_step {
    const char *name;  /* proto field name, or NULL for an index or key step */
    size_t index;      /* array index */
    char key[24];      /* map key (truncated), when is_key */
    int is_key;
} fx_pbdec_step_t;

typedef struct fx_pbdec {
    const char *start, *p, *end;
    ProtobufCAllocator *alloc;
    fx_err_t *err;
    fx_buf_t scratch;  /* unescaped string text */
    int depth;
    int npath;
    fx_pbdec_step_t path[2 * FX_PBJSON_MAX_DEPTH + 8];
} fx_pbdec_t;

/* What the value readers return besides FX_EINVAL. */
enum { FX__DEC_SET = 0, FX__DEC_SKIPPED = 1 /* unknown enum name: leave unset */ };

static inline void fx__dec_ws(fx_pbdec_t *d)
{
    while (d->p < d->end && (*d->p == ' ' || *d->p == '\n' || *d->p == '\r' || *d->p == '\t'))
        d->p++;
}

static inline int fx__dec_peek(fx_pbdec_t *d, char c)
{
    fx__dec_ws(d);
    return d->p < d->end && *d->p == c;
}

static inline int fx__dec_literal(fx_pbdec_t *d, const char *lit, size_t n)
{
    if ((size_t)(d->end - d->p) < n || memcmp(d->p, lit, n) != 0)
        return 0;
    d->p += n;
    return 1;
}

/* Sets d->err to FX_EINVAL with the field path and the message; returns FX_EINVAL. */
int fx__dec_fail(fx_pbdec_t *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "invalid JSON at byte N: expected <what>" (or "unexpected end of input"). */
int fx__dec_syntax(fx_pbdec_t *d, const char *what);
/* What the value at d->p is ("a string", "an array"...), for messages. */
const char *fx__dec_kind(const fx_pbdec_t *d);
void fx__dec_push_field(fx_pbdec_t *d, const ProtobufCFieldDescriptor *f);
void fx__dec_push_index(fx_pbdec_t *d, size_t i);
void fx__dec_push_key(fx_pbdec_t *d, const char *k, size_t n);

/* From d->alloc; aborts on out-of-memory like fx_malloc. */
void *fx__dec_alloc(fx_pbdec_t *d, size_t n);
void fx__dec_free(fx_pbdec_t *d, void *p);

/* Reads the string at d->p (which is '"'). *s and *n get its decoded text:
 * a range of the input when it has no escapes, else d->scratch (valid until
 * the next string is read). *has_nul is set if it contains U+0000. */
int fx__dec_read_string(fx_pbdec_t *d, const char **s, size_t *n, int *has_nul);
/* Counts one more level of nesting; fails past FX_PBJSON_MAX_DEPTH. */
int fx__dec_enter(fx_pbdec_t *d);
/* Skips one value (of an unknown field), still checking its syntax. */
int fx__dec_skip_value(fx_pbdec_t *d);

/* Reads a value of a non-message field f at d->p (not at end) into member.
 * Returns FX__DEC_SET, FX__DEC_SKIPPED or FX_EINVAL. */
int fx__dec_read_scalar(fx_pbdec_t *d, const ProtobufCFieldDescriptor *f, void *member);
/* Stores integer text s[0..n) (a JSON number or a string's content) as type t. */
int fx__dec_store_int(fx_pbdec_t *d, ProtobufCType t, const char *s, size_t n, void *member);
/* A NUL-terminated copy of s[0..n) from the allocator. */
char *fx__dec_dup_text(fx_pbdec_t *d, const char *s, size_t n);

#endif
