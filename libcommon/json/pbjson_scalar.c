/*
 * pbjson_scalar.c - the JSON decoder's readers for non-message values:
 * integers (from numbers or strings, exact), floats, bools, enums, strings
 * and base64 bytes.
 */
#include "json/base64.h"
#include "json/jsonnum.h"
#include "json/pbjson_int.h"

#include <string.h>

static const char *int_type_name(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32: return "int32";
    case PROTOBUF_C_TYPE_SINT32: return "sint32";
    case PROTOBUF_C_TYPE_SFIXED32: return "sfixed32";
    case PROTOBUF_C_TYPE_UINT32: return "uint32";
    case PROTOBUF_C_TYPE_FIXED32: return "fixed32";
    case PROTOBUF_C_TYPE_INT64: return "int64";
    case PROTOBUF_C_TYPE_SINT64: return "sint64";
    case PROTOBUF_C_TYPE_SFIXED64: return "sfixed64";
    case PROTOBUF_C_TYPE_UINT64: return "uint64";
    case PROTOBUF_C_TYPE_FIXED64: return "fixed64";
    default: return "integer";
    }
}

/* Converts integer text (a JSON number, or the content of a JSON string)
 * for field type t and stores it at member. */
int fx__dec_store_int(fx_pbdec_t *d, ProtobufCType t, const char *s, size_t n, void *member)
{
    int is_signed = 1, bits = 64;
    uint64_t v;

    switch (t) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        bits = 32;
        break;
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
        bits = 32;
        is_signed = 0;
        break;
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
        is_signed = 0;
        break;
    default:
        break;
    }
    switch (fx_json_to_int(s, n, is_signed, bits, &v)) {
    case FX_JSONNUM_OK:
        break;
    case FX_JSONNUM_NOTINT:
        return fx__dec_fail(d, "%.*s is not an integer", (int)FX_MIN(n, 64), s);
    case FX_JSONNUM_RANGE:
        return fx__dec_fail(d, "%.*s is out of range for %s", (int)FX_MIN(n, 64), s,
                    t == PROTOBUF_C_TYPE_ENUM ? "an enum" : int_type_name(t));
    default:
        return fx__dec_fail(d, "\"%.*s\" is not a number", (int)FX_MIN(n, 64), s);
    }
    if (bits == 32) {
        uint32_t v32 = (uint32_t)v;
        memcpy(member, &v32, 4);
    } else {
        memcpy(member, &v, 8);
    }
    return FX__DEC_SET;
}

static int read_int(fx_pbdec_t *d, ProtobufCType t, void *member)
{
    const char *s;
    size_t n;
    int nul, rc;

    if (*d->p == '"') {
        if ((rc = fx__dec_read_string(d, &s, &n, &nul)))
            return rc;
        return fx__dec_store_int(d, t, s, n, member);
    }
    n = fx_json_scan_number(d->p, d->end);
    if (!n)
        return fx__dec_fail(d, "expected %s (a number or a numeric string), got %s", int_type_name(t),
                    fx__dec_kind(d));
    s = d->p;
    d->p += n;
    return fx__dec_store_int(d, t, s, n, member);
}

static int read_float(fx_pbdec_t *d, ProtobufCType t, void *member)
{
    int is_float = t == PROTOBUF_C_TYPE_FLOAT, nul, rc;
    const char *s;
    size_t n;
    double v;

    if (*d->p == '"') {
        if ((rc = fx__dec_read_string(d, &s, &n, &nul)))
            return rc;
        if (n == 3 && memcmp(s, "NaN", 3) == 0) {
            v = __builtin_nan("");
            goto store;
        }
        if (n == 8 && memcmp(s, "Infinity", 8) == 0) {
            v = __builtin_inf();
            goto store;
        }
        if (n == 9 && memcmp(s, "-Infinity", 9) == 0) {
            v = -__builtin_inf();
            goto store;
        }
    } else {
        n = fx_json_scan_number(d->p, d->end);
        if (!n)
            return fx__dec_fail(d, "expected a %s (a number, \"NaN\", \"Infinity\" or \"-Infinity\"), got %s",
                        is_float ? "float" : "double", fx__dec_kind(d));
        s = d->p;
        d->p += n;
    }
    switch (fx_json_to_double(s, n, is_float, &v)) {
    case FX_JSONNUM_OK:
        break;
    case FX_JSONNUM_RANGE:
        return fx__dec_fail(d, "%.*s is out of range for a %s", (int)FX_MIN(n, 64), s,
                    is_float ? "float" : "double");
    default:
        return fx__dec_fail(d, "\"%.*s\" is not a number", (int)FX_MIN(n, 64), s);
    }
store:
    if (is_float) {
        float f = (float)v;
        memcpy(member, &f, 4);
    } else {
        memcpy(member, &v, 8);
    }
    return FX__DEC_SET;
}

static int read_enum(fx_pbdec_t *d, const ProtobufCFieldDescriptor *f, void *member)
{
    const ProtobufCEnumDescriptor *ed = f->descriptor;
    const char *s;
    size_t n;
    int nul, rc;

    if (*d->p != '"') {
        if (fx_json_scan_number(d->p, d->end) == 0)
            return fx__dec_fail(d, "expected an enum name or number, got %s", fx__dec_kind(d));
        return read_int(d, PROTOBUF_C_TYPE_ENUM, member);
    }
    if ((rc = fx__dec_read_string(d, &s, &n, &nul)))
        return rc;
    for (unsigned i = 0; ed && i < ed->n_values; i++) {
        const char *name = ed->values[i].name;
        if (strlen(name) == n && memcmp(name, s, n) == 0) {
            int v = ed->values[i].value;
            memcpy(member, &v, sizeof v);
            return FX__DEC_SET;
        }
    }
    /* connect-go decodes with DiscardUnknown: an unknown name leaves the
     * field unset instead of failing the request. */
    return FX__DEC_SKIPPED;
}

/* Copies text into a NUL-terminated string from the allocator. */
char *fx__dec_dup_text(fx_pbdec_t *d, const char *s, size_t n)
{
    char *p = fx__dec_alloc(d, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

static int read_string_field(fx_pbdec_t *d, char **member)
{
    const char *s;
    size_t n;
    int nul, rc;

    if (*d->p != '"')
        return fx__dec_fail(d, "expected a string, got %s", fx__dec_kind(d));
    if ((rc = fx__dec_read_string(d, &s, &n, &nul)))
        return rc;
    if (nul)
        return fx__dec_fail(d, "strings with U+0000 are not supported");
    *member = fx__dec_dup_text(d, s, n);
    return FX__DEC_SET;
}

static int read_bytes(fx_pbdec_t *d, ProtobufCBinaryData *member)
{
    const char *s;
    size_t n;
    int nul, rc;

    if (*d->p != '"')
        return fx__dec_fail(d, "expected a base64 string, got %s", fx__dec_kind(d));
    if ((rc = fx__dec_read_string(d, &s, &n, &nul)))
        return rc;
    uint8_t *buf = fx__dec_alloc(d, fx_base64_decoded_max(n));
    long len = fx_base64_decode(s, n, buf);
    if (len < 0) {
        fx__dec_free(d, buf);
        return fx__dec_fail(d, "invalid base64");
    }
    if (len == 0) {
        fx__dec_free(d, buf);
        buf = NULL;
    }
    member->data = buf;
    member->len = (size_t)len;
    return FX__DEC_SET;
}

int fx__dec_read_scalar(fx_pbdec_t *d, const ProtobufCFieldDescriptor *f, void *member)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
        return read_int(d, f->type, member);
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
        return read_float(d, f->type, member);
    case PROTOBUF_C_TYPE_BOOL:
        if (fx__dec_literal(d, "true", 4))
            *(protobuf_c_boolean *)member = 1;
        else if (fx__dec_literal(d, "false", 5))
            *(protobuf_c_boolean *)member = 0;
        else
            return fx__dec_fail(d, "expected true or false, got %s", fx__dec_kind(d));
        return FX__DEC_SET;
    case PROTOBUF_C_TYPE_ENUM:
        return read_enum(d, f, member);
    case PROTOBUF_C_TYPE_STRING:
        return read_string_field(d, member);
    case PROTOBUF_C_TYPE_BYTES:
        return read_bytes(d, member);
    default:
        break;
    }
    return fx__dec_fail(d, "unsupported field type %d", (int)f->type);
}
