/* GGUF: the llama.cpp / ggml single-file model format. A zero-copy reader
 * (the file is mapped; tensor data and strings point into the mapping) and
 * a writer. Byte layout and the checks made are in docs/formats.md.
 *
 *   u32 magic "GGUF" | u32 version (2 or 3) | u64 n_tensors | u64 n_kv
 *   n_kv      x { string key | u32 type | value }
 *   n_tensors x { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml type | u64 offset }
 *   padding to general.alignment (default 32)
 *   data section: tensor data at the offsets, each aligned
 *
 * string = u64 length + bytes (no NUL); value = scalar, string, or
 * { u32 elem type | u64 n | n elems } for arrays (nested arrays are
 * refused). All integers are little-endian.
 *
 * Tensor shapes are in ggml order: ne[0] is the contiguous (row) length,
 * the reverse of PyTorch's shape. A GGUF string is not NUL-terminated:
 * strings are handed out as (ptr, len). Keys and tensor names are copied
 * NUL-terminated (a key or name holding a NUL byte is refused).
 */
#ifndef PARE_GGUF_H
#define PARE_GGUF_H

#include "pare/core.h"
#include "pare/qtypes.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Value types; ids are GGUF's. */
typedef enum pare_gguf_type {
    PARE_GGUF_U8 = 0,
    PARE_GGUF_I8 = 1,
    PARE_GGUF_U16 = 2,
    PARE_GGUF_I16 = 3,
    PARE_GGUF_U32 = 4,
    PARE_GGUF_I32 = 5,
    PARE_GGUF_F32 = 6,
    PARE_GGUF_BOOL = 7,
    PARE_GGUF_STRING = 8,
    PARE_GGUF_ARRAY = 9,
    PARE_GGUF_U64 = 10,
    PARE_GGUF_I64 = 11,
    PARE_GGUF_F64 = 12,
    PARE_GGUF_TYPE_COUNT
} pare_gguf_type;

#define PARE_GGUF_DEFAULT_ALIGNMENT 32
#define PARE_GGUF_MAX_DIMS 4

/* "u32", "string", "array", ...; "?" for unknown ids. */
const char *pare_gguf_type_name(pare_gguf_type t);
/* Bytes of one scalar; 0 for string, array and unknown ids. */
size_t pare_gguf_type_size(pare_gguf_type t);

/* A string inside the file (or the writer): not NUL-terminated. */
typedef struct pare_gguf_str {
    const char *ptr;
    size_t len;
} pare_gguf_str;

typedef struct pare_gguf_tensor {
    const char *name;     /* NUL-terminated, owned by the pare_gguf */
    uint32_t type;        /* ggml type id (pare_qtype); pare_qtype_get(type) is non-NULL */
    int32_t n_dims;       /* 0..4 */
    int64_t ne[PARE_GGUF_MAX_DIMS]; /* ggml order, ne[0] contiguous; 1 past n_dims */
    uint64_t offset;      /* from the start of the data section */
    const void *data;     /* into the mapping, general.alignment-aligned in the file */
    size_t nbytes;
} pare_gguf_tensor;

typedef struct pare_gguf pare_gguf;

/* ---------------------------------------------------------------- reader */

pare_status pare_gguf_open(const char *path, pare_gguf **out, pare_err *err);
/* Parse a buffer (fuzzing, tests). The buffer must outlive the object;
 * name is used in error messages. */
pare_status pare_gguf_open_memory(const void *data, size_t len, const char *name, pare_gguf **out,
                                  pare_err *err);
void pare_gguf_close(pare_gguf *g);
/* Drop a tensor's pages from this process's resident memory (madvise
 * MADV_DONTNEED on the read-only file mapping; a later read faults them in
 * again from the page cache). Nothing for files opened from memory. For
 * layer-by-layer passes over files larger than the memory they may use. */
void pare_gguf_release(const pare_gguf *g, const pare_gguf_tensor *t);
/* True if path is a regular file that starts with the GGUF magic. */
bool pare_is_gguf_file(const char *path);

const char *pare_gguf_path(const pare_gguf *g);
uint32_t pare_gguf_version(const pare_gguf *g);
size_t pare_gguf_file_size(const pare_gguf *g);
uint32_t pare_gguf_alignment(const pare_gguf *g);
size_t pare_gguf_data_offset(const pare_gguf *g); /* file offset of the data section */
const uint8_t *pare_gguf_base(const pare_gguf *g); /* byte 0 of the file */

/* Metadata, in file order. Index functions take i in [0, count); out of
 * range or a type mismatch gives false (or NULL / 0). */
int64_t pare_gguf_kv_count(const pare_gguf *g);
int64_t pare_gguf_find_key(const pare_gguf *g, const char *key); /* -1 if absent */
const char *pare_gguf_kv_key(const pare_gguf *g, int64_t i);
pare_gguf_type pare_gguf_kv_type(const pare_gguf *g, int64_t i);

/* The raw bytes of a scalar value (pare_gguf_type_size of its type, at most
 * 8; a bool is one byte); false for strings and arrays. */
bool pare_gguf_kv_scalar(const pare_gguf *g, int64_t i, void *out);
bool pare_gguf_kv_u8(const pare_gguf *g, int64_t i, uint8_t *out);
bool pare_gguf_kv_i8(const pare_gguf *g, int64_t i, int8_t *out);
bool pare_gguf_kv_u16(const pare_gguf *g, int64_t i, uint16_t *out);
bool pare_gguf_kv_i16(const pare_gguf *g, int64_t i, int16_t *out);
bool pare_gguf_kv_u32(const pare_gguf *g, int64_t i, uint32_t *out);
bool pare_gguf_kv_i32(const pare_gguf *g, int64_t i, int32_t *out);
bool pare_gguf_kv_u64(const pare_gguf *g, int64_t i, uint64_t *out);
bool pare_gguf_kv_i64(const pare_gguf *g, int64_t i, int64_t *out);
bool pare_gguf_kv_f32(const pare_gguf *g, int64_t i, float *out);
bool pare_gguf_kv_f64(const pare_gguf *g, int64_t i, double *out);
bool pare_gguf_kv_bool(const pare_gguf *g, int64_t i, bool *out);
bool pare_gguf_kv_str(const pare_gguf *g, int64_t i, pare_gguf_str *out);
/* Any integer type whose value fits int64 (u64 above INT64_MAX: false). */
bool pare_gguf_kv_int(const pare_gguf *g, int64_t i, int64_t *out);

/* Arrays: element type and length. */
bool pare_gguf_kv_arr(const pare_gguf *g, int64_t i, pare_gguf_type *elem, uint64_t *n);
/* Numeric (and bool) elements: n values of the element type (bool: one
 * byte each, 0 or 1), copied out of the file at open so the pointer is
 * aligned for it. NULL for string arrays, empty arrays and non-arrays. */
const void *pare_gguf_kv_arr_data(const pare_gguf *g, int64_t i);
/* String arrays: element j, or all n at once (NULL if not a string array). */
bool pare_gguf_kv_arr_str(const pare_gguf *g, int64_t i, uint64_t j, pare_gguf_str *out);
const pare_gguf_str *pare_gguf_kv_arr_strs(const pare_gguf *g, int64_t i);

/* Copy s into buf NUL-terminated; false (buf holds the truncated prefix)
 * when it does not fit. */
bool pare_gguf_str_copy(pare_gguf_str s, char *buf, size_t cap);

/* Getters by key, in the style of pare_json_get_*: an absent key writes
 * def and returns PARE_OK; a present key of the wrong type (or out of
 * range) returns PARE_ERR_FORMAT naming the file and the key. Integer
 * getters accept any integer type whose value fits. */
pare_status pare_gguf_get_int(const pare_gguf *g, const char *key, int64_t def, int64_t lo, int64_t hi,
                              int64_t *out, pare_err *err);
pare_status pare_gguf_get_u32(const pare_gguf *g, const char *key, uint32_t def, uint32_t *out,
                              pare_err *err);
pare_status pare_gguf_get_i32(const pare_gguf *g, const char *key, int32_t def, int32_t *out,
                              pare_err *err);
/* f32 or f64 (f64 narrowed). */
pare_status pare_gguf_get_f32(const pare_gguf *g, const char *key, float def, float *out,
                              pare_err *err);
pare_status pare_gguf_get_bool(const pare_gguf *g, const char *key, bool def, bool *out,
                               pare_err *err);
/* Copies into buf; truncation is an error. def may be NULL (gives ""). */
pare_status pare_gguf_get_str(const pare_gguf *g, const char *key, const char *def, char *buf,
                              size_t cap, pare_err *err);
/* An array whose elements are of type elem: *n elements; absent: *n = 0
 * and *index = -1. */
pare_status pare_gguf_get_arr(const pare_gguf *g, const char *key, pare_gguf_type elem,
                              int64_t *index, uint64_t *n, pare_err *err);

/* Tensors, in file order. */
int64_t pare_gguf_tensor_count(const pare_gguf *g);
const pare_gguf_tensor *pare_gguf_tensor_get(const pare_gguf *g, int64_t i);
const pare_gguf_tensor *pare_gguf_tensor_find(const pare_gguf *g, const char *name);
int64_t pare_gguf_tensor_nelem(const pare_gguf_tensor *t);

/* ---------------------------------------------------------------- writer */

/* Collects metadata and tensors, then writes a GGUF v3 file. Keys, names
 * and strings are copied; tensor data is borrowed and must stay valid
 * until pare_gguf_writer_write. A "general.alignment" u32 key, if added,
 * sets the data alignment (power of two), else 32. */
typedef struct pare_gguf_writer pare_gguf_writer;

pare_gguf_writer *pare_gguf_writer_create(void); /* NULL on OOM */
void pare_gguf_writer_free(pare_gguf_writer *w);

/* value points to one scalar of the type (bool: a bool); not for string
 * or array. */
pare_status pare_gguf_writer_add_scalar(pare_gguf_writer *w, const char *key, pare_gguf_type type,
                                        const void *value, pare_err *err);
pare_status pare_gguf_writer_add_u32(pare_gguf_writer *w, const char *key, uint32_t v, pare_err *err);
pare_status pare_gguf_writer_add_i32(pare_gguf_writer *w, const char *key, int32_t v, pare_err *err);
pare_status pare_gguf_writer_add_f32(pare_gguf_writer *w, const char *key, float v, pare_err *err);
pare_status pare_gguf_writer_add_bool(pare_gguf_writer *w, const char *key, bool v, pare_err *err);
pare_status pare_gguf_writer_add_str(pare_gguf_writer *w, const char *key, const char *s, pare_err *err);
pare_status pare_gguf_writer_add_strn(pare_gguf_writer *w, const char *key, const char *s, size_t len,
                                      pare_err *err);
/* n elements of a scalar type (bool elements are bool) or, for
 * PARE_GGUF_STRING, n NUL-terminated `const char *`. */
pare_status pare_gguf_writer_add_array(pare_gguf_writer *w, const char *key, pare_gguf_type elem,
                                       const void *data, uint64_t n, pare_err *err);
pare_status pare_gguf_writer_add_arr_str(pare_gguf_writer *w, const char *key, const char *const *v,
                                         uint64_t n, pare_err *err);
pare_status pare_gguf_writer_add_arr_i32(pare_gguf_writer *w, const char *key, const int32_t *v,
                                         uint64_t n, pare_err *err);
pare_status pare_gguf_writer_add_arr_f32(pare_gguf_writer *w, const char *key, const float *v,
                                         uint64_t n, pare_err *err);
/* ne in ggml order (ne[0] contiguous), n_dims 0..4; nbytes must match the
 * type and shape. */
pare_status pare_gguf_writer_add_tensor(pare_gguf_writer *w, const char *name, uint32_t type,
                                        int32_t n_dims, const int64_t *ne, const void *data,
                                        size_t nbytes, pare_err *err);
pare_status pare_gguf_writer_write(const pare_gguf_writer *w, const char *path, pare_err *err);
/* Add key/value i of g to w as it is (src/io/gguf_copy.c). */
pare_status pare_gguf_writer_copy_kv(pare_gguf_writer *w, const pare_gguf *g, int64_t i, pare_err *err);

/* Bytes for a tensor of this type and shape; false for an unknown type,
 * ne[0] not a multiple of the block size, a non-positive dim or overflow. */
bool pare_gguf_tensor_nbytes(uint32_t type, int32_t n_dims, const int64_t *ne, size_t *out);

#ifdef __cplusplus
}
#endif
#endif
