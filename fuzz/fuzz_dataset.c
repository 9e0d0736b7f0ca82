/* libFuzzer target: the dataset readers (pare_dataset_parse). Byte 0
 * picks the format (TSV, CSV, JSONL: value mod 3) and, in bit 2, the
 * single-label form; the rest is the file. A dataset that loads must have
 * n rows of NUL-terminated texts and 0/1 labels, one-hot when single. */
#include "pare/dataset.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const pare_data_format fmt = (pare_data_format)(PARE_DATA_TSV + data[0] % 3);
    pare_dataset_opts o = {.single_label = (data[0] >> 2) & 1, .text_column = "t"};
    pare_err err;
    pare_dataset d;
    pare_status s = pare_dataset_parse("fuzz", (const char *)data + 1, size - 1, fmt, &o, &d, &err);
    if (s != PARE_OK) {
        if (d.texts != NULL || err.msg[0] == 0) __builtin_trap();
        return 0;
    }
    if (d.n <= 0 || d.n_labels <= 0 || d.n_labels > PARE_DATASET_MAX_LABELS) __builtin_trap();
    volatile size_t sink = 0;
    for (int64_t i = 0; i < d.n; i++) {
        sink += strlen(d.texts[i]);
        int ones = 0;
        for (int64_t k = 0; k < d.n_labels; k++) {
            if (d.labels[i * d.n_labels + k] > 1) __builtin_trap();
            ones += d.labels[i * d.n_labels + k];
        }
        if (o.single_label && ones != 1) __builtin_trap();
    }
    (void)sink;
    pare_dataset_free(&d);
    return 0;
}
