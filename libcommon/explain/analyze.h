/*
 * analyze.h - the built-in Explain analyzer: reads one call tree (or two, for a diff) and
 * names the bottleneck (the user's own function), the root-cause category and a fix.
 *
 * How it works (docs/explain.md has the long version):
 *  1. Every frame is classified with the knowledge base (kb.h): user code, or runtime/library
 *     code with a category (gc, regex, lock, ...).
 *  2. The cost (self value) of every node is charged to its nearest user ancestor (the
 *     "owner"), under the category of the outermost categorised library frame between the
 *     owner and the node: main.handler -> encoding/json.Marshal -> runtime.mallocgc is
 *     serialization charged to main.handler. Plain user work is "compute"; compute at a
 *     point where the owner appears three or more times on the path is "recursion".
 *  3. Cost with no user frame above it (Go's background mark workers, JVM GC threads, Node's
 *     ":Garbage Collection:0") is gc that allocating code caused: it is spread over the user
 *     functions in proportion to the allocation they do (or to their busy cost when the
 *     profile shows no allocation frames). Other unowned busy cost goes to the user function
 *     its framework dispatched to, when that is unambiguous: the nearest ancestor with user
 *     code below it has exactly one topmost user function (Spring serialising a controller's
 *     return value after it returned). Otherwise it stays with the runtime frame it is in,
 *     so a framework or runtime hot spot can still be named when no user code is responsible.
 *  4. Idle cost (sleeping, polling, waiting for work) is set apart: the bottleneck is the
 *     function with the most busy cost, unless at least two thirds of the profile is idle,
 *     in which case the verdict is "idle" and names the function that waits most.
 *  5. A diff compares each function's share of its side's total and names the function whose
 *     busy share grew most, with the category that grew most inside it.
 * Deterministic: ties break by fixed orders, never by hash or pointer order.
 *
 * Ownership: the findings own every string they point to (an arena inside them); release
 * with fx_explain_findings_free. Input trees are only read and may be freed afterwards.
 */
#ifndef FX_EXPLAIN_ANALYZE_H
#define FX_EXPLAIN_ANALYZE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "core/mem.h"
#include "explain/kb.h"
#include "model/tree.h"

#define FX_EXPLAIN_TOP 10     /* functions listed per evidence table */
#define FX_EXPLAIN_VIA 5      /* library frames listed for the bottleneck */
#define FX_EXPLAIN_PATHS 3    /* hottest paths per side */
#define FX_EXPLAIN_PATH_MAX 48 /* frames kept per path (the leaf end) */
#define FX_EXPLAIN_CHANGES 10 /* changes listed for a diff */

/* A function (or frame) with its share of its side's total. */
typedef struct fx_explain_fn {
    const char *name;
    double share;       /* top_self: self share; top_total, via, bottleneck: total share */
    uint8_t lib;        /* runtime or library frame */
    uint8_t cat;        /* enum fx_cat */
    const char *caller; /* top_self of a library frame: the user function charged, or NULL */
    double base_share;  /* diff, via: the same frame's share under the function in the baseline */
} fx_explain_fn_t;

typedef struct fx_explain_path {
    const char **frames; /* root first; when longer than FX_EXPLAIN_PATH_MAX, the root end is
                            cut and truncated is set */
    size_t n;
    int truncated;
    double share; /* busy (non-idle) share of the path's last node, self included */
} fx_explain_path_t;

/* Evidence about one profile (the target, or one side of a diff). */
typedef struct fx_explain_side {
    int64_t total;
    double idle_share;
    double cat_share[FX_CAT__COUNT]; /* whole profile, by charged category */
    fx_explain_fn_t top_self[FX_EXPLAIN_TOP];
    size_t n_top_self;
    fx_explain_fn_t top_total[FX_EXPLAIN_TOP]; /* user functions, inclusive */
    size_t n_top_total;
    fx_explain_path_t paths[FX_EXPLAIN_PATHS];
    size_t n_paths;
    int lang; /* enum fx_lang: the profile's main runtime */
} fx_explain_side_t;

enum fx_explain_change_kind {
    FX_CHANGE_GREW = 0,
    FX_CHANGE_SHRANK,
    FX_CHANGE_APPEARED,
    FX_CHANGE_VANISHED,
};
const char *fx_explain_change_kind_name(int kind); /* "grew", "shrank", ... */

typedef struct fx_explain_change {
    const char *function;
    double baseline_share, comparison_share;
    uint8_t kind; /* enum fx_explain_change_kind */
    uint8_t cat;  /* the category that moved most inside the function */
    uint8_t lib;  /* an unattributed runtime group rather than a user function */
} fx_explain_change_t;

typedef struct fx_explain_findings {
    fx_arena_t arena; /* owns everything below */
    int diff;
    const char *unit; /* "CPU time", "samples", ... (what the values measure) */

    /* The verdict. */
    const char *function; /* bottleneck: the user function (or runtime frame if none) */
    int user;             /* function is user code (0: unattributed runtime/library work) */
    int cat;              /* enum fx_cat, never FX_CAT_NONE */
    double share;         /* function's share (comparison side for a diff) */
    double base_share;    /* diff: the baseline share */
    double cat_share[FX_CAT__COUNT]; /* function's cost by category, as shares */
    double bg_gc_share;   /* part of cat_share[gc] charged from unattributed GC work */
    const char *bg_gc_frame; /* the widest unattributed GC frame, if any */
    double adopted_share;    /* framework work done for it outside its frames (see analyze.c) */
    const char *adopted_frame; /* the widest such framework frame */
    fx_explain_fn_t via[FX_EXPLAIN_VIA]; /* library frames the function spends in */
    size_t n_via;
    const char *runner_up; /* next candidate, or NULL */
    double runner_up_share;
    int runner_up_cat;
    const char *idle_frame; /* idle verdict: the frame it waits in */
    const char *busiest;    /* idle verdict: the busiest function, or NULL */
    double busiest_share;

    /* Markdown of the three findings. */
    const char *bottleneck_md;
    const char *root_cause_md;
    const char *fix_md;

    fx_explain_side_t side[2]; /* [0] target or baseline, [1] comparison (diff) */
    fx_explain_change_t changes[FX_EXPLAIN_CHANGES];
    size_t n_changes;
} fx_explain_findings_t;

/* Options. unit may be NULL ("samples"). */
typedef struct fx_explain_opts {
    const char *unit;
} fx_explain_opts_t;

/* Analyzes one call tree. The tree's totals need not be computed. Fails with FX_EINVAL when
 * the tree has no samples (err says so). f is initialised here; free it with
 * fx_explain_findings_free even on failure. */
int fx_explain_analyze(const fx_tree_t *t, const fx_explain_opts_t *o, fx_explain_findings_t *f,
                       fx_err_t *err);

/* Analyzes the change from base to cmp (two call trees of the same profile type). */
int fx_explain_analyze_diff(const fx_tree_t *base, const fx_tree_t *cmp,
                            const fx_explain_opts_t *o, fx_explain_findings_t *f, fx_err_t *err);

void fx_explain_findings_free(fx_explain_findings_t *f);

/* A human unit for a profile type id ("process_cpu:cpu:nanoseconds:cpu:nanoseconds" -> "CPU
 * time") or a pprof sample type ("alloc_space" -> "allocated memory"); "samples" otherwise.
 * Static strings. */
const char *fx_explain_unit_for(const char *profile_type_or_sample_type);

/* Internal: writes the three markdown findings into f (text.c). */
void fx__explain_write_text(fx_explain_findings_t *f);

#endif
