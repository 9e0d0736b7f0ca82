/* Bump allocator made of a list of chunks. */
#include "pare/core.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t cap;
    size_t used;
    _Alignas(64) unsigned char data[];
} arena_chunk;

struct pare_arena {
    arena_chunk *head;  /* current chunk (newest) */
    size_t chunk_bytes;
};

pare_arena *pare_arena_create(size_t chunk_bytes) {
    pare_arena *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->chunk_bytes = chunk_bytes ? chunk_bytes : (1u << 20);
    return a;
}

void pare_arena_free(pare_arena *a) {
    if (!a) return;
    for (arena_chunk *c = a->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    free(a);
}

static arena_chunk *chunk_new(size_t cap) {
    size_t total;
    if (!pare_add_size(sizeof(arena_chunk), cap, &total)) return NULL;
    arena_chunk *c = aligned_alloc(64, (total + 63) & ~(size_t)63);
    if (!c) return NULL;
#ifdef MADV_HUGEPAGE
    /* Big chunks (packed weights, activations) are streamed through every
     * forward: ask for 2 MB pages (fewer TLB misses) before first touch.
     * Only a hint; where transparent huge pages are off it does nothing. */
    const uintptr_t huge = (uintptr_t)2 << 20;
    if (total >= 2 * huge) {
        uintptr_t lo = ((uintptr_t)c + huge - 1) & ~(huge - 1), hi = ((uintptr_t)c + total) & ~(huge - 1);
        if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
    }
#endif
    c->next = NULL;
    c->cap = cap;
    c->used = 0;
    return c;
}

void *pare_arena_alloc(pare_arena *a, size_t size, size_t align) {
    if (!a || align == 0 || (align & (align - 1)) || align > 4096) return NULL;
    for (arena_chunk *c = a->head; c; c = NULL) {
        size_t off = (c->used + align - 1) & ~(align - 1);
        if (off >= c->used && off <= c->cap && size <= c->cap - off) {
            c->used = off + size;
            return c->data + off;
        }
    }
    /* No room in the current chunk: start a new one. */
    size_t need;
    if (!pare_add_size(size, align, &need)) return NULL;
    size_t cap = need > a->chunk_bytes ? need : a->chunk_bytes;
    arena_chunk *c = chunk_new(cap);
    if (!c) return NULL;
    c->next = a->head;
    a->head = c;
    size_t off = ((uintptr_t)c->data % align) ? align - ((uintptr_t)c->data % align) : 0;
    c->used = off + size;
    return c->data + off;
}

void *pare_arena_calloc(pare_arena *a, size_t size, size_t align) {
    void *p = pare_arena_alloc(a, size, align);
    if (p) memset(p, 0, size);
    return p;
}

char *pare_arena_strdup(pare_arena *a, const char *s, size_t len) {
    size_t n;
    if (!pare_add_size(len, 1, &n)) return NULL;
    char *p = pare_arena_alloc(a, n, 1);
    if (!p) return NULL;
    memcpy(p, s, len);
    p[len] = 0;
    return p;
}

void pare_arena_reset(pare_arena *a) {
    if (!a || !a->head) return;
    if (!a->head->next) {
        a->head->used = 0;
        return;
    }
    /* Several chunks: replace them by one that holds them all, so the next
     * round of the same shape allocates nothing. */
    size_t total = 0;
    for (arena_chunk *c = a->head, *n; c; c = n) {
        n = c->next;
        if (!pare_add_size(total, c->cap, &total)) total = SIZE_MAX;
        free(c);
    }
    a->head = total == SIZE_MAX ? NULL : chunk_new(total);
}

size_t pare_arena_used(const pare_arena *a) {
    size_t n = 0;
    for (const arena_chunk *c = a ? a->head : NULL; c; c = c->next) n += c->used;
    return n;
}

size_t pare_arena_capacity(const pare_arena *a) {
    size_t n = 0;
    for (const arena_chunk *c = a ? a->head : NULL; c; c = c->next) n += c->cap;
    return n;
}
