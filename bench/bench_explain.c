/*
 * bench_explain.c - how fast the built-in Explain analyzer is on a query-sized call tree
 * (8,192 nodes, the default max_nodes), single and diff, plus the response JSON and the
 * language-model prompt. Prints figures; asserts nothing (timing belongs here, not in tests).
 *
 * The tree mixes frame names of every supported runtime (user code, libraries, runtime
 * internals, kernel frames) so classification does real work; a fixed-seed generator keeps
 * runs comparable.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/time.h"
#include "explain/analyze.h"
#include "explain/llm.h"
#include "explain/response.h"
#include "model/tree.h"

#define NODES 8192

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t next(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static const char *const lib_frames[] = {
    "runtime.mallocgc", "runtime.growslice", "encoding/json.Marshal", "regexp.(*Regexp).doExecute",
    "sync.(*Mutex).lockSlow", "syscall.Syscall", "crypto/sha256.block", "compress/flate.(*compressor).deflate",
    "reflect.Value.Field", "go.uber.org/zap.(*Logger).Info", "runtime.gcBgMarkWorker", "runtime.scanobject",
    "java.util.HashMap.getNode", "com.fasterxml.jackson.databind.ObjectMapper.writeValueAsString",
    "java.util.regex.Pattern$Curly.match", "java.util.concurrent.locks.LockSupport.park",
    "G1ParScanThreadState::trim_queue_to_threshold", "System.Text.Json.JsonSerializer.Serialize",
    "node:internal/crypto/hash:digest:100", ":Garbage Collection:0", "_PyEval_EvalFrameDefault",
    "__GI___libc_write", "entry_SYSCALL_64_after_hwframe", "do_syscall_64", "ext4_file_write_iter",
    "_int_malloc", "__pthread_mutex_lock", "EVP_DigestUpdate", "deflate_slow", "strings.Split",
    "sort.pdqsort", "fmt.Sprintf", "json (/usr/lib/python3.11/json/encoder.py:200)",
    "gsub [c function] - (unknown)", "std::vector<int, std::allocator<int> >::_M_realloc_insert",
};

static void build(fx_tree_t *t, uint32_t salt)
{
    char name[96];
    uint32_t ids[40];
    fx_tree_init(t);
    rng ^= salt;
    while (t->len < NODES) {
        size_t depth = 4 + next(24);
        for (size_t d = 0; d < depth; d++) {
            int lib = next(3) == 0;
            if (lib) {
                const char *s = lib_frames[next(sizeof lib_frames / sizeof lib_frames[0])];
                ids[d] = fx_tree_name(t, s, strlen(s));
            } else {
                int n = snprintf(name, sizeof name, "github.com/acme/svc/pkg%u.(*T%u).Method%u",
                                 next(40), next(30), next(25));
                ids[d] = fx_tree_name(t, name, (size_t)n);
            }
        }
        fx_tree_add_stack(t, ids, depth, 1 + next(1000));
    }
}

static double ms_since(int64_t t0)
{
    return (double)(fx_mono_ns() - t0) / 1e6;
}

int main(void)
{
    fx_tree_t a, b;
    build(&a, 1);
    build(&b, 2);
    printf("bench_explain: trees of %zu and %zu nodes, %zu and %zu distinct names\n", a.len,
           b.len, a.names.len, b.names.len);

    fx_explain_findings_t f;
    fx_err_t err = {0};
    const int runs = 50;
    double best = 1e9, sum = 0;
    for (int i = 0; i < runs; i++) {
        int64_t t0 = fx_mono_ns();
        if (fx_explain_analyze(&a, NULL, &f, &err) != FX_OK) {
            fprintf(stderr, "analyze: %s\n", err.msg);
            return 1;
        }
        double ms = ms_since(t0);
        sum += ms;
        best = ms < best ? ms : best;
        if (i + 1 < runs)
            fx_explain_findings_free(&f);
    }
    printf("analyze (single, %d nodes): mean %.3f ms, best %.3f ms\n", NODES, sum / runs, best);

    fx_buf_t out = FX_BUF_INIT;
    int64_t t0 = fx_mono_ns();
    for (int i = 0; i < runs; i++) {
        out.len = 0;
        fx_explain_write_response(&out, &f, NULL, NULL);
    }
    printf("response JSON: %.3f ms, %zu bytes\n", ms_since(t0) / runs, out.len);

    fx_explain_llm_config_t cfg;
    fx_explain_llm_config_defaults(&cfg);
    t0 = fx_mono_ns();
    for (int i = 0; i < runs; i++) {
        out.len = 0;
        fx_explain_llm_build_request(&cfg, &a, NULL, &f, &out);
    }
    printf("language-model request (prompt with top-100 call graph): %.3f ms, %zu bytes\n",
           ms_since(t0) / runs, out.len);
    fx_explain_findings_free(&f);

    best = 1e9;
    sum = 0;
    for (int i = 0; i < runs; i++) {
        t0 = fx_mono_ns();
        if (fx_explain_analyze_diff(&a, &b, NULL, &f, &err) != FX_OK) {
            fprintf(stderr, "diff: %s\n", err.msg);
            return 1;
        }
        double ms = ms_since(t0);
        sum += ms;
        best = ms < best ? ms : best;
        fx_explain_findings_free(&f);
    }
    printf("analyze (diff, 2 x %d nodes): mean %.3f ms, best %.3f ms\n", NODES, sum / runs, best);
    fx_buf_free(&out);
    fx_tree_free(&a);
    fx_tree_free(&b);
    return 0;
}
