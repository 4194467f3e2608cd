/*
 * bench_ingest.c - issue 2's ingest benchmark: sustained pushes of real Go
 * profiles into a fresh `fornax -target=all` on loopback, through both push
 * APIs agents use (/ingest?format=pprof with a gzipped body, and the Connect
 * Push API), with the parse floor (gunzip + protobuf decode alone, on the
 * same bytes) measured in the same run, then bytes on disk per sample.
 * Prints figures and ratios; asserts nothing.
 *
 *   build/bench/bench_ingest [options] [PROFILE_DIR] [-- fornax flags...]
 *     -fornax PATH  fornax binary (default $FORNAX_BIN/fornax, else build/bin/fornax)
 *     -d SECONDS    measured seconds per phase (default 10)
 *     -w SECONDS    warm-up per phase (default 2)
 *     -c N          connections, one request in flight each (default 16)
 *     -variants N   distinct resampled profiles per kind (default 16)
 *     -series N     services the pushes are spread over (default 8)
 *     -floor S      seconds per parse-floor measurement (default 1)
 *     -phases LIST  comma list of ingest-cpu,ingest-heap,connect-cpu,connect-heap (default all)
 *     -n N          instead of -d/-w: exactly N pushes per phase, all measured
 *     -url URL      push to a running fornax instead of starting one (no storage figures;
 *                   -pid PID gives its CPU time)
 *
 * PROFILE_DIR (default bench/data/ingest) holds go-cpu-*.pb.gz (15 s Go CPU
 * profiles, ~2k locations: bench/gen/gen-cpu-profiles.go) and go-heap-*.pb.gz
 * (~10k samples: bench/gen/gen-heap-profiles.go). Every push is a Poisson
 * resample of one of them with its own timestamp (loadgen.h).
 */
#include <pthread.h>

#include "google/v1/profile.pb-c.h"
#include "loadgen.h"

enum { CPU, HEAP, NKINDS };
static const char *const kind_names[NKINDS] = {"cpu", "heap"};
static const char *const kind_series[NKINDS] = {"process_cpu", "memory"};
static const char *const kind_prefix[NKINDS] = {"go-cpu-", "go-heap-"};

typedef struct kind {
    lg_source_t *src;
    size_t nsrc;
    lg_body_t *bodies[2]; /* per API, nvariants each */
    double floor_ours, floor_pbc, floor_gunzip; /* raw MB/s on one core */
    double floor_ours_pps;
} kind_t;

static kind_t kinds[NKINDS];
static size_t nvariants = 16, nseries = 8;

/* --- parse floor --------------------------------------------------------------------- */

/* Raw MB/s of gunzip (+ decode with our decoder, or protobuf-c's generated
 * unpack) over the kind's bodies on this thread: rounds over all bodies for
 * at least secs, the fastest round counts (a floor is what the code can do;
 * another process taking the core for a moment only slows some rounds). */
static double floor_run(const kind_t *k, int decoder, double secs, double *pps)
{
    fx_buf_t plain = FX_BUF_INIT;
    double best = 0;
    int64_t start = fx_mono_ns();
    do {
        uint64_t bytes = 0;
        int64_t t0 = fx_mono_ns();
        for (size_t i = 0; i < nvariants; i++) {
            const lg_body_t *b = &k->bodies[LG_API_INGEST][i];
            fx_err_t err = {0};
            plain.len = 0;
            FX_ASSERT(fx_gunzip(b->b.data + b->gz_off, b->b.len - b->gz_off, 64 << 20, &plain,
                                &err) == FX_OK);
            if (decoder == 1) {
                fx_arena_t a;
                fx_pprof_t p;
                fx_arena_init(&a);
                FX_ASSERT(fx_pprof_decode(plain.data, plain.len, &a, &p, &err) == FX_OK);
                fx_pprof_free(&p);
                fx_arena_free(&a);
            } else if (decoder == 2) {
                Google__V1__Profile *p = google__v1__profile__unpack(NULL, plain.len, plain.data);
                FX_ASSERT(p);
                google__v1__profile__free_unpacked(p, NULL);
            }
            bytes += plain.len;
        }
        double secs_round = (double)(fx_mono_ns() - t0) / 1e9;
        double rate = (double)bytes / 1e6 / secs_round;
        if (rate > best) {
            best = rate;
            if (pps)
                *pps = (double)nvariants / secs_round;
        }
    } while ((double)(fx_mono_ns() - start) / 1e9 < secs);
    fx_buf_free(&plain);
    return best;
}

/* --- main ---------------------------------------------------------------------------- */

static int phase_on(const char *list, const char *name)
{
    if (!list)
        return 1;
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p += n)
        if ((p == list || p[-1] == ',') && (p[n] == ',' || !p[n]))
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = "bench/data/ingest", *phases = NULL;
    char fornax[512];
    double dur = 10, warm = 2, floor_s = 1;
    int conc = 16;
    size_t count = 0;
    const char *url = NULL;
    pid_t pid = 0;
    const char *extra[40] = {"-distributor.ingestion-rate-limit-mb=100000",
                             "-distributor.ingestion-burst-size-mb=100000"};
    size_t nextra = 2;

    snprintf(fornax, sizeof fornax, "%s/fornax",
             getenv("FORNAX_BIN") ? getenv("FORNAX_BIN") : "build/bin");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--")) {
            for (i++; i < argc && nextra < FX_ARRAY_LEN(extra) - 1; i++)
                extra[nextra++] = argv[i];
            break;
        }
        if (a[0] != '-') {
            dir = a;
            continue;
        }
        if (!v) {
            fprintf(stderr, "bench_ingest: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "-fornax")) snprintf(fornax, sizeof fornax, "%s", v);
        else if (!strcmp(a, "-d")) dur = atof(v);
        else if (!strcmp(a, "-w")) warm = atof(v);
        else if (!strcmp(a, "-c")) conc = atoi(v);
        else if (!strcmp(a, "-variants")) nvariants = (size_t)atoi(v);
        else if (!strcmp(a, "-series")) nseries = (size_t)atoi(v);
        else if (!strcmp(a, "-floor")) floor_s = atof(v);
        else if (!strcmp(a, "-phases")) phases = v;
        else if (!strcmp(a, "-n")) count = (size_t)atoll(v);
        else if (!strcmp(a, "-url")) url = v;
        else if (!strcmp(a, "-pid")) pid = (pid_t)atoi(v);
        else {
            fprintf(stderr,
                    "bench_ingest: unknown option %s (see the comment at the top of "
                    "bench/bench_ingest.c)\n",
                    a);
            return 2;
        }
    }
    if (conc < 1 || nvariants < 1 || nseries < 1)
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    fx_log_set_level(FX_LOG_WARN);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    /* Inputs. */
    printf("bench_ingest: %ld CPUs online; inputs from %s\n", ncpu, dir);
    for (int k = 0; k < NKINDS; k++) {
        kind_t *K = &kinds[k];
        char **files = lg_list(dir, kind_prefix[k], &K->nsrc);
        if (!K->nsrc) {
            fprintf(stderr, "bench_ingest: no %s*.pb.gz in %s\n", kind_prefix[k], dir);
            return 1;
        }
        K->src = fx_calloc(K->nsrc, sizeof *K->src);
        double raw = 0, gz = 0, smp = 0, loc = 0;
        for (size_t i = 0; i < K->nsrc; i++) {
            lg_source_load(files[i], &K->src[i]);
            raw += (double)K->src[i].plain.len, gz += (double)K->src[i].gz_len;
            smp += (double)K->src[i].samples, loc += (double)K->src[i].locations;
            free(files[i]);
        }
        free(files);
        double n = (double)K->nsrc;
        printf("  %-4s %zu real Go profiles, avg %.0f KB raw / %.0f KB gzip, %.0f samples, %.0f "
               "locations, "
               "%zu sample types\n",
               kind_names[k], K->nsrc, raw / n / 1e3, gz / n / 1e3, smp / n, loc / n,
               K->src[0].ntypes);
        int64_t now = fx_now_ns();
        for (int api = 0; api < 2; api++)
            K->bodies[api] = fx_calloc(nvariants, sizeof(lg_body_t));
        for (size_t v = 0; v < nvariants; v++) {
            fx_buf_t pp = FX_BUF_INIT;
            size_t samples;
            char svc[64];
            lg_resample(&K->src[v % K->nsrc], &pp, &samples);
            snprintf(svc, sizeof svc, "bench-%s-%zu", kind_names[k], v % nseries);
            for (int api = 0; api < 2; api++)
                lg_body_make(&K->bodies[api][v], api, pp.data, pp.len, samples, K->src[0].ntypes,
                             kind_series[k], svc, now);
            fx_buf_free(&pp);
        }
    }

    /* Parse floor: the same bytes, one thread, nothing else running. */
    printf(
        "\nparse floor (one core, fastest round over the %zu bodies; gunzip with libdeflate as the "
        "distributor does, then decode):\n",
        nvariants);
    printf("  %-4s %14s %22s %28s\n", "kind", "gunzip alone", "gunzip + libcommon/pprof",
           "gunzip + protobuf-c unpack");
    for (int k = 0; k < NKINDS; k++) {
        kind_t *K = &kinds[k];
        K->floor_gunzip = floor_run(K, 0, floor_s, NULL);
        K->floor_ours = floor_run(K, 1, floor_s, &K->floor_ours_pps);
        K->floor_pbc = floor_run(K, 2, floor_s, NULL);
        printf("  %-4s %9.0f MB/s %12.0f MB/s (%5.0f/s) %18.0f MB/s\n", kind_names[k],
               K->floor_gunzip, K->floor_ours, K->floor_ours_pps, K->floor_pbc);
    }

    /* The server. */
    lg_server_t srv;
    extra[nextra] = NULL;
    if (url) {
        memset(&srv, 0, sizeof srv);
        snprintf(srv.url, sizeof srv.url, "%s", url);
        printf("\nfornax at %s (pid %d)", url, (int)pid);
    } else {
        lg_server_start(&srv, fornax, extra);
        pid = srv.pid;
        printf("\nfornax -target=all (pid %d, data %s/data) flags:", (int)srv.pid, srv.dir);
        for (size_t i = 0; i < nextra; i++)
            printf(" %s", extra[i]);
    }
    printf("\nload: %d connections, %.0f s warm-up + %.0f s measured per phase, %zu variants x %zu "
           "services per kind; client = this process (libcurl multi, one thread)\n",
           conc, warm, dur, nvariants, nseries);
    printf("%-8s %-4s %8s %9s %8s %13s %7s %7s %7s %8s %8s %8s %7s %6s\n", "api", "kind", "prof/s",
           "raw MB/s", "gz MB/s", "raw MB/s/core", "floor x", "p50 ms", "p99 ms", "srv CPU",
           "cli CPU", "oth CPU", "MB/srvs", "errors");
    uint64_t samples = 0, values = 0;
    for (int api = 0; api < 2; api++)
        for (int k = 0; k < NKINDS; k++) {
            char pname[32];
            snprintf(pname, sizeof pname, "%s-%s", api == LG_API_INGEST ? "ingest" : "connect",
                     kind_names[k]);
            if (!phase_on(phases, pname))
                continue;
            kind_t *K = &kinds[k];
            lg_run_opts_t o = {srv.url, api, K->bodies[api], nvariants, conc, warm,
                               dur,     0,   count,          pid};
            lg_run_result_t r;
            lg_run(&o, &r);
            samples += r.samples, values += r.values;
            double raw = (double)r.raw_bytes / 1e6 / r.secs, gz = (double)r.gz_bytes / 1e6 / r.secs;
            double per_core = raw / (double)ncpu;
            double p50 = lg_quantile(r.lat_ms, r.ok, 0.5), p99 = lg_quantile(r.lat_ms, r.ok, 0.99);
            printf("%-8s %-4s %8.0f %9.1f %8.1f %13.1f %7.1f %7.1f %7.1f %7.0f%% %7.0f%% %7.0f%% "
                   "%7.0f "
                   "%6zu\n",
                   api == LG_API_INGEST ? "/ingest" : "connect", kind_names[k],
                   (double)r.ok / r.secs, raw, gz, per_core,
                   per_core > 0 ? K->floor_ours / per_core : 0, p50, p99,
                   100 * r.server_cpu / r.secs, 100 * r.client_cpu / r.secs,
                   100 * r.other_cpu / r.secs,
                   r.server_cpu > 0 ? (double)r.raw_bytes / 1e6 / r.server_cpu : 0, r.failed);
            double srvs = r.server_cpu > 0 ? (double)r.raw_bytes / 1e6 / r.server_cpu : 0;
            printf("=> ingest_%s raw_mb_s_per_core=%.1f floor_x=%.2f (protobuf-c floor: %.2f; per "
                   "fornax CPU-second: %.2f) p50_ms=%.1f p99_ms=%.1f other_processes_cpu=%.0f%%\n",
                   pname, per_core, K->floor_ours / per_core, K->floor_pbc / per_core,
                   srvs > 0 ? K->floor_ours / srvs : 0, p50, p99, 100 * r.other_cpu / r.secs);
            if (r.failed)
                printf("   %zu failed pushes; first: %s\n", r.failed, r.first_error);
            free(r.lat_ms);
        }
    printf("columns: raw MB/s/core = uncompressed pprof MB/s divided by the %ld CPUs (client "
           "included);\n"
           "  floor x = one core's gunzip + libcommon/pprof decode rate / raw MB/s/core;\n"
           "  srv/cli/oth CPU = CPU time of fornax / this client / all other processes per wall "
           "second\n"
           "  (200%% = both cores; other processes compete for the same cores);\n"
           "  MB/srvs = raw MB per CPU-second fornax used\n",
           ncpu);

    if (!url) {
        lg_server_stop(&srv);
        char data[300];
        snprintf(data, sizeof data, "%s/data", srv.dir);
        if (samples)
            lg_report_disk(data, samples, values, "ingest");
        lg_server_cleanup(&srv);
    }
    for (int k = 0; k < NKINDS; k++) {
        for (size_t v = 0; v < nvariants; v++)
            for (int api = 0; api < 2; api++)
                lg_body_free(&kinds[k].bodies[api][v]);
        for (size_t i = 0; i < kinds[k].nsrc; i++)
            fx_buf_free(&kinds[k].src[i].plain);
        free(kinds[k].src);
        free(kinds[k].bodies[0]), free(kinds[k].bodies[1]);
    }
    curl_global_cleanup();
    return 0;
}
