/*
 * kb.c - frame classification: recognise the profiler's frame syntax, then match the rule
 * tables of kb_rules.c.
 *
 * Syntaxes handled before the generic tables, because the library-or-user decision depends
 * on a source path rather than on the function name:
 *   py::func:/path/file.py              perf with Python 3.12 trampolines (-X perf)
 *   func (/path/file.py:12)             py-spy, Pyroscope Python
 *   method - /path/file.rb:12           rbspy ("gsub [c function] - (unknown)" for C methods)
 *   /path/file.rb:12 - method           Pyroscope Ruby (also Python "file.py:12 - func")
 *   ./src/file.js:func:12               Pyroscope Node SDK (node_modules paths are libraries)
 * Everything else (Go, JVM, .NET, native, kernel, Node core "node:..." and ":pseudo:0"
 * frames) goes through normalisation and the longest-prefix generic table.
 */
#include "explain/kb.h"
#include "explain/kb_internal.h"

#include <pthread.h>
#include <string.h>

static const char *const cat_names[FX_CAT__COUNT] = {
    "", "gc", "regex", "serialization", "lock", "syscall-io", "crypto",
    "compression", "recursion", "reflection", "logging", "idle", "compute",
};

const char *fx_cat_name(int cat)
{
    return cat >= 0 && cat < FX_CAT__COUNT ? cat_names[cat] : "";
}

int fx_cat_parse(const char *s, size_t n)
{
    for (int c = 1; c < FX_CAT__COUNT; c++)
        if (strlen(cat_names[c]) == n && memcmp(cat_names[c], s, n) == 0)
            return c;
    return -1;
}

static const char *const lang_names[FX_LANG__COUNT] = {
    "unknown", "Go", "Java/JVM", ".NET", "Node.js", "Python", "Ruby", "native (C/C++)",
};

const char *fx_lang_name(int lang)
{
    return lang >= 0 && lang < FX_LANG__COUNT ? lang_names[lang] : "unknown";
}

/* ---------------------------------------------------------------- generic table index */

/* Rules of fx__kb_generic grouped by the first byte of their pattern, so a lookup scans
 * only the rules that can match. Built once. */
static uint16_t bucket_start[257];
static uint16_t *bucket_rules;
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static void build_index(void)
{
    static uint16_t storage[4096];
    size_t count[256] = {0};
    /* The table must fit the static index; a failed check here is a build-time mistake. */
    if (fx__kb_generic_len > sizeof storage / sizeof storage[0])
        __builtin_trap();
    for (size_t i = 0; i < fx__kb_generic_len; i++)
        count[(uint8_t)fx__kb_generic[i].pat[0]]++;
    size_t pos = 0;
    for (int b = 0; b < 256; b++) {
        bucket_start[b] = (uint16_t)pos;
        pos += count[b];
    }
    bucket_start[256] = (uint16_t)pos;
    size_t fill[256];
    for (int b = 0; b < 256; b++)
        fill[b] = bucket_start[b];
    for (size_t i = 0; i < fx__kb_generic_len; i++)
        storage[fill[(uint8_t)fx__kb_generic[i].pat[0]]++] = (uint16_t)i;
    bucket_rules = storage;
}

static const fx__kb_rule_t *generic_lookup(const char *s, size_t n)
{
    if (n == 0)
        return NULL;
    uint8_t b = (uint8_t)s[0];
    const fx__kb_rule_t *best = NULL;
    size_t best_score = 0;
    for (size_t k = bucket_start[b]; k < bucket_start[b + 1]; k++) {
        const fx__kb_rule_t *r = &fx__kb_generic[bucket_rules[k]];
        if (r->len > n || memcmp(s, r->pat, r->len) != 0)
            continue;
        if (r->how == FX__KB_EXACT && r->len != n)
            continue;
        size_t score = (size_t)r->len * 2 + (r->how == FX__KB_EXACT);
        if (score > best_score) {
            best_score = score;
            best = r;
        }
    }
    return best;
}

/* ---------------------------------------------------------------- helpers */

/* needle in s[0..n), or NULL (an empty needle is never found). */
static const char *find(const char *s, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    return m ? memmem(s, n, needle, m) : NULL;
}

static const char *rfind(const char *s, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    if (m == 0 || m > n)
        return NULL;
    for (size_t i = n - m + 1; i-- > 0;)
        if (s[i] == needle[0] && memcmp(s + i, needle, m) == 0)
            return s + i;
    return NULL;
}

static int has_prefix(const char *s, size_t n, const char *p)
{
    size_t m = strlen(p);
    return n >= m && memcmp(s, p, m) == 0;
}

static int all_digits(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static void set(fx_kb_class_t *out, int lib, int cat, int lang, int flags)
{
    out->lib = (uint8_t)lib;
    out->cat = (uint8_t)cat;
    out->lang = (uint8_t)lang;
    out->flags = (uint8_t)flags;
}

/* Splits "path:123" into path (line dropped when it is all digits). */
static size_t strip_line(const char *file, size_t n)
{
    const char *c = rfind(file, n, ":");
    if (c && all_digits(c + 1, (size_t)(file + n - c - 1)))
        return (size_t)(c - file);
    return n;
}

/* Builds "/file:func" (truncated) in buf, for the substring path rules. */
static size_t path_key(char *buf, size_t cap, const char *file, size_t fn, const char *func,
                       size_t un)
{
    size_t k = 0;
    buf[k++] = '/';
    for (size_t i = 0; i < fn && k < cap - 2; i++)
        buf[k++] = file[i];
    buf[k++] = ':';
    for (size_t i = 0; i < un && k < cap - 1; i++)
        buf[k++] = func[i];
    buf[k] = 0;
    return k;
}

static int path_rules(const fx__kb_rule_t *rules, size_t nrules, const char *key, size_t kn)
{
    for (size_t i = 0; i < nrules; i++)
        if (find(key, kn, rules[i].pat))
            return rules[i].cat;
    return FX_CAT_NONE;
}

/* ---------------------------------------------------------------- Python */

static int py_is_lib(const char *file, size_t n)
{
    for (const char *const *m = fx__kb_py_lib_markers; *m; m++)
        if (find(file, n, *m))
            return 1;
    if (n && (file[0] == '/' || file[0] == '.'))
        return 0;
    /* A relative path: "json/decoder.py" or "threading.py" is the standard library. */
    const char *slash = memchr(file, '/', n);
    size_t first = slash ? (size_t)(slash - file) : n;
    for (const char *const *m = fx__kb_py_stdlib; *m; m++)
        if (strlen(*m) == first && memcmp(*m, file, first) == 0)
            return 1;
    /* py-spy's default short form of site-packages paths: "requests/sessions.py" */
    if (slash)
        for (const char *const *m = fx__kb_py_packages; *m; m++)
            if (strlen(*m) == first && memcmp(*m, file, first) == 0)
                return 1;
    return 0;
}

static void classify_python(const char *file, size_t fn, const char *func, size_t un,
                            fx_kb_class_t *out)
{
    if (!py_is_lib(file, fn)) {
        set(out, 0, FX_CAT_NONE, FX_LANG_PYTHON, 0);
        return;
    }
    char key[512];
    size_t kn = path_key(key, sizeof key, file, fn, func, un);
    set(out, 1, path_rules(fx__kb_py_path, fx__kb_py_path_len, key, kn), FX_LANG_PYTHON, 0);
}

/* Shared objects of the interpreter and the system whose unknown symbols are never user code. */
static const char *const native_system_modules[] = {
    "python", "libpython", "libc.so", "libc-", "libm.so", "libm-", "libpthread", "ld-linux",
    "libcrypto", "libssl", "libz.so", "libstdc++", "libgcc_s", "libffi", "libbz2", "liblzma",
    "libzstd", "libsqlite3", "libexpat", "libresolv", NULL,
};

/* py-spy --native: "clock_nanosleep (libc.so.6)", "time_sleep (python3.11)",
 * "_PyEval_EvalFrameDefault (ceval.c:4769)". The symbol decides; an unknown one inside the
 * interpreter or a system library is that library's internal function. */
static int pyspy_native(const char *sym, size_t sn, const char *mod, size_t mn,
                        fx_kb_class_t *out)
{
    static const char *const exts[] = {".so", ".pyd", ".dll", ".dylib", ".c", ".h", ".cc",
                                       ".cpp", NULL};
    int native = 0, system = 0;
    for (const char *const *e = exts; *e && !native; e++) {
        const char *p = rfind(mod, mn, *e);
        native = p && (p + strlen(*e) == mod + mn || p[strlen(*e)] == '.');
    }
    for (const char *const *m = native_system_modules; *m && !system; m++)
        system = has_prefix(mod, mn, *m);
    if (!native && !system)
        return 0;
    fx_kb_classify(sym, sn, out);
    if (!out->lib && system)
        set(out, 1, FX_CAT_NONE, FX_LANG_PYTHON, FX_KB_INTERNAL);
    out->flags |= FX_KB_NATIVE_LOOK;
    return 1;
}

/* "func (/path/file.py:12)" */
static int pyspy_form(const char *s, size_t n, fx_kb_class_t *out)
{
    if (n < 6 || s[n - 1] != ')')
        return 0;
    const char *open = rfind(s, n, " (");
    if (!open)
        return 0;
    const char *in = open + 2;
    size_t in_n = (size_t)(s + n - 1 - in);
    if (!find(in, in_n, ".py") && !has_prefix(in, in_n, "<"))
        return pyspy_native(s, (size_t)(open - s), in, strip_line(in, in_n), out);
    classify_python(in, strip_line(in, in_n), s, (size_t)(open - s), out);
    return 1;
}

/* Austin's collapsed frames, "/path/file.py:func:12", under "P<pid>;T<thread>" roots. */
static int austin_form(const char *s, size_t n, fx_kb_class_t *out)
{
    if (n >= 2 && (s[0] == 'P' || s[0] == 'T')) {
        size_t i = 1;
        while (i < n && (memchr("0123456789abcdefx:", s[i], 18)))
            i++;
        if (i == n && (s[0] == 'T' || all_digits(s + 1, n - 1))) {
            set(out, 1, FX_CAT_NONE, FX_LANG_PYTHON, 0);
            return 1;
        }
    }
    const char *py = find(s, n, ".py:");
    if (!py)
        return 0;
    const char *fn = py + 4;
    size_t fl = strip_line(fn, (size_t)(s + n - fn));
    if (fl == (size_t)(s + n - fn) || fl == 0)
        return 0;
    classify_python(s, (size_t)(py + 3 - s), fn, fl, out);
    return 1;
}

/* ---------------------------------------------------------------- Ruby */

static void classify_ruby_cfunc(const char *m, size_t mn, fx_kb_class_t *out)
{
    int cat = FX_CAT_NONE;
    for (size_t i = 0; i < fx__kb_rb_cfunc_len; i++)
        if (fx__kb_rb_cfunc[i].len == mn && memcmp(fx__kb_rb_cfunc[i].pat, m, mn) == 0) {
            cat = fx__kb_rb_cfunc[i].cat;
            break;
        }
    set(out, 1, cat, FX_LANG_RUBY, 0);
}

/* A gem's file relative to the gems directory, "sidekiq/lib/sidekiq/processor.rb" or
 * "csv-3.3.0/lib/csv/writer.rb": a first directory followed by "lib/". An application's own
 * relative paths start with its own directories (app/, lib/, config/, ...), never with
 * "<name>/lib/". */
static int rb_gem_relative(const char *file, size_t n)
{
    static const char *const app_dirs[] = {"app", "lib", "config", "spec", "test", "db",
                                           "script", "bin", "engines", "components", "packs",
                                           NULL};
    if (n == 0 || file[0] == '/' || file[0] == '.')
        return 0;
    const char *slash = memchr(file, '/', n);
    if (!slash || !has_prefix(slash + 1, (size_t)(file + n - slash - 1), "lib/"))
        return 0;
    size_t first = (size_t)(slash - file);
    for (const char *const *d = app_dirs; *d; d++)
        if (strlen(*d) == first && memcmp(*d, file, first) == 0)
            return 0;
    return 1;
}

static void classify_ruby(const char *file, size_t fn, const char *m, size_t mn,
                          fx_kb_class_t *out)
{
    static const char cfn[] = " [c function]";
    size_t cl = sizeof cfn - 1;
    if (mn > cl && memcmp(m + mn - cl, cfn, cl) == 0) {
        classify_ruby_cfunc(m, mn - cl, out);
        return;
    }
    if (fn == 9 && memcmp(file, "(unknown)", 9) == 0) {
        classify_ruby_cfunc(m, mn, out);
        return;
    }
    int lib = rb_gem_relative(file, fn);
    for (const char *const *k = fx__kb_rb_lib_markers; *k && !lib; k++)
        lib = find(file, fn, *k) != NULL;
    if (!lib) {
        set(out, 0, FX_CAT_NONE, FX_LANG_RUBY, 0);
        return;
    }
    char key[512];
    size_t kn = path_key(key, sizeof key, file, fn, m, mn);
    set(out, 1, path_rules(fx__kb_rb_path, fx__kb_rb_path_len, key, kn), FX_LANG_RUBY, 0);
}

static int looks_like_source(const char *s, size_t n, const char *ext)
{
    return find(s, n, ext) != NULL || (n == 9 && memcmp(s, "(unknown)", 9) == 0) ||
           has_prefix(s, n, "<internal:") || has_prefix(s, n, "<cfunc>");
}

/* "method - file:line" (rbspy) or "file:line - method" (Pyroscope Ruby; Python too). */
static int dash_form(const char *s, size_t n, fx_kb_class_t *out)
{
    const char *d = find(s, n, " - ");
    if (!d)
        return 0;
    const char *l = s, *r = d + 3;
    size_t ln = (size_t)(d - s), rn = (size_t)(s + n - r);
    if (looks_like_source(r, rn, ".rb")) {
        classify_ruby(r, strip_line(r, rn), l, ln, out);
        return 1;
    }
    if (looks_like_source(l, ln, ".rb")) {
        classify_ruby(l, strip_line(l, ln), r, rn, out);
        return 1;
    }
    if (find(r, rn, ".py")) {
        classify_python(r, strip_line(r, rn), l, ln, out);
        return 1;
    }
    if (find(l, ln, ".py")) {
        classify_python(l, strip_line(l, ln), r, rn, out);
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- Node.js */

static int npm_category(const char *pkg, size_t n)
{
    for (size_t i = 0; i < fx__kb_npm_len; i++)
        if (fx__kb_npm[i].len == n && memcmp(fx__kb_npm[i].pat, pkg, n) == 0)
            return fx__kb_npm[i].cat;
    return -1;
}

/* An unlisted package's category from the words of its name ("fast-json-stable-stringify"
 * is serialization, "winston-daily-rotate-file" has no word and stays neutral). */
static int npm_words_category(const char *pkg, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && memchr("-._/@", pkg[i], 5))
            i++;
        size_t b = i;
        while (i < n && !memchr("-._/@", pkg[i], 5))
            i++;
        for (size_t k = 0; k < fx__kb_npm_words_len && i > b; k++)
            if (fx__kb_npm_words[k].len == i - b &&
                memcmp(fx__kb_npm_words[k].pat, pkg + b, i - b) == 0)
                return fx__kb_npm_words[k].cat;
    }
    return FX_CAT_NONE;
}

/* A JavaScript frame given with its script path: an npm package (always under node_modules)
 * is library code with the package's category; anything else is the user's. */
static void node_script(const char *s, size_t n, fx_kb_class_t *out)
{
    const char *nm = rfind(s, n, "/node_modules/");
    if (!nm) {
        set(out, 0, FX_CAT_NONE, FX_LANG_NODE, 0);
        return;
    }
    const char *pkg = nm + 14;
    size_t rest = (size_t)(s + n - pkg);
    const char *slash = memchr(pkg, '/', rest);
    size_t scope_n = slash ? (size_t)(slash - pkg) : rest;
    size_t pkg_n = scope_n;
    if (pkg[0] == '@' && slash) {
        const char *slash2 = memchr(slash + 1, '/', (size_t)(s + n - slash - 1));
        pkg_n = slash2 ? (size_t)(slash2 - pkg) : rest;
    }
    int cat = npm_category(pkg, pkg_n);
    if (cat < 0 && pkg[0] == '@')
        cat = npm_category(pkg, scope_n);
    if (cat < 0)
        cat = npm_words_category(pkg, pkg_n);
    set(out, 1, cat, FX_LANG_NODE, 0);
}

/* "./src/file.js:func:12", "/abs/x.mjs:f:3", "file:///x.js:f:3". */
static int node_form(const char *s, size_t n, fx_kb_class_t *out)
{
    int js = find(s, n, ".js:") || find(s, n, ".mjs:") || find(s, n, ".cjs:") ||
             find(s, n, ".ts:") || find(s, n, ".jsx:") || find(s, n, ".tsx:");
    if (!js && !has_prefix(s, n, "./") && !has_prefix(s, n, "file://"))
        return 0;
    if (!memchr(s, ':', n))
        return 0;
    node_script(s, n, out);
    return 1;
}

/* V8's perf map names (node --perf-basic-prof under perf): "JS:*fn /app/x.js:12",
 * "LazyCompile:~fn node:internal/crypto/pbkdf2:60", "Function:^fn file:///x.mjs:3";
 * the mark after the colon is the tier. "RegExp:<pattern>" is compiled regex code;
 * builtins, stubs and bytecode handlers are V8's own. */
static int v8_perf_form(const char *s, size_t n, fx_kb_class_t *out)
{
    static const char *const js[] = {"JS:", "LazyCompile:", "Function:", "InterpretedFunction:",
                                     "Script:", "Eval:", NULL};
    static const char *const v8[] = {"Builtin:", "Stub:", "BytecodeHandler:", "Handler:",
                                     "CallbackEx:", NULL};
    if (has_prefix(s, n, "RegExp:")) {
        set(out, 1, FX_CAT_REGEX, FX_LANG_NODE, 0);
        return 1;
    }
    for (const char *const *p = v8; *p; p++)
        if (has_prefix(s, n, *p)) {
            set(out, 1, FX_CAT_NONE, FX_LANG_NODE, 0);
            return 1;
        }
    size_t k = 0;
    for (const char *const *p = js; *p && !k; p++)
        if (has_prefix(s, n, *p))
            k = strlen(*p);
    if (!k)
        return 0;
    if (k < n && memchr("*~^+", s[k], 4))
        k++;
    const char *sp = rfind(s + k, n - k, " ");
    const char *path = sp ? sp + 1 : s + n;
    size_t pn = (size_t)(s + n - path);
    if (has_prefix(path, pn, "node:")) {
        const fx__kb_rule_t *r = generic_lookup(path, pn);
        set(out, 1, r ? r->cat : FX_CAT_NONE, FX_LANG_NODE, 0);
    } else {
        node_script(path, pn, out);
    }
    return 1;
}

/* ---------------------------------------------------------------- generic names */

static int is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

/* Normalises a generic frame name into buf: drops an "Assembly!" prefix (.NET), perf's
 * "_[k]"-style annotations, symbol versions ("@@GLIBC_2.17", "@plt"), GCC clone suffixes
 * (".isra.0", ".cold"), and turns slashed Java names ("java/util/HashMap.put") into dotted
 * ones. Sets *kernel when perf marked the frame as a kernel frame. Returns the length. */
static size_t normalize(const char *s, size_t n, char *buf, size_t cap, int *kernel)
{
    *kernel = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '!' && i > 0 && i + 1 < n) {
            s += i + 1;
            n -= i + 1;
            break;
        }
        if (!((c >= 'a' && c <= 'z') || is_upper(c) || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            break;
    }
    /* perf demangles function templates with their return type ("bool std::__detail::
     * __regex_algo_impl<...>(...)", "void std::vector<...>::_M_realloc_insert<...>(...)"):
     * drop it so the qualified name is looked up. A space before the first '<' or '(' that
     * is followed by a "::"-qualified name is such a return type. */
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '<' && s[i] != '(')
            continue;
        const char *sp = rfind(s, i, " ");
        if (sp && find(sp + 1, (size_t)(s + i - sp - 1), "::")) {
            n -= (size_t)(sp + 1 - s);
            s = sp + 1;
        }
        break;
    }
    if (n > 4 && s[n - 4] == '_' && s[n - 3] == '[' && s[n - 1] == ']') {
        *kernel = s[n - 2] == 'k';
        n -= 4;
    } else if (n > 4 && s[n - 4] == ' ' && s[n - 3] == '[' && s[n - 1] == ']') {
        *kernel = s[n - 2] == 'k';
        n -= 4;
    }
    const char *at = memchr(s, '@', n);
    if (at && at > s)
        n = (size_t)(at - s);
    static const char *const clones[] = {".isra.", ".part.", ".constprop.", ".cold",
                                         ".lto_priv.", ".localalias", NULL};
    for (const char *const *c = clones; *c; c++) {
        const char *p = find(s, n, *c);
        if (p && p > s)
            n = (size_t)(p - s);
    }
    if (n > cap)
        n = cap;
    memcpy(buf, s, n);
    /* Java with slashes: no dot before the first '/', a class name after the last one. */
    const char *first_slash = memchr(buf, '/', n);
    if (first_slash && !memchr(buf, '.', (size_t)(first_slash - buf))) {
        const char *last = rfind(buf, n, "/");
        if (last + 1 < buf + n && is_upper(last[1]) && !memchr(buf, '(', (size_t)(last - buf)))
            for (size_t i = 0; i < n; i++)
                if (buf[i] == '/')
                    buf[i] = '.';
    }
    return n;
}

/* Code generators' glue between a framework and the user's method, named inside the user's
 * own package: grpc-go's "pkg._UserService_ListUsers_Handler" (and its interceptor closure
 * ".func1"), grpc-java's "pkg.UserServiceGrpc$MethodHandlers.invoke". Not the user's
 * function: the cost below it belongs to the method it calls. */
static int generated_glue(const char *s, size_t n)
{
    if (find(s, n, "Grpc$MethodHandlers."))
        return 1;
    const char *dot = rfind(s, n, "/");
    dot = memchr(dot ? dot : s, '.', (size_t)(s + n - (dot ? dot : s)));
    if (!dot || dot + 1 >= s + n || dot[1] != '_')
        return 0;
    const char *fn = dot + 1;
    size_t fl = (size_t)(s + n - fn);
    const char *h = find(fn, fl, "_Handler");
    return h && (h + 8 == s + n || h[8] == '.');
}

static int looks_native(const char *s, size_t n)
{
    return !memchr(s, '.', n) && !memchr(s, '/', n) && !(n && (s[0] == '<' || s[0] == ':'));
}

/* Best guess at the language of an unknown (user) frame from its syntax. */
static int user_lang(const char *s, size_t n)
{
    if (find(s, n, "::"))
        return FX_LANG_NATIVE;
    const char *dot = memchr(s, '.', n);
    if (!dot)
        return FX_LANG_NATIVE;
    if (has_prefix(s, n, "main.") || find(s, n, ".(*") || find(s, n, ".func"))
        return FX_LANG_GO;
    const char *slash = memchr(s, '/', n);
    if (slash && memchr(s, '.', (size_t)(slash - s)))
        return FX_LANG_GO; /* module path: github.com/org/repo/pkg.Func */
    return FX_LANG_UNKNOWN; /* dotted: JVM or .NET, the profile decides */
}

/* Rust trait-method frames, "<Type as Trait>::method" (perf with demangling): the type says
 * whose code it is ("<std::fs::File as std::io::Write>::write" is the standard library's file
 * I/O). A type the tables do not know is the user's own, and so is its method, unless the trait
 * is a library trait with a category of its own: "<app::Hit as serde::ser::Serialize>::
 * serialize" is derived serialization code. A generic parameter ("<F as axum::handler::
 * Handler<..>>::call") says nothing, so the trait decides. Returns 0 if s is not of that form. */
static int rust_impl_form(const char *s, size_t n, fx_kb_class_t *out)
{
    if (n < 8 || s[0] != '<')
        return 0;
    size_t depth = 0, as = 0, close = 0;
    for (size_t i = 1; i < n && !close; i++) {
        if (s[i] == '<')
            depth++;
        else if (s[i] == '>' && depth)
            depth--;
        else if (s[i] == '>')
            close = i;
        else if (!depth && !as && i + 4 <= n && memcmp(s + i, " as ", 4) == 0)
            as = i;
    }
    if (!as || !close || close < as + 4)
        return 0;
    const char *ty = s + 1, *tr = s + as + 4;
    size_t tyn = as - 1, trn = close - as - 4;
    static const char *const refs[] = {"&mut ", "&", "*const ", "*mut ", "dyn ", NULL};
    for (const char *const *r = refs; *r; r++)
        if (has_prefix(ty, tyn, *r)) {
            ty += strlen(*r);
            tyn -= strlen(*r);
            break;
        }
    if (tyn == 0 || trn == 0)
        return 0;
    fx_kb_class_t t, k;
    if (ty[0] == '[' || ty[0] == '(') {
        set(out, 1, FX_CAT_NONE, FX_LANG_NATIVE, FX_KB_NATIVE_LOOK); /* slices, tuples */
        return 1;
    }
    fx_kb_classify(ty, tyn, &t);
    int generic_param = !find(ty, tyn, "::") && !memchr(ty, '<', tyn);
    if (t.lib && !generic_param) {
        *out = t;
        return 1;
    }
    fx_kb_classify(tr, trn, &k);
    if (generic_param || (k.lib && k.cat != FX_CAT_NONE)) {
        *out = k;
        out->flags &= (uint8_t)~FX_KB_INTERNAL;
    } else {
        *out = t;
    }
    out->flags |= FX_KB_NATIVE_LOOK;
    return 1;
}

void fx_kb_classify(const char *s, size_t n, fx_kb_class_t *out)
{
    pthread_once(&index_once, build_index);
    set(out, 1, FX_CAT_NONE, FX_LANG_UNKNOWN, 0);
    if (n == 0)
        return;
    if (s[0] == ':') {
        /* Pyroscope Node SDK: ":Garbage Collection:0" pseudo frames and ":replace:0"
         * builtins have no script, so they are never user code. */
        const fx__kb_rule_t *r = generic_lookup(s, n);
        set(out, 1, r ? r->cat : FX_CAT_NONE, FX_LANG_NODE, 0);
        return;
    }
    if (s[0] == '[' && s[n - 1] == ']') {
        /* perf's [unknown]/[vdso], async-profiler thread names like [GC Thread#0 tid=7]. */
        int gc = find(s, n, "GC") || find(s, n, "G1 ") || find(s, n, "Shenandoah");
        const fx__kb_rule_t *r = generic_lookup(s, n);
        set(out, 1, gc ? FX_CAT_GC : (r ? r->cat : FX_CAT_NONE), gc ? FX_LANG_JVM : FX_LANG_NATIVE,
            0);
        return;
    }
    if (n > 4 && memcmp(s, "py::", 4) == 0) {
        const char *c = memchr(s + 4, ':', n - 4);
        if (c)
            classify_python(c + 1, (size_t)(s + n - c - 1), s + 4, (size_t)(c - s - 4), out);
        else
            set(out, 0, FX_CAT_NONE, FX_LANG_PYTHON, 0);
        return;
    }
    if (pyspy_form(s, n, out) || austin_form(s, n, out) || dash_form(s, n, out) ||
        v8_perf_form(s, n, out) || node_form(s, n, out) || rust_impl_form(s, n, out))
        return;

    char buf[512];
    int kernel;
    size_t m = normalize(s, n, buf, sizeof buf, &kernel);
    const fx__kb_rule_t *r = generic_lookup(buf, m);
    if (r) {
        /* JDK and .NET library methods only call their own natives (JNI "writeBytes",
         * "SystemNative_Read"); user code on those runtimes is always dotted, so callbacks
         * into it are unaffected by this. */
        int internal = r->lang == FX_LANG_JVM || r->lang == FX_LANG_DOTNET ? FX_KB_INTERNAL : 0;
        set(out, 1, r->cat, r->lang, r->flags | internal);
    } else if (kernel) {
        set(out, 1, FX_CAT_NONE, FX_LANG_NATIVE, FX_KB_INTERNAL);
    } else if (generated_glue(buf, m)) {
        set(out, 1, FX_CAT_NONE, user_lang(buf, m), 0);
    } else {
        set(out, 0, FX_CAT_NONE, user_lang(buf, m), 0);
    }
    if (looks_native(buf, m))
        out->flags |= FX_KB_NATIVE_LOOK;
}
