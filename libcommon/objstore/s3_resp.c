/*
 * s3_resp.c - S3 response bodies to structs (see s3_resp.h), on the strict
 * parser of xml.c.
 */
#include "objstore/s3_resp.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "objstore/xml.h"

static int parse_root(const char *body, size_t n, fx_arena_t *a, const char *want,
                      fx_xml_node_t **root, fx_err_t *err)
{
    int rc = fx_xml_parse(body, n, a, root, err);
    if (rc)
        return rc;
    if (strcmp((*root)->name, want) != 0)
        return fx_err_set(err, FX_EINVAL, "expected a <%s> document, got <%.64s>", want,
                          (*root)->name);
    return FX_OK;
}

/* A non-negative decimal without sign or spaces, up to 2^62. */
static int parse_size(const char *s, int64_t *out)
{
    if (!s || !*s)
        return -1;
    int64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > ((int64_t)1 << 62) / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return 0;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int64_t fx_s3_parse_time(const char *s)
{
    int Y, M, D, h, m, sec, ms = 0;
    if (!s || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || digits(s, 4, &Y) || digits(s + 5, 2, &M) || digits(s + 8, 2, &D) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &m) || digits(s + 17, 2, &sec))
        return -1;
    const char *p = s + 19;
    if (*p == '.') {
        int nd = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, nd++)
            if (nd < 3)
                ms = ms * 10 + (*p - '0');
        if (nd == 0)
            return -1;
        for (; nd < 3; nd++)
            ms *= 10;
    }
    if (strcmp(p, "Z") != 0 || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 ||
        sec > 60)
        return -1;
    struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D,
                    .tm_hour = h, .tm_min = m, .tm_sec = sec};
    time_t t = timegm(&tm);
    return t < 0 ? -1 : (int64_t)t * 1000 + ms; /* before 1970: not a real mtime */
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const fx_obj_entry_t *)a)->key, ((const fx_obj_entry_t *)b)->key);
}

int fx_s3_parse_list(const char *body, size_t n, fx_arena_t *a, fx_s3_list_page_t *pg,
                     fx_err_t *err)
{
    fx_xml_node_t *root;
    memset(pg, 0, sizeof *pg);
    int rc = parse_root(body, n, a, "ListBucketResult", &root, err);
    if (rc)
        return rc;
    const char *t = fx_xml_child_text(root, "IsTruncated");
    if (!t || (strcmp(t, "true") != 0 && strcmp(t, "false") != 0))
        return fx_err_set(err, FX_EINVAL, "ListBucketResult: IsTruncated is %s",
                          t ? "neither true nor false" : "missing");
    pg->truncated = strcmp(t, "true") == 0;
    if (pg->truncated) {
        pg->next_token = fx_xml_child_text(root, "NextContinuationToken");
        if (!pg->next_token || !*pg->next_token)
            return fx_err_set(err, FX_EINVAL,
                              "ListBucketResult: truncated without a NextContinuationToken");
    }
    size_t cap = 0;
    for (const fx_xml_node_t *c = root->child; c; c = c->next)
        cap += strcmp(c->name, "Contents") == 0 || strcmp(c->name, "CommonPrefixes") == 0;
    pg->v = fx_arena_alloc(a, (cap ? cap : 1) * sizeof *pg->v);
    for (const fx_xml_node_t *c = root->child; c; c = c->next) {
        fx_obj_entry_t *e = &pg->v[pg->n];
        if (strcmp(c->name, "Contents") == 0) {
            const char *key = fx_xml_child_text(c, "Key");
            const char *size = fx_xml_child_text(c, "Size");
            const char *lm = fx_xml_child_text(c, "LastModified");
            if (!key || !*key)
                return fx_err_set(err, FX_EINVAL, "ListBucketResult: Contents without a Key");
            if (parse_size(size, &e->size) < 0)
                return fx_err_set(err, FX_EINVAL, "ListBucketResult: Contents %.200s: Size %s",
                                  key, size ? "is not a non-negative integer" : "is missing");
            e->mtime_ms = 0;
            if (lm && (e->mtime_ms = fx_s3_parse_time(lm)) < 0)
                return fx_err_set(err, FX_EINVAL,
                                  "ListBucketResult: Contents %.200s: LastModified \"%.64s\" is "
                                  "not an ISO 8601 UTC time",
                                  key, lm);
            e->key = key;
            e->is_prefix = false;
            pg->n++;
        } else if (strcmp(c->name, "CommonPrefixes") == 0) {
            const char *p = fx_xml_child_text(c, "Prefix");
            if (!p || !*p)
                return fx_err_set(err, FX_EINVAL,
                                  "ListBucketResult: CommonPrefixes without a Prefix");
            *e = (fx_obj_entry_t){p, -1, 0, true};
            pg->n++;
        }
    }
    /* Servers list Contents and CommonPrefixes separately, each sorted. */
    qsort(pg->v, pg->n, sizeof *pg->v, entry_cmp);
    return FX_OK;
}

int fx_s3_parse_error(const char *body, size_t n, fx_arena_t *a, fx_s3_error_t *e,
                      fx_err_t *err)
{
    fx_xml_node_t *root;
    memset(e, 0, sizeof *e);
    int rc = parse_root(body, n, a, "Error", &root, err);
    if (rc)
        return rc;
    e->code = fx_xml_child_text(root, "Code");
    e->message = fx_xml_child_text(root, "Message");
    e->string_to_sign = fx_xml_child_text(root, "StringToSign");
    e->request_id = fx_xml_child_text(root, "RequestId");
    if (!e->code || !*e->code)
        return fx_err_set(err, FX_EINVAL, "Error document without a Code");
    return FX_OK;
}

int fx_s3_parse_initiate(const char *body, size_t n, fx_arena_t *a, const char **upload_id,
                         fx_err_t *err)
{
    fx_xml_node_t *root;
    *upload_id = NULL;
    int rc = parse_root(body, n, a, "InitiateMultipartUploadResult", &root, err);
    if (rc)
        return rc;
    const char *id = fx_xml_child_text(root, "UploadId");
    if (!id || !*id)
        return fx_err_set(err, FX_EINVAL, "InitiateMultipartUploadResult without an UploadId");
    *upload_id = id;
    return FX_OK;
}

int fx_s3_parse_complete(const char *body, size_t n, fx_arena_t *a, fx_s3_error_t *e,
                         fx_err_t *err)
{
    fx_xml_node_t *root;
    memset(e, 0, sizeof *e);
    int rc = fx_xml_parse(body, n, a, &root, err);
    if (rc)
        return rc;
    if (strcmp(root->name, "CompleteMultipartUploadResult") == 0)
        return FX_OK;
    if (strcmp(root->name, "Error") == 0) {
        if ((rc = fx_s3_parse_error(body, n, a, e, err)))
            return rc;
        return fx_err_set(err, FX_EUNAVAIL, "%s: %s", e->code, e->message ? e->message : "");
    }
    return fx_err_set(err, FX_EINVAL, "expected <CompleteMultipartUploadResult>, got <%.64s>",
                      root->name);
}
