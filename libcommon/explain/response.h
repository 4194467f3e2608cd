/*
 * response.h - the JSON body of POST /api/v1/explain.
 *
 *   {"engine": "builtin" | "llm",
 *    "fallback_reason": "...",            only when a language model was asked and failed
 *    "model": "...",                      only with engine "llm"
 *    "bottleneck": {"function": "...", "markdown": "..."},
 *    "root_cause": {"category": "gc" | "regex" | ..., "markdown": "..."},
 *    "recommended_fix": {"markdown": "..."},
 *    "evidence": [ {"kind": "bottleneck", ...}, {"kind": "top_self", ...},
 *                  {"kind": "top_total", ...}, {"kind": "hottest_paths", ...},
 *                  {"kind": "categories", ...} ],       per profile side; docs/explain.md
 *    "changes": [{"function", "baseline_share", "comparison_share", "change", "category"}]}
 *                                                        diff only
 * Shares are fractions of the profile's total (0..1).
 */
#ifndef FX_EXPLAIN_RESPONSE_H
#define FX_EXPLAIN_RESPONSE_H

#include <stddef.h>

#include "core/buf.h"
#include "explain/analyze.h"

/* A language model's answer, already validated (llm.h). Strings are borrowed. */
typedef struct fx_explain_answer {
    const char *model;
    const char *function;
    const char *bottleneck_md;
    int cat; /* enum fx_cat */
    const char *root_cause_md;
    const char *fix_md;
} fx_explain_answer_t;

/* Appends the response body to out (which the caller owns). With llm == NULL the built-in
 * findings are the answer; fallback_reason (may be NULL) says why a requested model was not
 * used. The evidence and changes always come from the built-in analysis. */
void fx_explain_write_response(fx_buf_t *out, const fx_explain_findings_t *f,
                               const fx_explain_answer_t *llm, const char *fallback_reason);

/* Appends s (n bytes) as a JSON string literal. Unlike fx_buf_json_str it never emits
 * invalid JSON: bytes that are not valid UTF-8 become U+FFFD. */
void fx_explain_json_str(fx_buf_t *b, const char *s, size_t n);

/* Appends a share as a JSON number with at most 4 decimals. */
void fx_explain_json_share(fx_buf_t *b, double share);

#endif
