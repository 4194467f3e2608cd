/*
 * io.c - reading byte ranges of a local block's section files: a batch of
 * ranges goes to the kernel at once through io_uring (one submission, then
 * completions; short reads resubmitted), or, where io_uring is unavailable
 * (old kernel, seccomp, io_uring_disabled) or not wanted (FX_BLOCK_IO_PREAD
 * or FX_BLOCK_IO=pread in the environment), through pread one by one.
 * A few rings per block let concurrent queries read in parallel.
 */
#include "block/format.h"
#include "log/log.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NRINGS 4
#define QDEPTH 64

typedef struct ring {
    pthread_mutex_t mu;
    struct io_uring r;
    int ok;
} ring_t;

struct fx__bio {
    int fd[FX_BLOCK_NFILES];
    int uring;
    ring_t rings[NRINGS];
    _Atomic unsigned next;
    _Atomic uint64_t uring_reads, pread_reads, bytes;
    char *dir;
};

static int want_uring(fx_block_io_t mode)
{
    if (mode == FX_BLOCK_IO_PREAD)
        return 0;
    if (mode == FX_BLOCK_IO_URING)
        return 1;
    const char *e = getenv("FX_BLOCK_IO");
    return !(e && strcmp(e, "pread") == 0);
}

int fx__bio_open_dir(const char *dir, fx_block_io_t mode, fx__bio_t **out, fx_err_t *err)
{
    fx__bio_t *io = fx_calloc(1, sizeof *io);
    int rc = FX_OK;
    io->dir = fx_strdup(dir);
    for (int f = 0; f < FX_BLOCK_NFILES; f++)
        io->fd[f] = -1;
    for (int f = 0; f < FX_BLOCK_NFILES; f++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, fx_block_file_name((fx_block_file_t)f));
        io->fd[f] = open(path, O_RDONLY | O_CLOEXEC);
        if (io->fd[f] < 0) {
            rc = fx_err_set(err, errno == ENOENT ? FX_ENOTFOUND : FX_EIO, "opening %s: %s", path,
                            strerror(errno));
            goto out;
        }
    }
    if (want_uring(mode)) {
        for (int i = 0; i < NRINGS; i++) {
            pthread_mutex_init(&io->rings[i].mu, NULL);
            int e = io_uring_queue_init(QDEPTH, &io->rings[i].r, 0);
            io->rings[i].ok = e == 0;
            if (e) {
                static _Atomic int logged;
                if (!atomic_exchange(&logged, 1))
                    fx_log_warn("io_uring unavailable, block reads use pread", "error=%s",
                                fx_q(strerror(-e)));
                break;
            }
        }
        io->uring = io->rings[0].ok;
    }
out:
    if (rc) {
        fx__bio_close(io);
        io = NULL;
    }
    *out = io;
    return rc;
}

void fx__bio_close(fx__bio_t *io)
{
    if (!io)
        return;
    for (int i = 0; i < NRINGS; i++)
        if (io->rings[i].ok) {
            io_uring_queue_exit(&io->rings[i].r);
            pthread_mutex_destroy(&io->rings[i].mu);
        }
    for (int f = 0; f < FX_BLOCK_NFILES; f++)
        if (io->fd[f] >= 0)
            close(io->fd[f]);
    free(io->dir);
    free(io);
}

static int short_read(fx__bio_t *io, const fx_block_range_t *r, fx_err_t *err, int e)
{
    return fx_err_set(err, FX_EIO, "reading %s/%s at %llu (%zu bytes): %s", io->dir,
                      fx_block_file_name(r->file), (unsigned long long)r->off, r->len,
                      e ? strerror(e) : "the file is shorter than its index says");
}

static int read_pread(fx__bio_t *io, fx_block_range_t *r, size_t n, fx_err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        size_t done = 0;
        while (done < r[i].len) {
            ssize_t got = pread(io->fd[r[i].file], r[i].buf + done, r[i].len - done,
                                (off_t)(r[i].off + done));
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                return short_read(io, &r[i], err, got < 0 ? errno : 0);
            done += (size_t)got;
        }
        io->pread_reads++;
        io->bytes += r[i].len;
    }
    return FX_OK;
}

/* Submits up to QDEPTH reads at a time; each completion either finishes
 * its range or is resubmitted for the rest (short read). */
static int read_uring(fx__bio_t *io, ring_t *rg, fx_block_range_t *r, size_t n, fx_err_t *err)
{
    struct io_uring *ring = &rg->r;
    size_t *done = fx_calloc(n + 1, sizeof *done);
    size_t next = 0, inflight = 0, finished = 0;
    int rc = FX_OK;
    while (finished < n && rc == FX_OK) {
        while (next < n && inflight < QDEPTH) {
            if (r[next].len == 0) {
                next++;
                finished++;
                continue;
            }
            struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
            if (!sqe)
                break;
            io_uring_prep_read(sqe, io->fd[r[next].file], r[next].buf, (unsigned)r[next].len,
                               r[next].off);
            io_uring_sqe_set_data64(sqe, next);
            next++;
            inflight++;
        }
        if (!inflight)
            break;
        int s = io_uring_submit_and_wait(ring, 1);
        if (s < 0 && s != -EINTR) {
            rc = fx_err_set(err, FX_EIO, "io_uring submit: %s", strerror(-s));
            break;
        }
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(ring, head, cqe)
        {
            seen++;
            size_t i = (size_t)io_uring_cqe_get_data64(cqe);
            inflight--;
            if (cqe->res <= 0) {
                if (cqe->res == -EINTR || cqe->res == -EAGAIN) {
                    /* resubmit below */
                } else if (rc == FX_OK) {
                    rc = short_read(io, &r[i], err, cqe->res < 0 ? -cqe->res : 0);
                    continue;
                }
            } else {
                done[i] += (size_t)cqe->res;
            }
            if (done[i] == r[i].len) {
                finished++;
                io->uring_reads++;
                io->bytes += r[i].len;
                continue;
            }
            struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
            FX_ASSERT(sqe); /* a completion just freed a slot */
            io_uring_prep_read(sqe, io->fd[r[i].file], r[i].buf + done[i],
                               (unsigned)(r[i].len - done[i]), r[i].off + done[i]);
            io_uring_sqe_set_data64(sqe, i);
            inflight++;
        }
        io_uring_cq_advance(ring, seen);
    }
    /* On error, reap what is still in flight before the buffers go away. */
    while (inflight) {
        struct io_uring_cqe *cqe;
        if (io_uring_wait_cqe(ring, &cqe) < 0)
            break;
        io_uring_cqe_seen(ring, cqe);
        inflight--;
    }
    free(done);
    return rc;
}

int fx__bio_read(fx__bio_t *io, fx_block_range_t *r, size_t n, fx_err_t *err)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned)r[i].file >= FX_BLOCK_NFILES || r[i].len > FX__MAX_PART)
            return fx_err_set(err, FX_ECORRUPT, "bad read range");
    if (!io->uring || n == 0)
        return read_pread(io, r, n, err);
    unsigned k = atomic_fetch_add(&io->next, 1);
    ring_t *rg = NULL;
    for (int i = 0; i < NRINGS && !rg; i++) {
        ring_t *c = &io->rings[(k + (unsigned)i) % NRINGS];
        if (c->ok && pthread_mutex_trylock(&c->mu) == 0)
            rg = c;
    }
    if (!rg) {
        rg = &io->rings[0];
        pthread_mutex_lock(&rg->mu);
    }
    int rc = read_uring(io, rg, r, n, err);
    pthread_mutex_unlock(&rg->mu);
    return rc;
}

void fx__bio_stats(fx__bio_t *io, fx_block_io_stats_t *out)
{
    out->uring_reads = io->uring_reads;
    out->pread_reads = io->pread_reads;
    out->bytes = io->bytes;
}

int fx__bio_uring(const fx__bio_t *io)
{
    return io->uring;
}

int fx__bio_size(fx__bio_t *io, fx_block_file_t f, uint64_t *size, fx_err_t *err)
{
    struct stat st;
    if (fstat(io->fd[f], &st))
        return fx_err_set(err, FX_EIO, "stat of %s/%s: %s", io->dir, fx_block_file_name(f),
                          strerror(errno));
    *size = (uint64_t)st.st_size;
    return FX_OK;
}
