/*
 * test_compactor.c - services/compactor over a real filesystem bucket with
 * real blocks cut from heads of the captured fixtures:
 *   - the planner's rules (ranges, levels, first-level wait, closed windows,
 *     source cap, order) and the redundant-block rule, on synthetic metas;
 *   - compaction keeps every answer exactly: merge trees per profile type,
 *     series and profile keys of the compacted block equal those of its
 *     sources deduplicated by profile key, as queriers deduplicate;
 *   - three replica blocks become one block answering as one of them, with
 *     level 2 and the three sources; larger ranges give level 3;
 *   - the first-level wait holds young blocks back;
 *   - retention marks exactly the blocks past the tenant's period;
 *   - deletion happens only once the delay has passed, meta.json first;
 *   - a flipped byte (profiles section, meta.json) is detected, marked
 *     corrupted.json, counted, skipped; the rest still compacts;
 *   - a crash between upload and marking, and one in the middle of an
 *     upload, leave readable states the next run completes;
 *   - tenants are shared out over the compactor ring, one owner each, and
 *     two compactors running at once compact each tenant once;
 *   - the committed blocks of tests/integration/data/compactor still verify;
 *   - the replica, deletion, corruption and crash tests again against a real
 *     S3 server that checks SigV4 (npm @20minutes/s3rver, skipped only
 *     without node).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/block.h"
#include "config/config.h"
#include "core/gz.h"
#include "core/time.h"
#include "kv/kv.h"
#include "objstore/fs.h"
#include "objstore/s3.h"
#include "pprof/pprof.h"
#include "ring/lifecycler.h"
#include "services/compactor/compactor.h"
#include "storage/head.h"
#include "tree_helpers.h"
#include "pprof_fixture.h"

#define FIXTURES "../shared/fixtures/"
#define HOUR 3600000LL
#define MIN 60000LL

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
};
#define NFX FX_ARRAY_LEN(fx)

/* One test's world: a bucket directory, metrics, limits, a compactor. */
static char dir[64];
static fx_bucket_t *bkt;
static fx_registry_t *reg;
static cp_metrics_t met;
static fx_config_t *lcfg;
static fx_limits_registry_t *lim;
static int64_t base_ms; /* 8h-aligned, two days ago: every window of the data is closed */
static int nheads;

static void load_fixtures(void)
{
    for (size_t i = 0; i < NFX; i++) {
        if (fx[i].plain.len)
            continue;
        fx_test_load_pprof(fx[i].path, &fx[i].plain, &fx[i].arena, &fx[i].p);
    }
}

/* The S3 group runs some tests against npm @20minutes/s3rver (as
 * test_objstore_s3 does); 0 = filesystem. */
static int s3_port;
static int s3_buckets;
static int open_bucket(void);

static int setup(void **state)
{
    (void)state;
    char path[128];
    strcpy(dir, "/tmp/fx-compactor-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/heads", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(open_bucket(), 0);
    reg = fx_registry_new();
    cp_metrics_init(&met, reg);
    lcfg = fx_config_new();
    lim = fx_limits_registry_new();
    fx_limits_register(lcfg, lim);
    base_ms = (fx_now_ms() - 48 * HOUR) / (8 * HOUR) * (8 * HOUR);
    nheads = 0;
    load_fixtures();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fx_bucket_close(bkt);
    fx_registry_free(reg);
    fx_config_free(lcfg);
    fx_limits_registry_free(lim);
    fx_rm_rf(dir);
    return 0;
}

static void config(cp_config_t *c, const char *ranges)
{
    char buf[64], *v[CP_MAX_RANGES], *save = NULL;
    size_t n = 0;
    fx_err_t err = {0};
    memset(c, 0, sizeof *c);
    snprintf(buf, sizeof buf, "%s", ranges);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        v[n++] = t;
    assert_int_equal(cp_parse_ranges((const char *const *)v, n, c, &err), FX_OK);
    c->first_level_wait_ms = 0;
    c->deletion_delay_ms = 12 * HOUR;
    c->partial_delay_ms = 24 * HOUR;
    static char work[128];
    snprintf(work, sizeof work, "%s/work", dir);
    c->work_dir = work;
}

static cp_t *compactor(const char *ranges, cp_config_t *out)
{
    cp_config_t c;
    config(&c, ranges);
    if (out)
        *out = c;
    return cp_new(bkt, &c, lim, &met, NULL);
}

static void run(cp_t *c, const char *tenant, int64_t now_ms)
{
    fx_err_t err = {0};
    if (cp_run_tenant(c, tenant, now_ms, &err) != FX_OK)
        fail_msg("compactor run: %s", err.msg);
}

/* --- blocks ----------------------------------------------------------------------------- */

typedef struct prof {
    size_t f;          /* fixture */
    const char *svc;
    int64_t ms;        /* time */
    uint64_t id;       /* profile id */
} prof_t;

static void put_file(const char *key, const char *path)
{
    fx_err_t err = {0};
    if (fx_bucket_put_file(bkt, key, path, &err))
        fail_msg("upload %s: %s", key, err.msg);
}

/* Cuts profiles p[0..n) of tenant into a level-1 block under local
 * directory parent; m gets its meta. */
static void cut(const char *tenant, const prof_t *p, size_t n, const char *parent,
                fx_block_meta_t *m)
{
    char path[256];
    fx_head_t *h = NULL;
    fx_head_options_t ho;
    fx_err_t err = {0};
    fx_head_options_default(&ho);
    ho.sync = 0;
    snprintf(path, sizeof path, "%s/heads/%d", dir, nheads++);
    if (fx_head_open(path, &ho, &h, &err))
        fail_msg("open head: %s", err.msg);
    for (size_t i = 0; i < n; i++) {
        fx_label_t lv[2] = {{"__name__", fx[p[i].f].name}, {"service_name", p[i].svc}};
        fx_labels_t l = {lv, 2};
        uint8_t pid[16] = {0};
        memcpy(pid, &p[i].id, 8);
        if (fx_head_append(h, tenant, &l, &fx[p[i].f].p, pid, p[i].ms * 1000000, NULL, &err))
            fail_msg("append: %s", err.msg);
    }
    fx_block_write_options_t wo;
    fx_block_write_options_default(&wo);
    wo.fsync = 0;
    wo.chunk_bytes = 4096;
    if (fx_block_write_head(h, tenant, INT64_MIN, INT64_MAX, parent, &wo, m, &err))
        fail_msg("cut: %s", err.msg);
    fx_head_close(h);
}

/* Cuts a level-1 block and uploads it as an ingester does (sections, then
 * meta.json unless partial). id gets its ULID. */
static void make_block_ex(const char *tenant, const prof_t *p, size_t n, char *id, int partial)
{
    char path[256], key[256];
    fx_block_meta_t m;
    snprintf(path, sizeof path, "%s/cut", dir);
    cut(tenant, p, n, path, &m);
    for (int k = 1; k <= FX_BLOCK_NFILES; k++) {
        fx_block_file_t f = (fx_block_file_t)(k % FX_BLOCK_NFILES);
        if (f == FX_BLOCK_META && partial)
            break;
        snprintf(path, sizeof path, "%s/cut/%s/%s", dir, m.id, fx_block_file_name(f));
        snprintf(key, sizeof key, "%s/%s/%s", tenant, m.id, fx_block_file_name(f));
        put_file(key, path);
    }
    strcpy(id, m.id);
    fx_block_meta_free(&m);
}

static void make_block(const char *tenant, const prof_t *p, size_t n, char *id)
{
    make_block_ex(tenant, p, n, id, 0);
}

/* Profiles of every fixture, k per fixture, 10 s apart from start_ms; ids
 * from id0. */
static size_t profiles(prof_t *p, int64_t start_ms, int k, uint64_t id0, const char *svc)
{
    size_t n = 0;
    for (int j = 0; j < k; j++)
        for (size_t f = 0; f < NFX; f++) {
            p[n] = (prof_t){f, svc, start_ms + (int64_t)n * 10000, id0 + n};
            n++;
        }
    return n;
}

static int has(const char *tenant, const char *id, const char *name)
{
    char key[256];
    bool yes = false;
    fx_err_t err = {0};
    snprintf(key, sizeof key, "%s/%s/%s", tenant, id, name);
    assert_int_equal(fx_bucket_exists(bkt, key, &yes, &err), FX_OK);
    return yes;
}

static void get(const char *tenant, const char *id, const char *name, fx_buf_t *out)
{
    char key[256];
    fx_err_t err = {0};
    snprintf(key, sizeof key, "%s/%s/%s", tenant, id, name);
    out->len = 0;
    if (fx_bucket_get(bkt, key, out, &err))
        fail_msg("get %s: %s", key, err.msg);
    fx_buf_cstr(out);
}

/* Objects under tenant/id/. */
static size_t nobjects(const char *tenant, const char *id)
{
    char prefix[128];
    fx_obj_list_t l = {0};
    fx_err_t err = {0};
    snprintf(prefix, sizeof prefix, "%s/%s/", tenant, id);
    assert_int_equal(fx_bucket_list_all(bkt, prefix, "", &l, &err), FX_OK);
    size_t n = l.n;
    fx_obj_list_free(&l);
    return n;
}

/* The visible blocks of tenant (meta.json, no mark of either kind), sorted. */
static size_t visible(const char *tenant, char ids[][FX_BLOCK_ULID_LEN + 1], size_t cap)
{
    char prefix[128];
    fx_obj_list_t l = {0};
    fx_err_t err = {0};
    size_t n = 0;
    snprintf(prefix, sizeof prefix, "%s/", tenant);
    assert_int_equal(fx_bucket_list_all(bkt, prefix, "/", &l, &err), FX_OK);
    for (size_t i = 0; i < l.n; i++) {
        char id[FX_BLOCK_ULID_LEN + 1];
        if (!l.v[i].is_prefix || strlen(l.v[i].key) != strlen(prefix) + FX_BLOCK_ULID_LEN + 1)
            continue;
        memcpy(id, l.v[i].key + strlen(prefix), FX_BLOCK_ULID_LEN);
        id[FX_BLOCK_ULID_LEN] = 0;
        if (has(tenant, id, "meta.json") && !has(tenant, id, "deletion-mark.json") &&
            !has(tenant, id, "corrupted.json")) {
            assert_true(n < cap);
            strcpy(ids[n++], id);
        }
    }
    fx_obj_list_free(&l);
    return n;
}

static const char *mark_reason(const char *tenant, const char *id)
{
    static char reason[32];
    fx_buf_t b = FX_BUF_INIT;
    get(tenant, id, "deletion-mark.json", &b);
    const char *r = strstr((const char *)b.data, "\"reason\":\"");
    assert_non_null(r);
    snprintf(reason, sizeof reason, "%.*s", (int)strcspn(r + 10, "\""), r + 10);
    assert_non_null(strstr((const char *)b.data, id));
    fx_buf_free(&b);
    return reason;
}

/* Downloads and opens (verifying) a block of the bucket. */
static fx_block_t *open_block(const char *tenant, const char *id)
{
    char path[256], key[256];
    fx_err_t err = {0};
    snprintf(path, sizeof path, "%s/dl", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/dl/%s", dir, id);
    mkdir(path, 0755);
    for (int f = 0; f < FX_BLOCK_NFILES; f++) {
        snprintf(key, sizeof key, "%s/%s/%s", tenant, id, fx_block_file_name((fx_block_file_t)f));
        snprintf(path, sizeof path, "%s/dl/%s/%s", dir, id, fx_block_file_name((fx_block_file_t)f));
        if (fx_bucket_get_file(bkt, key, path, &err))
            fail_msg("download %s: %s", key, err.msg);
    }
    snprintf(path, sizeof path, "%s/dl/%s", dir, id);
    fx_block_options_t o = {FX_BLOCK_IO_PREAD, NULL, 1, 0};
    fx_block_t *b = NULL;
    if (fx_block_open_dir(path, &o, &b, &err))
        fail_msg("open %s: %s", id, err.msg);
    return b;
}

/* --- answers: what a querier would get from a set of blocks ------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_key(const void *a, const void *b)
{
    const fx_head_profile_key_t *x = a, *y = b;
    if (x->fingerprint != y->fingerprint)
        return x->fingerprint < y->fingerprint ? -1 : 1;
    if (x->time_ns != y->time_ns)
        return x->time_ns < y->time_ns ? -1 : 1;
    return memcmp(x->id, y->id, 16);
}

typedef struct answers {
    size_t ntypes;
    char *types[16];
    fx_tree_t trees[16];
    fx_buf_t series;   /* sorted unique label sets, one a line */
    fx_head_profile_key_t *keys;
    size_t nkeys;
} answers_t;

/* Answers of blocks bs[0..n) with replicas deduplicated by profile key (the
 * first block holding a key serves it), as the querier merges ingesters and
 * store-gateways: per profile type the merged call tree, the series, the
 * profile keys. */
static void answers(fx_block_t **bs, size_t n, const char *tenant, answers_t *a)
{
    fx_arena_t ar;
    fx_err_t err = {0};
    fx_head_keyset_t seen, *only = calloc(n, sizeof *only);
    fx_head_query_t q = {tenant, NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0};
    char **lines = NULL;
    size_t nlines = 0;
    memset(a, 0, sizeof *a);
    fx_arena_init(&ar);
    fx_head_keyset_init(&seen);
    for (size_t i = 0; i < n; i++) {
        fx_head_keys_t k;
        fx_head_strings_t t;
        fx_head_label_sets_t ls;
        fx_head_keyset_init(&only[i]);
        assert_int_equal(fx_block_profile_keys(bs[i], &q, &ar, &k, &err), FX_OK);
        for (size_t j = 0; j < k.len; j++) {
            if (fx_head_keyset_has(&seen, &k.v[j]))
                continue;
            fx_head_keyset_add(&seen, &k.v[j]);
            fx_head_keyset_add(&only[i], &k.v[j]);
            a->keys = realloc(a->keys, (a->nkeys + 1) * sizeof *a->keys);
            a->keys[a->nkeys++] = k.v[j];
        }
        assert_int_equal(fx_block_profile_types(bs[i], &q, &ar, &t, &err), FX_OK);
        for (size_t j = 0; j < t.len; j++) {
            size_t x = 0;
            while (x < a->ntypes && strcmp(a->types[x], t.v[j]))
                x++;
            if (x == a->ntypes) {
                assert_true(a->ntypes < 16);
                a->types[a->ntypes++] = strdup(t.v[j]);
            }
        }
        assert_int_equal(fx_block_series(bs[i], &q, NULL, 0, &ar, &ls, &err), FX_OK);
        for (size_t j = 0; j < ls.len; j++) {
            fx_buf_t l = FX_BUF_INIT;
            for (size_t m = 0; m < ls.v[j].len; m++)
                fx_buf_printf(&l, "%s=%s,", ls.v[j].v[m].name, ls.v[j].v[m].value);
            lines = realloc(lines, (nlines + 1) * sizeof *lines);
            lines[nlines++] = strdup(fx_buf_cstr(&l));
            fx_buf_free(&l);
        }
    }
    qsort(a->types, a->ntypes, sizeof *a->types, cmp_str);
    for (size_t x = 0; x < a->ntypes; x++) {
        fx_tree_init(&a->trees[x]);
        for (size_t i = 0; i < n; i++) {
            fx_head_query_t qt = {tenant, NULL, 0, a->types[x], 0, 0, &only[i], NULL, 0, 0};
            assert_int_equal(fx_block_merge_tree(bs[i], &qt, FX_GROUP_FUNCTION, &a->trees[x], &err),
                             FX_OK);
        }
    }
    qsort(lines, nlines, sizeof *lines, cmp_str);
    for (size_t i = 0; i < nlines; i++)
        if (i == 0 || strcmp(lines[i], lines[i - 1]))
            fx_buf_printf(&a->series, "%s\n", lines[i]);
    for (size_t i = 0; i < nlines; i++)
        free(lines[i]);
    free(lines);
    qsort(a->keys, a->nkeys, sizeof *a->keys, cmp_key);
    for (size_t i = 0; i < n; i++)
        fx_head_keyset_free(&only[i]);
    free(only);
    fx_head_keyset_free(&seen);
    fx_arena_free(&ar);
}

static void answers_free(answers_t *a)
{
    for (size_t x = 0; x < a->ntypes; x++) {
        free(a->types[x]);
        fx_tree_free(&a->trees[x]);
    }
    fx_buf_free(&a->series);
    free(a->keys);
}

static void assert_same_answers(const answers_t *a, const answers_t *b)
{
    assert_int_equal(a->ntypes, b->ntypes);
    for (size_t x = 0; x < a->ntypes; x++) {
        assert_string_equal(a->types[x], b->types[x]);
        assert_true(fx_tree_total(&a->trees[x]) > 0);
        if (fx_tree_total(&a->trees[x]) != fx_tree_total(&b->trees[x]))
            fail_msg("%s: total %lld != %lld", a->types[x], (long long)fx_tree_total(&a->trees[x]),
                     (long long)fx_tree_total(&b->trees[x]));
        assert_true(th_tree_equal(&a->trees[x], &b->trees[x]));
    }
    assert_string_equal(fx_buf_cstr((fx_buf_t *)&a->series), fx_buf_cstr((fx_buf_t *)&b->series));
    assert_int_equal(a->nkeys, b->nkeys);
    assert_memory_equal(a->keys, b->keys, a->nkeys * sizeof *a->keys);
}

/* Answers of the blocks ids[0..n) of tenant. */
static void answers_of(const char *tenant, char ids[][FX_BLOCK_ULID_LEN + 1], size_t n,
                       answers_t *a)
{
    fx_block_t **bs = calloc(n, sizeof *bs);
    for (size_t i = 0; i < n; i++)
        bs[i] = open_block(tenant, ids[i]);
    answers(bs, n, tenant, a);
    for (size_t i = 0; i < n; i++)
        fx_block_close(bs[i]);
    free(bs);
}

static void read_meta(const char *tenant, const char *id, fx_block_meta_t *m)
{
    fx_buf_t b = FX_BUF_INIT;
    fx_err_t err = {0};
    get(tenant, id, "meta.json", &b);
    if (fx_block_meta_parse(b.data, b.len, m, &err))
        fail_msg("meta %s: %s", id, err.msg);
    fx_buf_free(&b);
}

static int in_sources(const fx_block_meta_t *m, const char *id)
{
    for (size_t i = 0; i < m->nsources; i++)
        if (strcmp(m->sources[i], id) == 0)
            return 1;
    return 0;
}

#define V(x) fx_counter_value(met.x)

/* --- planner ------------------------------------------------------------------------------ */

static void test_parse_ranges(void **state)
{
    (void)state;
    cp_config_t c;
    fx_err_t err = {0};
    const char *ok[] = {"1h", "2h", "8h"};
    assert_int_equal(cp_parse_ranges(ok, 3, &c, &err), FX_OK);
    assert_int_equal(c.nranges, 3);
    assert_true(c.ranges_ms[0] == HOUR && c.ranges_ms[1] == 2 * HOUR && c.ranges_ms[2] == 8 * HOUR);
    const char *notmul[] = {"1h", "90m"};
    assert_int_equal(cp_parse_ranges(notmul, 2, &c, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "-compactor.block-ranges: 90m is not a larger multiple of 1h"));
    const char *down[] = {"2h", "1h"};
    assert_int_equal(cp_parse_ranges(down, 2, &c, &err), FX_EINVAL);
    const char *bad[] = {"soon"};
    assert_int_equal(cp_parse_ranges(bad, 1, &c, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "\"soon\" is not a duration"));
    assert_int_equal(cp_parse_ranges(ok, 0, &c, &err), FX_EINVAL);
}

#define B (100 * 8 * HOUR) /* an 8h-aligned time */

static int cmp_ulid(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* A synthetic meta: nsrc sources (the block itself when level 1). */
static void mk(fx_block_meta_t *m, int64_t min, int64_t max, int level, size_t nsrc)
{
    memset(m, 0, sizeof *m);
    fx_block_ulid(min, m->id);
    m->min_time_ms = min;
    m->max_time_ms = max;
    m->level = level;
    m->nsources = nsrc;
    m->sources = calloc(nsrc + 1, sizeof *m->sources);
    if (level == 1 && nsrc == 1)
        strcpy(m->sources[0], m->id);
    else
        for (size_t i = 0; i < nsrc; i++)
            fx_block_ulid(min, m->sources[i]);
    qsort(m->sources, nsrc, sizeof *m->sources, cmp_ulid);
}

static cp_config_t plan_cfg(void)
{
    cp_config_t c;
    memset(&c, 0, sizeof c);
    c.ranges_ms[0] = HOUR;
    c.ranges_ms[1] = 2 * HOUR;
    c.ranges_ms[2] = 8 * HOUR;
    c.nranges = 3;
    c.first_level_wait_ms = 25 * MIN;
    return c;
}

static void test_plan(void **state)
{
    (void)state;
    fx_block_meta_t m[8];
    cp_block_t b[8];
    cp_job_t j;
    cp_config_t c = plan_cfg();
    int64_t late = B + 100 * HOUR;

    /* Three replicas of hour 0 and an hour-1 block, all long uploaded. */
    for (int i = 0; i < 3; i++)
        mk(&m[i], B + MIN, B + 59 * MIN, 1, 1);
    mk(&m[3], B + HOUR + MIN, B + HOUR + 59 * MIN, 1, 1);
    for (int i = 0; i < 8; i++)
        b[i] = (cp_block_t){&m[i], 0};
    assert_int_equal(cp_plan(b, 4, &c, late, &j), 1);
    assert_int_equal(j.range, 0);
    assert_int_equal(j.n, 3);
    assert_true(j.start_ms == B && j.end_ms == B + HOUR);
    cp_job_free(&j);

    /* One replica uploaded 10 minutes ago: the hour waits, and so does every
     * larger window holding it. */
    b[1].uploaded_ms = late - 10 * MIN;
    assert_int_equal(cp_plan(b, 4, &c, late, &j), 0);
    assert_int_equal(cp_plan(b, 4, &c, late + 15 * MIN, &j), 1);
    assert_int_equal(j.n, 3);
    cp_job_free(&j);
    b[1].uploaded_ms = 0;

    /* Nothing to merge: one block, or none. */
    assert_int_equal(cp_plan(b, 1, &c, late, &j), 0);
    assert_int_equal(cp_plan(b, 0, &c, late, &j), 0);
    for (int i = 0; i < 4; i++)
        fx_block_meta_free(&m[i]);

    /* Level 2 hours: range 0 leaves them (already its level); range 1 merges
     * them once the 2h window is closed - by time, or by a newer block. */
    mk(&m[0], B, B + HOUR - 1, 2, 3);
    mk(&m[1], B + HOUR, B + 2 * HOUR - 1, 2, 3);
    assert_int_equal(cp_plan(b, 2, &c, late, &j), 1);
    assert_int_equal(j.range, 1);
    assert_int_equal(j.n, 2);
    assert_true(j.start_ms == B && j.end_ms == B + 2 * HOUR);
    cp_job_free(&j);
    int64_t soon = B + 2 * HOUR + 10 * MIN;
    assert_int_equal(cp_plan(b, 2, &c, soon, &j), 0);
    assert_int_equal(cp_plan(b, 2, &c, B + 3 * HOUR + 25 * MIN, &j), 1);
    cp_job_free(&j);
    mk(&m[2], B + 2 * HOUR, B + 2 * HOUR + 5 * MIN, 1, 1);
    assert_int_equal(cp_plan(b, 3, &c, soon, &j), 1);
    assert_int_equal(j.range, 1);
    assert_int_equal(j.n, 2);
    cp_job_free(&j);
    /* A level-3 block of the same window is already of range 1's level:
     * range 1 merges the two others only (range 2 takes the rest later). */
    fx_block_meta_free(&m[2]);
    mk(&m[2], B + 10 * MIN, B + 20 * MIN, 3, 2);
    assert_int_equal(cp_plan(b, 3, &c, late, &j), 1);
    assert_int_equal(j.range, 1);
    assert_int_equal(j.n, 2);
    assert_true(j.idx[0] != 2 && j.idx[1] != 2);
    cp_job_free(&j);
    for (int i = 0; i < 3; i++)
        fx_block_meta_free(&m[i]);

    /* A block spanning two hours is left to the 2h range; candidates come
     * oldest first. */
    mk(&m[0], B + 30 * MIN, B + 90 * MIN, 1, 1);
    mk(&m[1], B + 10 * MIN, B + 20 * MIN, 1, 1);
    assert_int_equal(cp_plan(b, 2, &c, late, &j), 1);
    assert_int_equal(j.range, 1);
    assert_int_equal(j.n, 2);
    assert_int_equal(j.idx[0], 1);
    assert_int_equal(j.idx[1], 0);
    cp_job_free(&j);
    for (int i = 0; i < 2; i++)
        fx_block_meta_free(&m[i]);

    /* Smallest range first, then the oldest window. */
    mk(&m[0], B + 3 * HOUR, B + 3 * HOUR + 1, 1, 1);
    mk(&m[1], B + 3 * HOUR + 2, B + 3 * HOUR + 3, 1, 1);
    mk(&m[2], B + HOUR + 1, B + HOUR + 2, 1, 1);
    mk(&m[3], B + HOUR + 3, B + HOUR + 4, 1, 1);
    mk(&m[4], B + 8 * HOUR, B + 9 * HOUR, 2, 3); /* spans 2 hours */
    mk(&m[5], B + 9 * HOUR + 1, B + 10 * HOUR - 1, 2, 3);
    assert_int_equal(cp_plan(b, 6, &c, late, &j), 1);
    assert_int_equal(j.range, 0);
    assert_true(j.start_ms == B + HOUR);
    cp_job_free(&j);
    assert_int_equal(cp_plan(b + 4, 2, &c, late, &j), 1);
    assert_int_equal(j.range, 1);
    assert_true(j.start_ms == B + 8 * HOUR);
    cp_job_free(&j);
    for (int i = 0; i < 6; i++)
        fx_block_meta_free(&m[i]);

    /* No more sources than a block can hold. */
    mk(&m[0], B, B + 1, 2, 3000);
    mk(&m[1], B + 2, B + 3, 2, 3000);
    mk(&m[2], B + 4, B + 5, 2, 1000);
    assert_int_equal(cp_plan(b, 2, &c, late, &j), 0);
    assert_int_equal(cp_plan(b, 3, &c, late, &j), 0); /* 3000 + 3000 > 4096 */
    fx_block_meta_free(&m[1]);
    mk(&m[1], B + 2, B + 3, 2, 96);
    assert_int_equal(cp_plan(b, 3, &c, late, &j), 1); /* 3000 + 96 + 1000 = 4096 */
    assert_int_equal(j.n, 3);
    cp_job_free(&j);
    for (int i = 0; i < 3; i++)
        fx_block_meta_free(&m[i]);
}

static void test_covered(void **state)
{
    (void)state;
    fx_block_meta_t m[6];
    cp_block_t b[6];
    unsigned char cov[6];
    for (int i = 0; i < 6; i++)
        b[i] = (cp_block_t){&m[i], 0};
    /* x (level 1) is a source of y; z is not. */
    mk(&m[0], B + 10, B + 20, 1, 1);
    mk(&m[1], B + 30, B + 40, 1, 1);
    mk(&m[2], B, B + 50, 2, 2);
    strcpy(m[2].sources[0], m[0].id);
    qsort(m[2].sources, 2, sizeof *m[2].sources, cmp_ulid);
    cp_covered(b, 3, cov);
    assert_int_equal(cov[0], 1);
    assert_int_equal(cov[1], 0);
    assert_int_equal(cov[2], 0);
    /* Two blocks with the same sources: exactly one (the larger ULID) goes. */
    mk(&m[3], B, B + 50, 2, 2);
    memcpy(m[3].sources, m[2].sources, 2 * sizeof *m[2].sources);
    cp_covered(b, 4, cov);
    int lo = strcmp(m[2].id, m[3].id) < 0 ? 2 : 3;
    assert_int_equal(cov[lo], 0);
    assert_int_equal(cov[lo == 2 ? 3 : 2], 1);
    assert_int_equal(cov[0], 1);
    /* Overlapping but not nested source sets: both stay. */
    mk(&m[4], B, B + 60, 2, 2);
    strcpy(m[4].sources[0], m[2].sources[1]);
    qsort(m[4].sources, 2, sizeof *m[4].sources, cmp_ulid);
    cp_covered(b + 2, 1, cov);
    assert_int_equal(cov[0], 0);
    cp_block_t pair[2] = {b[2], b[4]};
    cp_covered(pair, 2, cov);
    assert_true(cov[0] == 0 && cov[1] == 0);
    /* A level-3 block holding all of them covers the level-2 ones. */
    mk(&m[5], B, B + 60, 3, 4);
    memcpy(m[5].sources[0], m[2].sources[0], 27);
    memcpy(m[5].sources[1], m[2].sources[1], 27);
    memcpy(m[5].sources[2], m[4].sources[0], 27);
    memcpy(m[5].sources[3], m[4].sources[1], 27);
    qsort(m[5].sources, 4, sizeof *m[5].sources, cmp_ulid);
    cp_covered(b, 6, cov);
    assert_true(cov[0] && cov[2] && cov[3] && cov[4] && !cov[5]);
    for (int i = 0; i < 6; i++)
        fx_block_meta_free(&m[i]);
}

static void test_marks(void **state)
{
    (void)state;
    fx_err_t err = {0};
    fx_buf_t b = FX_BUF_INIT;
    int64_t t;
    char id[27];
    fx_block_ulid(fx_now_ms(), id);
    assert_int_equal(cp_mark_deletion(bkt, "t1", id, 1795000000123LL, "retention", &err), FX_OK);
    get("t1", id, "deletion-mark.json", &b);
    char want[256];
    snprintf(want, sizeof want,
             "{\"id\":\"%s\",\"deletion_time\":1795000000,\"reason\":\"retention\"}\n", id);
    assert_string_equal((char *)b.data, want);
    assert_int_equal(cp_parse_deletion_mark(b.data, b.len, &t, &err), FX_OK);
    assert_true(t == 1795000000);
    assert_int_equal(cp_parse_deletion_mark((const uint8_t *)"{}", 2, &t, &err), FX_ECORRUPT);
    assert_int_equal(cp_parse_deletion_mark((const uint8_t *)"{", 1, &t, &err), FX_ECORRUPT);
    assert_int_equal(cp_mark_corrupted(bkt, "t1", id, 1795000000999LL, "profiles.fxb",
                                       "block x: profiles section: checksum \"mismatch\"", &err),
                     FX_OK);
    get("t1", id, "corrupted.json", &b);
    snprintf(want, sizeof want,
             "{\"id\":\"%s\",\"time\":1795000000,\"section\":\"profiles.fxb\",\"error\":\"block x: "
             "profiles section: checksum \\\"mismatch\\\"\"}\n",
             id);
    assert_string_equal((char *)b.data, want);
    assert_string_equal(fx_block_corrupt_section("block 01K: profiles section: chunk checksum mismatch"),
                        "profiles.fxb");
    assert_string_equal(fx_block_corrupt_section("block /d/x: profiles.fxb section: checksum mismatch"),
                        "profiles.fxb");
    assert_string_equal(
        fx_block_corrupt_section("block /d/x: symbols.fxb section: 10 bytes, meta.json says 9"),
        "symbols.fxb");
    assert_string_equal(fx_block_corrupt_section("block /d/x: index section: does not match meta.json"),
                        "index.fxb");
    assert_string_equal(fx_block_corrupt_section("block /d/x: meta.json: checksum mismatch"), "meta.json");
    assert_string_equal(fx_block_corrupt_section("something else"), "unknown");
    fx_buf_free(&b);
}

/* --- compaction over a bucket --------------------------------------------------------------- */

#define MAXB 32
typedef char ulid_t[FX_BLOCK_ULID_LEN + 1];

/* Now, rounded up to a whole second so deletion times (seconds) compare
 * exactly. */
static int64_t now_s(void)
{
    return (fx_now_ms() / 1000 + 1) * 1000;
}

static void test_replicas_become_one(void **state)
{
    (void)state;
    prof_t p[16];
    ulid_t r[3], vis[MAXB];
    size_t n = profiles(p, base_ms + 5 * MIN, 2, 100, "svc");
    for (int i = 0; i < 3; i++)
        make_block("t1", p, n, r[i]);
    answers_t one, all, got;
    answers_of("t1", r, 1, &one);
    answers_of("t1", r, 3, &all);
    assert_same_answers(&one, &all); /* deduplicated, three replicas are one */

    cp_t *c = compactor("1h", NULL);
    run(c, "t1", now_s());
    assert_int_equal(visible("t1", vis, MAXB), 1);
    fx_block_meta_t m, m0;
    read_meta("t1", vis[0], &m);
    read_meta("t1", r[0], &m0);
    assert_int_equal(m.level, 2);
    assert_int_equal(m.nsources, 3);
    for (int i = 0; i < 3; i++) {
        assert_true(in_sources(&m, r[i]));
        assert_string_equal(mark_reason("t1", r[i]), "compacted");
        assert_true(has("t1", r[i], "meta.json")); /* deleted only after the delay */
    }
    assert_int_equal(m.profiles, m0.profiles);
    assert_int_equal(m.samples, m0.samples);
    assert_int_equal(m.series, m0.series);
    assert_true(m.min_time_ms == m0.min_time_ms && m.max_time_ms == m0.max_time_ms);
    answers_of("t1", vis, 1, &got);
    assert_same_answers(&one, &got);
    assert_true(V(compactions) == 1);
    assert_true(V(blocks_compacted) == 3);
    assert_true(V(duplicates) == 2.0 * (double)m0.profiles);
    assert_true(V(marked_compacted) == 3);
    assert_true(V(bytes_written) > 0 && V(bytes_read) > V(bytes_written));

    /* Nothing left to do: a second run changes nothing. */
    run(c, "t1", now_s());
    assert_true(V(compactions) == 1);
    ulid_t vis2[MAXB];
    assert_int_equal(visible("t1", vis2, MAXB), 1);
    assert_string_equal(vis2[0], vis[0]);
    cp_free(c);
    answers_free(&one);
    answers_free(&all);
    answers_free(&got);
    fx_block_meta_free(&m);
    fx_block_meta_free(&m0);
}

static void test_levels_and_totals(void **state)
{
    (void)state;
    prof_t p[32];
    size_t n;
    /* hour 0: replicas a1, a2 and another block b; hour 1: c; hour 3:
     * replicas d1, d2; hour 9 (the next 8h window): e. */
    ulid_t src[6], e, vis[MAXB];
    n = profiles(p, base_ms + 1 * MIN, 2, 100, "svc");
    make_block("t1", p, n, src[0]);
    make_block("t1", p, n, src[1]);
    n = profiles(p, base_ms + 20 * MIN, 1, 150, "other");
    make_block("t1", p, n, src[2]);
    n = profiles(p, base_ms + HOUR + 10 * MIN, 2, 200, "svc");
    make_block("t1", p, n, src[3]);
    n = profiles(p, base_ms + 3 * HOUR, 1, 300, "svc");
    make_block("t1", p, n, src[4]);
    make_block("t1", p, n, src[5]);
    n = profiles(p, base_ms + 9 * HOUR, 1, 400, "svc");
    make_block("t1", p, n, e);
    answers_t want, got;
    answers_of("t1", src, 6, &want);

    cp_t *c = compactor("1h,2h,8h", NULL);
    run(c, "t1", now_s());
    /* h0 -> L2, h3 -> L2; [0,2h): L2 + c -> L3; [0,8h): L3 + L2 -> L4. */
    assert_true(V(compactions) == 4);
    assert_int_equal(visible("t1", vis, MAXB), 2);
    int zi = strcmp(vis[0], e) == 0 ? 1 : 0;
    assert_string_equal(vis[1 - zi], e);
    fx_block_meta_t z;
    read_meta("t1", vis[zi], &z);
    assert_int_equal(z.level, 4);
    assert_int_equal(z.nsources, 6);
    for (int i = 0; i < 6; i++) {
        assert_true(in_sources(&z, src[i]));
        assert_string_equal(mark_reason("t1", src[i]), "compacted");
    }
    assert_false(has("t1", e, "deletion-mark.json"));
    /* Every block compacted along the way is marked too: 6 sources + 3
     * intermediate blocks. */
    assert_true(V(marked_compacted) == 9);
    assert_true(V(blocks_compacted) == 9);
    answers_of("t1", &vis[zi], 1, &got);
    assert_same_answers(&want, &got);
    cp_free(c);
    answers_free(&want);
    answers_free(&got);
    fx_block_meta_free(&z);
}

static void test_first_level_wait(void **state)
{
    (void)state;
    prof_t p[16];
    ulid_t r[2], vis[MAXB];
    size_t n = profiles(p, base_ms + 5 * MIN, 1, 100, "svc");
    make_block("t1", p, n, r[0]);
    make_block("t1", p, n, r[1]);
    cp_config_t cfg;
    config(&cfg, "1h");
    cfg.first_level_wait_ms = 10 * MIN;
    cp_t *c = cp_new(bkt, &cfg, lim, &met, NULL);
    run(c, "t1", now_s());
    assert_int_equal(visible("t1", vis, MAXB), 2);
    assert_true(V(compactions) == 0);
    run(c, "t1", now_s() + 10 * MIN);
    assert_int_equal(visible("t1", vis, MAXB), 1);
    assert_true(V(compactions) == 1);
    cp_free(c);
}

static void test_retention(void **state)
{
    (void)state;
    fx_err_t err = {0};
    const char *y = "overrides:\n  t1:\n    compactor_blocks_retention_period: 10h\n";
    assert_int_equal(fx_config_load_yaml(lcfg, y, strlen(y), "overrides.yaml", &err), FX_OK);
    int64_t now = now_s() + 2000;
    /* Single-profile blocks, so a block's max time is its profile's time;
     * each alone in its hour, so nothing compacts. */
    int64_t at[4] = {now - 30 * HOUR, now - 10 * HOUR - 1, now - 10 * HOUR, now - 2 * HOUR};
    ulid_t b1[4], b2[4];
    for (int i = 0; i < 4; i++) {
        prof_t p = {0, "svc", at[i], (uint64_t)i + 1};
        make_block("t1", &p, 1, b1[i]);
        make_block("t2", &p, 1, b2[i]);
    }
    /* No compaction here (blocks 1 ms apart share an hour). */
    cp_config_t cfg;
    config(&cfg, "1h");
    cfg.first_level_wait_ms = 1000 * HOUR;
    cp_t *c = cp_new(bkt, &cfg, lim, &met, NULL);
    run(c, "t1", now);
    run(c, "t2", now);
    for (int i = 0; i < 4; i++) {
        fx_block_meta_t m;
        read_meta("t1", b1[i], &m);
        assert_true(m.max_time_ms == at[i]);
        fx_block_meta_free(&m);
        if (i < 2)
            assert_string_equal(mark_reason("t1", b1[i]), "retention");
        else
            assert_false(has("t1", b1[i], "deletion-mark.json"));
        assert_false(has("t2", b2[i], "deletion-mark.json")); /* retention off by default */
    }
    assert_true(V(marked_retention) == 2);
    assert_true(V(compactions) == 0);
    /* Marked, not deleted: that waits for the deletion delay. */
    assert_true(has("t1", b1[0], "meta.json"));
    assert_true(V(blocks_deleted) == 0);
    cp_free(c);
}

static void test_deletion_delay(void **state)
{
    (void)state;
    prof_t p[16];
    ulid_t r[2], x, vis[MAXB];
    size_t n = profiles(p, base_ms + 5 * MIN, 1, 100, "svc");
    make_block("t1", p, n, r[0]);
    make_block("t1", p, n, r[1]);
    n = profiles(p, base_ms + 5 * HOUR, 1, 500, "svc");
    make_block("t1", p, n, x);
    size_t objs = nobjects("t1", r[0]);
    assert_int_equal(objs, 4);
    cp_config_t cfg;
    cp_t *c = compactor("1h", &cfg);
    int64_t t0 = now_s();
    run(c, "t1", t0);
    assert_true(V(compactions) == 1);
    /* x: a deletion cut short after meta.json (marked at t0 too). */
    fx_err_t err = {0};
    char key[128];
    assert_int_equal(cp_mark_deletion(bkt, "t1", x, t0, "retention", &err), FX_OK);
    snprintf(key, sizeof key, "t1/%s/meta.json", x);
    assert_int_equal(fx_bucket_delete(bkt, key, &err), FX_OK);

    run(c, "t1", t0 + cfg.deletion_delay_ms - 1000);
    for (int i = 0; i < 2; i++)
        assert_int_equal(nobjects("t1", r[i]), objs + 1); /* + the mark */
    assert_int_equal(nobjects("t1", x), objs);
    assert_true(V(blocks_deleted) == 0);

    run(c, "t1", t0 + cfg.deletion_delay_ms);
    for (int i = 0; i < 2; i++)
        assert_int_equal(nobjects("t1", r[i]), 0);
    assert_int_equal(nobjects("t1", x), 0);
    assert_true(V(blocks_deleted) == 3);
    assert_true(V(bytes_deleted) > 0);
    assert_int_equal(visible("t1", vis, MAXB), 1);
    fx_block_close(open_block("t1", vis[0]));
    cp_free(c);
}

/* Flips one byte in the middle of a bucket object (rewritten whole, which
 * works the same on every backend). */
static void flip(const char *tenant, const char *id, const char *name)
{
    char key[256];
    fx_buf_t b = FX_BUF_INIT;
    fx_err_t err = {0};
    get(tenant, id, name, &b);
    b.data[b.len / 2] ^= 0x5a;
    snprintf(key, sizeof key, "%s/%s/%s", tenant, id, name);
    assert_int_equal(fx_bucket_put(bkt, key, b.data, b.len, &err), FX_OK);
    fx_buf_free(&b);
}

static void test_corrupted(void **state)
{
    (void)state;
    prof_t p[16];
    ulid_t r[3], o, q[2], vis[MAXB];
    size_t n = profiles(p, base_ms + 5 * MIN, 2, 100, "svc");
    for (int i = 0; i < 3; i++)
        make_block("t1", p, n, r[i]);
    n = profiles(p, base_ms + 30 * MIN, 1, 900, "other");
    make_block("t1", p, n, o);
    n = profiles(p, base_ms + 2 * HOUR, 1, 700, "svc");
    make_block("t1", p, n, q[0]);
    make_block("t1", p, n, q[1]);
    ulid_t good[2];
    strcpy(good[0], r[0]);
    strcpy(good[1], o);
    answers_t want, got;
    answers_of("t1", good, 2, &want);
    flip("t1", r[1], "profiles.fxb");
    flip("t1", q[0], "meta.json");

    cp_t *c = compactor("1h", NULL);
    run(c, "t1", now_s());
    fx_buf_t b = FX_BUF_INIT;
    get("t1", r[1], "corrupted.json", &b);
    assert_non_null(strstr((char *)b.data, "\"section\":\"profiles.fxb\""));
    assert_non_null(strstr((char *)b.data, "checksum mismatch"));
    assert_null(strstr((char *)b.data, dir)); /* no local paths */
    assert_non_null(strstr((char *)b.data, r[1]));
    get("t1", q[0], "corrupted.json", &b);
    assert_non_null(strstr((char *)b.data, "\"section\":\"meta.json\""));
    assert_false(has("t1", r[1], "deletion-mark.json"));
    assert_false(has("t1", q[0], "deletion-mark.json"));
    assert_true(V(corrupted) == 2);
    /* The others compacted without it; q[1] is alone in its hour. */
    assert_true(V(compactions) == 1);
    assert_int_equal(visible("t1", vis, MAXB), 2);
    int ni = strcmp(vis[0], q[1]) == 0 ? 1 : 0;
    assert_string_equal(vis[1 - ni], q[1]);
    fx_block_meta_t m;
    read_meta("t1", vis[ni], &m);
    assert_int_equal(m.nsources, 3);
    assert_false(in_sources(&m, r[1]));
    assert_true(in_sources(&m, r[0]) && in_sources(&m, r[2]) && in_sources(&m, o));
    answers_of("t1", &vis[ni], 1, &got);
    assert_same_answers(&want, &got);

    /* Marked blocks stay skipped, and are not counted again. */
    run(c, "t1", now_s());
    assert_true(V(corrupted) == 2);
    assert_true(V(compactions) == 1);
    assert_true(has("t1", r[1], "meta.json"));
    cp_free(c);
    fx_buf_free(&b);
    fx_block_meta_free(&m);
    answers_free(&want);
    answers_free(&got);
}

/* Uploads block dir/local/<id> as tenant's (sections, then meta.json). */
static void upload_local(const char *tenant, const char *local, const char *id)
{
    char path[256], key[256];
    for (int k = 1; k <= FX_BLOCK_NFILES; k++) {
        fx_block_file_t f = (fx_block_file_t)(k % FX_BLOCK_NFILES);
        snprintf(path, sizeof path, "%s/%s/%s/%s", dir, local, id, fx_block_file_name(f));
        snprintf(key, sizeof key, "%s/%s/%s", tenant, id, fx_block_file_name(f));
        put_file(key, path);
    }
}

static void test_crash_between_upload_and_marks(void **state)
{
    (void)state;
    prof_t p[16];
    ulid_t in[3], vis[MAXB];
    size_t n = profiles(p, base_ms + 5 * MIN, 2, 100, "svc");
    make_block("t1", p, n, in[0]);
    make_block("t1", p, n, in[1]);
    n = profiles(p, base_ms + 30 * MIN, 1, 900, "other");
    make_block("t1", p, n, in[2]);
    answers_t want, got;
    answers_of("t1", in, 3, &want);

    /* A compactor that died right after uploading meta.json: the new block
     * and its sources are all visible. */
    fx_block_t *bs[3];
    for (int i = 0; i < 3; i++)
        bs[i] = open_block("t1", in[i]);
    fx_block_write_options_t wo;
    fx_block_write_options_default(&wo);
    wo.fsync = 0;
    char out[128];
    snprintf(out, sizeof out, "%s/crashed", dir);
    fx_block_meta_t m;
    fx_err_t err = {0};
    assert_int_equal(fx_block_compact(bs, 3, out, &wo, &m, NULL, &err), FX_OK);
    for (int i = 0; i < 3; i++)
        fx_block_close(bs[i]);
    upload_local("t1", "crashed", m.id);
    assert_int_equal(visible("t1", vis, MAXB), 4);
    /* Readable: a reader skipping blocks that are sources of another gets
     * exactly the compacted block, with every answer; one that reads all
     * four and deduplicates by profile key gets the same. */
    answers_of("t1", vis, 4, &got);
    assert_same_answers(&want, &got);
    answers_free(&got);
    cp_block_t vb[4];
    fx_block_meta_t vm[4];
    for (int i = 0; i < 4; i++) {
        read_meta("t1", vis[i], &vm[i]);
        vb[i] = (cp_block_t){&vm[i], 0};
    }
    unsigned char cov[4];
    cp_covered(vb, 4, cov);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(cov[i], strcmp(vis[i], m.id) != 0);
        fx_block_meta_free(&vm[i]);
    }
    answers_of("t1", (ulid_t *)m.id, 1, &got);
    assert_same_answers(&want, &got);
    answers_free(&got);

    /* The next run finishes the job: marks, and no second compaction. */
    cp_t *c = compactor("1h", NULL);
    run(c, "t1", now_s());
    assert_int_equal(visible("t1", vis, MAXB), 1);
    assert_string_equal(vis[0], m.id);
    for (int i = 0; i < 3; i++)
        assert_string_equal(mark_reason("t1", in[i]), "compacted");
    assert_true(V(compactions) == 0);
    assert_true(V(marked_compacted) == 3);
    cp_free(c);
    fx_block_meta_free(&m);
    answers_free(&want);
}

static void test_crash_during_upload(void **state)
{
    (void)state;
    prof_t p[16];
    ulid_t a, part, vis[MAXB];
    size_t n = profiles(p, base_ms + 5 * MIN, 1, 100, "svc");
    make_block("t1", p, n, a);
    /* Sections of the same hour, no meta.json: an upload that died. */
    make_block_ex("t1", p, n, part, 1);
    assert_int_equal(nobjects("t1", part), 3);
    assert_int_equal(visible("t1", vis, MAXB), 1);
    cp_config_t cfg;
    cp_t *c = compactor("1h", &cfg);
    run(c, "t1", now_s());
    /* Invisible, so not compacted; too recent to be judged dead. */
    assert_int_equal(nobjects("t1", part), 3);
    assert_true(V(compactions) == 0);
    run(c, "t1", now_s() + cfg.partial_delay_ms - MIN);
    assert_int_equal(nobjects("t1", part), 3);
    run(c, "t1", now_s() + cfg.partial_delay_ms);
    assert_int_equal(nobjects("t1", part), 0);
    assert_true(V(partial_deleted) == 1);
    assert_int_equal(nobjects("t1", a), 4); /* the complete block is untouched */
    cp_free(c);
}

static void test_tenants_and_foreign_objects(void **state)
{
    (void)state;
    fx_err_t err = {0};
    prof_t p = {0, "svc", base_ms, 1};
    ulid_t a, b;
    make_block("t1", &p, 1, a);
    make_block("t-2", &p, 1, b);
    /* Objects that are not block files are never touched. */
    assert_int_equal(fx_bucket_put(bkt, "t1/notes.txt", "x", 1, &err), FX_OK);
    assert_int_equal(fx_bucket_put(bkt, "t1/not-a-ulid/x", "x", 1, &err), FX_OK);
    assert_int_equal(fx_bucket_put(bkt, "top.txt", "x", 1, &err), FX_OK);
    cp_t *c = compactor("1h", NULL);
    char **t;
    size_t n;
    assert_int_equal(cp_list_tenants(c, &t, &n, &err), FX_OK);
    assert_int_equal(n, 2);
    assert_string_equal(t[0], "t-2");
    assert_string_equal(t[1], "t1");
    for (size_t i = 0; i < n; i++)
        free(t[i]);
    free(t);
    run(c, "t1", now_s() + 1000 * HOUR);
    bool yes;
    assert_int_equal(fx_bucket_exists(bkt, "t1/notes.txt", &yes, &err), FX_OK);
    assert_true(yes);
    assert_int_equal(fx_bucket_exists(bkt, "t1/not-a-ulid/x", &yes, &err), FX_OK);
    assert_true(yes);
    assert_int_equal(nobjects("t1", a), 4);
    cp_free(c);
}

/* cp_run: every tenant the owner function accepts, none when stopping. */
static int only_t1(void *ctx, const char *tenant)
{
    (void)ctx;
    return strcmp(tenant, "t1") == 0;
}

static void test_run_owned_and_stop(void **state)
{
    (void)state;
    prof_t p[16];
    ulid_t r[4], vis[MAXB];
    size_t n = profiles(p, base_ms + 5 * MIN, 1, 100, "svc");
    make_block("t1", p, n, r[0]);
    make_block("t1", p, n, r[1]);
    make_block("t2", p, n, r[2]);
    make_block("t2", p, n, r[3]);
    cp_config_t cfg;
    config(&cfg, "1h");
    atomic_bool stop = true;
    fx_err_t err = {0};
    cp_t *c = cp_new(bkt, &cfg, lim, &met, &stop);
    assert_int_equal(cp_run(c, now_s(), NULL, NULL, &err), FX_OK);
    assert_true(V(compactions) == 0);
    atomic_store(&stop, false);
    assert_int_equal(cp_run(c, now_s(), only_t1, NULL, &err), FX_OK);
    assert_int_equal(visible("t1", vis, MAXB), 1);
    assert_int_equal(visible("t2", vis, MAXB), 2);
    assert_true(V(runs_started) == 2 && V(runs_completed) == 2 && V(runs_failed) == 0);
    assert_true(fx_gauge_value(met.last_success) > 0);
    assert_int_equal(cp_run(c, now_s(), NULL, NULL, &err), FX_OK);
    assert_int_equal(visible("t2", vis, MAXB), 1);
    assert_true(V(compactions) == 2);
    cp_free(c);
}


/* Two compactors on one ring and one bucket, running at the same time:
 * every tenant is compacted exactly once. */
typedef struct member {
    cp_t *c;
    fx_ring_t *r;
    const char *id;
    int rc;
} member_t;

static int member_owns(void *ctx, const char *tenant)
{
    member_t *m = ctx;
    fx_ring_snapshot_t *s = fx_ring_acquire(m->r);
    int yes = cp_ring_owns(m->r, s, m->id, tenant, fx_now_ms());
    fx_ring_release(m->r, s);
    return yes;
}

static void *member_run(void *arg)
{
    member_t *m = arg;
    fx_err_t err = {0};
    m->rc = cp_run(m->c, now_s(), member_owns, m, &err);
    return NULL;
}

static void test_two_compactors(void **state)
{
    (void)state;
    enum { NT = 6 };
    prof_t p[16];
    ulid_t r, vis[MAXB];
    size_t n = profiles(p, base_ms + 5 * MIN, 1, 100, "svc");
    char tenants[NT][16];
    for (int i = 0; i < NT; i++) {
        snprintf(tenants[i], sizeof tenants[i], "ten-%d", i);
        make_block(tenants[i], p, n, r);
        make_block(tenants[i], p, n, r);
    }
    fx_kv_t *kv = fx_kv_memory_new();
    fx_err_t err = {0};
    fx_ring_options_t ro = {"fornax/rings", 60000};
    fx_ring_t *ring = fx_ring_new(kv, "compactor", &ro, &err);
    member_t m[2] = {{NULL, ring, "compactor-a", 0}, {NULL, ring, "compactor-b", 0}};
    fx_ring_lifecycler_t *lc[2];
    for (int i = 0; i < 2; i++) {
        fx_ring_lifecycler_options_t o = {m[i].id, "127.0.0.1:1", "", "", 64, NULL, 100,
                                          "fornax/rings"};
        assert_non_null(lc[i] = fx_ring_lifecycler_start(ring, &o, &err));
        assert_int_equal(fx_ring_lifecycler_set_state(lc[i], FX_RING_ACTIVE, &err), FX_OK);
        m[i].c = compactor("1h", NULL);
    }
    assert_int_equal(fx_ring_refresh(ring, &err), FX_OK);
    fx_ring_snapshot_t *s = fx_ring_acquire(ring);
    assert_int_equal(s->ninstances, 2);
    fx_ring_release(ring, s);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, member_run, &m[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(m[i].rc, FX_OK);
    }
    for (int i = 0; i < NT; i++)
        assert_int_equal(visible(tenants[i], vis, MAXB), 1);
    assert_true(V(compactions) == NT);
    assert_true(V(runs_started) == 2);
    for (int i = 0; i < 2; i++) {
        cp_free(m[i].c);
        fx_ring_lifecycler_stop(lc[i], 1);
    }
    fx_ring_free(ring);
    fx_kv_close(kv);
}

/* --- the blocks tests/integration/test_compactor.py starts from ------------------------------- */

#define IDATA "tests/integration/data/compactor"
#define ITENANT "anonymous"
#define IT0 (1795000000000LL / (8 * HOUR) * (8 * HOUR))

/* Three replica blocks of one hour and a block three hours later. They are
 * committed (the ingester does not upload blocks yet); this test checks
 * they still open and verify with the current format, and rewrites them
 * with FX_UPDATE_FIXTURES=1. */
static void test_integration_fixtures(void **state)
{
    (void)state;
    prof_t p[16];
    fx_block_meta_t m;
    if (getenv("FX_UPDATE_FIXTURES")) {
        fx_rm_rf(IDATA);
        mkdir("tests/integration/data", 0755);
        mkdir(IDATA, 0755);
        size_t n = profiles(p, IT0 + 5 * MIN, 2, 100, "svc");
        for (int i = 0; i < 3; i++) {
            cut(ITENANT, p, n, IDATA, &m);
            fx_block_meta_free(&m);
        }
        n = profiles(p, IT0 + 3 * HOUR, 1, 500, "other");
        cut(ITENANT, p, n, IDATA, &m);
        fx_block_meta_free(&m);
    }
    fx_err_t err = {0};
    DIR *d = opendir(IDATA);
    if (!d)
        fail_msg("%s is missing (run from the repo root)", IDATA);
    int replicas = 0, later = 0, nblocks = 0;
    for (struct dirent *de; (de = readdir(d));) {
        char path[512];
        fx_block_t *blk;
        fx_block_options_t o = {FX_BLOCK_IO_PREAD, NULL, 1, 0};
        if (de->d_name[0] == '.')
            continue;
        nblocks++;
        snprintf(path, sizeof path, "%s/%s", IDATA, de->d_name);
        if (fx_block_open_dir(path, &o, &blk, &err))
            fail_msg("%s: %s; regenerate with FX_UPDATE_FIXTURES=1 build/tests/test_compactor",
                     path, err.msg);
        const fx_block_meta_t *bm = fx_block_meta(blk);
        assert_string_equal(bm->tenant, ITENANT);
        assert_string_equal(bm->id, de->d_name);
        assert_int_equal(bm->level, 1);
        replicas += bm->min_time_ms == IT0 + 5 * MIN && bm->profiles == 2 * NFX;
        later += bm->min_time_ms == IT0 + 3 * HOUR && bm->profiles == NFX;
        fx_block_close(blk);
    }
    closedir(d);
    assert_int_equal(nblocks, 4);
    assert_int_equal(replicas, 3);
    assert_int_equal(later, 1);
}

/* --- ring -------------------------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void put_instance(fx_kv_t *kv, const char *id, fx_ring_state_t st, uint32_t seed,
                         int64_t hb)
{
    fx_ring_instance_t in;
    uint32_t tokens[64];
    memset(&in, 0, sizeof in);
    for (int i = 0; i < 64; i++)
        tokens[i] = (seed + (uint32_t)i) * 2654435761u;
    qsort(tokens, 64, sizeof *tokens, cmp_u32);
    snprintf(in.id, sizeof in.id, "%s", id);
    snprintf(in.addr, sizeof in.addr, "127.0.0.1:1");
    in.state = st;
    in.heartbeat_ms = hb;
    in.tokens = tokens;
    in.ntokens = 64;
    fx_buf_t key = FX_BUF_INIT, v = FX_BUF_INIT;
    fx_ring_key("fornax/rings", "compactor", id, &key);
    fx_ring_instance_encode(&in, &v);
    assert_int_equal(fx_kv_cas(kv, fx_buf_cstr(&key), v.data, v.len, FX_KV_ANY, NULL, NULL), FX_OK);
    fx_buf_free(&key);
    fx_buf_free(&v);
}

static void count_owners(fx_ring_t *r, int *na, int *nb)
{
    fx_ring_snapshot_t *s = fx_ring_acquire(r);
    *na = *nb = 0;
    for (int i = 0; i < 200; i++) {
        char t[16];
        snprintf(t, sizeof t, "tenant-%d", i);
        int a = cp_ring_owns(r, s, "a", t, fx_now_ms()), b = cp_ring_owns(r, s, "b", t, fx_now_ms());
        assert_int_equal(a + b, 1); /* exactly one owner */
        *na += a;
        *nb += b;
        assert_int_equal(cp_ring_owns(r, s, "c", t, fx_now_ms()), 0); /* not a member */
    }
    fx_ring_release(r, s);
}

static void test_ring_owner(void **state)
{
    (void)state;
    fx_kv_t *kv = fx_kv_memory_new();
    fx_err_t err = {0};
    fx_ring_options_t o = {"fornax/rings", 60000};
    fx_ring_t *r = fx_ring_new(kv, "compactor", &o, &err);
    assert_non_null(r);
    int na, nb;
    fx_ring_snapshot_t *s = fx_ring_acquire(r);
    assert_int_equal(cp_ring_owns(r, s, "a", "t1", fx_now_ms()), 0); /* empty ring */
    fx_ring_release(r, s);
    put_instance(kv, "a", FX_RING_ACTIVE, 1, fx_now_ms());
    put_instance(kv, "b", FX_RING_ACTIVE, 1000, fx_now_ms());
    assert_int_equal(fx_ring_refresh(r, &err), FX_OK);
    count_owners(r, &na, &nb);
    assert_true(na > 20 && nb > 20);
    /* b stops heartbeating, or leaves: a owns every tenant. */
    put_instance(kv, "b", FX_RING_ACTIVE, 1000, fx_now_ms() - 120000);
    assert_int_equal(fx_ring_refresh(r, &err), FX_OK);
    count_owners(r, &na, &nb);
    assert_int_equal(na, 200);
    put_instance(kv, "b", FX_RING_LEAVING, 1000, fx_now_ms());
    assert_int_equal(fx_ring_refresh(r, &err), FX_OK);
    count_owners(r, &na, &nb);
    assert_int_equal(na, 200);
    fx_ring_free(r);
    fx_kv_close(kv);
}

/* --- the same over S3 ---------------------------------------------------------------------- */

#define E2E_DIR "tests/e2e"
static char node_path[PATH_MAX], s3_module[PATH_MAX], s3_dir[] = "/tmp/fx-compactor-s3-XXXXXX";
static pid_t s3_pid;

static int open_bucket(void)
{
    fx_err_t err = {0};
    char path[128], endpoint[64], name[32];
    if (!s3_port) {
        snprintf(path, sizeof path, "%s/bucket", dir);
        return fx_bucket_fs_new(path, &bkt, &err) == FX_OK ? 0 : -1;
    }
    snprintf(endpoint, sizeof endpoint, "127.0.0.1:%d", s3_port);
    snprintf(name, sizeof name, "compactor-%d", ++s3_buckets);
    fx_s3_config_t c = {
        .endpoint = endpoint, .bucket = name, .access_key_id = "S3RVER",
        .secret_access_key = "S3RVER", .region = "us-east-1", .insecure = true,
        .force_path_style = true, .part_size = FX_S3_MIN_PART_SIZE, .max_retries = 2,
        .connect_timeout_ms = 2000, .request_timeout_ms = 30000, .backoff_min_ms = 20,
        .backoff_max_ms = 200,
    };
    if (fx_bucket_s3_new(&c, &bkt, &err) != FX_OK || fx_bucket_s3_create_bucket(bkt, &err) != FX_OK) {
        fprintf(stderr, "s3 bucket: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int port_open(int p)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)p);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    socklen_t n = sizeof a;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &n);
    close(fd);
    return ntohs(a.sin_port);
}

/* argv: module, port, directory, our pid (the server exits with us). */
static const char s3_js[] =
    "const S3rver = require(process.argv[1]);"
    "new S3rver({address: '127.0.0.1', port: Number(process.argv[2]),"
    "            directory: process.argv[3], silent: true}).run();"
    "const parent = Number(process.argv[4]);"
    "setInterval(() => { try { process.kill(parent, 0); } catch (e) { process.exit(0); } },"
    "            500);";

static int s3_group_setup(void **state)
{
    (void)state;
    FILE *w = popen("command -v node", "r");
    int found = w && fgets(node_path, sizeof node_path, w) && node_path[0] == '/';
    if (w)
        pclose(w);
    node_path[strcspn(node_path, "\n")] = 0;
    if (!found) {
        fprintf(stderr, "SKIPPED: node is not installed, so the S3 server (npm "
                        "@20minutes/s3rver) cannot run; `make test` installs node\n");
        return 0;
    }
    if (system("cd " E2E_DIR " && { [ -f node_modules/.package-lock.json ] && "
               "[ ! package-lock.json -nt node_modules/.package-lock.json ] && "
               "[ -d node_modules/@20minutes/s3rver ] || "
               "npm ci --no-audit --no-fund --loglevel=error >&2; }") != 0 ||
        !realpath(E2E_DIR "/node_modules/@20minutes/s3rver", s3_module) || !mkdtemp(s3_dir)) {
        fprintf(stderr, "cannot install or find s3rver in " E2E_DIR "\n");
        return -1;
    }
    int port = free_port();
    char p[16], me[16];
    snprintf(p, sizeof p, "%d", port);
    snprintf(me, sizeof me, "%d", (int)getpid());
    if ((s3_pid = fork()) == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        execl(node_path, "node", "--openssl-legacy-provider", "-e", s3_js, s3_module, p, s3_dir,
              me, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 300 && !port_open(port); i++)
        usleep(50000);
    if (!port_open(port)) {
        fprintf(stderr, "s3rver did not start on port %d\n", port);
        return -1;
    }
    s3_port = port;
    return 0;
}

static int s3_group_teardown(void **state)
{
    (void)state;
    char cmd[128];
    if (s3_pid > 0) {
        kill(s3_pid, SIGTERM);
        waitpid(s3_pid, NULL, 0);
        s3_pid = 0;
        snprintf(cmd, sizeof cmd, "rm -rf %s", s3_dir);
        if (system(cmd) != 0)
            return -1;
    }
    s3_port = 0;
    return 0;
}

static int s3_setup(void **state)
{
    if (!s3_port)
        skip();
    return setup(state);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define S3(f) cmocka_unit_test_setup_teardown(f, s3_setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ranges),
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_covered),
        T(test_marks),
        T(test_replicas_become_one),
        T(test_levels_and_totals),
        T(test_first_level_wait),
        T(test_retention),
        T(test_deletion_delay),
        T(test_corrupted),
        T(test_crash_between_upload_and_marks),
        T(test_crash_during_upload),
        T(test_tenants_and_foreign_objects),
        T(test_run_owned_and_stop),
        cmocka_unit_test(test_ring_owner),
        T(test_two_compactors),
        T(test_integration_fixtures),
    };
    /* On S3 the runs that call cp_run_tenant (s3rver does not report a
     * tenant's "directory" as a common prefix, so cp_list_tenants needs a
     * real S3 there; test_objstore_s3 describes the quirk). */
    const struct CMUnitTest s3_tests[] = {
        S3(test_replicas_become_one),
        S3(test_deletion_delay),
        S3(test_corrupted),
        S3(test_crash_between_upload_and_marks),
        S3(test_crash_during_upload),
    };
    int failed = cmocka_run_group_tests_name("compactor", tests, NULL, NULL);
    return failed + cmocka_run_group_tests_name("compactor_s3", s3_tests, s3_group_setup,
                                                s3_group_teardown);
}
