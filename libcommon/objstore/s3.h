/*
 * s3.h - the S3 bucket: any S3-compatible service over HTTP(S) with libcurl,
 * requests signed with AWS Signature Version 4 (objstore/sigv4.h).
 *
 * Requests: PUT/GET/HEAD/DELETE object, GET with Range (206), ListObjectsV2
 * with continuation tokens, and multipart uploads (initiate, upload part,
 * complete, abort on failure) for objects larger than one part. Payloads
 * are always signed with their SHA-256 (never UNSIGNED-PAYLOAD): parts are
 * in memory anyway, and a signed hash lets the server reject a corrupted
 * body. Bucket-level requests carry no trailing slash ("/bucket?list-type=2"),
 * which every server accepts and some (s3rver) require.
 *
 * Retries: network errors, timeouts, HTTP 5xx, 429 and S3's 400
 * RequestTimeout are retried up to max_retries times with exponential
 * backoff and jitter (each attempt re-signed); other 4xx are final.
 *
 * Connections: a pool of libcurl easy handles; a thread borrows an idle one
 * for each request and returns it, so keep-alive connections (and TLS
 * sessions) are reused across requests and threads without locking around
 * the transfer itself.
 */
#ifndef FX_OBJSTORE_S3_H
#define FX_OBJSTORE_S3_H

#include <stdbool.h>
#include <stdint.h>

#include "objstore/bucket.h"

#define FX_S3_MIN_PART_SIZE ((int64_t)5 << 20) /* S3's minimum for all parts but the last */
#define FX_S3_MAX_PARTS 10000

typedef struct fx_s3_config {
    const char *endpoint;          /* "host[:port]", no scheme; "" = s3.<region>.amazonaws.com */
    const char *bucket;            /* required */
    const char *access_key_id;     /* required */
    const char *secret_access_key; /* required */
    const char *session_token;     /* temporary credentials; NULL or "" = none */
    const char *region;            /* "" = us-east-1 */
    bool insecure;                 /* http:// instead of https:// */
    bool force_path_style;         /* host/bucket/key instead of bucket.host/key */
    int64_t part_size;             /* multipart part size, bytes; 0 = 8 MiB */
    int max_retries;               /* retries after the first attempt; < 0 = 5 */
    int64_t connect_timeout_ms;    /* 0 = 10 s */
    int64_t request_timeout_ms;    /* one attempt, whole transfer; 0 = none */
    int64_t backoff_min_ms;        /* first retry delay; 0 = 100 ms */
    int64_t backoff_max_ms;        /* cap of the delay; 0 = 10 s */
    int list_max_keys;             /* keys per ListObjectsV2 page; 0 = the server's (1000) */
} fx_s3_config_t;

/* Validates c and creates the bucket; the strings are copied. Does no I/O:
 * the server need not be reachable yet. FX_EINVAL names the bad setting. */
int fx_bucket_s3_new(const fx_s3_config_t *c, fx_bucket_t **out, fx_err_t *err);

/* Creates the bucket itself (PUT /bucket). For tests and first-time setup;
 * FX_OK if it already exists and is ours. */
int fx_bucket_s3_create_bucket(fx_bucket_t *b, fx_err_t *err);

/* ---- internals exposed for unit tests ------------------------------------ */

/* Whether an attempt that ended with curl code curl_rc (0 = a response
 * came), HTTP status and S3 error code (may be NULL) should be retried. */
bool fx__s3_retryable(int curl_rc, long status, const char *s3_code);
/* The delay before retry number attempt (1-based): equal jitter over an
 * exponential ramp, min_ms * 2^(attempt-1) capped at max_ms; r in [0,1). */
int64_t fx__s3_backoff_ms(int attempt, int64_t min_ms, int64_t max_ms, double r);

#endif
