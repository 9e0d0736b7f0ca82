/* Internal layout of pare_wordpiece, shared by the loader and the encoder. */
#ifndef PARE_TOKENIZE_WORDPIECE_IMPL_H
#define PARE_TOKENIZE_WORDPIECE_IMPL_H

#include "pare/tokenize.h"

/* An added token (tokenizer.json "added_tokens"): matched in the text
 * before the model sees it, as tokenizers' AddedVocabulary does. */
typedef struct wp_added {
    const char *content; /* UTF-8, NUL-terminated, owned by the arena */
    int32_t *cps;        /* pattern: raw code points, or normalized ones if normalized */
    int32_t n_cps;
    int32_t id;
    bool single_word, lstrip, rstrip, normalized, special;
} wp_added;

struct pare_wordpiece {
    pare_wordpiece_opts opts;
    bool strip_accents; /* resolved: opts.strip_accents, -1 follows lowercase */
    pare_arena *arena;  /* owns everything below */
    /* id -> token (NULL for holes), and byte lengths */
    const char **tokens;
    uint32_t *token_len;
    int32_t n_ids;
    int32_t n_vocab; /* tokens in the model vocab */
    /* open addressing: slot holds model id + 1, 0 = empty */
    uint32_t *slots;
    uint32_t *slot_hash;
    size_t slot_mask;
    uint32_t max_token_bytes;
    size_t prefix_len;
    wp_added *added;
    int32_t n_added;
    bool has_normalized_added;
    int32_t cls_id, sep_id, pad_id, unk_id;
};

/* Make an empty tokenizer with options set (strip_accents resolved). */
pare_status pare_wp_create(const pare_wordpiece_opts *opts, pare_wordpiece **out, pare_err *err);
/* Build the vocab from n tokens in id order ids[i] (or i when ids is NULL);
 * src names the file in errors. Tokens are copied. */
pare_status pare_wp_set_vocab(pare_wordpiece *t, const char *const *tokens, const size_t *lens,
                              const int32_t *ids, int32_t n, const char *src, pare_err *err);
/* Model vocab lookup of prefix+s (prefix may be empty): id or -1. */
int32_t pare_wp_lookup(const pare_wordpiece *t, const char *prefix, size_t plen, const char *s,
                       size_t len);
/* Register an added token; content must be valid UTF-8. */
pare_status pare_wp_add_token(pare_wordpiece *t, const char *content, int32_t id, bool special,
                              bool single_word, bool lstrip, bool rstrip, bool normalized,
                              const char *src, pare_err *err);

#endif
