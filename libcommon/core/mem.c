/* mem.c - aborting allocators and the bump arena. */
#include "core/mem.h"
#include "core/core.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Noreturn void oom(size_t n)
{
    fprintf(stderr, "level=fatal msg=\"out of memory\" bytes=%zu\n", n);
    abort();
}

void *fx_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *fx_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        oom(count * size);
    return p;
}

void *fx_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *fx_strndup(const char *s, size_t n)
{
    char *p = fx_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *fx_strdup(const char *s)
{
    return fx_strndup(s, strlen(s));
}

void fx_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t c = *cap;
    if (need <= c)
        return;
    if (c < 8)
        c = 8;
    while (c < need)
        c *= 2;
    *p = fx_realloc(*p, c * elem);
    *cap = c;
}

struct fx_arena_chunk {
    fx_arena_chunk_t *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
};

#define ARENA_FIRST_CHUNK 4096

static void *pb_alloc(void *ctx, size_t n)
{
    return fx_arena_alloc(ctx, n);
}

static void pb_free(void *ctx, void *p)
{
    (void)ctx;
    (void)p; /* released with the arena */
}

void fx_arena_init(fx_arena_t *a)
{
    a->head = NULL;
    a->chunk_size = ARENA_FIRST_CHUNK;
    a->total = 0;
    a->pb.alloc = pb_alloc;
    a->pb.free = pb_free;
    a->pb.allocator_data = a;
}

void fx_arena_free(fx_arena_t *a)
{
    fx_arena_chunk_t *c = a->head, *next;
    for (; c; c = next) {
        next = c->next;
        free(c);
    }
    a->head = NULL;
    a->total = 0;
    a->chunk_size = ARENA_FIRST_CHUNK;
}

void *fx_arena_alloc(fx_arena_t *a, size_t n)
{
    fx_arena_chunk_t *c = a->head;
    n = (n + 15) & ~(size_t)15;
    if (!c || c->size - c->used < n) {
        size_t size = a->chunk_size;
        /* Chunks double up to 1 MiB so big requests need few mallocs. */
        if (a->chunk_size < (1u << 20))
            a->chunk_size *= 2;
        if (size < n)
            size = n;
        c = fx_malloc(sizeof *c + size);
        c->size = size;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    a->total += n;
    return p;
}

void *fx_arena_calloc(fx_arena_t *a, size_t n)
{
    void *p = fx_arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *fx_arena_strndup(fx_arena_t *a, const char *s, size_t n)
{
    char *p = fx_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *fx_arena_strdup(fx_arena_t *a, const char *s)
{
    return fx_arena_strndup(a, s, strlen(s));
}

char *fx_arena_printf(fx_arena_t *a, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    FX_ASSERT(n >= 0);
    char *p = fx_arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

ProtobufCAllocator *fx_arena_pb(fx_arena_t *a)
{
    return &a->pb;
}
