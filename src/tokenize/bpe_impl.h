/* Internals of the byte-level BPE tokenizer shared by its loaders: the GGUF
 * metadata one (bpe.c) and the Hugging Face tokenizer.json one
 * (bpe_json.c). A loader creates the tokenizer, compiles its pre-tokenizer
 * regexes, and hands the vocabulary and merges over as a source. */
#ifndef PARE_BPE_IMPL_H
#define PARE_BPE_IMPL_H

#include "pare/bpe.h"

/* token types, as GGUF's tokenizer.ggml.token_type */
enum { BPE_TOKEN_NORMAL = 1, BPE_TOKEN_CONTROL = 3, BPE_TOKEN_USER = 4 };

typedef struct bpe_src {
    int64_t n_tokens; /* ids 0 .. n_tokens-1, each given once */
    bool (*token)(const void *ctx, int64_t id, const char **s, size_t *len, int *type);
    int64_t n_merges; /* rank order */
    bool (*merge)(const void *ctx, int64_t rank, const char **a, size_t *la, const char **b, size_t *lb);
    const void *ctx;
} bpe_src;

pare_status bpe_new(pare_bpe **out, pare_err *err);
/* Pre-tokenizer regexes applied in order (each splits the pieces of the
 * previous one, matches and gaps kept). */
pare_status bpe_set_regexes(pare_bpe *t, const char *const *re, int n, const char *path, pare_err *err);
const char *bpe_gpt2_regex(void);
/* The regexes of a llama.cpp pre-tokenizer name into re[4]; -1 if unknown. */
int bpe_pre_regexes(const char *pre, const char **re);
pare_status bpe_build(pare_bpe *t, const bpe_src *src, const char *path, pare_err *err);
void bpe_set_special_ids(pare_bpe *t, int32_t bos, int32_t eos, bool add_bos);
void bpe_set_flags(pare_bpe *t, bool nfc, bool ignore_merges);
/* id of a token given in the vocabulary's alphabet, -1 if absent */
int32_t bpe_find(const pare_bpe *t, const char *s, size_t n);

#endif
