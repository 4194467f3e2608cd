/*
 * handoff.h - reading a tenant's stored profiles back out of the head as
 * self-contained pprofs with the labels their push carried, page by page:
 * what an ingester sends a peer that catches up after a restart
 * (services/ingester/catchup.c, docs/cluster.md). A page is one pprof with
 * the symbols of all its profiles once (compact: profiles of one series
 * share nearly all symbols) and per profile its sample range, types, labels,
 * id and time. Appending each profile's view with fx_head_append (same
 * labels, id and time) stores the same row under the same key, so a profile
 * handed off twice is stored once.
 *
 * Thread safety: may run while appends and queries go on (it reads a
 * RocksDB iterator and takes the tenant's read lock briefly: once per row
 * series, and once per few profiles to turn their rows into samples).
 */
#ifndef FX_STORAGE_HANDOFF_H
#define FX_STORAGE_HANDOFF_H

#include "storage/head.h"

/* Where the next page starts: after the row (pseries, time, id). pseries
 * ids are the reading head's own, so a cursor is only meaningful to the
 * head that made it. */
typedef struct fx_head_cursor {
    int set; /* 0 = from the first row */
    uint32_t pseries;
    int64_t ts_ns;
    uint8_t id[16];
} fx_head_cursor_t;

#define FX_HEAD_CURSOR_LEN 28

/* Serialises c (set) into out. */
void fx_head_cursor_encode(const fx_head_cursor_t *c, uint8_t out[FX_HEAD_CURSOR_LEN]);
/* Parses a cursor from the network: n == 0 is "from the start"; anything
 * but FX_HEAD_CURSOR_LEN bytes is FX_EINVAL. */
int fx_head_cursor_decode(const uint8_t *p, size_t n, fx_head_cursor_t *c, fx_err_t *err);

/* A 16-byte profile id as text: 8-4-4-4-12 lower-case hex digits (a
 * UUID's form; what the distributor sends), into out[37] with a NUL. */
void fx_head_id_format(const uint8_t id[16], char out[37]);
/* Parses exactly 32 hex digits (either case; dashes anywhere are skipped)
 * into out. FX_EINVAL otherwise. */
int fx_head_id_parse(const char *s, uint8_t out[16], fx_err_t *err);

/* The label sets a push of a row series may have carried (the token the
 * distributor hashed), from the stored labels of its columns cols[ncols]:
 * the derived labels (__type__, __unit__, __period_*__, __profile_type__,
 * __service_name__) removed, the base taken from a column whose __name__
 * was not relabeled (wall -> process_cpu for a cpu column); a lone
 * relabeled process_cpu cpu column also yields the variant named wall.
 * The head drops __delta__, which /ingest pprof pushes and godeltaprof
 * names carry as "false": each set also comes with __delta__="false"
 * (after the ones without). out[0] is the set to push with
 * (fx_head_append gives it back the same column labels). Strings are
 * borrowed from cols or static; arrays come from a. Returns the count
 * (2 or 4). */
#define FX_HEAD_PUSH_CANDIDATES 4
size_t fx_head_push_labels(const fx_labels_t *cols, size_t ncols, fx_arena_t *a,
                           fx_labels_t out[FX_HEAD_PUSH_CANDIDATES]);

/* Whether the profiles of a row series are wanted, given its candidate
 * push labels (fx_head_push_labels). Runs under the tenant's read lock:
 * no head calls. */
typedef int (*fx_head_want_fn)(void *ctx, const fx_labels_t *cands, size_t ncands);

/* One profile of a page: its samples are samples[first_sample, +nsamples)
 * of the page's pprof, its sample and period types string indices of it. */
typedef struct fx_head_page_profile {
    fx_labels_t labels;      /* as pushed, sorted */
    int64_t ts_ns;
    uint8_t id[16];
    int64_t period;
    uint32_t ntypes;
    int64_t *types;          /* 2 * ntypes: (type, unit) per sample type */
    int has_period_type;
    int64_t period_type, period_unit;
    uint32_t first_sample, nsamples;
} fx_head_page_profile_t;

/* A page: one pprof holding the symbols (strings, mappings, functions,
 * locations) of all its profiles once and their samples one profile after
 * the other (no sample types of its own; samples that carried a span id are
 * separate samples with a span_id label), plus what each profile needs. */
typedef struct fx_head_page {
    fx_head_page_profile_t *v;
    size_t len;
    fx_buf_t pprof;          /* plain, appended to; the caller's */
} fx_head_page_t;

/*
 * Reads the next page of tenant's profiles with lo_ns <= time <= hi_ns of
 * every wanted row series, in (row series, time, id) order, starting after
 * *cur, until the stored rows read reach max_bytes (at least one profile per
 * call). Updates *cur to the last one read; *done = 1 once nothing is left.
 * A tenant the head does not know is done at once. out->v and the labels
 * are allocated from a; out->pprof is appended to (fx_buf_free it).
 * FX_EIO/FX_ECORRUPT from reading the head.
 */
int fx_head_read_page(fx_head_t *h, const char *tenant, int64_t lo_ns, int64_t hi_ns,
                      size_t max_bytes, fx_head_want_fn want, void *wctx, fx_head_cursor_t *cur,
                      int *done, fx_arena_t *a, fx_head_page_t *out, fx_err_t *err);

/* Profile pp of a page as a pprof of its own, for fx_head_append: *out
 * shares page's tables and id maps (decoded from the page's pprof; do not
 * fx_pprof_free *out, only page), sample types come from a. FX_EINVAL when
 * pp's sample range or type count does not fit the page (bytes from the
 * network); string indices out of range read as "" (fx_pprof_str) and value
 * counts are checked by fx_head_append. */
int fx_head_page_view(const fx_pprof_t *page, const fx_head_page_profile_t *pp, fx_arena_t *a,
                      fx_pprof_t *out, fx_err_t *err);

#endif
