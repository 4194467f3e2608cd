/* fuzz_tenant.c - X-Scope-OrgID resolution. The input is the header value.
 * Checks: no crash; a resolved tenant passes validation on its own; a
 * refusal carries the right code and a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tenant/tenant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *h = malloc(size + 1);
    fx_arena_t a;
    fx_err_t err = {0};
    const char *t = NULL;

    memcpy(h, data, size);
    h[size] = 0; /* a header value is a C string: stops at the first NUL */
    fx_arena_init(&a);
    int rc = fx_tenant_resolve(1, h, &a, &t, &err);
    if (rc == FX_OK) {
        fx_err_t e2 = {0};
        if (!t || strchr(t, '|') || strlen(t) > FX_TENANT_MAX_LEN ||
            fx_tenant_validate(t, strlen(t), &e2) != FX_OK)
            abort();
    } else if ((rc != FX_EINVAL && rc != FX_EUNAUTH) || !err.msg[0] || t) {
        abort();
    }
    fx_tenant_validate((const char *)data, size, &err);
    if (fx_tenant_resolve(0, h, &a, &t, &err) != FX_OK || strcmp(t, "anonymous") != 0)
        abort();
    fx_arena_free(&a);
    free(h);
    return 0;
}
