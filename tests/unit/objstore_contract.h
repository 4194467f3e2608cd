/*
 * objstore_contract.h - the behaviour every bucket backend must share
 * (objstore/bucket.h), as cmocka tests over the bucket in contract_bucket.
 * test_objstore_fs.c runs them on a temporary directory and
 * test_objstore_s3.c on a real S3 server; both set contract_bucket and
 * contract_big (the size of the "large object" test: above the S3 part size
 * so it goes through multipart upload).
 */
#ifndef FX_TEST_OBJSTORE_CONTRACT_H
#define FX_TEST_OBJSTORE_CONTRACT_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/mem.h"
#include "objstore/bucket.h"

static fx_bucket_t *contract_bucket;
static size_t contract_big = 3 << 20;
static size_t contract_part = 1 << 20; /* a boundary the backend writes at */
static bool contract_skip_empty_range;  /* the server mishandles ranges of empty objects */

/* Deterministic bytes, different for each seed. */
static void fill_pattern(uint8_t *p, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
}

static void put_str(const char *key, const char *s)
{
    fx_err_t err = {0};
    int rc = fx_bucket_put(contract_bucket, key, s, strlen(s), &err);
    if (rc)
        fail_msg("put %s: %s", key, err.msg);
}

static char *get_str(const char *key)
{
    fx_err_t err = {0};
    fx_buf_t b = FX_BUF_INIT;
    int rc = fx_bucket_get(contract_bucket, key, &b, &err);
    if (rc)
        fail_msg("get %s: %s", key, err.msg);
    return fx_buf_cstr(&b);
}

/* "key[/]" entries of a listing joined with ' ', objects as key=size. */
static char *listing(const char *prefix, const char *delim)
{
    fx_obj_list_t l = {0};
    fx_err_t err = {0};
    int rc = fx_bucket_list_all(contract_bucket, prefix, delim, &l, &err);
    if (rc)
        fail_msg("list %s: %s", prefix, err.msg);
    fx_buf_t b = FX_BUF_INIT;
    for (size_t i = 0; i < l.n; i++) {
        if (i)
            fx_buf_putc(&b, ' ');
        if (l.v[i].is_prefix) {
            assert_int_equal(l.v[i].size, -1);
            fx_buf_puts(&b, l.v[i].key);
        } else {
            fx_buf_printf(&b, "%s=%lld", l.v[i].key, (long long)l.v[i].size);
        }
    }
    fx_obj_list_free(&l);
    return fx_buf_cstr(&b);
}

static void delete_all(const char *prefix)
{
    fx_obj_list_t l = {0};
    fx_err_t err = {0};
    assert_int_equal(fx_bucket_list_all(contract_bucket, prefix, NULL, &l, &err), FX_OK);
    for (size_t i = 0; i < l.n; i++)
        assert_int_equal(fx_bucket_delete(contract_bucket, l.v[i].key, &err), FX_OK);
    fx_obj_list_free(&l);
}

static void test_contract_put_get(void **state)
{
    (void)state;
    fx_err_t err = {0};
    fx_buf_t b = FX_BUF_INIT;
    fx_obj_attrs_t a;
    bool ex;

    put_str("c1/obj", "hello, bucket");
    char *s = get_str("c1/obj");
    assert_string_equal(s, "hello, bucket");
    free(s);
    assert_int_equal(fx_bucket_head(contract_bucket, "c1/obj", &a, &err), FX_OK);
    assert_int_equal(a.size, 13);
    assert_true(a.mtime_ms > 1600000000000LL);
    assert_int_equal(fx_bucket_exists(contract_bucket, "c1/obj", &ex, &err), FX_OK);
    assert_true(ex);

    /* Replace. */
    put_str("c1/obj", "v2");
    s = get_str("c1/obj");
    assert_string_equal(s, "v2");
    free(s);

    /* Missing objects. */
    assert_int_equal(fx_bucket_get(contract_bucket, "c1/none", &b, &err), FX_ENOTFOUND);
    assert_non_null(strstr(err.msg, "c1/none"));
    assert_int_equal(b.len, 0);
    assert_int_equal(fx_bucket_head(contract_bucket, "c1/none", &a, &err), FX_ENOTFOUND);
    assert_int_equal(fx_bucket_get_range(contract_bucket, "c1/none", 1, 2, &b, &err),
                     FX_ENOTFOUND);
    assert_int_equal(fx_bucket_exists(contract_bucket, "c1/none", &ex, &err), FX_OK);
    assert_false(ex);
    /* A "directory" is not an object. */
    assert_int_equal(fx_bucket_get(contract_bucket, "c1", &b, &err), FX_ENOTFOUND);

    /* Empty object. */
    put_str("c1/empty", "");
    assert_int_equal(fx_bucket_get(contract_bucket, "c1/empty", &b, &err), FX_OK);
    assert_int_equal(b.len, 0);
    assert_int_equal(fx_bucket_head(contract_bucket, "c1/empty", &a, &err), FX_OK);
    assert_int_equal(a.size, 0);
    if (!contract_skip_empty_range)
        assert_int_equal(fx_bucket_get_range(contract_bucket, "c1/empty", 0, 1, &b, &err),
                         FX_EINVAL);

    /* Unusual but valid key characters travel intact. */
    const char *odd = "c1/sp ace/\xc3\xbc\xe2\x82\xac+%25;=,~.bin";
    put_str(odd, "odd");
    s = get_str(odd);
    assert_string_equal(s, "odd");
    free(s);
    s = listing("c1/sp ace/", NULL);
    assert_string_equal(s, "c1/sp ace/\xc3\xbc\xe2\x82\xac+%25;=,~.bin=3");
    free(s);

    delete_all("c1/");
    fx_buf_free(&b);
}

static void test_contract_range(void **state)
{
    (void)state;
    fx_err_t err = {0};
    fx_buf_t b = FX_BUF_INIT;
    put_str("c2/r", "0123456789");

    assert_int_equal(fx_bucket_get_range(contract_bucket, "c2/r", 2, 3, &b, &err), FX_OK);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "234", 3);
    /* Appends. */
    assert_int_equal(fx_bucket_get_range(contract_bucket, "c2/r", 0, 1, &b, &err), FX_OK);
    assert_memory_equal(b.data, "2340", 4);
    b.len = 0;
    assert_int_equal(fx_bucket_get_range(contract_bucket, "c2/r", 7, -1, &b, &err), FX_OK);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "789", 3);
    b.len = 0;
    /* Past the end: what there is. */
    assert_int_equal(fx_bucket_get_range(contract_bucket, "c2/r", 8, 100, &b, &err), FX_OK);
    assert_int_equal(b.len, 2);
    assert_memory_equal(b.data, "89", 2);
    b.len = 0;
    assert_int_equal(fx_bucket_get_range(contract_bucket, "c2/r", 9, 1, &b, &err), FX_OK);
    assert_int_equal(b.len, 1);
    b.len = 0;
    /* Starting at or after the end. */
    assert_int_equal(fx_bucket_get_range(contract_bucket, "c2/r", 10, 1, &b, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "range start 10"));
    assert_int_equal(fx_bucket_get_range(contract_bucket, "c2/r", 50, -1, &b, &err), FX_EINVAL);
    assert_int_equal(b.len, 0);
    /* Invalid arguments. */
    assert_int_equal(fx_bucket_get_range(contract_bucket, "c2/r", 0, 0, &b, &err), FX_EINVAL);
    assert_int_equal(fx_bucket_get_range(contract_bucket, "c2/r", -1, 1, &b, &err), FX_EINVAL);
    assert_int_equal(fx_bucket_get_range(contract_bucket, "c2/r", 0, -2, &b, &err), FX_EINVAL);
    delete_all("c2/");
    fx_buf_free(&b);
}

static int stop_after_two(const fx_obj_entry_t *e, void *ctx)
{
    (void)e;
    return ++*(int *)ctx == 2 ? FX_BUCKET_STOP : FX_OK;
}

static int fail_at_first(const fx_obj_entry_t *e, void *ctx)
{
    (void)e;
    ++*(int *)ctx;
    return FX_ECANCELED;
}

static void test_contract_list(void **state)
{
    (void)state;
    fx_err_t err = {0};
    /* Every "directory" holds an object of its own: some servers (s3rver)
     * find common prefixes only one level down. test_objstore_fs covers
     * directories with only deeper objects. */
    put_str("c3/t1/b1/meta.json", "{}");
    put_str("c3/t1/b1/index", "index!");
    put_str("c3/t1/b2/meta.json", "{}!");
    put_str("c3/t1/f", "f");
    put_str("c3/t1-x/a", "a");
    put_str("c3/t2/f", "ff");
    put_str("c3/top", "top");

    /* Byte order: '-' (0x2d) sorts before '/' (0x2f). */
    char *s = listing("c3/", NULL);
    assert_string_equal(s, "c3/t1-x/a=1 c3/t1/b1/index=6 c3/t1/b1/meta.json=2 "
                           "c3/t1/b2/meta.json=3 c3/t1/f=1 c3/t2/f=2 c3/top=3");
    free(s);
    s = listing("c3/", "/");
    assert_string_equal(s, "c3/t1-x/ c3/t1/ c3/t2/ c3/top=3");
    free(s);
    s = listing("c3/t1", "/");
    assert_string_equal(s, "c3/t1-x/ c3/t1/");
    free(s);
    s = listing("c3/t1/", "/");
    assert_string_equal(s, "c3/t1/b1/ c3/t1/b2/ c3/t1/f=1");
    free(s);
    s = listing("c3/t1/b1/", "/");
    assert_string_equal(s, "c3/t1/b1/index=6 c3/t1/b1/meta.json=2");
    free(s);
    s = listing("c3/t1/b1/m", NULL);
    assert_string_equal(s, "c3/t1/b1/meta.json=2");
    free(s);
    s = listing("c3/nope/", "/");
    assert_string_equal(s, "");
    free(s);
    s = listing("c3/top/", NULL); /* an object is no directory */
    assert_string_equal(s, "");
    free(s);
    /* Another delimiter. */
    s = listing("c3/t1/b", ".");
    assert_string_equal(s, "c3/t1/b1/index=6 c3/t1/b1/meta. c3/t1/b2/meta.");
    free(s);

    /* iter == list with "/" after dir. */
    fx_obj_list_t l = {0};
    int n = 0;
    assert_int_equal(fx_bucket_iter(contract_bucket, "c3/t1", false,
                                    stop_after_two, &n, &err), FX_OK);
    assert_int_equal(n, 2);
    n = 0;
    assert_int_equal(fx_bucket_iter(contract_bucket, "c3/", true, stop_after_two, &n, &err),
                     FX_OK);
    assert_int_equal(n, 2);
    n = 0;
    assert_int_equal(fx_bucket_list(contract_bucket, "c3/", NULL, fail_at_first, &n, &err),
                     FX_ECANCELED);
    assert_int_equal(n, 1);
    fx_obj_list_free(&l);

    /* Deleting: missing objects are fine, emptied "directories" vanish. */
    assert_int_equal(fx_bucket_delete(contract_bucket, "c3/t1/b1/index", &err), FX_OK);
    assert_int_equal(fx_bucket_delete(contract_bucket, "c3/t1/b1/index", &err), FX_OK);
    assert_int_equal(fx_bucket_delete(contract_bucket, "c3/never/was", &err), FX_OK);
    s = listing("c3/t1/b1/", NULL);
    assert_string_equal(s, "c3/t1/b1/meta.json=2");
    free(s);
    assert_int_equal(fx_bucket_delete(contract_bucket, "c3/t1/b1/meta.json", &err), FX_OK);
    s = listing("c3/t1/", "/");
    assert_string_equal(s, "c3/t1/b2/ c3/t1/f=1");
    free(s);
    delete_all("c3/");
    s = listing("c3/", "/");
    assert_string_equal(s, "");
    free(s);
}

static void test_contract_bad_keys(void **state)
{
    (void)state;
    fx_err_t err = {0};
    fx_buf_t b = FX_BUF_INIT;
    char longkey[FX_BUCKET_KEY_MAX + 2];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = 0;
    const char *bad[] = {"", "/a", "a/", "a//b", "a/../b", "..", "a/.", "@fornax-tmp/x",
                         "a\x01" "b", "a\x7f", "\xff\xfe", longkey};
    for (size_t i = 0; i < FX_ARRAY_LEN(bad); i++) {
        err.msg[0] = 0;
        assert_int_equal(fx_bucket_put(contract_bucket, bad[i], "x", 1, &err), FX_EINVAL);
        assert_true(err.msg[0] != 0);
        assert_int_equal(fx_bucket_get(contract_bucket, bad[i], &b, &err), FX_EINVAL);
        assert_int_equal(fx_bucket_delete(contract_bucket, bad[i], &err), FX_EINVAL);
    }
    assert_int_equal(fx_bucket_put(contract_bucket, "a//b", "x", 1, &err), FX_EINVAL);
    assert_string_equal(err.msg, "object key \"a//b\" contains \"//\"");
    /* Prefixes may end in '/' and have a partial last segment. */
    assert_int_equal(fx_bucket_check_prefix("", &err), FX_OK);
    assert_int_equal(fx_bucket_check_prefix("a/", &err), FX_OK);
    assert_int_equal(fx_bucket_check_prefix("a/.", &err), FX_OK);
    assert_int_equal(fx_bucket_check_prefix("a/../", &err), FX_EINVAL);
    assert_int_equal(fx_bucket_check_prefix("/a", &err), FX_EINVAL);
    fx_obj_list_t l = {0};
    assert_int_equal(fx_bucket_list_all(contract_bucket, "../", NULL, &l, &err), FX_EINVAL);
    fx_buf_free(&b);
}

typedef struct chunk_reader {
    const uint8_t *p;
    size_t left, step;
    int64_t fail_after; /* bytes, -1 never */
} chunk_reader_t;

static int64_t read_chunks(void *ctx, uint8_t *buf, size_t cap, fx_err_t *err)
{
    chunk_reader_t *r = ctx;
    if (r->fail_after == 0)
        return fx_err_set(err, FX_EIO, "the source broke");
    size_t n = FX_MIN(FX_MIN(cap, r->left), r->step);
    if (r->fail_after > 0 && (int64_t)n > r->fail_after)
        n = (size_t)r->fail_after;
    memcpy(buf, r->p, n);
    r->p += n;
    r->left -= n;
    if (r->fail_after > 0)
        r->fail_after -= (int64_t)n;
    return (int64_t)n;
}

static void test_contract_large(void **state)
{
    (void)state;
    fx_err_t err = {0};
    size_t n = contract_big;
    uint8_t *data = fx_malloc(n);
    fill_pattern(data, n, 7);

    /* Streamed in odd-sized reads. */
    chunk_reader_t r = {data, n, 1 << 20 | 4093, -1};
    int rc = fx_bucket_put_reader(contract_bucket, "c4/big", read_chunks, &r, &err);
    if (rc)
        fail_msg("put_reader: %s", err.msg);
    fx_buf_t b = FX_BUF_INIT;
    assert_int_equal(fx_bucket_get(contract_bucket, "c4/big", &b, &err), FX_OK);
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, data, n);
    fx_obj_attrs_t a;
    assert_int_equal(fx_bucket_head(contract_bucket, "c4/big", &a, &err), FX_OK);
    assert_int_equal(a.size, (int64_t)n);
    /* Ranges across the part boundaries. */
    size_t offs[] = {0, contract_part - 3, 2 * contract_part - 3, n - 10, n / 2};
    for (size_t i = 0; i < FX_ARRAY_LEN(offs); i++) {
        if (offs[i] >= n)
            continue;
        b.len = 0;
        assert_int_equal(fx_bucket_get_range(contract_bucket, "c4/big", (int64_t)offs[i], 64,
                                             &b, &err), FX_OK);
        size_t want = FX_MIN(64, n - offs[i]);
        assert_int_equal(b.len, want);
        assert_memory_equal(b.data, data + offs[i], want);
    }

    /* A source that fails midway writes nothing. */
    chunk_reader_t bad = {data, n, 1 << 20, (int64_t)n - 100};
    assert_int_not_equal(fx_bucket_put_reader(contract_bucket, "c4/broken", read_chunks, &bad,
                                              &err), FX_OK);
    assert_non_null(strstr(err.msg, "the source broke"));
    bool ex = true;
    assert_int_equal(fx_bucket_exists(contract_bucket, "c4/broken", &ex, &err), FX_OK);
    assert_false(ex);

    /* Files both ways. */
    char src[] = "/tmp/fornax-objstore-src-XXXXXX", dst[64];
    int fd = mkstemp(src);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
    assert_int_equal(fx_bucket_put_file(contract_bucket, "c4/file", src, &err), FX_OK);
    snprintf(dst, sizeof dst, "%s.out", src);
    rc = fx_bucket_get_file(contract_bucket, "c4/file", dst, &err);
    if (rc)
        fail_msg("get_file: %s", err.msg);
    FILE *f = fopen(dst, "rb");
    assert_non_null(f);
    b.len = 0;
    fx_buf_reserve(&b, n + 1);
    assert_int_equal(fread(b.data, 1, n + 1, f), n);
    fclose(f);
    assert_memory_equal(b.data, data, n);
    assert_int_equal(fx_bucket_put_file(contract_bucket, "c4/nofile", "/nonexistent/x", &err),
                     FX_ENOTFOUND);
    assert_int_equal(fx_bucket_get_file(contract_bucket, "c4/none", dst, &err), FX_ENOTFOUND);
    unlink(src);
    unlink(dst);

    delete_all("c4/");
    fx_buf_free(&b);
    free(data);
}

/* Many threads on one bucket. */
static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    fx_err_t err = {0};
    uint8_t data[4096];
    fx_buf_t b = FX_BUF_INIT;
    for (int i = 0; i < 20; i++) {
        char key[64];
        snprintf(key, sizeof key, "c5/w%d/o%02d", id, i);
        fill_pattern(data, sizeof data, (uint32_t)(id * 100 + i));
        if (fx_bucket_put(contract_bucket, key, data, sizeof data, &err) != FX_OK)
            return fx_strdup(err.msg);
        b.len = 0;
        if (fx_bucket_get(contract_bucket, key, &b, &err) != FX_OK)
            return fx_strdup(err.msg);
        if (b.len != sizeof data || memcmp(b.data, data, sizeof data) != 0)
            return fx_strdup("read back different bytes");
        fx_obj_list_t l = {0};
        if (fx_bucket_list_all(contract_bucket, "c5/", "/", &l, &err) != FX_OK)
            return fx_strdup(err.msg);
        fx_obj_list_free(&l);
    }
    fx_buf_free(&b);
    return NULL;
}

static void test_contract_threads(void **state)
{
    (void)state;
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
    for (int i = 0; i < 4; i++) {
        void *res;
        pthread_join(t[i], &res);
        if (res)
            fail_msg("thread %d: %s", i, (char *)res);
    }
    char *s = listing("c5/", "/");
    assert_string_equal(s, "c5/w0/ c5/w1/ c5/w2/ c5/w3/");
    free(s);
    fx_obj_list_t l = {0};
    fx_err_t err = {0};
    assert_int_equal(fx_bucket_list_all(contract_bucket, "c5/", NULL, &l, &err), FX_OK);
    assert_int_equal(l.n, 80);
    fx_obj_list_free(&l);
    delete_all("c5/");
}

#define CONTRACT_TESTS                                                                      \
    cmocka_unit_test(test_contract_put_get), cmocka_unit_test(test_contract_range),         \
        cmocka_unit_test(test_contract_list), cmocka_unit_test(test_contract_bad_keys),     \
        cmocka_unit_test(test_contract_large), cmocka_unit_test(test_contract_threads)

#endif
