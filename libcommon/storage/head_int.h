/*
 * head_int.h - internals of the head shared by the storage .c files that
 * talk to RocksDB (not for other modules): tenants, the head object, key
 * layout and the row scan. The in-memory tables are in tables.h.
 *
 * Locking (per tenant): append_mu serialises appends, so the appender is the
 * only writer of a tenant's in-memory state and may read it without further
 * locks; it takes rw for writing while it mutates that state. Queries take rw
 * for reading. RocksDB needs no lock of ours. Tenants are never freed before
 * fx_head_close.
 */
#ifndef FX_STORAGE_HEAD_INT_H
#define FX_STORAGE_HEAD_INT_H

#include <pthread.h>
#include <rocksdb/c.h>
#include <stdatomic.h>

#include "storage/engine.h"

/* --- tenants and the head ------------------------------------------------------- */
typedef struct fx__tenant {
    uint32_t id;
    char *name;
    int persisted; /* its registration record is in RocksDB */
    int failed;    /* a write failed: memory may be ahead of disk, refuse appends */
    pthread_mutex_t append_mu;
    pthread_rwlock_t rw;
    fx__symbols_t sym;
    fx__index_t idx;
} fx__tenant_t;

enum { FX__CF_META, FX__CF_SYMBOLS, FX__CF_PROFILES, FX__NCF };

struct fx_head {
    rocksdb_t *db;
    rocksdb_options_t *dbopts;
    rocksdb_options_t *cfopts[FX__NCF];
    rocksdb_block_based_table_options_t *table[FX__NCF];
    rocksdb_cache_t *cache;
    rocksdb_column_family_handle_t *cf[FX__NCF];
    rocksdb_writeoptions_t *wo;
    rocksdb_readoptions_t *ro;
    fx_head_options_t opts;

    pthread_mutex_t tenants_mu;
    fx_strtab_t tenant_names; /* interned tenant names */
    uint32_t *tenant_of_name; /* tenant_names id -> tenant id */
    size_t cap_ton;
    fx__tenant_t **tenants;   /* by tenant id; NULL for unused ids */
    size_t ntenants, captenants;
    char *dir;

    /* Group commit: appends write with sync off, then one fsync covers every
     * write completed before it started (see fx__wal_sync). */
    pthread_mutex_t sync_mu;
    pthread_cond_t sync_cv;
    uint64_t synced; /* tickets <= synced are durable */
    int syncing;
    _Atomic uint64_t written;

    _Atomic uint64_t st_profiles, st_samples, st_bytes, st_syncs;
};

#define FX__TENANT_MAX 255
/* The tenant or NULL (create = 0) / a new one (create = 1). */
fx__tenant_t *fx__tenant_get(fx_head_t *h, const char *name, int create);

/* Keys. */
#define FX__SYM_KEY_LEN 9
#define FX__ROW_KEY_LEN 32
#define FX__ROW_PREFIX_LEN 8
void fx__row_key(uint8_t *k, uint32_t tenant, uint32_t pseries, int64_t ts_ns, const uint8_t id[16]);
static inline int64_t fx__row_key_ts(const uint8_t *k)
{
    return (int64_t)(fx_get_u64be(k + 8) ^ (1ULL << 63));
}

#endif
