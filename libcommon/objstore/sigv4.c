/*
 * sigv4.c - AWS Signature Version 4 (see sigv4.h). The canonical request
 * follows AWS's "Create a canonical request": query pairs sorted by encoded
 * name then value, header names lower-cased and sorted, values trimmed with
 * inner runs of spaces collapsed, repeated headers joined with ','.
 */
#include "objstore/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/mem.h"

static const char hexd[] = "0123456789abcdef";

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexd[p[i] >> 4];
        out[2 * i + 1] = hexd[p[i] & 15];
    }
    out[2 * n] = 0;
}

void fx_sha256_hex(const void *p, size_t n, char out[FX_SHA256_HEX_LEN + 1])
{
    uint8_t d[SHA256_DIGEST_LENGTH];
    SHA256(p, n, d);
    hex(d, sizeof d, out);
}

/* out may alias key: the key is consumed before the result is written. */
static void hmac(const void *key, size_t klen, const char *msg, size_t mlen, uint8_t out[32])
{
    uint8_t tmp[EVP_MAX_MD_SIZE];
    unsigned int len = sizeof tmp;
    FX_ASSERT(HMAC(EVP_sha256(), key, (int)klen, (const uint8_t *)msg, mlen, tmp, &len));
    FX_ASSERT(len == 32);
    memcpy(out, tmp, 32);
    OPENSSL_cleanse(tmp, sizeof tmp);
}

void fx_sigv4_uri_encode(const char *s, size_t n, bool keep_slash, fx_buf_t *out)
{
    static const char up[] = "0123456789ABCDEF";
    fx_buf_reserve(out, n);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || (c == '/' && keep_slash)) {
            fx_buf_putc(out, c);
        } else {
            char e[3] = {'%', up[c >> 4], up[c & 15]};
            fx_buf_append(out, e, 3);
        }
    }
}

/* --- query ----------------------------------------------------------------- */

typedef struct qpair {
    char *name, *value; /* encoded */
} qpair_t;

static int qpair_cmp(const void *a, const void *b)
{
    const qpair_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

static char *encode_dup(const char *s)
{
    fx_buf_t b = FX_BUF_INIT;
    if (s)
        fx_sigv4_uri_encode(s, strlen(s), false, &b);
    fx_buf_cstr(&b);
    return (char *)fx_buf_steal(&b, NULL);
}

void fx_sigv4_canonical_query(const fx_sigv4_kv_t *q, size_t n, fx_buf_t *out)
{
    if (n == 0)
        return;
    qpair_t *v = fx_calloc(n, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[i].name = encode_dup(q[i].name);
        v[i].value = encode_dup(q[i].value);
    }
    qsort(v, n, sizeof *v, qpair_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fx_buf_putc(out, '&');
        fx_buf_puts(out, v[i].name);
        fx_buf_putc(out, '=');
        fx_buf_puts(out, v[i].value);
        free(v[i].name);
        free(v[i].value);
    }
    free(v);
}

/* --- headers --------------------------------------------------------------- */

typedef struct hdr {
    char *name;        /* lower-cased */
    const char *value; /* as given */
    size_t idx;        /* input position: repeated names keep their order */
} hdr_t;

static int hdr_cmp(const void *a, const void *b)
{
    const hdr_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->idx < y->idx ? -1 : x->idx > y->idx);
}

/* Appends v trimmed, with every run of spaces or tabs turned into one space. */
static void canon_value(const char *v, fx_buf_t *out)
{
    if (!v)
        return;
    while (*v == ' ' || *v == '\t')
        v++;
    int space = 0;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            space = 1;
            continue;
        }
        if (space)
            fx_buf_putc(out, ' ');
        space = 0;
        fx_buf_putc(out, (uint8_t)*v);
    }
}

/* Sorted, lower-cased copy of r's headers; caller frees names and the array. */
static hdr_t *sorted_headers(const fx_sigv4_req_t *r)
{
    hdr_t *h = fx_calloc(r->nheaders ? r->nheaders : 1, sizeof *h);
    for (size_t i = 0; i < r->nheaders; i++) {
        h[i].name = fx_strdup(r->headers[i].name);
        for (char *p = h[i].name; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        h[i].value = r->headers[i].value;
        h[i].idx = i;
    }
    qsort(h, r->nheaders, sizeof *h, hdr_cmp);
    return h;
}

static void signed_headers(const hdr_t *h, size_t n, fx_buf_t *out)
{
    for (size_t i = 0; i < n; i++) {
        if (i && strcmp(h[i].name, h[i - 1].name) == 0)
            continue;
        if (i)
            fx_buf_putc(out, ';');
        fx_buf_puts(out, h[i].name);
    }
}

static void canonical_request(const fx_sigv4_req_t *r, const hdr_t *h, fx_buf_t *out)
{
    fx_buf_puts(out, r->method);
    fx_buf_putc(out, '\n');
    const char *path = r->path && r->path[0] ? r->path : "/";
    fx_sigv4_uri_encode(path, strlen(path), true, out);
    fx_buf_putc(out, '\n');
    fx_sigv4_canonical_query(r->query, r->nquery, out);
    fx_buf_putc(out, '\n');
    for (size_t i = 0; i < r->nheaders; i++) {
        if (i && strcmp(h[i].name, h[i - 1].name) == 0) {
            fx_buf_putc(out, ',');
        } else {
            if (i)
                fx_buf_putc(out, '\n');
            fx_buf_puts(out, h[i].name);
            fx_buf_putc(out, ':');
        }
        canon_value(h[i].value, out);
    }
    fx_buf_puts(out, "\n\n");
    signed_headers(h, r->nheaders, out);
    fx_buf_putc(out, '\n');
    fx_buf_puts(out, r->payload_hash ? r->payload_hash : FX_SHA256_EMPTY);
}

static void free_headers(hdr_t *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(h[i].name);
    free(h);
}

void fx_sigv4_amz_date(time_t t, char out[17])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

void fx_sigv4_sign(const fx_sigv4_creds_t *c, const char *amz_date, const fx_sigv4_req_t *r,
                   fx_buf_t *auth, fx_buf_t *creq_out, fx_buf_t *sts_out)
{
    FX_ASSERT(strlen(amz_date) == 16);
    hdr_t *h = sorted_headers(r);
    fx_buf_t creq = FX_BUF_INIT, sts = FX_BUF_INIT, key = FX_BUF_INIT;
    char date[9], creq_hash[FX_SHA256_HEX_LEN + 1], sig[FX_SHA256_HEX_LEN + 1];
    uint8_t k[32];

    memcpy(date, amz_date, 8);
    date[8] = 0;
    canonical_request(r, h, &creq);
    fx_sha256_hex(creq.data, creq.len, creq_hash);
    fx_buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", amz_date, date,
                  c->region, c->service, creq_hash);

    /* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request") */
    fx_buf_printf(&key, "AWS4%s", c->secret_access_key);
    hmac(key.data, key.len, date, strlen(date), k);
    hmac(k, 32, c->region, strlen(c->region), k);
    hmac(k, 32, c->service, strlen(c->service), k);
    hmac(k, 32, "aws4_request", 12, k);
    hmac(k, 32, (const char *)sts.data, sts.len, k);
    hex(k, 32, sig);

    fx_buf_printf(auth, "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=",
                  c->access_key_id, date, c->region, c->service);
    signed_headers(h, r->nheaders, auth);
    fx_buf_printf(auth, ", Signature=%s", sig);

    if (creq_out)
        fx_buf_append(creq_out, creq.data, creq.len);
    if (sts_out)
        fx_buf_append(sts_out, sts.data, sts.len);
    /* The derived key and "AWS4<secret>" must not linger on the heap. */
    OPENSSL_cleanse(key.data, key.len);
    OPENSSL_cleanse(k, sizeof k);
    fx_buf_free(&key);
    fx_buf_free(&creq);
    fx_buf_free(&sts);
    free_headers(h, r->nheaders);
}
