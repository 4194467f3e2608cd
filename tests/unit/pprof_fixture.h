/*
 * pprof_fixture.h - loading a captured (gzipped) pprof for unit tests:
 * read, gunzip, decode, each step asserted. Include after cmocka.h.
 */
#ifndef FX_TEST_PPROF_FIXTURE_H
#define FX_TEST_PPROF_FIXTURE_H

#include "core/fs.h"
#include "core/gz.h"
#include "core/mem.h"
#include "pprof/pprof.h"

/* Reads the gzipped pprof at path into *plain (uncompressed bytes) and
 * decodes it into *p, which borrows plain and allocates from *arena (both
 * initialised here). The caller frees p (fx_pprof_free), arena and plain. */
static inline void fx_test_load_pprof(const char *path, fx_buf_t *plain, fx_arena_t *arena,
                                      fx_pprof_t *p)
{
    fx_buf_t gz = FX_BUF_INIT;
    fx_err_t err = {0};
    assert_int_equal(fx_read_file(path, &gz), 0);
    assert_int_equal(fx_gunzip(gz.data, gz.len, 64 << 20, plain, &err), FX_OK);
    fx_buf_free(&gz);
    fx_arena_init(arena);
    assert_int_equal(fx_pprof_decode(plain->data, plain->len, arena, p, &err), FX_OK);
}

#endif
