/*
 * kb_internal.h - the rule tables behind kb.c (data in kb_rules.c). Not a public API.
 *
 * A rule says "frames whose (normalised) name starts with / equals / contains PAT are runtime
 * or library code of language LANG, category CAT". The generic table is matched by longest
 * prefix (an exact rule beats a prefix rule of the same length), so a specific rule such as
 * "java.util.concurrent.locks.AbstractQueuedSynchronizer$ConditionObject.await" (idle) wins
 * over the broader "java.util.concurrent.locks." (lock) without depending on table order.
 * The path tables (Python, Ruby) are matched by substring, first match wins, so their order
 * matters: specific entries first.
 */
#ifndef FX_EXPLAIN_KB_INTERNAL_H
#define FX_EXPLAIN_KB_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

enum { FX__KB_PREFIX = 0, FX__KB_EXACT = 1 };

typedef struct fx__kb_rule {
    const char *pat;
    uint16_t len;
    uint8_t how;   /* FX__KB_PREFIX or FX__KB_EXACT (generic table); unused in path tables */
    uint8_t lang;  /* enum fx_lang */
    uint8_t cat;   /* enum fx_cat */
    uint8_t flags; /* FX_KB_INTERNAL */
} fx__kb_rule_t;

/* Generic frame names: Go, JVM (dotted; slashed names are normalised first), .NET (after an
 * "Assembly!" prefix is removed), Node core modules ("node:...") and pseudo frames, native
 * C/C++ libraries, libc, the Linux kernel, CPython's and Ruby's C internals. */
extern const fx__kb_rule_t fx__kb_generic[];
extern const size_t fx__kb_generic_len;

/* Substring rules on Python source paths of library frames (category only). */
extern const fx__kb_rule_t fx__kb_py_path[];
extern const size_t fx__kb_py_path_len;
/* Markers that make a Python path a library path (stdlib, site-packages, frozen modules). */
extern const char *const fx__kb_py_lib_markers[];
/* Top-level stdlib modules, to recognise relative paths such as "json/decoder.py". */
extern const char *const fx__kb_py_stdlib[];
/* Top-level third-party packages, for the short paths py-spy prints by default
 * ("requests/sessions.py", "pydantic/main.py": the part below site-packages). */
extern const char *const fx__kb_py_packages[];

/* Substring rules on Ruby source paths of library frames (category only). */
extern const fx__kb_rule_t fx__kb_rb_path[];
extern const size_t fx__kb_rb_path_len;
extern const char *const fx__kb_rb_lib_markers[];
/* Exact names of Ruby methods implemented in C ("gsub [c function]" in rbspy). */
extern const fx__kb_rule_t fx__kb_rb_cfunc[];
extern const size_t fx__kb_rb_cfunc_len;

/* npm packages by name ("protobufjs", "@noble" for a whole scope). */
extern const fx__kb_rule_t fx__kb_npm[];
extern const size_t fx__kb_npm_len;
/* Words of npm package names ("fast-json-stable-stringify" has "json") that give an unlisted
 * package its category; matched against whole words of the name, first rule wins. */
extern const fx__kb_rule_t fx__kb_npm_words[];
extern const size_t fx__kb_npm_words_len;

#endif
