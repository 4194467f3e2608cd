/*
 * analyze.c - the built-in analyzer: charge every node's cost to the user function that
 * caused it, pick the bottleneck and its category, collect the evidence. The algorithm is
 * described in analyze.h; the markdown is written by text.c.
 *
 * One walk over the tree (depth first, without a stack: the tree has parent, first-child and
 * next-sibling links) classifies each node in its context and charges its self value. Per-name
 * state is in arrays indexed by the tree's name ids; everything else lives in small "subject"
 * records (a user function, or an unattributed runtime group). Cost is linear in the number of
 * nodes plus the number of distinct names.
 */
#include "explain/analyze.h"
#include "explain/closure.h"
#include "core/hash.h"
#include "core/strtab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NONE32 UINT32_MAX
#define RECURSION_DEPTH 3      /* the owner on the path this many times: recursion */
#define IDLE_DOMINANT (2.0 / 3.0)
#define MULTI32 (UINT32_MAX - 1)

typedef struct subject {
    uint32_t name;  /* name id in the side's tree */
    uint8_t user;   /* 1: a user function; 0: unattributed runtime/library group */
    double cost[FX_CAT__COUNT];
    double alloc;   /* cost inside allocation frames: weights background GC */
    double adopted; /* framework work charged to it (see adopt in analyze_side) */
    uint32_t adopted_frame; /* the widest such frame */
    double adopted_frame_cost;
    double bg_gc;   /* gc charged from unattributed GC work */
    int64_t cum;    /* inclusive total, recursion counted once (user functions) */
} subject_t;

/* Cost a user function spends through one library entry frame, by category. */
typedef struct via_acc {
    uint32_t subj, name;
    double cost;
    double cat[FX_CAT__COUNT];
} via_acc_t;

typedef struct side {
    const fx_tree_t *t;
    size_t n, nnames;
    int64_t tot;
    double idle;
    double cat_total[FX_CAT__COUNT];
    int lang_votes[FX_LANG__COUNT];
    /* per name */
    fx_kb_class_t *cls;
    uint8_t *cls_done;
    uint8_t *closure; /* per name: closure kind + 1 (0: not computed yet) */
    uint32_t *on_path; /* occurrences on the current walk path */
    int64_t *name_self;
    int64_t *name_libself;
    /* per node */
    int64_t *total;
    int64_t *busy;
    uint32_t *owner;    /* subject charged (NONE32: unattributed) */
    uint32_t *owner_nm; /* the owner's name id */
    uint32_t *entry;    /* the library frame the owner called (NONE32 for user frames) */
    uint32_t *via;      /* the outermost categorised library frame, else entry: names the
                           group of unattributed work */
    uint8_t *lib, *flags, *ctx, *alloc, *ecat, *rec;
    uint32_t *topuser; /* the one topmost user frame name in the subtree, NONE32, or MULTI */
    uint32_t *adopt;   /* unattributed node: the subject its framework dispatched to */
    /* subjects */
    subject_t *subj;
    size_t nsubj, capsubj;
    fx_map64_t subj_index; /* user << 32 | name -> subject */
    fx_map64_t via_index;  /* subject << 32 | entry name -> index into vias */
    struct via_acc *vias;
    size_t nvias, capvias;
    fx_map64_t self_owner; /* name << 32 | subject -> cost */
    fx_map64_t adopted_cost; /* subject << 32 | frame -> adopted cost */
    double bg_gc;          /* unattributed GC moved onto user functions */
    uint32_t bg_gc_frame;
    uint8_t gc_by_busy;    /* ... in proportion to busy cost: no allocation frames seen */
} side_t;

/* ---------------------------------------------------------------- setup */

static void side_init(side_t *s, const fx_tree_t *t)
{
    memset(s, 0, sizeof *s);
    s->t = t;
    s->n = t->len;
    s->nnames = t->names.len;
    s->cls = fx_calloc(s->nnames, sizeof *s->cls);
    s->cls_done = fx_calloc(s->nnames, 1);
    s->closure = fx_calloc(s->nnames, 1);
    s->on_path = fx_calloc(s->nnames, sizeof *s->on_path);
    s->name_self = fx_calloc(s->nnames, sizeof *s->name_self);
    s->name_libself = fx_calloc(s->nnames, sizeof *s->name_libself);
    s->total = fx_calloc(s->n, sizeof *s->total);
    s->busy = fx_calloc(s->n, sizeof *s->busy);
    s->owner = fx_malloc(s->n * sizeof *s->owner);
    s->owner_nm = fx_malloc(s->n * sizeof *s->owner_nm);
    s->entry = fx_malloc(s->n * sizeof *s->entry);
    s->via = fx_malloc(s->n * sizeof *s->via);
    s->lib = fx_calloc(s->n, 1);
    s->flags = fx_calloc(s->n, 1);
    s->ctx = fx_calloc(s->n, 1);
    s->alloc = fx_calloc(s->n, 1);
    s->ecat = fx_calloc(s->n, 1);
    s->rec = fx_calloc(s->n, 1);
    s->topuser = fx_malloc(s->n * sizeof *s->topuser);
    s->adopt = fx_malloc(s->n * sizeof *s->adopt);
    fx_map64_init(&s->subj_index);
    fx_map64_init(&s->via_index);
    fx_map64_init(&s->self_owner);
    fx_map64_init(&s->adopted_cost);
    s->bg_gc_frame = NONE32;
}

static void side_free(side_t *s)
{
    free(s->cls);
    free(s->cls_done);
    free(s->closure);
    free(s->on_path);
    free(s->name_self);
    free(s->name_libself);
    free(s->total);
    free(s->busy);
    free(s->owner);
    free(s->owner_nm);
    free(s->entry);
    free(s->via);
    free(s->vias);
    free(s->lib);
    free(s->flags);
    free(s->ctx);
    free(s->alloc);
    free(s->ecat);
    free(s->rec);
    free(s->topuser);
    free(s->adopt);
    free(s->subj);
    fx_map64_free(&s->subj_index);
    fx_map64_free(&s->via_index);
    fx_map64_free(&s->self_owner);
    fx_map64_free(&s->adopted_cost);
}

static const char *nm(const side_t *s, uint32_t name)
{
    return fx_tree_name_str(s->t, name);
}

static const fx_kb_class_t *classify(side_t *s, uint32_t name)
{
    if (!s->cls_done[name]) {
        fx_kb_classify(nm(s, name), fx_strtab_len(&s->t->names, name), &s->cls[name]);
        s->cls_done[name] = 1;
    }
    return &s->cls[name];
}

/* The user function a user frame's cost belongs to: the frame itself, or, for anonymous code
 * (a closure, lambda, block, comprehension) written inside the nearest user function above it,
 * that function: "(anonymous:L#90)" or "handle.func1" is not a name anyone can act on. */
static uint32_t user_function(side_t *s, uint32_t name, uint32_t outer)
{
    if (!s->closure[name]) {
        s->closure[name] = (uint8_t)(1 + fx__explain_closure_kind(
                                             nm(s, name), fx_strtab_len(&s->t->names, name)));
    }
    int kind = s->closure[name] - 1;
    if (kind && outer != NONE32 &&
        fx__explain_closure_in(kind, nm(s, name), fx_strtab_len(&s->t->names, name),
                               nm(s, outer), fx_strtab_len(&s->t->names, outer)))
        return outer;
    return name;
}

static uint32_t subject(side_t *s, int user, uint32_t name)
{
    int inserted;
    uint64_t *slot = fx_map64_put(&s->subj_index, (uint64_t)user << 32 | name, &inserted);
    if (inserted) {
        FX_GROW(s->subj, s->capsubj, s->nsubj + 1);
        subject_t *j = &s->subj[s->nsubj];
        memset(j, 0, sizeof *j);
        j->name = name;
        j->adopted_frame = NONE32;
        j->user = (uint8_t)user;
        *slot = s->nsubj++;
    }
    return (uint32_t)*slot;
}

static void add64(fx_map64_t *m, uint64_t key, int64_t v)
{
    *fx_map64_put(m, key, NULL) += (uint64_t)v;
}

static void via_add(side_t *s, uint32_t who, uint32_t name, int cat, int64_t v)
{
    int inserted;
    uint64_t *slot = fx_map64_put(&s->via_index, (uint64_t)who << 32 | name, &inserted);
    if (inserted) {
        FX_GROW(s->vias, s->capvias, s->nvias + 1);
        memset(&s->vias[s->nvias], 0, sizeof s->vias[0]);
        s->vias[s->nvias].subj = who;
        s->vias[s->nvias].name = name;
        *slot = s->nvias++;
    }
    via_acc_t *a = &s->vias[*slot];
    a->cost += (double)v;
    a->cat[cat] += (double)v;
}

/* A depth-1 frame that is a plain word (perf's process name: "nginx", "python3.12") is a
 * label, not code: it must not own the library work of truncated stacks below it. */
static int process_label(const char *name, size_t len)
{
    if (len == 4 && memcmp(name, "main", 4) == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (name[i] == ':' || name[i] == '(' || name[i] == ' ' || name[i] == '<')
            return 0;
    return 1;
}

/* ---------------------------------------------------------------- the walk */

static void charge(side_t *s, uint32_t i, int64_t self)
{
    uint32_t name = s->t->nodes[i].name;
    int e = s->lib[i] ? s->ctx[i] : FX_CAT_NONE;
    if (e == FX_CAT_NONE)
        e = s->rec[i] ? FX_CAT_RECURSION : FX_CAT_COMPUTE;
    s->ecat[i] = (uint8_t)e;
    uint32_t who = s->owner[i], entry = s->entry[i];
    if (who == NONE32 && s->adopt[i] != NONE32 && e != FX_CAT_IDLE && e != FX_CAT_GC) {
        who = s->adopt[i];
        entry = s->via[i];
        subject_t *a = &s->subj[who];
        a->adopted += (double)self;
        uint64_t *slot = fx_map64_put(&s->adopted_cost, (uint64_t)who << 32 | entry, NULL);
        *slot += (uint64_t)self;
        double c = (double)(int64_t)*slot;
        if (c > a->adopted_frame_cost ||
            (c == a->adopted_frame_cost && strcmp(nm(s, entry), nm(s, a->adopted_frame)) < 0)) {
            a->adopted_frame_cost = c;
            a->adopted_frame = entry;
        }
    }
    if (who == NONE32)
        who = subject(s, 0, s->via[i]);
    subject_t *j = &s->subj[who];
    j->cost[e] += (double)self;
    if (s->alloc[i])
        j->alloc += (double)self;
    if (s->lib[i] && j->user)
        via_add(s, who, entry, e, self);
    add64(&s->self_owner, (uint64_t)name << 32 | (j->user ? who : NONE32), self);
    s->name_self[name] += self;
    if (s->lib[i])
        s->name_libself[name] += self;
    s->cat_total[e] += (double)self;
    if (e == FX_CAT_IDLE)
        s->idle += (double)self;
}

static void enter(side_t *s, uint32_t i)
{
    const fx_tree_node_t *node = &s->t->nodes[i];
    uint32_t p = node->parent, name = node->name;
    int at_root = p == FX_TREE_ROOT;
    const fx_kb_class_t *c = classify(s, name);
    int lib = c->lib, cat = c->cat, flags = c->flags;
    if (!lib && (flags & FX_KB_NATIVE_LOOK)) {
        if (!at_root && s->lib[p] && (s->flags[p] & FX_KB_INTERNAL)) {
            /* an unknown symbol inside the kernel, HotSpot, CPython, OpenSSL, ...: internals */
            lib = 1;
            cat = FX_CAT_NONE;
            flags = FX_KB_INTERNAL;
        } else if (at_root && process_label(nm(s, name), fx_strtab_len(&s->t->names, name))) {
            lib = 1;
            cat = FX_CAT_NONE;
            flags = 0;
        }
    }
    s->lib[i] = (uint8_t)lib;
    s->flags[i] = (uint8_t)flags;
    s->on_path[name]++;
    if (!lib) {
        uint32_t fn = user_function(s, name, at_root ? NONE32 : s->owner_nm[p]);
        uint32_t j = subject(s, 1, fn);
        s->owner[i] = j;
        s->owner_nm[i] = fn;
        s->ctx[i] = FX_CAT_NONE;
        s->entry[i] = NONE32;
        s->via[i] = NONE32;
        s->alloc[i] = 0;
        if (fn == name && s->on_path[name] == 1)
            s->subj[j].cum += s->total[i];
    } else {
        s->lang_votes[c->lang]++;
        s->owner[i] = at_root ? NONE32 : s->owner[p];
        s->owner_nm[i] = at_root ? NONE32 : s->owner_nm[p];
        int pctx = at_root ? FX_CAT_NONE : s->ctx[p];
        /* A format, compression or TLS library that reads or writes the file or socket
         * itself (a CSV writer flushing every row, a JSON encoder streaming to a socket)
         * spends that time in I/O: the I/O frames say why it passes. Allocation inside
         * them stays theirs; logging keeps its I/O (logging less is the fix). */
        int io_under = cat == FX_CAT_SYSCALL_IO &&
                       (pctx == FX_CAT_SERIALIZATION || pctx == FX_CAT_COMPRESSION ||
                        pctx == FX_CAT_CRYPTO);
        s->ctx[i] = (uint8_t)(io_under ? cat : pctx != FX_CAT_NONE ? pctx : cat);
        s->entry[i] = at_root || !s->lib[p] ? name : s->entry[p];
        if (at_root || !s->lib[p])
            s->via[i] = name; /* the entry into library code */
        else if ((pctx == FX_CAT_NONE && cat != FX_CAT_NONE) || io_under)
            s->via[i] = name; /* the first frame that says what kind of work this is */
        else
            s->via[i] = s->via[p];
        s->alloc[i] = (uint8_t)(cat == FX_CAT_GC || (!at_root && s->lib[p] && s->alloc[p]));
    }
    s->rec[i] = s->owner_nm[i] != NONE32 && s->on_path[s->owner_nm[i]] >= RECURSION_DEPTH;
}

static void walk(side_t *s)
{
    const fx_tree_node_t *nodes = s->t->nodes;
    for (size_t i = 0; i < s->n; i++)
        s->total[i] = nodes[i].self > 0 ? nodes[i].self : 0;
    for (size_t i = s->n; i-- > 1;)
        s->total[nodes[i].parent] += s->total[i];
    s->tot = s->total[FX_TREE_ROOT];

    uint32_t i = nodes[FX_TREE_ROOT].first_child;
    while (i != FX_TREE_NONE) {
        enter(s, i);
        if (nodes[i].first_child != FX_TREE_NONE) {
            i = nodes[i].first_child;
            continue;
        }
        for (;;) {
            s->on_path[nodes[i].name]--;
            if (nodes[i].next_sibling != FX_TREE_NONE) {
                i = nodes[i].next_sibling;
                break;
            }
            i = nodes[i].parent;
            if (i == FX_TREE_ROOT) {
                i = FX_TREE_NONE;
                break;
            }
        }
    }
    /* Framework work done for a handler outside its own frames (a response serialised after
     * the controller returned, request parsing before it runs) sits in a sibling subtree of
     * the handler. It is charged to the handler when the nearest ancestor that has user code
     * below it has exactly one topmost user function there and is not a root frame; shared
     * code (several handlers, the process or thread root) stays unattributed. */
    for (size_t k = 0; k < s->n; k++)
        s->topuser[k] = s->lib[k] || k == FX_TREE_ROOT ? NONE32 : s->owner_nm[k];
    for (size_t k = s->n; k-- > 1;) {
        uint32_t p = nodes[k].parent, u = s->topuser[k];
        if (u == NONE32 || (p != FX_TREE_ROOT && !s->lib[p]))
            continue;
        s->topuser[p] = s->topuser[p] == NONE32 || s->topuser[p] == u ? u : MULTI32;
    }
    s->adopt[FX_TREE_ROOT] = NONE32;
    for (size_t k = 1; k < s->n; k++) {
        uint32_t p = nodes[k].parent, u = s->topuser[k];
        if (!s->lib[k] || s->owner[k] != NONE32)
            s->adopt[k] = NONE32;
        else if (u == MULTI32)
            s->adopt[k] = NONE32;
        else if (u != NONE32)
            /* never at a root frame (perf's process name, ":Node.js:0", a thread's entry):
             * everything in the process hangs there */
            s->adopt[k] = p == FX_TREE_ROOT ? NONE32 : subject(s, 1, u);
        else
            s->adopt[k] = p == FX_TREE_ROOT ? NONE32 : s->adopt[p];
    }
    for (size_t k = 1; k < s->n; k++)
        if (nodes[k].self > 0)
            charge(s, (uint32_t)k, nodes[k].self);
    if (nodes[FX_TREE_ROOT].self > 0)
        s->cat_total[FX_CAT_COMPUTE] += (double)nodes[FX_TREE_ROOT].self;

    for (size_t k = 0; k < s->n; k++)
        s->busy[k] = nodes[k].self > 0 && s->ecat[k] != FX_CAT_IDLE ? nodes[k].self : 0;
    for (size_t k = s->n; k-- > 1;)
        s->busy[nodes[k].parent] += s->busy[k];
}

static double busy_cost(const subject_t *j)
{
    double b = 0;
    for (int c = 1; c < FX_CAT__COUNT; c++)
        if (c != FX_CAT_IDLE)
            b += j->cost[c];
    return b;
}

static double all_cost(const subject_t *j)
{
    return busy_cost(j) + j->cost[FX_CAT_IDLE];
}

/* Unattributed GC is caused by allocating code: move it onto the user functions in
 * proportion to their allocation (or, when no allocation frames show, to their busy cost). */
static void spread_gc(side_t *s)
{
    double g = 0, widest = 0;
    for (size_t k = 0; k < s->nsubj; k++) {
        subject_t *j = &s->subj[k];
        if (j->user || j->cost[FX_CAT_GC] <= 0)
            continue;
        g += j->cost[FX_CAT_GC];
        if (j->cost[FX_CAT_GC] > widest ||
            (j->cost[FX_CAT_GC] == widest && strcmp(nm(s, j->name), nm(s, s->bg_gc_frame)) < 0)) {
            widest = j->cost[FX_CAT_GC];
            s->bg_gc_frame = j->name;
        }
    }
    if (g <= 0)
        return;
    double w = 0;
    int by_alloc = 1;
    for (size_t k = 0; k < s->nsubj; k++)
        if (s->subj[k].user)
            w += s->subj[k].alloc;
    if (w <= 0) {
        by_alloc = 0;
        for (size_t k = 0; k < s->nsubj; k++)
            if (s->subj[k].user)
                w += busy_cost(&s->subj[k]);
    }
    if (w <= 0)
        return;
    for (size_t k = 0; k < s->nsubj; k++) {
        subject_t *j = &s->subj[k];
        if (!j->user) {
            j->cost[FX_CAT_GC] = 0;
            continue;
        }
        double add = g * (by_alloc ? j->alloc : busy_cost(j)) / w;
        j->cost[FX_CAT_GC] += add;
        j->bg_gc += add;
    }
    s->bg_gc = g;
    s->gc_by_busy = (uint8_t)!by_alloc;
}

static void analyze_side(side_t *s)
{
    walk(s);
    spread_gc(s);
}

/* ---------------------------------------------------------------- ranking helpers */

/* Total order on subjects for "better candidate": larger score, then user code, then name. */
static int better(const side_t *s, const subject_t *a, double sa, const subject_t *b, double sb)
{
    if (sa != sb)
        return sa > sb;
    if (a->user != b->user)
        return a->user > b->user;
    return strcmp(nm(s, a->name), nm(s, b->name)) < 0;
}

static int best_cat(const double *cost, int skip_idle)
{
    int best = FX_CAT_COMPUTE;
    double bv = 0;
    for (int c = 1; c < FX_CAT__COUNT; c++) {
        if (skip_idle && c == FX_CAT_IDLE)
            continue;
        if (cost[c] > bv) {
            bv = cost[c];
            best = c;
        }
    }
    return best;
}

static int side_lang(const side_t *s)
{
    int best = FX_LANG_UNKNOWN, bv = 0;
    for (int l = 1; l < FX_LANG__COUNT; l++)
        if (l != FX_LANG_NATIVE && s->lang_votes[l] > bv) {
            bv = s->lang_votes[l];
            best = l;
        }
    return best != FX_LANG_UNKNOWN ? best : FX_LANG_NATIVE;
}

static const char *dup(fx_explain_findings_t *f, const char *str)
{
    return str ? fx_arena_strdup(&f->arena, str) : NULL;
}

typedef struct ranked {
    const char *name;
    double v;
    uint32_t id;
    uint8_t user;
} ranked_t;

static int ranked_cmp(const void *pa, const void *pb)
{
    const ranked_t *a = pa, *b = pb;
    if (a->v != b->v)
        return a->v > b->v ? -1 : 1;
    if (a->user != b->user)
        return a->user > b->user ? -1 : 1;
    int c = strcmp(a->name, b->name);
    if (c)
        return c;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* ---------------------------------------------------------------- evidence */

static void copy_path(fx_explain_findings_t *f, const side_t *s, uint32_t node,
                      fx_explain_path_t *p)
{
    size_t depth = 0;
    for (uint32_t k = node; k != FX_TREE_ROOT; k = s->t->nodes[k].parent)
        depth++;
    size_t keep = depth > FX_EXPLAIN_PATH_MAX ? FX_EXPLAIN_PATH_MAX : depth;
    p->frames = fx_arena_alloc(&f->arena, keep * sizeof *p->frames);
    p->n = keep;
    p->truncated = depth > keep;
    size_t pos = keep;
    for (uint32_t k = node; k != FX_TREE_ROOT && pos > 0; k = s->t->nodes[k].parent)
        p->frames[--pos] = dup(f, nm(s, s->t->nodes[k].name));
    p->share = (double)s->t->nodes[node].self / (double)s->tot;
}

static void side_evidence(fx_explain_findings_t *f, const side_t *s, fx_explain_side_t *out)
{
    double tot = (double)s->tot;
    out->total = s->tot;
    out->idle_share = s->idle / tot;
    for (int c = 1; c < FX_CAT__COUNT; c++)
        out->cat_share[c] = s->cat_total[c] / tot;
    out->lang = side_lang(s);

    /* top self: every frame, by self */
    ranked_t *r = fx_malloc((s->nnames + 1) * sizeof *r);
    size_t nr = 0;
    for (uint32_t k = 0; k < s->nnames; k++)
        if (s->name_self[k] > 0)
            r[nr++] = (ranked_t){nm(s, k), (double)s->name_self[k], k, 0};
    qsort(r, nr, sizeof *r, ranked_cmp);
    size_t top = nr < FX_EXPLAIN_TOP ? nr : FX_EXPLAIN_TOP;
    double best_caller[FX_EXPLAIN_TOP] = {0};
    uint32_t caller[FX_EXPLAIN_TOP];
    double ecat_cost[FX_EXPLAIN_TOP][FX_CAT__COUNT];
    memset(ecat_cost, 0, sizeof ecat_cost);
    for (size_t k = 0; k < top; k++)
        caller[k] = NONE32;
    for (size_t slot = 0; slot < s->self_owner.cap; slot++) {
        uint64_t key = s->self_owner.keys[slot];
        if (key == FX_MAP64_EMPTY)
            continue;
        uint32_t name = (uint32_t)(key >> 32), who = (uint32_t)key;
        if (who == NONE32)
            continue;
        double v = (double)(int64_t)s->self_owner.vals[slot];
        for (size_t k = 0; k < top; k++)
            if (r[k].id == name &&
                (v > best_caller[k] ||
                 (v == best_caller[k] && caller[k] != NONE32 &&
                  strcmp(nm(s, s->subj[who].name), nm(s, s->subj[caller[k]].name)) < 0))) {
                best_caller[k] = v;
                caller[k] = who;
            }
    }
    for (size_t i = 1; i < s->n; i++) {
        int64_t self = s->t->nodes[i].self;
        if (self <= 0)
            continue;
        for (size_t k = 0; k < top; k++)
            if (r[k].id == s->t->nodes[i].name)
                ecat_cost[k][s->ecat[i]] += (double)self;
    }
    for (size_t k = 0; k < top; k++) {
        fx_explain_fn_t *fn = &out->top_self[k];
        uint32_t name = r[k].id;
        fn->name = dup(f, r[k].name);
        fn->share = r[k].v / tot;
        fn->lib = s->name_libself[name] * 2 > s->name_self[name];
        fn->cat = (uint8_t)best_cat(ecat_cost[k], 0);
        fn->caller = fn->lib && caller[k] != NONE32 ? dup(f, nm(s, s->subj[caller[k]].name)) : NULL;
    }
    out->n_top_self = top;

    /* top total: user functions, inclusive */
    nr = 0;
    r = fx_realloc(r, (s->nsubj + 1) * sizeof *r);
    for (size_t k = 0; k < s->nsubj; k++)
        if (s->subj[k].user && s->subj[k].cum > 0)
            r[nr++] = (ranked_t){nm(s, s->subj[k].name), (double)s->subj[k].cum, (uint32_t)k, 1};
    qsort(r, nr, sizeof *r, ranked_cmp);
    top = nr < FX_EXPLAIN_TOP ? nr : FX_EXPLAIN_TOP;
    for (size_t k = 0; k < top; k++) {
        const subject_t *j = &s->subj[r[k].id];
        out->top_total[k] = (fx_explain_fn_t){dup(f, r[k].name), r[k].v / tot, 0,
                                              (uint8_t)best_cat(j->cost, 0), NULL, 0};
    }
    out->n_top_total = top;

    /* hottest stacks: the nodes with the most busy self (ties: tree order) */
    nr = 0;
    r = fx_realloc(r, (s->n + 1) * sizeof *r);
    for (size_t k = 1; k < s->n; k++)
        if (s->t->nodes[k].self > 0 && s->ecat[k] != FX_CAT_IDLE)
            r[nr++] = (ranked_t){"", (double)s->t->nodes[k].self, (uint32_t)k, 0};
    qsort(r, nr, sizeof *r, ranked_cmp);
    top = nr < FX_EXPLAIN_PATHS ? nr : FX_EXPLAIN_PATHS;
    for (size_t k = 0; k < top; k++)
        copy_path(f, s, r[k].id, &out->paths[k]);
    out->n_paths = top;
    free(r);
}

/* The library entry frames a subject spends in, by cost (shares of tot). */
static size_t via_list(fx_explain_findings_t *f, const side_t *s, uint32_t who,
                       fx_explain_fn_t *out, size_t max)
{
    ranked_t *r = NULL;
    size_t nr = 0, cap = 0;
    for (size_t k = 0; k < s->nvias; k++) {
        if (s->vias[k].subj != who)
            continue;
        FX_GROW(r, cap, nr + 1);
        r[nr++] = (ranked_t){nm(s, s->vias[k].name), s->vias[k].cost, (uint32_t)k, 1};
    }
    if (nr)
        qsort(r, nr, sizeof *r, ranked_cmp);
    size_t top = nr < max ? nr : max;
    for (size_t k = 0; k < top; k++)
        out[k] = (fx_explain_fn_t){dup(f, r[k].name), r[k].v / (double)s->tot, 1,
                                   (uint8_t)best_cat(s->vias[r[k].id].cat, 0), NULL, 0};
    free(r);
    return top;
}

static void fill_subject(fx_explain_findings_t *f, const side_t *s, uint32_t who)
{
    const subject_t *j = &s->subj[who];
    double tot = (double)s->tot;
    f->function = dup(f, nm(s, j->name));
    f->user = j->user;
    for (int c = 1; c < FX_CAT__COUNT; c++)
        f->cat_share[c] = j->cost[c] / tot;
    f->bg_gc_share = j->bg_gc / tot;
    if (j->bg_gc > 0 && s->bg_gc_frame != NONE32)
        f->bg_gc_frame = dup(f, nm(s, s->bg_gc_frame));
    f->n_via = j->user ? via_list(f, s, who, f->via, FX_EXPLAIN_VIA) : 0;
    f->adopted_share = j->adopted / tot;
    if (j->adopted > 0 && j->adopted_frame != NONE32)
        f->adopted_frame = dup(f, nm(s, j->adopted_frame));
}

/* ---------------------------------------------------------------- single profile */

static void init_findings(fx_explain_findings_t *f, const fx_explain_opts_t *o)
{
    memset(f, 0, sizeof *f);
    fx_arena_init(&f->arena);
    f->unit = o && o->unit ? fx_arena_strdup(&f->arena, o->unit) : "samples";
    f->runner_up_cat = FX_CAT_COMPUTE;
}

static int check_nonempty(const side_t *s, const char *what, fx_err_t *err)
{
    if (s->tot > 0)
        return FX_OK;
    return fx_err_set(err, FX_EINVAL, "%s: the profile has no samples", what);
}

int fx_explain_analyze(const fx_tree_t *t, const fx_explain_opts_t *o, fx_explain_findings_t *f,
                       fx_err_t *err)
{
    side_t s;
    int rc = FX_OK;
    init_findings(f, o);
    side_init(&s, t);
    analyze_side(&s);
    rc = check_nonempty(&s, "target", err);
    if (rc != FX_OK)
        goto out;

    double tot = (double)s.tot;
    int idle_verdict = s.idle / tot >= IDLE_DOMINANT;
    uint32_t best = NONE32, second = NONE32, busiest = NONE32;
    double bv = 0, sv = 0, busiest_v = 0;
    /* An idle verdict names the user code that waits; runtime idle groups (the scheduler, an
     * event loop) only when no user function waits at all. */
    int users_wait = 0;
    for (size_t k = 0; idle_verdict && k < s.nsubj; k++)
        users_wait |= s.subj[k].user && s.subj[k].cost[FX_CAT_IDLE] > 0;
    for (size_t k = 0; k < s.nsubj; k++) {
        const subject_t *j = &s.subj[k];
        double b = busy_cost(j);
        if (b > 0 && (busiest == NONE32 || better(&s, j, b, &s.subj[busiest], busiest_v))) {
            busiest = (uint32_t)k;
            busiest_v = b;
        }
        double v = idle_verdict ? j->cost[FX_CAT_IDLE] : b;
        if (v <= 0 || (idle_verdict && users_wait && !j->user))
            continue;
        if (best == NONE32 || better(&s, j, v, &s.subj[best], bv)) {
            second = best;
            sv = bv;
            best = (uint32_t)k;
            bv = v;
        } else if (second == NONE32 || better(&s, j, v, &s.subj[second], sv)) {
            second = (uint32_t)k;
            sv = v;
        }
    }
    if (best == NONE32) {
        /* Only possible if every sample sits on the root itself. */
        rc = fx_err_set(err, FX_EINVAL, "target: the profile has no stack frames");
        goto out;
    }
    fill_subject(f, &s, best);
    if (idle_verdict) {
        f->cat = FX_CAT_IDLE;
        f->share = s.subj[best].cost[FX_CAT_IDLE] / tot;
        for (size_t k = 0; k < f->n_via; k++)
            if (f->via[k].cat == FX_CAT_IDLE) {
                f->idle_frame = f->via[k].name;
                break;
            }
        if (!f->idle_frame && !s.subj[best].user)
            f->idle_frame = f->function;
        if (busiest != NONE32) {
            f->busiest = dup(f, nm(&s, s.subj[busiest].name));
            f->busiest_share = busiest_v / tot;
        }
    } else {
        f->cat = best_cat(s.subj[best].cost, 1);
        /* GC spread by busy cost (the profile shows no allocation frames: V8 and stackprof
         * CPU profiles) gives every user function the same GC-to-work ratio, so whether GC
         * is the root cause is a fact about the whole profile: it is when GC is the
         * profile's largest category. */
        if (s.gc_by_busy && s.subj[best].cost[FX_CAT_GC] > 0 &&
            best_cat(s.cat_total, 1) == FX_CAT_GC)
            f->cat = FX_CAT_GC;
        f->share = bv / tot;
    }
    if (second != NONE32) {
        f->runner_up = dup(f, nm(&s, s.subj[second].name));
        f->runner_up_share = sv / tot;
        f->runner_up_cat = best_cat(s.subj[second].cost, !idle_verdict);
    }
    side_evidence(f, &s, &f->side[0]);
    fx__explain_write_text(f);
out:
    side_free(&s);
    return rc;
}

/* ---------------------------------------------------------------- diff */

typedef struct pair {
    uint32_t b, c; /* subject index per side, NONE32 if absent */
    const char *name;
    uint8_t user;
    double bs, cs;   /* all-category shares */
    double dbusy;    /* busy share delta */
} pair_t;

static double sub_share(const side_t *s, uint32_t who, int busy_only)
{
    if (who == NONE32)
        return 0;
    const subject_t *j = &s->subj[who];
    return (busy_only ? busy_cost(j) : all_cost(j)) / (double)s->tot;
}

static double cat_share_of(const side_t *s, uint32_t who, int c)
{
    return who == NONE32 ? 0 : s->subj[who].cost[c] / (double)s->tot;
}

static int delta_cat(const side_t *b, const side_t *c, const pair_t *p, int want_growth)
{
    int best = -1;
    double bv = 0;
    for (int k = 1; k < FX_CAT__COUNT; k++) {
        if (k == FX_CAT_IDLE && want_growth)
            continue;
        double d = cat_share_of(c, p->c, k) - cat_share_of(b, p->b, k);
        double v = want_growth ? d : fabs(d);
        if (v > bv) {
            bv = v;
            best = k;
        }
    }
    if (best < 0)
        best = p->c != NONE32 ? best_cat(c->subj[p->c].cost, 1) : FX_CAT_COMPUTE;
    return best;
}

static int pair_cmp_abs(const void *pa, const void *pb)
{
    const pair_t *a = pa, *b = pb;
    double da = fabs(a->cs - a->bs), db = fabs(b->cs - b->bs);
    if (da != db)
        return da > db ? -1 : 1;
    if (a->user != b->user)
        return a->user > b->user ? -1 : 1;
    return strcmp(a->name, b->name);
}

int fx_explain_analyze_diff(const fx_tree_t *base, const fx_tree_t *cmp,
                            const fx_explain_opts_t *o, fx_explain_findings_t *f, fx_err_t *err)
{
    side_t sb, sc;
    fx_strtab_t names;
    fx_map64_t index;
    pair_t *pairs = NULL;
    size_t np = 0, cap = 0;
    int rc = FX_OK;

    init_findings(f, o);
    f->diff = 1;
    side_init(&sb, base);
    side_init(&sc, cmp);
    fx_strtab_init(&names);
    fx_map64_init(&index);
    analyze_side(&sb);
    analyze_side(&sc);
    rc = check_nonempty(&sb, "baseline", err);
    if (rc == FX_OK)
        rc = check_nonempty(&sc, "comparison", err);
    if (rc != FX_OK)
        goto out;

    /* Pair the subjects of both sides by (kind, name). */
    for (int side = 0; side < 2; side++) {
        const side_t *s = side ? &sc : &sb;
        for (size_t k = 0; k < s->nsubj; k++) {
            const subject_t *j = &s->subj[k];
            const char *name = nm(s, j->name);
            uint32_t id = fx_strtab_intern(&names, name, strlen(name));
            int inserted;
            uint64_t *slot = fx_map64_put(&index, (uint64_t)j->user << 32 | id, &inserted);
            if (inserted) {
                FX_GROW(pairs, cap, np + 1);
                pairs[np] = (pair_t){NONE32, NONE32, fx_strtab_get(&names, id), j->user, 0, 0, 0};
                *slot = np++;
            }
            if (side)
                pairs[*slot].c = (uint32_t)k;
            else
                pairs[*slot].b = (uint32_t)k;
        }
    }
    size_t best = SIZE_MAX, second = SIZE_MAX;
    for (size_t k = 0; k < np; k++) {
        pair_t *p = &pairs[k];
        p->bs = sub_share(&sb, p->b, 0);
        p->cs = sub_share(&sc, p->c, 0);
        p->dbusy = sub_share(&sc, p->c, 1) - sub_share(&sb, p->b, 1);
    }
    for (size_t k = 0; k < np; k++) {
        const pair_t *p = &pairs[k];
        int beats_best = best == SIZE_MAX || p->dbusy > pairs[best].dbusy ||
                         (p->dbusy == pairs[best].dbusy &&
                          (p->user > pairs[best].user ||
                           (p->user == pairs[best].user && strcmp(p->name, pairs[best].name) < 0)));
        if (beats_best) {
            second = best;
            best = k;
        } else if (second == SIZE_MAX || p->dbusy > pairs[second].dbusy ||
                   (p->dbusy == pairs[second].dbusy &&
                    (p->user > pairs[second].user ||
                     (p->user == pairs[second].user && strcmp(p->name, pairs[second].name) < 0)))) {
            second = k;
        }
    }
    if (best == SIZE_MAX) {
        rc = fx_err_set(err, FX_EINVAL, "comparison: the profile has no stack frames");
        goto out;
    }
    const pair_t *bp = &pairs[best];
    if (bp->c != NONE32) {
        fill_subject(f, &sc, bp->c);
    } else {
        f->function = dup(f, bp->name);
        f->user = bp->user;
    }
    for (int c = 1; c < FX_CAT__COUNT; c++)
        f->cat_share[c] = cat_share_of(&sc, bp->c, c);
    f->cat = delta_cat(&sb, &sc, bp, 1);
    f->share = bp->cs;
    f->base_share = bp->bs;
    /* what the bottleneck spent in each of these library frames in the baseline */
    for (size_t k = 0; k < f->n_via && bp->b != NONE32; k++) {
        int64_t id = fx_strtab_find(&base->names, f->via[k].name, strlen(f->via[k].name));
        uint64_t *v = id < 0 ? NULL
                             : fx_map64_get(&sb.via_index, (uint64_t)bp->b << 32 | (uint32_t)id);
        f->via[k].base_share = v ? sb.vias[*v].cost / (double)sb.tot : 0;
    }
    if (second != SIZE_MAX && pairs[second].dbusy > 0) {
        f->runner_up = dup(f, pairs[second].name);
        f->runner_up_share = pairs[second].cs;
        f->runner_up_cat = delta_cat(&sb, &sc, &pairs[second], 1);
    }

    /* changes: the largest moves by share, either way */
    qsort(pairs, np, sizeof *pairs, pair_cmp_abs);
    for (size_t k = 0; k < np && f->n_changes < FX_EXPLAIN_CHANGES; k++) {
        const pair_t *p = &pairs[k];
        if (fabs(p->cs - p->bs) < 0.005)
            break;
        fx_explain_change_t *ch = &f->changes[f->n_changes++];
        ch->function = dup(f, p->name);
        ch->baseline_share = p->bs;
        ch->comparison_share = p->cs;
        ch->kind = p->bs <= 0 ? FX_CHANGE_APPEARED
                   : p->cs <= 0 ? FX_CHANGE_VANISHED
                   : p->cs > p->bs ? FX_CHANGE_GREW
                                  : FX_CHANGE_SHRANK;
        ch->cat = (uint8_t)delta_cat(&sb, &sc, p, p->cs > p->bs);
        ch->lib = !p->user;
    }
    side_evidence(f, &sb, &f->side[0]);
    side_evidence(f, &sc, &f->side[1]);
    fx__explain_write_text(f);
out:
    free(pairs);
    fx_map64_free(&index);
    fx_strtab_free(&names);
    side_free(&sb);
    side_free(&sc);
    return rc;
}

void fx_explain_findings_free(fx_explain_findings_t *f)
{
    fx_arena_free(&f->arena);
    memset(f, 0, sizeof *f);
}

const char *fx_explain_change_kind_name(int kind)
{
    static const char *const names[] = {"grew", "shrank", "appeared", "vanished"};
    return kind >= 0 && kind < 4 ? names[kind] : "grew";
}

static int has(const char *s, const char *needle)
{
    return strstr(s, needle) != NULL;
}

const char *fx_explain_unit_for(const char *t)
{
    if (!t || !*t)
        return "samples";
    if (has(t, "alloc_space") || has(t, "alloc_in_new_tlab_bytes") ||
        (has(t, "alloc") && (has(t, "bytes") || has(t, "space"))))
        return "allocated memory";
    if (has(t, "alloc"))
        return "allocations";
    if (has(t, "inuse_space") || (has(t, "inuse") && has(t, "bytes")))
        return "in-use memory";
    if (has(t, "inuse"))
        return "live objects";
    if (has(t, "delay"))
        return "lock wait time";
    if (has(t, "contention") || has(t, "lock"))
        return "lock contentions";
    if (has(t, "block"))
        return "blocking time";
    if (has(t, "goroutine"))
        return "goroutines";
    if (has(t, "wall"))
        return "wall-clock time";
    if (has(t, "cpu"))
        return "CPU time";
    return "samples";
}
