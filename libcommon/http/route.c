/*
 * route.c - the route table: exact paths by binary search, then prefixes
 * longest first. A service registers a few dozen routes, so a sorted array
 * beats a trie here, and the table is read-only once sealed (no locks).
 */
#include "http/server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int methods_overlap(unsigned a, unsigned b)
{
    return a == 0 || b == 0 || (a & b) != 0;
}

/* GET routes answer HEAD too. */
static int method_ok(unsigned methods, unsigned bit)
{
    if (methods == 0 || (methods & bit))
        return 1;
    return bit == FX_HTTP_HEAD && (methods & FX_HTTP_GET);
}

int fx__http_routes_add(fx__http_routes_t *t, const char *path, unsigned methods, unsigned flags,
                        fx_http_handler_fn fn, void *ctx, fx_err_t *err)
{
    if (!path || path[0] != '/')
        return fx_err_set(err, FX_EINVAL, "route path \"%s\" must start with '/'",
                          path ? path : "(null)");
    int prefix = (flags & FX_HTTP_PREFIX) != 0;
    for (size_t i = 0; i < t->n; i++) {
        const fx__http_route_t *r = &t->v[i];
        if (((r->flags & FX_HTTP_PREFIX) != 0) == prefix && strcmp(r->path, path) == 0 &&
            methods_overlap(r->methods, methods))
            return fx_err_set(err, FX_EEXIST, "route %s%s is already registered", path,
                              prefix ? "*" : "");
    }
    FX_GROW(t->v, t->cap, t->n + 1);
    fx__http_route_t *r = &t->v[t->n++];
    r->path = fx_strdup(path);
    r->len = strlen(path);
    r->methods = methods;
    r->flags = flags;
    r->fn = fn;
    r->ctx = ctx;
    return FX_OK;
}

static int route_cmp(const void *pa, const void *pb)
{
    const fx__http_route_t *a = pa, *b = pb;
    int ap = (a->flags & FX_HTTP_PREFIX) != 0, bp = (b->flags & FX_HTTP_PREFIX) != 0;
    if (ap != bp)
        return ap - bp; /* exact routes first */
    if (ap && a->len != b->len)
        return a->len > b->len ? -1 : 1; /* longest prefix first */
    return strcmp(a->path, b->path);
}

void fx__http_routes_seal(fx__http_routes_t *t)
{
    if (t->n)
        qsort(t->v, t->n, sizeof *t->v, route_cmp);
    t->nexact = 0;
    while (t->nexact < t->n && !(t->v[t->nexact].flags & FX_HTTP_PREFIX))
        t->nexact++;
}

/* Picks the route for method among v[lo..hi), which share one path. */
static fx__http_match_t pick(const fx__http_route_t *v, size_t lo, size_t hi, unsigned bit)
{
    fx__http_match_t m = {NULL, 0};
    for (size_t i = lo; i < hi; i++) {
        if (method_ok(v[i].methods, bit)) {
            m.route = &v[i];
            return m;
        }
        m.allow |= v[i].methods;
    }
    return m;
}

fx__http_match_t fx__http_routes_find(const fx__http_routes_t *t, const char *path,
                                      unsigned method_bit)
{
    fx__http_match_t none = {NULL, 0};

    /* Exact: lower bound of path, then the run of equal paths. */
    size_t lo = 0, hi = t->nexact;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(t->v[mid].path, path) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < t->nexact && strcmp(t->v[end].path, path) == 0)
        end++;
    if (end > lo)
        return pick(t->v, lo, end, method_bit);

    for (size_t i = t->nexact; i < t->n;) {
        const fx__http_route_t *r = &t->v[i];
        size_t j = i + 1;
        while (j < t->n && t->v[j].len == r->len && strcmp(t->v[j].path, r->path) == 0)
            j++;
        if (strncmp(path, r->path, r->len) == 0)
            return pick(t->v, i, j, method_bit);
        i = j;
    }
    return none;
}

void fx__http_routes_free(fx__http_routes_t *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].path);
    free(t->v);
    memset(t, 0, sizeof *t);
}

void fx__http_allow_str(unsigned methods, char *buf, size_t len)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        {FX_HTTP_DELETE, "DELETE"}, {FX_HTTP_GET, "GET"},     {FX_HTTP_HEAD, "HEAD"},
        {FX_HTTP_OPTIONS, "OPTIONS"}, {FX_HTTP_PATCH, "PATCH"}, {FX_HTTP_POST, "POST"},
        {FX_HTTP_PUT, "PUT"},
    };
    size_t o = 0;
    if (methods & FX_HTTP_GET)
        methods |= FX_HTTP_HEAD;
    buf[0] = 0;
    for (size_t i = 0; i < FX_ARRAY_LEN(names); i++) {
        if (!(methods & names[i].bit) || o >= len)
            continue;
        int n = snprintf(buf + o, len - o, "%s%s", o ? ", " : "", names[i].name);
        if (n > 0)
            o += (size_t)n;
    }
}
