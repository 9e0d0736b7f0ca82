/* libFuzzer target: loading a WordPiece tokenizer from tokenizer.json
 * bytes (pare_wordpiece_from_json); a tokenizer that loads must encode a
 * few fixed texts, special tokens included. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pare_err err;
    pare_wordpiece *t;
    if (pare_wordpiece_from_json((const char *)data, size, "fuzz/tokenizer.json", &t, &err) != PARE_OK) {
        if (t != NULL || err.msg[0] == 0 || !strstr(err.msg, "fuzz/tokenizer.json")) __builtin_trap();
        return 0;
    }
    fuzz_encode_fixed(t);
    pare_wordpiece_free(t);
    return 0;
}
