/*
 * bench_block.c - blocks on real profiles: bytes per sample (issue 4's goal
 * is <= 2; Pyroscope v1 blocks measure about 8.4), block write time, query
 * latency on a block against the head it was cut from, and io_uring
 * against pread read throughput (page cache warm and dropped). Prints
 * figures only; asserts nothing.
 *
 * Inputs: the 20 real Go CPU profiles in bench/data (10 series x 1 h at 10 s
 * = 3,600 profiles, each a Poisson resample of one of them, as bench_head
 * does; and the 20 profiles as they are), and the real fixtures of
 * ../shared/fixtures/pprof.
 *
 *   build/bench/bench_block [PROFILE_DIR (default bench/data)] [ROUNDS (default 11)]
 */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block/format.h"
#include "core/gz.h"
#include "core/time.h"
#include "pprof/pprof.h"
#include "storage/head.h"
#include "core/fs.h"

#define NSERIES 10
#define PER_SERIES 360
#define T0 1795000000000000000LL
#define CPU "process_cpu:cpu:nanoseconds:cpu:nanoseconds"

typedef struct prof {
    fx_buf_t plain;
    char name[64];
} prof_t;

static prof_t *profs;
static size_t nprofs;
static char dir[64];

static void die(const char *what, const fx_err_t *err)
{
    fprintf(stderr, "bench_block: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

static void load_file(const char *path, const char *name)
{
    fx_buf_t gz = FX_BUF_INIT;
    fx_err_t err = {0};
    if (fx_read_file(path, &gz) < 0) {
        fx_buf_free(&gz);
        return;
    }
    profs = fx_realloc(profs, (nprofs + 1) * sizeof *profs);
    prof_t *p = &profs[nprofs];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    if (fx_gunzip(gz.data, gz.len, 64 << 20, &p->plain, &err) == FX_OK)
        nprofs++;
    fx_buf_free(&gz);
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
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", d, names[i]);
        load_file(path, names[i]);
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

static fx_head_t *new_head(const char *sub)
{
    char path[128];
    fx_head_t *h;
    fx_err_t err = {0};
    fx_head_options_t o;
    fx_head_options_default(&o);
    o.sync = 0;
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    if (fx_head_open(path, &o, &h, &err))
        die("head open", &err);
    return h;
}

/* Appends pprof bytes; returns its sample count and sample types. */
static size_t append(fx_head_t *h, const char *svc, const fx_buf_t *plain, int64_t ts, uint64_t n,
                     size_t *ntypes, int resample)
{
    fx_arena_t a;
    fx_pprof_t pp;
    fx_err_t err = {0};
    uint8_t id[16] = {0};
    fx_arena_init(&a);
    if (fx_pprof_decode(plain->data, plain->len, &a, &pp, &err))
        die("decode", &err);
    if (resample && pp.nsample_types == 2) {
        size_t k = 0;
        for (size_t i = 0; i < pp.nsamples; i++) {
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
    }
    fx_label_t lv[3] = {{"__name__", "process_cpu"}, {"pod", "pod-1"}, {"service_name", svc}};
    fx_labels_t l = {lv, 3};
    memcpy(id, &n, 8);
    if (fx_head_append(h, "bench", &l, &pp, id, ts, NULL, &err))
        die("append", &err);
    size_t s = pp.nsamples;
    *ntypes = pp.nsample_types;
    fx_pprof_free(&pp);
    fx_arena_free(&a);
    return s;
}

static double ms_since(int64_t t)
{
    return (double)(fx_mono_ns() - t) / 1e6;
}

static void write_block(fx_head_t *h, fx_block_meta_t *m, double *ms)
{
    fx_err_t err = {0};
    char parent[128];
    snprintf(parent, sizeof parent, "%s/blocks", dir);
    int64_t t = fx_mono_ns();
    if (fx_block_write_head(h, "bench", INT64_MIN, INT64_MAX, parent, NULL, m, &err))
        die("write block", &err);
    *ms = ms_since(t);
}

static void report_size(const char *what, const fx_block_meta_t *m, size_t samples, size_t types)
{
    uint64_t idx = m->files[FX_BLOCK_INDEX].size, sym = m->files[FX_BLOCK_SYMBOLS].size,
             pro = m->files[FX_BLOCK_PROFILES].size, total = idx + sym + pro;
    printf("%-44s %7.3f B/sample (profiles %.3f, symbols %.3f, index %.3f); "
           "%.3f B per sample and type; %llu profiles, %zu samples, %.1f KB\n",
           what, (double)total / (double)samples, (double)pro / (double)samples,
           (double)sym / (double)samples, (double)idx / (double)samples,
           (double)total / (double)samples / (double)types, (unsigned long long)m->profiles,
           samples, (double)total / 1e3);
}

/* Stored bytes of each part of the symbols section. */
static void symbol_parts(const fx_block_meta_t *m)
{
    static const char *const names[] = {"", "strings", "mappings", "functions", "locations",
                                        "stack tree"};
    char path[700];
    fx_buf_t f = FX_BUF_INIT;
    fx__secr_t r;
    fx_err_t err = {0};
    snprintf(path, sizeof path, "%s/blocks/%s/symbols.fxb", dir, m->id);
    fx_read_file(path, &f); /* unreadable: empty, and the section open below fails */
    if (fx__secr_open(&r, FX_BLOCK_SYMBOLS, f.data, f.len, 1, &err) == FX_OK) {
        printf("  symbols section:");
        for (size_t i = 0; i < r.nparts; i++)
            printf(" %s %.1f KB (%.1f raw)%s", r.parts[i].id < 6 ? names[r.parts[i].id] : "?",
                   (double)r.parts[i].len / 1e3, (double)r.parts[i].raw / 1e3,
                   i + 1 < r.nparts ? "," : "");
        printf("; %llu stack nodes\n", (unsigned long long)m->stack_nodes);
    }
    fx__secr_free(&r);
    fx_buf_free(&f);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef int (*merge_fn)(void *src, const fx_head_query_t *q, fx_tree_t *t, fx_err_t *err);

static int head_merge(void *src, const fx_head_query_t *q, fx_tree_t *t, fx_err_t *err)
{
    return fx_head_merge_tree(src, q, FX_GROUP_FUNCTION, t, err);
}

static int block_merge(void *src, const fx_head_query_t *q, fx_tree_t *t, fx_err_t *err)
{
    return fx_block_merge_tree(src, q, FX_GROUP_FUNCTION, t, err);
}

static void merge_latency(const char *what, merge_fn fn, void *src, const char *selector,
                          int rounds)
{
    fx_selector_t sel;
    fx_err_t err = {0};
    double *lat = fx_malloc((size_t)rounds * sizeof *lat);
    int64_t total = 0;
    fx_selector_parse(selector, &sel, &err);
    fx_head_query_t q = {"bench", &sel, 1, CPU, T0 / 1000000, T0 / 1000000 + 3600 * 1000, NULL, NULL, 0, 0};
    for (int r = 0; r < rounds; r++) {
        fx_tree_t tree;
        fx_tree_init(&tree);
        int64_t t = fx_mono_ns();
        if (fn(src, &q, &tree, &err))
            die("merge", &err);
        lat[r] = ms_since(t);
        total = fx_tree_total(&tree);
        fx_tree_free(&tree);
    }
    qsort(lat, (size_t)rounds, sizeof *lat, cmp_d);
    printf("merge %-44s p50 %7.2f ms  max %7.2f ms  (total %.1f s cpu)\n", what, lat[rounds / 2],
           lat[rounds - 1], (double)total / 1e9);
    fx_selector_free(&sel);
    free(lat);
}

static void drop_cache(const char *bdir)
{
    for (int f = 0; f < FX_BLOCK_NFILES; f++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", bdir, fx_block_file_name((fx_block_file_t)f));
        int fd = open(p, O_RDONLY);
        if (fd >= 0) {
            fdatasync(fd);
            posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
            close(fd);
        }
    }
}

/* Reads the whole profiles section as `size`-byte ranges, `batch` ranges
 * per call: MB/s. */
static double read_mbps(fx_block_t *b, const char *bdir, size_t size, size_t batch, int cold,
                        int rounds)
{
    uint64_t len = fx_block_meta(b)->files[FX_BLOCK_PROFILES].size;
    size_t n = (size_t)((len + size - 1) / size);
    uint8_t *buf = fx_malloc(len + 1);
    fx_block_range_t *r = fx_malloc((n + 1) * sizeof *r);
    fx_err_t err = {0};
    for (size_t i = 0; i < n; i++)
        r[i] = (fx_block_range_t){FX_BLOCK_PROFILES, (uint64_t)i * size,
                                  (size_t)FX_MIN((uint64_t)size, len - (uint64_t)i * size),
                                  buf + i * size};
    double best = 0;
    for (int k = 0; k < rounds; k++) {
        if (cold)
            drop_cache(bdir);
        int64_t t = fx_mono_ns();
        for (size_t i = 0; i < n; i += batch)
            if (fx__block_read(b, r + i, FX_MIN(batch, n - i), &err))
                die("read", &err);
        double s = (double)(fx_mono_ns() - t) / 1e9;
        best = FX_MAX(best, (double)len / 1e6 / s);
    }
    free(buf);
    free(r);
    return best;
}

int main(int argc, char **argv)
{
    const char *data = argc > 1 ? argv[1] : "bench/data";
    int rounds = argc > 2 ? atoi(argv[2]) : 11;
    fx_block_meta_t m;
    double wms;
    size_t samples = 0, types = 1;
    if (rounds < 1)
        rounds = 1;
    strcpy(dir, "/tmp/fx-bench-block-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    load_dir(data);
    size_t nreal = nprofs;
    if (!nreal)
        die("no pprof files", NULL);
    printf("input: %zu real Go CPU profiles from %s\n", nreal, data);

    /* 1. The 20 real profiles as they are, one series, 10 s apart. */
    fx_head_t *h = new_head("real");
    for (size_t i = 0; i < nreal; i++)
        samples += append(h, "real", &profs[i].plain, T0 + (int64_t)i * 10000000000LL, i, &types, 0);
    write_block(h, &m, &wms);
    report_size("20 real profiles, as they are", &m, samples, types);
    symbol_parts(&m);
    fx_block_meta_free(&m);
    fx_head_close(h);

    /* 2. Each fixture alone (symbols dominate a single profile). */
    static const char *const fixtures[] = {"go-cpu", "go-heap", "node-cpu-wall", "node-heap"};
    for (size_t f = 0; f < FX_ARRAY_LEN(fixtures); f++) {
        char path[256], name[64], sub[32];
        snprintf(path, sizeof path, "../shared/fixtures/pprof/%s.pb.gz", fixtures[f]);
        size_t before = nprofs;
        load_file(path, fixtures[f]);
        if (nprofs == before)
            continue;
        snprintf(sub, sizeof sub, "fx%zu", f);
        h = new_head(sub);
        samples = append(h, "fixture", &profs[nprofs - 1].plain, T0, 1, &types, 0);
        write_block(h, &m, &wms);
        snprintf(name, sizeof name, "fixture %s (1 profile)", fixtures[f]);
        report_size(name, &m, samples, types);
        fx_block_meta_free(&m);
        fx_head_close(h);
    }

    /* 3. One hour of 10 services at 10 s: 3,600 resampled profiles. */
    h = new_head("hour");
    samples = 0;
    for (int k = 0; k < PER_SERIES; k++)
        for (int s = 0; s < NSERIES; s++) {
            char svc[16];
            snprintf(svc, sizeof svc, "svc-%d", s);
            samples += append(h, svc, &profs[(size_t)(s * 7 + k) % nreal].plain,
                              T0 + (int64_t)k * 10000000000LL, (uint64_t)k << 8 | (uint64_t)s,
                              &types, 1);
        }
    fx_err_t err = {0};
    fx_head_disk_t du;
    fx_head_compact(h, &err);
    fx_head_disk_usage(h, &du, &err);
    write_block(h, &m, &wms);
    report_size("1 h, 10 series, 3,600 resampled profiles", &m, samples, types);
    symbol_parts(&m);
    printf("  the head after compaction holds %.3f B/sample in RocksDB\n",
           (double)(du.profiles + du.symbols + du.meta) / (double)samples);
    printf("block write (head -> block, fsynced): %.1f ms for %llu profiles (%.0f profiles/s)\n",
           wms, (unsigned long long)m.profiles, (double)m.profiles / wms * 1e3);

    char bdir[600];
    snprintf(bdir, sizeof bdir, "%s/blocks/%s", dir, m.id);
    fx_block_cache_t *cache = fx_block_cache_new(64u << 20, 256u << 20);
    fx_block_options_t bo = {FX_BLOCK_IO_URING, cache, 0, 0};
    fx_block_t *b;
    int64_t t = fx_mono_ns();
    if (fx_block_open_dir(bdir, &bo, &b, &err))
        die("open", &err);
    double open_ms = ms_since(t);
    t = fx_mono_ns();
    fx_head_profile_stats_t ps;
    fx_head_strings_t names;
    fx_arena_t a;
    fx_arena_init(&a);
    fx_head_query_t q = {"bench", NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0};
    fx_block_label_names(b, &q, &a, &names, &err);
    double idx_ms = ms_since(t);
    printf("block open %.2f ms; first label query (loads the index) %.2f ms\n", open_ms, idx_ms);
    (void)ps;

    merge_latency("head: all 10 series, 1 h", head_merge, h, "{}", rounds);
    fx_block_close(b);
    drop_cache(bdir);
    if (fx_block_open_dir(bdir, &bo, &b, &err))
        die("open", &err);
    merge_latency("block, cold (page cache dropped, first)", block_merge, b, "{}", 1);
    merge_latency("block: all 10 series, 1 h (warm)", block_merge, b, "{}", rounds);
    merge_latency("block: one series, 1 h (warm)", block_merge, b, "{service_name=\"svc-3\"}",
                  rounds);

    double lat[64];
    int n = rounds > 64 ? 64 : rounds;
    q.profile_type = CPU;
    for (int r = 0; r < n; r++) {
        fx_head_ts_list_t ts;
        t = fx_mono_ns();
        fx_block_select_series(b, &q, NULL, 0, 15000, FX_AGG_SUM, &a, &ts, &err);
        lat[r] = ms_since(t);
    }
    qsort(lat, (size_t)n, sizeof *lat, cmp_d);
    printf("select series on the block (10 series, 15 s step)   p50 %7.2f ms\n", lat[n / 2]);
    for (int r = 0; r < n; r++) {
        fx_buf_t out = FX_BUF_INIT;
        t = fx_mono_ns();
        fx_block_merge_pprof(b, &q, &out, &err);
        lat[r] = ms_since(t);
        fx_buf_free(&out);
    }
    qsort(lat, (size_t)n, sizeof *lat, cmp_d);
    printf("merge to pprof on the block (3,600 profiles)        p50 %7.2f ms\n", lat[n / 2]);
    fx_block_close(b);

    /* io_uring against pread. */
    printf("profiles section read throughput (%.2f MB), best of %d:\n",
           (double)m.files[FX_BLOCK_PROFILES].size / 1e6, rounds);
    static const struct { size_t size, batch; } shapes[] = {{4096, 64}, {65536, 64}, {1 << 20, 1}};
    for (int mode = 0; mode < 2; mode++) {
        bo.io = mode ? FX_BLOCK_IO_PREAD : FX_BLOCK_IO_URING;
        if (fx_block_open_dir(bdir, &bo, &b, &err))
            die("open", &err);
        for (size_t s = 0; s < FX_ARRAY_LEN(shapes); s++)
            for (int cold = 0; cold < 2; cold++)
                printf("  %-8s %7zu-byte ranges, %2zu per call, %s: %8.0f MB/s\n",
                       mode ? "pread" : "io_uring", shapes[s].size, shapes[s].batch,
                       cold ? "page cache dropped" : "page cache warm   ",
                       read_mbps(b, bdir, shapes[s].size, shapes[s].batch, cold, rounds));
        fx_block_close(b);
    }

    fx_arena_free(&a);
    fx_block_cache_free(cache);
    fx_block_meta_free(&m);
    fx_head_close(h);
    fx_rm_rf(dir);
    for (size_t i = 0; i < nprofs; i++)
        fx_buf_free(&profs[i].plain);
    free(profs);
    return 0;
}
