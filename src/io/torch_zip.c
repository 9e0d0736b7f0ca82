/* PyTorch zip checkpoints (torch.save since 1.6, HF pytorch_model.bin):
 * <archive>/data.pkl describes the object through a restricted pickle
 * (pickle.c); tensor bytes live in stored entries <archive>/data/<key>.
 * Contiguous tensors point into the mapping; other layouts are copied
 * into the file's arena. Nested dicts are flattened with dotted names. */
#include "io/pickle.h"
#include "io/tensor_file.h"
#include "io/zip.h"

#include <stdlib.h>
#include <string.h>

#define TORCH_MAX_DEPTH 32
#define TORCH_MAX_VISITS (1u << 22) /* nodes and dict entries walked */
#define TORCH_MAX_NAME_BYTES ((size_t)64 << 20)
#define TORCH_MIN_COPY_CAP ((size_t)64 << 20)

typedef struct torch_ctx {
    pare_tensor_file *f;
    const pare_zip_entry *entries;
    size_t n_entries;
    const char *prefix;        /* "archive" */
    size_t prefix_len;
    pare_tensor *out;          /* malloc'd, grows */
    size_t n, cap;
    size_t visits;
    size_t copied, copy_cap;   /* bytes materialised so far, and the limit */
    size_t name_bytes;         /* total bytes of tensor names */
    pare_err *err;
} torch_ctx;

/* Copy a strided view into dst, element by element (row-major order). */
static void gather(uint8_t *dst, const uint8_t *src, size_t el, int32_t nd, const int64_t *shape,
                   const int64_t *stride, int64_t nelem) {
    int64_t idx[PARE_MAX_DIMS] = {0};
    int64_t off = 0;
    for (int64_t i = 0; i < nelem; i++) {
        memcpy(dst + (size_t)i * el, src + (size_t)off * el, el);
        for (int32_t d = nd - 1; d >= 0; d--) {
            if (++idx[d] < shape[d]) {
                off += stride[d];
                break;
            }
            off -= stride[d] * (shape[d] - 1);
            idx[d] = 0;
        }
    }
}

static pare_status resolve(torch_ctx *c, const pk_obj *t, const char *name, pare_tensor *out) {
    const char *path = c->f->path;
    const pk_obj *st = t->u.tensor.storage;
    pare_dtype dt = st->u.storage.dtype;
    size_t el = pare_dtype_get(dt)->block_bytes;
    /* <prefix>/data/<key> */
    size_t klen = strlen(st->u.storage.key), nlen = c->prefix_len + 6 + klen;
    char *ename = malloc(nlen + 1);
    if (!ename) return pare_err_set(c->err, PARE_ERR_OOM, "%s: out of memory", path);
    memcpy(ename, c->prefix, c->prefix_len);
    memcpy(ename + c->prefix_len, "/data/", 6);
    memcpy(ename + c->prefix_len + 6, st->u.storage.key, klen + 1);
    const pare_zip_entry *e = pare_zip_find(c->entries, c->n_entries, ename, nlen);
    free(ename);
    if (!e)
        return pare_err_set(c->err, PARE_ERR_FORMAT, "%s: tensor '%s': storage '%.100s' has no data entry", path,
                            name, st->u.storage.key);
    size_t sbytes;
    if (!pare_dtype_nbytes(dt, st->u.storage.numel, &sbytes))
        return pare_err_set(c->err, PARE_ERR_FORMAT, "%s: tensor '%s': storage numel %lld overflows", path, name,
                            (long long)st->u.storage.numel);
    if (sbytes != e->size)
        return pare_err_set(c->err, PARE_ERR_FORMAT,
                            "%s: tensor '%s': storage '%.100s' has %zu bytes but %lld %s elements need %zu", path,
                            name, st->u.storage.key, e->size, (long long)st->u.storage.numel,
                            pare_dtype_get(dt)->name, sbytes);
    out->dtype = dt;
    out->n_dims = t->u.tensor.n_dims;
    int64_t nelem = 1, last = t->u.tensor.offset, want = 1;
    bool contiguous = true;
    for (int32_t d = out->n_dims - 1; d >= 0; d--) {
        int64_t sz = t->u.tensor.shape[d], sd = t->u.tensor.stride[d], span;
        out->shape[d] = sz;
        if (__builtin_mul_overflow(nelem, sz, &nelem))
            return pare_err_set(c->err, PARE_ERR_FORMAT, "%s: tensor '%s': element count overflows", path, name);
        if (sz > 0 && (__builtin_mul_overflow(sz - 1, sd, &span) || __builtin_add_overflow(last, span, &last)))
            return pare_err_set(c->err, PARE_ERR_FORMAT, "%s: tensor '%s': strides overflow", path, name);
        if (sz != 1 && sd != want) contiguous = false;
        if (__builtin_mul_overflow(want, sz, &want)) want = -1;
    }
    size_t nbytes;
    if (!pare_dtype_nbytes(dt, nelem, &nbytes))
        return pare_err_set(c->err, PARE_ERR_FORMAT, "%s: tensor '%s': byte count overflows", path, name);
    out->nbytes = nbytes;
    if (nelem == 0) {
        out->data = (void *)e->data;
        return PARE_OK;
    }
    if (last >= st->u.storage.numel)
        return pare_err_set(c->err, PARE_ERR_FORMAT,
                            "%s: tensor '%s': offset %lld with its size and stride reaches element %lld of a "
                            "%lld-element storage",
                            path, name, (long long)t->u.tensor.offset, (long long)last,
                            (long long)st->u.storage.numel);
    const uint8_t *base = e->data + (size_t)t->u.tensor.offset * el;
    if (contiguous) {
        out->data = (void *)base;
        return PARE_OK;
    }
    if (nbytes > c->copy_cap - c->copied)
        return pare_err_set(c->err, PARE_ERR_UNSUPPORTED,
                            "%s: tensor '%s': copying non-contiguous tensors would take more than %zu bytes", path,
                            name, c->copy_cap);
    c->copied += nbytes;
    uint8_t *dst = pare_arena_alloc(c->f->arena, nbytes, 64);
    if (!dst) return pare_err_set(c->err, PARE_ERR_OOM, "%s: tensor '%s': out of memory (%zu bytes)", path, name, nbytes);
    gather(dst, base, el, out->n_dims, t->u.tensor.shape, t->u.tensor.stride, nelem);
    out->data = dst;
    return PARE_OK;
}

static pare_status add_tensor(torch_ctx *c, const pk_obj *t, const char *name, size_t name_len) {
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 64;
        pare_tensor *nt = realloc(c->out, nc * sizeof *nt);
        if (!nt) return pare_err_set(c->err, PARE_ERR_OOM, "%s: out of memory", c->f->path);
        c->out = nt;
        c->cap = nc;
    }
    c->name_bytes += name_len + 1;
    if (c->name_bytes > TORCH_MAX_NAME_BYTES)
        return pare_err_set(c->err, PARE_ERR_UNSUPPORTED, "%s: tensor names take more than %zu bytes", c->f->path,
                            TORCH_MAX_NAME_BYTES);
    pare_tensor *o = &c->out[c->n];
    memset(o, 0, sizeof *o);
    o->name = pare_arena_strdup(c->f->arena, name, name_len);
    if (!o->name) return pare_err_set(c->err, PARE_ERR_OOM, "%s: out of memory", c->f->path);
    pare_status s = resolve(c, t, o->name, o);
    if (s == PARE_OK) c->n++;
    return s;
}

/* Walk dicts (and tensors inside them) collecting "a.b.c" names. */
static pare_status walk(torch_ctx *c, const pk_obj *o, char *name, size_t name_len, size_t name_cap, int depth) {
    if (++c->visits > TORCH_MAX_VISITS)
        return pare_err_set(c->err, PARE_ERR_UNSUPPORTED, "%s: object graph has more than %u nodes", c->f->path,
                            TORCH_MAX_VISITS);
    if (o->kind == PK_TENSOR) return add_tensor(c, o, name, name_len);
    if (o->kind != PK_DICT) return PARE_OK;
    /* the work is the entries looked at, not the nodes: dicts shared by many
     * parents (a DAG) are walked once per parent */
    c->visits += o->u.seq.n / 2;
    if (c->visits > TORCH_MAX_VISITS)
        return pare_err_set(c->err, PARE_ERR_UNSUPPORTED, "%s: walking the object graph takes more than %u steps "
                            "(dicts shared by many parents?)", c->f->path, TORCH_MAX_VISITS);
    if (depth >= TORCH_MAX_DEPTH)
        return pare_err_set(c->err, PARE_ERR_UNSUPPORTED, "%s: dicts nested deeper than %d", c->f->path,
                            TORCH_MAX_DEPTH);
    for (size_t i = 0; i + 1 < o->u.seq.n; i += 2) {
        const pk_obj *k = o->u.seq.items[i], *v = o->u.seq.items[i + 1];
        if (k->kind != PK_STR || (v->kind != PK_TENSOR && v->kind != PK_DICT)) continue;
        size_t sep = name_len ? 1 : 0, nl = name_len + sep + k->u.str.len;
        if (nl >= name_cap)
            return pare_err_set(c->err, PARE_ERR_UNSUPPORTED, "%s: tensor name longer than %zu bytes", c->f->path,
                                name_cap - 1);
        if (sep) name[name_len] = '.';
        memcpy(name + name_len + sep, k->u.str.s, k->u.str.len);
        name[nl] = 0;
        pare_status s = walk(c, v, name, nl, name_cap, depth + 1);
        name[name_len] = 0;
        if (s != PARE_OK) return s;
    }
    return PARE_OK;
}

/* The archive folder: the entry "<prefix>/data.pkl" with a one-level prefix. */
static const pare_zip_entry *find_pickle(const pare_zip_entry *e, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const char *slash = memchr(e[i].name, '/', e[i].name_len);
        if (slash && slash > e[i].name && (size_t)(e[i].name + e[i].name_len - slash) == 9 &&
            memcmp(slash, "/data.pkl", 9) == 0)
            return &e[i];
    }
    return NULL;
}

static pare_status load(torch_ctx *c, pare_arena *scratch) {
    pare_tensor_file *f = c->f;
    const pare_zip_entry *pk = find_pickle(c->entries, c->n_entries);
    if (!pk) return pare_err_set(c->err, PARE_ERR_FORMAT, "%s: zip has no <archive>/data.pkl entry", f->path);
    c->prefix_len = (size_t)((const char *)memchr(pk->name, '/', pk->name_len) - pk->name);
    c->prefix = pare_arena_strdup(scratch, pk->name, c->prefix_len);
    char *bo = pare_arena_alloc(scratch, c->prefix_len + 11, 1);
    if (!c->prefix || !bo) return pare_err_set(c->err, PARE_ERR_OOM, "%s: out of memory", f->path);
    memcpy(bo, c->prefix, c->prefix_len);
    memcpy(bo + c->prefix_len, "/byteorder", 10);
    const pare_zip_entry *b = pare_zip_find(c->entries, c->n_entries, bo, c->prefix_len + 10);
    if (b && !(b->size == 6 && memcmp(b->data, "little", 6) == 0))
        return pare_err_set(c->err, PARE_ERR_UNSUPPORTED, "%s: byteorder is '%.*s', only 'little' is supported",
                            f->path, (int)(b->size > 16 ? 16 : b->size), (const char *)b->data);
    const pk_obj *root;
    pare_status s = pare_pickle_load(pk->data, pk->size, f->path, scratch, &root, c->err);
    if (s != PARE_OK) return s;
    char name[1024] = {0};
    s = walk(c, root, name, 0, sizeof name, 0);
    if (s != PARE_OK) return s;
    if (c->n) {
        f->tensors = pare_arena_alloc(f->arena, c->n * sizeof *f->tensors, 64);
        if (!f->tensors) return pare_err_set(c->err, PARE_ERR_OOM, "%s: out of memory", f->path);
        memcpy(f->tensors, c->out, c->n * sizeof *f->tensors);
    }
    f->n = (int64_t)c->n;
    return pare_tf_index(f, c->err);
}

pare_status pare_torch_open_memory(const void *data, size_t len, const char *name, pare_tensor_file **out,
                                   pare_err *err) {
    *out = NULL;
    if (!name) name = "(memory)";
    if (!data && len) return pare_err_set(err, PARE_ERR_INVALID, "%s: NULL buffer", name);
    pare_tensor_file *f;
    pare_status s = pare_tf_create(PARE_FORMAT_TORCH_ZIP, data, len, name, &f, err);
    if (s != PARE_OK) return s;
    torch_ctx c = {.f = f, .err = err};
    c.copy_cap = len > TORCH_MIN_COPY_CAP / 4 ? len * 4 : TORCH_MIN_COPY_CAP;
    pare_arena *scratch = pare_arena_create(1u << 16);
    s = scratch ? pare_zip_read(data, len, f->path, (pare_zip_entry **)&c.entries, &c.n_entries, err)
                : pare_err_set(err, PARE_ERR_OOM, "%s: out of memory", name);
    if (s == PARE_OK) s = load(&c, scratch);
    free((void *)c.entries);
    free(c.out);
    pare_arena_free(scratch);
    if (s != PARE_OK) {
        pare_tensor_file_close(f);
        return s;
    }
    *out = f;
    return PARE_OK;
}

pare_status pare_torch_open(const char *path, pare_tensor_file **out, pare_err *err) {
    return pare_tf_open_with(path, pare_torch_open_memory, out, err);
}
