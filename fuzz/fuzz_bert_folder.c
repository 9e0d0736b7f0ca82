/* libFuzzer target: loading a BERT folder (pare_bert_load) from a fuzzed
 * config.json and model.safetensors, the paths the loader takes on its own
 * inputs: per-layer head counts and FFN widths from tensor shapes
 * (structured pruning), int8 and SmoothQuant tensors, 4-bit codes and
 * scales, sparse conversion of zero-heavy weights. Input: a little-endian
 * u32 length L, L bytes of config.json, the rest model.safetensors. A model
 * that loads runs one forward pass on 4 tokens when it is small. */
#include "pare/bert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_all(const char *path, const uint8_t *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    const size_t w = fwrite(p, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char dir[256];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/pare-fuzz-bert-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(dir)) __builtin_trap();
    }
    if (size < 4) return 0;
    uint32_t len = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
    if (len > size - 4) len = (uint32_t)(size - 4);
    char cfg[300], st[300];
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    snprintf(st, sizeof st, "%s/model.safetensors", dir);
    if (write_all(cfg, data + 4, len) || write_all(st, data + 4 + len, size - 4 - len)) __builtin_trap();
    pare_bert_params p = pare_bert_default_params();
    p.n_threads = 1;
    pare_bert *m = NULL;
    pare_err err;
    if (pare_bert_load(dir, &p, &m, &err) != PARE_OK) {
        if (m != NULL || err.msg[0] == 0) __builtin_trap();
        return 0;
    }
    const pare_bert_config *c = pare_bert_get_config(m);
    if (pare_bert_n_params(m) < 200000 && c->max_position >= 4) {
        int32_t ids[4], mask[4] = {1, 1, 1, 0};
        for (int i = 0; i < 4; i++) ids[i] = (int32_t)(i % c->vocab_size);
        float *hidden = malloc(sizeof(float) * (size_t)(4 * c->hidden_size));
        pare_bert_outputs out = {.hidden = hidden};
        if (hidden) (void)pare_bert_forward(m, ids, mask, NULL, 1, 4, &out, &err);
        free(hidden);
    }
    pare_bert_free(m);
    return 0;
}
