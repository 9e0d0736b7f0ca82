/* WordPiece tokenizer with the BERT basic-tokenizer rules, matching Hugging
 * Face tokenizers (BertNormalizer + BertPreTokenizer + WordPiece) id for id.
 * Loaded from tokenizer.json, or from vocab.txt plus tokenizer_config.json. */
#ifndef PARE_TOKENIZE_H
#define PARE_TOKENIZE_H

#include "pare/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pare_wordpiece_opts {
    bool clean_text;           /* drop control chars, map whitespace to ' ' */
    bool handle_chinese_chars; /* put spaces around CJK ideographs */
    int strip_accents;         /* -1: follow lowercase, 0: no, 1: yes */
    bool lowercase;
    int32_t max_input_chars_per_word; /* longer words become [UNK]; HF: 100 */
    char continuing_prefix[8];        /* "##" */
} pare_wordpiece_opts;

typedef struct pare_wordpiece pare_wordpiece;

/* path: a model folder (tokenizer.json preferred, else vocab.txt with
 * tokenizer_config.json), or a tokenizer.json / vocab.txt file. */
pare_status pare_wordpiece_load(const char *path, pare_wordpiece **out, pare_err *err);
/* From a vocab.txt buffer and explicit options (tests, fuzzing). */
pare_status pare_wordpiece_from_vocab(const char *vocab, size_t len,
                                      const pare_wordpiece_opts *opts, pare_wordpiece **out,
                                      pare_err *err);
/* From a tokenizer.json buffer (len bytes, need not be NUL-terminated);
 * name (e.g. the file path) is used in error messages. */
pare_status pare_wordpiece_from_json(const char *json, size_t len, const char *name,
                                     pare_wordpiece **out, pare_err *err);
void pare_wordpiece_free(pare_wordpiece *t);

const pare_wordpiece_opts *pare_wordpiece_options(const pare_wordpiece *t);
int32_t pare_wordpiece_vocab_size(const pare_wordpiece *t);
int32_t pare_wordpiece_token_to_id(const pare_wordpiece *t, const char *token); /* -1 if absent */
const char *pare_wordpiece_id_to_token(const pare_wordpiece *t, int32_t id);     /* NULL if out of range */
int32_t pare_wordpiece_cls_id(const pare_wordpiece *t);
int32_t pare_wordpiece_sep_id(const pare_wordpiece *t);
int32_t pare_wordpiece_pad_id(const pare_wordpiece *t);
int32_t pare_wordpiece_unk_id(const pare_wordpiece *t);

/* Encode one UTF-8 text as [CLS] tokens [SEP], truncated to max_len ids in
 * total (HF truncation=True, max_length=max_len). Invalid UTF-8 is an error.
 * ids must hold max_len entries; *n_ids receives the count. */
pare_status pare_wordpiece_encode(const pare_wordpiece *t, const char *text, size_t len,
                                  int32_t max_len, int32_t *ids, int32_t *n_ids, pare_err *err);

/* Encode n texts into a [n, seq] batch padded with [PAD] to the longest
 * (or to seq if pad_to_max), mask 1 for real tokens, 0 for padding.
 * *seq_out receives the padded length (<= max_len). ids and mask must hold
 * n * max_len entries. */
pare_status pare_wordpiece_encode_batch(const pare_wordpiece *t, const char *const *texts,
                                        int32_t n, int32_t max_len, bool pad_to_max,
                                        int32_t *ids, int32_t *mask, int32_t *seq_out,
                                        pare_err *err);

#ifdef __cplusplus
}
#endif
#endif
