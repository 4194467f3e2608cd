/* strtab.c - string interning with stable storage. */
#include "core/strtab.h"
#include "core/hash.h"
#include "core/mem.h"

#include <stdlib.h>
#include <string.h>

struct fx_strtab_block {
    fx_strtab_block_t *next;
    size_t used, size;
    char data[];
};

#define BLOCK_SIZE (64 * 1024)

void fx_strtab_init(fx_strtab_t *t)
{
    memset(t, 0, sizeof *t);
}

void fx_strtab_free(fx_strtab_t *t)
{
    fx_strtab_block_t *b = t->blocks, *next;
    for (; b; b = next) {
        next = b->next;
        free(b);
    }
    free(t->strs);
    free(t->lens);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static char *store(fx_strtab_t *t, const char *s, size_t n)
{
    fx_strtab_block_t *b = t->blocks;
    if (!b || b->size - b->used < n + 1) {
        size_t size = n + 1 > BLOCK_SIZE ? n + 1 : BLOCK_SIZE;
        b = fx_malloc(sizeof *b + size);
        b->size = size;
        b->used = 0;
        b->next = t->blocks;
        t->blocks = b;
    }
    char *p = b->data + b->used;
    memcpy(p, s, n);
    p[n] = 0;
    b->used += n + 1;
    t->bytes += n;
    return p;
}

static void grow_slots(fx_strtab_t *t)
{
    size_t n = t->nslots ? t->nslots * 2 : 64;
    uint32_t *slots = fx_calloc(n, sizeof *slots);
    for (size_t id = 0; id < t->len; id++) {
        size_t j = fx_hash64(t->strs[id], t->lens[id], 0) & (n - 1);
        while (slots[j])
            j = (j + 1) & (n - 1);
        slots[j] = (uint32_t)id + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = n;
}

static size_t probe(const fx_strtab_t *t, const char *s, size_t n)
{
    size_t j = fx_hash64(s, n, 0) & (t->nslots - 1);
    for (;;) {
        uint32_t v = t->slots[j];
        if (!v)
            return j;
        if (t->lens[v - 1] == n && memcmp(t->strs[v - 1], s, n) == 0)
            return j;
        j = (j + 1) & (t->nslots - 1);
    }
}

int64_t fx_strtab_find(const fx_strtab_t *t, const char *s, size_t n)
{
    if (!s) /* (NULL, 0), e.g. an empty fx_buf_t: the empty string */
        s = "";
    if (!t->nslots)
        return -1;
    uint32_t v = t->slots[probe(t, s, n)];
    return v ? (int64_t)v - 1 : -1;
}

uint32_t fx_strtab_intern(fx_strtab_t *t, const char *s, size_t n)
{
    if (!s) /* (NULL, 0), e.g. an empty fx_buf_t: the empty string */
        s = "";
    if ((t->len + 1) * 2 > t->nslots)
        grow_slots(t);
    size_t j = probe(t, s, n);
    if (t->slots[j])
        return t->slots[j] - 1;
    if (t->len == t->cap) {
        size_t cap = t->cap;
        FX_GROW(t->strs, cap, t->len + 1);
        t->lens = fx_realloc(t->lens, cap * sizeof *t->lens);
        t->cap = cap;
    }
    uint32_t id = (uint32_t)t->len++;
    t->strs[id] = store(t, s, n);
    t->lens[id] = (uint32_t)n;
    t->slots[j] = id + 1;
    return id;
}
