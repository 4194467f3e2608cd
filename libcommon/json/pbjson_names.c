/* pbjson_names.c - proto3 JSON field names and map-entry recognition. */
#include "json/pbjson_int.h"

#include <string.h>

void fx__pbjson_put_name(fx_buf_t *b, const char *proto_name)
{
    size_t n = strlen(proto_name);
    fx_buf_reserve(b, n);
    uint8_t *o = b->data + b->len;
    int up = 0;
    for (const char *p = proto_name; *p; p++) {
        char c = *p;
        if (c == '_') {
            up = 1;
            continue;
        }
        if (up && c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        up = 0;
        *o++ = (uint8_t)c;
    }
    b->len = (size_t)(o - b->data);
}

int fx__pbjson_name_is(const char *proto_name, const char *key, size_t n)
{
    size_t i = 0;
    int up = 0;
    for (const char *p = proto_name; *p; p++) {
        char c = *p;
        if (c == '_') {
            up = 1;
            continue;
        }
        if (up && c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        up = 0;
        if (i >= n || key[i] != c)
            return 0;
        i++;
    }
    return i == n;
}

/* Whether s is protoc's MapEntryName(field): CamelCase with the first letter
 * and each letter after '_' upper-cased, then "Entry". */
static int is_entry_name(const char *s, const char *field)
{
    int up = 1;
    for (const char *p = field; *p; p++) {
        char c = *p;
        if (c == '_') {
            up = 1;
            continue;
        }
        if (up && c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        up = 0;
        if (*s++ != c)
            return 0;
    }
    return strcmp(s, "Entry") == 0;
}

int fx__pbjson_is_map(const ProtobufCMessageDescriptor *desc, const ProtobufCFieldDescriptor *field)
{
    if (field->label != PROTOBUF_C_LABEL_REPEATED || field->type != PROTOBUF_C_TYPE_MESSAGE)
        return 0;
    const ProtobufCMessageDescriptor *e = field->descriptor;
    if (!e || e->n_fields != 2 || e->fields[0].id != 1 || e->fields[1].id != 2 ||
        strcmp(e->fields[0].name, "key") != 0 || strcmp(e->fields[1].name, "value") != 0 ||
        e->fields[0].label == PROTOBUF_C_LABEL_REPEATED ||
        e->fields[1].label == PROTOBUF_C_LABEL_REPEATED)
        return 0;
    switch (e->fields[0].type) {
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_ENUM:
    case PROTOBUF_C_TYPE_MESSAGE:
        return 0;
    default:
        break;
    }
    /* protoc nests the entry in the message: "<pkg>.<Msg>.<Name>Entry" */
    size_t dn = strlen(desc->name);
    if (strncmp(e->name, desc->name, dn) != 0 || e->name[dn] != '.')
        return 0;
    return is_entry_name(e->name + dn + 1, field->name);
}
