/*
 * s3.c - the S3 bucket operations (see s3.h): each is one or a few
 * s3_req_t sent by fx__s3_exec (s3_http.c), plus the multipart upload that
 * streams large objects in parts of part_size bytes.
 */
#include "objstore/s3_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "core/mem.h"
#include "log/log.h"
#include "objstore/s3_resp.h"
#include "objstore/xml.h"

#define XML_BODY_MAX ((size_t)64 << 20)

static s3_bucket_t *s3b(fx_bucket_t *b) { return (s3_bucket_t *)b; }

/* A response body that did not parse: the server (or a proxy in front of
 * it) is broken, which no retry cures. */
static int bad_answer(fx_err_t *err, const char *op, const s3_bucket_t *b, const char *key)
{
    fx_err_prefix(err, "%s s3://%s/%s: malformed answer", op, b->bucket, key);
    if (err)
        err->code = FX_EIO;
    return FX_EIO;
}

static int s3_put(fx_bucket_t *bb, const char *key, const void *data, size_t len, fx_err_t *err)
{
    s3_req_t r = {.op = "put", .method = "PUT", .key = key, .body = data, .body_len = len,
                  .content_type = "application/octet-stream"};
    return fx__s3_exec(s3b(bb), &r, err);
}

/* ---- multipart --------------------------------------------------------------- */

typedef struct part {
    char etag[160];
} part_t;

typedef struct upload {
    s3_bucket_t *b;
    const char *key;
    char *id;
    part_t *parts;
    size_t n, cap;
    int64_t total;
} upload_t;

static int initiate(upload_t *u, fx_err_t *err)
{
    fx_buf_t body = FX_BUF_INIT;
    fx_arena_t a;
    const char *id;
    s3_req_t r = {.op = "initiate multipart upload", .method = "POST", .key = u->key,
                  .query = {{"uploads", ""}}, .nquery = 1,
                  .content_type = "application/octet-stream", .out = &body,
                  .max_body = XML_BODY_MAX};
    int rc = fx__s3_exec(u->b, &r, err);
    fx_arena_init(&a);
    if (rc == FX_OK && fx_s3_parse_initiate((char *)body.data, body.len, &a, &id, err) != FX_OK)
        rc = bad_answer(err, "initiate multipart upload of", u->b, u->key);
    if (rc == FX_OK)
        u->id = fx_strdup(id);
    fx_arena_free(&a);
    fx_buf_free(&body);
    return rc;
}

static int upload_part(upload_t *u, const uint8_t *data, size_t len, fx_err_t *err)
{
    char num[16];
    snprintf(num, sizeof num, "%zu", u->n + 1);
    s3_req_t r = {.op = "upload part", .method = "PUT", .key = u->key,
                  .query = {{"partNumber", num}, {"uploadId", u->id}}, .nquery = 2,
                  .body = data, .body_len = len};
    int rc = fx__s3_exec(u->b, &r, err);
    if (rc)
        return rc;
    if (!r.etag[0])
        return fx_err_set(err, FX_EIO, "upload part %s of s3://%s/%s: the server sent no ETag",
                          num, u->b->bucket, u->key);
    FX_GROW(u->parts, u->cap, u->n + 1);
    snprintf(u->parts[u->n].etag, sizeof u->parts[u->n].etag, "%s", r.etag);
    u->n++;
    u->total += (int64_t)len;
    return FX_OK;
}

static void abort_upload(upload_t *u)
{
    fx_err_t e;
    s3_req_t r = {.op = "abort multipart upload", .method = "DELETE", .key = u->key,
                  .query = {{"uploadId", u->id}}, .nquery = 1};
    if (fx__s3_exec(u->b, &r, &e) != FX_OK && e.code != FX_ENOTFOUND)
        fx_log_warn("could not abort a multipart upload; the bucket's lifecycle rules must "
                    "clean it up", "object=%s upload_id=%s error=%s", fx_q(u->key), fx_q(u->id),
                    fx_q(e.msg));
}

static int complete(upload_t *u, fx_err_t *err)
{
    fx_buf_t xml = FX_BUF_INIT, resp = FX_BUF_INIT;
    int rc = FX_OK;
    fx_buf_puts(&xml, "<CompleteMultipartUpload>");
    for (size_t i = 0; i < u->n; i++) {
        fx_buf_printf(&xml, "<Part><PartNumber>%zu</PartNumber><ETag>", i + 1);
        fx_xml_escape(u->parts[i].etag, &xml);
        fx_buf_puts(&xml, "</ETag></Part>");
    }
    fx_buf_puts(&xml, "</CompleteMultipartUpload>");

    bool resent = false;
    for (int att = 1;; att++) {
        s3_req_t r = {.op = "complete multipart upload", .method = "POST", .key = u->key,
                      .query = {{"uploadId", u->id}}, .nquery = 1, .body = xml.data,
                      .body_len = xml.len, .content_type = "application/xml", .out = &resp,
                      .max_body = XML_BODY_MAX};
        resp.len = 0;
        rc = fx__s3_exec(u->b, &r, err);
        resent |= r.attempts > 1;
        if (rc == FX_ENOTFOUND && resent) {
            /* An earlier attempt completed the upload but its answer was lost:
             * the object is there if it has the size we sent. */
            fx_obj_attrs_t at;
            fx_err_t e2;
            if (u->b->base.ops->head(&u->b->base, u->key, &at, &e2) == FX_OK &&
                at.size == u->total)
                rc = FX_OK;
            break;
        }
        if (rc)
            break;
        /* A 200 may still carry an <Error> if assembling the parts failed. */
        fx_arena_t a;
        fx_s3_error_t se;
        bool retry = false;
        fx_arena_init(&a);
        rc = fx_s3_parse_complete((char *)resp.data, resp.len, &a, &se, err);
        if (rc == FX_EUNAVAIL) {
            bool transient = strcmp(se.code, "InternalError") == 0 ||
                             strcmp(se.code, "SlowDown") == 0 ||
                             strcmp(se.code, "ServiceUnavailable") == 0;
            fx_err_prefix(err, "complete multipart upload of s3://%s/%s", u->b->bucket, u->key);
            if (!transient && err)
                err->code = FX_EIO;
            if (!transient)
                rc = FX_EIO;
            retry = transient && att <= u->b->max_retries;
        } else if (rc) {
            rc = bad_answer(err, "complete multipart upload of", u->b, u->key);
        }
        fx_arena_free(&a);
        if (!retry)
            break;
        resent = true;
        int64_t ms = fx__s3_backoff_ms(att, u->b->backoff_min_ms, u->b->backoff_max_ms, 0.5);
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    fx_buf_free(&xml);
    fx_buf_free(&resp);
    return rc;
}

/* Reads until buf is full or the source ends; returns the bytes read. */
static int64_t fill(fx_bucket_read_fn read, void *ctx, uint8_t *buf, size_t cap, fx_err_t *err)
{
    size_t n = 0;
    while (n < cap) {
        int64_t r = read(ctx, buf + n, cap - n, err);
        if (r < 0)
            return r;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    return (int64_t)n;
}

static int s3_put_reader(fx_bucket_t *bb, const char *key, fx_bucket_read_fn read, void *ctx,
                         fx_err_t *err)
{
    s3_bucket_t *b = s3b(bb);
    size_t ps = (size_t)b->part_size;
    uint8_t *buf = fx_malloc(ps);
    upload_t u = {.b = b, .key = key};
    int rc;

    int64_t n = fill(read, ctx, buf, ps, err);
    if (n < 0) {
        rc = fx_err_prefix(err, "put s3://%s/%s", b->bucket, key);
        goto out;
    }
    if ((size_t)n < ps) { /* fits in one part: one PUT */
        rc = s3_put(bb, key, buf, (size_t)n, err);
        goto out;
    }
    if ((rc = initiate(&u, err)) != FX_OK)
        goto out;
    for (;;) {
        if ((rc = upload_part(&u, buf, (size_t)n, err)) != FX_OK)
            break;
        n = fill(read, ctx, buf, ps, err);
        if (n < 0) {
            rc = fx_err_prefix(err, "put s3://%s/%s", b->bucket, key);
            break;
        }
        if (n == 0)
            break;
        if (u.n == FX_S3_MAX_PARTS) {
            rc = fx_err_set(err, FX_ETOOBIG, "put s3://%s/%s: the object needs more than %d "
                            "parts of %lld bytes; raise -storage.s3.part-size", b->bucket, key,
                            FX_S3_MAX_PARTS, (long long)b->part_size);
            break;
        }
    }
    if (rc == FX_OK)
        rc = complete(&u, err);
    if (rc != FX_OK)
        abort_upload(&u);
out:
    free(buf);
    free(u.parts);
    free(u.id);
    return rc;
}

/* ---- reads ------------------------------------------------------------------- */

static int s3_get_range(fx_bucket_t *bb, const char *key, int64_t off, int64_t len,
                        fx_buf_t *out, fx_err_t *err)
{
    s3_req_t r = {.op = "get", .method = "GET", .key = key, .out = out};
    if (!(off == 0 && len < 0)) {
        r.range_off = off;
        r.range_len = len;
    }
    return fx__s3_exec(s3b(bb), &r, err);
}

static int s3_head(fx_bucket_t *bb, const char *key, fx_obj_attrs_t *a, fx_err_t *err)
{
    s3_bucket_t *b = s3b(bb);
    s3_req_t r = {.op = "head", .method = "HEAD", .key = key};
    int rc = fx__s3_exec(b, &r, err);
    if (rc)
        return rc;
    if (r.content_length < 0)
        return fx_err_set(err, FX_EIO, "head s3://%s/%s: the server sent no Content-Length",
                          b->bucket, key);
    a->size = r.content_length;
    a->mtime_ms = r.last_modified_ms;
    return FX_OK;
}

static int s3_del(fx_bucket_t *bb, const char *key, fx_err_t *err)
{
    s3_req_t r = {.op = "delete", .method = "DELETE", .key = key};
    int rc = fx__s3_exec(s3b(bb), &r, err);
    return rc == FX_ENOTFOUND ? FX_OK : rc;
}

static int s3_list(fx_bucket_t *bb, const char *prefix, const char *delim, fx_bucket_list_fn fn,
                   void *ctx, fx_err_t *err)
{
    s3_bucket_t *b = s3b(bb);
    fx_buf_t body = FX_BUF_INIT;
    char *token = NULL;
    int rc = FX_OK;

    for (;;) {
        s3_req_t r = {.op = "list", .method = "GET", .out = &body, .max_body = XML_BODY_MAX};
        r.query[r.nquery++] = (fx_sigv4_kv_t){"list-type", "2"};
        if (*prefix)
            r.query[r.nquery++] = (fx_sigv4_kv_t){"prefix", prefix};
        if (delim)
            r.query[r.nquery++] = (fx_sigv4_kv_t){"delimiter", delim};
        if (token)
            r.query[r.nquery++] = (fx_sigv4_kv_t){"continuation-token", token};
        if (b->list_max_keys[0])
            r.query[r.nquery++] = (fx_sigv4_kv_t){"max-keys", b->list_max_keys};
        body.len = 0;
        if ((rc = fx__s3_exec(b, &r, err)) != FX_OK)
            break;

        fx_arena_t a;
        fx_s3_list_page_t pg;
        fx_arena_init(&a);
        rc = fx_s3_parse_list((char *)body.data, body.len, &a, &pg, err);
        if (rc)
            rc = bad_answer(err, "list", b, prefix);
        for (size_t i = 0; rc == FX_OK && i < pg.n; i++)
            rc = fn(&pg.v[i], ctx);
        if (rc == FX_OK && pg.truncated) {
            if (token && strcmp(token, pg.next_token) == 0)
                rc = fx_err_set(err, FX_EIO, "list s3://%s/%s: the server repeated its "
                                "continuation token", b->bucket, prefix);
            free(token);
            token = fx_strdup(pg.next_token);
        }
        bool more = rc == FX_OK && pg.truncated;
        fx_arena_free(&a);
        if (!more)
            break;
    }
    free(token);
    fx_buf_free(&body);
    return rc;
}

int fx_bucket_s3_create_bucket(fx_bucket_t *bb, fx_err_t *err)
{
    s3_bucket_t *b = s3b(bb);
    fx_buf_t xml = FX_BUF_INIT;
    if (strcmp(b->region, "us-east-1") != 0)
        fx_buf_printf(&xml, "<CreateBucketConfiguration><LocationConstraint>%s"
                      "</LocationConstraint></CreateBucketConfiguration>", b->region);
    s3_req_t r = {.op = "create bucket", .method = "PUT", .body = xml.data, .body_len = xml.len};
    int rc = fx__s3_exec(b, &r, err);
    if (rc && strcmp(r.s3_code, "BucketAlreadyOwnedByYou") == 0)
        rc = FX_OK;
    if (rc && strcmp(r.s3_code, "BucketAlreadyExists") == 0) {
        /* Some servers say this to the owner too: ours if we may use it. */
        s3_req_t h = {.op = "head bucket", .method = "HEAD"};
        fx_err_t e2;
        if (fx__s3_exec(b, &h, &e2) == FX_OK)
            rc = FX_OK;
    }
    fx_buf_free(&xml);
    return rc;
}

/* ---- life cycle ----------------------------------------------------------------- */

static void s3_close(fx_bucket_t *bb)
{
    s3_bucket_t *b = s3b(bb);
    fx__s3_pool_free(b);
    pthread_mutex_destroy(&b->mu);
    if (b->secret)
        OPENSSL_cleanse(b->secret, strlen(b->secret));
    free(b->host);
    free(b->path_base);
    free(b->bucket);
    free(b->akid);
    free(b->secret);
    free(b->token);
    free(b->region);
    free(b->base.where);
    free(b);
}

static const fx_bucket_ops_t s3_ops = {
    s3_put, s3_put_reader, s3_get_range, s3_head, s3_list, s3_del, s3_close,
};

static bool bucket_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '-' || *s == '_'))
            return false;
    return true;
}

int fx_bucket_s3_new(const fx_s3_config_t *c, fx_bucket_t **out, fx_err_t *err)
{
    *out = NULL;
    const char *region = c->region && *c->region ? c->region : "us-east-1";
    char endpoint[300];
    if (c->endpoint && *c->endpoint)
        snprintf(endpoint, sizeof endpoint, "%s", c->endpoint);
    else
        snprintf(endpoint, sizeof endpoint, "s3.%s.amazonaws.com", region);

    if (!c->bucket || !*c->bucket)
        return fx_err_set(err, FX_EINVAL, "s3 bucket: -storage.s3.bucket-name is required");
    if (!bucket_name_ok(c->bucket))
        return fx_err_set(err, FX_EINVAL, "s3 bucket: bucket name \"%.100s\" may hold only "
                          "letters, digits, '.', '-' and '_'", c->bucket);
    if (strstr(endpoint, "://"))
        return fx_err_set(err, FX_EINVAL, "s3 bucket: -storage.s3.endpoint \"%.100s\" must be "
                          "host[:port] without a scheme (-storage.s3.insecure=true selects "
                          "http)", endpoint);
    for (const char *p = endpoint; *p; p++)
        if (*p == '/' || *p == '?' || *p == '#' || *p == '@' || (unsigned char)*p <= ' ')
            return fx_err_set(err, FX_EINVAL, "s3 bucket: -storage.s3.endpoint \"%.100s\" must "
                              "be host[:port], without path or credentials", endpoint);
    if (!c->access_key_id || !*c->access_key_id || !c->secret_access_key ||
        !*c->secret_access_key)
        return fx_err_set(err, FX_EINVAL, "s3 bucket: credentials are required: set "
                          "-storage.s3.access-key-id and -storage.s3.secret-access-key (or the "
                          "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY environment variables)");
    int64_t ps = c->part_size ? c->part_size : (int64_t)8 << 20;
    if (ps < FX_S3_MIN_PART_SIZE || ps > ((int64_t)5 << 30))
        return fx_err_set(err, FX_EINVAL, "s3 bucket: part size %lld is outside S3's limits "
                          "(5MiB..5GiB)", (long long)ps);
    if (!c->force_path_style && strchr(c->bucket, '.') && !c->insecure)
        fx_log_warn("an S3 bucket name with dots does not match the endpoint's TLS "
                    "certificate in virtual-hosted style; consider -storage.s3.force-path-style",
                    "bucket=%s", fx_q(c->bucket));

    s3_bucket_t *b = fx_calloc(1, sizeof *b);
    b->base.ops = &s3_ops;
    b->base.backend = "s3";
    b->https = !c->insecure;
    b->bucket = fx_strdup(c->bucket);
    fx_buf_t h = FX_BUF_INIT, w = FX_BUF_INIT;
    if (c->force_path_style) {
        fx_buf_puts(&h, endpoint);
        fx_buf_t pb = FX_BUF_INIT;
        fx_buf_printf(&pb, "/%s", c->bucket);
        b->path_base = fx_buf_cstr(&pb);
    } else {
        fx_buf_printf(&h, "%s.%s", c->bucket, endpoint);
        b->path_base = fx_strdup("");
    }
    b->host = fx_buf_cstr(&h);
    b->akid = fx_strdup(c->access_key_id);
    b->secret = fx_strdup(c->secret_access_key);
    b->token = c->session_token && *c->session_token ? fx_strdup(c->session_token) : NULL;
    b->region = fx_strdup(region);
    b->part_size = ps;
    b->max_retries = c->max_retries < 0 ? 5 : c->max_retries;
    b->connect_timeout_ms = c->connect_timeout_ms > 0 ? c->connect_timeout_ms : 10000;
    b->request_timeout_ms = c->request_timeout_ms > 0 ? c->request_timeout_ms : 0;
    b->backoff_min_ms = c->backoff_min_ms > 0 ? c->backoff_min_ms : 100;
    b->backoff_max_ms = c->backoff_max_ms > 0 ? c->backoff_max_ms : 10000;
    if (b->backoff_max_ms < b->backoff_min_ms)
        b->backoff_max_ms = b->backoff_min_ms;
    if (c->list_max_keys > 0)
        snprintf(b->list_max_keys, sizeof b->list_max_keys, "%d", c->list_max_keys);
    pthread_mutex_init(&b->mu, NULL);
    fx_buf_printf(&w, "s3 %s://%s%s", b->https ? "https" : "http", b->host, b->path_base);
    b->base.where = fx_buf_cstr(&w);
    *out = &b->base;
    return FX_OK;
}
