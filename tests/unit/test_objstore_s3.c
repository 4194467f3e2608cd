/*
 * test_objstore_s3.c - the S3 bucket against a real S3-compatible server
 * that verifies SigV4 signatures: npm @20minutes/s3rver 4.0.4 (see
 * ../shared/reference/real-clients.md §6), installed by npm from
 * tests/e2e/package-lock.json into the git-ignored tests/e2e/node_modules,
 * started on a free loopback port and stopped by pid.
 *
 * Runs the shared bucket contract (objstore_contract.h) with 5 MiB parts,
 * so multipart uploads and ranged GETs across parts go over the wire;
 * ListObjectsV2 continuation tokens with 2-key pages; then a wrong
 * secret (403 SignatureDoesNotMatch -> FX_EPERM), an unknown key, a missing
 * bucket, a dead endpoint (FX_EUNAVAIL after the retries) and a server
 * that comes back while a request is being retried.
 *
 * Skips, saying so, only when node is not installed (make test installs
 * it); a failing npm install is a failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/time.h"
#include "objstore/s3.h"
#include "objstore_contract.h"

#define E2E_DIR "tests/e2e"
#define MODULE E2E_DIR "/node_modules/@20minutes/s3rver"

static bool have_node;
static char dir[] = "/tmp/fornax-objstore-s3-XXXXXX";
static char module_path[PATH_MAX];
static char node_path[PATH_MAX];
static int port;
static pid_t server_pid;
static char endpoint[64];

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    socklen_t n = sizeof a;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(s, (struct sockaddr *)&a, sizeof a);
    getsockname(s, (struct sockaddr *)&a, &n);
    close(s);
    return ntohs(a.sin_port);
}

static bool port_open(int p)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)p);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(s, (struct sockaddr *)&a, sizeof a) == 0;
    close(s);
    return ok;
}

/* argv: module, port, directory, pid of this test (the server exits when
 * that process is gone, so a crashed test leaves no server behind). */
static const char server_js[] =
    "const S3rver = require(process.argv[1]);"
    "new S3rver({address: '127.0.0.1', port: Number(process.argv[2]),"
    "            directory: process.argv[3], silent: true}).run();"
    "const parent = Number(process.argv[4]);"
    "setInterval(() => { try { process.kill(parent, 0); } catch (e) { process.exit(0); } },"
    "            500);";

static void start_server(void)
{
    char p[16], me[16];
    snprintf(p, sizeof p, "%d", port);
    snprintf(me, sizeof me, "%d", (int)getpid());
    server_pid = fork();
    if (server_pid == 0) {
        /* Only async-signal-safe calls here: other threads may hold locks. */
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        /* s3rver makes continuation tokens with DES, which OpenSSL 3 keeps
         * in its legacy provider: without it every truncated listing is a 500. */
        execl(node_path, "node", "--openssl-legacy-provider", "-e", server_js, module_path, p,
              dir, me, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 300 && !port_open(port); i++)
        usleep(50000);
}

static void stop_server(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
        server_pid = 0;
    }
}

static fx_s3_config_t config(void)
{
    return (fx_s3_config_t){
        .endpoint = endpoint,
        .bucket = "fornax",
        .access_key_id = "S3RVER",
        .secret_access_key = "S3RVER",
        .region = "us-east-1",
        .insecure = true,
        .force_path_style = true,
        .part_size = FX_S3_MIN_PART_SIZE,
        .max_retries = 2,
        .connect_timeout_ms = 2000,
        .request_timeout_ms = 30000,
        .backoff_min_ms = 20,
        .backoff_max_ms = 200,
    };
}

static int teardown(void **state);

static int setup(void **state)
{
    (void)state;
    fx_err_t err = {0};
    FILE *w = popen("command -v node", "r");
    bool found = w && fgets(node_path, sizeof node_path, w) && node_path[0] == '/';
    if (w)
        pclose(w);
    node_path[strcspn(node_path, "\n")] = 0;
    if (!found) {
        fprintf(stderr, "SKIPPED: node is not installed, so the S3 server (npm "
                        "@20minutes/s3rver) cannot run; `make test` installs node\n");
        return 0;
    }
    have_node = true;
    /* Same rule as tests/e2e/run.sh: install from the lock file when needed. */
    if (system("cd " E2E_DIR " && { [ -f node_modules/.package-lock.json ] && "
               "[ ! package-lock.json -nt node_modules/.package-lock.json ] && "
               "[ -d node_modules/@20minutes/s3rver ] || "
               "npm ci --no-audit --no-fund --loglevel=error >&2; }") != 0) {
        fprintf(stderr, "npm ci in " E2E_DIR " failed\n");
        return -1;
    }
    if (!realpath(MODULE, module_path) || !mkdtemp(dir))
        return -1;
    port = free_port();
    snprintf(endpoint, sizeof endpoint, "127.0.0.1:%d", port);
    start_server();
    if (!port_open(port)) {
        fprintf(stderr, "s3rver did not start on %s\n", endpoint);
        goto fail;
    }
    fx_s3_config_t c = config();
    if (fx_bucket_s3_new(&c, &contract_bucket, &err) != FX_OK ||
        fx_bucket_s3_create_bucket(contract_bucket, &err) != FX_OK) {
        fprintf(stderr, "%s\n", err.msg);
        goto fail;
    }
    /* Creating it again is fine. */
    if (fx_bucket_s3_create_bucket(contract_bucket, &err) != FX_OK) {
        fprintf(stderr, "second create: %s\n", err.msg);
        goto fail;
    }
    contract_big = (11 << 20) + 12345; /* three parts of 5 MiB */
    contract_part = FX_S3_MIN_PART_SIZE;
    /* s3rver answers a Range on a 0-byte object with Content-Length 1 and no
     * body (AWS answers 416); that one check cannot pass against it. */
    contract_skip_empty_range = true;
    return 0;
fail:
    /* cmocka skips the group teardown when setup fails. */
    teardown(state);
    return -1;
}

static int teardown(void **state)
{
    (void)state;
    fx_bucket_close(contract_bucket);
    stop_server();
    if (!have_node)
        return 0;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Every test first checks that the server can run. */
static int need_server(void **state)
{
    (void)state;
    if (!have_node)
        skip();
    return 0;
}

static fx_bucket_t *open_with(fx_s3_config_t c)
{
    fx_bucket_t *b;
    fx_err_t err = {0};
    if (fx_bucket_s3_new(&c, &b, &err) != FX_OK)
        fail_msg("%s", err.msg);
    return b;
}

static void test_s3_wrong_credentials(void **state)
{
    (void)state;
    fx_err_t err = {0};
    fx_buf_t b = FX_BUF_INIT;
    fx_obj_list_t l = {0};
    put_str("auth/obj", "secret data");

    fx_s3_config_t c = config();
    c.secret_access_key = "not-the-secret";
    fx_bucket_t *bad = open_with(c);
    assert_int_equal(fx_bucket_get(bad, "auth/obj", &b, &err), FX_EPERM);
    assert_non_null(strstr(err.msg, "SignatureDoesNotMatch"));
    assert_non_null(strstr(err.msg, "s3://fornax/auth/obj"));
    assert_non_null(strstr(err.msg, "-storage.s3.secret-access-key"));
    assert_int_equal(b.len, 0);
    assert_int_equal(fx_bucket_put(bad, "auth/other", "x", 1, &err), FX_EPERM);
    assert_int_equal(fx_bucket_list_all(bad, "auth/", NULL, &l, &err), FX_EPERM);
    assert_int_equal(fx_bucket_delete(bad, "auth/obj", &err), FX_EPERM);
    fx_bucket_close(bad);

    c = config();
    c.access_key_id = "NOBODY";
    bad = open_with(c);
    assert_int_equal(fx_bucket_get(bad, "auth/obj", &b, &err), FX_EPERM);
    assert_non_null(strstr(err.msg, "InvalidAccessKeyId"));
    assert_non_null(strstr(err.msg, "-storage.s3.access-key-id"));
    fx_bucket_close(bad);

    /* Nothing was changed by the refused requests. */
    char *s = listing("auth/", NULL);
    assert_string_equal(s, "auth/obj=11");
    free(s);
    delete_all("auth/");
    fx_buf_free(&b);
}

static void test_s3_missing_bucket(void **state)
{
    (void)state;
    fx_err_t err = {0};
    fx_buf_t b = FX_BUF_INIT;
    fx_obj_list_t l = {0};
    fx_s3_config_t c = config();
    c.bucket = "no-such-bucket";
    fx_bucket_t *nb = open_with(c);
    assert_int_equal(fx_bucket_get(nb, "k", &b, &err), FX_EPRECOND);
    assert_non_null(strstr(err.msg, "bucket \"no-such-bucket\" does not exist"));
    assert_int_equal(fx_bucket_list_all(nb, "", "/", &l, &err), FX_EPRECOND);
    assert_int_equal(fx_bucket_put(nb, "k", "v", 1, &err), FX_EPRECOND);
    fx_bucket_close(nb);
    fx_buf_free(&b);
}

static void test_s3_unreachable(void **state)
{
    (void)state;
    fx_err_t err = {0};
    fx_buf_t b = FX_BUF_INIT;
    char dead[64];
    snprintf(dead, sizeof dead, "127.0.0.1:%d", free_port()); /* nothing listens */
    fx_s3_config_t c = config();
    c.endpoint = dead;
    fx_bucket_t *db = open_with(c);
    int64_t t0 = fx_mono_ns();
    assert_int_equal(fx_bucket_get(db, "k", &b, &err), FX_EUNAVAIL);
    int64_t ms = (fx_mono_ns() - t0) / 1000000;
    assert_non_null(strstr(err.msg, "gave up after 3 attempts"));
    assert_non_null(strstr(err.msg, "s3://fornax/k"));
    assert_true(ms >= 20); /* two backoff sleeps of at least 10 and 20 ms */
    bool ex;
    assert_int_equal(fx_bucket_exists(db, "k", &ex, &err), FX_EUNAVAIL);
    fx_bucket_close(db);
    fx_buf_free(&b);
}

/* Pages of two keys: every listing follows continuation tokens. (Not in the
 * contract tests: s3rver walks its directories in an order that differs
 * from byte order when a key has '-' where another has '/', and then drops
 * keys across page boundaries; these keys avoid that.) */
static void test_s3_pagination(void **state)
{
    (void)state;
    fx_s3_config_t c = config();
    c.list_max_keys = 2;
    fx_bucket_t *pb = open_with(c);
    fx_bucket_t *saved = contract_bucket;
    contract_bucket = pb;
    for (int i = 0; i < 7; i++) {
        char k[32];
        snprintf(k, sizeof k, "pg/k%d", i);
        put_str(k, "v");
    }
    put_str("pg/d1/x", "xx");
    put_str("pg/d1/y", "yy");
    put_str("pg/d2/x", "xx");
    char *s = listing("pg/", NULL);
    assert_string_equal(s, "pg/d1/x=2 pg/d1/y=2 pg/d2/x=2 pg/k0=1 pg/k1=1 pg/k2=1 pg/k3=1 "
                           "pg/k4=1 pg/k5=1 pg/k6=1");
    free(s);
    s = listing("pg/", "/");
    assert_string_equal(s, "pg/d1/ pg/d2/ pg/k0=1 pg/k1=1 pg/k2=1 pg/k3=1 pg/k4=1 pg/k5=1 "
                           "pg/k6=1");
    free(s);
    int n = 0;
    fx_err_t err = {0};
    assert_int_equal(fx_bucket_list(pb, "pg/", NULL, stop_after_two, &n, &err), FX_OK);
    assert_int_equal(n, 2);
    delete_all("pg/");
    contract_bucket = saved;
    fx_bucket_close(pb);
}

static void *restart_later(void *arg)
{
    (void)arg;
    usleep(600 * 1000);
    start_server();
    return NULL;
}

/* The server goes away; a read started meanwhile retries with backoff and
 * succeeds once the server is back (its data directory persists). */
static void test_s3_server_comes_back(void **state)
{
    (void)state;
    fx_err_t err = {0};
    fx_buf_t b = FX_BUF_INIT;
    put_str("retry/obj", "still here");
    stop_server();

    fx_s3_config_t c = config();
    c.max_retries = 10;
    c.backoff_min_ms = 100;
    c.backoff_max_ms = 400;
    fx_bucket_t *rb = open_with(c);
    pthread_t t;
    pthread_create(&t, NULL, restart_later, NULL);
    int64_t t0 = fx_mono_ns();
    int rc = fx_bucket_get(rb, "retry/obj", &b, &err);
    int64_t ms = (fx_mono_ns() - t0) / 1000000;
    pthread_join(t, NULL);
    if (rc)
        fail_msg("get while the server restarts: %s", err.msg);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.data, "still here", 10);
    assert_true(ms >= 500); /* it had to wait for the restart */
    fx_bucket_close(rb);
    delete_all("retry/");
    fx_buf_free(&b);
}

#define T(f) cmocka_unit_test_setup(f, need_server)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_contract_put_get),
        T(test_contract_range),
        T(test_contract_list),
        T(test_contract_bad_keys),
        T(test_contract_large),
        T(test_contract_threads),
        T(test_s3_pagination),
        T(test_s3_wrong_credentials),
        T(test_s3_missing_bucket),
        T(test_s3_unreachable),
        T(test_s3_server_comes_back),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
