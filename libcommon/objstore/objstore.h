/*
 * objstore.h - the -storage.* options (named as in Pyroscope) and opening
 * the bucket they describe. This is the header a service includes; the
 * bucket API itself is objstore/bucket.h.
 *
 * Wiring, once per process (every module that uses the bucket shares one;
 * registering the table twice asserts):
 *
 *   fx_objstore_opts_t so;                      // lives as long as cfg
 *   fx_objstore_register(cfg, &so);             // before fx_config_load
 *   ... fx_config_load(...) ...
 *   fx_bucket_t *bkt;
 *   if (fx_objstore_open(&so, proc->data_dir, &bkt, &err) != FX_OK) ...
 *   ... fx_bucket_close(bkt);
 *
 * -storage.filesystem.dir defaults to "" which fx_objstore_open resolves to
 * <data_dir>/bucket, so the default follows -data-dir (the process option
 * of config/process.h) whatever order the flags come in.
 */
#ifndef FX_OBJSTORE_OBJSTORE_H
#define FX_OBJSTORE_OBJSTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "objstore/bucket.h"

typedef struct fx_objstore_opts {
    char *backend;              /* filesystem | s3 */
    char *fs_dir;               /* "" = <data-dir>/bucket */
    char *s3_endpoint;          /* host[:port]; "" = s3.<region>.amazonaws.com */
    char *s3_bucket;
    char *s3_access_key_id;     /* "" = $AWS_ACCESS_KEY_ID */
    char *s3_secret_access_key; /* "" = $AWS_SECRET_ACCESS_KEY */
    char *s3_region;
    bool s3_insecure;
    bool s3_force_path_style;
    int64_t s3_part_size;
    int64_t s3_max_retries;
    int64_t s3_connect_timeout_ns;
    int64_t s3_request_timeout_ns;
} fx_objstore_opts_t;

/* Registers the storage table with values in *o (which must outlive cfg;
 * its strings are owned by cfg). */
void fx_objstore_register(fx_config_t *cfg, fx_objstore_opts_t *o);

/* Opens the configured bucket. data_dir resolves the default filesystem
 * directory. FX_EINVAL names the flag that is wrong. Release the bucket with
 * fx_bucket_close. */
int fx_objstore_open(const fx_objstore_opts_t *o, const char *data_dir, fx_bucket_t **out,
                     fx_err_t *err);

#endif
