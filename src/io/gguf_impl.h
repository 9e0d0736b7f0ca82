/* Internal: the pare_gguf object, shared by the reader and its accessors. */
#ifndef PARE_IO_GGUF_IMPL_H
#define PARE_IO_GGUF_IMPL_H

#include "pare/gguf.h"

#include <stdlib.h>

typedef struct gguf_kv {
    const char *key;          /* arena, NUL-terminated */
    pare_gguf_type type;
    pare_gguf_type elem;      /* arrays: element type */
    uint64_t n;               /* arrays: element count */
    union {
        uint8_t raw[8];       /* scalars, little-endian as in the file; bool is 0/1 */
        pare_gguf_str str;    /* strings: into the file */
        const void *arr;      /* numeric arrays: arena copy, 8-aligned */
        const pare_gguf_str *strs; /* string arrays: arena, [n] */
    } v;
} gguf_kv;

typedef struct gguf_ix {
    const char *name;
    int64_t idx;
} gguf_ix;

struct pare_gguf {
    const char *path;         /* arena: path or the name given to open_memory */
    const uint8_t *data;      /* whole file (mapping or caller buffer) */
    size_t len;
    void *map;                /* owned mapping, or NULL */
    size_t map_len;
    pare_arena *arena;        /* keys, names, arrays, indices */
    uint32_t version, alignment;
    size_t data_off;          /* file offset of the data section */
    gguf_kv *kvs;             /* [n_kv], malloc'd, in file order */
    int64_t n_kv, cap_kv;
    pare_gguf_tensor *tensors; /* [n_tensors], malloc'd, in file order */
    int64_t n_tensors, cap_tensors;
    gguf_ix *kv_ix;           /* [n_kv] sorted by key */
    gguf_ix *tensor_ix;       /* [n_tensors] sorted by name */
};

/* Room for entry n in a malloc'd array that doubles: memory follows the
 * entries actually read or added, never a count a file claims. */
static inline bool pare_gguf_grow(void **p, int64_t *cap, int64_t n, size_t elem) {
    if (n < *cap) return true;
    int64_t c = *cap ? 2 * *cap : 16;
    void *q = realloc(*p, (size_t)c * elem);
    if (!q) return false;
    *p = q;
    *cap = c;
    return true;
}

/* Binary search in a sorted index: the entry's idx, or -1. */
int64_t pare_gguf_ix_find(const gguf_ix *ix, int64_t n, const char *name);

#endif
