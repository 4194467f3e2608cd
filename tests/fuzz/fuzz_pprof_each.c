/* fuzz_pprof_each.c - fx_pprof_decode_each + fx_pprof_validate_sample /
 * _tables (the distributor's path for profiles sent on as received) against
 * fx_pprof_decode + fx_pprof_validate on hostile bytes: the same samples,
 * and, when no sample needs a repair, the same verdict, message and repairs. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "pprof/pprof.h"
#include "pprof/validate.h"

typedef struct ctx {
    const fx_pprof_t *full; /* NULL if fx_pprof_decode failed */
    const fx_pprof_limits_t *lim;
    int sample_repaired;
    size_t seen;
} ctx_t;

static int each(void *arg, const fx_pprof_t *p, size_t i, fx_pprof_sample_t *s, fx_err_t *err)
{
    ctx_t *c = arg;
    FX_ASSERT(i == c->seen++);
    if (!c->full) /* a later sample is malformed: the walk must still fail */
        return fx_pprof_validate_sample(p, c->lim, i, s, &c->sample_repaired, err) < 0 ? FX_EINVAL
                                                                                       : FX_OK;
    FX_ASSERT(i < c->full->nsamples);
    const fx_pprof_sample_t *f = &c->full->samples[i];
    FX_ASSERT(s->nlocs == f->nlocs && s->nvalues == f->nvalues && s->nlabels == f->nlabels);
    FX_ASSERT(!s->nlocs || memcmp(s->locs, f->locs, s->nlocs * sizeof *s->locs) == 0);
    FX_ASSERT(!s->nvalues || memcmp(s->values, f->values, s->nvalues * sizeof *s->values) == 0);
    FX_ASSERT(!s->nlabels || memcmp(s->labels, f->labels, s->nlabels * sizeof *s->labels) == 0);
    int rc = fx_pprof_validate_sample(p, c->lim, i, s, &c->sample_repaired, err);
    return rc < 0 ? rc : FX_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fx_arena_t arena;
    fx_pprof_t full, lazy;
    fx_err_t err = {0}, err2 = {0};
    fx_pprof_limits_t lim = {16000, 8, 64, 300, 0, 0};

    fx_arena_init(&arena);
    int rc_full = fx_pprof_decode(data, size, &arena, &full, &err);
    ctx_t c = {rc_full == FX_OK ? &full : NULL, &lim, 0, 0};
    int rc_each = fx_pprof_decode_each(data, size, &arena, &lazy, each, &c, &err2);
    FX_ASSERT(rc_full == FX_OK || rc_each != FX_OK); /* never laxer than the full decode */
    if (rc_each == FX_OK) {
        FX_ASSERT(rc_full == FX_OK && c.seen == full.nsamples && lazy.nsamples == full.nsamples);
        int rep_full, rep_lazy;
        fx_err_t e1 = {0}, e2 = {0};
        int v_full = fx_pprof_validate(&full, &lim, 7, &rep_full, &e1);
        int v_lazy = fx_pprof_validate_tables(&lazy, &lim, 7, &rep_lazy, &e2);
        if (!c.sample_repaired) {
            FX_ASSERT(v_full == v_lazy && strcmp(e1.msg, e2.msg) == 0);
            if (v_full == FX_OK)
                FX_ASSERT(rep_full == rep_lazy && full.time_nanos == lazy.time_nanos);
        }
        if (v_lazy == FX_OK) {
            FX_ASSERT(fx_pprof_decode_samples(data, size, &arena, &lazy, &err2) == FX_OK);
            for (size_t i = 0; i < lazy.nsamples; i++)
                FX_ASSERT(lazy.samples[i].nvalues == full.samples[i].nvalues);
        }
    }
    fx_pprof_free(&full);
    fx_pprof_free(&lazy);
    fx_arena_free(&arena);
    return 0;
}
