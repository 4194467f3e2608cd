/*
 * bucket.h - the object-storage interface blocks live in (design.md §4):
 * ingesters upload blocks, store-gateways read them, the compactor merges
 * and deletes them.
 *
 * A bucket maps keys ("tenant/01HXYZ.../index") to immutable byte strings.
 * Backends (objstore/objstore.h opens one from the -storage.* flags):
 *   filesystem  a local directory (objstore/fs.h), the single-node default;
 *   s3          any S3-compatible service (objstore/s3.h), SigV4-signed.
 *
 * Contract, the same for every backend:
 * - Writes are atomic for readers: an object is either absent or complete
 *   (filesystem: temp file + fsync + rename; S3: one PUT, or a completed
 *   multipart upload). Writing an existing key replaces it atomically, but
 *   objects are meant to be written once: give every block a fresh id and
 *   write its meta.json last, so a reader that sees meta.json sees it all.
 * - Keys: 1..1024 bytes of UTF-8, '/'-separated segments, no empty segment
 *   (no leading, trailing or double '/'), no "." or ".." segment, no control
 *   bytes, and not under the reserved "@fornax-tmp/" (fx_bucket_check_key).
 * - Listing is in byte order of the key (as S3), with an optional delimiter
 *   that folds everything after it into one "common prefix" entry (S3's
 *   directories). Listing is not a snapshot: objects written or deleted
 *   meanwhile may or may not appear.
 * - Deleting a missing object succeeds (S3 cannot tell them apart).
 * - Errors: FX_ENOTFOUND (no such object), FX_EINVAL (bad key or range),
 *   FX_EPERM (credentials refused; the message carries the server's),
 *   FX_EUNAVAIL (network or server trouble that retries did not cure),
 *   FX_EIO (local I/O failure, or a malformed server response),
 *   FX_EPRECOND (the bucket is missing or a key collides with a directory).
 *   err always says which operation on which key failed.
 * - Thread-safety: one fx_bucket_t serves any number of threads at once.
 *   fx_bucket_close must not race with other calls.
 *
 * Ownership: results go into caller-owned fx_buf_t (appended, so a buffer
 * can be reused by setting len = 0); entries passed to a list callback are
 * valid only during the call.
 */
#ifndef FX_OBJSTORE_BUCKET_H
#define FX_OBJSTORE_BUCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/core.h"

#define FX_BUCKET_KEY_MAX 1024
/* Keys under this top-level name are refused: the filesystem backend keeps
 * its temporary files there. '@' cannot occur in a tenant ID, so no
 * tenant's directory can collide with it. */
#define FX_BUCKET_TMP_DIR "@fornax-tmp"

typedef struct fx_bucket fx_bucket_t;

/* What head returns. */
typedef struct fx_obj_attrs {
    int64_t size;     /* bytes */
    int64_t mtime_ms; /* last modified, Unix ms (0 if the backend does not say) */
} fx_obj_attrs_t;

/* One list result: an object, or a common prefix when listing with a
 * delimiter (key then ends with the delimiter, size is -1). */
typedef struct fx_obj_entry {
    const char *key;
    int64_t size;
    int64_t mtime_ms;
    bool is_prefix;
} fx_obj_entry_t;

/* List callback: return FX_OK to go on, FX_BUCKET_STOP to end the listing
 * early (list then returns FX_OK), or a negative FX_E* code, which list
 * returns as is (fill err from the callback's own context). */
#define FX_BUCKET_STOP 1
typedef int (*fx_bucket_list_fn)(const fx_obj_entry_t *e, void *ctx);

/* Source of a streamed upload: copy up to cap bytes into buf and return how
 * many (0 = end of data), or a negative FX_E* code with err set. Short reads
 * are fine; it is called until it returns 0. */
typedef int64_t (*fx_bucket_read_fn)(void *ctx, uint8_t *buf, size_t cap, fx_err_t *err);

/* The backend vtable. Keys and ranges reach it already validated by the
 * fx_bucket_* wrappers below; call those, not the ops. */
typedef struct fx_bucket_ops {
    int (*put)(fx_bucket_t *b, const char *key, const void *data, size_t len, fx_err_t *err);
    int (*put_reader)(fx_bucket_t *b, const char *key, fx_bucket_read_fn read, void *ctx,
                      fx_err_t *err);
    /* len -1 = to the end; off 0 and len -1 = the whole object. */
    int (*get_range)(fx_bucket_t *b, const char *key, int64_t off, int64_t len, fx_buf_t *out,
                     fx_err_t *err);
    int (*head)(fx_bucket_t *b, const char *key, fx_obj_attrs_t *attrs, fx_err_t *err);
    int (*list)(fx_bucket_t *b, const char *prefix, const char *delim, fx_bucket_list_fn fn,
                void *ctx, fx_err_t *err);
    int (*del)(fx_bucket_t *b, const char *key, fx_err_t *err);
    void (*close)(fx_bucket_t *b);
} fx_bucket_ops_t;

struct fx_bucket {
    const fx_bucket_ops_t *ops;
    const char *backend; /* "filesystem", "s3" */
    char *where;         /* "dir /var/fornax/bucket", "s3 http://host/bucket": for logs */
};

/* ---- objects ----------------------------------------------------------- */

/* Writes data[0..len) as key (the whole object in one request; for large
 * objects prefer put_reader/put_file, which S3 uploads in parts). */
int fx_bucket_put(fx_bucket_t *b, const char *key, const void *data, size_t len, fx_err_t *err);
/* Writes the bytes read until read returns 0. S3: objects up to one part
 * (-storage.s3.part-size) go in one PUT, larger ones as a multipart upload
 * (aborted on any failure); memory use is one part. A read error aborts the
 * upload and nothing is written. */
int fx_bucket_put_reader(fx_bucket_t *b, const char *key, fx_bucket_read_fn read, void *ctx,
                         fx_err_t *err);
/* Uploads the local file at path as key (streamed, as put_reader). */
int fx_bucket_put_file(fx_bucket_t *b, const char *key, const char *path, fx_err_t *err);

/* Appends the whole object to out. */
int fx_bucket_get(fx_bucket_t *b, const char *key, fx_buf_t *out, fx_err_t *err);
/* Appends bytes [off, off+len) of the object to out, fewer if the object
 * ends first; len -1 reads to the end. off >= 0 and len > 0 (or -1); an
 * offset at or past the end of the object is FX_EINVAL. */
int fx_bucket_get_range(fx_bucket_t *b, const char *key, int64_t off, int64_t len, fx_buf_t *out,
                        fx_err_t *err);
/* Downloads key into the local file path (created or replaced atomically:
 * temp file beside it, fsync, rename), in ranged reads of 8 MiB so memory
 * stays bounded whatever the object size. */
int fx_bucket_get_file(fx_bucket_t *b, const char *key, const char *path, fx_err_t *err);

/* Size and modification time; FX_ENOTFOUND if absent. attrs may be NULL. */
int fx_bucket_head(fx_bucket_t *b, const char *key, fx_obj_attrs_t *attrs, fx_err_t *err);
/* *exists = whether key is there; FX_OK unless the question could not be
 * answered. */
int fx_bucket_exists(fx_bucket_t *b, const char *key, bool *exists, fx_err_t *err);
/* Deletes key; FX_OK if it was already absent. */
int fx_bucket_delete(fx_bucket_t *b, const char *key, fx_err_t *err);

/* ---- listing ----------------------------------------------------------- */

/* Calls fn for every object whose key starts with prefix ("" = all), in key
 * order. With a non-empty delim, keys that contain delim after the prefix
 * are folded into one common-prefix entry each (prefix + text up to and
 * including the delimiter), reported in order among the objects. */
int fx_bucket_list(fx_bucket_t *b, const char *prefix, const char *delim, fx_bucket_list_fn fn,
                   void *ctx, fx_err_t *err);
/* Directory-style iteration: dir is "" (the top) or a key prefix, with or
 * without a trailing '/'. recursive = false lists the direct children:
 * objects and "sub/dir/" prefixes; true lists every object below. */
int fx_bucket_iter(fx_bucket_t *b, const char *dir, bool recursive, fx_bucket_list_fn fn,
                   void *ctx, fx_err_t *err);

/* A whole listing in memory (for callers that want an array). */
typedef struct fx_obj_list {
    fx_obj_entry_t *v; /* keys are owned by the list */
    size_t n, cap;
} fx_obj_list_t;
/* Appends every entry of fx_bucket_list(prefix, delim) to out. */
int fx_bucket_list_all(fx_bucket_t *b, const char *prefix, const char *delim, fx_obj_list_t *out,
                       fx_err_t *err);
void fx_obj_list_free(fx_obj_list_t *l);

/* ---- misc ---------------------------------------------------------------- */

/* Releases the bucket; NULL is fine. */
void fx_bucket_close(fx_bucket_t *b);

/* FX_OK if key is a valid key (rules above); else FX_EINVAL saying why. */
int fx_bucket_check_key(const char *key, fx_err_t *err);
/* A list prefix: "" or the start of a valid key (it may end in '/'). */
int fx_bucket_check_prefix(const char *prefix, fx_err_t *err);

#endif
