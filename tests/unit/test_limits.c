/*
 * test_limits.c - libcommon/limits: defaults, YAML and flag defaults,
 * per-tenant overrides layered over the final defaults, error messages,
 * dumps, and runtime reload while readers run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "limits/limits.h"

#define SEC 1000000000LL

typedef struct env {
    fx_config_t *cfg;
    fx_limits_registry_t *lim;
} env_t;

static void env_init(env_t *e)
{
    e->cfg = fx_config_new();
    e->lim = fx_limits_registry_new();
    fx_limits_register(e->cfg, e->lim);
}

static void env_done(env_t *e)
{
    fx_config_free(e->cfg);
    fx_limits_registry_free(e->lim);
}

static int yaml(env_t *e, const char *y, fx_err_t *err)
{
    return fx_config_load_yaml(e->cfg, y, strlen(y), "cfg.yaml", err);
}

static void expect_err(int rc, const fx_err_t *err, const char *want)
{
    assert_int_equal(rc, FX_EINVAL);
    if (!strstr(err->msg, want))
        fail_msg("error \"%s\" does not contain \"%s\"", err->msg, want);
}

static void test_defaults(void **state)
{
    (void)state;
    fx_limits_registry_t *reg = fx_limits_registry_new();
    const fx_limits_t *l = fx_limits_for(reg, "anyone");
    assert_ptr_equal(l, fx_limits_defaults(reg));
    assert_true(l->ingestion_rate_mb == 4.0);
    assert_true(l->ingestion_burst_size_mb == 2.0);
    assert_true(l->ingestion_body_limit_mb == 256.0);
    assert_int_equal(l->max_label_names_per_series, 30);
    assert_int_equal(l->max_label_name_length, 1024);
    assert_int_equal(l->max_label_value_length, 2048);
    assert_int_equal(l->max_profile_size_bytes, 4 << 20);
    assert_int_equal(l->max_profile_stacktrace_samples, 16000);
    assert_int_equal(l->max_profile_stacktrace_sample_labels, 100);
    assert_int_equal(l->max_profile_stacktrace_depth, 1000);
    assert_int_equal(l->max_profile_symbol_value_length, 65535);
    assert_true(l->reject_older_than_ns == 3600 * SEC);
    assert_true(l->reject_newer_than_ns == 600 * SEC);
    assert_int_equal(l->max_global_series_per_tenant, 5000);
    assert_int_equal(l->max_local_series_per_tenant, 0);
    assert_true(l->max_query_length_ns == 24 * 3600 * SEC);
    assert_true(l->max_query_lookback_ns == 7 * 24 * 3600 * SEC);
    assert_int_equal(l->max_flamegraph_nodes_default, 8192);
    assert_int_equal(l->max_flamegraph_nodes_max, 1048576);
    assert_true(l->compactor_blocks_retention_period_ns == 0); /* off, as Pyroscope */
    assert_false(l->disable_label_sanitization);
    assert_int_equal(fx_limits_tenants(reg), 0);
    fx_limits_registry_free(reg);
}

static void test_yaml_and_flag_defaults(void **state)
{
    (void)state;
    env_t e;
    fx_err_t err = {0};
    env_init(&e);
    char *argv[] = {"fornax", "-distributor.ingestion-rate-limit-mb=16",
                    "-validation.max-length-label-name", "200", "-validation.reject-older-than=2h",
                    "-validation.disable-label-sanitization"};
    assert_int_equal(fx_config_load(e.cfg, FX_ARRAY_LEN(argv), argv, &err), FX_OK);
    int rc = yaml(&e,
                  "limits:\n"
                  "  ingestion_rate_mb: 8\n"
                  "  max_query_length: 48h\n"
                  "  max_profile_size_bytes: 8388608\n"
                  "  max_global_series_per_tenant: 0\n",
                  &err);
    if (rc != FX_OK)
        fail_msg("%s", err.msg);
    const fx_limits_t *l = fx_limits_for(e.lim, "t1");
    assert_true(l->ingestion_rate_mb == 8.0); /* applied after the flag here */
    assert_true(l->max_query_length_ns == 48 * 3600 * SEC);
    assert_int_equal(l->max_profile_size_bytes, 8 << 20);
    assert_int_equal(l->max_global_series_per_tenant, 0);
    assert_int_equal(l->max_label_name_length, 200);
    assert_true(l->reject_older_than_ns == 7200 * SEC);
    assert_true(l->disable_label_sanitization);
    assert_int_equal(l->max_label_value_length, 2048);
    env_done(&e);
}

static void test_tenant_overrides(void **state)
{
    (void)state;
    env_t e;
    fx_err_t err = {0};
    char path[] = "/tmp/fx-test-limits-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *y = "limits:\n"
                    "  max_query_length: 12h\n"
                    "overrides:\n"
                    "  acme:\n"
                    "    ingestion_rate_mb: 10\n"
                    "    max_label_names_per_series: 40\n"
                    "    max_query_lookback: 30d\n"
                    "    compactor_blocks_retention_period: 14d\n"
                    "  \"beta-1\": {}\n"
                    "  'team.(x)':\n"
                    "    max_flamegraph_nodes_default: 16384\n";
    assert_int_equal(write(fd, y, strlen(y)), (ssize_t)strlen(y));
    close(fd);
    env_init(&e);
    char cf[64];
    snprintf(cf, sizeof cf, "-config.file=%s", path);
    /* The flag changes the default every tenant inherits, overrides included. */
    char *argv[] = {"fornax", cf, "-validation.max-length-label-value=4096"};
    int rc = fx_config_load(e.cfg, FX_ARRAY_LEN(argv), argv, &err);
    if (rc != FX_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(fx_limits_tenants(e.lim), 3);
    const fx_limits_t *d = fx_limits_defaults(e.lim), *a = fx_limits_for(e.lim, "acme");
    assert_ptr_not_equal(a, d);
    assert_true(a->ingestion_rate_mb == 10.0);
    assert_int_equal(a->max_label_names_per_series, 40);
    assert_true(a->max_query_lookback_ns == 30 * 24 * 3600 * SEC);
    assert_true(a->compactor_blocks_retention_period_ns == 14 * 24 * 3600 * SEC);
    assert_true(a->max_query_length_ns == 12 * 3600 * SEC); /* YAML default */
    assert_int_equal(a->max_label_value_length, 4096);      /* flag default */
    assert_int_equal(a->max_global_series_per_tenant, 5000);
    const fx_limits_t *b = fx_limits_for(e.lim, "beta-1");
    assert_memory_equal(b, d, sizeof *d);
    assert_int_equal(fx_limits_for(e.lim, "team.(x)")->max_flamegraph_nodes_default, 16384);
    assert_ptr_equal(fx_limits_for(e.lim, "nobody"), d);
    assert_ptr_equal(fx_limits_for(e.lim, "acm"), d);

    /* Dumps: limits under `limits:`, overrides only with what was set. */
    fx_buf_t all = FX_BUF_INIT, diff = FX_BUF_INIT, def = FX_BUF_INIT;
    fx_config_dump(e.cfg, FX_CONFIG_DUMP_ALL, &all);
    fx_config_dump(e.cfg, FX_CONFIG_DUMP_DIFF, &diff);
    fx_config_dump(e.cfg, FX_CONFIG_DUMP_DEFAULTS, &def);
    assert_non_null(strstr(fx_buf_cstr(&all), "limits:\n  ingestion_rate_mb: 4\n"));
    assert_non_null(strstr(fx_buf_cstr(&all), "  max_profile_size_bytes: 4MiB\n"));
    assert_non_null(strstr(fx_buf_cstr(&all), "  max_query_lookback: 7d\n"));
    assert_string_equal(fx_buf_cstr(&diff),
                        "limits:\n"
                        "  max_label_value_length: 4096\n"
                        "  max_query_length: 12h\n"
                        "overrides:\n"
                        "  acme:\n"
                        "    ingestion_rate_mb: 10\n"
                        "    max_label_names_per_series: 40\n"
                        "    max_query_lookback: 30d\n"
                        "    compactor_blocks_retention_period: 14d\n"
                        "  beta-1: {}\n"
                        "  \"team.(x)\":\n"
                        "    max_flamegraph_nodes_default: 16384\n");
    assert_null(strstr(fx_buf_cstr(&def), "overrides"));
    assert_non_null(strstr(fx_buf_cstr(&def), "  max_query_length: 1d\n"));

    /* The dump loads back into the same limits. */
    env_t e2;
    env_init(&e2);
    fx_buf_t again = FX_BUF_INIT;
    if (yaml(&e2, fx_buf_cstr(&all), &err) != FX_OK)
        fail_msg("%s", err.msg);
    fx_config_dump(e2.cfg, FX_CONFIG_DUMP_ALL, &again);
    assert_string_equal(fx_buf_cstr(&again), fx_buf_cstr(&all));
    env_done(&e2);
    fx_buf_free(&again);
    fx_buf_free(&all);
    fx_buf_free(&diff);
    fx_buf_free(&def);
    env_done(&e);
    unlink(path);
}

static void test_errors(void **state)
{
    (void)state;
    env_t e;
    fx_err_t err = {0};
    env_init(&e);
    expect_err(yaml(&e, "limits:\n  ingestion_rate: 3\n", &err), &err,
               "cfg.yaml:2: unknown configuration key \"limits.ingestion_rate\" (did you mean "
               "\"limits.ingestion_rate_mb\"?)");
    expect_err(yaml(&e, "overrides:\n  acme:\n    ingestion_rate: 10\n", &err), &err,
               "cfg.yaml:3: unknown configuration key \"overrides.acme.ingestion_rate\" (did you "
               "mean \"ingestion_rate_mb\"?)");
    expect_err(yaml(&e, "overrides:\n  acme:\n    max_label_names_per_series: many\n", &err),
               &err,
               "cfg.yaml:3: overrides.acme.max_label_names_per_series: invalid value \"many\": "
               "expected an integer");
    expect_err(yaml(&e, "overrides:\n  acme:\n    max_label_names_per_series: -1\n", &err), &err,
               "overrides.acme.max_label_names_per_series: must be between 0 and");
    expect_err(yaml(&e, "overrides:\n  acme:\n    ingestion_rate_mb: -1\n", &err), &err,
               "must be between 0 and");
    expect_err(yaml(&e, "overrides:\n  acme:\n    reject_older_than: soon\n", &err), &err,
               "expected a duration");
    expect_err(yaml(&e, "overrides:\n  \"a b\":\n    ingestion_rate_mb: 1\n", &err), &err,
               "cfg.yaml:2: overrides: invalid tenant ID \"a b\"");
    expect_err(yaml(&e, "overrides:\n  - acme\n", &err), &err,
               "overrides: expected a map of tenant IDs to limits, got a sequence");
    expect_err(yaml(&e, "overrides:\n  acme: 5\n", &err), &err,
               "overrides.acme: expected a map, got a scalar");
    expect_err(yaml(&e, "overrides:\n  acme:\n    max_flamegraph_nodes_default: 2000000\n", &err),
               &err, "overrides.acme: max_flamegraph_nodes_default (2000000) is larger than");
    char *argv[] = {"fornax", "-validation.max-label-names-per-series=x"};
    expect_err(fx_config_load(e.cfg, 2, argv, &err), &err,
               "flag -validation.max-label-names-per-series: invalid value \"x\": expected an "
               "integer");
    /* A failed load published nothing. */
    assert_int_equal(fx_limits_tenants(e.lim), 0);
    assert_int_equal(fx_limits_defaults(e.lim)->max_label_names_per_series, 30);
    env_done(&e);
}

typedef struct reader {
    fx_limits_registry_t *reg;
    atomic_int *stop;
    atomic_long reads;
    long bad;
} reader_t;

static void *read_loop(void *p)
{
    reader_t *r = p;
    while (!atomic_load(r->stop)) {
        const fx_limits_t *l = fx_limits_for(r->reg, "acme");
        /* Every published value is one of the two written below. */
        if (l->ingestion_rate_mb != 10.0 && l->ingestion_rate_mb != 20.0)
            r->bad++;
        atomic_fetch_add(&r->reads, 1);
    }
    return NULL;
}

static void write_overrides(const char *path, double rate)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "server:\n  http_listen_port: 1\noverrides:\n  acme:\n    ingestion_rate_mb: %g\n",
            rate);
    fclose(f);
}

static void test_reload(void **state)
{
    (void)state;
    env_t e;
    fx_err_t err = {0};
    bool changed;
    char path[] = "/tmp/fx-test-reload-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    env_init(&e);
    write_overrides(path, 10);
    assert_int_equal(fx_limits_reload(e.lim, path, &changed, &err), FX_OK);
    assert_true(changed);
    const fx_limits_t *first = fx_limits_for(e.lim, "acme");
    assert_true(first->ingestion_rate_mb == 10.0);

    /* The same file again publishes nothing. */
    assert_int_equal(fx_limits_reload(e.lim, path, &changed, &err), FX_OK);
    assert_false(changed);
    assert_ptr_equal(fx_limits_for(e.lim, "acme"), first);

    /* Readers keep running while the overrides flip. */
    atomic_int stop = 0;
    reader_t r[2] = {{e.lim, &stop, 0, 0}, {e.lim, &stop, 0, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, read_loop, &r[i]);
    while (atomic_load(&r[0].reads) == 0 || atomic_load(&r[1].reads) == 0)
        usleep(1000); /* both readers are running */
    for (int i = 0; i < 20; i++) {
        write_overrides(path, i % 2 ? 10 : 20);
        assert_int_equal(fx_limits_reload(e.lim, path, &changed, &err), FX_OK);
        assert_true(changed);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        assert_true(atomic_load(&r[i].reads) > 0);
        assert_int_equal(r[i].bad, 0);
    }
    assert_true(first->ingestion_rate_mb == 10.0); /* old pointer still valid */
    assert_true(fx_limits_for(e.lim, "acme")->ingestion_rate_mb == 10.0);

    /* A bad file leaves the current overrides in place. */
    FILE *f = fopen(path, "w");
    fputs("overrides:\n  acme:\n    ingestion_rate_mb: fast\n", f);
    fclose(f);
    expect_err(fx_limits_reload(e.lim, path, &changed, &err), &err,
               ":3: overrides.acme.ingestion_rate_mb: invalid value \"fast\"");
    assert_false(changed);
    assert_true(fx_limits_for(e.lim, "acme")->ingestion_rate_mb == 10.0);

    /* Removing the section removes the overrides. */
    f = fopen(path, "w");
    fputs("limits: {}\n", f);
    fclose(f);
    assert_int_equal(fx_limits_reload(e.lim, path, &changed, &err), FX_OK);
    assert_true(changed);
    assert_ptr_equal(fx_limits_for(e.lim, "acme"), fx_limits_defaults(e.lim));
    env_done(&e);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_yaml_and_flag_defaults),
        cmocka_unit_test(test_tenant_overrides),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_reload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
