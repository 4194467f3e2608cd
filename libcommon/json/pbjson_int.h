/*
 * pbjson_int.h - helpers shared by the pbjson encoder and decoder: JSON field
 * names and map-entry recognition. Internal to libcommon/json.
 */
#ifndef FX_PBJSON_INT_H
#define FX_PBJSON_INT_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

#include "core/buf.h"

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

#endif
