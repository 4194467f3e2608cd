/*
 * fuzz_explain_reply.c - chat-completions response bodies from a language-model endpoint (any
 * server an operator configures, so external input): the reply parser must accept or reject
 * with a reason, never crash, and an accepted answer must have every field and a category.
 */
#include <stdint.h>
#include <stdlib.h>

#include "explain/llm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fx_arena_t a;
    fx_explain_answer_t ans;
    fx_err_t err = {0};
    fx_arena_init(&a);
    if (fx_explain_llm_parse_reply((const char *)data, size, &a, &ans, &err) == FX_OK) {
        if (!ans.function || !ans.bottleneck_md || !ans.root_cause_md || !ans.fix_md ||
            ans.cat <= FX_CAT_NONE || ans.cat >= FX_CAT__COUNT)
            abort();
    } else if (!err.msg[0]) {
        abort();
    }
    fx_arena_free(&a);
    return 0;
}
