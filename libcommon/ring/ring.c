/* ring.c - ring view: instance decoding, snapshots, replication sets. */
#include "ring/ring.h"
#include "core/mem.h"
#include "core/time.h"
#include "log/log.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct fx_ring {
    fx_kv_t *kv;
    char name[64];
    char prefix[256];      /* "<prefix>/<name>/" */
    char opt_prefix[192];
    int64_t timeout_ms;
    pthread_mutex_t mu;
    fx_ring_instance_t *instances; /* working set, sorted by id */
    size_t n, cap;
    fx_ring_snapshot_t *snap;
};

const char *fx_ring_state_name(fx_ring_state_t s)
{
    switch (s) {
    case FX_RING_JOINING: return "JOINING";
    case FX_RING_ACTIVE: return "ACTIVE";
    case FX_RING_LEAVING: return "LEAVING";
    }
    return "UNKNOWN";
}

static int parse_state(const char *s)
{
    if (!strcmp(s, "JOINING")) return FX_RING_JOINING;
    if (!strcmp(s, "ACTIVE")) return FX_RING_ACTIVE;
    if (!strcmp(s, "LEAVING")) return FX_RING_LEAVING;
    return -1;
}

void fx_ring_key(const char *prefix, const char *ring, const char *id, fx_buf_t *out)
{
    fx_buf_printf(out, "%s/%s/%s", prefix, ring, id);
}

/* --- instance encoding ------------------------------------------------------ */

void fx_ring_instance_encode(const fx_ring_instance_t *in, fx_buf_t *out)
{
    fx_buf_puts(out, "{\"id\":");
    fx_buf_json_str(out, in->id, strlen(in->id));
    fx_buf_puts(out, ",\"addr\":");
    fx_buf_json_str(out, in->addr, strlen(in->addr));
    fx_buf_puts(out, ",\"http\":");
    fx_buf_json_str(out, in->http, strlen(in->http));
    fx_buf_puts(out, ",\"zone\":");
    fx_buf_json_str(out, in->zone, strlen(in->zone));
    fx_buf_printf(out, ",\"state\":\"%s\",\"heartbeat\":%lld,\"registered\":%lld,\"tokens\":[",
                  fx_ring_state_name(in->state), (long long)in->heartbeat_ms,
                  (long long)in->registered_ms);
    for (size_t i = 0; i < in->ntokens; i++)
        fx_buf_printf(out, i ? ",%u" : "%u", in->tokens[i]);
    fx_buf_puts(out, "]}");
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void copy_str(char *dst, size_t cap, json_t *v)
{
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    snprintf(dst, cap, "%s", s);
}

int fx_ring_instance_decode(const uint8_t *data, size_t len, fx_ring_instance_t *in, fx_err_t *err)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)data, len, 0, &jerr);
    int rc = FX_OK;

    memset(in, 0, sizeof *in);
    if (!root || !json_is_object(root)) {
        rc = fx_err_set(err, FX_ECORRUPT, "ring instance is not a JSON object");
        goto out;
    }
    copy_str(in->id, sizeof in->id, json_object_get(root, "id"));
    copy_str(in->addr, sizeof in->addr, json_object_get(root, "addr"));
    copy_str(in->http, sizeof in->http, json_object_get(root, "http"));
    copy_str(in->zone, sizeof in->zone, json_object_get(root, "zone"));
    json_t *st = json_object_get(root, "state");
    int state = json_is_string(st) ? parse_state(json_string_value(st)) : -1;
    json_t *tokens = json_object_get(root, "tokens");
    if (!in->id[0] || state < 0 || !json_is_array(tokens)) {
        rc = fx_err_set(err, FX_ECORRUPT, "ring instance is missing id, state or tokens");
        goto out;
    }
    in->state = (fx_ring_state_t)state;
    in->heartbeat_ms = json_integer_value(json_object_get(root, "heartbeat"));
    in->registered_ms = json_integer_value(json_object_get(root, "registered"));
    in->ntokens = json_array_size(tokens);
    in->tokens = fx_malloc((in->ntokens + 1) * sizeof *in->tokens);
    for (size_t i = 0; i < in->ntokens; i++) {
        json_int_t t = json_integer_value(json_array_get(tokens, i));
        if (t < 0 || t > UINT32_MAX) {
            rc = fx_err_set(err, FX_ECORRUPT, "ring instance %s has an invalid token", in->id);
            goto out;
        }
        in->tokens[i] = (uint32_t)t;
    }
    qsort(in->tokens, in->ntokens, sizeof *in->tokens, cmp_u32);
out:
    if (rc < 0)
        fx_ring_instance_free(in);
    json_decref(root);
    return rc;
}

void fx_ring_instance_free(fx_ring_instance_t *in)
{
    free(in->tokens);
    in->tokens = NULL;
    in->ntokens = 0;
}

static void instance_copy(fx_ring_instance_t *dst, const fx_ring_instance_t *src)
{
    *dst = *src;
    dst->tokens = fx_malloc((src->ntokens + 1) * sizeof *dst->tokens);
    memcpy(dst->tokens, src->tokens, src->ntokens * sizeof *dst->tokens);
}

/* --- snapshots ----------------------------------------------------------------- */

static void snapshot_free(fx_ring_snapshot_t *s)
{
    for (size_t i = 0; i < s->ninstances; i++)
        fx_ring_instance_free(&s->instances[i]);
    free(s->instances);
    free(s->tokens);
    free(s);
}

static int cmp_token(const void *a, const void *b)
{
    const fx_ring_token_t *x = a, *y = b;
    if (x->token != y->token)
        return x->token < y->token ? -1 : 1;
    return x->instance < y->instance ? -1 : x->instance > y->instance;
}

/* Builds a new snapshot from the working set. Called with r->mu held. */
static void rebuild(fx_ring_t *r)
{
    fx_ring_snapshot_t *s = fx_calloc(1, sizeof *s);
    size_t nt = 0;
    s->refs = 1;
    s->ninstances = r->n;
    s->instances = fx_malloc((r->n + 1) * sizeof *s->instances);
    for (size_t i = 0; i < r->n; i++) {
        instance_copy(&s->instances[i], &r->instances[i]);
        nt += r->instances[i].ntokens;
    }
    s->tokens = fx_malloc((nt + 1) * sizeof *s->tokens);
    for (size_t i = 0; i < r->n; i++)
        for (size_t j = 0; j < r->instances[i].ntokens; j++) {
            s->tokens[s->ntokens].token = r->instances[i].tokens[j];
            s->tokens[s->ntokens].instance = (uint32_t)i;
            s->ntokens++;
        }
    qsort(s->tokens, s->ntokens, sizeof *s->tokens, cmp_token);
    fx_ring_snapshot_t *old = r->snap;
    r->snap = s;
    if (old && atomic_fetch_sub((_Atomic int *)&old->refs, 1) == 1)
        snapshot_free(old);
}

fx_ring_snapshot_t *fx_ring_acquire(fx_ring_t *r)
{
    pthread_mutex_lock(&r->mu);
    fx_ring_snapshot_t *s = r->snap;
    atomic_fetch_add((_Atomic int *)&s->refs, 1);
    pthread_mutex_unlock(&r->mu);
    return s;
}

void fx_ring_release(fx_ring_t *r, fx_ring_snapshot_t *s)
{
    (void)r;
    if (s && atomic_fetch_sub((_Atomic int *)&s->refs, 1) == 1)
        snapshot_free(s);
}

/* --- watching -------------------------------------------------------------------- */

static int cmp_id(const void *id, const void *in)
{
    return strcmp(id, ((const fx_ring_instance_t *)in)->id);
}

static size_t find_instance(fx_ring_t *r, const char *id, int *found)
{
    return fx_lower_bound(id, r->instances, r->n, sizeof *r->instances, cmp_id, found);
}

/* Applies one KV entry to the working set. Called with r->mu held.
 * Returns 1 if the token layout changed. */
static int apply(fx_ring_t *r, const fx_kv_entry_t *e)
{
    const char *id = e->key + strlen(r->prefix);
    int found;
    size_t i = find_instance(r, id, &found);
    if (e->deleted) {
        if (!found)
            return 0;
        fx_ring_instance_free(&r->instances[i]);
        memmove(&r->instances[i], &r->instances[i + 1], (r->n - i - 1) * sizeof *r->instances);
        r->n--;
        return 1;
    }
    fx_ring_instance_t in;
    fx_err_t err;
    if (fx_ring_instance_decode(e->value, e->len, &in, &err) < 0) {
        fx_log_warn("ignoring a corrupt ring entry", "ring=%s key=%s err=%s", r->name, fx_q(e->key),
                    fx_q(err.msg));
        return 0;
    }
    if (found) {
        fx_ring_instance_free(&r->instances[i]);
        r->instances[i] = in;
    } else {
        FX_GROW(r->instances, r->cap, r->n + 1);
        memmove(&r->instances[i + 1], &r->instances[i], (r->n - i) * sizeof *r->instances);
        r->instances[i] = in;
        r->n++;
    }
    return 1;
}

static void on_event(const fx_kv_entry_t *e, void *ctx)
{
    fx_ring_t *r = ctx;
    pthread_mutex_lock(&r->mu);
    if (apply(r, e))
        rebuild(r);
    pthread_mutex_unlock(&r->mu);
}

typedef struct refresh_ctx {
    fx_ring_t *r;
    fx_ring_instance_t *list;
    size_t n, cap;
} refresh_ctx_t;

static void collect(const fx_kv_entry_t *e, void *ctx)
{
    refresh_ctx_t *c = ctx;
    fx_ring_instance_t in;
    fx_err_t err;
    if (fx_ring_instance_decode(e->value, e->len, &in, &err) < 0)
        return;
    FX_GROW(c->list, c->cap, c->n + 1);
    c->list[c->n++] = in;
}

static int cmp_instance(const void *a, const void *b)
{
    return strcmp(((const fx_ring_instance_t *)a)->id, ((const fx_ring_instance_t *)b)->id);
}

int fx_ring_refresh(fx_ring_t *r, fx_err_t *err)
{
    refresh_ctx_t c = {r, NULL, 0, 0};
    int rc = fx_kv_list(r->kv, r->prefix, collect, &c, err);
    if (rc < 0) {
        for (size_t i = 0; i < c.n; i++)
            fx_ring_instance_free(&c.list[i]);
        free(c.list);
        return rc;
    }
    if (c.n)
        qsort(c.list, c.n, sizeof *c.list, cmp_instance);
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++)
        fx_ring_instance_free(&r->instances[i]);
    free(r->instances);
    r->instances = c.list;
    r->n = c.n;
    r->cap = c.cap;
    rebuild(r);
    pthread_mutex_unlock(&r->mu);
    return FX_OK;
}

fx_ring_t *fx_ring_new(fx_kv_t *kv, const char *name, const fx_ring_options_t *opt, fx_err_t *err)
{
    fx_ring_t *r = fx_calloc(1, sizeof *r);
    const char *prefix = opt && opt->prefix ? opt->prefix : "fornax/rings";
    r->kv = kv;
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->opt_prefix, sizeof r->opt_prefix, "%s", prefix);
    snprintf(r->prefix, sizeof r->prefix, "%s/%s/", prefix, name);
    r->timeout_ms = opt && opt->heartbeat_timeout_ms ? opt->heartbeat_timeout_ms : 60000;
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_lock(&r->mu);
    rebuild(r);
    pthread_mutex_unlock(&r->mu);
    if (fx_kv_watch(kv, r->prefix, on_event, r, err) < 0 || fx_ring_refresh(r, err) < 0) {
        /* A cluster may start before etcd: keep the empty ring; the watch
         * delivers the state once the KV answers. */
        fx_log_warn("ring: initial read failed", "ring=%s err=%s", r->name, fx_q(err ? err->msg : ""));
    }
    return r;
}

void fx_ring_free(fx_ring_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        fx_ring_instance_free(&r->instances[i]);
    free(r->instances);
    fx_ring_release(r, r->snap);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

const char *fx_ring_name(const fx_ring_t *r)
{
    return r->name;
}

fx_kv_t *fx_ring_kv(const fx_ring_t *r)
{
    return r->kv;
}

/* --- lookups ---------------------------------------------------------------------- */

/* Length of the overlap of [a0, a1) and [b0, b1). */
static int64_t overlap(int64_t a0, int64_t a1, int64_t b0, int64_t b1)
{
    int64_t lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
    return hi > lo ? hi - lo : 0;
}

int fx_ring_healthy(const fx_ring_t *r, const fx_ring_instance_t *in, fx_ring_op_t op, int64_t now_ms)
{
    /* While the KV store is away nobody can heartbeat: time without it does
     * not count against a heartbeat, so the cluster keeps serving from the
     * last known ring during an outage and right after it (until every
     * instance's next heartbeat arrives), yet a dead instance is still found
     * a timeout later. */
    int64_t age = now_ms - in->heartbeat_ms, start, end;
    int64_t away = fx_kv_unreachable_since(r->kv);
    if (away > 0)
        age -= overlap(in->heartbeat_ms, now_ms, away, now_ms);
    fx_kv_last_outage(r->kv, &start, &end);
    if (end > 0)
        age -= overlap(in->heartbeat_ms, now_ms, start, end);
    if (age > r->timeout_ms)
        return 0;
    return in->state == FX_RING_ACTIVE || (op == FX_RING_OP_READ && in->state == FX_RING_LEAVING);
}

size_t fx_ring_token_index(const fx_ring_snapshot_t *s, uint32_t token)
{
    size_t lo = 0, hi = s->ntokens;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->tokens[mid].token < token)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t fx_ring_replicas(const fx_ring_snapshot_t *s, uint32_t token, int rf, int zone_aware,
                        fx_ring_op_t op, uint32_t *out)
{
    size_t n = 0, want = (size_t)rf;
    if (!s->ntokens || rf <= 0)
        return 0;
    if (want > s->ninstances)
        want = s->ninstances;
    size_t lo = fx_ring_token_index(s, token);
    for (size_t k = 0; k < s->ntokens && n < want; k++) {
        uint32_t idx = s->tokens[(lo + k) % s->ntokens].instance;
        const fx_ring_instance_t *in = &s->instances[idx];
        int dup = 0;
        for (size_t j = 0; j < n && !dup; j++)
            dup = out[j] == idx ||
                  (zone_aware && in->zone[0] && !strcmp(s->instances[out[j]].zone, in->zone));
        if (dup)
            continue;
        out[n++] = idx;
        /* A joining or leaving instance may not hold (or keep) the data:
         * for writes, add one more so rf stable replicas get it. */
        if (op == FX_RING_OP_WRITE && in->state != FX_RING_ACTIVE && want < (size_t)rf * 2 &&
            want < s->ninstances)
            want++;
    }
    return n;
}

/* --- admin ---------------------------------------------------------------------------- */

int fx_ring_forget(fx_ring_t *r, const char *id, fx_err_t *err)
{
    fx_buf_t key = FX_BUF_INIT;
    fx_ring_key(r->opt_prefix, r->name, id, &key);
    int rc = fx_kv_del(r->kv, fx_buf_cstr(&key), FX_KV_ANY, err);
    fx_buf_free(&key);
    return rc;
}

static void owned_share(const fx_ring_snapshot_t *s, double *share)
{
    /* Each token owns the range from the previous token (exclusive) to
     * itself; the first token also owns the wrap-around range. */
    for (size_t i = 0; i < s->ninstances; i++)
        share[i] = 0;
    for (size_t k = 0; k < s->ntokens; k++) {
        uint32_t prev = s->tokens[(k + s->ntokens - 1) % s->ntokens].token;
        uint32_t range = s->tokens[k].token - prev; /* wraps correctly in uint32 */
        if (s->ntokens == 1)
            range = UINT32_MAX;
        share[s->tokens[k].instance] += (double)range / 4294967296.0;
    }
}

void fx_ring_render_json(const fx_ring_t *r, const fx_ring_snapshot_t *s, int64_t now_ms, fx_buf_t *out)
{
    double *share = fx_malloc((s->ninstances + 1) * sizeof *share);
    owned_share(s, share);
    fx_buf_puts(out, "{\"ring\":");
    fx_buf_json_str(out, r->name, strlen(r->name));
    fx_buf_puts(out, ",\"instances\":[");
    for (size_t i = 0; i < s->ninstances; i++) {
        const fx_ring_instance_t *in = &s->instances[i];
        if (i)
            fx_buf_putc(out, ',');
        fx_buf_puts(out, "{\"id\":");
        fx_buf_json_str(out, in->id, strlen(in->id));
        fx_buf_puts(out, ",\"address\":");
        fx_buf_json_str(out, in->addr, strlen(in->addr));
        fx_buf_puts(out, ",\"http_address\":");
        fx_buf_json_str(out, in->http, strlen(in->http));
        fx_buf_puts(out, ",\"zone\":");
        fx_buf_json_str(out, in->zone, strlen(in->zone));
        fx_buf_printf(out,
                      ",\"state\":\"%s\",\"healthy\":%s,\"heartbeat_ms\":%lld,"
                      "\"heartbeat_age_ms\":%lld,\"registered_ms\":%lld,\"tokens\":%zu,"
                      "\"ownership\":%.6f}",
                      fx_ring_state_name(in->state),
                      fx_ring_healthy(r, in, FX_RING_OP_READ, now_ms) ? "true" : "false",
                      (long long)in->heartbeat_ms, (long long)(now_ms - in->heartbeat_ms),
                      (long long)in->registered_ms, in->ntokens, share[i]);
    }
    fx_buf_puts(out, "]}");
    free(share);
}

static void html_escape(fx_buf_t *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fx_buf_puts(out, "&lt;"); break;
        case '>': fx_buf_puts(out, "&gt;"); break;
        case '&': fx_buf_puts(out, "&amp;"); break;
        case '"': fx_buf_puts(out, "&quot;"); break;
        default: fx_buf_putc(out, (uint8_t)*s);
        }
    }
}

void fx_ring_render_html(const fx_ring_t *r, const fx_ring_snapshot_t *s, int64_t now_ms,
                         const char *title, fx_buf_t *out)
{
    double *share = fx_malloc((s->ninstances + 1) * sizeof *share);
    owned_share(s, share);
    fx_buf_puts(out, "<!doctype html><html><head><meta charset=\"utf-8\"><title>");
    html_escape(out, title);
    fx_buf_puts(out, "</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:"
                     "collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
                     ".bad{color:#b00}</style></head><body><h1>");
    html_escape(out, title);
    fx_buf_printf(out, "</h1><p>%zu instances, %zu tokens.</p><table><tr><th>Instance</th>"
                       "<th>Zone</th><th>State</th><th>Address</th><th>Last heartbeat</th>"
                       "<th>Tokens</th><th>Ownership</th><th>Actions</th></tr>",
                  s->ninstances, s->ntokens);
    for (size_t i = 0; i < s->ninstances; i++) {
        const fx_ring_instance_t *in = &s->instances[i];
        int healthy = fx_ring_healthy(r, in, FX_RING_OP_READ, now_ms);
        fx_buf_printf(out, "<tr%s><td>", healthy ? "" : " class=\"bad\"");
        html_escape(out, in->id);
        fx_buf_puts(out, "</td><td>");
        html_escape(out, in->zone);
        fx_buf_printf(out, "</td><td>%s%s</td><td>", fx_ring_state_name(in->state),
                      healthy ? "" : " (unhealthy)");
        html_escape(out, in->addr);
        fx_buf_printf(out, "</td><td>%.1f s ago</td><td>%zu</td><td>%.1f%%</td><td>",
                      (double)(now_ms - in->heartbeat_ms) / 1000.0, in->ntokens, share[i] * 100);
        if (!healthy) {
            fx_buf_puts(out, "<form method=\"post\"><input type=\"hidden\" name=\"forget\" value=\"");
            html_escape(out, in->id);
            fx_buf_puts(out, "\"><button type=\"submit\">Forget</button></form>");
        }
        fx_buf_puts(out, "</td></tr>");
    }
    fx_buf_puts(out, "</table></body></html>");
    free(share);
}
