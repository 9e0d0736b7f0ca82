/* Writing a compressed Llama-family GGUF (quantization and pruning share it). */
#ifndef PARE_COMPRESS_LLAMA_REWRITE_H
#define PARE_COMPRESS_LLAMA_REWRITE_H

#include "pare/gguf.h"
#include "pare/llama.h"
#include "pare/qtypes.h"

/* pare-only metadata of a W8A8 file (NULL fields: none): pare.w8a8 (the
 * activation mode) and pare.llm_int8.<layer>.<linear> (int32 input
 * columns kept in f32, for outl[il * PARE_LIN_COUNT + lin] with n_outl > 0). */
typedef struct llama_rewrite_kv {
    const char *w8a8;
    int32_t *const *outl;
    const int64_t *n_outl;
} llama_rewrite_kv;

/* g: the source file, c its config. rows[il * PARE_LIN_COUNT + lin]: the
 * stacked linear (q,k,v / o / gate,up / down) of layer il as n_out rows of
 * `type`, split back into the file's tensors; norms[il] (may be NULL):
 * attn_norm then ffn_norm, [2 * hidden]; head_q8: token_embd and output
 * become Q8_0. */
pare_status llama_gguf_rewrite(const pare_gguf *g, const pare_llama_config *c, pare_qtype type, uint8_t *const *rows,
                               float *const *norms, bool head_q8, const llama_rewrite_kv *kv, const char *out,
                               pare_err *err);

#endif
