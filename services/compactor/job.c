/*
 * job.c - one compaction: download the inputs into the work directory,
 * verify every checksum, merge them (fx_block_compact drops the replica
 * duplicates), read the result back, upload it - sections first, meta.json
 * last - and only then mark the inputs for deletion.
 *
 * A crash at any point leaves the bucket readable: before meta.json is
 * uploaded the new block is invisible (and later deleted as partial); after
 * it, the inputs are still visible until marked, their profiles deduplicated
 * by readers, and the next run marks them (cp__mark_covered).
 */
#include "internal.h"
#include "core/fs.h"
#include "core/time.h"
#include "log/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Formats a local path; the work directory's name bounds its length, so a
 * path that does not fit is a configuration error. */
__attribute__((format(printf, 4, 5))) static int local_path(char *out, size_t n, fx_err_t *err,
                                                             const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= n)
        return fx_err_set(err, FX_EINVAL, "compactor: local path too long: %s...", out);
    return FX_OK;
}

/* Downloads block id of tenant into dir/id. */
static int download(cp_t *c, const char *tenant, const char *id, const char *dir, fx_err_t *err)
{
    char key[FX_BUCKET_KEY_MAX + 1], path[4096];
    int rc = local_path(path, sizeof path, err, "%s/%s", dir, id);
    if (rc < 0)
        return rc;
    if (mkdir(path, 0755) < 0)
        return fx_err_set(err, FX_EIO, "mkdir %s: %m", path);
    for (int f = 0; f < FX_BLOCK_NFILES && rc == FX_OK; f++) {
        const char *name = fx_block_file_name((fx_block_file_t)f);
        snprintf(key, sizeof key, "%s/%s/%s", tenant, id, name);
        if ((rc = local_path(path, sizeof path, err, "%s/%s/%s", dir, id, name)) == FX_OK)
            rc = fx_bucket_get_file(c->bkt, key, path, err);
    }
    return rc;
}

/* Uploads the block in dir/id as tenant's: sections, then meta.json. */
static int upload(cp_t *c, const char *tenant, const char *dir, const fx_block_meta_t *m,
                  fx_err_t *err)
{
    char key[FX_BUCKET_KEY_MAX + 1], path[4096];
    int rc = FX_OK;
    for (int k = 0; k < FX_BLOCK_NFILES && rc == FX_OK; k++) {
        /* meta.json (file 0) goes last: it is what makes the block visible. */
        fx_block_file_t f = (fx_block_file_t)((k + 1) % FX_BLOCK_NFILES);
        const char *name = fx_block_file_name(f);
        snprintf(key, sizeof key, "%s/%s/%s", tenant, m->id, name);
        if ((rc = local_path(path, sizeof path, err, "%s/%s/%s", dir, m->id, name)) == FX_OK &&
            (rc = fx_bucket_put_file(c->bkt, key, path, err)) == FX_OK && f != FX_BLOCK_META)
            fx_counter_add_u64(c->m->bytes_written, m->files[f].size);
    }
    return rc;
}

/* Which input an FX_ECORRUPT message of fx_block_compact is about (it says
 * "block <id>: ..."), or -1. */
static int blamed(const char *msg, cp__bstate_t **st, const cp_job_t *job)
{
    int who = -1;
    for (size_t k = 0; k < job->n; k++)
        if (strstr(msg, st[job->idx[k]]->id))
            who = who < 0 ? (int)k : -2;
    return who < 0 ? -1 : who;
}

int cp__compact(cp_t *c, cp__tenant_t *t, cp__bstate_t **st, const cp_block_t *vis,
                const cp_job_t *job, int64_t now_ms, fx_err_t *err)
{
    char in_dir[4096], out_dir[4096], path[4096];
    fx_block_t **in = fx_calloc(job->n, sizeof *in);
    fx_block_t *check = NULL;
    fx_block_meta_t out;
    fx_block_compact_stats_t stats = {0, 0, 0};
    int64_t t0 = fx_mono_ns();
    int rc = FX_OK, corrupt = 0;

    memset(&out, 0, sizeof out);
    fx_rm_rf(c->work_dir);
    if ((rc = local_path(in_dir, sizeof in_dir, err, "%s/in", c->work_dir)) < 0 ||
        (rc = local_path(out_dir, sizeof out_dir, err, "%s/out", c->work_dir)) < 0)
        goto out;
    if (mkdir(c->work_dir, 0755) < 0 || mkdir(in_dir, 0755) < 0) {
        rc = fx_err_set(err, FX_EIO, "compactor work directory %s: %m", c->work_dir);
        goto out;
    }

    /* Inputs: every checksum checked before a byte is used. */
    fx_block_options_t bo = {FX_BLOCK_IO_AUTO, NULL, 1, 0};
    for (size_t k = 0; k < job->n && rc == FX_OK; k++) {
        cp__bstate_t *s = st[job->idx[k]];
        if ((rc = download(c, t->id, s->id, in_dir, err)) < 0)
            break;
        const fx_block_meta_t *m = vis[job->idx[k]].meta;
        for (int f = FX_BLOCK_INDEX; f < FX_BLOCK_NFILES; f++)
            fx_counter_add_u64(c->m->bytes_read, m->files[f].size);
        if ((rc = local_path(path, sizeof path, err, "%s/%s", in_dir, s->id)) < 0)
            break;
        fx_err_t berr = {0};
        if ((rc = fx_block_open_dir(path, &bo, &in[k], &berr)) == FX_ECORRUPT) {
            /* Marked, left out; the other inputs are planned again. The
             * mark names the block, not our scratch path. */
            char pre[4200];
            const char *why = berr.msg;
            snprintf(pre, sizeof pre, "block %s: ", path);
            if (strncmp(why, pre, strlen(pre)) == 0)
                why += strlen(pre);
            if ((rc = cp__corrupted(c, t->id, s, now_ms, why, err)) == FX_OK)
                corrupt++;
        } else if (rc < 0) {
            *err = berr;
        }
    }
    if (rc < 0 || corrupt) {
        rc = rc < 0 ? rc : CP__REPLAN;
        goto out;
    }

    fx_block_write_options_t wo;
    fx_block_write_options_default(&wo);
    wo.fsync = c->cfg.fsync;
    if ((rc = fx_block_compact(in, job->n, out_dir, &wo, &out, &stats, err)) == FX_ECORRUPT) {
        /* Checksums held but a decoder found nonsense: blame the input the
         * message names, if it names one. */
        int k = blamed(err->msg, st, job);
        if (k >= 0) {
            fx_err_t merr = {0};
            char why[FX_ERR_MSG_MAX];
            snprintf(why, sizeof why, "%s", err->msg);
            rc = cp__corrupted(c, t->id, st[job->idx[k]], now_ms, why, &merr);
            if (rc < 0)
                *err = merr;
            else
                rc = CP__REPLAN;
        }
    }
    if (rc)
        goto out;
    /* Never upload what cannot be read back. */
    if ((rc = local_path(path, sizeof path, err, "%s/%s", out_dir, out.id)) < 0)
        goto out;
    if ((rc = fx_block_open_dir(path, &bo, &check, err)) < 0) {
        fx_err_prefix(err, "compacted block failed verification before upload");
        goto out;
    }
    if ((rc = upload(c, t->id, out_dir, &out, err)) < 0)
        goto out;

    /* The new block is complete in the bucket: only now retire the inputs. */
    for (size_t k = 0; k < job->n && rc == FX_OK; k++) {
        cp__bstate_t *s = st[job->idx[k]];
        if ((rc = cp_mark_deletion(c->bkt, t->id, s->id, now_ms, "compacted", err)) == FX_OK) {
            s->has_mark = true;
            fx_counter_inc(c->m->marked_compacted);
        }
    }
    if (rc)
        goto out;
    double secs = (double)(fx_mono_ns() - t0) / 1e9;
    fx_counter_inc(c->m->compactions);
    fx_counter_add_u64(c->m->blocks_compacted, job->n);
    fx_counter_add_u64(c->m->duplicates, stats.duplicates);
    fx_histogram_observe(c->m->duration, secs);
    fx_log_info("compacted blocks",
                "tenant=%s block=%s level=%d inputs=%zu range_ms=%lld window_start_ms=%lld "
                "profiles_in=%llu profiles_out=%llu duplicates=%llu seconds=%.3f",
                fx_q(t->id), out.id, out.level, job->n,
                (long long)c->cfg.ranges_ms[job->range], (long long)job->start_ms,
                (unsigned long long)stats.rows_in, (unsigned long long)stats.rows_out,
                (unsigned long long)stats.duplicates, secs);
    /* The state array may move: st[] is not used after this. */
    cp__bstate_t *ns = cp__tenant_add(t, out.id);
    ns->has_meta = true;
    ns->meta_mtime = now_ms;
    ns->meta = cp__cache_put(c, t->id, &out);
out:
    fx_block_close(check);
    for (size_t k = 0; k < job->n; k++)
        fx_block_close(in[k]);
    free(in);
    fx_block_meta_free(&out);
    fx_rm_rf(c->work_dir);
    return rc;
}
