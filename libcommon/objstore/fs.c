/*
 * fs.c - the filesystem bucket (see fs.h). Every path is resolved with the
 * *at() calls against one directory fd opened at start, so the backend has
 * no mutable state and needs no locks.
 */
#include "objstore/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/mem.h"
#include "log/log.h"

#define WRITE_CHUNK (1 << 20)
#define TMP_MAX_AGE_S 3600

typedef struct fs_bucket {
    fx_bucket_t base;
    int root; /* directory fd */
    char *dir;
} fs_bucket_t;

static fs_bucket_t *fsb(fx_bucket_t *b) { return (fs_bucket_t *)b; }

static int64_t mtime_ms(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

static int fsync_dir(int root, const char *rel)
{
    int fd = openat(root, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Creates the parent directories of key. *created says whether any was
 * new (their parents then need an fsync). */
static int make_parents(fs_bucket_t *b, const char *key, bool *created, fx_err_t *err)
{
    char path[FX_BUCKET_KEY_MAX + 1];
    snprintf(path, sizeof path, "%s", key);
    for (char *s = strchr(path, '/'); s; s = strchr(s + 1, '/')) {
        *s = 0;
        if (mkdirat(b->root, path, 0755) == 0) {
            *created = true;
        } else if (errno != EEXIST) {
            int e = errno;
            *s = '/';
            if (e == ENOTDIR)
                return fx_err_set(err, FX_EPRECOND,
                                  "put %s: a parent of this key is an object, and a "
                                  "filesystem bucket cannot hold both",
                                  key);
            return fx_err_set(err, FX_EIO, "put %s: mkdir %s/%s: %s", key, b->dir, path,
                              strerror(e));
        } else {
            struct stat st;
            if (fstatat(b->root, path, &st, 0) == 0 && !S_ISDIR(st.st_mode)) {
                *s = '/';
                return fx_err_set(err, FX_EPRECOND,
                                  "put %s: a parent of this key is an object, and a "
                                  "filesystem bucket cannot hold both",
                                  key);
            }
        }
        *s = '/';
    }
    return FX_OK;
}

/* fsyncs every directory from key's parent up to the root, so new
 * directory entries survive a crash. */
static void sync_parents(fs_bucket_t *b, const char *key)
{
    char path[FX_BUCKET_KEY_MAX + 1];
    snprintf(path, sizeof path, "%s", key);
    for (char *s = strrchr(path, '/'); s; s = strrchr(path, '/')) {
        *s = 0;
        fsync_dir(b->root, path);
    }
    fsync_dir(b->root, ".");
}

static void tmp_name(char out[64])
{
    uint64_t r[2] = {0, 0};
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        r[0] = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
        r[1] = (uint64_t)ts.tv_sec;
    }
    snprintf(out, 64, "%s/%016llx%016llx", FX_BUCKET_TMP_DIR, (unsigned long long)r[0],
             (unsigned long long)r[1]);
}

static int fs_put_reader(fx_bucket_t *bb, const char *key, fx_bucket_read_fn read, void *ctx,
                         fx_err_t *err)
{
    fs_bucket_t *b = fsb(bb);
    char tmp[64];
    uint8_t *buf = NULL;
    int rc = FX_OK, fd = -1;
    bool created = false;

    tmp_name(tmp);
    fd = openat(b->root, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == ENOENT) { /* someone removed the temp directory */
        mkdirat(b->root, FX_BUCKET_TMP_DIR, 0755);
        fd = openat(b->root, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    }
    if (fd < 0)
        return fx_err_set(err, FX_EIO, "put %s: create %s/%s: %s", key, b->dir, tmp,
                          strerror(errno));
    buf = fx_malloc(WRITE_CHUNK);
    for (;;) {
        int64_t n = read(ctx, buf, WRITE_CHUNK, err);
        if (n < 0) {
            rc = fx_err_prefix(err, "put %s", key);
            goto out;
        }
        if (n == 0)
            break;
        if (fx_write_all(fd, buf, (size_t)n) < 0) {
            rc = fx_err_set(err, FX_EIO, "put %s: write %s/%s: %s", key, b->dir, tmp,
                            strerror(errno));
            goto out;
        }
    }
    if (fsync(fd) < 0) {
        rc = fx_err_set(err, FX_EIO, "put %s: fsync: %s", key, strerror(errno));
        goto out;
    }
    close(fd);
    fd = -1;
    /* A concurrent delete may remove a parent that just became empty between
     * mkdir and rename: create it again and retry. */
    for (int attempt = 0;; attempt++) {
        if ((rc = make_parents(b, key, &created, err)) != FX_OK)
            goto out;
        if (renameat(b->root, tmp, b->root, key) == 0)
            break;
        if (errno == ENOENT && attempt < 8)
            continue;
        if (errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST)
            rc = fx_err_set(err, FX_EPRECOND,
                            "put %s: other objects live under this key as a directory, and a "
                            "filesystem bucket cannot hold both",
                            key);
        else
            rc = fx_err_set(err, FX_EIO, "put %s: rename into %s: %s", key, b->dir,
                            strerror(errno));
        goto out;
    }
    if (created) {
        sync_parents(b, key);
    } else {
        char parent[FX_BUCKET_KEY_MAX + 1];
        snprintf(parent, sizeof parent, "%s", key);
        char *s = strrchr(parent, '/');
        if (s)
            *s = 0;
        fsync_dir(b->root, s ? parent : ".");
    }
out:
    if (fd >= 0)
        close(fd);
    if (rc)
        unlinkat(b->root, tmp, 0);
    free(buf);
    return rc;
}

typedef struct mem_reader {
    const uint8_t *p;
    size_t left;
} mem_reader_t;

static int64_t read_mem(void *ctx, uint8_t *buf, size_t cap, fx_err_t *err)
{
    (void)err;
    mem_reader_t *m = ctx;
    size_t n = FX_MIN(cap, m->left);
    if (n)
        memcpy(buf, m->p, n);
    m->p += n;
    m->left -= n;
    return (int64_t)n;
}

static int fs_put(fx_bucket_t *b, const char *key, const void *data, size_t len, fx_err_t *err)
{
    mem_reader_t m = {data, len};
    return fs_put_reader(b, key, read_mem, &m, err);
}

/* Opens key for reading; FX_ENOTFOUND unless it is a regular file. */
static int open_obj(fs_bucket_t *b, const char *what, const char *key, struct stat *st,
                    fx_err_t *err)
{
    int fd = openat(b->root, key, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return fx_err_set(err, FX_ENOTFOUND, "%s %s: no such object", what, key);
        return fx_err_set(err, FX_EIO, "%s %s: open: %s", what, key, strerror(errno));
    }
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return fx_err_set(err, FX_ENOTFOUND, "%s %s: no such object", what, key);
    }
    return fd;
}

static int fs_get_range(fx_bucket_t *bb, const char *key, int64_t off, int64_t len,
                        fx_buf_t *out, fx_err_t *err)
{
    fs_bucket_t *b = fsb(bb);
    struct stat st;
    int fd = open_obj(b, "get", key, &st, err), rc = FX_OK;
    if (fd < 0)
        return fd;
    int64_t size = st.st_size;
    if (off >= size && !(off == 0 && len < 0)) {
        rc = fx_err_set(err, FX_EINVAL, "get %s: range start %lld is at or past the end of the "
                        "object (%lld bytes)", key, (long long)off, (long long)size);
        goto out;
    }
    int64_t n = len < 0 || len > size - off ? size - off : len;
    fx_buf_reserve(out, (size_t)n);
    for (int64_t done = 0; done < n;) {
        ssize_t r = pread(fd, out->data + out->len, (size_t)(n - done), off + done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = fx_err_set(err, FX_EIO, "get %s: read: %s", key,
                            r < 0 ? strerror(errno) : "object shrank while being read");
            goto out;
        }
        out->len += (size_t)r;
        done += r;
    }
out:
    close(fd);
    return rc;
}

static int fs_head(fx_bucket_t *bb, const char *key, fx_obj_attrs_t *a, fx_err_t *err)
{
    fs_bucket_t *b = fsb(bb);
    struct stat st;
    if (fstatat(b->root, key, &st, 0) < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return fx_err_set(err, FX_ENOTFOUND, "head %s: no such object", key);
        return fx_err_set(err, FX_EIO, "head %s: stat: %s", key, strerror(errno));
    }
    if (!S_ISREG(st.st_mode))
        return fx_err_set(err, FX_ENOTFOUND, "head %s: no such object", key);
    a->size = st.st_size;
    a->mtime_ms = mtime_ms(&st);
    return FX_OK;
}

static int fs_del(fx_bucket_t *bb, const char *key, fx_err_t *err)
{
    fs_bucket_t *b = fsb(bb);
    if (unlinkat(b->root, key, 0) < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR)
            return FX_OK;
        return fx_err_set(err, FX_EIO, "delete %s: %s", key, strerror(errno));
    }
    /* Remove the directories this leaves empty; a non-empty one stops it. */
    char path[FX_BUCKET_KEY_MAX + 1];
    snprintf(path, sizeof path, "%s", key);
    for (char *s = strrchr(path, '/'); s; s = strrchr(path, '/')) {
        *s = 0;
        if (unlinkat(b->root, path, AT_REMOVEDIR) < 0)
            break;
    }
    return FX_OK;
}

/* ---- listing ---------------------------------------------------------------- */

typedef struct lst {
    fs_bucket_t *b;
    const char *prefix;
    const char *delim;
    fx_arena_t arena;
    fx_obj_entry_t *v;
    size_t n, cap;
    fx_err_t *err;
} lst_t;

static void add(lst_t *l, const char *key, size_t klen, int64_t size, int64_t mtime, bool pfx)
{
    FX_GROW(l->v, l->cap, l->n + 1);
    l->v[l->n++] = (fx_obj_entry_t){fx_arena_strndup(&l->arena, key, klen), size, mtime, pfx};
}

/* True if the directory (fd consumed) holds a regular file at any depth. */
static bool has_files(int fd)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return false;
    }
    bool found = false;
    struct dirent *de;
    while (!found && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISREG(st.st_mode))
            found = true;
        else if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            found = sub >= 0 && has_files(sub);
        }
    }
    closedir(d);
    return found;
}

/* Walks the directory fd (consumed) whose keys start with rel ("" or ending
 * in '/'); at the top only names starting with filter count. */
static int walk(lst_t *l, int fd, fx_buf_t *rel, const char *filter)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return fx_err_set(l->err, FX_EIO, "list %s: open directory %s/%s: %s", l->prefix,
                          l->b->dir, rel->len ? fx_buf_cstr(rel) : ".", strerror(errno));
    }
    size_t base = rel->len;
    int rc = FX_OK;
    while (rc == FX_OK) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno != 0)
                rc = fx_err_set(l->err, FX_EIO, "list %s: read directory: %s", l->prefix,
                                strerror(errno));
            break;
        }
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        if (base == 0 && strcmp(name, FX_BUCKET_TMP_DIR) == 0)
            continue;
        if (filter && strncmp(name, filter, strlen(filter)) != 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue; /* deleted meanwhile */
        rel->len = base;
        fx_buf_puts(rel, name);
        if (S_ISREG(st.st_mode)) {
            add(l, (const char *)rel->data, rel->len, st.st_size, mtime_ms(&st), false);
        } else if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (sub < 0)
                continue;
            fx_buf_putc(rel, '/');
            if (l->delim && strcmp(l->delim, "/") == 0) {
                /* The whole subtree is one common prefix: no need to walk it. */
                if (has_files(sub))
                    add(l, (const char *)rel->data, rel->len, -1, 0, true);
            } else {
                rc = walk(l, sub, rel, NULL);
            }
        }
    }
    rel->len = base;
    closedir(d);
    return rc;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const fx_obj_entry_t *)a)->key, ((const fx_obj_entry_t *)b)->key);
}

static int fs_list(fx_bucket_t *bb, const char *prefix, const char *delim, fx_bucket_list_fn fn,
                   void *ctx, fx_err_t *err)
{
    lst_t l = {.b = fsb(bb), .prefix = prefix, .delim = delim, .err = err};
    fx_buf_t rel = FX_BUF_INIT;
    int rc = FX_OK;

    fx_arena_init(&l.arena);
    const char *slash = strrchr(prefix, '/');
    size_t dlen = slash ? (size_t)(slash - prefix + 1) : 0;
    fx_buf_append(&rel, prefix, dlen);
    int fd = openat(l.b->root, dlen ? fx_buf_cstr(&rel) : ".",
                    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT && errno != ENOTDIR)
            rc = fx_err_set(err, FX_EIO, "list %s: open %s/%s: %s", prefix, l.b->dir,
                            (char *)rel.data, strerror(errno));
        goto out;
    }
    if ((rc = walk(&l, fd, &rel, prefix + dlen)) != FX_OK)
        goto out;
    if (l.n) /* qsort(NULL, 0) is undefined */
        qsort(l.v, l.n, sizeof *l.v, entry_cmp);

    size_t plen = strlen(prefix);
    const char *last_cp = NULL;
    size_t last_cp_len = 0;
    for (size_t i = 0; i < l.n && rc == FX_OK; i++) {
        fx_obj_entry_t e = l.v[i];
        if (delim && !e.is_prefix) {
            /* Fold keys with the delimiter after the prefix (any delimiter
             * but "/", which the walk already folded). */
            const char *hit = strstr(e.key + plen, delim);
            if (hit) {
                size_t cl = (size_t)(hit - e.key) + strlen(delim);
                if (last_cp && cl == last_cp_len && memcmp(last_cp, e.key, cl) == 0)
                    continue;
                last_cp = e.key;
                last_cp_len = cl;
                char *cp = fx_arena_strndup(&l.arena, e.key, cl);
                e = (fx_obj_entry_t){cp, -1, 0, true};
            }
        }
        rc = fn(&e, ctx);
    }
out:
    free(l.v);
    fx_arena_free(&l.arena);
    fx_buf_free(&rel);
    return rc;
}

static void fs_close(fx_bucket_t *bb)
{
    fs_bucket_t *b = fsb(bb);
    close(b->root);
    free(b->dir);
    free(b->base.where);
    free(b);
}

static const fx_bucket_ops_t fs_ops = {
    fs_put, fs_put_reader, fs_get_range, fs_head, fs_list, fs_del, fs_close,
};

/* Removes temporary files that crashed writers left behind. */
static void sweep_tmp(fs_bucket_t *b)
{
    int fd = openat(b->root, FX_BUCKET_TMP_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(d))) {
        struct stat st;
        if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, 0) < 0 ||
            !S_ISREG(st.st_mode) || now - st.st_mtime < TMP_MAX_AGE_S)
            continue;
        if (unlinkat(dirfd(d), de->d_name, 0) == 0)
            fx_log_info("removed a stale temporary upload", "dir=%s file=%s", fx_q(b->dir),
                        fx_q(de->d_name));
    }
    closedir(d);
}

int fx_bucket_fs_new(const char *dir, fx_bucket_t **out, fx_err_t *err)
{
    *out = NULL;
    if (!dir || !*dir)
        return fx_err_set(err, FX_EINVAL, "filesystem bucket: no directory given "
                          "(-storage.filesystem.dir)");
    if (fx_mkdir_p(dir) < 0)
        return fx_err_set(err, FX_EIO, "filesystem bucket: cannot create %s: %s", dir,
                          strerror(errno));
    int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return fx_err_set(err, FX_EIO, "filesystem bucket: cannot open directory %s: %s", dir,
                          strerror(errno));
    if (mkdirat(root, FX_BUCKET_TMP_DIR, 0755) < 0 && errno != EEXIST) {
        int e = errno;
        close(root);
        return fx_err_set(err, FX_EIO, "filesystem bucket: %s is not writable: %s", dir,
                          strerror(e));
    }
    fs_bucket_t *b = fx_calloc(1, sizeof *b);
    b->base.ops = &fs_ops;
    b->base.backend = "filesystem";
    b->root = root;
    b->dir = fx_strdup(dir);
    fx_buf_t w = FX_BUF_INIT;
    fx_buf_printf(&w, "filesystem %s", dir);
    b->base.where = fx_buf_cstr(&w);
    sweep_tmp(b);
    *out = &b->base;
    return FX_OK;
}
