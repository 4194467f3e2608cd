/* fuzz_multipart.c - the multipart/form-data parser. Input: the first line
 * is the Content-Type, the rest is the body. Checks: no crash, and every
 * part of a successful parse is named and lies inside the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t ctl = nl ? (size_t)(nl - data) : size;
    char *ct = malloc(ctl + 1);
    fx_arena_t a;
    fx_multipart_t mp;
    fx_err_t err = {0};

    memcpy(ct, data, ctl);
    ct[ctl] = 0;
    const uint8_t *body = nl ? nl + 1 : data + size;
    size_t len = (size_t)(data + size - body);
    /* Exact-size copy so ASan sees any read past the end. */
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, body, len);

    fx_arena_init(&a);
    if (fx_multipart_parse(ct, copy, len, &a, &mp, &err) == FX_OK) {
        if (mp.n > FX_MULTIPART_MAX_PARTS)
            abort();
        for (size_t i = 0; i < mp.n; i++) {
            const fx_mp_part_t *p = &mp.parts[i];
            if (!p->name)
                abort();
            if (p->body.len && (p->body.data < copy || p->body.data + p->body.len > copy + len))
                abort();
            if (fx_multipart_get(&mp, p->name) == NULL)
                abort();
        }
    } else if (err.code != FX_EINVAL || !err.msg[0]) {
        abort();
    }
    fx_arena_free(&a);
    free(copy);
    free(ct);
    return 0;
}
