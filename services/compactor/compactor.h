/*
 * compactor.h - the compactor service (docs/compactor.md): every
 * -compactor.compaction-interval, for each tenant of the bucket that this
 * instance owns on the "compactor" ring, it
 *
 *   1. deletes blocks whose deletion mark is older than the deletion delay
 *      (meta.json first), and half-uploaded blocks (no meta.json) left
 *      alone longer than the partial-block delay;
 *   2. marks blocks past the tenant's retention (reason "retention");
 *   3. marks blocks whose data another visible block already holds (its
 *      sources include theirs: an earlier run stopped between upload and
 *      marking; reason "compacted");
 *   4. merges blocks of the same aligned time range (-compactor.block-ranges)
 *      into one block per range - which is also what drops the replica
 *      duplicates of RF ingesters - verifying every input first; a block that
 *      fails its checksums gets corrupted.json and is left out.
 *
 * The work is split in two layers: cp_t (this header's core: one bucket, one
 * tenant at a time, "now" passed in, so tests drive it directly) and the
 * module (compactor.c: flags, ring membership, the periodic thread, /ready,
 * /compactor/ring). The bucket keys and marks are docs/bucket-layout.md's.
 */
#ifndef FX_COMPACTOR_H
#define FX_COMPACTOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/app.h"
#include "block/block.h"
#include "limits/limits.h"
#include "metrics/metrics.h"
#include "objstore/bucket.h"

#define CP_MAX_RANGES 8

/* ---- configuration ------------------------------------------------------------ */

/* What cp_t needs, in milliseconds. */
typedef struct cp_config {
    int64_t ranges_ms[CP_MAX_RANGES]; /* ascending; each a multiple of the one before */
    size_t nranges;
    int64_t first_level_wait_ms;      /* level-1 blocks younger than this wait */
    int64_t deletion_delay_ms;        /* marked blocks are deleted after this */
    int64_t partial_delay_ms;         /* idle block prefixes without meta.json are deleted after this */
    const char *work_dir;             /* local scratch directory (created; emptied per job) */
    int fsync;                        /* fsync the local output (default off: it is uploaded) */
} cp_config_t;

/* Parses -compactor.block-ranges ("1h","2h","8h") into c->ranges_ms. FX_EINVAL
 * naming the flag when a range is not a duration, not positive, not
 * ascending or not a multiple of the one before, or there are none or more
 * than CP_MAX_RANGES. */
int cp_parse_ranges(const char *const *v, size_t n, cp_config_t *c, fx_err_t *err);

/* ---- marks (marks.c): docs/bucket-layout.md ------------------------------------- */

#define CP_META "meta.json"
#define CP_DELETION_MARK "deletion-mark.json"
#define CP_CORRUPTED_MARK "corrupted.json"

/* Writes <tenant>/<id>/deletion-mark.json:
 * {"id","deletion_time":<unix s>,"reason"}. */
int cp_mark_deletion(fx_bucket_t *b, const char *tenant, const char *id, int64_t now_ms,
                     const char *reason, fx_err_t *err);
/* Writes <tenant>/<id>/corrupted.json: {"id","time":<unix s>,"section","error"}. */
int cp_mark_corrupted(fx_bucket_t *b, const char *tenant, const char *id, int64_t now_ms,
                      const char *section, const char *error, fx_err_t *err);
/* The deletion_time (unix s) of a deletion mark's text; FX_ECORRUPT if it has
 * none. */
int cp_parse_deletion_mark(const uint8_t *p, size_t n, int64_t *deletion_time_s, fx_err_t *err);

/* ---- planning (plan.c): pure functions over block descriptions ------------------- */

/* One visible block, as the planner sees it. */
typedef struct cp_block {
    const fx_block_meta_t *meta; /* borrowed */
    int64_t uploaded_ms;         /* meta.json's modification time */
} cp_block_t;

/* A compaction: blocks idx[0..n) (ascending min time) of the aligned window
 * [start_ms, end_ms) of ranges_ms[range]. */
typedef struct cp_job {
    size_t *idx; /* owned; free with cp_job_free */
    size_t n;
    size_t range;
    int64_t start_ms, end_ms;
} cp_job_t;

void cp_job_free(cp_job_t *j);

/* Picks the next compaction among b[0..n), or returns 0 when there is none.
 *
 * For each range i (ascending) and each aligned window [k*r, (k+1)*r) of it
 * (ascending), the candidates are the blocks lying wholly inside the window
 * whose level is below i + 2 (range 0 makes level 2 from ingester blocks,
 * range 1 level 3, ...). The window is compacted when it has at least two
 * candidates, none of them a level-1 block uploaded less than
 * first_level_wait_ms ago, and - for i > 0 - the window is closed: some block
 * starts at or after its end, or now is past end + ranges_ms[0] +
 * first_level_wait_ms. Candidates are taken oldest first while their sources
 * add up to at most FX_BLOCK_MAX_SOURCES. */
int cp_plan(const cp_block_t *b, size_t n, const cp_config_t *c, int64_t now_ms, cp_job_t *job);

/* Sets covered[i] = 1 for each block whose data another block of b[0..n)
 * holds: its sources are a subset of the other's, and the other has more
 * sources or, with the same sources, a smaller ULID (so of two blocks with
 * equal sources exactly one survives). covered has n entries. */
void cp_covered(const cp_block_t *b, size_t n, unsigned char *covered);

/* ---- the core ------------------------------------------------------------------------ */

typedef struct cp_metrics {
    fx_counter_t *runs_started, *runs_completed, *runs_failed;
    fx_gauge_t *last_success;
    fx_counter_t *compactions, *compactions_failed;
    fx_counter_t *blocks_compacted, *duplicates;
    fx_counter_t *marked_compacted, *marked_retention;
    fx_counter_t *blocks_deleted, *partial_deleted;
    fx_counter_t *corrupted;
    fx_counter_t *bytes_read, *bytes_written, *bytes_deleted;
    fx_histogram_t *duration;
} cp_metrics_t;

/* Registers the fornax_compactor_* metrics in r. */
void cp_metrics_init(cp_metrics_t *m, fx_registry_t *r);

typedef struct cp cp_t;

/* A compactor over bucket b (borrowed; must outlive it). c is copied
 * (work_dir too). lim gives each tenant's retention; stop (may be NULL) is
 * polled between steps to end a run early. */
cp_t *cp_new(fx_bucket_t *b, const cp_config_t *c, const fx_limits_registry_t *lim,
             const cp_metrics_t *m, const atomic_bool *stop);
void cp_free(cp_t *c);

/* The tenants with objects in the bucket, sorted (caller frees each and the
 * array). */
int cp_list_tenants(cp_t *c, char ***tenants, size_t *n, fx_err_t *err);

/* One run over one tenant at time now_ms (steps 1-4 above). Failures of one
 * block or job are logged and counted and end the tenant's run with the
 * error; nothing done before is undone (every step is safe to repeat). */
int cp_run_tenant(cp_t *c, const char *tenant, int64_t now_ms, fx_err_t *err);

/* Decides which tenants this run covers: returns 1 for tenants to compact. */
typedef int (*cp_owner_fn)(void *ctx, const char *tenant);

/* One run over every tenant that owns() accepts (owns NULL = all). Counts
 * runs_started/completed/failed; returns the first error but still runs the
 * other tenants. */
int cp_run(cp_t *c, int64_t now_ms, cp_owner_fn owns, void *ctx, fx_err_t *err);

/* ---- ring ownership (ring.c) -------------------------------------------------------- */

/* 1 if instance id owns tenant in snapshot s of ring r: the first ACTIVE,
 * healthy instance clockwise from the tenant's token (FNV-1 of its ID). */
int cp_ring_owns(const fx_ring_t *r, const fx_ring_snapshot_t *s, const char *id,
                 const char *tenant, int64_t now_ms);

/* ---- the module --------------------------------------------------------------------- */

extern const fx_module_t fx_compactor_module;

#endif
