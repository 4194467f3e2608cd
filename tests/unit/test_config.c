/*
 * test_config.c - libcommon/config: YAML tree, option tables, precedence of
 * defaults < YAML file < flags, error messages, -help, dumps, and that
 * docs/configuration.md matches the tables.
 *
 * `FX_UPDATE_DOCS=1 build/tests/test_config` rewrites the generated part of
 * docs/configuration.md from the tables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/app.h"
#include "config/config.h"
#include "config/process.h"
#include "config/yaml.h"
#include "limits/limits.h"
#include "objstore/objstore.h"
#include "services/compactor/compactor.h"
#include "services/distributor/distributor.h"
#include "services/ingester/ingester.h"
#include "services/querier/querier.h"
#include "services/store-gateway/store_gateway.h"

typedef struct env {
    fx_config_t *cfg;
    fx_process_opts_t p;
} env_t;

static env_t *env_new(void)
{
    env_t *e = fx_calloc(1, sizeof *e);
    e->cfg = fx_config_new();
    fx_process_opts_register(e->cfg, &e->p);
    return e;
}

static void env_free(env_t *e)
{
    fx_config_free(e->cfg);
    free(e);
}

static int load_yaml(env_t *e, const char *y, fx_err_t *err)
{
    return fx_config_load_yaml(e->cfg, y, strlen(y), "cfg.yaml", err);
}

static int load_args(env_t *e, fx_err_t *err, ...)
{
    char *argv[32] = {"fornax"};
    int argc = 1;
    va_list ap;
    va_start(ap, err);
    for (char *a; (a = va_arg(ap, char *));)
        argv[argc++] = a;
    va_end(ap);
    return fx_config_load(e->cfg, argc, argv, err);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_defaults(void **state)
{
    (void)state;
    env_t *e = env_new();
    assert_int_equal(e->p.target.n, 1);
    assert_string_equal(e->p.target.v[0], "all");
    assert_string_equal(e->p.http_listen_address, "");
    assert_int_equal(e->p.http_listen_port, 4040);
    assert_int_equal(e->p.grpc_listen_port, 9095);
    assert_string_equal(e->p.data_dir, "./data");
    assert_false(e->p.multitenancy_enabled);
    assert_string_equal(e->p.log_level, "info");
    assert_int_equal(e->p.grpc_max_msg_size, 256 << 20);
    assert_true(e->p.graceful_shutdown_ns == 30 * 1000000000LL);
    assert_true(fx_process_has_target(&e->p, "ingester"));
    assert_true(fx_process_grpc_threads(&e->p) >= 4);
    assert_string_equal(fx_config_file(e->cfg), "");
    env_free(e);
}

static void test_yaml_values(void **state)
{
    (void)state;
    env_t *e = env_new();
    fx_err_t err = {0};
    int rc = load_yaml(e,
                       "# comment\n"
                       "target: [distributor, ingester]\n"
                       "server:\n"
                       "  http_listen_port: 4041\n"
                       "  grpc_listen_address: \"127.0.0.1\"\n"
                       "  log_level: debug\n"
                       "  graceful_shutdown_timeout: 1m30s\n"
                       "  grpc_max_msg_size: 64MiB\n"
                       "  http_threads:\n" /* null keeps the default */
                       "multitenancy_enabled: yes\n"
                       "data_dir: /var/lib/fornax\n",
                       &err);
    if (rc != FX_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(e->p.target.n, 2);
    assert_string_equal(e->p.target.v[1], "ingester");
    assert_false(fx_process_has_target(&e->p, "querier"));
    assert_int_equal(e->p.http_listen_port, 4041);
    assert_string_equal(e->p.grpc_listen_address, "127.0.0.1");
    assert_string_equal(e->p.log_level, "debug");
    assert_true(e->p.graceful_shutdown_ns == 90 * 1000000000LL);
    assert_int_equal(e->p.grpc_max_msg_size, 64 << 20);
    assert_int_equal(e->p.http_threads, 0);
    assert_true(e->p.multitenancy_enabled);
    assert_string_equal(e->p.data_dir, "/var/lib/fornax");
    env_free(e);
}

static void test_precedence_file_then_flags(void **state)
{
    (void)state;
    char path[] = "/tmp/fx-test-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_file(path, "server:\n  http_listen_port: 4100\n  grpc_listen_port: 9100\n"
                     "  log_level: debug\nmultitenancy_enabled: false\ntarget: querier\n");
    env_t *e = env_new();
    fx_err_t err = {0};
    char cfgflag[64];
    snprintf(cfgflag, sizeof cfgflag, "-config.file=%s", path);
    /* Flags before the -config.file flag still win over the file. */
    int rc = load_args(e, &err, "-server.http-listen-port", "5000", cfgflag, "--log.level=warn",
                       "-auth.multitenancy-enabled", "-target=distributor, ingester", NULL);
    if (rc != FX_OK)
        fail_msg("%s", err.msg);
    assert_string_equal(fx_config_file(e->cfg), path);
    assert_int_equal(e->p.http_listen_port, 5000);       /* flag over file */
    assert_int_equal(e->p.grpc_listen_port, 9100);       /* file over default */
    assert_string_equal(e->p.log_level, "warn");         /* --name=value */
    assert_true(e->p.multitenancy_enabled);              /* bool alone */
    assert_int_equal(e->p.target.n, 2);                  /* list, trimmed */
    assert_string_equal(e->p.target.v[1], "ingester");
    assert_string_equal(e->p.data_dir, "./data");        /* default */
    assert_false(fx_config_help_requested(e->cfg));
    env_free(e);

    /* -config.file as a separate argument, and -help. */
    e = env_new();
    rc = load_args(e, &err, "--config.file", path, "-help", "-auth.multitenancy-enabled=false",
                   NULL);
    assert_int_equal(rc, FX_OK);
    assert_int_equal(e->p.http_listen_port, 4100);
    assert_false(e->p.multitenancy_enabled);
    assert_true(fx_config_help_requested(e->cfg));
    env_free(e);

    /* A missing file is an error naming it. */
    e = env_new();
    rc = load_args(e, &err, "-config.file=/nonexistent/fornax.yaml", NULL);
    assert_int_equal(rc, FX_EINVAL);
    assert_non_null(strstr(err.msg, "/nonexistent/fornax.yaml"));
    env_free(e);
    unlink(path);
}

static void expect_err(env_t *e, int rc, fx_err_t *err, const char *want)
{
    (void)e;
    assert_int_equal(rc, FX_EINVAL);
    if (!strstr(err->msg, want))
        fail_msg("error \"%s\" does not contain \"%s\"", err->msg, want);
}

static void test_flag_errors(void **state)
{
    (void)state;
    env_t *e = env_new();
    fx_err_t err = {0};
    expect_err(e, load_args(e, &err, "-server.http-listen-prot=1", NULL), &err,
               "unknown flag -server.http-listen-prot (did you mean -server.http-listen-port?)");
    expect_err(e, load_args(e, &err, "-nonsense", NULL), &err, "unknown flag -nonsense;");
    expect_err(e, load_args(e, &err, "-server.http-listen-port=abc", NULL), &err,
               "flag -server.http-listen-port: invalid value \"abc\": expected an integer");
    expect_err(e, load_args(e, &err, "-server.http-listen-port=70000", NULL), &err,
               "flag -server.http-listen-port: must be between 0 and 65535");
    expect_err(e, load_args(e, &err, "-log.level=verbose", NULL), &err,
               "expected one of debug, info, warn, error");
    expect_err(e, load_args(e, &err, "-auth.multitenancy-enabled=maybe", NULL), &err,
               "expected true or false");
    expect_err(e, load_args(e, &err, "-server.graceful-shutdown-timeout=10", NULL), &err,
               "expected a duration");
    expect_err(e, load_args(e, &err, "-server.grpc-max-msg-size=lots", NULL), &err,
               "expected a size");
    expect_err(e, load_args(e, &err, "-data-dir", NULL), &err, "flag -data-dir needs a value");
    expect_err(e, load_args(e, &err, "ingester", NULL), &err,
               "unexpected argument \"ingester\"");
    /* Nothing above changed a value. */
    assert_int_equal(e->p.http_listen_port, 4040);
    assert_string_equal(e->p.log_level, "info");
    env_free(e);
}

static void test_yaml_errors(void **state)
{
    (void)state;
    env_t *e = env_new();
    fx_err_t err = {0};
    expect_err(e, load_yaml(e, "server:\n  http_listen_port: 1\n  bogus: 2\n", &err), &err,
               "cfg.yaml:3: unknown configuration key \"server.bogus\"");
    expect_err(e, load_yaml(e, "server:\n  http_listen_prot: 1\n", &err), &err,
               "(did you mean \"server.http_listen_port\"?)");
    expect_err(e, load_yaml(e, "foo: 1\n", &err), &err,
               "cfg.yaml:1: unknown configuration key \"foo\"");
    expect_err(e, load_yaml(e, "server:\n  http_listen_port: abc\n", &err), &err,
               "cfg.yaml:2: server.http_listen_port: invalid value \"abc\": expected an integer");
    expect_err(e, load_yaml(e, "server:\n  http_listen_port: {a: 1}\n", &err), &err,
               "cfg.yaml:2: server.http_listen_port: expected a value of type int, got a map");
    expect_err(e, load_yaml(e, "server: 5\n", &err), &err,
               "cfg.yaml:1: server: expected a map, got a scalar");
    expect_err(e, load_yaml(e, "server:\n  http_listen_port: 1\n  http_listen_port: 2\n", &err),
               &err, "cfg.yaml:3: duplicate key \"http_listen_port\" (first at line 2)");
    expect_err(e, load_yaml(e, "a: &x 1\nb: *x\n", &err), &err, "aliases");
    expect_err(e, load_yaml(e, "server:\n  http_listen_port: [1\n", &err), &err,
               "cfg.yaml:3:1: invalid YAML");
    expect_err(e, load_yaml(e, "target: all\n---\ntarget: all\n", &err), &err,
               "second YAML document");
    expect_err(e, load_yaml(e, "- a\n- b\n", &err), &err, "expected a map, got a sequence");
    expect_err(e, load_yaml(e, "config:\n  file: x.yaml\n", &err), &err,
               "unknown configuration key \"config\"");
    /* Empty and comment-only documents are fine. */
    assert_int_equal(load_yaml(e, "", &err), FX_OK);
    assert_int_equal(load_yaml(e, "# nothing\n", &err), FX_OK);
    env_free(e);
}

static void test_durations_sizes(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t ns;
    } d[] = {{"0", 0},
             {"10s", 10000000000LL},
             {"500ms", 500000000LL},
             {"1h30m", 5400000000000LL},
             {"1.5h", 5400000000000LL},
             {"7d", 604800000000000LL},
             {"1w", 604800000000000LL},
             {"2us", 2000},
             {"3\xc2\xb5s", 3000},
             {"1m0.5s", 60500000000LL}};
    for (size_t i = 0; i < FX_ARRAY_LEN(d); i++) {
        int64_t v = -1;
        assert_int_equal(fx_parse_duration(d[i].s, &v), 0);
        assert_true(v == d[i].ns);
    }
    static const char *bad_d[] = {"", "10", "1x", "-1s", "h", "1h 30m", "1..5s", "s10",
                                  "999999999999999999999h"};
    for (size_t i = 0; i < FX_ARRAY_LEN(bad_d); i++) {
        int64_t v;
        if (fx_parse_duration(bad_d[i], &v) == 0)
            fail_msg("duration \"%s\" accepted", bad_d[i]);
    }
    static const struct {
        int64_t ns;
        const char *s;
    } f[] = {{0, "0s"},
             {5400000000000LL, "1h30m"},
             {604800000000000LL, "7d"},
             {86400000000000LL, "1d"},
             {1500000000LL, "1s500ms"},
             {1500, "1500ns"},
             {3000, "3us"}};
    for (size_t i = 0; i < FX_ARRAY_LEN(f); i++) {
        fx_buf_t b = FX_BUF_INIT;
        int64_t back;
        fx_format_duration(f[i].ns, &b);
        assert_string_equal(fx_buf_cstr(&b), f[i].s);
        assert_int_equal(fx_parse_duration(fx_buf_cstr(&b), &back), 0);
        assert_true(back == f[i].ns);
        fx_buf_free(&b);
    }
    static const struct {
        const char *s;
        int64_t b;
    } z[] = {{"4MiB", 4 << 20},   {"4MB", 4 << 20},   {"512KB", 512 << 10}, {"1048576", 1 << 20},
             {"1.5GiB", 3LL << 29}, {"2 kib", 2048}, {"0", 0},             {"100B", 100}};
    for (size_t i = 0; i < FX_ARRAY_LEN(z); i++) {
        int64_t v = -1;
        assert_int_equal(fx_parse_size(z[i].s, &v), 0);
        assert_true(v == z[i].b);
    }
    static const char *bad_z[] = {"", "MiB", "4XB", "-1", "1e30GiB", "4 MiBs"};
    for (size_t i = 0; i < FX_ARRAY_LEN(bad_z); i++) {
        int64_t v;
        if (fx_parse_size(bad_z[i], &v) == 0)
            fail_msg("size \"%s\" accepted", bad_z[i]);
    }
    fx_buf_t b = FX_BUF_INIT;
    fx_format_size(4 << 20, &b);
    fx_buf_puts(&b, " ");
    fx_format_size(1000, &b);
    assert_string_equal(fx_buf_cstr(&b), "4MiB 1000");
    fx_buf_free(&b);
}

static void test_help_and_markdown(void **state)
{
    (void)state;
    env_t *e = env_new();
    fx_buf_t b = FX_BUF_INIT;
    fx_config_help(e->cfg, "fornax", &b);
    const char *h = fx_buf_cstr(&b);
    assert_non_null(strstr(h, "Usage: fornax"));
    assert_non_null(strstr(h, "\nprocess:\n"));
    assert_non_null(strstr(h, "  -server.http-listen-port int\n      HTTP listen port. (0..65535)"
                              " (default \"4040\") [yaml: server.http_listen_port]\n"));
    assert_non_null(strstr(h, "  -config.file string\n"));
    assert_non_null(strstr(h, "one of debug, info, warn, error"));
    b.len = 0;
    fx_config_markdown(e->cfg, &b);
    assert_non_null(strstr(fx_buf_cstr(&b), "| `-server.http-listen-port` | "
                                            "`server.http_listen_port` | int | `4040` | "));
    assert_non_null(strstr(fx_buf_cstr(&b), "| `-config.file` | (flag only) | string | `\"\"` |"));
    fx_buf_free(&b);
    env_free(e);
}

static void test_dump_modes(void **state)
{
    (void)state;
    env_t *e = env_new();
    fx_err_t err = {0};
    fx_buf_t all = FX_BUF_INIT, diff = FX_BUF_INIT, def = FX_BUF_INIT, again = FX_BUF_INIT;

    fx_config_dump(e->cfg, FX_CONFIG_DUMP_DIFF, &diff);
    assert_int_equal(diff.len, 0);
    assert_int_equal(load_args(e, &err, "-server.http-listen-port=5000",
                               "-data-dir=/tmp/a b: #c\"\\", "-target=querier,ingester", NULL),
                     FX_OK);
    fx_config_dump(e->cfg, FX_CONFIG_DUMP_ALL, &all);
    fx_config_dump(e->cfg, FX_CONFIG_DUMP_DIFF, &diff);
    fx_config_dump(e->cfg, FX_CONFIG_DUMP_DEFAULTS, &def);
    const char *a = fx_buf_cstr(&all);
    assert_non_null(strstr(a, "target: [querier, ingester]\nserver:\n  http_listen_address: \"\"\n"
                              "  http_listen_port: 5000\n"));
    assert_non_null(strstr(a, "  log_level: info\n"));
    assert_non_null(strstr(a, "data_dir: \"/tmp/a b: #c\\\"\\\\\"\n"));
    assert_non_null(strstr(a, "multitenancy_enabled: false\n"));
    assert_null(strstr(a, "config"));
    assert_string_equal(fx_buf_cstr(&diff), "target: [querier, ingester]\n"
                                            "server:\n  http_listen_port: 5000\n"
                                            "data_dir: \"/tmp/a b: #c\\\"\\\\\"\n");
    assert_non_null(strstr(fx_buf_cstr(&def), "  http_listen_port: 4040\n"));
    assert_non_null(strstr(fx_buf_cstr(&def), "data_dir: \"./data\"\n"));

    /* YAML line breaks beyond \n (NEL, LS) and control bytes are escaped. */
    fx_buf_t odd = FX_BUF_INIT;
    assert_int_equal(fx_config_set(e->cfg, "server.grpc-listen-address",
                                   "a\xe2\x80\xa8" "b\xc2\x85" "c\x01" "d caf\xc3\xa9", &err),
                     FX_OK);
    fx_config_dump(e->cfg, FX_CONFIG_DUMP_DIFF, &odd);
    assert_non_null(strstr(fx_buf_cstr(&odd),
                           "grpc_listen_address: \"a\\u2028b\\u0085c\\x01d caf\xc3\xa9\"\n"));
    fx_buf_free(&odd);
    fx_buf_free(&all);
    fx_config_dump(e->cfg, FX_CONFIG_DUMP_ALL, &all);
    a = fx_buf_cstr(&all);

    /* The dump is valid config: loading it elsewhere gives the same dump. */
    env_t *e2 = env_new();
    if (load_yaml(e2, a, &err) != FX_OK)
        fail_msg("reloading the dump: %s\n%s", err.msg, a);
    fx_config_dump(e2->cfg, FX_CONFIG_DUMP_ALL, &again);
    assert_string_equal(fx_buf_cstr(&again), a);
    env_free(e2);
    fx_buf_free(&all);
    fx_buf_free(&diff);
    fx_buf_free(&def);
    fx_buf_free(&again);
    env_free(e);
}

/* A module's own table registered beside the process table, with a custom
 * YAML key and every type. */
typedef struct mod_opts {
    char *name;
    int64_t n;
    bool on;
    double ratio;
    int64_t wait_ns;
    int64_t cache;
    fx_strlist_t peers;
} mod_opts_t;

static const fx_opt_t mod_table_opts[] = {
    {"mod.name", NULL, FX_OPT_STRING, offsetof(mod_opts_t, name), "x", "Name.", 0, 0, NULL, 0},
    {"mod.n", "deep.nested.n", FX_OPT_INT, offsetof(mod_opts_t, n), "-3", "N.", 0, 0, NULL, 0},
    {"mod.on", NULL, FX_OPT_BOOL, offsetof(mod_opts_t, on), "true", "On.", 0, 0, NULL, 0},
    {"mod.ratio", NULL, FX_OPT_DOUBLE, offsetof(mod_opts_t, ratio), "0.1", "Ratio.", 0, 0, NULL,
     0},
    {"mod.wait", NULL, FX_OPT_DURATION, offsetof(mod_opts_t, wait_ns), "1m", "Wait.", 0, 0,
     NULL, 0},
    {"mod.cache-size", NULL, FX_OPT_SIZE, offsetof(mod_opts_t, cache), "64MiB", "Cache.", 0, 0,
     NULL, 0},
    {"mod.peers", NULL, FX_OPT_LIST, offsetof(mod_opts_t, peers), "", "Peers.", 0, 0, NULL, 0},
};
static const fx_opt_table_t mod_table = {"mod", "modules", mod_table_opts,
                                         FX_ARRAY_LEN(mod_table_opts)};

static void test_module_table(void **state)
{
    (void)state;
    env_t *e = env_new();
    mod_opts_t m;
    fx_err_t err = {0};
    fx_config_add(e->cfg, &mod_table, &m);
    assert_string_equal(m.name, "x");
    assert_int_equal(m.n, -3);
    assert_true(m.on);
    assert_true(m.ratio == 0.1);
    assert_int_equal(m.peers.n, 0);
    int rc = load_yaml(e,
                       "modules:\n"
                       "  mod:\n"
                       "    name: 'quoted: yes'\n"
                       "    on: off\n"
                       "    ratio: 2.5e-3\n"
                       "    wait: 250ms\n"
                       "    cache_size: 1GiB\n"
                       "    peers:\n"
                       "      - 10.0.0.1:9095\n"
                       "      - 10.0.0.2:9095\n"
                       "  deep:\n"
                       "    nested:\n"
                       "      n: 42\n",
                       &err);
    if (rc != FX_OK)
        fail_msg("%s", err.msg);
    assert_string_equal(m.name, "quoted: yes");
    assert_false(m.on);
    assert_true(m.ratio == 2.5e-3);
    assert_true(m.wait_ns == 250000000);
    assert_true(m.cache == 1LL << 30);
    assert_int_equal(m.peers.n, 2);
    assert_string_equal(m.peers.v[1], "10.0.0.2:9095");
    assert_int_equal(m.n, 42);
    assert_int_equal(fx_config_set(e->cfg, "mod.n", "7", &err), FX_OK);
    assert_int_equal(m.n, 7);
    expect_err(e, fx_config_set(e->cfg, "mod.peer", "a", &err), &err,
               "did you mean -mod.peers?");
    expect_err(e, load_yaml(e, "modules:\n  mod:\n    peers: {a: b}\n", &err), &err,
               "cfg.yaml:3: modules.mod.peers: expected a value of type list, got a map");
    fx_buf_t b = FX_BUF_INIT;
    fx_config_dump(e->cfg, FX_CONFIG_DUMP_DIFF, &b);
    assert_string_equal(fx_buf_cstr(&b), "modules:\n  mod:\n    name: \"quoted: yes\"\n"
                                         "    on: false\n    ratio: 0.0025\n    wait: 250ms\n"
                                         "    cache_size: 1GiB\n"
                                         "    peers: [\"10.0.0.1:9095\", \"10.0.0.2:9095\"]\n"
                                         "  deep:\n    nested:\n      n: 7\n");
    fx_buf_free(&b);
    env_free(e); /* frees m's strings too */
}

/* A module frees its options struct before the registry goes (process
 * exit): forgetting its tables first frees its strings, and fx_config_free
 * then leaves the freed memory alone (ASan would catch a touch). */
static void test_forget_before_free(void **state)
{
    (void)state;
    env_t *e = env_new();
    typedef struct module {
        int64_t other_state;
        mod_opts_t opts; /* not at the start of the struct */
    } module_t;
    module_t *m = fx_calloc(1, sizeof *m);
    fx_err_t err = {0};
    size_t from = fx_config_ntables(e->cfg);
    fx_config_add(e->cfg, &mod_table, &m->opts);
    size_t to = fx_config_ntables(e->cfg);
    assert_int_equal(to, from + 1);
    assert_int_equal(load_args(e, &err, "-mod.name=first", "-mod.peers=a,b", NULL), FX_OK);
    assert_string_equal(m->opts.name, "first");
    fx_config_forget_tables(e->cfg, from, to);
    assert_null(m->opts.name);
    assert_int_equal(m->opts.peers.n, 0);
    free(m);
    /* The registry still works for what it still knows. */
    assert_int_equal(load_args(e, &err, "-data-dir=/tmp/x", NULL), FX_OK);
    assert_string_equal(e->p.data_dir, "/tmp/x");
    env_free(e);
}

/* FX_OPT_SECRET: dumps (and so /api/v1/status/config) never show the value. */
typedef struct secret_opts {
    char *password;
} secret_opts_t;
static const fx_opt_t secret_table_opts[] = {
    {"db.password", NULL, FX_OPT_STRING, offsetof(secret_opts_t, password), "", "Password.", 0,
     0, NULL, FX_OPT_SECRET},
};
static const fx_opt_table_t secret_table = {"db", NULL, secret_table_opts, 1};

static void test_secret_masked(void **state)
{
    (void)state;
    env_t *e = env_new();
    secret_opts_t so;
    fx_err_t err = {0};
    fx_buf_t b = FX_BUF_INIT;
    fx_config_add(e->cfg, &secret_table, &so);
    fx_config_dump(e->cfg, FX_CONFIG_DUMP_ALL, &b);
    assert_non_null(strstr(fx_buf_cstr(&b), "db:\n  password: \"\"\n")); /* unset: shown */
    assert_int_equal(fx_config_set(e->cfg, "db.password", "hunter2", &err), FX_OK);
    assert_string_equal(so.password, "hunter2");
    b.len = 0;
    fx_config_dump(e->cfg, FX_CONFIG_DUMP_ALL, &b);
    assert_null(strstr(fx_buf_cstr(&b), "hunter2"));
    assert_non_null(strstr(fx_buf_cstr(&b), "db:\n  password: \"********\"\n"));
    b.len = 0;
    fx_config_dump(e->cfg, FX_CONFIG_DUMP_DIFF, &b);
    assert_string_equal(fx_buf_cstr(&b), "db:\n  password: \"********\"\n");
    b.len = 0;
    fx_config_dump(e->cfg, FX_CONFIG_DUMP_DEFAULTS, &b);
    assert_null(strstr(fx_buf_cstr(&b), "hunter2"));
    fx_buf_free(&b);
    env_free(e);
}

static void test_yaml_tree(void **state)
{
    (void)state;
    fx_yaml_doc_t doc;
    fx_err_t err = {0};
    const char *y = "a:\n  b: [1, \"two\", ~]\n  c: |\n    block\n    text\nd: {e: f}\n";
    assert_int_equal(fx_yaml_parse(y, strlen(y), "t.yaml", &doc, &err), FX_OK);
    assert_int_equal(doc.root->type, FX_YAML_MAP);
    const fx_yaml_node_t *a = fx_yaml_get(doc.root, "a");
    assert_non_null(a);
    const fx_yaml_node_t *b = fx_yaml_get(a, "b");
    assert_int_equal(b->type, FX_YAML_SEQ);
    assert_int_equal(b->n, 3);
    assert_int_equal(b->line, 2);
    assert_string_equal(b->child->next->str, "two");
    assert_int_equal(b->child->next->next->type, FX_YAML_NULL);
    assert_string_equal(fx_yaml_get(a, "c")->str, "block\ntext\n");
    assert_int_equal(fx_yaml_get(doc.root, "d")->key_line, 6);
    assert_null(fx_yaml_get(doc.root, "zz"));
    fx_yaml_free(&doc);

    /* Depth limit. */
    fx_buf_t deep = FX_BUF_INIT;
    for (int i = 0; i < 100; i++)
        fx_buf_putc(&deep, '[');
    assert_int_equal(fx_yaml_parse((const char *)deep.data, deep.len, "d", &doc, &err),
                     FX_EINVAL);
    assert_non_null(strstr(err.msg, "nesting deeper than 64"));
    fx_buf_free(&deep);
}

/* ---- docs ------------------------------------------------------------------------ */

#define DOC "docs/configuration.md"
#define BEGIN "<!-- BEGIN GENERATED: FX_UPDATE_DOCS=1 build/tests/test_config -->\n"
#define END "<!-- END GENERATED -->\n"

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fx_buf_t b = FX_BUF_INIT;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fx_buf_append(&b, chunk, n);
    fclose(f);
    fx_buf_cstr(&b);
    return (char *)fx_buf_steal(&b, len);
}

static void test_docs_up_to_date(void **state)
{
    (void)state;
    /* Every table of the fornax binary, in the order -help lists them. */
    const fx_module_t *mods[] = {&fx_ingester_module, &fx_store_gateway_module,
                                 &fx_distributor_module, &fx_querier_module, &fx_compactor_module};
    void *states[FX_ARRAY_LEN(mods)];
    size_t marks[FX_ARRAY_LEN(mods) + 1];
    fx_config_t *cfg = fx_config_new();
    fx_process_opts_t p;
    fx_ring_opts_t ro;
    fx_objstore_opts_t so;
    fx_limits_registry_t *lim = fx_limits_registry_new();
    fx_process_opts_register(cfg, &p);
    fx_limits_register(cfg, lim);
    fx_config_add(cfg, &fx_app_ring_table, &ro);
    fx_objstore_register(cfg, &so);
    for (size_t i = 0; i < FX_ARRAY_LEN(mods); i++) {
        marks[i] = fx_config_ntables(cfg);
        states[i] = mods[i]->configure(cfg);
    }
    marks[FX_ARRAY_LEN(mods)] = fx_config_ntables(cfg);
    fx_buf_t gen = FX_BUF_INIT;
    fx_config_markdown(cfg, &gen);
    for (size_t i = FX_ARRAY_LEN(mods); i-- > 0;) {
        fx_config_forget_tables(cfg, marks[i], marks[i + 1]);
        mods[i]->destroy(states[i]);
    }
    fx_config_free(cfg);
    fx_limits_registry_free(lim);

    size_t len;
    char *doc = read_all(DOC, &len);
    if (!doc)
        fail_msg("cannot read " DOC " (run from the repo root)");
    char *b = strstr(doc, BEGIN), *e = b ? strstr(b, END) : NULL;
    if (!b || !e)
        fail_msg(DOC " lacks the generated-section markers");
    b += strlen(BEGIN);
    size_t have = (size_t)(e - b);
    if (getenv("FX_UPDATE_DOCS")) {
        FILE *f = fopen(DOC, "wb");
        assert_non_null(f);
        fwrite(doc, 1, (size_t)(b - doc), f);
        fwrite(gen.data, 1, gen.len, f);
        fputs(e, f);
        fclose(f);
    } else if (have != gen.len || memcmp(b, gen.data, gen.len) != 0) {
        fail_msg(DOC " is out of date with the option tables: run "
                 "FX_UPDATE_DOCS=1 build/tests/test_config");
    }
    free(doc);
    fx_buf_free(&gen);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_yaml_values),
        cmocka_unit_test(test_precedence_file_then_flags),
        cmocka_unit_test(test_flag_errors),
        cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test(test_durations_sizes),
        cmocka_unit_test(test_help_and_markdown),
        cmocka_unit_test(test_secret_masked),
        cmocka_unit_test(test_dump_modes),
        cmocka_unit_test(test_module_table),
        cmocka_unit_test(test_forget_before_free),
        cmocka_unit_test(test_yaml_tree),
        cmocka_unit_test(test_docs_up_to_date),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
