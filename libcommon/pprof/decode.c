/*
 * decode.c - zero-copy pprof decoder.
 *
 * Pass 1 walks the top-level fields and counts each repeated field; pass 2
 * decodes into exactly-sized arena arrays. A sample or location is read
 * once onto the stack and copied into the arena at its size; the rare long
 * one is walked twice (count, then fill), packed varints counted by their
 * terminator bytes (< 0x80), which needs no decoding.
 * fx_pprof_decode_each decodes the tables the same way but hands the
 * samples over one at a time in reused memory (one pass each, nothing kept).
 */
#include "pprof/pprof.h"
#include "core/gz.h"

#include <stdlib.h>
#include <string.h>

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

typedef struct field {
    uint32_t num, wt;
    uint64_t v;          /* varint / fixed value */
    const uint8_t *data; /* WT_LEN payload */
    size_t len;
} field_t;

/* Reads the next field at *p. Returns 1 on a field, 0 at end, -1 if the
 * bytes are not valid protobuf. */
static inline int next_field(const uint8_t **p, const uint8_t *end, field_t *f)
{
    const uint8_t *s = *p;
    uint64_t tag;
    /* Nearly every field of a real profile has a one-byte tag and a varint
     * value or length, mostly of one byte: read those without the varint
     * loops, and longer ones away from the end of the input (a varint has
     * at most 10 bytes) without bounds checks. */
    if (end - s >= 2 && s[0] < 0x80 && s[1] < 0x80 && s[0] >= 8) {
        f->num = s[0] >> 3;
        f->wt = s[0] & 7;
        if (f->wt == WT_VARINT) {
            f->v = s[1];
            *p = s + 2;
            return 1;
        }
        if (f->wt == WT_LEN) {
            if (s[1] > end - s - 2)
                return -1;
            f->data = s + 2;
            f->len = s[1];
            *p = s + 2 + s[1];
            return 1;
        }
    }
    if (end - s >= 12 && s[0] >= 8 && s[0] < 0x80 &&
        ((s[0] & 7) == WT_VARINT || (s[0] & 7) == WT_LEN)) {
        const uint8_t *q = s + 2;
        uint64_t v = s[1];
        if (v >= 0x80) {
            v &= 0x7f;
            for (unsigned shift = 7;; shift += 7) {
                uint8_t c = *q++;
                v |= (uint64_t)(c & 0x7f) << shift;
                if (c < 0x80)
                    break;
                if (shift == 63)
                    return -1;
            }
        }
        f->num = s[0] >> 3;
        f->wt = s[0] & 7;
        if (f->wt == WT_VARINT) {
            f->v = v;
            *p = q;
            return 1;
        }
        if (v > (uint64_t)(end - q))
            return -1;
        f->data = q;
        f->len = (size_t)v;
        *p = q + v;
        return 1;
    }
    if (*p >= end)
        return 0;
    if (fx_uvarint(p, end, &tag) < 0 || (tag >> 3) == 0 || (tag >> 3) > UINT32_MAX)
        return -1;
    f->num = (uint32_t)(tag >> 3);
    f->wt = (uint32_t)(tag & 7);
    switch (f->wt) {
    case WT_VARINT:
        return fx_uvarint(p, end, &f->v) < 0 ? -1 : 1;
    case WT_I64:
        if (end - *p < 8)
            return -1;
        memcpy(&f->v, *p, 8);
        *p += 8;
        return 1;
    case WT_I32: {
        uint32_t v32;
        if (end - *p < 4)
            return -1;
        memcpy(&v32, *p, 4);
        f->v = v32;
        *p += 4;
        return 1;
    }
    case WT_LEN: {
        uint64_t n;
        if (fx_uvarint(p, end, &n) < 0 || n > (uint64_t)(end - *p))
            return -1;
        f->data = *p;
        f->len = (size_t)n;
        *p += n;
        return 1;
    }
    default:
        return -1; /* groups are not used by pprof */
    }
}

/* Number of varints in a packed payload (bytes that end a varint). */
static size_t count_varints(const uint8_t *p, size_t n)
{
    size_t c = 0, i = 0;
    /* 8 bytes a step: the sum of their top bits is the bytes that go on. */
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        c += 8 - (size_t)((((w >> 7) & 0x0101010101010101ULL) * 0x0101010101010101ULL) >> 56);
    }
    for (; i < n; i++)
        c += p[i] < 0x80;
    return c;
}

/* Number of elements a repeated scalar field occurrence contributes. */
static size_t scalar_count(const field_t *f)
{
    return f->wt == WT_LEN ? count_varints(f->data, f->len) : 1;
}

/* read_scalars for a packed payload, with the 1- and 2-byte varints that
 * location ids and small values are read without a loop. Same result. */
static inline int read_packed_fast(const uint8_t *p, const uint8_t *end, uint64_t *out, size_t *n,
                                   size_t cap)
{
    size_t k = *n;
    while (p < end) {
        if (k >= cap)
            return -1;
        uint64_t b = p[0];
        if (b < 0x80) {
            out[k++] = b;
            p++;
        } else if (end - p >= 2 && p[1] < 0x80) {
            out[k++] = (b & 0x7f) | (uint64_t)p[1] << 7;
            p += 2;
        } else if (fx_uvarint(&p, end, &out[k++]) < 0) {
            return -1;
        }
    }
    *n = k;
    return 0;
}

/* Appends the elements of one occurrence of a repeated varint field. */
static int read_scalars(const field_t *f, uint64_t *out, size_t *n, size_t cap)
{
    if (f->wt == WT_VARINT) {
        if (*n >= cap)
            return -1;
        out[(*n)++] = f->v;
        return 0;
    }
    if (f->wt != WT_LEN)
        return -1;
    return read_packed_fast(f->data, f->data + f->len, out, n, cap);
}

#define WANT(f, t) ((f)->wt == (t))

static int decode_value_type(const uint8_t *p, size_t n, fx_pprof_value_type_t *vt)
{
    const uint8_t *end = p + n;
    field_t f;
    int r;
    memset(vt, 0, sizeof *vt);
    while ((r = next_field(&p, end, &f)) > 0) {
        if (f.num == 1 && WANT(&f, WT_VARINT))
            vt->type = (int64_t)f.v;
        else if (f.num == 2 && WANT(&f, WT_VARINT))
            vt->unit = (int64_t)f.v;
    }
    return r;
}

static int decode_label(const uint8_t *p, size_t n, fx_pprof_label_t *l)
{
    const uint8_t *end = p + n;
    field_t f;
    int r;
    memset(l, 0, sizeof *l);
    while ((r = next_field(&p, end, &f)) > 0) {
        if (f.wt != WT_VARINT)
            continue;
        switch (f.num) {
        case 1: l->key = (int64_t)f.v; break;
        case 2: l->str = (int64_t)f.v; break;
        case 3: l->num = (int64_t)f.v; break;
        case 4: l->num_unit = (int64_t)f.v; break;
        }
    }
    return r;
}

static int decode_sample_slow(const uint8_t *data, size_t n, fx_arena_t *a,
                              fx_pprof_sample_t *s)
{
    const uint8_t *p = data, *end = data + n;
    size_t nlocs = 0, nvals = 0, nlabels = 0;
    field_t f;
    int r;

    while ((r = next_field(&p, end, &f)) > 0) {
        if (f.num == 1)
            nlocs += scalar_count(&f);
        else if (f.num == 2)
            nvals += scalar_count(&f);
        else if (f.num == 3 && WANT(&f, WT_LEN))
            nlabels++;
    }
    if (r < 0)
        return -1;
    uint64_t *locs = nlocs ? fx_arena_alloc(a, nlocs * 8) : NULL;
    uint64_t *vals = nvals ? fx_arena_alloc(a, nvals * 8) : NULL;
    fx_pprof_label_t *labels = nlabels ? fx_arena_alloc(a, nlabels * sizeof *labels) : NULL;
    size_t il = 0, iv = 0, ib = 0;
    p = data;
    while ((r = next_field(&p, end, &f)) > 0) {
        if (f.num == 1) {
            if (read_scalars(&f, locs, &il, nlocs) < 0)
                return -1;
        } else if (f.num == 2) {
            if (read_scalars(&f, vals, &iv, nvals) < 0)
                return -1;
        } else if (f.num == 3 && WANT(&f, WT_LEN)) {
            if (decode_label(f.data, f.len, &labels[ib++]) < 0)
                return -1;
        }
    }
    s->locs = locs;
    s->values = (const int64_t *)vals;
    s->labels = labels;
    s->nlocs = (uint32_t)il;
    s->nvalues = (uint32_t)iv;
    s->nlabels = (uint32_t)ib;
    return r;
}

/* A location's line: function_id and line. */
static int decode_line(const uint8_t *q, size_t n, fx_pprof_line_t *line)
{
    const uint8_t *qend = q + n;
    field_t g;
    int r;
    line->function_id = 0;
    line->line = 0;
    while ((r = next_field(&q, qend, &g)) > 0) {
        if (g.num == 1 && WANT(&g, WT_VARINT))
            line->function_id = g.v;
        else if (g.num == 2 && WANT(&g, WT_VARINT))
            line->line = (int64_t)g.v;
    }
    return r;
}

/* Locations have few lines (one per inlined frame): one pass with the
 * lines on the stack, then one arena allocation of the exact size; the
 * two-pass decode_location below takes the rare location with more. */
enum { LINES_ON_STACK = 16 };

static int decode_location_slow(const uint8_t *data, size_t n, fx_arena_t *a,
                                fx_pprof_location_t *l);

static int decode_location(const uint8_t *data, size_t n, fx_arena_t *a, fx_pprof_location_t *l)
{
    const uint8_t *p = data, *end = data + n;
    fx_pprof_line_t lines[LINES_ON_STACK];
    size_t i = 0;
    field_t f;
    int r;

    memset(l, 0, sizeof *l);
    while ((r = next_field(&p, end, &f)) > 0) {
        if (f.num == 4 && WANT(&f, WT_LEN)) {
            if (i == LINES_ON_STACK)
                return decode_location_slow(data, n, a, l);
            if (decode_line(f.data, f.len, &lines[i++]) < 0)
                return -1;
        } else if (f.wt == WT_VARINT) {
            switch (f.num) {
            case 1: l->id = f.v; break;
            case 2: l->mapping_id = f.v; break;
            case 3: l->address = f.v; break;
            case 5: l->is_folded = f.v != 0; break;
            }
        }
    }
    if (r < 0)
        return -1;
    if (i) {
        fx_pprof_line_t *copy = fx_arena_alloc(a, i * sizeof *copy);
        memcpy(copy, lines, i * sizeof *copy);
        l->lines = copy;
    }
    l->nlines = (uint32_t)i;
    return r;
}

static int decode_location_slow(const uint8_t *data, size_t n, fx_arena_t *a,
                                fx_pprof_location_t *l)
{
    const uint8_t *p = data, *end = data + n;
    size_t nlines = 0;
    field_t f;
    int r;

    memset(l, 0, sizeof *l);
    while ((r = next_field(&p, end, &f)) > 0)
        if (f.num == 4 && WANT(&f, WT_LEN))
            nlines++;
    if (r < 0)
        return -1;
    fx_pprof_line_t *lines = nlines ? fx_arena_alloc(a, nlines * sizeof *lines) : NULL;
    size_t i = 0;
    p = data;
    while ((r = next_field(&p, end, &f)) > 0) {
        if (f.num == 4 && WANT(&f, WT_LEN)) {
            if (decode_line(f.data, f.len, &lines[i++]) < 0)
                return -1;
        } else if (f.wt == WT_VARINT) {
            switch (f.num) {
            case 1: l->id = f.v; break;
            case 2: l->mapping_id = f.v; break;
            case 3: l->address = f.v; break;
            case 5: l->is_folded = f.v != 0; break;
            }
        }
    }
    l->lines = lines;
    l->nlines = (uint32_t)i;
    return r;
}

static int decode_function(const uint8_t *p, size_t n, fx_pprof_function_t *fn)
{
    const uint8_t *end = p + n;
    field_t f;
    int r;
    memset(fn, 0, sizeof *fn);
    while ((r = next_field(&p, end, &f)) > 0) {
        if (f.wt != WT_VARINT)
            continue;
        switch (f.num) {
        case 1: fn->id = f.v; break;
        case 2: fn->name = (int64_t)f.v; break;
        case 3: fn->system_name = (int64_t)f.v; break;
        case 4: fn->filename = (int64_t)f.v; break;
        case 5: fn->start_line = (int64_t)f.v; break;
        }
    }
    return r;
}

static int decode_mapping(const uint8_t *p, size_t n, fx_pprof_mapping_t *m)
{
    const uint8_t *end = p + n;
    field_t f;
    int r;
    memset(m, 0, sizeof *m);
    while ((r = next_field(&p, end, &f)) > 0) {
        if (f.wt != WT_VARINT)
            continue;
        switch (f.num) {
        case 1: m->id = f.v; break;
        case 2: m->memory_start = f.v; break;
        case 3: m->memory_limit = f.v; break;
        case 4: m->file_offset = f.v; break;
        case 5: m->filename = (int64_t)f.v; break;
        case 6: m->build_id = (int64_t)f.v; break;
        case 7: m->has_functions = f.v != 0; break;
        case 8: m->has_filenames = f.v != 0; break;
        case 9: m->has_line_numbers = f.v != 0; break;
        case 10: m->has_inline_frames = f.v != 0; break;
        }
    }
    return r;
}

/* Growable per-sample memory of fx_pprof_decode_each: one sample at a time. */
typedef struct scratch {
    uint64_t *locs, *vals;
    fx_pprof_label_t *labels;
    size_t cap; /* of each array; a sample of n bytes has at most n of anything */
} scratch_t;

/* One pass over a sample into scratch (decode_sample's structure checks).
 * The usual packed fields 1 and 2 are read without next_field. */
static int decode_sample_scratch(const uint8_t *data, size_t n, scratch_t *sc, fx_pprof_sample_t *s)
{
    const uint8_t *p = data, *end = data + n;
    size_t il = 0, iv = 0, ib = 0;
    field_t f;
    int r;

    if (n + 1 > sc->cap) {
        sc->cap = FX_MAX(n + 1, sc->cap * 2);
        sc->locs = fx_realloc(sc->locs, sc->cap * sizeof *sc->locs);
        sc->vals = fx_realloc(sc->vals, sc->cap * sizeof *sc->vals);
        sc->labels = fx_realloc(sc->labels, sc->cap * sizeof *sc->labels);
    }
    for (;;) {
        /* tag 0x0a / 0x12: field 1 / 2, packed, with a 1- or 2-byte length */
        if (end - p >= 3 && (p[0] == 0x0a || p[0] == 0x12) && (p[1] < 0x80 || p[2] < 0x80)) {
            size_t n2 = p[1] < 0x80 ? p[1] : (size_t)(p[1] & 0x7f) | (size_t)p[2] << 7;
            const uint8_t *q = p + (p[1] < 0x80 ? 2 : 3);
            int locs = p[0] == 0x0a;
            if (n2 > (size_t)(end - q) ||
                read_packed_fast(q, q + n2, locs ? sc->locs : sc->vals, locs ? &il : &iv,
                                 sc->cap) < 0)
                return -1;
            p = q + n2;
            continue;
        }
        if ((r = next_field(&p, end, &f)) <= 0)
            break;
        if (f.num == 1) {
            if (read_scalars(&f, sc->locs, &il, sc->cap) < 0)
                return -1;
        } else if (f.num == 2) {
            if (read_scalars(&f, sc->vals, &iv, sc->cap) < 0)
                return -1;
        } else if (f.num == 3 && WANT(&f, WT_LEN)) {
            if (decode_label(f.data, f.len, &sc->labels[ib++]) < 0)
                return -1;
        }
    }
    s->locs = sc->locs;
    s->values = (const int64_t *)sc->vals;
    s->labels = sc->labels;
    s->nlocs = (uint32_t)il;
    s->nvalues = (uint32_t)iv;
    s->nlabels = (uint32_t)ib;
    return r;
}

/* A sample of under SAMPLE_ON_STACK bytes (nearly all: a frame costs 1-2
 * bytes) is read in one pass into stack memory, then copied into the arena
 * at its exact size; a longer one is counted first (decode_sample_slow). */
enum { SAMPLE_ON_STACK = 256 };

static int decode_sample(const uint8_t *data, size_t n, fx_arena_t *a, fx_pprof_sample_t *s)
{
    uint64_t locs[SAMPLE_ON_STACK], vals[SAMPLE_ON_STACK];
    fx_pprof_label_t labels[SAMPLE_ON_STACK];
    scratch_t sc = {locs, vals, labels, SAMPLE_ON_STACK};
    fx_pprof_sample_t t;

    if (n >= SAMPLE_ON_STACK)
        return decode_sample_slow(data, n, a, s);
    if (decode_sample_scratch(data, n, &sc, &t) < 0)
        return -1;
    *s = t;
    s->locs = t.nlocs ? memcpy(fx_arena_alloc(a, t.nlocs * 8), locs, t.nlocs * 8) : NULL;
    s->values = t.nvalues ? memcpy(fx_arena_alloc(a, t.nvalues * 8), vals, t.nvalues * 8) : NULL;
    s->labels = t.nlabels ? memcpy(fx_arena_alloc(a, t.nlabels * sizeof *labels), labels,
                                   t.nlabels * sizeof *labels)
                          : NULL;
    return 0;
}

/* fx_pprof_decode, or with lazy set everything but the samples (counted,
 * not decoded: out->samples stays NULL). */
static int decode(const uint8_t *data, size_t len, fx_arena_t *arena, fx_pprof_t *out, int lazy,
                  fx_err_t *err)
{
    const uint8_t *p = data, *end = data + len;
    field_t f;
    int r;

    memset(out, 0, sizeof *out);
    /* Pass 1: count repeated fields and check the top-level structure. */
    while ((r = next_field(&p, end, &f)) > 0) {
        switch (f.num) {
        case 1: out->nsample_types += WANT(&f, WT_LEN); break;
        case 2: out->nsamples += WANT(&f, WT_LEN); break;
        case 3: out->nmappings += WANT(&f, WT_LEN); break;
        case 4: out->nlocations += WANT(&f, WT_LEN); break;
        case 5: out->nfunctions += WANT(&f, WT_LEN); break;
        case 6: out->nstrings += WANT(&f, WT_LEN); break;
        case 13: out->ncomments += scalar_count(&f); break;
        }
    }
    if (r < 0)
        return fx_err_set(err, FX_EINVAL, "profile is not a valid pprof protobuf message");

    out->sample_types = fx_arena_alloc(arena, out->nsample_types * sizeof *out->sample_types);
    out->samples = lazy ? NULL : fx_arena_alloc(arena, out->nsamples * sizeof *out->samples);
    out->mappings = fx_arena_alloc(arena, out->nmappings * sizeof *out->mappings);
    out->locations = fx_arena_alloc(arena, out->nlocations * sizeof *out->locations);
    out->functions = fx_arena_alloc(arena, out->nfunctions * sizeof *out->functions);
    out->strings = fx_arena_alloc(arena, out->nstrings * sizeof *out->strings);
    out->comments = fx_arena_alloc(arena, out->ncomments * sizeof *out->comments);

    size_t ist = 0, is = 0, im = 0, il = 0, ifn = 0, istr = 0, ic = 0;
    const char *what = NULL;
    p = data;
    while ((r = next_field(&p, end, &f)) > 0) {
        int bad = 0;
        switch (f.num) {
        case 1:
            if (WANT(&f, WT_LEN) && decode_value_type(f.data, f.len, &out->sample_types[ist++]) < 0)
                bad = 1, what = "sample_type";
            break;
        case 2:
            if (!lazy && WANT(&f, WT_LEN) &&
                decode_sample(f.data, f.len, arena, &out->samples[is++]) < 0)
                bad = 1, what = "sample";
            break;
        case 3:
            if (WANT(&f, WT_LEN) && decode_mapping(f.data, f.len, &out->mappings[im++]) < 0)
                bad = 1, what = "mapping";
            break;
        case 4:
            if (WANT(&f, WT_LEN) && decode_location(f.data, f.len, arena, &out->locations[il++]) < 0)
                bad = 1, what = "location";
            break;
        case 5:
            if (WANT(&f, WT_LEN) && decode_function(f.data, f.len, &out->functions[ifn++]) < 0)
                bad = 1, what = "function";
            break;
        case 6:
            if (WANT(&f, WT_LEN)) {
                out->strings[istr].data = f.data;
                out->strings[istr].len = f.len;
                istr++;
            }
            break;
        case 7: if (WANT(&f, WT_VARINT)) out->drop_frames = (int64_t)f.v; break;
        case 8: if (WANT(&f, WT_VARINT)) out->keep_frames = (int64_t)f.v; break;
        case 9: if (WANT(&f, WT_VARINT)) out->time_nanos = (int64_t)f.v; break;
        case 10: if (WANT(&f, WT_VARINT)) out->duration_nanos = (int64_t)f.v; break;
        case 11:
            if (WANT(&f, WT_LEN)) {
                if (decode_value_type(f.data, f.len, &out->period_type) < 0)
                    bad = 1, what = "period_type";
                out->has_period_type = 1;
            }
            break;
        case 12: if (WANT(&f, WT_VARINT)) out->period = (int64_t)f.v; break;
        case 13:
            if (read_scalars(&f, (uint64_t *)out->comments, &ic, out->ncomments) < 0)
                bad = 1, what = "comment";
            break;
        case 14: if (WANT(&f, WT_VARINT)) out->default_sample_type = (int64_t)f.v; break;
        }
        if (bad)
            return fx_err_set(err, FX_EINVAL, "profile has a malformed %s message", what);
    }
    return fx_pprof_index(out, err);
}

int fx_pprof_decode(const uint8_t *data, size_t len, fx_arena_t *arena, fx_pprof_t *out,
                    fx_err_t *err)
{
    return decode(data, len, arena, out, 0, err);
}

int fx_pprof_decode_each(const uint8_t *data, size_t len, fx_arena_t *arena, fx_pprof_t *out,
                         fx_pprof_sample_fn fn, void *ctx, fx_err_t *err)
{
    const uint8_t *p = data, *end = data + len;
    scratch_t sc = {NULL, NULL, NULL, 0};
    size_t i = 0;
    field_t f;
    int rc, r;

    if ((rc = decode(data, len, arena, out, 1, err)) < 0)
        return rc;
    while ((r = next_field(&p, end, &f)) > 0) {
        fx_pprof_sample_t s;
        if (f.num != 2 || !WANT(&f, WT_LEN))
            continue;
        if (decode_sample_scratch(f.data, f.len, &sc, &s) < 0) {
            rc = fx_err_set(err, FX_EINVAL, "profile has a malformed sample message");
            break;
        }
        if ((rc = fn(ctx, out, i++, &s, err)) != FX_OK)
            break;
    }
    free(sc.locs);
    free(sc.vals);
    free(sc.labels);
    return rc;
}

int fx_pprof_decode_samples(const uint8_t *data, size_t len, fx_arena_t *arena, fx_pprof_t *p,
                            fx_err_t *err)
{
    const uint8_t *q = data, *end = data + len;
    size_t is = 0;
    field_t f;
    int r;

    p->samples = fx_arena_alloc(arena, p->nsamples * sizeof *p->samples);
    while ((r = next_field(&q, end, &f)) > 0)
        if (f.num == 2 && WANT(&f, WT_LEN) &&
            (is >= p->nsamples || decode_sample(f.data, f.len, arena, &p->samples[is++]) < 0))
            return fx_err_set(err, FX_EINVAL, "profile has a malformed sample message");
    if (r < 0 || is != p->nsamples)
        return fx_err_set(err, FX_EINVAL, "profile is not a valid pprof protobuf message");
    return FX_OK;
}

int64_t fx__pprof_idmap_find_sparse(const fx_pprof_idmap_t *m, uint64_t id)
{
    uint64_t *v = id == FX_MAP64_EMPTY ? NULL : fx_map64_get(&m->map, id);
    return v ? (int64_t)*v : -1;
}

/* ids are read through a stride so one function serves three tables. */
static int build_idmap(fx_pprof_idmap_t *m, const void *base, size_t stride, size_t n,
                       const char *what, fx_err_t *err)
{
    const uint8_t *b = base;
    fx_map64_free(&m->map);
    m->dense = 1;
    for (size_t i = 0; i < n; i++) {
        uint64_t id;
        memcpy(&id, b + i * stride, sizeof id);
        if (id != i + 1) {
            m->dense = 0;
            break;
        }
    }
    if (m->dense)
        return FX_OK;
    for (size_t i = 0; i < n; i++) {
        uint64_t id;
        int inserted;
        memcpy(&id, b + i * stride, sizeof id);
        if (id == 0 || id == FX_MAP64_EMPTY)
            return fx_err_set(err, FX_EINVAL, "profile has a %s with invalid id %llu", what,
                              (unsigned long long)id);
        *fx_map64_put(&m->map, id, &inserted) = i;
        if (!inserted)
            return fx_err_set(err, FX_EINVAL, "profile has two %ss with id %llu", what,
                              (unsigned long long)id);
    }
    return FX_OK;
}

int fx_pprof_index(fx_pprof_t *p, fx_err_t *err)
{
    int rc;
    /* The id is the first member of each struct. */
    if ((rc = build_idmap(&p->loc_index, p->locations, sizeof *p->locations, p->nlocations,
                          "location", err)) < 0)
        return rc;
    if ((rc = build_idmap(&p->fn_index, p->functions, sizeof *p->functions, p->nfunctions,
                          "function", err)) < 0)
        return rc;
    return build_idmap(&p->map_index, p->mappings, sizeof *p->mappings, p->nmappings, "mapping",
                       err);
}

void fx_pprof_free(fx_pprof_t *p)
{
    fx_map64_free(&p->loc_index.map);
    fx_map64_free(&p->fn_index.map);
    fx_map64_free(&p->map_index.map);
}

int fx_pprof_str_eq(const fx_pprof_t *p, int64_t i, const char *s)
{
    fx_slice_t v = fx_pprof_str(p, i);
    size_t n = strlen(s);
    return v.len == n && memcmp(v.data, s, n) == 0;
}

int fx_pprof_decode_maybe_gzip(const uint8_t *data, size_t len, size_t max_size,
                               fx_buf_t *scratch, fx_arena_t *arena, fx_pprof_t *out,
                               fx_err_t *err)
{
    int rc;
    memset(out, 0, sizeof *out);
    if (fx_gz_is_gzip(data, len)) {
        scratch->len = 0;
        if ((rc = fx_gunzip(data, len, max_size, scratch, err)) < 0)
            return fx_err_prefix(err, "profile");
        data = scratch->data;
        len = scratch->len;
    } else if (len > max_size) {
        return fx_err_set(err, FX_ETOOBIG, "profile is %zu bytes, over the limit of %zu bytes",
                          len, max_size);
    }
    return fx_pprof_decode(data, len, arena, out, err);
}
