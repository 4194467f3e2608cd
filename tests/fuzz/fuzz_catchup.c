/* fuzz_catchup.c - what a restarting ingester receives from a peer during
 * catch-up (services/ingester/catchup.c): a catchup.v1.FetchResponse is
 * unpacked, every profile goes through ing_catchup_parse (id, labels,
 * gzipped pprof) and the next cursor through fx_head_cursor_decode (which
 * also parses the cursor a peer receives in a FetchRequest). Hostile bytes
 * give an error, never a crash. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "catchup/v1/catchup.pb-c.h"
#include "services/ingester/ingester.h"
#include "storage/handoff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fx_arena_t a;
    fx_err_t err;
    fx_head_cursor_t cur;

    fx_arena_init(&a);
    (void)fx_head_cursor_decode(data, size < 64 ? size : 64, &cur, &err);
    Catchup__V1__FetchResponse *r =
        catchup__v1__fetch_response__unpack(fx_arena_pb(&a), size, data);
    if (r) {
        for (size_t i = 0; i < r->n_profiles; i++) {
            fx_arena_t pa;
            fx_buf_t scratch = FX_BUF_INIT;
            fx_labels_t l;
            fx_pprof_t p;
            uint8_t id[16];
            fx_arena_init(&pa);
            if (ing_catchup_parse(r->profiles[i], &pa, &scratch, id, &l, &p, &err) == FX_OK)
                FX_ASSERT(fx_labels_get(&l, "__name__") != NULL);
            else
                FX_ASSERT(err.msg[0]);
            fx_pprof_free(&p);
            fx_buf_free(&scratch);
            fx_arena_free(&pa);
        }
        if (fx_head_cursor_decode(r->next_cursor.data, r->next_cursor.len, &cur, &err) == FX_OK)
            FX_ASSERT(r->next_cursor.len == 0 || cur.set);
    }
    fx_arena_free(&a);
    return 0;
}
