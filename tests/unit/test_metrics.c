/* test_metrics.c - unit tests for the Prometheus metrics registry (libcommon/metrics). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "metrics/metrics.h"

static const char *scrape(fx_registry_t *r, fx_buf_t *b)
{
    b->len = 0;
    fx_metrics_write(r, b);
    return fx_buf_cstr(b);
}

static int neg_fn(void *ctx, double *v)
{
    (void)ctx;
    (void)v;
    return -1; /* not available: left out */
}

static int answer_fn(void *ctx, double *v)
{
    *v = *(double *)ctx;
    return 0;
}

static void test_exposition_golden(void **state)
{
    (void)state;
    fx_registry_t *r = fx_registry_new();
    fx_buf_t b = FX_BUF_INIT;
    static double answer = 42;

    /* registered out of order: output is sorted by name */
    fx_histogram_t *h = fx_histogram(r, "fornax_test_duration_seconds", "Request duration.",
                                     (const double[]){0.1, 1, 10}, 3);
    fx_counter_t *c = fx_counter(r, "fornax_test_requests_total", "Requests.\nAll of them, C:\\.");
    fx_counter_vec_t *cv = fx_counter_vec(r, "fornax_test_http_requests_total",
                                          "HTTP requests by route and code.", "route,code");
    fx_gauge_t *g = fx_gauge(r, "fornax_test_queue_length", "Queue length.");
    fx_gauge_vec(r, "fornax_test_unused", "A vector with no series yet.", "x");
    fx_gauge_func(r, "fornax_test_answer", "Computed at scrape time.", answer_fn, &answer);
    fx_gauge_func(r, "fornax_test_missing", "Not available.", neg_fn, NULL);
    fx_histogram_vec_t *hv = fx_histogram_vec(r, "fornax_test_bytes", "Sizes.",
                                              (const double[]){1024, 1048576}, 2, "tenant");
    fx_gauge_t *big = fx_gauge(r, "fornax_test_big", "Large and small values.");

    fx_counter_inc(c);
    fx_counter_add_u64(c, 2);
    fx_counter_add(c, 0.5);
    fx_counter_inc(fx_counter_vec_get(cv, "push", "200"));
    fx_counter_inc(fx_counter_vec_get(cv, "push", "200"));
    fx_counter_inc(fx_counter_vec_get(cv, "ingest", "500"));
    fx_counter_inc(fx_counter_vec_get(cv, "a\"b\\c\nd", "200"));
    fx_gauge_set(g, -2.5);
    fx_histogram_observe(h, 0.25);
    fx_histogram_observe(h, 1); /* a bound belongs to its bucket (le) */
    fx_histogram_observe(h, 0.5);
    fx_histogram_observe(h, 20);
    fx_histogram_observe(fx_histogram_vec_get(hv, "t2"), 2048);
    fx_histogram_observe(fx_histogram_vec_get(hv, "t1"), 10);
    fx_gauge_set(big, 1.5e6);

    const char *want =
        "# HELP fornax_test_answer Computed at scrape time.\n"
        "# TYPE fornax_test_answer gauge\n"
        "fornax_test_answer 42\n"
        "# HELP fornax_test_big Large and small values.\n"
        "# TYPE fornax_test_big gauge\n"
        "fornax_test_big 1.5e+06\n"
        "# HELP fornax_test_bytes Sizes.\n"
        "# TYPE fornax_test_bytes histogram\n"
        "fornax_test_bytes_bucket{tenant=\"t1\",le=\"1024\"} 1\n"
        "fornax_test_bytes_bucket{tenant=\"t1\",le=\"1.048576e+06\"} 1\n"
        "fornax_test_bytes_bucket{tenant=\"t1\",le=\"+Inf\"} 1\n"
        "fornax_test_bytes_sum{tenant=\"t1\"} 10\n"
        "fornax_test_bytes_count{tenant=\"t1\"} 1\n"
        "fornax_test_bytes_bucket{tenant=\"t2\",le=\"1024\"} 0\n"
        "fornax_test_bytes_bucket{tenant=\"t2\",le=\"1.048576e+06\"} 1\n"
        "fornax_test_bytes_bucket{tenant=\"t2\",le=\"+Inf\"} 1\n"
        "fornax_test_bytes_sum{tenant=\"t2\"} 2048\n"
        "fornax_test_bytes_count{tenant=\"t2\"} 1\n"
        "# HELP fornax_test_duration_seconds Request duration.\n"
        "# TYPE fornax_test_duration_seconds histogram\n"
        "fornax_test_duration_seconds_bucket{le=\"0.1\"} 0\n"
        "fornax_test_duration_seconds_bucket{le=\"1\"} 3\n"
        "fornax_test_duration_seconds_bucket{le=\"10\"} 3\n"
        "fornax_test_duration_seconds_bucket{le=\"+Inf\"} 4\n"
        "fornax_test_duration_seconds_sum 21.75\n"
        "fornax_test_duration_seconds_count 4\n"
        "# HELP fornax_test_http_requests_total HTTP requests by route and code.\n"
        "# TYPE fornax_test_http_requests_total counter\n"
        "fornax_test_http_requests_total{route=\"a\\\"b\\\\c\\nd\",code=\"200\"} 1\n"
        "fornax_test_http_requests_total{route=\"ingest\",code=\"500\"} 1\n"
        "fornax_test_http_requests_total{route=\"push\",code=\"200\"} 2\n"
        "# HELP fornax_test_queue_length Queue length.\n"
        "# TYPE fornax_test_queue_length gauge\n"
        "fornax_test_queue_length -2.5\n"
        "# HELP fornax_test_requests_total Requests.\\nAll of them, C:\\\\.\n"
        "# TYPE fornax_test_requests_total counter\n"
        "fornax_test_requests_total 3.5\n";
    assert_string_equal(scrape(r, &b), want);
    /* stable: a second scrape gives the same bytes */
    assert_string_equal(scrape(r, &b), want);

    fx_buf_free(&b);
    fx_registry_free(r);
}

static void test_number_format(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *want; /* Go's strconv.FormatFloat(v, 'g', -1, 64) */
    } cases[] = {
        {0, "0"},        {-0.0, "0"},         {1, "1"},           {-1, "-1"},
        {0.1, "0.1"},    {123456, "123456"},  {1e6, "1e+06"},     {1234567, "1.234567e+06"},
        {0.0001, "0.0001"}, {0.00001, "1e-05"}, {1.5e-100, "1.5e-100"}, {1e21, "1e+21"},
        {1.7e308, "1.7e+308"}, {NAN, "NaN"},  {INFINITY, "+Inf"}, {-INFINITY, "-Inf"},
        {1700000000.5, "1.7000000005e+09"},   {2.0 / 3, "0.6666666666666666"},
    };
    fx_registry_t *r = fx_registry_new();
    fx_gauge_t *g = fx_gauge(r, "g", "");
    fx_buf_t b = FX_BUF_INIT;
    char want[128];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fx_gauge_set(g, cases[i].v);
        snprintf(want, sizeof want, "# HELP g \n# TYPE g gauge\ng %s\n", cases[i].want);
        assert_string_equal(scrape(r, &b), want);
    }
    fx_buf_free(&b);
    fx_registry_free(r);
}

static void test_label_values(void **state)
{
    (void)state;
    fx_registry_t *r = fx_registry_new();
    fx_buf_t b = FX_BUF_INIT;
    fx_counter_vec_t *v = fx_counter_vec(r, "c_total", "h", "tenant");

    /* same values, same series; the values are copied */
    char name[8] = "acme";
    fx_counter_t *a = fx_counter_vec_get(v, name);
    strcpy(name, "zzz");
    assert_ptr_equal(fx_counter_vec_get(v, "acme"), a);
    assert_ptr_equal(fx_counter_vec_getv(v, (const char *const[]){"acme"}), a);
    assert_ptr_not_equal(fx_counter_vec_get(v, "zzz"), a);

    /* invalid UTF-8 becomes U+FFFD, and maps to one series */
    fx_counter_t *bad = fx_counter_vec_get(v, "x\xff");
    assert_ptr_equal(fx_counter_vec_get(v, "x\xff"), bad);
    fx_counter_inc(bad);
    fx_counter_inc(fx_counter_vec_get(v, ""));
    assert_string_equal(scrape(r, &b), "# HELP c_total h\n# TYPE c_total counter\n"
                                        "c_total{tenant=\"\"} 1\n"
                                        "c_total{tenant=\"acme\"} 0\n"
                                        "c_total{tenant=\"x\xef\xbf\xbd\"} 1\n"
                                        "c_total{tenant=\"zzz\"} 0\n");

    /* registering again with the same definition returns the same metric */
    assert_ptr_equal(fx_counter_vec(r, "c_total", "h", "tenant"), v);
    assert_ptr_equal(fx_counter(r, "solo_total", "h"), fx_counter(r, "solo_total", "h"));
    fx_buf_free(&b);
    fx_registry_free(r);
}

static void test_histogram_buckets(void **state)
{
    (void)state;
    fx_registry_t *r = fx_registry_new();
    fx_buf_t b = FX_BUF_INIT;

    double exp[4];
    fx_metrics_exp_buckets(0.001, 10, 4, exp);
    assert_true(exp[0] == 0.001 && exp[3] == 0.001 * 10 * 10 * 10);

    fx_histogram_t *h = fx_histogram(r, "h_seconds", "", exp, 4);
    const double obs[] = {0, 0.001, 0.0010001, 0.05, 1, 1.5, -3, NAN};
    for (size_t i = 0; i < sizeof obs / sizeof obs[0]; i++)
        fx_histogram_observe(h, obs[i]);
    assert_string_equal(scrape(r, &b), "# HELP h_seconds \n# TYPE h_seconds histogram\n"
                                        "h_seconds_bucket{le=\"0.001\"} 3\n"
                                        "h_seconds_bucket{le=\"0.01\"} 4\n"
                                        "h_seconds_bucket{le=\"0.1\"} 5\n"
                                        "h_seconds_bucket{le=\"1\"} 6\n"
                                        "h_seconds_bucket{le=\"+Inf\"} 8\n"
                                        "h_seconds_sum NaN\n"
                                        "h_seconds_count 8\n");

    /* default buckets */
    fx_histogram_t *d = fx_histogram(r, "d_seconds", "", NULL, 0);
    fx_histogram_observe(d, 0.3);
    scrape(r, &b);
    assert_non_null(strstr((char *)b.data, "d_seconds_bucket{le=\"0.005\"} 0\n"));
    assert_non_null(strstr((char *)b.data, "d_seconds_bucket{le=\"0.25\"} 0\n"));
    assert_non_null(strstr((char *)b.data, "d_seconds_bucket{le=\"0.5\"} 1\n"));
    assert_non_null(strstr((char *)b.data, "d_seconds_bucket{le=\"10\"} 1\n"));
    assert_non_null(strstr((char *)b.data, "d_seconds_sum 0.3\nd_seconds_count 1\n"));
    fx_buf_free(&b);
    fx_registry_free(r);
}

/* --- concurrency -------------------------------------------------------------------- */

#define THREADS 8
#define ITERS 100000

typedef struct shared {
    fx_counter_t *c;
    fx_counter_vec_t *cv;
    fx_gauge_t *g;
    fx_histogram_t *h;
    fx_registry_t *r;
} shared_t;

static void *worker(void *arg)
{
    shared_t *s = arg;
    char name[32];
    for (int i = 0; i < ITERS; i++) {
        fx_counter_inc(s->c);
        fx_counter_add(s->c, 0.5);
        /* lookups race with creations of other series */
        fx_counter_inc(fx_counter_vec_get(s->cv, "shared"));
        snprintf(name, sizeof name, "s%d", i % 64);
        fx_counter_inc(fx_counter_vec_get(s->cv, name));
        fx_gauge_add(s->g, (i & 1) ? 2 : -1);
        fx_histogram_observe(s->h, (double)(i % 4));
    }
    /* registration from many threads returns one metric */
    assert_ptr_equal(fx_counter_vec(s->r, "conc_vec_total", "v", "k"), s->cv);
    return NULL;
}

static void test_concurrency(void **state)
{
    (void)state;
    shared_t s;
    s.r = fx_registry_new();
    s.c = fx_counter(s.r, "conc_total", "c");
    s.cv = fx_counter_vec(s.r, "conc_vec_total", "v", "k");
    s.g = fx_gauge(s.r, "conc_gauge", "g");
    s.h = fx_histogram(s.r, "conc_hist", "h", (const double[]){0, 1, 2}, 3);

    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, &s), 0);
    /* scrapes run concurrently with the updates */
    fx_buf_t b = FX_BUF_INIT;
    for (int i = 0; i < 20; i++)
        scrape(s.r, &b);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);

    const double n = (double)THREADS * ITERS;
    assert_true(fx_counter_value(s.c) == n * 1.5);
    assert_true(fx_counter_value(fx_counter_vec_get(s.cv, "shared")) == n);
    double per = 0;
    for (int i = 0; i < 64; i++) {
        char name[8];
        snprintf(name, sizeof name, "s%d", i);
        per += fx_counter_value(fx_counter_vec_get(s.cv, name));
    }
    assert_true(per == n);
    assert_true(fx_gauge_value(s.g) == n / 2);
    scrape(s.r, &b);
    char want[128];
    snprintf(want, sizeof want, "conc_hist_bucket{le=\"+Inf\"} %d\n", THREADS * ITERS);
    assert_non_null(strstr((char *)b.data, want));
    snprintf(want, sizeof want, "conc_hist_bucket{le=\"0\"} %d\n", THREADS * ITERS / 4);
    assert_non_null(strstr((char *)b.data, want));
    /* 1.2e6, written the Go client's way */
    assert_non_null(strstr((char *)b.data, "conc_hist_sum 1.2e+06\n"));
    fx_buf_free(&b);
    fx_registry_free(s.r);
}

/* --- misuse aborts ------------------------------------------------------------------ */

static void expect_abort(void (*fn)(void))
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* keep the expected assertion message out of the test output */
        if (!freopen("/dev/null", "w", stderr))
            _exit(3);
        /* cmocka catches SIGABRT to report a failed test; we want the death */
        signal(SIGABRT, SIG_DFL);
        fn();
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
}

static void conflicting_type(void)
{
    fx_registry_t *r = fx_registry_new();
    fx_counter(r, "x_total", "h");
    fx_gauge(r, "x_total", "h");
}

static void conflicting_labels(void)
{
    fx_registry_t *r = fx_registry_new();
    fx_counter_vec(r, "x_total", "h", "a");
    fx_counter_vec(r, "x_total", "h", "a,b");
}

static void bad_metric_name(void)
{
    fx_counter(fx_registry_new(), "9lives", "h");
}

static void bad_label_name(void)
{
    fx_counter_vec(fx_registry_new(), "x_total", "h", "__name__");
}

static void le_label_on_histogram(void)
{
    fx_histogram_vec(fx_registry_new(), "x", "h", NULL, 0, "le");
}

static void negative_counter_add(void)
{
    fx_counter_add(fx_counter(fx_registry_new(), "x_total", "h"), -1);
}

static void unsorted_buckets(void)
{
    fx_histogram(fx_registry_new(), "x", "h", (const double[]){1, 1}, 2);
}

static void test_misuse_aborts(void **state)
{
    (void)state;
    expect_abort(conflicting_type);
    expect_abort(conflicting_labels);
    expect_abort(bad_metric_name);
    expect_abort(bad_label_name);
    expect_abort(le_label_on_histogram);
    expect_abort(negative_counter_add);
    expect_abort(unsorted_buckets);
}

/* --- process metrics ------------------------------------------------------------------ */

static double sample(const char *text, const char *name)
{
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(text, key);
    if (!p)
        fail_msg("%s missing from:\n%s", name, text);
    return strtod(p + strlen(key), NULL);
}

static void test_process_metrics(void **state)
{
    (void)state;
    fx_buf_t b = FX_BUF_INIT;
    assert_ptr_equal(fx_metrics_default(), fx_metrics_default());
    const char *t = scrape(fx_metrics_default(), &b);

    assert_non_null(strstr(t, "# TYPE process_cpu_seconds_total counter\n"));
    assert_non_null(strstr(t, "# TYPE process_resident_memory_bytes gauge\n"));
    assert_true(sample(t, "process_cpu_seconds_total") >= 0);
    assert_true(sample(t, "process_resident_memory_bytes") > 1 << 20);
    assert_true(sample(t, "process_virtual_memory_bytes") >= sample(t, "process_resident_memory_bytes"));
    assert_true(sample(t, "process_open_fds") >= 3);
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    assert_true(sample(t, "process_max_fds") == (double)rl.rlim_cur);
    double start = sample(t, "process_start_time_seconds"), now = (double)time(NULL);
    assert_true(start <= now + 1 && start > now - 600);

    /* an fd opened now shows up in the next scrape */
    double before = sample(t, "process_open_fds");
    FILE *f = fopen("/proc/self/stat", "r");
    assert_non_null(f);
    t = scrape(fx_metrics_default(), &b);
    assert_true(sample(t, "process_open_fds") == before + 1);
    fclose(f);
    fx_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exposition_golden),
        cmocka_unit_test(test_number_format),
        cmocka_unit_test(test_label_values),
        cmocka_unit_test(test_histogram_buckets),
        cmocka_unit_test(test_concurrency),
        cmocka_unit_test(test_misuse_aborts),
        cmocka_unit_test(test_process_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
