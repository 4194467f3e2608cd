/* core.c - status names, error values, assertion failure, binary search. */
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *fx_status_name(int code)
{
    switch (code) {
    case FX_OK: return "ok";
    case FX_EINVAL: return "invalid_argument";
    case FX_ENOTFOUND: return "not_found";
    case FX_EEXIST: return "already_exists";
    case FX_ELIMIT: return "resource_exhausted";
    case FX_EUNAVAIL: return "unavailable";
    case FX_EINTERNAL: return "internal";
    case FX_ETOOBIG: return "resource_exhausted";
    case FX_EUNAUTH: return "unauthenticated";
    case FX_EUNIMPL: return "unimplemented";
    case FX_EIO: return "internal";
    case FX_ECORRUPT: return "data_loss";
    case FX_EDEADLINE: return "deadline_exceeded";
    case FX_ECANCELED: return "canceled";
    case FX_EPRECOND: return "failed_precondition";
    case FX_EPERM: return "permission_denied";
    default: return "unknown";
    }
}

int fx_err_vset(fx_err_t *err, int code, const char *fmt, va_list ap)
{
    if (err) {
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    }
    return code;
}

int fx_err_set(fx_err_t *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fx_err_vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int fx_err_prefix(fx_err_t *err, const char *fmt, ...)
{
    char prefix[FX_ERR_MSG_MAX], old[FX_ERR_MSG_MAX];
    va_list ap;

    if (!err)
        return FX_OK;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* Truncation is fine here: a cut-off message is still a message. */
    size_t n = strlen(prefix);
    if (n > sizeof err->msg - 3)
        n = sizeof err->msg - 3;
    memcpy(err->msg, prefix, n);
    memcpy(err->msg + n, ": ", 2);
    size_t rest = sizeof err->msg - n - 3;
    size_t ol = strnlen(old, rest);
    memcpy(err->msg + n + 2, old, ol);
    err->msg[n + 2 + ol] = 0;
    return err->code;
}

void fx__assert_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "level=fatal msg=\"assertion failed\" what=\"%s\" caller=%s:%d\n",
            what, file, line);
    fflush(stderr);
    abort();
}

size_t fx_lower_bound(const void *key, const void *v, size_t n, size_t size,
                      int (*cmp)(const void *key, const void *element), int *found)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp(key, (const char *)v + mid * size) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (found)
        *found = lo < n && cmp(key, (const char *)v + lo * size) == 0;
    return lo;
}
