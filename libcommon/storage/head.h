/*
 * head.h - the ingester head: Fornax's profile database on RocksDB.
 *
 * One RocksDB instance holds every tenant. Per tenant it keeps a symbol
 * store (strings, mappings, functions, locations and a parent-pointer stack
 * tree, so a stack is one integer), series with an inverted label index, and
 * one row per appended pprof with a value column per sample type. Every
 * sample type is its own series in the index (labels as Pyroscope's
 * CreateProfileLabels makes them, incl. __profile_type__) that points at a
 * column of the shared rows. Layout, encodings and the durability argument:
 * docs/storage.md.
 *
 * Thread safety: every function may be called from many threads at once
 * (appends and queries, any tenants). Only this module includes RocksDB.
 *
 * Ownership: query results are allocated from the caller's arena (all
 * strings copied) and stay valid until it is freed; trees and buffers are
 * the caller's and are only added to.
 */
#ifndef FX_STORAGE_HEAD_H
#define FX_STORAGE_HEAD_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/core.h"
#include "core/mem.h"
#include "model/labels.h"
#include "model/selector.h"
#include "model/tree.h"
#include "pprof/pprof.h"

typedef struct fx_head fx_head_t;

typedef struct fx_head_options {
    int sync;                   /* fsync the WAL before an append returns (default 1) */
    int wal_compression;        /* zstd-compress WAL records (default 1) */
    size_t block_cache_bytes;   /* RocksDB block cache (default 64 MiB) */
    size_t write_buffer_bytes;  /* memtable size of the profile column family (default 64 MiB) */
} fx_head_options_t;

void fx_head_options_default(fx_head_options_t *o);

/* Opens (creating if needed) the head in directory dir and rebuilds the
 * in-memory state (symbols, series, postings, per-series time ranges) from
 * it. opts may be NULL (defaults). *out is closed with fx_head_close. Fails
 * with FX_EIO (RocksDB could not open dir) or FX_ECORRUPT. */
int fx_head_open(const char *dir, const fx_head_options_t *opts, fx_head_t **out, fx_err_t *err);
/* Closes the database and frees everything. No call may be in flight. */
void fx_head_close(fx_head_t *h);

typedef struct fx_head_limits {
    size_t max_series; /* per-tenant series (one per profile type); 0 = unlimited */
} fx_head_limits_t;

/*
 * Appends one profile. series_labels: the validated, sorted labels of the
 * series (incl. __name__ and service_name, no __profile_type__). Every
 * sample type becomes a series as in CreateProfileLabels (reference §7).
 * profile_id: the profile's 16-byte id (NULL = all zero); appending the
 * same (series, time, id) again replaces the earlier copy, so retries are
 * idempotent. time_ns: the profile's time (the caller decides; usually the
 * pprof's time_nanos).
 * Returns FX_OK only once the profile is durable (WAL synced, when
 * options.sync). FX_EINVAL: the profile is inconsistent (err says how);
 * FX_ELIMIT: it would create series beyond limits->max_series (may be NULL).
 * Nothing of a failed append is stored.
 */
int fx_head_append(fx_head_t *h, const char *tenant, const fx_labels_t *series_labels,
                   const fx_pprof_t *profile, const uint8_t profile_id[16], int64_t time_ns,
                   const fx_head_limits_t *limits, fx_err_t *err);

/* The identity of one stored profile in one series, as replicas share it. */
typedef struct fx_head_profile_key {
    uint64_t fingerprint; /* fx_labels_fingerprint of the series labels */
    int64_t time_ns;
    uint8_t id[16];
} fx_head_profile_key_t;

/* qsort order of profile keys (fx_head_profile_key_t): time, fingerprint,
 * then id. */
int fx_head_key_cmp(const void *a, const void *b);

/* A set of profile keys (replica deduplication: merge only these). */
typedef struct fx_head_keyset {
    fx_head_profile_key_t *keys; /* open addressing, owned */
    uint8_t *used;
    size_t cap, len;
} fx_head_keyset_t;

void fx_head_keyset_init(fx_head_keyset_t *s);
void fx_head_keyset_add(fx_head_keyset_t *s, const fx_head_profile_key_t *k);
int fx_head_keyset_has(const fx_head_keyset_t *s, const fx_head_profile_key_t *k);
void fx_head_keyset_free(fx_head_keyset_t *s);

/*
 * What a query selects: series of tenant matching any of the selectors
 * (none = all series) and, if profile_type is set, with that
 * __profile_type__; then their profiles with start_ms <= time <= end_ms
 * (milliseconds; both 0 = all time). only, if set, restricts merges,
 * SelectSeries and key listings to those profiles.
 */
typedef struct fx_head_query {
    const char *tenant;
    const fx_selector_t *selectors; /* array of nselectors parsed selectors */
    size_t nselectors;
    const char *profile_type;       /* NULL or "" = any */
    int64_t start_ms, end_ms;
    const fx_head_keyset_t *only;
    /* Span profiles: if nspans > 0, merges (trees and pprof) take only the
     * samples that carried one of these span ids (ascending, unique; see
     * fx_span_id_parse); other queries ignore them. */
    const uint64_t *spans;
    size_t nspans;
    /* fx_head_profile_keys: FX_KEY_VALUES also fills the keys' values and
     * labels; FX_KEY_SPANS (with FX_KEY_VALUES) also their spans. */
    int key_values;
} fx_head_query_t;

#define FX_KEY_VALUES 1
#define FX_KEY_SPANS 2

typedef struct fx_head_strings {
    char **v;
    size_t len;
} fx_head_strings_t;

/* Label names, resp. values of name, of the selected series that have data
 * in range; unique and sorted. */
int fx_head_label_names(fx_head_t *h, const fx_head_query_t *q, fx_arena_t *a,
                        fx_head_strings_t *out, fx_err_t *err);
int fx_head_label_values(fx_head_t *h, const fx_head_query_t *q, const char *name,
                         fx_arena_t *a, fx_head_strings_t *out, fx_err_t *err);
/* Distinct __profile_type__ values of the selected series, sorted. */
int fx_head_profile_types(fx_head_t *h, const fx_head_query_t *q, fx_arena_t *a,
                          fx_head_strings_t *out, fx_err_t *err);

typedef struct fx_head_label_sets {
    fx_labels_t *v;
    size_t len;
} fx_head_label_sets_t;

/* Label sets of the selected series with data in range, each restricted to
 * names (if nnames > 0), deduplicated, sorted. */
int fx_head_series(fx_head_t *h, const fx_head_query_t *q, const char *const *names,
                   size_t nnames, fx_arena_t *a, fx_head_label_sets_t *out, fx_err_t *err);

typedef struct fx_head_profile_stats {
    int data_ingested;
    int64_t oldest_ms, newest_ms; /* 0 when nothing was ingested */
} fx_head_profile_stats_t;

/* GetProfileStats for a tenant. */
int fx_head_profile_stats(fx_head_t *h, const char *tenant, fx_head_profile_stats_t *out,
                          fx_err_t *err);

/* Keys of every selected profile, ordered by (time, fingerprint). With
 * q->key_values also, per key, the profile's value in its series (the
 * column total, as SelectSeries sums it) and the series' full labels
 * (keys of one series may share one labels array); both NULL otherwise.
 * Everything lives in the arena. */
/* With FX_KEY_SPANS also, per span of a listed profile, its value: the
 * sum of the profile's samples that carried that span_id label. */
typedef struct fx_head_span_value {
    fx_head_profile_key_t key;
    uint64_t span;
    int64_t value;
} fx_head_span_value_t;

typedef struct fx_head_keys {
    fx_head_profile_key_t *v;
    size_t len;
    int64_t *values;
    fx_labels_t *labels;
    fx_head_span_value_t *spans; /* FX_KEY_SPANS only; in no particular order */
    size_t nspans;
} fx_head_keys_t;
int fx_head_profile_keys(fx_head_t *h, const fx_head_query_t *q, fx_arena_t *a,
                         fx_head_keys_t *out, fx_err_t *err);

/* How stack frames become tree nodes. */
typedef enum fx_head_grouping {
    FX_GROUP_FUNCTION = 0,  /* function name (the default) */
    FX_GROUP_FUNCTION_LINE, /* "function:line" */
    FX_GROUP_FILE,          /* source file name */
    FX_GROUP_PACKAGE,       /* the Go package of the function name (up to the first dot
                             * after the last slash) */
} fx_head_grouping_t;

/* Merges the selected profiles into tree (initialised by the caller; this
 * adds to it and recomputes totals). Inlined frames are expanded: a location
 * with several lines gives several frames, its first line on the leaf side.
 * Samples without locations count as the root's self. */
int fx_head_merge_tree(fx_head_t *h, const fx_head_query_t *q, fx_head_grouping_t grouping,
                       fx_tree_t *tree, fx_err_t *err);

/* Merges the selected profiles into one pprof (appended to out, not
 * gzipped) with one sample type and only the locations, functions, mappings
 * and strings the merged samples reference. The sample and period types come
 * from the first selected series' labels. */
int fx_head_merge_pprof(fx_head_t *h, const fx_head_query_t *q, fx_buf_t *out, fx_err_t *err);

typedef enum fx_head_aggregation {
    FX_AGG_SUM = 0,
    FX_AGG_AVERAGE = 1,
    FX_AGG_COUNT = 2, /* profiles per bucket: lets a caller average over several sources */
} fx_head_aggregation_t;

typedef struct fx_head_point {
    int64_t ts_ms;
    double value;
} fx_head_point_t;

typedef struct fx_head_ts {
    fx_labels_t labels;
    fx_head_point_t *points; /* ascending ts_ms */
    size_t npoints;
    double total;            /* sum of point values, for top-N */
} fx_head_ts_t;

typedef struct fx_head_ts_list {
    fx_head_ts_t *v;
    size_t len;
} fx_head_ts_list_t;

/*
 * SelectSeries: each profile's total (from row headers) summed per series,
 * or per group of the values of by[] (nby > 0; a series lacking a label
 * simply omits it). Buckets follow Pyroscope's rangeSeries: the point at
 * t = start + k*step collects profiles with t - step < time <= t (time in
 * ms); a bucket's value is the sum, with FX_AGG_AVERAGE the mean, with
 * FX_AGG_COUNT the number of its profiles. Result sorted by labels.
 * step_ms >= 1.
 */
int fx_head_select_series(fx_head_t *h, const fx_head_query_t *q, const char *const *by,
                          size_t nby, int64_t step_ms, fx_head_aggregation_t agg, fx_arena_t *a,
                          fx_head_ts_list_t *out, fx_err_t *err);
/* Keeps the limit series with the largest totals (ties by labels), sorted
 * by total descending. limit 0 keeps all. */
void fx_head_ts_top(fx_head_ts_list_t *l, size_t limit);

/* --- retiring data (after it was cut into a block and uploaded) --------- */

/* Names of the tenants the head knows (arena). Returns how many. */
size_t fx_head_tenants(fx_head_t *h, fx_arena_t *a, char ***out);
/* Time span of a tenant's stored rows; FX_ENOTFOUND when it has none. */
int fx_head_tenant_range(fx_head_t *h, const char *tenant, int64_t *min_ns, int64_t *max_ns);
/* Deletes every profile row of tenant with lo_ns <= time <= hi_ns, durably
 * (WAL synced as appends are). Series and symbols stay (they are small and
 * later rows reuse them). *deleted (may be NULL) gets the row count. */
int fx_head_delete_range(fx_head_t *h, const char *tenant, int64_t lo_ns, int64_t hi_ns,
                         uint64_t *deleted, fx_err_t *err);
/* As fx_head_delete_range, but only rows whose (time, profile id) is in keys
 * (a keyset whose keys have fingerprint 0): exactly the rows a block took,
 * never a row that arrived after the block was cut. */
int fx_head_delete_profiles(fx_head_t *h, const char *tenant, int64_t lo_ns, int64_t hi_ns,
                            const fx_head_keyset_t *keys, uint64_t *deleted, fx_err_t *err);

/* Counters since open (approximate under concurrency). */
typedef struct fx_head_stats {
    uint64_t profiles, samples, series, stack_nodes, bytes_written;
    uint64_t wal_syncs; /* fsyncs of the WAL; < profiles when appends shared them */
} fx_head_stats_t;
void fx_head_stats(fx_head_t *h, fx_head_stats_t *out);

/* Flushes memtables and compacts every column family (benchmarks, tests). */
int fx_head_compact(fx_head_t *h, fx_err_t *err);
/* Bytes on disk: SST files per column family and live WAL files. */
typedef struct fx_head_disk {
    uint64_t profiles, symbols, meta, wal;
} fx_head_disk_t;
int fx_head_disk_usage(fx_head_t *h, fx_head_disk_t *out, fx_err_t *err);

#endif
