/*
 * block.h - immutable profile blocks: one tenant's profiles of a time range
 * in a directory of checksummed, compressed, columnar sections plus a
 * meta.json (format: docs/block-format.md).
 *
 *   writing:    fx_block_write_head (a head's tenant and time range) and
 *               fx_block_compact (N blocks of a tenant into one, replica
 *               duplicates removed) build the block in a temporary directory
 *               and rename it into place, so a block directory is complete
 *               or absent;
 *   reading:    fx_block_open_dir (a local directory; sections read with
 *               io_uring or pread) or fx_block_open_source (byte ranges from
 *               a caller's callback, e.g. object storage);
 *   querying:   the queries of storage/head.h with the same semantics and
 *               result types, over one block.
 *
 * Stored bytes are untrusted: every decoder is bounds-checked and a block
 * whose bytes do not match their checksums fails with FX_ECORRUPT naming the
 * section, never a crash.
 *
 * Thread safety: a fx_block_t may be queried from many threads at once; a
 * fx_block_cache_t may be shared by many blocks. Open/close are not
 * concurrent with queries of the same block.
 */
#ifndef FX_BLOCK_BLOCK_H
#define FX_BLOCK_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/core.h"
#include "storage/head.h"

#define FX_BLOCK_VERSION 1
#define FX_BLOCK_ULID_LEN 26
#define FX_BLOCK_MAX_SOURCES 4096

/* The sections of a block, i.e. its files. */
typedef enum fx_block_file {
    FX_BLOCK_META = 0, /* meta.json */
    FX_BLOCK_INDEX,    /* index.fxb */
    FX_BLOCK_SYMBOLS,  /* symbols.fxb */
    FX_BLOCK_PROFILES, /* profiles.fxb */
    FX_BLOCK_NFILES,
} fx_block_file_t;

/* File name of a section ("meta.json", "index.fxb", ...). */
const char *fx_block_file_name(fx_block_file_t f);
/* The file an FX_ECORRUPT message of the block reader names ("<file>
 * section: ...", "<kind> section: ...", "meta.json: ...", after any
 * "block <id>: " prefixes), or "unknown": the `section` of a corrupted.json
 * mark (docs/bucket-layout.md). Static string. */
const char *fx_block_corrupt_section(const char *msg);

/* meta.json, parsed. */
typedef struct fx_block_meta {
    char id[FX_BLOCK_ULID_LEN + 1]; /* ULID */
    int version;
    char *tenant;                   /* owned */
    int64_t min_time_ms, max_time_ms; /* inclusive */
    uint64_t series, profiles, samples, stack_nodes;
    int level;                      /* 1 = cut from a head */
    char (*sources)[FX_BLOCK_ULID_LEN + 1]; /* owned; sorted, unique */
    size_t nsources;
    struct {
        uint64_t size;
        uint32_t crc32;
    } files[FX_BLOCK_NFILES];       /* FX_BLOCK_META's entry is unused */
} fx_block_meta_t;

void fx_block_meta_free(fx_block_meta_t *m);
/* Appends meta.json's text for m to out (with its checksum). */
void fx_block_meta_encode(const fx_block_meta_t *m, fx_buf_t *out);
/* Parses meta.json; checks the version, ULIDs and its own checksum. m is
 * freed with fx_block_meta_free (also after a failure). FX_ECORRUPT. */
int fx_block_meta_parse(const uint8_t *p, size_t n, fx_block_meta_t *m, fx_err_t *err);

/* A new ULID for time ms (Crockford base32, 26 characters + NUL). */
void fx_block_ulid(int64_t ms, char out[FX_BLOCK_ULID_LEN + 1]);
/* 1 if s is a well-formed ULID. */
int fx_block_ulid_valid(const char *s);

/* --- writing ------------------------------------------------------------------------ */

typedef struct fx_block_write_options {
    int zstd_level;         /* default 9 */
    size_t chunk_bytes;     /* target uncompressed bytes per profile chunk; default 4 MiB */
    int fsync;              /* fsync files and directories (default 1) */
} fx_block_write_options_t;

void fx_block_write_options_default(fx_block_write_options_t *o);

/* Writes tenant's profiles with start_ns <= time <= end_ns in head h as a
 * new level-1 block under parent_dir (created if missing): parent_dir/<ULID>,
 * complete or absent. opts may be NULL. On success *meta (if not NULL) is
 * the block's meta (free with fx_block_meta_free). FX_ENOTFOUND: no profiles
 * in range (nothing written); FX_EIO. */
int fx_block_write_head(fx_head_t *h, const char *tenant, int64_t start_ns, int64_t end_ns,
                        const char *parent_dir, const fx_block_write_options_t *opts,
                        fx_block_meta_t *meta, fx_err_t *err);

/* --- reading ------------------------------------------------------------------------ */

typedef struct fx_block fx_block_t;
typedef struct fx_block_cache fx_block_cache_t;

/* A bounded cache of loaded indexes and symbol tables shared by blocks
 * (least recently used first out; entries in use are never freed). */
fx_block_cache_t *fx_block_cache_new(size_t index_bytes, size_t symbols_bytes);
/* Frees the cache; every block using it must be closed first. */
void fx_block_cache_free(fx_block_cache_t *c);
typedef struct fx_block_cache_stats {
    size_t index_bytes, symbols_bytes;     /* held now */
    uint64_t hits, misses, evictions;
} fx_block_cache_stats_t;
void fx_block_cache_stats(fx_block_cache_t *c, fx_block_cache_stats_t *out);

typedef enum fx_block_io {
    FX_BLOCK_IO_AUTO = 0, /* io_uring unless FX_BLOCK_IO=pread, or unavailable */
    FX_BLOCK_IO_URING,    /* io_uring; falls back to pread only if the kernel refuses it */
    FX_BLOCK_IO_PREAD,
} fx_block_io_t;

/* One byte range to read from a section file. */
typedef struct fx_block_range {
    fx_block_file_t file;
    uint64_t off;
    size_t len;
    uint8_t *buf; /* len bytes, the caller's */
} fx_block_range_t;

/* Where a block's bytes come from when it is not a local directory.
 * read fills every range completely or fails (FX_EIO, err set); it may be
 * called from several threads at once. close (may be NULL) is called once by
 * fx_block_close. Every hook but close is required. */
typedef struct fx_block_source {
    int (*read)(void *ctx, fx_block_range_t *r, size_t n, fx_err_t *err);
    /* Size of a file (at open, to check the sizes meta.json records). */
    int (*size)(void *ctx, fx_block_file_t f, uint64_t *size, fx_err_t *err);
    void (*close)(void *ctx);
    void *ctx;
} fx_block_source_t;

typedef struct fx_block_options {
    fx_block_io_t io;
    fx_block_cache_t *cache; /* NULL: a private cache of 64 MiB + 256 MiB */
    int verify;              /* check every section's checksum at open (reads it all) */
    int no_checksums;        /* skip checksum checks (fuzzing the decoders only) */
} fx_block_options_t;

/* Opens the block in directory dir: reads and checks meta.json and the
 * section sizes. Index and symbols are loaded on first use. opts may be
 * NULL. FX_ENOTFOUND, FX_EIO, FX_ECORRUPT (err names the section). */
int fx_block_open_dir(const char *dir, const fx_block_options_t *opts, fx_block_t **out,
                      fx_err_t *err);
/* Same over a caller's source (src is copied; its close is called by
 * fx_block_close, also when the open fails). */
int fx_block_open_source(const fx_block_source_t *src, const fx_block_options_t *opts,
                         fx_block_t **out, fx_err_t *err);
void fx_block_close(fx_block_t *b);
const fx_block_meta_t *fx_block_meta(const fx_block_t *b);
/* Reads every section and checks every checksum. */
int fx_block_verify(fx_block_t *b, fx_err_t *err);

typedef struct fx_block_io_stats {
    uint64_t uring_reads, pread_reads, bytes;
} fx_block_io_stats_t;
/* How the block's bytes were read so far (local directories). */
void fx_block_io_stats(fx_block_t *b, fx_block_io_stats_t *out);
/* 1 if this block reads through io_uring. */
int fx_block_uses_uring(const fx_block_t *b);

/* --- queries: as the fx_head_* functions of the same names (storage/head.h);
 * a query for another tenant than the block's finds nothing. ------------------------ */
int fx_block_label_names(fx_block_t *b, const fx_head_query_t *q, fx_arena_t *a,
                         fx_head_strings_t *out, fx_err_t *err);
int fx_block_label_values(fx_block_t *b, const fx_head_query_t *q, const char *name,
                          fx_arena_t *a, fx_head_strings_t *out, fx_err_t *err);
int fx_block_profile_types(fx_block_t *b, const fx_head_query_t *q, fx_arena_t *a,
                           fx_head_strings_t *out, fx_err_t *err);
int fx_block_series(fx_block_t *b, const fx_head_query_t *q, const char *const *names,
                    size_t nnames, fx_arena_t *a, fx_head_label_sets_t *out, fx_err_t *err);
int fx_block_profile_stats(fx_block_t *b, const char *tenant, fx_head_profile_stats_t *out,
                           fx_err_t *err);
int fx_block_profile_keys(fx_block_t *b, const fx_head_query_t *q, fx_arena_t *a,
                          fx_head_keys_t *out, fx_err_t *err);
int fx_block_merge_tree(fx_block_t *b, const fx_head_query_t *q, fx_head_grouping_t grouping,
                        fx_tree_t *tree, fx_err_t *err);
int fx_block_merge_pprof(fx_block_t *b, const fx_head_query_t *q, fx_buf_t *out, fx_err_t *err);
int fx_block_select_series(fx_block_t *b, const fx_head_query_t *q, const char *const *by,
                           size_t nby, int64_t step_ms, fx_head_aggregation_t agg, fx_arena_t *a,
                           fx_head_ts_list_t *out, fx_err_t *err);

/* --- compaction --------------------------------------------------------------------- */

typedef struct fx_block_compact_stats {
    uint64_t rows_in, rows_out, duplicates;
} fx_block_compact_stats_t;

/* Merges blocks in[0..n) of one tenant into one new block under parent_dir
 * (as fx_block_write_head writes): symbols re-mapped into one table, series
 * unified by labels, profiles with the same (series, time, profile id) -
 * replicas - kept once. level = max(levels) + 1, sources = union of the
 * inputs' sources. The inputs are unchanged. stats and meta may be NULL.
 * FX_EINVAL (no inputs, different tenants), FX_ECORRUPT, FX_EIO. */
int fx_block_compact(fx_block_t *const *in, size_t n, const char *parent_dir,
                     const fx_block_write_options_t *opts, fx_block_meta_t *meta,
                     fx_block_compact_stats_t *stats, fx_err_t *err);

#endif
