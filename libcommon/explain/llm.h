/*
 * llm.h - the optional language-model engine of Explain: an OpenAI-compatible
 * POST {base_url}/v1/chat/completions request through libcurl.
 *
 * Nothing is sent anywhere unless an operator set base_url. The prompt carries a compact
 * evidence summary (top self and total functions, hottest stacks, the call graph of the 100
 * heaviest nodes as "A -> B" edges) and the built-in analyzer's findings, and asks for one
 * JSON object with the same three sections and a category. HTTPS is verified (peer and host);
 * plain http is accepted only for loopback hosts (a local model server). No redirects are
 * followed, so the key is never sent to another host. The API key file is read at each use
 * and its content never logged or echoed in an error.
 *
 * Blocking: fx_explain_llm_ask waits up to timeout_ms; call it off any event loop thread.
 * Thread-safe (libcurl is initialised once under pthread_once).
 */
#ifndef FX_EXPLAIN_LLM_H
#define FX_EXPLAIN_LLM_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/core.h"
#include "core/mem.h"
#include "explain/analyze.h"
#include "explain/response.h"
#include "model/tree.h"

#define FX_EXPLAIN_LLM_DEFAULT_MODEL "gpt-4o-mini"
#define FX_EXPLAIN_LLM_DEFAULT_TIMEOUT_MS 30000
#define FX_EXPLAIN_LLM_MAX_REPLY (1u << 20) /* bytes of response body accepted */
#define FX_EXPLAIN_LLM_GRAPH_NODES 100      /* call-graph nodes in the prompt */

/* Operator configuration. Suggested flags: -explain.llm.base-url, -explain.llm.model,
 * -explain.llm.api-key-file, -explain.llm.timeout. Strings are borrowed and must outlive
 * every call that uses the config. */
typedef struct fx_explain_llm_config {
    const char *base_url;     /* "https://api.openai.com"; NULL or "": language model off */
    const char *model;        /* FX_EXPLAIN_LLM_DEFAULT_MODEL */
    const char *api_key_file; /* NULL: no Authorization header (local servers) */
    int64_t timeout_ms;       /* whole request, connect included */
} fx_explain_llm_config_t;

/* Defaults: off, model gpt-4o-mini, no key file, 30 s. */
void fx_explain_llm_config_defaults(fx_explain_llm_config_t *c);
/* 1 when a base URL is configured. */
int fx_explain_llm_enabled(const fx_explain_llm_config_t *c);
/* Validates a configuration at start-up (URL scheme and host, model, timeout) so that a
 * mistake is reported then, not on the first request. FX_EINVAL with a message. */
int fx_explain_llm_config_check(const fx_explain_llm_config_t *c, fx_err_t *err);

/* Appends the chat-completions request body for findings f to out. t0 is the target (or the
 * baseline), t1 the comparison or NULL. Exposed for tests and the benchmark. */
void fx_explain_llm_build_request(const fx_explain_llm_config_t *c, const fx_tree_t *t0,
                                  const fx_tree_t *t1, const fx_explain_findings_t *f,
                                  fx_buf_t *out);

/* Parses a chat-completions response body into ans; strings are copied into a. Accepts the
 * answer as plain JSON or inside a ``` fenced block. On failure returns an FX_E* code and err
 * says why (refusal, missing field, unknown category, not JSON). */
int fx_explain_llm_parse_reply(const char *body, size_t len, fx_arena_t *a,
                               fx_explain_answer_t *ans, fx_err_t *err);

/* The whole exchange: build the request, POST it, parse the answer. On any failure returns an
 * FX_E* code (FX_EDEADLINE on timeout) and err holds a reason fit for "fallback_reason". */
int fx_explain_llm_ask(const fx_explain_llm_config_t *c, const fx_tree_t *t0, const fx_tree_t *t1,
                       const fx_explain_findings_t *f, fx_arena_t *a, fx_explain_answer_t *ans,
                       fx_err_t *err);

#endif
