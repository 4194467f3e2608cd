/*
 * bench_blocks24h.c - a 24-hour flame graph over blocks, served by a
 * store-gateway: latency (p50/p99) and bytes read of SelectMergeStacktraces
 * over 24 h, through io_uring and through pread, over the ingesters'
 * level-1 blocks (24 x 1 h) and over compacted ones (3 x 8 h, the shape
 * -compactor.block-ranges=1h,2h,8h ends with). Prints figures only.
 *
 * Data: 10 series (services) x one profile every 10 s x 24 h = 86,400
 * profiles, each a Poisson resample of one of the real Go CPU profiles of
 * bench/data (as bench_head and bench_block do). Every hour goes through
 * its own head and is cut into a block written straight into a filesystem
 * bucket - what an ingester with -ingester.max-block-duration=1h uploads.
 * The gateway is the real one (services/store-gateway: bucket listing,
 * local copies, block cache, replica-aware queries), in this process with
 * a memory ring; a query is what its MergeStacktraces RPC does: the merge
 * over every overlapping block, then the tree encoded with max_nodes 8192.
 *
 *   make build/bench/bench_blocks24h
 *   build/bench/bench_blocks24h [PROFILE_DIR (default bench/data)] [ROUNDS (default 21)]
 *
 * Takes about a minute on 2 cores; needs ~200 MB in /tmp.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/block.h"
#include "core/gz.h"
#include "core/time.h"
#include "kv/kv.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "model/treebytes.h"
#include "objstore/objstore.h"
#include "pprof/pprof.h"
#include "ring/ring.h"
#include "services/store-gateway/store_gateway.h"
#include "storage/head.h"
#include "core/fs.h"

#define NSERIES 10
#define HOURS 24
#define PER_HOUR 360 /* one profile per 10 s */
#define HOUR_NS 3600000000000LL
#define T0 1795132800000000000LL /* 2026-11-20 00:00 UTC, aligned to 8 h */
#define CPU "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
#define TENANT "bench"

static fx_buf_t *profs;
static size_t nprofs;
static char dir[64];

static void die(const char *what, const fx_err_t *err)
{
    fprintf(stderr, "bench_blocks24h: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_dir(const char *d)
{
    DIR *dd = opendir(d);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0;
    if (!dd)
        die("cannot open the profile directory", NULL);
    while ((e = readdir(dd)))
        if (strstr(e->d_name, ".pb.gz")) {
            names = fx_realloc(names, (n + 1) * sizeof *names);
            names[n++] = fx_strdup(e->d_name);
        }
    closedir(dd);
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        fx_buf_t gz = FX_BUF_INIT;
        fx_err_t err = {0};
        snprintf(path, sizeof path, "%s/%s", d, names[i]);
        fx_read_file(path, &gz); /* unreadable: gz stays empty and the file is skipped */
        profs = fx_realloc(profs, (nprofs + 1) * sizeof *profs);
        profs[nprofs] = (fx_buf_t)FX_BUF_INIT;
        if (fx_gunzip(gz.data, gz.len, 64 << 20, &profs[nprofs], &err) == FX_OK)
            nprofs++;
        fx_buf_free(&gz);
        free(names[i]);
    }
    free(names);
}

/* Poisson resampling, as bench_head: rows share most stacks, never equal. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int64_t poisson(int64_t mean)
{
    double l = exp(-(double)mean), p = 1;
    int64_t k = 0;
    if (mean > 30)
        return mean + (int64_t)((double)(next_rand() % 2001) / 1000.0 - 1.0) * 5;
    do {
        k++;
        p *= (double)(next_rand() >> 11) / 9007199254740992.0;
    } while (p > l);
    return k - 1;
}

/* Appends a resample of profile `which` at ts; returns its sample count. */
static size_t append(fx_head_t *h, int svc, size_t which, int64_t ts, uint64_t n)
{
    fx_arena_t a;
    fx_pprof_t pp;
    fx_err_t err = {0};
    uint8_t id[16] = {0};
    char name[16];
    fx_arena_init(&a);
    if (fx_pprof_decode(profs[which].data, profs[which].len, &a, &pp, &err))
        die("decode", &err);
    size_t k = 0;
    for (size_t i = 0; pp.nsample_types == 2 && i < pp.nsamples; i++) {
        int64_t c = poisson(pp.samples[i].values[0]);
        if (c <= 0)
            continue;
        int64_t *v = fx_arena_alloc(&a, 2 * sizeof *v);
        v[0] = c;
        v[1] = c * pp.period;
        pp.samples[k] = pp.samples[i];
        pp.samples[k++].values = v;
    }
    pp.nsamples = k;
    snprintf(name, sizeof name, "svc-%d", svc);
    fx_label_t lv[3] = {{"__name__", "process_cpu"}, {"pod", "pod-1"}, {"service_name", name}};
    fx_labels_t l = {lv, 3};
    memcpy(id, &n, 8);
    if (fx_head_append(h, TENANT, &l, &pp, id, ts, NULL, &err))
        die("append", &err);
    fx_pprof_free(&pp);
    fx_arena_free(&a);
    return k;
}

/* 24 level-1 blocks of one hour in <dir>/l1/bench/; returns the samples. */
static uint64_t build_hours(fx_block_meta_t *metas, uint64_t *bytes)
{
    char parent[128], hpath[128];
    uint64_t samples = 0;
    snprintf(parent, sizeof parent, "%s/l1", dir);
    mkdir(parent, 0755);
    snprintf(parent, sizeof parent, "%s/l1/" TENANT, dir);
    mkdir(parent, 0755);
    *bytes = 0;
    for (int hr = 0; hr < HOURS; hr++) {
        fx_head_t *h;
        fx_err_t err = {0};
        fx_head_options_t o;
        fx_head_options_default(&o);
        o.sync = 0;
        snprintf(hpath, sizeof hpath, "%s/head-%d", dir, hr);
        if (fx_head_open(hpath, &o, &h, &err))
            die("head open", &err);
        for (int k = 0; k < PER_HOUR; k++)
            for (int s = 0; s < NSERIES; s++) {
                int64_t ts = T0 + hr * HOUR_NS + (int64_t)k * 10000000000LL;
                uint64_t n = (uint64_t)(hr * PER_HOUR + k) << 8 | (uint64_t)s;
                samples += append(h, s, (size_t)(s * 7 + hr * PER_HOUR + k) % nprofs, ts, n);
            }
        fx_block_write_options_t wo;
        fx_block_write_options_default(&wo);
        wo.fsync = 0;
        if (fx_block_write_head(h, TENANT, T0 + hr * HOUR_NS, T0 + (hr + 1) * HOUR_NS - 1, parent,
                                &wo, &metas[hr], &err))
            die("cut", &err);
        for (int f = 0; f < FX_BLOCK_NFILES; f++)
            *bytes += metas[hr].files[f].size;
        fx_head_close(h);
        fx_rm_rf(hpath);
    }
    return samples;
}

/* The compactor's end state for 1h,2h,8h ranges: three 8 h blocks. */
static uint64_t compact_8h(const fx_block_meta_t *l1, int *nout)
{
    char parent[128], bdir[256];
    uint64_t bytes = 0;
    snprintf(parent, sizeof parent, "%s/l4", dir);
    mkdir(parent, 0755);
    snprintf(parent, sizeof parent, "%s/l4/" TENANT, dir);
    mkdir(parent, 0755);
    *nout = 0;
    for (int w = 0; w < HOURS / 8; w++) {
        fx_block_t *in[8];
        fx_err_t err = {0};
        fx_block_meta_t m;
        for (int i = 0; i < 8; i++) {
            fx_block_options_t o = {FX_BLOCK_IO_PREAD, NULL, 0, 0};
            snprintf(bdir, sizeof bdir, "%s/l1/" TENANT "/%s", dir, l1[w * 8 + i].id);
            if (fx_block_open_dir(bdir, &o, &in[i], &err))
                die("open for compaction", &err);
        }
        fx_block_write_options_t wo;
        fx_block_write_options_default(&wo);
        wo.fsync = 0;
        if (fx_block_compact(in, 8, parent, &wo, &m, NULL, &err))
            die("compact", &err);
        for (int f = 0; f < FX_BLOCK_NFILES; f++)
            bytes += m.files[f].size;
        fx_block_meta_free(&m);
        for (int i = 0; i < 8; i++)
            fx_block_close(in[i]);
        (*nout)++;
    }
    return bytes;
}

static double ms_since(int64_t t)
{
    return (double)(fx_mono_ns() - t) / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Drops the page cache of every file under path (nftw callback). */
static int drop_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag == FTW_F) {
        int fd = open(p, O_RDONLY);
        if (fd >= 0) {
            fdatasync(fd);
            posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
            close(fd);
        }
    }
    return 0;
}

typedef struct gw {
    fx_kv_t *kv;
    fx_ring_t *ring;
    fx_registry_t *reg;
    sg_t *g;
} gw_t;

static void gw_start(gw_t *w, fx_bucket_t *bucket, fx_block_io_t io, const char *sync_dir)
{
    fx_err_t err = {0};
    fx_ring_options_t ro = {NULL, 1000};
    w->kv = fx_kv_memory_new();
    w->ring = fx_ring_new(w->kv, SG_RING, &ro, &err);
    w->reg = fx_registry_new();
    sg_config_t c = {0};
    c.bucket = bucket;
    c.ring = w->ring;
    c.replication_factor = 1;
    c.sync_dir = sync_dir;
    c.source = SG_SOURCE_CACHE;
    c.io = io;
    c.index_cache_bytes = 64u << 20; /* the defaults */
    c.symbols_cache_bytes = 256u << 20;
    c.sync_interval_ms = 3600 * 1000;
    c.metrics = w->reg;
    if (!(w->g = sg_new(&c, &err)))
        die("sg_new", &err);
    fx_ring_lifecycler_options_t lc = {"bench-sg", "127.0.0.1:1", "", "", 128, NULL, 1000, NULL};
    if (sg_start(w->g, &lc, &err))
        die("sg_start", &err);
    for (int t = 0; t < 6000 && sg_ready(w->g, &err) != FX_OK; t++)
        usleep(10000);
    if (sg_ready(w->g, &err) != FX_OK)
        die("gateway not ready", &err);
}

static void gw_free(gw_t *w)
{
    sg_free(w->g);
    fx_registry_free(w->reg);
    fx_kv_close(w->kv); /* before the ring: its watch calls the ring until closed */
    fx_ring_free(w->ring);
}

/* One MergeStacktraces over the whole day; returns ms, and the tree total
 * and encoded size through the pointers. */
static double query(sg_t *g, const fx_selector_t *sel, int64_t *total, size_t *tree_bytes)
{
    fx_head_query_t q = {TENANT, sel, 1, CPU, T0 / 1000000, T0 / 1000000 + HOURS * 3600000LL - 1,
                         NULL, NULL, 0, 0};
    fx_tree_t tree;
    fx_buf_t out = FX_BUF_INIT;
    fx_err_t err = {0};
    fx_tree_init(&tree);
    int64_t t = fx_mono_ns();
    if (sg_merge_tree(g, &q, FX_GROUP_FUNCTION, &tree, &err) ||
        fx_treebytes_write(&tree, 8192, &out, &err))
        die("query", &err);
    double ms = ms_since(t);
    *total = fx_tree_total(&tree);
    *tree_bytes = out.len;
    fx_tree_free(&tree);
    fx_buf_free(&out);
    return ms;
}

static void run(const char *layout, fx_bucket_t *bucket, fx_block_io_t io, int rounds)
{
    char sync_dir[128];
    gw_t w;
    sg_stats_t st0, st1;
    fx_selector_t sel;
    fx_err_t err = {0};
    int64_t total = 0;
    size_t tb = 0;
    const char *ion = io == FX_BLOCK_IO_PREAD ? "pread" : "io_uring";
    snprintf(sync_dir, sizeof sync_dir, "%s/sg-%s-%s", dir, layout, ion);
    gw_start(&w, bucket, io, sync_dir);
    fx_selector_parse("{}", &sel, &err);
    sg_get_stats(w.g, &st0);

    /* Cold: the first query of a new gateway, with the page cache of its
     * local copies dropped. (Loading a block verifies every checksum and
     * decodes its index and symbols, so those are in the block cache.) */
    nftw(sync_dir, drop_cb, 16, FTW_PHYS);
    double cold = query(w.g, &sel, &total, &tb);
    sg_get_stats(w.g, &st1);
    uint64_t cold_bytes = st1.io.bytes - st0.io.bytes;
    uint64_t cold_reads = st1.io.uring_reads + st1.io.pread_reads - st0.io.uring_reads -
                          st0.io.pread_reads;

    double *lat = fx_malloc((size_t)rounds * sizeof *lat);
    st0 = st1;
    for (int r = 0; r < rounds; r++)
        lat[r] = query(w.g, &sel, &total, &tb);
    sg_get_stats(w.g, &st1);
    qsort(lat, (size_t)rounds, sizeof *lat, cmp_d);
    int p99 = (int)ceil(0.99 * rounds) - 1;
    printf("%-22s %-8s blocks %2zu | cold %7.1f ms, read %6.1f MB in %5llu reads | warm p50 %7.1f ms"
           "  p99 %7.1f ms, read %5.1f MB/query in %llu reads | %.0f profiles/s\n",
           layout, ion, st1.loaded, cold, (double)cold_bytes / 1e6,
           (unsigned long long)cold_reads, lat[rounds / 2], lat[p99],
           (double)(st1.io.bytes - st0.io.bytes) / rounds / 1e6,
           (unsigned long long)((st1.io.uring_reads + st1.io.pread_reads - st0.io.uring_reads -
                                 st0.io.pread_reads) / (uint64_t)rounds),
           (double)(NSERIES * HOURS * PER_HOUR) / (lat[rounds / 2] / 1e3));
    static int64_t first_total;
    if (!first_total)
        first_total = total;
    else if (total != first_total)
        die("the layouts disagree on the 24 h total", NULL);
    /* One service of the ten: only its chunks are read. */
    fx_selector_t one;
    fx_selector_parse("{service_name=\"svc-3\"}", &one, &err);
    sg_get_stats(w.g, &st0);
    for (int r = 0; r < rounds; r++)
        lat[r] = query(w.g, &one, &total, &tb);
    sg_get_stats(w.g, &st1);
    qsort(lat, (size_t)rounds, sizeof *lat, cmp_d);
    printf("%-22s %-8s one series of 10: warm p50 %7.1f ms  p99 %7.1f ms, read %5.1f MB/query\n",
           "", ion, lat[rounds / 2], lat[p99], (double)(st1.io.bytes - st0.io.bytes) / rounds / 1e6);
    fx_selector_free(&one);
    if (io == FX_BLOCK_IO_URING && st1.io.pread_reads)
        printf("  (io_uring refused here: the gateway fell back to pread)\n");
    fx_selector_free(&sel);
    free(lat);
    gw_free(&w);
    fx_rm_rf(sync_dir);
}

int main(int argc, char **argv)
{
    const char *data = argc > 1 ? argv[1] : "bench/data";
    int rounds = argc > 2 ? atoi(argv[2]) : 21;
    fx_block_meta_t metas[HOURS];
    fx_err_t err = {0};
    if (rounds < 2)
        rounds = 2;
    fx_log_set_level(FX_LOG_WARN);
    strcpy(dir, "/tmp/fx-bench-24h-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    load_dir(data);
    if (!nprofs)
        die("no pprof files", NULL);

    int64_t t = fx_mono_ns();
    uint64_t l1_bytes, samples = build_hours(metas, &l1_bytes);
    double build_s = ms_since(t) / 1e3;
    t = fx_mono_ns();
    int nl4;
    uint64_t l4_bytes = compact_8h(metas, &nl4);
    double compact_s = ms_since(t) / 1e3;
    uint64_t profiles = (uint64_t)NSERIES * HOURS * PER_HOUR;
    printf("24 h: %d series x 1 profile / 10 s = %llu profiles (resampled from %zu real Go CPU "
           "profiles), %.1f M samples\n",
           NSERIES, (unsigned long long)profiles, nprofs, (double)samples / 1e6);
    printf("  24 x 1 h level-1 blocks: %.1f MB, %.3f B/sample (written through 24 heads in %.1f s)\n",
           (double)l1_bytes / 1e6, (double)l1_bytes / (double)samples, build_s);
    printf("  %d x 8 h compacted blocks: %.1f MB, %.3f B/sample (fx_block_compact in %.1f s)\n", nl4,
           (double)l4_bytes / 1e6, (double)l4_bytes / (double)samples, compact_s);
    printf("SelectMergeStacktraces, all 10 series over 24 h (merge + tree encoding, max_nodes "
           "8192), %d warm rounds:\n", rounds);

    static const char *const layouts[] = {"l1", "l4"};
    static const char *const names[] = {"24 x 1 h (level 1)", "3 x 8 h (compacted)"};
    for (size_t l = 0; l < 2; l++) {
        char root[128];
        fx_objstore_opts_t so = {0};
        fx_bucket_t *bucket;
        snprintf(root, sizeof root, "%s/%s", dir, layouts[l]);
        so.backend = "filesystem";
        so.fs_dir = root;
        if (fx_objstore_open(&so, dir, &bucket, &err))
            die("bucket", &err);
        run(names[l], bucket, FX_BLOCK_IO_URING, rounds);
        run(names[l], bucket, FX_BLOCK_IO_PREAD, rounds);
        fx_bucket_close(bucket);
    }
    for (int i = 0; i < HOURS; i++)
        fx_block_meta_free(&metas[i]);
    fx_rm_rf(dir);
    for (size_t i = 0; i < nprofs; i++)
        fx_buf_free(&profs[i]);
    free(profs);
    return 0;
}
