/*
 * scan.c - one tenant's blocks as the bucket holds them: a single recursive
 * listing of "<tenant>/" grouped by block prefix (which objects exist, their
 * ages and sizes), and the blocks' meta.json, parsed once and cached.
 */
#include "internal.h"
#include "log/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cp__tenant_free(cp__tenant_t *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].objs);
    free(t->v);
    fx_arena_free(&t->arena);
    memset(t, 0, sizeof *t);
}

cp__bstate_t *cp__tenant_add(cp__tenant_t *t, const char *id)
{
    fx_grow((void **)&t->v, &t->cap, t->n + 1, sizeof *t->v);
    cp__bstate_t *s = &t->v[t->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->id, sizeof s->id, "%s", id);
    return s;
}

typedef struct scan_ctx {
    cp__tenant_t *t;
    size_t prefix_len;
} scan_ctx_t;

static int on_object(const fx_obj_entry_t *e, void *ctx)
{
    scan_ctx_t *sc = ctx;
    cp__tenant_t *t = sc->t;
    const char *rest = e->key + sc->prefix_len, *slash = strchr(rest, '/');
    char id[FX_BLOCK_ULID_LEN + 1];
    /* Only "<ULID>/<name>": anything else is not ours to judge or delete. */
    if (e->is_prefix || !slash || slash - rest != FX_BLOCK_ULID_LEN || !slash[1])
        return FX_OK;
    memcpy(id, rest, FX_BLOCK_ULID_LEN);
    id[FX_BLOCK_ULID_LEN] = 0;
    if (!fx_block_ulid_valid(id))
        return FX_OK;
    /* Keys arrive in order, so a block's objects are consecutive. */
    cp__bstate_t *s = t->n && strcmp(t->v[t->n - 1].id, id) == 0 ? &t->v[t->n - 1]
                                                                 : cp__tenant_add(t, id);
    const char *name = slash + 1;
    fx_grow((void **)&s->objs, &s->capobjs, s->nobjs + 1, sizeof *s->objs);
    cp__obj_t *o = &s->objs[s->nobjs++];
    o->name = fx_arena_strdup(&t->arena, name);
    o->size = e->size;
    o->mtime_ms = e->mtime_ms;
    s->bytes += e->size;
    s->newest_mtime = FX_MAX(s->newest_mtime, e->mtime_ms);
    if (strcmp(name, CP_META) == 0) {
        s->has_meta = true;
        s->meta_mtime = e->mtime_ms;
    } else if (strcmp(name, CP_DELETION_MARK) == 0) {
        s->has_mark = true;
        s->mark_mtime = e->mtime_ms;
    } else if (strcmp(name, CP_CORRUPTED_MARK) == 0) {
        s->has_corrupt = true;
    }
    return FX_OK;
}

int cp__scan(cp_t *c, const char *tenant, cp__tenant_t *t, fx_err_t *err)
{
    char prefix[FX_BUCKET_KEY_MAX + 1];
    memset(t, 0, sizeof *t);
    fx_arena_init(&t->arena);
    t->id = fx_arena_strdup(&t->arena, tenant);
    snprintf(prefix, sizeof prefix, "%s/", tenant);
    scan_ctx_t sc = {t, strlen(prefix)};
    return fx_bucket_list(c->bkt, prefix, "", on_object, &sc, err);
}

/* --- the meta cache ---------------------------------------------------------------- */

static int cmp_key(const void *k, const void *e)
{
    return strcmp(k, (*(cp__cached_t *const *)e)->key);
}

static cp__cached_t *cache_find(cp_t *c, const char *key, size_t *at)
{
    int found;
    *at = fx_lower_bound(key, c->cache, c->ncache, sizeof *c->cache, cmp_key, &found);
    return found ? c->cache[*at] : NULL;
}

static cp__cached_t *cache_insert(cp_t *c, const char *key, size_t at, fx_block_meta_t *m)
{
    fx_grow((void **)&c->cache, &c->capcache, c->ncache + 1, sizeof *c->cache);
    memmove(c->cache + at + 1, c->cache + at, (c->ncache - at) * sizeof *c->cache);
    cp__cached_t *e = fx_calloc(1, sizeof *e);
    e->key = fx_strdup(key);
    e->meta = *m;
    memset(m, 0, sizeof *m);
    e->seen = c->epoch;
    c->cache[at] = e;
    c->ncache++;
    return e;
}

const fx_block_meta_t *cp__cache_put(cp_t *c, const char *tenant, fx_block_meta_t *m)
{
    char key[FX_BUCKET_KEY_MAX + 1];
    size_t at;
    snprintf(key, sizeof key, "%s/%s", tenant, m->id);
    cp__cached_t *e = cache_find(c, key, &at);
    if (e) {
        fx_block_meta_free(m);
        return &e->meta;
    }
    return &cache_insert(c, key, at, m)->meta;
}

void cp__cache_prune(cp_t *c, uint64_t epoch)
{
    size_t k = 0;
    for (size_t i = 0; i < c->ncache; i++) {
        if (c->cache[i]->seen >= epoch) {
            c->cache[k++] = c->cache[i];
            continue;
        }
        fx_block_meta_free(&c->cache[i]->meta);
        free(c->cache[i]->key);
        free(c->cache[i]);
    }
    c->ncache = k;
}

int cp__load_meta(cp_t *c, const char *tenant, cp__bstate_t *s, fx_err_t *err)
{
    char key[FX_BUCKET_KEY_MAX + 1];
    size_t at;
    snprintf(key, sizeof key, "%s/%s", tenant, s->id);
    cp__cached_t *e = cache_find(c, key, &at);
    if (e) {
        e->seen = c->epoch;
        s->meta = &e->meta;
        return FX_OK;
    }
    fx_buf_t body = FX_BUF_INIT;
    fx_block_meta_t m;
    memset(&m, 0, sizeof m);
    snprintf(key, sizeof key, "%s/%s/%s", tenant, s->id, CP_META);
    int rc = fx_bucket_get(c->bkt, key, &body, err);
    if (rc == FX_OK && (rc = fx_block_meta_parse(body.data, body.len, &m, err)) == FX_OK &&
        (strcmp(m.id, s->id) != 0 || strcmp(m.tenant, tenant) != 0))
        rc = fx_err_set(err, FX_ECORRUPT,
                        "meta.json: names block %s of tenant \"%s\" but is stored as %s", m.id,
                        m.tenant, key);
    if (rc == FX_OK) {
        snprintf(key, sizeof key, "%s/%s", tenant, s->id);
        s->meta = &cache_insert(c, key, at, &m)->meta;
    }
    fx_block_meta_free(&m);
    fx_buf_free(&body);
    return rc;
}
