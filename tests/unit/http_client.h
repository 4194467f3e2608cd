/*
 * http_client.h - a small libcurl client for the HTTP unit tests: one
 * request to 127.0.0.1:<port>, raw status, headers and body (curl does not
 * decode gzip here, so tests see the bytes on the wire). Header-only, static
 * functions; included by tests/unit/test_http_*.c.
 */
#ifndef FX_TEST_HTTP_CLIENT_H
#define FX_TEST_HTTP_CLIENT_H

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/gz.h"

typedef struct tresp {
    long status;
    fx_buf_t body;
    fx_buf_t headers; /* raw header lines */
} tresp_t;

static __attribute__((unused)) size_t tc_write(char *p, size_t size, size_t n, void *ud)
{
    fx_buf_append(ud, p, size * n);
    return size * n;
}

/* Performs method path with NULL-terminated extra headers ("Name: value")
 * and an optional body; fills *r (free with tresp_free). Returns the curl
 * result code (0 = transport ok). */
static __attribute__((unused)) int http_do(unsigned port, const char *method, const char *path, const char *const *hdrs,
                   const void *body, size_t len, tresp_t *r)
{
    char url[2048];
    struct curl_slist *sl = NULL;
    CURL *c = curl_easy_init();
    memset(r, 0, sizeof *r);
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tc_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, tc_write);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body || strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    sl = curl_slist_append(sl, "Expect:"); /* no 100-continue round trip */
    for (size_t i = 0; hdrs && hdrs[i]; i++)
        sl = curl_slist_append(sl, hdrs[i]);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, sl);
    int rc = (int)curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(sl);
    curl_easy_cleanup(c);
    fx_buf_cstr(&r->body);
    fx_buf_cstr(&r->headers);
    return rc;
}

static __attribute__((unused)) void tresp_free(tresp_t *r)
{
    fx_buf_free(&r->body);
    fx_buf_free(&r->headers);
}

/* Value of response header name (case-insensitive) copied into buf, or NULL. */
static __attribute__((unused)) const char *tresp_header(const tresp_t *r, const char *name, char *buf, size_t len)
{
    size_t nl = strlen(name);
    const char *p = (const char *)r->headers.data;
    while (p && *p) {
        const char *eol = strstr(p, "\r\n");
        if (!eol)
            break;
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = (size_t)(eol - v);
            if (vl >= len)
                vl = len - 1;
            memcpy(buf, v, vl);
            buf[vl] = 0;
            return buf;
        }
        p = eol + 2;
    }
    return NULL;
}

/* The response body, gunzipped when Content-Encoding says gzip. */
static __attribute__((unused)) void tresp_plain_body(const tresp_t *r, fx_buf_t *out)
{
    char ce[32];
    if (tresp_header(r, "Content-Encoding", ce, sizeof ce) && strcmp(ce, "gzip") == 0) {
        fx_err_t err = {0};
        if (fx_gunzip(r->body.data, r->body.len, 1 << 30, out, &err) != FX_OK) {
            fprintf(stderr, "bad gzip reply: %s\n", err.msg);
            abort();
        }
    } else {
        fx_buf_append(out, r->body.data, r->body.len);
    }
    fx_buf_cstr(out);
}

/* Sends raw request bytes on one connection and reads until the server
 * closes it (end the last request with "Connection: close") or 10 s pass. */
static __attribute__((unused)) void raw_exchange(unsigned port, const char *req, fx_buf_t *out)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {10, 0};
    char tmp[4096];
    ssize_t n;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        abort();
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    /* The server may close early (limits): stop writing, keep reading. */
    for (size_t off = 0, len = strlen(req); off < len; off += (size_t)n)
        if ((n = write(fd, req + off, len - off)) <= 0)
            break;
    while ((n = read(fd, tmp, sizeof tmp)) > 0)
        fx_buf_append(out, tmp, (size_t)n);
    close(fd);
    fx_buf_cstr(out);
}

/* Reads a whole file into b; aborts when it cannot (fixtures must exist). */
static __attribute__((unused)) void read_file_or_die(const char *path, fx_buf_t *b)
{
    FILE *f = fopen(path, "rb");
    char tmp[65536];
    size_t n;
    if (!f) {
        fprintf(stderr, "cannot open fixture %s\n", path);
        abort();
    }
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        fx_buf_append(b, tmp, n);
    fclose(f);
}

/* Fixtures live in ../shared/fixtures relative to the repository root, where
 * the tests run; FX_FIXTURES overrides. */
static __attribute__((unused)) const char *fixture_path(const char *rel, char *buf, size_t len)
{
    const char *root = getenv("FX_FIXTURES");
    snprintf(buf, len, "%s/%s", root ? root : "../shared/fixtures", rel);
    return buf;
}

#endif
