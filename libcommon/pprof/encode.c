/*
 * encode.c - pprof serializer.
 *
 * Nested messages are length-prefixed, so each is written to a small
 * per-call scratch buffer first and then copied with its length; pprof
 * sub-messages are tiny, which keeps that cheap.
 */
#include "pprof/pprof.h"

static void put_tag(fx_buf_t *b, uint32_t field, uint32_t wt)
{
    fx_buf_uvarint(b, (uint64_t)field << 3 | wt);
}

/* Writes a varint field, skipping proto3 defaults (zero). */
static void put_varint(fx_buf_t *b, uint32_t field, uint64_t v)
{
    if (!v)
        return;
    put_tag(b, field, 0);
    fx_buf_uvarint(b, v);
}

static void put_bytes(fx_buf_t *b, uint32_t field, const void *p, size_t n)
{
    put_tag(b, field, 2);
    fx_buf_uvarint(b, n);
    fx_buf_append(b, p, n);
}

static void put_msg(fx_buf_t *b, uint32_t field, fx_buf_t *scratch)
{
    put_bytes(b, field, scratch->data, scratch->len);
    scratch->len = 0;
}

static void put_packed(fx_buf_t *b, fx_buf_t *scratch, uint32_t field, const uint64_t *v, size_t n)
{
    if (!n)
        return;
    scratch->len = 0;
    for (size_t i = 0; i < n; i++)
        fx_buf_uvarint(scratch, v[i]);
    put_msg(b, field, scratch);
}

static void value_type(fx_buf_t *b, fx_buf_t *s, uint32_t field, const fx_pprof_value_type_t *vt)
{
    s->len = 0;
    put_varint(s, 1, (uint64_t)vt->type);
    put_varint(s, 2, (uint64_t)vt->unit);
    put_msg(b, field, s);
}

/* body and s2 are scratch buffers reused across samples. */
static void sample(fx_buf_t *b, fx_buf_t *body, fx_buf_t *s2, const fx_pprof_t *p,
                   const fx_pprof_sample_t *smp, const fx_pprof_encode_opts_t *o)
{
    body->len = 0;
    put_packed(body, s2, 1, smp->locs, smp->nlocs);
    put_packed(body, s2, 2, (const uint64_t *)smp->values, smp->nvalues);
    for (uint32_t i = 0; i < smp->nlabels; i++) {
        const fx_pprof_label_t *l = &smp->labels[i];
        if (o && o->keep_label && !o->keep_label(p, l, o->ctx))
            continue;
        s2->len = 0;
        put_varint(s2, 1, (uint64_t)l->key);
        put_varint(s2, 2, (uint64_t)l->str);
        put_varint(s2, 3, (uint64_t)l->num);
        put_varint(s2, 4, (uint64_t)l->num_unit);
        put_msg(body, 3, s2);
    }
    put_bytes(b, 2, body->data, body->len);
    body->len = 0;
}

void fx_pprof_encode(const fx_pprof_t *p, const fx_pprof_encode_opts_t *o, fx_buf_t *out)
{
    fx_buf_t s = FX_BUF_INIT, s2 = FX_BUF_INIT;

    for (size_t i = 0; i < p->nsample_types; i++)
        value_type(out, &s, 1, &p->sample_types[i]);
    if (o && o->samples) {
        for (size_t i = 0; i < o->nsamples; i++)
            sample(out, &s, &s2, p, &p->samples[o->samples[i]], o);
    } else {
        for (size_t i = 0; i < p->nsamples; i++)
            sample(out, &s, &s2, p, &p->samples[i], o);
    }
    for (size_t i = 0; i < p->nmappings; i++) {
        const fx_pprof_mapping_t *m = &p->mappings[i];
        put_varint(&s, 1, m->id);
        put_varint(&s, 2, m->memory_start);
        put_varint(&s, 3, m->memory_limit);
        put_varint(&s, 4, m->file_offset);
        put_varint(&s, 5, (uint64_t)m->filename);
        put_varint(&s, 6, (uint64_t)m->build_id);
        put_varint(&s, 7, m->has_functions);
        put_varint(&s, 8, m->has_filenames);
        put_varint(&s, 9, m->has_line_numbers);
        put_varint(&s, 10, m->has_inline_frames);
        put_msg(out, 3, &s);
    }
    for (size_t i = 0; i < p->nlocations; i++) {
        const fx_pprof_location_t *l = &p->locations[i];
        put_varint(&s, 1, l->id);
        put_varint(&s, 2, l->mapping_id);
        put_varint(&s, 3, l->address);
        for (uint32_t j = 0; j < l->nlines; j++) {
            s2.len = 0;
            put_varint(&s2, 1, l->lines[j].function_id);
            put_varint(&s2, 2, (uint64_t)l->lines[j].line);
            put_bytes(&s, 4, s2.data, s2.len);
        }
        put_varint(&s, 5, l->is_folded);
        put_msg(out, 4, &s);
    }
    for (size_t i = 0; i < p->nfunctions; i++) {
        const fx_pprof_function_t *f = &p->functions[i];
        put_varint(&s, 1, f->id);
        put_varint(&s, 2, (uint64_t)f->name);
        put_varint(&s, 3, (uint64_t)f->system_name);
        put_varint(&s, 4, (uint64_t)f->filename);
        put_varint(&s, 5, (uint64_t)f->start_line);
        put_msg(out, 5, &s);
    }
    for (size_t i = 0; i < p->nstrings; i++)
        put_bytes(out, 6, p->strings[i].data, p->strings[i].len);
    put_varint(out, 7, (uint64_t)p->drop_frames);
    put_varint(out, 8, (uint64_t)p->keep_frames);
    put_varint(out, 9, (uint64_t)p->time_nanos);
    put_varint(out, 10, (uint64_t)p->duration_nanos);
    if (p->has_period_type)
        value_type(out, &s, 11, &p->period_type);
    put_varint(out, 12, (uint64_t)p->period);
    put_packed(out, &s, 13, (const uint64_t *)p->comments, p->ncomments);
    put_varint(out, 14, (uint64_t)p->default_sample_type);
    fx_buf_free(&s);
    fx_buf_free(&s2);
}
