/* GGUF value types and tensor sizes, shared by the reader and the writer. */
#include "pare/gguf.h"
#include "pare/quant.h"

static const struct {
    const char *name;
    size_t size;
} gguf_types[PARE_GGUF_TYPE_COUNT] = {
    [PARE_GGUF_U8] = {"u8", 1},       [PARE_GGUF_I8] = {"i8", 1},     [PARE_GGUF_U16] = {"u16", 2},
    [PARE_GGUF_I16] = {"i16", 2},     [PARE_GGUF_U32] = {"u32", 4},   [PARE_GGUF_I32] = {"i32", 4},
    [PARE_GGUF_F32] = {"f32", 4},     [PARE_GGUF_BOOL] = {"bool", 1}, [PARE_GGUF_STRING] = {"string", 0},
    [PARE_GGUF_ARRAY] = {"array", 0}, [PARE_GGUF_U64] = {"u64", 8},   [PARE_GGUF_I64] = {"i64", 8},
    [PARE_GGUF_F64] = {"f64", 8},
};

const char *pare_gguf_type_name(pare_gguf_type t) {
    return (unsigned)t < PARE_GGUF_TYPE_COUNT ? gguf_types[t].name : "?";
}

size_t pare_gguf_type_size(pare_gguf_type t) {
    return (unsigned)t < PARE_GGUF_TYPE_COUNT ? gguf_types[t].size : 0;
}

bool pare_gguf_tensor_nbytes(uint32_t type, int32_t n_dims, const int64_t *ne, size_t *out) {
    if (!pare_qtype_get(type) || n_dims < 0 || n_dims > PARE_GGUF_MAX_DIMS) return false;
    int64_t row = n_dims > 0 ? ne[0] : 1;
    size_t bytes;
    if (row <= 0 || !pare_qtype_row_size((pare_qtype)type, row, &bytes)) return false;
    for (int32_t d = 1; d < n_dims; d++)
        if (ne[d] <= 0 || !pare_mul_size(bytes, (size_t)ne[d], &bytes)) return false;
    *out = bytes;
    return true;
}

int64_t pare_gguf_tensor_nelem(const pare_gguf_tensor *t) {
    int64_t n = 1;
    for (int32_t d = 0; d < t->n_dims; d++)
        if (__builtin_mul_overflow(n, t->ne[d], &n)) return -1;
    return n;
}
