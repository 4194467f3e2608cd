/* merge.c - content-deduplicating pprof merge. */
#include "pprof/merge.h"
#include "core/mem.h"
#include "core/strtab.h"
#include "pprof/pprof.h"

#include <stdlib.h>
#include <string.h>

typedef struct merger {
    fx_strtab_t strings;
    fx_strtab_t fn_keys, map_keys, loc_keys, stack_keys; /* content key -> dense id */
    fx_pprof_function_t *fns;
    fx_pprof_mapping_t *maps;
    fx_pprof_location_t *locs;
    fx_pprof_line_t **loc_lines;
    size_t cfns, cmaps, clocs;
    int64_t *values;      /* stack id * ntypes + type */
    size_t cvalues;
    uint64_t **stacks;    /* stack id -> location ids (leaf first), [0] = length */
    size_t cstacks;
    size_t ntypes;
    fx_buf_t key;
} merger_t;

static int64_t str(merger_t *m, const fx_pprof_t *p, int64_t i)
{
    fx_slice_t s = fx_pprof_str(p, i);
    return fx_strtab_intern(&m->strings, (const char *)s.data, s.len);
}

static void key_i64(fx_buf_t *k, int64_t v)
{
    fx_buf_append(k, &v, sizeof v);
}

/* Interns the current key in tab; returns (id + 1) if new, else -(id + 1). */
static int64_t intern_key(fx_strtab_t *tab, const fx_buf_t *k)
{
    size_t before = tab->len;
    uint32_t id = fx_strtab_intern(tab, k->data ? (const char *)k->data : "", k->len);
    return tab->len > before ? (int64_t)id + 1 : -((int64_t)id + 1);
}

static uint64_t add_function(merger_t *m, const fx_pprof_t *p, const fx_pprof_function_t *f)
{
    fx_pprof_function_t nf = {0, str(m, p, f->name), str(m, p, f->system_name),
                              str(m, p, f->filename), f->start_line};
    m->key.len = 0;
    key_i64(&m->key, nf.name);
    key_i64(&m->key, nf.system_name);
    key_i64(&m->key, nf.filename);
    key_i64(&m->key, nf.start_line);
    int64_t r = intern_key(&m->fn_keys, &m->key);
    uint64_t id = (uint64_t)(r < 0 ? -r : r);
    if (r > 0) {
        FX_GROW(m->fns, m->cfns, id);
        nf.id = id;
        m->fns[id - 1] = nf;
    }
    return id;
}

static uint64_t add_mapping(merger_t *m, const fx_pprof_t *p, const fx_pprof_mapping_t *mp)
{
    fx_pprof_mapping_t nm = *mp;
    nm.filename = str(m, p, mp->filename);
    nm.build_id = str(m, p, mp->build_id);
    m->key.len = 0;
    key_i64(&m->key, (int64_t)nm.memory_start);
    key_i64(&m->key, (int64_t)nm.memory_limit);
    key_i64(&m->key, (int64_t)nm.file_offset);
    key_i64(&m->key, nm.filename);
    key_i64(&m->key, nm.build_id);
    int64_t r = intern_key(&m->map_keys, &m->key);
    uint64_t id = (uint64_t)(r < 0 ? -r : r);
    if (r > 0) {
        FX_GROW(m->maps, m->cmaps, id);
        nm.id = id;
        m->maps[id - 1] = nm;
    }
    return id;
}

static uint64_t add_location(merger_t *m, const fx_pprof_t *p, const fx_pprof_location_t *l)
{
    uint64_t mapping = 0;
    const fx_pprof_mapping_t *mp = l->mapping_id ? fx_pprof_mapping(p, l->mapping_id) : NULL;
    if (mp)
        mapping = add_mapping(m, p, mp);
    fx_pprof_line_t *lines = fx_malloc((l->nlines + 1) * sizeof *lines);
    for (uint32_t i = 0; i < l->nlines; i++) {
        const fx_pprof_function_t *f = fx_pprof_function(p, l->lines[i].function_id);
        lines[i].function_id = f ? add_function(m, p, f) : 0;
        lines[i].line = l->lines[i].line;
    }
    m->key.len = 0;
    key_i64(&m->key, (int64_t)mapping);
    key_i64(&m->key, (int64_t)l->address);
    for (uint32_t i = 0; i < l->nlines; i++) {
        key_i64(&m->key, (int64_t)lines[i].function_id);
        key_i64(&m->key, lines[i].line);
    }
    int64_t r = intern_key(&m->loc_keys, &m->key);
    uint64_t id = (uint64_t)(r < 0 ? -r : r);
    if (r > 0) {
        FX_GROW(m->locs, m->clocs, id);
        m->loc_lines = fx_realloc(m->loc_lines, m->clocs * sizeof *m->loc_lines);
        fx_pprof_location_t nl = {id, mapping, l->address, NULL, l->nlines, l->is_folded};
        m->locs[id - 1] = nl;
        m->loc_lines[id - 1] = lines;
    } else {
        free(lines);
    }
    return id;
}

static int add_profile(merger_t *m, const fx_pprof_t *p, fx_err_t *err)
{
    uint64_t *locmap = fx_calloc(p->nlocations + 1, sizeof *locmap);
    uint64_t *ids = NULL;
    size_t cids = 0;
    int rc = FX_OK;

    for (size_t i = 0; i < p->nsamples; i++) {
        const fx_pprof_sample_t *s = &p->samples[i];
        if (s->nvalues != m->ntypes) {
            rc = fx_err_set(err, FX_EINVAL, "cannot merge profiles: sample %zu has %u values, "
                            "expected %zu", i, s->nvalues, m->ntypes);
            break;
        }
        FX_GROW(ids, cids, s->nlocs + 1);
        m->key.len = 0;
        for (uint32_t j = 0; j < s->nlocs; j++) {
            int64_t li = fx_pprof_idmap_find(&p->loc_index, s->locs[j], p->nlocations);
            if (li < 0) {
                rc = fx_err_set(err, FX_EINVAL, "cannot merge profiles: unknown location %llu",
                                (unsigned long long)s->locs[j]);
                goto out;
            }
            if (!locmap[li])
                locmap[li] = add_location(m, p, &p->locations[li]);
            ids[j] = locmap[li];
        }
        m->key.len = 0;
        fx_buf_append(&m->key, ids, s->nlocs * sizeof *ids);
        int64_t r = intern_key(&m->stack_keys, &m->key);
        size_t sid = (size_t)(r < 0 ? -r : r) - 1;
        if (r > 0) {
            FX_GROW(m->stacks, m->cstacks, sid + 1);
            m->stacks[sid] = fx_malloc((s->nlocs + 1) * sizeof(uint64_t));
            m->stacks[sid][0] = s->nlocs;
            memcpy(m->stacks[sid] + 1, ids, s->nlocs * sizeof *ids);
            size_t need = (sid + 1) * m->ntypes;
            size_t old = m->cvalues;
            FX_GROW(m->values, m->cvalues, need);
            memset(m->values + old, 0, (m->cvalues - old) * sizeof *m->values);
        }
        for (size_t t = 0; t < m->ntypes; t++)
            m->values[sid * m->ntypes + t] += s->values[t];
    }
out:
    free(locmap);
    free(ids);
    return rc;
}

int fx_pprof_merge(const fx_slice_t *inputs, size_t n, fx_buf_t *out, fx_err_t *err)
{
    merger_t m;
    fx_arena_t a;
    fx_pprof_t p = {0}, res = {0};
    size_t first_ntypes = 0;
    int rc = FX_OK;

    memset(&m, 0, sizeof m);
    fx_arena_init(&a);
    fx_strtab_init(&m.strings);
    fx_strtab_init(&m.fn_keys);
    fx_strtab_init(&m.map_keys);
    fx_strtab_init(&m.loc_keys);
    fx_strtab_init(&m.stack_keys);
    fx_strtab_intern(&m.strings, "", 0);
    fx_pprof_value_type_t types[16];
    for (size_t k = 0; k < n; k++) {
        fx_pprof_free(&p);
        if ((rc = fx_pprof_decode(inputs[k].data, inputs[k].len, &a, &p, err)) < 0)
            goto out;
        if (k == 0) {
            first_ntypes = p.nsample_types;
            m.ntypes = p.nsample_types > 16 ? 16 : p.nsample_types;
            for (size_t t = 0; t < m.ntypes; t++) {
                types[t].type = str(&m, &p, p.sample_types[t].type);
                types[t].unit = str(&m, &p, p.sample_types[t].unit);
            }
            res.period = p.period;
            res.time_nanos = p.time_nanos;
            res.duration_nanos = p.duration_nanos;
            res.has_period_type = p.has_period_type;
            res.period_type.type = str(&m, &p, p.period_type.type);
            res.period_type.unit = str(&m, &p, p.period_type.unit);
        } else if (p.nsample_types != first_ntypes) {
            rc = fx_err_set(err, FX_EINVAL, "cannot merge profiles with different sample types");
            goto out;
        }
        if ((rc = add_profile(&m, &p, err)) < 0)
            goto out;
    }
    res.sample_types = types;
    res.nsample_types = m.ntypes;
    res.nsamples = m.stack_keys.len;
    res.samples = fx_arena_alloc(&a, (res.nsamples + 1) * sizeof *res.samples);
    for (size_t i = 0; i < res.nsamples; i++) {
        res.samples[i].locs = m.stacks[i] + 1;
        res.samples[i].nlocs = (uint32_t)m.stacks[i][0];
        res.samples[i].values = m.values + i * m.ntypes;
        res.samples[i].nvalues = (uint32_t)m.ntypes;
        res.samples[i].labels = NULL;
        res.samples[i].nlabels = 0;
    }
    for (size_t i = 0; i < m.loc_keys.len; i++)
        m.locs[i].lines = m.loc_lines[i];
    res.locations = m.locs;
    res.nlocations = m.loc_keys.len;
    res.functions = m.fns;
    res.nfunctions = m.fn_keys.len;
    res.mappings = m.maps;
    res.nmappings = m.map_keys.len;
    res.nstrings = m.strings.len;
    res.strings = fx_arena_alloc(&a, (res.nstrings + 1) * sizeof *res.strings);
    for (size_t i = 0; i < res.nstrings; i++) {
        res.strings[i].data = (const uint8_t *)fx_strtab_get(&m.strings, (uint32_t)i);
        res.strings[i].len = fx_strtab_len(&m.strings, (uint32_t)i);
    }
    fx_pprof_encode(&res, NULL, out);
out:
    fx_pprof_free(&p);
    for (size_t i = 0; i < m.loc_keys.len; i++)
        free(m.loc_lines[i]);
    for (size_t i = 0; i < m.stack_keys.len; i++)
        free(m.stacks[i]);
    free(m.loc_lines);
    free(m.stacks);
    free(m.locs);
    free(m.fns);
    free(m.maps);
    free(m.values);
    fx_buf_free(&m.key);
    fx_strtab_free(&m.strings);
    fx_strtab_free(&m.fn_keys);
    fx_strtab_free(&m.map_keys);
    fx_strtab_free(&m.loc_keys);
    fx_strtab_free(&m.stack_keys);
    fx_arena_free(&a);
    return rc;
}
