/*
 * objstore.c - the -storage.* option table and fx_objstore_open (see
 * objstore.h). Flag names and YAML keys follow Pyroscope's
 * (storage: {backend, filesystem: {dir}, s3: {endpoint, bucket_name, ...}}),
 * so a Pyroscope storage section carries over.
 */
#include "objstore/objstore.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objstore/fs.h"
#include "objstore/s3.h"

#define OFF(f) offsetof(fx_objstore_opts_t, f)

static const fx_opt_t storage_opts[] = {
    {"storage.backend", NULL, FX_OPT_STRING, OFF(backend), "filesystem",
     "Where blocks are stored: filesystem (a local directory; single node) or s3 (any "
     "S3-compatible object store).",
     0, 0, "filesystem|s3", 0},
    {"storage.filesystem.dir", NULL, FX_OPT_STRING, OFF(fs_dir), "",
     "Directory of the filesystem bucket; empty means the directory \"bucket\" under "
     "-data-dir.",
     0, 0, NULL, 0},
    {"storage.s3.endpoint", NULL, FX_OPT_STRING, OFF(s3_endpoint), "",
     "S3 endpoint as host[:port], without a scheme; empty means s3.{region}.amazonaws.com.",
     0, 0, NULL, 0},
    {"storage.s3.bucket-name", NULL, FX_OPT_STRING, OFF(s3_bucket), "",
     "S3 bucket name (must exist).", 0, 0, NULL, 0},
    {"storage.s3.access-key-id", NULL, FX_OPT_STRING, OFF(s3_access_key_id), "",
     "S3 access key ID; empty means the AWS_ACCESS_KEY_ID environment variable.", 0, 0, NULL,
     0},
    {"storage.s3.secret-access-key", NULL, FX_OPT_STRING, OFF(s3_secret_access_key), "",
     "S3 secret access key; empty means the AWS_SECRET_ACCESS_KEY environment variable. "
     "Never shown in the effective configuration.",
     0, 0, NULL, FX_OPT_SECRET},
    {"storage.s3.region", NULL, FX_OPT_STRING, OFF(s3_region), "us-east-1",
     "S3 region, part of every request signature.", 0, 0, NULL, 0},
    {"storage.s3.insecure", NULL, FX_OPT_BOOL, OFF(s3_insecure), "false",
     "Talk plain HTTP to the endpoint instead of HTTPS.", 0, 0, NULL, 0},
    {"storage.s3.force-path-style", NULL, FX_OPT_BOOL, OFF(s3_force_path_style), "false",
     "Address the bucket as endpoint/bucket/key instead of bucket.endpoint/key (needed for "
     "most self-hosted servers and for IP endpoints).",
     0, 0, NULL, 0},
    {"storage.s3.part-size", NULL, FX_OPT_SIZE, OFF(s3_part_size), "8MiB",
     "Objects larger than this are uploaded in parts of this size (multipart upload); also "
     "the memory one upload holds.",
     (int64_t)5 << 20, (int64_t)5 << 30, NULL, 0},
    {"storage.s3.max-retries", NULL, FX_OPT_INT, OFF(s3_max_retries), "5",
     "Retries of a request that failed on the network, timed out or got a 5xx/429, with "
     "exponential backoff (100ms doubling, at most 10s, with jitter).",
     0, 20, NULL, 0},
    {"storage.s3.connect-timeout", NULL, FX_OPT_DURATION, OFF(s3_connect_timeout_ns), "10s",
     "Time limit for connecting (and the TLS handshake).", 1000000, (int64_t)3600 * 1000000000,
     NULL, 0},
    {"storage.s3.request-timeout", NULL, FX_OPT_DURATION, OFF(s3_request_timeout_ns), "5m",
     "Time limit for one attempt of one request, transfer included; 0 means none. A transfer "
     "that moves no byte for 30s is cut off regardless.",
     0, (int64_t)24 * 3600 * 1000000000, NULL, 0},
};

static const fx_opt_table_t storage_table = {"storage", NULL, storage_opts,
                                             FX_ARRAY_LEN(storage_opts)};

void fx_objstore_register(fx_config_t *cfg, fx_objstore_opts_t *o)
{
    fx_config_add(cfg, &storage_table, o);
}

static const char *or_env(const char *v, const char *env)
{
    if (v && *v)
        return v;
    const char *e = getenv(env);
    return e ? e : "";
}

int fx_objstore_open(const fx_objstore_opts_t *o, const char *data_dir, fx_bucket_t **out,
                     fx_err_t *err)
{
    *out = NULL;
    if (strcmp(o->backend, "filesystem") == 0) {
        if (o->fs_dir && *o->fs_dir)
            return fx_bucket_fs_new(o->fs_dir, out, err);
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/bucket", data_dir && *data_dir ? data_dir : ".");
        return fx_bucket_fs_new(dir, out, err);
    }
    if (strcmp(o->backend, "s3") == 0) {
        fx_s3_config_t c = {
            .endpoint = o->s3_endpoint,
            .bucket = o->s3_bucket,
            .access_key_id = or_env(o->s3_access_key_id, "AWS_ACCESS_KEY_ID"),
            .secret_access_key = or_env(o->s3_secret_access_key, "AWS_SECRET_ACCESS_KEY"),
            /* Temporary credentials come only from the environment, with the
             * key pair they belong to. */
            .session_token = o->s3_access_key_id && *o->s3_access_key_id
                                 ? NULL
                                 : getenv("AWS_SESSION_TOKEN"),
            .region = o->s3_region,
            .insecure = o->s3_insecure,
            .force_path_style = o->s3_force_path_style,
            .part_size = o->s3_part_size,
            .max_retries = (int)o->s3_max_retries,
            .connect_timeout_ms = o->s3_connect_timeout_ns / 1000000,
            .request_timeout_ms = o->s3_request_timeout_ns / 1000000,
        };
        return fx_bucket_s3_new(&c, out, err);
    }
    return fx_err_set(err, FX_EINVAL, "-storage.backend=%s: expected filesystem or s3",
                      o->backend);
}
