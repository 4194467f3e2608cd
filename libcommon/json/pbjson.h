/*
 * pbjson.h - one generic codec between protobuf-c messages and proto3 JSON.
 *
 * Driven only by protobuf-c message descriptors, so every message of every
 * .proto under proto/ has a JSON form without per-message code. The mapping
 * is protojson's (what connect-go speaks for `application/json`):
 *
 *   - keys are lowerCamelCase JSON names computed from the proto name
 *     (`profile_typeID` -> `profileTypeID`); input accepts that or the proto
 *     name; unknown keys are skipped, as connect-go does;
 *   - int64/uint64/sint64/fixed64/sfixed64 are written as strings, 32-bit
 *     integers as numbers; on input both forms are accepted (exponent forms
 *     such as 1e3 too, as long as the value is an exact integer in range);
 *   - float/double are numbers, or "NaN", "Infinity", "-Infinity";
 *   - bytes are standard base64 (with padding) on output; standard or
 *     URL-safe, padded or not, on input;
 *   - enums by name on output (number when the value has no name); name or
 *     number on input, an unknown name leaves the field unset (protojson's
 *     DiscardUnknown);
 *   - repeated fields are arrays, map fields (repeated *Entry messages in
 *     protobuf-c) are objects; `null` anywhere a field value goes = unset;
 *   - proto3 zero values are omitted on output; a set oneof member (how our
 *     protos spell proto3 `optional`) is always written, even when zero.
 *
 * Limits: no google.protobuf well-known types with special JSON forms (Any,
 * Timestamp, Duration, wrappers, Struct) and no custom `json_name` options:
 * protobuf-c descriptors do not carry them and our protos use none. Strings
 * with U+0000 are refused (protobuf-c strings are C strings).
 */
#ifndef FX_PBJSON_H
#define FX_PBJSON_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

#include "core/buf.h"
#include "core/core.h"

/* Objects and arrays nested deeper than this are refused on input, so
 * hostile JSON cannot exhaust the stack. Our deepest message is 5 levels. */
#define FX_PBJSON_MAX_DEPTH 100

/*
 * Parses json[0..len) (not NUL-terminated; UTF-8; exactly one JSON object
 * with optional surrounding whitespace) as a message of type desc.
 *
 * Everything is allocated with alloc: pass fx_arena_pb() and free the arena,
 * or a heap allocator (NULL means malloc/free) and release *out with
 * protobuf_c_message_free_unpacked(*out, alloc). Strings are NUL-terminated
 * C strings, bytes fields point at decoded bytes.
 *
 * Returns FX_OK and sets *out, or FX_EINVAL with *out = NULL and err naming
 * the field path and the problem, e.g.
 *   field "series[0].samples[1].rawProfile": invalid base64
 * Nothing is left allocated on error (beyond what the arena holds).
 */
int fx_pbjson_decode(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
                     ProtobufCAllocator *alloc, ProtobufCMessage **out, fx_err_t *err);

/*
 * Appends msg as compact proto3 JSON (no whitespace) to out, which the caller
 * owns. Fields are written in descriptor (field number) order. Invalid UTF-8
 * in string fields is written as U+FFFD so the output is always valid JSON.
 */
void fx_pbjson_encode(const ProtobufCMessage *msg, fx_buf_t *out);

#endif
