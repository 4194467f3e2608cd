/* fuzz_selector.c - the label selector parser and matcher on hostile text. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "model/selector.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fx_strndup((const char *)data, size);
    fx_selector_t sel;
    fx_err_t err;
    fx_label_t v[] = {{"__name__", "process_cpu"}, {"service_name", "svc"}, {"env", "a\"b"}};
    fx_labels_t l = {v, 3};
    if (fx_selector_parse(s, &sel, &err) == FX_OK) {
        (void)fx_selector_match(&sel, &l);
        fx_buf_t b = FX_BUF_INIT;
        fx_selector_format(&sel, &b);
        fx_buf_free(&b);
        fx_selector_free(&sel);
    }
    free(s);
    return 0;
}
