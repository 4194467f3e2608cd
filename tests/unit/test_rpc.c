/*
 * test_rpc.c - libcommon/rpc: a real gRPC server on an ephemeral loopback
 * port and real clients, exchanging real messages (a Go CPU pprof fixture in
 * an ingester.v1.PushRequest).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/gz.h"
#include "core/time.h"
#include "ingester/v1/ingester.pb-c.h"
#include "rpc/rpc.h"

#define M_PUSH "/ingester.v1.IngesterService/Push"
#define M_ECHO "/test.v1.Test/Echo"
#define M_FAIL "/test.v1.Test/Fail"
#define M_SLEEP "/test.v1.Test/Sleep"
#define M_INFO "/test.v1.Test/Info"

static fx_rpc_server_t *srv;
static fx_rpc_client_t *cli;
static char target[64];
static fx_buf_t pprof = FX_BUF_INIT; /* the uncompressed fixture */
static atomic_int pushes;
static atomic_int sleeps_done;

/* ---- handlers ------------------------------------------------------------ */

static int h_push(fx_call_t *call, const ProtobufCMessage *req, ProtobufCMessage **resp,
                  fx_err_t *err)
{
    const Ingester__V1__PushRequest *r = (const Ingester__V1__PushRequest *)req;
    if (r->n_profiles != 1 || r->profiles[0]->pprof.len != pprof.len ||
        memcmp(r->profiles[0]->pprof.data, pprof.data, pprof.len) != 0)
        return fx_err_set(err, FX_EINVAL, "push: the pprof bytes differ");
    atomic_fetch_add(&pushes, 1);
    Ingester__V1__PushResponse *out = fx_arena_alloc(call->arena, sizeof *out);
    ingester__v1__push_response__init(out);
    *resp = &out->base;
    return FX_OK;
}

/* Returns the request unchanged (it already lives in the call's arena). */
static int h_echo(fx_call_t *call, const ProtobufCMessage *req, ProtobufCMessage **resp,
                  fx_err_t *err)
{
    (void)call;
    (void)err;
    *resp = (ProtobufCMessage *)req;
    return FX_OK;
}

/* Fails with the FX code given in profiles[0].time_nanos. */
static int h_fail(fx_call_t *call, const ProtobufCMessage *req, ProtobufCMessage **resp,
                  fx_err_t *err)
{
    (void)call;
    (void)resp;
    const Ingester__V1__PushRequest *r = (const Ingester__V1__PushRequest *)req;
    int code = (int)r->profiles[0]->time_nanos;
    return fx_err_set(err, code, "label \"%s\" is bad (code %d)", r->profiles[0]->id, code);
}

/* Sleeps profiles[0].time_nanos milliseconds, then echoes. */
static int h_sleep(fx_call_t *call, const ProtobufCMessage *req, ProtobufCMessage **resp,
                   fx_err_t *err)
{
    const Ingester__V1__PushRequest *r = (const Ingester__V1__PushRequest *)req;
    usleep((useconds_t)r->profiles[0]->time_nanos * 1000);
    atomic_fetch_add(&sleeps_done, 1);
    return h_echo(call, req, resp, err);
}

/* Answers with what the transport told the handler: tenant in id, the
 * tenant header read back case-insensitively in a label, the remaining
 * deadline in ms in time_nanos (-1 = none). */
static int h_info(fx_call_t *call, const ProtobufCMessage *req, ProtobufCMessage **resp,
                  fx_err_t *err)
{
    (void)req;
    (void)err;
    fx_arena_t *a = call->arena;
    Ingester__V1__PushRequest *out = fx_arena_alloc(a, sizeof *out);
    ingester__v1__push_request__init(out);
    Ingester__V1__SeriesProfile *p = fx_arena_alloc(a, sizeof *p);
    ingester__v1__series_profile__init(p);
    Types__V1__LabelPair *l = fx_arena_alloc(a, sizeof *l);
    types__v1__label_pair__init(l);
    const char *h = fx_call_header(call, "X-Scope-OrgID");
    l->name = "header";
    l->value = (char *)(h ? h : "(none)");
    p->labels = fx_arena_alloc(a, sizeof *p->labels);
    p->labels[0] = l;
    p->n_labels = 1;
    p->id = (char *)call->tenant;
    p->time_nanos = call->deadline_ns ? (call->deadline_ns - fx_mono_ns()) / 1000000 : -1;
    out->profiles = fx_arena_alloc(a, sizeof *out->profiles);
    out->profiles[0] = p;
    out->n_profiles = 1;
    *resp = &out->base;
    return FX_OK;
}

/* ---- helpers ------------------------------------------------------------- */

typedef struct req {
    Ingester__V1__PushRequest r;
    Ingester__V1__SeriesProfile p, *pp;
    Types__V1__LabelPair l[2], *lp[2];
} req_t;

static void req_init(req_t *q, const char *id, int64_t n, const void *data, size_t len)
{
    ingester__v1__push_request__init(&q->r);
    ingester__v1__series_profile__init(&q->p);
    for (int i = 0; i < 2; i++) {
        types__v1__label_pair__init(&q->l[i]);
        q->lp[i] = &q->l[i];
    }
    q->l[0].name = "__name__";
    q->l[0].value = "process_cpu";
    q->l[1].name = "service_name";
    q->l[1].value = "test-svc";
    q->p.labels = q->lp;
    q->p.n_labels = 2;
    q->p.id = (char *)id;
    q->p.time_nanos = n;
    q->p.pprof.data = (uint8_t *)data;
    q->p.pprof.len = len;
    q->pp = &q->p;
    q->r.profiles = &q->pp;
    q->r.n_profiles = 1;
}

static int call(fx_rpc_client_t *c, const char *method, const char *tenant, req_t *q,
                fx_arena_t *a, Ingester__V1__PushRequest **out, int64_t timeout_ms, fx_err_t *err)
{
    ProtobufCMessage *resp = NULL;
    int rc = fx_rpc_invoke(c, method, tenant, &q->r.base, &ingester__v1__push_request__descriptor,
                           a, &resp, timeout_ms, err);
    *out = (Ingester__V1__PushRequest *)resp;
    return rc;
}

static int register_all(fx_rpc_server_t *s)
{
    const ProtobufCMessageDescriptor *pr = &ingester__v1__push_request__descriptor;
    fx_err_t err = {0};
    assert_int_equal(fx_rpc_server_register(s, M_PUSH, pr, &ingester__v1__push_response__descriptor,
                                            h_push, NULL, &err),
                     FX_OK);
    assert_int_equal(fx_rpc_server_register(s, M_ECHO, pr, pr, h_echo, NULL, &err), FX_OK);
    assert_int_equal(fx_rpc_server_register(s, M_FAIL, pr, pr, h_fail, NULL, &err), FX_OK);
    assert_int_equal(fx_rpc_server_register(s, M_SLEEP, pr, pr, h_sleep, NULL, &err), FX_OK);
    assert_int_equal(fx_rpc_server_register(s, M_INFO, pr, pr, h_info, NULL, &err), FX_OK);
    return 0;
}

static fx_rpc_server_t *start_server(int threads, size_t max_msg)
{
    fx_rpc_server_t *s = NULL;
    fx_err_t err = {0};
    int rc = fx_rpc_server_new("127.0.0.1:0", threads, max_msg, &s, &err);
    if (rc != FX_OK)
        fail_msg("server: %s", err.msg);
    assert_true(fx_rpc_server_port(s) > 0);
    register_all(s);
    assert_int_equal(fx_rpc_server_start(s, &err), FX_OK);
    return s;
}

/* A loopback port nobody listens on: bind, read the port, close. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static int setup(void **state)
{
    (void)state;
    FILE *f = fopen("../shared/fixtures/pprof/go-cpu.pb.gz", "rb");
    if (!f)
        fail_msg("cannot open ../shared/fixtures/pprof/go-cpu.pb.gz (run from the repo root)");
    fx_buf_t gz = FX_BUF_INIT;
    uint8_t chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fx_buf_append(&gz, chunk, n);
    fclose(f);
    fx_err_t err = {0};
    assert_int_equal(fx_gunzip(gz.data, gz.len, 64 << 20, &pprof, &err), FX_OK);
    assert_true(pprof.len > 1000);
    fx_buf_free(&gz);

    srv = start_server(4, 0);
    snprintf(target, sizeof target, "127.0.0.1:%d", fx_rpc_server_port(srv));
    cli = fx_rpc_client_new(target);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fx_rpc_client_free(cli);
    fx_rpc_server_stop(srv, 1000);
    fx_rpc_server_free(srv);
    fx_buf_free(&pprof);
    return 0;
}

/* ---- tests --------------------------------------------------------------- */

static void test_push_roundtrip(void **state)
{
    (void)state;
    req_t q;
    fx_arena_t a;
    fx_err_t err = {0};
    ProtobufCMessage *resp = NULL;
    int before = atomic_load(&pushes);

    fx_arena_init(&a);
    req_init(&q, "2c5d4e1f-0000-4000-8000-000000000001", 1700000000000000000, pprof.data,
             pprof.len);
    int rc = fx_rpc_invoke(cli, M_PUSH, "acme", &q.r.base, &ingester__v1__push_response__descriptor,
                           &a, &resp, 5000, &err);
    if (rc != FX_OK)
        fail_msg("push: %s", err.msg);
    assert_non_null(resp);
    assert_ptr_equal(resp->descriptor, &ingester__v1__push_response__descriptor);
    assert_int_equal(atomic_load(&pushes), before + 1);

    /* The echo comes back field for field. */
    Ingester__V1__PushRequest *out;
    assert_int_equal(call(cli, M_ECHO, "acme", &q, &a, &out, 5000, &err), FX_OK);
    assert_int_equal(out->n_profiles, 1);
    Ingester__V1__SeriesProfile *p = out->profiles[0];
    assert_string_equal(p->id, q.p.id);
    assert_true(p->time_nanos == q.p.time_nanos);
    assert_int_equal(p->n_labels, 2);
    assert_string_equal(p->labels[1]->name, "service_name");
    assert_string_equal(p->labels[1]->value, "test-svc");
    assert_int_equal(p->pprof.len, pprof.len);
    assert_memory_equal(p->pprof.data, pprof.data, pprof.len);
    fx_arena_free(&a);
}

/* 20 MiB each way: many HTTP/2 frames, so the multi-slice unpack path. */
static void test_big_message(void **state)
{
    (void)state;
    size_t n = 20u << 20;
    uint8_t *big = fx_malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (uint8_t)(i * 2654435761u >> 13);
    req_t q;
    fx_arena_t a;
    fx_err_t err = {0};
    Ingester__V1__PushRequest *out;
    fx_arena_init(&a);
    req_init(&q, "big", 0, big, n);
    int rc = call(cli, M_ECHO, NULL, &q, &a, &out, 30000, &err);
    if (rc != FX_OK)
        fail_msg("big echo: %s", err.msg);
    assert_int_equal(out->profiles[0]->pprof.len, n);
    assert_memory_equal(out->profiles[0]->pprof.data, big, n);
    fx_arena_free(&a);
    free(big);
}

static void test_message_limit(void **state)
{
    (void)state;
    fx_rpc_server_t *s = start_server(1, 1 << 20);
    char t[64];
    snprintf(t, sizeof t, "127.0.0.1:%d", fx_rpc_server_port(s));
    fx_rpc_client_t *c = fx_rpc_client_new(t);
    uint8_t *two = fx_calloc(2, 1 << 20);
    req_t q;
    fx_arena_t a;
    fx_err_t err = {0};
    Ingester__V1__PushRequest *out;
    fx_arena_init(&a);
    req_init(&q, "x", 0, two, 2 << 20);
    assert_int_equal(call(c, M_ECHO, NULL, &q, &a, &out, 5000, &err), FX_ELIMIT);
    assert_non_null(strstr(err.msg, t));
    /* A small call still works on the same channel. */
    req_init(&q, "x", 0, two, 100);
    assert_int_equal(call(c, M_ECHO, NULL, &q, &a, &out, 5000, &err), FX_OK);
    fx_arena_free(&a);
    free(two);
    fx_rpc_client_free(c);
    fx_rpc_server_free(s);
}

static void test_tenant_header_deadline(void **state)
{
    (void)state;
    req_t q;
    fx_arena_t a;
    fx_err_t err = {0};
    Ingester__V1__PushRequest *out;
    fx_arena_init(&a);
    req_init(&q, "", 0, NULL, 0);

    assert_int_equal(call(cli, M_INFO, "tenant-42", &q, &a, &out, 5000, &err), FX_OK);
    assert_string_equal(out->profiles[0]->id, "tenant-42");
    assert_string_equal(out->profiles[0]->labels[0]->value, "tenant-42");
    /* gRPC rounds the timeout it sends up to its wire units. */
    assert_true(out->profiles[0]->time_nanos > 3000 && out->profiles[0]->time_nanos <= 5100);

    assert_int_equal(call(cli, M_INFO, NULL, &q, &a, &out, 0, &err), FX_OK);
    assert_string_equal(out->profiles[0]->id, "anonymous");
    assert_string_equal(out->profiles[0]->labels[0]->value, "(none)");
    assert_true(out->profiles[0]->time_nanos == -1);
    fx_arena_free(&a);
}

static void test_error_propagation(void **state)
{
    (void)state;
    static const int codes[] = {FX_EINVAL,  FX_ENOTFOUND, FX_EEXIST,    FX_ELIMIT,
                                FX_EUNAVAIL, FX_EINTERNAL, FX_ETOOBIG,   FX_EUNAUTH,
                                FX_EUNIMPL, FX_EIO,       FX_ECORRUPT,  FX_EDEADLINE,
                                FX_ECANCELED, FX_EPRECOND, FX_EPERM};
    fx_arena_t a;
    fx_arena_init(&a);
    for (size_t i = 0; i < FX_ARRAY_LEN(codes); i++) {
        req_t q;
        fx_err_t err = {0};
        Ingester__V1__PushRequest *out = NULL;
        char want[FX_ERR_MSG_MAX];
        req_init(&q, "service_name", codes[i], NULL, 0);
        assert_int_equal(call(cli, M_FAIL, NULL, &q, &a, &out, 5000, &err), codes[i]);
        assert_null(out);
        assert_int_equal(err.code, codes[i]);
        snprintf(want, sizeof want, "%s: label \"service_name\" is bad (code %d)", target,
                 codes[i]);
        assert_string_equal(err.msg, want);
    }
    fx_arena_free(&a);
}

static void test_status_mapping(void **state)
{
    (void)state;
    for (int c = FX_EPERM; c <= FX_OK; c++) {
        int g = fx_rpc_status_from_fx(c);
        assert_true(g >= 0 && g <= 16);
        int back = fx_rpc_status_to_fx(g);
        /* Codes that share a gRPC code map back to their representative. */
        if (c == FX_ETOOBIG)
            assert_int_equal(back, FX_ELIMIT);
        else if (c == FX_EIO)
            assert_int_equal(back, FX_EINTERNAL);
        else
            assert_int_equal(back, c);
    }
    assert_int_equal(fx_rpc_status_to_fx(2 /* UNKNOWN */), FX_EINTERNAL);
    assert_int_equal(fx_rpc_status_to_fx(99), FX_EINTERNAL);
}

static void test_deadline_exceeded(void **state)
{
    (void)state;
    req_t q;
    fx_arena_t a;
    fx_err_t err = {0};
    Ingester__V1__PushRequest *out;
    fx_arena_init(&a);
    req_init(&q, "slow", 600, NULL, 0);
    int64_t t0 = fx_mono_ns();
    assert_int_equal(call(cli, M_SLEEP, NULL, &q, &a, &out, 100, &err), FX_EDEADLINE);
    int64_t ms = (fx_mono_ns() - t0) / 1000000;
    assert_true(ms >= 90 && ms < 500);
    assert_non_null(strstr(err.msg, target));
    fx_arena_free(&a);
    usleep(600 * 1000); /* let the handler finish before other tests count */
}

static void test_unimplemented(void **state)
{
    (void)state;
    req_t q;
    fx_arena_t a;
    fx_err_t err = {0};
    Ingester__V1__PushRequest *out;
    fx_arena_init(&a);
    req_init(&q, "x", 0, NULL, 0);
    int64_t t0 = fx_mono_ns();
    assert_int_equal(call(cli, "/test.v1.Test/Nope", NULL, &q, &a, &out, 5000, &err),
                     FX_EUNIMPL);
    assert_true(fx_mono_ns() - t0 < 2000000000LL);
    assert_non_null(strstr(err.msg, "unknown method /test.v1.Test/Nope"));
    fx_arena_free(&a);
}

static void test_register_twice(void **state)
{
    (void)state;
    fx_rpc_server_t *s;
    fx_err_t err = {0};
    assert_int_equal(fx_rpc_server_new("127.0.0.1:0", 1, 0, &s, &err), FX_OK);
    register_all(s);
    assert_int_equal(fx_rpc_server_register(s, M_ECHO, &ingester__v1__push_request__descriptor,
                                            &ingester__v1__push_request__descriptor, h_echo,
                                            NULL, &err),
                     FX_EEXIST);
    assert_non_null(strstr(err.msg, M_ECHO));
    fx_rpc_server_free(s); /* never started */
}

static void test_port_in_use(void **state)
{
    (void)state;
    fx_rpc_server_t *s = NULL;
    fx_err_t err = {0};
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", fx_rpc_server_port(srv));
    assert_int_equal(fx_rpc_server_new(addr, 1, 0, &s, &err), FX_EUNAVAIL);
    assert_null(s);
    assert_non_null(strstr(err.msg, addr));
}

typedef struct worker_arg {
    fx_rpc_client_t *c;
    int id, calls, ok, failed, bad;
    const char *method;
    int64_t sleep_ms;
    atomic_int *stop;
} worker_arg_t;

static void *hammer(void *p)
{
    worker_arg_t *w = p;
    fx_arena_t a;
    fx_arena_init(&a);
    for (int i = 0; i < w->calls && !(w->stop && atomic_load(w->stop)); i++) {
        char id[64], tenant[32];
        uint8_t payload[256];
        req_t q;
        fx_err_t err = {0};
        Ingester__V1__PushRequest *out = NULL;
        snprintf(id, sizeof id, "w%d-c%d", w->id, i);
        snprintf(tenant, sizeof tenant, "t%d", w->id);
        size_t len = (size_t)(i % 256);
        memset(payload, w->id * 31 + i, len);
        req_init(&q, id, w->sleep_ms, payload, len);
        int rc = call(w->c, w->method, tenant, &q, &a, &out, 10000, &err);
        if (rc == FX_OK) {
            Ingester__V1__SeriesProfile *r = out->profiles[0];
            if (strcmp(r->id, id) != 0 || r->pprof.len != len ||
                (len && memcmp(r->pprof.data, payload, len) != 0))
                w->bad++;
            else
                w->ok++;
        } else {
            if (rc != FX_EUNAVAIL && rc != FX_ECANCELED)
                print_message("unexpected error %d: %s\n", rc, err.msg);
            w->failed++;
        }
        fx_arena_free(&a);
    }
    return NULL;
}

static void test_concurrent_calls(void **state)
{
    (void)state;
    enum { N = 8, CALLS = 300 };
    pthread_t th[N];
    worker_arg_t w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (worker_arg_t){.c = cli, .id = i, .calls = CALLS, .method = M_ECHO};
        pthread_create(&th[i], NULL, hammer, &w[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].ok, CALLS);
        assert_int_equal(w[i].bad, 0);
        assert_int_equal(w[i].failed, 0);
    }
}

static void test_stop_while_calling(void **state)
{
    (void)state;
    enum { N = 6 };
    fx_rpc_server_t *s = start_server(2, 0);
    char t[64];
    snprintf(t, sizeof t, "127.0.0.1:%d", fx_rpc_server_port(s));
    fx_rpc_client_t *c = fx_rpc_client_new(t);
    pthread_t th[N];
    worker_arg_t w[N];
    atomic_int stop = 0;
    for (int i = 0; i < N; i++) {
        w[i] = (worker_arg_t){.c = c, .id = i, .calls = 1000000, .method = M_SLEEP,
                              .sleep_ms = 5, .stop = &stop};
        pthread_create(&th[i], NULL, hammer, &w[i]);
    }
    usleep(300 * 1000);
    int64_t t0 = fx_mono_ns();
    fx_rpc_server_stop(s, 2000);
    int64_t stop_ms = (fx_mono_ns() - t0) / 1000000;
    /* Calls now fail fast with UNAVAILABLE. */
    usleep(100 * 1000);
    int failed_before = 0;
    for (int i = 0; i < N; i++)
        failed_before += w[i].failed;
    usleep(300 * 1000);
    atomic_store(&stop, 1);
    int ok = 0, failed = 0, bad = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ok += w[i].ok;
        failed += w[i].failed;
        bad += w[i].bad;
    }
    assert_true(stop_ms < 2000); /* handlers are short: graceful, no cancel */
    assert_true(ok > 0);
    assert_true(failed > failed_before); /* still failing, promptly, after stop */
    assert_int_equal(bad, 0);

    /* The same client reaches a new server on another port... and the
     * stopped one stays dead with a prompt error. */
    req_t q;
    fx_arena_t a;
    fx_err_t err = {0};
    Ingester__V1__PushRequest *out;
    fx_arena_init(&a);
    req_init(&q, "x", 0, NULL, 0);
    int64_t t1 = fx_mono_ns();
    assert_int_equal(call(c, M_ECHO, NULL, &q, &a, &out, 5000, &err), FX_EUNAVAIL);
    assert_true(fx_mono_ns() - t1 < 2500000000LL);
    fx_arena_free(&a);
    fx_rpc_client_free(c);
    fx_rpc_server_free(s);
}

/* A call in flight when stop begins: with enough grace it completes; with
 * too little it is cancelled and the client hears about it. */
typedef struct one_call {
    fx_rpc_client_t *c;
    int64_t sleep_ms;
    int rc;
    fx_err_t err;
} one_call_t;

static void *one(void *p)
{
    one_call_t *o = p;
    req_t q;
    fx_arena_t a;
    Ingester__V1__PushRequest *out;
    fx_arena_init(&a);
    req_init(&q, "one", o->sleep_ms, NULL, 0);
    o->rc = call(o->c, M_SLEEP, NULL, &q, &a, &out, 10000, &o->err);
    fx_arena_free(&a);
    return NULL;
}

static void stop_during_call(int64_t grace_ms, int64_t sleep_ms, int want_ok)
{
    fx_rpc_server_t *s = start_server(1, 0);
    char t[64];
    snprintf(t, sizeof t, "127.0.0.1:%d", fx_rpc_server_port(s));
    fx_rpc_client_t *c = fx_rpc_client_new(t);
    one_call_t o = {.c = c, .sleep_ms = sleep_ms};
    pthread_t th;
    int done = atomic_load(&sleeps_done);
    pthread_create(&th, NULL, one, &o);
    usleep(150 * 1000); /* the handler is sleeping now */
    fx_rpc_server_stop(s, grace_ms);
    pthread_join(th, NULL);
    assert_int_equal(atomic_load(&sleeps_done), done + 1); /* the handler ran to the end */
    if (want_ok) {
        assert_int_equal(o.rc, FX_OK);
    } else {
        assert_true(o.rc == FX_ECANCELED || o.rc == FX_EUNAVAIL);
        assert_non_null(strstr(o.err.msg, t));
    }
    fx_rpc_client_free(c);
    fx_rpc_server_free(s);
}

static void test_graceful_stop(void **state)
{
    (void)state;
    stop_during_call(3000, 400, 1);
}

static void test_stop_grace_expires(void **state)
{
    (void)state;
    stop_during_call(50, 400, 0);
}

static void test_closed_port_unavailable(void **state)
{
    (void)state;
    char t[64];
    snprintf(t, sizeof t, "127.0.0.1:%d", closed_port());
    fx_rpc_client_t *c = fx_rpc_client_new(t);
    for (int i = 0; i < 3; i++) { /* first connect and then in backoff */
        req_t q;
        fx_arena_t a;
        fx_err_t err = {0};
        Ingester__V1__PushRequest *out;
        fx_arena_init(&a);
        req_init(&q, "x", 0, NULL, 0);
        int64_t t0 = fx_mono_ns();
        assert_int_equal(call(c, M_ECHO, "acme", &q, &a, &out, 10000, &err), FX_EUNAVAIL);
        int64_t ms = (fx_mono_ns() - t0) / 1000000;
        assert_true(ms < 1000);
        assert_non_null(strstr(err.msg, t));
        fx_arena_free(&a);
    }
    fx_rpc_client_free(c);
}

/* A peer that comes back while the channel waits out its reconnect
 * backoff: revived (the ring saw it alive), the next calls reach it. */
static void test_revive_skips_backoff(void **state)
{
    (void)state;
    int port = closed_port();
    char t[64], addr[64];
    snprintf(t, sizeof t, "127.0.0.1:%d", port);
    fx_rpc_client_t *c = fx_rpc_client_new(t);
    req_t q;
    fx_arena_t a;
    fx_err_t err = {0};
    Ingester__V1__PushRequest *out;
    fx_arena_init(&a);
    req_init(&q, "x", 0, NULL, 0);
    /* About 3 s of failures grows the backoff to its 2 s cap. */
    for (int i = 0; i < 30; i++) {
        assert_int_equal(call(c, M_ECHO, NULL, &q, &a, &out, 5000, &err), FX_EUNAVAIL);
        usleep(100000);
    }
    fx_rpc_server_t *s = NULL;
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    assert_int_equal(fx_rpc_server_new(addr, 2, 0, &s, &err), FX_OK);
    register_all(s);
    assert_int_equal(fx_rpc_server_start(s, &err), FX_OK);
    /* A sign of life older than the failures changes nothing. */
    fx_rpc_client_revive(c, 1);
    fx_rpc_client_revive(c, fx_now_ms());
    int ok = 0, tries = 0;
    int64_t t0 = fx_mono_ns();
    while (!ok && fx_mono_ns() - t0 < 2500 * 1000000LL) {
        ok = call(c, M_ECHO, NULL, &q, &a, &out, 5000, &err) == FX_OK;
        tries++;
        if (!ok)
            usleep(10000);
    }
    /* The first call after the revive reaches it: no 2 s backoff to wait out. */
    assert_true(ok);
    assert_int_equal(tries, 1);
    fx_arena_free(&a);
    fx_rpc_client_free(c);
    fx_rpc_server_stop(s, 100);
    fx_rpc_server_free(s);
}

typedef struct pool_arg {
    fx_rpc_pool_t *pool;
    fx_rpc_client_t *got[16];
} pool_arg_t;

static void *pool_worker(void *p)
{
    pool_arg_t *pa = p;
    for (int round = 0; round < 50; round++)
        for (int i = 0; i < 16; i++) {
            char addr[32];
            snprintf(addr, sizeof addr, "127.0.0.%d:9095", i + 1);
            fx_rpc_client_t *c = fx_rpc_pool_get(pa->pool, addr);
            if (round == 0)
                pa->got[i] = c;
            else if (pa->got[i] != c)
                pa->got[i] = NULL;
        }
    return NULL;
}

static void test_pool(void **state)
{
    (void)state;
    fx_rpc_pool_t *pool = fx_rpc_pool_new(0);
    pool_arg_t pa[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        pa[i].pool = pool;
        pthread_create(&th[i], NULL, pool_worker, &pa[i]);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(fx_rpc_pool_size(pool), 16);
    for (int i = 0; i < 16; i++) {
        assert_non_null(pa[0].got[i]);
        for (int t = 1; t < 8; t++)
            assert_ptr_equal(pa[t].got[i], pa[0].got[i]);
    }
    char want[32];
    snprintf(want, sizeof want, "127.0.0.3:9095");
    assert_string_equal(fx_rpc_client_target(pa[0].got[2]), want);

    /* A pooled client really calls. */
    fx_rpc_client_t *c = fx_rpc_pool_get(pool, target);
    req_t q;
    fx_arena_t a;
    fx_err_t err = {0};
    Ingester__V1__PushRequest *out;
    fx_arena_init(&a);
    req_init(&q, "pooled", 0, NULL, 0);
    assert_int_equal(call(c, M_ECHO, NULL, &q, &a, &out, 5000, &err), FX_OK);
    assert_string_equal(out->profiles[0]->id, "pooled");
    assert_ptr_equal(fx_rpc_pool_get(pool, target), c);
    fx_arena_free(&a);
    fx_rpc_pool_free(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_roundtrip),
        cmocka_unit_test(test_big_message),
        cmocka_unit_test(test_message_limit),
        cmocka_unit_test(test_tenant_header_deadline),
        cmocka_unit_test(test_error_propagation),
        cmocka_unit_test(test_status_mapping),
        cmocka_unit_test(test_deadline_exceeded),
        cmocka_unit_test(test_unimplemented),
        cmocka_unit_test(test_register_twice),
        cmocka_unit_test(test_port_in_use),
        cmocka_unit_test(test_concurrent_calls),
        cmocka_unit_test(test_stop_while_calling),
        cmocka_unit_test(test_graceful_stop),
        cmocka_unit_test(test_stop_grace_expires),
        cmocka_unit_test(test_closed_port_unavailable),
        cmocka_unit_test(test_revive_skips_backoff),
        cmocka_unit_test(test_pool),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
