/*
 * test_handoff.c - storage/handoff.h, the answering side of an ingester's
 * catch-up: id and cursor encodings (and their refusals), the push labels
 * recovered from stored series labels, and the round trip that matters:
 * real profiles (and one with span ids) read out of one head page by page
 * and appended to another give the same keys and the same answers for
 * every profile type, and appending them all again changes nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/gz.h"
#include "model/treebytes.h"
#include "pprof/pprof.h"
#include "storage/handoff.h"
#include "storage/head.h"
#include "pprof_fixture.h"

#define FIXTURES "../shared/fixtures/"
#define T0 1795238400000000000LL
#define SEC 1000000000LL

static void test_id_and_cursor(void **state)
{
    (void)state;
    fx_err_t err = {0};
    uint8_t id[16], back[16];
    char s[37];
    for (int i = 0; i < 16; i++)
        id[i] = (uint8_t)(i * 17 + 3);
    fx_head_id_format(id, s);
    assert_string_equal(s, "03142536-4758-697a-8b9c-adbecfe0f102");
    assert_int_equal(fx_head_id_parse(s, back, &err), FX_OK);
    assert_memory_equal(id, back, 16);
    assert_int_equal(fx_head_id_parse("03142536475869 7a8b9cadbecfe0f102", back, &err), FX_EINVAL);
    assert_int_equal(fx_head_id_parse("ABCDEF0123456789abcdef0123456789", back, &err), FX_OK);
    assert_int_equal(back[0], 0xab);
    assert_int_equal(fx_head_id_parse("abcdef0123456789abcdef012345678", back, &err), FX_EINVAL);
    assert_int_equal(fx_head_id_parse("abcdef0123456789abcdef01234567890", back, &err), FX_EINVAL);
    assert_int_equal(fx_head_id_parse("", back, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "32 hex digits"));

    fx_head_cursor_t c = {1, 77, -5 * SEC, {0}}, d;
    memcpy(c.id, id, 16);
    uint8_t enc[FX_HEAD_CURSOR_LEN];
    fx_head_cursor_encode(&c, enc);
    assert_int_equal(fx_head_cursor_decode(enc, sizeof enc, &d, &err), FX_OK);
    assert_true(d.set && d.pseries == 77 && d.ts_ns == -5 * SEC);
    assert_memory_equal(d.id, id, 16);
    assert_int_equal(fx_head_cursor_decode(enc, 0, &d, &err), FX_OK);
    assert_false(d.set);
    assert_int_equal(fx_head_cursor_decode(enc, 27, &d, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "cursor"));
}

static fx_labels_t L(fx_label_t *v, size_t n)
{
    return (fx_labels_t){v, n};
}

static void test_push_labels(void **state)
{
    (void)state;
    fx_arena_t a;
    fx_arena_init(&a);
    fx_labels_t out[FX_HEAD_PUSH_CANDIDATES];
    /* A Node wall profile: its cpu column was relabeled process_cpu; the
     * push had __name__=wall. */
    fx_label_t wall[] = {{"__name__", "wall"}, {"__period_type__", "cpu"}, {"__period_unit__", "ns"},
                         {"__profile_type__", "wall:wall:ns:cpu:ns"}, {"__service_name__", "app"},
                         {"__type__", "wall"}, {"__unit__", "ns"}, {"pod", "p1"},
                         {"service_name", "app"}};
    fx_label_t cpu[] = {{"__name__", "process_cpu"}, {"__period_type__", "cpu"}, {"__period_unit__", "ns"},
                        {"__profile_type__", "process_cpu:cpu:ns:cpu:ns"}, {"__service_name__", "app"},
                        {"__type__", "cpu"}, {"__unit__", "ns"}, {"pod", "p1"},
                        {"service_name", "app"}};
    fx_labels_t cols[2] = {L(cpu, 9), L(wall, 9)};
    size_t n = fx_head_push_labels(cols, 2, &a, out);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].len, 3);
    assert_string_equal(fx_labels_get(&out[0], "__name__"), "wall");
    assert_string_equal(out[0].v[1].name, "pod");
    assert_string_equal(out[0].v[2].name, "service_name");
    assert_null(fx_labels_get(&out[0], "__delta__"));
    /* The head dropped a __delta__="false" an /ingest push carried. */
    assert_int_equal(out[1].len, 4);
    assert_string_equal(out[1].v[0].name, "__delta__"); /* sorted */
    assert_string_equal(out[1].v[0].value, "false");
    assert_string_equal(fx_labels_get(&out[1], "__name__"), "wall");
    /* A lone relabeled cpu column may have been pushed as either name. */
    n = fx_head_push_labels(cols, 1, &a, out);
    assert_int_equal(n, 4);
    assert_string_equal(fx_labels_get(&out[0], "__name__"), "process_cpu");
    assert_string_equal(fx_labels_get(&out[1], "__name__"), "wall");
    assert_null(fx_labels_get(&out[1], "__delta__"));
    assert_string_equal(fx_labels_get(&out[2], "__name__"), "process_cpu");
    assert_string_equal(fx_labels_get(&out[3], "__delta__"), "false");
    /* The token the distributor hashed for an /ingest push is a candidate. */
    fx_label_t pushed[] = {{"__delta__", "false"}, {"__name__", "memory"}, {"pyroscope_spy", "gospy"},
                           {"service_name", "x"}};
    fx_label_t stored[] = {{"__name__", "memory"}, {"__profile_type__", "memory:alloc_space:bytes::"},
                           {"__service_name__", "x"}, {"__type__", "alloc_space"}, {"__unit__", "bytes"},
                           {"pyroscope_spy", "gospy"}, {"service_name", "x"}};
    cols[0] = L(stored, 7);
    fx_labels_t want = L(pushed, 4);
    n = fx_head_push_labels(cols, 1, &a, out);
    int found = 0;
    for (size_t i = 0; i < n; i++)
        found |= fx_labels_token("t", &out[i]) == fx_labels_token("t", &want);
    assert_true(found);
    fx_arena_free(&a);
}

/* --- round trip through two heads ------------------------------------------------------- */

static char dir[64];

typedef struct fixture {
    const char *path, *name;
    fx_buf_t plain;
    fx_arena_t arena;
    fx_pprof_t p;
} fixture_t;

static fixture_t fx[] = {
    {FIXTURES "pprof/go-cpu.pb.gz", "process_cpu", FX_BUF_INIT, {0}, {0}},
    {FIXTURES "pprof/go-heap.pb.gz", "memory", FX_BUF_INIT, {0}, {0}},
    {FIXTURES "pprof/node-cpu-wall.pb.gz", "wall", FX_BUF_INIT, {0}, {0}},
    {FIXTURES "nodejs-sdk/sdk-0.6.4-wall-cpu.body.pb.gz", "wall", FX_BUF_INIT, {0}, {0}},
};
#define NFX FX_ARRAY_LEN(fx)

static void load(fixture_t *f)
{
    fx_test_load_pprof(f->path, &f->plain, &f->arena, &f->p);
}

/* A two-column CPU pprof whose samples carry span ids (as test_spans). */
enum { S_MAIN = 1, S_A, S_B, S_SAMPLES, S_COUNT, S_CPU, S_NS, S_SPAN, S_X, S_Y, S_NSTR };
static void span_pprof(fx_pprof_t *p)
{
    static const char *strs[S_NSTR] = {"", "main", "a", "b", "samples", "count", "cpu",
                                       "nanoseconds", "span_id", "00000000000000aa",
                                       "00000000000000bb"};
    static fx_slice_t sl[S_NSTR];
    static fx_pprof_value_type_t st[2] = {{S_SAMPLES, S_COUNT}, {S_CPU, S_NS}};
    static fx_pprof_function_t fns[3] = {{1, S_MAIN, S_MAIN, 0, 0}, {2, S_A, S_A, 0, 0},
                                         {3, S_B, S_B, 0, 0}};
    static fx_pprof_line_t lines[3] = {{1, 1}, {2, 2}, {3, 3}};
    static fx_pprof_location_t locs[3] = {{1, 0, 0x10, &lines[0], 1, 0},
                                          {2, 0, 0x20, &lines[1], 1, 0},
                                          {3, 0, 0x30, &lines[2], 1, 0}};
    static const uint64_t st_a[] = {2, 1}, st_ab[] = {3, 2, 1};
    static const int64_t v[4][2] = {{1, 10}, {2, 20}, {4, 40}, {8, 80}};
    static const fx_pprof_label_t l[4] = {{S_SPAN, S_X, 0, 0}, {S_SPAN, S_Y, 0, 0},
                                          {S_SPAN, S_X, 0, 0}, {0, 0, 0, 0}};
    static fx_pprof_sample_t sm[4];
    const uint64_t *stk[4] = {st_a, st_a, st_ab, st_a};
    uint32_t depth[4] = {2, 2, 3, 2};
    fx_err_t err = {0};
    for (size_t i = 0; i < S_NSTR; i++)
        sl[i] = (fx_slice_t){(const uint8_t *)strs[i], strlen(strs[i])};
    for (size_t i = 0; i < 4; i++)
        sm[i] = (fx_pprof_sample_t){stk[i], v[i], &l[i], depth[i], 2, i == 3 ? 0 : 1};
    memset(p, 0, sizeof *p);
    p->strings = sl;
    p->nstrings = S_NSTR;
    p->sample_types = st;
    p->nsample_types = 2;
    p->samples = sm;
    p->nsamples = 4;
    p->locations = locs;
    p->nlocations = 3;
    p->functions = fns;
    p->nfunctions = 3;
    p->period = 10000000;
    p->period_type = (fx_pprof_value_type_t){S_CPU, S_NS};
    p->has_period_type = 1;
    assert_int_equal(fx_pprof_index(p, &err), FX_OK);
}

typedef struct sink {
    fx_head_t *to;
    size_t n, pages, pprof_bytes;
    const char *skip_name; /* want() refuses series of this __name__ */
    int64_t min_ts, max_ts;
} sink_t;

static int want(void *ctx, const fx_labels_t *cands, size_t n)
{
    sink_t *s = ctx;
    assert_true(n >= 1);
    const char *name = fx_labels_get(&cands[0], "__name__");
    assert_non_null(name);
    assert_null(fx_labels_get(&cands[0], "__profile_type__"));
    return !s->skip_name || strcmp(name, s->skip_name) != 0;
}

/* Appends every profile of a page (decoded from its bytes, as the
 * receiver does) to s->to. */
static void take_page(sink_t *s, const fx_head_page_t *pg)
{
    fx_arena_t a;
    fx_pprof_t page;
    fx_err_t err = {0};
    fx_arena_init(&a);
    assert_int_equal(fx_pprof_decode(pg->pprof.data, pg->pprof.len, &a, &page, &err), FX_OK);
    assert_int_equal(page.nsample_types, 0);
    size_t next = 0;
    for (size_t i = 0; i < pg->len; i++) {
        const fx_head_page_profile_t *pp = &pg->v[i];
        fx_pprof_t view;
        assert_int_equal(pp->first_sample, next); /* one after the other */
        next += pp->nsamples;
        assert_int_equal(fx_head_page_view(&page, pp, &a, &view, &err), FX_OK);
        assert_int_equal(view.time_nanos, pp->ts_ns);
        int rc = fx_head_append(s->to, "t", &pp->labels, &view, pp->id, pp->ts_ns, NULL, &err);
        if (rc)
            fail_msg("re-append: %s", err.msg);
        s->n++;
        s->min_ts = s->n == 1 || pp->ts_ns < s->min_ts ? pp->ts_ns : s->min_ts;
        s->max_ts = s->n == 1 || pp->ts_ns > s->max_ts ? pp->ts_ns : s->max_ts;
    }
    assert_int_equal(next, page.nsamples);
    /* A profile that does not fit the page is refused, not read past. */
    if (pg->len) {
        fx_head_page_profile_t bad = pg->v[pg->len - 1];
        fx_pprof_t view;
        bad.nsamples += 1;
        assert_int_equal(fx_head_page_view(&page, &bad, &a, &view, &err), FX_EINVAL);
        bad = pg->v[0];
        bad.first_sample = UINT32_MAX;
        assert_int_equal(fx_head_page_view(&page, &bad, &a, &view, &err), FX_EINVAL);
        bad = pg->v[0];
        bad.ntypes = 0;
        assert_int_equal(fx_head_page_view(&page, &bad, &a, &view, &err), FX_EINVAL);
    }
    fx_pprof_free(&page);
    fx_arena_free(&a);
}

/* Reads everything of [lo, hi] from `from` into s->to, page by page. */
static void hand_off(fx_head_t *from, sink_t *s, int64_t lo, int64_t hi, size_t page)
{
    fx_head_cursor_t cur = {0};
    fx_err_t err = {0};
    int done = 0;
    while (!done) {
        fx_arena_t a;
        fx_head_page_t pg = {NULL, 0, FX_BUF_INIT};
        fx_arena_init(&a);
        int rc = fx_head_read_page(from, "t", lo, hi, page, want, s, &cur, &done, &a, &pg, &err);
        if (rc)
            fail_msg("read: %s", err.msg);
        assert_true(done || pg.len > 0);
        take_page(s, &pg);
        s->pprof_bytes += pg.pprof.len;
        fx_buf_free(&pg.pprof);
        fx_arena_free(&a);
        /* The cursor survives the wire. */
        uint8_t enc[FX_HEAD_CURSOR_LEN];
        fx_head_cursor_encode(&cur, enc);
        assert_int_equal(fx_head_cursor_decode(enc, sizeof enc, &cur, &err), FX_OK);
        s->pages++;
    }
}

static size_t nkeys(fx_head_t *h, fx_arena_t *a, fx_head_keys_t *k)
{
    fx_head_query_t q = {.tenant = "t"};
    fx_err_t err = {0};
    assert_int_equal(fx_head_profile_keys(h, &q, a, k, &err), FX_OK);
    return k->len;
}

/* Every profile type's tree (and the CPU tree of span 0xaa) is the same. */
static void same_answers(fx_head_t *x, fx_head_t *y)
{
    fx_arena_t a;
    fx_head_strings_t types;
    fx_err_t err = {0};
    fx_arena_init(&a);
    fx_head_query_t q = {.tenant = "t"};
    assert_int_equal(fx_head_profile_types(x, &q, &a, &types, &err), FX_OK);
    assert_true(types.len >= 6);
    static const uint64_t span = 0xaa;
    for (size_t i = 0; i <= types.len; i++) {
        fx_head_query_t tq = {.tenant = "t", .profile_type = i < types.len ? types.v[i] : "process_cpu:cpu:nanoseconds:cpu:nanoseconds"};
        if (i == types.len) {
            tq.spans = &span;
            tq.nspans = 1;
        }
        fx_buf_t b[2] = {FX_BUF_INIT, FX_BUF_INIT};
        int64_t total[2];
        fx_head_t *hs[2] = {x, y};
        for (int k = 0; k < 2; k++) {
            fx_tree_t t;
            fx_tree_init(&t);
            assert_int_equal(fx_head_merge_tree(hs[k], &tq, FX_GROUP_FUNCTION, &t, &err), FX_OK);
            total[k] = fx_tree_total(&t);
            assert_int_equal(fx_treebytes_write(&t, 0, &b[k], &err), FX_OK);
            fx_tree_free(&t);
        }
        assert_true(total[0] > 0);
        assert_true(total[0] == total[1]);
        assert_true(b[0].len == b[1].len && memcmp(b[0].data, b[1].data, b[0].len) == 0);
        fx_buf_free(&b[0]);
        fx_buf_free(&b[1]);
    }
    fx_head_keys_t kx, ky;
    assert_int_equal(nkeys(x, &a, &kx), nkeys(y, &a, &ky));
    for (size_t i = 0; i < kx.len; i++)
        assert_int_equal(fx_head_key_cmp(&kx.v[i], &ky.v[i]), 0);
    fx_arena_free(&a);
}

static void test_round_trip(void **state)
{
    (void)state;
    fx_err_t err = {0};
    fx_head_t *src = NULL, *dst = NULL, *part = NULL;
    fx_pprof_t sp;
    char p1[96], p2[96], p3[96];
    size_t appended = 0;

    strcpy(dir, "/tmp/fx-handoff-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(p1, sizeof p1, "%s/src", dir);
    snprintf(p2, sizeof p2, "%s/dst", dir);
    snprintf(p3, sizeof p3, "%s/part", dir);
    assert_int_equal(fx_head_open(p1, NULL, &src, &err), FX_OK);
    assert_int_equal(fx_head_open(p2, NULL, &dst, &err), FX_OK);
    assert_int_equal(fx_head_open(p3, NULL, &part, &err), FX_OK);
    for (size_t i = 0; i < NFX; i++)
        load(&fx[i]);
    span_pprof(&sp);
    /* 3 pods x 4 times of every fixture, plus the span profile. */
    for (int k = 0; k < 12; k++) {
        char pod[8];
        snprintf(pod, sizeof pod, "p%d", k % 3);
        for (size_t i = 0; i <= NFX; i++) {
            const char *name = i < NFX ? fx[i].name : "process_cpu";
            fx_label_t lv[3] = {{"__name__", name}, {"pod", pod}, {"service_name", i < NFX ? "app" : "spans"}};
            fx_labels_t l = {lv, 3};
            uint8_t id[16] = {0};
            id[0] = (uint8_t)k;
            id[1] = (uint8_t)i;
            id[15] = 0x5a;
            assert_int_equal(fx_head_append(src, "t", &l, i < NFX ? &fx[i].p : &sp, id,
                                            T0 + k * SEC, NULL, &err), FX_OK);
            appended++;
        }
    }
    /* Small pages: many cursors, some inside a row series. */
    sink_t s = {dst, 0, 0, 0, NULL, 0, 0};
    hand_off(src, &s, INT64_MIN, INT64_MAX, 512);
    assert_int_equal(s.n, appended);
    if (s.pages < 20)
        fail_msg("pages %zu n %zu", s.pages, s.n);
    same_answers(src, dst);

    /* Again (a rerun of catch-up) in one page: replaced in place, nothing
     * doubles. Shared symbols make a page of many profiles much smaller
     * than the pages of one profile each. */
    size_t small_pages = s.pprof_bytes;
    s.n = s.pages = s.pprof_bytes = 0;
    hand_off(src, &s, INT64_MIN, INT64_MAX, 1 << 20);
    assert_int_equal(s.n, appended);
    assert_int_equal(s.pages, 1);
    assert_true(s.pprof_bytes * 3 < small_pages * 2); /* measured: 87 KB vs 169 KB */
    same_answers(src, dst);

    /* A time window and an unwanted name. */
    sink_t w = {part, 0, 0, 0, "memory", 0, 0};
    hand_off(src, &w, T0 + 8 * SEC, T0 + 20 * SEC, 1 << 20);
    assert_int_equal(w.n, 4 * (NFX + 1 - 1));
    assert_true(w.min_ts == T0 + 8 * SEC && w.max_ts == T0 + 11 * SEC);
    fx_arena_t a;
    fx_head_strings_t names;
    fx_arena_init(&a);
    fx_head_query_t nq = {.tenant = "t"};
    assert_int_equal(fx_head_label_values(part, &nq, "__name__", &a, &names, &err), FX_OK);
    assert_int_equal(names.len, 2);
    assert_string_equal(names.v[0], "process_cpu");
    assert_string_equal(names.v[1], "wall");
    fx_arena_free(&a);

    /* An unknown tenant is done at once. */
    fx_head_cursor_t cur = {0};
    fx_head_page_t pg = {NULL, 0, FX_BUF_INIT};
    int done = 0;
    fx_arena_init(&a);
    assert_int_equal(fx_head_read_page(src, "nobody", INT64_MIN, INT64_MAX, 1 << 20, want, &s, &cur,
                                       &done, &a, &pg, &err), FX_OK);
    assert_true(done && pg.len == 0);
    fx_arena_free(&a);

    fx_head_close(src);
    fx_head_close(dst);
    fx_head_close(part);
    for (size_t i = 0; i < NFX; i++) {
        fx_pprof_free(&fx[i].p);
        fx_arena_free(&fx[i].arena);
        fx_buf_free(&fx[i].plain);
    }
    fx_pprof_free(&sp);
    fx_rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_and_cursor),
        cmocka_unit_test(test_push_labels),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
