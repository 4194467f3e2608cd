/*
 * fs.h - the filesystem bucket: one local directory, a file per object
 * (key "a/b/c" is dir/a/b/c).
 *
 * Writes go to dir/@fornax-tmp/<random>, are fsynced, renamed into place
 * and the parent directory is fsynced, so a reader or a crash never sees a
 * partial object. Deleting an object also removes the directories it
 * leaves empty, so listing with a delimiter shows no empty "directories".
 * Temporary files older than an hour (crashed writers) are removed at open.
 *
 * Differences from S3 that follow from being a file tree: a key cannot be
 * both an object and the "directory" of another ("a" and "a/b"): the second
 * write fails with FX_EPRECOND. Several processes may share one directory
 * (e.g. ingester and compactor on one host).
 */
#ifndef FX_OBJSTORE_FS_H
#define FX_OBJSTORE_FS_H

#include "objstore/bucket.h"

/* Opens (and creates, with parents) the bucket directory dir. Returns
 * FX_EIO if it cannot be created or is not a writable directory. Release
 * with fx_bucket_close. */
int fx_bucket_fs_new(const char *dir, fx_bucket_t **out, fx_err_t *err);

#endif
