/*
 * fuzz_treebytes.c - the tree bytes reader on arbitrary input. Whatever it
 * accepts must survive a write/read round trip unchanged, with and without
 * truncation, and keep its total.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "model/treebytes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fx_tree_t t, back;
    fx_err_t err = {0};
    fx_tree_init(&t);
    if (fx_treebytes_parse(&t, data, size, &err) == FX_OK) {
        const int64_t limits[] = {0, 3};
        for (size_t i = 0; i < 2; i++) {
            fx_buf_t b = FX_BUF_INIT;
            FX_ASSERT(fx_treebytes_write(&t, limits[i], &b, &err) == FX_OK);
            fx_tree_init(&back);
            FX_ASSERT(fx_treebytes_parse(&back, b.data, b.len, &err) == FX_OK);
            FX_ASSERT(back.nodes[0].total == t.nodes[0].total);
            if (limits[i] == 0)
                FX_ASSERT(back.len <= t.len);
            fx_tree_free(&back);
            fx_buf_free(&b);
        }
    } else {
        FX_ASSERT(err.code == FX_EINVAL && err.msg[0]);
    }
    fx_tree_free(&t);
    return 0;
}
