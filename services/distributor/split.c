/* split.c - grouping samples by their string labels. */
#include "split.h"
#include "core/buf.h"
#include "core/hash.h"

#include <stdlib.h>
#include <string.h>

/* Labels that are per-sample links to traces, never series labels. */
static int is_link_label(const fx_pprof_t *p, int64_t key)
{
    return fx_pprof_str_eq(p, key, "span_id") || fx_pprof_str_eq(p, key, "trace_id") ||
           fx_pprof_str_eq(p, key, "profile_id");
}

static int splits(const fx_pprof_t *p, const fx_pprof_label_t *l)
{
    return l->str != 0 && !is_link_label(p, l->key);
}

int split_sample_splits(const fx_pprof_t *p, const fx_pprof_sample_t *s)
{
    for (uint32_t i = 0; i < s->nlabels; i++)
        if (splits(p, &s->labels[i]))
            return 1;
    return 0;
}

int split_keep_label(const fx_pprof_t *p, const fx_pprof_label_t *l, void *ctx)
{
    (void)ctx;
    return !splits(p, l);
}

/* The splitting labels of a sample as a canonical key: (key, str) string
 * index pairs sorted by key index. Index pairs identify label text within
 * one profile, so no string comparison is needed. */
static void sample_key(const fx_pprof_t *p, const fx_pprof_sample_t *s, fx_buf_t *key)
{
    key->len = 0;
    for (uint32_t i = 0; i < s->nlabels; i++) {
        if (!splits(p, &s->labels[i]))
            continue;
        int64_t pair[2] = {s->labels[i].key, s->labels[i].str};
        /* insertion into the sorted key, labels per sample are few */
        size_t n = key->len / sizeof pair, j = n;
        fx_buf_append(key, pair, sizeof pair);
        int64_t *arr = (int64_t *)key->data;
        while (j > 0 && arr[2 * (j - 1)] > pair[0]) {
            arr[2 * j] = arr[2 * (j - 1)];
            arr[2 * j + 1] = arr[2 * (j - 1) + 1];
            j--;
        }
        arr[2 * j] = pair[0];
        arr[2 * j + 1] = pair[1];
    }
}

void split_by_sample_labels(const fx_pprof_t *p, const fx_labels_t *series, fx_arena_t *a,
                            split_group_t **groups, size_t *ngroups, int *whole)
{
    fx_map64_t by_hash; /* key hash -> group index */
    fx_buf_t key = FX_BUF_INIT;
    uint32_t *group_of = fx_arena_alloc(a, (p->nsamples + 1) * sizeof *group_of);
    fx_buf_t *keys = NULL;  /* group index -> its key, to resolve hash collisions */
    size_t n = 0, cap = 0;
    size_t *counts = NULL, counts_cap = 0;

    fx_map64_init(&by_hash);
    for (size_t i = 0; i < p->nsamples; i++) {
        sample_key(p, &p->samples[i], &key);
        uint64_t h = fx_hash64(key.data, key.len, 0) & ~1ULL; /* never FX_MAP64_EMPTY */
        size_t g;
        for (;;) {
            int inserted;
            uint64_t *slot = fx_map64_put(&by_hash, h, &inserted);
            if (inserted) {
                FX_GROW(keys, cap, n + 1);
                FX_GROW(counts, counts_cap, n + 1);
                keys[n] = (fx_buf_t)FX_BUF_INIT;
                fx_buf_append(&keys[n], key.data, key.len);
                counts[n] = 0;
                *slot = n++;
            }
            g = (size_t)*slot;
            if (keys[g].len == key.len && (!key.len || memcmp(keys[g].data, key.data, key.len) == 0))
                break;
            h += 2; /* collision: probe the next even hash */
        }
        group_of[i] = (uint32_t)g;
        counts[g]++;
    }

    /* "whole": nothing moved to the series, the profile can be sent as is. */
    *whole = n == 0 || (n == 1 && keys[0].len == 0);
    split_group_t *out = fx_arena_alloc(a, (n ? n : 1) * sizeof *out);
    for (size_t g = 0; g < n; g++) {
        size_t nl = keys[g].len / (2 * sizeof(int64_t));
        const int64_t *arr = (const int64_t *)keys[g].data;
        out[g].labels = fx_labels_copy(a, series, nl + 4);
        for (size_t j = 0; j < nl; j++) {
            fx_slice_t k = fx_pprof_str(p, arr[2 * j]), v = fx_pprof_str(p, arr[2 * j + 1]);
            char *ks = fx_arena_strndup(a, (const char *)k.data, k.len);
            if (fx_labels_get(&out[g].labels, ks))
                continue; /* series labels win */
            fx_labels_set(&out[g].labels, ks, fx_arena_strndup(a, (const char *)v.data, v.len));
        }
        out[g].samples = fx_arena_alloc(a, (counts[g] + 1) * sizeof *out[g].samples);
        out[g].nsamples = 0;
        fx_buf_free(&keys[g]);
    }
    for (size_t i = 0; i < p->nsamples; i++) {
        split_group_t *grp = &out[group_of[i]];
        grp->samples[grp->nsamples++] = (uint32_t)i;
    }
    if (n == 0) { /* a profile without samples is still one (empty) series */
        out[0].labels = fx_labels_copy(a, series, 4);
        out[0].samples = NULL;
        out[0].nsamples = 0;
        n = 1;
    }
    *groups = out;
    *ngroups = n;
    free(keys);
    free(counts);
    fx_buf_free(&key);
    fx_map64_free(&by_hash);
}
