/* test_http_query.c - percent-decoding and query-string parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "http/query.h"

static void test_url_decode(void **state)
{
    (void)state;
    char out[64];
    size_t n;
    fx_err_t err = {0};

    assert_int_equal(fx_url_decode("a%20b+c%2bd%C3%A9", 17, 1, out, &n, &err), FX_OK);
    assert_string_equal(out, "a b c+d\xc3\xa9");
    assert_int_equal(n, 9);
    assert_int_equal(fx_url_decode("a+b", 3, 0, out, &n, &err), FX_OK); /* paths keep '+' */
    assert_string_equal(out, "a+b");
    assert_int_equal(fx_url_decode("%7b%7D", 6, 1, out, &n, &err), FX_OK);
    assert_string_equal(out, "{}");
    assert_int_equal(fx_url_decode("", 0, 1, out, &n, &err), FX_OK);
    assert_int_equal(n, 0);

    assert_int_equal(fx_url_decode("abc%", 4, 1, out, &n, &err), FX_EINVAL);
    assert_string_equal(err.msg, "truncated percent-escape at offset 3");
    assert_int_equal(fx_url_decode("%4", 2, 1, out, &n, &err), FX_EINVAL);
    assert_int_equal(fx_url_decode("x%g1", 4, 1, out, &n, &err), FX_EINVAL);
    assert_string_equal(err.msg, "invalid percent-escape \"%g1\" at offset 1");
    assert_int_equal(fx_url_decode("%00", 3, 1, out, &n, &err), FX_EINVAL);
    assert_int_equal(fx_url_decode("a\0b", 3, 1, out, &n, &err), FX_EINVAL);
}

static void test_query_parse(void **state)
{
    (void)state;
    fx_arena_t a;
    fx_query_t q;
    fx_err_t err = {0};
    size_t n;
    fx_arena_init(&a);

    /* The Node SDK's /ingest query (fixtures/nodejs-sdk/sdk-0.4.13-heap.request.json). */
    const char *s = "from=1795238538&name=nodejs-old-sdk-app%7Bversion%3D0.4.13%7D&spyName=nodespy"
                    "&until=1795238543";
    assert_int_equal(fx_query_parse(s, strlen(s), &a, &q, &err), FX_OK);
    assert_int_equal(q.n, 4);
    assert_string_equal(fx_query_get(&q, "name"), "nodejs-old-sdk-app{version=0.4.13}");
    assert_string_equal(fx_query_get(&q, "from"), "1795238538");
    assert_null(fx_query_get(&q, "format"));

    s = "groupBy=a&groupBy=b&x&&=v&groupBy=%20c+&y=";
    assert_int_equal(fx_query_parse(s, strlen(s), &a, &q, &err), FX_OK);
    assert_int_equal(q.n, 6);
    const char **all = fx_query_get_all(&q, "groupBy", &a, &n);
    assert_int_equal(n, 3);
    assert_string_equal(all[0], "a");
    assert_string_equal(all[1], "b");
    assert_string_equal(all[2], " c ");
    assert_string_equal(fx_query_get(&q, "x"), "");
    assert_string_equal(fx_query_get(&q, ""), "v");
    assert_string_equal(fx_query_get(&q, "y"), "");
    assert_null(fx_query_get_all(&q, "nope", &a, &n));
    assert_int_equal(n, 0);

    /* Values may hold '=': only the first one splits. */
    s = "query=process_cpu%3Acpu%7Bservice_name%3D%22a%22%7D&expr=a=b";
    assert_int_equal(fx_query_parse(s, strlen(s), &a, &q, &err), FX_OK);
    assert_string_equal(fx_query_get(&q, "query"), "process_cpu:cpu{service_name=\"a\"}");
    assert_string_equal(fx_query_get(&q, "expr"), "a=b");

    assert_int_equal(fx_query_parse("", 0, &a, &q, &err), FX_OK);
    assert_int_equal(q.n, 0);

    s = "ok=1&bad%zz=2";
    assert_int_equal(fx_query_parse(s, strlen(s), &a, &q, &err), FX_EINVAL);
    assert_string_equal(err.msg, "query parameter #2 name: invalid percent-escape \"%zz\" at offset 3");
    s = "from=now-1h&until=%";
    assert_int_equal(fx_query_parse(s, strlen(s), &a, &q, &err), FX_EINVAL);
    assert_string_equal(err.msg,
                        "query parameter \"until\" value: truncated percent-escape at offset 0");
    fx_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_decode),
        cmocka_unit_test(test_query_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
