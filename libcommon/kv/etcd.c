/* etcd.c - KV backend on etcd's v3 JSON gateway (libcurl + jansson). */
#include "kv/etcd.h"
#include "core/mem.h"
#include "core/time.h"
#include "log/log.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct etcd_watch etcd_watch_t;

typedef struct etcd_kv {
    fx_kv_t base;
    char **endpoints; /* "http://host:port" */
    size_t nendpoints;
    size_t current;   /* endpoint to try first */
    int64_t timeout_ms;
    pthread_mutex_t mu;
    etcd_watch_t *watches;
    volatile int closing;
    _Atomic int64_t down_since; /* 0 = reachable */
    /* The last outage that ended; written start, then end, then gen, so a
     * reader that sees gen unchanged around its reads got one pair. */
    _Atomic int64_t outage_start, outage_end;
    _Atomic uint64_t outage_gen;
} etcd_kv_t;

struct etcd_watch {
    etcd_watch_t *next;
    etcd_kv_t *kv;
    char *prefix;
    fx_kv_list_fn fn;
    void *ctx;
    pthread_t thread;
    fx_buf_t line;           /* partial stream line */
    int64_t next_rev;        /* resume watching from here */
    char **known;            /* keys seen, to report deletions after an outage */
    size_t nknown, cknown;
    int failed;              /* the stream broke: resync */
    pthread_mutex_t sock_mu; /* guards sock */
    curl_socket_t sock;      /* the stream's socket while open, else CURL_SOCKET_BAD */
};

static void mark(etcd_kv_t *e, int reachable)
{
    if (reachable) {
        int64_t since = atomic_exchange(&e->down_since, 0);
        if (since) {
            atomic_fetch_add(&e->outage_gen, 1); /* odd: being written */
            atomic_store(&e->outage_start, since);
            atomic_store(&e->outage_end, fx_now_ms());
            atomic_fetch_add(&e->outage_gen, 1);
        }
    } else {
        int64_t zero = 0;
        atomic_compare_exchange_strong(&e->down_since, &zero, fx_now_ms());
    }
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

/* --- base64 -------------------------------------------------------------------- */

static const char b64c[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_encode(const uint8_t *p, size_t n, fx_buf_t *out)
{
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        fx_buf_putc(out, (uint8_t)b64c[v >> 18]);
        fx_buf_putc(out, (uint8_t)b64c[(v >> 12) & 63]);
        fx_buf_putc(out, i + 1 < n ? (uint8_t)b64c[(v >> 6) & 63] : '=');
        fx_buf_putc(out, i + 2 < n ? (uint8_t)b64c[v & 63] : '=');
    }
}

static int b64_val(char c)
{
    const char *p = strchr(b64c, c);
    return c && p ? (int)(p - b64c) : -1;
}

static int b64_decode(const char *s, fx_buf_t *out)
{
    uint32_t acc = 0;
    int bits = 0;
    for (; *s && *s != '='; s++) {
        int v = b64_val(*s);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            fx_buf_putc(out, (uint8_t)(acc >> bits));
        }
    }
    return 0;
}

static void json_b64(fx_buf_t *out, const char *name, const void *p, size_t n)
{
    fx_buf_printf(out, "\"%s\":\"", name);
    b64_encode(p, n, out);
    fx_buf_putc(out, '"');
}

/* range_end for a prefix: the prefix with its last byte incremented. */
static void prefix_end(const char *prefix, fx_buf_t *out)
{
    size_t n = strlen(prefix);
    fx_buf_append(out, prefix, n);
    while (out->len > 0 && out->data[out->len - 1] == 0xff)
        out->len--;
    if (out->len)
        out->data[out->len - 1]++;
}

/* --- requests -------------------------------------------------------------------- */

static size_t collect_body(char *p, size_t size, size_t n, void *ctx)
{
    fx_buf_append(ctx, p, size * n);
    return size * n;
}

/* POSTs body to path on the first endpoint that answers; parses the JSON
 * reply into *out. FX_EUNAVAIL when no endpoint answers. */
static int call(etcd_kv_t *e, const char *path, const fx_buf_t *body, json_t **out, fx_err_t *err)
{
    CURL *c = curl_easy_init();
    fx_buf_t resp = FX_BUF_INIT;
    int rc = FX_EUNAVAIL;
    char url[512], cerr[CURL_ERROR_SIZE] = "";
    long status = 0;

    pthread_mutex_lock(&e->mu);
    size_t start = e->current;
    pthread_mutex_unlock(&e->mu);
    for (size_t k = 0; k < e->nendpoints; k++) {
        size_t i = (start + k) % e->nendpoints;
        snprintf(url, sizeof url, "%s%s", e->endpoints[i], path);
        resp.len = 0;
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data ? (const char *)body->data : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body->len);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)e->timeout_ms);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)e->timeout_ms);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
        curl_easy_setopt(c, CURLOPT_PROXY, "");
        if (curl_easy_perform(c) != CURLE_OK) {
            fx_err_set(err, FX_EUNAVAIL, "etcd %s: %s", e->endpoints[i], cerr);
            continue;
        }
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        pthread_mutex_lock(&e->mu);
        e->current = i;
        pthread_mutex_unlock(&e->mu);
        json_error_t jerr;
        json_t *j = json_loadb((const char *)resp.data, resp.len, 0, &jerr);
        if (status != 200 || !j) {
            rc = fx_err_set(err, status >= 500 || status == 0 ? FX_EUNAVAIL : FX_EINTERNAL,
                            "etcd %s%s: HTTP %ld: %.200s", e->endpoints[i], path, status,
                            resp.data ? fx_buf_cstr(&resp) : "");
            json_decref(j);
            break;
        }
        *out = j;
        rc = FX_OK;
        break;
    }
    curl_easy_cleanup(c);
    fx_buf_free(&resp);
    mark(e, rc != FX_EUNAVAIL);
    return rc;
}

static int64_t jint(json_t *j)
{
    /* The gateway encodes int64 as strings. */
    if (json_is_string(j))
        return strtoll(json_string_value(j), NULL, 10);
    return json_is_integer(j) ? json_integer_value(j) : 0;
}

static int64_t header_revision(json_t *reply)
{
    return jint(json_object_get(json_object_get(reply, "header"), "revision"));
}

/* Decodes one kv object into an entry; key/value buffers are the caller's. */
static int decode_kv(json_t *kv, fx_buf_t *key, fx_buf_t *val, fx_kv_entry_t *e)
{
    json_t *k = json_object_get(kv, "key"), *v = json_object_get(kv, "value");
    key->len = val->len = 0;
    if (!json_is_string(k) || b64_decode(json_string_value(k), key) < 0)
        return -1;
    if (json_is_string(v) && b64_decode(json_string_value(v), val) < 0)
        return -1;
    e->key = fx_buf_cstr(key);
    e->value = val->data;
    e->len = val->len;
    e->version = jint(json_object_get(kv, "mod_revision"));
    e->deleted = 0;
    return 0;
}

/* --- operations ------------------------------------------------------------------- */

static int etcd_get(fx_kv_t *kv, const char *key, fx_buf_t *value, int64_t *version, fx_err_t *err)
{
    etcd_kv_t *e = (etcd_kv_t *)kv;
    fx_buf_t body = FX_BUF_INIT, k = FX_BUF_INIT;
    json_t *r = NULL;
    fx_buf_putc(&body, '{');
    json_b64(&body, "key", key, strlen(key));
    fx_buf_putc(&body, '}');
    int rc = call(e, "/v3/kv/range", &body, &r, err);
    if (rc == FX_OK) {
        json_t *kvs = json_object_get(r, "kvs");
        fx_kv_entry_t en;
        value->len = 0;
        if (!json_is_array(kvs) || json_array_size(kvs) == 0)
            rc = fx_err_set(err, FX_ENOTFOUND, "key %s not found", key);
        else if (decode_kv(json_array_get(kvs, 0), &k, value, &en) < 0)
            rc = fx_err_set(err, FX_ECORRUPT, "etcd returned a malformed key");
        else if (version)
            *version = en.version;
    }
    json_decref(r);
    fx_buf_free(&body);
    fx_buf_free(&k);
    return rc;
}

/* Lists prefix; returns the store revision of the listing in *rev. */
static int list_rev(etcd_kv_t *e, const char *prefix, fx_kv_list_fn fn, void *ctx, int64_t *rev,
                    fx_err_t *err)
{
    fx_buf_t body = FX_BUF_INIT, end = FX_BUF_INIT, k = FX_BUF_INIT, v = FX_BUF_INIT;
    json_t *r = NULL;
    prefix_end(prefix, &end);
    fx_buf_putc(&body, '{');
    json_b64(&body, "key", prefix, strlen(prefix));
    fx_buf_putc(&body, ',');
    json_b64(&body, "range_end", end.data, end.len);
    fx_buf_putc(&body, '}');
    int rc = call(e, "/v3/kv/range", &body, &r, err);
    if (rc == FX_OK) {
        json_t *kvs = json_object_get(r, "kvs");
        for (size_t i = 0; json_is_array(kvs) && i < json_array_size(kvs); i++) {
            fx_kv_entry_t en;
            if (decode_kv(json_array_get(kvs, i), &k, &v, &en) == 0)
                fn(&en, ctx);
        }
        if (rev)
            *rev = header_revision(r);
    }
    json_decref(r);
    fx_buf_free(&body);
    fx_buf_free(&end);
    fx_buf_free(&k);
    fx_buf_free(&v);
    return rc;
}

static int etcd_list(fx_kv_t *kv, const char *prefix, fx_kv_list_fn fn, void *ctx, fx_err_t *err)
{
    return list_rev((etcd_kv_t *)kv, prefix, fn, ctx, NULL, err);
}

/* A txn: compare (unless expected == FX_KV_ANY) then put or delete. */
static int txn(etcd_kv_t *e, const char *key, const void *value, size_t len, int del,
               int64_t expected, int64_t *new_version, fx_err_t *err)
{
    fx_buf_t body = FX_BUF_INIT;
    json_t *r = NULL;
    size_t klen = strlen(key);
    fx_buf_puts(&body, "{\"compare\":[");
    if (expected != FX_KV_ANY) {
        fx_buf_puts(&body, "{\"result\":\"EQUAL\",");
        json_b64(&body, "key", key, klen);
        if (expected == FX_KV_ABSENT)
            fx_buf_puts(&body, ",\"target\":\"CREATE\",\"create_revision\":\"0\"}");
        else
            fx_buf_printf(&body, ",\"target\":\"MOD\",\"mod_revision\":\"%lld\"}",
                          (long long)expected);
    }
    fx_buf_puts(&body, "],\"success\":[{");
    if (del) {
        fx_buf_puts(&body, "\"request_delete_range\":{");
        json_b64(&body, "key", key, klen);
    } else {
        fx_buf_puts(&body, "\"request_put\":{");
        json_b64(&body, "key", key, klen);
        fx_buf_putc(&body, ',');
        json_b64(&body, "value", value, len);
    }
    fx_buf_puts(&body, "}}]}");
    int rc = call(e, "/v3/kv/txn", &body, &r, err);
    if (rc == FX_OK) {
        json_t *ok = json_object_get(r, "succeeded");
        if (!json_is_true(ok) && expected != FX_KV_ANY)
            rc = fx_err_set(err, FX_EPRECOND, "key %s changed concurrently", key);
        else if (new_version)
            *new_version = header_revision(r);
        if (rc == FX_OK && del) {
            json_t *resp = json_array_get(json_object_get(r, "responses"), 0);
            json_t *dr = json_object_get(resp, "response_delete_range");
            if (jint(json_object_get(dr, "deleted")) == 0)
                rc = fx_err_set(err, FX_ENOTFOUND, "key %s not found", key);
        }
    }
    json_decref(r);
    fx_buf_free(&body);
    return rc;
}

static int etcd_cas(fx_kv_t *kv, const char *key, const void *value, size_t len, int64_t expected,
                    int64_t *new_version, fx_err_t *err)
{
    return txn((etcd_kv_t *)kv, key, value, len, 0, expected, new_version, err);
}

static int etcd_del(fx_kv_t *kv, const char *key, int64_t expected, fx_err_t *err)
{
    return txn((etcd_kv_t *)kv, key, NULL, 0, 1, expected, NULL, err);
}

/* --- watch ---------------------------------------------------------------------- */

static int known_find(etcd_watch_t *w, const char *key)
{
    for (size_t i = 0; i < w->nknown; i++)
        if (strcmp(w->known[i], key) == 0)
            return (int)i;
    return -1;
}

static void known_set(etcd_watch_t *w, const char *key, int present)
{
    int i = known_find(w, key);
    if (present && i < 0) {
        FX_GROW(w->known, w->cknown, w->nknown + 1);
        w->known[w->nknown++] = fx_strdup(key);
    } else if (!present && i >= 0) {
        free(w->known[i]);
        w->known[i] = w->known[--w->nknown];
    }
}

static void deliver(etcd_watch_t *w, const fx_kv_entry_t *en)
{
    known_set(w, en->key, !en->deleted);
    w->fn(en, w->ctx);
}

typedef struct resync {
    etcd_watch_t *w;
    char **seen;
    size_t n, cap;
} resync_t;

static void resync_entry(const fx_kv_entry_t *en, void *ctx)
{
    resync_t *r = ctx;
    FX_GROW(r->seen, r->cap, r->n + 1);
    r->seen[r->n++] = fx_strdup(en->key);
    deliver(r->w, en);
}

/* Full list after (re)connecting: report current entries and the deletion
 * of every known key that is gone. */
static int resync(etcd_watch_t *w)
{
    resync_t r = {w, NULL, 0, 0};
    int64_t rev = 0;
    fx_err_t err;
    int rc = list_rev(w->kv, w->prefix, resync_entry, &r, &rev, &err);
    if (rc == FX_OK) {
        for (size_t i = 0; i < w->nknown;) {
            int seen = 0;
            for (size_t j = 0; j < r.n && !seen; j++)
                seen = strcmp(r.seen[j], w->known[i]) == 0;
            if (seen) {
                i++;
                continue;
            }
            char *key = fx_strdup(w->known[i]);
            fx_kv_entry_t en = {key, NULL, 0, rev, 1};
            deliver(w, &en); /* removes known[i] */
            free(key);
        }
        w->next_rev = rev + 1;
    }
    for (size_t j = 0; j < r.n; j++)
        free(r.seen[j]);
    free(r.seen);
    return rc;
}

static void handle_line(etcd_watch_t *w, const char *line, size_t n)
{
    json_error_t jerr;
    json_t *j = json_loadb(line, n, 0, &jerr);
    json_t *res = json_object_get(j, "result");
    if (!res) {
        if (json_object_get(j, "error"))
            w->failed = 1;
        json_decref(j);
        return;
    }
    if (jint(json_object_get(res, "compact_revision")) > 0 || json_is_true(json_object_get(res, "canceled")))
        w->failed = 1; /* history gone: the next loop resyncs */
    json_t *events = json_object_get(res, "events");
    fx_buf_t k = FX_BUF_INIT, v = FX_BUF_INIT;
    for (size_t i = 0; json_is_array(events) && i < json_array_size(events); i++) {
        json_t *ev = json_array_get(events, i);
        fx_kv_entry_t en;
        if (decode_kv(json_object_get(ev, "kv"), &k, &v, &en) < 0)
            continue;
        json_t *type = json_object_get(ev, "type");
        en.deleted = json_is_string(type) && strcmp(json_string_value(type), "DELETE") == 0;
        if (en.version >= w->next_rev)
            w->next_rev = en.version + 1;
        deliver(w, &en);
    }
    fx_buf_free(&k);
    fx_buf_free(&v);
    json_decref(j);
}

static size_t watch_body(char *p, size_t size, size_t n, void *ctx)
{
    etcd_watch_t *w = ctx;
    fx_buf_append(&w->line, p, size * n);
    for (;;) {
        uint8_t *nl = memchr(w->line.data, '\n', w->line.len);
        if (!nl)
            break;
        size_t len = (size_t)(nl - w->line.data);
        handle_line(w, (const char *)w->line.data, len);
        memmove(w->line.data, nl + 1, w->line.len - len - 1);
        w->line.len -= len + 1;
    }
    return w->kv->closing || w->failed ? 0 : size * n; /* 0 aborts the transfer */
}

static int watch_progress(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    etcd_watch_t *w = ctx;
    (void)a, (void)b, (void)c, (void)d;
    return w->kv->closing ? 1 : 0;
}

/* The stream's socket is ours to open and close, so that etcd_close can
 * shut it down and end a stream that would otherwise sit idle in poll(). */
static curl_socket_t watch_open_socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *a)
{
    etcd_watch_t *w = ctx;
    (void)purpose;
    curl_socket_t fd = socket(a->family, a->socktype, a->protocol);
    pthread_mutex_lock(&w->sock_mu);
    if (w->kv->closing && fd != CURL_SOCKET_BAD) {
        close(fd);
        fd = CURL_SOCKET_BAD;
    }
    w->sock = fd;
    pthread_mutex_unlock(&w->sock_mu);
    return fd;
}

static int watch_close_socket(void *ctx, curl_socket_t fd)
{
    etcd_watch_t *w = ctx;
    pthread_mutex_lock(&w->sock_mu);
    if (w->sock == fd)
        w->sock = CURL_SOCKET_BAD;
    close(fd);
    pthread_mutex_unlock(&w->sock_mu);
    return 0;
}

static void *watch_loop(void *arg)
{
    etcd_watch_t *w = arg;
    int backoff_ms = 100;
    while (!w->kv->closing) {
        if (resync(w) != FX_OK) {
            for (int t = 0; t < backoff_ms && !w->kv->closing; t += 50)
                usleep(50000);
            backoff_ms = backoff_ms < 2000 ? backoff_ms * 2 : 2000;
            continue;
        }
        backoff_ms = 100;
        fx_buf_t body = FX_BUF_INIT, end = FX_BUF_INIT;
        prefix_end(w->prefix, &end);
        fx_buf_puts(&body, "{\"create_request\":{");
        json_b64(&body, "key", w->prefix, strlen(w->prefix));
        fx_buf_putc(&body, ',');
        json_b64(&body, "range_end", end.data, end.len);
        fx_buf_printf(&body, ",\"start_revision\":\"%lld\"}}", (long long)w->next_rev);
        pthread_mutex_lock(&w->kv->mu);
        char url[512];
        snprintf(url, sizeof url, "%s/v3/watch", w->kv->endpoints[w->kv->current]);
        pthread_mutex_unlock(&w->kv->mu);
        CURL *c = curl_easy_init();
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)body.data);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body.len);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, watch_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, w);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, watch_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, w);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)w->kv->timeout_ms);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_PROXY, "");
        /* etcd sends progress notifications rarely; detect a dead peer by
         * TCP keepalive instead of a read timeout. */
        curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 5L);
        curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 2L);
        curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, watch_open_socket);
        curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, w);
        curl_easy_setopt(c, CURLOPT_CLOSESOCKETFUNCTION, watch_close_socket);
        curl_easy_setopt(c, CURLOPT_CLOSESOCKETDATA, w);
        w->failed = 0;
        w->line.len = 0;
        curl_easy_perform(c);
        if (!w->kv->closing)
            mark(w->kv, 0); /* the stream broke: treat the store as away until a resync works */
        curl_easy_cleanup(c);
        fx_buf_free(&body);
        fx_buf_free(&end);
        if (!w->kv->closing) {
            fx_log_warn("etcd watch interrupted, resyncing", "prefix=%s", fx_q(w->prefix));
            usleep(200000);
        }
    }
    return NULL;
}

static int etcd_watch(fx_kv_t *kv, const char *prefix, fx_kv_list_fn fn, void *ctx, fx_err_t *err)
{
    etcd_kv_t *e = (etcd_kv_t *)kv;
    etcd_watch_t *w = fx_calloc(1, sizeof *w);
    (void)err;
    w->kv = e;
    w->prefix = fx_strdup(prefix);
    w->fn = fn;
    w->ctx = ctx;
    w->sock = CURL_SOCKET_BAD;
    pthread_mutex_init(&w->sock_mu, NULL);
    pthread_mutex_lock(&e->mu);
    w->next = e->watches;
    e->watches = w;
    pthread_mutex_unlock(&e->mu);
    pthread_create(&w->thread, NULL, watch_loop, w);
    return FX_OK;
}

static void etcd_close(fx_kv_t *kv)
{
    etcd_kv_t *e = (etcd_kv_t *)kv;
    e->closing = 1;
    /* Wake the streams now rather than at their next progress callback. */
    for (etcd_watch_t *w = e->watches; w; w = w->next) {
        pthread_mutex_lock(&w->sock_mu);
        if (w->sock != CURL_SOCKET_BAD)
            shutdown(w->sock, SHUT_RDWR);
        pthread_mutex_unlock(&w->sock_mu);
    }
    for (etcd_watch_t *w = e->watches, *next; w; w = next) {
        next = w->next;
        pthread_join(w->thread, NULL);
        pthread_mutex_destroy(&w->sock_mu);
        for (size_t i = 0; i < w->nknown; i++)
            free(w->known[i]);
        free(w->known);
        free(w->prefix);
        fx_buf_free(&w->line);
        free(w);
    }
    for (size_t i = 0; i < e->nendpoints; i++)
        free(e->endpoints[i]);
    free(e->endpoints);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

static int64_t etcd_unreachable_since(fx_kv_t *kv)
{
    return ((etcd_kv_t *)kv)->down_since;
}

static void etcd_last_outage(fx_kv_t *kv, int64_t *start_ms, int64_t *end_ms)
{
    etcd_kv_t *e = (etcd_kv_t *)kv;
    uint64_t gen;
    do {
        gen = atomic_load(&e->outage_gen);
        *start_ms = atomic_load(&e->outage_start);
        *end_ms = atomic_load(&e->outage_end);
    } while ((gen & 1) || gen != atomic_load(&e->outage_gen));
}

static const fx_kv_ops_t etcd_ops = {etcd_get,   etcd_list,  etcd_cas,
                                     etcd_del,   etcd_watch, etcd_close,
                                     etcd_unreachable_since, etcd_last_outage};

fx_kv_t *fx_kv_etcd_new(const char *const *endpoints, size_t n, int64_t timeout_ms, fx_err_t *err)
{
    if (n == 0) {
        fx_err_set(err, FX_EINVAL, "etcd: no endpoints configured (-ring.etcd.endpoints)");
        return NULL;
    }
    pthread_once(&curl_once, curl_init_once);
    etcd_kv_t *e = fx_calloc(1, sizeof *e);
    e->base.ops = &etcd_ops;
    e->base.name = "etcd";
    e->endpoints = fx_calloc(n, sizeof *e->endpoints);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(endpoints[i]) + 8;
        e->endpoints[i] = fx_malloc(len);
        if (strncmp(endpoints[i], "http://", 7) == 0 || strncmp(endpoints[i], "https://", 8) == 0)
            snprintf(e->endpoints[i], len, "%s", endpoints[i]);
        else
            snprintf(e->endpoints[i], len, "http://%s", endpoints[i]);
    }
    e->nendpoints = n;
    e->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    pthread_mutex_init(&e->mu, NULL);
    return &e->base;
}
