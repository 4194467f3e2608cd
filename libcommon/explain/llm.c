/*
 * llm.c - configuration and the HTTP exchange of the language-model engine (libcurl).
 *
 * libcurl is used because it is the outbound HTTPS client Fornax already depends on (design
 * §9): certificate and host verification against the system CA store, timeouts, and proxies
 * configured the usual way (https_proxy). The request is one blocking POST.
 */
#include "explain/llm.h"
#include "log/log.h"

#include <curl/curl.h>
#include <jansson.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_TIMEOUT_MS (10 * 60 * 1000)
#define MAX_KEY 8192

void fx_explain_llm_config_defaults(fx_explain_llm_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->model = FX_EXPLAIN_LLM_DEFAULT_MODEL;
    c->timeout_ms = FX_EXPLAIN_LLM_DEFAULT_TIMEOUT_MS;
}

int fx_explain_llm_enabled(const fx_explain_llm_config_t *c)
{
    return c && c->base_url && *c->base_url;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ready;

static void curl_init(void)
{
    curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static int is_loopback(const char *host)
{
    return strcasecmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
           strcmp(host, "[::1]") == 0 || strcmp(host, "::1") == 0;
}

int fx_explain_llm_config_check(const fx_explain_llm_config_t *c, fx_err_t *err)
{
    if (!fx_explain_llm_enabled(c))
        return FX_OK;
    pthread_once(&curl_once, curl_init);
    int rc = FX_OK;
    char *scheme = NULL, *host = NULL;
    CURLU *u = curl_url();
    if (!u || curl_url_set(u, CURLUPART_URL, c->base_url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        rc = fx_err_set(err, FX_EINVAL, "explain.llm.base-url \"%s\" is not a URL", c->base_url);
        goto out;
    }
    if (strcasecmp(scheme, "https") != 0 && strcasecmp(scheme, "http") != 0) {
        rc = fx_err_set(err, FX_EINVAL, "explain.llm.base-url must be https:// (got %s://)",
                        scheme);
        goto out;
    }
    if (strcasecmp(scheme, "http") == 0 && !is_loopback(host)) {
        rc = fx_err_set(err, FX_EINVAL,
                        "explain.llm.base-url: plain http is only allowed to a loopback host "
                        "(the API key and profile data would cross the network unencrypted); "
                        "use https://%s",
                        host);
        goto out;
    }
    if (!c->model || !*c->model) {
        rc = fx_err_set(err, FX_EINVAL, "explain.llm.model must not be empty");
        goto out;
    }
    if (c->timeout_ms <= 0 || c->timeout_ms > MAX_TIMEOUT_MS) {
        rc = fx_err_set(err, FX_EINVAL, "explain.llm.timeout must be between 1ms and 10m");
        goto out;
    }
out:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

/* Reads the key file (at each use, so a rotated key is picked up). The key never appears in
 * an error message or log line. */
static int read_key(const char *path, char *key, size_t cap, fx_err_t *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return fx_err_set(err, FX_EUNAVAIL, "cannot read the API key file %s: %s", path,
                          strerror(errno));
    size_t n = fread(key, 1, cap - 1, fp);
    int big = n == cap - 1 && fgetc(fp) != EOF;
    fclose(fp);
    if (big)
        return fx_err_set(err, FX_EUNAVAIL, "the API key file %s is larger than %zu bytes", path,
                          cap - 1);
    while (n && (key[n - 1] == '\n' || key[n - 1] == '\r' || key[n - 1] == ' ' ||
                 key[n - 1] == '\t'))
        n--;
    key[n] = 0;
    size_t lead = strspn(key, " \t\r\n");
    memmove(key, key + lead, n - lead + 1);
    if (!*key)
        return fx_err_set(err, FX_EUNAVAIL, "the API key file %s is empty", path);
    for (const char *p = key; *p; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
            return fx_err_set(err, FX_EUNAVAIL,
                              "the API key file %s holds more than one token or control bytes",
                              path);
    return FX_OK;
}

typedef struct reply {
    fx_buf_t body;
    int too_big;
} reply_t;

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    reply_t *r = ud;
    size_t n = size * nmemb;
    if (r->body.len + n > FX_EXPLAIN_LLM_MAX_REPLY) {
        r->too_big = 1;
        return 0; /* makes curl fail the transfer */
    }
    fx_buf_append(&r->body, p, n);
    return n;
}

static void endpoint(const char *base, fx_buf_t *url)
{
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    fx_buf_append(url, base, n);
    /* "https://api.openai.com" and "https://api.openai.com/v1" both work */
    if (n >= 3 && memcmp(base + n - 3, "/v1", 3) == 0)
        fx_buf_puts(url, "/chat/completions");
    else
        fx_buf_puts(url, "/v1/chat/completions");
}

/* The error message of a non-2xx answer, if it is OpenAI-shaped JSON
 * ({"error": {"message": "..."}} or {"error": "..."}); control bytes become spaces. */
static void error_detail(const fx_buf_t *body, char *out, size_t cap)
{
    out[0] = 0;
    json_t *root = json_loadb((const char *)body->data, body->len, 0, NULL);
    json_t *e = json_object_get(root, "error");
    const char *msg = json_is_string(e) ? json_string_value(e)
                                        : json_string_value(json_object_get(e, "message"));
    size_t i = 0;
    for (; msg && msg[i] && i + 1 < cap; i++)
        out[i] = (char)((unsigned char)msg[i] < 0x20 ? ' ' : msg[i]);
    out[i] = 0;
    json_decref(root);
}

int fx_explain_llm_ask(const fx_explain_llm_config_t *c, const fx_tree_t *t0, const fx_tree_t *t1,
                       const fx_explain_findings_t *f, fx_arena_t *a, fx_explain_answer_t *ans,
                       fx_err_t *err)
{
    if (!fx_explain_llm_enabled(c))
        return fx_err_set(err, FX_EPRECOND, "no language model is configured");
    pthread_once(&curl_once, curl_init);
    if (!curl_ready)
        return fx_err_set(err, FX_EINTERNAL, "libcurl failed to initialise");
    int rc = fx_explain_llm_config_check(c, err);
    if (rc != FX_OK)
        return rc;

    fx_buf_t url = FX_BUF_INIT, req = FX_BUF_INIT, auth = FX_BUF_INIT;
    reply_t reply = {FX_BUF_INIT, 0};
    struct curl_slist *headers = NULL;
    char key[MAX_KEY];
    char curl_err[CURL_ERROR_SIZE] = "";
    CURL *h = NULL;
    key[0] = 0;

    if (c->api_key_file && *c->api_key_file) {
        rc = read_key(c->api_key_file, key, sizeof key, err);
        if (rc != FX_OK)
            goto out;
        fx_buf_puts(&auth, "Authorization: Bearer ");
        fx_buf_puts(&auth, key);
        headers = curl_slist_append(headers, fx_buf_cstr(&auth));
    }
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Accept: application/json");
    endpoint(c->base_url, &url);
    fx_explain_llm_build_request(c, t0, t1, f, &req);

    h = curl_easy_init();
    if (!h || !headers) {
        rc = fx_err_set(err, FX_EINTERNAL, "libcurl could not create a request");
        goto out;
    }
    curl_easy_setopt(h, CURLOPT_URL, fx_buf_cstr(&url));
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(c->timeout_ms < 10000 ? c->timeout_ms : 10000));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)req.data);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req.len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "fornax-explain");
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");

    CURLcode cc = curl_easy_perform(h);
    if (cc == CURLE_OPERATION_TIMEDOUT) {
        rc = fx_err_set(err, FX_EDEADLINE, "the language model did not answer within %lld ms",
                        (long long)c->timeout_ms);
        goto out;
    }
    if (reply.too_big) {
        rc = fx_err_set(err, FX_ETOOBIG, "the language model's reply is larger than %u bytes",
                        FX_EXPLAIN_LLM_MAX_REPLY);
        goto out;
    }
    if (cc != CURLE_OK) {
        rc = fx_err_set(err, FX_EUNAVAIL, "request to the language model failed: %s",
                        curl_err[0] ? curl_err : curl_easy_strerror(cc));
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        char detail[201];
        error_detail(&reply.body, detail, sizeof detail);
        rc = fx_err_set(err, FX_EUNAVAIL, "the language model endpoint answered HTTP %ld%s%s",
                        status, detail[0] ? ": " : "", detail);
        goto out;
    }
    rc = fx_explain_llm_parse_reply((const char *)reply.body.data, reply.body.len, a, ans, err);
out:
    if (h)
        curl_easy_cleanup(h);
    curl_slist_free_all(headers);
    /* the key is a secret: do not leave it in freed heap or on the stack */
    explicit_bzero(key, sizeof key);
    if (auth.data)
        explicit_bzero(auth.data, auth.cap);
    fx_buf_free(&auth);
    fx_buf_free(&url);
    fx_buf_free(&req);
    fx_buf_free(&reply.body);
    if (rc != FX_OK)
        fx_log_warn("explain: language model not used", "reason=%s",
                    fx_q(err ? err->msg : "error"));
    return rc;
}
