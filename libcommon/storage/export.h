/*
 * export.h - reading a tenant's data out of the head in a time range, for
 * cutting it into a block (libcommon/block): the series index and the
 * symbols as plain in-memory tables (tables.h, engine.h) and the stored rows
 * (row.h). No RocksDB types cross this interface.
 *
 * Thread safety: may run while appends and queries go on; the export sees a
 * consistent snapshot of the rows (taken before the index is read), and
 * every exported row references stack nodes below the count given to
 * index().
 */
#ifndef FX_STORAGE_EXPORT_H
#define FX_STORAGE_EXPORT_H

#include "storage/engine.h"

typedef struct fx_head_export_cb {
    /* First, under the tenant's read lock: its series index (pseries with
     * rows in range have rows > 0 and overlap [lo, hi]; others may be
     * skipped) and the stack node count. Everything is borrowed for the
     * duration of the call only. */
    int (*index)(void *ctx, const fx__index_t *idx, uint32_t nnodes, fx_err_t *err);
    /* Then every row with lo <= time <= hi of every pseries overlapping the
     * range, by pseries id then time (then profile id). id: 16 bytes. The
     * row is borrowed for the call. */
    int (*row)(void *ctx, uint32_t pseries, int64_t ts_ns, const uint8_t *id, const fx_row_t *row,
               fx_err_t *err);
    /* Last, under the read lock again: the symbols (borrowed for the call). */
    int (*symbols)(void *ctx, const fx__symview_t *sym, fx_err_t *err);
} fx_head_export_cb_t;

/* Exports tenant's data with lo_ns <= time <= hi_ns through cb (every hook
 * required). A tenant the head does not know exports nothing (FX_OK, no
 * calls). The first non-FX_OK return of a hook stops the export and is
 * returned; FX_EIO/FX_ECORRUPT come from reading the head. */
int fx_head_export(fx_head_t *h, const char *tenant, int64_t lo_ns, int64_t hi_ns,
                   const fx_head_export_cb_t *cb, void *ctx, fx_err_t *err);

#endif
