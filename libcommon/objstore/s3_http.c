/*
 * s3_http.c - sending one S3 request (see s3_int.h): the curl handle pool,
 * URL and header construction, SigV4 signing of every attempt, the retry
 * loop with backoff, and the mapping of failures to FX_E* codes with a
 * message that names the operation, the object and the server's reason.
 */
#include "objstore/s3_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "core/mem.h"
#include "log/log.h"
#include "objstore/s3_resp.h"

#define POOL_MAX_IDLE 64
#define ERR_BODY_MAX (64 << 10)
#define STALL_SECONDS 30L /* abort an attempt that moves no byte for this long */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

/* ---- handle pool ------------------------------------------------------------ */

static CURL *take(s3_bucket_t *b)
{
    CURL *h = NULL;
    pthread_once(&curl_once, curl_init);
    pthread_mutex_lock(&b->mu);
    if (b->nidle)
        h = b->idle[--b->nidle];
    pthread_mutex_unlock(&b->mu);
    if (!h)
        h = curl_easy_init();
    FX_ASSERT(h);
    curl_easy_reset(h); /* options go, the connection cache stays */
    return h;
}

static void give(s3_bucket_t *b, CURL *h)
{
    pthread_mutex_lock(&b->mu);
    if (b->nidle < POOL_MAX_IDLE) {
        FX_GROW(b->idle, b->cidle, b->nidle + 1);
        b->idle[b->nidle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&b->mu);
    if (h)
        curl_easy_cleanup(h);
}

void fx__s3_pool_free(s3_bucket_t *b)
{
    for (size_t i = 0; i < b->nidle; i++)
        curl_easy_cleanup(b->idle[i]);
    free(b->idle);
    b->idle = NULL;
    b->nidle = b->cidle = 0;
}

/* ---- policy ----------------------------------------------------------------- */

bool fx__s3_retryable(int curl_rc, long status, const char *code)
{
    if (curl_rc != CURLE_OK) {
        switch (curl_rc) {
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
        case CURLE_NOT_BUILT_IN:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_WRITE_ERROR: /* our callback refused the body (too large) */
        case CURLE_ABORTED_BY_CALLBACK:
        case CURLE_OUT_OF_MEMORY:
        case CURLE_BAD_FUNCTION_ARGUMENT:
        case CURLE_FAILED_INIT:
            return false;
        default:
            return true; /* refused, reset, timed out, DNS, TLS handshake, ... */
        }
    }
    if (status == 501) /* NotImplemented: retrying will not help */
        return false;
    if (status >= 500 || status == 429)
        return true;
    return status == 400 && code && strcmp(code, "RequestTimeout") == 0;
}

int64_t fx__s3_backoff_ms(int attempt, int64_t min_ms, int64_t max_ms, double r)
{
    int64_t cap = min_ms;
    for (int i = 1; i < attempt && cap < max_ms; i++)
        cap *= 2;
    if (cap > max_ms)
        cap = max_ms;
    return cap / 2 + (int64_t)(r * (double)(cap - cap / 2));
}

static double jitter(void)
{
    static _Thread_local uint64_t s;
    if (!s) {
        if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s)
            s = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&s;
        s |= 1;
    }
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return (double)(s >> 11) / (double)(1ull << 53);
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* ---- one attempt --------------------------------------------------------------- */

typedef struct xfer {
    s3_req_t *r;
    CURL *h;
    long status;
    size_t skip;      /* a 200 to a ranged GET: bytes to drop before off */
    int64_t limit;    /* ... and bytes to keep (-1 all) */
    bool ranged;
    bool too_big;
    fx_buf_t errbody; /* a non-2xx body */
    const uint8_t *up; /* upload cursor */
    size_t up_left;
} xfer_t;

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
    xfer_t *t = ud;
    size_t n = sz * nm;
    if (!t->status) {
        curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &t->status);
        if (t->status == 200 && t->ranged) {
            /* The server ignored Range: cut the range out of the whole body. */
            t->skip = (size_t)t->r->range_off;
            t->limit = t->r->range_len;
        }
    }
    if (t->status < 200 || t->status > 299) {
        if (t->errbody.len < ERR_BODY_MAX)
            fx_buf_append(&t->errbody, p, FX_MIN(n, ERR_BODY_MAX - t->errbody.len));
        return n;
    }
    if (!t->r->out)
        return n;
    const char *q = p;
    size_t m = n;
    if (t->skip) {
        size_t d = FX_MIN(t->skip, m);
        t->skip -= d;
        q += d;
        m -= d;
    }
    if (t->limit >= 0 && (int64_t)m > t->limit)
        m = (size_t)t->limit;
    if (t->limit >= 0)
        t->limit -= (int64_t)m;
    if (t->r->max_body && t->r->out->len + m > t->r->max_body) {
        t->too_big = true;
        return 0; /* aborts the transfer */
    }
    fx_buf_append(t->r->out, q, m);
    return n;
}

static size_t on_read(char *p, size_t sz, size_t nm, void *ud)
{
    xfer_t *t = ud;
    size_t n = FX_MIN(sz * nm, t->up_left);
    memcpy(p, t->up, n);
    t->up += n;
    t->up_left -= n;
    return n;
}

/* curl rewinds the body when it resends on a fresh connection (a reused
 * keep-alive connection the server had just closed). */
static int on_seek(void *ud, curl_off_t off, int origin)
{
    xfer_t *t = ud;
    if (origin != SEEK_SET || off < 0 || (uint64_t)off > t->r->body_len)
        return CURL_SEEKFUNC_CANTSEEK;
    t->up = t->r->body + off;
    t->up_left = t->r->body_len - (size_t)off;
    return CURL_SEEKFUNC_OK;
}

/* "Name: value\r\n" -> value if name matches (case-insensitive), trimmed. */
static bool header_is(const char *p, size_t n, const char *name, char *val, size_t vcap)
{
    size_t nl = strlen(name);
    if (n <= nl || p[nl] != ':' || strncasecmp(p, name, nl) != 0)
        return false;
    const char *v = p + nl + 1, *e = p + n;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
        e--;
    size_t len = FX_MIN((size_t)(e - v), vcap - 1);
    memcpy(val, v, len);
    val[len] = 0;
    return true;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
    xfer_t *t = ud;
    size_t n = sz * nm;
    char v[256];
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) { /* a new response (after 100 Continue) */
        t->r->etag[0] = 0;
        t->r->content_length = -1;
        t->r->last_modified_ms = 0;
    } else if (header_is(p, n, "ETag", v, sizeof v)) {
        memcpy(t->r->etag, v, FX_MIN(strlen(v) + 1, sizeof t->r->etag));
        t->r->etag[sizeof t->r->etag - 1] = 0;
    } else if (header_is(p, n, "Content-Length", v, sizeof v)) {
        char *end;
        long long cl = strtoll(v, &end, 10);
        t->r->content_length = *v && !*end && cl >= 0 ? cl : -1;
    } else if (header_is(p, n, "Last-Modified", v, sizeof v)) {
        time_t tm = curl_getdate(v, NULL);
        t->r->last_modified_ms = tm > 0 ? (int64_t)tm * 1000 : 0;
    }
    return n;
}

static void add_header(struct curl_slist **l, const char *name, const char *value)
{
    char line[1024];
    snprintf(line, sizeof line, "%s: %s", name, value);
    struct curl_slist *n = curl_slist_append(*l, line);
    FX_ASSERT(n);
    *l = n;
}

/* Sends r once. Returns the curl code; t->status holds the HTTP status. */
static CURLcode attempt(s3_bucket_t *b, s3_req_t *r, const char *url, const char *raw_path,
                        const char *phash, xfer_t *t, fx_buf_t *creq, char *cerr)
{
    char amz[17], range[64] = "";
    fx_sigv4_kv_t hdr[6];
    size_t nh = 0;
    fx_buf_t auth = FX_BUF_INIT;
    struct curl_slist *hl = NULL;

    fx_sigv4_amz_date(time(NULL), amz);
    hdr[nh++] = (fx_sigv4_kv_t){"host", b->host};
    hdr[nh++] = (fx_sigv4_kv_t){"x-amz-content-sha256", phash};
    hdr[nh++] = (fx_sigv4_kv_t){"x-amz-date", amz};
    if (r->range_len) {
        if (r->range_len < 0)
            snprintf(range, sizeof range, "bytes=%lld-", (long long)r->range_off);
        else
            snprintf(range, sizeof range, "bytes=%lld-%lld", (long long)r->range_off,
                     (long long)(r->range_off + r->range_len - 1));
        hdr[nh++] = (fx_sigv4_kv_t){"range", range};
    }
    if (r->content_type)
        hdr[nh++] = (fx_sigv4_kv_t){"content-type", r->content_type};
    if (b->token)
        hdr[nh++] = (fx_sigv4_kv_t){"x-amz-security-token", b->token};
    fx_sigv4_req_t sr = {r->method, raw_path, r->query, r->nquery, hdr, nh, phash};
    fx_sigv4_creds_t cr = {b->akid, b->secret, b->region, "s3"};
    creq->len = 0;
    fx_sigv4_sign(&cr, amz, &sr, &auth, creq, NULL);

    for (size_t i = 0; i < nh; i++)
        add_header(&hl, hdr[i].name, hdr[i].value);
    add_header(&hl, "Authorization", fx_buf_cstr(&auth));
    hl = curl_slist_append(hl, "Expect:"); /* no 100-continue round trip */
    FX_ASSERT(hl);

    CURL *h = take(b);
    t->h = h;
    t->ranged = r->range_len != 0;
    t->up = r->body;
    t->up_left = r->body_len;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)b->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)b->request_timeout_ms);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, STALL_SECONDS);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    cerr[0] = 0;
    if (strcmp(r->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(r->method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, t);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, t);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
    } else if (strcmp(r->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? (const char *)r->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    } else if (strcmp(r->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    }
    r->etag[0] = 0;
    r->content_length = -1;
    r->last_modified_ms = 0;
    CURLcode cc = curl_easy_perform(h);
    if (!t->status)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &t->status);
    give(b, h);
    curl_slist_free_all(hl);
    fx_buf_free(&auth);
    return cc;
}

/* "s3://bucket/key" (or "s3://bucket") into buf. */
static const char *s3_name(const s3_bucket_t *b, const char *key, char *buf, size_t n)
{
    if (key)
        snprintf(buf, n, "s3://%s/%s", b->bucket, key);
    else
        snprintf(buf, n, "s3://%s", b->bucket);
    return buf;
}

/* A printable excerpt of a body that is not an S3 error document. */
static void excerpt(const fx_buf_t *body, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; i < body->len && j + 1 < cap && i < 160; i++) {
        char c = (char)body->data[i];
        out[j++] = c >= 0x20 && c < 0x7f ? c : ' ';
    }
    out[j] = 0;
}

static const char *auth_hint(const char *code)
{
    if (!code)
        return "";
    if (strcmp(code, "SignatureDoesNotMatch") == 0)
        return "; check -storage.s3.secret-access-key (and the endpoint's clock and region)";
    if (strcmp(code, "InvalidAccessKeyId") == 0)
        return "; check -storage.s3.access-key-id";
    if (strcmp(code, "AuthorizationHeaderMalformed") == 0)
        return "; check -storage.s3.region";
    if (strcmp(code, "RequestTimeTooSkewed") == 0)
        return "; this machine's clock is off";
    return "";
}

static bool auth_code(const char *c)
{
    static const char *const codes[] = {"AccessDenied", "SignatureDoesNotMatch",
                                        "InvalidAccessKeyId", "AuthorizationHeaderMalformed",
                                        "InvalidToken", "ExpiredToken", "RequestTimeTooSkewed",
                                        "InvalidSecurity", "AllAccessDisabled"};
    for (size_t i = 0; c && i < FX_ARRAY_LEN(codes); i++)
        if (strcmp(c, codes[i]) == 0)
            return true;
    return false;
}

int fx__s3_exec(s3_bucket_t *b, s3_req_t *r, fx_err_t *err)
{
    char name[FX_BUCKET_KEY_MAX + 300], phash[FX_SHA256_HEX_LEN + 1], cerr[CURL_ERROR_SIZE];
    char reason[768];
    fx_buf_t url = FX_BUF_INIT, path = FX_BUF_INIT, creq = FX_BUF_INIT;
    size_t out_base = r->out ? r->out->len : 0;
    int rc = FX_OK;

    s3_name(b, r->key, name, sizeof name);
    fx_sha256_hex(r->body, r->body_len, phash);
    fx_buf_puts(&path, b->path_base);
    if (r->key) {
        fx_buf_putc(&path, '/');
        fx_buf_puts(&path, r->key);
    }
    if (path.len == 0)
        fx_buf_putc(&path, '/');
    fx_buf_printf(&url, "%s://%s", b->https ? "https" : "http", b->host);
    fx_sigv4_uri_encode((const char *)path.data, path.len, true, &url);
    if (r->nquery) {
        fx_buf_putc(&url, '?');
        fx_sigv4_canonical_query(r->query, r->nquery, &url);
    }
    fx_buf_cstr(&path);
    fx_buf_cstr(&url);

    for (int att = 1;; att++) {
        xfer_t t = {.r = r, .limit = -1};
        if (r->out)
            r->out->len = out_base;
        r->s3_code[0] = 0;
        CURLcode cc = attempt(b, r, (char *)url.data, (char *)path.data, phash, &t, &creq, cerr);
        r->status = t.status;
        r->attempts = att;
        fx_arena_t a;
        fx_s3_error_t se = {0};
        fx_err_t perr;
        fx_arena_init(&a);
        if (t.errbody.len &&
            fx_s3_parse_error((char *)t.errbody.data, t.errbody.len, &a, &se, &perr) == FX_OK)
            snprintf(r->s3_code, sizeof r->s3_code, "%s", se.code);

        bool retry = false;
        if (cc == CURLE_OK && t.status >= 200 && t.status <= 299) {
            rc = FX_OK;
        } else if (cc == CURLE_WRITE_ERROR && t.too_big) {
            rc = fx_err_set(err, FX_EIO, "%s %s: the response is larger than %zu bytes", r->op,
                            name, r->max_body);
        } else if (cc != CURLE_OK) {
            snprintf(reason, sizeof reason, "%s", cerr[0] ? cerr : curl_easy_strerror(cc));
            retry = fx__s3_retryable(cc, 0, NULL);
            rc = FX_EUNAVAIL;
        } else {
            if (se.code)
                snprintf(reason, sizeof reason, "HTTP %ld %s: %s", t.status, se.code,
                         se.message ? se.message : "");
            else if (t.errbody.len) {
                char ex[200];
                excerpt(&t.errbody, ex, sizeof ex);
                snprintf(reason, sizeof reason, "HTTP %ld: %s", t.status, ex);
            } else
                snprintf(reason, sizeof reason, "HTTP %ld", t.status);
            if (t.status == 401 || t.status == 403 || auth_code(se.code)) {
                if (se.string_to_sign)
                    fx_log_debug("s3 signature mismatch", "op=%s object=%s canonical_request=%s "
                                 "server_string_to_sign=%s", r->op, fx_q(name),
                                 fx_q(fx_buf_cstr(&creq)), fx_q(se.string_to_sign));
                rc = fx_err_set(err, FX_EPERM, "%s %s: the server refused the request (%s)%s",
                                r->op, name, reason, auth_hint(se.code));
            } else if (se.code && strcmp(se.code, "NoSuchBucket") == 0) {
                rc = fx_err_set(err, FX_EPRECOND, "%s %s: bucket \"%s\" does not exist on %s",
                                r->op, name, b->bucket, b->host);
            } else if (t.status == 404) {
                rc = fx_err_set(err, FX_ENOTFOUND, "%s %s: no such %s", r->op, name,
                                se.code && strcmp(se.code, "NoSuchUpload") == 0
                                    ? "multipart upload"
                                    : "object");
            } else if (t.status == 416) {
                rc = fx_err_set(err, FX_EINVAL, "%s %s: range start %lld is at or past the end "
                                "of the object", r->op, name, (long long)r->range_off);
            } else if (fx__s3_retryable(0, t.status, se.code)) {
                retry = true;
                rc = FX_EUNAVAIL;
            } else {
                rc = fx_err_set(err, FX_EIO, "%s %s: %s", r->op, name, reason);
            }
        }
        fx_arena_free(&a);
        fx_buf_free(&t.errbody);
        if (!retry) {
            if (rc == FX_EUNAVAIL) /* a final network failure, e.g. a bad certificate */
                fx_err_set(err, FX_EUNAVAIL, "%s %s: %s", r->op, name, reason);
            break;
        }
        if (att > b->max_retries) {
            rc = fx_err_set(err, FX_EUNAVAIL, "%s %s: %s (gave up after %d attempts)", r->op,
                            name, reason, att);
            break;
        }
        int64_t d = fx__s3_backoff_ms(att, b->backoff_min_ms, b->backoff_max_ms, jitter());
        fx_log_warn("object storage request failed; retrying", "op=%s object=%s attempt=%d "
                    "delay_ms=%lld error=%s", r->op, fx_q(name), att, (long long)d, fx_q(reason));
        sleep_ms(d);
    }
    fx_buf_free(&url);
    fx_buf_free(&path);
    fx_buf_free(&creq);
    return rc;
}
