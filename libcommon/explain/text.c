/*
 * text.c - the markdown of the three findings (bottleneck, root cause, recommended fix).
 *
 * Rules, after the prompt Grafana's Flame graph AI gives its model: name the user's function
 * with its full package-qualified name, explain runtime and library frames through the user
 * code that calls them, keep it short, give a concrete fix. Each category has one
 * explanation and one fix; a language-specific sentence is added when the profile's runtime
 * is known, because "compile the regex once" reads differently in Go, Java or Python.
 */
#include "explain/analyze.h"
#include "core/buf.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- small writers */

static void code(fx_buf_t *b, const char *name)
{
    fx_buf_putc(b, '`');
    for (const char *p = name; *p; p++)
        fx_buf_putc(b, *p == '`' ? '\'' : (uint8_t)*p);
    fx_buf_putc(b, '`');
}

/* A long C++ name in running text: template arguments collapsed to <...>. Only for library
 * frames in prose; the bottleneck and the JSON keep exact names. */
static void short_code(fx_buf_t *b, const char *name)
{
    if (strlen(name) <= 80 || !strchr(name, '<')) {
        code(b, name);
        return;
    }
    fx_buf_putc(b, '`');
    int depth = 0;
    for (const char *p = name; *p; p++) {
        if (*p == '<' && depth++ == 0)
            fx_buf_puts(b, "<...");
        else if (*p == '>' && depth > 0 && --depth == 0)
            fx_buf_putc(b, '>');
        else if (depth == 0)
            fx_buf_putc(b, *p == '`' ? '\'' : (uint8_t)*p);
    }
    fx_buf_putc(b, '`');
}

static void pct(fx_buf_t *b, double share)
{
    double p = share * 100;
    if (p >= 9.95)
        fx_buf_printf(b, "%.0f%%", p);
    else if (p >= 0.05)
        fx_buf_printf(b, "%.1f%%", p);
    else
        fx_buf_puts(b, "<0.1%");
}

static const char *finish(fx_explain_findings_t *f, fx_buf_t *b)
{
    const char *s = fx_arena_strndup(&f->arena, (const char *)b->data, b->len);
    fx_buf_free(b);
    return s;
}

/* ---------------------------------------------------------------- category texts */

typedef struct cat_text {
    const char *what;  /* "regular expressions" (after "spends its time in") */
    const char *why;   /* the mechanism, one or two sentences */
    const char *fix;   /* what to do, for every language */
} cat_text_t;

static const cat_text_t texts[FX_CAT__COUNT] = {
    [FX_CAT_GC] = {
        "memory allocation and garbage collection",
        "Every allocation costs time in the allocator and later in the garbage collector, which "
        "has to trace and free what was allocated; the more short-lived objects a hot path "
        "creates, the more of the process goes to the collector instead of the program.",
        "Allocate less: reuse buffers and objects across calls, pre-size "
        "collections to their final length, avoid building intermediate strings or lists that "
        "are thrown away, and stream large results instead of materialising them.",
    },
    [FX_CAT_REGEX] = {
        "regular expressions",
        "Compiling a pattern costs far more than matching it, and a pattern built inside the "
        "function (or passed as a string to a helper) is compiled again on every call; "
        "backtracking patterns also slow down sharply on long inputs.",
        "Compile each pattern once and reuse the compiled object; use plain string operations "
        "(prefix/suffix checks, index, split on a fixed separator) where no pattern is needed; "
        "anchor patterns and avoid nested quantifiers that backtrack.",
    },
    [FX_CAT_SERIALIZATION] = {
        "encoding and decoding data (serialization)",
        "Generic serializers walk every field (often by reflection), escape strings and grow "
        "output buffers, so the cost grows with the payload size and with how often the same "
        "data is encoded.",
        "Serialize less: send only the fields the consumer needs, paginate large lists, cache "
        "the encoded bytes of data that does not change, and avoid encode/decode round trips "
        "between internal layers; then switch to a faster codec.",
    },
    [FX_CAT_LOCK] = {
        "lock contention",
        "One lock is taken on a hot path, so threads queue behind it and spend their time "
        "spinning, parking and waking each other instead of doing work.",
        "Shorten or remove the critical section: move work out of the lock, shard the protected "
        "data (per key or per thread), use read/write locks for read-mostly data, or replace the "
        "lock with atomics or concurrent data structures.",
    },
    [FX_CAT_SYSCALL_IO] = {
        "system calls for file or network I/O",
        "The I/O is done in many small operations, so the fixed cost of each system call "
        "(kernel entry, locking, copying) dominates rather than the bytes moved.",
        "Batch the I/O: buffer writes and flush in larger chunks, read with larger buffers, "
        "reuse connections, and do not flush or fsync per record.",
    },
    [FX_CAT_CRYPTO] = {
        "cryptography (hashing, signatures, TLS)",
        "Hashing, key derivation, signatures and TLS handshakes are expensive by design, and "
        "doing them per request or per item adds up.",
        "Do less cryptography per request: cache what can be cached (verified tokens, derived "
        "keys, digests of unchanged data), reuse TLS sessions and keep connections alive, and "
        "choose the cheapest algorithm that meets the security need.",
    },
    [FX_CAT_COMPRESSION] = {
        "compression",
        "The compressor searches for matches on every byte; the cost is proportional to the "
        "data size and rises steeply with the compression level.",
        "Lower the compression level (levels 1-3 are often several times faster for slightly "
        "larger output), compress once and cache the result, skip small or already-compressed "
        "payloads, or use a faster codec (zstd at a low level, LZ4, Snappy).",
    },
    [FX_CAT_RECURSION] = {
        "recursion",
        "The function calls itself many levels deep and the same sub-problems are computed "
        "again and again; for a naive recursion the number of calls grows exponentially with "
        "the input.",
        "Memoise repeated sub-problems (a cache keyed by the arguments), rewrite the recursion "
        "as iteration or bottom-up dynamic programming, or prune branches early.",
    },
    [FX_CAT_REFLECTION] = {
        "reflection",
        "Looking up fields and methods by name and boxing values through reflection is much "
        "slower than direct access, and it allocates on every call.",
        "Replace reflection on the hot path with direct or generated code (hand-written or "
        "generated mappers), or at least look fields and methods up once and cache the handles.",
    },
    [FX_CAT_LOGGING] = {
        "logging",
        "Each log call formats a message (timestamp, fields, sometimes caller information) and "
        "writes it out, often under a lock and with one system call per line.",
        "Log less on the hot path (drop or sample per-request lines, lower the level), build "
        "messages only when the level is enabled, avoid caller/stack capture, and write through "
        "an asynchronous, buffered appender.",
    },
    [FX_CAT_IDLE] = {
        "waiting (idle)",
        "Waiting is a latency or throughput problem, not a CPU problem: the thread is blocked "
        "polling, sleeping, or waiting for work or I/O.",
        "Find what it waits for: if it waits for work, the producer side or the request rate is "
        "the limit (add producers, block on the queue instead of polling with sleeps); if it "
        "waits for I/O, look at the downstream service or disk. Profile CPU time to see the "
        "remaining busy work.",
    },
    [FX_CAT_COMPUTE] = {
        "plain computation in its own code",
        "No runtime, I/O or library overhead dominates: the cost is the algorithm itself and the "
        "amount of data it processes.",
        "Make the work cheaper or do less of it: a better algorithm or data structure (hash "
        "lookups instead of scans, sort once), no repeated computation (cache results), less "
        "data per call; only then micro-optimise the loop or parallelise it.",
    },
};

/* A sentence specific to a runtime, or NULL. */
static const char *lang_fix(int cat, int lang)
{
    switch (cat) {
    case FX_CAT_GC:
        switch (lang) {
        case FX_LANG_GO: return "In Go: pre-size with `make([]T, 0, n)` and `make(map[K]V, n)`, reuse buffers through `sync.Pool`, avoid `string`/`[]byte` conversions and `fmt.Sprintf` on hot paths; if most of the heap is short-lived, a higher `GOGC` or a `GOMEMLIMIT` trades memory for less GC.";
        case FX_LANG_JVM: return "On the JVM: pre-size `ArrayList`, `HashMap` and `StringBuilder`, avoid boxing and temporary objects in loops; if young collections dominate the GC log, a larger young generation or heap helps.";
        case FX_LANG_DOTNET: return "In .NET: rent arrays from `ArrayPool<T>`, use `Span<T>`, pre-size `List<T>` and `Dictionary<K,V>`, avoid LINQ and string concatenation on hot paths; Server GC suits throughput-bound services.";
        case FX_LANG_NODE: return "In Node.js: reuse Buffers and arrays instead of allocating per item, avoid creating many short-lived objects in hot loops; `--max-semi-space-size` reduces scavenges when allocation cannot be avoided.";
        case FX_LANG_PYTHON: return "In Python: create fewer temporary objects (generators, `__slots__`, joining strings once); if cyclic GC shows up, `gc.freeze()` after start-up or a higher `gc.set_threshold` reduces collections.";
        case FX_LANG_RUBY: return "In Ruby: allocate fewer objects (frozen string literals, fewer intermediate arrays from `map` chains) and tune `RUBY_GC_HEAP_*` if GC runs often.";
        case FX_LANG_NATIVE: return "In C/C++: `reserve()` containers, reuse buffers, pass `std::string_view` instead of copying strings, use arenas or object pools; a faster allocator (jemalloc, mimalloc, tcmalloc) helps where allocation is unavoidable.";
        }
        break;
    case FX_CAT_REGEX:
        switch (lang) {
        case FX_LANG_GO: return "In Go: move `regexp.MustCompile` to a package-level `var`, and use `strings.Contains`, `strings.HasPrefix` or `strings.Cut` where no pattern is needed.";
        case FX_LANG_JVM: return "On the JVM: keep a `static final Pattern` and call `pattern.matcher(s)`; `String.split` (except for one-character separators), `replaceAll` and `matches` compile a new `Pattern` on every call.";
        case FX_LANG_DOTNET: return "In .NET: keep a `static readonly Regex` with `RegexOptions.Compiled`, or a `[GeneratedRegex]` source-generated one, instead of `new Regex(...)` per call.";
        case FX_LANG_NODE: return "In Node.js: hoist regex literals and `new RegExp(...)` to module scope; use `includes`, `startsWith` or a single pass where possible.";
        case FX_LANG_PYTHON: return "In Python: `re.compile` the patterns at module level and call the compiled pattern's methods; the `re` module's own cache is small, so many distinct patterns are recompiled.";
        case FX_LANG_RUBY: return "In Ruby: use constant regex literals, `start_with?`, `include?`, `tr` or `delete` instead of `gsub` for fixed strings, and `match?` when no MatchData is needed.";
        case FX_LANG_NATIVE: return "In C/C++: keep the compiled pattern (PCRE2 with JIT, RE2) instead of compiling per call, and avoid `std::regex` on hot paths.";
        }
        break;
    case FX_CAT_SERIALIZATION:
        switch (lang) {
        case FX_LANG_GO: return "In Go: use a generated or faster encoder (easyjson, goccy/go-json, sonic, or protobuf) instead of reflection-based `encoding/json`, and stream with `json.NewEncoder(w)`.";
        case FX_LANG_JVM: return "On the JVM: reuse one `ObjectMapper`/`ObjectWriter` (thread-safe and expensive to build), use `writerFor(type)` for hot types, or the Afterburner/Blackbird module.";
        case FX_LANG_DOTNET: return "In .NET: prefer `System.Text.Json` with a source-generated `JsonSerializerContext` over Newtonsoft.Json reflection, and serialize straight to the output stream.";
        case FX_LANG_NODE: return "In Node.js: precompile schemas (fast-json-stringify, protobufjs static code), avoid `JSON.parse(JSON.stringify(x))` copies, and cache encoded responses.";
        case FX_LANG_PYTHON: return "In Python: `orjson` or `msgspec` are several times faster than the standard `json` module on large payloads.";
        case FX_LANG_RUBY: return "In Ruby: use `Oj` (with `Oj.optimize_rails`) or a precompiled serializer (Alba, Panko) instead of `as_json` on ActiveRecord objects, and select only the needed columns.";
        case FX_LANG_NATIVE: return "In C/C++: use a zero-copy or SAX-style parser (simdjson, RapidJSON's Reader) and reuse documents or arenas between messages.";
        }
        break;
    case FX_CAT_LOCK:
        switch (lang) {
        case FX_LANG_GO: return "In Go: shard the map behind the `sync.Mutex`, use `sync.Map` for read-mostly keys or `atomic` counters, and keep I/O out of locked sections.";
        case FX_LANG_JVM: return "On the JVM: use `ConcurrentHashMap` or `LongAdder` instead of a write-locked map, read locks (`ReentrantReadWriteLock`, `StampedLock`) for read-mostly data, and never refresh a cache while holding its write lock.";
        case FX_LANG_DOTNET: return "In .NET: replace `lock` on shared state with `ConcurrentDictionary`, `Interlocked` or per-key locks, and never block inside a `lock` block.";
        case FX_LANG_PYTHON: return "In Python: hold `threading.Lock` for less time; for CPU-bound work the GIL serialises threads anyway, so use processes (`ProcessPoolExecutor`).";
        case FX_LANG_RUBY: return "In Ruby: hold `Mutex#synchronize` for less time, or use `Concurrent::Map` and per-key locks.";
        case FX_LANG_NATIVE: return "In C/C++: shard the mutex or aggregate per thread and merge periodically, use atomics for counters and `std::shared_mutex` for read-mostly data, and keep allocation and I/O outside the critical section.";
        }
        break;
    case FX_CAT_SYSCALL_IO:
        switch (lang) {
        case FX_LANG_GO: return "In Go: wrap the file or connection in a `bufio.Writer` (or `bufio.Reader`) and `Flush` once per batch instead of calling `Write` per record.";
        case FX_LANG_JVM: return "On the JVM: wrap streams in `BufferedOutputStream`/`BufferedWriter` with a large buffer, or use NIO channels; batch JDBC statements.";
        case FX_LANG_DOTNET: return "In .NET: use `BufferedStream` or a `FileStream` with a larger buffer and async I/O.";
        case FX_LANG_NODE: return "In Node.js: batch writes (`cork()`/`uncork()` or one larger `write`) instead of many small synchronous writes.";
        case FX_LANG_PYTHON: return "In Python: keep files buffered, write joined chunks instead of line by line, and reuse connections.";
        case FX_LANG_RUBY: return "In Ruby: buffer output (write joined strings, `sync = false`) and reuse HTTP connections.";
        case FX_LANG_NATIVE: return "In C/C++: collect events in a user-space buffer and issue one `write(2)`/`writev(2)` per batch; for many small messages consider `io_uring` or `sendmmsg`/`recvmmsg`.";
        }
        break;
    case FX_CAT_CRYPTO:
        switch (lang) {
        case FX_LANG_NODE: return "In Node.js: `pbkdf2Sync`, `scryptSync` and synchronous bcrypt block the event loop; use the asynchronous variants, which run on the libuv thread pool.";
        case FX_LANG_GO: return "In Go: reuse `hash.Hash` values and enable TLS session resumption and keep-alive.";
        case FX_LANG_JVM: return "On the JVM: reuse `MessageDigest`/`Cipher` instances per thread, enable TLS session caching, and prefer an ECDSA certificate.";
        case FX_LANG_PYTHON: return "In Python: hash larger chunks per call (per-call overhead dominates tiny inputs) and avoid re-hashing unchanged data.";
        case FX_LANG_NATIVE: return "In C/C++: prefer ECDSA P-256/X25519 over RSA for TLS handshakes, enable session tickets and resumption, and make sure the crypto library uses its assembly code paths (AES-NI, SHA extensions).";
        }
        break;
    case FX_CAT_COMPRESSION:
        switch (lang) {
        case FX_LANG_GO: return "In Go: use `gzip.NewWriterLevel(w, gzip.BestSpeed)` or klauspost/compress, and reuse writers with `Reset`.";
        case FX_LANG_JVM: return "On the JVM: use `Deflater.BEST_SPEED`, or zstd-jni/LZ4, and reuse `Deflater` instances.";
        case FX_LANG_DOTNET: return "In .NET: use `CompressionLevel.Fastest`, or Brotli/zstd at a low level.";
        case FX_LANG_PYTHON: return "In Python: pass `compresslevel=1` to `gzip`/`zlib`, or use `zstandard` or `lz4`.";
        case FX_LANG_NATIVE: return "In C/C++: use zlib level 1-3 (or zlib-ng/libdeflate), or zstd at a low level.";
        }
        break;
    case FX_CAT_RECURSION:
        if (lang == FX_LANG_PYTHON)
            return "In Python: `functools.cache` on a pure function is often a one-line fix.";
        break;
    case FX_CAT_REFLECTION:
        switch (lang) {
        case FX_LANG_GO: return "In Go: generate the copy code (or write it by hand); if reflection stays, cache field indexes per `reflect.Type` instead of calling `FieldByName` per value.";
        case FX_LANG_JVM: return "On the JVM: cache `Method`/`Field` objects or use `MethodHandle`s, and prefer generated mappers (MapStruct) to BeanUtils-style copying.";
        case FX_LANG_DOTNET: return "In .NET: use source generators or compiled expression delegates instead of `PropertyInfo.GetValue`.";
        case FX_LANG_RUBY: return "In Ruby: avoid `send` and `method_missing` on hot paths; define methods once.";
        }
        break;
    case FX_CAT_LOGGING:
        switch (lang) {
        case FX_LANG_GO: return "In Go with zap: use a sampled core and `zapcore.BufferedWriteSyncer`, and avoid `logger.With` per request.";
        case FX_LANG_JVM: return "On the JVM: use parameterised messages (`log.debug(\"x={}\", x)`), an `AsyncAppender`, and switch off caller data (`%L`, `%M`, `includeCallerData`).";
        case FX_LANG_DOTNET: return "In .NET: use `LoggerMessage` source-generated logging and an asynchronous sink.";
        case FX_LANG_PYTHON: return "In Python: use lazy formatting (`log.info(\"x=%s\", x)`), a `QueueHandler`, and no flush per record.";
        case FX_LANG_NODE: return "In Node.js: use an asynchronous logger (pino) instead of synchronous console logging, and a higher level in production.";
        case FX_LANG_RUBY: return "In Ruby: raise the level in production and use a single-line, buffered logger (lograge).";
        case FX_LANG_NATIVE: return "In C/C++: use an asynchronous logger (spdlog async) and check the level before formatting.";
        }
        break;
    }
    return NULL;
}

/* ---------------------------------------------------------------- pieces */

static void via_list(fx_buf_t *b, const fx_explain_findings_t *f, int with_base)
{
    size_t n = f->n_via < 3 ? f->n_via : 3;
    for (size_t k = 0; k < n; k++) {
        if (k)
            fx_buf_puts(b, k + 1 == n ? " and " : ", ");
        short_code(b, f->via[k].name);
        fx_buf_puts(b, " (");
        if (with_base && f->diff) {
            if (f->via[k].base_share <= 0) {
                fx_buf_puts(b, "new, ");
                pct(b, f->via[k].share);
            } else {
                pct(b, f->via[k].base_share);
                fx_buf_puts(b, " → ");
                pct(b, f->via[k].share);
            }
        } else {
            pct(b, f->via[k].share);
        }
        fx_buf_putc(b, ')');
    }
}

/* The widest self frame, when it is library code this function calls: the graph's most
 * visible frame, explained through the user code above it. */
static void widest_frame_note(fx_buf_t *b, const fx_explain_findings_t *f)
{
    const fx_explain_side_t *s = &f->side[f->diff ? 1 : 0];
    if (!f->user || s->n_top_self == 0)
        return;
    const fx_explain_fn_t *w = &s->top_self[0];
    if (!w->lib || !w->caller || strcmp(w->caller, f->function) != 0)
        return;
    fx_buf_puts(b, " The widest frame in the graph, ");
    short_code(b, w->name);
    fx_buf_puts(b, ", is runtime/library code working for ");
    code(b, f->function);
    fx_buf_puts(b, ".");
}

static void write_bottleneck(fx_explain_findings_t *f)
{
    fx_buf_t b = FX_BUF_INIT;
    fx_buf_puts(&b, "**");
    code(&b, f->function);
    fx_buf_puts(&b, "**");
    if (f->cat == FX_CAT_IDLE && !f->diff) {
        fx_buf_puts(&b, " spends most of the profile waiting: ");
        pct(&b, f->share);
        fx_buf_printf(&b, " of %s is idle time", f->unit);
        if (f->idle_frame && strcmp(f->idle_frame, f->function) != 0) {
            fx_buf_puts(&b, " in ");
            code(&b, f->idle_frame);
        }
        fx_buf_puts(&b, ", and only ");
        pct(&b, 1.0 - f->side[0].idle_share);
        fx_buf_puts(&b, " of the profile is busy");
        if (f->busiest) {
            fx_buf_puts(&b, ", most of it in ");
            code(&b, f->busiest);
            fx_buf_puts(&b, " (");
            pct(&b, f->busiest_share);
            fx_buf_putc(&b, ')');
        }
        fx_buf_putc(&b, '.');
        f->bottleneck_md = finish(f, &b);
        return;
    }
    if (f->diff) {
        if (f->base_share <= 0) {
            fx_buf_puts(&b, " is new in the comparison and grew the most: **");
            pct(&b, f->share);
            fx_buf_printf(&b, "** of %s", f->unit);
        } else if (f->share >= f->base_share) {
            fx_buf_puts(&b, " grew the most: from ");
            pct(&b, f->base_share);
            fx_buf_puts(&b, " to **");
            pct(&b, f->share);
            fx_buf_printf(&b, "** of %s (+%.1f points)", f->unit, (f->share - f->base_share) * 100);
        } else {
            fx_buf_puts(&b, " changed the most: from ");
            pct(&b, f->base_share);
            fx_buf_puts(&b, " to ");
            pct(&b, f->share);
            fx_buf_printf(&b, " of %s", f->unit);
        }
        fx_buf_putc(&b, '.');
        if (f->n_via) {
            fx_buf_puts(&b, " Inside it: ");
            via_list(&b, f, 1);
            fx_buf_putc(&b, '.');
        }
        for (size_t k = 0; k < f->n_changes; k++) {
            const fx_explain_change_t *c = &f->changes[k];
            if (c->comparison_share < c->baseline_share &&
                c->baseline_share - c->comparison_share >= 0.02) {
                fx_buf_puts(&b, " Meanwhile ");
                code(&b, c->function);
                fx_buf_printf(&b, " %s from ", c->comparison_share <= 0 ? "disappeared, down" : "shrank");
                pct(&b, c->baseline_share);
                fx_buf_puts(&b, " to ");
                pct(&b, c->comparison_share);
                fx_buf_putc(&b, '.');
                break;
            }
        }
    } else if (!f->user) {
        fx_buf_puts(&b, " is the widest runtime/library work with no function of yours above it "
                        "in the profile: ");
        pct(&b, f->share);
        fx_buf_printf(&b, " of %s.", f->unit);
    } else {
        fx_buf_puts(&b, " is the bottleneck: it accounts for **");
        pct(&b, f->share);
        fx_buf_printf(&b, "** of %s, counting the runtime and library code it calls.", f->unit);
        if (f->n_via) {
            fx_buf_puts(&b, " Most of that is in ");
            via_list(&b, f, 0);
            fx_buf_putc(&b, '.');
        } else {
            fx_buf_puts(&b, " Almost all of it is in its own code.");
        }
        if (f->adopted_share >= 0.005 && f->adopted_frame) {
            fx_buf_puts(&b, " That includes ");
            pct(&b, f->adopted_share);
            fx_buf_puts(&b, " of framework work done for it after or before it runs (");
            code(&b, f->adopted_frame);
            fx_buf_puts(&b, "): it is the only function of yours that this framework code "
                            "serves in the profile.");
        }
        if (f->bg_gc_share >= 0.005 && f->bg_gc_frame) {
            fx_buf_puts(&b, " It is also charged ");
            pct(&b, f->bg_gc_share);
            fx_buf_puts(&b, " of background garbage collection (");
            code(&b, f->bg_gc_frame);
            fx_buf_puts(&b, "), in proportion to the memory it allocates.");
        }
        widest_frame_note(&b, f);
    }
    if (f->runner_up && f->runner_up_share >= 0.01 && f->runner_up_share >= 0.1 * f->share) {
        fx_buf_puts(&b, f->runner_up_share >= 0.9 * f->share ? " A close second is "
                                                            : " Next is ");
        code(&b, f->runner_up);
        fx_buf_puts(&b, " (");
        pct(&b, f->runner_up_share);
        fx_buf_printf(&b, ", %s).", fx_cat_name(f->runner_up_cat));
    }
    f->bottleneck_md = finish(f, &b);
}

static void write_root_cause(fx_explain_findings_t *f)
{
    fx_buf_t b = FX_BUF_INIT;
    const cat_text_t *t = &texts[f->cat];
    fx_buf_printf(&b, "**%s**", fx_cat_name(f->cat));
    fx_buf_puts(&b, ": ");
    if (f->cat == FX_CAT_IDLE) {
        code(&b, f->function);
        fx_buf_puts(&b, " is blocked");
        if (f->idle_frame && strcmp(f->idle_frame, f->function) != 0) {
            fx_buf_puts(&b, " in ");
            code(&b, f->idle_frame);
        }
        fx_buf_puts(&b, " for most of the profile. ");
    } else if (f->cat == FX_CAT_RECURSION) {
        code(&b, f->function);
        fx_buf_puts(&b, " appears many times on the same stack and most of its time is spent "
                        "in those recursive calls. ");
    } else if (f->cat == FX_CAT_COMPUTE) {
        code(&b, f->function);
        fx_buf_printf(&b, " spends its time in %s", t->what);
        size_t n = 0;
        for (size_t k = 0; k < f->n_via; k++)
            n += f->via[k].cat == FX_CAT_COMPUTE;
        if (n) {
            fx_buf_puts(&b, " and in the library helpers it calls (");
            for (size_t k = 0, w = 0; k < f->n_via && w < 2; k++)
                if (f->via[k].cat == FX_CAT_COMPUTE) {
                    if (w++)
                        fx_buf_puts(&b, ", ");
                    short_code(&b, f->via[k].name);
                }
            fx_buf_putc(&b, ')');
        }
        fx_buf_puts(&b, ". ");
    } else {
        if (f->diff)
            fx_buf_puts(&b, "the comparison spends more in ");
        else
            fx_buf_puts(&b, "most of this time goes to ");
        fx_buf_puts(&b, t->what);
        fx_buf_puts(&b, f->user ? " called from " : " in ");
        code(&b, f->function);
        if (!f->user)
            fx_buf_puts(&b, ", which no function of yours calls directly");
        size_t w = 0;
        for (size_t k = 0; k < f->n_via && w < 2; k++)
            if (f->via[k].cat == f->cat) {
                fx_buf_puts(&b, w++ ? ", " : " (");
                short_code(&b, f->via[k].name);
            }
        if (w)
            fx_buf_putc(&b, ')');
        fx_buf_puts(&b, ". ");
        if (f->cat == FX_CAT_GC && f->bg_gc_share >= 0.005)
            fx_buf_puts(&b, "Part of it is the collector's own threads, which the profile shows "
                            "separately; they run because of the allocating code. ");
    }
    fx_buf_puts(&b, t->why);
    f->root_cause_md = finish(f, &b);
}

static void write_fix(fx_explain_findings_t *f)
{
    fx_buf_t b = FX_BUF_INIT;
    const cat_text_t *t = &texts[f->cat];
    int lang = f->side[f->diff ? 1 : 0].lang;
    if (f->user) {
        fx_buf_puts(&b, "In ");
        code(&b, f->function);
        fx_buf_puts(&b, ": ");
    } else {
        code(&b, f->function);
        fx_buf_puts(&b, " runs outside your own functions, so the lever is how the service uses "
                        "or configures it: ");
    }
    /* the category texts are sentences; continue this one in lower case */
    fx_buf_putc(&b, (uint8_t)(t->fix[0] >= 'A' && t->fix[0] <= 'Z' ? t->fix[0] + 32 : t->fix[0]));
    fx_buf_puts(&b, t->fix + 1);
    const char *l = lang_fix(f->cat, lang);
    if (l) {
        fx_buf_puts(&b, "\n\n");
        fx_buf_puts(&b, l);
    }
    if (f->cat == FX_CAT_IDLE && f->busiest) {
        fx_buf_puts(&b, " Of the busy part, start with ");
        code(&b, f->busiest);
        fx_buf_putc(&b, '.');
    }
    f->fix_md = finish(f, &b);
}

void fx__explain_write_text(fx_explain_findings_t *f)
{
    write_bottleneck(f);
    write_root_cause(f);
    write_fix(f);
}
