/*
 * closure.c - anonymous-code frames and their enclosing function (see closure.h). Every test
 * is a few substring scans of the two names; nothing is allocated.
 */
#include "explain/closure.h"

#include <string.h>

enum {
    K_NONE = 0,
    K_GO,
    K_CXX,
    K_JVM,
    K_DOTNET,
    K_NODE,
    K_PY,
    K_PY_PERF,
    K_RB,
    K_RB_PYRO,
};

/* needle in s[0..n), or NULL (an empty needle is never found). */
static const char *find(const char *s, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    return m ? memmem(s, n, needle, m) : NULL;
}

static const char *rfind_ch(const char *s, size_t n, char ch)
{
    for (size_t i = n; i-- > 0;)
        if (s[i] == ch)
            return s + i;
    return NULL;
}

static int starts(const char *s, size_t n, const char *p)
{
    size_t m = strlen(p);
    return n >= m && memcmp(s, p, m) == 0;
}

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* JVM names arrive dotted (async-profiler) or slashed (JFR): compare with '/' == '.'. */
static int jvm_eq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char x = a[i] == '/' ? '.' : a[i], y = b[i] == '/' ? '.' : b[i];
        if (x != y)
            return 0;
    }
    return 1;
}

/* o is exactly cls + separator + meth (meth NULL: any method of cls, not a nested class). */
static int jvm_member(const char *o, size_t on, const char *cls, size_t cl, const char *meth,
                      size_t ml)
{
    if (on <= cl + 1 || !jvm_eq(o, cls, cl) || (o[cl] != '.' && o[cl] != '/'))
        return 0;
    if (!meth) {
        for (size_t i = cl + 1; i < on; i++)
            if (o[i] == '.' || o[i] == '/' || o[i] == '$')
                return 0;
        return 1;
    }
    return on == cl + 1 + ml && memcmp(o + cl + 1, meth, ml) == 0;
}

static size_t ident_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && s[i] != '$' && s[i] != '.' && s[i] != '/')
        i++;
    return i;
}

/* The JVM forms; returns 1 and sets cls/meth (meth NULL: any method) when c is one. */
static int jvm_parts(const char *c, size_t n, const char **cls, size_t *cl, const char **meth,
                     size_t *ml)
{
    static const char *const marks[] = {".lambda$", "/lambda$", ".$anonfun$", "/$anonfun$",
                                        "$$anonfun$"};
    for (size_t k = 0; k < sizeof marks / sizeof marks[0]; k++) {
        const char *p = find(c, n, marks[k]);
        if (!p)
            continue;
        const char *m = p + strlen(marks[k]);
        *cls = c;
        *cl = (size_t)(p - c);
        *meth = m;
        *ml = ident_len(m, n - (size_t)(m - c));
        if ((*ml == 6 && memcmp(m, "static", 6) == 0) || (*ml == 3 && memcmp(m, "new", 3) == 0))
            *meth = NULL;
        return *ml > 0 || !*meth;
    }
    const char *p = find(c, n, "$$Lambda");
    if (p) {
        *cls = c;
        *cl = (size_t)(p - c);
        *meth = NULL;
        return *cl > 0;
    }
    /* anonymous classes: Outer$1.run, Kotlin's Outer$method$1.invoke */
    const char *dot = rfind_ch(c, n, '.');
    const char *sl = rfind_ch(c, n, '/');
    if (sl > dot)
        dot = sl;
    if (!dot)
        return 0;
    size_t e = (size_t)(dot - c), b = e;
    while (b > 0 && is_digit(c[b - 1]))
        b--;
    if (b == e || b == 0 || c[b - 1] != '$')
        return 0;
    size_t outer_end = b - 1;
    size_t s = outer_end;
    while (s > 0 && c[s - 1] != '$' && c[s - 1] != '.' && c[s - 1] != '/')
        s--;
    if (s > 0 && c[s - 1] == '$' && s < outer_end && c[s] >= 'a' && c[s] <= 'z') {
        *cls = c;
        *cl = s - 1;
        *meth = c + s;
        *ml = outer_end - s;
        return 1;
    }
    *cls = c;
    *cl = outer_end;
    *meth = NULL;
    return 1;
}

/* Go: the closure's name is its function's name plus ".funcN" or ".gowrapN", then only
 * nesting numbers (".func1.2"). Returns where that suffix starts, or NULL. */
static const char *go_closure(const char *c, size_t n)
{
    static const char *const marks[] = {".func", ".gowrap"};
    for (size_t k = 0; k < 2; k++) {
        const char *f = find(c, n, marks[k]);
        if (!f)
            continue;
        size_t i = (size_t)(f - c) + strlen(marks[k]);
        if (i >= n || !is_digit(c[i]))
            continue;
        while (i < n && (is_digit(c[i]) || c[i] == '.'))
            i++;
        if (i == n && f > c)
            return f;
    }
    return NULL;
}

int fx__explain_closure_kind(const char *c, size_t n)
{
    if (n == 0)
        return K_NONE;
    /* One pass notes the marker characters, so a plain name (most of them) costs one scan. */
    int dollar = 0, brace = 0, lt = 0, paren = 0, space = 0, colon = 0, dotfg = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = c[i];
        dollar |= ch == '$';
        brace |= ch == '{';
        lt |= ch == '<';
        paren |= ch == '(';
        space |= ch == ' ';
        colon |= ch == ':';
        dotfg |= ch == '.' && i + 1 < n && (c[i + 1] == 'f' || c[i + 1] == 'g');
    }
    if (c[0] == '<' && (starts(c, n, "<lambda> (") || starts(c, n, "<listcomp> (") ||
                        starts(c, n, "<genexpr> (") || starts(c, n, "<dictcomp> (") ||
                        starts(c, n, "<setcomp> (")))
        return K_PY;
    if (c[0] == 'p' && (starts(c, n, "py::<lambda>:") || starts(c, n, "py::<listcomp>:") ||
                        starts(c, n, "py::<genexpr>:") || starts(c, n, "py::<dictcomp>:") ||
                        starts(c, n, "py::<setcomp>:")))
        return K_PY_PERF;
    if (space) {
        if ((starts(c, n, "block in ") || starts(c, n, "block (")) && find(c, n, " - "))
            return K_RB;
        if (find(c, n, " - block in ") || find(c, n, " - block ("))
            return K_RB_PYRO;
    }
    if (paren && colon && find(c, n, ":(anonymous"))
        return K_NODE;
    if (brace && find(c, n, "::{lambda("))
        return K_CXX;
    if (lt && find(c, n, "+<"))
        return K_DOTNET;
    if (dotfg && go_closure(c, n))
        return K_GO;
    if (!dollar || space || paren || colon)
        return K_NONE;
    const char *cls, *meth;
    size_t cl, ml;
    return jvm_parts(c, n, &cls, &cl, &meth, &ml) ? K_JVM : K_NONE;
}

/* The method name of a Ruby "block (2 levels) in NAME - ..." label, up to " - ". */
static int rb_block_method(const char *c, size_t n, const char **m, size_t *ml)
{
    const char *in = find(c, n, " in ");
    if (!in)
        return 0;
    *m = in + 4;
    const char *dash = find(*m, n - (size_t)(*m - c), " - ");
    *ml = dash ? (size_t)(dash - *m) : n - (size_t)(*m - c);
    return *ml > 0;
}

int fx__explain_closure_in(int kind, const char *c, size_t cn, const char *o, size_t on)
{
    switch (kind) {
    case K_GO: {
        size_t pl = (size_t)(go_closure(c, cn) - c);
        return on == pl && memcmp(o, c, pl) == 0;
    }
    case K_CXX: {
        size_t pl = (size_t)(find(c, cn, "::{lambda(") - c);
        return on == pl && memcmp(o, c, pl) == 0;
    }
    case K_NODE: {
        size_t fl = (size_t)(find(c, cn, ":(anonymous") - c);
        return on > fl + 1 && memcmp(o, c, fl) == 0 && o[fl] == ':';
    }
    case K_JVM: {
        const char *cls, *meth;
        size_t cl, ml;
        if (!jvm_parts(c, cn, &cls, &cl, &meth, &ml))
            return 0;
        return jvm_member(o, on, cls, cl, meth, ml);
    }
    case K_DOTNET: {
        /* Foo+<>c.<Bar>b__2_0, Foo+<>c__DisplayClass3_0.<Bar>b__0, Foo+<BarAsync>d__5.MoveNext */
        const char *plus = find(c, cn, "+<");
        size_t cl = (size_t)(plus - c);
        const char *m, *e;
        if (cl + 2 >= cn)
            return 0;
        if (plus[2] == '>') {
            m = find(plus, cn - cl, ".<");
            if (!m)
                return 0;
            m += 2;
            e = find(m, cn - (size_t)(m - c), ">b__");
        } else {
            m = plus + 2;
            e = find(m, cn - (size_t)(m - c), ">d__");
        }
        if (!e || e == m)
            return 0;
        size_t ml = (size_t)(e - m);
        return on == cl + 1 + ml && memcmp(o, c, cl) == 0 && o[cl] == '.' &&
               memcmp(o + cl + 1, m, ml) == 0;
    }
    case K_PY: {
        /* same source file: "name (FILE:line)" */
        const char *a = find(c, cn, " (");
        const char *colon = rfind_ch(c, cn, ':');
        const char *b = find(o, on, " (");
        if (!a || !colon || colon < a || !b)
            return 0;
        size_t fl = (size_t)(colon - a) + 1; /* " (file:" */
        return on - (size_t)(b - o) > fl && memcmp(b, a, fl) == 0;
    }
    case K_PY_PERF: {
        const char *path = find(c + 4, cn - 4, ":");
        if (!path || !starts(o, on, "py::"))
            return 0;
        size_t pl = cn - (size_t)(path - c);
        return on > pl + 4 && memcmp(o + on - pl, path, pl) == 0;
    }
    case K_RB: {
        /* "block in foo - /app/x.rb:12" inside "foo - /app/x.rb:9" */
        const char *m;
        size_t ml;
        if (!rb_block_method(c, cn, &m, &ml))
            return 0;
        const char *path = m + ml; /* " - /app/x.rb:12" */
        const char *colon = rfind_ch(c, cn, ':');
        if (!colon || colon < path)
            return 0;
        size_t pl = (size_t)(colon - path) + 1;
        return on > ml + pl && memcmp(o, m, ml) == 0 && memcmp(o + ml, path, pl) == 0;
    }
    case K_RB_PYRO: {
        /* "/app/x.rb:12 - block in foo" inside "/app/x.rb:9 - foo" */
        const char *dash = find(c, cn, " - ");
        const char *colon = dash ? rfind_ch(c, (size_t)(dash - c), ':') : NULL;
        const char *m;
        size_t ml;
        if (!colon || !rb_block_method(dash + 3, cn - (size_t)(dash + 3 - c), &m, &ml))
            return 0;
        size_t fl = (size_t)(colon - c) + 1;
        return on > fl + ml + 3 && memcmp(o, c, fl) == 0 && memcmp(o + on - ml - 3, " - ", 3) == 0 &&
               memcmp(o + on - ml, m, ml) == 0;
    }
    default:
        return 0;
    }
}
