/* test_ring.c - memory KV, ring snapshots, replication sets, lifecycler. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/time.h"
#include "kv/kv.h"
#include "ring/lifecycler.h"
#include "ring/ring.h"

static void test_kv_cas(void **state)
{
    (void)state;
    fx_kv_t *kv = fx_kv_memory_new();
    fx_err_t err = {0};
    int64_t v1, v2;
    fx_buf_t out = FX_BUF_INIT;
    assert_int_equal(fx_kv_cas(kv, "a/x", "1", 1, FX_KV_ABSENT, &v1, &err), FX_OK);
    assert_int_equal(fx_kv_cas(kv, "a/x", "2", 1, FX_KV_ABSENT, &v2, &err), FX_EPRECOND);
    assert_int_equal(fx_kv_cas(kv, "a/x", "2", 1, v1, &v2, &err), FX_OK);
    assert_int_equal(fx_kv_cas(kv, "a/x", "3", 1, v1, NULL, &err), FX_EPRECOND); /* stale */
    assert_int_equal(fx_kv_get(kv, "a/x", &out, &v1, &err), FX_OK);
    assert_int_equal(v1, v2);
    assert_memory_equal(out.data, "2", 1);
    assert_int_equal(fx_kv_del(kv, "a/x", FX_KV_ANY, &err), FX_OK);
    assert_int_equal(fx_kv_get(kv, "a/x", &out, &v1, &err), FX_ENOTFOUND);
    fx_buf_free(&out);
    fx_kv_close(kv);
}

static void put_instance(fx_kv_t *kv, const char *id, const char *zone, fx_ring_state_t st,
                         const uint32_t *tokens, size_t n, int64_t hb)
{
    fx_ring_instance_t in;
    memset(&in, 0, sizeof in);
    snprintf(in.id, sizeof in.id, "%s", id);
    snprintf(in.addr, sizeof in.addr, "127.0.0.1:%s", id);
    snprintf(in.zone, sizeof in.zone, "%s", zone);
    in.state = st;
    in.heartbeat_ms = hb;
    in.tokens = (uint32_t *)tokens;
    in.ntokens = n;
    fx_buf_t key = FX_BUF_INIT, v = FX_BUF_INIT;
    fx_ring_key("fornax/rings", "ingester", id, &key);
    fx_ring_instance_encode(&in, &v);
    assert_int_equal(fx_kv_cas(kv, fx_buf_cstr(&key), v.data, v.len, FX_KV_ANY, NULL, NULL), FX_OK);
    fx_buf_free(&key);
    fx_buf_free(&v);
}

static void test_replicas(void **state)
{
    (void)state;
    fx_kv_t *kv = fx_kv_memory_new();
    fx_err_t err = {0};
    fx_ring_t *r = fx_ring_new(kv, "ingester", NULL, &err);
    int64_t now = fx_now_ms();
    const uint32_t ta[] = {100, 400}, tb[] = {200, 500}, tc[] = {300, 600};
    put_instance(kv, "a", "z1", FX_RING_ACTIVE, ta, 2, now);
    put_instance(kv, "b", "z1", FX_RING_ACTIVE, tb, 2, now);
    put_instance(kv, "c", "z2", FX_RING_ACTIVE, tc, 2, now);
    fx_ring_snapshot_t *s = fx_ring_acquire(r);
    assert_int_equal(s->ninstances, 3);
    assert_int_equal(s->ntokens, 6);
    uint32_t out[8];
    size_t n = fx_ring_replicas(s, 150, 2, 0, FX_RING_OP_WRITE, out);
    assert_int_equal(n, 2);
    assert_string_equal(s->instances[out[0]].id, "b"); /* 200 is the first token >= 150 */
    assert_string_equal(s->instances[out[1]].id, "c");
    n = fx_ring_replicas(s, 650, 3, 0, FX_RING_OP_WRITE, out); /* wraps to 100 */
    assert_int_equal(n, 3);
    assert_string_equal(s->instances[out[0]].id, "a");
    n = fx_ring_replicas(s, 150, 2, 1, FX_RING_OP_WRITE, out); /* zone aware: b(z1) then c(z2) */
    assert_string_equal(s->instances[out[0]].id, "b");
    assert_string_equal(s->instances[out[1]].id, "c");
    n = fx_ring_replicas(s, 350, 2, 1, FX_RING_OP_WRITE, out); /* a(z1) then skip b(z1): c */
    assert_string_equal(s->instances[out[0]].id, "a");
    assert_string_equal(s->instances[out[1]].id, "c");
    fx_ring_release(r, s);

    /* A leaving instance extends the write set; a stale one is unhealthy. */
    put_instance(kv, "b", "z1", FX_RING_LEAVING, tb, 2, now - 120000);
    s = fx_ring_acquire(r);
    n = fx_ring_replicas(s, 150, 2, 0, FX_RING_OP_WRITE, out);
    assert_int_equal(n, 3);
    assert_false(fx_ring_healthy(r, &s->instances[out[0]], FX_RING_OP_READ, now));
    fx_buf_t json = FX_BUF_INIT;
    fx_ring_render_json(r, s, now, &json);
    assert_non_null(strstr(fx_buf_cstr(&json), "\"id\":\"b\""));
    assert_non_null(strstr(fx_buf_cstr(&json), "\"healthy\":false"));
    fx_buf_free(&json);
    fx_ring_release(r, s);

    assert_int_equal(fx_ring_forget(r, "b", &err), FX_OK);
    s = fx_ring_acquire(r);
    assert_int_equal(s->ninstances, 2);
    fx_ring_release(r, s);
    fx_ring_free(r);
    fx_kv_close(kv);
}

static void test_lifecycler_keeps_tokens(void **state)
{
    (void)state;
    fx_kv_t *kv = fx_kv_memory_new();
    fx_err_t err = {0};
    fx_ring_t *r = fx_ring_new(kv, "ingester", NULL, &err);
    char path[] = "/tmp/fornax-tokens-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
    fx_ring_lifecycler_options_t o = {"ing-1", "127.0.0.1:9095", "", "", 16, path, 50, NULL};
    fx_ring_lifecycler_t *lc = fx_ring_lifecycler_start(r, &o, &err);
    assert_non_null(lc);
    assert_int_equal(fx_ring_lifecycler_set_state(lc, FX_RING_ACTIVE, &err), FX_OK);
    fx_ring_snapshot_t *s = fx_ring_acquire(r);
    assert_int_equal(s->ninstances, 1);
    assert_int_equal(s->instances[0].state, FX_RING_ACTIVE);
    assert_int_equal(s->ntokens, 16);
    uint32_t first = s->tokens[0].token;
    int64_t hb = s->instances[0].heartbeat_ms;
    fx_ring_release(r, s);
    usleep(200000); /* a few heartbeats */
    s = fx_ring_acquire(r);
    assert_true(s->instances[0].heartbeat_ms > hb);
    fx_ring_release(r, s);
    fx_ring_lifecycler_stop(lc, 1);
    s = fx_ring_acquire(r);
    assert_int_equal(s->ninstances, 0);
    fx_ring_release(r, s);

    /* Restart: tokens come back from the file. */
    lc = fx_ring_lifecycler_start(r, &o, &err);
    s = fx_ring_acquire(r);
    assert_int_equal(s->tokens[0].token, first);
    assert_int_equal(s->instances[0].state, FX_RING_JOINING);
    fx_ring_release(r, s);
    fx_ring_lifecycler_stop(lc, 1);
    unlink(path);
    fx_ring_free(r);
    fx_kv_close(kv);
}

static void test_corrupt_entries_are_skipped(void **state)
{
    (void)state;
    fx_kv_t *kv = fx_kv_memory_new();
    fx_err_t err = {0};
    fx_ring_t *r = fx_ring_new(kv, "ingester", NULL, &err);
    fx_kv_cas(kv, "fornax/rings/ingester/bad", "{not json", 9, FX_KV_ANY, NULL, &err);
    fx_kv_cas(kv, "fornax/rings/ingester/bad2", "{\"id\":\"x\",\"state\":\"NOPE\",\"tokens\":[]}", 37,
              FX_KV_ANY, NULL, &err);
    fx_ring_snapshot_t *s = fx_ring_acquire(r);
    assert_int_equal(s->ninstances, 0);
    fx_ring_release(r, s);
    fx_ring_free(r);
    fx_kv_close(kv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kv_cas),
        cmocka_unit_test(test_replicas),
        cmocka_unit_test(test_lifecycler_keeps_tokens),
        cmocka_unit_test(test_corrupt_entries_are_skipped),
    };
    return cmocka_run_group_tests_name("ring", tests, NULL, NULL);
}
