/*
 * internal.h - helpers shared by the files of libcommon/rpc (never included
 * outside it: it pulls in gRPC core headers).
 */
#ifndef FX_RPC_INTERNAL_H
#define FX_RPC_INTERNAL_H

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "core/core.h"
#include "core/mem.h"

/* Reference-counted grpc_init/grpc_shutdown: every server and client holds
 * one reference, so gRPC's threads stop when the last one is freed (which
 * also keeps leak checkers quiet). The first call routes gRPC's own log lines
 * into Fornax's logfmt log. */
void fx__rpc_lib_ref(void);
void fx__rpc_lib_unref(void);

/* Serialises msg into a new byte buffer (caller destroys it). */
grpc_byte_buffer *fx__rpc_pack(const ProtobufCMessage *msg);

/* Unpacks bb as desc into arena. A single uncompressed slice (the usual case)
 * is decoded in place; anything else is first gathered into the arena.
 * Returns NULL if the bytes are not a valid message. */
ProtobufCMessage *fx__rpc_unpack(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc,
                                 fx_arena_t *arena);

/* "fx-code" trailer: the exact FX code of an error status. */
#define FX__RPC_CODE_KEY "fx-code"

#endif
