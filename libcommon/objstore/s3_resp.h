/*
 * s3_resp.h - decoders for the S3 XML response bodies the S3 bucket reads:
 * ListObjectsV2 pages, Error documents, InitiateMultipartUpload and
 * CompleteMultipartUpload results. Strict: a missing required element or a
 * malformed number is an error, so a proxy's HTML page or a truncated body
 * is never mistaken for an empty listing. Everything is allocated from the
 * caller's arena.
 */
#ifndef FX_OBJSTORE_S3_RESP_H
#define FX_OBJSTORE_S3_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mem.h"
#include "objstore/bucket.h"

/* One page of ListObjectsV2: objects (Contents) and common prefixes
 * (CommonPrefixes) merged into one array in key order. */
typedef struct fx_s3_list_page {
    fx_obj_entry_t *v;
    size_t n;
    bool truncated;
    const char *next_token; /* NextContinuationToken; set when truncated */
} fx_s3_list_page_t;

/* FX_EINVAL (with what was wrong) if body is not a valid ListBucketResult. */
int fx_s3_parse_list(const char *body, size_t n, fx_arena_t *a, fx_s3_list_page_t *page,
                     fx_err_t *err);

/* An S3 <Error> document. Fields are NULL when absent. */
typedef struct fx_s3_error {
    const char *code;           /* "NoSuchKey", "SignatureDoesNotMatch", ... */
    const char *message;
    const char *string_to_sign; /* servers that echo it on SignatureDoesNotMatch */
    const char *request_id;
} fx_s3_error_t;

/* FX_OK if body is an <Error> document (e filled); FX_EINVAL otherwise. */
int fx_s3_parse_error(const char *body, size_t n, fx_arena_t *a, fx_s3_error_t *e,
                      fx_err_t *err);

/* The UploadId of an InitiateMultipartUploadResult. */
int fx_s3_parse_initiate(const char *body, size_t n, fx_arena_t *a, const char **upload_id,
                         fx_err_t *err);

/* CompleteMultipartUpload answers 200 and then either a result or, when the
 * server failed while assembling, an <Error>. Returns FX_OK for a result,
 * FX_EUNAVAIL with e filled for an Error document, FX_EINVAL otherwise. */
int fx_s3_parse_complete(const char *body, size_t n, fx_arena_t *a, fx_s3_error_t *e,
                         fx_err_t *err);

/* "2009-10-12T17:50:30.000Z" (fraction optional) to Unix ms; -1 if malformed
 * or before 1970. */
int64_t fx_s3_parse_time(const char *s);

#endif
