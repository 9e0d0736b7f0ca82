/* GGUF accessors: file facts, typed metadata getters (by index and by key)
 * and tensor lookup. */
#include "io/gguf_impl.h"

#include <stdio.h>
#include <string.h>

const char *pare_gguf_path(const pare_gguf *g) { return g->path; }
uint32_t pare_gguf_version(const pare_gguf *g) { return g->version; }
size_t pare_gguf_file_size(const pare_gguf *g) { return g->len; }
uint32_t pare_gguf_alignment(const pare_gguf *g) { return g->alignment; }
size_t pare_gguf_data_offset(const pare_gguf *g) { return g->data_off; }
const uint8_t *pare_gguf_base(const pare_gguf *g) { return g->data; }

/* ---------------------------------------------------------------- by index */

int64_t pare_gguf_kv_count(const pare_gguf *g) { return g ? g->n_kv : 0; }

int64_t pare_gguf_find_key(const pare_gguf *g, const char *key) {
    return g ? pare_gguf_ix_find(g->kv_ix, g->n_kv, key) : -1;
}

static const gguf_kv *kv_at(const pare_gguf *g, int64_t i) {
    return g && i >= 0 && i < g->n_kv ? &g->kvs[i] : NULL;
}

const char *pare_gguf_kv_key(const pare_gguf *g, int64_t i) {
    const gguf_kv *kv = kv_at(g, i);
    return kv ? kv->key : NULL;
}

pare_gguf_type pare_gguf_kv_type(const pare_gguf *g, int64_t i) {
    const gguf_kv *kv = kv_at(g, i);
    return kv ? kv->type : PARE_GGUF_TYPE_COUNT;
}

/* Scalar of type t: little-endian bytes copied into out (x86 and ARM
 * hosts are little-endian; pare supports no other). */
static bool scalar(const pare_gguf *g, int64_t i, pare_gguf_type t, void *out) {
    const gguf_kv *kv = kv_at(g, i);
    if (!kv || kv->type != t || !out) return false;
    memcpy(out, kv->v.raw, pare_gguf_type_size(t));
    return true;
}

bool pare_gguf_kv_scalar(const pare_gguf *g, int64_t i, void *out) {
    const gguf_kv *kv = kv_at(g, i);
    return kv && kv->type != PARE_GGUF_STRING && kv->type != PARE_GGUF_ARRAY && scalar(g, i, kv->type, out);
}

bool pare_gguf_kv_u8(const pare_gguf *g, int64_t i, uint8_t *out) { return scalar(g, i, PARE_GGUF_U8, out); }
bool pare_gguf_kv_i8(const pare_gguf *g, int64_t i, int8_t *out) { return scalar(g, i, PARE_GGUF_I8, out); }
bool pare_gguf_kv_u16(const pare_gguf *g, int64_t i, uint16_t *out) { return scalar(g, i, PARE_GGUF_U16, out); }
bool pare_gguf_kv_i16(const pare_gguf *g, int64_t i, int16_t *out) { return scalar(g, i, PARE_GGUF_I16, out); }
bool pare_gguf_kv_u32(const pare_gguf *g, int64_t i, uint32_t *out) { return scalar(g, i, PARE_GGUF_U32, out); }
bool pare_gguf_kv_i32(const pare_gguf *g, int64_t i, int32_t *out) { return scalar(g, i, PARE_GGUF_I32, out); }
bool pare_gguf_kv_u64(const pare_gguf *g, int64_t i, uint64_t *out) { return scalar(g, i, PARE_GGUF_U64, out); }
bool pare_gguf_kv_i64(const pare_gguf *g, int64_t i, int64_t *out) { return scalar(g, i, PARE_GGUF_I64, out); }
bool pare_gguf_kv_f32(const pare_gguf *g, int64_t i, float *out) { return scalar(g, i, PARE_GGUF_F32, out); }
bool pare_gguf_kv_f64(const pare_gguf *g, int64_t i, double *out) { return scalar(g, i, PARE_GGUF_F64, out); }

bool pare_gguf_kv_bool(const pare_gguf *g, int64_t i, bool *out) {
    uint8_t b;
    if (!scalar(g, i, PARE_GGUF_BOOL, &b)) return false;
    *out = b != 0;
    return true;
}

bool pare_gguf_kv_str(const pare_gguf *g, int64_t i, pare_gguf_str *out) {
    const gguf_kv *kv = kv_at(g, i);
    if (!kv || kv->type != PARE_GGUF_STRING || !out) return false;
    *out = kv->v.str;
    return true;
}

bool pare_gguf_kv_int(const pare_gguf *g, int64_t i, int64_t *out) {
    const gguf_kv *kv = kv_at(g, i);
    if (!kv || !out) return false;
    union {
        uint8_t u8;
        int8_t i8;
        uint16_t u16;
        int16_t i16;
        uint32_t u32;
        int32_t i32;
        uint64_t u64;
        int64_t i64;
    } v;
    if (!scalar(g, i, kv->type, &v)) return false;
    switch (kv->type) {
    case PARE_GGUF_U8: *out = v.u8; return true;
    case PARE_GGUF_I8: *out = v.i8; return true;
    case PARE_GGUF_U16: *out = v.u16; return true;
    case PARE_GGUF_I16: *out = v.i16; return true;
    case PARE_GGUF_U32: *out = v.u32; return true;
    case PARE_GGUF_I32: *out = v.i32; return true;
    case PARE_GGUF_I64: *out = v.i64; return true;
    case PARE_GGUF_U64:
        if (v.u64 > (uint64_t)INT64_MAX) return false;
        *out = (int64_t)v.u64;
        return true;
    default: return false;
    }
}

bool pare_gguf_kv_arr(const pare_gguf *g, int64_t i, pare_gguf_type *elem, uint64_t *n) {
    const gguf_kv *kv = kv_at(g, i);
    if (!kv || kv->type != PARE_GGUF_ARRAY) return false;
    if (elem) *elem = kv->elem;
    if (n) *n = kv->n;
    return true;
}

const void *pare_gguf_kv_arr_data(const pare_gguf *g, int64_t i) {
    const gguf_kv *kv = kv_at(g, i);
    return kv && kv->type == PARE_GGUF_ARRAY && kv->elem != PARE_GGUF_STRING ? kv->v.arr : NULL;
}

const pare_gguf_str *pare_gguf_kv_arr_strs(const pare_gguf *g, int64_t i) {
    const gguf_kv *kv = kv_at(g, i);
    return kv && kv->type == PARE_GGUF_ARRAY && kv->elem == PARE_GGUF_STRING ? kv->v.strs : NULL;
}

bool pare_gguf_kv_arr_str(const pare_gguf *g, int64_t i, uint64_t j, pare_gguf_str *out) {
    const pare_gguf_str *s = pare_gguf_kv_arr_strs(g, i);
    if (!s || j >= g->kvs[i].n || !out) return false;
    *out = s[j];
    return true;
}

bool pare_gguf_str_copy(pare_gguf_str s, char *buf, size_t cap) {
    if (!buf || cap == 0) return false;
    size_t n = s.len < cap ? s.len : cap - 1;
    if (n) memcpy(buf, s.ptr, n);
    buf[n] = 0;
    return n == s.len;
}

/* ---------------------------------------------------------------- by key */

static pare_status wrong_type(const pare_gguf *g, int64_t i, const char *want, pare_err *err) {
    const gguf_kv *kv = &g->kvs[i];
    if (kv->type == PARE_GGUF_ARRAY)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: key '%s' is an array of %s, expected %s", g->path, kv->key,
                            pare_gguf_type_name(kv->elem), want);
    return pare_err_set(err, PARE_ERR_FORMAT, "%s: key '%s' is a %s, expected %s", g->path, kv->key,
                        pare_gguf_type_name(kv->type), want);
}

pare_status pare_gguf_get_int(const pare_gguf *g, const char *key, int64_t def, int64_t lo, int64_t hi,
                              int64_t *out, pare_err *err) {
    int64_t i = pare_gguf_find_key(g, key), v;
    if (i < 0) {
        *out = def;
        return PARE_OK;
    }
    if (!pare_gguf_kv_int(g, i, &v)) return wrong_type(g, i, "an integer", err);
    if (v < lo || v > hi)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: key '%s' = %lld is outside [%lld, %lld]", g->path, key,
                            (long long)v, (long long)lo, (long long)hi);
    *out = v;
    return PARE_OK;
}

pare_status pare_gguf_get_u32(const pare_gguf *g, const char *key, uint32_t def, uint32_t *out, pare_err *err) {
    int64_t v = 0;
    pare_status s = pare_gguf_get_int(g, key, def, 0, UINT32_MAX, &v, err);
    if (s == PARE_OK) *out = (uint32_t)v;
    return s;
}

pare_status pare_gguf_get_i32(const pare_gguf *g, const char *key, int32_t def, int32_t *out, pare_err *err) {
    int64_t v = 0;
    pare_status s = pare_gguf_get_int(g, key, def, INT32_MIN, INT32_MAX, &v, err);
    if (s == PARE_OK) *out = (int32_t)v;
    return s;
}

pare_status pare_gguf_get_f32(const pare_gguf *g, const char *key, float def, float *out, pare_err *err) {
    int64_t i = pare_gguf_find_key(g, key);
    double d;
    float f;
    if (i < 0) *out = def;
    else if (pare_gguf_kv_f32(g, i, &f)) *out = f;
    else if (pare_gguf_kv_f64(g, i, &d)) *out = (float)d;
    else return wrong_type(g, i, "a float", err);
    return PARE_OK;
}

pare_status pare_gguf_get_bool(const pare_gguf *g, const char *key, bool def, bool *out, pare_err *err) {
    int64_t i = pare_gguf_find_key(g, key);
    if (i < 0) *out = def;
    else if (!pare_gguf_kv_bool(g, i, out)) return wrong_type(g, i, "a bool", err);
    return PARE_OK;
}

pare_status pare_gguf_get_str(const pare_gguf *g, const char *key, const char *def, char *buf, size_t cap,
                              pare_err *err) {
    if (!buf || cap == 0) return pare_err_set(err, PARE_ERR_INVALID, "pare_gguf_get_str: no buffer");
    int64_t i = pare_gguf_find_key(g, key);
    pare_gguf_str s = {def ? def : "", def ? strlen(def) : 0};
    if (i >= 0 && !pare_gguf_kv_str(g, i, &s)) return wrong_type(g, i, "a string", err);
    if (memchr(s.ptr, 0, s.len) || !pare_gguf_str_copy(s, buf, cap))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: key '%s': string of %zu bytes %s", g->path, key, s.len,
                            memchr(s.ptr, 0, s.len) ? "holds a NUL byte" : "is too long");
    return PARE_OK;
}

pare_status pare_gguf_get_arr(const pare_gguf *g, const char *key, pare_gguf_type elem, int64_t *index,
                              uint64_t *n, pare_err *err) {
    int64_t i = pare_gguf_find_key(g, key);
    *index = i;
    *n = 0;
    if (i < 0) return PARE_OK;
    pare_gguf_type et;
    if (!pare_gguf_kv_arr(g, i, &et, n) || et != elem) {
        char want[32];
        snprintf(want, sizeof want, "an array of %s", pare_gguf_type_name(elem));
        *n = 0;
        return wrong_type(g, i, want, err);
    }
    return PARE_OK;
}

/* ---------------------------------------------------------------- tensors */

int64_t pare_gguf_tensor_count(const pare_gguf *g) { return g ? g->n_tensors : 0; }

const pare_gguf_tensor *pare_gguf_tensor_get(const pare_gguf *g, int64_t i) {
    return g && i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

const pare_gguf_tensor *pare_gguf_tensor_find(const pare_gguf *g, const char *name) {
    int64_t i = g ? pare_gguf_ix_find(g->tensor_ix, g->n_tensors, name) : -1;
    return i >= 0 ? &g->tensors[i] : NULL;
}
