/* Byte-level BPE tokenizer (GPT-2 family: SmolLM, Llama 3, Qwen2), from the
 * tokenizer metadata of a GGUF file, with ids identical to Hugging Face
 * tokenizers.
 *
 * Encoding: control and user-defined tokens (<|im_start|>, ...) written in
 * the text are matched first and become their ids; every other span is
 * split by the pre-tokenizer's regexes (PCRE2, Unicode properties; each
 * regex splits the pieces of the previous one, matches and the gaps
 * between them both kept, as HF's Split "isolated" does), each piece's
 * bytes are mapped to GPT-2's printable byte alphabet and merged by rank.
 * The regexes per `tokenizer.ggml.pre` name are llama.cpp's. */
#ifndef PARE_BPE_H
#define PARE_BPE_H

#include "pare/core.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pare_gguf;
typedef struct pare_bpe pare_bpe;

/* tokenizer.ggml.model must be "gpt2"; .tokens, .merges, .token_type,
 * .pre (default "default": GPT-2's regex), bos/eos ids and add_bos_token. */
pare_status pare_bpe_from_gguf(const struct pare_gguf *g, pare_bpe **out, pare_err *err);
/* From a Hugging Face tokenizer.json (model BPE with a ByteLevel
 * pre-tokenizer: GPT-2, SmolLM, Llama 3, Qwen2); bos/eos from a
 * tokenizer_config.json beside it, the BOS also from a TemplateProcessing
 * post-processor (which then adds it). Unsupported features are refused
 * with the file and key named (src/tokenize/bpe_json.c). */
pare_status pare_bpe_from_json_file(const char *path, pare_bpe **out, pare_err *err);
/* The same from memory: config (tokenizer_config.json text) may be NULL;
 * name is used in messages. */
pare_status pare_bpe_from_json(const char *json, size_t len, const char *config, size_t config_len,
                               const char *name, pare_bpe **out, pare_err *err);
/* By path: a .gguf file (its metadata), a tokenizer.json, or a folder
 * holding tokenizer.json. */
pare_status pare_bpe_load(const char *path, pare_bpe **out, pare_err *err);
/* Write a GGUF's tokenizer as DIR/tokenizer.json and DIR/tokenizer_config.json
 * (Hugging Face format, read back by pare_bpe_from_json_file and by HF
 * tokenizers). */
pare_status pare_bpe_gguf_write_json(const struct pare_gguf *g, const char *dir, pare_err *err);
void pare_bpe_free(pare_bpe *t);

int64_t pare_bpe_vocab_size(const pare_bpe *t);
int32_t pare_bpe_bos(const pare_bpe *t); /* -1 when none */
int32_t pare_bpe_eos(const pare_bpe *t);
bool pare_bpe_add_bos(const pare_bpe *t);
/* True for control tokens (end of turn, padding...): generation stops on
 * eos, and on these when asked. */
bool pare_bpe_is_control(const pare_bpe *t, int32_t id);

/* Encode len bytes of text. add_special: prepend BOS when the vocabulary
 * says so (add_bos_token). *ids is malloc'd (caller frees; non-NULL also
 * when *n is 0). */
pare_status pare_bpe_encode(const pare_bpe *t, const char *text, size_t len, bool add_special, int32_t **ids,
                            int64_t *n, pare_err *err);
/* The same; *n_dropped (NULL: not wanted) counts the bytes left out because
 * the vocabulary has no token for them (SmolLM2 lacks a few control and
 * invalid-UTF-8 bytes). llama.cpp drops them too; tokenizers would fail. */
pare_status pare_bpe_encode_ex(const pare_bpe *t, const char *text, size_t len, bool add_special, int32_t **ids,
                               int64_t *n, int64_t *n_dropped, pare_err *err);

/* The bytes of one token (control tokens: their text). NULL for bad ids. */
const char *pare_bpe_token_bytes(const pare_bpe *t, int32_t id, size_t *len);

/* Streaming decode: append the bytes of a token; *out gets the complete
 * UTF-8 prefix available so far (valid until the next call), an incomplete
 * multi-byte sequence at the end is held back for the next token. */
typedef struct pare_bpe_stream {
    char buf[256];
    size_t held;
} pare_bpe_stream;

void pare_bpe_stream_put(const pare_bpe *t, pare_bpe_stream *s, int32_t id, char *out, size_t cap, size_t *out_len);

/* ------------------------------------------------------------ chat */

typedef struct pare_chat_msg {
    const char *role; /* "system", "user", "assistant" */
    const char *content;
} pare_chat_msg;

/* Render messages with the model's chat template (tokenizer.chat_template),
 * recognised by its text as llama.cpp does: ChatML (<|im_start|>, with the
 * default system prompt the template inserts when the first message is
 * not a system one), Llama 3 (<|start_header_id|>) and Llama 2 ([INST]).
 * The result is malloc'd. */
pare_status pare_chat_apply(const char *tmpl, const pare_chat_msg *msgs, int64_t n, bool add_generation_prompt,
                            char **out, pare_err *err);

#ifdef __cplusplus
}
#endif

#endif
