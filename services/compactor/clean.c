/*
 * clean.c - the steps of a tenant run that only mark or delete: deleting
 * blocks whose deletion delay has passed and half-uploaded blocks, marking
 * blocks past retention, marking blocks another block already holds, and
 * marking corrupted blocks.
 *
 * Order matters for readers and for crashes: a deletion removes meta.json
 * first (the block stops being visible), then the sections, then the marks
 * last, so a deletion cut short leaves a prefix without meta.json but with
 * its deletion mark, which the next run finishes at once.
 */
#include "internal.h"
#include "log/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int del_obj(cp_t *c, const char *tenant, cp__bstate_t *s, const cp__obj_t *o,
                   fx_err_t *err)
{
    char key[FX_BUCKET_KEY_MAX + 1];
    snprintf(key, sizeof key, "%s/%s/%s", tenant, s->id, o->name);
    int rc = fx_bucket_delete(c->bkt, key, err);
    if (rc == FX_OK)
        fx_counter_add_u64(c->m->bytes_deleted, (uint64_t)FX_MAX(o->size, 0));
    return rc;
}

/* Deletes every object of s: meta.json, then the rest, then the marks. */
static int delete_block(cp_t *c, const char *tenant, cp__bstate_t *s, fx_err_t *err)
{
    int rc = FX_OK;
    for (int pass = 0; pass < 3 && rc == FX_OK; pass++)
        for (size_t i = 0; i < s->nobjs && rc == FX_OK; i++) {
            const char *n = s->objs[i].name;
            int is_meta = strcmp(n, CP_META) == 0;
            int is_mark = strcmp(n, CP_DELETION_MARK) == 0 || strcmp(n, CP_CORRUPTED_MARK) == 0;
            if ((pass == 0 && is_meta) || (pass == 1 && !is_meta && !is_mark) ||
                (pass == 2 && is_mark))
                rc = del_obj(c, tenant, s, &s->objs[i], err);
        }
    if (rc == FX_OK)
        s->gone = true;
    return rc;
}

/* When the deletion mark of s was written (unix ms): its deletion_time, or
 * the object's mtime if the mark cannot be read. */
static int mark_time(cp_t *c, const char *tenant, cp__bstate_t *s, int64_t *ms, fx_err_t *err)
{
    char key[FX_BUCKET_KEY_MAX + 1];
    fx_buf_t body = FX_BUF_INIT;
    int64_t sec;
    fx_err_t perr = {0};
    snprintf(key, sizeof key, "%s/%s/%s", tenant, s->id, CP_DELETION_MARK);
    int rc = fx_bucket_get(c->bkt, key, &body, err);
    if (rc == FX_OK) {
        if (cp_parse_deletion_mark(body.data, body.len, &sec, &perr) == FX_OK) {
            *ms = sec * 1000;
        } else {
            fx_log_warn("unreadable deletion mark; using its modification time", "key=%s err=%s",
                        fx_q(key), fx_q(perr.msg));
            *ms = s->mark_mtime;
        }
    }
    fx_buf_free(&body);
    return rc;
}

int cp__delete_due(cp_t *c, cp__tenant_t *t, int64_t now_ms, fx_err_t *err)
{
    int rc = FX_OK;
    for (size_t i = 0; i < t->n && rc == FX_OK; i++) {
        cp__bstate_t *s = &t->v[i];
        int64_t marked;
        if (s->has_mark) {
            /* The mark's mtime is when it was written: skip the read while
             * that alone says the delay has not passed. */
            if (now_ms - s->mark_mtime < c->cfg.deletion_delay_ms)
                continue;
            if ((rc = mark_time(c, t->id, s, &marked, err)) == FX_ENOTFOUND) {
                rc = FX_OK; /* deleted meanwhile */
                continue;
            }
            if (rc || now_ms - marked < c->cfg.deletion_delay_ms)
                continue;
            if ((rc = delete_block(c, t->id, s, err)) == FX_OK) {
                fx_counter_inc(c->m->blocks_deleted);
                fx_log_info("deleted block", "tenant=%s block=%s marked_s_ago=%lld bytes=%lld",
                            fx_q(t->id), s->id, (long long)((now_ms - marked) / 1000),
                            (long long)s->bytes);
            }
        } else if (!s->has_meta && now_ms - s->newest_mtime >= c->cfg.partial_delay_ms) {
            /* No meta.json and nothing written for the partial delay: an
             * upload that died. An upload in progress keeps adding objects. */
            if ((rc = delete_block(c, t->id, s, err)) == FX_OK) {
                fx_counter_inc(c->m->partial_deleted);
                fx_log_warn("deleted partial block (no meta.json)",
                            "tenant=%s block=%s objects=%zu idle_s=%lld", fx_q(t->id), s->id,
                            s->nobjs, (long long)((now_ms - s->newest_mtime) / 1000));
            }
        }
    }
    return rc;
}

int cp__retention(cp_t *c, cp__tenant_t *t, int64_t now_ms, fx_err_t *err)
{
    int64_t keep_ms = fx_limits_for(c->lim, t->id)->compactor_blocks_retention_period_ns / 1000000;
    int rc = FX_OK;
    if (keep_ms <= 0)
        return FX_OK;
    for (size_t i = 0; i < t->n && rc == FX_OK; i++) {
        cp__bstate_t *s = &t->v[i];
        if (s->gone || s->has_mark || !s->meta || s->meta->max_time_ms >= now_ms - keep_ms)
            continue;
        if ((rc = cp_mark_deletion(c->bkt, t->id, s->id, now_ms, "retention", err)) == FX_OK) {
            s->has_mark = true;
            fx_counter_inc(c->m->marked_retention);
            fx_log_info("marked block for deletion", "tenant=%s block=%s reason=retention "
                        "max_time_ms=%lld retention_s=%lld", fx_q(t->id), s->id,
                        (long long)s->meta->max_time_ms, (long long)(keep_ms / 1000));
        }
    }
    return rc;
}

int cp__mark_covered(cp_t *c, cp__tenant_t *t, int64_t now_ms, fx_err_t *err)
{
    cp_block_t *vis = fx_malloc((t->n + 1) * sizeof *vis);
    cp__bstate_t **st = fx_malloc((t->n + 1) * sizeof *st);
    size_t n = 0;
    int rc = FX_OK;
    for (size_t i = 0; i < t->n; i++) {
        cp__bstate_t *s = &t->v[i];
        if (!s->gone && !s->has_mark && !s->has_corrupt && s->meta) {
            vis[n] = (cp_block_t){s->meta, s->meta_mtime};
            st[n++] = s;
        }
    }
    unsigned char *covered = fx_calloc(n + 1, 1);
    cp_covered(vis, n, covered);
    for (size_t i = 0; i < n && rc == FX_OK; i++) {
        if (!covered[i])
            continue;
        /* An earlier run uploaded the block holding these sources but
         * stopped before marking them (or two compactors raced). */
        if ((rc = cp_mark_deletion(c->bkt, t->id, st[i]->id, now_ms, "compacted", err)) == FX_OK) {
            st[i]->has_mark = true;
            fx_counter_inc(c->m->marked_compacted);
            fx_log_info("marked block for deletion", "tenant=%s block=%s reason=compacted "
                        "note=%s", fx_q(t->id), st[i]->id,
                        fx_q("its data is in another block; an earlier run did not mark it"));
        }
    }
    free(covered);
    free(st);
    free(vis);
    return rc;
}

int cp__corrupted(cp_t *c, const char *tenant, cp__bstate_t *s, int64_t now_ms, const char *why,
                  fx_err_t *err)
{
    const char *section = fx_block_corrupt_section(why);
    fx_counter_inc(c->m->corrupted);
    fx_log_error("corrupted block: marked and skipped", "tenant=%s block=%s section=%s err=%s",
                 fx_q(tenant), s->id, section, fx_q(why));
    int rc = cp_mark_corrupted(c->bkt, tenant, s->id, now_ms, section, why, err);
    if (rc == FX_OK)
        s->has_corrupt = true;
    return rc;
}
