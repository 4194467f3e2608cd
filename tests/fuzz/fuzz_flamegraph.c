/*
 * fuzz_flamegraph.c - protobuf bytes -> querier.v1.FlameGraph ->
 * fx_flamegraph_to_tree, the path a FlameGraph from another process takes.
 * An accepted graph must re-encode and decode to the same total.
 */
#include <stdint.h>
#include <stdlib.h>

#include "core/mem.h"
#include "model/flamegraph.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fx_arena_t a;
    fx_arena_init(&a);
    Querier__V1__FlameGraph *fg = querier__v1__flame_graph__unpack(fx_arena_pb(&a), size, data);
    if (fg) {
        fx_tree_t t;
        fx_err_t err = {0};
        fx_tree_init(&t);
        if (fx_flamegraph_to_tree(fg, &t, &err) == FX_OK) {
            Querier__V1__FlameGraph *again = fx_flamegraph_encode(&t, 0, &a);
            fx_tree_t back;
            fx_tree_init(&back);
            FX_ASSERT(fx_flamegraph_to_tree(again, &back, &err) == FX_OK);
            FX_ASSERT(back.nodes[0].total == t.nodes[0].total);
            fx_tree_free(&back);
        } else {
            FX_ASSERT(err.code == FX_EINVAL && err.msg[0]);
        }
        fx_tree_free(&t);
    }
    fx_arena_free(&a);
    return 0;
}
