/*
 * bench_pbjson.c - speed of the proto3 JSON codec on the two hot shapes: a
 * SelectMergeStacktraces response with an 8,192-node FlameGraph (encode and
 * decode) and a PushRequest carrying a base64 pprof (decode). Prints figures
 * only; no thresholds.
 *
 *   make bench   or   build/bench/bench_pbjson [reps]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "core/time.h"
#include "json/pbjson.h"
#include "push/v1/push.pb-c.h"
#include "querier/v1/querier.pb-c.h"

#define NODES 8192
#define DEPTH 32

static uint64_t rng = 88172645463325252ULL;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* A FlameGraph with NODES nodes over DEPTH levels; each node is 4 int64s
 * (x offset, total, self, name index) as Pyroscope encodes them, with
 * nanosecond-sized totals so the digits are realistic. */
static Querier__V1__FlameGraph *make_flamegraph(fx_arena_t *a)
{
    Querier__V1__FlameGraph *fg = fx_arena_calloc(a, sizeof *fg);
    querier__v1__flame_graph__init(fg);
    fg->n_names = NODES / 4;
    fg->names = fx_arena_alloc(a, fg->n_names * sizeof(char *));
    for (size_t i = 0; i < fg->n_names; i++)
        fg->names[i] = fx_arena_printf(a, "github.com/acme/svc/pkg%zu.(*Type%zu).Method%zu",
                                       i % 97, i % 13, i);
    fg->n_levels = DEPTH;
    fg->levels = fx_arena_alloc(a, DEPTH * sizeof(void *));
    for (size_t l = 0; l < DEPTH; l++) {
        Querier__V1__Level *lv = fx_arena_calloc(a, sizeof *lv);
        querier__v1__level__init(lv);
        lv->n_values = NODES / DEPTH * 4;
        lv->values = fx_arena_alloc(a, lv->n_values * sizeof(int64_t));
        for (size_t i = 0; i < lv->n_values; i += 4) {
            lv->values[i] = (int64_t)(next() % 1000000);
            lv->values[i + 1] = (int64_t)(next() % 100000000000ull);
            lv->values[i + 2] = (int64_t)(next() % 10000000000ull);
            lv->values[i + 3] = (int64_t)(next() % fg->n_names);
        }
        fg->levels[l] = lv;
    }
    fg->total = 987654321012;
    fg->max_self = 12345678901;
    return fg;
}

/* A push of one series with a raw profile of n random bytes. */
static void make_push_json(fx_buf_t *out, size_t n)
{
    uint8_t *raw = fx_malloc(n);
    for (size_t i = 0; i < n; i++)
        raw[i] = (uint8_t)next();
    Push__V1__RawSample s = PUSH__V1__RAW_SAMPLE__INIT;
    s.raw_profile.data = raw;
    s.raw_profile.len = n;
    s.id = "00000000-0000-0000-0000-000000000001";
    Push__V1__RawSample *sp[] = {&s};
    Types__V1__LabelPair l1 = TYPES__V1__LABEL_PAIR__INIT, l2 = TYPES__V1__LABEL_PAIR__INIT;
    l1.name = "__name__";
    l1.value = "process_cpu";
    l2.name = "service_name";
    l2.value = "bench";
    Types__V1__LabelPair *lp[] = {&l1, &l2};
    Push__V1__RawProfileSeries ser = PUSH__V1__RAW_PROFILE_SERIES__INIT;
    ser.n_labels = 2;
    ser.labels = lp;
    ser.n_samples = 1;
    ser.samples = sp;
    Push__V1__RawProfileSeries *serp[] = {&ser};
    Push__V1__PushRequest req = PUSH__V1__PUSH_REQUEST__INIT;
    req.n_series = 1;
    req.series = serp;
    fx_pbjson_encode(&req.base, out);
    free(raw);
}

static void report(const char *what, int reps, int64_t ns, size_t bytes)
{
    double per = (double)ns / reps;
    printf("%-44s %9.1f us/op %8.1f MB/s\n", what, per / 1e3, (double)bytes / per * 1e3);
}

static void bench_decode(const char *what, const ProtobufCMessageDescriptor *desc,
                         const fx_buf_t *json, int reps)
{
    fx_arena_t a;
    fx_err_t err;
    int64_t t0 = fx_mono_ns();
    for (int r = 0; r < reps; r++) {
        ProtobufCMessage *m;
        fx_arena_init(&a);
        if (fx_pbjson_decode(desc, (const char *)json->data, json->len, fx_arena_pb(&a), &m,
                             &err) != FX_OK) {
            fprintf(stderr, "%s: %s\n", what, err.msg);
            exit(1);
        }
        fx_arena_free(&a);
    }
    report(what, reps, fx_mono_ns() - t0, json->len);
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 200;
    fx_arena_t a;
    fx_buf_t out = FX_BUF_INIT;

    fx_arena_init(&a);
    Querier__V1__FlameGraph *fg = make_flamegraph(&a);
    Querier__V1__SelectMergeStacktracesResponse resp =
        QUERIER__V1__SELECT_MERGE_STACKTRACES_RESPONSE__INIT;
    resp.flamegraph = fg;

    fx_pbjson_encode(&resp.base, &out); /* warm up, size the buffer */
    int64_t t0 = fx_mono_ns();
    for (int r = 0; r < reps; r++) {
        out.len = 0;
        fx_pbjson_encode(&resp.base, &out);
    }
    int64_t ns = fx_mono_ns() - t0;
    printf("pbjson: FlameGraph %d nodes (%d int64s) = %zu bytes of JSON, %d reps\n", NODES,
           NODES * 4, out.len, reps);
    report("  encode SelectMergeStacktracesResponse", reps, ns, out.len);
    printf("  %-42s %9.1f ns/node\n", "", (double)ns / reps / NODES);
    bench_decode("  decode SelectMergeStacktracesResponse",
                 &querier__v1__select_merge_stacktraces_response__descriptor, &out, reps);

    static const size_t sizes[] = {2318, 256 << 10, 4 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char what[64];
        out.len = 0;
        make_push_json(&out, sizes[i]);
        snprintf(what, sizeof what, "  decode PushRequest (%zu KiB profile)", sizes[i] >> 10);
        int n = sizes[i] > (1 << 20) ? (reps + 9) / 10 : reps;
        bench_decode(what, &push__v1__push_request__descriptor, &out, n);
    }

    fx_buf_free(&out);
    fx_arena_free(&a);
    return 0;
}
