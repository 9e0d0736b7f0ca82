/* libFuzzer target: WordPiece encoding of arbitrary bytes.
 * The tokenizer is loaded once from $PARE_FUZZ_VOCAB (a model folder,
 * tokenizer.json or vocab.txt) or built from a small vocab in code.
 * Input: byte 0 picks max_len (2..257), the rest is the text. Checks:
 * [CLS] first, [SEP] last, ids in range, n <= max_len, and the truncated
 * encoding is a prefix of the full one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pare/tokenize.h"

static const char small_vocab[] =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nb\nc\nab\n##a\n##b\n##c\n##bc\nthe\n##s\n,\n.\n!\n"
    "\xc3\xa9\n##\xc3\xa9\n\xe4\xb8\xad\n\xce\xb1\n##\xce\xb2\ni\n\xcc\x87\n";

static pare_wordpiece *tokenizer(void) {
    static pare_wordpiece *t; /* fuzz harness only: loaded once per process */
    if (t) return t;
    pare_err err = {0};
    const char *path = getenv("PARE_FUZZ_VOCAB");
    pare_status s;
    if (path && *path) {
        s = pare_wordpiece_load(path, &t, &err);
    } else {
        pare_wordpiece_opts o = {.clean_text = true, .handle_chinese_chars = true,
                                 .strip_accents = -1, .lowercase = true,
                                 .max_input_chars_per_word = 20};
        strcpy(o.continuing_prefix, "##");
        s = pare_wordpiece_from_vocab(small_vocab, sizeof small_vocab - 1, &o, &t, &err);
    }
    if (s != PARE_OK) {
        fprintf(stderr, "fuzz_wordpiece: %s\n", err.msg);
        abort();
    }
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    pare_wordpiece *t = tokenizer();
    int32_t max_len = 2 + data[0];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    static int32_t full[4096], cut[258];
    int32_t n_full = 0, n_cut = 0;
    pare_err err = {0};
    pare_status s1 = pare_wordpiece_encode(t, text, len, 4096, full, &n_full, &err);
    pare_status s2 = pare_wordpiece_encode(t, text, len, max_len, cut, &n_cut, &err);
    if (s1 != s2) abort();
    if (s1 != PARE_OK) {
        if (s1 != PARE_ERR_INVALID) abort();
        return 0;
    }
    if (n_cut < 2 || n_cut > max_len || n_full < 2 || n_full > 4096) abort();
    if (cut[0] != pare_wordpiece_cls_id(t) || cut[n_cut - 1] != pare_wordpiece_sep_id(t)) abort();
    int32_t body = n_cut - 2;
    if (body > n_full - 2 || memcmp(cut + 1, full + 1, sizeof(int32_t) * (size_t)body) != 0) abort();
    if (n_cut < max_len && n_cut != n_full) abort();
    for (int32_t i = 0; i < n_full; i++)
        if (!pare_wordpiece_id_to_token(t, full[i])) abort();
    return 0;
}
