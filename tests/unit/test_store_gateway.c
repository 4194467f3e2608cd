/*
 * test_store_gateway.c - store-gateways over a filesystem bucket of blocks
 * cut from a head, several per process on one in-memory ring:
 *
 * - every query (label names/values, profile types, series, stats, profile
 *   keys, SelectSeries sum/avg grouped or not, merges to tree under every
 *   grouping and to pprof, keyset-restricted merges) answers as the head
 *   holding the same data - over non-overlapping blocks, over three replica
 *   blocks of the same data plus overlapping ones (no double count), with
 *   io_uring, pread and straight-from-the-bucket reads;
 * - the same through the gRPC service;
 * - two gateways with replication factor 1 split the blocks; one crashing
 *   (heartbeats stop) or leaving hands its blocks to the other, which then
 *   answers everything; replication factor 2 loads everything twice;
 * - deletion marks and compaction sources hide blocks; a block corrupted in
 *   the bucket is marked corrupted.json, logged, counted and skipped, a
 *   local copy damaged after loading is skipped by the query that finds it
 *   and re-downloaded at the next sync; local copies are reused on restart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "block/block.h"
#include "core/gz.h"
#include "core/time.h"
#include "ingester/v1/ingester.pb-c.h"
#include "kv/kv.h"
#include "metrics/metrics.h"
#include "model/treebytes.h"
#include "objstore/objstore.h"
#include "pprof/pprof.h"
#include "querier/v1/querier.pb-c.h"
#include "ring/ring.h"
#include "rpc/rpc.h"
#include "services/store-gateway/store_gateway.h"
#include "storage/head.h"
#include "types/v1/types.pb-c.h"
#include "pprof_fixture.h"

#define FIXTURES "../shared/fixtures/"
#define T0 1795000000000000000LL
#define SEC 1000000000LL
#define T0MS (T0 / 1000000)
#define ROUNDS 4

typedef struct fixture {
    const char *path, *name;
    fx_buf_t plain;
    fx_arena_t arena;
    fx_pprof_t p;
} fixture_t;

static fixture_t fx[] = {
    {FIXTURES "pprof/go-cpu.pb.gz", "process_cpu", FX_BUF_INIT, {0}, {0}},
    {FIXTURES "pprof/go-heap.pb.gz", "memory", FX_BUF_INIT, {0}, {0}},
    {FIXTURES "pprof/node-cpu-wall.pb.gz", "wall", FX_BUF_INIT, {0}, {0}},
    {FIXTURES "pprof/node-heap.pb.gz", "memory", FX_BUF_INIT, {0}, {0}},
    {FIXTURES "nodejs-sdk/sdk-0.6.4-heap.body.pb.gz", "memory", FX_BUF_INIT, {0}, {0}},
    {FIXTURES "nodejs-sdk/sdk-0.6.4-wall-cpu.body.pb.gz", "wall", FX_BUF_INIT, {0}, {0}},
};
#define NFX FX_ARRAY_LEN(fx)

/* One test's world: a temporary directory with a head, a bucket, staging
 * space for cut blocks, a shared ring store and up to four gateways. */
typedef struct world {
    char dir[64];
    fx_head_t *head;
    fx_bucket_t *bucket;
    fx_kv_t *kv;
    struct gw {
        sg_t *g;
        fx_ring_t *ring;
        fx_registry_t *reg;
        char id[16];
    } gw[4];
} world_t;

static world_t W;

static void load_fixtures(void)
{
    for (size_t i = 0; i < NFX; i++) {
        if (fx[i].plain.len)
            continue;
        fx_test_load_pprof(fx[i].path, &fx[i].plain, &fx[i].arena, &fx[i].p);
    }
}

static void append(fx_head_t *h, const char *tenant, size_t f, const char *svc, const char *env,
                   int64_t ts, uint64_t idn)
{
    fx_label_t lv[3] = {{"__name__", fx[f].name}, {"env", env}, {"service_name", svc}};
    fx_labels_t l = {lv, 3};
    uint8_t id[16] = {0};
    fx_err_t err = {0};
    memcpy(id, &idn, 8);
    if (fx_head_append(h, tenant, &l, &fx[f].p, id, ts, NULL, &err))
        fail_msg("append: %s", err.msg);
}

/* Every fixture under its own service in each of ROUNDS 10 s rounds, plus
 * another tenant. */
static void fill(fx_head_t *h)
{
    load_fixtures();
    for (int k = 0; k < ROUNDS; k++)
        for (size_t i = 0; i < NFX; i++) {
            char svc[32];
            snprintf(svc, sizeof svc, "svc-%zu", i);
            append(h, "t1", i, svc, i % 2 ? "dev" : "prod", T0 + (int64_t)(k * 10 + i) * SEC,
                   100 * (uint64_t)k + i + 1);
        }
    append(h, "t2", 0, "other", "prod", T0, 7);
}

static int setup(void **state)
{
    (void)state;
    fx_err_t err = {0};
    memset(&W, 0, sizeof W);
    strcpy(W.dir, "/tmp/fx-sgw-XXXXXX");
    assert_non_null(mkdtemp(W.dir));
    char path[128];
    fx_head_options_t ho;
    fx_head_options_default(&ho);
    ho.sync = 0;
    snprintf(path, sizeof path, "%s/head", W.dir);
    if (fx_head_open(path, &ho, &W.head, &err))
        fail_msg("open head: %s", err.msg);
    fill(W.head);
    fx_objstore_opts_t so = {0};
    snprintf(path, sizeof path, "%s/bucket", W.dir);
    so.backend = "filesystem";
    so.fs_dir = path;
    if (fx_objstore_open(&so, W.dir, &W.bucket, &err))
        fail_msg("open bucket: %s", err.msg);
    W.kv = fx_kv_memory_new();
    return 0;
}

/* Frees gateway i; its ring view stays (the KV store's watch keeps calling
 * it until the store is closed, in teardown). */
static void gw_free(int i)
{
    if (W.gw[i].g)
        sg_free(W.gw[i].g);
    W.gw[i].g = NULL;
    if (W.gw[i].reg)
        fx_registry_free(W.gw[i].reg);
    W.gw[i].reg = NULL;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 4; i++)
        gw_free(i);
    fx_kv_close(W.kv);
    for (int i = 0; i < 4; i++)
        fx_ring_free(W.gw[i].ring);
    fx_bucket_close(W.bucket);
    fx_head_close(W.head);
    fx_rm_rf(W.dir);
    return 0;
}

/* --- blocks in the bucket ---------------------------------------------------------------- */

static void upload_dir(const char *tenant, const char *dir, const char *id)
{
    static const char *const files[] = {"index.fxb", "symbols.fxb", "profiles.fxb", "meta.json"};
    fx_err_t err = {0};
    for (size_t i = 0; i < FX_ARRAY_LEN(files); i++) {
        char key[256], path[512];
        snprintf(key, sizeof key, "%s/%s/%s", tenant, id, files[i]);
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (fx_bucket_put_file(W.bucket, key, path, &err))
            fail_msg("upload %s: %s", key, err.msg);
    }
}

/* Cuts tenant's profiles of [from_s, to_s] (seconds after T0) into a block
 * and uploads it; returns its ULID in id. */
static void cut(const char *tenant, double from_s, double to_s, char id[FX_BLOCK_ULID_LEN + 1])
{
    char staging[128], dir[256];
    fx_block_meta_t m;
    fx_err_t err = {0};
    snprintf(staging, sizeof staging, "%s/staging", W.dir);
    if (fx_block_write_head(W.head, tenant, T0 + (int64_t)(from_s * SEC),
                            T0 + (int64_t)(to_s * SEC), staging, NULL, &m, &err))
        fail_msg("cut: %s", err.msg);
    snprintf(dir, sizeof dir, "%s/%s", staging, m.id);
    upload_dir(tenant, dir, m.id);
    strcpy(id, m.id);
    fx_block_meta_free(&m);
}

/* One block per 10 s round of t1, and one of t2. */
static void cut_rounds(char ids[ROUNDS][FX_BLOCK_ULID_LEN + 1])
{
    char t2[FX_BLOCK_ULID_LEN + 1];
    for (int k = 0; k < ROUNDS; k++)
        cut("t1", k * 10, k * 10 + 9.999, ids[k]);
    cut("t2", 0, 100, t2);
}

static void put_object(const char *key, const char *text)
{
    fx_err_t err = {0};
    if (fx_bucket_put(W.bucket, key, text, strlen(text), &err))
        fail_msg("put %s: %s", key, err.msg);
}

static int bucket_has(const char *key)
{
    bool yes = false;
    fx_err_t err = {0};
    assert_int_equal(fx_bucket_exists(W.bucket, key, &yes, &err), FX_OK);
    return yes;
}

/* Flips one byte in the middle of a file. */
static void flip(const char *path)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    off_t at = st.st_size / 2;
    uint8_t c;
    assert_int_equal(pread(fd, &c, 1, at), 1);
    c ^= 0x40;
    assert_int_equal(pwrite(fd, &c, 1, at), 1);
    close(fd);
}

/* --- gateways ------------------------------------------------------------------------------ */

typedef struct gw_opts {
    int rf;
    sg_source_t source;
    fx_block_io_t io;
    size_t symbols_cache; /* 0 = 32 MiB */
} gw_opts_t;

static sg_t *gw_start(int i, const gw_opts_t *o)
{
    fx_err_t err = {0};
    char sync_dir[128];
    struct gw *w = &W.gw[i];
    snprintf(w->id, sizeof w->id, "sg-%d", i);
    snprintf(sync_dir, sizeof sync_dir, "%s/%s", W.dir, w->id);
    fx_ring_options_t ro = {NULL, 1000};
    if (!w->ring)
        w->ring = fx_ring_new(W.kv, "store-gateway", &ro, &err);
    if (!w->reg)
        w->reg = fx_registry_new();
    sg_config_t c = {0};
    c.bucket = W.bucket;
    c.ring = w->ring;
    c.replication_factor = o && o->rf ? o->rf : 1;
    c.sync_dir = sync_dir;
    c.source = o ? o->source : SG_SOURCE_CACHE;
    c.io = o ? o->io : FX_BLOCK_IO_AUTO;
    c.index_cache_bytes = 8 << 20;
    c.symbols_cache_bytes = o && o->symbols_cache ? o->symbols_cache : 32 << 20;
    c.sync_interval_ms = 3600 * 1000; /* tests sync by hand */
    c.ring_check_ms = 100;
    c.metrics = w->reg;
    w->g = sg_new(&c, &err);
    if (!w->g)
        fail_msg("sg_new: %s", err.msg);
    fx_ring_lifecycler_options_t lc = {w->id, "127.0.0.1:1", "", "", 64, NULL, 100, NULL};
    if (sg_start(w->g, &lc, &err))
        fail_msg("sg_start: %s", err.msg);
    for (int t = 0; t < 500 && sg_ready(w->g, &err) != FX_OK; t++)
        usleep(20000);
    if (sg_ready(w->g, &err) != FX_OK)
        fail_msg("gateway %d not ready: %s", i, err.msg);
    return w->g;
}

/* Waits until cond(ctx) holds (10 s at most). */
static int eventually(int (*cond)(void *), void *ctx)
{
    for (int t = 0; t < 1000; t++) {
        if (cond(ctx))
            return 1;
        usleep(10000);
    }
    return cond(ctx);
}

static size_t loaded(sg_t *g)
{
    sg_stats_t st;
    sg_get_stats(g, &st);
    return st.loaded;
}

static void sync_ok(sg_t *g)
{
    fx_err_t err = {0};
    if (sg_sync(g, &err))
        fail_msg("sync: %s", err.msg);
}

/* --- answers, dumped as text ---------------------------------------------------------------- */

typedef struct target {
    fx_head_t *h;
    sg_t *g[2]; /* gateways whose answers are combined (g[1] may be NULL) */
} target_t;

static void put_strings(fx_buf_t *d, const fx_head_strings_t *s)
{
    for (size_t i = 0; i < s->len; i++)
        fx_buf_printf(d, "%s|", s->v[i]);
    fx_buf_putc(d, '\n');
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void put_lines(fx_buf_t *d, char **lines, size_t n)
{
    qsort(lines, n, sizeof *lines, cmp_line);
    for (size_t i = 0; i < n; i++) {
        fx_buf_printf(d, "%s\n", lines[i]);
        free(lines[i]);
    }
    free(lines);
}

static void put_tree(fx_buf_t *d, const fx_tree_t *t)
{
    char **lines = calloc(t->len + 1, sizeof *lines);
    size_t n = 0;
    for (size_t i = 1; i < t->len; i++) {
        fx_buf_t p = FX_BUF_INIT;
        uint32_t path[4096];
        size_t depth = 0;
        for (uint32_t j = (uint32_t)i; j != FX_TREE_ROOT && depth < 4096; j = t->nodes[j].parent)
            path[depth++] = j;
        while (depth--)
            fx_buf_printf(&p, "%s;", fx_tree_name_str(t, t->nodes[path[depth]].name));
        fx_buf_printf(&p, " %lld %lld", (long long)t->nodes[i].self, (long long)t->nodes[i].total);
        lines[n++] = fx_strdup(fx_buf_cstr(&p));
        fx_buf_free(&p);
    }
    fx_buf_printf(d, "tree total %lld\n", (long long)fx_tree_total(t));
    put_lines(d, lines, n);
}

/* A pprof as sorted "frame;frame;... value" lines (identical stacks
 * summed), its sample types first: equal for equal profiles whatever the
 * ids and table order. */
static void put_pprof(fx_buf_t *d, const fx_buf_t *bytes)
{
    fx_arena_t a;
    fx_pprof_t p;
    fx_err_t err = {0};
    fx_arena_init(&a);
    if (fx_pprof_decode(bytes->data, bytes->len, &a, &p, &err))
        fail_msg("pprof: %s", err.msg);
    for (size_t i = 0; i < p.nsample_types; i++) {
        fx_slice_t t = fx_pprof_str(&p, p.sample_types[i].type), u = fx_pprof_str(&p, p.sample_types[i].unit);
        fx_buf_printf(d, "type %.*s/%.*s\n", (int)t.len, t.data, (int)u.len, u.data);
    }
    fx_buf_printf(d, "period %lld\n", (long long)p.period);
    char **lines = calloc(p.nsamples + 1, sizeof *lines);
    size_t n = 0;
    for (size_t i = 0; i < p.nsamples; i++) {
        fx_buf_t s = FX_BUF_INIT;
        for (uint32_t k = p.samples[i].nlocs; k-- > 0;) {
            const fx_pprof_location_t *loc = fx_pprof_location(&p, p.samples[i].locs[k]);
            assert_non_null(loc);
            for (uint32_t j = loc->nlines; j-- > 0;) {
                const fx_pprof_function_t *fn = fx_pprof_function(&p, loc->lines[j].function_id);
                fx_slice_t name = fn ? fx_pprof_str(&p, fn->name) : (fx_slice_t){(const uint8_t *)"?", 1};
                fx_buf_printf(&s, "%.*s:%lld;", (int)name.len, name.data, (long long)loc->lines[j].line);
            }
        }
        fx_buf_putc(&s, ' ');
        for (uint32_t v = 0; v < p.samples[i].nvalues; v++)
            fx_buf_printf(&s, "%lld,", (long long)p.samples[i].values[v]);
        lines[n++] = fx_strdup(fx_buf_cstr(&s));
        fx_buf_free(&s);
    }
    /* Merge identical stacks: a merged profile has each once. */
    qsort(lines, n, sizeof *lines, cmp_line);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char *sp = strrchr(lines[i], ' ');
        if (k && !strncmp(lines[k - 1], lines[i], (size_t)(sp - lines[i]) + 1) &&
            strrchr(lines[k - 1], ' ') - lines[k - 1] == sp - lines[i]) {
            long long a1 = atoll(strrchr(lines[k - 1], ' ') + 1), a2 = atoll(sp + 1);
            char buf[64];
            snprintf(buf, sizeof buf, "%lld,", a1 + a2);
            *(strrchr(lines[k - 1], ' ') + 1) = 0;
            char *joined = NULL;
            assert_true(asprintf(&joined, "%s%s", lines[k - 1], buf) > 0);
            free(lines[k - 1]);
            free(lines[i]);
            lines[k - 1] = joined;
            continue;
        }
        lines[k++] = lines[i];
    }
    put_lines(d, lines, k);
    fx_pprof_free(&p);
    fx_arena_free(&a);
}

#define TRY(x)                                                                             \
    do {                                                                                   \
        if ((rc = (x)))                                                                    \
            goto out;                                                                      \
    } while (0)

/* For gateways: the union of both answers (they own disjoint blocks). */
static int q_strings(target_t *t, int kind, const fx_head_query_t *q, const char *name,
                     fx_arena_t *a, fx_head_strings_t *o, fx_err_t *e)
{
    if (t->h)
        return kind == 0   ? fx_head_label_names(t->h, q, a, o, e)
               : kind == 1 ? fx_head_label_values(t->h, q, name, a, o, e)
                           : fx_head_profile_types(t->h, q, a, o, e);
    fx_head_strings_t parts[2] = {{0}, {0}};
    for (int i = 0; i < 2 && t->g[i]; i++) {
        int rc = kind == 0   ? sg_label_names(t->g[i], q, a, &parts[i], e)
                 : kind == 1 ? sg_label_values(t->g[i], q, name, a, &parts[i], e)
                             : sg_profile_types(t->g[i], q, a, &parts[i], e);
        if (rc)
            return rc;
    }
    o->v = fx_arena_alloc(a, (parts[0].len + parts[1].len + 1) * sizeof *o->v);
    o->len = 0;
    for (int i = 0; i < 2; i++)
        for (size_t k = 0; k < parts[i].len; k++)
            o->v[o->len++] = parts[i].v[k];
    qsort(o->v, o->len, sizeof *o->v, cmp_line);
    size_t k = 0;
    for (size_t i = 0; i < o->len; i++)
        if (!k || strcmp(o->v[k - 1], o->v[i]))
            o->v[k++] = o->v[i];
    o->len = k;
    return FX_OK;
}

/* labels: compare label, series and type answers; the pprof is compared
 * when the query names a profile type (without one its sample type is the
 * first selected series', which differs from source to source). */
static int dump_query(target_t *t, const fx_head_query_t *q, int labels, fx_buf_t *d, fx_err_t *err)
{
    fx_arena_t a;
    fx_head_strings_t s;
    fx_head_label_sets_t ls;
    fx_head_keys_t keys = {0};
    fx_head_ts_list_t ts;
    int rc;
    fx_arena_init(&a);
    static const char *const lnames[] = {"service_name", "__name__", "env", "__profile_type__", "nope"};
    for (size_t i = 0; labels && i < FX_ARRAY_LEN(lnames) + 2; i++) {
        TRY(q_strings(t, i == 0 ? 0 : i == 1 ? 2 : 1, q, i > 1 ? lnames[i - 2] : NULL, &a, &s, err));
        put_strings(d, &s);
    }
    if (!t->g[1] && labels) {
        /* Single target: exact answers, order included. */
        const char *names[] = {"__name__", "env"};
        TRY(t->h ? fx_head_series(t->h, q, names, 2, &a, &ls, err)
                 : sg_series(t->g[0], q, names, 2, &a, &ls, err));
        for (size_t i = 0; i < ls.len; i++)
            fx_labels_format(&ls.v[i], d);
        TRY(t->h ? fx_head_series(t->h, q, NULL, 0, &a, &ls, err)
                 : sg_series(t->g[0], q, NULL, 0, &a, &ls, err));
        for (size_t i = 0; i < ls.len; i++)
            fx_labels_format(&ls.v[i], d);
        fx_buf_putc(d, '\n');
    }
    if (!t->g[1]) {
        TRY(t->h ? fx_head_profile_keys(t->h, q, &a, &keys, err)
                 : sg_profile_keys(t->g[0], q, &a, &keys, err));
        for (size_t i = 0; i < keys.len; i++)
            fx_buf_printf(d, "%016llx %lld %02x%02x\n", (unsigned long long)keys.v[i].fingerprint,
                          (long long)keys.v[i].time_ns, keys.v[i].id[0], keys.v[i].id[1]);
        const char *by[] = {"service_name"};
        /* 20 s steps put profiles of two blocks into one bucket (averages
         * must then be sums over counts, not sums of averages). */
        for (int g = 0; g < 4; g++)
            for (int agg = 0; agg < 2; agg++) {
                int64_t step = g < 2 ? 4000 : 20000;
                TRY(t->h ? fx_head_select_series(t->h, q, by, (size_t)(g & 1), step,
                                                 (fx_head_aggregation_t)agg, &a, &ts, err)
                         : sg_select_series(t->g[0], q, by, (size_t)(g & 1), step,
                                            (fx_head_aggregation_t)agg, &a, &ts, err));
                for (size_t i = 0; i < ts.len; i++) {
                    fx_labels_format(&ts.v[i].labels, d);
                    for (size_t k = 0; k < ts.v[i].npoints; k++)
                        fx_buf_printf(d, " %lld=%.17g", (long long)ts.v[i].points[k].ts_ms,
                                      ts.v[i].points[k].value);
                    fx_buf_printf(d, " total=%.17g\n", ts.v[i].total);
                }
            }
    }
    for (int g = FX_GROUP_FUNCTION; g <= FX_GROUP_PACKAGE; g++) {
        fx_tree_t tree;
        fx_tree_init(&tree);
        if (t->h)
            rc = fx_head_merge_tree(t->h, q, (fx_head_grouping_t)g, &tree, err);
        for (int i = 0; !t->h && i < 2 && t->g[i] && rc == FX_OK; i++)
            rc = sg_merge_tree(t->g[i], q, (fx_head_grouping_t)g, &tree, err);
        fx_tree_compute_totals(&tree);
        if (rc == FX_OK)
            put_tree(d, &tree);
        fx_tree_free(&tree);
        if (rc)
            goto out;
    }
    if (!t->g[1]) {
        fx_buf_t pp = FX_BUF_INIT;
        if (q->profile_type) {
            rc = t->h ? fx_head_merge_pprof(t->h, q, &pp, err) : sg_merge_pprof(t->g[0], q, &pp, err);
            if (rc == FX_OK)
                put_pprof(d, &pp);
        }
        fx_buf_free(&pp);
        if (rc)
            goto out;
        /* The same merges restricted to every other key (replica dedup). */
        if (keys.len) {
            fx_head_keyset_t ks;
            fx_head_keyset_init(&ks);
            for (size_t i = 0; i < keys.len; i += 2)
                fx_head_keyset_add(&ks, &keys.v[i]);
            fx_head_query_t q2 = *q;
            q2.only = &ks;
            fx_tree_t tree;
            fx_tree_init(&tree);
            rc = t->h ? fx_head_merge_tree(t->h, &q2, FX_GROUP_FUNCTION, &tree, err)
                      : sg_merge_tree(t->g[0], &q2, FX_GROUP_FUNCTION, &tree, err);
            if (rc == FX_OK) {
                put_tree(d, &tree);
                rc = t->h ? fx_head_select_series(t->h, &q2, NULL, 0, 1000, FX_AGG_SUM, &a, &ts, err)
                          : sg_select_series(t->g[0], &q2, NULL, 0, 1000, FX_AGG_SUM, &a, &ts, err);
                for (size_t i = 0; rc == FX_OK && i < ts.len; i++)
                    fx_buf_printf(d, "only %zu %.17g\n", ts.v[i].npoints, ts.v[i].total);
            }
            fx_head_keys_t k2 = {0};
            if (rc == FX_OK)
                rc = t->h ? fx_head_profile_keys(t->h, &q2, &a, &k2, err)
                          : sg_profile_keys(t->g[0], &q2, &a, &k2, err);
            fx_buf_printf(d, "only keys %zu\n", k2.len);
            fx_tree_free(&tree);
            fx_head_keyset_free(&ks);
        }
    }
out:
    fx_arena_free(&a);
    return rc;
}

/* labels 0: label, series and profile-type answers are not compared. The
 * head keeps one time range per series, a block one per series per block,
 * so for a range falling between two profiles of a series the blocks
 * (rightly) leave the series out where the head names it; selects are
 * exact either way. */
static const struct {
    const char *sel, *ptype;
    int64_t start, end;
    int labels;
} queries[] = {
    {"{}", NULL, 0, 0, 1},
    {"{}", "process_cpu:cpu:nanoseconds:cpu:nanoseconds", 0, 0, 1},
    {"{}", "process_cpu:samples:count:cpu:nanoseconds", 0, 0, 1},
    {"{}", "memory:inuse_space:bytes:space:bytes", 0, 0, 1},
    {"{}", "memory:alloc_objects:count:space:bytes", 0, 0, 1},
    {"{}", "wall:wall:nanoseconds:wall:nanoseconds", 0, 0, 1},
    {"{service_name=\"svc-1\"}", "memory:inuse_space:bytes:space:bytes", 0, 0, 1},
    {"{service_name=~\"svc-[0-3]\", env!=\"dev\"}", "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
     T0MS, T0MS + 22000, 1},
    {"{env=\"dev\"}", "memory:inuse_space:bytes:inuse_space:bytes", 0, 0, 1},
    {"{missing!=\"x\", service_name!~\"svc-2\"}", "wall:wall:nanoseconds:wall:nanoseconds",
     T0MS + 3000, T0MS + 34000, 1},
    {"{}", "process_cpu:cpu:nanoseconds:cpu:nanoseconds", T0MS + 10000, T0MS + 10000, 0},
    {"{}", "memory:inuse_space:bytes:space:bytes", T0MS + 12000, T0MS + 24000, 0},
    {"{}", "wall:wall:nanoseconds:wall:nanoseconds", T0MS + 5000, T0MS + 15000, 0},
    {"{}", NULL, T0MS + 100000, T0MS + 200000, 1},
};

static void dump_all(target_t *t, const char *tenant, fx_buf_t *d)
{
    fx_err_t err = {0};
    for (size_t i = 0; i < FX_ARRAY_LEN(queries); i++) {
        fx_selector_t sel;
        assert_int_equal(fx_selector_parse(queries[i].sel, &sel, &err), FX_OK);
        fx_head_query_t q = {tenant, &sel, 1, queries[i].ptype, queries[i].start, queries[i].end, NULL, NULL, 0, 0};
        fx_buf_printf(d, "== query %zu\n", i);
        int rc = dump_query(t, &q, queries[i].labels, d, &err);
        fx_selector_free(&sel);
        if (rc)
            fail_msg("query %zu: %s", i, err.msg);
    }
    fx_head_profile_stats_t st = {0};
    if (t->h)
        assert_int_equal(fx_head_profile_stats(t->h, tenant, &st, &err), FX_OK);
    for (int i = 0; !t->h && i < 2 && t->g[i]; i++) {
        fx_head_profile_stats_t s2;
        assert_int_equal(sg_profile_stats(t->g[i], tenant, &s2, &err), FX_OK);
        if (!s2.data_ingested)
            continue;
        if (!st.data_ingested || s2.oldest_ms < st.oldest_ms)
            st.oldest_ms = s2.oldest_ms;
        if (!st.data_ingested || s2.newest_ms > st.newest_ms)
            st.newest_ms = s2.newest_ms;
        st.data_ingested = 1;
    }
    fx_buf_printf(d, "stats %d %lld %lld\n", st.data_ingested, (long long)st.oldest_ms,
                  (long long)st.newest_ms);
}

static void assert_same(const fx_buf_t *a, const fx_buf_t *b)
{
    if (a->len == b->len && memcmp(a->data, b->data, a->len) == 0)
        return;
    size_t i = 0;
    while (i < a->len && i < b->len && a->data[i] == b->data[i])
        i++;
    size_t from = i > 300 ? i - 300 : 0;
    fail_msg("answers differ at byte %zu of %zu/%zu:\n--- head\n%.*s\n--- gateway\n%.*s", i, a->len,
             b->len, (int)FX_MIN(a->len - from, 600), a->data + from,
             (int)FX_MIN(b->len - from, 600), b->data + from);
}

/* Gateways g0 (and g1) together answer every query of both tenants as the
 * head does. */
static void assert_like_head(sg_t *g0, sg_t *g1)
{
    static const char *const tenants[] = {"t1", "t2", "nobody"};
    for (size_t i = 0; i < FX_ARRAY_LEN(tenants); i++) {
        fx_buf_t want = FX_BUF_INIT, got = FX_BUF_INIT;
        target_t th = {W.head, {NULL, NULL}}, tg = {NULL, {g0, g1}};
        if (g1)
            th.g[1] = g1; /* the same (union) view of the head's answers */
        dump_all(&th, tenants[i], &want);
        dump_all(&tg, tenants[i], &got);
        assert_true(want.len > 200);
        assert_same(&want, &got);
        fx_buf_free(&want);
        fx_buf_free(&got);
    }
}

/* --- tests ------------------------------------------------------------------------------------ */

/* Non-overlapping blocks, read through io_uring, pread, and the bucket. */
static void test_equal_to_head(void **state)
{
    (void)state;
    char ids[ROUNDS][FX_BLOCK_ULID_LEN + 1];
    cut_rounds(ids);
    static const gw_opts_t modes[] = {{1, SG_SOURCE_CACHE, FX_BLOCK_IO_URING, 0},
                                      {1, SG_SOURCE_CACHE, FX_BLOCK_IO_PREAD, 0},
                                      {1, SG_SOURCE_BUCKET, FX_BLOCK_IO_AUTO, 0}};
    for (size_t m = 0; m < FX_ARRAY_LEN(modes); m++) {
        sg_t *g = gw_start(0, &modes[m]);
        assert_int_equal(loaded(g), ROUNDS + 1);
        for (int k = 0; k < ROUNDS; k++)
            assert_true(sg_has_block(g, ids[k]));
        assert_like_head(g, NULL);
        gw_free(0);
    }
}

/* Three replicas of the same data (one per ingester) plus blocks that
 * overlap: every profile counts once. */
static void test_replicas(void **state)
{
    (void)state;
    char ids[8][FX_BLOCK_ULID_LEN + 1];
    cut("t1", 0, 19.999, ids[0]);
    cut("t1", 0, 19.999, ids[1]);
    cut("t1", 0, 19.999, ids[2]);
    cut("t1", 15, 29.999, ids[3]); /* overlaps the replicas' last 5 s */
    cut("t1", 20, 50, ids[4]);
    cut("t1", 30, 50, ids[5]);     /* inside the previous one */
    cut("t2", 0, 100, ids[6]);
    cut("t2", 0, 100, ids[7]);
    sg_t *g = gw_start(0, NULL);
    assert_int_equal(loaded(g), 8);
    assert_like_head(g, NULL);
}

static int split_done(void *ctx)
{
    (void)ctx;
    return loaded(W.gw[0].g) + loaded(W.gw[1].g) == ROUNDS + 1 && loaded(W.gw[0].g) > 0 &&
           loaded(W.gw[1].g) > 0;
}

static int took_all(void *ctx)
{
    return loaded((sg_t *)ctx) == ROUNDS + 1;
}

/* Enough blocks that two gateways each own some (64 tokens each). */
static void cut_many(char ids[ROUNDS][FX_BLOCK_ULID_LEN + 1])
{
    cut_rounds(ids);
}

/* Two gateways split the blocks; one crashes, the other takes its shard;
 * it comes back and leaves gracefully, and the other takes it again. */
static void test_split_and_takeover(void **state)
{
    (void)state;
    char ids[ROUNDS][FX_BLOCK_ULID_LEN + 1];
    cut_many(ids);
    sg_t *a = gw_start(0, NULL), *b = gw_start(1, NULL);
    /* Tokens are random: retry with new gateways until both own some. */
    for (int attempt = 0; attempt < 20 && !eventually(split_done, NULL); attempt++) {
        gw_free(1);
        b = gw_start(1, NULL);
    }
    assert_true(split_done(NULL));
    for (int k = 0; k < ROUNDS; k++)
        assert_true(sg_has_block(a, ids[k]) != sg_has_block(b, ids[k]));
    assert_like_head(a, b);

    /* a crashes: heartbeats stop, its ring entry stays ACTIVE until it
     * times out (1 s); b then takes everything. */
    sg_stop(a, 0);
    int64_t t0 = fx_mono_ns();
    assert_true(eventually(took_all, b));
    assert_true(fx_mono_ns() - t0 > 300 * 1000000LL); /* not before the timeout */
    assert_like_head(b, NULL);
    gw_free(0);

    /* a restarts (same id, so the same tokens) and they split again. */
    a = gw_start(0, NULL);
    assert_true(eventually(split_done, NULL));
    /* graceful leave: LEAVING, then removed from the ring */
    sg_leave(a);
    sg_stop(a, 1);
    assert_true(eventually(took_all, b));
    assert_like_head(b, NULL);
}

static int both_all(void *ctx)
{
    (void)ctx;
    return loaded(W.gw[0].g) == ROUNDS + 1 && loaded(W.gw[1].g) == ROUNDS + 1;
}

static void test_replication_factor_2(void **state)
{
    (void)state;
    char ids[ROUNDS][FX_BLOCK_ULID_LEN + 1];
    cut_rounds(ids);
    gw_opts_t o = {2, SG_SOURCE_CACHE, FX_BLOCK_IO_AUTO, 0};
    gw_start(0, &o);
    gw_start(1, &o);
    assert_true(eventually(both_all, NULL));
    assert_like_head(W.gw[0].g, NULL);
    assert_like_head(W.gw[1].g, NULL);
}

/* Deletion marks hide blocks; a compacted block hides its sources. */
static void test_marks_and_sources(void **state)
{
    (void)state;
    char ids[ROUNDS][FX_BLOCK_ULID_LEN + 1], extra[FX_BLOCK_ULID_LEN + 1], key[256];
    cut_rounds(ids);
    sg_t *g = gw_start(0, NULL);
    assert_int_equal(loaded(g), ROUNDS + 1);

    /* A replica of round 0, then deleted: answers stay the head's. */
    cut("t1", 0, 9.999, extra);
    sync_ok(g);
    assert_true(sg_has_block(g, extra));
    snprintf(key, sizeof key, "t1/%s/deletion-mark.json", extra);
    put_object(key, "{\"id\":\"x\",\"deletion_time\":1,\"reason\":\"compacted\"}");
    sync_ok(g);
    assert_false(sg_has_block(g, extra));
    assert_int_equal(loaded(g), ROUNDS + 1);
    assert_like_head(g, NULL);

    /* Compact rounds 0 and 1 into one block: it replaces them. */
    fx_block_t *in[2];
    fx_block_meta_t m;
    fx_err_t err = {0};
    char staging[128], dir[256];
    for (int k = 0; k < 2; k++) {
        snprintf(dir, sizeof dir, "%s/staging/%s", W.dir, ids[k]);
        assert_int_equal(fx_block_open_dir(dir, NULL, &in[k], &err), FX_OK);
    }
    snprintf(staging, sizeof staging, "%s/compacted", W.dir);
    if (fx_block_compact(in, 2, staging, NULL, &m, NULL, &err))
        fail_msg("compact: %s", err.msg);
    fx_block_close(in[0]);
    fx_block_close(in[1]);
    snprintf(dir, sizeof dir, "%s/%s", staging, m.id);
    upload_dir("t1", dir, m.id);
    sync_ok(g);
    assert_true(sg_has_block(g, m.id));
    assert_false(sg_has_block(g, ids[0]));
    assert_false(sg_has_block(g, ids[1]));
    assert_int_equal(loaded(g), ROUNDS);
    assert_like_head(g, NULL);
    fx_block_meta_free(&m);

    /* Deleting everything of t1 empties the answers. */
    for (int k = 0; k < ROUNDS; k++) {
        snprintf(key, sizeof key, "t1/%s/deletion-mark.json", ids[k]);
        put_object(key, "{}");
    }
    sync_ok(g);
    assert_int_equal(loaded(g), 2); /* the compacted block and t2's */
}

/* Captures stderr into a file while corruption is detected. */
static int stderr_saved = -1;
static char stderr_path[128];

static void capture_stderr(void)
{
    snprintf(stderr_path, sizeof stderr_path, "%s/stderr.log", W.dir);
    fflush(stderr);
    stderr_saved = dup(2);
    int fd = open(stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    dup2(fd, 2);
    close(fd);
}

static char *release_stderr(void)
{
    fflush(stderr);
    dup2(stderr_saved, 2);
    close(stderr_saved);
    FILE *f = fopen(stderr_path, "rb");
    assert_non_null(f);
    char *text = calloc(1, 1 << 20);
    size_t n = fread(text, 1, (1 << 20) - 1, f);
    text[n] = 0;
    fclose(f);
    fputs(text, stderr); /* keep the log visible */
    return text;
}

/* The value of an unlabelled metric of gateway i, as /metrics shows it. */
static double metric(int i, const char *name)
{
    fx_buf_t out = FX_BUF_INIT;
    char line[256];
    fx_metrics_write(W.gw[i].reg, &out);
    snprintf(line, sizeof line, "\n%s ", name);
    const char *p = strstr(fx_buf_cstr(&out), line);
    double v = p ? atof(p + strlen(line)) : -1;
    fx_buf_free(&out);
    return v;
}

/* A block corrupted in the bucket: detected at download, read twice,
 * marked corrupted.json, logged and counted; its replica answers. A local
 * copy damaged later: the query that trips on it skips it (planning again,
 * so the replica's profiles still count once) and the next sync downloads
 * it again. */
static void test_corrupted(void **state)
{
    (void)state;
    char ids[ROUNDS][FX_BLOCK_ULID_LEN + 1], rep[FX_BLOCK_ULID_LEN + 1], bad[FX_BLOCK_ULID_LEN + 1];
    char path[512], key[256];
    cut_rounds(ids);
    cut("t1", 0, 9.999, rep); /* replica of round 0 */
    cut("t1", 10, 19.999, bad); /* replica of round 1, to be corrupted in the bucket */
    snprintf(path, sizeof path, "%s/bucket/t1/%s/profiles.fxb", W.dir, bad);
    flip(path);

    capture_stderr();
    sg_t *g = gw_start(0, NULL);
    char *log = release_stderr();
    assert_non_null(strstr(log, "corrupted block"));
    assert_non_null(strstr(log, bad));
    free(log);
    assert_false(sg_has_block(g, bad));
    assert_int_equal(loaded(g), ROUNDS + 2);
    snprintf(key, sizeof key, "t1/%s/corrupted.json", bad);
    assert_true(bucket_has(key));
    /* The agreed mark: the section's file, seconds, no local paths. */
    fx_buf_t mark = FX_BUF_INIT;
    fx_err_t err = {0};
    assert_int_equal(fx_bucket_get(W.bucket, key, &mark, &err), FX_OK);
    json_error_t je;
    json_t *j = json_loadb((const char *)mark.data, mark.len, 0, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "id")), bad);
    assert_string_equal(json_string_value(json_object_get(j, "section")), "profiles.fxb");
    int64_t t = json_integer_value(json_object_get(j, "time"));
    assert_true(t > fx_now_ms() / 1000 - 60 && t <= fx_now_ms() / 1000);
    const char *why = json_string_value(json_object_get(j, "error"));
    assert_non_null(strstr(why, "checksum"));
    assert_null(strstr(why, W.dir));
    json_decref(j);
    fx_buf_free(&mark);
    assert_true(metric(0, "fornax_store_gateway_corrupted_blocks_total") == 1);
    assert_like_head(g, NULL);

    /* Damage the local copy of round 0 after loading. */
    double before = metric(0, "fornax_store_gateway_corrupted_blocks_total");
    snprintf(path, sizeof path, "%s/sg-0/t1/%s/profiles.fxb", W.dir, ids[0]);
    flip(path);
    capture_stderr();
    assert_like_head(g, NULL); /* the replica answers for it */
    log = release_stderr();
    assert_non_null(strstr(log, ids[0]));
    free(log);
    assert_true(metric(0, "fornax_store_gateway_corrupted_blocks_total") == before + 1);
    /* The next sync downloads it again (the bucket copy is fine). */
    sync_ok(g);
    assert_true(sg_has_block(g, ids[0]));
    snprintf(key, sizeof key, "t1/%s/corrupted.json", ids[0]);
    assert_false(bucket_has(key));
    assert_like_head(g, NULL);
}

/* Symbols damaged after keys were assigned: the merge that trips on them
 * plans again, and the replica's copy of every profile is merged instead.
 * A one-byte symbols cache makes every merge read the section again. */
static void test_corrupted_during_merge(void **state)
{
    (void)state;
    char ids[ROUNDS][FX_BLOCK_ULID_LEN + 1], rep[FX_BLOCK_ULID_LEN + 1], path[512];
    cut_rounds(ids);
    usleep(2000); /* a later ULID: the original is assigned the keys first */
    cut("t1", 0, 9.999, rep);
    gw_opts_t o = {1, SG_SOURCE_CACHE, FX_BLOCK_IO_AUTO, 1};
    sg_t *g = gw_start(0, &o);
    assert_like_head(g, NULL);
    snprintf(path, sizeof path, "%s/sg-0/t1/%s/symbols.fxb", W.dir, ids[0]);
    flip(path);
    assert_like_head(g, NULL);
    assert_true(metric(0, "fornax_store_gateway_corrupted_blocks_total") == 1);
    sync_ok(g); /* downloaded again */
    assert_true(sg_has_block(g, ids[0]));
    assert_like_head(g, NULL);
}

/* Straight from the bucket: corruption found by a query, confirmed by
 * reading it again at the next sync, then marked. */
static void test_corrupted_bucket_source(void **state)
{
    (void)state;
    char ids[ROUNDS][FX_BLOCK_ULID_LEN + 1], rep[FX_BLOCK_ULID_LEN + 1], path[512], key[256];
    cut_rounds(ids);
    cut("t1", 20, 29.999, rep);
    gw_opts_t o = {1, SG_SOURCE_BUCKET, FX_BLOCK_IO_AUTO, 0};
    sg_t *g = gw_start(0, &o);
    assert_int_equal(loaded(g), ROUNDS + 2);
    snprintf(path, sizeof path, "%s/bucket/t1/%s/profiles.fxb", W.dir, rep);
    flip(path);
    assert_like_head(g, NULL);
    assert_true(metric(0, "fornax_store_gateway_corrupted_blocks_total") == 1);
    sync_ok(g);
    assert_false(sg_has_block(g, rep));
    snprintf(key, sizeof key, "t1/%s/corrupted.json", rep);
    assert_true(bucket_has(key));
    sync_ok(g);
    assert_int_equal(loaded(g), ROUNDS + 1);
    assert_like_head(g, NULL);
}

/* A restarted gateway reuses its local copies instead of downloading. */
static void test_restart_reuses_copies(void **state)
{
    (void)state;
    char ids[ROUNDS][FX_BLOCK_ULID_LEN + 1], path[512];
    struct stat before, after;
    cut_rounds(ids);
    gw_start(0, NULL);
    snprintf(path, sizeof path, "%s/sg-0/t1/%s/profiles.fxb", W.dir, ids[2]);
    assert_int_equal(stat(path, &before), 0);
    /* a stale copy of a block that is gone, and a crashed download */
    char stale[512];
    snprintf(stale, sizeof stale, "%s/sg-0/t1/01ARZ3NDEKTSV4RRFFQ69G5FAV", W.dir);
    assert_int_equal(mkdir(stale, 0755), 0);
    snprintf(stale, sizeof stale, "%s/sg-0/t1/.tmp-01ARZ3NDEKTSV4RRFFQ69G5FAV", W.dir);
    assert_int_equal(mkdir(stale, 0755), 0);
    gw_free(0);
    sg_t *g = gw_start(0, NULL);
    assert_int_equal(loaded(g), ROUNDS + 1);
    assert_int_equal(stat(path, &after), 0);
    assert_int_equal(before.st_ino, after.st_ino);
    assert_int_equal(metric(0, "fornax_store_gateway_block_loads_total"), ROUNDS + 1);
    assert_int_not_equal(access(stale, F_OK), 0);
    snprintf(stale, sizeof stale, "%s/sg-0/t1/01ARZ3NDEKTSV4RRFFQ69G5FAV", W.dir);
    assert_int_not_equal(access(stale, F_OK), 0);
    assert_like_head(g, NULL);
}

/* --- over gRPC ------------------------------------------------------------------------------- */

#define SVC "/storegateway.v1.StoreGatewayService/"

static void test_rpc(void **state)
{
    (void)state;
    char ids[ROUNDS][FX_BLOCK_ULID_LEN + 1], rep[FX_BLOCK_ULID_LEN + 1];
    fx_err_t err = {0};
    cut_rounds(ids);
    cut("t1", 0, 39.999, rep); /* a replica of everything */
    sg_t *g = gw_start(0, NULL);
    fx_rpc_server_t *srv;
    assert_int_equal(fx_rpc_server_new("127.0.0.1:0", 2, 0, &srv, &err), FX_OK);
    assert_int_equal(sg_register_rpcs(g, srv, &err), FX_OK);
    assert_int_equal(fx_rpc_server_start(srv, &err), FX_OK);
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", fx_rpc_server_port(srv));
    fx_rpc_client_t *cl = fx_rpc_client_new(target);
    fx_arena_t a;
    fx_arena_init(&a);
    ProtobufCMessage *resp;

    /* MergeStacktraces = the head's tree. */
    Ingester__V1__SelectRequest sel = INGESTER__V1__SELECT_REQUEST__INIT;
    sel.profile_type_id = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
    sel.label_selector = "{}";
    if (fx_rpc_invoke(cl, SVC "MergeStacktraces", "t1", &sel.base,
                      &ingester__v1__merge_stacktraces_response__descriptor, &a, &resp, 5000, &err))
        fail_msg("MergeStacktraces: %s", err.msg);
    const Ingester__V1__MergeStacktracesResponse *mr = (const void *)resp;
    fx_tree_t got, want;
    fx_tree_init(&got);
    fx_tree_init(&want);
    assert_int_equal(fx_treebytes_parse(&got, mr->tree.data, mr->tree.len, &err), FX_OK);
    fx_selector_t all;
    assert_int_equal(fx_selector_parse("{}", &all, &err), FX_OK);
    fx_head_query_t hq = {"t1", &all, 1, sel.profile_type_id, 0, 0, NULL, NULL, 0, 0};
    assert_int_equal(fx_head_merge_tree(W.head, &hq, FX_GROUP_FUNCTION, &want, &err), FX_OK);
    fx_buf_t d1 = FX_BUF_INIT, d2 = FX_BUF_INIT;
    put_tree(&d1, &want);
    put_tree(&d2, &got);
    assert_true(fx_tree_total(&want) > 0);
    assert_same(&d1, &d2);
    fx_tree_free(&got);
    fx_tree_free(&want);

    /* SelectProfileKeys: each profile once although two blocks hold it. */
    if (fx_rpc_invoke(cl, SVC "SelectProfileKeys", "t1", &sel.base,
                      &ingester__v1__profile_keys__descriptor, &a, &resp, 5000, &err))
        fail_msg("SelectProfileKeys: %s", err.msg);
    const Ingester__V1__ProfileKeys *pk = (const void *)resp;
    fx_head_keys_t hk;
    assert_int_equal(fx_head_profile_keys(W.head, &hq, &a, &hk, &err), FX_OK);
    assert_int_equal(pk->n_fingerprints, hk.len);
    assert_int_equal(hk.len, ROUNDS);
    for (size_t i = 0; i < hk.len; i++) {
        assert_true(pk->fingerprints[i] == hk.v[i].fingerprint);
        assert_true(pk->time_ns[i] == hk.v[i].time_ns);
    }

    /* MergeSeries with only = the first two keys: their totals alone. */
    Ingester__V1__ProfileKeys only = INGESTER__V1__PROFILE_KEYS__INIT;
    only.n_fingerprints = only.n_time_ns = 2;
    only.fingerprints = pk->fingerprints;
    only.time_ns = pk->time_ns;
    only.ids.data = pk->ids.data;
    only.ids.len = 32;
    sel.only = &only;
    Ingester__V1__SelectSeriesRequest sr = INGESTER__V1__SELECT_SERIES_REQUEST__INIT;
    sr.select = &sel;
    sr.step_ms = 1000;
    if (fx_rpc_invoke(cl, SVC "MergeSeries", "t1", &sr.base,
                      &querier__v1__select_series_response__descriptor, &a, &resp, 5000, &err))
        fail_msg("MergeSeries: %s", err.msg);
    const Querier__V1__SelectSeriesResponse *ss = (const void *)resp;
    size_t npoints = 0;
    for (size_t i = 0; i < ss->n_series; i++)
        npoints += ss->series[i]->n_points;
    assert_int_equal(npoints, 2);

    /* Label names, ProfileStats. */
    Types__V1__LabelNamesRequest ln = TYPES__V1__LABEL_NAMES_REQUEST__INIT;
    if (fx_rpc_invoke(cl, SVC "LabelNames", "t1", &ln.base,
                      &types__v1__label_names_response__descriptor, &a, &resp, 5000, &err))
        fail_msg("LabelNames: %s", err.msg);
    const Types__V1__LabelNamesResponse *lr = (const void *)resp;
    fx_head_strings_t hs;
    fx_head_query_t q0 = {"t1", NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0};
    assert_int_equal(fx_head_label_names(W.head, &q0, &a, &hs, &err), FX_OK);
    assert_int_equal(lr->n_names, hs.len);
    for (size_t i = 0; i < hs.len; i++)
        assert_string_equal(lr->names[i], hs.v[i]);
    Types__V1__GetProfileStatsRequest pr = TYPES__V1__GET_PROFILE_STATS_REQUEST__INIT;
    if (fx_rpc_invoke(cl, SVC "ProfileStats", "t1", &pr.base,
                      &types__v1__get_profile_stats_response__descriptor, &a, &resp, 5000, &err))
        fail_msg("ProfileStats: %s", err.msg);
    const Types__V1__GetProfileStatsResponse *ps = (const void *)resp;
    assert_true(ps->data_ingested);
    assert_int_equal(ps->oldest_profile_time, T0MS);

    /* A bad selector is the caller's error. */
    sel.only = NULL;
    sel.label_selector = "{nope";
    assert_int_equal(fx_rpc_invoke(cl, SVC "MergePprof", "t1", &sel.base,
                                   &ingester__v1__merge_pprof_response__descriptor, &a, &resp, 5000,
                                   &err),
                     FX_EINVAL);

    fx_buf_free(&d1);
    fx_buf_free(&d2);
    fx_selector_free(&all);
    fx_arena_free(&a);
    fx_rpc_client_free(cl);
    fx_rpc_server_stop(srv, 1000);
    fx_rpc_server_free(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_equal_to_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replicas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_and_takeover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replication_factor_2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_marks_and_sources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupted_during_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupted_bucket_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_reuses_copies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rpc, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
