/* GGUF writer: metadata is serialized as it is added; tensors are listed
 * and their data (borrowed) written at the end, each at an offset padded
 * to the alignment. Output is GGUF v3, little-endian. */
#include "io/gguf_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct wtensor {
    char *name;
    uint32_t type;
    int32_t n_dims;
    int64_t ne[PARE_GGUF_MAX_DIMS];
    const void *data;
    size_t nbytes;
} wtensor;

typedef struct wbuf {
    uint8_t *p;
    size_t len, cap;
} wbuf;

struct pare_gguf_writer {
    wbuf kv;          /* serialized metadata section */
    char **keys;      /* [n_kv], for duplicate checks */
    int64_t n_kv, cap_keys;
    wtensor *tensors; /* [n_tensors] */
    int64_t n_tensors, cap_tensors;
    uint32_t alignment;
};

static bool put(wbuf *b, const void *src, size_t n) {
    if (n > b->cap - b->len) {
        size_t c = b->cap ? b->cap : 256;
        while (c - b->len < n) {
            if (c > SIZE_MAX / 2) return false;
            c *= 2;
        }
        uint8_t *q = realloc(b->p, c);
        if (!q) return false;
        b->p = q;
        b->cap = c;
    }
    if (n) memcpy(b->p + b->len, src, n);
    b->len += n;
    return true;
}

static bool put_le(wbuf *b, uint64_t v, int n) {
    uint8_t x[8];
    for (int i = 0; i < n; i++) x[i] = (uint8_t)(v >> (8 * i));
    return put(b, x, (size_t)n);
}

static bool put_str(wbuf *b, const char *s, size_t n) { return put_le(b, n, 8) && put(b, s, n); }

pare_gguf_writer *pare_gguf_writer_create(void) {
    pare_gguf_writer *w = calloc(1, sizeof *w);
    if (w) w->alignment = PARE_GGUF_DEFAULT_ALIGNMENT;
    return w;
}

void pare_gguf_writer_free(pare_gguf_writer *w) {
    if (!w) return;
    for (int64_t i = 0; i < w->n_kv; i++) free(w->keys[i]);
    for (int64_t i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
    free(w->keys);
    free(w->tensors);
    free(w->kv.p);
    free(w);
}

static char *dup_str(const char *s) {
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

static pare_status oom(pare_err *err) { return pare_err_set(err, PARE_ERR_OOM, "gguf writer: out of memory"); }

/* Start a kv: check and remember the key, write it and the type. On
 * failure the key is not recorded (the caller writes nothing else). */
static pare_status begin_kv(pare_gguf_writer *w, const char *key, pare_gguf_type type, pare_err *err) {
    if (!w || !key) return pare_err_set(err, PARE_ERR_INVALID, "gguf writer: NULL writer or key");
    for (int64_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->keys[i], key) == 0)
            return pare_err_set(err, PARE_ERR_INVALID, "gguf writer: duplicate key '%s'", key);
    char *k = dup_str(key);
    if (!k || !pare_gguf_grow((void **)&w->keys, &w->cap_keys, w->n_kv, sizeof *w->keys)) {
        free(k);
        return oom(err);
    }
    if (!put_str(&w->kv, key, strlen(key)) || !put_le(&w->kv, (uint32_t)type, 4)) {
        free(k);
        return oom(err);
    }
    w->keys[w->n_kv++] = k;
    return PARE_OK;
}

/* One scalar value of type t from src (bool: a C bool). */
static bool put_scalar(wbuf *b, pare_gguf_type t, const void *src) {
    if (t == PARE_GGUF_BOOL) return put_le(b, *(const bool *)src ? 1 : 0, 1);
    return put(b, src, pare_gguf_type_size(t));
}

static bool is_scalar(pare_gguf_type t) { return (unsigned)t < PARE_GGUF_TYPE_COUNT && pare_gguf_type_size(t) > 0; }

pare_status pare_gguf_writer_add_scalar(pare_gguf_writer *w, const char *key, pare_gguf_type type,
                                        const void *value, pare_err *err) {
    if (!is_scalar(type) || !value)
        return pare_err_set(err, PARE_ERR_INVALID, "gguf writer: key '%s': type %d is not a scalar type",
                            key ? key : "(null)", (int)type);
    bool is_align = key && strcmp(key, "general.alignment") == 0;
    uint32_t a = 0;
    if (is_align) {
        if (type == PARE_GGUF_U32) memcpy(&a, value, sizeof a);
        if (a == 0 || (a & (a - 1)) != 0)
            return pare_err_set(err, PARE_ERR_INVALID, "gguf writer: general.alignment must be a power-of-two u32");
    }
    pare_status s = begin_kv(w, key, type, err);
    if (s != PARE_OK) return s;
    if (!put_scalar(&w->kv, type, value)) return oom(err);
    if (is_align) w->alignment = a;
    return PARE_OK;
}

pare_status pare_gguf_writer_add_u32(pare_gguf_writer *w, const char *key, uint32_t v, pare_err *err) {
    return pare_gguf_writer_add_scalar(w, key, PARE_GGUF_U32, &v, err);
}
pare_status pare_gguf_writer_add_i32(pare_gguf_writer *w, const char *key, int32_t v, pare_err *err) {
    return pare_gguf_writer_add_scalar(w, key, PARE_GGUF_I32, &v, err);
}
pare_status pare_gguf_writer_add_f32(pare_gguf_writer *w, const char *key, float v, pare_err *err) {
    return pare_gguf_writer_add_scalar(w, key, PARE_GGUF_F32, &v, err);
}
pare_status pare_gguf_writer_add_bool(pare_gguf_writer *w, const char *key, bool v, pare_err *err) {
    return pare_gguf_writer_add_scalar(w, key, PARE_GGUF_BOOL, &v, err);
}

pare_status pare_gguf_writer_add_strn(pare_gguf_writer *w, const char *key, const char *s, size_t len,
                                      pare_err *err) {
    if (!s && len) return pare_err_set(err, PARE_ERR_INVALID, "gguf writer: key '%s': NULL string", key);
    pare_status st = begin_kv(w, key, PARE_GGUF_STRING, err);
    if (st == PARE_OK && !put_str(&w->kv, s, len)) st = oom(err);
    return st;
}

pare_status pare_gguf_writer_add_str(pare_gguf_writer *w, const char *key, const char *s, pare_err *err) {
    return pare_gguf_writer_add_strn(w, key, s, s ? strlen(s) : 0, err);
}

pare_status pare_gguf_writer_add_array(pare_gguf_writer *w, const char *key, pare_gguf_type elem,
                                       const void *data, uint64_t n, pare_err *err) {
    if ((!is_scalar(elem) && elem != PARE_GGUF_STRING) || (n && !data))
        return pare_err_set(err, PARE_ERR_INVALID, "gguf writer: key '%s': bad array (element type %d)",
                            key ? key : "(null)", (int)elem);
    const char *const *strs = data;
    for (uint64_t j = 0; elem == PARE_GGUF_STRING && j < n; j++)
        if (!strs[j]) return pare_err_set(err, PARE_ERR_INVALID, "gguf writer: key '%s': NULL string", key);
    pare_status s = begin_kv(w, key, PARE_GGUF_ARRAY, err);
    if (s != PARE_OK) return s;
    bool ok = put_le(&w->kv, (uint32_t)elem, 4) && put_le(&w->kv, n, 8);
    size_t esize = elem == PARE_GGUF_BOOL ? sizeof(bool) : pare_gguf_type_size(elem);
    for (uint64_t j = 0; ok && j < n; j++)
        ok = elem == PARE_GGUF_STRING ? put_str(&w->kv, strs[j], strlen(strs[j]))
                                      : put_scalar(&w->kv, elem, (const uint8_t *)data + j * esize);
    return ok ? PARE_OK : oom(err);
}

pare_status pare_gguf_writer_add_arr_str(pare_gguf_writer *w, const char *key, const char *const *v, uint64_t n,
                                         pare_err *err) {
    return pare_gguf_writer_add_array(w, key, PARE_GGUF_STRING, v, n, err);
}
pare_status pare_gguf_writer_add_arr_i32(pare_gguf_writer *w, const char *key, const int32_t *v, uint64_t n,
                                         pare_err *err) {
    return pare_gguf_writer_add_array(w, key, PARE_GGUF_I32, v, n, err);
}
pare_status pare_gguf_writer_add_arr_f32(pare_gguf_writer *w, const char *key, const float *v, uint64_t n,
                                         pare_err *err) {
    return pare_gguf_writer_add_array(w, key, PARE_GGUF_F32, v, n, err);
}

pare_status pare_gguf_writer_add_tensor(pare_gguf_writer *w, const char *name, uint32_t type, int32_t n_dims,
                                        const int64_t *ne, const void *data, size_t nbytes, pare_err *err) {
    if (!w || !name || (n_dims > 0 && !ne) || !data)
        return pare_err_set(err, PARE_ERR_INVALID, "gguf writer: tensor '%s': NULL argument", name ? name : "(null)");
    size_t need;
    if (!pare_gguf_tensor_nbytes(type, n_dims, ne, &need))
        return pare_err_set(err, PARE_ERR_INVALID, "gguf writer: tensor '%s': bad type %u or shape", name, type);
    if (need != nbytes)
        return pare_err_set(err, PARE_ERR_INVALID, "gguf writer: tensor '%s': %zu bytes given, type and shape need %zu",
                            name, nbytes, need);
    for (int64_t i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return pare_err_set(err, PARE_ERR_INVALID, "gguf writer: duplicate tensor '%s'", name);
    if (!pare_gguf_grow((void **)&w->tensors, &w->cap_tensors, w->n_tensors, sizeof *w->tensors)) return oom(err);
    wtensor *t = &w->tensors[w->n_tensors];
    *t = (wtensor){.name = dup_str(name), .type = type, .n_dims = n_dims, .data = data, .nbytes = nbytes};
    if (!t->name) return oom(err);
    for (int d = 0; d < PARE_GGUF_MAX_DIMS; d++) t->ne[d] = d < n_dims ? ne[d] : 1;
    w->n_tensors++;
    return PARE_OK;
}

static size_t pad_to(size_t n, size_t a) { return (a - n % a) % a; }

/* Header, metadata and tensor infos, in memory (they are small). */
static bool build_head(const pare_gguf_writer *w, wbuf *h) {
    bool ok = put(h, "GGUF", 4) && put_le(h, 3, 4) && put_le(h, (uint64_t)w->n_tensors, 8) &&
              put_le(h, (uint64_t)w->n_kv, 8) && put(h, w->kv.p, w->kv.len);
    uint64_t off = 0;
    for (int64_t i = 0; ok && i < w->n_tensors; i++) {
        const wtensor *t = &w->tensors[i];
        ok = put_str(h, t->name, strlen(t->name)) && put_le(h, (uint32_t)t->n_dims, 4);
        for (int d = 0; ok && d < t->n_dims; d++) ok = put_le(h, (uint64_t)t->ne[d], 8);
        ok = ok && put_le(h, t->type, 4) && put_le(h, off, 8);
        off += t->nbytes + pad_to(t->nbytes, w->alignment);
    }
    static const uint8_t zeros[64] = {0};
    size_t pad = pad_to(h->len, w->alignment);
    while (ok && pad) {
        size_t k = pad < sizeof zeros ? pad : sizeof zeros;
        ok = put(h, zeros, k);
        pad -= k;
    }
    return ok;
}

static bool write_zeros(FILE *fp, size_t n) {
    for (; n; n--)
        if (fputc(0, fp) == EOF) return false;
    return true;
}

pare_status pare_gguf_writer_write(const pare_gguf_writer *w, const char *path, pare_err *err) {
    if (!w || !path) return pare_err_set(err, PARE_ERR_INVALID, "pare_gguf_writer_write: bad arguments");
    wbuf h = {0};
    if (!build_head(w, &h)) {
        free(h.p);
        return oom(err);
    }
    pare_wfile wf;
    pare_status s = pare_wfile_open(&wf, path, err);
    if (s) {
        free(h.p);
        return s;
    }
    FILE *fp = wf.f;
    bool ok = fwrite(h.p, 1, h.len, fp) == h.len;
    free(h.p);
    for (int64_t i = 0; ok && i < w->n_tensors; i++) {
        const wtensor *t = &w->tensors[i];
        ok = fwrite(t->data, 1, t->nbytes, fp) == t->nbytes && write_zeros(fp, pad_to(t->nbytes, w->alignment));
    }
    if (!ok) {
        int e = errno;
        pare_wfile_abort(&wf);
        return pare_err_set(err, PARE_ERR_WRITE, "%s: write failed: %s", path, strerror(e));
    }
    return pare_wfile_commit(&wf, err);
}
