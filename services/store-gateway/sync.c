/*
 * sync.c - keeping the open blocks in line with the bucket and the ring.
 *
 * A sync lists the bucket (tenants, then every object of each tenant in one
 * listing), keeps the blocks that are visible (meta.json present, no
 * deletion-mark.json or corrupted.json, not among the sources of another
 * visible block), and reconciles: blocks this gateway owns on the ring are
 * opened, blocks it no longer owns (or that disappeared) are dropped. Parsed
 * meta.json files are kept from one listing to the next, so a sync fetches
 * only the new blocks' metas.
 *
 * Opening a block (cache source) downloads its sections into
 * <sync-dir>/<tenant>/.tmp-<id>, renames the directory into place and opens
 * it with every checksum verified; a copy found on disk at start is reused
 * without downloading. A checksum failure is read again from the bucket
 * once; failing twice, the block is corrupted in the bucket: it gets a
 * corrupted.json mark (docs/bucket-layout.md) and is never retried.
 */
#include "sg_int.h"
#include "core/fs.h"
#include "core/mem.h"
#include "core/time.h"
#include "log/log.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- listing ------------------------------------------------------------------- */

typedef struct raw {
    char id[FX_BLOCK_ULID_LEN + 1];
    bool meta, deleted, corrupted;
} raw_t;

typedef struct tenant_ctx {
    size_t plen; /* length of "tenant/" */
    raw_t *v;
    size_t n, cap;
} tenant_ctx_t;

static int on_object(const fx_obj_entry_t *e, void *arg)
{
    tenant_ctx_t *c = arg;
    const char *id = e->key + c->plen, *slash = strchr(id, '/');
    if (e->is_prefix || !slash || slash - id != FX_BLOCK_ULID_LEN)
        return FX_OK;
    char ulid[FX_BLOCK_ULID_LEN + 1];
    memcpy(ulid, id, FX_BLOCK_ULID_LEN);
    ulid[FX_BLOCK_ULID_LEN] = 0;
    if (!fx_block_ulid_valid(ulid))
        return FX_OK;
    /* Keys come in order, so a block's objects are consecutive. */
    if (!c->n || strcmp(c->v[c->n - 1].id, ulid) != 0) {
        FX_GROW(c->v, c->cap, c->n + 1);
        memset(&c->v[c->n], 0, sizeof c->v[c->n]);
        memcpy(c->v[c->n].id, ulid, sizeof ulid);
        c->n++;
    }
    raw_t *r = &c->v[c->n - 1];
    const char *file = slash + 1;
    if (!strcmp(file, "meta.json"))
        r->meta = true;
    else if (!strcmp(file, "deletion-mark.json"))
        r->deleted = true;
    else if (!strcmp(file, "corrupted.json"))
        r->corrupted = true;
    return FX_OK;
}

typedef struct names {
    char **v;
    size_t n, cap;
} names_t;

static int on_tenant(const fx_obj_entry_t *e, void *arg)
{
    names_t *t = arg;
    size_t len = strlen(e->key);
    /* Tenant ids never start with '@' (the bucket's own temporary files). */
    if (!e->is_prefix || len < 2 || e->key[0] == '@' || e->key[0] == '.')
        return FX_OK;
    FX_GROW(t->v, t->cap, t->n + 1);
    t->v[t->n++] = fx_strndup(e->key, len - 1);
    return FX_OK;
}

static int cmp_listed(const void *x, const void *y)
{
    const sg_listed_t *a = x, *b = y;
    int c = strcmp(a->tenant, b->tenant);
    return c ? c : strcmp(a->id, b->id);
}

static sg_listed_t *find_listed(sg_listed_t *v, size_t n, const char *tenant, const char *id)
{
    sg_listed_t key;
    memcpy(key.id, id, sizeof key.id);
    key.tenant = (char *)tenant;
    return n ? bsearch(&key, v, n, sizeof *v, cmp_listed) : NULL;
}

static int in_list(char (*v)[FX_BLOCK_ULID_LEN + 1], size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], id))
            return 1;
    return 0;
}

static void add_to_list(char (**v)[FX_BLOCK_ULID_LEN + 1], size_t *n, size_t *cap, const char *id)
{
    if (in_list(*v, *n, id))
        return;
    FX_GROW(*v, *cap, *n + 1);
    snprintf((*v)[(*n)++], FX_BLOCK_ULID_LEN + 1, "%s", id);
}

static void del_from_list(char (*v)[FX_BLOCK_ULID_LEN + 1], size_t *n, const char *id)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(v[i], id)) {
            memmove(v[i], v[i + 1], (*n - i - 1) * sizeof v[0]);
            (*n)--;
            return;
        }
}

void sg__listed_free(sg_listed_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].tenant);
        if (v[i].meta) {
            fx_block_meta_free(v[i].meta);
            free(v[i].meta);
        }
    }
    free(v);
}

/* The message without this gateway's local path ("block /data/.../<id>: "). */
static const char *without_path(const char *msg, const char *id)
{
    const char *p = strstr(msg, id);
    size_t n = strlen(id);
    return p && p[n] == ':' && p[n + 1] == ' ' ? p + n + 2 : msg;
}

/* Writes <tenant>/<id>/corrupted.json and never retries the block. */
static void confirm_corrupt(sg_t *g, const char *tenant, const char *id, const fx_err_t *why)
{
    fx_buf_t body = FX_BUF_INIT, key = FX_BUF_INIT;
    fx_err_t err = {0};
    add_to_list(&g->bad, &g->nbad, &g->badcap, id);
    del_from_list(g->suspect, &g->nsuspect, id);
    const char *msg = without_path(why->msg, id);
    fx_buf_printf(&body, "{\"id\":\"%s\",\"time\":%lld,\"section\":\"%s\",\"error\":", id,
                  (long long)(fx_now_ms() / 1000), fx_block_corrupt_section(msg));
    fx_buf_json_str(&body, msg, strlen(msg));
    fx_buf_puts(&body, "}\n");
    fx_buf_printf(&key, "%s/%s/corrupted.json", tenant, id);
    if (fx_bucket_put(g->c.bucket, fx_buf_cstr(&key), body.data, body.len, &err) < 0)
        fx_log_warn("cannot write the corruption mark; the block stays skipped by this gateway",
                    "tenant=%s block=%s err=%s", fx_q(tenant), id, fx_q(err.msg));
    else
        fx_log_error("block is corrupted in the bucket; marked corrupted.json", "tenant=%s block=%s err=%s",
                     fx_q(tenant), id, fx_q(why->msg));
    fx_buf_free(&body);
    fx_buf_free(&key);
}

/* Fetches and parses tenant/id/meta.json into *out (allocated). A meta.json
 * that fails its checksum twice is confirmed corrupt: FX_ECORRUPT. */
static int fetch_meta(sg_t *g, const char *tenant, const char *id, fx_block_meta_t **out,
                      fx_err_t *err)
{
    fx_buf_t key = FX_BUF_INIT, data = FX_BUF_INIT;
    fx_block_meta_t *m = fx_calloc(1, sizeof *m);
    int rc = FX_OK;
    fx_buf_printf(&key, "%s/%s/meta.json", tenant, id);
    for (int attempt = 0; attempt < 2; attempt++) {
        data.len = 0;
        if ((rc = fx_bucket_get(g->c.bucket, fx_buf_cstr(&key), &data, err)) < 0)
            break;
        if ((rc = fx_block_meta_parse(data.data, data.len, m, err)) == FX_OK)
            break;
        if (rc != FX_ECORRUPT)
            break;
        if (attempt == 0) {
            fx_counter_inc(g->m_corrupted);
            fx_log_error("corrupted block meta.json; reading it again", "tenant=%s block=%s err=%s",
                         fx_q(tenant), id, fx_q(err->msg));
        }
    }
    if (rc == FX_OK && (strcmp(m->id, id) || strcmp(m->tenant, tenant)))
        rc = fx_err_set(err, FX_ECORRUPT, "meta.json of %s/%s describes block %s of tenant %s",
                        tenant, id, m->id, m->tenant);
    if (rc == FX_ECORRUPT)
        confirm_corrupt(g, tenant, id, err);
    if (rc < 0) {
        fx_block_meta_free(m);
        free(m);
        m = NULL;
    }
    *out = m;
    fx_buf_free(&key);
    fx_buf_free(&data);
    return rc;
}

typedef struct hidden {
    const char *tenant;
    const char *id;
} hidden_t;

static int cmp_hidden(const void *x, const void *y)
{
    const hidden_t *a = x, *b = y;
    int c = strcmp(a->tenant, b->tenant);
    return c ? c : strcmp(a->id, b->id);
}

/* Drops blocks that another visible block replaces (compaction sources). */
static size_t drop_replaced(sg_listed_t *v, size_t n)
{
    hidden_t *h = NULL;
    size_t nh = 0, cap = 0, k = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t s = 0; s < v[i].meta->nsources; s++)
            if (strcmp(v[i].meta->sources[s], v[i].id)) {
                FX_GROW(h, cap, nh + 1);
                h[nh++] = (hidden_t){v[i].tenant, v[i].meta->sources[s]};
            }
    if (nh > 1)
        qsort(h, nh, sizeof *h, cmp_hidden);
    for (size_t i = 0; i < n; i++) {
        hidden_t key = {v[i].tenant, v[i].id};
        if (nh && bsearch(&key, h, nh, sizeof *h, cmp_hidden)) {
            free(v[i].tenant);
            fx_block_meta_free(v[i].meta);
            free(v[i].meta);
            continue;
        }
        v[k++] = v[i];
    }
    free(h);
    return k;
}

int sg__list(sg_t *g, fx_err_t *err)
{
    names_t tenants = {0};
    sg_listed_t *out = NULL;
    size_t n = 0, cap = 0;
    int rc = fx_bucket_iter(g->c.bucket, "", false, on_tenant, &tenants, err);
    for (size_t t = 0; rc == FX_OK && t < tenants.n; t++) {
        tenant_ctx_t c = {strlen(tenants.v[t]) + 1, NULL, 0, 0};
        char prefix[FX_BUCKET_KEY_MAX + 2];
        snprintf(prefix, sizeof prefix, "%s/", tenants.v[t]);
        rc = fx_bucket_list(g->c.bucket, prefix, "", on_object, &c, err);
        for (size_t i = 0; rc == FX_OK && i < c.n; i++) {
            const raw_t *r = &c.v[i];
            if (!r->meta || r->deleted || r->corrupted || in_list(g->bad, g->nbad, r->id))
                continue;
            sg_listed_t l = {{0}, fx_strdup(tenants.v[t]), NULL, 0};
            memcpy(l.id, r->id, sizeof l.id);
            l.token = sg__token(l.tenant, l.id);
            sg_listed_t *old = find_listed(g->listed, g->nlisted, l.tenant, l.id);
            if (old && old->meta) {
                l.meta = old->meta; /* immutable: keep the parsed copy */
                old->meta = NULL;
            } else {
                int mrc = fetch_meta(g, l.tenant, l.id, &l.meta, err);
                if (mrc == FX_ENOTFOUND || mrc == FX_ECORRUPT) {
                    /* Deleted since listed, or corrupt (marked): not visible. */
                    free(l.tenant);
                    continue;
                }
                if (mrc < 0) {
                    free(l.tenant);
                    rc = mrc;
                    break;
                }
            }
            FX_GROW(out, cap, n + 1);
            out[n++] = l;
        }
        free(c.v);
    }
    for (size_t t = 0; t < tenants.n; t++)
        free(tenants.v[t]);
    free(tenants.v);
    if (rc < 0) {
        /* Keep the previous listing; give back the metas taken from it. */
        for (size_t i = 0; i < n; i++) {
            sg_listed_t *old = find_listed(g->listed, g->nlisted, out[i].tenant, out[i].id);
            if (old && !old->meta) {
                old->meta = out[i].meta;
                out[i].meta = NULL;
            }
        }
        sg__listed_free(out, n);
        return fx_err_prefix(err, "listing the bucket (%s)", g->c.bucket->where);
    }
    if (n > 1)
        qsort(out, n, sizeof *out, cmp_listed);
    n = drop_replaced(out, n);
    sg__listed_free(g->listed, g->nlisted);
    g->listed = out;
    g->nlisted = n;
    atomic_store(&g->nvisible, n);
    fx_gauge_set(g->m_visible, (double)n);
    return FX_OK;
}

/* --- opening ------------------------------------------------------------------- */

static void block_dir(sg_t *g, const char *tenant, const char *prefix, const char *id, char *out,
                      size_t cap)
{
    snprintf(out, cap, "%s/%s/%s%s", g->sync_dir, tenant, prefix, id);
}

/* Downloads the block's files into dir (meta.json last, then renamed into
 * place by the caller). */
static int download(sg_t *g, const sg_listed_t *l, const char *tmp, fx_err_t *err)
{
    static const fx_block_file_t order[] = {FX_BLOCK_INDEX, FX_BLOCK_SYMBOLS, FX_BLOCK_PROFILES,
                                            FX_BLOCK_META};
    fx_rm_rf(tmp);
    if (fx_mkdir_p(tmp) < 0)
        return fx_err_set(err, FX_EIO, "creating %s: %s", tmp, strerror(errno));
    for (size_t i = 0; i < FX_ARRAY_LEN(order); i++) {
        char key[FX_BUCKET_KEY_MAX + 1], path[4096 + 32];
        const char *name = fx_block_file_name(order[i]);
        snprintf(key, sizeof key, "%s/%s/%s", l->tenant, l->id, name);
        snprintf(path, sizeof path, "%s/%s", tmp, name);
        int rc = fx_bucket_get_file(g->c.bucket, key, path, err);
        if (rc < 0) {
            fx_rm_rf(tmp);
            return rc;
        }
    }
    return FX_OK;
}

/* Opens l: from the local copy if there is one and !fresh, else from the
 * bucket (downloaded, or through the byte-range source) with every
 * checksum verified. *dir_out (cache source) is the local copy. */
static int try_open(sg_t *g, const sg_listed_t *l, bool fresh, fx_block_t **out, char **dir_out,
                    fx_err_t *err)
{
    fx_block_options_t o = {g->c.io, g->cache, fresh, 0};
    char dir[4096], tmp[4096];
    int rc;
    *out = NULL;
    *dir_out = NULL;
    if (g->c.source == SG_SOURCE_BUCKET) {
        fx_block_source_t src;
        sg__bucket_source(g->c.bucket, l->tenant, l->id, &src);
        return fx_block_open_source(&src, &o, out, err);
    }
    block_dir(g, l->tenant, "", l->id, dir, sizeof dir);
    if (!fresh && access(dir, F_OK) == 0) {
        if ((rc = fx_block_open_dir(dir, &o, out, err)) == FX_OK) {
            *dir_out = fx_strdup(dir);
            return FX_OK;
        }
        fx_log_warn("local block copy unusable; downloading it again", "tenant=%s block=%s err=%s",
                    fx_q(l->tenant), l->id, fx_q(err->msg));
    }
    block_dir(g, l->tenant, ".tmp-", l->id, tmp, sizeof tmp);
    if ((rc = download(g, l, tmp, err)) < 0)
        return rc;
    fx_rm_rf(dir);
    if (rename(tmp, dir) < 0) {
        rc = fx_err_set(err, FX_EIO, "renaming %s: %s", tmp, strerror(errno));
        fx_rm_rf(tmp);
        return rc;
    }
    o.verify = 1; /* a fresh copy: check every byte once */
    if ((rc = fx_block_open_dir(dir, &o, out, err)) < 0) {
        fx_rm_rf(dir);
        return rc;
    }
    *dir_out = fx_strdup(dir);
    return FX_OK;
}

/* Opens l for queries; corruption is re-read once, then confirmed. */
static sg_block_t *load(sg_t *g, const sg_listed_t *l)
{
    fx_err_t err = {0};
    fx_block_t *blk;
    char *dir;
    bool suspect = in_list(g->suspect, g->nsuspect, l->id);
    int rc = try_open(g, l, suspect, &blk, &dir, &err);
    if (rc == FX_ECORRUPT) {
        if (!suspect) {
            fx_counter_inc(g->m_corrupted);
            fx_log_error("corrupted block; reading it again from the bucket",
                         "tenant=%s block=%s err=%s", fx_q(l->tenant), l->id, fx_q(err.msg));
        }
        rc = try_open(g, l, true, &blk, &dir, &err);
        if (rc == FX_ECORRUPT)
            confirm_corrupt(g, l->tenant, l->id, &err);
    }
    if (rc < 0) {
        fx_counter_inc(g->m_load_failures);
        if (rc != FX_ECORRUPT)
            fx_log_warn("cannot open block; retrying at the next sync", "tenant=%s block=%s err=%s",
                        fx_q(l->tenant), l->id, fx_q(err.msg));
        return NULL;
    }
    del_from_list(g->suspect, &g->nsuspect, l->id);
    sg_block_t *b = fx_calloc(1, sizeof *b);
    memcpy(b->id, l->id, sizeof b->id);
    b->tenant = fx_strdup(l->tenant);
    b->min_ms = l->meta->min_time_ms;
    b->max_ms = l->meta->max_time_ms;
    b->level = l->meta->level;
    b->blk = blk;
    b->dir = dir;
    atomic_init(&b->refs, 1);
    atomic_init(&b->corrupt, 0);
    fx_counter_inc(g->m_loads);
    fx_log_debug("block loaded", "tenant=%s block=%s", fx_q(l->tenant), l->id);
    return b;
}

/* --- reconciling ------------------------------------------------------------------- */

typedef struct block_key {
    const char *tenant, *id;
} block_key_t;

static int cmp_block_key(const void *key, const void *elem)
{
    const block_key_t *k = key;
    const sg_block_t *b = *(sg_block_t *const *)elem;
    int c = strcmp(k->tenant, b->tenant);
    return c ? c : strcmp(k->id, b->id);
}

/* Index of (tenant, id) in g->blocks, or where it would go (*found 0).
 * Caller holds g->mu. */
static size_t find_block(sg_t *g, const char *tenant, const char *id, int *found)
{
    block_key_t k = {tenant, id};
    return fx_lower_bound(&k, g->blocks, g->nblocks, sizeof *g->blocks, cmp_block_key, found);
}

/* Takes b out of the set's directory: its local copy moves aside so a new
 * copy of the same block can be downloaded while queries still read this
 * one; the last release deletes it. */
static void retire(sg_t *g, sg_block_t *b)
{
    static _Atomic unsigned seq;
    if (b->dir) {
        char trash[4096];
        snprintf(trash, sizeof trash, "%s/%s/.drop-%s-%u", g->sync_dir, b->tenant, b->id,
                 atomic_fetch_add(&seq, 1));
        if (rename(b->dir, trash) == 0) {
            free(b->dir);
            b->dir = fx_strdup(trash);
        }
        b->remove_dir = true;
    }
    fx_counter_inc(g->m_drops);
    sg__block_unref(g, b);
}

/* Logs and retires blocks already taken out of g->blocks. */
static void drop_blocks(sg_t *g, sg_block_t **drop, size_t ndrop)
{
    for (size_t i = 0; i < ndrop; i++) {
        sg_block_t *b = drop[i];
        sg_listed_t *l = find_listed(g->listed, g->nlisted, b->tenant, b->id);
        const char *why = !l ? "gone from the bucket" : atomic_load(&b->corrupt) ? "corrupted" : "not owned";
        if (atomic_load(&b->corrupt))
            add_to_list(&g->suspect, &g->nsuspect, &g->suspcap, b->id);
        fx_log_info("block dropped", "tenant=%s block=%s reason=%s", fx_q(b->tenant), b->id,
                    fx_q(why));
        retire(g, b);
    }
}

int sg__reconcile(sg_t *g, fx_err_t *err)
{
    uint8_t *owned = fx_calloc(g->nlisted + 1, 1);
    uint64_t sig;
    long nowned = sg__owned(g, g->listed, g->nlisted, owned, &sig);
    sg_block_t **drop = NULL;
    size_t ndrop = 0;
    (void)err;
    atomic_store(&g->ring_sig, sig);
    if (nowned < 0) {
        /* Not (yet, or no longer) in the ring: keep what is open. */
        fx_log_debug("store-gateway not in the ring; ownership unchanged", "instance=%s", fx_q(g->id));
        free(owned);
        return FX_OK;
    }
    /* Corrupted blocks leave at once (queries already skip them, and a
     * fresh copy may be loaded below); blocks that are no longer ours or
     * no longer visible leave only after the new ones are loaded: a block
     * that replaces them (compaction) must be served before they stop
     * being, or queries would miss their profiles in between. While both
     * are open, queries deduplicate them by profile key. */
    pthread_mutex_lock(&g->mu);
    drop = fx_malloc((g->nblocks + 1) * sizeof *drop);
    size_t k = 0;
    for (size_t i = 0; i < g->nblocks; i++) {
        sg_block_t *b = g->blocks[i];
        if (atomic_load(&b->corrupt))
            drop[ndrop++] = b;
        else
            g->blocks[k++] = b;
    }
    g->nblocks = k;
    pthread_mutex_unlock(&g->mu);
    drop_blocks(g, drop, ndrop);

    for (size_t i = 0; i < g->nlisted && !atomic_load(&g->stopping); i++) {
        const sg_listed_t *l = &g->listed[i];
        int found;
        if (!owned[i] || in_list(g->bad, g->nbad, l->id))
            continue;
        pthread_mutex_lock(&g->mu);
        find_block(g, l->tenant, l->id, &found);
        pthread_mutex_unlock(&g->mu);
        if (found)
            continue;
        sg_block_t *b = load(g, l);
        if (!b)
            continue;
        pthread_mutex_lock(&g->mu);
        size_t at = find_block(g, l->tenant, l->id, &found);
        FX_GROW(g->blocks, g->cap, g->nblocks + 1);
        memmove(&g->blocks[at + 1], &g->blocks[at], (g->nblocks - at) * sizeof *g->blocks);
        g->blocks[at] = b;
        g->nblocks++;
        pthread_mutex_unlock(&g->mu);
    }

    pthread_mutex_lock(&g->mu);
    ndrop = k = 0;
    drop = fx_realloc(drop, (g->nblocks + 1) * sizeof *drop);
    for (size_t i = 0; i < g->nblocks; i++) {
        sg_block_t *b = g->blocks[i];
        sg_listed_t *l = find_listed(g->listed, g->nlisted, b->tenant, b->id);
        if (l && owned[l - g->listed] && !atomic_load(&b->corrupt))
            g->blocks[k++] = b;
        else
            drop[ndrop++] = b;
    }
    g->nblocks = k;
    pthread_mutex_unlock(&g->mu);
    drop_blocks(g, drop, ndrop);
    free(drop);

    pthread_mutex_lock(&g->mu);
    fx_gauge_set(g->m_loaded, (double)g->nblocks);
    pthread_mutex_unlock(&g->mu);
    free(owned);
    return FX_OK;
}

/* --- the sync directory ------------------------------------------------------------- */

void sg__clean_sync_dir(sg_t *g)
{
    if (g->c.source != SG_SOURCE_CACHE)
        return;
    DIR *top = opendir(g->sync_dir);
    struct dirent *t;
    if (!top)
        return;
    while ((t = readdir(top))) {
        if (t->d_name[0] == '.' && (!t->d_name[1] || (t->d_name[1] == '.' && !t->d_name[2])))
            continue;
        char tdir[4096];
        snprintf(tdir, sizeof tdir, "%s/%s", g->sync_dir, t->d_name);
        DIR *d = opendir(tdir);
        struct dirent *e;
        if (!d)
            continue;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            int found = 0;
            if (fx_block_ulid_valid(e->d_name)) {
                pthread_mutex_lock(&g->mu);
                find_block(g, t->d_name, e->d_name, &found);
                pthread_mutex_unlock(&g->mu);
            }
            if (!found) {
                char p[4096 + 512];
                snprintf(p, sizeof p, "%s/%s", tdir, e->d_name);
                fx_rm_rf(p);
            }
        }
        closedir(d);
        rmdir(tdir); /* only if empty */
    }
    closedir(top);
}
