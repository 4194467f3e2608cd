/* test_treebytes.c - Pyroscope tree bytes: exact output, round trips, and a
 * strict reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "model/treebytes.h"
#include "model/truncate.h"
#include "tree_helpers.h"

static void assert_bytes(const fx_buf_t *b, const char *want, size_t n)
{
    if (b->len != n || memcmp(b->data, want, n) != 0) {
        char msg[512];
        size_t o = 0;
        for (size_t i = 0; i < b->len && o < sizeof msg - 4; i++)
            o += (size_t)snprintf(msg + o, sizeof msg - o, "%02x ", b->data[i]);
        fail_msg("bytes differ (got %zu, want %zu): %s", b->len, n, msg);
    }
}

/* The §3.3 tree, byte for byte as Pyroscope's MarshalTruncate writes it:
 * pre-order, children last-name-first. */
static void test_exact_bytes(void **state)
{
    (void)state;
    fx_tree_t t;
    th_tree_from_folded(&t, "main;foo;bar 3\nmain;foo 1\nmain;baz 2\n");
    fx_buf_t b = FX_BUF_INIT;
    assert_int_equal(fx_treebytes_write(&t, 0, &b, NULL), FX_OK);
    static const char want[] = "\x00\x00\x01"
                               "\x04main\x00\x02"
                               "\x03" "foo\x01\x01"
                               "\x03" "bar\x03\x00"
                               "\x03" "baz\x02\x00";
    assert_bytes(&b, want, sizeof want - 1);
    fx_buf_free(&b);
    fx_tree_free(&t);
}

/* Truncation folds cut siblings into "other" at its sorted place, merging
 * into an existing "other" child (kept whatever its size). */
static void test_truncation_bytes(void **state)
{
    (void)state;
    fx_tree_t t;
    th_tree_from_folded(&t, "r;a 50\nr;z 40\nr;b 2\nr;c 1\n");
    fx_buf_t b = FX_BUF_INIT;
    /* threshold = 3rd largest of {93, 50, 40, 2, 1} = 40 */
    assert_int_equal(fx_treebytes_write(&t, 3, &b, NULL), FX_OK);
    static const char want[] = "\x00\x00\x01"
                               "\x01r\x00\x03"
                               "\x01z\x28\x00"
                               "\x05other\x03\x00"
                               "\x01" "a\x32\x00";
    assert_bytes(&b, want, sizeof want - 1);
    fx_buf_free(&b);
    fx_tree_free(&t);

    b.len = 0;
    th_tree_from_folded(&t, "r;a 50\nr;z 40\nr;b 2\nr;other;x 1\n");
    assert_int_equal(fx_treebytes_write(&t, 3, &b, NULL), FX_OK);
    /* other (total 1) is kept because of its name and absorbs b (2); its
     * child x (1) is cut into an "other" of its own. */
    static const char want2[] = "\x00\x00\x01"
                                "\x01r\x00\x03"
                                "\x01z\x28\x00"
                                "\x05other\x02\x01"
                                "\x05other\x01\x00"
                                "\x01" "a\x32\x00";
    assert_bytes(&b, want2, sizeof want2 - 1);
    fx_tree_t back;
    fx_tree_init(&back);
    assert_int_equal(fx_treebytes_parse(&back, b.data, b.len, NULL), FX_OK);
    assert_int_equal(back.nodes[0].total, 93);
    fx_tree_t want_tree;
    fx_tree_init(&want_tree);
    fx_tree_truncate(&t, 3, &want_tree);
    assert_true(th_tree_equal(&back, &want_tree));
    fx_tree_free(&want_tree);
    fx_tree_free(&back);
    fx_buf_free(&b);
    fx_tree_free(&t);
}

static void test_roundtrip_random(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 15; seed++) {
        fx_tree_t t;
        th_random_tree(&t, 3000, 400, 16, seed);
        const int64_t ks[] = {0, 1, 7, 100, 2500, 100000};
        for (size_t i = 0; i < FX_ARRAY_LEN(ks); i++) {
            fx_buf_t b = FX_BUF_INIT;
            fx_err_t err = {0};
            assert_int_equal(fx_treebytes_write(&t, ks[i], &b, &err), FX_OK);
            fx_tree_t back, want;
            fx_tree_init(&back);
            fx_tree_init(&want);
            if (fx_treebytes_parse(&back, b.data, b.len, &err) != FX_OK)
                fail_msg("%s", err.msg);
            fx_tree_truncate(&t, ks[i], &want);
            assert_true(th_tree_equal(&back, &want));
            assert_int_equal(back.nodes[0].total, t.nodes[0].total);
            /* Writing what was read gives the same bytes again. */
            fx_buf_t b2 = FX_BUF_INIT;
            assert_int_equal(fx_treebytes_write(&back, 0, &b2, NULL), FX_OK);
            assert_int_equal(b2.len, b.len);
            assert_memory_equal(b2.data, b.data, b.len);
            fx_buf_free(&b2);
            fx_buf_free(&b);
            fx_tree_free(&back);
            fx_tree_free(&want);
        }
        fx_tree_free(&t);
    }
}

static void test_empty(void **state)
{
    (void)state;
    fx_tree_t t;
    fx_tree_init(&t);
    fx_tree_compute_totals(&t);
    fx_buf_t b = FX_BUF_INIT;
    assert_int_equal(fx_treebytes_write(&t, 0, &b, NULL), FX_OK);
    assert_int_equal(b.len, 0);
    assert_int_equal(fx_treebytes_parse(&t, (const uint8_t *)"", 0, NULL), FX_OK);
    assert_int_equal(t.len, 1);
    fx_tree_free(&t);
}

/* Children in any order, duplicate siblings merged, and merging into a
 * tree that already holds samples. */
static void test_merge_semantics(void **state)
{
    (void)state;
    static const char in[] = "\x00\x00\x03"
                             "\x01" "a\x01\x00"
                             "\x01" "b\x02\x01"
                             "\x01" "c\x04\x00"
                             "\x01" "a\x08\x00";
    fx_tree_t t;
    th_tree_from_folded(&t, "a 16\nb;c 32\n");
    assert_int_equal(fx_treebytes_parse(&t, (const uint8_t *)in, sizeof in - 1, NULL), FX_OK);
    fx_tree_t want;
    th_tree_from_folded(&want, "a 25\nb 2\nb;c 36\n");
    assert_true(th_tree_equal(&t, &want));
    fx_tree_free(&t);
    fx_tree_free(&want);
}

static void expect_error(const uint8_t *in, size_t n, const char *fragment)
{
    fx_tree_t t;
    fx_tree_init(&t);
    fx_err_t err = {0};
    assert_int_equal(fx_treebytes_parse(&t, in, n, &err), FX_EINVAL);
    if (!strstr(err.msg, fragment))
        fail_msg("error \"%s\" does not mention \"%s\"", err.msg, fragment);
    fx_tree_free(&t);
}

static void test_reader_rejects_malformed(void **state)
{
    (void)state;
#define E(s, frag) expect_error((const uint8_t *)(s), sizeof(s) - 1, frag)
    E("\x00", "self");
    E("\x00\x00", "child count");
    E("\x05" "ab", "past the end");
    E("\x00\x00\x01", "remaining bytes");
    E("\x00\x00\x01\x01" "a\x00", "child count");
    E("\x00\x00\x00\x00", "trailing");
    E("\x00\x00\x01\x01" "a\x00\x00\x00", "trailing");
    E("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", "name length");
    E("\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x00", "exceeds int64");
    E("\x00\x00\x02\x00\xff\xff\xff\xff\xff\xff\xff\xff\x7f\x00\x00\x01\x00", "more than int64");
#undef E
    /* A chain deeper than the limit. */
    fx_buf_t b = FX_BUF_INIT;
    for (int i = 0; i <= FX_TREEBYTES_MAX_DEPTH + 1; i++) {
        fx_buf_putc(&b, 1);
        fx_buf_putc(&b, 'f');
        fx_buf_putc(&b, 1);
        fx_buf_putc(&b, i <= FX_TREEBYTES_MAX_DEPTH ? 1 : 0);
    }
    expect_error(b.data, b.len, "deeper than");
    fx_buf_free(&b);
}

/* A chain exactly at the limit is accepted. */
static void test_depth_limit_inclusive(void **state)
{
    (void)state;
    fx_buf_t b = FX_BUF_INIT;
    fx_buf_append(&b, "\x00\x00\x01", 3);
    for (int d = 1; d <= FX_TREEBYTES_MAX_DEPTH; d++) {
        fx_buf_append(&b, "\x01g\x01", 3);
        fx_buf_putc(&b, d < FX_TREEBYTES_MAX_DEPTH ? 1 : 0);
    }
    fx_tree_t t;
    fx_tree_init(&t);
    fx_err_t err = {0};
    if (fx_treebytes_parse(&t, b.data, b.len, &err) != FX_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(t.len, FX_TREEBYTES_MAX_DEPTH + 1);
    assert_int_equal(t.nodes[0].total, FX_TREEBYTES_MAX_DEPTH);
    fx_tree_free(&t);
    fx_buf_free(&b);
}

static void test_negative_rejected(void **state)
{
    (void)state;
    fx_tree_t t;
    th_tree_from_folded(&t, "a;b 3\n");
    t.nodes[2].self = -3;
    fx_tree_compute_totals(&t);
    fx_buf_t b = FX_BUF_INIT;
    fx_err_t err = {0};
    assert_int_equal(fx_treebytes_write(&t, 0, &b, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "negative"));
    fx_buf_free(&b);
    fx_tree_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_bytes),
        cmocka_unit_test(test_truncation_bytes),
        cmocka_unit_test(test_roundtrip_random),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_merge_semantics),
        cmocka_unit_test(test_reader_rejects_malformed),
        cmocka_unit_test(test_depth_limit_inclusive),
        cmocka_unit_test(test_negative_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
