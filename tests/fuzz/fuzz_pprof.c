/* fuzz_pprof.c - the pprof decoder, validator and encoder on hostile bytes:
 * decode (gzip or plain), validate, re-encode and decode the result again. */
#include <stdint.h>
#include <stddef.h>

#include "pprof/pprof.h"
#include "pprof/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fx_arena_t arena;
    fx_buf_t scratch = FX_BUF_INIT, out = FX_BUF_INIT;
    fx_pprof_t p, q;
    fx_err_t err;
    int repaired;
    fx_pprof_limits_t lim = {16000, 100, 1000, 65535, 0, 0};

    fx_arena_init(&arena);
    if (fx_pprof_decode_maybe_gzip(data, size, 1 << 22, &scratch, &arena, &p, &err) == FX_OK) {
        if (fx_pprof_validate(&p, &lim, 1, &repaired, &err) == FX_OK) {
            /* Walk every stack the way the ingester does. */
            for (size_t i = 0; i < p.nsamples; i++)
                for (uint32_t j = 0; j < p.samples[i].nlocs; j++) {
                    const fx_pprof_location_t *l = fx_pprof_location(&p, p.samples[i].locs[j]);
                    for (uint32_t k = 0; l && k < l->nlines; k++) {
                        const fx_pprof_function_t *f = fx_pprof_function(&p, l->lines[k].function_id);
                        if (f)
                            (void)fx_pprof_str(&p, f->name);
                    }
                }
            fx_pprof_encode(&p, NULL, &out);
            FX_ASSERT(fx_pprof_decode(out.data, out.len, &arena, &q, &err) == FX_OK);
            FX_ASSERT(q.nsamples == p.nsamples);
            fx_pprof_free(&q);
        }
    }
    fx_pprof_free(&p);
    fx_arena_free(&arena);
    fx_buf_free(&scratch);
    fx_buf_free(&out);
    return 0;
}
