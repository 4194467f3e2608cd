/*
 * sigv4.h - AWS Signature Version 4 for the Authorization header, with
 * OpenSSL's SHA-256 and HMAC-SHA256.
 *
 * The caller lists exactly the headers it will send and wants signed (host
 * and x-amz-date at least; for S3 also x-amz-content-sha256) and the hex
 * SHA-256 of the body; the signer builds the canonical request (method, URI
 * encoded path, sorted encoded query, sorted lower-cased headers with
 * trimmed values, signed header list, payload hash), the string to sign
 * and the Authorization value. Paths are not normalised (S3 semantics: a
 * key is taken literally) and are encoded once.
 *
 * Tested against AWS's published vectors (tests/unit/test_objstore_sigv4.c).
 * All functions are pure and thread-safe.
 */
#ifndef FX_OBJSTORE_SIGV4_H
#define FX_OBJSTORE_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/buf.h"

#define FX_SHA256_HEX_LEN 64
/* The hex SHA-256 of zero bytes (bodiless GET/HEAD/DELETE). */
#define FX_SHA256_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* A name/value pair; both raw (not percent-encoded). value NULL = "". */
typedef struct fx_sigv4_kv {
    const char *name;
    const char *value;
} fx_sigv4_kv_t;

typedef struct fx_sigv4_req {
    const char *method;           /* "GET", "PUT", ... */
    const char *path;             /* raw absolute path ("/bucket/a b"); encoded here */
    const fx_sigv4_kv_t *query;   /* raw names/values in any order */
    size_t nquery;
    const fx_sigv4_kv_t *headers; /* headers to sign, any case and order; a repeated
                                   * name is one header with the values joined by ',' */
    size_t nheaders;
    const char *payload_hash;     /* hex SHA-256 of the body */
} fx_sigv4_req_t;

typedef struct fx_sigv4_creds {
    const char *access_key_id;
    const char *secret_access_key;
    const char *region;           /* "us-east-1" */
    const char *service;          /* "s3" */
} fx_sigv4_creds_t;

/* Appends the RFC 3986 encoding of s[0..n): every byte but A-Z a-z 0-9
 * - . _ ~ becomes %XX (upper-case hex); '/' is kept when keep_slash. */
void fx_sigv4_uri_encode(const char *s, size_t n, bool keep_slash, fx_buf_t *out);

/* Appends the canonical query string: pairs encoded, sorted by name then
 * value (byte order), joined with '&'; an empty value still gets '='. The
 * same text is a valid URL query, so callers send exactly what was signed. */
void fx_sigv4_canonical_query(const fx_sigv4_kv_t *q, size_t n, fx_buf_t *out);

/* Writes "YYYYMMDDTHHMMSSZ" for t (UTC) into out. */
void fx_sigv4_amz_date(time_t t, char out[17]);

/* Signs r at amz_date ("20150830T123600Z", which must equal the x-amz-date or
 * date header being signed) and appends the Authorization header value
 * ("AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...") to
 * auth. creq and sts, when not NULL, receive the canonical request and the
 * string to sign (for tests and for debugging a SignatureDoesNotMatch). */
void fx_sigv4_sign(const fx_sigv4_creds_t *c, const char *amz_date, const fx_sigv4_req_t *r,
                   fx_buf_t *auth, fx_buf_t *creq, fx_buf_t *sts);

/* Writes the lower-case hex SHA-256 of p[0..n) and a NUL into out. */
void fx_sha256_hex(const void *p, size_t n, char out[FX_SHA256_HEX_LEN + 1]);

#endif
