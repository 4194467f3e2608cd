/*
 * write.c - writing a block: the index and symbols sections from the
 * in-memory tables (storage/tables.h), profile chunks streamed to
 * profiles.fxb as pseries fill them, meta.json, and the atomic publish
 * (everything in parent/.tmp-<id>, fsynced, then renamed to parent/<id>).
 * Shared by the head cut (cut.c) and compaction (compact.c).
 */
#include "block/format.h"
#include "core/fs.h"
#include "core/time.h"
#include "log/log.h"

#include <errno.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void fx_block_write_options_default(fx_block_write_options_t *o)
{
    o->zstd_level = 9;
    o->chunk_bytes = 4u << 20;
    o->fsync = 1;
}

/* --- sections --------------------------------------------------------------------------- */

static void put_str(fx_buf_t *b, const char *s, size_t n)
{
    fx_buf_uvarint(b, n);
    fx_buf_append(b, s, n);
}

static void write_index(const fx__index_t *x, const fx__wps_t *wps, const char *tenant,
                        const char *id, int64_t min_ns, int64_t max_ns, uint64_t profiles,
                        uint64_t samples, int level, fx_buf_t *out)
{
    fx__secw_t w;
    fx_buf_t b = FX_BUF_INIT;
    fx__secw_init(&w, FX_BLOCK_INDEX, level);

    fx_buf_uvarint(&b, FX_BLOCK_VERSION);
    put_str(&b, tenant, strlen(tenant));
    put_str(&b, id, strlen(id));
    fx_buf_svarint(&b, min_ns);
    fx_buf_svarint(&b, max_ns);
    fx_buf_uvarint(&b, profiles);
    fx_buf_uvarint(&b, samples);
    fx__secw_part(&w, FX__P_INFO, b.data, b.len);

    /* Label strings: all lengths, then all bytes. */
    b.len = 0;
    fx_buf_uvarint(&b, x->lstr.len);
    for (size_t i = 0; i < x->lstr.len; i++)
        fx_buf_uvarint(&b, fx_strtab_len(&x->lstr, (uint32_t)i));
    for (size_t i = 0; i < x->lstr.len; i++)
        fx_buf_append(&b, fx_strtab_get(&x->lstr, (uint32_t)i), fx_strtab_len(&x->lstr, (uint32_t)i));
    fx__secw_part(&w, FX__P_LSTR, b.data, b.len);

    b.len = 0;
    fx_buf_uvarint(&b, x->nseries);
    for (size_t i = 0; i < x->nseries; i++) {
        const fx__series_t *s = &x->series[i];
        fx_buf_uvarint(&b, s->nlbl);
        for (uint32_t j = 0; j < 2 * s->nlbl; j++)
            fx_buf_uvarint(&b, x->lbl[s->lbl_off + j]);
    }
    fx__secw_part(&w, FX__P_SERIES, b.data, b.len);

    /* Postings in name order of first appearance, values likewise. */
    b.len = 0;
    fx_buf_uvarint(&b, x->npost);
    for (size_t i = 0; i < x->nnames; i++) {
        const fx__lname_t *ln = &x->names[i];
        for (size_t j = 0; j < ln->nvalues; j++) {
            uint64_t *pi = fx_map64_get(&x->post_ix, (uint64_t)ln->name << 32 | ln->values[j]);
            FX_ASSERT(pi);
            roaring_bitmap_t *r = x->post[*pi];
            roaring_bitmap_run_optimize(r);
            size_t n = roaring_bitmap_portable_size_in_bytes(r);
            fx_buf_uvarint(&b, ln->name);
            fx_buf_uvarint(&b, ln->values[j]);
            fx_buf_uvarint(&b, n);
            fx_buf_reserve(&b, n);
            roaring_bitmap_portable_serialize(r, (char *)b.data + b.len);
            b.len += n;
        }
    }
    fx__secw_part(&w, FX__P_POSTINGS, b.data, b.len);

    b.len = 0;
    fx_buf_uvarint(&b, x->nps);
    for (size_t i = 0; i < x->nps; i++) {
        const fx__pseries_t *p = &x->ps[i];
        fx_buf_uvarint(&b, p->ncols);
        for (uint32_t c = 0; c < p->ncols; c++)
            fx_buf_uvarint(&b, x->pcols[p->col_off + c]);
        fx_buf_svarint(&b, p->min_ns);
        fx_buf_uvarint(&b, (uint64_t)p->max_ns - (uint64_t)p->min_ns);
        fx_buf_uvarint(&b, p->rows);
        fx_buf_uvarint(&b, wps[i].nchunks);
        for (size_t k = 0; k < wps[i].nchunks; k++) {
            const fx__bchunk_t *c = &wps[i].chunks[k];
            fx_buf_uvarint(&b, c->off);
            fx_buf_uvarint(&b, c->len);
            fx_buf_uvarint(&b, c->nrows);
            fx_buf_uvarint(&b, (uint64_t)c->min_ns - (uint64_t)p->min_ns);
            fx_buf_uvarint(&b, (uint64_t)c->max_ns - (uint64_t)c->min_ns);
        }
    }
    fx__secw_part(&w, FX__P_PSERIES, b.data, b.len);

    fx__secw_finish(&w);
    fx_buf_append(out, w.out.data, w.out.len);
    fx__secw_free(&w);
    fx_buf_free(&b);
}

/* Symbols: each table one part, stored column by column. */
static void write_symbols(const fx__symbols_t *s, int level, fx_buf_t *out)
{
    fx__secw_t w;
    fx_buf_t b = FX_BUF_INIT;
    fx__secw_init(&w, FX_BLOCK_SYMBOLS, level);

    fx_buf_uvarint(&b, s->strs.len);
    for (size_t i = 0; i < s->strs.len; i++)
        fx_buf_uvarint(&b, fx_strtab_len(&s->strs, (uint32_t)i));
    for (size_t i = 0; i < s->strs.len; i++)
        fx_buf_append(&b, fx_strtab_get(&s->strs, (uint32_t)i), fx_strtab_len(&s->strs, (uint32_t)i));
    fx__secw_part(&w, FX__S_STRINGS, b.data, b.len);

    b.len = 0;
    fx_buf_uvarint(&b, s->nmaps);
    for (size_t i = 0; i < s->nmaps; i++)
        fx_buf_uvarint(&b, s->maps[i].start);
    for (size_t i = 0; i < s->nmaps; i++)
        fx_buf_uvarint(&b, s->maps[i].limit);
    for (size_t i = 0; i < s->nmaps; i++)
        fx_buf_uvarint(&b, s->maps[i].offset);
    for (size_t i = 0; i < s->nmaps; i++)
        fx_buf_uvarint(&b, s->maps[i].filename);
    for (size_t i = 0; i < s->nmaps; i++)
        fx_buf_uvarint(&b, s->maps[i].build_id);
    for (size_t i = 0; i < s->nmaps; i++)
        fx_buf_uvarint(&b, s->maps[i].flags);
    fx__secw_part(&w, FX__S_MAPPINGS, b.data, b.len);

    b.len = 0;
    fx_buf_uvarint(&b, s->nfns);
    for (size_t i = 0; i < s->nfns; i++)
        fx_buf_uvarint(&b, s->fns[i].name);
    for (size_t i = 0; i < s->nfns; i++)
        fx_buf_uvarint(&b, s->fns[i].system_name);
    for (size_t i = 0; i < s->nfns; i++)
        fx_buf_uvarint(&b, s->fns[i].filename);
    for (size_t i = 0; i < s->nfns; i++)
        fx_buf_svarint(&b, s->fns[i].start_line);
    fx__secw_part(&w, FX__S_FUNCTIONS, b.data, b.len);

    /* Addresses as deltas from the previous location's (code addresses of
     * one binary are close together). */
    b.len = 0;
    fx_buf_uvarint(&b, s->nlocs);
    uint64_t prev = 0;
    for (size_t i = 0; i < s->nlocs; i++) {
        fx_buf_svarint(&b, (int64_t)(s->locs[i].address - prev));
        prev = s->locs[i].address;
    }
    for (size_t i = 0; i < s->nlocs; i++)
        fx_buf_uvarint(&b, s->locs[i].mapping);
    for (size_t i = 0; i < s->nlocs; i++)
        fx_buf_uvarint(&b, (uint64_t)s->locs[i].nlines << 1 | s->locs[i].folded);
    for (size_t i = 0; i < s->nlocs; i++)
        for (uint32_t j = 0; j < s->locs[i].nlines; j++)
            fx_buf_uvarint(&b, s->lines[s->locs[i].line0 + j].fn);
    for (size_t i = 0; i < s->nlocs; i++)
        for (uint32_t j = 0; j < s->locs[i].nlines; j++)
            fx_buf_svarint(&b, s->lines[s->locs[i].line0 + j].line);
    fx__secw_part(&w, FX__S_LOCATIONS, b.data, b.len);

    /* Stack tree (root excluded): id - parent (1 for a first child), then
     * the locations. */
    b.len = 0;
    fx_buf_uvarint(&b, s->nnodes - 1);
    for (size_t i = 1; i < s->nnodes; i++)
        fx_buf_uvarint(&b, i - s->node_parent[i]);
    for (size_t i = 1; i < s->nnodes; i++)
        fx_buf_uvarint(&b, s->node_loc[i]);
    fx__secw_part(&w, FX__S_NODES, b.data, b.len);

    fx__secw_finish(&w);
    fx_buf_append(out, w.out.data, w.out.len);
    fx__secw_free(&w);
    fx_buf_free(&b);
}

/* --- symbol re-mapping -------------------------------------------------------------------- */

typedef struct remap {
    fx__symbols_t *out;
    const fx__symview_t *in;
    uint32_t *str, *fn, *map, *loc;
    fx__line_t *lines;
    size_t caplines;
} remap_t;

static uint32_t r_str(remap_t *r, uint32_t s)
{
    if (r->str[s] == UINT32_MAX)
        r->str[s] = fx__sym_string(r->out, r->in->str[s], r->in->str_len[s]);
    return r->str[s];
}

static uint32_t r_fn(remap_t *r, uint32_t f)
{
    if (r->fn[f] == UINT32_MAX) {
        const fx__fn_t *x = &r->in->fns[f];
        fx__fn_t o = {r_str(r, x->name), r_str(r, x->system_name), r_str(r, x->filename),
                      x->start_line};
        r->fn[f] = fx__sym_function(r->out, &o);
    }
    return r->fn[f];
}

static uint32_t r_map(remap_t *r, uint32_t m)
{
    if (r->map[m] == UINT32_MAX) {
        fx__mapping_t o = r->in->maps[m];
        o.filename = r_str(r, o.filename);
        o.build_id = r_str(r, o.build_id);
        r->map[m] = fx__sym_mapping(r->out, &o);
    }
    return r->map[m];
}

static uint32_t r_loc(remap_t *r, uint32_t l)
{
    if (r->loc[l] == UINT32_MAX) {
        fx__loc_t o = r->in->locs[l];
        FX_GROW(r->lines, r->caplines, (size_t)o.nlines + 1);
        for (uint32_t j = 0; j < o.nlines; j++) {
            r->lines[j].fn = r_fn(r, r->in->lines[o.line0 + j].fn);
            r->lines[j].line = r->in->lines[o.line0 + j].line;
        }
        o.mapping = o.mapping ? r_map(r, o.mapping - 1) + 1 : 0;
        r->loc[l] = fx__sym_location(r->out, &o, r->lines);
    }
    return r->loc[l];
}

static uint32_t *ffs_array(size_t n)
{
    uint32_t *a = fx_malloc((n + 1) * sizeof *a);
    memset(a, 0xff, (n + 1) * sizeof *a);
    return a;
}

void fx__remap_symbols(fx__symbols_t *out, const fx__symview_t *in, const uint8_t *touched,
                       uint32_t *node_map)
{
    remap_t r = {out, in, ffs_array(in->nstrs), ffs_array(in->nfns), ffs_array(in->nmaps),
                 ffs_array(in->nlocs), NULL, 0};
    node_map[0] = 0;
    for (size_t i = 1; i < in->nnodes; i++) {
        node_map[i] = UINT32_MAX;
        if (touched && !touched[i])
            continue;
        uint32_t parent = node_map[in->node_parent[i]];
        FX_ASSERT(parent != UINT32_MAX);
        node_map[i] = fx__sym_node(out, parent, r_loc(&r, in->node_loc[i]));
    }
    free(r.str);
    free(r.fn);
    free(r.map);
    free(r.loc);
    free(r.lines);
}

/* --- the writer ----------------------------------------------------------------------------- */

static int sys_err(fx_err_t *err, const char *what, const char *path)
{
    return fx_err_set(err, FX_EIO, "%s %s: %s", what, path, strerror(errno));
}

static int write_all(int fd, const uint8_t *p, size_t n, const char *path, fx_err_t *err)
{
    return fx_write_all(fd, p, n) < 0 ? sys_err(err, "writing", path) : FX_OK;
}

static char *path_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = fx_malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int fsync_path(const char *p, fx_err_t *err)
{
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sys_err(err, "opening", p);
    int rc = fsync(fd) ? sys_err(err, "fsync of", p) : FX_OK;
    close(fd);
    return rc;
}

/* Writes a whole file in dir (fsynced when asked). */
static int put_file(const fx__bwriter_t *w, const char *name, const uint8_t *p, size_t n,
                    fx_err_t *err)
{
    char *path = path_in(w->tmpdir, name);
    int rc = FX_OK;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = sys_err(err, "creating", path);
        goto out;
    }
    rc = write_all(fd, p, n, path, err);
    if (rc == FX_OK && w->o.fsync && fsync(fd))
        rc = sys_err(err, "fsync of", path);
    close(fd);
out:
    free(path);
    return rc;
}

int fx__bw_begin(fx__bwriter_t *w, const char *parent, const fx_block_write_options_t *o,
                 fx_err_t *err)
{
    memset(w, 0, sizeof *w);
    w->prof_fd = -1;
    w->cb_ps = UINT32_MAX;
    w->min_ns = INT64_MAX;
    w->max_ns = INT64_MIN;
    if (o)
        w->o = *o;
    else
        fx_block_write_options_default(&w->o);
    if (w->o.zstd_level == 0)
        w->o.zstd_level = 9;
    if (w->o.chunk_bytes == 0)
        w->o.chunk_bytes = 4u << 20;
    fx__symbols_init(&w->sym);
    fx__index_init(&w->idx);
    w->parent = fx_strdup(parent);
    fx_block_ulid(fx_now_ms(), w->id);
    if (mkdir(parent, 0755) && errno != EEXIST)
        return sys_err(err, "creating", parent);
    char name[64];
    snprintf(name, sizeof name, ".tmp-%s", w->id);
    w->tmpdir = path_in(parent, name);
    if (mkdir(w->tmpdir, 0755))
        return sys_err(err, "creating", w->tmpdir);
    char *path = path_in(w->tmpdir, fx_block_file_name(FX_BLOCK_PROFILES));
    w->prof_fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    int rc = w->prof_fd < 0 ? sys_err(err, "creating", path) : FX_OK;
    free(path);
    if (rc)
        return rc;
    uint8_t h[FX__HEADER_LEN] = {'F', 'X', 'B', 'K', FX_BLOCK_VERSION, FX_BLOCK_PROFILES, 0, 0};
    fx_buf_append(&w->pbuf, h, sizeof h);
    return FX_OK;
}

uint32_t fx__bw_pseries(fx__bwriter_t *w, const fx_labels_t *cols, uint32_t ncols)
{
    uint32_t ids[FX_ROW_MAX_COLS];
    FX_ASSERT(ncols >= 1 && ncols <= FX_ROW_MAX_COLS);
    for (uint32_t c = 0; c < ncols; c++) {
        uint64_t fp = fx_labels_fingerprint(&cols[c]);
        ids[c] = fx__index_find_series(&w->idx, &cols[c], fp);
        if (ids[c] == UINT32_MAX)
            ids[c] = fx__index_add_series(&w->idx, &cols[c], fp);
    }
    uint32_t ps = fx__index_find_pseries(&w->idx, ids, ncols);
    if (ps == UINT32_MAX) {
        ps = fx__index_add_pseries(&w->idx, ids, ncols);
        FX_GROW(w->wps, w->capwps, (size_t)ps + 1);
        memset(&w->wps[ps], 0, sizeof w->wps[ps]);
    }
    return ps;
}

static int drain(fx__bwriter_t *w, int all, fx_err_t *err)
{
    if (!all && w->pbuf.len < (8u << 20))
        return FX_OK;
    w->prof_crc = libdeflate_crc32(w->prof_crc, w->pbuf.data, w->pbuf.len);
    int rc = write_all(w->prof_fd, w->pbuf.data, w->pbuf.len, "profiles.fxb", err);
    w->prof_len += w->pbuf.len;
    w->pbuf.len = 0;
    return rc;
}

static int flush_chunk(fx__bwriter_t *w, fx_err_t *err)
{
    fx__cbuild_t *cb = &w->cb;
    if (w->cb_ps == UINT32_MAX || cb->nrows == 0)
        return FX_OK;
    fx__wps_t *p = &w->wps[w->cb_ps];
    FX_GROW(p->chunks, p->cap, p->nchunks + 1);
    fx__bchunk_t *c = &p->chunks[p->nchunks++];
    c->off = w->prof_len + w->pbuf.len;
    c->nrows = cb->nrows;
    c->min_ns = cb->min_ns;
    c->max_ns = cb->max_ns;
    size_t before = w->pbuf.len;
    fx__cb_flush(cb, w->o.zstd_level, &w->pbuf);
    c->len = (uint32_t)(w->pbuf.len - before);
    return drain(w, 0, err);
}

typedef struct pair {
    uint32_t stack, idx;
} pair_t;

static int cmp_pair(const void *a, const void *b)
{
    const pair_t *x = a, *y = b;
    return x->stack < y->stack ? -1 : x->stack > y->stack;
}

/* Sorts stacks ascending, summing the values of duplicates; returns the new
 * count. */
static uint32_t sort_stacks(uint32_t *stacks, int64_t *values, uint32_t n, uint32_t nc)
{
    uint32_t i;
    for (i = 1; i < n && stacks[i] > stacks[i - 1]; i++)
        ;
    if (i >= n)
        return n;
    pair_t *pr = fx_malloc(n * sizeof *pr);
    int64_t *v = fx_malloc((size_t)n * nc * sizeof *v);
    for (i = 0; i < n; i++)
        pr[i] = (pair_t){stacks[i], i};
    qsort(pr, n, sizeof *pr, cmp_pair);
    uint32_t m = 0;
    for (i = 0; i < n; i++) {
        const int64_t *src = &values[(size_t)pr[i].idx * nc];
        if (m && stacks[m - 1] == pr[i].stack) {
            for (uint32_t c = 0; c < nc; c++)
                v[(size_t)(m - 1) * nc + c] =
                    (int64_t)((uint64_t)v[(size_t)(m - 1) * nc + c] + (uint64_t)src[c]);
            continue;
        }
        stacks[m] = pr[i].stack;
        memcpy(&v[(size_t)m * nc], src, nc * sizeof *v);
        m++;
    }
    memcpy(values, v, (size_t)m * nc * sizeof *v);
    free(pr);
    free(v);
    return m;
}

int fx__bw_row(fx__bwriter_t *w, uint32_t ps, int64_t ts, const uint8_t *id, uint32_t *stacks,
               int64_t *values, uint32_t nstacks, uint64_t period, const uint8_t *spans,
               size_t nspans_bytes, fx_err_t *err)
{
    fx__pseries_t *p = &w->idx.ps[ps];
    int rc;
    if (ps != w->cb_ps) {
        if ((rc = flush_chunk(w, err)))
            return rc;
        fx__cb_free(&w->cb);
        fx__cb_init(&w->cb, p->ncols);
        w->cb_ps = ps;
    }
    nstacks = sort_stacks(stacks, values, nstacks, p->ncols);
    fx__cb_add(&w->cb, ts, id, stacks, values, nstacks, period, spans, nspans_bytes);
    p->min_ns = FX_MIN(p->min_ns, ts);
    p->max_ns = FX_MAX(p->max_ns, ts);
    p->rows++;
    w->min_ns = FX_MIN(w->min_ns, ts);
    w->max_ns = FX_MAX(w->max_ns, ts);
    w->profiles++;
    w->samples += nstacks;
    if (fx__cb_raw_bytes(&w->cb) >= w->o.chunk_bytes)
        return flush_chunk(w, err);
    return FX_OK;
}

static int64_t floor_ms(int64_t ns)
{
    return ns / 1000000 - (ns % 1000000 < 0);
}

int fx__bw_finish(fx__bwriter_t *w, const char *tenant, int level, const char (*sources)[27],
                  size_t nsources, fx_block_meta_t *meta, fx_err_t *err)
{
    fx_block_meta_t m;
    fx_buf_t b = FX_BUF_INIT, mj = FX_BUF_INIT;
    int rc;
    memset(&m, 0, sizeof m);

    if (w->profiles == 0)
        return fx_err_set(err, FX_ENOTFOUND, "no profiles to write for tenant %s", tenant);
    if ((rc = flush_chunk(w, err)))
        goto out;
    /* Profiles: chunks, an empty toc, the footer. */
    uint64_t toc_off = w->prof_len + w->pbuf.len;
    uint8_t tail[1 + FX__FOOTER_LEN] = {0};
    uint32_t tcrc = fx__crc32(tail, 1);
    for (int i = 0; i < 8; i++)
        tail[1 + i] = (uint8_t)(toc_off >> (8 * i));
    tail[9] = 1;
    for (int i = 0; i < 4; i++)
        tail[13 + i] = (uint8_t)(tcrc >> (8 * i));
    fx_buf_append(&w->pbuf, tail, sizeof tail);
    if ((rc = drain(w, 1, err)))
        goto out;
    if (w->o.fsync && fsync(w->prof_fd)) {
        rc = sys_err(err, "fsync of", "profiles.fxb");
        goto out;
    }
    close(w->prof_fd);
    w->prof_fd = -1;

    strcpy(m.id, w->id);
    m.version = FX_BLOCK_VERSION;
    m.tenant = fx_strdup(tenant);
    m.min_time_ms = floor_ms(w->min_ns);
    m.max_time_ms = floor_ms(w->max_ns);
    m.series = w->idx.nseries;
    m.profiles = w->profiles;
    m.samples = w->samples;
    m.stack_nodes = w->sym.nnodes;
    m.level = level;
    m.files[FX_BLOCK_PROFILES].size = w->prof_len;
    m.files[FX_BLOCK_PROFILES].crc32 = w->prof_crc;
    if (nsources) {
        m.nsources = nsources;
        m.sources = fx_malloc(nsources * sizeof *m.sources);
        memcpy(m.sources, sources, nsources * sizeof *m.sources);
    } else {
        m.nsources = 1;
        m.sources = fx_malloc(sizeof *m.sources);
        strcpy(m.sources[0], w->id);
    }

    write_index(&w->idx, w->wps, tenant, w->id, w->min_ns, w->max_ns, w->profiles,
                    w->samples, w->o.zstd_level, &b);
    m.files[FX_BLOCK_INDEX].size = b.len;
    m.files[FX_BLOCK_INDEX].crc32 = fx__crc32(b.data, b.len);
    if ((rc = put_file(w, fx_block_file_name(FX_BLOCK_INDEX), b.data, b.len, err)))
        goto out;
    b.len = 0;
    write_symbols(&w->sym, w->o.zstd_level, &b);
    m.files[FX_BLOCK_SYMBOLS].size = b.len;
    m.files[FX_BLOCK_SYMBOLS].crc32 = fx__crc32(b.data, b.len);
    if ((rc = put_file(w, fx_block_file_name(FX_BLOCK_SYMBOLS), b.data, b.len, err)))
        goto out;
    fx_block_meta_encode(&m, &mj);
    if ((rc = put_file(w, fx_block_file_name(FX_BLOCK_META), mj.data, mj.len, err)))
        goto out;

    /* Publish: the directory appears complete under its final name. */
    if (w->o.fsync && (rc = fsync_path(w->tmpdir, err)))
        goto out;
    char *final = path_in(w->parent, w->id);
    if (rename(w->tmpdir, final)) {
        rc = sys_err(err, "renaming the block to", final);
        free(final);
        goto out;
    }
    free(final);
    free(w->tmpdir);
    w->tmpdir = NULL;
    if (w->o.fsync && (rc = fsync_path(w->parent, err)))
        goto out;
    fx_log_info("block written", "id=%s tenant=%s level=%d profiles=%llu samples=%llu bytes=%llu",
                m.id, fx_q(tenant), level, (unsigned long long)m.profiles,
                (unsigned long long)m.samples,
                (unsigned long long)(m.files[1].size + m.files[2].size + m.files[3].size));
out:
    if (rc == FX_OK && meta)
        *meta = m;
    else
        fx_block_meta_free(&m);
    fx_buf_free(&b);
    fx_buf_free(&mj);
    return rc;
}

void fx__bw_free(fx__bwriter_t *w)
{
    if (w->prof_fd >= 0)
        close(w->prof_fd);
    if (w->tmpdir)
        fx_rm_rf(w->tmpdir);
    free(w->tmpdir);
    free(w->parent);
    fx_buf_free(&w->pbuf);
    for (size_t i = 0; i < w->idx.nps; i++)
        free(w->wps[i].chunks);
    free(w->wps);
    fx__symbols_free(&w->sym);
    fx__index_free(&w->idx);
    fx__cb_free(&w->cb);
    memset(w, 0, sizeof *w);
    w->prof_fd = -1;
}

/* --- row decoding --------------------------------------------------------------------------- */

typedef struct dec {
    uint32_t *stacks;
    int64_t *values;
    uint32_t ncols, col, i;
} dec_t;

static void dec_visit(void *ctx, uint32_t stack, int64_t value)
{
    dec_t *d = ctx;
    if (d->col == 0)
        d->stacks[d->i] = stack;
    d->values[(size_t)d->i * d->ncols + d->col] = value;
    d->i++;
}

int fx__row_decode(const fx_row_t *row, uint32_t max_stack, uint32_t **stacks, int64_t **values,
                   size_t *cap, fx_err_t *err)
{
    size_t need = (size_t)row->nstacks * row->ncols + 1;
    if (need > *cap) {
        *cap = need;
        *stacks = fx_realloc(*stacks, need * sizeof **stacks);
        *values = fx_realloc(*values, need * sizeof **values);
    }
    dec_t d = {*stacks, *values, row->ncols, 0, 0};
    for (d.col = 0; d.col < row->ncols; d.col++) {
        d.i = 0;
        int rc = fx_row_visit(row, d.col, max_stack, dec_visit, &d, err);
        if (rc)
            return rc;
    }
    return FX_OK;
}
