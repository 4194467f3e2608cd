/* test_tenant.c - tenant ID validation and X-Scope-OrgID resolution. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "tenant/tenant.h"

static int valid(const char *id)
{
    fx_err_t err = {0};
    return fx_tenant_validate(id, strlen(id), &err) == FX_OK;
}

static void test_validate(void **state)
{
    (void)state;
    char max[FX_TENANT_MAX_LEN + 2];
    fx_err_t err = {0};

    assert_true(valid("anonymous"));
    assert_true(valid("tenant-a"));
    assert_true(valid("A_z.0-9!*'()"));
    assert_true(valid("..."));
    assert_true(valid(".a"));
    memset(max, 'x', FX_TENANT_MAX_LEN);
    max[FX_TENANT_MAX_LEN] = 0;
    assert_true(valid(max));

    max[FX_TENANT_MAX_LEN] = 'x';
    max[FX_TENANT_MAX_LEN + 1] = 0;
    assert_int_equal(fx_tenant_validate(max, strlen(max), &err), FX_EINVAL);
    assert_string_equal(err.msg, "tenant ID is too long: 151 characters, max 150");
    assert_false(valid(""));
    assert_int_equal(fx_tenant_validate(".", 1, &err), FX_EINVAL);
    assert_string_equal(err.msg, "tenant ID is '.' or '..'");
    assert_false(valid(".."));
    const char *bad = "/\\ :@#$%^&+=[]{}<>?,;\"`~|";
    for (const char *c = bad; *c; c++) {
        char id[4] = {'a', *c, 'b', 0};
        assert_int_equal(fx_tenant_validate(id, 3, &err), FX_EINVAL);
        assert_non_null(strstr(err.msg, "unsupported character"));
    }
    assert_int_equal(fx_tenant_validate("a\xc3\xa9", 3, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "unsupported byte 0xc3 at offset 1"));
    assert_int_equal(fx_tenant_validate("a\0b", 3, &err), FX_EINVAL);
}

static void test_resolve(void **state)
{
    (void)state;
    fx_arena_t a;
    fx_err_t err = {0};
    const char *t = NULL;
    fx_arena_init(&a);

    /* Off: always anonymous, whatever the header says. */
    assert_int_equal(fx_tenant_resolve(0, NULL, &a, &t, &err), FX_OK);
    assert_string_equal(t, "anonymous");
    assert_int_equal(fx_tenant_resolve(0, "../../etc", &a, &t, &err), FX_OK);
    assert_string_equal(t, "anonymous");

    /* On. */
    assert_int_equal(fx_tenant_resolve(1, NULL, &a, &t, &err), FX_EUNAUTH);
    assert_null(t);
    assert_non_null(strstr(err.msg, "X-Scope-OrgID header is required"));
    assert_int_equal(fx_tenant_resolve(1, "", &a, &t, &err), FX_EUNAUTH);
    const char *h = "acme";
    assert_int_equal(fx_tenant_resolve(1, h, &a, &t, &err), FX_OK);
    assert_ptr_equal(t, h);
    assert_int_equal(fx_tenant_resolve(1, "acme|acme", &a, &t, &err), FX_OK);
    assert_string_equal(t, "acme");
    assert_int_equal(fx_tenant_resolve(1, "acme|other", &a, &t, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "more than one tenant (\"acme\" and \"other\")"));
    assert_int_equal(fx_tenant_resolve(1, "acme|", &a, &t, &err), FX_EINVAL);
    assert_string_equal(err.msg, "invalid X-Scope-OrgID: tenant ID is empty");
    assert_int_equal(fx_tenant_resolve(1, "..", &a, &t, &err), FX_EINVAL);
    assert_string_equal(err.msg, "invalid X-Scope-OrgID: tenant ID is '.' or '..'");
    fx_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_resolve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
