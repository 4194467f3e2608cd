/* fuzz_catchup.c - what a restarting ingester receives from a peer during
 * catch-up (services/ingester/catchup.c): a catchup.v1.FetchResponse is
 * unpacked, its page pprof decoded (ing_catchup_page), every profile of the
 * page checked and viewed (ing_catchup_profile: id, labels, sample range
 * and types) and its view read as fx_head_append would (sample values and
 * locations), and the next cursor parsed by fx_head_cursor_decode (which
 * also parses the cursor a peer receives in a FetchRequest). Hostile bytes
 * give an error, never a crash. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "services/ingester/ingester.h"
#include "storage/handoff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fx_arena_t a;
    fx_err_t err;
    fx_head_cursor_t cur;

    fx_arena_init(&a);
    (void)fx_head_cursor_decode(data, size < 64 ? size : 64, &cur, &err);
    Catchup__V1__FetchResponse *r = catchup__v1__fetch_response__unpack(fx_arena_pb(&a), size, data);
    if (r) {
        fx_buf_t scratch = FX_BUF_INIT;
        fx_pprof_t page;
        if (ing_catchup_page(r, &a, &scratch, &page, &err) == FX_OK) {
            for (size_t i = 0; i < r->n_profiles; i++) {
                fx_labels_t l;
                fx_pprof_t v;
                uint8_t id[16];
                if (ing_catchup_profile(&page, r->profiles[i], &a, id, &l, &v, &err) != FX_OK) {
                    FX_ASSERT(err.msg[0]);
                    continue;
                }
                FX_ASSERT(fx_labels_get(&l, "__name__") != NULL);
                FX_ASSERT(v.nsample_types == r->profiles[i]->n_sample_types / 2);
                int64_t sum = 0;
                for (size_t k = 0; k < v.nsamples; k++) /* the range is inside the page */
                    sum += v.samples[k].nlocs + v.samples[k].nvalues;
                (void)sum;
                (void)fx_pprof_str(&v, v.sample_types[0].type);
            }
        }
        fx_pprof_free(&page);
        fx_buf_free(&scratch);
        if (fx_head_cursor_decode(r->next_cursor.data, r->next_cursor.len, &cur, &err) == FX_OK)
            FX_ASSERT(r->next_cursor.len == 0 || cur.set);
    }
    fx_arena_free(&a);
    return 0;
}
