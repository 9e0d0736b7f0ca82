/* Shared by the fuzz targets: read every byte of every tensor so ASan
 * sees any overread, and exercise the lookups; encode fixed texts with a
 * freshly loaded tokenizer. */
#ifndef PARE_FUZZ_COMMON_H
#define PARE_FUZZ_COMMON_H

#include "pare/io.h"
#include "pare/tokenize.h"

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

/* A loaded tokenizer must encode valid UTF-8 (special tokens included) as
 * [CLS] ... [SEP] with ids that all name tokens, singly and in a batch. */
static inline void fuzz_encode_fixed(const pare_wordpiece *t) {
    static const char *const texts[] = {
        "",
        "Hello, world!",
        "[CLS] a [SEP] b [MASK] [UNK] [PAD]",
        "UNAFFABLE ##ab \xc3\xa9t\xc3\xa9 na\xc3\xafve \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80",
        "tab\tnew\nline\x01\x7f \xe2\x80\x8b aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    enum { N = sizeof texts / sizeof *texts, MAX_LEN = 48 };
    pare_err err;
    int32_t ids[N * MAX_LEN], mask[N * MAX_LEN], n, seq;
    int32_t cls = pare_wordpiece_cls_id(t), sep = pare_wordpiece_sep_id(t);
    if (!pare_wordpiece_id_to_token(t, cls) || !pare_wordpiece_id_to_token(t, sep) ||
        !pare_wordpiece_id_to_token(t, pare_wordpiece_pad_id(t)) ||
        !pare_wordpiece_id_to_token(t, pare_wordpiece_unk_id(t)))
        __builtin_trap();
    for (int i = 0; i < N; i++) {
        if (pare_wordpiece_encode(t, texts[i], strlen(texts[i]), MAX_LEN, ids, &n, &err) != PARE_OK)
            __builtin_trap();
        if (n < 2 || n > MAX_LEN || ids[0] != cls || ids[n - 1] != sep) __builtin_trap();
        for (int32_t k = 0; k < n; k++)
            if (!pare_wordpiece_id_to_token(t, ids[k])) __builtin_trap();
    }
    if (pare_wordpiece_encode_batch(t, texts, N, MAX_LEN, false, ids, mask, &seq, &err) != PARE_OK ||
        seq < 2 || seq > MAX_LEN)
        __builtin_trap();
    for (int32_t k = 0; k < N * seq; k++)
        if (!pare_wordpiece_id_to_token(t, ids[k]) || (mask[k] != 0 && mask[k] != 1)) __builtin_trap();
    for (int32_t id = 0; id < pare_wordpiece_vocab_size(t) && id < 64; id++) {
        const char *tok = pare_wordpiece_id_to_token(t, id);
        if (tok) (void)pare_wordpiece_token_to_id(t, tok);
    }
}

#endif
