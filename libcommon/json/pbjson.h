/*
 * pbjson.h - proto3 JSON <-> protobuf-c messages, driven by the message
 * descriptors (one generic codec for every message type).
 *
 * This header only declares the codec's API, which another branch
 * implements in libcommon/json/pbjson.c; the Connect layer
 * (http/connect.c) codes against it.
 */
#ifndef FX_PBJSON_H
#define FX_PBJSON_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/core.h"

/* Decodes len bytes of proto3 JSON into a new message of type desc whose
 * memory comes from alloc. FX_OK with *out set, or an FX_E* code with err
 * saying what is wrong with the JSON. */
int fx_pbjson_decode(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
                     ProtobufCAllocator *alloc, ProtobufCMessage **out, fx_err_t *err);

/* Appends msg as proto3 JSON to out (int64 as strings). */
void fx_pbjson_encode(const ProtobufCMessage *msg, fx_buf_t *out);

#endif
