/* Character classes of Hugging Face tokenizers' BertNormalizer and
 * BertPreTokenizer, reproduced on top of utf8proc (internal header). */
#ifndef PARE_TOKENIZE_BERT_UNICODE_H
#define PARE_TOKENIZE_BERT_UNICODE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct pare_cp_range {
    int32_t lo, hi; /* inclusive */
} pare_cp_range;
typedef struct pare_cp_pair {
    int32_t from, to;
} pare_cp_pair;
typedef struct pare_cp_decomp {
    int32_t cp, n, seq[4];
} pare_cp_decomp;

/* The Unicode version of the utf8proc the exception tables were made for,
 * and that of the utf8proc linked now: they must agree for exact results. */
const char *pare_bert_tables_unicode_version(void);

/* Rust char::is_whitespace (the White_Space property). */
bool pare_bert_is_whitespace(int32_t cp);
/* clean_text drops it: NUL, U+FFFD, or "other" (Cc Cf Co Cs, Unicode 8.0
 * as tokenizers sees it) except \t \n \r. */
bool pare_bert_is_removed(int32_t cp);
/* ASCII punctuation or a P* category (as tokenizers sees it). */
bool pare_bert_is_punct(int32_t cp);
/* The CJK ranges of tokenizers' is_chinese_char. */
bool pare_bert_is_chinese(int32_t cp);
/* Mn (as tokenizers sees it): dropped by strip_accents after NFD. */
bool pare_bert_is_mn(int32_t cp);
/* Full lowercase as Rust char::to_lowercase: 1 or 2 code points in out. */
int pare_bert_lower(int32_t cp, int32_t out[2]);
/* Canonical decomposition of one code point (no reordering): writes at most
 * cap code points and returns the count needed (<= 0 on error: the caller
 * keeps cp as it is). */
int pare_bert_decompose(int32_t cp, int32_t *out, int cap);
/* Canonical combining class (for the NFD reordering). */
int pare_bert_ccc(int32_t cp);

#endif
