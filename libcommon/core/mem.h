/*
 * mem.h - allocation that never returns NULL, and a bump arena.
 *
 * fx_malloc & co abort the process on out-of-memory: back-pressure in Fornax
 * comes from byte limits on requests, not from malloc failing, so call sites
 * carry no NULL checks.
 *
 * fx_arena_t is a region allocator for one request or RPC: many small
 * allocations, freed together by fx_arena_free(). fx_arena_pb() adapts it to
 * protobuf-c so unpacked messages live in the arena (never call
 * *_free_unpacked on them; free the arena instead).
 */
#ifndef FX_MEM_H
#define FX_MEM_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

void *fx_malloc(size_t n);
void *fx_calloc(size_t count, size_t size);
void *fx_realloc(void *p, size_t n);
char *fx_strdup(const char *s);
char *fx_strndup(const char *s, size_t n);
/* Grows *p (an array of *cap elements of elem bytes) to hold at least need
 * elements, doubling. */
void fx_grow(void **p, size_t *cap, size_t need, size_t elem);
#define FX_GROW(ptr, cap, need) fx_grow((void **)&(ptr), &(cap), (need), sizeof(*(ptr)))

typedef struct fx_arena_chunk fx_arena_chunk_t;

typedef struct fx_arena {
    fx_arena_chunk_t *head;
    size_t chunk_size;
    size_t total;  /* bytes handed out, for limits and metrics */
    ProtobufCAllocator pb;
} fx_arena_t;

/* Initialises an arena owned by the caller (usually on its stack). */
void fx_arena_init(fx_arena_t *a);
/* Releases every allocation made from a; a can be reused after init. */
void fx_arena_free(fx_arena_t *a);
/* 16-byte aligned memory valid until fx_arena_free. */
void *fx_arena_alloc(fx_arena_t *a, size_t n);
void *fx_arena_calloc(fx_arena_t *a, size_t n);
char *fx_arena_strndup(fx_arena_t *a, const char *s, size_t n);
char *fx_arena_strdup(fx_arena_t *a, const char *s);
char *fx_arena_printf(fx_arena_t *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* protobuf-c allocator backed by a; frees are no-ops. */
ProtobufCAllocator *fx_arena_pb(fx_arena_t *a);

#endif
