/*
 * kb.h - the Explain knowledge base: which frames are runtime or library code, and what kind
 * of cost they stand for.
 *
 * A frame name is classified from its syntax (the profiler that wrote it: Go pprof, JFR or
 * async-profiler, .NET, the Pyroscope Node SDK, py-spy or perf Python trampolines, rbspy,
 * perf with kernel frames) and from rule tables of known runtime and library frames
 * (kb_rules.c). A frame no rule knows is the user's own code. The analyzer charges the cost
 * of library frames to the nearest user frame that calls them, so a rule table is a list of
 * "not the user's code" facts plus the category each fact implies.
 *
 * Classification is pure and thread-safe (the rule index is built once, under pthread_once).
 */
#ifndef FX_EXPLAIN_KB_H
#define FX_EXPLAIN_KB_H

#include <stddef.h>
#include <stdint.h>

/* Root-cause categories. FX_CAT_NONE marks a neutral library frame (no category of its own:
 * its cost counts as plain compute of the user function above it). The string names are the
 * API's category values. */
enum fx_cat {
    FX_CAT_NONE = 0,
    FX_CAT_GC,
    FX_CAT_REGEX,
    FX_CAT_SERIALIZATION,
    FX_CAT_LOCK,
    FX_CAT_SYSCALL_IO,
    FX_CAT_CRYPTO,
    FX_CAT_COMPRESSION,
    FX_CAT_RECURSION,
    FX_CAT_REFLECTION,
    FX_CAT_LOGGING,
    FX_CAT_IDLE,
    FX_CAT_COMPUTE,
    FX_CAT__COUNT
};

/* "gc", "regex", ...; "" for FX_CAT_NONE. Static strings. */
const char *fx_cat_name(int cat);
/* The category named s (exact API spelling), or -1. */
int fx_cat_parse(const char *s, size_t n);

enum fx_lang {
    FX_LANG_UNKNOWN = 0,
    FX_LANG_GO,
    FX_LANG_JVM,
    FX_LANG_DOTNET,
    FX_LANG_NODE,
    FX_LANG_PYTHON,
    FX_LANG_RUBY,
    FX_LANG_NATIVE, /* C/C++, libc, the kernel */
    FX_LANG__COUNT
};

/* "Go", "Java/JVM", ...; static strings. */
const char *fx_lang_name(int lang);

/* Flags of a classified frame. */
enum {
    /* The frame belongs to a native runtime or library that never calls back into user code
     * (the kernel, HotSpot, CPython's C core, OpenSSL, zlib, malloc, ...): an unknown native
     * symbol called from it is its own internal function, not user code. */
    FX_KB_INTERNAL = 1,
    /* The name looks like a plain native symbol (C or C++): no package dots or paths. */
    FX_KB_NATIVE_LOOK = 2,
};

typedef struct fx_kb_class {
    uint8_t lib;   /* 1: runtime or library frame; 0: the user's code */
    uint8_t cat;   /* enum fx_cat of the frame itself (FX_CAT_NONE if neutral or user) */
    uint8_t lang;  /* enum fx_lang: what the rule or the syntax points to */
    uint8_t flags; /* FX_KB_* */
} fx_kb_class_t;

/* Classifies one frame name (not NUL-terminated; n bytes). Never fails. */
void fx_kb_classify(const char *name, size_t n, fx_kb_class_t *out);

#endif
