/* libFuzzer target: loading a WordPiece tokenizer from vocab.txt bytes
 * (pare_wordpiece_from_vocab). Input: the vocab up to the first NUL byte;
 * the bytes after it, when present, are options: byte 0 bits 0-2 clean_text,
 * handle_chinese_chars, lowercase, bits 3-4 strip_accents (mod 3, minus 1);
 * byte 1 max_input_chars_per_word (0 must be refused); bytes 2..9 the
 * continuing prefix (8 bytes without a NUL must be refused). No NUL: the
 * default options. A tokenizer that loads must encode fixed texts. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t vlen = nul ? (size_t)(nul - data) : size;
    pare_wordpiece_opts o = {.clean_text = true, .handle_chinese_chars = true, .strip_accents = -1,
                             .lowercase = true, .max_input_chars_per_word = 100};
    memcpy(o.continuing_prefix, "##", 3);
    const pare_wordpiece_opts *opts = NULL;
    bool bad_opts = false;
    if (nul) {
        const uint8_t *f = nul + 1;
        size_t fl = size - vlen - 1;
        if (fl > 0) {
            o.clean_text = f[0] & 1;
            o.handle_chinese_chars = (f[0] >> 1) & 1;
            o.lowercase = (f[0] >> 2) & 1;
            o.strip_accents = (f[0] >> 3) % 4 % 3 - 1;
        }
        if (fl > 1) o.max_input_chars_per_word = f[1];
        if (fl > 2) {
            size_t pl = fl - 2 < sizeof o.continuing_prefix ? fl - 2 : sizeof o.continuing_prefix;
            memset(o.continuing_prefix, 0, sizeof o.continuing_prefix);
            memcpy(o.continuing_prefix, f + 2, pl);
        }
        bad_opts = o.max_input_chars_per_word <= 0 ||
                   strnlen(o.continuing_prefix, sizeof o.continuing_prefix) == sizeof o.continuing_prefix;
        opts = &o;
    }
    pare_err err;
    pare_wordpiece *t;
    pare_status s = pare_wordpiece_from_vocab((const char *)data, vlen, opts, &t, &err);
    if (s != PARE_OK) {
        if (t != NULL || err.msg[0] == 0) __builtin_trap();
        return 0;
    }
    if (bad_opts) __builtin_trap();
    fuzz_encode_fixed(t);
    pare_wordpiece_free(t);
    return 0;
}
