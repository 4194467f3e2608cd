/*
 * write.h - writing series profiles to their replication sets.
 *
 * Each series profile has a ring token (tenant + labels); its replication
 * set is looked up on the ingester ring, the profiles are grouped into one
 * Push per ingester, the Pushes run in parallel, and every profile must be
 * acknowledged by a quorum (floor(replicas/2)+1) of its replicas.
 */
#ifndef FX_DIST_WRITE_H
#define FX_DIST_WRITE_H

#include "distributor.h"
#include "ingester/v1/ingester.pb-c.h"

typedef struct write_item {
    Ingester__V1__SeriesProfile *sp;
    uint32_t token;
    uint8_t *owned;      /* heap bytes sp->pprof points at (re-encoded), or NULL */
} write_item_t;

typedef struct write_batch {
    write_item_t *items; /* heap */
    size_t n, cap;
} write_batch_t;

void write_batch_init(write_batch_t *b);
/* Adds sp (borrowed: it must live until write_batch_send returns) with its
 * ring token. owned, if not NULL, is heap memory the batch frees (the
 * re-encoded pprof sp points at). */
void write_batch_add(write_batch_t *b, Ingester__V1__SeriesProfile *sp, uint32_t token,
                     uint8_t *owned);
/* Frees the batch's items and the memory they own. */
void write_batch_free(write_batch_t *b);
/* Sends the batch; FX_OK once every profile reached quorum. */
int write_batch_send(dist_t *d, const char *tenant, write_batch_t *b, fx_err_t *err);

/* Healthy members of the distributor ring (for global rate limits). */
size_t dist_healthy_distributors(dist_t *d);

#endif
