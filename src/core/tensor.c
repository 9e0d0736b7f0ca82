/* Tensor helpers: element counts, shapes, conversion to f32. */
#include "pare/core.h"

#include <string.h>

int64_t pare_tensor_nelem(const pare_tensor *t) {
    int64_t n = 1;
    for (int32_t i = 0; i < t->n_dims; i++) {
        if (t->shape[i] < 0 || __builtin_mul_overflow(n, t->shape[i], &n)) return -1;
    }
    return n;
}

bool pare_tensor_has_shape(const pare_tensor *t, int32_t n_dims, const int64_t *shape) {
    if (t->n_dims != n_dims) return false;
    for (int32_t i = 0; i < n_dims; i++)
        if (t->shape[i] != shape[i]) return false;
    return true;
}

const char *pare_shape_str(const pare_tensor *t, char *buf, size_t cap) {
    size_t off = 0;
    if (cap == 0) return buf;
    buf[0] = 0;
    off += (size_t)snprintf(buf + off, cap - off, "[");
    for (int32_t i = 0; i < t->n_dims && off < cap; i++)
        off += (size_t)snprintf(buf + off, cap - off, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    if (off < cap) snprintf(buf + off, cap - off, "]");
    return buf;
}

pare_status pare_convert_to_f32(pare_dtype src_type, const void *src, float *dst, int64_t n,
                                pare_err *err) {
    switch (src_type) {
    case PARE_DTYPE_F32:
        memcpy(dst, src, (size_t)n * 4);
        return PARE_OK;
    case PARE_DTYPE_F16: {
        const uint16_t *s = src;
        for (int64_t i = 0; i < n; i++) dst[i] = pare_f16_to_f32(s[i]);
        return PARE_OK;
    }
    case PARE_DTYPE_BF16: {
        const uint16_t *s = src;
        for (int64_t i = 0; i < n; i++) dst[i] = pare_bf16_to_f32(s[i]);
        return PARE_OK;
    }
    case PARE_DTYPE_F64: {
        const double *s = src;
        for (int64_t i = 0; i < n; i++) dst[i] = (float)s[i];
        return PARE_OK;
    }
    default: {
        const pare_dtype_info *d = pare_dtype_get(src_type);
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "cannot convert dtype %s to f32",
                            d ? d->name : "?");
    }
    }
}
