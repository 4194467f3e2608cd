/*
 * format.h - internals of libcommon/block shared by its .c files: the
 * section container (header, compressed parts, table of contents, footer),
 * the profile chunk codec, the loaded index and symbols, the I/O layer and
 * the cache. The byte layout is documented in docs/block-format.md; the
 * constants here are that document's.
 */
#ifndef FX_BLOCK_FORMAT_H
#define FX_BLOCK_FORMAT_H

#include <pthread.h>

#include "block/block.h"
#include "storage/engine.h"

/* --- section container -------------------------------------------------------------
 * header:  "FXBK" | u8 version | u8 kind (fx_block_file_t) | u16 0
 * parts:   stored bytes of each part, back to back
 * toc:     uvarint nparts, then per part uvarint id, codec, offset, stored
 *          length, raw length, crc32 (of the stored bytes)
 * footer:  u64 LE toc offset | u32 LE toc length | u32 LE crc32 of the toc
 * The profiles section has no parts in its toc: its chunks sit between the
 * header and the toc and the index points at them. */
#define FX__MAGIC "FXBK"
#define FX__HEADER_LEN 8
#define FX__FOOTER_LEN 16
#define FX__CODEC_RAW 0
#define FX__CODEC_ZSTD 1
#define FX__MAX_PART (1u << 30)   /* raw bytes of one part or stream */

enum { /* index parts */
    FX__P_INFO = 1,
    FX__P_LSTR = 2,
    FX__P_SERIES = 3,
    FX__P_POSTINGS = 4,
    FX__P_PSERIES = 5,
};
enum { /* symbols parts */
    FX__S_STRINGS = 1,
    FX__S_MAPPINGS = 2,
    FX__S_FUNCTIONS = 3,
    FX__S_LOCATIONS = 4,
    FX__S_NODES = 5,
};

uint32_t fx__crc32(const void *p, size_t n);
uint32_t fx__crc32_update(uint32_t crc, const void *p, size_t n);

/* Compresses raw with zstd (level) into out (appending); falls back to raw
 * when that is not smaller. Returns the codec used. */
int fx__compress(const uint8_t *raw, size_t n, int level, fx_buf_t *out);
/* Decodes a stored part/stream into out (replacing its contents); raw_len
 * must match exactly. FX_ECORRUPT with "what" in the message. */
int fx__decompress(int codec, const uint8_t *p, size_t n, uint64_t raw_len, fx_buf_t *out,
                   const char *what, fx_err_t *err);

/* Builds a section file in memory. */
typedef struct fx__secw {
    fx_buf_t out, toc, tmp;
    uint32_t nparts;
    int level;
} fx__secw_t;
void fx__secw_init(fx__secw_t *w, fx_block_file_t kind, int level);
void fx__secw_part(fx__secw_t *w, uint32_t id, const uint8_t *raw, size_t n);
/* Finishes the file in w->out. */
void fx__secw_finish(fx__secw_t *w);
void fx__secw_free(fx__secw_t *w);

typedef struct fx__part {
    uint32_t id, codec, crc;
    uint64_t off, len, raw;
} fx__part_t;

/* A parsed section file (borrowing its bytes). */
typedef struct fx__secr {
    const uint8_t *p;
    size_t n;
    uint64_t toc_off; /* where the parts/chunks end */
    fx__part_t *parts;
    size_t nparts;
    const char *name; /* for messages */
    int verify;
} fx__secr_t;
/* Parses header, footer and toc of file kind. FX_ECORRUPT. */
int fx__secr_open(fx__secr_t *r, fx_block_file_t kind, const uint8_t *p, size_t n, int verify,
                  fx_err_t *err);
/* Decodes part id (which must exist) into out. */
int fx__secr_part(const fx__secr_t *r, uint32_t id, fx_buf_t *out, fx_err_t *err);
void fx__secr_free(fx__secr_t *r);

/* --- profile chunks -----------------------------------------------------------------
 * Rows of one pseries, in time order, as 3 + ncols streams (see
 * docs/block-format.md): row headers, profile ids, stack ids, and one value
 * stream per column; each compressed on its own; a crc32 trailer. */
#define FX__CHUNK_FORMAT 1
#define FX__CHUNK_FORMAT_SPANS 2 /* one more stream: the rows' span sections */
#define FX__MAX_STREAMS (4 + FX_ROW_MAX_COLS)

typedef struct fx__cbuild {
    uint32_t ncols, nrows;
    fx_buf_t rows, ids, stacks, vals[FX_ROW_MAX_COLS], tmp[FX_ROW_MAX_COLS];
    fx_buf_t spans; /* per row uvarint length + span section (row.h) */
    int has_spans;  /* a row of this chunk has a span section */
    int64_t prev_ts, min_ns, max_ns;
    uint64_t samples;
} fx__cbuild_t;

void fx__cb_init(fx__cbuild_t *b, uint32_t ncols);
void fx__cb_free(fx__cbuild_t *b);
/* Adds a row: stacks[nstacks] ascending and unique, values row-major
 * (values[i * ncols + c]), span section spans[0..nspans_bytes) (0: none).
 * Rows must come in (time, id) order. A chunk none of whose rows has a
 * span section is written in format 1. */
void fx__cb_add(fx__cbuild_t *b, int64_t ts, const uint8_t *id, const uint32_t *stacks,
                const int64_t *values, uint32_t nstacks, uint64_t period, const uint8_t *spans,
                size_t nspans_bytes);
size_t fx__cb_raw_bytes(const fx__cbuild_t *b);
/* Appends the chunk to out and resets b for the next chunk. */
void fx__cb_flush(fx__cbuild_t *b, int level, fx_buf_t *out);

/* Decoding one chunk. Streams are decompressed into buffers the decoder
 * owns (reused across chunks). */
typedef struct fx__cdec {
    uint32_t ncols, nrows, row;
    int need_samples;
    int has_spans, want_spans;             /* the chunk has a span stream; read it */
    const uint8_t *sp[FX__MAX_STREAMS]; /* stored streams */
    uint64_t slen[FX__MAX_STREAMS], sraw[FX__MAX_STREAMS];
    uint8_t scodec[FX__MAX_STREAMS], ready[FX__MAX_STREAMS];
    fx_buf_t buf[FX__MAX_STREAMS];
    const uint8_t *rp, *rend, *ip, *stp, *stend, *spp, *spend;
    uint64_t want;                 /* columns whose values are wanted (bit c) */
    uint64_t off[FX_ROW_MAX_COLS]; /* next value offset per column stream */
    int64_t ts;
    const char *what; /* for messages */
} fx__cdec_t;

void fx__cd_init(fx__cdec_t *d);
void fx__cd_free(fx__cdec_t *d);
/* Starts decoding chunk p[0..n) of a pseries with ncols columns; want: bit
 * c set = rows carry column c's values (0 = headers only); want_spans: rows
 * carry their span sections (format 2 chunks; others have none). verify:
 * check the crc32 trailer. */
int fx__cd_open(fx__cdec_t *d, const uint8_t *p, size_t n, uint32_t ncols, uint64_t want,
                int want_spans, int verify, fx_err_t *err);
/* Next row: 1 and *ts, *id (16 bytes), *row filled; 0 at the end (after
 * checking every stream was consumed exactly); FX_ECORRUPT. Without wanted
 * columns the row has no stacks or values (only ncols, nstacks, period and
 * totals); columns not wanted have no values. */
int fx__cd_next(fx__cdec_t *d, int64_t *ts, const uint8_t **id, fx_row_t *row, fx_err_t *err);

/* --- loaded sections ------------------------------------------------------------- */

typedef struct fx__bchunk {
    uint64_t off;
    uint32_t len, nrows;
    int64_t min_ns, max_ns;
} fx__bchunk_t;

typedef struct fx__bindex {
    fx__index_t x;
    fx__bchunk_t *chunks;
    uint32_t *ps_chunk0; /* nps + 1 entries: pseries i has chunks [ps_chunk0[i], ps_chunk0[i+1]) */
    size_t nchunks;
    char *tenant;
    char id[FX_BLOCK_ULID_LEN + 1];
    int64_t min_ns, max_ns;
    uint64_t profiles, samples;
    size_t bytes; /* memory estimate, for the cache */
} fx__bindex_t;

/* Decodes an index section file (whole); psize: the profiles section's
 * size, which chunk references must stay within. */
int fx__bindex_load(fx__bindex_t *ix, const uint8_t *p, size_t n, uint64_t psize, int verify,
                    fx_err_t *err);
void fx__bindex_free(fx__bindex_t *ix);

typedef struct fx__bsyms {
    fx__symview_t v;
    fx_buf_t strblob;
    const char **str;
    uint32_t *str_len;
    fx__fn_t *fns;
    fx__mapping_t *maps;
    fx__loc_t *locs;
    fx__line_t *lines;
    uint32_t *parent, *loc;
    size_t bytes;
} fx__bsyms_t;

int fx__bsyms_load(fx__bsyms_t *s, const uint8_t *p, size_t n, int verify, fx_err_t *err);
void fx__bsyms_free(fx__bsyms_t *s);

/* --- writing sections ------------------------------------------------------------ */

/* Per pseries of the index being written. */
typedef struct fx__wps {
    fx__bchunk_t *chunks;
    size_t nchunks, cap;
} fx__wps_t;


/* The common tail of writing a block: builds everything in parent/.tmp-<id>
 * then renames it to parent/<id>. Profiles bytes are already in a file
 * (prof_fd, size prof_len) inside tmpdir. */
typedef struct fx__bwriter {
    fx_block_write_options_t o;
    char *parent, *tmpdir;
    char id[FX_BLOCK_ULID_LEN + 1];
    int prof_fd;
    uint64_t prof_len;
    uint32_t prof_crc;
    fx_buf_t pbuf; /* chunk bytes not yet written */
    fx__symbols_t sym;
    fx__index_t idx;
    fx__wps_t *wps;
    size_t capwps;
    fx__cbuild_t cb;
    uint32_t cb_ps;     /* pseries the chunk builder is filling, UINT32_MAX none */
    uint64_t profiles, samples;
    int64_t min_ns, max_ns;
} fx__bwriter_t;

int fx__bw_begin(fx__bwriter_t *w, const char *parent, const fx_block_write_options_t *o,
                 fx_err_t *err);
/* Output pseries for the series with these labels (one label set per
 * column); creates series and pseries as needed. */
uint32_t fx__bw_pseries(fx__bwriter_t *w, const fx_labels_t *cols, uint32_t ncols);
/* Adds a row to pseries ps (rows of a pseries contiguous, in (time, id)
 * order). stacks need not be sorted or unique: they are sorted and
 * duplicates summed here; stacks and values are modified. spans: the row's
 * span section with block stack ids (nspans_bytes 0: none), copied. */
int fx__bw_row(fx__bwriter_t *w, uint32_t ps, int64_t ts, const uint8_t *id, uint32_t *stacks,
               int64_t *values, uint32_t nstacks, uint64_t period, const uint8_t *spans,
               size_t nspans_bytes, fx_err_t *err);
/* Writes index, symbols, meta.json and renames the block into place.
 * FX_ENOTFOUND if no row was added. */
int fx__bw_finish(fx__bwriter_t *w, const char *tenant, int level, const char (*sources)[27],
                  size_t nsources, fx_block_meta_t *meta, fx_err_t *err);
/* Frees w and removes its temporary directory if still there. */
void fx__bw_free(fx__bwriter_t *w);

/* Decodes all columns of row: (*stacks)[i] and (*values)[i * ncols + c],
 * growing both arrays (capacity *cap entries) as needed. */
int fx__row_decode(const fx_row_t *row, uint32_t max_stack, uint32_t **stacks, int64_t **values,
                   size_t *cap, fx_err_t *err);

/* Interns every node of in marked in touched (NULL: all) into out, parents
 * first, with the locations, functions, mappings and strings they use;
 * node_map[i] is the out node of in node i (UINT32_MAX if untouched). */
void fx__remap_symbols(fx__symbols_t *out, const fx__symview_t *in, const uint8_t *touched,
                       uint32_t *node_map);

/* --- I/O ----------------------------------------------------------------------------- */

typedef struct fx__bio fx__bio_t;
int fx__bio_open_dir(const char *dir, fx_block_io_t mode, fx__bio_t **out, fx_err_t *err);
void fx__bio_close(fx__bio_t *io);
int fx__bio_read(fx__bio_t *io, fx_block_range_t *r, size_t n, fx_err_t *err);
void fx__bio_stats(fx__bio_t *io, fx_block_io_stats_t *out);
int fx__bio_size(fx__bio_t *io, fx_block_file_t f, uint64_t *size, fx_err_t *err);
int fx__bio_uring(const fx__bio_t *io);

/* --- cache ------------------------------------------------------------------------- */

enum { FX__C_INDEX = 0, FX__C_SYMBOLS = 1 };

typedef struct fx__centry fx__centry_t;
struct fx__centry {
    fx_block_t *owner;
    int kind;
    void *obj; /* fx__bindex_t or fx__bsyms_t */
    size_t bytes;
    unsigned refs;
    fx__centry_t *prev, *next; /* LRU list of its kind, most recent first */
};

/* Returns the block's loaded object of kind, pinned (loading it with load()
 * if absent). Unpin with fx__cache_unpin. */
typedef int (*fx__cache_load_fn)(fx_block_t *b, int kind, void **obj, size_t *bytes,
                                 fx_err_t *err);
int fx__cache_pin(fx_block_cache_t *c, fx_block_t *b, int kind, fx__centry_t **slot,
                  fx__cache_load_fn load, fx__centry_t **out, fx_err_t *err);
void fx__cache_unpin(fx_block_cache_t *c, fx__centry_t *e);
/* Drops the block's entries (none pinned). */
void fx__cache_drop(fx_block_cache_t *c, fx__centry_t **slot);

/* --- the open block -------------------------------------------------------------------- */

struct fx_block {
    fx_block_meta_t meta;
    fx_block_options_t o;
    fx_block_cache_t *cache, *own_cache;
    fx__bio_t *io;             /* local directory, or NULL */
    fx_block_source_t src;     /* when io is NULL */
    fx__centry_t *slot[2];     /* cached index and symbols, guarded by the cache */
};

/* Reads ranges from the block's files. */
int fx__block_read(fx_block_t *b, fx_block_range_t *r, size_t n, fx_err_t *err);
/* Pins the loaded index / symbols. */
int fx__block_index(fx_block_t *b, fx__centry_t **e, fx_err_t *err);
int fx__block_symbols(fx_block_t *b, fx__centry_t **e, fx_err_t *err);
/* Calls fn for every row of chunks [c0, c1) of pseries ps (of the pinned
 * index ix) with lo <= time <= hi; the target list tg[0..ntg) all belong to
 * ps. Reads all chunks in one batch. */
int fx__block_scan_ps(fx_block_t *b, const fx__bindex_t *ix, const fx__target_t *tg, size_t ntg,
                      int64_t lo, int64_t hi, int need_samples, fx__row_fn fn, void *ctx,
                      fx__cdec_t *dec, fx_err_t *err);

#endif
