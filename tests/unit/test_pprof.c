/*
 * test_pprof.c - the zero-copy pprof decoder, encoder and validator,
 * cross-checked against protobuf-c's generated decoder on real profiles.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gz.h"
#include "google/v1/profile.pb-c.h"
#include "pprof/pprof.h"
#include "pprof/validate.h"

#define FIXTURES "../shared/fixtures/"

static const char *const fixtures[] = {
    FIXTURES "pprof/go-cpu.pb.gz",
    FIXTURES "pprof/go-heap.pb.gz",
    FIXTURES "pprof/node-cpu-wall.pb.gz",
    FIXTURES "pprof/node-heap.pb.gz",
    FIXTURES "nodejs-sdk/sdk-0.6.4-heap.body.pb.gz",
    FIXTURES "nodejs-sdk/sdk-0.6.4-wall-cpu.body.pb.gz",
};

static void read_file(const char *path, fx_buf_t *out)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        fx_buf_append(out, tmp, n);
    fclose(f);
}

static void load_plain(const char *path, fx_buf_t *plain)
{
    fx_buf_t gz = FX_BUF_INIT;
    fx_err_t err = {0};
    read_file(path, &gz);
    assert_int_equal(fx_gunzip(gz.data, gz.len, 64 << 20, plain, &err), FX_OK);
    fx_buf_free(&gz);
}

/* Compares every field our decoder exposes with protobuf-c's result. */
static void assert_same(const fx_pprof_t *p, const Google__V1__Profile *r)
{
    assert_int_equal(p->nsample_types, r->n_sample_type);
    assert_int_equal(p->nsamples, r->n_sample);
    assert_int_equal(p->nlocations, r->n_location);
    assert_int_equal(p->nfunctions, r->n_function);
    assert_int_equal(p->nmappings, r->n_mapping);
    assert_int_equal(p->nstrings, r->n_string_table);
    assert_true(p->time_nanos == r->time_nanos);
    assert_true(p->period == r->period);
    for (size_t i = 0; i < p->nstrings; i++) {
        assert_int_equal(p->strings[i].len, strlen(r->string_table[i]));
        assert_memory_equal(p->strings[i].data, r->string_table[i], p->strings[i].len);
    }
    for (size_t i = 0; i < p->nsamples; i++) {
        const fx_pprof_sample_t *s = &p->samples[i];
        const Google__V1__Sample *rs = r->sample[i];
        assert_int_equal(s->nlocs, rs->n_location_id);
        assert_int_equal(s->nvalues, rs->n_value);
        assert_int_equal(s->nlabels, rs->n_label);
        for (uint32_t j = 0; j < s->nlocs; j++)
            assert_true(s->locs[j] == rs->location_id[j]);
        for (uint32_t j = 0; j < s->nvalues; j++)
            assert_true(s->values[j] == rs->value[j]);
        for (uint32_t j = 0; j < s->nlabels; j++) {
            assert_true(s->labels[j].key == rs->label[j]->key);
            assert_true(s->labels[j].str == rs->label[j]->str);
            assert_true(s->labels[j].num == rs->label[j]->num);
        }
    }
    for (size_t i = 0; i < p->nlocations; i++) {
        const fx_pprof_location_t *l = &p->locations[i];
        const Google__V1__Location *rl = r->location[i];
        assert_true(l->id == rl->id && l->address == rl->address && l->mapping_id == rl->mapping_id);
        assert_int_equal(l->nlines, rl->n_line);
        for (uint32_t j = 0; j < l->nlines; j++) {
            assert_true(l->lines[j].function_id == rl->line[j]->function_id);
            assert_true(l->lines[j].line == rl->line[j]->line);
        }
    }
    for (size_t i = 0; i < p->nfunctions; i++) {
        assert_true(p->functions[i].id == r->function[i]->id);
        assert_true(p->functions[i].name == r->function[i]->name);
        assert_true(p->functions[i].filename == r->function[i]->filename);
    }
}

static void test_decode_matches_protobuf_c(void **state)
{
    (void)state;
    for (size_t k = 0; k < FX_ARRAY_LEN(fixtures); k++) {
        fx_buf_t plain = FX_BUF_INIT, again = FX_BUF_INIT;
        fx_arena_t arena;
        fx_pprof_t p, q;
        fx_err_t err = {0};

        load_plain(fixtures[k], &plain);
        fx_arena_init(&arena);
        assert_int_equal(fx_pprof_decode(plain.data, plain.len, &arena, &p, &err), FX_OK);
        Google__V1__Profile *r = google__v1__profile__unpack(NULL, plain.len, plain.data);
        assert_non_null(r);
        assert_same(&p, r);

        /* Re-encoding must give a profile that protobuf-c reads identically. */
        fx_pprof_encode(&p, NULL, &again);
        assert_int_equal(fx_pprof_decode(again.data, again.len, &arena, &q, &err), FX_OK);
        assert_same(&q, r);

        int repaired;
        fx_pprof_limits_t lim = {16000, 100, 1000, 65535, 0, 0};
        assert_int_equal(fx_pprof_validate(&p, &lim, 1, &repaired, &err), FX_OK);
        assert_int_equal(repaired, 0);

        google__v1__profile__free_unpacked(r, NULL);
        fx_pprof_free(&p);
        fx_pprof_free(&q);
        fx_arena_free(&arena);
        fx_buf_free(&plain);
        fx_buf_free(&again);
    }
}

typedef struct each_ctx {
    const fx_pprof_t *full;
    size_t seen, stop_at;
} each_ctx_t;

static int each_sample(void *arg, const fx_pprof_t *p, size_t i, fx_pprof_sample_t *s,
                       fx_err_t *err)
{
    each_ctx_t *c = arg;
    const fx_pprof_sample_t *f = &c->full->samples[i];
    (void)err;
    assert_int_equal(i, c->seen++);
    assert_int_equal(p->nsamples, c->full->nsamples);
    assert_null(p->samples);
    assert_int_equal(s->nlocs, f->nlocs);
    assert_int_equal(s->nvalues, f->nvalues);
    assert_int_equal(s->nlabels, f->nlabels);
    assert_memory_equal(s->locs, f->locs, s->nlocs * sizeof *s->locs);
    assert_memory_equal(s->values, f->values, s->nvalues * sizeof *s->values);
    if (s->nlabels)
        assert_memory_equal(s->labels, f->labels, s->nlabels * sizeof *s->labels);
    return i == c->stop_at ? 42 : FX_OK;
}

/* fx_pprof_decode_each hands over exactly fx_pprof_decode's samples, stops
 * when told, and fx_pprof_decode_samples adds the samples afterwards. The
 * split validation gives fx_pprof_validate's verdict. */
static void test_decode_each(void **state)
{
    (void)state;
    for (size_t k = 0; k < FX_ARRAY_LEN(fixtures); k++) {
        fx_buf_t plain = FX_BUF_INIT;
        fx_arena_t arena;
        fx_pprof_t p, q;
        fx_err_t err = {0};
        int repaired = 0;
        fx_pprof_limits_t lim = {16000, 100, 1000, 65535, 0, 0};

        load_plain(fixtures[k], &plain);
        fx_arena_init(&arena);
        assert_int_equal(fx_pprof_decode(plain.data, plain.len, &arena, &p, &err), FX_OK);
        assert_true(p.nsamples > 3);
        each_ctx_t c = {&p, 0, 2};
        assert_int_equal(fx_pprof_decode_each(plain.data, plain.len, &arena, &q, each_sample, &c,
                                              &err), 42);
        assert_int_equal(c.seen, 3);
        fx_pprof_free(&q);

        c = (each_ctx_t){&p, 0, SIZE_MAX};
        assert_int_equal(fx_pprof_decode_each(plain.data, plain.len, &arena, &q, each_sample, &c,
                                              &err), FX_OK);
        assert_int_equal(c.seen, p.nsamples);
        assert_int_equal(q.nlocations, p.nlocations);
        assert_int_equal(q.nstrings, p.nstrings);
        assert_int_equal(fx_pprof_validate_tables(&q, &lim, 1, &repaired, &err), FX_OK);
        assert_int_equal(repaired, 0);
        assert_int_equal(fx_pprof_decode_samples(plain.data, plain.len, &arena, &q, &err), FX_OK);
        for (size_t i = 0; i < p.nsamples; i++) {
            assert_int_equal(q.samples[i].nlocs, p.samples[i].nlocs);
            assert_memory_equal(q.samples[i].locs, p.samples[i].locs, p.samples[i].nlocs * 8);
            assert_int_equal(fx_pprof_validate_sample(&q, &lim, i, &q.samples[i], &repaired,
                                                      &err), FX_OK);
        }
        /* A rule broken by the tables: the same message both ways. */
        fx_err_t e1 = {0}, e2 = {0};
        q.functions[0].id = 0;
        p.functions[0].id = 0;
        assert_int_equal(fx_pprof_validate_tables(&q, &lim, 1, &repaired, &e1), FX_EINVAL);
        assert_int_equal(fx_pprof_validate(&p, &lim, 1, &repaired, &e2), FX_EINVAL);
        assert_string_equal(e1.msg, e2.msg);
        fx_pprof_free(&p);
        fx_pprof_free(&q);
        fx_arena_free(&arena);
        fx_buf_free(&plain);
    }
}

static void test_subset_encode_and_label_filter(void **state)
{
    (void)state;
    fx_buf_t plain = FX_BUF_INIT, out = FX_BUF_INIT;
    fx_arena_t arena;
    fx_pprof_t p, q;
    fx_err_t err = {0};

    load_plain(FIXTURES "nodejs-sdk/sdk-0.6.4-wall-cpu.body.pb.gz", &plain);
    fx_arena_init(&arena);
    assert_int_equal(fx_pprof_decode(plain.data, plain.len, &arena, &p, &err), FX_OK);
    uint32_t pick[] = {3, 1};
    fx_pprof_encode_opts_t o = {pick, 2, NULL, NULL};
    fx_pprof_encode(&p, &o, &out);
    assert_int_equal(fx_pprof_decode(out.data, out.len, &arena, &q, &err), FX_OK);
    assert_int_equal(q.nsamples, 2);
    assert_int_equal(q.samples[0].nlocs, p.samples[3].nlocs);
    assert_true(q.samples[1].values[1] == p.samples[1].values[1]);
    fx_pprof_free(&p);
    fx_pprof_free(&q);
    fx_arena_free(&arena);
    fx_buf_free(&plain);
    fx_buf_free(&out);
}

static void test_garbage_is_rejected(void **state)
{
    (void)state;
    fx_arena_t arena;
    fx_pprof_t p;
    fx_err_t err = {0};
    const uint8_t junk[] = {0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01};
    fx_arena_init(&arena);
    assert_int_equal(fx_pprof_decode(junk, sizeof junk, &arena, &p, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "pprof"));
    fx_pprof_free(&p);
    const char text[] = "this is not a profile";
    int rc = fx_pprof_decode((const uint8_t *)text, sizeof text - 1, &arena, &p, &err);
    if (rc == FX_OK) {
        /* Some text happens to parse as protobuf; validation must reject it. */
        int repaired;
        fx_pprof_limits_t lim = {0};
        assert_int_equal(fx_pprof_validate(&p, &lim, 1, &repaired, &err), FX_EINVAL);
    }
    fx_pprof_free(&p);
    fx_arena_free(&arena);
}

static void test_validate_rules(void **state)
{
    (void)state;
    fx_buf_t plain = FX_BUF_INIT;
    fx_arena_t arena;
    fx_pprof_t p;
    fx_err_t err = {0};
    int repaired;

    load_plain(FIXTURES "pprof/go-cpu.pb.gz", &plain);
    fx_arena_init(&arena);
    assert_int_equal(fx_pprof_decode(plain.data, plain.len, &arena, &p, &err), FX_OK);

    fx_pprof_limits_t few = {10, 0, 0, 0, 0, 0};
    assert_int_equal(fx_pprof_validate(&p, &few, 1, &repaired, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "max_profile_stacktrace_samples"));

    fx_pprof_limits_t shallow = {0, 0, 3, 8, 0, 0};
    assert_int_equal(fx_pprof_validate(&p, &shallow, 1, &repaired, &err), FX_OK);
    assert_int_equal(repaired, 1);
    for (size_t i = 0; i < p.nsamples; i++)
        assert_true(p.samples[i].nlocs <= 3);
    for (size_t i = 0; i < p.nstrings; i++)
        assert_true(p.strings[i].len <= 8);

    int64_t now = p.time_nanos + 2 * 3600LL * 1000000000LL;
    fx_pprof_limits_t age = {0, 0, 0, 0, 3600LL * 1000000000LL, 0};
    assert_int_equal(fx_pprof_validate(&p, &age, now, &repaired, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "reject_older_than"));

    /* Corrupt a sample's value count. */
    p.samples[0].nvalues = 1;
    fx_pprof_limits_t none = {0};
    assert_int_equal(fx_pprof_validate(&p, &none, 1, &repaired, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "values"));
    p.samples[0].nvalues = (uint32_t)p.nsample_types;

    /* Location ids out of range, with dense ids (a range check) and sparse
     * ones (the id map): the first bad frame is named either way. */
    assert_true(p.loc_index.dense);
    uint64_t *locs = fx_arena_alloc(&arena, 3 * sizeof *locs);
    locs[0] = 1;
    locs[1] = p.nlocations + 1;
    locs[2] = 0;
    p.samples[0].locs = locs;
    p.samples[0].nlocs = 3;
    assert_int_equal(fx_pprof_validate(&p, &none, 1, &repaired, &err), FX_EINVAL);
    char want[96];
    snprintf(want, sizeof want, "sample 0 refers to unknown location %zu", p.nlocations + 1);
    assert_non_null(strstr(err.msg, want));
    locs[1] = 2;
    assert_int_equal(fx_pprof_validate(&p, &none, 1, &repaired, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "sample 0 refers to unknown location 0"));
    locs[2] = p.nlocations;
    assert_int_equal(fx_pprof_validate(&p, &none, 1, &repaired, &err), FX_OK);
    p.locations[0].id = 1000000; /* now sparse: ids no longer 1..n */
    assert_int_equal(fx_pprof_index(&p, &err), FX_OK);
    assert_false(p.loc_index.dense);
    assert_int_equal(fx_pprof_validate(&p, &none, 1, &repaired, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "sample 0 refers to unknown location 1"));
    locs[0] = 1000000;
    assert_int_equal(fx_pprof_validate(&p, &none, 1, &repaired, &err), FX_OK);

    fx_pprof_free(&p);
    fx_arena_free(&arena);
    fx_buf_free(&plain);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(fx_utf8_valid((const uint8_t *)"h\xc3\xa9llo w\xe2\x82\xac rld", 15));
    assert_false(fx_utf8_valid((const uint8_t *)"\xc3", 1));
    assert_false(fx_utf8_valid((const uint8_t *)"\xc0\xaf", 2));       /* overlong */
    assert_false(fx_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));   /* surrogate */
    assert_false(fx_utf8_valid((const uint8_t *)"abcdefgh\xff", 9));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_matches_protobuf_c),
        cmocka_unit_test(test_decode_each),
        cmocka_unit_test(test_subset_encode_and_label_filter),
        cmocka_unit_test(test_garbage_is_rejected),
        cmocka_unit_test(test_validate_rules),
        cmocka_unit_test(test_utf8),
    };
    return cmocka_run_group_tests_name("pprof", tests, NULL, NULL);
}
