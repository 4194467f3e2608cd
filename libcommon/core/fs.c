/* fs.c - mkdir -p, rm -rf, write everything, read everything. */
#include "core/fs.h"
#include "core/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int fx_mkdir_p(const char *path)
{
    char *p = fx_strdup(path);
    int rc = 0;
    for (char *s = p + 1; *s && rc == 0; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            rc = -1;
        *s = '/';
    }
    if (rc == 0 && mkdir(p, 0755) < 0 && errno != EEXIST)
        rc = -1;
    int saved = errno;
    free(p);
    errno = saved;
    return rc;
}

/* Goes on after a failure: remove what can be removed. */
static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(p);
    return 0;
}

void fx_rm_rf(const char *path)
{
    nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int fx_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int fx_read_file(const char *path, fx_buf_t *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = 0;
    for (;;) {
        fx_buf_reserve(out, 64 << 10);
        /* the last byte stays free for fx_buf_cstr's NUL */
        ssize_t n = read(fd, out->data + out->len, out->cap - out->len - 1);
        if (n > 0) {
            out->len += (size_t)n;
        } else if (n == 0) {
            break;
        } else if (errno != EINTR) {
            rc = -1;
            break;
        }
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}
