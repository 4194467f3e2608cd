/*
 * core.h - status codes, error values and assertions shared by all of Fornax.
 *
 * Every function that can fail returns an int: FX_OK (0) on success or one of
 * the negative FX_E* codes. Where the caller needs to tell a user what went
 * wrong, the function also fills an fx_err_t with a human-readable message;
 * the code decides the Connect/HTTP status (see http/status.h), the message is
 * shown as is. Log once where a failure is detected, then only propagate.
 */
#ifndef FX_CORE_H
#define FX_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

enum fx_status {
    FX_OK = 0,
    FX_EINVAL = -1,       /* bad input from a client: 400 invalid_argument */
    FX_ENOTFOUND = -2,    /* 404 not_found */
    FX_EEXIST = -3,       /* 409 already_exists */
    FX_ELIMIT = -4,       /* a limit was hit: 429 resource_exhausted */
    FX_EUNAVAIL = -5,     /* dependency down / not ready: 503 unavailable */
    FX_EINTERNAL = -6,    /* a bug or an unexpected library failure: 500 */
    FX_ETOOBIG = -7,      /* body or message over a size limit: 413 */
    FX_EUNAUTH = -8,      /* 401 unauthenticated */
    FX_EUNIMPL = -9,      /* 501 unimplemented */
    FX_EIO = -10,         /* disk or network I/O failed: 500 internal */
    FX_ECORRUPT = -11,    /* stored data failed a check: 500 data_loss */
    FX_EDEADLINE = -12,   /* 504 deadline_exceeded */
    FX_ECANCELED = -13,   /* 499 canceled */
    FX_EPRECOND = -14,    /* 400 failed_precondition */
    FX_EPERM = -15,       /* 403 permission_denied */
};

/* Static name of a status code, e.g. "invalid_argument" (its Connect code). */
const char *fx_status_name(int code);

#define FX_ERR_MSG_MAX 512

/* An error with a message for the user. Lives on the caller's stack; no
 * ownership. code == FX_OK means "no error". */
typedef struct fx_err {
    int code;
    char msg[FX_ERR_MSG_MAX];
} fx_err_t;

/* Sets err (if not NULL) and returns code, so `return fx_err_set(...)` works. */
int fx_err_set(fx_err_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int fx_err_vset(fx_err_t *err, int code, const char *fmt, va_list ap);
/* Prefixes the message: "prefix: old message". Returns err->code. */
int fx_err_prefix(fx_err_t *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Invariant checks stay on in release builds: a failed one is a bug, and
 * continuing would corrupt state. Prints file:line and aborts. */
#define FX_ASSERT(cond)                                                        \
    do {                                                                       \
        if (__builtin_expect(!(cond), 0))                                      \
            fx__assert_fail(#cond, __FILE__, __LINE__);                        \
    } while (0)
#define FX_PANIC(msg) fx__assert_fail(msg, __FILE__, __LINE__)
_Noreturn void fx__assert_fail(const char *what, const char *file, int line);

#define FX_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define FX_LIKELY(x) __builtin_expect(!!(x), 1)
#define FX_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define FX_MIN(a, b) ((a) < (b) ? (a) : (b))
#define FX_MAX(a, b) ((a) > (b) ? (a) : (b))
#define FX_UNUSED(x) ((void)(x))

/* Binary search of key in n elements of size bytes at v, sorted as cmp
 * orders them (cmp(key, element) < 0, 0, > 0, as bsearch's): the index of
 * the first element not below key, n if none (where key would be inserted).
 * *found (may be NULL) is set to 1 if that element equals key. */
size_t fx_lower_bound(const void *key, const void *v, size_t n, size_t size,
                      int (*cmp)(const void *key, const void *element), int *found);

/* A borrowed byte range; never owns its memory. */
typedef struct fx_slice {
    const uint8_t *data;
    size_t len;
} fx_slice_t;

#endif
