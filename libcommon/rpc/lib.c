/*
 * lib.c - gRPC library lifetime, gRPC log routing, and protobuf-c <->
 * byte buffer conversion shared by server.c and client.c.
 */
#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>
#include <grpc/support/log.h>
#include <pthread.h>
#include <string.h>

#include "log/log.h"
#include "rpc/internal.h"

static void grpc_log_to_fx(gpr_log_func_args *a)
{
    enum fx_log_level level = a->severity == GPR_LOG_SEVERITY_ERROR  ? FX_LOG_WARN
                              : a->severity == GPR_LOG_SEVERITY_INFO ? FX_LOG_INFO
                                                                     : FX_LOG_DEBUG;
    if (!fx_log_enabled(level))
        return;
    fx_log(level, "grpc", "component=grpc caller=%s:%d detail=%s", fx_q(a->file), a->line,
           fx_q(a->message));
}

static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void set_log(void)
{
    gpr_set_log_function(grpc_log_to_fx);
}

void fx__rpc_lib_ref(void)
{
    pthread_once(&log_once, set_log);
    grpc_init();
}

void fx__rpc_lib_unref(void)
{
    /* Blocking: when the last reference goes, gRPC's threads are gone by the
     * time this returns, so nothing of gRPC runs past a client's or server's
     * free (and leak checkers at exit see no half-torn-down state). */
    grpc_shutdown_blocking();
}

grpc_byte_buffer *fx__rpc_pack(const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    grpc_slice s = grpc_slice_malloc(n);
    size_t w = protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
    FX_ASSERT(w == n);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

ProtobufCMessage *fx__rpc_unpack(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc,
                                 fx_arena_t *arena)
{
    /* Fast path: one plain slice, decoded where it lies (protobuf-c copies
     * strings and bytes into the arena anyway). */
    if (bb->type == GRPC_BB_RAW && bb->data.raw.compression == GRPC_COMPRESS_NONE &&
        bb->data.raw.slice_buffer.count == 1) {
        grpc_slice s = bb->data.raw.slice_buffer.slices[0];
        return protobuf_c_message_unpack(desc, fx_arena_pb(arena), GRPC_SLICE_LENGTH(s),
                                         GRPC_SLICE_START_PTR(s));
    }
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, bb))
        return NULL; /* undecompressible */
    size_t total = grpc_byte_buffer_length(r.buffer_out), off = 0;
    uint8_t *flat = fx_arena_alloc(arena, total ? total : 1);
    grpc_slice s;
    while (grpc_byte_buffer_reader_next(&r, &s)) {
        size_t n = GRPC_SLICE_LENGTH(s);
        FX_ASSERT(off + n <= total);
        memcpy(flat + off, GRPC_SLICE_START_PTR(s), n);
        off += n;
        grpc_slice_unref(s);
    }
    grpc_byte_buffer_reader_destroy(&r);
    return protobuf_c_message_unpack(desc, fx_arena_pb(arena), off, flat);
}
