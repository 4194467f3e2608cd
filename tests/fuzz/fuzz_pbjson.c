/*
 * fuzz_pbjson.c - fuzz target for the proto3 JSON decoder (libcommon/json).
 *
 * Decodes the input as several message types (the public push and query
 * requests, a flame graph, and the test message with every field shape),
 * alternating arena and heap allocators so both error-path cleanups run.
 * Whatever decodes must pack, and must survive encode -> decode -> encode
 * with identical JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "json/pbjson.h"
#include "push/v1/push.pb-c.h"
#include "querier/v1/querier.pb-c.h"

#include "../unit/pbjson/pbjson_test.pb-c.c"

static const ProtobufCMessageDescriptor *const types[] = {
    &push__v1__push_request__descriptor,
    &querier__v1__select_merge_stacktraces_request__descriptor,
    &querier__v1__select_series_request__descriptor,
    &querier__v1__flame_graph__descriptor,
    &fxtest__v1__all__descriptor,
};

static void check(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size,
                  int heap)
{
    fx_arena_t arena;
    fx_err_t err = {0};
    ProtobufCMessage *m = NULL, *m2 = NULL;
    ProtobufCAllocator *alloc;
    fx_buf_t j1 = FX_BUF_INIT, j2 = FX_BUF_INIT;

    fx_arena_init(&arena);
    alloc = heap ? NULL : fx_arena_pb(&arena);
    if (fx_pbjson_decode(desc, (const char *)data, size, alloc, &m, &err) != FX_OK) {
        if (m || !err.msg[0])
            abort();
        goto out;
    }
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *packed = fx_malloc(n);
    if (protobuf_c_message_pack(m, packed) != n)
        abort();
    free(packed);

    fx_pbjson_encode(m, &j1);
    if (fx_pbjson_decode(desc, (const char *)j1.data, j1.len, alloc, &m2, &err) != FX_OK)
        abort(); /* our own output must decode */
    fx_pbjson_encode(m2, &j2);
    if (j1.len != j2.len || memcmp(j1.data, j2.data, j1.len) != 0)
        abort();
out:
    if (heap) {
        protobuf_c_message_free_unpacked(m, NULL);
        protobuf_c_message_free_unpacked(m2, NULL);
    }
    fx_buf_free(&j1);
    fx_buf_free(&j2);
    fx_arena_free(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned turn;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        check(types[i], data, size, (int)(turn++ & 1));
    return 0;
}
