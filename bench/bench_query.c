/*
 * bench_query.c - issue 2's query benchmark: one hour of 10 series at one
 * profile per 10 s (3,600 real-stack Go CPU profiles) pushed through the
 * Connect Push API into a fresh `fornax -target=all`, then
 * SelectMergeStacktraces over the hour (Connect, application/proto) and
 * SelectMergeProfile, p50/p99 over many runs; in the same run the baseline:
 * `go tool pprof -proto` merging the same 3,600 files. Then bytes on disk per
 * sample. Prints figures and ratios; asserts nothing (it does check that
 * both sides agree on the merged total, and says so).
 *
 *   build/bench/bench_query [options] [PROFILE_DIR] [-- fornax flags...]
 *     -fornax PATH     fornax binary (default $FORNAX_BIN/fornax, else build/bin/fornax)
 *     -runs N          timed runs of each query (default 30)
 *     -baseline N      timed runs of go tool pprof (default 1; 0 skips it)
 *     -series N        series (default 10)
 *     -per-series N    profiles per series, one per 10 s (default 360 = 1 h)
 *     -c N             push connections (default 4)
 *
 * PROFILE_DIR (default bench/data) holds the 20 real Go CPU profiles of
 * bench/gen/gen-cpu-profiles.go; profile (s, k) is a Poisson resample of
 * file (7s + k) mod 20 (loadgen.h), as in bench_head.
 */
#include "loadgen.h"
#include "querier/v1/querier.pb-c.h"

#define PROFILE_TYPE "process_cpu:cpu:nanoseconds:cpu:nanoseconds"

static size_t nseries = 10, per_series = 360;

/* POSTs a protobuf-c message to a Connect unary method; the reply body goes
 * to out. Returns the HTTP status (0: no answer). */
static long connect_call(CURL *c, const char *url, const ProtobufCMessage *msg, fx_buf_t *out)
{
    static struct curl_slist *hdr;
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *body = fx_malloc(n + 1);
    long code = 0;
    protobuf_c_message_pack(msg, body);
    if (!hdr) {
        hdr = curl_slist_append(hdr, "Content-Type: application/proto");
        hdr = curl_slist_append(hdr, "Connect-Protocol-Version: 1");
        hdr = curl_slist_append(hdr, "Expect:");
    }
    out->len = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, lg_discard);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    free(body);
    return code;
}

typedef struct query_result {
    double p50, p99, min, max;
    int64_t total;
    size_t bytes;
    char error[200];
} query_result_t;

/* Times `runs` calls (after one warm-up) of SelectMergeStacktraces
 * (profile = 0) or SelectMergeProfile (profile = 1) over [start, end] ms. */
static void time_query(const char *base, int profile, int64_t start, int64_t end, int runs,
                       query_result_t *r)
{
    CURL *c = curl_easy_init();
    fx_buf_t out = FX_BUF_INIT;
    double *lat = fx_calloc((size_t)runs + 1, sizeof *lat);
    char url[256];
    Querier__V1__SelectMergeStacktracesRequest st =
        QUERIER__V1__SELECT_MERGE_STACKTRACES_REQUEST__INIT;
    Querier__V1__SelectMergeProfileRequest pr = QUERIER__V1__SELECT_MERGE_PROFILE_REQUEST__INIT;
    st.profile_typeid = pr.profile_typeid = PROFILE_TYPE;
    st.label_selector = pr.label_selector = "{}";
    st.start = pr.start = start;
    st.end = pr.end = end;
    const ProtobufCMessage *msg = profile ? &pr.base : &st.base;
    snprintf(url, sizeof url, "%s/querier.v1.QuerierService/%s", base,
             profile ? "SelectMergeProfile" : "SelectMergeStacktraces");

    memset(r, 0, sizeof *r);
    for (int i = -1; i < runs; i++) {
        int64_t t0 = fx_mono_ns();
        long code = connect_call(c, url, msg, &out);
        if (i >= 0)
            lat[i] = (double)(fx_mono_ns() - t0) / 1e6;
        if (code != 200) {
            snprintf(r->error, sizeof r->error, "HTTP %ld: %.150s", code,
                     out.len ? fx_buf_cstr(&out) : "");
            break;
        }
    }
    if (!r->error[0]) {
        r->bytes = out.len;
        if (profile) {
            fx_arena_t a;
            fx_pprof_t p;
            fx_err_t err = {0};
            fx_arena_init(&a);
            if (fx_pprof_decode(out.data, out.len, &a, &p, &err) == FX_OK) {
                for (size_t i = 0; i < p.nsamples; i++)
                    r->total +=
                        p.samples[i].nvalues ? p.samples[i].values[p.samples[i].nvalues - 1] : 0;
                fx_pprof_free(&p);
            }
            fx_arena_free(&a);
        } else {
            Querier__V1__SelectMergeStacktracesResponse *m =
                querier__v1__select_merge_stacktraces_response__unpack(NULL, out.len, out.data);
            if (m && m->flamegraph)
                r->total = m->flamegraph->total;
            if (m)
                querier__v1__select_merge_stacktraces_response__free_unpacked(m, NULL);
        }
        r->min = lg_quantile(lat, (size_t)runs, 0);
        r->p50 = lg_quantile(lat, (size_t)runs, 0.5);
        r->p99 = lg_quantile(lat, (size_t)runs, 0.99);
        r->max = lg_quantile(lat, (size_t)runs, 1);
    }
    free(lat);
    fx_buf_free(&out);
    curl_easy_cleanup(c);
}

/* Runs `go tool pprof -proto FILES... > out`; wall seconds, CPU seconds of
 * the process tree in *cpu. Returns -1 if it failed. */
static double run_pprof(char **files, size_t n, const char *out, double *cpu)
{
    char **argv = fx_calloc(n + 5, sizeof *argv);
    argv[0] = "go", argv[1] = "tool", argv[2] = "pprof", argv[3] = "-proto";
    memcpy(argv + 4, files, n * sizeof *files);
    int64_t t0 = fx_mono_ns();
    pid_t pid = fork();
    FX_ASSERT(pid >= 0);
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int nul = open("/dev/null", O_WRONLY);
        if (fd < 0 || nul < 0)
            _exit(127);
        dup2(fd, 1);
        dup2(nul, 2);
        execvp("go", argv);
        _exit(127);
    }
    int st;
    struct rusage ru;
    FX_ASSERT(wait4(pid, &st, 0, &ru) == pid);
    double wall = (double)(fx_mono_ns() - t0) / 1e9;
    *cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    free(argv);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? wall : -1;
}

/* The cpu total (last sample type) of a gzipped pprof file; -1 if unreadable. */
static int64_t file_total(const char *path)
{
    fx_buf_t gz = FX_BUF_INIT, plain = FX_BUF_INIT;
    fx_arena_t a;
    fx_pprof_t p;
    fx_err_t err = {0};
    int64_t total = -1;
    fx_arena_init(&a);
    if (fx_read_file(path, &gz) == 0 &&
        fx_pprof_decode_maybe_gzip(gz.data, gz.len, 1u << 30, &plain, &a, &p, &err) == FX_OK) {
        total = 0;
        for (size_t i = 0; i < p.nsamples; i++)
            total += p.samples[i].nvalues ? p.samples[i].values[p.samples[i].nvalues - 1] : 0;
        fx_pprof_free(&p);
    }
    fx_arena_free(&a);
    fx_buf_free(&gz);
    fx_buf_free(&plain);
    return total;
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    FX_ASSERT(f && fwrite(data, 1, n, f) == n);
    fclose(f);
}

int main(int argc, char **argv)
{
    const char *dir = "bench/data";
    char fornax[512];
    int runs = 30, baseline = 1, conc = 4;
    const char *extra[40] = {"-distributor.ingestion-rate-limit-mb=100000",
                             "-distributor.ingestion-burst-size-mb=100000",
                             /* the hour lies in the past: accept and query it */
                             "-validation.reject-older-than=0", "-querier.max-query-lookback=0"};
    size_t nextra = 4;

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
            fprintf(stderr, "bench_query: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "-fornax")) snprintf(fornax, sizeof fornax, "%s", v);
        else if (!strcmp(a, "-runs")) runs = atoi(v);
        else if (!strcmp(a, "-baseline")) baseline = atoi(v);
        else if (!strcmp(a, "-series")) nseries = (size_t)atoi(v);
        else if (!strcmp(a, "-per-series")) per_series = (size_t)atoi(v);
        else if (!strcmp(a, "-c")) conc = atoi(v);
        else {
            fprintf(stderr, "bench_query: unknown option %s (see the top of bench/bench_query.c)\n",
                    a);
            return 2;
        }
    }
    if (runs < 1 || nseries < 1 || per_series < 1 || conc < 1)
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    fx_log_set_level(FX_LOG_WARN);

    /* Inputs: resampled profiles, each also written as a file for pprof. */
    size_t nsrc;
    char **files = lg_list(dir, "go-cpu-", &nsrc);
    if (!nsrc) {
        fprintf(stderr, "bench_query: no go-cpu-*.pb.gz in %s\n", dir);
        return 1;
    }
    lg_source_t *src = fx_calloc(nsrc, sizeof *src);
    for (size_t i = 0; i < nsrc; i++) {
        lg_source_load(files[i], &src[i]);
        free(files[i]);
    }
    free(files);
    size_t n = nseries * per_series;
    lg_body_t *bodies = fx_calloc(n, sizeof *bodies);
    char **paths = fx_calloc(n, sizeof *paths);
    const int64_t step = 10 * 1000000000LL;
    int64_t t0 =
        (fx_now_ns() / step - (int64_t)per_series - 6) * step; /* an hour ending a minute ago */
    uint64_t samples = 0, raw = 0, gz = 0;
    int64_t expect = 0;

    lg_server_t srv;
    extra[nextra] = NULL;
    lg_server_start(&srv, fornax, extra);
    char pdir[300];
    snprintf(pdir, sizeof pdir, "%s/profiles", srv.dir);
    FX_ASSERT(mkdir(pdir, 0755) == 0);
    int64_t gen0 = fx_mono_ns();
    for (size_t k = 0; k < per_series; k++)
        for (size_t s = 0; s < nseries; s++) {
            size_t i = k * nseries + s;
            fx_buf_t pp = FX_BUF_INIT;
            size_t ns;
            char svc[32];
            const lg_source_t *b = &src[(s * 7 + k) % nsrc];
            lg_resample(b, &pp, &ns);
            snprintf(svc, sizeof svc, "bench-svc-%zu", s);
            lg_body_make(&bodies[i], LG_API_CONNECT, pp.data, pp.len, ns, b->ntypes, "process_cpu",
                         svc, t0 + (int64_t)k * step);
            paths[i] = fx_malloc(strlen(pdir) + 40);
            sprintf(paths[i], "%s/s%02zu-k%03zu.pb.gz", pdir, s, k);
            write_file(paths[i], bodies[i].b.data + bodies[i].gz_off,
                       bodies[i].b.len - bodies[i].gz_off);
            samples += ns, raw += bodies[i].raw_len, gz += bodies[i].b.len - bodies[i].gz_off;
            expect += file_total(paths[i]);
            fx_buf_free(&pp);
        }
    printf("bench_query: %zu series x %zu profiles at 10 s = %zu real-stack Go CPU profiles "
           "(resampled from %zu files in %s; %.1f s to make)\n", nseries, per_series, n, nsrc, dir,
           (double)(fx_mono_ns() - gen0) / 1e9);
    printf("  avg %.0f samples, %.0f KB raw, %.0f KB gzip per profile; cpu total %.3f s\n",
           (double)samples / (double)n, (double)raw / (double)n / 1e3, (double)gz / (double)n / 1e3,
           (double)expect / 1e9);

    /* Push them (Connect Push API, each profile once, with its own time). */
    lg_run_opts_t o = {srv.url, LG_API_CONNECT, bodies, n, conc, 0, 0, 1, 0, srv.pid};
    lg_run_result_t pr;
    lg_run(&o, &pr);
    printf("push: %zu profiles in %.2f s over %d connections (%.0f profiles/s), %zu failed%s%s\n",
           pr.ok, pr.secs, conc, (double)pr.ok / pr.secs, pr.failed, pr.failed ? "; first: " : "",
           pr.first_error);
    free(pr.lat_ms);

    /* Queries over the hour. */
    int64_t start_ms = t0 / 1000000, end_ms = (t0 + (int64_t)per_series * step) / 1000000;
    query_result_t qs, qp;
    time_query(srv.url, 0, start_ms, end_ms, runs, &qs);
    time_query(srv.url, 1, start_ms, end_ms, runs, &qp);
    printf("\nqueries over the hour (%d runs each after one warm-up, one connection, Connect "
           "application/proto):\n", runs);
    printf("  %-24s %8s %8s %8s %8s %10s %s\n", "method", "p50 ms", "p99 ms", "min ms", "max ms",
           "reply KB", "total");
    const query_result_t *qr[2] = {&qs, &qp};
    const char *qn[2] = {"SelectMergeStacktraces", "SelectMergeProfile"};
    for (int i = 0; i < 2; i++) {
        if (qr[i]->error[0]) {
            printf("  %-24s failed: %s\n", qn[i], qr[i]->error);
            continue;
        }
        printf("  %-24s %8.1f %8.1f %8.1f %8.1f %10.1f %s\n", qn[i], qr[i]->p50, qr[i]->p99,
               qr[i]->min, qr[i]->max, (double)qr[i]->bytes / 1e3,
               qr[i]->total == expect ? "= pushed total" : "DIFFERS from the pushed total");
    }

    /* The baseline: go tool pprof merging the same files. */
    double best = 0, best_cpu = 0;
    if (baseline > 0) {
        char out[320];
        snprintf(out, sizeof out, "%s/merged.pb.gz", srv.dir);
        for (int i = 0; i < baseline; i++) {
            double cpu, wall = run_pprof(paths, n, out, &cpu);
            if (wall < 0) {
                printf("\nbaseline: `go tool pprof -proto` failed (is golang-go installed?)\n");
                best = 0;
                break;
            }
            if (!best || wall < best)
                best = wall, best_cpu = cpu;
        }
        if (best > 0) {
            int64_t total = file_total(out);
            printf("\nbaseline: go tool pprof -proto <%zu files> > merged.pb.gz: %.2f s wall, %.2f "
                   "s CPU "
                   "(best of %d; merged cpu total %.3f s, %+.4f%% of the pushed total)\n",
                   n, best, best_cpu, baseline, (double)total / 1e9,
                   100.0 * (double)(total - expect) / (double)expect);
            if (!qs.error[0])
                printf("  SelectMergeStacktraces p50 is %.0fx faster than the baseline\n",
                       best * 1e3 / qs.p50);
            if (!qp.error[0])
                printf("  SelectMergeProfile p50 is %.0fx faster than the baseline\n",
                       best * 1e3 / qp.p50);
        }
    }
    if (!qs.error[0])
        printf("=> query select_merge_stacktraces_p50_ms=%.1f p99_ms=%.1f baseline_s=%.2f "
               "speedup=%.0f\n",
               qs.p50, qs.p99, best, best > 0 ? best * 1e3 / qs.p50 : 0);

    lg_server_stop(&srv);
    char data[300];
    snprintf(data, sizeof data, "%s/data", srv.dir);
    if (pr.ok)
        lg_report_disk(data, samples * pr.ok / n, 2 * samples * pr.ok / n, "query_data");
    lg_server_cleanup(&srv);
    for (size_t i = 0; i < n; i++) {
        lg_body_free(&bodies[i]);
        free(paths[i]);
    }
    free(bodies), free(paths);
    for (size_t i = 0; i < nsrc; i++)
        fx_buf_free(&src[i].plain);
    free(src);
    curl_global_cleanup();
    return 0;
}
