/* Labelled text datasets (src/io/dataset.c) and the metrics of
 * classification (src/eval/metrics.c).
 *
 * A dataset is a table of one text column and one or more label columns
 * holding 0 or 1 (multi-label, as SemEval-2018 E-c), or one label column
 * holding a class name or id (single-label), in one of three formats:
 *   TSV    a header row, then rows of tab-separated fields (no quoting);
 *   CSV    RFC 4180: a header row, fields separated by commas, double
 *          quotes around fields that hold commas, quotes ("") or line breaks;
 *   JSONL  one JSON object per line; the first object's keys are the
 *          columns; values are strings, integers or true/false (= 1/0).
 * Blank lines are skipped. Splits are
 * deterministic: a seeded permutation cut by fractions (60/30/10 by
 * default, as the seed study). */
#ifndef PARE_DATASET_H
#define PARE_DATASET_H

#include "pare/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PARE_DATASET_MAX_LABELS 64

typedef struct pare_dataset {
    int64_t n;               /* examples */
    int64_t n_labels;        /* label columns (multi-label) or classes (single) */
    bool multi_label;
    const char **texts;      /* [n], NUL-terminated, into the owned buffers */
    uint8_t *labels;         /* [n, n_labels] 0/1 (single-label: one-hot) */
    char label_names[PARE_DATASET_MAX_LABELS][32];
    char *buf_, *buf2_;      /* owned: the file's copy, decoded JSONL values */
} pare_dataset;

typedef enum pare_data_format {
    PARE_DATA_AUTO = 0, /* from the file name: .csv, .jsonl/.ndjson/.json, else TSV */
    PARE_DATA_TSV = 1,
    PARE_DATA_CSV = 2,
    PARE_DATA_JSONL = 3,
} pare_data_format;

typedef struct pare_dataset_opts {
    const char *text_column;   /* "Tweet" if NULL */
    /* label columns; NULL: every column except the text column and one
     * named "ID"/"id" */
    const char *const *label_columns;
    int64_t n_label_columns;
    bool single_label;         /* one label column holding class names */
    int64_t limit;             /* <= 0: all rows */
    pare_data_format format;   /* AUTO: from the file name */
} pare_dataset_opts;

pare_status pare_dataset_load(const char *path, const pare_dataset_opts *o, pare_dataset *out, pare_err *err);
/* The same on len bytes in memory (copied); name is for messages; AUTO
 * here means TSV. */
pare_status pare_dataset_parse(const char *name, const char *data, size_t len, pare_data_format fmt,
                               const pare_dataset_opts *o, pare_dataset *out, pare_err *err);
pare_data_format pare_data_format_of(const char *path);
void pare_dataset_free(pare_dataset *d);

/* Deterministic split of n examples: a Fisher-Yates permutation seeded
 * with seed, then the first frac[0] of it is part 0, the next frac[1] part
 * 1, the rest part 2. part[i] in {0,1,2} for each example. */
void pare_dataset_split(int64_t n, uint64_t seed, const double frac[3], uint8_t *part);

/* ---- metrics (src/eval/metrics.c) */
typedef struct pare_cls_metrics {
    int64_t n;
    double exact_match;  /* subset accuracy */
    double micro_f1, macro_f1;
    double jaccard;      /* mean |pred & gold| / |pred | gold| (1 when both empty) */
    double accuracy;     /* single-label: argmax accuracy (= exact_match) */
} pare_cls_metrics;

/* pred, gold: [n, L] 0/1. */
void pare_cls_metrics_compute(const uint8_t *pred, const uint8_t *gold, int64_t n, int64_t L,
                              pare_cls_metrics *out);
/* Fraction of examples whose predicted label sets are identical. */
double pare_cls_agreement(const uint8_t *a, const uint8_t *b, int64_t n, int64_t L);

#ifdef __cplusplus
}
#endif
#endif
