/*
 * pbjson_enc.c - protobuf-c message -> proto3 JSON, written straight into an
 * fx_buf_t.
 *
 * No intermediate tree: a FlameGraph response holds tens of thousands of
 * int64 values, so repeated scalars reserve room for the whole array once
 * and format digits in place.
 */
#include "json/pbjson.h"
#include "json/base64.h"
#include "json/jsonnum.h"
#include "json/pbjson_int.h"
#include "core/utf8.h"

#include <string.h>

#define MEMBER(m, off, type) (*(const type *)((const char *)(m) + (off)))

static void enc_message(fx_buf_t *b, const ProtobufCMessage *m);

/* Writes s as a JSON string the way protojson does (only '"', '\\' and
 * control characters escaped), copying runs of plain bytes with memcpy.
 * Invalid UTF-8 becomes U+FFFD: symbol names from binaries are not always
 * UTF-8 and the response must stay valid JSON. core's fx_buf_json_str does
 * neither, hence this one. */
static void enc_string(fx_buf_t *b, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = (const uint8_t *)str, *end = p + n, *run = p;

    fx_buf_reserve(b, n + 2);
    b->data[b->len++] = '"';
    while (p < end) {
        uint8_t c = *p;
        if (FX_LIKELY(c >= 0x20 && c < 0x80 && c != '"' && c != '\\')) {
            p++;
            continue;
        }
        if (c >= 0x80) {
            size_t l = fx_utf8_len(p, (size_t)(end - p));
            if (l) {
                p += l;
                continue;
            }
        }
        fx_buf_append(b, run, (size_t)(p - run));
        switch (c) {
        case '"': fx_buf_append(b, "\\\"", 2); break;
        case '\\': fx_buf_append(b, "\\\\", 2); break;
        case '\b': fx_buf_append(b, "\\b", 2); break;
        case '\f': fx_buf_append(b, "\\f", 2); break;
        case '\n': fx_buf_append(b, "\\n", 2); break;
        case '\r': fx_buf_append(b, "\\r", 2); break;
        case '\t': fx_buf_append(b, "\\t", 2); break;
        default:
            if (c < 0x20) {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                fx_buf_append(b, e, 6);
            } else {
                fx_buf_append(b, "\xef\xbf\xbd", 3); /* U+FFFD */
            }
        }
        run = ++p;
    }
    fx_buf_append(b, run, (size_t)(p - run));
    fx_buf_putc(b, '"');
}

static void enc_cstring(fx_buf_t *b, const char *s)
{
    enc_string(b, s ? s : "", s ? strlen(s) : 0);
}

static void enc_bytes(fx_buf_t *b, const ProtobufCBinaryData *bd)
{
    fx_buf_putc(b, '"');
    fx_base64_encode(b, bd->data, bd->len);
    fx_buf_putc(b, '"');
}

static void enc_enum(fx_buf_t *b, const ProtobufCEnumDescriptor *ed, int v)
{
    const ProtobufCEnumValue *ev = ed ? protobuf_c_enum_descriptor_get_value(ed, v) : NULL;
    if (ev) {
        enc_cstring(b, ev->name);
    } else {
        fx_buf_reserve(b, 12);
        b->len = (size_t)((uint8_t *)fx_json_i64((char *)b->data + b->len, v) - b->data);
    }
}

/* Writes one value of field f stored at member (a singular field or one
 * element of a repeated one). */
static void enc_value(fx_buf_t *b, const ProtobufCFieldDescriptor *f, const void *member)
{
    char *o;
    fx_buf_reserve(b, 24);
    o = (char *)b->data + b->len;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        o = fx_json_i64(o, *(const int32_t *)member);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        o = fx_json_u64(o, *(const uint32_t *)member);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        *o++ = '"';
        o = fx_json_i64(o, *(const int64_t *)member);
        *o++ = '"';
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        *o++ = '"';
        o = fx_json_u64(o, *(const uint64_t *)member);
        *o++ = '"';
        break;
    case PROTOBUF_C_TYPE_BOOL:
        if (*(const protobuf_c_boolean *)member) {
            memcpy(o, "true", 4);
            o += 4;
        } else {
            memcpy(o, "false", 5);
            o += 5;
        }
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        fx_json_put_double(b, *(const float *)member, 1);
        return;
    case PROTOBUF_C_TYPE_DOUBLE:
        fx_json_put_double(b, *(const double *)member, 0);
        return;
    case PROTOBUF_C_TYPE_ENUM:
        enc_enum(b, f->descriptor, *(const int *)member);
        return;
    case PROTOBUF_C_TYPE_STRING:
        enc_cstring(b, *(char *const *)member);
        return;
    case PROTOBUF_C_TYPE_BYTES:
        enc_bytes(b, member);
        return;
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)member;
        if (sub)
            enc_message(b, sub);
        else
            fx_buf_append(b, "{}", 2);
        return;
    }
    }
    b->len = (size_t)((uint8_t *)o - b->data);
}

/* Map keys are always JSON strings. */
static void enc_map_key(fx_buf_t *b, const ProtobufCFieldDescriptor *kf, const void *member)
{
    switch (kf->type) {
    case PROTOBUF_C_TYPE_STRING:
        enc_cstring(b, *(char *const *)member);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        fx_buf_puts(b, *(const protobuf_c_boolean *)member ? "\"true\"" : "\"false\"");
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        enc_value(b, kf, member); /* already quoted */
        break;
    default:
        fx_buf_putc(b, '"');
        enc_value(b, kf, member);
        fx_buf_putc(b, '"');
    }
}

static void enc_map(fx_buf_t *b, const ProtobufCFieldDescriptor *f, size_t n, void *const *arr)
{
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
    int first = 1;
    fx_buf_putc(b, '{');
    for (size_t i = 0; i < n; i++) {
        const ProtobufCMessage *e = arr[i];
        if (!e)
            continue;
        if (!first)
            fx_buf_putc(b, ',');
        first = 0;
        enc_map_key(b, kf, (const char *)e + kf->offset);
        fx_buf_putc(b, ':');
        enc_value(b, vf, (const char *)e + vf->offset);
    }
    fx_buf_putc(b, '}');
}

/* Arrays of 64-bit integers are what flame graphs are made of: one reserve,
 * then digits straight into the buffer. */
static void enc_repeated(fx_buf_t *b, const ProtobufCFieldDescriptor *f, size_t n, const void *arr)
{
    size_t i;
    char *o;

    fx_buf_putc(b, '[');
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        fx_buf_reserve(b, n * 24);
        o = (char *)b->data + b->len;
        for (i = 0; i < n; i++) {
            *o++ = '"';
            o = fx_json_i64(o, ((const int64_t *)arr)[i]);
            *o++ = '"';
            *o++ = ',';
        }
        b->len = (size_t)((uint8_t *)o - b->data) - 1; /* drop the last ',' */
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        fx_buf_reserve(b, n * 24);
        o = (char *)b->data + b->len;
        for (i = 0; i < n; i++) {
            *o++ = '"';
            o = fx_json_u64(o, ((const uint64_t *)arr)[i]);
            *o++ = '"';
            *o++ = ',';
        }
        b->len = (size_t)((uint8_t *)o - b->data) - 1;
        break;
    default: {
        size_t sz;
        switch (f->type) {
        case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
        case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_FLOAT:
        case PROTOBUF_C_TYPE_ENUM:
            sz = 4;
            break;
        case PROTOBUF_C_TYPE_DOUBLE:
            sz = 8;
            break;
        case PROTOBUF_C_TYPE_BOOL:
            sz = sizeof(protobuf_c_boolean);
            break;
        case PROTOBUF_C_TYPE_BYTES:
            sz = sizeof(ProtobufCBinaryData);
            break;
        default: /* string, message */
            sz = sizeof(void *);
        }
        for (i = 0; i < n; i++) {
            if (i)
                fx_buf_putc(b, ',');
            enc_value(b, f, (const char *)arr + i * sz);
        }
    }
    }
    fx_buf_putc(b, ']');
}

/* Whether a singular field is present in the JSON sense: proto3 implicit
 * presence omits zero values; a oneof member or a proto2 optional with its
 * has_ flag is present whatever its value. */
static int is_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    const void *member = (const char *)m + f->offset;

    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return MEMBER(m, f->quantifier_offset, uint32_t) == f->id;
    if (f->label == PROTOBUF_C_LABEL_REQUIRED)
        return 1;
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
        if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE) {
            const void *p = *(const void *const *)member;
            return p && p != f->default_value;
        }
        return MEMBER(m, f->quantifier_offset, protobuf_c_boolean);
    }
    switch (f->type) { /* PROTOBUF_C_LABEL_NONE: proto3 */
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_ENUM:
        return *(const uint32_t *)member != 0;
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
        return *(const uint64_t *)member != 0;
    case PROTOBUF_C_TYPE_FLOAT: { /* -0.0 is not the default: compare bits */
        uint32_t bits;
        memcpy(&bits, member, 4);
        return bits != 0;
    }
    case PROTOBUF_C_TYPE_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, member, 8);
        return bits != 0;
    }
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *)member != 0;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)member;
        return s && *s;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)member)->len != 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(const void *const *)member != NULL;
    }
    return 0;
}

static void enc_message(fx_buf_t *b, const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    int first = 1;

    fx_buf_putc(b, '{');
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *member = (const char *)m + f->offset;
        size_t n = 0;

        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            n = MEMBER(m, f->quantifier_offset, size_t);
            if (!n)
                continue;
        } else if (!is_present(m, f)) {
            continue;
        }
        if (!first)
            fx_buf_putc(b, ',');
        first = 0;
        fx_buf_putc(b, '"');
        fx__pbjson_put_name(b, f->name);
        fx_buf_append(b, "\":", 2);

        if (f->label != PROTOBUF_C_LABEL_REPEATED)
            enc_value(b, f, member);
        else if (fx__pbjson_is_map(d, f))
            enc_map(b, f, n, *(void *const *)member);
        else
            enc_repeated(b, f, n, *(const void *const *)member);
    }
    fx_buf_putc(b, '}');
}

void fx_pbjson_encode(const ProtobufCMessage *msg, fx_buf_t *out)
{
    enc_message(out, msg);
}
