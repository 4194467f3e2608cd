/*
 * loadgen.h - what bench_ingest.c and bench_query.c share: a fornax process
 * of their own (fresh data directory, free loopback ports), real profiles
 * from files, resampled variants of them, request bodies whose pprof
 * timestamp can be rewritten per request without recompressing, a cheap
 * libcurl load generator (one thread, many keep-alive connections), CPU
 * accounting of both sides, and bytes on disk.
 *
 * Header-only (static functions) because every bench_*.c is its own program
 * and the Makefile links each alone. Benchmarks print figures; nothing here
 * asserts a timing.
 *
 * Time-stamped bodies: the pprof is encoded without time_nanos and
 * compressed with a sync flush; the gzip stream then ends in a stored
 * (uncompressed) deflate block holding exactly one protobuf field,
 * time_nanos (tag 0x48 + a 9-byte varint: every time after 1972 and before
 * 2262 needs 9 bytes), then the gzip trailer. Field order does not matter in
 * protobuf, so this is an ordinary pprof in an ordinary gzip stream; a new
 * timestamp costs 10 bytes plus a crc32_combine, so the client stays cheap
 * and every push is a distinct profile at its own time, as agents send them.
 */
#ifndef FX_BENCH_LOADGEN_H
#define FX_BENCH_LOADGEN_H

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "core/buf.h"
#include "core/gz.h"
#include "core/mem.h"
#include "core/time.h"
#include "log/log.h"
#include "pprof/pprof.h"
#include "storage/head.h"
#include "core/fs.h"

/* --- small things ------------------------------------------------------------------- */

static uint64_t lg_rng = 0x9e3779b97f4a7c15ULL;

static uint64_t lg_rand(void)
{
    lg_rng ^= lg_rng << 13;
    lg_rng ^= lg_rng >> 7;
    lg_rng ^= lg_rng << 17;
    return lg_rng;
}

static double lg_unit(void) /* (0, 1] */
{
    return ((double)(lg_rand() >> 11) + 1.0) / 9007199254740992.0;
}

/* A Poisson draw: Knuth's method for small means, the normal approximation
 * (Box-Muller) for large ones. */
static int64_t lg_poisson(double mean)
{
    if (mean <= 0)
        return 0;
    if (mean > 30) {
        double g = sqrt(-2.0 * log(lg_unit())) * cos(6.283185307179586 * lg_unit());
        double v = mean + sqrt(mean) * g + 0.5;
        return v < 0 ? 0 : (int64_t)v;
    }
    double l = exp(-mean), p = 1;
    int64_t k = 0;
    do {
        k++;
        p *= lg_unit();
    } while (p > l);
    return k - 1;
}

static int lg_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* q-quantile (0..1) of v[0..n), sorting v. */
static double lg_quantile(double *v, size_t n, double q)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof *v, lg_cmp_double);
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static int lg_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted paths of the files in dir whose names start with prefix and end in
 * .pb.gz; *n of them. Free each and the array. */
static char **lg_list(const char *dir, const char *prefix, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **v = NULL;
    size_t cap = 0;
    *n = 0;
    if (!d)
        return NULL;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, prefix, strlen(prefix)) || len < 6 ||
            strcmp(e->d_name + len - 6, ".pb.gz"))
            continue;
        FX_GROW(v, cap, *n + 1);
        char *p = fx_malloc(strlen(dir) + len + 2);
        sprintf(p, "%s/%s", dir, e->d_name);
        v[(*n)++] = p;
    }
    closedir(d);
    if (*n)
        qsort(v, *n, sizeof *v, lg_cmp_str);
    return v;
}

/* --- profiles ------------------------------------------------------------------------ */

typedef struct lg_source {
    fx_buf_t plain; /* the uncompressed pprof */
    size_t gz_len, samples, locations, functions, ntypes;
} lg_source_t;

/* Loads and decodes a .pb.gz file; exits with a message if it is no pprof. */
static void lg_source_load(const char *path, lg_source_t *s)
{
    fx_buf_t gz = FX_BUF_INIT;
    fx_err_t err = {0};
    fx_arena_t a;
    fx_pprof_t p;
    memset(s, 0, sizeof *s);
    if (fx_read_file(path, &gz) < 0 || fx_gunzip(gz.data, gz.len, 256 << 20, &s->plain, &err) < 0) {
        fprintf(stderr, "bench: cannot read %s: %s\n", path,
                err.msg[0] ? err.msg : strerror(errno));
        exit(1);
    }
    fx_arena_init(&a);
    if (fx_pprof_decode(s->plain.data, s->plain.len, &a, &p, &err) < 0) {
        fprintf(stderr, "bench: %s: %s\n", path, err.msg);
        exit(1);
    }
    s->gz_len = gz.len;
    s->samples = p.nsamples;
    s->locations = p.nlocations;
    s->functions = p.nfunctions;
    s->ntypes = p.nsample_types;
    fx_pprof_free(&p);
    fx_arena_free(&a);
    fx_buf_free(&gz);
}

/*
 * A fresh draw of a real profile, encoded without time_nanos into out: each
 * sample's first value is redrawn from a Poisson distribution with the
 * original as mean (the noise between two real profiles of one service) and
 * its other values scaled alike; samples drawn as 0 are dropped. *samples
 * gets the sample count.
 */
static void lg_resample(const lg_source_t *s, fx_buf_t *out, size_t *samples)
{
    fx_arena_t a;
    fx_pprof_t p;
    fx_err_t err = {0};
    fx_arena_init(&a);
    FX_ASSERT(fx_pprof_decode(s->plain.data, s->plain.len, &a, &p, &err) == FX_OK);
    fx_pprof_sample_t *smp = fx_arena_alloc(&a, (p.nsamples + 1) * sizeof *smp);
    size_t n = 0;
    for (size_t i = 0; i < p.nsamples; i++) {
        const fx_pprof_sample_t *o = &p.samples[i];
        int64_t base = o->nvalues ? o->values[0] : 0;
        int64_t draw = lg_poisson((double)base);
        if (base > 0 && draw == 0)
            continue;
        int64_t *v = fx_arena_alloc(&a, (o->nvalues + 1) * sizeof *v);
        for (uint32_t k = 0; k < o->nvalues; k++)
            v[k] = base > 0 ? (int64_t)((double)o->values[k] * (double)draw / (double)base + 0.5)
                            : o->values[k];
        smp[n] = *o;
        smp[n++].values = v;
    }
    p.samples = smp;
    p.nsamples = n;
    p.time_nanos = 0;
    fx_pprof_encode(&p, NULL, out);
    *samples = n;
    fx_pprof_free(&p);
    fx_arena_free(&a);
}

/* --- time-stamped gzip -------------------------------------------------------------- */

#define LG_TAIL 18 /* time field (10) + gzip trailer (crc32, isize) */

typedef struct lg_gz {
    uint32_t crc;    /* crc32 of the pprof without the time field */
    size_t raw_len;  /* pprof bytes without the time field */
} lg_gz_t;

/* Appends to out a gzip stream of pprof (no time field) + the time field;
 * the stream's last LG_TAIL bytes are what lg_set_time rewrites. */
static void lg_gzip_timed(const uint8_t *pprof, size_t n, int level, fx_buf_t *out, lg_gz_t *g)
{
    static const uint8_t hdr[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
    z_stream z;
    memset(&z, 0, sizeof z);
    FX_ASSERT(deflateInit2(&z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    fx_buf_append(out, hdr, sizeof hdr);
    size_t bound = deflateBound(&z, n) + 64;
    fx_buf_reserve(out, bound + 5 + LG_TAIL);
    z.next_in = (Bytef *)pprof;
    z.avail_in = (uInt)n;
    z.next_out = out->data + out->len;
    z.avail_out = (uInt)bound;
    /* A sync flush ends byte-aligned with a non-final empty stored block. */
    FX_ASSERT(deflate(&z, Z_SYNC_FLUSH) == Z_OK && z.avail_in == 0);
    out->len += bound - z.avail_out;
    deflateEnd(&z);
    /* Final stored block of 10 bytes: BFINAL=1 BTYPE=00, LEN, NLEN. */
    static const uint8_t stored[5] = {0x01, 10, 0, 0xf5, 0xff};
    fx_buf_append(out, stored, sizeof stored);
    uint8_t zero[LG_TAIL] = {0};
    fx_buf_append(out, zero, sizeof zero);
    g->crc = (uint32_t)crc32(0, pprof, (uInt)n);
    g->raw_len = n;
}

static void lg_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Rewrites the time of a stream made by lg_gzip_timed that ends at end. */
static void lg_set_time(uint8_t *end, const lg_gz_t *g, int64_t time_ns)
{
    uint8_t *f = end - LG_TAIL;
    uint64_t t = (uint64_t)time_ns;
    FX_ASSERT(t >> 56 >= 1 && t >> 56 <= 127); /* exactly 9 varint bytes */
    f[0] = 0x48; /* field 9 (time_nanos), varint */
    for (int i = 0; i < 8; i++)
        f[1 + i] = (uint8_t)((t >> (7 * i)) & 0x7f) | 0x80;
    f[9] = (uint8_t)(t >> 56);
    uint32_t crc = (uint32_t)crc32_combine(g->crc, crc32(0, f, 10), 10);
    lg_put_le32(end - 8, crc);
    lg_put_le32(end - 4, (uint32_t)(g->raw_len + 10));
}

/* --- request bodies ------------------------------------------------------------------ */

enum { LG_API_INGEST, LG_API_CONNECT };

typedef struct lg_body {
    fx_buf_t b;            /* the request body; its gzip stream is at its end */
    size_t gz_off;         /* where the gzip stream starts */
    lg_gz_t gz;
    char *query;           /* /ingest query string without from/until (LG_API_INGEST) */
    size_t raw_len, samples, values;
} lg_body_t;

static void lg_pb_str(fx_buf_t *b, uint32_t field, const char *s)
{
    fx_buf_uvarint(b, field << 3 | 2);
    fx_buf_uvarint(b, strlen(s));
    fx_buf_puts(b, s);
}

/*
 * Builds a body for api from a pprof without time field (see lg_resample):
 * LG_API_INGEST: the gzip stream itself, pushed to
 * /ingest?name=<service>&format=pprof; LG_API_CONNECT: a push.v1
 * PushRequest with one series {__name__=<name>, service_name=<service>}
 * whose one sample's raw_profile is the gzip stream (the last bytes of the
 * message, so lg_set_time works on the body's end).
 */
static void lg_body_make(lg_body_t *body, int api, const uint8_t *pprof, size_t n, size_t samples,
                         size_t ntypes, const char *name, const char *service, int64_t time_ns)
{
    fx_buf_t gz = FX_BUF_INIT;
    memset(body, 0, sizeof *body);
    lg_gzip_timed(pprof, n, 1, &gz, &body->gz); /* level 1: what Go's runtime/pprof uses */
    lg_set_time(gz.data + gz.len, &body->gz, time_ns);
    if (api == LG_API_CONNECT) {
        fx_buf_t labels = FX_BUF_INIT, pair = FX_BUF_INIT, sample = FX_BUF_INIT,
                 series = FX_BUF_INIT;
        const char *kv[2][2] = {{"__name__", name}, {"service_name", service}};
        for (int i = 0; i < 2; i++) {
            pair.len = 0;
            lg_pb_str(&pair, 1, kv[i][0]);
            lg_pb_str(&pair, 2, kv[i][1]);
            fx_buf_uvarint(&labels, 1 << 3 | 2);
            fx_buf_uvarint(&labels, pair.len);
            fx_buf_append(&labels, pair.data, pair.len);
        }
        fx_buf_uvarint(&sample, 1 << 3 | 2); /* RawSample.raw_profile */
        fx_buf_uvarint(&sample, gz.len);
        size_t sample_hdr = sample.len;
        fx_buf_append(&series, labels.data, labels.len);
        fx_buf_uvarint(&series, 2 << 3 | 2); /* RawProfileSeries.samples */
        fx_buf_uvarint(&series, sample_hdr + gz.len);
        fx_buf_append(&series, sample.data, sample.len);
        fx_buf_uvarint(&body->b, 1 << 3 | 2); /* PushRequest.series */
        fx_buf_uvarint(&body->b, series.len + gz.len);
        fx_buf_append(&body->b, series.data, series.len);
        fx_buf_free(&labels), fx_buf_free(&pair), fx_buf_free(&sample), fx_buf_free(&series);
    } else {
        char q[512];
        snprintf(q, sizeof q, "name=%s&format=pprof&spyName=gospy", service);
        body->query = fx_strdup(q);
    }
    body->gz_off = body->b.len;
    fx_buf_append(&body->b, gz.data, gz.len);
    body->raw_len = n + 10;
    body->samples = samples;
    body->values = samples * ntypes;
    fx_buf_free(&gz);
}

static void lg_body_free(lg_body_t *b)
{
    fx_buf_free(&b->b);
    free(b->query);
}

/* --- a fornax process ----------------------------------------------------------------- */

typedef struct lg_server {
    pid_t pid;
    int http_port, grpc_port;
    char url[64];
    char dir[256];  /* data directory (removed by lg_server_cleanup) */
    char log[300];
} lg_server_t;

static int lg_free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;
    FX_ASSERT(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
              getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

static size_t lg_discard(char *p, size_t size, size_t n, void *ctx)
{
    fx_buf_t *b = ctx;
    if (b && b->len < (1 << 20))
        fx_buf_append(b, p, size * n);
    return size * n;
}

/* GET url; returns the HTTP status (0 if no answer) and the body in out (may be NULL). */
static long lg_get(const char *url, fx_buf_t *out)
{
    CURL *c = curl_easy_init();
    long code = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, lg_discard);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    return code;
}

/* Starts bin (fornax) with a fresh data directory under $TMPDIR, free
 * ports, -target=all and the extra flags (NULL-terminated), and waits until
 * /ready answers 200. Its stderr goes to a log file in the data directory. */
static void lg_server_start(lg_server_t *s, const char *bin, const char *const *extra)
{
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "%s/fornax-bench-XXXXXX", tmp);
    FX_ASSERT(mkdtemp(s->dir));
    snprintf(s->log, sizeof s->log, "%s/fornax.log", s->dir);
    s->http_port = lg_free_port();
    s->grpc_port = lg_free_port();
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", s->http_port);
    char a_http[64], a_grpc[64], a_dir[300];
    snprintf(a_http, sizeof a_http, "-server.http-listen-port=%d", s->http_port);
    snprintf(a_grpc, sizeof a_grpc, "-server.grpc-listen-port=%d", s->grpc_port);
    snprintf(a_dir, sizeof a_dir, "-data-dir=%s/data", s->dir);
    const char *argv[64] = {bin, "-target=all", a_http, a_grpc, a_dir, "-log.level=warn"};
    size_t argc = 6;
    for (size_t i = 0; extra && extra[i] && argc < FX_ARRAY_LEN(argv) - 1; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    s->pid = fork();
    FX_ASSERT(s->pid >= 0);
    if (s->pid == 0) {
        int fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(bin, (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    char ready[128];
    snprintf(ready, sizeof ready, "%s/ready", s->url);
    for (int i = 0; i < 300; i++) {
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            fprintf(stderr, "bench: fornax exited at start; see %s\n", s->log);
            exit(1);
        }
        if (lg_get(ready, NULL) == 200)
            return;
        usleep(100 * 1000);
    }
    fprintf(stderr, "bench: fornax not ready after 30 s; see %s\n", s->log);
    kill(s->pid, SIGKILL);
    exit(1);
}

/* CPU seconds (user + system) the process has used so far. */
static double lg_proc_cpu(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* CPU seconds all CPUs of the machine have been busy (not idle or iowait)
 * so far: what other processes used during a run is this minus ours. */
static double lg_machine_busy(void)
{
    unsigned long long v[10] = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return 0;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
    fclose(f);
    if (n < 8)
        return 0;
    /* user nice system idle iowait irq softirq steal (guest time is in user) */
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

static double lg_self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* SIGTERM (graceful: RocksDB closes cleanly), wait; SIGKILL after 30 s.
 * Says so when fornax did not exit cleanly. */
static void lg_server_stop(lg_server_t *s)
{
    int st = 0, done = 0;
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGTERM);
    for (int i = 0; i < 300 && !done; i++) {
        done = waitpid(s->pid, &st, WNOHANG) == s->pid;
        if (!done)
            usleep(100 * 1000);
    }
    if (!done) {
        fprintf(stderr, "bench: fornax did not stop within 30 s of SIGTERM; killing it\n");
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &st, 0);
    } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench: fornax exited abnormally on SIGTERM (status %d); see %s\n", st,
                s->log);
    }
    s->pid = 0;
}

static void lg_server_cleanup(lg_server_t *s)
{
    lg_server_stop(s);
    if (getenv("BENCH_KEEP"))
        fprintf(stderr, "bench: keeping %s\n", s->dir);
    else
        fx_rm_rf(s->dir);
}

/* --- bytes on disk ---------------------------------------------------------------------- */

typedef struct lg_disk {
    uint64_t sst, wal, other; /* *.sst, *.log (the WAL), the rest (MANIFEST, OPTIONS, LOG) */
} lg_disk_t;

static void lg_disk_usage(const char *dir, lg_disk_t *d)
{
    DIR *dd = opendir(dir);
    struct dirent *e;
    memset(d, 0, sizeof *d);
    if (!dd)
        return;
    while ((e = readdir(dd))) {
        char p[1024];
        struct stat st;
        size_t n = strlen(e->d_name);
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (stat(p, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (n > 4 && !strcmp(e->d_name + n - 4, ".sst"))
            d->sst += (uint64_t)st.st_size;
        else if (n > 4 && !strcmp(e->d_name + n - 4, ".log"))
            d->wal += (uint64_t)st.st_size;
        else
            d->other += (uint64_t)st.st_size;
    }
    closedir(dd);
}

/* --- storage ------------------------------------------------------------------------- */

/* Bytes on disk of the head in data_dir (fornax stopped) per acknowledged
 * pprof sample and per sample value: as fornax left it, then after an
 * offline flush + full compaction. tag prefixes the summary line. */
static void lg_report_disk(const char *data_dir, uint64_t samples, uint64_t values, const char *tag)
{
    char head_dir[512];
    lg_disk_t d;
    fx_head_t *h = NULL;
    fx_head_disk_t du;
    fx_err_t err = {0};

    snprintf(head_dir, sizeof head_dir, "%s/head", data_dir);
    lg_disk_usage(head_dir, &d);
    printf("\nstorage: %llu pprof samples (%llu sample values) acknowledged\n",
           (unsigned long long)samples, (unsigned long long)values);
    printf("  as fornax left it (SIGTERM; SST + WAL files): %.2f MB = %.2f B/sample, %.2f B/value "
           "(SST %.2f MB, WAL %.2f MB; RocksDB MANIFEST/OPTIONS/LOG %.2f MB not counted)\n",
           (double)(d.sst + d.wal) / 1e6, (double)(d.sst + d.wal) / (double)samples,
           (double)(d.sst + d.wal) / (double)values, (double)d.sst / 1e6, (double)d.wal / 1e6,
           (double)d.other / 1e6);
    int64_t t = fx_mono_ns();
    fx_head_disk_t fl;
    if (fx_head_open(head_dir, NULL, &h, &err) < 0 || fx_head_disk_usage(h, &fl, &err) < 0) {
        printf("  offline reopen failed: %s\n", err.msg);
    } else {
        /* Opening replays the WAL into memtables and flushes them to L0
         * SST files (zstd): the state a running ingester reaches at each
         * memtable flush. */
        uint64_t tot = fl.profiles + fl.symbols + fl.meta + fl.wal;
        printf("  after reopen (WAL replayed and flushed to L0 SSTs, no compaction): %.2f MB = "
               "%.2f B/sample, %.2f B/value\n", (double)tot / 1e6, (double)tot / (double)samples,
               (double)tot / (double)values);
    }
    if (!h || fx_head_compact(h, &err) < 0 || fx_head_disk_usage(h, &du, &err) < 0) {
        printf("  offline compaction failed: %s\n", err.msg);
    } else {
        uint64_t tot = du.profiles + du.symbols + du.meta + du.wal;
        printf("  after flush + full compaction (offline, %.1f s): %.2f MB = %.2f B/sample, "
               "%.2f B/value (rows %.2f MB, symbols %.2f MB)\n",
               (double)(fx_mono_ns() - t) / 1e9, (double)tot / 1e6, (double)tot / (double)samples,
               (double)tot / (double)values, (double)du.profiles / 1e6, (double)du.symbols / 1e6);
        printf("=> %s_storage_bytes_per_sample=%.2f bytes_per_value=%.2f (after compaction; %.2f "
               "after flush; %.2f as left, rows still in the WAL)\n", tag, (double)tot / (double)samples,
               (double)tot / (double)values,
               (double)(fl.profiles + fl.symbols + fl.meta + fl.wal) / (double)samples,
               (double)(d.sst + d.wal) / (double)samples);
    }
    if (h)
        fx_head_close(h);
}

/* --- the load generator ----------------------------------------------------------------- */

typedef struct lg_run_opts {
    const char *base_url;
    int api;                 /* LG_API_INGEST or LG_API_CONNECT */
    lg_body_t *bodies;       /* request i sends bodies[i % nbodies] */
    size_t nbodies;
    int conc;                /* connections, each with one request in flight */
    double warmup_s, duration_s; /* duration mode: figures over [warmup, warmup + duration) */
    int once;                /* instead: send each body once, as is (no new timestamp) */
    size_t count;            /* or instead: send count requests (new timestamps), all measured */
    pid_t server;            /* for the server's CPU time */
} lg_run_opts_t;

typedef struct lg_run_result {
    size_t ok, failed;
    double secs, client_cpu, server_cpu;
    double other_cpu;        /* CPU seconds the rest of the machine used meanwhile */
    uint64_t raw_bytes, gz_bytes, samples, values;
    double *lat_ms;          /* one per ok request (malloc'd) */
    char first_error[300];
} lg_run_result_t;

typedef struct lg_slot {
    CURL *c;
    fx_buf_t body, resp;
    size_t which;            /* index into bodies */
    int64_t started;
    char url[1024];
} lg_slot_t;

static void lg_slot_start(const lg_run_opts_t *o, lg_slot_t *s, size_t which, CURLM *m)
{
    const lg_body_t *b = &o->bodies[which];
    s->which = which;
    s->body.len = 0;
    s->resp.len = 0;
    fx_buf_append(&s->body, b->b.data, b->b.len);
    if (!o->once)
        lg_set_time(s->body.data + s->body.len, &b->gz, fx_now_ns());
    if (o->api == LG_API_INGEST) {
        int64_t now = fx_now_ns() / 1000000000;
        snprintf(s->url, sizeof s->url, "%s/ingest?%s&from=%lld&until=%lld", o->base_url, b->query,
                 (long long)now - 15, (long long)now);
    } else {
        snprintf(s->url, sizeof s->url, "%s/push.v1.PusherService/Push", o->base_url);
    }
    curl_easy_setopt(s->c, CURLOPT_URL, s->url);
    curl_easy_setopt(s->c, CURLOPT_POSTFIELDS, s->body.data);
    curl_easy_setopt(s->c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->body.len);
    s->started = fx_mono_ns();
    curl_multi_add_handle(m, s->c);
}

/* Runs the load; result figures cover only the measured window. */
static void lg_run(const lg_run_opts_t *o, lg_run_result_t *r)
{
    CURLM *m = curl_multi_init();
    lg_slot_t *slots = fx_calloc((size_t)o->conc, sizeof *slots);
    struct curl_slist *hdr = NULL;
    size_t next = 0, lat_cap = 0, total = o->once ? o->nbodies : o->count ? o->count : SIZE_MAX;
    int all = o->once || o->count; /* every request is measured */
    int running = 0, measuring = 0;
    int64_t t0 = fx_mono_ns(), mstart = 0, mend = 0;
    double ccpu0 = 0, scpu0 = 0, mcpu0 = 0;

    memset(r, 0, sizeof *r);
    hdr = curl_slist_append(hdr, "Expect:"); /* no 100-continue round trip */
    hdr =
        curl_slist_append(hdr, o->api == LG_API_CONNECT ? "Content-Type: application/proto"
                                                        : "Content-Type: application/octet-stream");
    if (o->api == LG_API_CONNECT)
        hdr = curl_slist_append(hdr, "Connect-Protocol-Version: 1");
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)o->conc);
    if (all) {
        measuring = 1;
        mstart = t0;
        ccpu0 = lg_self_cpu();
        scpu0 = lg_proc_cpu(o->server);
        mcpu0 = lg_machine_busy();
    }
    for (int i = 0; i < o->conc; i++) {
        lg_slot_t *s = &slots[i];
        s->c = curl_easy_init();
        curl_easy_setopt(s->c, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(s->c, CURLOPT_WRITEFUNCTION, lg_discard);
        curl_easy_setopt(s->c, CURLOPT_WRITEDATA, &s->resp);
        curl_easy_setopt(s->c, CURLOPT_PRIVATE, s);
        curl_easy_setopt(s->c, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(s->c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(s->c, CURLOPT_TIMEOUT, 60L);
        if (next < total)
            lg_slot_start(o, s, next++ % o->nbodies, m), running++;
    }
    while (running) {
        int still;
        curl_multi_perform(m, &still);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            lg_slot_t *s;
            long code = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            CURLcode res = msg->data.result;
            curl_multi_remove_handle(m, s->c);
            running--;
            int64_t now = fx_mono_ns();
            if (!measuring && (double)(now - t0) / 1e9 >= o->warmup_s) {
                measuring = 1;
                mstart = now;
                ccpu0 = lg_self_cpu();
                scpu0 = lg_proc_cpu(o->server);
                mcpu0 = lg_machine_busy();
            }
            int in_window = measuring && (all || (double)(now - mstart) / 1e9 < o->duration_s);
            if (in_window) {
                const lg_body_t *b = &o->bodies[s->which];
                if (res == CURLE_OK && code == 200) {
                    r->ok++;
                    r->raw_bytes += b->raw_len;
                    r->gz_bytes += b->b.len - b->gz_off;
                    r->samples += b->samples;
                    r->values += b->values;
                    FX_GROW(r->lat_ms, lat_cap, r->ok);
                    r->lat_ms[r->ok - 1] = (double)(now - s->started) / 1e6;
                } else {
                    if (!r->failed)
                        snprintf(r->first_error, sizeof r->first_error, "HTTP %ld %s: %.200s", code,
                                 res == CURLE_OK ? "" : curl_easy_strerror(res),
                                 s->resp.len ? fx_buf_cstr(&s->resp) : "");
                    r->failed++;
                }
            }
            if (measuring && !all && (double)(now - mstart) / 1e9 >= o->duration_s && !mend) {
                mend = now;
                r->client_cpu = lg_self_cpu() - ccpu0;
                r->server_cpu = lg_proc_cpu(o->server) - scpu0;
                r->other_cpu = lg_machine_busy() - mcpu0 - r->client_cpu - r->server_cpu;
                total = 0; /* start nothing new; let the requests in flight finish */
            }
            if (next < total) {
                lg_slot_start(o, s, next++ % o->nbodies, m);
                running++;
            }
        }
        if (running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    if (!mend) {
        mend = fx_mono_ns();
        r->client_cpu = lg_self_cpu() - ccpu0;
        r->server_cpu = lg_proc_cpu(o->server) - scpu0;
        r->other_cpu = lg_machine_busy() - mcpu0 - r->client_cpu - r->server_cpu;
    }
    if (r->other_cpu < 0)
        r->other_cpu = 0;
    r->secs = (double)(mend - mstart) / 1e9;
    for (int i = 0; i < o->conc; i++) {
        curl_easy_cleanup(slots[i].c);
        fx_buf_free(&slots[i].body);
        fx_buf_free(&slots[i].resp);
    }
    free(slots);
    curl_slist_free_all(hdr);
    curl_multi_cleanup(m);
}

#endif
