/* pare file readers: safetensors (zero-copy mmap), PyTorch zip checkpoints
 * (pytorch_model.bin, through a restricted unpickler that executes nothing)
 * and Hugging Face config.json.
 *
 * Every reader distrusts its file: sizes, offsets, dtypes, shapes and
 * integer overflow are checked, and failures return PARE_ERR_FORMAT with a
 * message that names the file and the problem. See docs/formats.md.
 */
#ifndef PARE_IO_H
#define PARE_IO_H

#include "pare/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pare_file_format {
    PARE_FORMAT_SAFETENSORS = 0,
    PARE_FORMAT_TORCH_ZIP = 1,
} pare_file_format;

/* A set of named tensors backed by one file. Tensor data points into the
 * file mapping where the layout allows (safetensors always; torch zip when
 * the entry is stored uncompressed and the tensor is contiguous), otherwise
 * into memory owned by the file object. Valid until pare_tensor_file_close.
 * Data pointers are only as aligned as the file makes them (safetensors
 * offsets are arbitrary bytes; files from pare_safetensors_write and
 * torch.save are 8- and 64-aligned): a consumer that needs aligned
 * elements must check the pointer or copy. Names are owned by the file. */
typedef struct pare_tensor_file pare_tensor_file;

/* Open by content: safetensors or a PyTorch zip checkpoint. */
pare_status pare_tensor_file_open(const char *path, pare_tensor_file **out, pare_err *err);
pare_status pare_safetensors_open(const char *path, pare_tensor_file **out, pare_err *err);
pare_status pare_torch_open(const char *path, pare_tensor_file **out, pare_err *err);
/* Parse from memory (for fuzzing and tests). The buffer must outlive the
 * returned object; name is used in error messages. */
pare_status pare_safetensors_open_memory(const void *data, size_t len, const char *name,
                                         pare_tensor_file **out, pare_err *err);
pare_status pare_torch_open_memory(const void *data, size_t len, const char *name,
                                   pare_tensor_file **out, pare_err *err);
void pare_tensor_file_close(pare_tensor_file *f);

pare_file_format pare_tensor_file_format(const pare_tensor_file *f);
const char *pare_tensor_file_path(const pare_tensor_file *f);
size_t pare_tensor_file_size(const pare_tensor_file *f); /* bytes on disk */
int64_t pare_tensor_file_count(const pare_tensor_file *f);
const pare_tensor *pare_tensor_file_get(const pare_tensor_file *f, int64_t i);
const pare_tensor *pare_tensor_file_find(const pare_tensor_file *f, const char *name);
/* safetensors "__metadata__" string values; NULL when absent. */
const char *pare_tensor_file_metadata(const pare_tensor_file *f, const char *key);

/* Write tensors as safetensors (used by tests and later by exporters). */
pare_status pare_safetensors_write(const char *path, const pare_tensor *tensors, int64_t n,
                                   pare_err *err);

/* ---------------------------------------------------------- config.json */

/* A parsed JSON document (cJSON underneath) with typed, checked getters. */
typedef struct pare_json pare_json;

pare_status pare_json_open(const char *path, pare_json **out, pare_err *err);
pare_status pare_json_parse(const char *text, size_t len, const char *name, pare_json **out,
                            pare_err *err);
void pare_json_free(pare_json *j);
/* Root object accessors. Each returns PARE_OK and writes *out; when the key
 * is absent (or JSON null) it writes def and returns PARE_OK; when present with the wrong
 * type or out of [lo, hi] it returns PARE_ERR_FORMAT naming file and key. */
pare_status pare_json_get_int(const pare_json *j, const char *key, int64_t def, int64_t lo,
                              int64_t hi, int64_t *out, pare_err *err);
pare_status pare_json_get_float(const pare_json *j, const char *key, double def, double *out,
                                pare_err *err);
pare_status pare_json_get_bool(const pare_json *j, const char *key, bool def, bool *out,
                               pare_err *err);
/* Copies into buf (truncation is an error). */
pare_status pare_json_get_str(const pare_json *j, const char *key, const char *def, char *buf,
                              size_t cap, pare_err *err);
bool pare_json_has(const pare_json *j, const char *key);
/* The underlying cJSON root, for readers that walk nested objects. */
const void *pare_json_root(const pare_json *j);
const char *pare_json_name(const pare_json *j);

#ifdef __cplusplus
}
#endif
#endif
