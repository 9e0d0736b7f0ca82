/* Internal: the pare_tensor_file object shared by the safetensors and
 * torch zip readers. */
#ifndef PARE_IO_TENSOR_FILE_H
#define PARE_IO_TENSOR_FILE_H

#include "pare/io.h"

struct pare_tensor_file {
    pare_file_format format;
    const char *path;         /* arena: path or the name given to _open_memory */
    const uint8_t *data;      /* whole file contents (mapping or caller buffer) */
    size_t len;
    void *map;                /* owned mmap of the file, or NULL */
    size_t map_len;
    pare_arena *arena;        /* names, tensors, metadata, materialised data */
    pare_tensor *tensors;     /* [n] in file order */
    int64_t n;
    int64_t *by_name;         /* [n] indices sorted by name, for find */
    const char **meta_keys;   /* [n_meta] safetensors __metadata__ */
    const char **meta_vals;
    int64_t n_meta;
};

/* New empty object over data[0, len) with its arena; name is copied. */
pare_status pare_tf_create(pare_file_format format, const void *data, size_t len,
                           const char *name, pare_tensor_file **out, pare_err *err);
/* Sort the name index and reject duplicate names (PARE_ERR_FORMAT). Call
 * after tensors/n are filled in. */
pare_status pare_tf_index(pare_tensor_file *f, pare_err *err);
/* Map a whole regular file read-only. An empty file gives *data = NULL,
 * *len = 0 and no mapping. */
pare_status pare_tf_map(const char *path, void **map, size_t *len, pare_err *err);
/* Open path with the given memory parser (NULL: pick one by content) and
 * hand the mapping to the returned object. */
typedef pare_status (*pare_tf_parse_fn)(const void *data, size_t len, const char *name,
                                        pare_tensor_file **out, pare_err *err);
pare_status pare_tf_open_with(const char *path, pare_tf_parse_fn parse,
                              pare_tensor_file **out, pare_err *err);

#endif
