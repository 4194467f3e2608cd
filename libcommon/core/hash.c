/* hash.c - FNV-1, a 64-bit hash, and the u64 map. */
#include "core/hash.h"
#include "core/mem.h"
#include "core/core.h"

#include <stdlib.h>
#include <string.h>

uint32_t fx_fnv1_32(uint32_t h, const void *data, size_t n)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++) {
        h *= 16777619u;
        h ^= p[i];
    }
    return h;
}

static inline uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t mum(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* A small wyhash-style hash: 8-byte lanes folded with 128-bit multiplies. */
uint64_t fx_hash64(const void *data, size_t n, uint64_t seed)
{
    const uint8_t *p = data;
    const uint64_t k0 = 0xa0761d6478bd642fULL, k1 = 0xe7037ed1a0b428dbULL;
    uint64_t h = seed ^ k0 ^ (n * k1);
    while (n >= 16) {
        h = mum(rd64(p) ^ k1, rd64(p + 8) ^ h);
        p += 16;
        n -= 16;
    }
    uint64_t a = 0, b = 0;
    if (n >= 8) {
        a = rd64(p);
        p += 8;
        n -= 8;
    }
    for (size_t i = 0; i < n; i++)
        b |= (uint64_t)p[i] << (8 * i);
    return mum(a ^ k1 ^ h, b ^ k0 ^ 0x8ebc6af09c88c6e3ULL);
}

void fx_map64_init(fx_map64_t *m)
{
    memset(m, 0, sizeof *m);
}

void fx_map64_free(fx_map64_t *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static void rehash(fx_map64_t *m, size_t cap)
{
    uint64_t *ok = m->keys, *ov = m->vals;
    size_t ocap = m->cap;
    m->keys = fx_malloc(cap * sizeof *m->keys);
    m->vals = fx_malloc(cap * sizeof *m->vals);
    memset(m->keys, 0xff, cap * sizeof *m->keys);
    m->cap = cap;
    for (size_t i = 0; i < ocap; i++) {
        if (ok[i] == FX_MAP64_EMPTY)
            continue;
        size_t j = fx_mix64(ok[i]) & (cap - 1);
        while (m->keys[j] != FX_MAP64_EMPTY)
            j = (j + 1) & (cap - 1);
        m->keys[j] = ok[i];
        m->vals[j] = ov[i];
    }
    free(ok);
    free(ov);
}

uint64_t *fx_map64_put(fx_map64_t *m, uint64_t key, int *inserted)
{
    FX_ASSERT(key != FX_MAP64_EMPTY);
    if ((m->len + 1) * 4 > m->cap * 3)
        rehash(m, m->cap ? m->cap * 2 : 16);
    size_t j = fx_mix64(key) & (m->cap - 1);
    while (m->keys[j] != FX_MAP64_EMPTY) {
        if (m->keys[j] == key) {
            if (inserted)
                *inserted = 0;
            return &m->vals[j];
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->keys[j] = key;
    m->vals[j] = 0;
    m->len++;
    if (inserted)
        *inserted = 1;
    return &m->vals[j];
}

uint64_t *fx_map64_get(const fx_map64_t *m, uint64_t key)
{
    if (!m->cap)
        return NULL;
    size_t j = fx_mix64(key) & (m->cap - 1);
    while (m->keys[j] != FX_MAP64_EMPTY) {
        if (m->keys[j] == key)
            return &m->vals[j];
        j = (j + 1) & (m->cap - 1);
    }
    return NULL;
}
