/* test_selector.c - labels, selectors and profile type ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "model/labels.h"
#include "model/profile_type.h"
#include "model/selector.h"

static fx_label_t svc_labels[] = {
    {"__name__", "process_cpu"}, {"env", "prod"}, {"service_name", "checkout"}, {"pod", "a-1"}};
static fx_labels_t svc = {svc_labels, 4};

static int sel_matches(const char *s)
{
    fx_selector_t sel;
    fx_err_t err = {0};
    assert_int_equal(fx_selector_parse(s, &sel, &err), FX_OK);
    int m = fx_selector_match(&sel, &svc);
    fx_selector_free(&sel);
    return m;
}

static void test_matchers(void **state)
{
    (void)state;
    assert_true(sel_matches("{}"));
    assert_true(sel_matches(""));
    assert_true(sel_matches("{service_name=\"checkout\"}"));
    assert_false(sel_matches("{service_name=\"check\"}"));
    assert_true(sel_matches("{service_name=~\"check.*\", env!=\"dev\"}"));
    assert_false(sel_matches("{service_name=~\"check\"}")); /* anchored */
    assert_true(sel_matches("{service_name=~\"a|checkout\"}"));
    assert_false(sel_matches("{service_name!~\"c.*\"}"));
    assert_true(sel_matches("{missing!=\"x\"}"));      /* absent = "" */
    assert_true(sel_matches("{missing=~\".*\"}"));
    assert_false(sel_matches("{missing=~\".+\"}"));
    assert_true(sel_matches("{missing=\"\"}"));
    assert_true(sel_matches(" { env = 'prod' , pod=`a-1`, } "));
    assert_true(sel_matches("{\"env\"=\"prod\"}"));
}

static void expect_error(const char *s, const char *needle)
{
    fx_selector_t sel;
    fx_err_t err = {0};
    assert_int_equal(fx_selector_parse(s, &sel, &err), FX_EINVAL);
    if (!strstr(err.msg, needle))
        fail_msg("error for %s was \"%s\", expected to mention \"%s\"", s, err.msg, needle);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("{a=\"x\"", "expected ',' or '}'");
    expect_error("{a=x}", "quoted string");
    expect_error("{a==\"x\"}", "quoted string");
    expect_error("{1a=\"x\"}", "label name");
    expect_error("{a=~\"(\"}", "invalid regular expression");
    expect_error("{a=\"x\"} junk", "unexpected text");
    expect_error("{a=\"\\q\"}", "escape");
    expect_error("{a=\"x", "unterminated");
}

static void test_metric_prefix_and_find(void **state)
{
    (void)state;
    fx_selector_t sel;
    fx_err_t err = {0};
    assert_int_equal(fx_selector_parse("process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name=\"x\"}",
                                       &sel, &err), FX_OK);
    assert_string_equal(sel.metric, "process_cpu:cpu:nanoseconds:cpu:nanoseconds");
    assert_non_null(fx_selector_find_eq(&sel, "service_name"));
    assert_null(fx_selector_find_eq(&sel, "env"));
    fx_buf_t b = FX_BUF_INIT;
    fx_selector_format(&sel, &b);
    assert_string_equal(fx_buf_cstr(&b), "{service_name=\"x\"}");
    fx_buf_free(&b);
    fx_selector_free(&sel);
}

static void test_labels_format_token_validate(void **state)
{
    (void)state;
    fx_arena_t a;
    fx_err_t err = {0};
    fx_arena_init(&a);
    fx_label_t v[] = {{"service_name", "x\"y"}, {"__name__", "process_cpu"}, {"otel.scope", "z"}};
    fx_labels_t l = {v, 3};
    fx_label_limits_t lim = {30, 1024, 2048, 0};
    assert_int_equal(fx_labels_validate(&l, &lim, &a, &err), FX_OK);
    fx_buf_t b = FX_BUF_INIT;
    fx_labels_format(&l, &b);
    assert_string_equal(fx_buf_cstr(&b),
                        "{__name__=\"process_cpu\", otel_scope=\"z\", service_name=\"x\\\"y\"}");
    fx_buf_free(&b);
    /* FNV-1 32 of "" then "{}" is deterministic; check against a hand value. */
    fx_labels_t empty = {NULL, 0};
    uint32_t h = 2166136261u;
    const char *s = "t{}";
    for (const char *p = s; *p; p++)
        h = (h * 16777619u) ^ (uint8_t)*p;
    assert_int_equal(fx_labels_token("t", &empty), h);
    assert_true(fx_labels_fingerprint(&l) != fx_labels_fingerprint(&empty));

    fx_label_t dup[] = {{"__name__", "a"}, {"x", "1"}, {"x", "2"}};
    fx_labels_t d = {dup, 3};
    assert_int_equal(fx_labels_validate(&d, &lim, &a, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "more than once"));
    fx_label_t bad[] = {{"__name__", "a"}, {"x", "\xff"}};
    fx_labels_t bd = {bad, 2};
    assert_int_equal(fx_labels_validate(&bd, &lim, &a, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "UTF-8"));
    fx_label_limits_t few = {1, 1024, 2048, 0};
    assert_int_equal(fx_labels_validate(&l, &few, &a, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "max_label_names_per_series"));
    fx_arena_free(&a);
}

static void test_profile_type(void **state)
{
    (void)state;
    fx_arena_t a;
    fx_err_t err = {0};
    fx_profile_type_t t;
    fx_arena_init(&a);
    assert_int_equal(fx_profile_type_parse("memory:alloc_space:bytes:space:bytes", &a, &t, &err), FX_OK);
    assert_string_equal(t.name, "memory");
    assert_string_equal(t.sample_unit, "bytes");
    assert_string_equal(t.id, "memory:alloc_space:bytes:space:bytes");
    assert_int_equal(fx_profile_type_parse("a:b:c:d:e:f", &a, &t, &err), FX_OK);
    assert_string_equal(t.id, "a:b:c:d:e");
    assert_int_equal(fx_profile_type_parse("cpu", &a, &t, &err), FX_EINVAL);
    assert_int_equal(fx_profile_type_parse("a:b:c:d:e:f:g", &a, &t, &err), FX_EINVAL);
    assert_int_equal(fx_profile_type_parse("wall:wall:nanoseconds::", &a, &t, &err), FX_OK);
    assert_string_equal(t.period_type, "");
    fx_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matchers),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_metric_prefix_and_find),
        cmocka_unit_test(test_labels_format_token_validate),
        cmocka_unit_test(test_profile_type),
    };
    return cmocka_run_group_tests_name("selector", tests, NULL, NULL);
}
