/* builder.c - pprof construction from named frames. */
#include "pprof/builder.h"

#include <stdlib.h>
#include <string.h>

void fx_pprof_builder_init(fx_pprof_builder_t *b)
{
    memset(b, 0, sizeof *b);
    fx_strtab_init(&b->strings);
    fx_map64_init(&b->fn_by_name);
    fx_arena_init(&b->arena);
    fx_strtab_intern(&b->strings, "", 0); /* string 0 is always "" */
}

void fx_pprof_builder_free(fx_pprof_builder_t *b)
{
    fx_strtab_free(&b->strings);
    fx_map64_free(&b->fn_by_name);
    free(b->functions);
    free(b->locations);
    free(b->lines);
    free(b->samples);
    fx_arena_free(&b->arena);
    fx_pprof_free(&b->out);
    memset(b, 0, sizeof *b);
}

int64_t fx_pprof_builder_string(fx_pprof_builder_t *b, const char *s, size_t n)
{
    return fx_strtab_intern(&b->strings, s, n);
}

void fx_pprof_builder_sample_type(fx_pprof_builder_t *b, const char *type, const char *unit)
{
    FX_ASSERT(b->nsample_types < FX_ARRAY_LEN(b->sample_types));
    fx_pprof_value_type_t *vt = &b->sample_types[b->nsample_types++];
    vt->type = fx_pprof_builder_string(b, type, strlen(type));
    vt->unit = fx_pprof_builder_string(b, unit, strlen(unit));
}

uint64_t fx_pprof_builder_frame(fx_pprof_builder_t *b, const char *s, size_t n)
{
    int64_t name = fx_pprof_builder_string(b, s, n);
    int inserted;
    uint64_t *id = fx_map64_put(&b->fn_by_name, (uint64_t)name, &inserted);
    if (!inserted)
        return *id;
    size_t i = b->nfunctions++;
    FX_GROW(b->functions, b->cap_functions, b->nfunctions);
    FX_GROW(b->locations, b->cap_locations, b->nfunctions);
    FX_GROW(b->lines, b->cap_lines, b->nfunctions);
    memset(&b->functions[i], 0, sizeof b->functions[i]);
    b->functions[i].id = i + 1;
    b->functions[i].name = name;
    b->functions[i].system_name = name;
    b->lines[i].function_id = i + 1;
    b->lines[i].line = 0;
    memset(&b->locations[i], 0, sizeof b->locations[i]);
    b->locations[i].id = i + 1;
    b->locations[i].nlines = 1;
    *id = i + 1;
    return *id;
}

void fx_pprof_builder_sample(fx_pprof_builder_t *b, const uint64_t *locs, size_t nlocs,
                             const int64_t *values)
{
    FX_GROW(b->samples, b->cap_samples, b->nsamples + 1);
    fx_pprof_sample_t *s = &b->samples[b->nsamples++];
    uint64_t *l = fx_arena_alloc(&b->arena, nlocs * sizeof *l + 1);
    int64_t *v = fx_arena_alloc(&b->arena, b->nsample_types * sizeof *v + 1);
    memcpy(l, locs, nlocs * sizeof *l);
    memcpy(v, values, b->nsample_types * sizeof *v);
    s->locs = l;
    s->values = v;
    s->labels = NULL;
    s->nlocs = (uint32_t)nlocs;
    s->nvalues = (uint32_t)b->nsample_types;
    s->nlabels = 0;
}

fx_pprof_t *fx_pprof_builder_finish(fx_pprof_builder_t *b)
{
    fx_pprof_t *p = &b->out;
    fx_pprof_free(p);
    memset(p, 0, sizeof *p);
    /* Line arrays were grown separately; point each location at its line
     * now that the array no longer moves. */
    for (size_t i = 0; i < b->nfunctions; i++)
        b->locations[i].lines = &b->lines[i];
    p->strings = fx_arena_alloc(&b->arena, b->strings.len * sizeof *p->strings);
    for (size_t i = 0; i < b->strings.len; i++) {
        p->strings[i].data = (const uint8_t *)fx_strtab_get(&b->strings, (uint32_t)i);
        p->strings[i].len = fx_strtab_len(&b->strings, (uint32_t)i);
    }
    p->nstrings = b->strings.len;
    p->sample_types = b->sample_types;
    p->nsample_types = b->nsample_types;
    p->samples = b->samples;
    p->nsamples = b->nsamples;
    p->functions = b->functions;
    p->nfunctions = b->nfunctions;
    p->locations = b->locations;
    p->nlocations = b->nfunctions;
    fx_pprof_index(p, NULL); /* ids are 1..n: dense, cannot fail */
    return p;
}
