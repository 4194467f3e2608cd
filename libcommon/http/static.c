/* static.c - an index over an embedded file table, and the GET handler. */
#include "http/static.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/gz.h"
#include "core/hash.h"

typedef struct entry {
    const fx_static_file_t *file;
    const char *ctype;
    char etag[20];        /* "\"" + 16 hex + "\"" */
    uint8_t *gz;          /* gzip copy or NULL */
    size_t gz_len;
} entry_t;

typedef struct index {
    char *prefix;
    size_t prefix_len;
    unsigned flags;
    entry_t *e;           /* sorted by path */
    size_t n;
    const entry_t *root;  /* /index.html or NULL */
} index_t;

const char *fx_static_content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {"html", "text/html; charset=utf-8"},   {"htm", "text/html; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"}, {"mjs", "text/javascript; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},     {"json", "application/json"},
        {"map", "application/json"},            {"svg", "image/svg+xml"},
        {"png", "image/png"},                   {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},                 {"gif", "image/gif"},
        {"webp", "image/webp"},                 {"ico", "image/x-icon"},
        {"woff", "font/woff"},                  {"woff2", "font/woff2"},
        {"ttf", "font/ttf"},                    {"txt", "text/plain; charset=utf-8"},
        {"wasm", "application/wasm"},           {"xml", "application/xml"},
    };
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    if (dot)
        for (size_t i = 0; i < FX_ARRAY_LEN(types); i++)
            if (strcasecmp(dot + 1, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

static int compressible(const char *ctype)
{
    return strncmp(ctype, "text/", 5) == 0 || strstr(ctype, "json") || strstr(ctype, "xml") ||
           strstr(ctype, "svg") || strstr(ctype, "wasm") || strcmp(ctype, "image/x-icon") == 0 ||
           strcmp(ctype, "font/ttf") == 0;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const entry_t *)a)->file->path, ((const entry_t *)b)->file->path);
}

static int cmp_path(const void *path, const void *e)
{
    return strcmp(path, ((const entry_t *)e)->file->path);
}

static const entry_t *find(const index_t *ix, const char *path)
{
    int found;
    size_t i = fx_lower_bound(path, ix->e, ix->n, sizeof *ix->e, cmp_path, &found);
    return found ? &ix->e[i] : NULL;
}

static void index_free(void *p)
{
    index_t *ix = p;
    for (size_t i = 0; i < ix->n; i++)
        free(ix->e[i].gz);
    free(ix->e);
    free(ix->prefix);
    free(ix);
}

/* Does an If-None-Match value list etag (or "*")? */
static int etag_matches(const char *inm, const char *etag)
{
    size_t el = strlen(etag);
    for (const char *p = inm; *p;) {
        p += strspn(p, " \t,");
        if (!*p)
            break;
        if (p[0] == '*')
            return 1;
        if (p[0] == 'W' && p[1] == '/')
            p += 2; /* weak comparison, as RFC 9110 asks for If-None-Match */
        if (strncmp(p, etag, el) == 0 && (p[el] == 0 || p[el] == ',' || p[el] == ' '))
            return 1;
        p += strcspn(p, ",");
    }
    return 0;
}

static void serve(fx_http_req_t *req, void *ctx)
{
    const index_t *ix = ctx;
    const char *rel = req->path + ix->prefix_len - 1; /* keep the '/' */
    const entry_t *e;

    if (strcmp(rel, "/") == 0)
        e = ix->root;
    else
        e = find(ix, rel);
    if (!e && (ix->flags & FX_STATIC_SPA_FALLBACK) && !strchr(strrchr(rel, '/'), '.'))
        e = ix->root;
    if (!e) {
        fx_http_reply_error(req, FX_ENOTFOUND, "no such file: %s", req->path);
        return;
    }

    fx_http_add_header(req, "ETag", e->etag);
    fx_http_add_header(req, "Cache-Control",
                       strncmp(e->ctype, "text/html", 9) == 0 ? "no-cache" : "public, max-age=3600");
    const char *inm = fx_http_req_header(req, "If-None-Match");
    if (inm && etag_matches(inm, e->etag)) {
        fx_http_reply_static(req, 304, NULL, NULL, 0);
        return;
    }
    if (e->gz) {
        fx_http_add_header(req, "Vary", "Accept-Encoding");
        if (fx_http_req_accepts_gzip(req)) {
            fx_http_add_header(req, "Content-Encoding", "gzip");
            fx_http_reply_static(req, 200, e->ctype, e->gz, e->gz_len);
            return;
        }
    }
    fx_http_reply_static(req, 200, e->ctype, e->file->data, e->file->len);
}

int fx_static_mount(fx_http_server_t *srv, const char *prefix, const fx_static_file_t *files,
                    unsigned flags, fx_err_t *err)
{
    size_t pl = prefix ? strlen(prefix) : 0;
    if (pl == 0 || prefix[0] != '/' || prefix[pl - 1] != '/')
        return fx_err_set(err, FX_EINVAL, "static prefix \"%s\" must start and end with '/'",
                          prefix ? prefix : "");
    index_t *ix = fx_calloc(1, sizeof *ix);
    ix->prefix = fx_strdup(prefix);
    ix->prefix_len = pl;
    ix->flags = flags;
    while (files[ix->n].path)
        ix->n++;
    ix->e = fx_calloc(ix->n ? ix->n : 1, sizeof *ix->e);
    for (size_t i = 0; i < ix->n; i++) {
        entry_t *e = &ix->e[i];
        const fx_static_file_t *f = &files[i];
        FX_ASSERT(f->path[0] == '/');
        e->file = f;
        e->ctype = fx_static_content_type(f->path);
        snprintf(e->etag, sizeof e->etag, "\"%016llx\"",
                 (unsigned long long)fx_hash64(f->data, f->len, 0x46584549));
        if (f->len > FX_HTTP_GZIP_MIN_BYTES && compressible(e->ctype)) {
            fx_buf_t gz = FX_BUF_INIT;
            fx_gzip(f->data, f->len, 9, &gz); /* once per process: spend the CPU */
            if (gz.len < f->len)
                e->gz = fx_buf_steal(&gz, &e->gz_len);
            else
                fx_buf_free(&gz);
        }
    }
    qsort(ix->e, ix->n, sizeof *ix->e, entry_cmp);
    ix->root = find(ix, "/index.html");

    int rc = fx_http_route(srv, prefix, FX_HTTP_GET, FX_HTTP_PREFIX, serve, ix, err);
    if (rc != FX_OK) {
        index_free(ix);
        return rc;
    }
    fx_http_server_attach(srv, ix, index_free);
    return FX_OK;
}
