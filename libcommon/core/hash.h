/*
 * hash.h - hash functions and an open-addressing u64 -> u64 map.
 *
 * fx_fnv1_32 is the 32-bit FNV-1 (multiply then xor) Pyroscope uses for ring
 * tokens. fx_hash64 is a fast non-cryptographic 64-bit hash for in-memory
 * tables; never persist its values (the function may change).
 *
 * fx_map64_t: keys are any u64 except FX_MAP64_EMPTY (UINT64_MAX). Owns its
 * table; fx_map64_free releases it. Not thread-safe.
 */
#ifndef FX_HASH_H
#define FX_HASH_H

#include <stddef.h>
#include <stdint.h>

#define FX_FNV32_OFFSET 2166136261u
uint32_t fx_fnv1_32(uint32_t h, const void *data, size_t n);
uint64_t fx_hash64(const void *data, size_t n, uint64_t seed);

static inline uint64_t fx_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

#define FX_MAP64_EMPTY UINT64_MAX

typedef struct fx_map64 {
    uint64_t *keys;
    uint64_t *vals;
    size_t cap;  /* power of two */
    size_t len;
} fx_map64_t;

void fx_map64_init(fx_map64_t *m);
void fx_map64_free(fx_map64_t *m);
/* Returns a pointer to the value slot for key, inserting (value 0) if
 * absent; *inserted tells which. The pointer is valid until the next put. */
uint64_t *fx_map64_put(fx_map64_t *m, uint64_t key, int *inserted);
/* Returns the value slot or NULL. */
uint64_t *fx_map64_get(const fx_map64_t *m, uint64_t key);

#endif
