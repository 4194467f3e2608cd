/*
 * bucket.c - the backend-independent half of bucket.h: key and range
 * validation in front of every op, and the helpers built only on the ops
 * (put_file, get_file, iter, list_all, exists).
 */
#include "objstore/bucket.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/mem.h"
#include "core/utf8.h"

/* ---- validation ------------------------------------------------------------ */

/* Shared rules for keys and prefixes. A prefix may end in '/' and its last
 * segment may be partial (any text, even "." or ".."). */
static int check_path(const char *what, const char *s, bool prefix, fx_err_t *err)
{
    size_t n = strlen(s);
    if (n == 0)
        return prefix ? FX_OK : fx_err_set(err, FX_EINVAL, "object key is empty");
    if (n > FX_BUCKET_KEY_MAX)
        return fx_err_set(err, FX_EINVAL, "%s is %zu bytes long; the limit is %d", what, n,
                          FX_BUCKET_KEY_MAX);
    if (!fx_utf8_valid((const uint8_t *)s, n))
        return fx_err_set(err, FX_EINVAL, "%s is not valid UTF-8", what);
    for (size_t i = 0; i < n; i++)
        if ((uint8_t)s[i] < 0x20 || s[i] == 0x7f)
            return fx_err_set(err, FX_EINVAL, "%s \"%.200s\" contains control byte 0x%02x",
                              what, s, (uint8_t)s[i]);
    if (s[0] == '/')
        return fx_err_set(err, FX_EINVAL, "%s \"%.200s\" starts with '/'", what, s);
    if (!prefix && s[n - 1] == '/')
        return fx_err_set(err, FX_EINVAL, "object key \"%.200s\" ends with '/'", s);
    for (const char *seg = s;;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        bool complete = end != NULL || !prefix;
        if (end && len == 0)
            return fx_err_set(err, FX_EINVAL, "%s \"%.200s\" contains \"//\"", what, s);
        bool dots = (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.');
        if (complete && dots)
            return fx_err_set(err, FX_EINVAL, "%s \"%.200s\" has a \".\" or \"..\" segment", what,
                              s);
        if (!end)
            break;
        seg = end + 1;
    }
    size_t tl = strlen(FX_BUCKET_TMP_DIR);
    if (!prefix && strncmp(s, FX_BUCKET_TMP_DIR, tl) == 0 && s[tl] == '/')
        return fx_err_set(err, FX_EINVAL, "object key \"%.200s\" is under the reserved \"%s/\"",
                          s, FX_BUCKET_TMP_DIR);
    return FX_OK;
}

int fx_bucket_check_key(const char *key, fx_err_t *err)
{
    if (!key)
        return fx_err_set(err, FX_EINVAL, "object key is missing");
    return check_path("object key", key, false, err);
}

int fx_bucket_check_prefix(const char *prefix, fx_err_t *err)
{
    return check_path("list prefix", prefix ? prefix : "", true, err);
}

/* ---- wrappers ---------------------------------------------------------------- */

int fx_bucket_put(fx_bucket_t *b, const char *key, const void *data, size_t len, fx_err_t *err)
{
    int rc = fx_bucket_check_key(key, err);
    return rc ? rc : b->ops->put(b, key, data, len, err);
}

int fx_bucket_put_reader(fx_bucket_t *b, const char *key, fx_bucket_read_fn read, void *ctx,
                         fx_err_t *err)
{
    int rc = fx_bucket_check_key(key, err);
    return rc ? rc : b->ops->put_reader(b, key, read, ctx, err);
}

int fx_bucket_get_range(fx_bucket_t *b, const char *key, int64_t off, int64_t len, fx_buf_t *out,
                        fx_err_t *err)
{
    int rc = fx_bucket_check_key(key, err);
    if (rc)
        return rc;
    if (off < 0 || len == 0 || len < -1)
        return fx_err_set(err, FX_EINVAL,
                          "get %s: invalid range offset %lld length %lld (need offset >= 0 and "
                          "length > 0, or -1 for the rest)",
                          key, (long long)off, (long long)len);
    return b->ops->get_range(b, key, off, len, out, err);
}

int fx_bucket_get(fx_bucket_t *b, const char *key, fx_buf_t *out, fx_err_t *err)
{
    return fx_bucket_get_range(b, key, 0, -1, out, err);
}

int fx_bucket_head(fx_bucket_t *b, const char *key, fx_obj_attrs_t *attrs, fx_err_t *err)
{
    fx_obj_attrs_t tmp;
    int rc = fx_bucket_check_key(key, err);
    return rc ? rc : b->ops->head(b, key, attrs ? attrs : &tmp, err);
}

int fx_bucket_exists(fx_bucket_t *b, const char *key, bool *exists, fx_err_t *err)
{
    fx_err_t e2 = {0};
    *exists = false;
    int rc = fx_bucket_head(b, key, NULL, &e2);
    if (rc == FX_OK)
        *exists = true;
    if (rc == FX_ENOTFOUND)
        return FX_OK;
    if (rc != FX_OK && err)
        *err = e2;
    return rc;
}

int fx_bucket_delete(fx_bucket_t *b, const char *key, fx_err_t *err)
{
    int rc = fx_bucket_check_key(key, err);
    return rc ? rc : b->ops->del(b, key, err);
}

int fx_bucket_list(fx_bucket_t *b, const char *prefix, const char *delim, fx_bucket_list_fn fn,
                   void *ctx, fx_err_t *err)
{
    int rc = fx_bucket_check_prefix(prefix, err);
    if (rc)
        return rc;
    if (delim && strlen(delim) > 16)
        return fx_err_set(err, FX_EINVAL, "list delimiter \"%.32s\" is longer than 16 bytes",
                          delim);
    rc = b->ops->list(b, prefix ? prefix : "", delim && *delim ? delim : NULL, fn, ctx, err);
    return rc == FX_BUCKET_STOP ? FX_OK : rc;
}

int fx_bucket_iter(fx_bucket_t *b, const char *dir, bool recursive, fx_bucket_list_fn fn,
                   void *ctx, fx_err_t *err)
{
    fx_buf_t p = FX_BUF_INIT;
    if (dir && *dir) {
        fx_buf_puts(&p, dir);
        if (dir[strlen(dir) - 1] != '/')
            fx_buf_putc(&p, '/');
    }
    int rc = fx_bucket_list(b, p.len ? fx_buf_cstr(&p) : "", recursive ? NULL : "/", fn, ctx, err);
    fx_buf_free(&p);
    return rc;
}

static int collect(const fx_obj_entry_t *e, void *ctx)
{
    fx_obj_list_t *l = ctx;
    FX_GROW(l->v, l->cap, l->n + 1);
    l->v[l->n] = *e;
    l->v[l->n].key = fx_strdup(e->key);
    l->n++;
    return FX_OK;
}

int fx_bucket_list_all(fx_bucket_t *b, const char *prefix, const char *delim, fx_obj_list_t *out,
                       fx_err_t *err)
{
    return fx_bucket_list(b, prefix, delim, collect, out, err);
}

void fx_obj_list_free(fx_obj_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free((char *)l->v[i].key);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

void fx_bucket_close(fx_bucket_t *b)
{
    if (b)
        b->ops->close(b);
}

/* ---- files --------------------------------------------------------------------- */

typedef struct fd_reader {
    int fd;
    const char *path;
} fd_reader_t;

static int64_t read_fd(void *ctx, uint8_t *buf, size_t cap, fx_err_t *err)
{
    fd_reader_t *r = ctx;
    for (;;) {
        ssize_t n = read(r->fd, buf, cap);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return fx_err_set(err, FX_EIO, "read %s: %s", r->path, strerror(errno));
    }
}

int fx_bucket_put_file(fx_bucket_t *b, const char *key, const char *path, fx_err_t *err)
{
    int rc = fx_bucket_check_key(key, err);
    if (rc)
        return rc;
    fd_reader_t r = {open(path, O_RDONLY | O_CLOEXEC), path};
    if (r.fd < 0)
        return fx_err_set(err, errno == ENOENT ? FX_ENOTFOUND : FX_EIO, "upload %s: open %s: %s",
                          key, path, strerror(errno));
    rc = b->ops->put_reader(b, key, read_fd, &r, err);
    close(r.fd);
    return rc;
}

#define GET_FILE_CHUNK ((int64_t)8 << 20)

int fx_bucket_get_file(fx_bucket_t *b, const char *key, const char *path, fx_err_t *err)
{
    fx_obj_attrs_t a;
    fx_buf_t buf = FX_BUF_INIT, tmp = FX_BUF_INIT;
    int fd = -1, rc = fx_bucket_head(b, key, &a, err);
    if (rc)
        return rc;
    fx_buf_printf(&tmp, "%s.tmp-XXXXXX", path);
    fd = mkostemp((char *)fx_buf_cstr(&tmp), O_CLOEXEC);
    if (fd < 0) {
        rc = fx_err_set(err, FX_EIO, "download %s: create %s: %s", key, (char *)tmp.data,
                        strerror(errno));
        goto out;
    }
    /* Ranged reads bound memory; an object that is empty needs one whole get. */
    for (int64_t off = 0; off < a.size || (a.size == 0 && off == 0);) {
        buf.len = 0;
        rc = a.size == 0 ? b->ops->get_range(b, key, 0, -1, &buf, err)
                         : b->ops->get_range(b, key, off, GET_FILE_CHUNK, &buf, err);
        if (rc)
            goto out;
        if (fx_write_all(fd, buf.data, buf.len) < 0) {
            rc = fx_err_set(err, FX_EIO, "download %s: write %s: %s", key, (char *)tmp.data,
                            strerror(errno));
            goto out;
        }
        if (a.size == 0)
            break;
        if (buf.len == 0) {
            rc = fx_err_set(err, FX_EIO, "download %s: object shrank below %lld bytes", key,
                            (long long)a.size);
            goto out;
        }
        off += (int64_t)buf.len;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        fd = -1;
        rc = fx_err_set(err, FX_EIO, "download %s: sync %s: %s", key, (char *)tmp.data,
                        strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename((char *)tmp.data, path) < 0)
        rc = fx_err_set(err, FX_EIO, "download %s: rename to %s: %s", key, path,
                        strerror(errno));
out:
    if (fd >= 0)
        close(fd);
    if (rc && tmp.len)
        unlink((char *)tmp.data);
    fx_buf_free(&buf);
    fx_buf_free(&tmp);
    return rc;
}
