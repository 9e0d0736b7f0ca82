/* Shared by the fuzz targets: read every byte of every tensor so ASan
 * sees any overread, and exercise the lookups. */
#ifndef PARE_FUZZ_COMMON_H
#define PARE_FUZZ_COMMON_H

#include "pare/io.h"

#include <string.h>

static inline void fuzz_touch_file(const pare_tensor_file *f) {
    volatile uint8_t sink = 0;
    for (int64_t i = 0; i < pare_tensor_file_count(f); i++) {
        const pare_tensor *t = pare_tensor_file_get(f, i);
        const uint8_t *p = t->data;
        for (size_t b = 0; b < t->nbytes; b++) sink ^= p[b];
        if (pare_tensor_file_find(f, t->name) == NULL) __builtin_trap();
        size_t want;
        if (!pare_dtype_nbytes(t->dtype, pare_tensor_nelem(t), &want) || want != t->nbytes) __builtin_trap();
        sink ^= (uint8_t)strlen(t->name);
    }
    (void)pare_tensor_file_metadata(f, "format");
    (void)sink;
}

typedef pare_status (*fuzz_open_fn)(const void *data, size_t len, const char *name, pare_tensor_file **out,
                                    pare_err *err);

/* Open, touch everything on success; a failure must leave *out NULL and
 * carry a message. */
static inline int fuzz_tensor_reader(fuzz_open_fn open, const uint8_t *data, size_t size, const char *name) {
    pare_err err;
    pare_tensor_file *f;
    if (open(data, size, name, &f, &err) == PARE_OK) {
        fuzz_touch_file(f);
        pare_tensor_file_close(f);
    } else if (f != NULL || err.msg[0] == 0) {
        __builtin_trap();
    }
    return 0;
}

#endif
