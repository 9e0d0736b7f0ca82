/* Record readers of the dataset formats (dataset_formats.c), used by
 * dataset.c: each yields a header (column names) and then records of
 * fields, NUL-terminated strings inside buffers the reader owns or the
 * caller's file buffer (rewritten in place). */
#ifndef PARE_DATASET_FORMATS_H
#define PARE_DATASET_FORMATS_H

#include "pare/dataset.h"

#define PARE_DS_MAX_COLS 256

typedef struct pare_ds_reader {
    const char *name;        /* for messages */
    pare_data_format fmt;
    char *p, *end;           /* cursor into the buffer */
    int64_t lineno;          /* line of the next record (1-based) */
    int nkeys;               /* JSONL: the first object's keys are the columns */
    char *keys[PARE_DS_MAX_COLS];
    char *out;               /* JSONL: decoded keys and fields (owned; handed to the dataset) */
    size_t out_len, out_cap;
} pare_ds_reader;

/* buf: len bytes plus a NUL, owned by the caller and rewritten in place. */
pare_status pare_ds_reader_init(pare_ds_reader *r, const char *name, pare_data_format fmt, char *buf, size_t len,
                                pare_err *err);
/* The column names: up to PARE_DS_MAX_COLS into h; their count, or -1
 * with err set (also for an empty input). */
int pare_ds_header(pare_ds_reader *r, char **h, pare_err *err);
/* The next record's fields (JSONL: the header's keys in order): their
 * count, 0 at the end, -1 with err set. *lineno: where it started. */
int pare_ds_next(pare_ds_reader *r, char **f, int64_t *lineno, pare_err *err);
void pare_ds_reader_free(pare_ds_reader *r);

#endif
