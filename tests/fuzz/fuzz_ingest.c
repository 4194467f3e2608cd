/* fuzz_ingest.c - legacy /ingest input: the `name` and time parameters and
 * folded/lines bodies. The first input line is the name, the second a time,
 * the rest the body. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "model/attime.h"
#include "services/distributor/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fx_strndup((const char *)data, size);
    char *nl1 = strchr(s, '\n'), *nl2 = nl1 ? strchr(nl1 + 1, '\n') : NULL;
    fx_arena_t a;
    fx_err_t err;
    ingest_params_t params = {0};
    int64_t t;

    fx_arena_init(&a);
    if (!nl1 || !nl2)
        goto out;
    *nl1 = *nl2 = 0;
    (void)fx_attime_parse(nl1 + 1, 0, &t, &err);
    if (ingest_parse_name(s, &a, &params.app, &params.labels, &err) != FX_OK)
        goto out;
    params.sample_rate = 100;
    params.spy_name = "fuzz";
    for (int fmt = 0; fmt < 2; fmt++) {
        fx_pprof_builder_t b;
        fx_pprof_t *p;
        fx_labels_t l;
        params.format = fmt ? INGEST_FORMAT_LINES : INGEST_FORMAT_FOLDED;
        fx_pprof_builder_init(&b);
        if (ingest_text_to_pprof(&params, nl2 + 1, strlen(nl2 + 1), &b, &a, &l, &p, &err) == FX_OK) {
            fx_buf_t out = FX_BUF_INIT;
            fx_pprof_encode(p, NULL, &out);
            fx_buf_free(&out);
        }
        fx_pprof_builder_free(&b);
    }
out:
    fx_arena_free(&a);
    free(s);
    return 0;
}
