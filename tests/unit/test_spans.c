/*
 * test_spans.c - span profiles in storage: the span section encoding of
 * rows (storage/row.h) and its checks, span id parsing, and the whole path
 * head -> block -> compacted block: a merge restricted to span ids takes
 * exactly the samples that carried them, the same on every store, and
 * replicas are not double counted.
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

#include "block/block.h"
#include "model/treebytes.h"
#include "pprof/pprof.h"
#include "storage/head.h"
#include "storage/row.h"
#include "pprof_fixture.h"

/* --- encoding ------------------------------------------------------------------------ */

static void test_span_id_parse(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(fx_span_id_parse("00000000000000ff", 16, &v), 0);
    assert_true(v == 0xff);
    assert_int_equal(fx_span_id_parse("DEADBEEFdeadbeef", 16, &v), 0);
    assert_true(v == 0xdeadbeefdeadbeefULL);
    assert_int_equal(fx_span_id_parse("ffffffffffffffff", 16, &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(fx_span_id_parse("00000000000000f", 15, &v), -1);
    assert_int_equal(fx_span_id_parse("00000000000000fff", 17, &v), -1);
    assert_int_equal(fx_span_id_parse("00000000000000fg", 16, &v), -1);
    assert_int_equal(fx_span_id_parse("0x000000000000ff", 16, &v), -1);
    assert_int_equal(fx_span_id_parse("", 0, &v), -1);
    uint64_t ids[] = {5, 1, 5, 3, 1};
    assert_int_equal(fx_span_ids_sort(ids, 5), 3);
    assert_true(ids[0] == 1 && ids[1] == 3 && ids[2] == 5);
}

/* Two columns; entries out of order with a duplicate (span 7, stack 4). */
static fx_buf_t make_row(void)
{
    uint32_t stacks[] = {2, 4, 9};
    int64_t values[] = {1, 10, 6, 60, 8, 80};
    fx_row_span_entry_t e[] = {{7, 9, 0}, {7, 4, 1}, {UINT64_MAX, 2, 2}, {7, 4, 3}, {3, 4, 4}};
    int64_t vals[] = {8, 80, 2, 20, 1, 10, 3, 30, 1, 10};
    fx_buf_t spans = FX_BUF_INIT, row = FX_BUF_INIT;
    fx_row_spans_encode(e, 5, vals, 2, &spans);
    fx_row_encode_spans(stacks, values, 3, 2, 10, spans.data, spans.len, &row);
    fx_buf_free(&spans);
    return row;
}

static void test_span_section(void **state)
{
    (void)state;
    fx_err_t err = {0};
    fx_row_t row;
    fx_buf_t b = make_row();
    assert_int_equal(b.data[0], FX_ROW_FORMAT_SPANS);
    assert_int_equal(fx_row_parse(b.data, b.len, &row, &err), FX_OK);
    assert_non_null(row.spans);
    /* The ordinary columns are unchanged by the span section. */
    int64_t acc[10] = {0};
    uint8_t touched[10] = {0};
    assert_int_equal(fx_row_accumulate(&row, 1, 10, acc, touched, &err), FX_OK);
    assert_true(acc[2] == 10 && acc[4] == 60 && acc[9] == 80);

    /* Span 7: stack 4 summed (20 + 30), stack 9 (80). */
    uint64_t sel7[] = {7};
    memset(acc, 0, sizeof acc);
    memset(touched, 0, sizeof touched);
    assert_int_equal(fx_row_span_accumulate(&row, 1, sel7, 1, 10, acc, touched, &err), FX_OK);
    assert_true(acc[2] == 0 && acc[4] == 50 && acc[9] == 80);
    assert_true(touched[4] && touched[9] && !touched[2]);
    /* Spans 3, 7 and the largest id; an unknown span adds nothing. */
    uint64_t sel_all[] = {1, 3, 7, UINT64_MAX};
    memset(acc, 0, sizeof acc);
    assert_int_equal(fx_row_span_accumulate(&row, 0, sel_all, 4, 10, acc, touched, &err), FX_OK);
    assert_true(acc[2] == 1 && acc[4] == 6 && acc[9] == 8);
    uint64_t none[] = {8};
    memset(acc, 0, sizeof acc);
    assert_int_equal(fx_row_span_accumulate(&row, 0, none, 1, 10, acc, touched, &err), FX_OK);
    assert_true(acc[2] == 0 && acc[4] == 0 && acc[9] == 0);
    /* Stack ids are range-checked. */
    assert_int_equal(fx_row_span_accumulate(&row, 0, none, 1, 9, acc, touched, &err),
                     FX_ECORRUPT);

    /* Remap: stacks 4 and 9 become one (values summed per span), 2 -> 0. */
    uint32_t map[10];
    memset(map, 0xff, sizeof map);
    map[2] = 0;
    map[4] = 1;
    map[9] = 1;
    fx_buf_t spans = FX_BUF_INIT, r2 = FX_BUF_INIT;
    assert_int_equal(fx_row_spans_remap(&row, 10, map, &spans, &err), FX_OK);
    uint32_t st[] = {0, 1};
    int64_t vv[] = {1, 10, 14, 140};
    fx_row_encode_spans(st, vv, 2, 2, 10, spans.data, spans.len, &r2);
    fx_row_t row2;
    assert_int_equal(fx_row_parse(r2.data, r2.len, &row2, &err), FX_OK);
    memset(acc, 0, sizeof acc);
    assert_int_equal(fx_row_span_accumulate(&row2, 1, sel7, 1, 2, acc, touched, &err), FX_OK);
    assert_true(acc[0] == 0 && acc[1] == 130);
    /* An unmapped stack is corruption, not a silent drop. */
    map[9] = UINT32_MAX;
    spans.len = 0;
    assert_int_equal(fx_row_spans_remap(&row, 10, map, &spans, &err), FX_ECORRUPT);
    fx_buf_free(&spans);
    fx_buf_free(&r2);

    /* Without spans the row is format 1, byte for byte fx_row_encode's. */
    uint32_t s1[] = {3};
    int64_t v1[] = {5};
    fx_buf_t a = FX_BUF_INIT, c = FX_BUF_INIT;
    fx_row_encode(s1, v1, 1, 1, 0, &a);
    fx_row_encode_spans(s1, v1, 1, 1, 0, NULL, 0, &c);
    assert_int_equal(a.data[0], FX_ROW_FORMAT);
    assert_true(a.len == c.len && memcmp(a.data, c.data, a.len) == 0);
    assert_int_equal(fx_row_parse(a.data, a.len, &row, &err), FX_OK);
    assert_null(row.spans);
    fx_buf_free(&a);
    fx_buf_free(&c);
    fx_buf_free(&b);
}

/* Every truncation and every flipped byte of the span section is either
 * still consistent or FX_ECORRUPT; never a crash (ASan watches). */
static void test_span_section_damage(void **state)
{
    (void)state;
    fx_err_t err = {0};
    fx_buf_t b = make_row();
    fx_row_t row;
    assert_int_equal(fx_row_parse(b.data, b.len, &row, &err), FX_OK);
    size_t start = (size_t)(row.spans - b.data);
    uint64_t sel[] = {3, 7};
    int64_t acc[16];
    uint8_t touched[16];
    uint32_t map[16];
    for (uint32_t i = 0; i < 16; i++)
        map[i] = i;
    for (size_t n = start; n < b.len; n++) {
        uint8_t *cp = malloc(n);
        memcpy(cp, b.data, n);
        int rc = fx_row_parse(cp, n, &row, &err);
        if (rc == FX_OK)
            assert_int_equal(fx_row_span_accumulate(&row, 0, sel, 2, 16, acc, touched, &err),
                             FX_ECORRUPT);
        free(cp);
    }
    int bad = 0;
    for (size_t i = start; i < b.len; i++)
        for (int bit = 0; bit < 8; bit++) {
            b.data[i] ^= (uint8_t)(1u << bit);
            fx_buf_t out = FX_BUF_INIT;
            assert_int_equal(fx_row_parse(b.data, b.len, &row, &err), FX_OK);
            int rc = fx_row_span_accumulate(&row, 0, sel, 2, 16, acc, touched, &err);
            int rc2 = fx_row_spans_remap(&row, 16, map, &out, &err);
            assert_true(rc == FX_OK || rc == FX_ECORRUPT);
            assert_int_equal(rc, rc2);
            bad += rc != FX_OK;
            fx_buf_free(&out);
            b.data[i] ^= (uint8_t)(1u << bit);
        }
    assert_true(bad > 0);
    fx_buf_free(&b);
}

/* --- head, block, compaction --------------------------------------------------------- */

static char dir[64];

#define CPU "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
#define T0 1795238400000000000LL

enum { S_MAIN = 1, S_A, S_B, S_C, S_SAMPLES, S_COUNT, S_CPU, S_NS, S_SPAN, S_PROF, S_X, S_Y,
       S_BAD, S_OTHER, S_NSTR };

/* A Go-CPU-shaped pprof: main;a, main;a;b, main;c with span labels:
 *   main;a     v(1, 10)  span_id X
 *   main;a     v(2, 20)  span_id Y
 *   main;a;b   v(4, 40)  profile_id X  (the older label name)
 *   main;c     v(8, 80)  no label
 *   main;c     v(16, 160) span_id "not-hex" (ignored)
 *   main;a;b   v(32, 320) other label only */
static void build_pprof(fx_pprof_t *p, fx_err_t *err)
{
    static const char *strs[S_NSTR] = {"", "main", "a", "b", "c", "samples", "count", "cpu",
                                       "nanoseconds", "span_id", "profile_id",
                                       "00000000000000aa", "00000000000000BB", "not-hex",
                                       "other"};
    static fx_slice_t sl[S_NSTR];
    static fx_pprof_value_type_t st[2] = {{S_SAMPLES, S_COUNT}, {S_CPU, S_NS}};
    static fx_pprof_function_t fns[4] = {
        {1, S_MAIN, S_MAIN, 0, 0}, {2, S_A, S_A, 0, 0}, {3, S_B, S_B, 0, 0}, {4, S_C, S_C, 0, 0}};
    static fx_pprof_line_t lines[4] = {{1, 1}, {2, 2}, {3, 3}, {4, 4}};
    static fx_pprof_location_t locs[4] = {{1, 0, 0x10, &lines[0], 1, 0},
                                          {2, 0, 0x20, &lines[1], 1, 0},
                                          {3, 0, 0x30, &lines[2], 1, 0},
                                          {4, 0, 0x40, &lines[3], 1, 0}};
    static const uint64_t st_a[] = {2, 1}, st_ab[] = {3, 2, 1}, st_c[] = {4, 1};
    static const int64_t v[6][2] = {{1, 10}, {2, 20}, {4, 40}, {8, 80}, {16, 160}, {32, 320}};
    static const fx_pprof_label_t l[6] = {{S_SPAN, S_X, 0, 0}, {S_SPAN, S_Y, 0, 0},
                                          {S_PROF, S_X, 0, 0}, {0, 0, 0, 0},
                                          {S_SPAN, S_BAD, 0, 0}, {S_OTHER, S_X, 0, 0}};
    static fx_pprof_sample_t sm[6];
    const uint64_t *stk[6] = {st_a, st_a, st_ab, st_c, st_c, st_ab};
    uint32_t depth[6] = {2, 2, 3, 2, 2, 3};
    for (size_t i = 0; i < S_NSTR; i++)
        sl[i] = (fx_slice_t){(const uint8_t *)strs[i], strlen(strs[i])};
    for (size_t i = 0; i < 6; i++)
        sm[i] = (fx_pprof_sample_t){stk[i], v[i], &l[i], depth[i], 2, i == 3 ? 0 : 1};
    memset(p, 0, sizeof *p);
    p->strings = sl;
    p->nstrings = S_NSTR;
    p->sample_types = st;
    p->nsample_types = 2;
    p->samples = sm;
    p->nsamples = 6;
    p->locations = locs;
    p->nlocations = 4;
    p->functions = fns;
    p->nfunctions = 4;
    p->period = 10000000;
    p->period_type = (fx_pprof_value_type_t){S_CPU, S_NS};
    p->has_period_type = 1;
    assert_int_equal(fx_pprof_index(p, err), FX_OK);
}

typedef struct answer {
    int64_t total;
    fx_buf_t bytes; /* tree bytes */
} answer_t;

typedef int (*merge_fn)(void *store, const fx_head_query_t *q, fx_tree_t *t, fx_err_t *err);

static int head_merge(void *s, const fx_head_query_t *q, fx_tree_t *t, fx_err_t *err)
{
    return fx_head_merge_tree(s, q, FX_GROUP_FUNCTION, t, err);
}

static int block_merge(void *s, const fx_head_query_t *q, fx_tree_t *t, fx_err_t *err)
{
    return fx_block_merge_tree(s, q, FX_GROUP_FUNCTION, t, err);
}

static answer_t ask(merge_fn fn, void *store, const uint64_t *spans, size_t nspans)
{
    fx_head_query_t q = {"t", NULL, 0, CPU, 0, 0, NULL, spans, nspans, 0};
    fx_err_t err = {0};
    fx_tree_t t;
    answer_t a = {0, FX_BUF_INIT};
    fx_tree_init(&t);
    int rc = fn(store, &q, &t, &err);
    if (rc)
        fail_msg("merge: %s", err.msg);
    a.total = fx_tree_total(&t);
    assert_int_equal(fx_treebytes_write(&t, 0, &a.bytes, &err), FX_OK);
    fx_tree_free(&t);
    return a;
}

static const uint64_t X = 0xaa, XY[2] = {0xaa, 0xbb}, UNKNOWN = 0xcc;

/* The four answers every store must give (cpu column): span X = 10 + 40,
 * X and Y = 70, unknown = 0, no span selector = everything. */
static void answers(merge_fn fn, void *store, int copies, answer_t out[4])
{
    out[0] = ask(fn, store, &X, 1);
    out[1] = ask(fn, store, XY, 2);
    out[2] = ask(fn, store, &UNKNOWN, 1);
    out[3] = ask(fn, store, NULL, 0);
    assert_true(out[0].total == 50);
    assert_true(out[1].total == 70);
    assert_true(out[2].total == 0);
    assert_true(out[3].total == 630 * copies);
}

static void same(answer_t a[4], answer_t b[4], int check_all)
{
    for (int i = 0; i < 4; i++) {
        if (i < 3 || check_all)
            assert_true(a[i].bytes.len == b[i].bytes.len &&
                        (a[i].bytes.len == 0 ||
                         memcmp(a[i].bytes.data, b[i].bytes.data, a[i].bytes.len) == 0));
        fx_buf_free(&b[i].bytes);
    }
}

/* With FX_BLOCK_SEED_DIR set, the block in bdir is written there framed
 * for fuzz_block (u32 LE length + bytes per file) as name: how the
 * corpus's span block seed was made. */
static void write_seed(const char *bdir, const char *name)
{
    const char *out = getenv("FX_BLOCK_SEED_DIR");
    char path[512];
    if (!out)
        return;
    snprintf(path, sizeof path, "%s/%s", out, name);
    FILE *o = fopen(path, "wb");
    assert_non_null(o);
    for (int k = 0; k < FX_BLOCK_NFILES; k++) {
        char fp[512];
        uint8_t buf[1 << 16];
        snprintf(fp, sizeof fp, "%s/%s", bdir, fx_block_file_name((fx_block_file_t)k));
        FILE *in = fopen(fp, "rb");
        assert_non_null(in);
        size_t n = fread(buf, 1, sizeof buf, in);
        assert_true(n < sizeof buf);
        fclose(in);
        uint8_t len[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
        fwrite(len, 1, 4, o);
        fwrite(buf, 1, n, o);
    }
    fclose(o);
}

static void test_head_block_compact(void **state)
{
    (void)state;
    fx_err_t err = {0};
    fx_head_t *h = NULL;
    fx_pprof_t p;
    char hd[96], bd[96], cd[96], path[160];
    strcpy(dir, "/tmp/fx-spans-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(hd, sizeof hd, "%s/head", dir);
    snprintf(bd, sizeof bd, "%s/blocks", dir);
    snprintf(cd, sizeof cd, "%s/compacted", dir);
    build_pprof(&p, &err);
    assert_int_equal(fx_head_open(hd, NULL, &h, &err), FX_OK);
    fx_label_t lv[2] = {{"__name__", "process_cpu"}, {"service_name", "svc"}};
    fx_labels_t ls = {lv, 2};
    uint8_t id[16] = {1};
    /* One profile with spans, one (another time, no span labels at all). */
    assert_int_equal(fx_head_append(h, "t", &ls, &p, id, T0, NULL, &err), FX_OK);
    fx_pprof_sample_t *sm = p.samples;
    for (size_t i = 0; i < p.nsamples; i++)
        sm[i].nlabels = 0;
    id[0] = 2;
    assert_int_equal(fx_head_append(h, "t", &ls, &p, id, T0 + 1000000000, NULL, &err), FX_OK);
    answer_t want[4], got[4];
    answers(head_merge, h, 2, want);

    /* Reopened: the span sections are durable. */
    fx_head_close(h);
    assert_int_equal(fx_head_open(hd, NULL, &h, &err), FX_OK);
    answers(head_merge, h, 2, got);
    same(want, got, 1);

    /* Cut twice (replica blocks of the same profiles), each answers alike. */
    fx_block_meta_t m1, m2, mc;
    assert_int_equal(fx_block_write_head(h, "t", 0, INT64_MAX, bd, NULL, &m1, &err), FX_OK);
    assert_int_equal(fx_block_write_head(h, "t", 0, INT64_MAX, bd, NULL, &m2, &err), FX_OK);
    fx_block_t *b[2] = {NULL, NULL}, *c = NULL;
    snprintf(path, sizeof path, "%s/%s", bd, m1.id);
    assert_int_equal(fx_block_open_dir(path, NULL, &b[0], &err), FX_OK);
    snprintf(path, sizeof path, "%s/%s", bd, m2.id);
    assert_int_equal(fx_block_open_dir(path, NULL, &b[1], &err), FX_OK);
    answers(block_merge, b[0], 2, got);
    same(want, got, 1);

    /* Compacted: replicas once, spans preserved. */
    fx_block_compact_stats_t cs;
    assert_int_equal(fx_block_compact(b, 2, cd, NULL, &mc, &cs, &err), FX_OK);
    assert_true(cs.duplicates == 2);
    snprintf(path, sizeof path, "%s/%s", cd, mc.id);
    assert_int_equal(fx_block_open_dir(path, NULL, &c, &err), FX_OK);
    answers(block_merge, c, 2, got);
    same(want, got, 1);
    write_seed(path, "spans-0");

    for (int i = 0; i < 4; i++)
        fx_buf_free(&want[i].bytes);
    fx_block_close(b[0]);
    fx_block_close(b[1]);
    fx_block_close(c);
    fx_block_meta_free(&m1);
    fx_block_meta_free(&m2);
    fx_block_meta_free(&mc);
    fx_head_close(h);
    fx_pprof_free(&p);
    fx_rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_span_id_parse),
        cmocka_unit_test(test_span_section),
        cmocka_unit_test(test_span_section_damage),
        cmocka_unit_test(test_head_block_compact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
