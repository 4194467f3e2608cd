/*
 * reply.c - request accessors and replies: headers, bodies (gzipped when the
 * client accepts it), and Connect error JSON.
 *
 * A reply only fills the evhttp request's output buffer and headers and
 * records the status; server.c sends it after the handler returns, so that a
 * handler's stack or arena memory may be passed to these functions.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/gz.h"
#include "core/utf8.h"
#include "http/server_int.h"
#include "http/status.h"
#include "log/log.h"

/* libdeflate level 4: about 2x the speed of level 6 for a few % more bytes;
 * replies are produced per request, so speed wins. */
#define REPLY_GZIP_LEVEL 4

const char *fx_http_req_header(const fx_http_req_t *req, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(fx__req(req)->ev), name);
}

const char *fx_http_req_query(const fx_http_req_t *req, const char *name)
{
    return fx_query_get(&fx__req(req)->query, name);
}

const char **fx_http_req_query_all(const fx_http_req_t *req, const char *name, size_t *n)
{
    return fx_query_get_all(&fx__req(req)->query, name, req->arena, n);
}

/* Is a q-value (v..end) zero, i.e. "0", "0.", "0.0", "0.000"? */
static int qvalue_zero(const char *v, const char *end)
{
    if (v >= end || *v != '0')
        return 0;
    v++;
    if (v < end && *v == '.')
        for (v++; v < end && *v == '0'; v++)
            ;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    return v == end;
}

/* Is gzip acceptable per an Accept-Encoding value? Elements are
 * comma-separated "token;param=value"; "q=0" refuses; "*" stands for any
 * coding not listed; "x-gzip" is an old name of gzip. */
static int accepts_gzip(const char *h)
{
    int star = 0;
    while (*h) {
        h += strspn(h, " \t,");
        if (!*h)
            break;
        const char *tok = h, *end = h + strcspn(h, ",");
        size_t tlen = strcspn(h, " \t;,");
        int zero = 0;
        for (const char *p = tok + tlen; p < end;) {
            p += strspn(p, " \t;");
            const char *pe = p + strcspn(p, ";,");
            if (pe - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=')
                zero = qvalue_zero(p + 2, pe);
            p = pe;
        }
        if ((tlen == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
            (tlen == 6 && strncasecmp(tok, "x-gzip", 6) == 0))
            return !zero;
        if (tlen == 1 && tok[0] == '*')
            star = !zero;
        h = end;
    }
    return star;
}

int fx_http_req_accepts_gzip(const fx_http_req_t *req)
{
    fx__http_req_t *r = fx__req(req);
    if (r->accepts_gzip < 0) {
        const char *h = fx_http_req_header(req, "Accept-Encoding");
        r->accepts_gzip = h ? accepts_gzip(h) : 0;
    }
    return r->accepts_gzip;
}

void fx_http_add_header(fx_http_req_t *req, const char *name, const char *value)
{
    evhttp_add_header(evhttp_request_get_output_headers(fx__req(req)->ev), name, value);
}

/* Already-compressed formats gain nothing from gzip. */
static int compressible(const char *ct)
{
    static const char *const no[] = {"application/gzip", "application/x-gzip", "image/png",
                                     "image/jpeg", "image/gif", "image/webp", "font/woff",
                                     "font/woff2", "application/zstd"};
    if (!ct)
        return 1;
    for (size_t i = 0; i < FX_ARRAY_LEN(no); i++)
        if (strncasecmp(ct, no[i], strlen(no[i])) == 0)
            return 0;
    return 1;
}

static void free_cleanup(const void *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    free(arg);
}

static void begin_reply(fx__http_req_t *r, int status, const char *content_type)
{
    FX_ASSERT(status >= 100 && status <= 999);
    FX_ASSERT(r->status == 0); /* a handler replies exactly once */
    r->status = status;
    if (content_type)
        evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Content-Type", content_type);
}

/* Decides on gzip; when it applies, compresses and queues the result. */
static int try_gzip(fx__http_req_t *r, const char *content_type, const void *body, size_t len)
{
    struct evkeyvalq *oh = evhttp_request_get_output_headers(r->ev);
    if (len <= FX_HTTP_GZIP_MIN_BYTES || !compressible(content_type) ||
        evhttp_find_header(oh, "Content-Encoding"))
        return 0;
    evhttp_add_header(oh, "Vary", "Accept-Encoding");
    if (!fx_http_req_accepts_gzip(&r->pub))
        return 0;
    fx_buf_t gz = FX_BUF_INIT;
    fx_gzip(body, len, REPLY_GZIP_LEVEL, &gz);
    evhttp_add_header(oh, "Content-Encoding", "gzip");
    r->resp_bytes = gz.len;
    evbuffer_add_reference(evhttp_request_get_output_buffer(r->ev), gz.data, gz.len,
                           free_cleanup, gz.data);
    return 1;
}

void fx_http_reply(fx_http_req_t *req, int status, const char *content_type, const void *body,
                   size_t len)
{
    fx__http_req_t *r = fx__req(req);
    begin_reply(r, status, content_type);
    if (!len || try_gzip(r, content_type, body, len))
        return;
    r->resp_bytes = len;
    evbuffer_add(evhttp_request_get_output_buffer(r->ev), body, len);
}

void fx_http_reply_buf(fx_http_req_t *req, int status, const char *content_type, fx_buf_t *body)
{
    fx__http_req_t *r = fx__req(req);
    begin_reply(r, status, content_type);
    if (!body->len || try_gzip(r, content_type, body->data, body->len)) {
        fx_buf_free(body);
        return;
    }
    size_t len;
    uint8_t *data = fx_buf_steal(body, &len);
    r->resp_bytes = len;
    evbuffer_add_reference(evhttp_request_get_output_buffer(r->ev), data, len, free_cleanup, data);
}

void fx_http_reply_static(fx_http_req_t *req, int status, const char *content_type,
                          const void *body, size_t len)
{
    fx__http_req_t *r = fx__req(req);
    begin_reply(r, status, content_type);
    r->resp_bytes = len;
    if (len)
        evbuffer_add_reference(evhttp_request_get_output_buffer(r->ev), body, len, NULL, NULL);
}

static char *vformat(fx_arena_t *a, const char *fmt, va_list ap, size_t *len)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        n = 0;
    char *s = fx_arena_alloc(a, (size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    *len = (size_t)n;
    return s;
}

void fx_http_reply_text(fx_http_req_t *req, int status, const char *fmt, ...)
{
    va_list ap;
    size_t len;
    va_start(ap, fmt);
    char *s = vformat(req->arena, fmt, ap, &len);
    va_end(ap);
    fx_http_reply(req, status, "text/plain; charset=utf-8", s, len);
}

/* Appends s as a JSON string; bytes that are not UTF-8 (messages may quote
 * user input) become U+FFFD so an error body is always valid JSON. */
static void json_msg(fx_arena_t *a, fx_buf_t *b, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t l = fx_utf8_len((const uint8_t *)s + i, n - i);
        if (!l)
            break;
        i += l;
    }
    if (i == n) {
        fx_buf_json_str(b, s, n);
        return;
    }
    /* Rare: copy with replacements (each bad byte grows to 3). */
    char *t = fx_arena_alloc(a, 3 * n);
    size_t o = 0;
    for (i = 0; i < n;) {
        size_t l = fx_utf8_len((const uint8_t *)s + i, n - i);
        if (l) {
            memcpy(t + o, s + i, l);
            o += l;
            i += l;
        } else {
            memcpy(t + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    fx_buf_json_str(b, t, o);
}

void fx_http_reply_error_status(fx_http_req_t *req, int status, const char *code_name,
                                const char *fmt, ...)
{
    va_list ap;
    size_t len;
    va_start(ap, fmt);
    char *msg = vformat(req->arena, fmt, ap, &len);
    va_end(ap);

    fx_buf_t b = FX_BUF_INIT;
    fx_buf_puts(&b, "{\"code\":");
    fx_buf_json_str(&b, code_name, strlen(code_name));
    fx_buf_puts(&b, ",\"message\":");
    json_msg(req->arena, &b, msg, len);
    fx_buf_putc(&b, '}');
    if (status >= 500)
        fx_log_warn("http request failed", "method=%s path=%s status=%d code=%s msg=%s",
                    req->method, fx_q(req->path), status, code_name, fx_q(msg));
    fx_http_reply_buf(req, status, "application/json", &b);
}

void fx_http_reply_error(fx_http_req_t *req, int code, const char *fmt, ...)
{
    va_list ap;
    size_t len;
    va_start(ap, fmt);
    char *msg = vformat(req->arena, fmt, ap, &len);
    va_end(ap);
    if (code == FX_OK)
        code = FX_EINTERNAL;
    fx_http_reply_error_status(req, fx_http_status(code), fx_status_name(code), "%s", msg);
}

void fx_http_reply_err(fx_http_req_t *req, const fx_err_t *err)
{
    int code = err->code == FX_OK ? FX_EINTERNAL : err->code;
    fx_http_reply_error(req, code, "%s", err->msg[0] ? err->msg : fx_status_name(code));
}
