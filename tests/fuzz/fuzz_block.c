/* fuzz_block.c - the block reader on hostile bytes: meta.json parsing, the
 * section container, the index and symbols decoders and the profile chunk
 * codec, driven through every query. Input: the four files of a block,
 * each as u32 LE length + bytes (meta.json, index, symbols, profiles; the
 * seeds in tests/fuzz/corpus/block are real blocks cut from the fixtures by
 * test_block). The block is opened once with checksums on (mutations must
 * be rejected cleanly) and once with them off, so the decoders themselves
 * see the damage. Input that does not frame is parsed as meta.json alone. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "block/block.h"

typedef struct mem {
    const uint8_t *p[FX_BLOCK_NFILES];
    size_t n[FX_BLOCK_NFILES];
} mem_t;

static int mem_read(void *ctx, fx_block_range_t *r, size_t n, fx_err_t *err)
{
    mem_t *m = ctx;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned)r[i].file >= FX_BLOCK_NFILES || r[i].off > m->n[r[i].file] ||
            r[i].len > m->n[r[i].file] - r[i].off)
            return fx_err_set(err, FX_EIO, "read past the end");
        memcpy(r[i].buf, m->p[r[i].file] + r[i].off, r[i].len);
    }
    return FX_OK;
}

static int mem_size(void *ctx, fx_block_file_t f, uint64_t *size, fx_err_t *err)
{
    (void)err;
    *size = ((mem_t *)ctx)->n[f];
    return FX_OK;
}

static void queries(fx_block_t *b)
{
    fx_err_t err;
    fx_arena_t a;
    fx_head_strings_t s;
    fx_head_keys_t k;
    fx_head_ts_list_t ts;
    fx_head_label_sets_t ls;
    fx_head_profile_stats_t st;
    fx_tree_t tree;
    fx_buf_t pp = FX_BUF_INIT;
    const char *tenant = fx_block_meta(b)->tenant;
    fx_head_query_t q = {tenant, NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0};
    fx_arena_init(&a);
    fx_block_label_names(b, &q, &a, &s, &err);
    fx_block_label_values(b, &q, "service_name", &a, &s, &err);
    fx_block_profile_types(b, &q, &a, &s, &err);
    fx_block_series(b, &q, NULL, 0, &a, &ls, &err);
    fx_block_profile_stats(b, tenant, &st, &err);
    if (fx_block_profile_keys(b, &q, &a, &k, &err) == FX_OK && k.len) {
        fx_head_keyset_t ks;
        fx_head_keyset_init(&ks);
        fx_head_keyset_add(&ks, &k.v[0]);
        q.only = &ks;
        fx_tree_init(&tree);
        fx_block_merge_tree(b, &q, FX_GROUP_FUNCTION, &tree, &err);
        fx_tree_free(&tree);
        q.only = NULL;
        fx_head_keyset_free(&ks);
    }
    fx_block_select_series(b, &q, NULL, 0, 1000, FX_AGG_SUM, &a, &ts, &err);
    for (int g = FX_GROUP_FUNCTION; g <= FX_GROUP_PACKAGE; g++) {
        fx_tree_init(&tree);
        fx_block_merge_tree(b, &q, (fx_head_grouping_t)g, &tree, &err);
        fx_tree_free(&tree);
    }
    fx_block_merge_pprof(b, &q, &pp, &err);
    fx_buf_free(&pp);
    /* Span profiles read the chunks' span streams. */
    static const uint64_t spans[] = {0xaa, 0xbb};
    q.spans = spans;
    q.nspans = 2;
    fx_tree_init(&tree);
    fx_block_merge_tree(b, &q, FX_GROUP_FUNCTION, &tree, &err);
    fx_tree_free(&tree);
    q.spans = NULL;
    q.nspans = 0;
    fx_block_verify(b, &err);
    fx_arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mem_t m;
    size_t off = 0;
    for (int f = 0; f < FX_BLOCK_NFILES; f++) {
        if (size - off < 4)
            goto meta_only;
        size_t n = (size_t)data[off] | (size_t)data[off + 1] << 8 | (size_t)data[off + 2] << 16 |
                   (size_t)data[off + 3] << 24;
        if (n > size - off - 4)
            goto meta_only;
        m.p[f] = data + off + 4;
        m.n[f] = n;
        off += 4 + n;
    }
    for (int nocheck = 0; nocheck < 2; nocheck++) {
        fx_block_source_t src = {mem_read, mem_size, NULL, &m};
        fx_block_cache_t *c = fx_block_cache_new(1 << 20, 1 << 20);
        fx_block_options_t o = {FX_BLOCK_IO_AUTO, c, 0, nocheck};
        fx_block_t *b = NULL;
        fx_err_t err;
        if (fx_block_open_source(&src, &o, &b, &err) == FX_OK) {
            queries(b);
            fx_block_close(b);
        }
        fx_block_cache_free(c);
    }
    return 0;
meta_only:;
    fx_block_meta_t meta;
    fx_err_t err;
    fx_block_meta_parse(data, size, &meta, &err);
    fx_block_meta_free(&meta);
    return 0;
}
