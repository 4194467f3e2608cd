/* test_core.c - unit tests for libcommon/core and the tree core. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/gz.h"
#include "core/hash.h"
#include "core/mem.h"
#include "core/strtab.h"
#include "model/tree.h"

static void test_varint_roundtrip(void **state)
{
    (void)state;
    fx_buf_t b = FX_BUF_INIT;
    const uint64_t vals[] = {0, 1, 127, 128, 300, UINT32_MAX, UINT64_MAX};
    for (size_t i = 0; i < FX_ARRAY_LEN(vals); i++)
        fx_buf_uvarint(&b, vals[i]);
    fx_buf_svarint(&b, -5);
    const uint8_t *p = b.data, *end = b.data + b.len;
    for (size_t i = 0; i < FX_ARRAY_LEN(vals); i++) {
        uint64_t v;
        assert_int_equal(fx_uvarint(&p, end, &v), 0);
        assert_true(v == vals[i]);
    }
    uint64_t z = 0;
    assert_int_equal(fx_uvarint(&p, end, &z), 0);
    assert_int_equal(fx_unzigzag(z), -5);
    assert_int_equal(fx_uvarint(&p, end, &z), -1); /* nothing left */
    fx_buf_free(&b);
}

static void test_map64(void **state)
{
    (void)state;
    fx_map64_t m;
    fx_map64_init(&m);
    for (uint64_t k = 0; k < 10000; k++)
        *fx_map64_put(&m, k * 7919, NULL) = k;
    assert_int_equal(m.len, 10000);
    for (uint64_t k = 0; k < 10000; k++)
        assert_true(*fx_map64_get(&m, k * 7919) == k);
    assert_null(fx_map64_get(&m, 1));
    fx_map64_free(&m);
}

static void test_strtab(void **state)
{
    (void)state;
    fx_strtab_t t;
    fx_strtab_init(&t);
    assert_int_equal(fx_strtab_intern(&t, "a", 1), 0);
    assert_int_equal(fx_strtab_intern(&t, "bb", 2), 1);
    assert_int_equal(fx_strtab_intern(&t, "a", 1), 0);
    assert_int_equal(fx_strtab_find(&t, "bb", 2), 1);
    assert_int_equal(fx_strtab_find(&t, "c", 1), -1);
    char name[16];
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(name, sizeof name, "f%d", i);
        fx_strtab_intern(&t, name, (size_t)n);
    }
    assert_string_equal(fx_strtab_get(&t, 1), "bb");
    assert_string_equal(fx_strtab_get(&t, 2 + 4321), "f4321");
    fx_strtab_free(&t);
}

static void test_gzip_roundtrip_and_limits(void **state)
{
    (void)state;
    uint8_t in[10000];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i % 251);
    fx_buf_t gz = FX_BUF_INIT, out = FX_BUF_INIT;
    fx_err_t err = {0};
    fx_gzip(in, sizeof in, 6, &gz);
    assert_true(fx_gz_is_gzip(gz.data, gz.len));
    assert_int_equal(fx_gunzip(gz.data, gz.len, 1 << 20, &out, &err), FX_OK);
    assert_int_equal(out.len, sizeof in);
    assert_memory_equal(out.data, in, sizeof in);
    out.len = 0;
    assert_int_equal(fx_gunzip(gz.data, gz.len, 100, &out, &err), FX_ETOOBIG);
    out.len = 0;
    assert_int_equal(fx_gunzip(gz.data, gz.len - 5, 1 << 20, &out, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "gzip"));
    fx_buf_free(&gz);
    fx_buf_free(&out);
}

static void test_arena(void **state)
{
    (void)state;
    fx_arena_t a;
    fx_arena_init(&a);
    for (int i = 0; i < 1000; i++) {
        char *s = fx_arena_printf(&a, "item-%d", i);
        assert_string_equal(s, i == 0 ? "item-0" : s);
    }
    void *big = fx_arena_alloc(&a, 3 << 20);
    memset(big, 1, 3 << 20);
    fx_arena_free(&a);
}

static void test_tree_totals_and_merge(void **state)
{
    (void)state;
    fx_tree_t a, b;
    fx_tree_init(&a);
    fx_tree_init(&b);
    uint32_t m = fx_tree_name(&a, "main", 4), f = fx_tree_name(&a, "foo", 3);
    uint32_t s1[] = {m, f}, s2[] = {m};
    fx_tree_add_stack(&a, s1, 2, 3);
    fx_tree_add_stack(&a, s2, 1, 1);
    uint32_t bm = fx_tree_name(&b, "main", 4), bb = fx_tree_name(&b, "bar", 3);
    uint32_t s3[] = {bm, bb};
    fx_tree_add_stack(&b, s3, 2, 2);
    fx_tree_merge(&a, &b);
    fx_tree_compute_totals(&a);
    assert_int_equal(a.nodes[FX_TREE_ROOT].total, 6);
    uint32_t main_node = fx_tree_find_child(&a, FX_TREE_ROOT, m);
    assert_int_equal(a.nodes[main_node].total, 6);
    assert_int_equal(a.nodes[main_node].self, 1);
    assert_int_equal(fx_tree_total(&a), 6);
    fx_tree_free(&a);
    fx_tree_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varint_roundtrip),
        cmocka_unit_test(test_map64),
        cmocka_unit_test(test_strtab),
        cmocka_unit_test(test_gzip_roundtrip_and_limits),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_tree_totals_and_merge),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
