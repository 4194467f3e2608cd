/*
 * closure.h - recognises frames of anonymous code (closures, lambdas, blocks, comprehensions,
 * async state machines) and the named function they are written in, from the frame name
 * alone, in the syntaxes of the runtimes the analyzer knows:
 *   Go            main.(*S).handle.func1, main.run.gowrap2
 *   C++ (perf)    Foo::bar(int)::{lambda(int)#1}::operator()(int) const
 *   JVM           Foo.lambda$bar$0, Foo$$Lambda$12/0x...accept, Foo.$anonfun$bar$1 (Scala),
 *                 Foo$$anonfun$bar$1.apply (Scala 2.11), Foo$bar$1.invokeSuspend (Kotlin),
 *                 Foo$1.run (anonymous class); slashed names too
 *   .NET          Foo+<>c.<Bar>b__2_0, Foo+<>c__DisplayClass3_0.<Bar>b__0, Foo+<BarAsync>d__5.MoveNext
 *   Node SDK      ./src/x.js:(anonymous:L#90:C#28):90 (any function of the same file)
 *   Python        <lambda> (app/x.py:12), <listcomp> ..., py::<genexpr>:/srv/x.py
 *   Ruby          block in foo - /app/x.rb:12, block (2 levels) in foo - ..., x.rb:12 - block in foo
 * An anonymous frame has no name a user can act on: the analyzer charges it to the function
 * it is written in when that function is the nearest user frame above it.
 *
 * Pure functions of their arguments; no allocation.
 */
#ifndef FX_EXPLAIN_CLOSURE_H
#define FX_EXPLAIN_CLOSURE_H

#include <stddef.h>

/* Non-zero (a syntax kind) when the frame name c (n bytes) is anonymous code whose enclosing
 * function can be told from its name; 0 otherwise. Cheap enough to call once per name. */
int fx__explain_closure_kind(const char *c, size_t n);

/* Whether the anonymous frame c (kind from fx__explain_closure_kind) is written inside the
 * function whose frame name is o. */
int fx__explain_closure_in(int kind, const char *c, size_t cn, const char *o, size_t on);

#endif
