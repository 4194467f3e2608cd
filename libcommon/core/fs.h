/*
 * fs.h - the few file-system chores every store repeats: create a directory
 * with its parents, remove a tree, write a whole buffer to a descriptor,
 * read a whole file.
 * Failures return -1 with errno set, for the caller's message.
 */
#ifndef FX_FS_H
#define FX_FS_H

#include <stddef.h>

#include "core/buf.h"

/* mkdir -p: creates path and its missing parents (mode 0755); an existing
 * directory is fine. 0, or -1 with errno at the first failure. */
int fx_mkdir_p(const char *path);
/* rm -rf: removes path and everything below it (symlinks are removed, not
 * followed); a missing path is fine. Best effort: what cannot be removed
 * is skipped. */
void fx_rm_rf(const char *path);
/* Writes all n bytes of p to fd, retrying short writes and EINTR. 0, or -1
 * (errno set when write set it). */
int fx_write_all(int fd, const void *p, size_t n);
/* Appends the whole content of the file at path to out (which the caller
 * owns). 0, or -1 with errno set (out may then hold a partial read). */
int fx_read_file(const char *path, fx_buf_t *out);

#endif
