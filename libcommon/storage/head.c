/*
 * head.c - opening the head (RocksDB column families, rebuilding memory from
 * disk), tenants, and the durable append path with group commit.
 *
 * Durability: an append interns its symbols and series in memory, then
 * writes ONE WriteBatch - the tenant's registration if new, every symbol and
 * series chunk it created, and the profile row - while still holding the
 * tenant's append lock, so batches reach the WAL in the order their ids
 * were assigned and every row's references are in the same or an earlier
 * batch. The write itself does not fsync; after releasing the lock the
 * appender waits in fx__wal_sync until one fsync (rocksdb_flush_wal with
 * sync) that began after its write has finished: concurrent appends share
 * fsyncs instead of queueing for one each (docs/storage.md has numbers).
 */
#include "storage/head_int.h"
#include "storage/row.h"
#include "log/log.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const cf_names[FX__NCF] = {"default", "symbols", "profiles"};

void fx_head_options_default(fx_head_options_t *o)
{
    o->sync = 1;
    o->wal_compression = 1;
    o->block_cache_bytes = 64u << 20;
    o->write_buffer_bytes = 64u << 20;
}

/* Turns a RocksDB error string (freed here) into err; returns code. */
static int db_err(fx_err_t *err, int code, char *e, const char *what)
{
    fx_err_set(err, code, "%s: %s", what, e ? e : "unknown RocksDB error");
    rocksdb_free(e);
    return code;
}

/* --- keys ------------------------------------------------------------------------- */

static void sym_key(uint8_t *k, uint32_t tenant, int kind, uint32_t first)
{
    uint8_t *p = k;
    for (int i = 3; i >= 0; i--)
        *p++ = (uint8_t)(tenant >> (8 * i));
    *p++ = (uint8_t)kind;
    for (int i = 3; i >= 0; i--)
        *p++ = (uint8_t)(first >> (8 * i));
}

void fx__row_key(uint8_t *k, uint32_t tenant, uint32_t pseries, int64_t ts_ns, const uint8_t id[16])
{
    uint64_t ts = (uint64_t)ts_ns ^ (1ULL << 63); /* order-preserving for signed times */
    for (int i = 0; i < 4; i++) {
        k[i] = (uint8_t)(tenant >> (24 - 8 * i));
        k[4 + i] = (uint8_t)(pseries >> (24 - 8 * i));
    }
    for (int i = 0; i < 8; i++)
        k[8 + i] = (uint8_t)(ts >> (56 - 8 * i));
    if (id)
        memcpy(k + 16, id, 16);
    else
        memset(k + 16, 0, 16);
}

/* --- tenants ------------------------------------------------------------------------ */

static fx__tenant_t *tenant_new(uint32_t id, const char *name)
{
    fx__tenant_t *t = fx_calloc(1, sizeof *t);
    t->id = id;
    t->name = fx_strdup(name);
    pthread_rwlockattr_t ra;
    pthread_mutex_init(&t->append_mu, NULL);
    /* glibc's default lets a stream of queries starve appends. */
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&t->rw, &ra);
    pthread_rwlockattr_destroy(&ra);
    fx__symbols_init(&t->sym);
    fx__index_init(&t->idx);
    return t;
}

static void tenant_free(fx__tenant_t *t)
{
    if (!t)
        return;
    fx__symbols_free(&t->sym);
    fx__index_free(&t->idx);
    pthread_mutex_destroy(&t->append_mu);
    pthread_rwlock_destroy(&t->rw);
    free(t->name);
    free(t);
}

/* Registers a tenant under id (tenants_mu held or single-threaded open). */
static fx__tenant_t *tenant_put(fx_head_t *h, uint32_t id, const char *name)
{
    if (id >= h->ntenants) {
        size_t n = h->ntenants;
        FX_GROW(h->tenants, h->captenants, (size_t)id + 1);
        memset(&h->tenants[n], 0, ((size_t)id + 1 - n) * sizeof *h->tenants);
        h->ntenants = (size_t)id + 1;
    }
    fx__tenant_t *t = tenant_new(id, name);
    h->tenants[id] = t;
    /* tenant_names ids are in interning order, not tenant ids: keep a map. */
    uint32_t sid = fx_strtab_intern(&h->tenant_names, name, strlen(name));
    FX_GROW(h->tenant_of_name, h->cap_ton, (size_t)sid + 1);
    h->tenant_of_name[sid] = id;
    return t;
}

static fx__tenant_t *tenant_by_name(fx_head_t *h, const char *name)
{
    int64_t sid = fx_strtab_find(&h->tenant_names, name, strlen(name));
    return sid < 0 ? NULL : h->tenants[h->tenant_of_name[sid]];
}

fx__tenant_t *fx__tenant_get(fx_head_t *h, const char *name, int create)
{
    pthread_mutex_lock(&h->tenants_mu);
    fx__tenant_t *t = tenant_by_name(h, name);
    if (!t && create)
        t = tenant_put(h, (uint32_t)h->ntenants, name);
    pthread_mutex_unlock(&h->tenants_mu);
    return t;
}

/* --- open / load ---------------------------------------------------------------------- */

static rocksdb_options_t *cf_options(fx_head_t *h, int cf)
{
    rocksdb_options_t *o = rocksdb_options_create_copy(h->dbopts);
    rocksdb_block_based_table_options_t *t = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(t, h->cache);
    rocksdb_block_based_options_set_format_version(t, 5);
    if (cf == FX__CF_PROFILES) {
        /* Big blocks give zstd room to find the stacks rows share. */
        rocksdb_block_based_options_set_block_size(t, 64 << 10);
        rocksdb_options_set_write_buffer_size(o, h->opts.write_buffer_bytes);
        rocksdb_options_set_compression(o, rocksdb_zstd_compression);
        rocksdb_options_set_bottommost_compression(o, rocksdb_zstd_compression);
        rocksdb_options_set_bottommost_compression_options(o, -14, 6, 0, 0, 1);
    } else if (cf == FX__CF_SYMBOLS) {
        rocksdb_block_based_options_set_block_size(t, 16 << 10);
        rocksdb_options_set_write_buffer_size(o, 16u << 20);
        rocksdb_options_set_compression(o, rocksdb_zstd_compression);
    } else {
        rocksdb_options_set_write_buffer_size(o, 1u << 20);
        rocksdb_options_set_compression(o, rocksdb_no_compression);
    }
    rocksdb_options_set_block_based_table_factory(o, t);
    h->table[cf] = t;
    return o;
}

static int load_tenants(fx_head_t *h, fx_err_t *err)
{
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(h->db, h->ro, h->cf[FX__CF_META]);
    int rc = FX_OK;
    char *e = NULL;
    for (rocksdb_iter_seek(it, "T", 1); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl), *v = rocksdb_iter_value(it, &vl);
        if (kl < 1 || k[0] != 'T')
            break;
        if (vl != 4 || kl < 2 || kl > FX__TENANT_MAX + 1) {
            rc = fx_err_set(err, FX_ECORRUPT, "stored tenant record is corrupt");
            break;
        }
        uint32_t id = fx_get_u32be((const uint8_t *)v);
        char *name = fx_strndup(k + 1, kl - 1);
        if (id >= (1u << 24) || (id < h->ntenants && h->tenants[id]) || tenant_by_name(h, name)) {
            free(name);
            rc = fx_err_set(err, FX_ECORRUPT, "stored tenant record is corrupt (id %u)", id);
            break;
        }
        tenant_put(h, id, name)->persisted = 1;
        free(name);
    }
    rocksdb_iter_get_error(it, &e);
    if (e && rc == FX_OK)
        rc = db_err(err, FX_EIO, e, "reading tenants");
    else
        rocksdb_free(e);
    rocksdb_iter_destroy(it);
    return rc;
}

static int load_symbols(fx_head_t *h, fx_err_t *err)
{
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(h->db, h->ro, h->cf[FX__CF_SYMBOLS]);
    int rc = FX_OK;
    char *e = NULL;
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &kl);
        const uint8_t *v = (const uint8_t *)rocksdb_iter_value(it, &vl);
        if (kl != FX__SYM_KEY_LEN) {
            rc = fx_err_set(err, FX_ECORRUPT, "stored symbol key has %zu bytes", kl);
            break;
        }
        uint32_t tid = fx_get_u32be(k), first = fx_get_u32be(k + 5);
        int kind = k[4];
        fx__tenant_t *t = tid < h->ntenants ? h->tenants[tid] : NULL;
        if (!t) {
            rc = fx_err_set(err, FX_ECORRUPT, "stored symbols of unknown tenant %u", tid);
            break;
        }
        if (kind == FX__K_SERIES || kind == FX__K_PSERIES)
            rc = fx__index_load_chunk(&t->idx, kind, first, v, vl, err);
        else
            rc = fx__sym_load_chunk(&t->sym, kind, first, v, vl, err);
        if (rc) {
            fx_err_prefix(err, "tenant %s", t->name);
            break;
        }
    }
    rocksdb_iter_get_error(it, &e);
    if (e && rc == FX_OK)
        rc = db_err(err, FX_EIO, e, "reading symbols");
    else
        rocksdb_free(e);
    rocksdb_iter_destroy(it);
    return rc;
}

/* Rebuilds each row series' time range and row count from the row keys. */
static int load_row_stats(fx_head_t *h, fx_err_t *err)
{
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_fill_cache(ro, 0);
    rocksdb_readoptions_set_readahead_size(ro, 2u << 20);
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(h->db, ro, h->cf[FX__CF_PROFILES]);
    int rc = FX_OK;
    char *e = NULL;
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl;
        const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &kl);
        uint32_t tid = kl == FX__ROW_KEY_LEN ? fx_get_u32be(k) : UINT32_MAX;
        fx__tenant_t *t = tid < h->ntenants ? h->tenants[tid] : NULL;
        uint32_t ps = t ? fx_get_u32be(k + 4) : UINT32_MAX;
        if (!t || ps >= t->idx.nps) {
            rc = fx_err_set(err, FX_ECORRUPT,
                            "stored profile row has a bad key (tenant %u, series %u)", tid, ps);
            break;
        }
        fx__pseries_t *p = &t->idx.ps[ps];
        int64_t ts = fx__row_key_ts(k);
        p->min_ns = FX_MIN(p->min_ns, ts);
        p->max_ns = FX_MAX(p->max_ns, ts);
        p->rows++;
    }
    rocksdb_iter_get_error(it, &e);
    if (e && rc == FX_OK)
        rc = db_err(err, FX_EIO, e, "reading profile rows");
    else
        rocksdb_free(e);
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    return rc;
}

int fx_head_open(const char *dir, const fx_head_options_t *opts, fx_head_t **out, fx_err_t *err)
{
    fx_head_t *h = fx_calloc(1, sizeof *h);
    char *e = NULL;
    int rc = FX_OK;

    if (opts)
        h->opts = *opts;
    else
        fx_head_options_default(&h->opts);
    pthread_mutex_init(&h->tenants_mu, NULL);
    pthread_mutex_init(&h->sync_mu, NULL);
    pthread_cond_init(&h->sync_cv, NULL);
    fx_strtab_init(&h->tenant_names);
    h->dir = fx_strdup(dir);

    h->cache = rocksdb_cache_create_lru(h->opts.block_cache_bytes ? h->opts.block_cache_bytes
                                                                  : 8u << 20);
    h->dbopts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(h->dbopts, 1);
    rocksdb_options_set_create_missing_column_families(h->dbopts, 1);
    rocksdb_options_increase_parallelism(h->dbopts, 2);
    rocksdb_options_set_max_background_jobs(h->dbopts, 2);
    rocksdb_options_set_keep_log_file_num(h->dbopts, 3);
    rocksdb_options_set_max_log_file_size(h->dbopts, 8u << 20);
    /* A WAL file lives until every column family with data in it has
     * flushed; the small symbol and meta memtables rarely fill, so without
     * this bound old WAL files (rows long since in SSTs) piled up to 512 MiB.
     * Past the bound RocksDB flushes those small memtables (cheap). */
    rocksdb_options_set_max_total_wal_size(h->dbopts, h->opts.write_buffer_bytes);
    /* Rows sit in the WAL until a memtable flush (64 MiB): compressed, the
     * head's footprint stays near the SST figure between flushes instead of
     * 2-3x above it, for little CPU (rows are small next to the pprof bytes). */
    if (h->opts.wal_compression)
        rocksdb_options_set_wal_compression(h->dbopts, rocksdb_zstd_compression);
    /* kPointInTimeRecovery: replay the WAL up to a torn tail, which is
     * exactly the set of completed (and so possibly acknowledged) batches. */
    rocksdb_options_set_wal_recovery_mode(h->dbopts, 2);
    for (int i = 0; i < FX__NCF; i++)
        h->cfopts[i] = cf_options(h, i);
    h->db = rocksdb_open_column_families(h->dbopts, dir, FX__NCF, (const char *const *)cf_names,
                                         (const rocksdb_options_t *const *)h->cfopts, h->cf, &e);
    if (!h->db) {
        rc = db_err(err, FX_EIO, e, "opening the head database");
        fx_err_prefix(err, "%s", dir);
        goto out;
    }
    h->wo = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(h->wo, 0);
    h->ro = rocksdb_readoptions_create();

    if ((rc = load_tenants(h, err)) || (rc = load_symbols(h, err)) ||
        (rc = load_row_stats(h, err)))
        goto out;
    size_t nseries = 0;
    for (size_t i = 0; i < h->ntenants; i++)
        if (h->tenants[i])
            nseries += h->tenants[i]->idx.nseries;
    fx_log_info("head opened", "dir=%s tenants=%zu series=%zu", fx_q(dir), h->ntenants, nseries);
out:
    if (rc) {
        fx_head_close(h);
        h = NULL;
    }
    *out = h;
    return rc;
}

void fx_head_close(fx_head_t *h)
{
    if (!h)
        return;
    if (h->db) {
        for (int i = 0; i < FX__NCF; i++)
            if (h->cf[i])
                rocksdb_column_family_handle_destroy(h->cf[i]);
        rocksdb_close(h->db);
    }
    for (int i = 0; i < FX__NCF; i++) {
        if (h->cfopts[i])
            rocksdb_options_destroy(h->cfopts[i]);
        if (h->table[i])
            rocksdb_block_based_options_destroy(h->table[i]);
    }
    if (h->dbopts)
        rocksdb_options_destroy(h->dbopts);
    if (h->cache)
        rocksdb_cache_destroy(h->cache);
    if (h->wo)
        rocksdb_writeoptions_destroy(h->wo);
    if (h->ro)
        rocksdb_readoptions_destroy(h->ro);
    for (size_t i = 0; i < h->ntenants; i++)
        tenant_free(h->tenants[i]);
    free(h->tenants);
    free(h->tenant_of_name);
    fx_strtab_free(&h->tenant_names);
    pthread_mutex_destroy(&h->tenants_mu);
    pthread_mutex_destroy(&h->sync_mu);
    pthread_cond_destroy(&h->sync_cv);
    free(h->dir);
    free(h);
}

/* --- group commit --------------------------------------------------------------------- */

/* Returns once WAL writes up to ticket are fsynced. One thread syncs at a
 * time; a sync covers every write that completed (took a ticket) before it
 * started, so waiters whose ticket it covers return without syncing. */
static int wal_sync(fx_head_t *h, uint64_t ticket, fx_err_t *err)
{
    int rc = FX_OK;
    pthread_mutex_lock(&h->sync_mu);
    while (h->synced < ticket) {
        if (h->syncing) {
            pthread_cond_wait(&h->sync_cv, &h->sync_mu);
            continue;
        }
        h->syncing = 1;
        uint64_t target = atomic_load(&h->written);
        pthread_mutex_unlock(&h->sync_mu);
        char *e = NULL;
        rocksdb_flush_wal(h->db, 1, &e);
        atomic_fetch_add(&h->st_syncs, 1);
        pthread_mutex_lock(&h->sync_mu);
        h->syncing = 0;
        if (!e && target > h->synced)
            h->synced = target;
        pthread_cond_broadcast(&h->sync_cv);
        if (e) {
            rc = db_err(err, FX_EIO, e, "syncing the write-ahead log");
            break;
        }
    }
    pthread_mutex_unlock(&h->sync_mu);
    return rc;
}

/* --- append ------------------------------------------------------------------------- */

static const char *slice_dup(fx_arena_t *a, fx_slice_t s)
{
    return fx_arena_strndup(a, (const char *)s.data, s.len);
}

/* CreateProfileLabels (reference §7) for sample type c. */
static fx_labels_t column_labels(fx_arena_t *a, const fx_labels_t *base, const fx_pprof_t *p,
                                 size_t c)
{
    fx_labels_t l = fx_labels_copy(a, base, 6);
    fx_labels_del(&l, FX_LABEL_DELTA);
    fx_labels_del(&l, "__otel__");
    fx_labels_del(&l, "__order__");
    const char *name = fx_labels_get(&l, FX_LABEL_NAME);
    const char *svc = fx_labels_get(&l, FX_LABEL_SERVICE_NAME);
    const char *type = slice_dup(a, fx_pprof_str(p, p->sample_types[c].type));
    const char *unit = slice_dup(a, fx_pprof_str(p, p->sample_types[c].unit));
    const char *pt = "", *pu = "";
    if (svc)
        fx_labels_set(&l, FX_LABEL_SERVICE_NAME_PRIVATE, svc);
    if (p->has_period_type) {
        pt = slice_dup(a, fx_pprof_str(p, p->period_type.type));
        pu = slice_dup(a, fx_pprof_str(p, p->period_type.unit));
        fx_labels_set(&l, FX_LABEL_PERIOD_TYPE, pt);
        fx_labels_set(&l, FX_LABEL_PERIOD_UNIT, pu);
    } else {
        fx_labels_del(&l, FX_LABEL_PERIOD_TYPE);
        fx_labels_del(&l, FX_LABEL_PERIOD_UNIT);
    }
    fx_labels_set(&l, FX_LABEL_TYPE, type);
    fx_labels_set(&l, FX_LABEL_UNIT, unit);
    /* Pyroscope's default relabeling: the CPU column of a wall profile (Node,
     * .NET, Java with collectCpuTime) is a process_cpu profile. */
    if (name && strcmp(name, "wall") == 0 && strcmp(type, "cpu") == 0) {
        name = "process_cpu";
        fx_labels_set(&l, FX_LABEL_NAME, name);
    }
    fx_labels_set(&l, FX_LABEL_PROFILE_TYPE,
                  fx_arena_printf(a, "%s:%s:%s:%s:%s", name, type, unit, pt, pu));
    fx_labels_sort(&l);
    return l;
}

/* Per-append state: memo tables from pprof indices to tenant ids. */
typedef struct ingest {
    const fx_pprof_t *p;
    fx__symbols_t *s;
    uint32_t *str, *fn, *map, *loc; /* UINT32_MAX = not yet interned */
} ingest_t;

static uint32_t in_str(ingest_t *g, int64_t i)
{
    if (i <= 0 || (uint64_t)i >= g->p->nstrings)
        return 0;
    if (g->str[i] == UINT32_MAX)
        g->str[i] = fx__sym_string(g->s, (const char *)g->p->strings[i].data,
                                   g->p->strings[i].len);
    return g->str[i];
}

static uint32_t in_mapping(ingest_t *g, uint64_t id)
{
    int64_t i = id ? fx_pprof_idmap_find(&g->p->map_index, id, g->p->nmappings) : -1;
    if (i < 0)
        return 0; /* like Go's pprof, an unknown mapping is no mapping */
    if (g->map[i] == UINT32_MAX) {
        const fx_pprof_mapping_t *pm = &g->p->mappings[i];
        fx__mapping_t m = {pm->memory_start, pm->memory_limit, pm->file_offset,
                           in_str(g, pm->filename), in_str(g, pm->build_id),
                           (uint8_t)((pm->has_functions ? 1 : 0) | (pm->has_filenames ? 2 : 0) |
                                     (pm->has_line_numbers ? 4 : 0) |
                                     (pm->has_inline_frames ? 8 : 0))};
        g->map[i] = fx__sym_mapping(g->s, &m) + 1;
    }
    return g->map[i];
}

static uint32_t in_function(ingest_t *g, uint64_t id)
{
    int64_t i = fx_pprof_idmap_find(&g->p->fn_index, id, g->p->nfunctions);
    FX_ASSERT(i >= 0); /* checked by check_profile */
    if (g->fn[i] == UINT32_MAX) {
        const fx_pprof_function_t *pf = &g->p->functions[i];
        fx__fn_t f = {in_str(g, pf->name), in_str(g, pf->system_name), in_str(g, pf->filename),
                      pf->start_line};
        g->fn[i] = fx__sym_function(g->s, &f);
    }
    return g->fn[i];
}

static uint32_t in_location(ingest_t *g, size_t i, fx__line_t **lines, size_t *cap)
{
    if (g->loc[i] == UINT32_MAX) {
        const fx_pprof_location_t *pl = &g->p->locations[i];
        FX_GROW(*lines, *cap, pl->nlines + 1);
        for (uint32_t j = 0; j < pl->nlines; j++) {
            (*lines)[j].fn = in_function(g, pl->lines[j].function_id);
            (*lines)[j].line = pl->lines[j].line;
        }
        fx__loc_t l = {.address = pl->address, .mapping = in_mapping(g, pl->mapping_id),
                       .nlines = pl->nlines, .folded = pl->is_folded};
        g->loc[i] = fx__sym_location(g->s, &l, *lines);
    }
    return g->loc[i];
}

/* Checks everything the interning dereferences, before anything changes:
 * value counts, location ids (resolved into locidx), function ids. */
static int check_profile(const fx_pprof_t *p, uint32_t *locidx, fx_err_t *err)
{
    size_t k = 0;
    for (size_t i = 0; i < p->nsamples; i++) {
        const fx_pprof_sample_t *s = &p->samples[i];
        if (s->nvalues != p->nsample_types)
            return fx_err_set(err, FX_EINVAL, "sample %zu has %u values for %zu sample types", i,
                              s->nvalues, p->nsample_types);
        uint32_t j = 0;
        if (p->loc_index.dense) { /* ids 1..n: a range check per frame */
            for (uint64_t n = p->nlocations; j < s->nlocs && s->locs[j] - 1 < n; j++)
                locidx[k++] = (uint32_t)(s->locs[j] - 1);
        } else {
            for (int64_t li; j < s->nlocs &&
                             (li = fx_pprof_idmap_find(&p->loc_index, s->locs[j], p->nlocations)) >= 0;
                 j++)
                locidx[k++] = (uint32_t)li;
        }
        if (j < s->nlocs)
            return fx_err_set(err, FX_EINVAL, "sample %zu references location id %llu, "
                              "which the profile does not define", i,
                              (unsigned long long)s->locs[j]);
    }
    for (size_t i = 0; i < p->nlocations; i++)
        for (uint32_t j = 0; j < p->locations[i].nlines; j++)
            if (fx_pprof_idmap_find(&p->fn_index, p->locations[i].lines[j].function_id,
                                    p->nfunctions) < 0)
                return fx_err_set(err, FX_EINVAL, "location id %llu references function id "
                                  "%llu, which the profile does not define",
                                  (unsigned long long)p->locations[i].id,
                                  (unsigned long long)p->locations[i].lines[j].function_id);
    return FX_OK;
}

/* An append's local stack trie index: (parent local node << 32 | pprof
 * location index) -> local node. Open addressing with Fibonacci hashing,
 * key and value side by side so a probe touches one cache line; a real
 * profile makes ~10^5 probes here, which is why this is not fx_map64. */
typedef struct trie_slot {
    uint64_t key; /* TRIE_EMPTY = free */
    uint64_t val;
} trie_slot_t;

typedef struct trie {
    trie_slot_t *v;
    size_t cap, len;
    unsigned shift; /* 64 - log2(cap) */
} trie_t;

#define TRIE_EMPTY UINT64_MAX /* parent < UINT32_MAX, so never a key */

static void trie_alloc(trie_t *t, size_t cap)
{
    t->v = fx_malloc(cap * sizeof *t->v);
    memset(t->v, 0xff, cap * sizeof *t->v);
    t->cap = cap;
    t->shift = 64 - (unsigned)__builtin_ctzll(cap);
}

/* Room for about `expect` entries before the first growth. */
static void trie_init(trie_t *t, size_t expect)
{
    size_t cap = 1024;
    while (cap * 3 < expect * 4)
        cap *= 2;
    t->len = 0;
    trie_alloc(t, cap);
}

static void trie_free(trie_t *t)
{
    free(t->v);
    t->v = NULL;
}

static inline trie_slot_t *trie_probe(trie_t *t, uint64_t key)
{
    size_t mask = t->cap - 1, j = (size_t)((key * 0x9e3779b97f4a7c15ULL) >> t->shift);
    while (t->v[j].key != key && t->v[j].key != TRIE_EMPTY)
        j = (j + 1) & mask;
    return &t->v[j];
}

static void trie_grow(trie_t *t)
{
    trie_slot_t *old = t->v;
    size_t ocap = t->cap;
    trie_alloc(t, ocap * 2);
    for (size_t i = 0; i < ocap; i++)
        if (old[i].key != TRIE_EMPTY)
            *trie_probe(t, old[i].key) = old[i];
    free(old);
}

/* The value for key, or, if key is new, adds it with value next. */
static inline uint32_t trie_get_or_add(trie_t *t, uint64_t key, uint32_t next, int *added)
{
    if ((t->len + 1) * 4 > t->cap * 3)
        trie_grow(t);
    trie_slot_t *e = trie_probe(t, key);
    *added = e->key == TRIE_EMPTY;
    if (*added) {
        e->key = key;
        e->val = next;
        t->len++;
    }
    return (uint32_t)e->val;
}

/* A node of the local trie: pprof location index under a parent. */
typedef struct lnode {
    uint32_t parent, loc, depth;
    uint32_t last_child; /* the child the last walk through here took; 0 = none */
} lnode_t;

/* Sorts v[0..n) by their upper 32 bits, which are below max: a stable LSD
 * radix sort, 8 bits a pass, as many passes as max needs. tmp has room for
 * n. Returns whichever of v and tmp holds the result. */
static uint64_t *sort_by_node(uint64_t *v, uint64_t *tmp, size_t n, uint32_t max)
{
    for (unsigned shift = 32; shift < 64 && (max >> (shift - 32)); shift += 8) {
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++)
            count[((v[i] >> shift) & 0xff) + 1]++;
        for (size_t b = 1; b < 257; b++)
            count[b] += count[b - 1];
        for (size_t i = 0; i < n; i++)
            tmp[count[(v[i] >> shift) & 0xff]++] = v[i];
        uint64_t *t = v;
        v = tmp;
        tmp = t;
    }
    return v;
}

static void put_chunk(fx_head_t *h, rocksdb_writebatch_t *wb, uint32_t tenant, int kind,
                      size_t from, fx_buf_t *val)
{
    uint8_t k[FX__SYM_KEY_LEN];
    sym_key(k, tenant, kind, (uint32_t)from);
    rocksdb_writebatch_put_cf(wb, h->cf[FX__CF_SYMBOLS], (const char *)k, sizeof k,
                              (const char *)val->data, val->len);
    val->len = 0;
}

/* Samples carrying a span id - a span_id label, or profile_id, its older
 * name (Pyroscope renames it) - of 16 hex digits (others are ignored, as
 * Pyroscope ignores them): their indices into *idx and ids into *ids
 * (arena). Returns how many. Costs one test per sample without labels. */
static size_t sample_spans(const fx_pprof_t *p, fx_arena_t *a, uint32_t **idx, uint64_t **ids)
{
    size_t n = 0;
    int64_t seen[2] = {-1, -1}; /* string indices known to name a span label */
    int64_t other = -1;         /* the last one known not to (Go heap: "bytes") */
    *idx = NULL;
    *ids = NULL;
    for (size_t i = 0; i < p->nsamples; i++) {
        const fx_pprof_sample_t *sm = &p->samples[i];
        for (uint32_t k = 0; k < sm->nlabels; k++) {
            const fx_pprof_label_t *l = &sm->labels[k];
            if (l->key == other)
                continue;
            if (l->key != seen[0] && l->key != seen[1]) {
                int which = fx_pprof_str_eq(p, l->key, "span_id")      ? 0
                            : fx_pprof_str_eq(p, l->key, "profile_id") ? 1
                                                                       : -1;
                if (which < 0) {
                    other = l->key;
                    continue;
                }
                seen[which] = l->key;
            }
            fx_slice_t v = fx_pprof_str(p, l->str);
            uint64_t span;
            if (fx_span_id_parse((const char *)v.data, v.len, &span))
                continue;
            if (!*idx) {
                *idx = fx_arena_alloc(a, (p->nsamples - i) * sizeof **idx);
                *ids = fx_arena_alloc(a, (p->nsamples - i) * sizeof **ids);
            }
            (*idx)[n] = (uint32_t)i;
            (*ids)[n++] = span;
            break;
        }
    }
    return n;
}

int fx_head_append(fx_head_t *h, const char *tenant, const fx_labels_t *series_labels,
                   const fx_pprof_t *p, const uint8_t profile_id[16], int64_t time_ns,
                   const fx_head_limits_t *limits, fx_err_t *err)
{
    fx_arena_t a;
    fx_buf_t row = FX_BUF_INIT, chunk = FX_BUF_INIT, spans = FX_BUF_INIT;
    rocksdb_writebatch_t *wb = NULL;
    fx__line_t *lines = NULL;
    size_t lines_cap = 0, ncols = p->nsample_types, nlocrefs = 0;
    uint64_t *order = NULL;
    int64_t *values = NULL;
    uint32_t *stacks = NULL;
    fx__tenant_t *t = NULL;
    int rc = FX_OK, locked = 0;
    uint64_t ticket = 0;
    trie_t trie = {NULL, 0, 0, 0};
    lnode_t *lnodes = NULL;

    fx_arena_init(&a);
    if (!tenant || !*tenant || strlen(tenant) > FX__TENANT_MAX) {
        rc = fx_err_set(err, FX_EINVAL, "tenant id must have 1 to %d bytes", FX__TENANT_MAX);
        goto out;
    }
    if (ncols == 0 || ncols > FX_ROW_MAX_COLS) {
        rc = fx_err_set(err, FX_EINVAL, "profile has %zu sample types (1 to %d are supported)",
                        ncols, FX_ROW_MAX_COLS);
        goto out;
    }
    if (!fx_labels_get(series_labels, FX_LABEL_NAME)) {
        rc = fx_err_set(err, FX_EINVAL, "series has no profile name (label __name__)");
        goto out;
    }
    if (p->nsamples > UINT32_MAX / 2) {
        rc = fx_err_set(err, FX_EINVAL, "profile has too many samples");
        goto out;
    }
    for (size_t i = 0; i < p->nsamples; i++)
        nlocrefs += p->samples[i].nlocs;
    uint32_t *locidx = fx_arena_alloc(&a, (nlocrefs + 1) * sizeof *locidx);
    if ((rc = check_profile(p, locidx, err)))
        goto out;
    uint32_t *span_idx;
    uint64_t *span_ids;
    size_t nspan = sample_spans(p, &a, &span_idx, &span_ids);
    fx_labels_t cl[FX_ROW_MAX_COLS];
    uint64_t fp[FX_ROW_MAX_COLS];
    uint32_t sid[FX_ROW_MAX_COLS];
    for (size_t c = 0; c < ncols; c++) {
        cl[c] = column_labels(&a, series_labels, p, c);
        fp[c] = fx_labels_fingerprint(&cl[c]);
    }

    /* What depends on the pprof alone is done before taking the tenant's
     * lock: the samples' stacks become a local trie over pprof location
     * indices, walked root first through a hash of (parent, location). Each
     * distinct prefix is one local node and costs one stack-tree lookup
     * later; a node is numbered after its parent, and a sample's new tail
     * gets consecutive numbers. */
    ingest_t g = {p, NULL, NULL, NULL, NULL, NULL};
    g.str = fx_arena_alloc(&a, (p->nstrings + 1) * 4);
    g.fn = fx_arena_alloc(&a, (p->nfunctions + 1) * 4);
    g.map = fx_arena_alloc(&a, (p->nmappings + 1) * 4);
    g.loc = fx_arena_alloc(&a, (p->nlocations + 1) * 4);
    memset(g.str, 0xff, (p->nstrings + 1) * 4);
    memset(g.fn, 0xff, (p->nfunctions + 1) * 4);
    memset(g.map, 0xff, (p->nmappings + 1) * 4);
    memset(g.loc, 0xff, (p->nlocations + 1) * 4);
    order = fx_malloc((p->nsamples + 1) * sizeof *order);
    size_t maxdepth = 0;
    for (size_t i = 0; i < p->nsamples; i++)
        maxdepth = FX_MAX(maxdepth, p->samples[i].nlocs);
    uint32_t *leaf = fx_arena_alloc(&a, (p->nsamples + 1) * sizeof *leaf);
    size_t *lstart = fx_arena_calloc(&a, (maxdepth + 3) * sizeof *lstart);
    uint32_t *path = fx_arena_alloc(&a, (maxdepth + 1) * sizeof *path);
    /* Real profiles have about one distinct prefix per 5 frames. */
    size_t nl = 1, lcap = nlocrefs / 5 + 16; /* local node 0 is the root */
    trie_init(&trie, lcap);
    lnodes = fx_malloc(lcap * sizeof *lnodes);
    lnodes[0] = (lnode_t){0, 0, 0, 0};
    for (size_t i = 0, off = 0, prev = 0; i < p->nsamples;
         prev = off, off += p->samples[i++].nlocs) {
        size_t n = p->samples[i].nlocs, cp = 0;
        const uint32_t *x = locidx + off;
        /* Consecutive samples often share a root-side prefix: reuse it. */
        if (i > 0) {
            const uint32_t *y = locidx + prev;
            size_t m = p->samples[i - 1].nlocs;
            while (cp < n && cp < m && x[n - 1 - cp] == y[m - 1 - cp])
                cp++;
        }
        uint32_t node = cp ? path[cp - 1] : 0;
        /* locs are leaf first; the tree grows from the root. Most nodes
         * have one child, and walks repeat: the child the last walk took is
         * tried before the hash (nodes of one path sit side by side, so
         * this mostly stays in cache where the hash would miss). */
        for (size_t d = cp; d < n; d++) {
            uint32_t loc = x[n - 1 - d], next = lnodes[node].last_child;
            if (!next || lnodes[next].loc != loc) {
                int added;
                next = trie_get_or_add(&trie, (uint64_t)node << 32 | loc, (uint32_t)nl, &added);
                if (added) {
                    if (nl == lcap)
                        FX_GROW(lnodes, lcap, nl + 1);
                    lnodes[nl] = (lnode_t){node, loc, (uint32_t)(d + 1), 0};
                    lstart[d + 2]++;
                    nl++;
                }
                lnodes[node].last_child = next;
            }
            path[d] = node = next;
        }
        leaf[i] = node;
    }
    /* Local nodes grouped by depth (a counting sort): bydepth[lstart[d] ..
     * lstart[d + 1]) are the nodes at depth d. lstart[d + 1] holds the
     * count at depth d so far; the prefix sum makes it the start. */
    uint32_t *bydepth = fx_arena_alloc(&a, nl * sizeof *bydepth);
    size_t *cursor = fx_arena_alloc(&a, (maxdepth + 2) * sizeof *cursor);
    for (size_t d = 1; d <= maxdepth + 1; d++)
        lstart[d] += lstart[d - 1];
    memcpy(cursor, lstart, (maxdepth + 2) * sizeof *cursor);
    for (size_t id = 1; id < nl; id++)
        bydepth[cursor[lnodes[id].depth]++] = (uint32_t)id;

    t = fx__tenant_get(h, tenant, 1);
    pthread_mutex_lock(&t->append_mu);
    locked = 1;
    if (t->failed) {
        rc = fx_err_set(err, FX_EIO, "the head could not write earlier and refuses appends for "
                        "tenant %s until restarted", t->name);
        goto out;
    }

    /* Series first: the limit must be checked before anything changes. */
    size_t nnew = 0;
    for (size_t c = 0; c < ncols; c++) {
        sid[c] = fx__index_find_series(&t->idx, &cl[c], fp[c]);
        int dup = 0;
        for (size_t d = 0; d < c && sid[c] == UINT32_MAX; d++)
            dup |= sid[d] == UINT32_MAX && fp[d] == fp[c];
        nnew += sid[c] == UINT32_MAX && !dup;
    }
    if (nnew && limits && limits->max_series && t->idx.nseries + nnew > limits->max_series) {
        rc = fx_err_set(err, FX_ELIMIT, "per-tenant series limit of %zu exceeded for tenant %s "
                        "(%zu series; max_local_series_per_tenant / "
                        "max_global_series_per_tenant)", limits->max_series, t->name,
                        t->idx.nseries);
        goto out;
    }

    fx__symcounts_t before, after;
    size_t nseries0 = t->idx.nseries, nps0 = t->idx.nps;
    fx__symbols_counts(&t->sym, &before);
    g.s = &t->sym;
    pthread_rwlock_wrlock(&t->rw);
    for (size_t c = 0; c < ncols; c++)
        if (sid[c] == UINT32_MAX) {
            sid[c] = fx__index_find_series(&t->idx, &cl[c], fp[c]);
            if (sid[c] == UINT32_MAX)
                sid[c] = fx__index_add_series(&t->idx, &cl[c], fp[c]);
        }
    uint32_t ps = fx__index_find_pseries(&t->idx, sid, (uint32_t)ncols);
    if (ps == UINT32_MAX)
        ps = fx__index_add_pseries(&t->idx, sid, (uint32_t)ncols);
    /* Local nodes -> stack nodes. First the ones the tree already has, a
     * depth level at a time (independent lookups, prefetched); then the
     * missing ones in local order, so a sample's new tail gets consecutive
     * ids (a child's id is mostly its parent's + 1, which the node chunks
     * and the merge's locality rely on). */
    uint32_t *gnode = fx_arena_alloc(&a, nl * sizeof *gnode);
    uint32_t *gloc = fx_arena_alloc(&a, nl * sizeof *gloc);
    uint32_t *qpar = fx_arena_alloc(&a, nl * sizeof *qpar);
    uint32_t *qloc = fx_arena_alloc(&a, nl * sizeof *qloc);
    uint32_t *qout = fx_arena_alloc(&a, nl * sizeof *qout);
    gnode[0] = 0;
    for (size_t d = 1; d <= maxdepth; d++) {
        size_t from = lstart[d], to = lstart[d + 1];
        for (size_t k = from; k < to; k++) {
            const lnode_t *ln = &lnodes[bydepth[k]];
            qpar[k] = gnode[ln->parent];
            qloc[k] = gloc[bydepth[k]] = in_location(&g, ln->loc, &lines, &lines_cap);
        }
        fx__sym_nodes_find(&t->sym, qpar + from, qloc + from, to - from, qout + from);
        for (size_t k = from; k < to; k++)
            gnode[bydepth[k]] = qout[k];
    }
    for (size_t id = 1; id < nl; id++)
        if (gnode[id] == UINT32_MAX)
            gnode[id] = fx__sym_node(&t->sym, gnode[lnodes[id].parent], gloc[id]);
    pthread_rwlock_unlock(&t->rw);
    fx__symbols_counts(&t->sym, &after);
    for (size_t i = 0; i < p->nsamples; i++)
        order[i] = (uint64_t)gnode[leaf[i]] << 32 | i;

    /* The row: stacks ascending and unique, duplicates summed. */
    uint64_t *sorted = sort_by_node(order, fx_arena_alloc(&a, (p->nsamples + 1) * sizeof *order),
                                    p->nsamples, (uint32_t)after.nodes);
    stacks = fx_malloc((p->nsamples + 1) * sizeof *stacks);
    values = fx_malloc((p->nsamples + 1) * ncols * sizeof *values);
    uint32_t nstacks = 0;
    for (size_t i = 0; i < p->nsamples; i++) {
        uint32_t node = (uint32_t)(sorted[i] >> 32);
        const int64_t *v = p->samples[(uint32_t)sorted[i]].values;
        if (nstacks == 0 || stacks[nstacks - 1] != node) {
            stacks[nstacks] = node;
            memcpy(&values[nstacks * ncols], v, ncols * sizeof *v);
            nstacks++;
        } else {
            int64_t *d = &values[(nstacks - 1) * ncols];
            for (size_t c = 0; c < ncols; c++)
                d[c] = (int64_t)((uint64_t)d[c] + (uint64_t)v[c]);
        }
    }
    if (nspan) {
        /* The samples with spans again, with their stack nodes. */
        fx_row_span_entry_t *se = fx_arena_alloc(&a, nspan * sizeof *se);
        int64_t *sv = fx_arena_alloc(&a, nspan * ncols * sizeof *sv);
        for (size_t k = 0; k < nspan; k++) {
            se[k] = (fx_row_span_entry_t){span_ids[k], gnode[leaf[span_idx[k]]], (uint32_t)k};
            memcpy(&sv[k * ncols], p->samples[span_idx[k]].values, ncols * sizeof *sv);
        }
        fx_row_spans_encode(se, nspan, sv, (uint32_t)ncols, &spans);
    }
    fx_row_encode_spans(stacks, values, nstacks, (uint32_t)ncols,
                        p->period > 0 ? (uint64_t)p->period : 0, spans.data, spans.len, &row);

    wb = rocksdb_writebatch_create();
    if (!t->persisted) {
        char tk[FX__TENANT_MAX + 2];
        size_t n = strlen(t->name);
        uint8_t id[4] = {(uint8_t)(t->id >> 24), (uint8_t)(t->id >> 16), (uint8_t)(t->id >> 8),
                         (uint8_t)t->id};
        FX_ASSERT(n < sizeof tk - 1);
        tk[0] = 'T';
        memcpy(tk + 1, t->name, n);
        rocksdb_writebatch_put_cf(wb, h->cf[FX__CF_META], tk, n + 1, (const char *)id, 4);
    }
    const struct { int kind; size_t from, to; } chunks[] = {
        {FX__K_STRINGS, before.strs, after.strs}, {FX__K_MAPPINGS, before.maps, after.maps},
        {FX__K_FUNCTIONS, before.fns, after.fns}, {FX__K_LOCATIONS, before.locs, after.locs},
        {FX__K_NODES, before.nodes, after.nodes},
    };
    for (size_t i = 0; i < FX_ARRAY_LEN(chunks); i++)
        if (chunks[i].to > chunks[i].from) {
            fx__sym_encode_chunk(&t->sym, chunks[i].kind, chunks[i].from, chunks[i].to, &chunk);
            put_chunk(h, wb, t->id, chunks[i].kind, chunks[i].from, &chunk);
        }
    if (t->idx.nseries > nseries0) {
        fx__index_encode_chunk(&t->idx, FX__K_SERIES, nseries0, t->idx.nseries, &chunk);
        put_chunk(h, wb, t->id, FX__K_SERIES, nseries0, &chunk);
    }
    if (t->idx.nps > nps0) {
        fx__index_encode_chunk(&t->idx, FX__K_PSERIES, nps0, t->idx.nps, &chunk);
        put_chunk(h, wb, t->id, FX__K_PSERIES, nps0, &chunk);
    }
    uint8_t rk[FX__ROW_KEY_LEN];
    fx__row_key(rk, t->id, ps, time_ns, profile_id);
    rocksdb_writebatch_put_cf(wb, h->cf[FX__CF_PROFILES], (const char *)rk, sizeof rk,
                              (const char *)row.data, row.len);

    char *e = NULL;
    size_t wbytes = 0;
    rocksdb_writebatch_data(wb, &wbytes);
    rocksdb_write(h->db, h->wo, wb, &e);
    if (e) {
        /* Memory now holds symbols the disk lacks; later rows must not
         * reference them, so this tenant takes no more appends. */
        t->failed = 1;
        rc = db_err(err, FX_EIO, e, "writing the profile");
        fx_log_error("head write failed", "tenant=%s err=%s", fx_q(t->name), fx_q(err->msg));
        goto out;
    }
    t->persisted = 1;
    ticket = atomic_fetch_add(&h->written, 1) + 1;

    pthread_rwlock_wrlock(&t->rw);
    fx__pseries_t *pr = &t->idx.ps[ps];
    pr->min_ns = FX_MIN(pr->min_ns, time_ns);
    pr->max_ns = FX_MAX(pr->max_ns, time_ns);
    pr->rows++;
    pthread_rwlock_unlock(&t->rw);
    atomic_fetch_add(&h->st_profiles, 1);
    atomic_fetch_add(&h->st_samples, p->nsamples);
    atomic_fetch_add(&h->st_bytes, wbytes);

out:
    if (locked)
        pthread_mutex_unlock(&t->append_mu);
    if (rc == FX_OK && h->opts.sync)
        rc = wal_sync(h, ticket, err);
    if (wb)
        rocksdb_writebatch_destroy(wb);
    fx_buf_free(&row);
    fx_buf_free(&chunk);
    fx_buf_free(&spans);
    free(lines);
    free(order);
    free(values);
    free(stacks);
    trie_free(&trie);
    free(lnodes);
    fx_arena_free(&a);
    return rc;
}

/* --- retiring data ------------------------------------------------------------------- */

size_t fx_head_tenants(fx_head_t *h, fx_arena_t *a, char ***out)
{
    pthread_mutex_lock(&h->tenants_mu);
    char **v = fx_arena_alloc(a, (h->ntenants + 1) * sizeof *v);
    size_t n = 0;
    for (size_t i = 0; i < h->ntenants; i++)
        if (h->tenants[i])
            v[n++] = fx_arena_strdup(a, h->tenants[i]->name);
    pthread_mutex_unlock(&h->tenants_mu);
    *out = v;
    return n;
}

int fx_head_tenant_range(fx_head_t *h, const char *tenant, int64_t *min_ns, int64_t *max_ns)
{
    fx__tenant_t *t = fx__tenant_get(h, tenant, 0);
    int found = 0;
    if (!t)
        return FX_ENOTFOUND;
    pthread_rwlock_rdlock(&t->rw);
    for (size_t i = 0; i < t->idx.nps; i++) {
        const fx__pseries_t *p = &t->idx.ps[i];
        if (!p->rows)
            continue;
        if (!found || p->min_ns < *min_ns)
            *min_ns = p->min_ns;
        if (!found || p->max_ns > *max_ns)
            *max_ns = p->max_ns;
        found = 1;
    }
    pthread_rwlock_unlock(&t->rw);
    return found ? FX_OK : FX_ENOTFOUND;
}

/* First and last row time of row series ps, after a deletion. */
static void reread_bounds(fx_head_t *h, uint32_t tenant, uint32_t ps, fx__pseries_t *p)
{
    uint8_t lo[FX__ROW_KEY_LEN], hi[FX__ROW_KEY_LEN];
    fx__row_key(lo, tenant, ps, INT64_MIN, NULL);
    fx__row_key(hi, tenant, ps, INT64_MAX, NULL);
    memset(hi + 16, 0xff, 16);
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(h->db, h->ro, h->cf[FX__CF_PROFILES]);
    size_t kl;
    p->min_ns = INT64_MAX;
    p->max_ns = INT64_MIN;
    rocksdb_iter_seek(it, (const char *)lo, sizeof lo);
    if (rocksdb_iter_valid(it)) {
        const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &kl);
        if (kl == FX__ROW_KEY_LEN && memcmp(k, lo, FX__ROW_PREFIX_LEN) == 0)
            p->min_ns = fx__row_key_ts(k);
    }
    rocksdb_iter_seek_for_prev(it, (const char *)hi, sizeof hi);
    if (rocksdb_iter_valid(it)) {
        const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &kl);
        if (kl == FX__ROW_KEY_LEN && memcmp(k, lo, FX__ROW_PREFIX_LEN) == 0)
            p->max_ns = fx__row_key_ts(k);
    }
    rocksdb_iter_destroy(it);
}

/* Deletes tenant's rows in [lo_ns, hi_ns]; with only != NULL just those
 * whose (time, id) is in it (keys with fingerprint 0). */
static int delete_rows(fx_head_t *h, const char *tenant, int64_t lo_ns, int64_t hi_ns,
                       const fx_head_keyset_t *only, uint64_t *deleted, fx_err_t *err)
{
    fx__tenant_t *t = fx__tenant_get(h, tenant, 0);
    uint64_t *counts = NULL;
    uint64_t ticket = 0, total = 0;
    int rc = FX_OK;

    if (deleted)
        *deleted = 0;
    if (!t)
        return FX_OK;
    /* No append of this tenant may interleave: its rows would be counted
     * in the bounds we reread. */
    pthread_mutex_lock(&t->append_mu);
    size_t nps = t->idx.nps;
    counts = fx_calloc(nps + 1, sizeof *counts);
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(h->db, h->ro, h->cf[FX__CF_PROFILES]);
    for (uint32_t ps = 0; ps < nps; ps++) {
        fx__pseries_t *p = &t->idx.ps[ps];
        if (!p->rows || p->max_ns < lo_ns || p->min_ns > hi_ns)
            continue;
        uint8_t a[FX__ROW_KEY_LEN], b[FX__ROW_KEY_LEN];
        fx__row_key(a, t->id, ps, lo_ns, NULL);
        if (hi_ns == INT64_MAX) {
            fx__row_key(b, t->id, ps, INT64_MAX, NULL);
            memset(b + 16, 0xff, 16);
        } else {
            fx__row_key(b, t->id, ps, hi_ns + 1, NULL);
        }
        size_t kl;
        for (rocksdb_iter_seek(it, (const char *)a, sizeof a); rocksdb_iter_valid(it);
             rocksdb_iter_next(it)) {
            const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &kl);
            if (kl != FX__ROW_KEY_LEN || memcmp(k, b, FX__ROW_KEY_LEN) >= 0)
                break;
            if (only) {
                fx_head_profile_key_t key = {0, fx__row_key_ts(k), {0}};
                memcpy(key.id, k + 16, 16);
                if (!fx_head_keyset_has(only, &key))
                    continue;
                rocksdb_writebatch_delete_cf(wb, h->cf[FX__CF_PROFILES], (const char *)k, kl);
            }
            counts[ps]++;
        }
        if (!counts[ps])
            continue;
        total += counts[ps];
        if (only)
            continue;
        /* End key exclusive; for hi_ns == INT64_MAX the all-0xff id makes
         * the last possible row the (only missed) bound: delete it too. */
        rocksdb_writebatch_delete_range_cf(wb, h->cf[FX__CF_PROFILES], (const char *)a, sizeof a,
                                           (const char *)b, sizeof b);
        if (hi_ns == INT64_MAX)
            rocksdb_writebatch_delete_cf(wb, h->cf[FX__CF_PROFILES], (const char *)b, sizeof b);
    }
    rocksdb_iter_destroy(it);
    if (total) {
        char *e = NULL;
        rocksdb_write(h->db, h->wo, wb, &e);
        if (e) {
            rc = db_err(err, FX_EIO, e, "deleting profile rows");
        } else {
            ticket = atomic_fetch_add(&h->written, 1) + 1;
            pthread_rwlock_wrlock(&t->rw);
            for (uint32_t ps = 0; ps < nps; ps++) {
                if (!counts[ps])
                    continue;
                fx__pseries_t *p = &t->idx.ps[ps];
                p->rows = p->rows > counts[ps] ? p->rows - counts[ps] : 0;
                reread_bounds(h, t->id, ps, p);
                if (!p->rows) {
                    p->min_ns = INT64_MAX;
                    p->max_ns = INT64_MIN;
                }
            }
            pthread_rwlock_unlock(&t->rw);
        }
    }
    rocksdb_writebatch_destroy(wb);
    pthread_mutex_unlock(&t->append_mu);
    if (rc == FX_OK && ticket && h->opts.sync)
        rc = wal_sync(h, ticket, err);
    if (rc == FX_OK && deleted)
        *deleted = total;
    free(counts);
    return rc;
}

int fx_head_delete_range(fx_head_t *h, const char *tenant, int64_t lo_ns, int64_t hi_ns,
                         uint64_t *deleted, fx_err_t *err)
{
    return delete_rows(h, tenant, lo_ns, hi_ns, NULL, deleted, err);
}

int fx_head_delete_profiles(fx_head_t *h, const char *tenant, int64_t lo_ns, int64_t hi_ns,
                            const fx_head_keyset_t *keys, uint64_t *deleted, fx_err_t *err)
{
    return delete_rows(h, tenant, lo_ns, hi_ns, keys, deleted, err);
}

/* --- maintenance and counters ------------------------------------------------------ */

void fx_head_stats(fx_head_t *h, fx_head_stats_t *out)
{
    memset(out, 0, sizeof *out);
    out->profiles = atomic_load(&h->st_profiles);
    out->samples = atomic_load(&h->st_samples);
    out->bytes_written = atomic_load(&h->st_bytes);
    out->wal_syncs = atomic_load(&h->st_syncs);
    pthread_mutex_lock(&h->tenants_mu);
    for (size_t i = 0; i < h->ntenants; i++) {
        fx__tenant_t *t = h->tenants[i];
        if (!t)
            continue;
        pthread_rwlock_rdlock(&t->rw);
        out->series += t->idx.nseries;
        out->stack_nodes += t->sym.nnodes;
        pthread_rwlock_unlock(&t->rw);
    }
    pthread_mutex_unlock(&h->tenants_mu);
}

int fx_head_compact(fx_head_t *h, fx_err_t *err)
{
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(fo, 1);
    int rc = FX_OK;
    for (int i = 0; i < FX__NCF && rc == FX_OK; i++) {
        char *e = NULL;
        rocksdb_flush_cf(h->db, fo, h->cf[i], &e);
        if (e) {
            rc = db_err(err, FX_EIO, e, "flushing");
            break;
        }
        rocksdb_compact_range_cf(h->db, h->cf[i], NULL, 0, NULL, 0);
    }
    rocksdb_flushoptions_destroy(fo);
    return rc;
}

int fx_head_disk_usage(fx_head_t *h, fx_head_disk_t *out, fx_err_t *err)
{
    uint64_t *per_cf[FX__NCF] = {&out->meta, &out->symbols, &out->profiles};
    memset(out, 0, sizeof *out);
    for (int i = 0; i < FX__NCF; i++) {
        char *v = rocksdb_property_value_cf(h->db, h->cf[i], "rocksdb.total-sst-files-size");
        if (v)
            *per_cf[i] = strtoull(v, NULL, 10);
        rocksdb_free(v);
    }
    DIR *d = opendir(h->dir);
    if (!d)
        return fx_err_set(err, FX_EIO, "cannot list %s", h->dir);
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        struct stat st;
        char path[4096];
        if (n < 4 || strcmp(de->d_name + n - 4, ".log") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", h->dir, de->d_name);
        if (stat(path, &st) == 0)
            out->wal += (uint64_t)st.st_size;
    }
    closedir(d);
    return FX_OK;
}
