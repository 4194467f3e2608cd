/*
 * strtab.h - string interning: each distinct byte string gets a dense u32 id.
 *
 * Ids are assigned 0, 1, 2... in insertion order. Strings are copied into
 * storage the table owns; pointers returned by fx_strtab_get stay valid until
 * fx_strtab_free (storage is never moved). Not thread-safe.
 */
#ifndef FX_STRTAB_H
#define FX_STRTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct fx_strtab_block fx_strtab_block_t;

typedef struct fx_strtab {
    const char **strs;   /* id -> NUL-terminated string */
    uint32_t *lens;      /* id -> length */
    size_t len, cap;
    uint32_t *slots;     /* open addressing: id + 1, 0 = empty */
    size_t nslots;
    fx_strtab_block_t *blocks;
    size_t bytes;        /* total string bytes stored */
} fx_strtab_t;

void fx_strtab_init(fx_strtab_t *t);
void fx_strtab_free(fx_strtab_t *t);
/* Returns the id of s, adding it if new. */
uint32_t fx_strtab_intern(fx_strtab_t *t, const char *s, size_t n);
/* Returns the id of s or -1 if absent. */
int64_t fx_strtab_find(const fx_strtab_t *t, const char *s, size_t n);
static inline const char *fx_strtab_get(const fx_strtab_t *t, uint32_t id)
{
    return t->strs[id];
}
static inline uint32_t fx_strtab_len(const fx_strtab_t *t, uint32_t id)
{
    return t->lens[id];
}

#endif
