/* fuzz_query.c - query-string parsing and percent-decoding. The input is a
 * raw query string. Checks: no crash; decoded text never longer than the
 * input and free of NULs; and a parsed query, re-encoded, parses back to the
 * same parameters. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "http/query.h"

static void encode(fx_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.') {
            fx_buf_putc(b, c);
        } else {
            fx_buf_putc(b, '%');
            fx_buf_putc(b, (uint8_t)hex[c >> 4]);
            fx_buf_putc(b, (uint8_t)hex[c & 15]);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fx_arena_t a;
    fx_query_t q, q2;
    fx_err_t err = {0};
    const char *s = (const char *)data;
    char *out = malloc(size + 1);
    size_t n;

    for (int plus = 0; plus < 2; plus++) {
        if (fx_url_decode(s, size, plus, out, &n, &err) == FX_OK) {
            if (n > size || strlen(out) != n)
                abort();
        } else if (err.code != FX_EINVAL || !err.msg[0]) {
            abort();
        }
    }
    free(out);

    fx_arena_init(&a);
    if (fx_query_parse(s, size, &a, &q, &err) == FX_OK) {
        fx_buf_t b = FX_BUF_INIT;
        for (size_t i = 0; i < q.n; i++) {
            if (strlen(q.params[i].value) != q.params[i].value_len)
                abort();
            if (i)
                fx_buf_putc(&b, '&');
            encode(&b, q.params[i].name);
            fx_buf_putc(&b, '=');
            encode(&b, q.params[i].value);
        }
        if (fx_query_parse((const char *)b.data, b.len, &a, &q2, &err) != FX_OK || q2.n != q.n)
            abort();
        for (size_t i = 0; i < q.n; i++)
            if (strcmp(q.params[i].name, q2.params[i].name) ||
                strcmp(q.params[i].value, q2.params[i].value))
                abort();
        fx_buf_free(&b);
    }
    fx_arena_free(&a);
    return 0;
}
