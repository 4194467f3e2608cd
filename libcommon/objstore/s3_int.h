/*
 * s3_int.h - what the two halves of the S3 bucket share: s3.c (the bucket
 * operations) builds s3_req_t values and s3_http.c executes them (sign,
 * send with a pooled curl handle, retry, turn failures into FX_E* codes).
 */
#ifndef FX_OBJSTORE_S3_INT_H
#define FX_OBJSTORE_S3_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "objstore/s3.h"
#include "objstore/sigv4.h"

typedef struct s3_bucket {
    fx_bucket_t base;
    bool https;
    char *host;      /* Host header: endpoint or bucket.endpoint */
    char *path_base; /* "/bucket" (path style) or "" (virtual-hosted) */
    char *bucket;
    char *akid, *secret, *token, *region;
    int64_t part_size;
    int max_retries;
    int64_t connect_timeout_ms, request_timeout_ms, backoff_min_ms, backoff_max_ms;
    char list_max_keys[16]; /* "" = the server's default */

    pthread_mutex_t mu; /* guards idle */
    void **idle;        /* CURL * handles with their open connections */
    size_t nidle, cidle;
} s3_bucket_t;

#define S3_MAX_QUERY 6

/* One logical request; fx__s3_exec may send it several times. */
typedef struct s3_req {
    const char *op;     /* "get", "put", "list", ... for messages and logs */
    const char *method; /* "GET", "PUT", "POST", "DELETE", "HEAD" */
    const char *key;    /* NULL: a bucket-level request */
    fx_sigv4_kv_t query[S3_MAX_QUERY];
    size_t nquery;
    int64_t range_off, range_len; /* range_len 0: no Range header; -1: to the end */
    const uint8_t *body;          /* request body (PUT, POST) */
    size_t body_len;
    const char *content_type;
    fx_buf_t *out;                /* a 2xx body is appended here; NULL discards it */
    size_t max_body;              /* 0: unlimited; else a larger 2xx body fails */

    /* Filled by fx__s3_exec. */
    long status;
    char etag[160];
    int64_t content_length; /* -1 if the server sent none */
    int64_t last_modified_ms;
    char s3_code[64];       /* error code of the last failed attempt, if any */
    int attempts;           /* how many times it was sent */
} s3_req_t;

/* Sends r, retrying what is transient. FX_OK on a 2xx status; otherwise a
 * FX_E* code with err saying which op on which key failed and why. */
int fx__s3_exec(s3_bucket_t *b, s3_req_t *r, fx_err_t *err);


void fx__s3_pool_free(s3_bucket_t *b);

#endif
