/*
 * pbjson_dec.c - proto3 JSON -> protobuf-c message.
 *
 * A hand-written recursive-descent parser that fills the message while it
 * reads, with no intermediate tree: integers are converted from their digits
 * (exact for all of uint64, no double detour as with jansson), strings are
 * validated as UTF-8 once, and an error names the field path.
 *
 * This file holds messages, repeated fields and maps; pbjson_lex.c the
 * lexer and error paths, pbjson_scalar.c the scalar values.
 *
 * Memory: everything comes from the caller's allocator. The message under
 * construction is kept valid for protobuf_c_message_free_unpacked at every
 * step (strings and sub-messages are attached as soon as they exist,
 * repeated fields are collected in a temporary vector that is freed element
 * by element on error), so an error path only has to free the root.
 */
#include "json/pbjson.h"
#include "json/pbjson_int.h"
#include "core/mem.h"

#include <stdlib.h>
#include <string.h>

#define MEMBER_P(m, off) ((void *)((char *)(m) + (off)))

static void *heap_alloc(void *ctx, size_t n)
{
    (void)ctx;
    return fx_malloc(n);
}

static void heap_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

/* Same malloc/free as protobuf-c's default, so free_unpacked(msg, NULL) works. */
static ProtobufCAllocator heap_allocator = {heap_alloc, heap_free, NULL};

static int read_message(fx_pbdec_t *d, const ProtobufCMessageDescriptor *desc, ProtobufCMessage *m);

/*
 * Reads one value of field f into member (the field itself, an element slot
 * of a repeated field, or a map entry's value). Returns FX__DEC_SET,
 * FX__DEC_SKIPPED (an unknown enum name) or FX_EINVAL. A sub-message is
 * stored in *member before it is filled, so a failure leaves it reachable
 * for freeing.
 */
static int read_value(fx_pbdec_t *d, const ProtobufCFieldDescriptor *f, void *member)
{
    fx__dec_ws(d);
    if (d->p >= d->end)
        return fx__dec_syntax(d, "a value");
    if (f->type != PROTOBUF_C_TYPE_MESSAGE)
        return fx__dec_read_scalar(d, f, member);

    const ProtobufCMessageDescriptor *sd = f->descriptor;
    if (*d->p != '{')
        return fx__dec_fail(d, "expected an object, got %s", fx__dec_kind(d));
    ProtobufCMessage *sub = fx__dec_alloc(d, sd->sizeof_message);
    protobuf_c_message_init(sd, sub);
    *(ProtobufCMessage **)member = sub;
    int rc = read_message(d, sd, sub);
    return rc ? rc : FX__DEC_SET;
}

/* --- repeated fields and maps ------------------------------------------------ */

static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return sizeof(void *);
    }
}

/* Elements collected before the array's final size is known: a small
 * inline buffer first, the heap past it. */
typedef struct vec {
    uint8_t *data;
    size_t n, cap; /* elements */
    size_t size;   /* element size */
    _Alignas(16) uint8_t inline_buf[256];
} vec_t;

static void *vec_push(vec_t *v)
{
    if (v->n == v->cap) {
        size_t cap = v->cap * 2;
        if (v->data == v->inline_buf) {
            uint8_t *p = fx_malloc(cap * v->size);
            memcpy(p, v->data, v->n * v->size);
            v->data = p;
        } else {
            v->data = fx_realloc(v->data, cap * v->size);
        }
        v->cap = cap;
    }
    void *slot = v->data + v->n++ * v->size;
    memset(slot, 0, v->size);
    return slot;
}

/* Frees what the elements own (the error path) and the vector itself. */
static void vec_free(fx_pbdec_t *d, vec_t *v, ProtobufCType t, int owned)
{
    for (size_t i = 0; owned && i < v->n; i++) {
        void *slot = v->data + i * v->size;
        if (t == PROTOBUF_C_TYPE_STRING)
            fx__dec_free(d, *(char **)slot);
        else if (t == PROTOBUF_C_TYPE_BYTES)
            fx__dec_free(d, ((ProtobufCBinaryData *)slot)->data);
        else if (t == PROTOBUF_C_TYPE_MESSAGE && *(ProtobufCMessage **)slot)
            protobuf_c_message_free_unpacked(*(ProtobufCMessage **)slot, d->alloc);
    }
    if (v->data != v->inline_buf)
        free(v->data);
}

/* Moves the elements into an exact-size array from the allocator. */
static void vec_store(fx_pbdec_t *d, vec_t *v, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    void *arr = NULL;
    if (v->n) {
        arr = fx__dec_alloc(d, v->n * v->size);
        memcpy(arr, v->data, v->n * v->size);
    }
    *(void **)MEMBER_P(m, f->offset) = arr;
    *(size_t *)MEMBER_P(m, f->quantifier_offset) = v->n;
}

static int read_map_key(fx_pbdec_t *d, const ProtobufCFieldDescriptor *kf, void *member)
{
    const char *s;
    size_t n;
    int nul, rc;

    if ((rc = fx__dec_read_string(d, &s, &n, &nul)))
        return rc;
    fx__dec_push_key(d, s, n);
    switch (kf->type) {
    case PROTOBUF_C_TYPE_STRING:
        if (nul)
            return fx__dec_fail(d, "strings with U+0000 are not supported");
        *(char **)member = fx__dec_dup_text(d, s, n);
        return FX__DEC_SET;
    case PROTOBUF_C_TYPE_BOOL:
        if (n == 4 && memcmp(s, "true", 4) == 0)
            *(protobuf_c_boolean *)member = 1;
        else if (n == 5 && memcmp(s, "false", 5) == 0)
            *(protobuf_c_boolean *)member = 0;
        else
            return fx__dec_fail(d, "map key must be \"true\" or \"false\"");
        return FX__DEC_SET;
    default:
        return fx__dec_store_int(d, kf->type, s, n, member);
    }
}

/* A map field: a JSON object whose members become *Entry messages. */
static int read_map(fx_pbdec_t *d, const ProtobufCFieldDescriptor *f, ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
    vec_t v = {.size = sizeof(void *), .cap = 256 / sizeof(void *)};
    int rc;

    v.data = v.inline_buf;
    if (*d->p != '{') {
        rc = fx__dec_fail(d, "expected an object (a map), got %s", fx__dec_kind(d));
        goto out;
    }
    if ((rc = fx__dec_enter(d)))
        goto out;
    d->p++;
    if (fx__dec_peek(d, '}')) {
        d->p++;
        goto done;
    }
    for (;;) {
        if (!fx__dec_peek(d, '"')) {
            rc = fx__dec_syntax(d, "a string key");
            goto out;
        }
        ProtobufCMessage *e = fx__dec_alloc(d, ed->sizeof_message);
        protobuf_c_message_init(ed, e);
        *(ProtobufCMessage **)vec_push(&v) = e;
        int np = d->npath;
        if ((rc = read_map_key(d, kf, (char *)e + kf->offset)) < 0)
            goto out;
        if (!fx__dec_peek(d, ':')) {
            rc = fx__dec_syntax(d, "':'");
            goto out;
        }
        d->p++;
        fx__dec_ws(d);
        if (d->p < d->end && *d->p == 'n') {
            rc = fx__dec_fail(d, "null is not a valid map value");
            goto out;
        }
        if ((rc = read_value(d, vf, (char *)e + vf->offset)) < 0)
            goto out;
        d->npath = np;
        fx__dec_ws(d);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
            continue;
        }
        if (d->p < d->end && *d->p == '}') {
            d->p++;
            break;
        }
        rc = fx__dec_syntax(d, "',' or '}'");
        goto out;
    }
done:
    d->depth--;
    vec_store(d, &v, m, f);
    vec_free(d, &v, f->type, 0);
    return FX__DEC_SET;
out:
    vec_free(d, &v, f->type, 1);
    return rc;
}

static int read_repeated(fx_pbdec_t *d, const ProtobufCFieldDescriptor *f, ProtobufCMessage *m)
{
    vec_t v = {.size = elem_size(f->type)};
    int rc;

    v.data = v.inline_buf;
    v.cap = sizeof v.inline_buf / v.size;
    if (*d->p != '[') {
        rc = fx__dec_fail(d, "expected an array, got %s", fx__dec_kind(d));
        goto out;
    }
    if ((rc = fx__dec_enter(d)))
        goto out;
    d->p++;
    if (fx__dec_peek(d, ']')) {
        d->p++;
        goto done;
    }
    for (size_t i = 0;; i++) {
        fx__dec_push_index(d, i);
        fx__dec_ws(d);
        if (d->p < d->end && *d->p == 'n') {
            rc = fx__dec_fail(d, "null is not a valid array element");
            goto out;
        }
        void *slot = vec_push(&v);
        if ((rc = read_value(d, f, slot)) < 0)
            goto out;
        if (rc == FX__DEC_SKIPPED)
            v.n--;
        d->npath--;
        fx__dec_ws(d);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
            continue;
        }
        if (d->p < d->end && *d->p == ']') {
            d->p++;
            break;
        }
        rc = fx__dec_syntax(d, "',' or ']'");
        goto out;
    }
done:
    d->depth--;
    vec_store(d, &v, m, f);
    vec_free(d, &v, f->type, 0);
    return FX__DEC_SET;
out:
    vec_free(d, &v, f->type, 1);
    return rc;
}

/* --- messages ---------------------------------------------------------------- */

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *desc,
                                                  const char *key, size_t n)
{
    for (unsigned i = 0; i < desc->n_fields; i++)
        if (fx__pbjson_name_is(desc->fields[i].name, key, n))
            return &desc->fields[i];
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const char *name = desc->fields[i].name;
        if (strlen(name) == n && memcmp(name, key, n) == 0)
            return &desc->fields[i];
    }
    return NULL;
}

/* Reads one field's value (d->p after the ':'). */
static int read_field(fx_pbdec_t *d, const ProtobufCMessageDescriptor *desc,
                      const ProtobufCFieldDescriptor *f, ProtobufCMessage *m)
{
    int rc;
    void *member = MEMBER_P(m, f->offset);

    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return fx__pbjson_is_map(desc, f) ? read_map(d, f, m) : read_repeated(d, f, m);

    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *which = MEMBER_P(m, f->quantifier_offset);
        if (*which) {
            const ProtobufCFieldDescriptor *o = protobuf_c_message_descriptor_get_field(desc, *which);
            return fx__dec_fail(d, "oneof already set by field \"%s\"", o ? o->name : "?");
        }
        /* A string or message member is attached (and freeable) only once the
         * case says so, hence the case first; an unknown enum name undoes it. */
        *which = f->id;
        rc = read_value(d, f, member);
        if (rc == FX__DEC_SKIPPED)
            *which = 0;
        return rc;
    }
    rc = read_value(d, f, member);
    if (rc == FX__DEC_SET && f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
        f->type != PROTOBUF_C_TYPE_MESSAGE)
        *(protobuf_c_boolean *)MEMBER_P(m, f->quantifier_offset) = 1;
    return rc;
}

static int read_message(fx_pbdec_t *d, const ProtobufCMessageDescriptor *desc, ProtobufCMessage *m)
{
    uint64_t seen_small[4] = {0}, *seen = seen_small;
    const char *key;
    size_t klen;
    int nul, rc;

    if (desc->n_fields > 64 * FX_ARRAY_LEN(seen_small))
        seen = fx_calloc((desc->n_fields + 63) / 64, sizeof *seen);
    if ((rc = fx__dec_enter(d)))
        goto out;
    d->p++; /* '{' */
    if (fx__dec_peek(d, '}')) {
        d->p++;
        goto done;
    }
    for (;;) {
        if (!fx__dec_peek(d, '"')) {
            rc = fx__dec_syntax(d, "a string key");
            goto out;
        }
        if ((rc = fx__dec_read_string(d, &key, &klen, &nul)))
            goto out;
        const ProtobufCFieldDescriptor *f = find_field(desc, key, klen);
        if (!fx__dec_peek(d, ':')) {
            rc = fx__dec_syntax(d, "':'");
            goto out;
        }
        d->p++;
        if (!f) {
            /* connect-go discards unknown fields; so do we. */
            if ((rc = fx__dec_skip_value(d)))
                goto out;
        } else {
            size_t idx = (size_t)(f - desc->fields);
            fx__dec_push_field(d, f);
            if (seen[idx / 64] & (1ull << (idx % 64))) {
                rc = fx__dec_fail(d, "duplicate field");
                goto out;
            }
            seen[idx / 64] |= 1ull << (idx % 64);
            fx__dec_ws(d);
            if (d->p >= d->end) {
                rc = fx__dec_syntax(d, "a value");
                goto out;
            }
            if (fx__dec_literal(d, "null", 4)) {
                rc = FX_OK; /* null = unset, for every field kind */
            } else if ((rc = read_field(d, desc, f, m)) < 0) {
                goto out;
            }
            d->npath--;
        }
        fx__dec_ws(d);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
            continue;
        }
        if (d->p < d->end && *d->p == '}') {
            d->p++;
            break;
        }
        rc = fx__dec_syntax(d, "',' or '}'");
        goto out;
    }
done:
    d->depth--;
    rc = FX_OK;
out:
    if (seen != seen_small)
        free(seen);
    return rc;
}

int fx_pbjson_decode(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
                     ProtobufCAllocator *alloc, ProtobufCMessage **out, fx_err_t *err)
{
    fx_pbdec_t *d = fx_malloc(sizeof *d);
    ProtobufCMessage *m = NULL;
    int rc;

    d->start = d->p = json;
    d->end = json + len;
    d->alloc = alloc ? alloc : &heap_allocator;
    d->err = err;
    d->scratch = (fx_buf_t)FX_BUF_INIT;
    d->depth = 0;
    d->npath = 0;
    *out = NULL;

    fx__dec_ws(d);
    if (d->p >= d->end) {
        rc = fx_err_set(err, FX_EINVAL, "empty body: expected a JSON object");
        goto out;
    }
    if (*d->p != '{') {
        rc = fx__dec_fail(d, "expected a JSON object, got %s", fx__dec_kind(d));
        goto out;
    }
    m = fx__dec_alloc(d, desc->sizeof_message);
    protobuf_c_message_init(desc, m);
    if ((rc = read_message(d, desc, m)))
        goto out;
    fx__dec_ws(d);
    if (d->p < d->end) {
        rc = fx__dec_fail(d, "invalid JSON at byte %zu: unexpected data after the object",
                  (size_t)(d->p - d->start));
        goto out;
    }
    *out = m;
    m = NULL;
out:
    if (m)
        protobuf_c_message_free_unpacked(m, d->alloc);
    fx_buf_free(&d->scratch);
    free(d);
    return rc;
}
