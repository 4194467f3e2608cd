/*
 * fuzz_explain_request.c - POST /api/v1/explain bodies: the request parser, folded-text
 * resolution, the analyzer (single and diff), the markdown and the response JSON, end to end.
 * Query and pprof sources go to a resolver that builds a small tree from the pprof bytes
 * (treated as folded text), so those paths run too. Any crash, leak or sanitizer report, or
 * a response that is not valid JSON, is a failure.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "explain/explain.h"
#include "model/folded.h"

static int query_cb(void *ctx, const fx_explain_query_t *q, fx_tree_t *out, fx_err_t *err)
{
    (void)ctx;
    return fx_folded_to_tree(q->label_selector, strlen(q->label_selector), out, err);
}

static int pprof_cb(void *ctx, const uint8_t *data, size_t len, const char *sample_type,
                    fx_tree_t *out, fx_err_t *err)
{
    (void)ctx;
    (void)sample_type;
    return fx_folded_to_tree((const char *)data, len, out, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fx_explain_resolver_t r = {NULL, query_cb, pprof_cb};
    fx_buf_t out = FX_BUF_INIT;
    fx_err_t err = {0};
    if (fx_explain_handle((const char *)data, size, &r, NULL, &out, &err) == FX_OK) {
        json_t *root = json_loadb((const char *)out.data, out.len, 0, NULL);
        if (!root)
            abort();
        json_decref(root);
    } else if (out.len != 0 || err.msg[0] == 0) {
        abort(); /* a failure must say why and write nothing */
    }
    fx_buf_free(&out);
    return 0;
}
