/*
 * test_kv_etcd.c - the etcd KV backend against a real etcd (Debian
 * etcd-server) started on free loopback ports and stopped by pid. Covers
 * CAS semantics, listing, watches, and a watch surviving an etcd restart
 * (changes made while the watcher was cut off are reported on resync), and a
 * ring judging heartbeats across an etcd outage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/time.h"
#include "kv/etcd.h"
#include "ring/ring.h"

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

static char dir[] = "/tmp/fornax-etcd-XXXXXX";
static int client_port, peer_port;
static pid_t etcd_pid;
static char endpoint[64];

static void start_etcd(void)
{
    char client[64], peer[64], cluster[96];
    snprintf(client, sizeof client, "http://127.0.0.1:%d", client_port);
    snprintf(peer, sizeof peer, "http://127.0.0.1:%d", peer_port);
    snprintf(cluster, sizeof cluster, "t=%s", peer);
    etcd_pid = fork();
    if (etcd_pid == 0) {
        freopen("/dev/null", "w", stderr);
        freopen("/dev/null", "w", stdout);
        execlp("etcd", "etcd", "--name", "t", "--data-dir", dir, "--listen-client-urls", client,
               "--advertise-client-urls", client, "--listen-peer-urls", peer,
               "--initial-advertise-peer-urls", peer, "--initial-cluster", cluster, (char *)NULL);
        _exit(127);
    }
    /* Wait until a range request answers. */
    fx_err_t err;
    const char *eps[] = {endpoint};
    fx_kv_t *kv = fx_kv_etcd_new(eps, 1, 500, &err);
    fx_buf_t v = FX_BUF_INIT;
    for (int i = 0; i < 200; i++) {
        int rc = fx_kv_get(kv, "probe", &v, NULL, &err);
        if (rc == FX_ENOTFOUND || rc == FX_OK)
            break;
        usleep(50000);
    }
    fx_buf_free(&v);
    fx_kv_close(kv);
}

static void stop_etcd(void)
{
    if (etcd_pid > 0) {
        kill(etcd_pid, SIGTERM);
        waitpid(etcd_pid, NULL, 0);
        etcd_pid = 0;
    }
}

static int setup(void **state)
{
    (void)state;
    if (system("command -v etcd >/dev/null 2>&1") != 0) {
        fprintf(stderr, "etcd is not installed (make test installs etcd-server)\n");
        return -1;
    }
    if (!mkdtemp(dir))
        return -1;
    client_port = free_port();
    peer_port = free_port();
    snprintf(endpoint, sizeof endpoint, "127.0.0.1:%d", client_port);
    start_etcd();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    stop_etcd();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static fx_kv_t *connect_kv(void)
{
    const char *eps[] = {"127.0.0.1:1", endpoint}; /* the first is dead: must rotate */
    fx_err_t err;
    return fx_kv_etcd_new(eps, 2, 2000, &err);
}

static void count_fn(const fx_kv_entry_t *e, void *ctx)
{
    (void)e;
    ++*(int *)ctx;
}

static void test_cas_get_list_del(void **state)
{
    (void)state;
    fx_kv_t *kv = connect_kv();
    fx_err_t err = {0};
    int64_t v1, v2, got;
    fx_buf_t out = FX_BUF_INIT;
    assert_int_equal(fx_kv_cas(kv, "t1/a", "x", 1, FX_KV_ABSENT, &v1, &err), FX_OK);
    assert_int_equal(fx_kv_cas(kv, "t1/a", "y", 1, FX_KV_ABSENT, NULL, &err), FX_EPRECOND);
    assert_int_equal(fx_kv_cas(kv, "t1/a", "y", 1, v1, &v2, &err), FX_OK);
    assert_true(v2 > v1);
    assert_int_equal(fx_kv_cas(kv, "t1/a", "z", 1, v1, NULL, &err), FX_EPRECOND);
    assert_int_equal(fx_kv_get(kv, "t1/a", &out, &got, &err), FX_OK);
    assert_true(got == v2);
    assert_memory_equal(out.data, "y", 1);
    assert_int_equal(fx_kv_cas(kv, "t1/b", "\x00\xff", 2, FX_KV_ANY, NULL, &err), FX_OK);
    assert_int_equal(fx_kv_cas(kv, "t2/c", "w", 1, FX_KV_ANY, NULL, &err), FX_OK);
    int count = 0;
    assert_int_equal(fx_kv_list(kv, "t1/", count_fn, &count, &err), FX_OK);
    assert_int_equal(count, 2);
    assert_int_equal(fx_kv_del(kv, "t1/a", v1, &err), FX_EPRECOND);
    assert_int_equal(fx_kv_del(kv, "t1/a", v2, &err), FX_OK);
    assert_int_equal(fx_kv_get(kv, "t1/a", &out, NULL, &err), FX_ENOTFOUND);
    assert_int_equal(fx_kv_del(kv, "t1/a", FX_KV_ANY, &err), FX_ENOTFOUND);
    fx_buf_free(&out);
    fx_kv_close(kv);
}

typedef struct seen {
    pthread_mutex_t mu;
    char last[64];
    int puts, dels;
} seen_t;

static void on_watch(const fx_kv_entry_t *e, void *ctx)
{
    seen_t *s = ctx;
    pthread_mutex_lock(&s->mu);
    snprintf(s->last, sizeof s->last, "%s", e->key);
    if (e->deleted)
        s->dels++;
    else
        s->puts++;
    pthread_mutex_unlock(&s->mu);
}

static int wait_for(seen_t *s, int puts, int dels)
{
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&s->mu);
        int ok = s->puts >= puts && s->dels >= dels;
        pthread_mutex_unlock(&s->mu);
        if (ok)
            return 1;
        usleep(50000);
    }
    return 0;
}

static void test_watch_and_restart(void **state)
{
    (void)state;
    fx_kv_t *kv = connect_kv(), *writer = connect_kv();
    fx_err_t err = {0};
    seen_t s = {PTHREAD_MUTEX_INITIALIZER, "", 0, 0};
    assert_int_equal(fx_kv_cas(writer, "w/pre", "1", 1, FX_KV_ANY, NULL, &err), FX_OK);
    assert_int_equal(fx_kv_watch(kv, "w/", on_watch, &s, &err), FX_OK);
    assert_true(wait_for(&s, 1, 0)); /* the initial listing reports w/pre */
    assert_int_equal(fx_kv_cas(writer, "w/x", "1", 1, FX_KV_ANY, NULL, &err), FX_OK);
    assert_true(wait_for(&s, 2, 0));
    assert_int_equal(fx_kv_del(writer, "w/x", FX_KV_ANY, &err), FX_OK);
    assert_true(wait_for(&s, 2, 1));

    /* Stop etcd, change nothing we can see, restart, then change things:
     * the watcher must converge. */
    stop_etcd();
    usleep(300000);
    start_etcd();
    assert_int_equal(fx_kv_del(writer, "w/pre", FX_KV_ANY, &err), FX_OK);
    assert_int_equal(fx_kv_cas(writer, "w/y", "2", 1, FX_KV_ANY, NULL, &err), FX_OK);
    assert_true(wait_for(&s, 3, 2));
    fx_kv_close(kv);
    fx_kv_close(writer);
}

/* A ring keeps an instance healthy while etcd is away and right after it
 * comes back (before the instance's next heartbeat can arrive), and still
 * finds it dead a heartbeat timeout after the recovery. */
static void test_ring_across_outage(void **state)
{
    (void)state;
    fx_kv_t *kv = connect_kv();
    fx_err_t err = {0};
    fx_ring_options_t o = {"outage", 1000};
    fx_ring_t *r = fx_ring_new(kv, "ingester", &o, &err);
    uint32_t tok = 42;
    fx_ring_instance_t in = {.state = FX_RING_ACTIVE, .tokens = &tok, .ntokens = 1};
    snprintf(in.id, sizeof in.id, "i1");
    snprintf(in.addr, sizeof in.addr, "127.0.0.1:1");
    in.heartbeat_ms = fx_now_ms();
    fx_buf_t v = FX_BUF_INIT, key = FX_BUF_INIT;
    fx_ring_instance_encode(&in, &v);
    fx_ring_key("outage", "ingester", "i1", &key);
    assert_int_equal(fx_kv_cas(kv, fx_buf_cstr(&key), v.data, v.len, FX_KV_ANY, NULL, &err), FX_OK);
    fx_ring_snapshot_t *s = NULL;
    for (int i = 0; i < 100; i++) {
        s = fx_ring_acquire(r);
        if (s->ninstances == 1)
            break;
        fx_ring_release(r, s);
        s = NULL;
        usleep(20000);
    }
    assert_non_null(s);
    assert_true(fx_ring_healthy(r, &s->instances[0], FX_RING_OP_READ, fx_now_ms()));

    stop_etcd();
    assert_int_equal(fx_kv_get(kv, "probe", &v, NULL, &err), FX_EUNAVAIL);
    usleep(1500000); /* longer than the timeout */
    assert_true(fx_kv_unreachable_since(kv) > 0);
    assert_true(fx_ring_healthy(r, &s->instances[0], FX_RING_OP_READ, fx_now_ms()));

    start_etcd();
    int rc = fx_kv_get(kv, "probe", &v, NULL, &err);
    assert_true(rc == FX_ENOTFOUND || rc == FX_OK);
    assert_int_equal(fx_kv_unreachable_since(kv), 0);
    int64_t a, b;
    fx_kv_last_outage(kv, &a, &b);
    assert_true(a > 0 && b > a);
    /* Back, and no heartbeat since: the outage does not count. */
    assert_true(fx_ring_healthy(r, &s->instances[0], FX_RING_OP_READ, fx_now_ms()));
    /* Dead for real: a timeout after the recovery it is unhealthy. */
    assert_false(fx_ring_healthy(r, &s->instances[0], FX_RING_OP_READ, fx_now_ms() + 1100));
    fx_ring_release(r, s);
    fx_kv_close(kv); /* stops the watch before the ring goes */
    fx_ring_free(r);
    fx_buf_free(&v);
    fx_buf_free(&key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cas_get_list_del),
        cmocka_unit_test(test_watch_and_restart),
        cmocka_unit_test(test_ring_across_outage),
    };
    return cmocka_run_group_tests_name("kv_etcd", tests, setup, teardown);
}
