/* libFuzzer target: the byte-level BPE tokenizer. An input that starts
 * with the GGUF magic is a tokenizer (pare_bpe_from_gguf on its metadata),
 * which then encodes a fixed text; any other input is text for a small
 * fixed tokenizer (the 256 byte tokens, a few merges, special tokens).
 * decode(encode(text)) must give the text back, and streaming decode must
 * hand out the same bytes. */
#include "pare/bpe.h"
#include "pare/gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pare_bpe *fixed;

/* GPT-2's byte alphabet, spelled as UTF-8 (see src/tokenize/bpe.c). */
static void byte_token(int b, char *out) {
    int cp = b, extra = 0;
    bool kept = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    if (!kept) {
        for (int x = 0; x < b; x++)
            if (!((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF))) extra++;
        cp = 256 + extra;
    }
    if (cp < 0x80) snprintf(out, 4, "%c", cp);
    else snprintf(out, 4, "%c%c", 0xC0 | cp >> 6, 0x80 | (cp & 63));
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    static char store[256][4];
    const char *toks[262];
    int32_t types[262];
    for (int b = 0; b < 256; b++) {
        byte_token(b, store[b]);
        toks[b] = store[b];
        types[b] = 1;
    }
    const char *extra[] = {"th", "the", "\xc4\xa0t", "<|im_start|>", "<|im_end|>", "<s>"};
    for (int i = 0; i < 6; i++) {
        toks[256 + i] = extra[i];
        types[256 + i] = i >= 3 ? 3 : 1;
    }
    const char *merges[] = {"t h", "th e", "\xc4\xa0 t"};
    pare_err err = {0};
    pare_gguf_writer *w = pare_gguf_writer_create();
    char path[64];
    snprintf(path, sizeof path, "/tmp/fuzz-bpe-%d.gguf", (int)getpid());
    pare_gguf *g = NULL;
    if (!w || pare_gguf_writer_add_str(w, "tokenizer.ggml.model", "gpt2", &err) ||
        pare_gguf_writer_add_str(w, "tokenizer.ggml.pre", "smollm", &err) ||
        pare_gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", toks, 262, &err) ||
        pare_gguf_writer_add_arr_i32(w, "tokenizer.ggml.token_type", types, 262, &err) ||
        pare_gguf_writer_add_arr_str(w, "tokenizer.ggml.merges", merges, 3, &err) ||
        pare_gguf_writer_write(w, path, &err) || pare_gguf_open(path, &g, &err) || pare_bpe_from_gguf(g, &fixed, &err)) {
        fprintf(stderr, "fuzz_bpe: setup failed: %s\n", err.msg);
        abort();
    }
    pare_gguf_writer_free(w);
    pare_gguf_close(g);
    remove(path);
    return 0;
}

static void check(const pare_bpe *t, const char *text, size_t len) {
    int32_t *ids;
    int64_t n;
    pare_err err = {0};
    if (pare_bpe_encode(t, text, len, true, &ids, &n, &err)) return;
    char *back = malloc(len + 1), piece[1024];
    size_t k = 0, l;
    int64_t start = n > 0 && ids[0] == pare_bpe_bos(t) && pare_bpe_add_bos(t) ? 1 : 0;
    pare_bpe_stream st = {0};
    for (int64_t i = start; i < n; i++) {
        const char *b = pare_bpe_token_bytes(t, ids[i], &l);
        if (!b || k + l > len) __builtin_trap();
        memcpy(back + k, b, l);
        k += l;
        pare_bpe_stream_put(t, &st, ids[i], piece, sizeof piece, &l);
    }
    if (k != len || memcmp(back, text, len) != 0) __builtin_trap();
    free(back);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size >= 4 && memcmp(data, "GGUF", 4) == 0) {
        pare_gguf *g = NULL;
        pare_bpe *t = NULL;
        pare_err err = {0};
        if (pare_gguf_open_memory(data, size, "fuzz.gguf", &g, &err) == PARE_OK) {
            if (pare_bpe_from_gguf(g, &t, &err) == PARE_OK) {
                static const char text[] = "Hello, world! 123 <|im_start|>user\n  x\xf0\x9f\x98\x80";
                int32_t *ids;
                int64_t n;
                if (pare_bpe_encode(t, text, sizeof text - 1, true, &ids, &n, &err) == PARE_OK) free(ids);
                pare_bpe_free(t);
            }
            pare_gguf_close(g);
        }
        return 0;
    }
    check(fixed, (const char *)data, size);
    return 0;
}
