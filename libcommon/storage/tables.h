/*
 * tables.h - a tenant's in-memory tables, shared by the storage .c files:
 * the symbol store (strings, mappings, functions, locations, stack tree),
 * the series index with its postings, and the chunk formats that persist
 * them. No RocksDB here, so fuzz targets can drive the chunk decoders and
 * blocks (libcommon/block) use the same tables as their in-memory form.
 * Not thread-safe: head_int.h says who locks what.
 */
#ifndef FX_STORAGE_TABLES_H
#define FX_STORAGE_TABLES_H

#include <roaring/roaring.h>

#include "core/hash.h"
#include "core/strtab.h"
#include "storage/head.h"
#include "storage/row.h"

/* --- id deduplication --------------------------------------------------------
 * An open-addressing set of ids whose keys live elsewhere (in the record
 * arrays): the caller hashes its key and compares candidates with eq(). A
 * slot is (hash >> 32) << 32 | (id + 1), 0 = empty, so growing needs no
 * rehash callback. */
typedef struct fx__idtab {
    uint64_t *slots;
    size_t cap, len;
} fx__idtab_t;

typedef int (*fx__idtab_eq_fn)(const void *ctx, uint32_t id, const void *key);
void fx__idtab_free(fx__idtab_t *t);
/* Returns the id whose key equals key, or UINT32_MAX. */
uint32_t fx__idtab_find(const fx__idtab_t *t, uint64_t hash, fx__idtab_eq_fn eq, const void *ctx,
                        const void *key);
void fx__idtab_insert(fx__idtab_t *t, uint64_t hash, uint32_t id);

/* --- symbols -------------------------------------------------------------------- */
typedef struct fx__fn {
    uint32_t name, system_name, filename; /* string ids */
    int64_t start_line;
} fx__fn_t;

typedef struct fx__mapping {
    uint64_t start, limit, offset;
    uint32_t filename, build_id; /* string ids */
    uint8_t flags;               /* has_functions | has_filenames << 1 | ... */
} fx__mapping_t;

typedef struct fx__line {
    uint32_t fn;
    int64_t line;
} fx__line_t;

typedef struct fx__loc {
    uint64_t address;
    uint32_t mapping; /* mapping id + 1; 0 = none */
    uint32_t line0;   /* first line in fx__symbols_t.lines */
    uint32_t nlines;
    uint8_t folded;
} fx__loc_t;

/* Stack node 0 is the root (no location); node i > 0 is (parent, loc) with
 * parent < i, so index order visits parents first. */
typedef struct fx__symbols {
    fx_strtab_t strs; /* id 0 = "" */
    fx__fn_t *fns;
    size_t nfns, capfns;
    fx__idtab_t fn_ix;
    fx__mapping_t *maps;
    size_t nmaps, capmaps;
    fx__idtab_t map_ix;
    fx__loc_t *locs;
    size_t nlocs, caplocs;
    fx__line_t *lines;
    size_t nlines, caplines;
    fx__idtab_t loc_ix;
    uint32_t *node_parent, *node_loc;
    size_t nnodes, capnodes;
    fx_map64_t node_ix; /* parent << 32 | loc -> node */
} fx__symbols_t;

/* Counts of every table: what an append added is the range between two. */
typedef struct fx__symcounts {
    size_t strs, maps, fns, locs, nodes;
} fx__symcounts_t;

void fx__symbols_init(fx__symbols_t *s);
void fx__symbols_free(fx__symbols_t *s);
void fx__symbols_counts(const fx__symbols_t *s, fx__symcounts_t *c);
uint32_t fx__sym_string(fx__symbols_t *s, const char *p, size_t n);
uint32_t fx__sym_function(fx__symbols_t *s, const fx__fn_t *f);
uint32_t fx__sym_mapping(fx__symbols_t *s, const fx__mapping_t *m);
/* lines[nlines] are copied. */
uint32_t fx__sym_location(fx__symbols_t *s, const fx__loc_t *l, const fx__line_t *lines);
uint32_t fx__sym_node(fx__symbols_t *s, uint32_t parent, uint32_t loc);
/* Looks up n existing nodes (parents[i], locs[i]) into out[i], UINT32_MAX
 * where there is none or parents[i] is UINT32_MAX; adds nothing. The lookups
 * must be independent: their hash slots are prefetched in batches so the
 * cache misses overlap (a big stack tree's index does not fit in cache). */
void fx__sym_nodes_find(const fx__symbols_t *s, const uint32_t *parents, const uint32_t *locs,
                        size_t n, uint32_t *out);

/* Chunk kinds, in load (dependency) order; the byte is part of the key. */
enum {
    FX__K_STRINGS = '1',
    FX__K_MAPPINGS = '2',
    FX__K_FUNCTIONS = '3',
    FX__K_LOCATIONS = '4',
    FX__K_NODES = '5',
    FX__K_SERIES = '6',
    FX__K_PSERIES = '7',
};

/* Encodes the entries [from, to) of a symbol table kind. */
void fx__sym_encode_chunk(const fx__symbols_t *s, int kind, size_t from, size_t to, fx_buf_t *out);
/* Decodes a chunk and appends its entries; first must equal the table's
 * current size. FX_ECORRUPT on any inconsistency (dangling reference...). */
int fx__sym_load_chunk(fx__symbols_t *s, int kind, uint32_t first, const uint8_t *p, size_t n,
                       fx_err_t *err);

/* --- series index ------------------------------------------------------------------
 * A series is one profile type's label set (postings point at it). A
 * "pseries" is the row series: the tuple of series one pprof's columns
 * feed; rows are keyed by pseries. A series may be fed by several pseries
 * (e.g. pushes with different sample-type sets), hence refs. */
typedef struct fx__ref {
    uint32_t pseries, col;
} fx__ref_t;

typedef struct fx__series {
    uint32_t lbl_off, nlbl; /* pairs (name, value) of label-string ids in idx.lbl */
    uint64_t fp;            /* fx_labels_fingerprint */
    uint32_t ptype;         /* label-string id of __profile_type__ */
    fx__ref_t *refs;
    uint32_t nrefs, caprefs;
} fx__series_t;

typedef struct fx__pseries {
    uint32_t ncols, col_off; /* series ids in idx.pcols */
    int64_t min_ns, max_ns;  /* of stored rows; min > max when none */
    uint64_t rows;
} fx__pseries_t;

typedef struct fx__lname {
    uint32_t name;    /* label-string id */
    uint32_t *values; /* label-string ids seen with it */
    size_t nvalues, cap;
} fx__lname_t;

typedef struct fx__index {
    fx_strtab_t lstr; /* label names and values */
    uint32_t *lbl;
    size_t nlbl, caplbl;
    fx__series_t *series;
    size_t nseries, capseries;
    fx__idtab_t series_ix;
    uint32_t *pcols;
    size_t npcols, cappcols;
    fx__pseries_t *ps;
    size_t nps, capps;
    fx__idtab_t ps_ix;
    fx_map64_t post_ix; /* name << 32 | value -> index in post */
    roaring_bitmap_t **post;
    size_t npost, cappost;
    fx_map64_t name_ix; /* name -> index in names */
    fx__lname_t *names;
    size_t nnames, capnames;
    roaring_bitmap_t *all;
} fx__index_t;

void fx__index_init(fx__index_t *x);
void fx__index_free(fx__index_t *x);
/* Finds the series with exactly these (sorted) labels, or UINT32_MAX. */
uint32_t fx__index_find_series(const fx__index_t *x, const fx_labels_t *l, uint64_t fp);
/* Adds a series (labels copied, postings updated). */
uint32_t fx__index_add_series(fx__index_t *x, const fx_labels_t *l, uint64_t fp);
/* Loading a stored index whose postings are stored too (a block): adds a
 * series whose nlbl labels are (name, value) pairs of existing lstr ids,
 * without touching postings; ... */
uint32_t fx__index_add_series_ids(fx__index_t *x, const uint32_t *pairs, uint32_t nlbl,
                                  uint64_t fp);
/* ... and installs the postings list of (name, value) (lstr ids), taking
 * ownership of b. -1 (b not taken) if that pair already has one. */
int fx__index_put_postings(fx__index_t *x, uint32_t name, uint32_t value, roaring_bitmap_t *b);
uint32_t fx__index_find_pseries(const fx__index_t *x, const uint32_t *cols, uint32_t ncols);
uint32_t fx__index_add_pseries(fx__index_t *x, const uint32_t *cols, uint32_t ncols);
void fx__index_encode_chunk(const fx__index_t *x, int kind, size_t from, size_t to, fx_buf_t *out);
int fx__index_load_chunk(fx__index_t *x, int kind, uint32_t first, const uint8_t *p, size_t n,
                         fx_err_t *err);
/* Label string of series s's label name, or NULL. */
const char *fx__series_label(const fx__index_t *x, const fx__series_t *s, const char *name);
/* Builds the fx_labels_t of series s in arena a (strings copied). */
fx_labels_t fx__series_labels(const fx__index_t *x, const fx__series_t *s, fx_arena_t *a);
/* Series matching any of the query's selectors and its profile type
 * (caller frees the bitmap). */
roaring_bitmap_t *fx__index_select(const fx__index_t *x, const fx_head_query_t *q);

/* Query time range in ns; all time when both ms bounds are 0. */
void fx__query_range(const fx_head_query_t *q, int64_t *lo, int64_t *hi);
/* 1 if series s has rows overlapping [lo, hi]. */
int fx__series_in_range(const fx__index_t *x, const fx__series_t *s, int64_t lo, int64_t hi);

#endif
