/*
 * bench_head.c - the ingester head on real Go CPU profiles (bench/data,
 * written by bench/gen/gen-cpu-profiles.go): append throughput, merge
 * latency for issue 2's query (10 series x 1 h at one profile per 10 s =
 * 3,600 profiles), SelectSeries latency, reopen time and bytes on disk per
 * sample after compaction. Prints figures only; asserts nothing.
 *
 *   build/bench/bench_head [PROFILE_DIR (default bench/data)] [ROUNDS (default 21)]
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gz.h"
#include "core/time.h"
#include "pprof/pprof.h"
#include "storage/head.h"
#include "core/fs.h"

#define NSERIES 10
#define PER_SERIES 360 /* 1 h at 10 s */
#define MAX_THREADS 16
#define T0 1795000000000000000LL
#define CPU "process_cpu:cpu:nanoseconds:cpu:nanoseconds"

typedef struct profile {
    fx_buf_t plain; /* uncompressed pprof bytes */
    size_t samples, locations;
} profile_t;

static profile_t *profiles;
static size_t nprofiles;
static fx_head_t *head;
static char dir[64];

static void load(const char *d)
{
    DIR *dd = opendir(d);
    struct dirent *e;
    if (!dd) {
        fprintf(stderr, "bench_head: cannot open %s\n", d);
        exit(1);
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    while ((e = readdir(dd)))
        if (strstr(e->d_name, ".pb.gz")) {
            FX_GROW(names, cap, n + 1);
            names[n++] = fx_strdup(e->d_name);
        }
    closedir(dd);
    profiles = fx_calloc(n + 1, sizeof *profiles);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        fx_buf_t gz = FX_BUF_INIT;
        fx_err_t err = {0};
        snprintf(path, sizeof path, "%s/%s", d, names[i]);
        fx_read_file(path, &gz); /* unreadable: gz stays empty and the file is skipped */
        profile_t *p = &profiles[nprofiles];
        if (fx_gunzip(gz.data, gz.len, 64 << 20, &p->plain, &err) == FX_OK) {
            fx_arena_t a;
            fx_pprof_t pp;
            fx_arena_init(&a);
            if (fx_pprof_decode(p->plain.data, p->plain.len, &a, &pp, &err) == FX_OK) {
                p->samples = pp.nsamples;
                p->locations = pp.nlocations;
                nprofiles++;
            }
            fx_pprof_free(&pp);
            fx_arena_free(&a);
        }
        fx_buf_free(&gz);
        free(names[i]);
    }
    free(names);
    if (!nprofiles) {
        fprintf(stderr, "bench_head: no pprof files in %s\n", d);
        exit(1);
    }
}

/* --- input: each appended profile is a fresh draw, not a copy -------------
 * Profile (series s, step k) resamples base profile (7s + k) mod N: every
 * sample's count is redrawn from a Poisson distribution with the original
 * count as mean (the sampling noise between two real 10 s profiles of one
 * service), samples drawn as 0 are dropped, and cpu = count * period. So
 * consecutive rows share most stacks but are never byte-identical, which
 * keeps the compression figures honest. */
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
    /* Knuth's method; means here are small counts. */
    double l = __builtin_exp(-(double)mean), p = 1;
    int64_t k = 0;
    if (mean > 30)
        return mean + (int64_t)((double)(next_rand() % 2001) / 1000.0 - 1.0) * 5;
    do {
        k++;
        p *= (double)(next_rand() >> 11) / 9007199254740992.0;
    } while (p > l);
    return k - 1;
}

typedef struct input {
    fx_buf_t plain;
} input_t;

static input_t inputs[NSERIES][PER_SERIES];

static void make_inputs(void)
{
    for (int s = 0; s < NSERIES; s++)
        for (int k = 0; k < PER_SERIES; k++) {
            const profile_t *b = &profiles[(size_t)(s * 7 + k) % nprofiles];
            fx_arena_t a;
            fx_pprof_t pp;
            fx_err_t err = {0};
            fx_arena_init(&a);
            FX_ASSERT(fx_pprof_decode(b->plain.data, b->plain.len, &a, &pp, &err) == FX_OK);
            FX_ASSERT(pp.nsample_types == 2);
            fx_pprof_sample_t *smp = fx_arena_alloc(&a, (pp.nsamples + 1) * sizeof *smp);
            size_t n = 0;
            for (size_t i = 0; i < pp.nsamples; i++) {
                int64_t c = poisson(pp.samples[i].values[0]);
                if (c <= 0)
                    continue;
                int64_t *v = fx_arena_alloc(&a, 2 * sizeof *v);
                v[0] = c;
                v[1] = c * pp.period;
                smp[n] = pp.samples[i];
                smp[n++].values = v;
            }
            pp.samples = smp;
            pp.nsamples = n;
            fx_pprof_encode(&pp, NULL, &inputs[s][k].plain);
            fx_pprof_free(&pp);
            fx_arena_free(&a);
        }
}

/* Each thread appends the profiles of series s = thread, thread + NTHREADS,
 * ... in time order; the pprof is decoded inside the timed loop (the head's
 * real input is raw bytes), gunzip is not (the distributor does that). */
typedef struct job {
    int thread, nthreads;
    size_t bytes, samples;
} job_t;

static void *appender(void *arg)
{
    job_t *j = arg;
    for (int k = 0; k < PER_SERIES; k++)
        for (int s = j->thread; s < NSERIES; s += j->nthreads) {
            const input_t *p = &inputs[s][k];
            char svc[16];
            uint8_t id[16] = {0};
            fx_arena_t a;
            fx_pprof_t pp;
            fx_err_t err = {0};
            snprintf(svc, sizeof svc, "svc-%d", s);
            fx_label_t lv[3] = {{"__name__", "process_cpu"}, {"pod", "pod-1"},
                                {"service_name", svc}};
            fx_labels_t l = {lv, 3};
            memcpy(id, &k, sizeof k);
            id[8] = (uint8_t)s;
            fx_arena_init(&a);
            if (fx_pprof_decode(p->plain.data, p->plain.len, &a, &pp, &err) ||
                fx_head_append(head, "bench", &l, &pp, id, T0 + (int64_t)k * 10000000000LL, NULL,
                               &err)) {
                fprintf(stderr, "bench_head: append: %s\n", err.msg);
                exit(1);
            }
            j->bytes += p->plain.len;
            j->samples += pp.nsamples;
            fx_pprof_free(&pp);
            fx_arena_free(&a);
        }
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void fill(int sync, int nthreads, size_t *bytes, size_t *samples, double *secs)
{
    fx_head_options_t o;
    fx_err_t err = {0};
    fx_head_options_default(&o);
    o.sync = sync;
    fx_rm_rf(dir);
    if (fx_head_open(dir, &o, &head, &err)) {
        fprintf(stderr, "bench_head: open: %s\n", err.msg);
        exit(1);
    }
    pthread_t th[MAX_THREADS];
    job_t jobs[MAX_THREADS];
    int64_t t = fx_mono_ns();
    for (int i = 0; i < nthreads; i++) {
        jobs[i] = (job_t){i, nthreads, 0, 0};
        pthread_create(&th[i], NULL, appender, &jobs[i]);
    }
    *bytes = *samples = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        *bytes += jobs[i].bytes;
        *samples += jobs[i].samples;
    }
    *secs = (double)(fx_mono_ns() - t) / 1e9;
}

static void merge_latency(const char *what, const char *selector, int rounds)
{
    fx_selector_t sel;
    fx_err_t err = {0};
    int64_t *lat = fx_malloc((size_t)rounds * sizeof *lat), total = 0;
    size_t nodes = 0;
    fx_selector_parse(selector, &sel, &err);
    fx_head_query_t q = {"bench", &sel, 1, CPU, T0 / 1000000, T0 / 1000000 + 3600 * 1000, NULL, NULL, 0, 0};
    for (int r = 0; r < rounds; r++) {
        fx_tree_t tree;
        fx_tree_init(&tree);
        int64_t t = fx_mono_ns();
        if (fx_head_merge_tree(head, &q, FX_GROUP_FUNCTION, &tree, &err)) {
            fprintf(stderr, "bench_head: merge: %s\n", err.msg);
            exit(1);
        }
        lat[r] = fx_mono_ns() - t;
        total = fx_tree_total(&tree);
        nodes = tree.len;
        fx_tree_free(&tree);
    }
    qsort(lat, (size_t)rounds, sizeof *lat, cmp_i64);
    printf("merge %-34s p50 %7.2f ms  p99 %7.2f ms  (%d runs; tree %zu nodes, total %.1f s cpu)\n",
           what, (double)lat[rounds / 2] / 1e6, (double)lat[rounds - 1 - rounds / 100] / 1e6,
           rounds, nodes, (double)total / 1e9);
    fx_selector_free(&sel);
    free(lat);
}

static void series_latency(int rounds)
{
    fx_err_t err = {0};
    int64_t *lat = fx_malloc((size_t)rounds * sizeof *lat);
    fx_head_query_t q = {"bench", NULL, 0, CPU, T0 / 1000000, T0 / 1000000 + 3600 * 1000, NULL, NULL, 0, 0};
    size_t n = 0;
    for (int r = 0; r < rounds; r++) {
        fx_arena_t a;
        fx_head_ts_list_t ts;
        fx_arena_init(&a);
        int64_t t = fx_mono_ns();
        fx_head_select_series(head, &q, NULL, 0, 15000, FX_AGG_SUM, &a, &ts, &err);
        lat[r] = fx_mono_ns() - t;
        n = ts.len;
        fx_arena_free(&a);
    }
    qsort(lat, (size_t)rounds, sizeof *lat, cmp_i64);
    printf("select series (10 series, 15 s step)       p50 %7.2f ms  p99 %7.2f ms  (%zu series)\n",
           (double)lat[rounds / 2] / 1e6, (double)lat[rounds - 1 - rounds / 100] / 1e6, n);
    free(lat);
}

static void pprof_latency(int rounds)
{
    fx_err_t err = {0};
    int64_t *lat = fx_malloc((size_t)rounds * sizeof *lat);
    fx_head_query_t q = {"bench", NULL, 0, CPU, T0 / 1000000, T0 / 1000000 + 3600 * 1000, NULL, NULL, 0, 0};
    size_t bytes = 0;
    for (int r = 0; r < rounds; r++) {
        fx_buf_t out = FX_BUF_INIT;
        int64_t t = fx_mono_ns();
        fx_head_merge_pprof(head, &q, &out, &err);
        lat[r] = fx_mono_ns() - t;
        bytes = out.len;
        const char *dump = getenv("FX_BENCH_PPROF"); /* for checking with go tool pprof */
        FILE *f = dump && r == 0 ? fopen(dump, "wb") : NULL;
        if (f) {
            fwrite(out.data, 1, out.len, f);
            fclose(f);
        }
        fx_buf_free(&out);
    }
    qsort(lat, (size_t)rounds, sizeof *lat, cmp_i64);
    printf("merge to pprof (all 3,600 profiles)         p50 %7.2f ms  p99 %7.2f ms  (%zu bytes)\n",
           (double)lat[rounds / 2] / 1e6, (double)lat[rounds - 1 - rounds / 100] / 1e6, bytes);
    free(lat);
}

int main(int argc, char **argv)
{
    const char *data = argc > 1 ? argv[1] : "bench/data";
    int rounds = argc > 2 ? atoi(argv[2]) : 21;
    fx_err_t err = {0};
    size_t bytes, samples, avg_s = 0, avg_l = 0;
    double secs;

    if (rounds < 1)
        rounds = 1;
    load(data);
    for (size_t i = 0; i < nprofiles; i++) {
        avg_s += profiles[i].samples;
        avg_l += profiles[i].locations;
    }
    strcpy(dir, "/tmp/fx-bench-head-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    printf("input: %zu real Go CPU profiles from %s, avg %zu samples, %zu locations; "
           "each appended profile resampled from one of them\n",
           nprofiles, data, avg_s / nprofiles, avg_l / nprofiles);
    make_inputs();
    printf("head: %d series x %d profiles (1 h at 10 s)\n", NSERIES, PER_SERIES);

    static const struct { int sync, threads; } runs[] = {{0, 1}, {0, 2}, {1, 1}, {1, 2}, {1, 10}};
    for (size_t r = 0; r < FX_ARRAY_LEN(runs); r++) {
        if (r)
            fx_head_close(head);
        fill(runs[r].sync, runs[r].threads, &bytes, &samples, &secs);
        fx_head_stats_t st;
        fx_head_stats(head, &st);
        printf("append, %-10s %2d thread%s (decode + append) %6.0f profiles/s %6.1f MB/s raw pprof",
               runs[r].sync ? "WAL fsync," : "no fsync,", runs[r].threads,
               runs[r].threads > 1 ? "s" : " ", NSERIES * PER_SERIES / secs,
               (double)bytes / 1e6 / secs);
        if (st.wal_syncs)
            printf(", %.1f appends per fsync", (double)st.profiles / (double)st.wal_syncs);
        printf("\n");
    }

    merge_latency("all 10 series, 1 h (3,600 profiles)", "{}", rounds);
    merge_latency("one series, 1 h (360 profiles)", "{service_name=\"svc-3\"}", rounds);
    pprof_latency(rounds > 5 ? 5 : rounds);
    series_latency(rounds);

    fx_head_stats_t st;
    fx_head_disk_t du;
    fx_head_stats(head, &st);
    int64_t t = fx_mono_ns();
    if (fx_head_compact(head, &err) || fx_head_disk_usage(head, &du, &err)) {
        fprintf(stderr, "bench_head: %s\n", err.msg);
        return 1;
    }
    double compact_s = (double)(fx_mono_ns() - t) / 1e9;
    uint64_t sst = du.profiles + du.symbols + du.meta;
    printf("stored: %zu pprof samples (x2 sample types), %llu stack nodes, %llu series\n", samples,
           (unsigned long long)st.stack_nodes, (unsigned long long)st.series);
    printf("disk after flush + compaction (%.1f s): profiles %.2f MB, symbols %.2f MB, "
           "total %.2f MB\n", compact_s, (double)du.profiles / 1e6, (double)du.symbols / 1e6,
           (double)sst / 1e6);
    printf("bytes per pprof sample: %.2f total (%.2f rows + %.2f symbols); per sample and type: "
           "%.2f; raw pprof: %.1f\n", (double)sst / (double)samples,
           (double)du.profiles / (double)samples, (double)du.symbols / (double)samples,
           (double)sst / (double)samples / 2, (double)bytes / (double)samples);
    printf("written to the WAL (rows + new symbols, before zstd): %.2f bytes per pprof sample\n",
           (double)st.bytes_written / (double)samples);
    merge_latency("all 10 series after compaction", "{}", rounds);
    fx_head_close(head);

    t = fx_mono_ns();
    if (fx_head_open(dir, NULL, &head, &err)) {
        fprintf(stderr, "bench_head: reopen: %s\n", err.msg);
        return 1;
    }
    printf("reopen (rebuild memory from disk): %.1f ms\n", (double)(fx_mono_ns() - t) / 1e6);
    merge_latency("all 10 series after reopen (cold)", "{}", 1);
    fx_head_close(head);
    fx_rm_rf(dir);
    for (size_t i = 0; i < nprofiles; i++)
        fx_buf_free(&profiles[i].plain);
    for (int s = 0; s < NSERIES; s++)
        for (int k = 0; k < PER_SERIES; k++)
            fx_buf_free(&inputs[s][k].plain);
    free(profiles);
    return 0;
}
