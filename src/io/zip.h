/* Internal: a read-only ZIP central directory reader for uncompressed
 * (stored) archives, such as the ones torch.save writes. */
#ifndef PARE_IO_ZIP_H
#define PARE_IO_ZIP_H

#include "pare/core.h"

typedef struct pare_zip_entry {
    const char *name;       /* points into the archive: not NUL-terminated */
    size_t name_len;
    const uint8_t *data;    /* the stored bytes, inside the archive */
    size_t size;
} pare_zip_entry;

/* Parse the end-of-central-directory record (ZIP64 too), every central
 * header and its local header. Entries come back sorted by name in a
 * malloc'd array (caller frees). Compressed or encrypted entries are
 * PARE_ERR_UNSUPPORTED; bad sizes and offsets PARE_ERR_FORMAT. */
pare_status pare_zip_read(const uint8_t *data, size_t len, const char *name, pare_zip_entry **out,
                          size_t *n_out, pare_err *err);
/* Binary search in the sorted entries; NULL when absent. */
const pare_zip_entry *pare_zip_find(const pare_zip_entry *e, size_t n, const char *name, size_t name_len);

#endif
