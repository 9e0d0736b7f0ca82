/* GGUF reader: parse and validate the header, metadata and tensor infos of
 * a mapped file; tensor data and strings stay in the mapping. The checks
 * are listed in docs/formats.md. */
#include "io/gguf_impl.h"
#include "io/tensor_file.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/mman.h>

/* Smallest encodings, to bound counts by the bytes left before allocating:
 * a kv is an empty key (8), a type (4) and a u8 (1); a tensor info is an
 * empty name (8), n_dims (4), no dims, a type (4) and an offset (8). */
#define KV_MIN_BYTES 13
#define TI_MIN_BYTES 24

/* ---------------------------------------------------------------- cursor */

typedef struct rd {
    const uint8_t *p;
    size_t len, pos;
    const char *name;
    pare_err *err;
} rd;

static pare_status rd_short(rd *r, size_t need, const char *what) {
    return pare_err_set(r->err, PARE_ERR_FORMAT,
                        "%s: %s at byte %zu needs %zu bytes but the %zu-byte file ends first", r->name, what,
                        r->pos, need, r->len);
}

static pare_status rd_bytes(rd *r, size_t n, const uint8_t **out, const char *what) {
    *out = r->p;
    if (n > r->len - r->pos) return rd_short(r, n, what);
    *out = r->p + r->pos;
    r->pos += n;
    return PARE_OK;
}

static uint64_t le(const uint8_t *b, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

static pare_status rd_u32(rd *r, uint32_t *out, const char *what) {
    *out = 0;
    const uint8_t *b;
    pare_status s = rd_bytes(r, 4, &b, what);
    if (s == PARE_OK) *out = (uint32_t)le(b, 4);
    return s;
}

static pare_status rd_u64(rd *r, uint64_t *out, const char *what) {
    *out = 0;
    const uint8_t *b;
    pare_status s = rd_bytes(r, 8, &b, what);
    if (s == PARE_OK) *out = le(b, 8);
    return s;
}

/* A string's length must fit in what is left of the file. */
static pare_status rd_str(rd *r, pare_gguf_str *out, const char *what) {
    *out = (pare_gguf_str){(const char *)r->p, 0};
    size_t at = r->pos;
    uint64_t n;
    const uint8_t *b;
    pare_status s = rd_u64(r, &n, what);
    if (s != PARE_OK) return s;
    if (n > r->len - r->pos)
        return pare_err_set(r->err, PARE_ERR_FORMAT,
                            "%s: %s at byte %zu has length %llu, past the end of the %zu-byte file", r->name,
                            what, at, (unsigned long long)n, r->len);
    s = rd_bytes(r, (size_t)n, &b, what);
    out->ptr = (const char *)b;
    out->len = (size_t)n;
    return s;
}

/* A key or tensor name, copied NUL-terminated into the arena. */
static pare_status rd_name(rd *r, pare_arena *a, const char **out, const char *what) {
    size_t at = r->pos;
    pare_gguf_str s;
    pare_status st = rd_str(r, &s, what);
    if (st != PARE_OK) return st;
    if (memchr(s.ptr, 0, s.len))
        return pare_err_set(r->err, PARE_ERR_FORMAT, "%s: %s at byte %zu holds a NUL byte", r->name, what, at);
    if (!(*out = pare_arena_strdup(a, s.ptr, s.len)))
        return pare_err_set(r->err, PARE_ERR_OOM, "%s: out of memory", r->name);
    return PARE_OK;
}

/* ---------------------------------------------------------------- metadata */

static pare_status read_array(pare_gguf *g, rd *r, gguf_kv *kv) {
    uint32_t et;
    pare_status s = rd_u32(r, &et, "array element type");
    if (s == PARE_OK) s = rd_u64(r, &kv->n, "array length");
    if (s != PARE_OK) return s;
    if (et == PARE_GGUF_ARRAY)
        return pare_err_set(r->err, PARE_ERR_FORMAT, "%s: key '%s': nested arrays are not supported", r->name,
                            kv->key);
    if (et >= PARE_GGUF_TYPE_COUNT)
        return pare_err_set(r->err, PARE_ERR_FORMAT, "%s: key '%s': unknown array element type %u", r->name,
                            kv->key, et);
    kv->elem = (pare_gguf_type)et;
    size_t left = r->len - r->pos, esize = pare_gguf_type_size(kv->elem);
    size_t emin = esize ? esize : 8; /* a string is at least its length */
    if (kv->n > left / emin)
        return pare_err_set(r->err, PARE_ERR_FORMAT,
                            "%s: key '%s': array of %llu %s cannot fit in the %zu bytes left", r->name, kv->key,
                            (unsigned long long)kv->n, pare_gguf_type_name(kv->elem), left);
    if (kv->n == 0) return PARE_OK;
    size_t n = (size_t)kv->n;
    if (kv->elem != PARE_GGUF_STRING) {
        /* Copied so that the element pointer is aligned for its type. */
        const uint8_t *b;
        if ((s = rd_bytes(r, n * esize, &b, "array")) != PARE_OK) return s;
        void *dst = pare_arena_alloc(g->arena, n * esize, 8);
        if (!dst) return pare_err_set(r->err, PARE_ERR_OOM, "%s: out of memory", r->name);
        memcpy(dst, b, n * esize);
        if (kv->elem == PARE_GGUF_BOOL)
            for (size_t j = 0; j < n; j++) ((uint8_t *)dst)[j] = ((uint8_t *)dst)[j] != 0;
        kv->v.arr = dst;
        return PARE_OK;
    }
    pare_gguf_str *strs = pare_arena_alloc(g->arena, n * sizeof *strs, 8);
    if (!strs) return pare_err_set(r->err, PARE_ERR_OOM, "%s: out of memory", r->name);
    for (size_t j = 0; j < n; j++)
        if ((s = rd_str(r, &strs[j], "array string")) != PARE_OK) return s;
    kv->v.strs = strs;
    return PARE_OK;
}

static pare_status read_kv(pare_gguf *g, rd *r, gguf_kv *kv) {
    memset(kv, 0, sizeof *kv);
    uint32_t t;
    pare_status s = rd_name(r, g->arena, &kv->key, "key");
    if (s == PARE_OK) s = rd_u32(r, &t, "value type");
    if (s != PARE_OK) return s;
    if (t >= PARE_GGUF_TYPE_COUNT)
        return pare_err_set(r->err, PARE_ERR_FORMAT, "%s: key '%s': unknown value type %u", r->name, kv->key, t);
    kv->type = (pare_gguf_type)t;
    if (kv->type == PARE_GGUF_ARRAY) return read_array(g, r, kv);
    if (kv->type == PARE_GGUF_STRING) return rd_str(r, &kv->v.str, "string value");
    const uint8_t *b;
    size_t n = pare_gguf_type_size(kv->type);
    if ((s = rd_bytes(r, n, &b, "value")) != PARE_OK) return s;
    memcpy(kv->v.raw, b, n);
    if (kv->type == PARE_GGUF_BOOL) kv->v.raw[0] = kv->v.raw[0] != 0;
    return PARE_OK;
}

/* ---------------------------------------------------------------- index */

static int ix_cmp(const void *a, const void *b) {
    const gguf_ix *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* Sorted name index; the first duplicate name, if any, in *dup. */
static pare_status build_index(pare_gguf *g, gguf_ix **out, int64_t n, const char *(*name_of)(const pare_gguf *, int64_t),
                               const char **dup) {
    *dup = NULL;
    if (n == 0) return PARE_OK;
    gguf_ix *ix = pare_arena_alloc(g->arena, (size_t)n * sizeof *ix, 8);
    if (!ix) return PARE_ERR_OOM;
    for (int64_t i = 0; i < n; i++) ix[i] = (gguf_ix){name_of(g, i), i};
    qsort(ix, (size_t)n, sizeof *ix, ix_cmp);
    for (int64_t i = 1; i < n && !*dup; i++)
        if (strcmp(ix[i - 1].name, ix[i].name) == 0) *dup = ix[i].name;
    *out = ix;
    return PARE_OK;
}

static const char *kv_name(const pare_gguf *g, int64_t i) { return g->kvs[i].key; }
static const char *tensor_name(const pare_gguf *g, int64_t i) { return g->tensors[i].name; }

int64_t pare_gguf_ix_find(const gguf_ix *ix, int64_t n, const char *name) {
    if (!ix || !name) return -1;
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ix[mid].name, name);
        if (c == 0) return ix[mid].idx;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

/* ---------------------------------------------------------------- tensors */

static pare_status read_tensor_info(pare_gguf *g, rd *r, pare_gguf_tensor *t) {
    memset(t, 0, sizeof *t);
    uint32_t nd;
    pare_status s = rd_name(r, g->arena, &t->name, "tensor name");
    if (s == PARE_OK) s = rd_u32(r, &nd, "tensor n_dims");
    if (s != PARE_OK) return s;
    if (nd > PARE_GGUF_MAX_DIMS)
        return pare_err_set(r->err, PARE_ERR_FORMAT, "%s: tensor '%s': %u dims, more than %d", r->name, t->name,
                            nd, PARE_GGUF_MAX_DIMS);
    t->n_dims = (int32_t)nd;
    for (int d = 0; d < PARE_GGUF_MAX_DIMS; d++) {
        uint64_t x = 1;
        if (d < t->n_dims && (s = rd_u64(r, &x, "tensor dim")) != PARE_OK) return s;
        if (x == 0 || x > (uint64_t)INT64_MAX)
            return pare_err_set(r->err, PARE_ERR_FORMAT, "%s: tensor '%s': ne[%d] = %lld is not positive",
                                r->name, t->name, d, (long long)x);
        t->ne[d] = (int64_t)x;
    }
    if ((s = rd_u32(r, &t->type, "tensor type")) != PARE_OK || (s = rd_u64(r, &t->offset, "tensor offset")))
        return s;
    const pare_qtype_info *q = pare_qtype_get(t->type);
    if (!q)
        return pare_err_set(r->err, t->type < PARE_Q_COUNT ? PARE_ERR_UNSUPPORTED : PARE_ERR_FORMAT,
                            "%s: tensor '%s': ggml type id %u is %s", r->name, t->name, t->type,
                            t->type < PARE_Q_COUNT ? "not supported by pare" : "unknown");
    if (t->ne[0] % q->block_size != 0)
        return pare_err_set(r->err, PARE_ERR_FORMAT,
                            "%s: tensor '%s': row length ne[0] = %lld is not a multiple of the %s block size %d",
                            r->name, t->name, (long long)t->ne[0], q->name, q->block_size);
    if (pare_gguf_tensor_nelem(t) < 0 || !pare_gguf_tensor_nbytes(t->type, t->n_dims, t->ne, &t->nbytes))
        return pare_err_set(r->err, PARE_ERR_FORMAT, "%s: tensor '%s': size overflows", r->name, t->name);
    if (t->offset % g->alignment != 0)
        return pare_err_set(r->err, PARE_ERR_FORMAT, "%s: tensor '%s': offset %llu is not a multiple of the alignment %u",
                            r->name, t->name, (unsigned long long)t->offset, g->alignment);
    return PARE_OK;
}

typedef struct span {
    uint64_t begin, end;
    int64_t idx;
} span;

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Every tensor lies inside the data section; none overlap. */
static pare_status place_tensors(pare_gguf *g, pare_err *err) {
    if (g->n_tensors == 0) return PARE_OK;
    if (g->data_off > g->len)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: the data section would start at byte %zu, past the end of the %zu-byte file",
                            g->path, g->data_off, g->len);
    size_t room = g->len - g->data_off;
    span *sp = malloc((size_t)g->n_tensors * sizeof *sp);
    if (!sp) return pare_err_set(err, PARE_ERR_OOM, "%s: out of memory", g->path);
    pare_status s = PARE_OK;
    for (int64_t i = 0; i < g->n_tensors && s == PARE_OK; i++) {
        pare_gguf_tensor *t = &g->tensors[i];
        if (t->offset > room || t->nbytes > room - t->offset) {
            s = pare_err_set(err, PARE_ERR_FORMAT,
                             "%s: tensor '%s': %zu bytes at data offset %llu run past the end of the file (data section is %zu bytes)",
                             g->path, t->name, t->nbytes, (unsigned long long)t->offset, room);
            break;
        }
        t->data = g->data + g->data_off + t->offset;
        sp[i] = (span){t->offset, t->offset + t->nbytes, i};
    }
    if (s == PARE_OK) qsort(sp, (size_t)g->n_tensors, sizeof *sp, span_cmp);
    for (int64_t i = 1; i < g->n_tensors && s == PARE_OK; i++)
        if (sp[i].begin < sp[i - 1].end)
            s = pare_err_set(err, PARE_ERR_FORMAT, "%s: tensor '%s' at data offset %llu overlaps tensor '%s'",
                             g->path, g->tensors[sp[i].idx].name, (unsigned long long)sp[i].begin,
                             g->tensors[sp[i - 1].idx].name);
    free(sp);
    return s;
}

/* ---------------------------------------------------------------- header */

static pare_status read_header(pare_gguf *g, rd *r, uint64_t *n_tensors, uint64_t *n_kv) {
    const uint8_t *m;
    if (r->len < 4 || memcmp(r->p, "GGUF", 4) != 0)
        return pare_err_set(r->err, PARE_ERR_FORMAT, "%s: not a GGUF file (no \"GGUF\" magic at byte 0)", r->name);
    pare_status s = rd_bytes(r, 4, &m, "magic");
    if (s == PARE_OK) s = rd_u32(r, &g->version, "version");
    if (s != PARE_OK) return s;
    uint32_t v = g->version, swapped = __builtin_bswap32(v);
    if (v == 1)
        return pare_err_set(r->err, PARE_ERR_UNSUPPORTED,
                            "%s: GGUF v1 is not supported (pare reads v2 and v3; convert with a newer llama.cpp)",
                            r->name);
    if (v != 2 && v != 3) {
        if (swapped >= 1 && swapped <= 3)
            return pare_err_set(r->err, PARE_ERR_UNSUPPORTED, "%s: big-endian GGUF (v%u) is not supported", r->name,
                                swapped);
        return pare_err_set(r->err, PARE_ERR_UNSUPPORTED, "%s: GGUF version %u is not supported (pare reads v2 and v3)",
                            r->name, v);
    }
    if ((s = rd_u64(r, n_tensors, "tensor count")) != PARE_OK || (s = rd_u64(r, n_kv, "metadata count")))
        return s;
    size_t left = r->len - r->pos;
    if (*n_kv > left / KV_MIN_BYTES || *n_tensors > left / TI_MIN_BYTES ||
        *n_kv * KV_MIN_BYTES + *n_tensors * TI_MIN_BYTES > left)
        return pare_err_set(r->err, PARE_ERR_FORMAT,
                            "%s: %llu metadata entries and %llu tensors cannot fit in the %zu bytes after the header",
                            r->name, (unsigned long long)*n_kv, (unsigned long long)*n_tensors, left);
    return PARE_OK;
}

static pare_status read_alignment(pare_gguf *g, pare_err *err) {
    g->alignment = PARE_GGUF_DEFAULT_ALIGNMENT;
    int64_t i = pare_gguf_find_key(g, "general.alignment");
    if (i < 0) return PARE_OK;
    uint32_t a;
    if (!pare_gguf_kv_u32(g, i, &a))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: general.alignment is a %s, not a u32", g->path,
                            pare_gguf_type_name(g->kvs[i].type));
    if (a == 0 || (a & (a - 1)) != 0)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: general.alignment %u is not a power of two", g->path, a);
    g->alignment = a;
    return PARE_OK;
}

static pare_status parse(pare_gguf *g, pare_err *err) {
    rd r = {g->data, g->len, 0, g->path, err};
    uint64_t n_tensors = 0, n_kv = 0;
    pare_status s = read_header(g, &r, &n_tensors, &n_kv);
    if (s != PARE_OK) return s;
    for (; g->n_kv < (int64_t)n_kv; g->n_kv++) {
        if (!pare_gguf_grow((void **)&g->kvs, &g->cap_kv, g->n_kv, sizeof *g->kvs))
            return pare_err_set(err, PARE_ERR_OOM, "%s: out of memory", g->path);
        if ((s = read_kv(g, &r, &g->kvs[g->n_kv])) != PARE_OK) return s;
    }
    const char *dup;
    if (build_index(g, &g->kv_ix, g->n_kv, kv_name, &dup))
        return pare_err_set(err, PARE_ERR_OOM, "%s: out of memory", g->path);
    if (dup) return pare_err_set(err, PARE_ERR_FORMAT, "%s: duplicate metadata key '%s'", g->path, dup);
    if ((s = read_alignment(g, err)) != PARE_OK) return s;
    for (; g->n_tensors < (int64_t)n_tensors; g->n_tensors++) {
        if (!pare_gguf_grow((void **)&g->tensors, &g->cap_tensors, g->n_tensors, sizeof *g->tensors))
            return pare_err_set(err, PARE_ERR_OOM, "%s: out of memory", g->path);
        if ((s = read_tensor_info(g, &r, &g->tensors[g->n_tensors])) != PARE_OK) return s;
    }
    if (build_index(g, &g->tensor_ix, g->n_tensors, tensor_name, &dup))
        return pare_err_set(err, PARE_ERR_OOM, "%s: out of memory", g->path);
    if (dup) return pare_err_set(err, PARE_ERR_FORMAT, "%s: duplicate tensor name '%s'", g->path, dup);
    g->data_off = r.pos + (g->alignment - r.pos % g->alignment) % g->alignment;
    if (g->data_off < r.pos) g->data_off = SIZE_MAX; /* wrapped: place_tensors reports it */
    return place_tensors(g, err);
}

pare_status pare_gguf_open_memory(const void *data, size_t len, const char *name, pare_gguf **out, pare_err *err) {
    *out = NULL;
    if (!name) name = "(memory)";
    if (!data && len) return pare_err_set(err, PARE_ERR_INVALID, "%s: NULL buffer", name);
    pare_gguf *g = calloc(1, sizeof *g);
    pare_arena *a = g ? pare_arena_create(1u << 16) : NULL;
    const char *path = a ? pare_arena_strdup(a, name, strlen(name)) : NULL;
    if (!path) {
        pare_arena_free(a);
        free(g);
        return pare_err_set(err, PARE_ERR_OOM, "%s: out of memory", name);
    }
    g->arena = a;
    g->path = path;
    g->data = data;
    g->len = len;
    pare_status s = parse(g, err);
    if (s != PARE_OK) {
        pare_gguf_close(g);
        return s;
    }
    *out = g;
    return PARE_OK;
}

pare_status pare_gguf_open(const char *path, pare_gguf **out, pare_err *err) {
    *out = NULL;
    void *map;
    size_t len;
    pare_status s = pare_tf_map(path, &map, &len, err);
    if (s != PARE_OK) return s;
    if ((s = pare_gguf_open_memory(map, len, path, out, err)) != PARE_OK) {
        if (map) munmap(map, len);
        return s;
    }
    (*out)->map = map;
    (*out)->map_len = len;
    return PARE_OK;
}

void pare_gguf_release(const pare_gguf *g, const pare_gguf_tensor *t) {
    if (!g || !t || !g->map || !t->data) return;
    const uintptr_t page = 4096, lo = (uintptr_t)t->data & ~(page - 1);
    const uintptr_t hi = ((uintptr_t)t->data + t->nbytes + page - 1) & ~(page - 1);
    const uintptr_t map_lo = (uintptr_t)g->map, map_hi = map_lo + g->map_len;
    if (lo < map_lo || hi > (map_hi + page - 1) / page * page) return;
    /* a read-only private file mapping: the pages come back from the page
     * cache if touched again */
    madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

void pare_gguf_close(pare_gguf *g) {
    if (!g) return;
    if (g->map) munmap(g->map, g->map_len);
    free(g->kvs);
    free(g->tensors);
    pare_arena_free(g->arena);
    free(g);
}

bool pare_is_gguf_file(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return false;
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    char magic[4];
    bool ok = fread(magic, 1, 4, f) == 4 && memcmp(magic, "GGUF", 4) == 0;
    fclose(f);
    return ok;
}
