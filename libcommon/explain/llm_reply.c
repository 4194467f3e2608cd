/*
 * llm_reply.c - parses a chat-completions response into an Explain answer.
 *
 * The body is external input (any server an operator points us at), so every field is
 * checked and every failure has a reason that ends up in "fallback_reason". The model's text
 * may wrap the JSON object in a ``` or ```json fence, or add a sentence around it: the first
 * '{' to the last '}' of the (unfenced) text is parsed.
 */
#include "explain/llm.h"

#include <jansson.h>
#include <string.h>

#define MAX_FIELD (32 * 1024) /* bytes per markdown field */

static int fail(fx_err_t *err, int code, const char *fmt, const char *detail)
{
    char clipped[161];
    size_t n = detail ? strlen(detail) : 0;
    if (n > 160)
        n = 160;
    if (detail)
        memcpy(clipped, detail, n);
    clipped[n] = 0;
    return fx_err_set(err, code, fmt, clipped);
}

/* The message content: a string, or an array of {"type":"text","text":...} parts. */
static const char *content_text(json_t *msg, fx_buf_t *joined)
{
    json_t *c = json_object_get(msg, "content");
    if (json_is_string(c))
        return json_string_value(c);
    if (!json_is_array(c))
        return NULL;
    size_t i;
    json_t *part;
    json_array_foreach(c, i, part)
    {
        const char *text = json_string_value(json_object_get(part, "text"));
        if (text)
            fx_buf_puts(joined, text);
    }
    return joined->len ? fx_buf_cstr(joined) : NULL;
}

/* Finds the JSON object in the model's text; sets *start and *len. */
static int extract_object(const char *text, const char **start, size_t *len)
{
    const char *s = text, *e = text + strlen(text);
    const char *fence = strstr(s, "```");
    if (fence) {
        const char *body = memchr(fence + 3, '\n', (size_t)(e - fence - 3));
        if (body) {
            const char *close = strstr(body + 1, "```");
            s = body + 1;
            e = close ? close : e;
        }
    }
    const char *open = memchr(s, '{', (size_t)(e - s));
    const char *last = NULL;
    for (const char *p = e; p > s; p--)
        if (p[-1] == '}') {
            last = p;
            break;
        }
    if (!open || !last || last <= open)
        return -1;
    *start = open;
    *len = (size_t)(last - open);
    return 0;
}

static const char *field(json_t *obj, const char *section, const char *name, fx_arena_t *a,
                         fx_err_t *err)
{
    json_t *sec = json_object_get(obj, section);
    const char *v = json_string_value(json_object_get(sec, name));
    if (!json_is_object(sec) || !v || !*v) {
        fx_err_set(err, FX_EINVAL, "the language model's answer has no %s.%s string", section,
                   name);
        return NULL;
    }
    size_t n = strlen(v);
    if (n > MAX_FIELD) {
        fx_err_set(err, FX_EINVAL, "the language model's %s.%s is longer than %d bytes",
                   section, name, MAX_FIELD);
        return NULL;
    }
    return fx_arena_strndup(a, v, n);
}

int fx_explain_llm_parse_reply(const char *body, size_t len, fx_arena_t *a,
                               fx_explain_answer_t *ans, fx_err_t *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr), *answer = NULL;
    fx_buf_t joined = FX_BUF_INIT;
    int rc = FX_OK;
    memset(ans, 0, sizeof *ans);

    if (!json_is_object(root)) {
        rc = fail(err, FX_EINVAL, "the language model endpoint did not return JSON (%s)",
                  root ? "not an object" : jerr.text);
        goto out;
    }
    json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
    json_t *msg = json_object_get(choice, "message");
    if (!json_is_object(msg)) {
        rc = fx_err_set(err, FX_EINVAL,
                        "the language model endpoint's reply has no choices[0].message");
        goto out;
    }
    const char *refusal = json_string_value(json_object_get(msg, "refusal"));
    if (refusal && *refusal) {
        rc = fail(err, FX_EPERM, "the language model refused: %s", refusal);
        goto out;
    }
    const char *finish = json_string_value(json_object_get(choice, "finish_reason"));
    if (finish && strcmp(finish, "content_filter") == 0) {
        rc = fx_err_set(err, FX_EPERM, "the language model's answer was withheld by its "
                                       "content filter");
        goto out;
    }
    const char *text = content_text(msg, &joined);
    if (!text || !*text) {
        rc = fx_err_set(err, FX_EINVAL, "the language model returned an empty answer");
        goto out;
    }
    const char *obj;
    size_t obj_len;
    if (extract_object(text, &obj, &obj_len) != 0) {
        rc = fail(err, FX_EINVAL, "the language model's answer has no JSON object: %s", text);
        goto out;
    }
    answer = json_loadb(obj, obj_len, 0, &jerr);
    if (!json_is_object(answer)) {
        rc = fail(err, FX_EINVAL, "the language model's answer is not valid JSON (%s)",
                  jerr.text);
        goto out;
    }
    const char *cat = NULL;
    if (!(ans->function = field(answer, "bottleneck", "function", a, err)) ||
        !(ans->bottleneck_md = field(answer, "bottleneck", "markdown", a, err)) ||
        !(cat = field(answer, "root_cause", "category", a, err)) ||
        !(ans->root_cause_md = field(answer, "root_cause", "markdown", a, err)) ||
        !(ans->fix_md = field(answer, "recommended_fix", "markdown", a, err))) {
        rc = err ? err->code : FX_EINVAL;
        goto out;
    }
    ans->cat = fx_cat_parse(cat, strlen(cat));
    if (ans->cat < 0) {
        rc = fail(err, FX_EINVAL, "the language model answered an unknown category \"%s\"", cat);
        goto out;
    }
    const char *model = json_string_value(json_object_get(root, "model"));
    if (model && strlen(model) < 200)
        ans->model = fx_arena_strdup(a, model);
out:
    if (rc != FX_OK)
        memset(ans, 0, sizeof *ans);
    fx_buf_free(&joined);
    json_decref(answer);
    json_decref(root);
    return rc;
}
