/* lifecycler.c - registration, heartbeats and leaving. */
#include "ring/lifecycler.h"
#include "core/mem.h"
#include "core/time.h"
#include "log/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct fx_ring_lifecycler {
    fx_ring_t *ring;
    fx_ring_instance_t self;
    char key[512];
    char tokens_file[1024];
    int64_t period_ms;
    int64_t version;      /* last version we wrote; -1 = unknown */
    int registered;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
    pthread_t thread;
};

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int load_tokens(const char *path, fx_ring_instance_t *in)
{
    FILE *f = path[0] ? fopen(path, "r") : NULL;
    unsigned long t;
    if (!f)
        return 0;
    while (fscanf(f, "%lu", &t) == 1) {
        if (t > UINT32_MAX)
            continue;
        in->tokens = fx_realloc(in->tokens, (in->ntokens + 1) * sizeof *in->tokens);
        in->tokens[in->ntokens++] = (uint32_t)t;
    }
    fclose(f);
    qsort(in->tokens, in->ntokens, sizeof *in->tokens, cmp_u32);
    return in->ntokens > 0;
}

static void save_tokens(const char *path, const fx_ring_instance_t *in)
{
    char tmp[1100];
    if (!path[0])
        return;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fx_log_warn("cannot save ring tokens", "path=%s err=%s", fx_q(path), fx_q(strerror(errno)));
        return;
    }
    for (size_t i = 0; i < in->ntokens; i++)
        fprintf(f, "%u\n", in->tokens[i]);
    fclose(f);
    rename(tmp, path);
}

/* Random tokens that no other instance holds. */
static void generate_tokens(fx_ring_t *ring, int n, fx_ring_instance_t *in)
{
    fx_ring_snapshot_t *s = fx_ring_acquire(ring);
    in->tokens = fx_malloc((size_t)(n + 1) * sizeof *in->tokens);
    in->ntokens = 0;
    while (in->ntokens < (size_t)n) {
        uint32_t t;
        if (getrandom(&t, sizeof t, 0) != sizeof t)
            t = (uint32_t)rand();
        int taken = 0;
        for (size_t k = 0; k < s->ntokens && !taken; k++)
            taken = s->tokens[k].token == t;
        for (size_t k = 0; k < in->ntokens && !taken; k++)
            taken = in->tokens[k] == t;
        if (!taken)
            in->tokens[in->ntokens++] = t;
    }
    fx_ring_release(ring, s);
    qsort(in->tokens, in->ntokens, sizeof *in->tokens, cmp_u32);
}

/* Writes self; retries once after re-reading the version on a conflict.
 * Called with lc->mu held. */
static int write_self(fx_ring_lifecycler_t *lc, fx_err_t *err)
{
    fx_buf_t v = FX_BUF_INIT, cur = FX_BUF_INIT;
    int rc = FX_OK;
    lc->self.heartbeat_ms = fx_now_ms();
    fx_ring_instance_encode(&lc->self, &v);
    for (int attempt = 0; attempt < 3; attempt++) {
        if (lc->version < 0) {
            int64_t ver = 0;
            rc = fx_kv_get(fx_ring_kv(lc->ring), lc->key, &cur, &ver, err);
            if (rc == FX_ENOTFOUND)
                ver = FX_KV_ABSENT;
            else if (rc < 0)
                break;
            lc->version = ver;
        }
        rc = fx_kv_cas(fx_ring_kv(lc->ring), lc->key, v.data, v.len, lc->version, &lc->version, err);
        if (rc != FX_EPRECOND)
            break;
        lc->version = -1; /* someone else wrote it (e.g. forgot us): re-read */
    }
    if (rc < 0)
        lc->version = -1;
    else
        lc->registered = 1;
    fx_buf_free(&v);
    fx_buf_free(&cur);
    return rc;
}

static void *heartbeat_loop(void *arg)
{
    fx_ring_lifecycler_t *lc = arg;
    pthread_mutex_lock(&lc->mu);
    while (!lc->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (lc->registered ? lc->period_ms : 500) * 1000000;
        ts.tv_sec += ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&lc->cv, &lc->mu, &ts);
        if (lc->stopping)
            break;
        fx_err_t err;
        if (write_self(lc, &err) < 0)
            fx_log_warn("ring heartbeat failed", "ring=%s instance=%s err=%s", fx_ring_name(lc->ring),
                        fx_q(lc->self.id), fx_q(err.msg));
    }
    pthread_mutex_unlock(&lc->mu);
    return NULL;
}

fx_ring_lifecycler_t *fx_ring_lifecycler_start(fx_ring_t *ring, const fx_ring_lifecycler_options_t *o,
                                               fx_err_t *err)
{
    fx_ring_lifecycler_t *lc = fx_calloc(1, sizeof *lc);
    fx_buf_t key = FX_BUF_INIT, cur = FX_BUF_INIT;
    int64_t ver;

    lc->ring = ring;
    lc->period_ms = o->heartbeat_period_ms > 0 ? o->heartbeat_period_ms : 5000;
    lc->version = -1;
    snprintf(lc->self.id, sizeof lc->self.id, "%s", o->id);
    snprintf(lc->self.addr, sizeof lc->self.addr, "%s", o->addr);
    snprintf(lc->self.http, sizeof lc->self.http, "%s", o->http ? o->http : "");
    snprintf(lc->self.zone, sizeof lc->self.zone, "%s", o->zone ? o->zone : "");
    snprintf(lc->tokens_file, sizeof lc->tokens_file, "%s", o->tokens_file ? o->tokens_file : "");
    fx_ring_key(o->prefix ? o->prefix : "fornax/rings", fx_ring_name(ring), o->id, &key);
    snprintf(lc->key, sizeof lc->key, "%s", fx_buf_cstr(&key));
    lc->self.state = FX_RING_JOINING;
    lc->self.registered_ms = fx_now_ms();

    /* Still in the ring from before a crash: keep the same tokens. */
    fx_ring_instance_t old;
    if (fx_kv_get(fx_ring_kv(ring), lc->key, &cur, &ver, NULL) == FX_OK &&
        fx_ring_instance_decode(cur.data, cur.len, &old, NULL) == FX_OK) {
        lc->self.tokens = old.tokens;
        lc->self.ntokens = old.ntokens;
        lc->self.registered_ms = old.registered_ms;
        lc->version = ver;
    } else if (!load_tokens(lc->tokens_file, &lc->self)) {
        generate_tokens(ring, o->ntokens > 0 ? o->ntokens : 128, &lc->self);
    }
    save_tokens(lc->tokens_file, &lc->self);
    pthread_mutex_init(&lc->mu, NULL);
    pthread_cond_init(&lc->cv, NULL);
    pthread_mutex_lock(&lc->mu);
    if (write_self(lc, err) < 0)
        fx_log_warn("ring registration failed, retrying in the background", "ring=%s err=%s",
                    fx_ring_name(ring), fx_q(err ? err->msg : ""));
    pthread_mutex_unlock(&lc->mu);
    pthread_create(&lc->thread, NULL, heartbeat_loop, lc);
    fx_buf_free(&key);
    fx_buf_free(&cur);
    return lc;
}

int fx_ring_lifecycler_set_state(fx_ring_lifecycler_t *lc, fx_ring_state_t state, fx_err_t *err)
{
    pthread_mutex_lock(&lc->mu);
    lc->self.state = state;
    int rc = write_self(lc, err);
    pthread_mutex_unlock(&lc->mu);
    if (rc == FX_OK)
        fx_log_info("ring state changed", "ring=%s instance=%s state=%s", fx_ring_name(lc->ring),
                    fx_q(lc->self.id), fx_ring_state_name(state));
    return rc;
}

fx_ring_state_t fx_ring_lifecycler_state(fx_ring_lifecycler_t *lc)
{
    pthread_mutex_lock(&lc->mu);
    fx_ring_state_t s = lc->self.state;
    pthread_mutex_unlock(&lc->mu);
    return s;
}

int fx_ring_lifecycler_registered(fx_ring_lifecycler_t *lc)
{
    pthread_mutex_lock(&lc->mu);
    int r = lc->registered;
    pthread_mutex_unlock(&lc->mu);
    return r;
}

void fx_ring_lifecycler_stop(fx_ring_lifecycler_t *lc, int remove)
{
    if (!lc)
        return;
    pthread_mutex_lock(&lc->mu);
    lc->stopping = 1;
    pthread_cond_signal(&lc->cv);
    pthread_mutex_unlock(&lc->mu);
    pthread_join(lc->thread, NULL);
    if (remove) {
        fx_err_t err;
        if (fx_kv_del(fx_ring_kv(lc->ring), lc->key, FX_KV_ANY, &err) < 0 && err.code != FX_ENOTFOUND)
            fx_log_warn("could not leave the ring", "ring=%s instance=%s err=%s",
                        fx_ring_name(lc->ring), fx_q(lc->self.id), fx_q(err.msg));
        else
            fx_log_info("left the ring", "ring=%s instance=%s", fx_ring_name(lc->ring),
                        fx_q(lc->self.id));
    }
    fx_ring_instance_free(&lc->self);
    pthread_mutex_destroy(&lc->mu);
    pthread_cond_destroy(&lc->cv);
    free(lc);
}
