/* tenant.c - X-Scope-OrgID validation, with dskit's rules and messages. */
#include "tenant/tenant.h"

#include <string.h>

static int tenant_char_ok(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    switch (c) {
    case '!': case '-': case '_': case '.': case '*': case '\'': case '(': case ')':
        return 1;
    default:
        return 0;
    }
}

int fx_tenant_validate(const char *id, size_t len, fx_err_t *err)
{
    if (len == 0)
        return fx_err_set(err, FX_EINVAL, "tenant ID is empty");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        if (!tenant_char_ok(c)) {
            if (c >= 0x20 && c < 0x7f)
                return fx_err_set(err, FX_EINVAL,
                                  "tenant ID contains unsupported character '%c' at offset %zu; "
                                  "allowed are A-Z a-z 0-9 and ! - _ . * ' ( )", c, i);
            return fx_err_set(err, FX_EINVAL,
                              "tenant ID contains unsupported byte 0x%02x at offset %zu; "
                              "allowed are A-Z a-z 0-9 and ! - _ . * ' ( )", c, i);
        }
    }
    if (len > FX_TENANT_MAX_LEN)
        return fx_err_set(err, FX_EINVAL, "tenant ID is too long: %zu characters, max %d", len,
                          FX_TENANT_MAX_LEN);
    if ((len == 1 && id[0] == '.') || (len == 2 && id[0] == '.' && id[1] == '.'))
        return fx_err_set(err, FX_EINVAL, "tenant ID is '.' or '..'");
    return FX_OK;
}

int fx_tenant_resolve(int multitenancy, const char *header, fx_arena_t *arena,
                      const char **tenant, fx_err_t *err)
{
    if (!multitenancy) {
        *tenant = FX_TENANT_ANONYMOUS;
        return FX_OK;
    }
    *tenant = NULL;
    if (!header || !*header)
        return fx_err_set(err, FX_EUNAUTH, "no tenant: the " FX_TENANT_HEADER
                          " header is required when multi-tenancy is enabled");

    /* Every '|'-separated ID must be valid and all must be equal. */
    const char *first = header, *p = header;
    size_t first_len = 0;
    int n = 0;
    for (;;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (fx_tenant_validate(p, len, err) != FX_OK)
            return fx_err_prefix(err, "invalid " FX_TENANT_HEADER);
        if (n++ == 0) {
            first = p;
            first_len = len;
        } else if (len != first_len || memcmp(p, first, len) != 0) {
            return fx_err_set(err, FX_EINVAL, FX_TENANT_HEADER " names more than one tenant "
                              "(\"%.*s\" and \"%.*s\"); exactly one is required",
                              (int)first_len, first, (int)len, p);
        }
        if (!bar)
            break;
        p = bar + 1;
    }
    *tenant = n == 1 ? header : fx_arena_strndup(arena, first, first_len);
    return FX_OK;
}
