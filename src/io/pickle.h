/* Internal: a restricted unpickler for PyTorch's data.pkl. It builds plain
 * objects and executes nothing: the only globals it knows are an
 * allow-list (collections.OrderedDict, torch._utils._rebuild_tensor*,
 * torch._utils._rebuild_parameter, torch.*Storage), and their "calls" are
 * interpreted here. Everything else is PARE_ERR_UNSUPPORTED. */
#ifndef PARE_IO_PICKLE_H
#define PARE_IO_PICKLE_H

#include "pare/core.h"

typedef enum pk_kind {
    PK_NONE,
    PK_BOOL,
    PK_INT,
    PK_FLOAT,
    PK_STR,     /* str and bytes */
    PK_TUPLE,
    PK_LIST,
    PK_DICT,    /* dict and OrderedDict: items are key, value, key, value... */
    PK_GLOBAL,  /* an allowed global */
    PK_STORAGE, /* persistent id ('storage', type, key, location, numel) */
    PK_TENSOR,  /* _rebuild_tensor_v2(storage, offset, size, stride, ...) */
} pk_kind;

typedef enum pk_global {
    PKG_ORDERED_DICT,
    PKG_REBUILD_TENSOR,
    PKG_REBUILD_TENSOR_V2,
    PKG_REBUILD_PARAMETER,
    PKG_STORAGE_TYPE,
} pk_global;

typedef struct pk_obj pk_obj;
struct pk_obj {
    pk_kind kind;
    union {
        int64_t i;                                        /* BOOL, INT */
        double f;                                         /* FLOAT */
        struct { const char *s; size_t len; } str;       /* NUL-terminated copy */
        struct { pk_obj **items; size_t n, cap; } seq;   /* TUPLE, LIST, DICT */
        struct { pk_global id; pare_dtype dtype; } global;
        struct { pare_dtype dtype; const char *key; int64_t numel; } storage;
        struct {
            const pk_obj *storage;
            int64_t offset;
            int32_t n_dims;
            int64_t shape[PARE_MAX_DIMS], stride[PARE_MAX_DIMS];
        } tensor;
    } u;
};

/* Run the pickle in data[0, len) and return its result in *root. All
 * objects live in scratch. name prefixes error messages. */
pare_status pare_pickle_load(const uint8_t *data, size_t len, const char *name, pare_arena *scratch,
                             const pk_obj **root, pare_err *err);

#endif
